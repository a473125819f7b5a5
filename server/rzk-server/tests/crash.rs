//! Durability under SIGKILL: every create the server acknowledged must survive a
//! crash at a random moment, round after round, on the same data directory.
//!
//! Each round: a writer (zookeeper-client; a few tasks, each with several pipelined
//! async creates) creates `/crash/r<round>-<i>` and records every create that got
//! a success reply; a random delay (50-800 ms, seeded, printed) after the first
//! acknowledgement the server is SIGKILLed
//! and restarted (the harness fails if it does not come back, e.g. on an
//! unrepaired torn log tail); then every acknowledged znode of every round so far
//! must exist with its data, and nothing a reader saw after an earlier restart may
//! have disappeared. Odd rounds run with `rzk.snapshotEveryEntries=200` so that
//! snapshot + log-suffix replay is exercised; even rounds with the default.
//!
//! `RZK_CRASH_ROUNDS` (default 10) sets the number of rounds, `RZK_CRASH_SEED`
//! replays a run.

mod common;

use common::Server;
use futures_util::stream::{FuturesUnordered, StreamExt};
use rand::{rngs::StdRng, Rng, SeedableRng};
use std::collections::BTreeSet;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use zookeeper_client::{Acls, Client, CreateMode, CreateOptions, Error};

const PERSISTENT: CreateOptions<'static> = CreateMode::Persistent.with_acls(Acls::anyone_all());
const WRITER_TASKS: usize = 4;
/// Outstanding creates per writer task (`RZK_CRASH_INFLIGHT` overrides).
const IN_FLIGHT_PER_TASK: usize = 4;
/// Above this many children the per-round "nothing disappeared" listing is skipped
/// (one getChildren reply must stay well below jute.maxbuffer).
const LIST_LIMIT: usize = 40_000;

fn payload(round: u32, i: u64) -> Vec<u8> {
    let mut v = format!("round={round} i={i};").into_bytes();
    let extra = (i.wrapping_mul(7919) % 300) as usize;
    v.extend((0..extra).map(|k| b'a' + ((i as usize + k) % 26) as u8));
    v
}

fn snapshot_cfg(round: u32) -> Option<&'static str> {
    (round % 2 == 1).then_some("200")
}

async fn connect(srv: &Server) -> Client {
    Client::connector()
        .with_session_timeout(Duration::from_secs(10))
        .connect(&srv.connect_string())
        .await
        .unwrap_or_else(|e| panic!("connect to {}: {e}", srv.connect_string()))
}

struct RoundResult {
    acked: Vec<(String, Vec<u8>)>,
    attempted: u64,
}

/// Runs the writer against the live server, SIGKILLs the server after `delay`, and
/// returns what was acknowledged. Errors before the kill fail the test.
async fn write_then_kill(
    srv: &mut Server,
    round: u32,
    delay: Duration,
    in_flight: usize,
) -> RoundResult {
    let client = connect(srv).await;
    let acked = Arc::new(Mutex::new(Vec::new()));
    let early_errors = Arc::new(Mutex::new(Vec::new()));
    let next = Arc::new(AtomicU64::new(0));
    let stop = Arc::new(AtomicBool::new(false));
    let killed = Arc::new(AtomicBool::new(false));
    let mut tasks = Vec::new();
    for _ in 0..WRITER_TASKS {
        let (client, acked, early_errors) = (client.clone(), acked.clone(), early_errors.clone());
        let (next, stop, killed) = (next.clone(), stop.clone(), killed.clone());
        tasks.push(tokio::spawn(async move {
            let mut inflight = FuturesUnordered::new();
            loop {
                while !stop.load(Ordering::SeqCst) && inflight.len() < in_flight {
                    let i = next.fetch_add(1, Ordering::SeqCst);
                    let path = format!("/crash/r{round}-{i}");
                    let data = payload(round, i);
                    let c = client.clone();
                    inflight.push(async move {
                        let r = c.create(&path, &data, &PERSISTENT).await;
                        (path, data, r)
                    });
                }
                match inflight.next().await {
                    None => break,
                    Some((path, data, Ok(_))) => acked.lock().unwrap().push((path, data)),
                    Some((path, _, Err(e))) => {
                        if !killed.load(Ordering::SeqCst) {
                            early_errors.lock().unwrap().push(format!("{path}: {e}"));
                        }
                        stop.store(true, Ordering::SeqCst);
                    }
                }
            }
        }));
    }
    // The random delay starts at the first acknowledgement, so no round is vacuous.
    let first_ack = Instant::now();
    while acked.lock().unwrap().is_empty() {
        assert!(
            early_errors.lock().unwrap().is_empty(),
            "creates failed: {:?}",
            early_errors.lock().unwrap()
        );
        assert!(
            first_ack.elapsed() < Duration::from_secs(20),
            "round {round}: no create acknowledged within 20s"
        );
        tokio::time::sleep(Duration::from_millis(2)).await;
    }
    tokio::time::sleep(delay).await;
    killed.store(true, Ordering::SeqCst);
    tokio::task::block_in_place(|| srv.kill9());
    stop.store(true, Ordering::SeqCst);
    for t in tasks {
        tokio::time::timeout(Duration::from_secs(20), t)
            .await
            .expect("writer tasks did not finish after the kill")
            .expect("writer task panicked");
    }
    drop(client);
    let early = early_errors.lock().unwrap().clone();
    assert!(
        early.is_empty(),
        "creates failed before the server was killed: {:?}",
        &early[..early.len().min(10)]
    );
    let acked = std::mem::take(&mut *acked.lock().unwrap());
    RoundResult {
        acked,
        attempted: next.load(Ordering::SeqCst),
    }
}

