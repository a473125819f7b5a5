//! Behaviour of the replicated state machine against Apache ZooKeeper 3.8/3.9
//! (PrepRequestProcessor + DataTree + DataNode.copyStat + ContainerManager + auth providers).
//!
//! Every expectation here was derived from the ZooKeeper sources (release-3.9.4, cross-checked
//! against 3.8.x where they differ); comments name the ZooKeeper code that makes it so.

use rzk_proto::consts::{create_mode as cm, event_type as ev, op, perms};
use rzk_proto::ErrorCode as E;
use rzk_tree::tree::{CONTAINER_OWNER, TTL_MASK, TTL_MAX};
use rzk_tree::{
    acl, Acl, CmdResult, Command, DataTree, Entry, Id, OpResult, SessionInfo, Stat, WatchEvent,
    WriteOp,
};
use std::collections::{BTreeMap, BTreeSet};

// ---- helpers -----------------------------------------------------------------------------------

fn a(perms: i32, scheme: &str, id: &str) -> Acl {
    Acl {
        perms,
        id: Id::new(scheme, id),
    }
}
fn world(perms: i32) -> Vec<Acl> {
    vec![a(perms, "world", "anyone")]
}
fn digest(user_password: &str) -> Id {
    Id::new("digest", &acl::digest_id(user_password))
}
fn digest_acl(perms: i32, user_password: &str) -> Acl {
    Acl {
        perms,
        id: digest(user_password),
    }
}
fn sup() -> Id {
    Id::new("super", "")
}
fn ip(addr: &str) -> Id {
    Id::new("ip", addr)
}

/// The opcode a well-behaved client sends for `flags` (ZooKeeper.create / Op.Create).
fn opcode(flags: i32) -> i32 {
    match flags {
        cm::CONTAINER => op::CREATE_CONTAINER,
        cm::PERSISTENT_WITH_TTL | cm::PERSISTENT_SEQUENTIAL_WITH_TTL => op::CREATE_TTL,
        _ => op::CREATE2,
    }
}

fn create_full(path: &str, data: Option<&[u8]>, acl: Vec<Acl>, flags: i32, ttl: i64) -> WriteOp {
    WriteOp::Create {
        path: path.into(),
        data: data.map(<[u8]>::to_vec),
        acl,
        flags,
        ttl,
        op: opcode(flags),
    }
}
fn create(path: &str, flags: i32) -> WriteOp {
    create_full(path, Some(b""), Acl::world_all(), flags, -1)
}
fn create_acl(path: &str, acl: Vec<Acl>) -> WriteOp {
    create_full(path, Some(b""), acl, cm::PERSISTENT, -1)
}
fn create_ttl(path: &str, flags: i32, ttl: i64) -> WriteOp {
    create_full(path, Some(b""), Acl::world_all(), flags, ttl)
}
fn delete(path: &str, version: i32) -> WriteOp {
    WriteOp::Delete {
        path: path.into(),
        version,
    }
}
fn set_data(path: &str, data: &[u8], version: i32) -> WriteOp {
    WriteOp::SetData {
        path: path.into(),
        data: Some(data.to_vec()),
        version,
    }
}
fn set_acl(path: &str, acl: Vec<Acl>, version: i32) -> WriteOp {
    WriteOp::SetAcl {
        path: path.into(),
        acl,
        version,
    }
}
fn check(path: &str, version: i32) -> WriteOp {
    WriteOp::Check {
        path: path.into(),
        version,
    }
}

fn evt(path: &str, typ: i32) -> WatchEvent {
    WatchEvent {
        path: path.into(),
        typ,
    }
}

/// A tree plus a zxid/clock that advance by one entry per command.
struct H {
    t: DataTree,
    zxid: i64,
    now: i64,
}

impl H {
    fn new() -> Self {
        H {
            t: DataTree::new(),
            zxid: 0,
            now: 1_700_000_000_000,
        }
    }
    fn run(&mut self, cmd: Command) -> (CmdResult, Vec<WatchEvent>) {
        let t = self.now + 10;
        self.run_at(t, cmd)
    }
    fn run_at(&mut self, time_ms: i64, cmd: Command) -> (CmdResult, Vec<WatchEvent>) {
        self.zxid += 1;
        self.now = time_ms;
        self.t.apply(self.zxid, &Entry { time_ms, cmd })
    }
    fn open(&mut self, session_id: i64) {
        let r = self.run(Command::CreateSession {
            session_id,
            timeout_ms: 30_000,
            passwd: vec![7; 16],
        });
        assert_eq!(r, (CmdResult::Session(E::Ok), vec![]));
    }
    fn we(&mut self, session_id: i64, auth: &[Id], op: WriteOp) -> (OpResult, Vec<WatchEvent>) {
        match self.run(Command::Write {
            session_id,
            auth: auth.to_vec(),
            op,
        }) {
            (CmdResult::Op(r), ev) => (r, ev),
            other => panic!("unexpected {other:?}"),
        }
    }
    fn w(&mut self, session_id: i64, auth: &[Id], op: WriteOp) -> OpResult {
        self.we(session_id, auth, op).0
    }
    /// Expects an error; checks the failed write changed nothing and triggered nothing.
    fn err(&mut self, session_id: i64, auth: &[Id], op: WriteOp) -> E {
        let before = dump(&self.t);
        let (r, ev) = self.we(session_id, auth, op.clone());
        assert!(ev.is_empty(), "{op:?} failed but produced events {ev:?}");
        assert_eq!(dump(&self.t), before, "{op:?} failed but changed the tree");
        match r {
            OpResult::Error(e) => e,
            other => panic!("{op:?}: expected an error, got {other:?}"),
        }
    }
    fn mk(&mut self, path: &str) -> Stat {
        self.mk_as(0, path, cm::PERSISTENT)
    }
    fn mk_as(&mut self, session: i64, path: &str, flags: i32) -> Stat {
        match self.w(session, &[], create(path, flags)) {
            OpResult::Created { stat, .. } => stat,
            other => panic!("create {path}: {other:?}"),
        }
    }
    fn seq(&mut self, session: i64, path: &str, flags: i32) -> String {
        match self.w(session, &[], create(path, flags)) {
            OpResult::Created { path, .. } => path,
            other => panic!("create {path}: {other:?}"),
        }
    }
    fn multi(
        &mut self,
        session_id: i64,
        auth: &[Id],
        ops: Vec<WriteOp>,
    ) -> (Vec<OpResult>, Vec<WatchEvent>) {
        match self.run(Command::Multi {
            session_id,
            auth: auth.to_vec(),
            ops,
        }) {
            (CmdResult::Multi(r), ev) => (r, ev),
            other => panic!("unexpected {other:?}"),
        }
    }
    fn stat(&self, p: &str) -> Stat {
        self.t.exists(p).unwrap_or_else(|| panic!("{p} missing"))
    }
}

type NodeDump = (Option<Vec<u8>>, Vec<Acl>, Stat, Stat, Vec<String>);

/// Everything observable about a tree (but last_zxid), in canonical order.
#[derive(Debug, PartialEq)]
struct Dump {
    nodes: BTreeMap<String, NodeDump>,
    sessions: Vec<(i64, SessionInfo)>,
    ephemerals: BTreeMap<i64, BTreeSet<String>>,
    node_count: usize,
    ephemeral_count: usize,
    size: u64,
    reap_far_future: Vec<(String, i64)>,
}

fn child_path(parent: &str, name: &str) -> String {
    if parent == "/" {
        format!("/{name}")
    } else {
        format!("{parent}/{name}")
    }
}

fn dump(t: &DataTree) -> Dump {
    let mut nodes = BTreeMap::new();
    let mut stack = vec!["/".to_string()];
    while let Some(p) = stack.pop() {
        let n = t
            .node(&p)
            .unwrap_or_else(|| panic!("child {p} listed but missing"));
        let children: Vec<String> = n.children.iter().cloned().collect();
        for c in &children {
            stack.push(child_path(&p, c));
        }
        nodes.insert(
            p.clone(),
            (
                n.data.clone(),
                n.acl.as_ref().clone(),
                n.stat,
                t.exists(&p).unwrap(),
                children,
            ),
        );
    }
    Dump {
        nodes,
        sessions: t.sessions().iter().map(|(k, v)| (*k, v.clone())).collect(),
        ephemerals: t
            .ephemerals_by_session()
            .iter()
            .map(|(k, v)| (*k, v.clone()))
            .collect(),
        node_count: t.node_count(),
        ephemeral_count: t.ephemeral_count(),
        size: t.approximate_data_size(),
        reap_far_future: t.reap_candidates(1 << 60),
    }
}

/// Structural invariants that must hold after every command.
fn check_invariants(t: &DataTree) {
    let d = dump(t);
    assert_eq!(
        d.node_count,
        d.nodes.len(),
        "nodes unreachable from / exist"
    );
    let mut eph: BTreeMap<i64, BTreeSet<String>> = BTreeMap::new();
    let mut reap = Vec::new();
    for (p, (data, acl, raw, client, children)) in &d.nodes {
        assert_eq!(client.num_children as usize, children.len(), "{p}");
        assert_eq!(
            client.data_length as usize,
            data.as_ref().map_or(0, Vec::len),
            "{p}"
        );
        assert_eq!(
            client.cversion,
            raw.cversion * 2 - children.len() as i32,
            "{p}"
        );
        assert!(!acl.is_empty(), "{p} has an empty ACL");
        let owner = raw.ephemeral_owner;
        if owner == CONTAINER_OWNER {
            assert_eq!(client.ephemeral_owner, 0);
            if children.is_empty() && raw.cversion > 0 {
                reap.push((0, p.clone(), raw.czxid));
            }
        } else if owner != 0 && owner & TTL_MASK == TTL_MASK {
            assert_eq!(client.ephemeral_owner, 0);
            if children.is_empty() {
                reap.push((1, p.clone(), raw.czxid));
            }
        } else if owner != 0 {
            assert_eq!(client.ephemeral_owner, owner);
            assert!(children.is_empty(), "ephemeral {p} has children");
            eph.entry(owner).or_default().insert(p.clone());
        }
    }
    assert_eq!(d.ephemerals, eph, "ephemeral index out of sync");
    reap.sort();
    let expect: Vec<(String, i64)> = reap.into_iter().map(|(_, p, z)| (p, z)).collect();
    assert_eq!(d.reap_far_future, expect, "container/TTL index out of sync");
}

// ---- system nodes ------------------------------------------------------------------------------

#[test]
fn system_nodes_exist_with_zero_stats_and_are_protected() {
    let mut h = H::new();
    for (p, children, acl) in [
        ("/", vec!["zookeeper"], Acl::world_all()),
        ("/zookeeper", vec!["config", "quota"], Acl::world_all()),
        ("/zookeeper/quota", vec![], Acl::world_all()),
        ("/zookeeper/config", vec![], world(perms::READ)),
    ] {
        let s = h.stat(p);
        assert_eq!(
            (s.czxid, s.mzxid, s.pzxid, s.ctime, s.mtime),
            (0, 0, 0, 0, 0),
            "{p}"
        );
        assert_eq!(
            (s.version, s.aversion, s.ephemeral_owner, s.data_length),
            (0, 0, 0, 0),
            "{p}"
        );
        assert_eq!(s.num_children as usize, children.len(), "{p}");
        // Persisted cversion is 0; DataNode.copyStat reports 2*0 - numChildren, so a fresh
        // ZooKeeper shows cversion -1 for / and -2 for /zookeeper.
        assert_eq!(s.cversion, -(children.len() as i32), "{p}");
        let (got, _) = h.t.get_children(p, &[]).unwrap();
        assert_eq!(got, children, "{p}");
        assert_eq!(h.t.get_acl(p, &[]).unwrap().0, acl, "{p}");
        assert_eq!(h.t.get_data(p, &[]).unwrap().0, Some(vec![]), "{p}");
    }
    assert_eq!(h.t.node_count(), 4);
    // getParentPathAndValidate: special paths are BadArguments for anyone, whatever the version.
    for p in ["/", "/zookeeper", "/zookeeper/quota", "/zookeeper/config"] {
        for v in [-1, 0, 5] {
            assert_eq!(h.err(0, &[sup()], delete(p, v)), E::BadArguments, "{p}");
        }
    }
    // Creating them again is NodeExists; the config node is world-readable only.
    assert_eq!(h.err(0, &[], create("/", cm::PERSISTENT)), E::NodeExists);
    assert_eq!(
        h.err(0, &[], create("/zookeeper", cm::PERSISTENT)),
        E::NodeExists
    );
    assert_eq!(
        h.err(0, &[], set_data("/zookeeper/config", b"x", -1)),
        E::NoAuth
    );
    assert_eq!(
        h.err(0, &[], create("/zookeeper/config/x", cm::PERSISTENT)),
        E::NoAuth
    );
    // A non-special child of /zookeeper is an ordinary node.
    h.mk("/zookeeper/mine");
    assert_eq!(
        h.w(0, &[], delete("/zookeeper/mine", -1)),
        OpResult::Deleted
    );
    check_invariants(&h.t);
}

