//! LogStore: round trips, truncation, purge, torn tails and corruption.

mod common;

use std::path::Path;
use std::sync::Arc;

use common::{
    capture_warnings, copy_dir, flip, init_tracing, payload, payload_v, segment_files,
    segment_first, TempDir,
};
use rzk_storage::{LogOptions, LogStore, StorageError, RECORD_HEADER_LEN, SEGMENT_HEADER_LEN};

/// Small segments, and no cache: every durable entry is read back from the files.
fn small() -> LogOptions {
    LogOptions {
        cache_bytes: 0,
        ..LogOptions::with_segment_bytes(1024)
    }
}

fn open(dir: &Path, opts: LogOptions) -> LogStore {
    LogStore::open(dir, opts).unwrap().0
}

fn append_range(log: &mut LogStore, from: u64, to: u64, version: u8) {
    let payloads: Vec<(u64, Vec<u8>)> = (from..=to).map(|i| (i, payload_v(i, version))).collect();
    // Append in batches of varying size.
    for chunk in payloads.chunks(7) {
        let refs: Vec<(u64, &[u8])> = chunk.iter().map(|(i, p)| (*i, p.as_slice())).collect();
        log.append(&refs).unwrap();
    }
}

fn assert_entries(log: &LogStore, from: u64, to: u64, version: u8) {
    for i in from..=to {
        let got = log.get(i).unwrap_or_else(|| panic!("entry {i} missing"));
        assert_eq!(&*got, payload_v(i, version).as_slice(), "payload of {i}");
    }
}

#[test]
fn round_trip_across_segments_and_ranges() {
    init_tracing();
    let tmp = TempDir::new("roundtrip");
    let (mut log, report) = LogStore::open(tmp.path(), small()).unwrap();
    assert_eq!(report.entries, 0);
    assert_eq!(log.first_index(), None);
    assert_eq!(log.last_index(), None);
    append_range(&mut log, 1, 500, 0);
    log.sync().unwrap();
    assert_eq!(log.first_index(), Some(1));
    assert_eq!(log.last_index(), Some(500));
    let files = segment_files(tmp.path());
    assert!(
        files.len() >= 10,
        "expected many segments, got {}",
        files.len()
    );
    assert_eq!(log.segment_count(), files.len());
    assert_eq!(segment_first(&files[0]), 1);
    for f in &files {
        // A segment only exceeds the limit if it holds a single record.
        assert!(
            std::fs::metadata(f).unwrap().len() <= 1024,
            "{} too big",
            f.display()
        );
    }

    // Range reads with every kind of bound.
    let r = log.range(10..20);
    assert_eq!(
        r.iter().map(|(i, _)| *i).collect::<Vec<_>>(),
        (10..20).collect::<Vec<_>>()
    );
    for (i, d) in &r {
        assert_eq!(&**d, payload(*i).as_slice());
    }
    assert_eq!(log.range(..=3).len(), 3);
    assert_eq!(log.range(498..).len(), 3);
    assert_eq!(log.range(..).len(), 500);
    assert_eq!(log.range(0..1).len(), 0);
    assert_eq!(log.range(501..600).len(), 0);
    assert_eq!(log.range(450..10_000).len(), 51);
    assert!(log.get(0).is_none() && log.get(501).is_none());
    drop(log);

    let (log, report) = LogStore::open(tmp.path(), small()).unwrap();
    assert!(report.truncated.is_empty(), "{report:?}");
    assert!(report.removed_files.is_empty(), "{report:?}");
    assert_eq!(report.entries, 500);
    assert_eq!(report.segments, files.len());
    assert_eq!(log.first_index(), Some(1));
    assert_eq!(log.last_index(), Some(500));
    assert_entries(&log, 1, 500, 0);
    drop(log);

    // Appending after reopen continues the same log.
    let mut log = open(tmp.path(), small());
    append_range(&mut log, 501, 600, 0);
    log.sync().unwrap();
    drop(log);
    let log = open(tmp.path(), small());
    assert_entries(&log, 1, 600, 0);
}

