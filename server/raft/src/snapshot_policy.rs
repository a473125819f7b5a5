//! When to take a snapshot, with ZooKeeper's meaning of `snapCount` and `snapSizeLimitInKb`.
//!
//! ZooKeeper snapshots after `snapCount/2 + random(snapCount/2)` *transactions* (the random part
//! keeps the members of an ensemble from snapshotting at once), or once the log written since
//! the last snapshot exceeds `snapSizeLimitInKb`. rzk counts the same: every applied write
//! (an element of a Raft entry's batch) is one transaction, and every encoded byte appended to
//! the log counts toward the size limit. openraft's own policy counts Raft *entries* (each a
//! batch of up to 4096 writes); it is used only when `rzk.snapshotEveryEntries` asks for it.

use crate::types::Raft;
use rand::{Rng, SeedableRng};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

/// Totals since the member started, shared by the state machine (transactions) and the log
/// store (bytes); the policy loop compares them with their values at the last snapshot.
#[derive(Debug, Default)]
pub struct Counters {
    pub(crate) txns: AtomicU64,
    pub(crate) log_bytes: AtomicU64,
}

/// The configured triggers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SnapshotPolicy {
    /// ZooKeeper's `snapCount` (transactions; at least 2).
    pub snap_count: u64,
    /// ZooKeeper's `snapSizeLimitInKb` in bytes; `None` = no size limit.
    pub size_limit_bytes: Option<u64>,
    /// `rzk.snapshotEveryEntries`: openraft's entry-count policy instead (tests).
    pub every_entries: Option<u64>,
}

impl Default for SnapshotPolicy {
    fn default() -> Self {
        SnapshotPolicy {
            snap_count: 100_000,
            size_limit_bytes: Some(4 * 1024 * 1024 * 1024),
            every_entries: None,
        }
    }
}

/// The transaction count that triggers the next snapshot: `snapCount/2 + random(snapCount/2)`.
pub(crate) fn roll(snap_count: u64, rng: &mut impl Rng) -> u64 {
    let half = (snap_count / 2).max(1);
    half + rng.gen_range(0..half)
}

/// Whether a snapshot is due, given the counts since the last one.
pub(crate) fn due(policy: &SnapshotPolicy, txns: u64, bytes: u64, threshold: u64) -> bool {
    txns >= threshold || policy.size_limit_bytes.is_some_and(|l| bytes >= l)
}

/// Triggers snapshots by the policy, checking every 100 ms.
pub(crate) async fn run(raft: Raft, policy: SnapshotPolicy, counters: Arc<Counters>) {
    let mut rng = rand::rngs::StdRng::from_entropy();
    let mut threshold = roll(policy.snap_count, &mut rng);
    let (mut base_txns, mut base_bytes) = (0u64, 0u64);
    loop {
        tokio::time::sleep(Duration::from_millis(100)).await;
        let txns = counters.txns.load(Ordering::Relaxed);
        let bytes = counters.log_bytes.load(Ordering::Relaxed);
        if !due(&policy, txns - base_txns, bytes - base_bytes, threshold) {
            continue;
        }
        tracing::debug!(
            txns = txns - base_txns,
            log_bytes = bytes - base_bytes,
            threshold,
            "snapshot due"
        );
        if raft.trigger().snapshot().await.is_err() {
            return; // shut down
        }
        base_txns = txns;
        base_bytes = bytes;
        threshold = roll(policy.snap_count, &mut rng);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn roll_stays_in_zookeepers_range() {
        let mut rng = rand::rngs::StdRng::seed_from_u64(7);
        let rolls: Vec<u64> = (0..1000).map(|_| roll(100_000, &mut rng)).collect();
        assert!(rolls.iter().all(|r| (50_000..100_000).contains(r)));
        let distinct: std::collections::BTreeSet<_> = rolls.iter().collect();
        assert!(
            distinct.len() > 900,
            "members must not all pick the same point"
        );
        assert_eq!(roll(2, &mut rng), 1);
    }

    #[test]
    fn due_on_transactions_or_bytes() {
        let p = SnapshotPolicy {
            snap_count: 10,
            size_limit_bytes: Some(1000),
            every_entries: None,
        };
        assert!(!due(&p, 6, 999, 7));
        assert!(due(&p, 7, 0, 7));
        assert!(due(&p, 0, 1000, 7));
        let unlimited = SnapshotPolicy {
            size_limit_bytes: None,
            ..p
        };
        assert!(!due(&unlimited, 0, u64::MAX, 7));
    }
}