#[test]
fn set_config_writes_config_node_with_version_minus_one() {
    let mut h = H::new();
    let (r, ev) = h.run(Command::SetConfig {
        data: b"server.1=a:1:2;3\nversion=100000000".to_vec(),
    });
    assert_eq!(r, CmdResult::Done);
    assert_eq!(ev, vec![evt("/zookeeper/config", ev::NODE_DATA_CHANGED)]);
    let z = h.zxid;
    let (data, s) = h.t.get_data("/zookeeper/config", &[]).unwrap();
    assert_eq!(data.unwrap(), b"server.1=a:1:2;3\nversion=100000000");
    // Reconfig's SetDataTxn and ZKDatabase.initConfigInZKDatabase both pass version -1.
    assert_eq!((s.version, s.mzxid, s.mtime, s.czxid), (-1, z, h.now, 0));
    h.run(Command::SetConfig {
        data: b"v2".to_vec(),
    });
    assert_eq!(h.stat("/zookeeper/config").version, -1);
    // Super can still write it through setData like any node (version check against -1).
    assert!(matches!(
        h.w(0, &[sup()], set_data("/zookeeper/config", b"x", -1)),
        OpResult::SetData { .. }
    ));
    assert_eq!(h.stat("/zookeeper/config").version, 0);
}

// ---- stat evolution ----------------------------------------------------------------------------

#[test]
fn stat_fields_evolve_like_zookeeper() {
    let mut h = H::new();
    let created = match h.w(
        0,
        &[],
        create_full("/a", Some(b"hello"), Acl::world_all(), cm::PERSISTENT, -1),
    ) {
        OpResult::Created { path, stat } => {
            assert_eq!(path, "/a");
            stat
        }
        other => panic!("{other:?}"),
    };
    let (z1, t1) = (h.zxid, h.now);
    let s = h.stat("/a");
    assert_eq!(created, s, "create2 returns the node's stat");
    assert_eq!(
        (s.czxid, s.mzxid, s.pzxid, s.ctime, s.mtime),
        (z1, z1, z1, t1, t1)
    );
    assert_eq!(
        (
            s.version,
            s.cversion,
            s.aversion,
            s.ephemeral_owner,
            s.data_length,
            s.num_children
        ),
        (0, 0, 0, 0, 5, 0)
    );
    // Root: one more create (persisted cversion 1, client 2*1 - 2 children = 0), pzxid moves,
    // mzxid/mtime do not.
    let r = h.stat("/");
    assert_eq!(
        (r.cversion, r.num_children, r.pzxid, r.mzxid, r.mtime),
        (0, 2, z1, 0, 0)
    );

    h.mk("/a/b");
    let (z2, t2) = (h.zxid, h.now);
    let s = h.stat("/a");
    assert_eq!(
        (s.cversion, s.num_children, s.pzxid, s.mzxid, s.version),
        (1, 1, z2, z1, 0)
    );

    let set = h.w(0, &[], set_data("/a/b", b"xy", -1));
    let (z3, t3) = (h.zxid, h.now);
    let b = h.stat("/a/b");
    assert_eq!(set, OpResult::SetData { stat: b });
    assert_eq!(
        (
            b.czxid,
            b.ctime,
            b.mzxid,
            b.mtime,
            b.pzxid,
            b.version,
            b.data_length
        ),
        (z2, t2, z3, t3, z2, 1, 2)
    );
    assert_eq!(
        h.stat("/a").pzxid,
        z2,
        "setData on a child does not touch the parent"
    );
    assert_eq!(h.stat("/a").mzxid, z1);

    assert!(matches!(
        h.w(0, &[], set_data("/a/b", b"", 1)),
        OpResult::SetData { .. }
    ));
    let b = h.stat("/a/b");
    assert_eq!((b.version, b.data_length, b.mzxid), (2, 0, h.zxid));

    // setACL moves aversion only.
    let r = h.w(0, &[], set_acl("/a/b", world(perms::ALL), 0));
    let after = h.stat("/a/b");
    assert_eq!(r, OpResult::SetAcl { stat: after });
    assert_eq!(after, Stat { aversion: 1, ..b });

    h.mk("/a/c");
    let z6 = h.zxid;
    let s = h.stat("/a");
    assert_eq!((s.cversion, s.num_children, s.pzxid), (2, 2, z6));

    // Deletes: persisted cversion stays (it numbers sequential children); clients see +1 per delete.
    assert_eq!(h.w(0, &[], delete("/a/b", 2)), OpResult::Deleted);
    let z7 = h.zxid;
    let s = h.stat("/a");
    assert_eq!(
        (s.cversion, s.num_children, s.pzxid, s.mzxid),
        (3, 1, z7, z1)
    );
    assert_eq!(h.t.node("/a").unwrap().stat.cversion, 2);
    h.w(0, &[], delete("/a/c", -1));
    let s = h.stat("/a");
    assert_eq!((s.cversion, s.num_children, s.pzxid), (4, 0, h.zxid));
    // None data: dataLength 0, getData returns None.
    h.w(
        0,
        &[],
        WriteOp::SetData {
            path: "/a".into(),
            data: None,
            version: 0,
        },
    );
    assert_eq!(h.t.get_data("/a", &[]).unwrap(), (None, h.stat("/a")));
    assert_eq!(h.stat("/a").data_length, 0);
    check_invariants(&h.t);
}

// ---- sequential naming -------------------------------------------------------------------------

#[test]
fn sequential_names_use_parent_cversion() {
    let mut h = H::new();
    h.open(0x77);
    h.mk("/q");
    assert_eq!(
        h.seq(0, "/q/n-", cm::PERSISTENT_SEQUENTIAL),
        "/q/n-0000000000"
    );
    assert_eq!(
        h.seq(0, "/q/n-", cm::PERSISTENT_SEQUENTIAL),
        "/q/n-0000000001"
    );
    // Ephemeral and persistent sequential share the parent's counter, and so do plain creates.
    assert_eq!(
        h.seq(0x77, "/q/n-", cm::EPHEMERAL_SEQUENTIAL),
        "/q/n-0000000002"
    );
    h.mk("/q/plain");
    assert_eq!(
        h.seq(0, "/q/other-", cm::PERSISTENT_SEQUENTIAL),
        "/q/other-0000000004"
    );
    // Deletes do not move the counter back (nor forward): the next name continues.
    h.w(0, &[], delete("/q/n-0000000000", -1));
    h.w(0, &[], delete("/q/n-0000000001", -1));
    h.w(0, &[], delete("/q/plain", -1));
    assert_eq!(
        h.seq(0, "/q/n-", cm::PERSISTENT_SEQUENTIAL),
        "/q/n-0000000005"
    );
    let s = h.stat("/q");
    // 6 creates, 3 deletes: client cversion 9, 3 children.
    assert_eq!((s.cversion, s.num_children), (9, 3));
    // TTL and container sequential flavours too.
    match h.w(
        0,
        &[],
        create_ttl("/q/t-", cm::PERSISTENT_SEQUENTIAL_WITH_TTL, 5000),
    ) {
        OpResult::Created { path, .. } => assert_eq!(path, "/q/t-0000000006"),
        other => panic!("{other:?}"),
    }
    // An empty name suffix: "/q/" + counter is a valid path.
    assert_eq!(h.seq(0, "/q/", cm::PERSISTENT_SEQUENTIAL), "/q/0000000007");
    // At the root the counter is the root's.
    let root_creates = h.t.node("/").unwrap().stat.cversion;
    assert_eq!(
        h.seq(0, "/s", cm::PERSISTENT_SEQUENTIAL),
        format!("/s{root_creates:010}")
    );
    check_invariants(&h.t);
}

#[test]
fn sequential_collision_is_node_exists_and_keeps_counter() {
    let mut h = H::new();
    h.mk("/q");
    h.mk("/q/k0000000001"); // consumes counter value 0; the next sequential name would be ...1
    assert_eq!(
        h.err(0, &[], create("/q/k", cm::PERSISTENT_SEQUENTIAL)),
        E::NodeExists
    );
    assert_eq!(
        h.t.node("/q").unwrap().stat.cversion,
        1,
        "a failed create does not consume the counter"
    );
    h.mk("/q/other");
    assert_eq!(
        h.seq(0, "/q/k", cm::PERSISTENT_SEQUENTIAL),
        "/q/k0000000002"
    );
}

#[test]
fn sequential_in_multi_and_after_failed_multi() {
    let mut h = H::new();
    h.mk("/q");
    let (r, _) = h.multi(
        0,
        &[],
        vec![
            create("/q/m-", cm::PERSISTENT_SEQUENTIAL),
            create("/q/m-", cm::PERSISTENT_SEQUENTIAL),
        ],
    );
    let names: Vec<_> = r
        .iter()
        .map(|r| match r {
            OpResult::Created { path, .. } => path.clone(),
            other => panic!("{other:?}"),
        })
        .collect();
    assert_eq!(names, ["/q/m-0000000000", "/q/m-0000000001"]);
    // A failing multi rolls the counter back (ZOOKEEPER-1624).
    let (r, _) = h.multi(
        0,
        &[],
        vec![
            create("/q/m-", cm::PERSISTENT_SEQUENTIAL),
            create("/q/m-", cm::PERSISTENT_SEQUENTIAL),
            check("/nope", -1),
        ],
    );
    assert_eq!(
        r,
        vec![
            OpResult::Error(E::Ok),
            OpResult::Error(E::Ok),
            OpResult::Error(E::NoNode)
        ]
    );
    assert_eq!(
        h.seq(0, "/q/m-", cm::PERSISTENT_SEQUENTIAL),
        "/q/m-0000000002"
    );
}

// ---- create: order of checks -------------------------------------------------------------------

