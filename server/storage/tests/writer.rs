//! LogWriter: group commit, ordering of truncate/purge with appends, concurrent readers.

mod common;

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{mpsc, Arc, Mutex};

use common::{payload, payload_v, TempDir};
use rzk_storage::{LogOptions, LogStore, LogWriter, StorageError};

type Res = Result<(), StorageError>;

fn waiter() -> (rzk_storage::Done, mpsc::Receiver<Res>) {
    let (tx, rx) = mpsc::channel();
    (
        Box::new(move |r| {
            let _ = tx.send(r);
        }),
        rx,
    )
}

#[test]
fn group_commit_under_contention() {
    const THREADS: u64 = 8;
    const PER_THREAD: u64 = 150;
    let tmp = TempDir::new("group");
    let (store, _) = LogStore::open(tmp.path(), LogOptions::with_segment_bytes(64 * 1024)).unwrap();
    let writer = Arc::new(LogWriter::new(store).unwrap());
    let next_index = Arc::new(Mutex::new(1u64));
    let callbacks = Arc::new(AtomicU64::new(0));
    let stop = Arc::new(AtomicBool::new(false));

    // A concurrent reader: whatever it sees must be correct.
    let reader = writer.reader();
    let stop_r = stop.clone();
    let reader_thread = std::thread::spawn(move || {
        let mut reads = 0u64;
        while !stop_r.load(Ordering::Relaxed) {
            if let Some(last) = reader.last_index() {
                let got = reader.get(last).expect("last index readable");
                assert_eq!(&*got, payload(last).as_slice());
                let r = reader.range(last.saturating_sub(5)..=last);
                assert!(!r.is_empty());
                for (i, d) in r {
                    assert_eq!(&*d, payload(i).as_slice());
                }
                reads += 1;
            }
            std::thread::yield_now();
        }
        reads
    });

    let mut threads = Vec::new();
    for _ in 0..THREADS {
        let writer = writer.clone();
        let next_index = next_index.clone();
        let callbacks = callbacks.clone();
        threads.push(std::thread::spawn(move || {
            let mut mine = Vec::new();
            for _ in 0..PER_THREAD {
                let (done, rx) = waiter();
                let callbacks = callbacks.clone();
                let done: rzk_storage::Done = Box::new(move |r| {
                    callbacks.fetch_add(1, Ordering::SeqCst);
                    done(r)
                });
                let index = {
                    let mut n = next_index.lock().unwrap();
                    let index = *n;
                    *n += 1;
                    // Submit under the mutex so submissions are in index order.
                    writer.append_async(vec![(index, payload(index))], done);
                    index
                };
                // Visible immediately after submission (before durability).
                assert!(writer.reader().get(index).is_some());
                rx.recv().unwrap().unwrap();
                mine.push(index);
            }
            mine
        }));
    }
    let mut all: Vec<u64> = threads
        .into_iter()
        .flat_map(|t| t.join().unwrap())
        .collect();
    stop.store(true, Ordering::Relaxed);
    let reads = reader_thread.join().unwrap();
    assert!(reads > 0);
    all.sort();
    let total = THREADS * PER_THREAD;
    assert_eq!(all, (1..=total).collect::<Vec<_>>());
    assert_eq!(callbacks.load(Ordering::SeqCst), total);

    let stats = writer.stats();
    assert_eq!(stats.appends, total);
    assert_eq!(stats.entries, total);
    assert!(stats.syncs > 0);
    assert!(
        stats.syncs < stats.appends,
        "no group commit happened: {} syncs for {} appends",
        stats.syncs,
        stats.appends
    );
    eprintln!(
        "group commit: {} appends, {} fsyncs",
        stats.appends, stats.syncs
    );

    let writer = Arc::into_inner(writer).unwrap();
    let store = writer.shutdown().unwrap();
    drop(store);
    let (store, report) = LogStore::open(tmp.path(), LogOptions::default()).unwrap();
    assert!(report.truncated.is_empty());
    assert_eq!(store.first_index(), Some(1));
    assert_eq!(store.last_index(), Some(total));
    for i in 1..=total {
        assert_eq!(&*store.get(i).unwrap(), payload(i).as_slice());
    }
}