#[test]
fn append_rules() {
    init_tracing();
    let tmp = TempDir::new("rules");
    let mut log = open(tmp.path(), small());
    // Empty log: any start index.
    log.append(&[(42, b"a")]).unwrap();
    let err = log.append(&[(44, b"c")]).unwrap_err();
    assert!(
        matches!(
            err,
            StorageError::NonContiguous {
                expected: 43,
                got: 44
            }
        ),
        "{err}"
    );
    let err = log.append(&[(43, b"b"), (45, b"d")]).unwrap_err();
    assert!(
        matches!(
            err,
            StorageError::NonContiguous {
                expected: 44,
                got: 45
            }
        ),
        "{err}"
    );
    // A rejected batch writes nothing.
    assert_eq!(log.last_index(), Some(42));
    log.append(&[(43, b"b"), (44, b"c")]).unwrap();
    log.append(&[]).unwrap();
    log.sync().unwrap();
    drop(log);
    let log = open(tmp.path(), small());
    assert_eq!(log.first_index(), Some(42));
    assert_eq!(
        log.range(..)
            .iter()
            .map(|(_, d)| d.to_vec())
            .collect::<Vec<_>>(),
        vec![b"a".to_vec(), b"b".to_vec(), b"c".to_vec()]
    );
}

#[test]
fn index_zero_and_large_entries() {
    init_tracing();
    let tmp = TempDir::new("zero");
    let mut log = open(tmp.path(), small());
    let big = vec![7u8; 5000]; // larger than a segment
    log.append(&[(0, b"zero"), (1, &big), (2, b"two")]).unwrap();
    log.sync().unwrap();
    drop(log);
    let log = open(tmp.path(), small());
    assert_eq!(log.first_index(), Some(0));
    assert_eq!(&*log.get(0).unwrap(), b"zero");
    assert_eq!(&*log.get(1).unwrap(), big.as_slice());
    assert_eq!(&*log.get(2).unwrap(), b"two");
}

#[test]
fn truncate_then_append() {
    init_tracing();
    let tmp = TempDir::new("truncate");
    let mut log = open(tmp.path(), small());
    append_range(&mut log, 1, 300, 0);
    log.sync().unwrap();
    let before = segment_files(tmp.path()).len();

    // Truncate in the middle of a segment (not the active one).
    log.truncate_from(150).unwrap();
    assert_eq!(log.last_index(), Some(149));
    assert!(log.get(150).is_none());
    assert!(segment_files(tmp.path()).len() < before);
    append_range(&mut log, 150, 200, 1);
    log.sync().unwrap();
    drop(log);

    let mut log = open(tmp.path(), small());
    assert_eq!(log.last_index(), Some(200));
    assert_entries(&log, 1, 149, 0);
    assert_entries(&log, 150, 200, 1);

    // Truncate exactly at a segment boundary: the whole segment file goes away.
    let files = segment_files(tmp.path());
    let boundary = segment_first(&files[files.len() - 2]);
    log.truncate_from(boundary).unwrap();
    assert_eq!(log.last_index(), Some(boundary - 1));
    assert_eq!(segment_files(tmp.path()).len(), files.len() - 2);
    append_range(&mut log, boundary, boundary + 10, 2);
    log.sync().unwrap();
    drop(log);
    let mut log = open(tmp.path(), small());
    assert_entries(&log, boundary, boundary + 10, 2);
    assert_eq!(log.last_index(), Some(boundary + 10));

    // Truncate beyond the end is a no-op; truncate of everything empties the log.
    log.truncate_from(10_000).unwrap();
    assert_eq!(log.last_index(), Some(boundary + 10));
    log.truncate_from(1).unwrap();
    assert_eq!(log.last_index(), None);
    assert!(segment_files(tmp.path()).is_empty());
    append_range(&mut log, 1, 5, 3);
    log.sync().unwrap();
    drop(log);
    let log = open(tmp.path(), small());
    assert_eq!((log.first_index(), log.last_index()), (Some(1), Some(5)));
    assert_entries(&log, 1, 5, 3);
}