#[test]
fn create_error_order() {
    let mut h = H::new();
    h.open(1);
    h.open(2);
    let alice = [digest("alice:pw")];
    // /locked: only alice may create below it. /open: anyone.
    h.w(
        0,
        &[],
        create_acl(
            "/locked",
            vec![
                digest_acl(perms::ALL, "alice:pw"),
                a(perms::READ, "world", "anyone"),
            ],
        ),
    );
    h.mk("/open");
    h.mk("/open/x");
    h.w(0, &alice, create("/locked/there", cm::PERSISTENT));
    h.mk_as(1, "/open/eph", cm::EPHEMERAL);

    let bad_acl: Vec<Acl> = vec![];
    let c = |path: &str, acl: Vec<Acl>, flags: i32, ttl: i64| WriteOp::Create {
        path: path.into(),
        data: None,
        acl,
        flags,
        ttl,
        op: opcode(flags),
    };
    // 1. CreateMode.fromFlag / validateTTL: BadArguments before anything else.
    for flags in [-1, 7, 100] {
        let op = WriteOp::Create {
            path: "/missing/x".into(),
            data: None,
            acl: vec![],
            flags,
            ttl: -1,
            op: op::CREATE,
        };
        assert_eq!(h.err(1, &[], op), E::BadArguments, "flags {flags}");
    }
    for (flags, ttl) in [
        (cm::PERSISTENT, 0),
        (cm::PERSISTENT, 1000),
        (cm::EPHEMERAL, 5),
        (cm::CONTAINER, 0),
        (cm::PERSISTENT_WITH_TTL, 0),
        (cm::PERSISTENT_WITH_TTL, -1),
        (cm::PERSISTENT_WITH_TTL, TTL_MAX + 1),
        (cm::PERSISTENT_SEQUENTIAL_WITH_TTL, -5),
    ] {
        assert_eq!(
            h.err(1, &[], c("/missing/x", bad_acl.clone(), flags, ttl)),
            E::BadArguments,
            "{flags}/{ttl}"
        );
    }
    // A TTL mode sent as a plain create carries no TTL (ZooKeeper reads ttl = -1): BadArguments.
    let op = WriteOp::Create {
        path: "/open/t".into(),
        data: None,
        acl: Acl::world_all(),
        flags: cm::PERSISTENT_WITH_TTL,
        ttl: 10,
        op: op::CREATE,
    };
    assert_eq!(h.err(1, &[], op), E::BadArguments);
    // 2. validatePathForCreate: no '/' or a NUL is BadArguments, before the ACL is looked at.
    assert_eq!(
        h.err(1, &[], c("abc", bad_acl.clone(), cm::PERSISTENT, -1)),
        E::BadArguments
    );
    assert_eq!(
        h.err(1, &[], c("/open/a\0b", bad_acl.clone(), cm::PERSISTENT, -1)),
        E::BadArguments
    );
    // 3. fixupACL: InvalidACL before the parent lookup.
    assert_eq!(
        h.err(1, &[], c("/missing/x", bad_acl.clone(), cm::PERSISTENT, -1)),
        E::InvalidAcl
    );
    assert_eq!(
        h.err(
            1,
            &[],
            c(
                "/missing/x",
                vec![a(perms::ALL, "auth", "")],
                cm::PERSISTENT,
                -1
            )
        ),
        E::InvalidAcl
    );
    // 4. Parent missing: NoNode, even if the final path would also be invalid.
    assert_eq!(
        h.err(
            1,
            &[],
            c("/missing/x", Acl::world_all(), cm::PERSISTENT, -1)
        ),
        E::NoNode
    );
    assert_eq!(
        h.err(
            1,
            &[],
            c("/missing/x/", Acl::world_all(), cm::PERSISTENT, -1)
        ),
        E::NoNode
    );
    assert_eq!(
        h.err(1, &[], c("/open//x", Acl::world_all(), cm::PERSISTENT, -1)),
        E::NoNode
    );
    // 5. CREATE permission on the parent: NoAuth before path validation and NodeExists.
    assert_eq!(
        h.err(1, &[], c("/locked/.", Acl::world_all(), cm::PERSISTENT, -1)),
        E::NoAuth
    );
    assert_eq!(
        h.err(
            1,
            &[],
            c("/locked/there", Acl::world_all(), cm::PERSISTENT, -1)
        ),
        E::NoAuth
    );
    assert_eq!(
        h.err(
            1,
            &[digest("bob:pw")],
            c("/locked/y", Acl::world_all(), cm::PERSISTENT, -1)
        ),
        E::NoAuth
    );
    // 6. Final path validation (after the sequential suffix): BadArguments.
    assert_eq!(
        h.err(
            1,
            &alice,
            c("/locked/.", Acl::world_all(), cm::PERSISTENT, -1)
        ),
        E::BadArguments
    );
    for p in [
        "/open/x/",
        "/open/.",
        "/open/x/..",
        "/open/\u{1}",
        "/open/\u{fff5}",
        "/open/\u{1F600}",
        "/open/eph/",
    ] {
        assert_eq!(
            h.err(1, &[], c(p, Acl::world_all(), cm::PERSISTENT, -1)),
            E::BadArguments,
            "{p:?}"
        );
    }
    // "." followed by the sequence number is a valid name.
    assert!(matches!(
        h.w(
            1,
            &[],
            c("/open/.", Acl::world_all(), cm::PERSISTENT_SEQUENTIAL, -1)
        ),
        OpResult::Created { .. }
    ));
    // 7. NodeExists (super bypasses the ACL and then hits it).
    assert_eq!(
        h.err(
            1,
            &[sup()],
            c("/locked/there", Acl::world_all(), cm::PERSISTENT, -1)
        ),
        E::NodeExists
    );
    assert_eq!(
        h.err(
            1,
            &alice,
            c("/locked/there", Acl::world_all(), cm::EPHEMERAL, -1)
        ),
        E::NodeExists
    );
    assert_eq!(
        h.err(1, &[], c("/open/eph", Acl::world_all(), cm::PERSISTENT, -1)),
        E::NodeExists
    );
    // 8. NoChildrenForEphemerals, for every kind of child.
    for flags in [
        cm::PERSISTENT,
        cm::EPHEMERAL,
        cm::PERSISTENT_SEQUENTIAL,
        cm::EPHEMERAL_SEQUENTIAL,
        cm::CONTAINER,
    ] {
        assert_eq!(
            h.err(2, &[], c("/open/eph/c", Acl::world_all(), flags, -1)),
            E::NoChildrenForEphemerals,
            "{flags}"
        );
    }
    assert_eq!(
        h.err(
            2,
            &[],
            c("/open/eph/c", Acl::world_all(), cm::PERSISTENT_WITH_TTL, 10)
        ),
        E::NoChildrenForEphemerals
    );
    check_invariants(&h.t);
}

#[test]
fn create_rzk_session_rules() {
    let mut h = H::new();
    // Session 0 is the server itself (no session): it may not own ephemerals.
    assert_eq!(h.err(0, &[], create("/e", cm::EPHEMERAL)), E::BadArguments);
    assert_eq!(
        h.err(0, &[], create("/e", cm::EPHEMERAL_SEQUENTIAL)),
        E::BadArguments
    );
    // A non-TTL mode sent with the createTTL opcode is refused (ZooKeeper would log a CreateTTLTxn
    // for a non-TTL mode and then fail to apply it).
    let op = WriteOp::Create {
        path: "/p".into(),
        data: None,
        acl: Acl::world_all(),
        flags: cm::PERSISTENT,
        ttl: -1,
        op: op::CREATE_TTL,
    };
    assert_eq!(h.err(0, &[], op), E::BadArguments);
    // Boundaries of the TTL range are accepted.
    for (p, ttl) in [("/t1", 1), ("/t2", TTL_MAX)] {
        assert!(matches!(
            h.w(0, &[], create_ttl(p, cm::PERSISTENT_WITH_TTL, ttl)),
            OpResult::Created { .. }
        ));
        assert_eq!(h.t.node(p).unwrap().ttl(), Some(ttl));
    }
}

// ---- delete / setData / setACL / check: order of checks ----------------------------------------

#[test]
fn delete_error_order() {
    let mut h = H::new();
    h.open(1);
    // /nodel: nobody but alice may delete children.
    h.w(
        0,
        &[],
        create_acl(
            "/nodel",
            vec![
                a(perms::ALL & !perms::DELETE, "world", "anyone"),
                digest_acl(perms::DELETE, "alice:pw"),
            ],
        ),
    );
    h.mk("/nodel/child");
    h.mk("/p");
    h.mk("/p/full");
    h.mk("/p/full/x");
    h.w(0, &[], set_data("/p/full", b"1", -1));

    assert_eq!(h.err(1, &[], delete("abc", -1)), E::BadArguments);
    assert_eq!(h.err(1, &[], delete("/p/a\0", -1)), E::BadArguments);
    assert_eq!(h.err(1, &[], delete("/missing/x", -1)), E::NoNode);
    // DELETE on the parent is checked before the node's existence and version.
    assert_eq!(h.err(1, &[], delete("/nodel/nothere", -1)), E::NoAuth);
    assert_eq!(h.err(1, &[], delete("/nodel/child", 7)), E::NoAuth);
    assert_eq!(h.err(1, &[], delete("/p/nothere", 3)), E::NoNode);
    // Delete paths are not validated beyond that: a trailing slash simply names no node.
    assert_eq!(h.err(1, &[], delete("/p/", -1)), E::NoNode);
    // BadVersion before NotEmpty.
    assert_eq!(h.err(1, &[], delete("/p/full", 0)), E::BadVersion);
    assert_eq!(h.err(1, &[], delete("/p/full", 1)), E::NotEmpty);
    assert_eq!(h.err(1, &[], delete("/p/full", -1)), E::NotEmpty);
    assert_eq!(h.w(1, &[], delete("/p/full/x", 0)), OpResult::Deleted);
    assert_eq!(h.w(1, &[], delete("/p/full", 1)), OpResult::Deleted);
    // The node's own ACL does not matter, only the parent's DELETE.
    h.w(0, &[], create_acl("/p/ro", world(perms::READ)));
    assert_eq!(h.w(1, &[], delete("/p/ro", -1)), OpResult::Deleted);
    assert_eq!(
        h.w(1, &[digest("alice:pw")], delete("/nodel/child", -1)),
        OpResult::Deleted
    );
    // Ephemeral nodes of other sessions can be deleted by anyone with DELETE on the parent.
    h.open(2);
    h.mk_as(2, "/p/e", cm::EPHEMERAL);
    assert_eq!(h.w(1, &[], delete("/p/e", -1)), OpResult::Deleted);
    assert!(h.t.ephemerals_of(2, "/").is_empty());
    check_invariants(&h.t);
}

#[test]
fn set_data_error_order() {
    let mut h = H::new();
    h.w(0, &[], create_acl("/ro", world(perms::READ)));
    h.mk("/rw");
    for p in ["", "x", "/rw/", "/a//b", "/.", "/rw/.."] {
        assert_eq!(
            h.err(0, &[], set_data(p, b"", -1)),
            E::BadArguments,
            "{p:?}"
        );
    }
    assert_eq!(h.err(0, &[], set_data("/nope", b"", -1)), E::NoNode);
    assert_eq!(
        h.err(0, &[], set_data("/ro", b"", 42)),
        E::NoAuth,
        "WRITE before version"
    );
    assert_eq!(h.err(0, &[], set_data("/rw", b"", 1)), E::BadVersion);
    assert!(matches!(
        h.w(0, &[], set_data("/rw", b"a", 0)),
        OpResult::SetData { .. }
    ));
    assert!(matches!(
        h.w(0, &[], set_data("/rw", b"b", -1)),
        OpResult::SetData { .. }
    ));
    assert_eq!(h.stat("/rw").version, 2);
    assert!(matches!(
        h.w(0, &[sup()], set_data("/ro", b"b", 0)),
        OpResult::SetData { .. }
    ));
    // Root data can be set.
    assert!(matches!(
        h.w(0, &[], set_data("/", b"root", -1)),
        OpResult::SetData { .. }
    ));
    assert_eq!(h.t.get_data("/", &[]).unwrap().0.unwrap(), b"root");
}

#[test]
fn set_acl_error_order() {
    let mut h = H::new();
    h.w(0, &[], create_acl("/na", world(perms::ALL & !perms::ADMIN)));
    h.mk("/n");
    h.w(0, &[], set_data("/n", b"x", -1)); // version 1, aversion 0
                                           // validatePath → fixupACL → NoNode → ADMIN → aversion.
    assert_eq!(h.err(0, &[], set_acl("bad", vec![], -1)), E::BadArguments);
    assert_eq!(h.err(0, &[], set_acl("/nope", vec![], -1)), E::InvalidAcl);
    assert_eq!(
        h.err(0, &[], set_acl("/nope", world(perms::ALL), -1)),
        E::NoNode
    );
    assert_eq!(
        h.err(0, &[], set_acl("/na", world(perms::ALL), 9)),
        E::NoAuth
    );
    assert_eq!(
        h.err(0, &[], set_acl("/n", world(perms::ALL), 1)),
        E::BadVersion,
        "compares aversion, not version"
    );
    let (r, ev) = h.we(0, &[], set_acl("/n", world(perms::READ), 0));
    assert!(ev.is_empty(), "setACL triggers no watches");
    assert!(matches!(r, OpResult::SetAcl { stat } if stat.aversion == 1 && stat.version == 1));
    assert_eq!(h.t.get_acl("/n", &[]).unwrap().0, world(perms::READ));
    // READ-only now: setACL needs ADMIN.
    assert_eq!(
        h.err(0, &[], set_acl("/n", world(perms::ALL), -1)),
        E::NoAuth
    );
    assert!(matches!(
        h.w(0, &[sup()], set_acl("/n", world(perms::ALL), 1)),
        OpResult::SetAcl { .. }
    ));
}

#[test]
fn check_error_order() {
    let mut h = H::new();
    h.w(
        0,
        &[],
        create_acl("/secret", vec![digest_acl(perms::ALL, "alice:pw")]),
    );
    h.mk("/c");
    h.w(0, &[], set_data("/c", b"", -1));
    assert_eq!(h.err(0, &[], check("/c/", -1)), E::BadArguments);
    assert_eq!(h.err(0, &[], check("/nope", -1)), E::NoNode);
    assert_eq!(
        h.err(0, &[], check("/secret", 5)),
        E::NoAuth,
        "READ before version"
    );
    assert_eq!(h.err(0, &[], check("/c", 0)), E::BadVersion);
    let before = dump(&h.t);
    assert_eq!(h.we(0, &[], check("/c", 1)), (OpResult::Checked, vec![]));
    assert_eq!(
        h.we(0, &[digest("alice:pw")], check("/secret", -1)),
        (OpResult::Checked, vec![])
    );
    assert_eq!(dump(&h.t), before);
}

// ---- sessions and ephemerals -------------------------------------------------------------------

