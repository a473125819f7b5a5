//! Crash test: a child process appends through a LogWriter and prints every index after
//! its completion callback (i.e. after fsync); the parent SIGKILLs it at a random moment,
//! reopens the log and checks that every acknowledged index survived with its payload.

mod common;

use std::collections::BTreeSet;
use std::io::{Read, Write};
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use common::{payload, TempDir};
use rzk_storage::{LogOptions, LogStore, LogWriter};

const CHILD_ENV: &str = "RZK_STORAGE_CRASH_CHILD_DIR";
const ROUNDS: usize = 20;

fn opts() -> LogOptions {
    LogOptions {
        // Small segments so that kills also land around segment rotation, and a tiny
        // write buffer so that records reach the file in many small writes (a kill can
        // then leave a torn record behind).
        segment_bytes: 16 * 1024,
        write_buffer_bytes: 48,
        ..LogOptions::default()
    }
}

/// The child side. A no-op unless the parent set `CHILD_ENV`.
#[test]
fn child_writer() {
    let Ok(dir) = std::env::var(CHILD_ENV) else {
        return;
    };
    let (store, _) = LogStore::open(std::path::Path::new(&dir), opts()).expect("child open");
    let mut next = store.last_index().map_or(1, |l| l + 1);
    let writer = LogWriter::new(store).expect("writer");
    {
        let mut out = std::io::stdout().lock();
        writeln!(out, "READY").expect("stdout");
        out.flush().expect("stdout");
    }
    let acked = Arc::new(AtomicU64::new(0));
    let mut submitted = 0u64;
    let deadline = Instant::now() + Duration::from_secs(10); // safety net only
    while Instant::now() < deadline {
        // Keep a bounded number of requests in flight so batches form.
        while submitted - acked.load(Ordering::Acquire) > 256 {
            std::thread::sleep(Duration::from_micros(200));
        }
        let n = 1 + next % 16;
        let entries: Vec<(u64, Vec<u8>)> = (next..next + n).map(|i| (i, payload(i))).collect();
        let first = next;
        let acked = acked.clone();
        writer.append_async(
            entries,
            Box::new(move |r| {
                r.expect("append failed");
                let mut out = std::io::stdout().lock();
                for i in first..first + n {
                    writeln!(out, "ACK {i}").expect("stdout");
                }
                out.flush().expect("stdout");
                acked.fetch_add(1, Ordering::Release);
            }),
        );
        submitted += 1;
        next += n;
    }
}

struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
}

#[test]
fn sigkill_never_loses_acknowledged_entries() {
    let tmp = TempDir::new("crash");
    let exe = std::env::current_exe().unwrap();
    let seed = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_nanos() as u64
        | 1;
    let mut rng = Rng(seed);
    let mut acked: BTreeSet<u64> = BTreeSet::new();
    let mut truncations = 0;

    for round in 0..ROUNDS {
        let mut child = Command::new(&exe)
            .args(["--exact", "child_writer", "--nocapture", "--test-threads=1"])
            .env(CHILD_ENV, tmp.path())
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let mut stdout = child.stdout.take().unwrap();
        let (ready_tx, ready_rx) = std::sync::mpsc::channel();
        let reader = std::thread::spawn(move || {
            let mut s = Vec::new();
            let mut buf = [0u8; 4096];
            let mut signalled = false;
            loop {
                match stdout.read(&mut buf) {
                    Ok(0) | Err(_) => break,
                    Ok(n) => s.extend_from_slice(&buf[..n]),
                }
                if !signalled && s.windows(6).any(|w| w == b"READY\n") {
                    signalled = true;
                    let _ = ready_tx.send(());
                }
            }
            s
        });
        // Kill at a random moment after the child has opened the log and started writing.
        ready_rx
            .recv_timeout(Duration::from_secs(20))
            .unwrap_or_else(|_| panic!("round {round}: child never became ready"));
        let delay = Duration::from_micros(rng.next() % 60_000);
        std::thread::sleep(delay);
        child.kill().unwrap(); // SIGKILL
        child.wait().unwrap();
        let out = reader.join().unwrap();
        let text = String::from_utf8_lossy(&out);
        // Only complete lines count; a line cut by the kill is ignored.
        let complete = match text.rfind('\n') {
            Some(p) => &text[..=p],
            None => "",
        };
        let mut this_round = 0;
        for line in complete.lines() {
            if let Some(i) = line.strip_prefix("ACK ") {
                acked.insert(i.parse().unwrap());
                this_round += 1;
            }
        }

        let (store, report) = LogStore::open(tmp.path(), opts())
            .unwrap_or_else(|e| panic!("round {round} (seed {seed}): reopen failed: {e}"));
        truncations += report.truncated.len();
        for &i in &acked {
            let got = store.get(i).unwrap_or_else(|| {
                panic!("round {round} (seed {seed}): acknowledged index {i} lost")
            });
            assert_eq!(
                &*got,
                payload(i).as_slice(),
                "round {round} (seed {seed}): payload of {i}"
            );
        }
        // Whatever survived beyond the acks is an intact prefix of what was written.
        if let (Some(first), Some(last)) = (store.first_index(), store.last_index()) {
            assert_eq!(first, 1);
            for (i, d) in store.range(..) {
                assert_eq!(
                    &*d,
                    payload(i).as_slice(),
                    "round {round}: unacked entry {i} damaged"
                );
            }
            assert!(acked.last().is_none_or(|&a| a <= last));
        }
        eprintln!(
            "round {round}: killed after {delay:?}, {this_round} new acks, log now {:?}..={:?}, report {:?}",
            store.first_index(),
            store.last_index(),
            report.truncated
        );
    }
    assert!(
        acked.len() > 100,
        "children acknowledged too little ({}) to mean anything",
        acked.len()
    );
    eprintln!("total acked {}, tails truncated {truncations}", acked.len());
}