#[test]
fn unsynced_truncate_of_active_segment() {
    init_tracing();
    // Truncating buffered (not yet synced) data must also work.
    let tmp = TempDir::new("truncbuf");
    let mut log = open(tmp.path(), LogOptions::default());
    append_range(&mut log, 1, 20, 0);
    log.truncate_from(11).unwrap();
    append_range(&mut log, 11, 15, 1);
    log.sync().unwrap();
    drop(log);
    let log = open(tmp.path(), LogOptions::default());
    assert_eq!(log.last_index(), Some(15));
    assert_entries(&log, 1, 10, 0);
    assert_entries(&log, 11, 15, 1);
}

#[test]
fn purge_removes_files_and_persists_first_index() {
    init_tracing();
    let tmp = TempDir::new("purge");
    let mut log = open(tmp.path(), small());
    append_range(&mut log, 1, 300, 0);
    log.sync().unwrap();
    let files = segment_files(tmp.path());

    log.purge_upto(170).unwrap();
    assert_eq!(log.first_index(), Some(171));
    assert_eq!(log.last_purged(), Some(170));
    assert!(log.get(170).is_none());
    let after = segment_files(tmp.path());
    assert!(after.len() < files.len());
    // Every remaining file holds something > 170 and the first one still covers 171.
    assert!(segment_first(&after[0]) <= 171);
    if after.len() > 1 {
        assert!(segment_first(&after[1]) > 171);
    }
    // Every file that was removed lay entirely at or below 170.
    for (k, f) in files.iter().enumerate() {
        if !after.contains(f) {
            assert!(
                segment_first(&files[k + 1]) <= 171,
                "{} removed too early",
                f.display()
            );
        }
    }
    drop(log);

    let (mut log, report) = LogStore::open(tmp.path(), small()).unwrap();
    assert!(report.truncated.is_empty());
    assert_eq!(log.first_index(), Some(171));
    assert_eq!(log.last_index(), Some(300));
    assert!(log.get(170).is_none());
    assert_entries(&log, 171, 300, 0);

    // Purging past the end empties the log; appends must then come after the purge point.
    log.purge_upto(1000).unwrap();
    assert_eq!(log.first_index(), None);
    assert!(segment_files(tmp.path()).is_empty());
    let err = log.append(&[(1000, b"x")]).unwrap_err();
    assert!(
        matches!(
            err,
            StorageError::NonContiguous {
                expected: 1001,
                got: 1000
            }
        ),
        "{err}"
    );
    log.append(&[(1001, b"x"), (1002, b"y")]).unwrap();
    log.sync().unwrap();
    // Purge is monotonic.
    log.purge_upto(5).unwrap();
    assert_eq!(log.last_purged(), Some(1000));
    drop(log);
    let log = open(tmp.path(), small());
    assert_eq!(log.first_index(), Some(1001));
    assert_eq!(log.last_index(), Some(1002));
    assert_eq!(log.last_purged(), Some(1000));
}

#[test]
fn truncate_below_purge_point_empties_log() {
    init_tracing();
    let tmp = TempDir::new("trunc-purged");
    let mut log = open(tmp.path(), small());
    append_range(&mut log, 1, 50, 0);
    log.purge_upto(30).unwrap();
    log.truncate_from(20).unwrap();
    assert_eq!(log.last_index(), None);
    assert!(segment_files(tmp.path()).is_empty());
    log.append(&[(31, b"x")]).unwrap();
    log.sync().unwrap();
    drop(log);
    let log = open(tmp.path(), small());
    assert_eq!((log.first_index(), log.last_index()), (Some(31), Some(31)));
}

#[test]
fn interrupted_purge_is_completed_on_open() {
    init_tracing();
    // Simulate a crash after the purge marker was written but before files were deleted:
    // write the marker via a second store on a copy, then restore the old segment files.
    let tmp = TempDir::new("purgecrash");
    let mut log = open(tmp.path(), small());
    append_range(&mut log, 1, 200, 0);
    log.sync().unwrap();
    drop(log);
    let backup = TempDir::new("purgecrash-bak");
    copy_dir(tmp.path(), backup.path());
    let mut log = open(tmp.path(), small());
    log.purge_upto(120).unwrap();
    drop(log);
    copy_dir(backup.path(), tmp.path()); // old segments come back, marker stays
    let (log, report) = LogStore::open(tmp.path(), small()).unwrap();
    assert!(!report.removed_files.is_empty());
    assert_eq!(log.first_index(), Some(121));
    assert_eq!(log.last_index(), Some(200));
    assert_entries(&log, 121, 200, 0);
}