#[test]
fn ephemeral_owner_and_index() {
    let mut h = H::new();
    let sid = 0x0100_0000_0000_0abc_i64;
    h.open(sid);
    h.mk("/app");
    let s = h.mk_as(sid, "/app/e", cm::EPHEMERAL);
    assert_eq!(s.ephemeral_owner, sid);
    let name = h.seq(sid, "/app/s-", cm::EPHEMERAL_SEQUENTIAL);
    assert_eq!(h.stat(&name).ephemeral_owner, sid);
    h.mk_as(sid, "/top", cm::EPHEMERAL);
    // Persistent nodes created by a session are not owned by it.
    assert_eq!(h.mk_as(sid, "/app/p", cm::PERSISTENT).ephemeral_owner, 0);
    let mut all = h.t.ephemerals_of(sid, "/");
    all.sort();
    assert_eq!(
        all,
        vec!["/app/e".to_string(), name.clone(), "/top".to_string()]
    );
    assert_eq!(h.t.ephemerals_of(sid, "/app").len(), 2);
    assert_eq!(
        h.t.ephemerals_of(sid, "/app/s").len(),
        1,
        "plain string prefix, as ZooKeeper"
    );
    // FinalRequestProcessor: a prefix that trims to "" or "/" means all.
    assert_eq!(h.t.ephemerals_of(sid, "").len(), 3);
    assert_eq!(h.t.ephemerals_of(sid, " / ").len(), 3);
    assert_eq!(h.t.ephemerals_of(sid, "  ").len(), 3);
    assert!(h.t.ephemerals_of(sid, "/nothing").is_empty());
    assert!(h.t.ephemerals_of(12345, "/").is_empty());
    assert_eq!(h.t.ephemeral_count(), 3);
    check_invariants(&h.t);
}

#[test]
fn close_session_deletes_ephemerals_with_events() {
    let mut h = H::new();
    h.open(5);
    h.open(6);
    h.mk("/p");
    h.mk_as(5, "/e1", cm::EPHEMERAL);
    h.mk_as(5, "/p/e2", cm::EPHEMERAL);
    let e3 = h.seq(5, "/p/e-", cm::EPHEMERAL_SEQUENTIAL);
    h.mk_as(6, "/p/f", cm::EPHEMERAL);
    h.mk_as(5, "/p/persistent", cm::PERSISTENT);
    let p_before = h.stat("/p");

    let (r, ev) = h.run(Command::CloseSession { session_id: 5 });
    let z = h.zxid;
    assert_eq!(r, CmdResult::Session(E::Ok));
    // One NodeDeleted per ephemeral, each followed by NodeChildrenChanged of its parent.
    let mut expected = vec![
        vec![
            evt("/e1", ev::NODE_DELETED),
            evt("/", ev::NODE_CHILDREN_CHANGED),
        ],
        vec![
            evt("/p/e2", ev::NODE_DELETED),
            evt("/p", ev::NODE_CHILDREN_CHANGED),
        ],
        vec![
            evt(&e3, ev::NODE_DELETED),
            evt("/p", ev::NODE_CHILDREN_CHANGED),
        ],
    ];
    let mut got: Vec<Vec<WatchEvent>> = ev.chunks(2).map(<[WatchEvent]>::to_vec).collect();
    got.sort_by(|a, b| a[0].path.cmp(&b[0].path));
    expected.sort_by(|a, b| a[0].path.cmp(&b[0].path));
    assert_eq!(got, expected);
    for p in ["/e1", "/p/e2", e3.as_str()] {
        assert!(h.t.exists(p).is_none(), "{p}");
    }
    assert!(h.t.exists("/p/f").is_some());
    assert!(h.t.exists("/p/persistent").is_some());
    assert!(h.t.ephemerals_of(5, "/").is_empty());
    assert_eq!(h.t.ephemerals_of(6, "/"), vec!["/p/f".to_string()]);
    assert!(h.t.session(5).is_none());
    let p = h.stat("/p");
    assert_eq!(
        (p.pzxid, p.num_children, p.cversion),
        (z, 2, p_before.cversion + 2)
    );
    assert_eq!(
        h.t.node("/p").unwrap().stat.cversion,
        4,
        "4 creates under /p"
    );

    // Closing again, or an unknown session: SessionExpired, nothing happens.
    let before = dump(&h.t);
    assert_eq!(
        h.run(Command::CloseSession { session_id: 5 }),
        (CmdResult::Session(E::SessionExpired), vec![])
    );
    assert_eq!(
        h.run(Command::CloseSession { session_id: 99 }),
        (CmdResult::Session(E::SessionExpired), vec![])
    );
    assert_eq!(dump(&h.t), before);
    // A session without ephemerals closes cleanly without events.
    h.open(7);
    assert_eq!(
        h.run(Command::CloseSession { session_id: 7 }),
        (CmdResult::Session(E::Ok), vec![])
    );
    check_invariants(&h.t);
}

#[test]
fn writes_by_unknown_sessions_are_session_expired() {
    let mut h = H::new();
    h.mk("/x");
    h.open(3);
    h.run(Command::CloseSession { session_id: 3 });
    let before = dump(&h.t);
    for sid in [3, 42] {
        for op in [
            create("/y", cm::PERSISTENT),
            create("/y", cm::EPHEMERAL),
            delete("/x", -1),
            set_data("/x", b"", -1),
            set_acl("/x", world(perms::ALL), -1),
            check("/x", -1),
        ] {
            assert_eq!(
                h.we(sid, &[sup()], op),
                (OpResult::Error(E::SessionExpired), vec![])
            );
        }
        let r = h.run(Command::Multi {
            session_id: sid,
            auth: vec![],
            ops: vec![create("/y", cm::PERSISTENT)],
        });
        assert_eq!(
            r,
            (CmdResult::Op(OpResult::Error(E::SessionExpired)), vec![])
        );
    }
    assert_eq!(dump(&h.t), before);
    // Re-creating the session makes its writes valid again; session info is recorded.
    h.run(Command::CreateSession {
        session_id: 3,
        timeout_ms: 4000,
        passwd: vec![1, 2],
    });
    assert_eq!(
        h.t.session(3),
        Some(&SessionInfo {
            timeout_ms: 4000,
            passwd: vec![1, 2]
        })
    );
    h.mk_as(3, "/y", cm::EPHEMERAL);
}

// ---- containers and TTL nodes ------------------------------------------------------------------

#[test]
fn container_and_ttl_owner_encodings() {
    let mut h = H::new();
    let c = h.mk_as(0, "/c", cm::CONTAINER);
    // EphemeralType: persisted owner is Long.MIN_VALUE / 0xFF00_0000_0000_0000 | ttl, but
    // DataNode.copyStat shows clients 0 for anything but a NORMAL ephemeral.
    assert_eq!(c.ephemeral_owner, 0);
    let n = h.t.node("/c").unwrap();
    assert_eq!(n.stat.ephemeral_owner, CONTAINER_OWNER);
    assert_eq!(n.stat.ephemeral_owner, i64::MIN);
    assert!(n.is_container() && n.ttl().is_none() && n.ephemeral_session().is_none());

    let t = match h.w(0, &[], create_ttl("/t", cm::PERSISTENT_WITH_TTL, 12_345)) {
        OpResult::Created { stat, .. } => stat,
        other => panic!("{other:?}"),
    };
    assert_eq!(t.ephemeral_owner, 0);
    let n = h.t.node("/t").unwrap();
    assert_eq!(
        n.stat.ephemeral_owner,
        0xFF00_0000_0000_0000u64 as i64 | 12_345
    );
    assert_eq!(n.stat.ephemeral_owner, TTL_MASK | 12_345);
    assert_eq!(n.ttl(), Some(12_345));
    assert!(!n.is_container() && n.ephemeral_session().is_none());
    h.w(
        0,
        &[],
        create_ttl("/tmax", cm::PERSISTENT_WITH_TTL, TTL_MAX),
    );
    assert_eq!(
        h.t.node("/tmax").unwrap().stat.ephemeral_owner,
        0xFF00_00FF_FFFF_FFFFu64 as i64
    );
    assert_eq!(h.stat("/tmax").ephemeral_owner, 0);
    // Containers and TTL nodes may have children (they are not NORMAL ephemerals).
    h.mk("/c/child");
    h.mk("/t/child");
    assert_eq!(h.stat("/c").num_children, 1);
    check_invariants(&h.t);
}

#[test]
fn container_reaping() {
    let mut h = H::new();
    h.mk("/app");
    h.mk_as(0, "/app/c", cm::CONTAINER);
    let czxid = h.stat("/app/c").czxid;
    // Never had a child (cversion 0): not a candidate, and Reap is refused.
    assert!(h.t.reap_candidates(i64::MAX / 2).is_empty());
    assert_eq!(
        h.run(Command::Reap {
            path: "/app/c".into(),
            czxid
        }),
        (CmdResult::Op(OpResult::Error(E::NoNode)), vec![])
    );
    h.mk("/app/c/x");
    assert!(h.t.reap_candidates(h.now).is_empty(), "has a child");
    assert_eq!(
        h.run(Command::Reap {
            path: "/app/c".into(),
            czxid
        })
        .0,
        CmdResult::Op(OpResult::Error(E::NoNode))
    );
    h.w(0, &[], delete("/app/c/x", -1));
    assert_eq!(
        h.t.reap_candidates(h.now),
        vec![("/app/c".to_string(), czxid)]
    );
    // Wrong czxid refused, right one deletes with the delete's events.
    let before = dump(&h.t);
    assert_eq!(
        h.run(Command::Reap {
            path: "/app/c".into(),
            czxid: czxid + 1
        })
        .0,
        CmdResult::Op(OpResult::Error(E::NoNode))
    );
    assert_eq!(dump(&h.t), before);
    let (r, ev) = h.run(Command::Reap {
        path: "/app/c".into(),
        czxid,
    });
    assert_eq!(r, CmdResult::Op(OpResult::Deleted));
    assert_eq!(
        ev,
        vec![
            evt("/app/c", ev::NODE_DELETED),
            evt("/app", ev::NODE_CHILDREN_CHANGED)
        ]
    );
    assert_eq!(h.stat("/app").pzxid, h.zxid);
    assert!(h.t.reap_candidates(i64::MAX / 2).is_empty());
    // Re-created at the same path (new czxid): the old Reap must not delete it.
    h.mk_as(0, "/app/c", cm::CONTAINER);
    let czxid2 = h.stat("/app/c").czxid;
    h.mk("/app/c/y");
    h.w(0, &[], delete("/app/c/y", -1));
    assert_eq!(
        h.t.reap_candidates(h.now),
        vec![("/app/c".to_string(), czxid2)]
    );
    assert_eq!(
        h.run(Command::Reap {
            path: "/app/c".into(),
            czxid
        })
        .0,
        CmdResult::Op(OpResult::Error(E::NoNode))
    );
    assert!(h.t.exists("/app/c").is_some());
    // Re-created as a plain node: never reapable.
    h.w(0, &[], delete("/app/c", -1));
    h.mk("/app/c");
    let czxid3 = h.stat("/app/c").czxid;
    h.mk("/app/c/z");
    h.w(0, &[], delete("/app/c/z", -1));
    assert!(h.t.reap_candidates(i64::MAX / 2).is_empty());
    assert_eq!(
        h.run(Command::Reap {
            path: "/app/c".into(),
            czxid: czxid3
        })
        .0,
        CmdResult::Op(OpResult::Error(E::NoNode))
    );
    // Nor are ephemerals, or missing paths.
    h.open(9);
    h.mk_as(9, "/app/e", cm::EPHEMERAL);
    let ez = h.stat("/app/e").czxid;
    assert_eq!(
        h.run(Command::Reap {
            path: "/app/e".into(),
            czxid: ez
        })
        .0,
        CmdResult::Op(OpResult::Error(E::NoNode))
    );
    assert_eq!(
        h.run(Command::Reap {
            path: "/nope".into(),
            czxid: 1
        })
        .0,
        CmdResult::Op(OpResult::Error(E::NoNode))
    );
    check_invariants(&h.t);
}

