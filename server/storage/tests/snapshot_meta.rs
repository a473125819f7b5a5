//! SnapshotStore and MetaStore.

mod common;

use common::{capture_warnings, flip, init_tracing, TempDir};
use rzk_storage::{MetaStore, SnapshotId, SnapshotOptions, SnapshotStore, StorageError};

fn data(i: u64) -> Vec<u8> {
    (0..(1000 + i * 10))
        .map(|k| (k as u8) ^ (i as u8))
        .collect()
}

#[test]
fn snapshot_retention_and_corruption_fallback() {
    init_tracing();
    let tmp = TempDir::new("snap");
    let store = SnapshotStore::open(tmp.path(), SnapshotOptions::default()).unwrap();
    assert!(store.load_latest().unwrap().is_none());
    for i in [10u64, 20, 30, 40] {
        let id = store
            .save(i, format!("meta-{i}").as_bytes(), &data(i))
            .unwrap();
        assert_eq!(id, SnapshotId(i));
    }
    // Only the newest 3 are kept.
    assert_eq!(
        store.list().unwrap(),
        vec![SnapshotId(20), SnapshotId(30), SnapshotId(40)]
    );
    assert!(!store.path_of(SnapshotId(10)).exists());
    let names: Vec<String> = std::fs::read_dir(tmp.path())
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .collect();
    assert_eq!(names.len(), 3, "no temp files left behind: {names:?}");

    let s = store.load_latest().unwrap().unwrap();
    assert_eq!(s.id, SnapshotId(40));
    assert_eq!(s.meta, b"meta-40");
    assert_eq!(s.data, data(40));

    // Corrupt the newest: a single bit in the data.
    flip(&store.path_of(SnapshotId(40)), 500, 0x01);
    let err = store.load(SnapshotId(40)).unwrap_err();
    assert!(matches!(err, StorageError::Corrupt { .. }), "{err}");
    let (latest, warnings) = capture_warnings(|| store.load_latest().unwrap().unwrap());
    assert_eq!(latest.id, SnapshotId(30));
    assert_eq!(latest.meta, b"meta-30");
    assert_eq!(latest.data, data(30));
    assert!(
        warnings.iter().any(|w| w.contains("corrupt")),
        "{warnings:?}"
    );

    // A partially written one (e.g. truncated copy) is skipped too.
    let p30 = store.path_of(SnapshotId(30));
    let len = std::fs::metadata(&p30).unwrap().len();
    std::fs::OpenOptions::new()
        .write(true)
        .open(&p30)
        .unwrap()
        .set_len(len / 2)
        .unwrap();
    assert_eq!(store.load_latest().unwrap().unwrap().id, SnapshotId(20));

    // Reopen: stale temp files are removed, data still readable.
    std::fs::write(tmp.path().join("snap.00000000000000000050.tmp"), b"partial").unwrap();
    let store = SnapshotStore::open(tmp.path(), SnapshotOptions { keep: 2 }).unwrap();
    assert!(!tmp.path().join("snap.00000000000000000050.tmp").exists());
    assert_eq!(store.load_latest().unwrap().unwrap().id, SnapshotId(20));
    // Saving with keep=2 prunes down to 2 (by index, regardless of validity).
    store.save(50, b"m50", b"d50").unwrap();
    assert_eq!(store.list().unwrap(), vec![SnapshotId(40), SnapshotId(50)]);
    let s = store.load_latest().unwrap().unwrap();
    assert_eq!(
        (s.id, s.meta.as_slice(), s.data.as_slice()),
        (SnapshotId(50), &b"m50"[..], &b"d50"[..])
    );
}

#[test]
fn snapshot_header_damage_and_empty_parts() {
    init_tracing();
    let tmp = TempDir::new("snap-hdr");
    let store = SnapshotStore::open(tmp.path(), SnapshotOptions::default()).unwrap();
    store.save(1, b"", b"").unwrap();
    assert_eq!(store.load(SnapshotId(1)).unwrap().unwrap().data, b"");
    store.save(2, b"meta", b"data").unwrap();
    // Each header byte of the newest: every flip must be detected.
    let p = store.path_of(SnapshotId(2));
    let len = std::fs::metadata(&p).unwrap().len();
    for pos in 0..len {
        flip(&p, pos, 0x20);
        assert!(
            matches!(store.load(SnapshotId(2)), Err(StorageError::Corrupt { .. })),
            "flip at {pos} undetected"
        );
        assert_eq!(store.load_latest().unwrap().unwrap().id, SnapshotId(1));
        flip(&p, pos, 0x20);
    }
    assert_eq!(store.load_latest().unwrap().unwrap().id, SnapshotId(2));
    // A snapshot file renamed to a different index is rejected.
    std::fs::copy(&p, store.path_of(SnapshotId(3))).unwrap();
    assert!(matches!(
        store.load(SnapshotId(3)),
        Err(StorageError::Corrupt { .. })
    ));
    assert_eq!(store.load_latest().unwrap().unwrap().id, SnapshotId(2));
}