/// Reads every acknowledged znode (pipelined) and returns the problems found.
async fn verify(c: &Client, acked: &[(String, Vec<u8>)]) -> Vec<String> {
    let mut problems = Vec::new();
    for chunk in acked.chunks(256) {
        let mut reads: FuturesUnordered<_> = chunk
            .iter()
            .map(|(path, data)| {
                let c = c.clone();
                async move { (path, data, c.get_data(path).await) }
            })
            .collect();
        while let Some((path, want, got)) = reads.next().await {
            match got {
                Ok((data, _)) if &data == want => {}
                Ok((data, _)) => problems.push(format!(
                    "{path}: data mismatch ({} bytes, want {})",
                    data.len(),
                    want.len()
                )),
                Err(Error::NoNode) => problems.push(format!("{path}: acknowledged but missing")),
                Err(e) => problems.push(format!("{path}: read failed: {e}")),
            }
        }
    }
    problems
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn acknowledged_creates_survive_sigkill() {
    let rounds: u32 = std::env::var("RZK_CRASH_ROUNDS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(10);
    let seed: u64 = std::env::var("RZK_CRASH_SEED")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or_else(|| {
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .unwrap()
                .as_nanos() as u64
        });
    let in_flight: usize = std::env::var("RZK_CRASH_INFLIGHT")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(IN_FLIGHT_PER_TASK);
    println!(
        "crash test: rounds={rounds} seed={seed} writers={WRITER_TASKS}x{in_flight} in flight (replay with RZK_CRASH_SEED={seed})"
    );
    let mut rng = StdRng::seed_from_u64(seed);
    let started = Instant::now();

    assert_eq!(snapshot_cfg(0), None);
    let mut srv = tokio::task::block_in_place(Server::start);
    {
        let c = connect(&srv).await;
        c.create("/crash", b"", &PERSISTENT).await.unwrap();
    }

    let mut all_acked: Vec<(String, Vec<u8>)> = Vec::new();
    let mut seen_before: BTreeSet<String> = BTreeSet::new();
    for round in 0..rounds {
        let delay = Duration::from_millis(rng.gen_range(50..=800));
        let t = Instant::now();
        let r = write_then_kill(&mut srv, round, delay, in_flight).await;
        all_acked.extend(r.acked.iter().cloned());

        // Restart on the same data dir, possibly with another snapshot frequency.
        srv.set_cfg("rzk.snapshotEveryEntries", snapshot_cfg(round + 1));
        let tr = Instant::now();
        tokio::task::block_in_place(|| srv.restart());
        let restart = tr.elapsed();

        let c = connect(&srv).await;
        let problems = verify(&c, &all_acked).await;
        assert!(
            problems.is_empty(),
            "round {round} (seed {seed}): {} of {} acknowledged znodes lost or wrong after SIGKILL, e.g. {:?}\nserver log tail:\n{}",
            problems.len(),
            all_acked.len(),
            &problems[..problems.len().min(10)],
            srv.log_tail(30)
        );
        let total = c.count_descendants_number("/crash").await.unwrap();
        assert!(
            total >= all_acked.len(),
            "round {round}: /crash has {total} descendants < {} acknowledged",
            all_acked.len()
        );
        if total <= LIST_LIMIT {
            let now: BTreeSet<String> = c
                .list_children("/crash")
                .await
                .unwrap()
                .into_iter()
                .collect();
            let lost: Vec<&String> = seen_before.difference(&now).take(10).collect();
            assert!(lost.is_empty(), "round {round} (seed {seed}): znodes seen after an earlier restart are gone: {lost:?}");
            seen_before = now;
        }
        drop(c);
        println!(
            "round {round}: kill after {delay:?}, snapshotEveryEntries={}, attempted {}, acknowledged {}, total acknowledged {}, \
             znodes {total}, restart {restart:?}, round {:?}",
            snapshot_cfg(round).unwrap_or("default"),
            r.attempted,
            r.acked.len(),
            all_acked.len(),
            t.elapsed()
        );
    }

    let log = srv.log();
    assert!(
        !log.contains("panicked"),
        "the server panicked during the run:\n{}",
        srv.log_tail(40)
    );
    let torn = log.matches("torn").count();
    let snapshots_restored = log.matches("restored snapshot").count();
    println!(
        "crash test done: {rounds} rounds, {} acknowledged creates verified, torn-tail repairs logged {torn}, \
         snapshot restores {snapshots_restored}, {:?} (seed {seed})",
        all_acked.len(),
        started.elapsed()
    );
    if rounds >= 2 {
        assert!(
            snapshots_restored > 0,
            "no restart restored a snapshot although odd rounds used snapshotEveryEntries=200"
        );
    }
}