#[test]
fn ttl_reaping() {
    let mut h = H::new();
    h.w(0, &[], create_ttl("/t", cm::PERSISTENT_WITH_TTL, 1000));
    let (czxid, mtime) = (h.stat("/t").czxid, h.stat("/t").mtime);
    // ContainerManager: elapsed = now - mtime must exceed the TTL; no cversion requirement.
    assert!(h.t.reap_candidates(mtime + 1000).is_empty());
    assert_eq!(
        h.t.reap_candidates(mtime + 1001),
        vec![("/t".to_string(), czxid)]
    );
    // Children keep it alive.
    h.mk("/t/c");
    assert!(h.t.reap_candidates(mtime + 100_000).is_empty());
    h.w(0, &[], delete("/t/c", -1));
    assert_eq!(
        h.t.reap_candidates(mtime + 1001).len(),
        1,
        "a child's create/delete does not touch mtime"
    );
    // setData refreshes mtime.
    h.w(0, &[], set_data("/t", b"x", -1));
    let mtime2 = h.stat("/t").mtime;
    assert!(mtime2 > mtime);
    assert!(h.t.reap_candidates(mtime2 + 1000).is_empty());
    assert_eq!(h.t.reap_candidates(mtime2 + 1001).len(), 1);
    // Reap decides with the entry's own time.
    let r = h.run_at(
        mtime2 + 1000,
        Command::Reap {
            path: "/t".into(),
            czxid,
        },
    );
    assert_eq!(r.0, CmdResult::Op(OpResult::Error(E::NoNode)));
    let (r, ev) = h.run_at(
        mtime2 + 1001,
        Command::Reap {
            path: "/t".into(),
            czxid,
        },
    );
    assert_eq!(r, CmdResult::Op(OpResult::Deleted));
    assert_eq!(
        ev,
        vec![
            evt("/t", ev::NODE_DELETED),
            evt("/", ev::NODE_CHILDREN_CHANGED)
        ]
    );
    // Sequential TTL nodes are reaped the same way; TTL nodes never reach cversion rules.
    match h.w(
        0,
        &[],
        create_ttl("/s-", cm::PERSISTENT_SEQUENTIAL_WITH_TTL, 1),
    ) {
        OpResult::Created { path, stat } => assert_eq!(
            h.t.reap_candidates(stat.mtime + 2),
            vec![(path, stat.czxid)]
        ),
        other => panic!("{other:?}"),
    }
    check_invariants(&h.t);
}

// ---- multi -------------------------------------------------------------------------------------

fn populated() -> H {
    let mut h = H::new();
    h.open(1);
    h.open(2);
    h.mk("/m");
    h.mk("/m/keep");
    h.mk("/x");
    h.w(0, &[], create_acl("/y", world(perms::ALL)));
    h.mk_as(1, "/m/eph", cm::EPHEMERAL);
    h.mk_as(0, "/m/box", cm::CONTAINER);
    h.mk("/m/box/item");
    h.w(0, &[], create_ttl("/m/ttl", cm::PERSISTENT_WITH_TTL, 50));
    h
}

#[test]
fn failed_multi_rolls_back_everything() {
    let mut h = populated();
    let before = dump(&h.t);
    let m_before = h.t.node("/m").unwrap().stat;
    let ops = vec![
        create("/m/a", cm::PERSISTENT),
        create("/m/a/b", cm::PERSISTENT),
        create("/m/s-", cm::PERSISTENT_SEQUENTIAL),
        create("/m/e", cm::EPHEMERAL),
        create("/m/c", cm::CONTAINER),
        create_ttl("/m/t", cm::PERSISTENT_WITH_TTL, 5),
        set_data("/m", b"changed", -1),
        delete("/m/eph", -1),
        delete("/m/box/item", -1),
        delete("/m/ttl", -1),
        set_acl("/y", world(perms::READ), -1),
        delete("/x", -1),
        create("/x", cm::PERSISTENT),
        check("/m", 1),
        check("/nope", -1),
        create("/never", cm::PERSISTENT),
        delete("/m/keep", -1),
    ];
    let n = ops.len();
    let (r, ev) = h.multi(1, &[], ops);
    let mut expected = vec![OpResult::Error(E::Ok); 14];
    expected.push(OpResult::Error(E::NoNode));
    expected.extend(vec![OpResult::Error(E::RuntimeInconsistency); n - 15]);
    assert_eq!(r, expected);
    assert!(ev.is_empty(), "a failed multi triggers no watches");
    assert_eq!(
        dump(&h.t),
        before,
        "tree, sessions, ephemeral and container/TTL indexes restored"
    );
    let m_after = h.t.node("/m").unwrap();
    assert_eq!(
        (m_after.stat.cversion, m_after.stat.pzxid),
        (m_before.cversion, m_before.pzxid)
    );
    assert_eq!(h.t.ephemerals_of(1, "/"), vec!["/m/eph".to_string()]);
    assert_eq!(
        h.t.last_zxid(),
        h.zxid,
        "the failed multi still consumed its zxid"
    );
    check_invariants(&h.t);
}

#[test]
fn failed_multi_error_positions() {
    let mut h = populated();
    let before = dump(&h.t);
    // First op fails.
    let (r, ev) = h.multi(0, &[], vec![delete("/m", -1), create("/z", cm::PERSISTENT)]);
    assert_eq!(
        r,
        vec![
            OpResult::Error(E::NotEmpty),
            OpResult::Error(E::RuntimeInconsistency)
        ]
    );
    assert!(ev.is_empty());
    // Last op fails, for each kind of failing op.
    for (bad, code) in [
        (create("/m/keep", cm::PERSISTENT), E::NodeExists),
        (
            create("/m/eph/c", cm::PERSISTENT),
            E::NoChildrenForEphemerals,
        ),
        (create("/q", cm::EPHEMERAL), E::BadArguments), // session 0 cannot own ephemerals
        (delete("/m/keep", 3), E::BadVersion),
        (set_data("/nope", b"", -1), E::NoNode),
        (set_acl("/y", vec![], -1), E::InvalidAcl),
        (check("/m", 3), E::BadVersion),
        (create("/zookeeper/config/x", cm::PERSISTENT), E::NoAuth),
    ] {
        let (r, ev) = h.multi(
            0,
            &[],
            vec![
                create("/z", cm::PERSISTENT),
                set_data("/z", b"1", 0),
                bad.clone(),
            ],
        );
        assert_eq!(
            r,
            vec![
                OpResult::Error(E::Ok),
                OpResult::Error(E::Ok),
                OpResult::Error(code)
            ],
            "{bad:?}"
        );
        assert!(ev.is_empty());
    }
    assert_eq!(dump(&h.t), before);
    // Ops see the effects of earlier ops of the same multi: deleting what an earlier op created,
    // failing on a version an earlier op bumped.
    let (r, _) = h.multi(
        0,
        &[],
        vec![
            create("/z", cm::PERSISTENT),
            set_data("/z", b"1", 0),
            set_data("/z", b"2", 0),
        ],
    );
    assert_eq!(r[2], OpResult::Error(E::BadVersion));
    assert_eq!(dump(&h.t), before);
    // Empty multi: no results, no change.
    assert_eq!(h.multi(0, &[], vec![]), (vec![], vec![]));
    assert_eq!(dump(&h.t), before);
}

#[test]
fn successful_multi_results_and_events_in_order() {
    let mut h = populated();
    let (r, ev) = h.multi(
        1,
        &[],
        vec![
            create("/m/a", cm::PERSISTENT),
            create("/m/a/b", cm::EPHEMERAL),
            set_data("/m/a", b"d", 0),
            check("/m/a", 1),
            set_acl("/m/a", world(perms::ALL), 0),
            delete("/m/keep", -1),
            delete("/m/a/b", -1),
            create("/m/a/b", cm::PERSISTENT),
        ],
    );
    let z = h.zxid;
    assert_eq!(r.len(), 8);
    match &r[0] {
        OpResult::Created { path, stat } => {
            assert_eq!(path, "/m/a");
            assert_eq!(
                (stat.czxid, stat.version, stat.cversion),
                (z, 0, 0),
                "stat as of that op"
            );
        }
        other => panic!("{other:?}"),
    }
    assert!(
        matches!(&r[1], OpResult::Created { path, stat } if path == "/m/a/b" && stat.ephemeral_owner == 1)
    );
    assert!(
        matches!(&r[2], OpResult::SetData { stat } if stat.version == 1 && stat.num_children == 1)
    );
    assert_eq!(r[3], OpResult::Checked);
    assert!(matches!(&r[4], OpResult::SetAcl { stat } if stat.aversion == 1));
    assert_eq!(r[5], OpResult::Deleted);
    assert_eq!(r[6], OpResult::Deleted);
    assert!(
        matches!(&r[7], OpResult::Created { path, stat } if path == "/m/a/b" && stat.ephemeral_owner == 0)
    );
    assert_eq!(
        ev,
        vec![
            evt("/m/a", ev::NODE_CREATED),
            evt("/m", ev::NODE_CHILDREN_CHANGED),
            evt("/m/a/b", ev::NODE_CREATED),
            evt("/m/a", ev::NODE_CHILDREN_CHANGED),
            evt("/m/a", ev::NODE_DATA_CHANGED),
            evt("/m/keep", ev::NODE_DELETED),
            evt("/m", ev::NODE_CHILDREN_CHANGED),
            evt("/m/a/b", ev::NODE_DELETED),
            evt("/m/a", ev::NODE_CHILDREN_CHANGED),
            evt("/m/a/b", ev::NODE_CREATED),
            evt("/m/a", ev::NODE_CHILDREN_CHANGED),
        ]
    );
    // All ops share the multi's zxid.
    assert_eq!(h.stat("/m/a").mzxid, z);
    assert_eq!(h.stat("/m/a/b").czxid, z);
    assert_eq!(h.stat("/m").pzxid, z);
    assert!(
        h.t.ephemerals_of(1, "/m/a").is_empty(),
        "the ephemeral made and deleted in the multi is gone from the index"
    );
    check_invariants(&h.t);
}

// ---- watch events per op -----------------------------------------------------------------------

#[test]
fn watch_events_per_op_kind() {
    let mut h = H::new();
    h.open(1);
    assert_eq!(
        h.we(0, &[], create("/a", cm::PERSISTENT)).1,
        vec![
            evt("/a", ev::NODE_CREATED),
            evt("/", ev::NODE_CHILDREN_CHANGED)
        ]
    );
    assert_eq!(
        h.we(1, &[], create("/a/e", cm::EPHEMERAL)).1,
        vec![
            evt("/a/e", ev::NODE_CREATED),
            evt("/a", ev::NODE_CHILDREN_CHANGED)
        ]
    );
    let (r, ev) = h.we(0, &[], create("/a/s", cm::PERSISTENT_SEQUENTIAL));
    assert!(matches!(r, OpResult::Created { ref path, .. } if path == "/a/s0000000001"));
    assert_eq!(
        ev,
        vec![
            evt("/a/s0000000001", ev::NODE_CREATED),
            evt("/a", ev::NODE_CHILDREN_CHANGED)
        ]
    );
    assert_eq!(
        h.we(0, &[], set_data("/a", b"x", -1)).1,
        vec![evt("/a", ev::NODE_DATA_CHANGED)]
    );
    assert_eq!(h.we(0, &[], set_acl("/a", world(perms::ALL), -1)).1, vec![]);
    assert_eq!(h.we(0, &[], check("/a", -1)).1, vec![]);
    assert_eq!(
        h.we(0, &[], delete("/a/e", -1)).1,
        vec![
            evt("/a/e", ev::NODE_DELETED),
            evt("/a", ev::NODE_CHILDREN_CHANGED)
        ]
    );
    // Failures produce nothing.
    assert_eq!(h.we(0, &[], delete("/a", 99)).1, vec![]);
    assert_eq!(h.we(0, &[], create("/a", cm::PERSISTENT)).1, vec![]);
    // Commands that touch no znode.
    assert_eq!(h.run(Command::Noop), (CmdResult::Done, vec![]));
    assert_eq!(
        h.run(Command::CreateSession {
            session_id: 2,
            timeout_ms: 1,
            passwd: vec![]
        })
        .1,
        vec![]
    );
}

// ---- ACLs --------------------------------------------------------------------------------------

#[test]
fn digest_id_matches_zookeeper() {
    // DigestAuthenticationProvider.generateDigest("super:test"), as in the ZooKeeper docs.
    assert_eq!(
        acl::digest_id("super:test"),
        "super:D/InIHSb7yEEbrWz8b9l71RjZJU="
    );
    // The user part ends at the first ':'; the hash covers the whole string.
    assert!(acl::digest_id("u:p:q").starts_with("u:"));
    assert_ne!(acl::digest_id("u:p:q"), acl::digest_id("u:p"));
}