/// Byte offset of each record in a segment file, computed from the documented format.
fn record_offsets(first: u64, last: u64) -> Vec<u64> {
    let mut off = SEGMENT_HEADER_LEN as u64;
    let mut v = Vec::new();
    for i in first..=last {
        v.push(off);
        off += (RECORD_HEADER_LEN + payload(i).len()) as u64;
    }
    v
}

/// Builds a log of 1..=n in several segments; returns (last segment path, its first index).
fn build(dir: &Path, n: u64) -> (std::path::PathBuf, u64) {
    let mut log = open(dir, small());
    append_range(&mut log, 1, n, 0);
    log.sync().unwrap();
    let files = segment_files(dir);
    assert!(files.len() >= 2);
    let last = files.last().unwrap().clone();
    let first = segment_first(&last);
    (last, first)
}

#[test]
fn torn_tail_at_every_offset_of_last_record() {
    init_tracing();
    let pristine = TempDir::new("torn-src");
    let n = 60;
    let (last_seg, seg_first) = build(pristine.path(), n);
    let offsets = record_offsets(seg_first, n);
    let last_off = *offsets.last().unwrap();
    let full_len = std::fs::metadata(&last_seg).unwrap().len();
    assert_eq!(
        full_len,
        last_off + (RECORD_HEADER_LEN + payload(n).len()) as u64
    );
    let seg_name = last_seg.file_name().unwrap().to_owned();

    for cut in last_off..full_len {
        let tmp = TempDir::new("torn");
        copy_dir(pristine.path(), tmp.path());
        let seg = tmp.path().join(&seg_name);
        let f = std::fs::OpenOptions::new().write(true).open(&seg).unwrap();
        f.set_len(cut).unwrap();
        drop(f);

        let ((log, report), warnings) =
            capture_warnings(|| LogStore::open(tmp.path(), small()).unwrap());
        let mut log: LogStore = log;
        assert_eq!(log.last_index(), Some(n - 1), "cut at {cut}");
        assert_entries(&log, 1, n - 1, 0);
        if cut > last_off {
            assert_eq!(report.truncated.len(), 1, "cut at {cut}: {report:?}");
            assert_eq!(report.truncated[0].offset, last_off);
            assert_eq!(report.truncated[0].discarded_bytes, cut - last_off);
            assert!(
                warnings
                    .iter()
                    .any(|w| w.contains(&format!("offset={last_off}"))
                        && w.contains(seg_name.to_str().unwrap())),
                "cut at {cut}: no warning naming file and offset: {warnings:?}"
            );
            assert_eq!(std::fs::metadata(&seg).unwrap().len(), last_off);
        } else {
            assert!(report.truncated.is_empty());
        }
        // Appending continues correctly, and survives another reopen.
        log.append(&[(n, b"replacement"), (n + 1, b"next")])
            .unwrap();
        log.sync().unwrap();
        drop(log);
        let (log, report) = LogStore::open(tmp.path(), small()).unwrap();
        assert!(report.truncated.is_empty(), "cut at {cut}: {report:?}");
        assert_eq!(log.last_index(), Some(n + 1));
        assert_entries(&log, 1, n - 1, 0);
        assert_eq!(&*log.get(n).unwrap(), b"replacement");
        assert_eq!(&*log.get(n + 1).unwrap(), b"next");
    }
}

#[test]
fn torn_segment_header_is_removed() {
    init_tracing();
    let pristine = TempDir::new("torn-hdr-src");
    let (last_seg, seg_first) = build(pristine.path(), 60);
    let seg_name = last_seg.file_name().unwrap().to_owned();
    for cut in 0..=SEGMENT_HEADER_LEN as u64 {
        let tmp = TempDir::new("torn-hdr");
        copy_dir(pristine.path(), tmp.path());
        let seg = tmp.path().join(&seg_name);
        std::fs::OpenOptions::new()
            .write(true)
            .open(&seg)
            .unwrap()
            .set_len(cut)
            .unwrap();
        let (mut log, report) = LogStore::open(tmp.path(), small()).unwrap();
        assert_eq!(log.last_index(), Some(seg_first - 1), "cut {cut}");
        assert!(!seg.exists(), "cut {cut}: torn last segment not removed");
        assert_eq!(report.removed_files.len(), 1);
        append_range(&mut log, seg_first, seg_first + 3, 1);
        log.sync().unwrap();
        drop(log);
        let log = open(tmp.path(), small());
        assert_entries(&log, seg_first, seg_first + 3, 1);
    }
}

