//! A data dir written by Apache ZooKeeper 3.8 (tests/migrate/make_fixture.py): a snapshot
//! taken at a restart and log files around it, with the stats kazoo read before the kill.

use std::path::{Path, PathBuf};

fn fixture() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/zk38")
}

#[test]
fn loads_as_zookeeper_did() {
    let (zk, report) = rzk_zkfiles::load(&fixture(), &fixture()).unwrap();
    assert_eq!(report.snapshot_zxid, 10);
    assert_eq!(
        report.logs.len(),
        2,
        "the log covering the snapshot and the one after"
    );
    assert!(report.torn_tails.is_empty());
    let tree = rzk_zkfiles::to_data_tree(&zk, 1 << 20).unwrap();
    let expected = std::fs::read_to_string(fixture().join("expected.txt")).unwrap();
    let mut n = 0;
    for line in expected.lines().filter(|l| !l.starts_with('#')) {
        let f: Vec<&str> = line.split(' ').collect();
        let num = |i: usize| f[i].parse::<i64>().unwrap();
        let st = tree
            .exists(f[0])
            .unwrap_or_else(|| panic!("{} missing", f[0]));
        let got = [
            st.data_length as i64,
            st.version as i64,
            st.cversion as i64,
            st.aversion as i64,
            (st.ephemeral_owner != 0) as i64,
            st.czxid,
            st.mzxid,
        ];
        let want: Vec<i64> = (1..8).map(num).collect();
        assert_eq!(got.to_vec(), want, "{}", f[0]);
        n += 1;
    }
    // Everything kazoo saw, plus /zookeeper/config, and nothing else (/gone's session closed,
    // the failed multi created nothing).
    assert_eq!(tree.node_count(), n + 1);
    let live = tree.exists("/live").unwrap().ephemeral_owner;
    assert!(tree.session(live).is_some(), "the live session survives");
    assert_eq!(tree.sessions().len(), 1);
    let ttl = tree.node("/ttl").unwrap();
    assert_eq!(ttl.ttl(), Some(600_000));
    assert!(tree.node("/box").unwrap().is_container());
    let acl = &tree.node("/acl").unwrap().acl;
    assert_eq!(acl[0].id.scheme, "digest");
    assert!(acl[0].id.id.starts_with("u:"));
}

#[test]
fn every_truncation_of_every_file_is_an_error_or_a_torn_tail_never_a_panic() {
    let src = fixture().join("version-2");
    let dir = tempfile::tempdir().unwrap();
    let v2 = dir.path().join("version-2");
    for name in ["snapshot.a", "log.1", "log.b"] {
        let full = std::fs::read(src.join(name)).unwrap();
        for cut in (0..full.len()).step_by(7) {
            let _ = std::fs::remove_dir_all(&v2);
            std::fs::create_dir_all(&v2).unwrap();
            for other in ["snapshot.a", "log.1", "log.b"] {
                std::fs::copy(src.join(other), v2.join(other)).unwrap();
            }
            std::fs::write(v2.join(name), &full[..cut]).unwrap();
            match rzk_zkfiles::load(dir.path(), dir.path()) {
                Ok(_) => assert!(name.starts_with("log"), "{name} cut at {cut} loaded"),
                Err(e) => {
                    let msg = e.to_string();
                    assert!(msg.contains(name), "{msg}");
                }
            }
        }
    }
}

#[test]
fn replayed_tree_has_zookeepers_digest() {
    let (_, report) = rzk_zkfiles::load(&fixture(), &fixture()).unwrap();
    let d = report.digest.expect("ZooKeeper 3.8 logs digests");
    assert!(d.matches(), "{d:?}");
}

#[test]
fn every_flipped_byte_is_refused_or_harmless_never_a_panic() {
    let src = fixture().join("version-2");
    for name in ["snapshot.a", "log.b"] {
        let full = std::fs::read(src.join(name)).unwrap();
        for i in 0..full.len() {
            let mut b = full.clone();
            b[i] ^= 0x5a;
            if name.starts_with("snapshot") {
                // Always caught: by the structure or by the Adler-32 seal.
                assert!(rzk_zkfiles::snapshot::parse(&b, 10).is_err(), "flip at {i}");
            } else {
                // A flip inside a record's length or marker can read as a torn tail; anything
                // else is a checksum error.
                let _ = rzk_zkfiles::txnlog::parse(&b);
            }
        }
    }
}