#[test]
fn acl_schemes_world_digest_ip_super() {
    let mut h = H::new();
    let alice = digest("alice:pw");
    h.w(
        0,
        &[],
        create_acl(
            "/d",
            vec![digest_acl(perms::READ | perms::WRITE, "alice:pw")],
        ),
    );
    assert_eq!(h.t.get_data("/d", &[]).unwrap_err(), E::NoAuth);
    assert_eq!(
        h.t.get_data("/d", &[digest("alice:wrong")]).unwrap_err(),
        E::NoAuth
    );
    assert!(h
        .t
        .get_data("/d", &[ip("127.0.0.1"), alice.clone()])
        .is_ok());
    assert!(h.t.get_data("/d", &[sup()]).is_ok(), "super bypasses ACLs");
    assert!(matches!(
        h.w(0, std::slice::from_ref(&alice), set_data("/d", b"", -1)),
        OpResult::SetData { .. }
    ));
    assert_eq!(
        h.err(
            0,
            std::slice::from_ref(&alice),
            create("/d/c", cm::PERSISTENT)
        ),
        E::NoAuth,
        "no CREATE bit"
    );
    assert_eq!(h.t.get_children("/d", &[]).unwrap_err(), E::NoAuth);
    assert_eq!(h.t.all_children_number("/d", &[]).unwrap_err(), E::NoAuth);
    assert_eq!(
        h.t.get_children("/nope", &[]).unwrap_err(),
        E::NoNode,
        "NoNode before NoAuth"
    );

    // IP: IPv4 / IPv6 prefixes, as IPAuthenticationProvider.matches.
    h.w(
        0,
        &[],
        create_acl("/ip4", vec![a(perms::READ, "ip", "10.0.0.0/8")]),
    );
    assert!(h.t.get_data("/ip4", &[ip("10.200.3.4")]).is_ok());
    assert_eq!(
        h.t.get_data("/ip4", &[ip("11.0.0.1")]).unwrap_err(),
        E::NoAuth
    );
    assert_eq!(
        h.t.get_data("/ip4", &[ip("::1")]).unwrap_err(),
        E::NoAuth,
        "v6 client vs v4 ACL"
    );
    assert_eq!(
        h.t.get_data("/ip4", &[digest("10.0.0.1:x")]).unwrap_err(),
        E::NoAuth,
        "scheme must match"
    );
    h.w(
        0,
        &[],
        create_acl(
            "/ip6",
            vec![
                a(perms::READ, "ip", "fe80::/10"),
                a(perms::READ, "ip", "0:0:0:0:0:0:0:1"),
            ],
        ),
    );
    assert!(h.t.get_data("/ip6", &[ip("fe80::1")]).is_ok());
    assert!(h.t.get_data("/ip6", &[ip("febf:0:0:0:0:0:0:9")]).is_ok());
    assert!(
        h.t.get_data("/ip6", &[ip("::1")]).is_ok(),
        "same address in compressed form"
    );
    assert_eq!(
        h.t.get_data("/ip6", &[ip("fec0::1")]).unwrap_err(),
        E::NoAuth
    );
    assert_eq!(
        h.t.get_data("/ip6", &[ip("127.0.0.1")]).unwrap_err(),
        E::NoAuth
    );
    h.w(
        0,
        &[],
        create_acl(
            "/ipz",
            vec![
                a(perms::READ, "ip", "010.000.000.001"),
                a(perms::WRITE, "ip", "0.0.0.0/0"),
            ],
        ),
    );
    assert!(
        h.t.get_data("/ipz", &[ip("10.0.0.1")]).is_ok(),
        "Integer.parseInt accepts leading zeros"
    );
    assert!(matches!(
        h.w(0, &[ip("192.168.1.1")], set_data("/ipz", b"", -1)),
        OpResult::SetData { .. }
    ));
    assert_eq!(
        h.err(0, &[digest("a:b")], set_data("/ipz", b"", -1)),
        E::NoAuth
    );
}

#[test]
fn acl_fixup_rules() {
    let mut h = H::new();
    h.mk("/f");
    let alice = digest("alice:pw");
    let bob = digest("bob:pw");
    let invalid: Vec<Vec<Acl>> = vec![
        vec![],
        vec![a(perms::ALL, "world", "someone")],
        vec![
            a(perms::ALL, "world", "anyone"),
            a(perms::ALL, "foo", "bar"),
        ],
        vec![a(perms::ALL, "super", "")],
        // x509 and sasl are valid here (the proposer refuses them when the server has no such
        // provider, as ZooKeeper's fixupACL); a DN needs a `type=value`, a user a name.
        vec![a(perms::ALL, "x509", "nodn")],
        vec![a(perms::ALL, "sasl", "")],
        vec![a(perms::ALL, "kerberos", "alice")],
        vec![a(perms::ALL, "digest", "nocolon")],
        vec![a(perms::ALL, "digest", "a:b:c")],
        vec![a(perms::ALL, "digest", "u:")],
        vec![a(perms::ALL, "digest", ":")],
        vec![a(perms::ALL, "digest", "")],
        vec![a(perms::ALL, "ip", "1.2.3")],
        vec![a(perms::ALL, "ip", "300.1.1.1")],
        vec![a(perms::ALL, "ip", "1.2.3.4/33")],
        vec![a(perms::ALL, "ip", "1.2.3.4/")],
        vec![a(perms::ALL, "ip", "1.2.3.4/-1")],
        vec![a(perms::ALL, "ip", "localhost")],
        vec![a(perms::ALL, "ip", "::1/129")],
        vec![a(perms::ALL, "ip", "1::2::3")],
        vec![a(perms::ALL, "ip", "1:2:3:4:5:6:7:8:9")],
        vec![a(perms::ALL, "ip", "1:2:3:4::5:6:7:8")],
        vec![a(perms::ALL, "ip", "12345::")],
        vec![a(perms::ALL, "ip", "::ffff:1.2.3.4")],
        vec![a(perms::ALL, "auth", "")],
    ];
    for acl in invalid {
        assert_eq!(
            h.err(
                0,
                &[ip("127.0.0.1"), sup()],
                create_acl("/f/x", acl.clone())
            ),
            E::InvalidAcl,
            "{acl:?}"
        );
        assert_eq!(
            h.err(0, &[], set_acl("/f", acl.clone(), -1)),
            E::InvalidAcl,
            "{acl:?}"
        );
    }
    // Valid forms, stored as given.
    for (i, acl) in [
        vec![a(perms::ALL, "digest", ":x")],
        vec![a(perms::ALL, "digest", "u:x:")],
        vec![a(perms::ALL, "ip", "::/0")],
        vec![a(perms::ALL, "ip", "1:2:3:4:5:6:7:8/128")],
        vec![a(perms::ALL, "ip", "+1.2.3.4")],
        vec![a(0, "world", "anyone")],
    ]
    .into_iter()
    .enumerate()
    {
        let p = format!("/f/v{i}");
        assert!(
            matches!(
                h.w(0, &[], create_acl(&p, acl.clone())),
                OpResult::Created { .. }
            ),
            "{acl:?}"
        );
        assert_eq!(h.t.get_acl(&p, &[sup()]).unwrap().0, acl);
    }
    // "auth" expands to the caller's authenticated ids: digest yes; ip and super are not
    // authenticated providers' ids.
    h.w(
        0,
        &[ip("1.2.3.4"), alice.clone(), sup(), bob.clone()],
        create_acl(
            "/f/auth",
            vec![a(perms::READ | perms::ADMIN, "auth", "ignored")],
        ),
    );
    assert_eq!(
        h.t.get_acl("/f/auth", std::slice::from_ref(&alice))
            .unwrap()
            .0,
        vec![
            Acl {
                perms: perms::READ | perms::ADMIN,
                id: alice.clone()
            },
            Acl {
                perms: perms::READ | perms::ADMIN,
                id: bob.clone()
            }
        ]
    );
    assert_eq!(
        h.err(
            0,
            &[ip("1.2.3.4"), sup()],
            create_acl("/f/auth2", vec![a(perms::ALL, "auth", "")])
        ),
        E::InvalidAcl
    );
    // Duplicates are removed from the request before expansion, not after (fixupACL).
    h.w(
        0,
        &[],
        create_acl(
            "/f/dup",
            vec![
                a(perms::ALL, "world", "anyone"),
                a(perms::ALL, "world", "anyone"),
            ],
        ),
    );
    assert_eq!(h.t.get_acl("/f/dup", &[]).unwrap().0, world(perms::ALL));
    h.w(
        0,
        std::slice::from_ref(&alice),
        create_acl(
            "/f/dup2",
            vec![
                a(perms::ALL, "auth", ""),
                Acl {
                    perms: perms::ALL,
                    id: alice.clone(),
                },
            ],
        ),
    );
    assert_eq!(
        h.t.get_acl("/f/dup2", std::slice::from_ref(&alice))
            .unwrap()
            .0,
        vec![
            Acl {
                perms: perms::ALL,
                id: alice.clone()
            };
            2
        ]
    );
    check_invariants(&h.t);
}

#[test]
fn get_acl_needs_read_or_admin_and_hides_digests_without_admin() {
    let mut h = H::new();
    let alice = digest("alice:pw");
    let bob = digest("bob:pw");
    let full = vec![
        digest_acl(perms::ADMIN, "alice:pw"),
        digest_acl(perms::READ, "bob:pw"),
        a(perms::WRITE, "ip", "10.0.0.0/8"),
    ];
    h.w(0, &[], create_acl("/n", full.clone()));
    let stat = h.stat("/n");
    assert_eq!(
        h.t.get_acl("/n", std::slice::from_ref(&alice)).unwrap(),
        (full.clone(), stat),
        "ADMIN sees everything"
    );
    assert_eq!(h.t.get_acl("/n", &[sup()]).unwrap().0, full);
    // READ without ADMIN (FinalRequestProcessor, ZOOKEEPER-1392): digest ids become user:x.
    let redacted = vec![
        a(perms::ADMIN, "digest", "alice:x"),
        a(perms::READ, "digest", "bob:x"),
        a(perms::WRITE, "ip", "10.0.0.0/8"),
    ];
    assert_eq!(
        h.t.get_acl("/n", std::slice::from_ref(&bob)).unwrap(),
        (redacted, stat)
    );
    // Neither READ nor ADMIN.
    assert_eq!(h.t.get_acl("/n", &[ip("10.1.1.1")]).unwrap_err(), E::NoAuth);
    assert_eq!(h.t.get_acl("/n", &[]).unwrap_err(), E::NoAuth);
    assert_eq!(h.t.get_acl("/none", &[]).unwrap_err(), E::NoNode);
    // Redaction follows Java's replaceAll(":.*", ":x").
    assert_eq!(acl::redact_digest("u:abc"), "u:x");
    assert_eq!(acl::redact_digest("u:a:b"), "u:x");
    assert_eq!(acl::redact_digest("nocolon"), "nocolon");
    assert_eq!(acl::redact_digest("u:a\nv:b"), "u:x\nv:x");
}

#[test]
fn acl_check_unit() {
    use acl::check;
    let r = vec![a(perms::READ, "world", "anyone")];
    assert!(check(&r, perms::READ, &[]));
    assert!(!check(&r, perms::WRITE, &[]));
    assert!(
        check(&r, perms::READ | perms::ADMIN, &[]),
        "any requested bit suffices"
    );
    assert!(
        check(&[], perms::ADMIN, &[]),
        "an empty ACL allows everything"
    );
    assert!(check(&[a(0, "world", "anyone")], perms::ALL, &[sup()]));
    assert!(!check(
        &[a(0, "world", "anyone")],
        perms::READ,
        &[digest("a:b")]
    ));
    // Schemes without a provider never match, even with an identical id.
    assert!(!check(
        &[a(perms::ALL, "kerberos", "alice")],
        perms::READ,
        &[Id::new("kerberos", "alice")]
    ));
}

// ---- reads -------------------------------------------------------------------------------------

#[test]
fn all_children_number_counts_descendants() {
    let mut h = H::new();
    assert_eq!(
        h.t.all_children_number("/", &[]),
        Ok(3),
        "the /zookeeper subtree"
    );
    assert_eq!(h.t.all_children_number("/zookeeper", &[]), Ok(2));
    for p in ["/a", "/a/b", "/a/b/c", "/a/b/d", "/a/e", "/ab", "/ab/x"] {
        h.mk(p);
    }
    assert_eq!(h.t.all_children_number("/", &[]), Ok(10));
    assert_eq!(
        h.t.all_children_number("/a", &[]),
        Ok(4),
        "/ab is not under /a"
    );
    assert_eq!(h.t.all_children_number("/a/b", &[]), Ok(2));
    assert_eq!(h.t.all_children_number("/a/b/c", &[]), Ok(0));
    assert_eq!(h.t.all_children_number("/zz", &[]), Err(E::NoNode));
    h.w(0, &[], delete("/a/b/c", -1));
    assert_eq!(h.t.all_children_number("/a", &[]), Ok(3));
}

