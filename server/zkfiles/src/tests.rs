//! Snapshots and logs built byte by byte, loaded back; every truncation of them.

use super::*;
use crate::jute::{adler32, Writer};
use crate::txn::build;
use crate::txn::opcode;
use rzk_tree::Acl;

fn node(w: &mut Writer, path: &str, data: &[u8], acl: i64, czxid: i64, cversion: i32, owner: i64) {
    w.string(path);
    w.buffer(Some(data));
    w.i64(acl);
    for v in [czxid, czxid, 1000, 1000] {
        w.i64(v);
    }
    for v in [0, cversion, 0] {
        w.i32(v);
    }
    w.i64(owner);
    w.i64(czxid);
}

fn seal(w: &mut Writer) {
    let s = adler32(&w.buf);
    w.i64(s as i64);
    w.string("/");
}

/// A 3.8-style snapshot: sessions, ACL cache, nodes, seal, digest, seal.
fn sample_snapshot() -> Vec<u8> {
    let mut w = Writer::default();
    w.i32(snapshot::SNAP_MAGIC);
    w.i32(2);
    w.i64(-1);
    w.i32(1);
    w.i64(0x42);
    w.i32(30000);
    w.i32(1);
    w.i64(1);
    txn::write_acl(&mut w, &Acl::world_all());
    node(&mut w, "", b"", 1, 0, 1, 0);
    node(&mut w, "/zookeeper", b"", -1, 0, 0, 0);
    node(&mut w, "/a", b"hello", 1, 3, 2, 0);
    node(&mut w, "/a/e", b"", 1, 4, 0, 0x42);
    w.string("/");
    seal(&mut w);
    w.i64(4);
    w.i32(2);
    w.i64(777);
    seal(&mut w);
    w.buf
}

fn record(w: &mut Writer, txn: &[u8]) {
    w.i64(adler32(txn) as i64);
    w.buffer(Some(txn));
    w.u8(b'B');
}

fn sample_log() -> Vec<u8> {
    let mut w = Writer::default();
    w.i32(txnlog::LOG_MAGIC);
    w.i32(2);
    w.i64(0);
    // zxid 4 is in the snapshot already (fuzzy): replaying it must not break anything.
    let mut t = Writer::default();
    build::header(&mut t, 0x42, 4, 1000, opcode::CREATE);
    build::create(&mut t, "/a/e", b"", &Acl::world_all(), true, 1);
    record(&mut w, &t.buf);
    let mut t = Writer::default();
    build::header(&mut t, 0x42, 5, 2000, opcode::CREATE);
    build::create(&mut t, "/a/s0000000001", b"q", &Acl::world_all(), false, 2);
    record(&mut w, &t.buf);
    let mut t = Writer::default();
    build::header(&mut t, 0x42, 6, 3000, opcode::SET_DATA);
    t.string("/a");
    t.buffer(Some(b"v2"));
    t.i32(1);
    record(&mut w, &t.buf);
    let mut t = Writer::default();
    build::header(&mut t, 0x43, 7, 3000, opcode::CREATE_SESSION);
    t.i32(10000);
    record(&mut w, &t.buf);
    let mut t = Writer::default();
    build::header(&mut t, 0x42, 8, 4000, opcode::CLOSE_SESSION);
    t.i32(1);
    t.string("/a/e");
    record(&mut w, &t.buf);
    // preallocated zeros
    w.buf.extend_from_slice(&[0u8; 64]);
    w.buf
}

fn write_dir(snap: &[u8], log: &[u8]) -> tempfile::TempDir {
    let d = tempfile::tempdir().unwrap();
    let v = d.path().join("version-2");
    std::fs::create_dir_all(&v).unwrap();
    std::fs::write(v.join("snapshot.4"), snap).unwrap();
    std::fs::write(v.join("log.1"), log).unwrap();
    d
}

