//! zookeeper-client (Rust) against the ensemble given as the first argument
//! (`host:port,host:port,...`). Prints one line per feature: `RESULT <feature> PASS` or
//! `RESULT <feature> FAIL <why>`; exits 1 when any failed.
//!
//! A client that must see another client's write (ordered here, out of band) syncs first:
//! ZooKeeper guarantees a single client's view only.

use std::future::Future;
use std::time::Duration;
use zookeeper_client as zk;
use zk::{Acl, Acls, AddWatchMode, AuthId, Client, CreateMode, CreateOptions, Error, EventType, Permission};

type R = Result<(), String>;

const PERSISTENT: CreateOptions<'static> = CreateMode::Persistent.with_acls(Acls::anyone_all());
const EPHEMERAL: CreateOptions<'static> = CreateMode::Ephemeral.with_acls(Acls::anyone_all());
const WAIT: Duration = Duration::from_secs(30);

macro_rules! ensure {
    ($cond:expr, $($fmt:tt)+) => {
        if !$cond {
            return Err(format!("line {}: {}", line!(), format!($($fmt)+)));
        }
    };
}

/// `expr?` with the line and the call in the message.
macro_rules! t {
    ($e:expr) => {
        match $e {
            Ok(v) => v,
            Err(err) => return Err(format!("line {}: {} -> {:?}", line!(), stringify!($e), err)),
        }
    };
}

async fn within<T>(what: &str, f: impl Future<Output = T>) -> Result<T, String> {
    tokio::time::timeout(WAIT, f).await.map_err(|_| format!("timed out waiting for {what}"))
}

async fn connect(hosts: &str) -> Result<Client, String> {
    Client::connector()
        .with_session_timeout(Duration::from_secs(15))
        .connect(hosts)
        .await
        .map_err(|e| format!("connect {hosts}: {e}"))
}

fn digest_id(user: &str, password: &str) -> String {
    use base64::Engine;
    use sha1::Digest;
    let hash = sha1::Sha1::digest(format!("{user}:{password}").as_bytes());
    format!("{user}:{}", base64::engine::general_purpose::STANDARD.encode(hash))
}