#[test]
fn approximate_data_size_counts_paths_and_data() {
    let mut h = H::new();
    // "/" + "/zookeeper" + "/zookeeper/quota" + "/zookeeper/config", all with empty data.
    assert_eq!(h.t.approximate_data_size(), 1 + 10 + 16 + 17);
    let base = h.t.approximate_data_size();
    h.w(
        0,
        &[],
        create_full("/abc", Some(b"12345"), Acl::world_all(), cm::PERSISTENT, -1),
    );
    assert_eq!(h.t.approximate_data_size(), base + 4 + 5);
    h.w(0, &[], set_data("/abc", b"1", -1));
    assert_eq!(h.t.approximate_data_size(), base + 4 + 1);
    h.w(
        0,
        &[],
        WriteOp::SetData {
            path: "/abc".into(),
            data: None,
            version: -1,
        },
    );
    assert_eq!(h.t.approximate_data_size(), base + 4);
    h.w(0, &[], delete("/abc", -1));
    assert_eq!(h.t.approximate_data_size(), base);
    // Java String.length(): UTF-16 code units, not UTF-8 bytes.
    h.mk("/é");
    assert_eq!(h.t.approximate_data_size(), base + 2);
    h.mk("/é/\u{4e2d}");
    assert_eq!(h.t.approximate_data_size(), base + 2 + 4);
}

// ---- snapshots ---------------------------------------------------------------------------------

fn rich_tree() -> H {
    let mut h = populated();
    h.open(0x0100_0000_0000_0001);
    h.mk_as(0x0100_0000_0000_0001, "/m/keep2", cm::EPHEMERAL);
    h.seq(2, "/m/seq-", cm::EPHEMERAL_SEQUENTIAL);
    h.seq(0, "/m/seq-", cm::PERSISTENT_SEQUENTIAL);
    h.w(
        0,
        &[],
        create_full("/nodata", None, Acl::world_all(), cm::PERSISTENT, -1),
    );
    h.w(
        0,
        &[],
        create_full(
            "/bin",
            Some(&[0, 255, 1, 2]),
            vec![
                digest_acl(perms::ALL, "a:b"),
                a(perms::READ, "ip", "10.0.0.0/8"),
            ],
            cm::PERSISTENT,
            -1,
        ),
    );
    h.mk_as(0, "/emptybox", cm::CONTAINER);
    h.mk("/m/box/item2");
    h.w(0, &[], delete("/m/box/item", -1));
    h.w(0, &[], delete("/m/box/item2", -1)); // /m/box is now reapable
    h.w(
        0,
        &[],
        create_ttl("/ttl2", cm::PERSISTENT_SEQUENTIAL_WITH_TTL, 1),
    );
    h.run(Command::SetConfig {
        data: b"server.1=x".to_vec(),
    });
    h.w(
        0,
        &[],
        set_acl("/y", vec![digest_acl(perms::ALL, "a:b")], -1),
    );
    h
}

fn paths(t: &DataTree) -> Vec<String> {
    dump(t).nodes.keys().cloned().collect()
}

#[test]
fn image_serializes_exactly_like_the_tree() {
    let mut h = rich_tree();
    let image = h.t.image();
    assert_eq!(
        postcard::to_allocvec(&image).unwrap(),
        postcard::to_allocvec(&h.t).unwrap()
    );
    assert_eq!(image.node_count(), h.t.node_count());
    // The image is a copy: later changes to the tree do not show in it.
    let before = postcard::to_allocvec(&image).unwrap();
    h.w(0, &[sup()], set_data("/y", b"changed after the image", -1));
    assert_eq!(postcard::to_allocvec(&image).unwrap(), before);
    assert_ne!(postcard::to_allocvec(&h.t).unwrap(), before);
}

#[test]
fn snapshot_round_trip_preserves_everything() {
    let h = rich_tree();
    let bytes = postcard::to_allocvec(&h.t).unwrap();
    let mut restored: DataTree = postcard::from_bytes(&bytes).unwrap();
    restored.rebuild_indexes();

    assert_eq!(dump(&restored), dump(&h.t));
    assert_eq!(restored.last_zxid(), h.t.last_zxid());
    for p in paths(&h.t) {
        for auth in [
            vec![],
            vec![sup()],
            vec![digest("a:b")],
            vec![ip("10.1.1.1")],
        ] {
            assert_eq!(restored.get_data(&p, &auth), h.t.get_data(&p, &auth), "{p}");
            assert_eq!(
                restored.get_children(&p, &auth),
                h.t.get_children(&p, &auth),
                "{p}"
            );
            assert_eq!(restored.get_acl(&p, &auth), h.t.get_acl(&p, &auth), "{p}");
            assert_eq!(
                restored.all_children_number(&p, &auth),
                h.t.all_children_number(&p, &auth),
                "{p}"
            );
        }
        assert_eq!(restored.exists(&p), h.t.exists(&p));
    }
    for sid in [1, 2, 0x0100_0000_0000_0001, 3] {
        assert_eq!(
            restored.ephemerals_of(sid, "/"),
            h.t.ephemerals_of(sid, "/")
        );
    }
    for now in [0, h.now, h.now + 2, h.now + 1_000_000] {
        assert_eq!(restored.reap_candidates(now), h.t.reap_candidates(now));
    }
    assert!(!h.t.reap_candidates(h.now + 1_000_000).is_empty());
    assert_eq!(
        restored.approximate_data_size(),
        h.t.approximate_data_size()
    );
    check_invariants(&restored);

    // The restored tree continues exactly like the original (sequence counters, sessions...).
    let mut a = h;
    let mut b = H {
        t: restored,
        zxid: a.zxid,
        now: a.now,
    };
    for cmd in [
        Command::Write {
            session_id: 2,
            auth: vec![],
            op: create("/m/seq-", cm::EPHEMERAL_SEQUENTIAL),
        },
        Command::CloseSession { session_id: 1 },
        Command::Reap {
            path: "/m/box".into(),
            czxid: a.stat("/m/box").czxid,
        },
        Command::Multi {
            session_id: 2,
            auth: vec![],
            ops: vec![create("/s-", cm::PERSISTENT_SEQUENTIAL), delete("/x", -1)],
        },
        Command::CloseSession { session_id: 2 },
    ] {
        assert_eq!(a.run(cmd.clone()), b.run(cmd));
    }
    assert_eq!(dump(&a.t), dump(&b.t));
}

// ---- determinism -------------------------------------------------------------------------------

struct XorShift(u64);
impl XorShift {
    fn next(&mut self) -> u64 {
        let mut x = self.0;
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        self.0 = x;
        x
    }
    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
    fn pick<'a, T>(&mut self, items: &'a [T]) -> &'a T {
        &items[self.below(items.len() as u64) as usize]
    }
}

const SESSIONS: [i64; 4] = [0x11, 0x22, 0x33, 0x44];
const PATHS: [&str; 16] = [
    "/d",
    "/d/a",
    "/d/b",
    "/d/a/x",
    "/d/a/y",
    "/d/b/x",
    "/d/s-",
    "/d/a/s-",
    "/e",
    "/e/1",
    "/e/2",
    "/c",
    "/c/k",
    "/t",
    "/t/k",
    "/zookeeper/quota/q",
];
const BAD_PATHS: [&str; 7] = [
    "/",
    "/zookeeper",
    "d",
    "/d/",
    "/d//a",
    "/d/.",
    "/zookeeper/config",
];

fn random_op(r: &mut XorShift) -> WriteOp {
    let path = if r.below(20) == 0 {
        r.pick(&BAD_PATHS)
    } else {
        r.pick(&PATHS)
    }
    .to_string();
    let version = *r.pick(&[-1, -1, -1, -1, -1, -1, 0, 0, 1, 2]);
    let data = match r.below(4) {
        0 => None,
        _ => Some((0..r.below(6)).map(|_| r.next() as u8).collect()),
    };
    let acl = match r.below(40) {
        0 => vec![],
        1 => vec![a(perms::ALL, "world", "nobody")],
        2 => vec![digest_acl(perms::ALL, "alice:pw")],
        3..=4 => vec![a(perms::ALL, "auth", "")],
        5 => world(perms::READ),
        6 => vec![
            a(
                perms::READ | perms::CREATE | perms::DELETE,
                "world",
                "anyone",
            ),
            digest_acl(perms::ALL, "bob:pw"),
        ],
        7..=8 => vec![a(perms::ALL, "ip", "127.0.0.0/8")],
        _ => Acl::world_all(),
    };
    match r.below(12) {
        0..=5 => {
            let flags = *r.pick(&[0, 0, 0, 0, 0, 1, 1, 2, 3, 4, 4, 5, 6, 7, -1]);
            let is_ttl = flags == 5 || flags == 6;
            let ttl = match (is_ttl, r.below(16)) {
                (true, 0) => 0,
                (true, _) => 1 + r.below(50) as i64,
                (false, 0) => 10,
                (false, _) => -1,
            };
            let op = if (0..=6).contains(&flags) {
                opcode(flags)
            } else {
                op::CREATE
            };
            WriteOp::Create {
                path,
                data,
                acl,
                flags,
                ttl,
                op,
            }
        }
        6..=7 => WriteOp::Delete { path, version },
        8..=9 => WriteOp::SetData {
            path,
            data,
            version,
        },
        10 => WriteOp::SetAcl { path, acl, version },
        _ => WriteOp::Check { path, version },
    }
}

fn random_auth(r: &mut XorShift, session: i64) -> Vec<Id> {
    let mut auth = vec![ip(if session == 0x33 {
        "10.0.0.3"
    } else {
        "127.0.0.1"
    })];
    match session {
        0x11 => auth.push(digest("alice:pw")),
        0x22 => auth.push(digest("bob:pw")),
        _ => {}
    }
    if r.below(50) == 0 {
        auth.push(sup());
    }
    auth
}

fn random_command(r: &mut XorShift, t: &DataTree, now: i64) -> Command {
    let session = match r.below(80) {
        0 => 0,
        1 => 0x99, // never opened
        _ => *r.pick(&SESSIONS),
    };
    match r.below(100) {
        0..=69 => Command::Write {
            session_id: session,
            auth: random_auth(r, session),
            op: random_op(r),
        },
        70..=84 => {
            let n = 1 + r.below(4);
            Command::Multi {
                session_id: session,
                auth: random_auth(r, session),
                ops: (0..n).map(|_| random_op(r)).collect(),
            }
        }
        85 => Command::CloseSession {
            session_id: if r.below(5) == 0 {
                0x99
            } else {
                *r.pick(&SESSIONS)
            },
        },
        86..=90 => Command::CreateSession {
            session_id: *r.pick(&SESSIONS),
            timeout_ms: 5000,
            passwd: vec![r.below(256) as u8],
        },
        91..=94 => {
            let cands = t.reap_candidates(now);
            if !cands.is_empty() && r.below(3) != 0 {
                let (path, czxid) = r.pick(&cands).clone();
                Command::Reap { path, czxid }
            } else {
                let path = r.pick(&PATHS).to_string();
                let czxid = t.exists(&path).map_or(1, |s| s.czxid + r.below(2) as i64);
                Command::Reap { path, czxid }
            }
        }
        95..=96 => Command::SetConfig {
            data: vec![r.below(256) as u8; 3],
        },
        _ => Command::Noop,
    }
}