#[test]
fn snapshot_plus_log_tail() {
    let d = write_dir(&sample_snapshot(), &sample_log());
    let (t, rep) = load(d.path(), d.path()).unwrap();
    assert_eq!(rep.snapshot_zxid, 4);
    assert_eq!(t.last_zxid, 8);
    assert_eq!(t.sessions.len(), 1, "0x42 closed, 0x43 created");
    assert_eq!(t.sessions[&0x43], 10000);
    assert!(
        !t.nodes.contains_key("/a/e"),
        "closeSession removed the ephemeral"
    );
    let a = &t.nodes["/a"];
    assert_eq!(a.data.as_deref(), Some(&b"v2"[..]));
    assert_eq!((a.stat.version, a.stat.mzxid, a.stat.mtime), (1, 6, 3000));
    assert_eq!(a.stat.cversion, 2);
    assert_eq!(a.stat.pzxid, 8, "the delete by closeSession moved pzxid");
    assert_eq!(t.nodes["/a/s0000000001"].stat.czxid, 5);
    assert!(rep.torn_tails.is_empty());

    let rzk = to_data_tree(&t, 1 << 20).unwrap();
    let st = rzk.exists("/a").unwrap();
    // Clients see cversion = creations * 2 - children (as ZooKeeper's DataNode.copyStat).
    assert_eq!((st.cversion, st.num_children, st.version), (3, 1, 1));
    assert_eq!(rzk.last_zxid(), 1 << 20);
    let back = from_data_tree(&rzk);
    assert_eq!(back.nodes["/a"], t.nodes["/a"]);
    // And the written snapshot reads back to the same tree.
    let bytes = snapshot::write(&back);
    let (again, info) = snapshot::parse(&bytes, back.last_zxid).unwrap();
    assert_eq!(info.digest, Some((back.last_zxid, 2)));
    for (p, n) in &back.nodes {
        assert_eq!(&again.nodes[p], n, "{p}");
    }
}

#[test]
fn truncated_or_damaged_snapshot_is_an_error_with_an_offset() {
    let snap = sample_snapshot();
    // Every prefix fails but the one that ends right after the first checksum: that is a
    // complete 3.5 snapshot (no digest trailer).
    let first_seal_end = snap.len() - (8 + 4 + 8 + 13);
    for n in 0..snap.len() {
        let r = snapshot::parse(&snap[..n], 4);
        if n == first_seal_end {
            assert!(r.is_ok());
        } else {
            assert!(r.is_err(), "prefix {n} of {} parsed", snap.len());
        }
    }
    let mut bad = snap.clone();
    bad[60] ^= 0x01;
    let e = snapshot::parse(&bad, 4).unwrap_err();
    assert!(e.to_string().contains("at byte"), "{e}");
    let d = write_dir(&snap[..snap.len() / 2], &sample_log());
    let msg = load(d.path(), d.path()).unwrap_err().to_string();
    assert!(
        msg.contains("snapshot.4") && msg.contains("at byte"),
        "{msg}"
    );
}

#[test]
fn torn_log_tail_ends_replay_and_crc_damage_is_an_error() {
    let log = sample_log();
    let end = log.len() - 64;
    for n in 16..end {
        let (recs, e) = txnlog::parse(&log[..n]).unwrap();
        assert!(recs.len() <= 5);
        assert!(matches!(e, txnlog::End::Torn(_) | txnlog::End::Eof), "{n}");
    }
    let mut bad = log.clone();
    bad[40] ^= 0xff;
    let e = txnlog::parse(&bad).unwrap_err();
    assert!(matches!(e, txnlog::LogError::Crc { offset: 16, .. }), "{e}");
    let d = write_dir(&sample_snapshot(), &bad);
    let msg = load(d.path(), d.path()).unwrap_err().to_string();
    assert!(msg.contains("log.1") && msg.contains("at byte 16"), "{msg}");
}

#[test]
fn compressed_snapshots() {
    let snap = sample_snapshot();
    use std::io::Write;
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    gz.write_all(&snap).unwrap();
    let gz = gz.finish().unwrap();
    let t = snapshot::decompress(snapshot::Compression::Gzip, &gz).unwrap();
    assert_eq!(t, snap);
    assert!(snapshot::decompress(snapshot::Compression::Gzip, &gz[..gz.len() - 9]).is_err());
    // snappy-java framing: magic, version, compatible version, blocks.
    let mut sn = b"\x82SNAPPY\0".to_vec();
    sn.extend_from_slice(&1i32.to_be_bytes());
    sn.extend_from_slice(&1i32.to_be_bytes());
    for chunk in snap.chunks(50) {
        let c = snap::raw::Encoder::new().compress_vec(chunk).unwrap();
        sn.extend_from_slice(&(c.len() as u32).to_be_bytes());
        sn.extend_from_slice(&c);
    }
    assert_eq!(snapshot::unsnappy(&sn).unwrap(), snap);
    for n in 0..sn.len() - 1 {
        let _ = snapshot::unsnappy(&sn[..n]); // never panics
    }
    assert!(snapshot::unsnappy(&sn[..sn.len() - 3]).is_err());
}

#[test]
fn passwords_match_java_util_random() {
    // new Random(id ^ 0xB3415C00L).nextBytes(16), computed with OpenJDK 17.
    let hex = |v: Vec<u8>| v.iter().map(|b| format!("{b:02x}")).collect::<String>();
    assert_eq!(hex(session_password(0)), "f22acd4a97e69d6d20a49bb638eadb38");
    assert_eq!(
        hex(session_password(0x100)),
        "d817ac50a246528ee5ae584f97165324"
    );
    assert_eq!(
        hex(session_password(0x10000a1b2c3d4e5)),
        "b32e404dca9bbb4c5293f53c7e7c492a"
    );
}