#[test]
fn garbage_after_last_record_is_truncated() {
    init_tracing();
    let tmp = TempDir::new("garbage");
    let (last_seg, _) = build(tmp.path(), 60);
    let len = std::fs::metadata(&last_seg).unwrap().len();
    let mut bytes = std::fs::read(&last_seg).unwrap();
    bytes.extend_from_slice(&[0u8; 4096]); // e.g. preallocated zeros
    bytes.extend_from_slice(b"\xde\xad\xbe\xef garbage garbage");
    std::fs::write(&last_seg, bytes).unwrap();
    let (log, report) = LogStore::open(tmp.path(), small()).unwrap();
    assert_eq!(log.last_index(), Some(60));
    assert_eq!(report.truncated.len(), 1);
    assert_eq!(report.truncated[0].offset, len);
    assert_eq!(std::fs::metadata(&last_seg).unwrap().len(), len);
}

#[test]
fn bit_flip_in_last_record_is_truncated_with_warning() {
    init_tracing();
    let pristine = TempDir::new("flip-last-src");
    let n = 60;
    let (last_seg, seg_first) = build(pristine.path(), n);
    let last_off = *record_offsets(seg_first, n).last().unwrap();
    let full_len = std::fs::metadata(&last_seg).unwrap().len();
    let seg_name = last_seg.file_name().unwrap().to_owned();
    // Every byte of the last record (length, crc, index, payload), two different bits.
    for pos in last_off..full_len {
        for mask in [0x01u8, 0x80] {
            let tmp = TempDir::new("flip-last");
            copy_dir(pristine.path(), tmp.path());
            let seg = tmp.path().join(&seg_name);
            flip(&seg, pos, mask);
            let (res, warnings) = capture_warnings(|| LogStore::open(tmp.path(), small()));
            let (log, report) = res.unwrap_or_else(|e| panic!("flip at {pos}/{mask:#x}: {e}"));
            assert_eq!(log.last_index(), Some(n - 1), "flip at {pos}/{mask:#x}");
            assert_entries(&log, 1, n - 1, 0);
            assert_eq!(report.truncated.len(), 1);
            assert_eq!(report.truncated[0].offset, last_off);
            assert!(
                warnings
                    .iter()
                    .any(|w| w.contains("truncating") && w.contains(&format!("offset={last_off}"))),
                "{warnings:?}"
            );
        }
    }
}

#[test]
fn bit_flip_in_middle_record_is_an_error() {
    init_tracing();
    let pristine = TempDir::new("flip-mid-src");
    let n = 60;
    let (last_seg, seg_first) = build(pristine.path(), n);
    let offsets = record_offsets(seg_first, n);
    assert!(offsets.len() >= 3, "last segment needs several records");
    let seg_name = last_seg.file_name().unwrap().to_owned();
    let victim = offsets.len() - 2; // second to last record of the LAST segment
    let start = offsets[victim];
    let end = offsets[victim + 1];
    for pos in start..end {
        let tmp = TempDir::new("flip-mid");
        copy_dir(pristine.path(), tmp.path());
        flip(&tmp.path().join(&seg_name), pos, 0x04);
        match LogStore::open(tmp.path(), small()) {
            Err(StorageError::Corrupt { path, offset, .. }) => {
                assert_eq!(path.file_name().unwrap(), seg_name.as_os_str());
                assert_eq!(offset, start, "flip at {pos}");
            }
            Err(e) => panic!("flip at {pos}: unexpected error {e}"),
            Ok((log, report)) => panic!(
                "flip at {pos}: silently accepted, last={:?} report={report:?}",
                log.last_index()
            ),
        }
        // Nothing was modified by the failed open.
        assert_eq!(
            std::fs::read(tmp.path().join(&seg_name)).unwrap().len() as u64,
            std::fs::metadata(&last_seg).unwrap().len()
        );
    }
}

