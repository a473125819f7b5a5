//! Integration tests against the real `rzk-server` binary with a third-party
//! client, the `zookeeper-client` crate (an independent implementation of the
//! ZooKeeper Jute protocol). Expectations follow Apache ZooKeeper 3.8 semantics.

mod common;

use common::{Server, TICK_MS};
use std::collections::BTreeSet;
use std::future::Future;
use std::time::{Duration, Instant};
use zk::{
    Acl, Acls, AddWatchMode, AuthId, Client, CreateMode, CreateOptions, Error, EventType,
    Permission, SessionState,
};
use zookeeper_client as zk;

const PERSISTENT: CreateOptions<'static> = CreateMode::Persistent.with_acls(Acls::anyone_all());
const EPHEMERAL: CreateOptions<'static> = CreateMode::Ephemeral.with_acls(Acls::anyone_all());
const CONTAINER: CreateOptions<'static> = CreateMode::Container.with_acls(Acls::anyone_all());
const PERSISTENT_SEQ: CreateOptions<'static> =
    CreateMode::PersistentSequential.with_acls(Acls::anyone_all());
const EPHEMERAL_SEQ: CreateOptions<'static> =
    CreateMode::EphemeralSequential.with_acls(Acls::anyone_all());

/// Session timeout for ordinary clients: long enough to ride out a server restart.
const LONG_SESSION: Duration = Duration::from_secs(10);

async fn connect(srv: &Server) -> Client {
    Client::connector()
        .with_session_timeout(LONG_SESSION)
        .connect(&srv.connect_string())
        .await
        .unwrap_or_else(|e| panic!("connect to {}: {e}", srv.connect_string()))
}

async fn within<T>(d: Duration, what: &str, f: impl Future<Output = T>) -> T {
    match tokio::time::timeout(d, f).await {
        Ok(v) => v,
        Err(_) => panic!("timed out after {d:?} waiting for {what}"),
    }
}

/// Asserts that `f` does not complete within `d` (it is polled, not consumed).
async fn assert_pending<F: Future + Unpin>(f: &mut F, d: Duration, what: &str)
where
    F::Output: std::fmt::Debug,
{
    if let Ok(v) = tokio::time::timeout(d, f).await {
        panic!("{what}: expected nothing within {d:?}, got {v:?}");
    }
}

/// `Total watches:N` from the `wchs` four-letter word.
fn total_watches(srv: &Server) -> u64 {
    let out = srv.four_letter("wchs");
    out.lines()
        .find_map(|l| l.strip_prefix("Total watches:"))
        .and_then(|v| v.trim().parse().ok())
        .unwrap_or_else(|| panic!("unparsable wchs output: {out:?}"))
}

/// ZooKeeper's DigestAuthenticationProvider.generateDigest: `user:base64(sha1("user:password"))`.
fn digest_id(user: &str, password: &str) -> String {
    use base64::Engine;
    use sha1::Digest;
    let hash = sha1::Sha1::digest(format!("{user}:{password}").as_bytes());
    format!(
        "{user}:{}",
        base64::engine::general_purpose::STANDARD.encode(hash)
    )
}

/// Waits until the client's session state becomes `want`.
async fn wait_state(c: &Client, want: SessionState, d: Duration) {
    let mut w = c.state_watcher();
    within(d, &format!("session state {want:?}"), async {
        loop {
            if c.state() == want {
                return;
            }
            let s = w.changed().await;
            if s == want {
                return;
            }
            assert!(
                !s.is_terminated(),
                "session reached terminal state {s:?} while waiting for {want:?}"
            );
        }
    })
    .await
}

fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_millis() as i64
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn crud_and_stat_fields() {
    let srv = Server::start();
    let c = connect(&srv).await;

    let (_, root_before) = c.get_data("/").await.unwrap();
    let t0 = now_ms();
    let (st, seq) = c.create("/a", b"hello", &PERSISTENT).await.unwrap();
    assert_eq!(seq.into_i64(), -1, "non-sequential create has no sequence");
    assert!(st.czxid > 0, "{st:?}");
    assert_eq!(st.mzxid, st.czxid, "new node: mzxid == czxid");
    assert_eq!(st.pzxid, st.czxid, "new node: pzxid == czxid");
    assert_eq!((st.version, st.cversion, st.aversion), (0, 0, 0));
    assert_eq!(st.ephemeral_owner, 0);
    assert_eq!(st.data_length, 5);
    assert_eq!(st.num_children, 0);
    assert_eq!(st.ctime, st.mtime);
    assert!(
        (st.ctime - t0).abs() < 10_000,
        "ctime {} is wall-clock ms (now {t0})",
        st.ctime
    );

    let (data, st2) = c.get_data("/a").await.unwrap();
    assert_eq!(data, b"hello");
    assert_eq!(st2, st, "get_data stat equals create stat");
    assert_eq!(c.check_stat("/a").await.unwrap(), Some(st));

    // The parent records the child change.
    let (_, root) = c.get_data("/").await.unwrap();
    assert_eq!(root.cversion, root_before.cversion + 1);
    assert_eq!(root.num_children, root_before.num_children + 1);
    assert_eq!(root.pzxid, st.czxid);
    assert_eq!(
        root.version, root_before.version,
        "child create does not change parent data version"
    );

    // Conditional set.
    let st3 = c.set_data("/a", b"world!", Some(0)).await.unwrap();
    assert_eq!(st3.version, 1);
    assert!(st3.mzxid > st.czxid);
    assert_eq!(st3.czxid, st.czxid);
    assert_eq!(st3.pzxid, st.pzxid, "data change does not touch pzxid");
    assert_eq!(st3.cversion, 0);
    assert_eq!(st3.data_length, 6);
    assert_eq!(st3.ctime, st.ctime);
    assert!(st3.mtime >= st.mtime);
    assert_eq!(
        c.set_data("/a", b"nope", Some(0)).await,
        Err(Error::BadVersion)
    );
    assert_eq!(
        c.get_data("/a").await.unwrap().0,
        b"world!",
        "failed conditional set changed nothing"
    );
    let st4 = c.set_data("/a", b"", None).await.unwrap();
    assert_eq!((st4.version, st4.data_length), (2, 0));
    assert_eq!(c.get_data("/a").await.unwrap().0, b"");

    // Errors.
    assert_eq!(
        c.create("/a", b"", &PERSISTENT).await.unwrap_err(),
        Error::NodeExists
    );
    assert_eq!(
        c.create("/missing/x", b"", &PERSISTENT).await.unwrap_err(),
        Error::NoNode
    );
    assert_eq!(c.get_data("/missing").await.unwrap_err(), Error::NoNode);
    assert_eq!(
        c.set_data("/missing", b"", None).await.unwrap_err(),
        Error::NoNode
    );
    assert_eq!(c.delete("/missing", None).await.unwrap_err(), Error::NoNode);
    assert_eq!(c.check_stat("/missing").await.unwrap(), None);

    // Children and the parent's cversion / numChildren / pzxid.
    let (cb, _) = c.create("/a/b", b"bb", &PERSISTENT).await.unwrap();
    let (_, pa) = c.get_data("/a").await.unwrap();
    assert_eq!((pa.cversion, pa.num_children), (1, 1));
    assert_eq!(pa.pzxid, cb.czxid);
    assert_eq!(
        pa.version, 2,
        "parent data version unchanged by child create"
    );
    assert_eq!(
        pa.mzxid, st4.mzxid,
        "parent mzxid unchanged by child create"
    );
    assert_eq!(c.delete("/a", None).await.unwrap_err(), Error::NotEmpty);
    assert_eq!(
        c.delete("/a/b", Some(7)).await.unwrap_err(),
        Error::BadVersion
    );
    c.delete("/a/b", Some(0)).await.unwrap();
    let (_, pa2) = c.get_data("/a").await.unwrap();
    assert_eq!((pa2.cversion, pa2.num_children), (2, 0));
    assert!(pa2.pzxid > cb.czxid, "delete bumps the parent's pzxid");
    let (cc, _) = c.create("/a/c", b"", &PERSISTENT).await.unwrap();
    assert!(cc.czxid > pa2.pzxid);
    assert_eq!(c.get_data("/a/b").await.unwrap_err(), Error::NoNode);

    // Ephemerals carry the owner and cannot have children.
    let (se, _) = c.create("/a/e", b"", &EPHEMERAL).await.unwrap();
    assert_eq!(se.ephemeral_owner, c.session_id().0);
    assert_eq!(
        c.create("/a/e/x", b"", &PERSISTENT).await.unwrap_err(),
        Error::NoChildrenForEphemerals
    );

    // getChildren2 returns sorted names and the node's stat.
    let (mut kids, kst) = c.get_children("/a").await.unwrap();
    kids.sort();
    assert_eq!(kids, vec!["c".to_string(), "e".to_string()]);
    assert_eq!(kst, c.get_data("/a").await.unwrap().1);
    assert_eq!(kst.num_children, 2);

    // ACL version.
    let sa = c.set_acl("/a", &Acls::anyone_all(), Some(0)).await.unwrap();
    assert_eq!(sa.aversion, 1);
    assert_eq!(sa.version, 2, "setAcl does not change the data version");
    assert_eq!(
        c.set_acl("/a", &Acls::anyone_all(), Some(0))
            .await
            .unwrap_err(),
        Error::BadVersion
    );
    let (acl, ast) = c.get_acl("/a").await.unwrap();
    assert_eq!(acl, vec![Acl::new(Permission::ALL, AuthId::anyone())]);
    assert_eq!(ast.aversion, 1);

    // Large value round trip (512 KiB, below the 1 MiB jute.maxbuffer).
    let big: Vec<u8> = (0..512 * 1024).map(|i| (i * 31 % 251) as u8).collect();
    let sb = c.set_data("/a/c", &big, None).await.unwrap();
    assert_eq!(sb.data_length as usize, big.len());
    assert_eq!(c.get_data("/a/c").await.unwrap().0, big);

    // Delete everything; the parent is then deletable.
    c.delete("/a/c", None).await.unwrap();
    c.delete("/a/e", Some(0)).await.unwrap();
    c.delete("/a", Some(2)).await.unwrap();
    assert_eq!(c.check_stat("/a").await.unwrap(), None);
    let (_, root_after) = c.get_data("/").await.unwrap();
    assert_eq!(root_after.cversion, root_before.cversion + 2);
    assert_eq!(root_after.num_children, root_before.num_children);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sequential_numbering() {
    let srv = Server::start();
    let c = connect(&srv).await;
    c.create("/seq", b"", &PERSISTENT).await.unwrap();
    for i in 0..3 {
        let (_, s) = c.create("/seq/n-", b"", &PERSISTENT_SEQ).await.unwrap();
        assert_eq!(s.into_i64(), i);
        assert_eq!(s.to_string(), format!("{i:010}"));
    }
    let mut kids = c.list_children("/seq").await.unwrap();
    kids.sort();
    assert_eq!(kids, vec!["n-0000000000", "n-0000000001", "n-0000000002"]);

    // The counter is the number of child creations so far (ZooKeeper's stored cversion):
    // a plain create advances it, a delete does not.
    c.create("/seq/plain", b"", &PERSISTENT).await.unwrap();
    c.delete("/seq/plain", None).await.unwrap();
    // What clients see as cversion counts creations and deletions (DataNode.copyStat: 2*4-3).
    assert_eq!(c.get_data("/seq").await.unwrap().1.cversion, 5);
    let (_, s) = c.create("/seq/n-", b"", &PERSISTENT_SEQ).await.unwrap();
    assert_eq!(s.into_i64(), 4);
    // Shared across prefixes and modes.
    let (se, s) = c.create("/seq/e-", b"", &EPHEMERAL_SEQ).await.unwrap();
    assert_eq!(s.into_i64(), 5);
    assert_eq!(se.ephemeral_owner, c.session_id().0);
    let (_, s) = c.create("/seq/m-", b"", &PERSISTENT_SEQ).await.unwrap();
    assert_eq!(s.into_i64(), 6);
    let kids: BTreeSet<String> = c.list_children("/seq").await.unwrap().into_iter().collect();
    for name in ["n-0000000004", "e-0000000005", "m-0000000006"] {
        assert!(kids.contains(name), "{name} missing from {kids:?}");
    }
    // An empty name prefix: the node is named by the sequence number alone.
    let (_, s) = c.create("/seq/", b"", &PERSISTENT_SEQ).await.unwrap();
    assert_eq!(s.into_i64(), 7);
    assert!(c.check_stat("/seq/0000000007").await.unwrap().is_some());
    // A sequential node in another parent starts from that parent's counter.
    c.create("/seq2", b"", &PERSISTENT).await.unwrap();
    let (_, s) = c.create("/seq2/x", b"", &PERSISTENT_SEQ).await.unwrap();
    assert_eq!(s.into_i64(), 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ephemeral_removed_when_session_closes() {
    let srv = Server::start();
    let a = connect(&srv).await;
    let b = connect(&srv).await;
    a.create("/eph", b"a", &EPHEMERAL).await.unwrap();
    a.create("/dir", b"", &PERSISTENT).await.unwrap();
    a.create("/dir/eph", b"a", &EPHEMERAL).await.unwrap();
    let (stat, w) = b.check_and_watch_stat("/eph").await.unwrap();
    assert_eq!(stat.unwrap().ephemeral_owner, a.session_id().0);
    let (_, w2) = b.list_and_watch_children("/dir").await.unwrap();

    let t = Instant::now();
    drop(a); // the last handle: the client sends closeSession
    let ev = within(
        Duration::from_secs(3),
        "NodeDeleted after close",
        w.changed(),
    )
    .await;
    assert_eq!(
        (ev.event_type, ev.path.as_str()),
        (EventType::NodeDeleted, "/eph")
    );
    let ev = within(
        Duration::from_secs(3),
        "NodeChildrenChanged after close",
        w2.changed(),
    )
    .await;
    assert_eq!(
        (ev.event_type, ev.path.as_str()),
        (EventType::NodeChildrenChanged, "/dir")
    );
    assert!(
        t.elapsed() < LONG_SESSION / 2,
        "deleted by close, not by expiry"
    );
    assert_eq!(b.check_stat("/eph").await.unwrap(), None);
    assert!(b.list_children("/dir").await.unwrap().is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ephemeral_removed_when_session_expires() {
    let srv = Server::start();
    let b = connect(&srv).await;
    let a = Client::connector()
        .with_session_timeout(Duration::from_secs(2))
        .with_detached() // dropping it closes the socket but not the session
        .connect(&srv.connect_string())
        .await
        .unwrap();
    let timeout = a.session_timeout();
    assert_eq!(
        timeout,
        Duration::from_secs(2),
        "server must grant 2s (within 2..20 ticks)"
    );
    a.create("/exp", b"", &EPHEMERAL).await.unwrap();
    let info = a.session().clone();
    let (stat, w) = b.check_and_watch_stat("/exp").await.unwrap();
    assert_eq!(stat.unwrap().ephemeral_owner, info.id().0);

    let t = Instant::now();
    drop(a);
    let mut fut = Box::pin(w.changed());
    // Not deleted merely because the connection went away.
    assert_pending(&mut fut, timeout / 2, "ephemeral right after disconnect").await;
    let ev = within(
        timeout + Duration::from_secs(5),
        "NodeDeleted after expiry",
        &mut fut,
    )
    .await;
    let elapsed = t.elapsed();
    assert_eq!(
        (ev.event_type, ev.path.as_str()),
        (EventType::NodeDeleted, "/exp")
    );
    let tick = Duration::from_millis(TICK_MS);
    assert!(
        elapsed + Duration::from_millis(700) >= timeout,
        "expired too early: {elapsed:?} < {timeout:?}"
    );
    assert!(
        elapsed <= timeout + tick + Duration::from_millis(1500),
        "expired too late: {elapsed:?}"
    );

    // The expired session cannot be resumed.
    let r = Client::connector()
        .with_session(info)
        .with_session_timeout(timeout)
        .connect(&srv.connect_string())
        .await;
    assert_eq!(r.err(), Some(Error::SessionExpired));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn oneshot_watches_fire_once() {
    let srv = Server::start();
    let c = connect(&srv).await;
    let b = connect(&srv).await;
    c.create("/w", b"v0", &PERSISTENT).await.unwrap();
    assert_eq!(total_watches(&srv), 0);

    // Data watch.
    let (_, _, wd) = c.get_and_watch_data("/w").await.unwrap();
    assert_eq!(total_watches(&srv), 1);
    b.set_data("/w", b"v1", None).await.unwrap();
    let ev = within(Duration::from_secs(3), "data watch", wd.changed()).await;
    assert_eq!(
        (ev.event_type, ev.path.as_str()),
        (EventType::NodeDataChanged, "/w")
    );
    assert_eq!(
        total_watches(&srv),
        0,
        "a fired one-shot watch is gone from the server"
    );

    // Data + child watches on the same node are independent.
    let (_, _, wd) = c.get_and_watch_data("/w").await.unwrap();
    let (_, wc) = c.list_and_watch_children("/w").await.unwrap();
    let mut wd = Box::pin(wd.changed());
    b.create("/w/k", b"", &PERSISTENT).await.unwrap();
    let ev = within(Duration::from_secs(3), "child watch", wc.changed()).await;
    assert_eq!(
        (ev.event_type, ev.path.as_str()),
        (EventType::NodeChildrenChanged, "/w")
    );
    b.set_data("/w/k", b"x", None).await.unwrap();
    assert_pending(
        &mut wd,
        Duration::from_millis(300),
        "data watch on child create / child data change",
    )
    .await;
    b.set_data("/w", b"v2", None).await.unwrap();
    let ev = within(Duration::from_secs(3), "data watch", &mut wd).await;
    assert_eq!(
        (ev.event_type, ev.path.as_str()),
        (EventType::NodeDataChanged, "/w")
    );
    assert_eq!(total_watches(&srv), 0);

    // Two watchers in one client share one server watch; a second change notifies nobody.
    let (_, _, w1) = c.get_and_watch_data("/w").await.unwrap();
    let (_, _, w2) = c.get_and_watch_data("/w").await.unwrap();
    b.set_data("/w", b"v3", None).await.unwrap();
    b.set_data("/w", b"v4", None).await.unwrap();
    let e1 = within(Duration::from_secs(3), "w1", w1.changed()).await;
    let e2 = within(Duration::from_secs(3), "w2", w2.changed()).await;
    assert_eq!(e1.event_type, EventType::NodeDataChanged);
    assert_eq!(e2.event_type, EventType::NodeDataChanged);
    assert_eq!(total_watches(&srv), 0);

    // Exists watch on a missing node: NodeCreated; then on the existing node: NodeDeleted.
    let (none, we) = c.check_and_watch_stat("/x").await.unwrap();
    assert!(none.is_none());
    assert_eq!(
        total_watches(&srv),
        1,
        "exists on a missing node registers a watch"
    );
    b.create("/x", b"", &PERSISTENT).await.unwrap();
    let ev = within(Duration::from_secs(3), "exists watch", we.changed()).await;
    assert_eq!(
        (ev.event_type, ev.path.as_str()),
        (EventType::NodeCreated, "/x")
    );
    let (some, we) = c.check_and_watch_stat("/x").await.unwrap();
    assert!(some.is_some());
    let (_, _, wdx) = c.get_and_watch_data("/x").await.unwrap();
    let (_, wcx) = c.list_and_watch_children("/x").await.unwrap();
    b.delete("/x", None).await.unwrap();
    for (name, w) in [("exists", we), ("data", wdx), ("child", wcx)] {
        let ev = within(Duration::from_secs(3), name, w.changed()).await;
        assert_eq!(
            (ev.event_type, ev.path.as_str()),
            (EventType::NodeDeleted, "/x"),
            "{name} watch"
        );
    }
    assert_eq!(total_watches(&srv), 0);

    // A watch is not fired for unrelated paths (prefix of the name is not the node).
    let (_, _, wd) = c.get_and_watch_data("/w").await.unwrap();
    let mut wd = Box::pin(wd.changed());
    b.create("/ww", b"", &PERSISTENT).await.unwrap();
    b.set_data("/ww", b"1", None).await.unwrap();
    assert_pending(
        &mut wd,
        Duration::from_millis(300),
        "watch on /w for changes to /ww",
    )
    .await;
    assert_eq!(total_watches(&srv), 1);
}

async fn next_node_event(w: &mut zk::PersistentWatcher) -> (EventType, String) {
    loop {
        let ev = within(
            Duration::from_secs(3),
            "persistent watch event",
            w.changed(),
        )
        .await;
        if ev.event_type != EventType::Session {
            return (ev.event_type, ev.path);
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn persistent_watch() {
    let srv = Server::start();
    let c = connect(&srv).await;
    let b = connect(&srv).await;
    c.create("/p", b"", &PERSISTENT).await.unwrap();
    let mut pw = c.watch("/p", AddWatchMode::Persistent).await.unwrap();
    let ev = |t, p: &str| (t, p.to_string());

    b.set_data("/p", b"1", None).await.unwrap();
    assert_eq!(
        next_node_event(&mut pw).await,
        ev(EventType::NodeDataChanged, "/p")
    );
    b.set_data("/p", b"2", None).await.unwrap();
    assert_eq!(
        next_node_event(&mut pw).await,
        ev(EventType::NodeDataChanged, "/p"),
        "fires again"
    );
    b.create("/p/c", b"", &PERSISTENT).await.unwrap();
    assert_eq!(
        next_node_event(&mut pw).await,
        ev(EventType::NodeChildrenChanged, "/p")
    );
    // Not recursive: nothing for changes below the children level.
    b.set_data("/p/c", b"x", None).await.unwrap();
    b.create("/p/c/d", b"", &PERSISTENT).await.unwrap();
    b.delete("/p/c/d", None).await.unwrap();
    b.create("/px", b"", &PERSISTENT).await.unwrap();
    b.delete("/p/c", None).await.unwrap();
    assert_eq!(
        next_node_event(&mut pw).await,
        ev(EventType::NodeChildrenChanged, "/p")
    );
    b.delete("/p", None).await.unwrap();
    assert_eq!(
        next_node_event(&mut pw).await,
        ev(EventType::NodeDeleted, "/p")
    );
    b.create("/p", b"", &PERSISTENT).await.unwrap();
    assert_eq!(
        next_node_event(&mut pw).await,
        ev(EventType::NodeCreated, "/p"),
        "survives deletion"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn persistent_recursive_watch() {
    let srv = Server::start();
    let c = connect(&srv).await;
    let b = connect(&srv).await;
    c.create("/r", b"", &PERSISTENT).await.unwrap();
    let mut rw = c
        .watch("/r", AddWatchMode::PersistentRecursive)
        .await
        .unwrap();
    let ev = |t, p: &str| (t, p.to_string());

    b.create("/r/a", b"", &PERSISTENT).await.unwrap();
    assert_eq!(
        next_node_event(&mut rw).await,
        ev(EventType::NodeCreated, "/r/a")
    );
    b.set_data("/r/a", b"1", None).await.unwrap();
    assert_eq!(
        next_node_event(&mut rw).await,
        ev(EventType::NodeDataChanged, "/r/a")
    );
    b.create("/r/a/b", b"", &PERSISTENT).await.unwrap();
    assert_eq!(
        next_node_event(&mut rw).await,
        ev(EventType::NodeCreated, "/r/a/b")
    );
    b.set_data("/r", b"1", None).await.unwrap();
    assert_eq!(
        next_node_event(&mut rw).await,
        ev(EventType::NodeDataChanged, "/r")
    );
    b.set_data("/r/a/b", b"1", None).await.unwrap();
    assert_eq!(
        next_node_event(&mut rw).await,
        ev(EventType::NodeDataChanged, "/r/a/b"),
        "fires repeatedly"
    );
    b.delete("/r/a/b", None).await.unwrap();
    assert_eq!(
        next_node_event(&mut rw).await,
        ev(EventType::NodeDeleted, "/r/a/b")
    );
    // Siblings whose names merely start with "/r" are not descendants.
    b.create("/rx", b"", &PERSISTENT).await.unwrap();
    b.create("/other", b"", &PERSISTENT).await.unwrap();
    b.set_data("/rx", b"1", None).await.unwrap();
    b.delete("/r/a", None).await.unwrap();
    // No NodeChildrenChanged in recursive mode: the next event is the delete.
    assert_eq!(
        next_node_event(&mut rw).await,
        ev(EventType::NodeDeleted, "/r/a")
    );
    b.delete("/r", None).await.unwrap();
    assert_eq!(
        next_node_event(&mut rw).await,
        ev(EventType::NodeDeleted, "/r")
    );
    b.create("/r", b"", &PERSISTENT).await.unwrap();
    assert_eq!(
        next_node_event(&mut rw).await,
        ev(EventType::NodeCreated, "/r")
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn multi_is_atomic_and_reports_per_op_errors() {
    let srv = Server::start();
    let c = connect(&srv).await;
    c.create("/m", b"0", &PERSISTENT).await.unwrap();

    // check + create + set, all applied at one zxid.
    let mut w = c.new_multi_writer();
    w.add_check_version("/m", 0).unwrap();
    w.add_create("/m/a", b"a", &PERSISTENT).unwrap();
    w.add_set_data("/m", b"1", Some(0)).unwrap();
    let r = w.commit().await.unwrap();
    assert_eq!(r.len(), 3, "{r:?}");
    assert_eq!(r[0], zk::MultiWriteResult::Check);
    let zk::MultiWriteResult::Create {
        path,
        stat: created,
    } = &r[1]
    else {
        panic!("{r:?}")
    };
    assert_eq!(path, "/m/a");
    assert_eq!((created.version, created.data_length), (0, 1));
    let zk::MultiWriteResult::SetData { stat: set } = &r[2] else {
        panic!("{r:?}")
    };
    assert_eq!(set.version, 1);
    assert_eq!(
        set.mzxid, created.czxid,
        "a multi is one transaction (one zxid)"
    );
    assert_eq!(set.pzxid, created.czxid);
    assert_eq!(c.get_data("/m").await.unwrap(), (b"1".to_vec(), *set));

    // Failing first op (stale version): nothing applied, error reported at index 0.
    let mut w = c.new_multi_writer();
    w.add_check_version("/m", 0).unwrap();
    w.add_create("/m/b", b"", &PERSISTENT).unwrap();
    w.add_set_data("/m", b"2", None).unwrap();
    assert_eq!(
        w.commit().await,
        Err(zk::MultiWriteError::OperationFailed {
            index: 0,
            source: Error::BadVersion
        })
    );
    // Failing middle op.
    let mut w = c.new_multi_writer();
    w.add_create("/m/c", b"", &PERSISTENT).unwrap();
    w.add_delete("/m/nonexistent", None).unwrap();
    w.add_set_data("/m", b"3", None).unwrap();
    assert_eq!(
        w.commit().await,
        Err(zk::MultiWriteError::OperationFailed {
            index: 1,
            source: Error::NoNode
        })
    );
    // Failing last op, after ops that would have succeeded (and that depend on each other).
    let mut w = c.new_multi_writer();
    w.add_create("/m/d", b"", &PERSISTENT).unwrap();
    w.add_create("/m/d/e", b"", &PERSISTENT).unwrap();
    w.add_set_data("/m", b"4", Some(1)).unwrap();
    w.add_delete("/m/a", None).unwrap();
    w.add_create("/m/a", b"", &EPHEMERAL).unwrap();
    w.add_create("/m/a", b"", &PERSISTENT).unwrap();
    assert_eq!(
        w.commit().await,
        Err(zk::MultiWriteError::OperationFailed {
            index: 5,
            source: Error::NodeExists
        })
    );
    for p in ["/m/b", "/m/c", "/m/d", "/m/d/e"] {
        assert_eq!(
            c.check_stat(p).await.unwrap(),
            None,
            "{p} must not exist after failed multis"
        );
    }
    let (data, st) = c.get_data("/m").await.unwrap();
    assert_eq!(
        (data.as_slice(), st.version),
        (&b"1"[..], 1),
        "failed multis changed nothing"
    );
    let (a, _) = c.get_data("/m/a").await.unwrap();
    assert_eq!(a, b"a");
    assert_eq!(
        c.check_stat("/m/a").await.unwrap().unwrap().ephemeral_owner,
        0,
        "/m/a not replaced"
    );

    // Later ops see the effects of earlier ones.
    let mut w = c.new_multi_writer();
    w.add_set_data("/m", b"5", Some(1)).unwrap();
    w.add_check_version("/m", 2).unwrap();
    w.add_delete("/m/a", Some(0)).unwrap();
    w.add_create("/m/a", b"new", &PERSISTENT).unwrap();
    let r = w.commit().await.unwrap();
    assert_eq!(r.len(), 4);
    assert_eq!(r[1], zk::MultiWriteResult::Check);
    assert_eq!(r[2], zk::MultiWriteResult::Delete);
    assert_eq!(c.get_data("/m/a").await.unwrap().0, b"new");
    // Sequential create inside a multi returns the actual name.
    let mut w = c.new_multi_writer();
    w.add_create("/m/s-", b"", &PERSISTENT_SEQ).unwrap();
    let r = w.commit().await.unwrap();
    let zk::MultiWriteResult::Create { path, .. } = &r[0] else {
        panic!("{r:?}")
    };
    assert!(
        path.starts_with("/m/s-") && path.len() == "/m/s-".len() + 10,
        "{path}"
    );

    // Multi read: per-op results, errors inline.
    let mut rd = c.new_multi_reader();
    rd.add_get_data("/m").unwrap();
    rd.add_get_children("/m").unwrap();
    rd.add_get_data("/m/missing").unwrap();
    let r = rd.commit().await.unwrap();
    assert_eq!(r.len(), 3);
    match &r[0] {
        zk::MultiReadResult::Data { data, stat } => {
            assert_eq!((data.as_slice(), stat.version), (&b"5"[..], 2))
        }
        other => panic!("{other:?}"),
    }
    match &r[1] {
        zk::MultiReadResult::Children { children } => {
            let set: BTreeSet<&str> = children.iter().map(String::as_str).collect();
            assert_eq!(set.len(), 2);
            assert!(set.contains("a"), "{set:?}");
        }
        other => panic!("{other:?}"),
    }
    match &r[2] {
        zk::MultiReadResult::Error { err } => assert_eq!(*err, Error::NoNode),
        other => panic!("{other:?}"),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn acl_denial_world_and_ip() {
    let srv = Server::start();
    let owner = connect(&srv).await;
    let other = connect(&srv).await;

    // World-readable only.
    owner
        .create(
            "/ro",
            b"r",
            &CreateMode::Persistent.with_acls(Acls::anyone_read()),
        )
        .await
        .unwrap();
    assert_eq!(other.get_data("/ro").await.unwrap().0, b"r");
    assert_eq!(
        other.list_children("/ro").await.unwrap(),
        Vec::<String>::new()
    );
    assert_eq!(
        other.set_data("/ro", b"x", None).await.unwrap_err(),
        Error::NoAuth
    );
    assert_eq!(
        other.create("/ro/c", b"", &PERSISTENT).await.unwrap_err(),
        Error::NoAuth
    );
    assert_eq!(
        other
            .set_acl("/ro", &Acls::anyone_all(), None)
            .await
            .unwrap_err(),
        Error::NoAuth
    );
    assert_eq!(
        owner.set_data("/ro", b"x", None).await.unwrap_err(),
        Error::NoAuth,
        "the creator has no special rights"
    );
    let (acl, _) = other.get_acl("/ro").await.unwrap();
    assert_eq!(acl, vec![Acl::new(Permission::READ, AuthId::anyone())]);

    // Per-permission checks: CREATE but not DELETE on the parent; no READ on the node.
    let perms = [Acl::new(
        Permission::CREATE | Permission::WRITE,
        AuthId::anyone(),
    )];
    owner
        .create(
            "/cw",
            b"w",
            &CreateMode::Persistent.with_acls(Acls::new(&perms)),
        )
        .await
        .unwrap();
    other.create("/cw/kid", b"", &PERSISTENT).await.unwrap();
    assert_eq!(
        other.delete("/cw/kid", None).await.unwrap_err(),
        Error::NoAuth,
        "delete needs DELETE on the parent"
    );
    assert_eq!(other.get_data("/cw").await.unwrap_err(), Error::NoAuth);
    assert_eq!(other.list_children("/cw").await.unwrap_err(), Error::NoAuth);
    other.set_data("/cw", b"w2", None).await.unwrap();
    assert!(
        other.check_stat("/cw").await.unwrap().is_some(),
        "exists is not ACL-checked"
    );
    assert_eq!(
        owner
            .set_acl("/cw", &Acls::anyone_all(), None)
            .await
            .unwrap_err(),
        Error::NoAuth,
        "no ADMIN"
    );
    // The child has its own (open) ACL.
    assert_eq!(other.get_data("/cw/kid").await.unwrap().0, b"");

    // "auth" ACL without any authenticated identity is invalid.
    assert_eq!(
        other
            .create(
                "/x",
                b"",
                &CreateMode::Persistent.with_acls(Acls::creator_all())
            )
            .await
            .unwrap_err(),
        Error::InvalidAcl
    );
    assert_eq!(other.check_stat("/x").await.unwrap(), None);

    // ip scheme (clients connect from 127.0.0.1).
    let ip_ok = [Acl::new(Permission::ALL, AuthId::new("ip", "127.0.0.1"))];
    let ip_net = [Acl::new(Permission::READ, AuthId::new("ip", "127.0.0.0/8"))];
    let ip_other = [Acl::new(Permission::ALL, AuthId::new("ip", "10.1.2.3"))];
    owner
        .create(
            "/ip-ok",
            b"1",
            &CreateMode::Persistent.with_acls(Acls::new(&ip_ok)),
        )
        .await
        .unwrap();
    owner
        .create(
            "/ip-net",
            b"2",
            &CreateMode::Persistent.with_acls(Acls::new(&ip_net)),
        )
        .await
        .unwrap();
    owner
        .create(
            "/ip-other",
            b"3",
            &CreateMode::Persistent.with_acls(Acls::new(&ip_other)),
        )
        .await
        .unwrap();
    assert_eq!(other.get_data("/ip-ok").await.unwrap().0, b"1");
    other.set_data("/ip-ok", b"1b", None).await.unwrap();
    assert_eq!(other.get_data("/ip-net").await.unwrap().0, b"2");
    assert_eq!(
        other.set_data("/ip-net", b"x", None).await.unwrap_err(),
        Error::NoAuth
    );
    assert_eq!(
        other.get_data("/ip-other").await.unwrap_err(),
        Error::NoAuth
    );

    // Opening up an ACL bumps aversion and grants access.
    let st = owner
        .set_acl("/ip-other", &Acls::anyone_all(), Some(0))
        .await;
    assert_eq!(
        st.unwrap_err(),
        Error::NoAuth,
        "setAcl needs ADMIN, which 127.0.0.1 lacks on /ip-other"
    );
    let st = owner
        .set_acl("/ip-ok", &Acls::anyone_all(), Some(0))
        .await
        .unwrap();
    assert_eq!(st.aversion, 1);
    assert_eq!(
        owner.get_acl("/ip-ok").await.unwrap().0,
        vec![Acl::new(Permission::ALL, AuthId::anyone())]
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn digest_auth() {
    let srv = Server::start();
    let alice = Client::connector()
        .with_session_timeout(LONG_SESSION)
        .with_auth("digest", b"alice:secret")
        .connect(&srv.connect_string())
        .await
        .expect("connect with digest auth");
    let anon = connect(&srv).await;

    alice
        .create(
            "/secure",
            b"s",
            &CreateMode::Persistent.with_acls(Acls::creator_all()),
        )
        .await
        .unwrap();
    let (acl, _) = alice.get_acl("/secure").await.unwrap();
    assert_eq!(
        acl,
        vec![Acl::new(
            Permission::ALL,
            AuthId::new("digest", &digest_id("alice", "secret"))
        )]
    );
    assert_eq!(alice.get_data("/secure").await.unwrap().0, b"s");
    alice
        .create("/secure/child", b"", &PERSISTENT)
        .await
        .unwrap();
    let users = alice.list_auth_users().await.unwrap();
    assert!(
        users
            .iter()
            .any(|u| u.scheme() == "digest" && u.user() == "alice"),
        "{users:?}"
    );

    // No credentials: denied.
    assert_eq!(anon.get_data("/secure").await.unwrap_err(), Error::NoAuth);
    assert_eq!(
        anon.set_data("/secure", b"x", None).await.unwrap_err(),
        Error::NoAuth
    );
    assert_eq!(
        anon.create("/secure/x", b"", &PERSISTENT)
            .await
            .unwrap_err(),
        Error::NoAuth
    );
    assert_eq!(
        anon.list_children("/secure").await.unwrap_err(),
        Error::NoAuth
    );
    assert_eq!(
        anon.delete("/secure/child", None).await.unwrap_err(),
        Error::NoAuth
    );
    assert_eq!(
        anon.set_acl("/secure", &Acls::anyone_all(), None)
            .await
            .unwrap_err(),
        Error::NoAuth
    );

    // Wrong password: digest auth itself succeeds (as a different identity), access is denied.
    let wrong = Client::connector()
        .with_session_timeout(LONG_SESSION)
        .with_auth("digest", b"alice:wrong")
        .connect(&srv.connect_string())
        .await
        .expect("digest auth with any password is accepted");
    assert_eq!(wrong.get_data("/secure").await.unwrap_err(), Error::NoAuth);
    // Adding the right credentials later in the session grants access.
    wrong.auth("digest", b"alice:secret").await.unwrap();
    assert_eq!(wrong.get_data("/secure").await.unwrap().0, b"s");

    // Explicit digest ACLs with different permissions.
    let shared = [
        Acl::new(
            Permission::READ,
            AuthId::new("digest", &digest_id("bob", "pw")),
        ),
        Acl::new(
            Permission::ALL,
            AuthId::new("digest", &digest_id("alice", "secret")),
        ),
    ];
    alice
        .create(
            "/shared",
            b"sh",
            &CreateMode::Persistent.with_acls(Acls::new(&shared)),
        )
        .await
        .unwrap();
    let bob = connect(&srv).await;
    assert_eq!(bob.get_data("/shared").await.unwrap_err(), Error::NoAuth);
    bob.auth("digest", b"bob:pw").await.unwrap();
    assert_eq!(bob.get_data("/shared").await.unwrap().0, b"sh");
    assert_eq!(
        bob.set_data("/shared", b"x", None).await.unwrap_err(),
        Error::NoAuth
    );
    alice.set_data("/shared", b"y", None).await.unwrap();

    // Opening up the ACL bumps aversion and grants access.
    let st = alice
        .set_acl("/secure", &Acls::anyone_all(), Some(0))
        .await
        .unwrap();
    assert_eq!(st.aversion, 1);
    assert_eq!(anon.get_data("/secure").await.unwrap().0, b"s");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn container_reaped_after_last_child_deleted() {
    // The harness sets rzk.containerCheckIntervalMs=200.
    let srv = Server::start();
    let c = connect(&srv).await;
    let (st, _) = c.create("/cont", b"", &CONTAINER).await.unwrap();
    // Stored as ephemeralOwner 0x8000000000000000, but ZooKeeper's DataNode.copyStat shows
    // clients 0 for container and TTL nodes.
    assert_eq!(st.ephemeral_owner, 0);
    c.create("/cont/child", b"", &PERSISTENT).await.unwrap();
    c.create("/never", b"", &CONTAINER).await.unwrap();
    let (_, w) = c.check_and_watch_stat("/cont").await.unwrap();
    let mut w = Box::pin(w.changed());
    assert_pending(&mut w, Duration::from_millis(800), "container with a child").await;
    c.delete("/cont/child", None).await.unwrap();
    let ev = within(Duration::from_secs(5), "container reaped", &mut w).await;
    assert_eq!(
        (ev.event_type, ev.path.as_str()),
        (EventType::NodeDeleted, "/cont")
    );
    // A container that never had a child is not reaped.
    assert!(c.check_stat("/never").await.unwrap().is_some());
    // Creating under a just-reaped container path fails cleanly.
    assert_eq!(
        c.create("/cont/again", b"", &PERSISTENT).await.unwrap_err(),
        Error::NoNode
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ttl_node_reaped_after_ttl() {
    let srv = Server::start();
    let c = connect(&srv).await;
    let ttl = Duration::from_millis(500);
    let opts = CreateMode::Persistent
        .with_acls(Acls::anyone_all())
        .with_ttl(ttl);
    let t = Instant::now();
    let (st, _) = c.create("/ttl", b"t", &opts).await.unwrap();
    assert_eq!(
        st.ephemeral_owner, 0,
        "TTL marker in ephemeralOwner is hidden from clients (DataNode.copyStat)"
    );
    let (_, w) = c.check_and_watch_stat("/ttl").await.unwrap();
    let ev = within(Duration::from_secs(5), "TTL node reaped", w.changed()).await;
    assert_eq!(
        (ev.event_type, ev.path.as_str()),
        (EventType::NodeDeleted, "/ttl")
    );
    assert!(
        t.elapsed() >= ttl,
        "reaped before its ttl: {:?}",
        t.elapsed()
    );

    // Sequential TTL nodes too.
    let sopts = CreateMode::PersistentSequential
        .with_acls(Acls::anyone_all())
        .with_ttl(ttl);
    let (_, s) = c.create("/ttlseq-", b"", &sopts).await.unwrap();
    let path = format!("/ttlseq-{s}");
    let (_, w) = c.check_and_watch_stat(&path).await.unwrap();
    let ev = within(
        Duration::from_secs(5),
        "sequential TTL node reaped",
        w.changed(),
    )
    .await;
    assert_eq!((ev.event_type, ev.path), (EventType::NodeDeleted, path));

    // A TTL node with a child survives until the child is gone.
    c.create("/ttlp", b"", &opts).await.unwrap();
    c.create("/ttlp/c", b"", &PERSISTENT).await.unwrap();
    tokio::time::sleep(ttl * 3).await;
    assert!(
        c.check_stat("/ttlp").await.unwrap().is_some(),
        "TTL node with children must not be reaped"
    );
    let (_, w) = c.check_and_watch_stat("/ttlp").await.unwrap();
    c.delete("/ttlp/c", None).await.unwrap();
    let ev = within(Duration::from_secs(5), "TTL parent reaped", w.changed()).await;
    assert_eq!(ev.event_type, EventType::NodeDeleted);

    // Modifications push expiry out (ttl counts from mtime).
    let long = CreateMode::Persistent
        .with_acls(Acls::anyone_all())
        .with_ttl(Duration::from_millis(1500));
    c.create("/ttlm", b"", &long).await.unwrap();
    let t = Instant::now();
    while t.elapsed() < Duration::from_millis(2500) {
        tokio::time::sleep(Duration::from_millis(250)).await;
        c.set_data("/ttlm", b"touch", None)
            .await
            .expect("TTL node reaped although it was modified recently");
    }
    let (_, w) = c.check_and_watch_stat("/ttlm").await.unwrap();
    let ev = within(
        Duration::from_secs(6),
        "modified TTL node reaped eventually",
        w.changed(),
    )
    .await;
    assert_eq!(ev.event_type, EventType::NodeDeleted);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn all_children_number_and_ephemerals() {
    let srv = Server::start();
    let c = connect(&srv).await;
    let d = connect(&srv).await;
    for p in ["/cnt", "/cnt/a", "/cnt/a/b", "/cnt/c"] {
        c.create(p, b"", &PERSISTENT).await.unwrap();
    }
    assert_eq!(c.count_descendants_number("/cnt").await.unwrap(), 3);
    assert_eq!(c.count_descendants_number("/cnt/a").await.unwrap(), 1);
    assert_eq!(c.count_descendants_number("/cnt/c").await.unwrap(), 0);
    assert_eq!(
        c.count_descendants_number("/nope").await.unwrap_err(),
        Error::NoNode
    );

    c.create("/cnt/e1", b"", &EPHEMERAL).await.unwrap();
    c.create("/cnt/a/e2", b"", &EPHEMERAL).await.unwrap();
    c.create("/top", b"", &EPHEMERAL).await.unwrap();
    d.create("/cnt/e3", b"", &EPHEMERAL).await.unwrap();
    assert_eq!(c.count_descendants_number("/cnt").await.unwrap(), 6);

    let set = |v: Vec<String>| v.into_iter().collect::<BTreeSet<_>>();
    let want = |v: &[&str]| v.iter().map(|s| s.to_string()).collect::<BTreeSet<_>>();
    assert_eq!(
        set(c.list_ephemerals("/").await.unwrap()),
        want(&["/cnt/e1", "/cnt/a/e2", "/top"])
    );
    assert_eq!(
        set(c.list_ephemerals("/cnt").await.unwrap()),
        want(&["/cnt/e1", "/cnt/a/e2"])
    );
    assert_eq!(
        set(c.list_ephemerals("/cnt/a/e2").await.unwrap()),
        want(&["/cnt/a/e2"])
    );
    assert_eq!(
        set(d.list_ephemerals("/").await.unwrap()),
        want(&["/cnt/e3"])
    );
    assert!(d.list_ephemerals("/nope").await.unwrap().is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sync_then_read() {
    let srv = Server::start();
    let a = connect(&srv).await;
    let b = connect(&srv).await;
    a.create("/s", b"0", &PERSISTENT).await.unwrap();
    for i in 1..=20 {
        let v = i.to_string();
        a.set_data("/s", v.as_bytes(), None).await.unwrap();
        b.sync("/s").await.unwrap();
        assert_eq!(b.get_data("/s").await.unwrap().0, v.as_bytes());
    }
    b.sync("/").await.unwrap();
    // ZooKeeper does not check that the sync path exists.
    b.sync("/does/not/exist").await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reconnect_after_restart_keeps_session() {
    let mut srv = Server::start();
    let a = connect(&srv).await;
    let sid = a.session_id();
    let (st, _) = a.create("/keep", b"k", &EPHEMERAL).await.unwrap();
    assert_eq!(st.ephemeral_owner, sid.0);
    a.create("/keep-dir", b"", &PERSISTENT).await.unwrap();

    let mut sw = a.state_watcher();
    srv.kill9();
    let s = within(Duration::from_secs(5), "Disconnected", sw.changed()).await;
    assert_eq!(s, SessionState::Disconnected);
    srv.restart();
    wait_state(&a, SessionState::SyncConnected, Duration::from_secs(10)).await;

    // Same session on the server: new ephemerals are owned by the old id, old ones survive.
    let (st2, _) = a.create("/keep2", b"", &EPHEMERAL).await.unwrap();
    assert_eq!(
        st2.ephemeral_owner, sid.0,
        "the server resumed the session instead of creating a new one"
    );
    let b = connect(&srv).await;
    let st = b
        .check_stat("/keep")
        .await
        .unwrap()
        .expect("ephemeral of a live session survived the restart");
    assert_eq!(st.ephemeral_owner, sid.0);
    assert_eq!(b.get_data("/keep").await.unwrap().0, b"k");
    assert!(b.check_stat("/keep-dir").await.unwrap().is_some());
    assert_eq!(
        set_of(a.list_ephemerals("/").await.unwrap()),
        set_of(vec!["/keep".into(), "/keep2".into()])
    );

    // And the resumed session still closes properly.
    let (_, w) = b.check_and_watch_stat("/keep").await.unwrap();
    drop(a);
    let ev = within(
        Duration::from_secs(3),
        "NodeDeleted after close",
        w.changed(),
    )
    .await;
    assert_eq!(ev.event_type, EventType::NodeDeleted);
    assert_eq!(b.check_stat("/keep2").await.unwrap(), None);
}

fn set_of(v: Vec<String>) -> BTreeSet<String> {
    v.into_iter().collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn session_of_dead_client_expires_after_restart() {
    let mut srv = Server::start();
    let a = Client::connector()
        .with_session_timeout(Duration::from_secs(2))
        .with_detached()
        .connect(&srv.connect_string())
        .await
        .unwrap();
    a.create("/orphan", b"", &EPHEMERAL).await.unwrap();
    drop(a);
    srv.kill9();
    srv.restart();
    let t = Instant::now();
    let b = connect(&srv).await;
    let (stat, w) = b.check_and_watch_stat("/orphan").await.unwrap();
    // The session outlives the restart (it gets a full timeout from the restart) ...
    assert!(
        stat.is_some(),
        "ephemeral of a not-yet-expired session lost in the restart"
    );
    // ... and then expires because nobody resumes it.
    let ev = within(
        Duration::from_secs(6),
        "orphan ephemeral expired after restart",
        w.changed(),
    )
    .await;
    assert_eq!(ev.event_type, EventType::NodeDeleted);
    assert!(
        t.elapsed() >= Duration::from_millis(1300),
        "expired too early after restart: {:?}",
        t.elapsed()
    );
    assert!(t.elapsed() < Duration::from_secs(6));
    assert_eq!(b.check_stat("/orphan").await.unwrap(), None);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn watches_reregistered_after_reconnect() {
    let mut srv = Server::start();
    let a = connect(&srv).await;
    a.create("/rw", b"0", &PERSISTENT).await.unwrap();
    let (_, _, wd) = a.get_and_watch_data("/rw").await.unwrap();
    let (none, we) = a.check_and_watch_stat("/rw-new").await.unwrap();
    assert!(none.is_none());
    let (_, wc) = a.list_and_watch_children("/rw").await.unwrap();
    // (Persistent watches are not covered here: zookeeper-client 0.11.2 never re-sends them.
    // Its WatchManager::resend_watches computes `index = index.max(index)` instead of
    // `index.max(i)`, so it always sends SetWatches (3 lists), never SetWatches2.)

    srv.kill9();
    srv.restart();
    wait_state(&a, SessionState::SyncConnected, Duration::from_secs(10)).await;
    // Give the server the setWatches frame that followed the connect.
    a.sync("/").await.unwrap();
    assert!(
        total_watches(&srv) > 0,
        "setWatches registered nothing on the restarted server"
    );

    let b = connect(&srv).await;
    b.set_data("/rw", b"1", None).await.unwrap();
    let ev = within(
        Duration::from_secs(3),
        "data watch after reconnect",
        wd.changed(),
    )
    .await;
    assert_eq!(
        (ev.event_type, ev.path.as_str()),
        (EventType::NodeDataChanged, "/rw")
    );
    b.create("/rw-new", b"", &PERSISTENT).await.unwrap();
    let ev = within(
        Duration::from_secs(3),
        "exists watch after reconnect",
        we.changed(),
    )
    .await;
    assert_eq!(
        (ev.event_type, ev.path.as_str()),
        (EventType::NodeCreated, "/rw-new")
    );
    b.create("/rw/c", b"", &PERSISTENT).await.unwrap();
    let ev = within(
        Duration::from_secs(3),
        "child watch after reconnect",
        wc.changed(),
    )
    .await;
    assert_eq!(
        (ev.event_type, ev.path.as_str()),
        (EventType::NodeChildrenChanged, "/rw")
    );
    assert_eq!(
        total_watches(&srv),
        0,
        "all re-registered one-shot watches fired once"
    );
}