#[test]
fn meta_save_load_and_corruption() {
    init_tracing();
    let tmp = TempDir::new("meta");
    let meta = MetaStore::open(tmp.path()).unwrap();
    assert_eq!(meta.load("vote").unwrap(), None);
    meta.save("vote", b"term=1").unwrap();
    meta.save("committed", &42u64.to_le_bytes()).unwrap();
    meta.save("empty", b"").unwrap();
    assert_eq!(meta.load("vote").unwrap().unwrap(), b"term=1");
    meta.save("vote", b"term=2;node=3").unwrap();
    assert_eq!(meta.load("vote").unwrap().unwrap(), b"term=2;node=3");
    assert_eq!(meta.load("empty").unwrap().unwrap(), b"");

    // Survives reopen; a leftover temp file (crash mid-save) is ignored and cleaned.
    std::fs::write(tmp.path().join("vote.tmp"), b"half-written").unwrap();
    let meta = MetaStore::open(tmp.path()).unwrap();
    assert!(!tmp.path().join("vote.tmp").exists());
    assert_eq!(meta.load("vote").unwrap().unwrap(), b"term=2;node=3");
    assert_eq!(
        meta.load("committed").unwrap().unwrap(),
        42u64.to_le_bytes()
    );

    // Any single bit flip is an error, never a wrong value.
    let p = tmp.path().join("vote");
    let len = std::fs::metadata(&p).unwrap().len();
    for pos in 0..len {
        flip(&p, pos, 0x08);
        let r = meta.load("vote");
        assert!(
            matches!(r, Err(StorageError::Corrupt { .. })),
            "flip at {pos}: {r:?}"
        );
        flip(&p, pos, 0x08);
    }
    // Truncated file.
    std::fs::OpenOptions::new()
        .write(true)
        .open(&p)
        .unwrap()
        .set_len(len - 1)
        .unwrap();
    let err = meta.load("vote").unwrap_err();
    assert!(
        matches!(err, StorageError::Corrupt { ref path, .. } if path == &p),
        "{err}"
    );
    // Saving again repairs it.
    meta.save("vote", b"term=3").unwrap();
    assert_eq!(meta.load("vote").unwrap().unwrap(), b"term=3");

    meta.remove("vote").unwrap();
    assert_eq!(meta.load("vote").unwrap(), None);
    meta.remove("vote").unwrap();

    for bad in ["", "../x", "a/b", "-x", "x.tmp", &"n".repeat(65)] {
        assert!(
            matches!(meta.save(bad, b"v"), Err(StorageError::InvalidName(_))),
            "{bad:?}"
        );
    }
}

#[test]
fn version_1_meta_values_are_read_with_the_prefix() {
    let tmp = TempDir::new("meta-v1");
    let store = MetaStore::open(tmp.path()).unwrap();
    store.save("vote", b"legacy").unwrap();
    // Turn the file into what rzk 0.1.0 wrote: version 1, crc over the header with version 1.
    let path = tmp.path().join("vote");
    let mut b = std::fs::read(&path).unwrap();
    b[4..8].copy_from_slice(&1u32.to_le_bytes());
    let mut h = crc32fast::Hasher::new();
    h.update(&b[0..12]);
    h.update(&b[16..]);
    let crc = h.finalize();
    b[12..16].copy_from_slice(&crc.to_le_bytes());
    std::fs::write(&path, b).unwrap();
    let store = MetaStore::open_with_v1_prefix(tmp.path(), vec![1]).unwrap();
    assert_eq!(store.load("vote").unwrap().unwrap(), b"\x01legacy".to_vec());
    // A value saved now is stored (version 2) and returned as given.
    store.save("vote", b"\x02new").unwrap();
    assert_eq!(store.load("vote").unwrap().unwrap(), b"\x02new".to_vec());
    assert_eq!(&std::fs::read(&path).unwrap()[4..8], &2u32.to_le_bytes());
}