#[test]
fn damage_in_sealed_segment_or_gap_is_an_error() {
    init_tracing();
    let pristine = TempDir::new("sealed-src");
    build(pristine.path(), 120);
    let files = segment_files(pristine.path());
    assert!(files.len() >= 3);

    // The very last record of a sealed (non-last) segment: not a tail, must be an error.
    let name = files[0].file_name().unwrap().to_owned();
    let tmp = TempDir::new("sealed");
    copy_dir(pristine.path(), tmp.path());
    let p = tmp.path().join(&name);
    let len = std::fs::metadata(&p).unwrap().len();
    flip(&p, len - 1, 0x10);
    let err = LogStore::open(tmp.path(), small()).unwrap_err();
    assert!(matches!(err, StorageError::Corrupt { .. }), "{err}");

    // A sealed segment that lost its tail.
    let tmp = TempDir::new("sealed-torn");
    copy_dir(pristine.path(), tmp.path());
    let p = tmp.path().join(&name);
    std::fs::OpenOptions::new()
        .write(true)
        .open(&p)
        .unwrap()
        .set_len(len - 3)
        .unwrap();
    let err = LogStore::open(tmp.path(), small()).unwrap_err();
    assert!(matches!(err, StorageError::Corrupt { .. }), "{err}");

    // A missing middle segment is a gap.
    let tmp = TempDir::new("gap");
    copy_dir(pristine.path(), tmp.path());
    std::fs::remove_file(tmp.path().join(files[1].file_name().unwrap())).unwrap();
    let err = LogStore::open(tmp.path(), small()).unwrap_err();
    assert!(
        matches!(err, StorageError::Corrupt { ref reason, .. } if reason.contains("gap")),
        "{err}"
    );

    // A segment whose name disagrees with its header.
    let tmp = TempDir::new("rename");
    copy_dir(pristine.path(), tmp.path());
    let last = files.last().unwrap();
    let first = segment_first(last);
    std::fs::rename(
        tmp.path().join(last.file_name().unwrap()),
        tmp.path().join(format!("log.{:020}", first + 1)),
    )
    .unwrap();
    let err = LogStore::open(tmp.path(), small()).unwrap_err();
    assert!(matches!(err, StorageError::Corrupt { .. }), "{err}");

    // Garbage header on a sealed segment.
    let tmp = TempDir::new("badmagic");
    copy_dir(pristine.path(), tmp.path());
    flip(&tmp.path().join(&name), 0, 0xff);
    let err = LogStore::open(tmp.path(), small()).unwrap_err();
    assert!(
        matches!(err, StorageError::Corrupt { offset: 0, .. }),
        "{err}"
    );
}

#[test]
fn arbitrary_file_content_never_panics() {
    init_tracing();
    // Random garbage in the last segment and in the purge marker: open may fail or
    // truncate, but must not panic.
    let mut x: u64 = 0x9e37_79b9_7f4a_7c15;
    let mut next = || {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        x
    };
    for round in 0..200 {
        let tmp = TempDir::new("fuzz");
        let mut bytes = b"RZKL\x01\x00\x00\x00\x01\x00\x00\x00\x00\x00\x00\x00".to_vec();
        let len = (next() % 300) as usize;
        bytes.extend((0..len).map(|_| next() as u8));
        if round % 3 == 0 {
            // A plausible record header followed by junk.
            bytes.truncate(16);
            bytes.extend_from_slice(&(next() as u32 % 64).to_le_bytes());
            bytes.extend_from_slice(&(next() as u32).to_le_bytes());
            bytes.extend_from_slice(&1u64.to_le_bytes());
            bytes.extend((0..len % 80).map(|_| next() as u8));
        }
        std::fs::write(tmp.path().join("log.00000000000000000001"), &bytes).unwrap();
        if round % 5 == 0 {
            std::fs::write(
                tmp.path().join("purged"),
                (0..len % 40).map(|_| next() as u8).collect::<Vec<_>>(),
            )
            .unwrap();
        }
        let _ = LogStore::open(tmp.path(), small());
    }
}