#[test]
fn callbacks_fire_in_order_and_batch() {
    let tmp = TempDir::new("order");
    let (store, _) = LogStore::open(tmp.path(), LogOptions::default()).unwrap();
    let writer = LogWriter::new(store).unwrap();
    let order = Arc::new(Mutex::new(Vec::new()));
    let (tx, rx) = mpsc::channel();
    for i in 1..=200u64 {
        let order = order.clone();
        let tx = tx.clone();
        writer.append_async(
            vec![(i, payload(i))],
            Box::new(move |r| {
                r.unwrap();
                order.lock().unwrap().push(i);
                let _ = tx.send(());
            }),
        );
    }
    for _ in 0..200 {
        rx.recv().unwrap();
    }
    assert_eq!(*order.lock().unwrap(), (1..=200).collect::<Vec<_>>());
    // 200 requests queued back to back cannot each have needed their own fsync.
    assert!(writer.stats().syncs < 200, "{:?}", writer.stats());
}

#[test]
fn truncate_and_purge_are_ordered_with_appends() {
    let tmp = TempDir::new("ordered");
    let (store, _) = LogStore::open(tmp.path(), LogOptions::with_segment_bytes(512)).unwrap();
    let writer = LogWriter::new(store).unwrap();
    let mut rxs = Vec::new();
    let batch = |from: u64, to: u64, v: u8| {
        (from..=to)
            .map(|i| (i, payload_v(i, v)))
            .collect::<Vec<_>>()
    };

    let (d, rx) = waiter();
    writer.append_async(batch(1, 40, 0), d);
    rxs.push(rx);
    let (d, rx) = waiter();
    writer.truncate_async(25, d);
    rxs.push(rx);
    // Visible at once: 25.. are gone, and appending at 25 is accepted right away.
    assert_eq!(writer.reader().last_index(), Some(24));
    let (d, rx) = waiter();
    writer.append_async(batch(25, 50, 1), d);
    rxs.push(rx);
    let (d, rx) = waiter();
    writer.purge_async(10, d);
    rxs.push(rx);
    assert_eq!(writer.reader().first_index(), Some(11));
    let (d, rx) = waiter();
    writer.append_async(batch(51, 60, 1), d);
    rxs.push(rx);
    let (d, rx) = waiter();
    writer.flush_async(d);
    rxs.push(rx);

    // A bad append fails immediately via its callback and changes nothing.
    let (d, rx) = waiter();
    writer.append_async(batch(70, 71, 0), d);
    assert!(matches!(
        rx.recv().unwrap(),
        Err(StorageError::NonContiguous {
            expected: 61,
            got: 70
        })
    ));

    for rx in rxs {
        rx.recv().unwrap().unwrap();
    }
    drop(writer); // joins the thread

    let (store, _) = LogStore::open(tmp.path(), LogOptions::with_segment_bytes(512)).unwrap();
    assert_eq!(store.first_index(), Some(11));
    assert_eq!(store.last_index(), Some(60));
    for i in 11..=24 {
        assert_eq!(&*store.get(i).unwrap(), payload_v(i, 0).as_slice());
    }
    for i in 25..=60 {
        assert_eq!(&*store.get(i).unwrap(), payload_v(i, 1).as_slice());
    }
}

#[test]
fn shutdown_returns_usable_store() {
    let tmp = TempDir::new("shutdown");
    let (store, _) = LogStore::open(tmp.path(), LogOptions::default()).unwrap();
    let writer = LogWriter::new(store).unwrap();
    let (d, rx) = waiter();
    writer.append_async(vec![(1, b"one".to_vec())], d);
    let mut store = writer.shutdown().unwrap();
    rx.recv().unwrap().unwrap();
    store.append(&[(2, b"two")]).unwrap();
    store.sync().unwrap();
    assert_eq!(store.stats().appends, 2);
    drop(store);
    let (store, _) = LogStore::open(tmp.path(), LogOptions::default()).unwrap();
    assert_eq!(&*store.get(1).unwrap(), b"one");
    assert_eq!(&*store.get(2).unwrap(), b"two");
}