#[test]
fn determinism_random_sequence() {
    let mut r = XorShift(0x9E37_79B9_7F4A_7C15);
    let mut a = H::new();
    let mut b = H::new();
    let mut restored: Option<H> = None;
    for s in SESSIONS {
        a.open(s);
        b.open(s);
    }
    let (mut ok, mut failed, mut multis_failed, mut reaped, mut events) = (0, 0, 0, 0, 0);
    let mut codes = BTreeSet::new();
    let mut hist: BTreeMap<String, i32> = BTreeMap::new();
    for step in 0..5000 {
        let now = a.now + r.below(40) as i64;
        let cmd = random_command(&mut r, &a.t, now);
        let before = dump(&a.t);
        let ra = a.run_at(now, cmd.clone());
        let rb = b.run_at(now, cmd.clone());
        assert_eq!(ra, rb, "step {step}: {cmd:?}");
        if let Some(c) = restored.as_mut() {
            assert_eq!(
                c.run_at(now, cmd.clone()),
                ra,
                "restored tree diverged at step {step}: {cmd:?}"
            );
        }
        events += ra.1.len();
        match &ra.0 {
            CmdResult::Op(OpResult::Error(e)) => {
                failed += 1;
                codes.insert(e.code());
                *hist.entry(format!("{e:?}")).or_insert(0) += 1;
                assert!(ra.1.is_empty());
                assert_eq!(
                    dump(&a.t),
                    before,
                    "step {step}: failed {cmd:?} changed state"
                );
            }
            CmdResult::Multi(rs)
                if rs
                    .iter()
                    .any(|x| matches!(x, OpResult::Error(e) if *e != E::Ok)) =>
            {
                multis_failed += 1;
                // [Ok..., code, RuntimeInconsistency...]
                let i = rs
                    .iter()
                    .position(|x| !matches!(x, OpResult::Error(E::Ok)))
                    .unwrap();
                assert!(
                    matches!(rs[i], OpResult::Error(e) if e != E::Ok && e != E::RuntimeInconsistency)
                );
                assert!(rs[i + 1..]
                    .iter()
                    .all(|x| *x == OpResult::Error(E::RuntimeInconsistency)));
                codes.insert(match rs[i] {
                    OpResult::Error(e) => e.code(),
                    _ => unreachable!(),
                });
                assert!(ra.1.is_empty());
                assert_eq!(
                    dump(&a.t),
                    before,
                    "step {step}: failed multi changed state"
                );
            }
            CmdResult::Op(OpResult::Deleted) if matches!(cmd, Command::Reap { .. }) => {
                reaped += 1;
                ok += 1
            }
            _ => ok += 1,
        }
        if step % 50 == 0 {
            check_invariants(&a.t);
        }
        if step == 2500 {
            let bytes = postcard::to_allocvec(&a.t).unwrap();
            let mut t: DataTree = postcard::from_bytes(&bytes).unwrap();
            t.rebuild_indexes();
            assert_eq!(dump(&t), dump(&a.t));
            restored = Some(H {
                t,
                zxid: a.zxid,
                now: a.now,
            });
        }
    }
    check_invariants(&a.t);
    assert_eq!(dump(&a.t), dump(&b.t));
    assert_eq!(dump(&a.t), dump(&restored.as_ref().unwrap().t));
    assert_eq!(a.t.last_zxid(), b.t.last_zxid());
    // The sequence must actually exercise the machine.
    eprintln!(
        "ok {ok} failed {failed} multi {multis_failed} reaped {reaped} events {events} {hist:?} nodes {}",
        a.t.node_count()
    );
    assert!(
        ok > 1000 && failed > 500 && multis_failed > 100 && reaped > 3 && events > 1000,
        "ok {ok} failed {failed} multi {multis_failed} reaped {reaped} events {events}"
    );
    for c in [
        E::NoNode,
        E::NodeExists,
        E::BadVersion,
        E::NotEmpty,
        E::NoAuth,
        E::InvalidAcl,
        E::BadArguments,
        E::SessionExpired,
        E::NoChildrenForEphemerals,
    ] {
        assert!(codes.contains(&c.code()), "{c:?} never produced: {codes:?}");
    }
}

mod quota {
    use rzk_tree::{CmdResult, Command, DataTree, Entry, OpResult, WriteOp};

    fn create(path: &str, data: &[u8]) -> WriteOp {
        WriteOp::Create {
            path: path.into(),
            data: Some(data.to_vec()),
            acl: rzk_tree::Acl::world_all(),
            flags: 0,
            ttl: -1,
            op: 1,
        }
    }
    fn write(t: &mut DataTree, z: i64, op: WriteOp) -> CmdResult {
        t.apply(
            z,
            &Entry {
                time_ms: z,
                cmd: Command::Write {
                    session_id: 0,
                    auth: vec![],
                    op,
                },
            },
        )
        .0
    }
    fn stats(t: &DataTree) -> String {
        String::from_utf8(
            t.node("/zookeeper/quota/q/zookeeper_stats")
                .unwrap()
                .data
                .clone()
                .unwrap(),
        )
        .unwrap()
    }

    #[test]
    fn stats_follow_creates_sets_deletes_and_multi_rollback() {
        let mut t = DataTree::new();
        write(&mut t, 1, create("/q", b"abc"));
        write(&mut t, 2, create("/q/a", b"de"));
        write(&mut t, 3, create("/zookeeper/quota/q", b""));
        write(
            &mut t,
            4,
            create("/zookeeper/quota/q/zookeeper_limits", b"count=10,bytes=-1"),
        );
        write(
            &mut t,
            5,
            create("/zookeeper/quota/q/zookeeper_stats", b"count=0,bytes=0"),
        );
        assert_eq!(
            stats(&t),
            "count=2,bytes=5",
            "recomputed when the stats node appears"
        );
        write(&mut t, 6, create("/q/b", b"1234"));
        assert_eq!(stats(&t), "count=3,bytes=9");
        write(
            &mut t,
            7,
            WriteOp::SetData {
                path: "/q/b".into(),
                data: Some(b"1".to_vec()),
                version: -1,
            },
        );
        assert_eq!(stats(&t), "count=3,bytes=6");
        write(
            &mut t,
            8,
            WriteOp::Delete {
                path: "/q/a".into(),
                version: -1,
            },
        );
        assert_eq!(stats(&t), "count=2,bytes=4");
        write(&mut t, 9, create("/other", b"zzzz"));
        assert_eq!(
            stats(&t),
            "count=2,bytes=4",
            "nodes outside the quota root do not count"
        );
        let r = t.apply(
            10,
            &Entry {
                time_ms: 10,
                cmd: Command::Multi {
                    session_id: 0,
                    auth: vec![],
                    ops: vec![
                        create("/q/c", b"xx"),
                        WriteOp::Check {
                            path: "/q".into(),
                            version: 99,
                        },
                    ],
                },
            },
        );
        assert!(matches!(r.0, CmdResult::Multi(ref v) if matches!(v[1], OpResult::Error(_))));
        assert_eq!(
            stats(&t),
            "count=2,bytes=4",
            "a failed multi leaves the usage unchanged"
        );
    }

    fn set(path: &str, data: &[u8]) -> WriteOp {
        WriteOp::SetData {
            path: path.into(),
            data: Some(data.to_vec()),
            version: -1,
        }
    }
    fn err(r: &CmdResult) -> Option<rzk_proto::ErrorCode> {
        match r {
            CmdResult::Op(OpResult::Error(e)) => Some(*e),
            _ => None,
        }
    }
    /// A tree with `/q` (data "abc") under a quota of `limits` (zkCli setquota's znodes).
    fn quota_tree(enforce: bool, q: &str, limits: &[u8]) -> (DataTree, i64) {
        let mut t = DataTree::new();
        t.set_enforce_quota(enforce);
        let mut z = 0;
        let mut w = |t: &mut DataTree, op| {
            z += 1;
            write(t, z, op)
        };
        w(&mut t, create(q, b"abc"));
        let mut acc = "/zookeeper/quota".to_string();
        for part in q.trim_start_matches('/').split('/') {
            acc = format!("{acc}/{part}");
            w(&mut t, create(&acc, b""));
        }
        w(&mut t, create(&format!("{acc}/zookeeper_limits"), limits));
        w(
            &mut t,
            create(&format!("{acc}/zookeeper_stats"), b"count=0,bytes=0"),
        );
        (t, z)
    }
    const QE: Option<rzk_proto::ErrorCode> = Some(rzk_proto::ErrorCode::QuotaExceeded);

    #[test]
    fn hard_count_limit_refuses_creates_and_changes_nothing() {
        // zkCli setquota -N 3: count and bytes stay -1 (soft unset), the hard limit follows.
        let (mut t, z) = quota_tree(true, "/q", b"count=-1,bytes=-1=;countHardLimit=3");
        assert_eq!(stats(&t), "count=1,bytes=3");
        assert_eq!(err(&write(&mut t, z + 1, create("/q/a", b""))), None);
        assert_eq!(err(&write(&mut t, z + 2, create("/q/a/b", b""))), None);
        let before = t.node_count();
        assert_eq!(err(&write(&mut t, z + 3, create("/q/c", b""))), QE);
        assert_eq!(t.node_count(), before);
        assert!(t.exists("/q/c").is_none());
        assert_eq!(stats(&t), "count=3,bytes=3");
        // setData does not change the count: allowed at the count limit
        assert_eq!(err(&write(&mut t, z + 4, set("/q/a", b"xyz"))), None);
        // outside the root: not governed
        assert_eq!(err(&write(&mut t, z + 5, create("/qq", b""))), None);
        // a delete frees room again
        let del = WriteOp::Delete {
            path: "/q/a/b".into(),
            version: -1,
        };
        assert_eq!(err(&write(&mut t, z + 6, del)), None);
        assert_eq!(err(&write(&mut t, z + 7, create("/q/c", b""))), None);
    }

    #[test]
    fn hard_byte_limit_refuses_create_and_set_data() {
        let (mut t, z) = quota_tree(true, "/q", b"count=-1,bytes=-1=;byteHardLimit=10");
        assert_eq!(err(&write(&mut t, z + 1, create("/q/a", b"1234567"))), None);
        assert_eq!(stats(&t), "count=2,bytes=10");
        assert_eq!(err(&write(&mut t, z + 2, create("/q/b", b"x"))), QE);
        // an empty node adds no bytes: allowed
        assert_eq!(err(&write(&mut t, z + 3, create("/q/b", b""))), None);
        assert_eq!(err(&write(&mut t, z + 4, set("/q/a", b"12345678"))), QE);
        let n = t.node("/q/a").unwrap();
        assert_eq!(n.data.as_deref(), Some(&b"1234567"[..]));
        assert_eq!(n.stat.version, 0, "a refused setData changes nothing");
        assert_eq!(err(&write(&mut t, z + 5, set("/q/a", b"12"))), None);
        assert_eq!(stats(&t), "count=3,bytes=5");
    }

    #[test]
    fn nearest_quota_root_governs() {
        let (mut t, mut z) = quota_tree(true, "/q", b"count=-1,bytes=-1=;countHardLimit=2");
        z += 1;
        write(&mut t, z, create("/q/inner", b""));
        for (p, d) in [
            ("/zookeeper/quota/q/inner", &b""[..]),
            (
                "/zookeeper/quota/q/inner/zookeeper_limits",
                b"count=-1,bytes=-1=;countHardLimit=5",
            ),
            (
                "/zookeeper/quota/q/inner/zookeeper_stats",
                b"count=0,bytes=0",
            ),
        ] {
            z += 1;
            assert_eq!(err(&write(&mut t, z, create(p, d))), None, "{p}");
        }
        // /q is at its limit (2), but /q/inner's own quota (5) governs below it
        for i in 0..4 {
            z += 1;
            let p = format!("/q/inner/n{i}");
            assert_eq!(err(&write(&mut t, z, create(&p, b""))), None, "{p}");
        }
        z += 1;
        assert_eq!(err(&write(&mut t, z, create("/q/inner/n4", b""))), QE);
        z += 1;
        assert_eq!(err(&write(&mut t, z, create("/q/other", b""))), QE);
    }

    #[test]
    fn multi_over_a_hard_limit_fails_whole() {
        let (mut t, z) = quota_tree(true, "/q", b"count=-1,bytes=-1=;countHardLimit=3");
        let r = t.apply(
            z + 1,
            &Entry {
                time_ms: z + 1,
                cmd: Command::Multi {
                    session_id: 0,
                    auth: vec![],
                    ops: vec![
                        create("/q/a", b""),
                        set("/q", b"abcdef"),
                        create("/q/b", b""),
                        create("/q/c", b""),
                    ],
                },
            },
        );
        let CmdResult::Multi(v) = r.0 else {
            panic!("{r:?}")
        };
        assert_eq!(
            v[3],
            OpResult::Error(rzk_proto::ErrorCode::QuotaExceeded),
            "{v:?}"
        );
        assert!(t.exists("/q/a").is_none() && t.exists("/q/b").is_none());
        assert_eq!(t.node("/q").unwrap().data.as_deref(), Some(&b"abc"[..]));
        assert_eq!(stats(&t), "count=1,bytes=3");
    }

    #[test]
    fn soft_limits_only_warn_and_enforcement_off_allows_all() {
        // setquota -n 1 -b 1: soft limits
        let (mut t, z) = quota_tree(true, "/q", b"count=1,bytes=1");
        assert_eq!(err(&write(&mut t, z + 1, create("/q/a", b"xyz"))), None);
        assert_eq!(stats(&t), "count=2,bytes=6");
        // hard limits, enforcement off
        let (mut t, z) = quota_tree(
            false,
            "/q",
            b"count=-1,bytes=-1=;countHardLimit=1;byteHardLimit=1",
        );
        assert_eq!(err(&write(&mut t, z + 1, create("/q/a", b"xyz"))), None);
        assert_eq!(err(&write(&mut t, z + 2, set("/q", b"long data"))), None);
        assert_eq!(stats(&t), "count=2,bytes=12");
    }

    #[test]
    fn enforcement_is_not_in_the_snapshot_bytes() {
        let (t, _) = quota_tree(true, "/q", b"count=-1,bytes=-1=;countHardLimit=3");
        let mut off = t.clone();
        off.set_enforce_quota(false);
        assert_eq!(
            postcard::to_allocvec(&t.image()).unwrap(),
            postcard::to_allocvec(&off.image()).unwrap()
        );
    }
}