#[test]
fn reader_handle_sees_appends() {
    init_tracing();
    let tmp = TempDir::new("reader");
    let mut log = open(tmp.path(), small());
    let reader = log.reader();
    assert_eq!(reader.last_index(), None);
    append_range(&mut log, 1, 10, 0);
    assert_eq!(reader.last_index(), Some(10));
    let h = std::thread::spawn(move || reader.range(3..=4));
    let got: Vec<(u64, Arc<[u8]>)> = h.join().unwrap();
    assert_eq!(got.len(), 2);
    assert_eq!(&*got[0].1, payload(3).as_slice());
    assert_eq!(log.stats().appends, 2); // 10 entries in chunks of 7
    assert_eq!(log.stats().entries, 10);
}

/// Rewrites every segment of `dir` as rzk 0.1.0 wrote it: header version 1, same records.
fn downgrade_segments_to_v1(dir: &Path) {
    for path in segment_files(dir) {
        let mut b = std::fs::read(&path).unwrap();
        b[4..8].copy_from_slice(&1u32.to_le_bytes());
        std::fs::write(&path, b).unwrap();
    }
}

#[test]
fn version_1_segments_are_read_with_the_prefix_and_never_appended_to() {
    init_tracing();
    let tmp = TempDir::new("v1-segments");
    {
        let mut log = open(tmp.path(), small());
        append_range(&mut log, 1, 30, 1);
        log.sync().unwrap();
    }
    downgrade_segments_to_v1(tmp.path());
    let v1_files = segment_files(tmp.path());
    let opts = LogOptions {
        v1_payload_prefix: vec![0xA1],
        ..small()
    };
    let mut log = open(tmp.path(), opts.clone());
    for i in 1..=30 {
        let mut want = vec![0xA1];
        want.extend_from_slice(&payload_v(i, 1));
        assert_eq!(&*log.get(i).unwrap(), want.as_slice(), "v1 entry {i}");
    }
    // New entries go to a new (version 2) segment, stored as given.
    append_range(&mut log, 31, 35, 2);
    log.sync().unwrap();
    assert_entries(&log, 31, 35, 2);
    let files = segment_files(tmp.path());
    assert_eq!(
        files.len(),
        v1_files.len() + 1,
        "a new segment after the v1 ones"
    );
    let newest = std::fs::read(files.last().unwrap()).unwrap();
    assert_eq!(&newest[4..8], &rzk_storage::SEGMENT_VERSION.to_le_bytes());
    assert_eq!(segment_first(files.last().unwrap()), 31);
    // Reopen: both kinds read back; truncating into the v1 segment keeps it v1 and the
    // replacement entries start a v2 segment again.
    drop(log);
    let mut log = open(tmp.path(), opts.clone());
    assert_eq!(log.get(30).unwrap()[0], 0xA1);
    assert_entries(&log, 31, 35, 2);
    log.truncate_from(29).unwrap();
    append_range(&mut log, 29, 33, 3);
    log.sync().unwrap();
    drop(log);
    let log = open(tmp.path(), opts);
    assert_eq!(log.get(28).unwrap()[0], 0xA1);
    assert_entries(&log, 29, 33, 3);
    assert_eq!(log.last_index(), Some(33));
}

#[test]
fn unknown_segment_version_is_a_clear_error() {
    init_tracing();
    let tmp = TempDir::new("v9-segment");
    {
        let mut log = open(tmp.path(), small());
        append_range(&mut log, 1, 3, 1);
        log.sync().unwrap();
    }
    let path = segment_files(tmp.path()).remove(0);
    let mut b = std::fs::read(&path).unwrap();
    b[4..8].copy_from_slice(&9u32.to_le_bytes());
    std::fs::write(&path, b).unwrap();
    match LogStore::open(tmp.path(), small()) {
        Err(StorageError::Corrupt { reason, .. }) => {
            assert!(reason.contains("unsupported version 9"), "{reason}")
        }
        other => panic!("expected Corrupt, got {other:?}"),
    }
}