/// Random appends, truncations and purges through the writer with a tiny cache: every read
/// (cache or disk) matches a model of the log at each step, with a reader racing the writer,
/// and after a reopen. Memory holds at most the cache budget of durable entries.
#[test]
fn bounded_cache_reads_match_a_model_through_truncations_and_purges() {
    for budget in [0usize, 300, 4096] {
        let tmp = TempDir::new("bounded-cache");
        let opts = LogOptions {
            cache_bytes: budget,
            ..LogOptions::with_segment_bytes(2048)
        };
        let (store, _) = LogStore::open(tmp.path(), opts.clone()).unwrap();
        let writer = LogWriter::new(store).unwrap();
        let reader = writer.reader();
        // model: index -> version of its payload
        let mut model: std::collections::BTreeMap<u64, u8> = Default::default();
        let mut purged = 0u64;
        let mut rng = 0x9e3779b97f4a7c15u64;
        let mut next = || {
            rng ^= rng << 13;
            rng ^= rng >> 7;
            rng ^= rng << 17;
            rng
        };
        for step in 0..400u32 {
            let version = (step % 200) as u8;
            match next() % 10 {
                0 if model.len() > 4 => {
                    // truncate somewhere in the newest part
                    let last = *model.keys().next_back().unwrap();
                    let from = last - next() % 4;
                    let (d, rx) = waiter();
                    writer.truncate_async(from, d);
                    model.retain(|i, _| *i < from);
                    if step % 3 == 0 {
                        rx.recv().unwrap().unwrap();
                    }
                }
                1 if model.len() > 20 => {
                    let first = *model.keys().next().unwrap();
                    let upto = first + next() % 8;
                    let (d, rx) = waiter();
                    writer.purge_async(upto, d);
                    model.retain(|i, _| *i > upto);
                    purged = purged.max(upto);
                    rx.recv().unwrap().unwrap();
                }
                _ => {
                    let start = model.keys().next_back().map_or(purged + 1, |l| l + 1);
                    let n = 1 + next() % 5;
                    let batch: Vec<(u64, Vec<u8>)> = (start..start + n)
                        .map(|i| (i, payload_v(i, version)))
                        .collect();
                    for (i, _) in &batch {
                        model.insert(*i, version);
                    }
                    let (d, rx) = waiter();
                    writer.append_async(batch, d);
                    if step % 2 == 0 {
                        rx.recv().unwrap().unwrap();
                    }
                }
            }
            // Every retained entry reads back as the model says (some from the cache, some
            // from the files), right now, while the writer may still be working.
            assert_eq!(reader.last_index(), model.keys().next_back().copied());
            let got = reader.try_range(..).unwrap();
            let want: Vec<(u64, Vec<u8>)> =
                model.iter().map(|(i, v)| (*i, payload_v(*i, *v))).collect();
            let got: Vec<(u64, Vec<u8>)> = got.into_iter().map(|(i, d)| (i, d.to_vec())).collect();
            assert_eq!(got, want, "step {step}, budget {budget}");
        }
        let (d, rx) = waiter();
        writer.flush_async(d);
        rx.recv().unwrap().unwrap();
        let stats = reader.stats();
        assert!(
            stats.cached_bytes as usize <= budget.max(200),
            "cache {} over budget {budget}",
            stats.cached_bytes
        );
        if budget == 0 {
            assert!(
                stats.disk_reads > 0,
                "a zero budget must read from the files"
            );
        }
        drop(reader);
        drop(writer);
        let (store, _) = LogStore::open(tmp.path(), opts).unwrap();
        for (i, v) in &model {
            assert_eq!(
                store.get(*i).as_deref(),
                Some(payload_v(*i, *v).as_slice()),
                "entry {i} after reopen"
            );
        }
        assert_eq!(store.last_index(), model.keys().next_back().copied());
    }
}