#[test]
fn replay_rules_match_zookeepers_restore() {
    use crate::model::{StatPersisted, ZkNode, ZkTree};
    use crate::txn::{CreateKind, Txn, TxnHeader};
    use std::collections::BTreeSet;
    let node = |cversion| ZkNode {
        data: Some(vec![]),
        acl: Acl::world_all(),
        stat: StatPersisted {
            cversion,
            ..Default::default()
        },
        children: BTreeSet::new(),
    };
    let mut t = ZkTree::default();
    t.insert_loaded("/".into(), node(1)).unwrap();
    t.insert_loaded("/p".into(), node(1)).unwrap();
    t.insert_loaded("/p/a".into(), node(0)).unwrap();
    let hdr = |zxid, typ| TxnHeader {
        client_id: 9,
        cxid: 1,
        zxid,
        time: 77,
        typ,
    };
    let create = |path: &str, pcv, v1| Txn::Create {
        path: path.into(),
        data: None,
        acl: Acl::world_all(),
        ephemeral: false,
        parent_cversion: pcv,
        kind: CreateKind::Normal,
        v1_create: v1,
    };
    let mut st = ReplayStats::default();
    // A create the fuzzy snapshot already holds: plain create fixes the parent's cversion/pzxid.
    t.replay(
        &hdr(10, txn::opcode::CREATE),
        &create("/p/a", 3, true),
        &mut st,
    );
    assert_eq!(
        (t.nodes["/p"].stat.cversion, t.nodes["/p"].stat.pzxid),
        (3, 10)
    );
    // create2 does not (ZooKeeper only adjusts for opcode create).
    t.replay(
        &hdr(11, txn::opcode::CREATE2),
        &create("/p/a", 5, false),
        &mut st,
    );
    assert_eq!(t.nodes["/p"].stat.cversion, 3);
    // An older parentCVersion never moves cversion back; the node is created.
    t.replay(
        &hdr(12, txn::opcode::CREATE),
        &create("/p/b", 2, true),
        &mut st,
    );
    assert!(t.nodes.contains_key("/p/b"));
    assert_eq!(
        (t.nodes["/p"].stat.cversion, t.nodes["/p"].stat.pzxid),
        (3, 10)
    );
    // A multi logged with an error changes nothing.
    let multi = Txn::Multi(vec![create("/p/c", 4, true), Txn::Error { err: -110 }]);
    t.replay(&hdr(13, txn::opcode::MULTI), &multi, &mut st);
    assert!(!t.nodes.contains_key("/p/c"));
    // setData takes the logged version, setACL the logged aversion.
    let set = Txn::SetData {
        path: "/p".into(),
        data: Some(b"d".to_vec()),
        version: 6,
    };
    t.replay(&hdr(14, txn::opcode::SET_DATA), &set, &mut st);
    let acl = Txn::SetAcl {
        path: "/p".into(),
        acl: vec![],
        version: 2,
    };
    t.replay(&hdr(15, txn::opcode::SET_ACL), &acl, &mut st);
    let p = &t.nodes["/p"];
    assert_eq!(
        (p.stat.version, p.stat.mzxid, p.stat.mtime, p.stat.aversion),
        (6, 14, 77, 2)
    );
    // Containers and TTL nodes get ZooKeeper's ephemeralOwner markers.
    let mut c = create("/box", 2, false);
    if let Txn::Create { kind, .. } = &mut c {
        *kind = CreateKind::Container;
    }
    t.replay(&hdr(16, txn::opcode::CREATE_CONTAINER), &c, &mut st);
    assert_eq!(t.nodes["/box"].stat.ephemeral_owner, i64::MIN);
    let mut ttl = create("/ttl", 3, false);
    if let Txn::Create { kind, .. } = &mut ttl {
        *kind = CreateKind::Ttl(5000);
    }
    t.replay(&hdr(17, txn::opcode::CREATE_TTL), &ttl, &mut st);
    assert_eq!(
        t.nodes["/ttl"].stat.ephemeral_owner,
        model::EXTENDED_MASK | 5000
    );
    // Deletes of nodes that are already gone are ignored; the last zxid still advances.
    t.replay(
        &hdr(18, txn::opcode::DELETE),
        &Txn::Delete {
            path: "/nope".into(),
        },
        &mut st,
    );
    assert_eq!(t.last_zxid, 18);
    assert_eq!(st.applied, 9);
}