async fn crud(hosts: &str, root: &str) -> R {
    let c = connect(hosts).await?;
    let p = format!("{root}/node");
    let (st, _) = t!(c.create(&p, b"v0", &PERSISTENT).await);
    ensure!(st.version == 0, "create stat {st:?}");
    ensure!(c.create(&p, b"x", &PERSISTENT).await == Err(Error::NodeExists), "duplicate create");
    ensure!(
        c.create(&format!("{root}/missing/child"), b"", &PERSISTENT).await == Err(Error::NoNode),
        "create under a missing parent"
    );
    let (data, st) = t!(c.get_data(&p).await);
    ensure!(data == b"v0" && st.data_length == 2, "get {data:?} {st:?}");
    let st2 = t!(c.set_data(&p, b"v1", Some(0)).await);
    ensure!(st2.version == 1 && st2.czxid == st.czxid && st2.mzxid > st.mzxid, "set stat {st2:?}");
    ensure!(c.set_data(&p, b"v2", Some(0)).await == Err(Error::BadVersion), "stale set");
    t!(c.create(&format!("{p}/c1"), b"", &PERSISTENT).await);
    t!(c.create(&format!("{p}/c2"), b"", &PERSISTENT).await);
    let mut kids = t!(c.list_children(&p).await);
    kids.sort();
    ensure!(kids == ["c1", "c2"], "children {kids:?}");
    let (_, pst) = t!(c.get_children(&p).await);
    ensure!(pst.num_children == 2 && pst.cversion == 2, "parent stat {pst:?}");
    ensure!(c.delete(&p, None).await == Err(Error::NotEmpty), "delete non-empty");
    ensure!(c.delete(&format!("{p}/c1"), Some(3)).await == Err(Error::BadVersion), "stale delete");
    t!(c.delete(&format!("{p}/c1"), Some(0)).await);
    t!(c.delete(&format!("{p}/c2"), None).await);
    t!(c.delete(&p, Some(1)).await);
    ensure!(t!(c.check_stat(&p).await).is_none(), "exists after delete");
    ensure!(c.get_data(&p).await == Err(Error::NoNode), "get after delete");

    // sequential + ephemeral
    let seqs = format!("{root}/seqs");
    t!(c.create(&seqs, b"", &PERSISTENT).await);
    let seq_opts = CreateMode::PersistentSequential.with_acls(Acls::anyone_all());
    let (_, s1) = t!(c.create(&format!("{seqs}/s-"), b"", &seq_opts).await);
    let (_, s2) = t!(c.create(&format!("{seqs}/s-"), b"", &seq_opts).await);
    ensure!(s1.into_i64() == 0 && s2.into_i64() == 1, "sequence numbers {s1} {s2}");
    let other = connect(hosts).await?;
    let e = format!("{root}/eph");
    t!(other.create(&e, b"", &EPHEMERAL).await);
    t!(c.sync(&e).await);
    let est = t!(c.check_stat(&e).await);
    ensure!(est.map(|s| s.ephemeral_owner) == Some(other.session_id().0), "ephemeral owner {est:?}");
    drop(other);
    within("ephemeral removed after close", async {
        loop {
            if matches!(c.check_stat(&e).await, Ok(None)) {
                return;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    })
    .await?;
    Ok(())
}

async fn watches(hosts: &str, root: &str) -> R {
    let c = connect(hosts).await?;
    let w = connect(hosts).await?;
    let p = format!("{root}/w");
    let (st, ex) = t!(c.check_and_watch_stat(&p).await);
    ensure!(st.is_none(), "exists");
    t!(w.create(&p, b"1", &PERSISTENT).await);
    let ev = within("NodeCreated", ex.changed()).await?;
    ensure!(ev.event_type == EventType::NodeCreated && ev.path == p, "{ev:?}");

    let (_, _, dw) = t!(c.get_and_watch_data(&p).await);
    t!(w.set_data(&p, b"2", None).await);
    let ev = within("NodeDataChanged", dw.changed()).await?;
    ensure!(ev.event_type == EventType::NodeDataChanged && ev.path == p, "{ev:?}");

    let (_, cw) = t!(c.list_and_watch_children(&p).await);
    t!(w.create(&format!("{p}/kid"), b"", &PERSISTENT).await);
    let ev = within("NodeChildrenChanged", cw.changed()).await?;
    ensure!(ev.event_type == EventType::NodeChildrenChanged && ev.path == p, "{ev:?}");

    let (_, _, kw) = t!(c.get_and_watch_data(&format!("{p}/kid")).await);
    t!(w.delete(&format!("{p}/kid"), None).await);
    let ev = within("NodeDeleted", kw.changed()).await?;
    ensure!(ev.event_type == EventType::NodeDeleted, "{ev:?}");
    Ok(())
}

async fn persistent_recursive_watch(hosts: &str, root: &str) -> R {
    let c = connect(hosts).await?;
    let w = connect(hosts).await?;
    let base = format!("{root}/tree");
    t!(c.create(&base, b"", &PERSISTENT).await);
    let mut rw = t!(c.watch(&base, AddWatchMode::PersistentRecursive).await);
    t!(w.create(&format!("{base}/a"), b"", &PERSISTENT).await);
    t!(w.create(&format!("{base}/a/b"), b"", &PERSISTENT).await);
    t!(w.set_data(&format!("{base}/a/b"), b"x", None).await);
    t!(w.delete(&format!("{base}/a/b"), None).await);
    let want = [
        (EventType::NodeCreated, format!("{base}/a")),
        (EventType::NodeCreated, format!("{base}/a/b")),
        (EventType::NodeDataChanged, format!("{base}/a/b")),
        (EventType::NodeDeleted, format!("{base}/a/b")),
    ];
    for (typ, path) in want {
        let ev = loop {
            let ev = within("recursive watch event", rw.changed()).await?;
            if ev.event_type != EventType::Session {
                break ev;
            }
        };
        ensure!(ev.event_type == typ && ev.path == path, "got {ev:?}, want {typ:?} {path}");
    }
    // persistent (non-recursive) on the base: children changes, fires repeatedly
    let mut pw = t!(c.watch(&base, AddWatchMode::Persistent).await);
    t!(w.create(&format!("{base}/x"), b"", &PERSISTENT).await);
    t!(w.set_data(&base, b"1", None).await);
    for typ in [EventType::NodeChildrenChanged, EventType::NodeDataChanged] {
        let ev = within("persistent watch event", pw.changed()).await?;
        ensure!(ev.event_type == typ && ev.path == base, "got {ev:?}, want {typ:?}");
    }
    Ok(())
}

async fn multi(hosts: &str, root: &str) -> R {
    let c = connect(hosts).await?;
    let a = format!("{root}/a");
    let b = format!("{root}/b");
    let mut w = c.new_multi_writer();
    t!(w.add_create(&a, b"1", &PERSISTENT));
    t!(w.add_create(&b, b"2", &PERSISTENT));
    t!(w.add_set_data(&a, b"3", Some(0)));
    t!(w.add_check_version(&b, 0));
    let r = t!(w.commit().await);
    ensure!(r.len() == 4, "{r:?}");
    ensure!(matches!(&r[0], zk::MultiWriteResult::Create { path, .. } if *path == a), "{r:?}");
    ensure!(matches!(&r[2], zk::MultiWriteResult::SetData { stat } if stat.version == 1), "{r:?}");
    ensure!(r[3] == zk::MultiWriteResult::Check, "{r:?}");

    let mut w = c.new_multi_writer();
    t!(w.add_create(&format!("{root}/c"), b"", &PERSISTENT));
    t!(w.add_check_version(&a, 99));
    t!(w.add_delete(&b, None));
    let err = w.commit().await;
    ensure!(
        err == Err(zk::MultiWriteError::OperationFailed { index: 1, source: Error::BadVersion }),
        "failed multi: {err:?}"
    );
    ensure!(t!(c.check_stat(&format!("{root}/c")).await).is_none(), "not rolled back");

    let mut rd = c.new_multi_reader();
    t!(rd.add_get_data(&a));
    t!(rd.add_get_children(root));
    t!(rd.add_get_data(&format!("{root}/missing")));
    let r = t!(rd.commit().await);
    ensure!(r.len() == 3, "{r:?}");
    ensure!(matches!(&r[0], zk::MultiReadResult::Data { data, .. } if data == b"3"), "{r:?}");
    ensure!(matches!(&r[1], zk::MultiReadResult::Children { children } if children.len() == 2), "{r:?}");
    ensure!(matches!(&r[2], zk::MultiReadResult::Error { err } if *err == Error::NoNode), "{r:?}");
    Ok(())
}

async fn acl(hosts: &str, root: &str) -> R {
    let c = connect(hosts).await?;
    let p = format!("{root}/secret");
    let id = digest_id("alice", "pw");
    let acls = [
        Acl::new(Permission::ALL, AuthId::new("digest", &id)),
        Acl::new(Permission::READ, AuthId::new("world", "anyone")),
    ];
    let opts = CreateMode::Persistent.with_acls(Acls::new(&acls));
    t!(c.create(&p, b"s", &opts).await);
    let anon = connect(hosts).await?;
    t!(anon.sync(&p).await);
    let (data, _) = t!(anon.get_data(&p).await);
    ensure!(data == b"s", "world read {data:?}");
    ensure!(anon.set_data(&p, b"x", None).await == Err(Error::NoAuth), "anonymous write allowed");
    let alice = connect(hosts).await?;
    t!(alice.auth("digest", b"alice:pw").await);
    t!(alice.set_data(&p, b"by alice", None).await);
    let (got, st) = t!(alice.get_acl(&p).await);
    ensure!(got.len() == 2 && st.aversion == 0, "acl {got:?}");
    ensure!(alice.set_acl(&p, &Acls::anyone_all(), Some(5)).await == Err(Error::BadVersion), "stale setACL");
    t!(alice.set_acl(&p, &Acls::anyone_all(), Some(0)).await);
    t!(anon.set_data(&p, b"open", None).await);
    let creator = CreateMode::Persistent.with_acls(Acls::creator_all());
    ensure!(anon.create(&format!("{root}/noauth"), b"", &creator).await == Err(Error::InvalidAcl), "creator_all without auth");
    Ok(())
}

async fn lock(hosts: &str, root: &str) -> R {
    let a = connect(hosts).await?;
    let b = connect(hosts).await?;
    let dir = format!("{root}/lock");
    t!(a.create(&dir, b"", &PERSISTENT).await);
    let opts = zk::LockOptions::new(Acls::anyone_all());
    let held = t!(a.lock(t!(zk::LockPrefix::new_curator(&dir, "lock-")), b"a", opts.clone()).await);
    let mut second = Box::pin(b.lock(t!(zk::LockPrefix::new_curator(&dir, "lock-")), b"b", opts));
    ensure!(
        tokio::time::timeout(Duration::from_millis(500), &mut second).await.is_err(),
        "second client got a held lock"
    );
    drop(held);
    let got = within("released lock", second).await?;
    let _got = t!(got);
    Ok(())
}

async fn ttl_container(hosts: &str, root: &str) -> R {
    let c = connect(hosts).await?;
    let ttl = format!("{root}/ttl");
    let cont = format!("{root}/cont");
    let ttl_opts = CreateMode::Persistent.with_acls(Acls::anyone_all()).with_ttl(Duration::from_millis(500));
    t!(c.create(&ttl, b"", &ttl_opts).await);
    let copts = CreateMode::Container.with_acls(Acls::anyone_all());
    t!(c.create(&cont, b"", &copts).await);
    t!(c.create(&format!("{cont}/kid"), b"", &PERSISTENT).await);
    t!(c.delete(&format!("{cont}/kid"), None).await);
    within("ttl node and emptied container reaped", async {
        loop {
            if matches!(c.check_stat(&ttl).await, Ok(None)) && matches!(c.check_stat(&cont).await, Ok(None)) {
                return;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    })
    .await
}

async fn delete_tree(c: &Client, path: &str) {
    let mut stack = vec![path.to_string()];
    let mut order = Vec::new();
    while let Some(p) = stack.pop() {
        if let Ok(kids) = c.list_children(&p).await {
            for k in kids {
                stack.push(format!("{p}/{k}"));
            }
        }
        order.push(p);
    }
    for p in order.iter().rev() {
        let _ = c.delete(p, None).await;
    }
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() {
    let hosts = std::env::args().nth(1).expect("usage: rzk-matrix-rust host:port,host:port,...");
    let nonce = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_nanos() as u32;
    let root = format!("/matrix-rust-{nonce:08x}");
    let admin = match connect(&hosts).await {
        Ok(c) => c,
        Err(e) => {
            println!("RESULT connect FAIL {e}");
            std::process::exit(1);
        }
    };
    admin.create(&root, b"", &PERSISTENT).await.expect("create root");
    let mut failed = 0;
    macro_rules! feature {
        ($name:literal, $f:ident) => {
            let sub = format!("{root}/{}", $name);
            let r = match admin.create(&sub, b"", &PERSISTENT).await {
                Ok(_) => match tokio::time::timeout(Duration::from_secs(90), $f(&hosts, &sub)).await {
                    Ok(r) => r,
                    Err(_) => Err("feature timed out after 90 s".to_string()),
                },
                Err(e) => Err(format!("create {sub}: {e}")),
            };
            match r {
                Ok(()) => println!("RESULT {} PASS", $name),
                Err(e) => {
                    failed += 1;
                    println!("RESULT {} FAIL {}", $name, e.replace('\n', " "));
                }
            }
        };
    }
    feature!("crud", crud);
    feature!("watches", watches);
    feature!("persistent_recursive_watch", persistent_recursive_watch);
    feature!("multi", multi);
    feature!("acl", acl);
    feature!("lock", lock);
    feature!("ttl_container", ttl_container);
    delete_tree(&admin, &root).await;
    std::process::exit(if failed > 0 { 1 } else { 0 });
}
