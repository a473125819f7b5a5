//! Read-only mode (`readonlymode.enabled=true`, as ZooKeeper's `ReadOnlyZooKeeperServer`).
//!
//! A member of an ensemble that has been cut off from the quorum for [`delay`] (no leader it can
//! follow, or a leader without a quorum) serves clients that asked for read-only mode
//! (`canBeReadOnly`, the ConnectRequest's `readOnly` byte): reads come from its local tree (the
//! last state it applied), writes, `sync` and `reconfig` get NotReadOnly, `isro` answers `ro` and
//! `srvr` says `Mode: read-only`. Clients that did not ask for read-only mode are refused, as
//! before. A new read-only session is local: it is not replicated, and ends with its connection.
//! A client that resumes a session this member knows (with the right password) keeps its id.
//! Once the member is part of a quorum again it closes every read-only connection; the clients
//! reconnect and get read-write sessions (a client that never saw a read-write server sends
//! session id 0, so it gets a new session, as with ZooKeeper).

use crate::server::{Out, Shared};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// Whether the member serves read-only clients now.
#[derive(Default)]
pub struct ReadOnlyMode {
    active: AtomicBool,
}

impl ReadOnlyMode {
    pub fn active(&self) -> bool {
        self.active.load(Ordering::Relaxed)
    }
}

/// How long a member is without a quorum before it serves read-only clients: ZooKeeper waits
/// max(2 s, tickTime) in LOOKING before it starts its read-only server.
pub fn delay(tick_time_ms: u32) -> Duration {
    Duration::from_millis(u64::from(tick_time_ms).max(2000))
}

/// How often the quorum state is looked at.
const POLL: Duration = Duration::from_millis(200);

/// Turns read-only mode on and off for the life of the server (only with
/// `readonlymode.enabled` in an ensemble; a standalone server always has its "quorum").
pub async fn run(s: Arc<Shared>) {
    if !s.cfg.read_only_mode || !s.cfg.is_distributed() {
        return;
    }
    let wait = delay(s.cfg.tick_time);
    let mut lost_since: Option<Instant> = None;
    loop {
        tokio::time::sleep(POLL).await;
        if s.serving() || !s.is_member() {
            lost_since = None;
            if s.read_only.active.swap(false, Ordering::Relaxed) {
                let n = close_read_only_connections(&s);
                tracing::info!(
                    connections = n,
                    "part of a quorum again: read-only mode ends, read-only connections closed"
                );
            }
            continue;
        }
        let since = *lost_since.get_or_insert_with(Instant::now);
        if !s.read_only.active() && since.elapsed() >= wait {
            s.read_only.active.store(true, Ordering::Relaxed);
            tracing::warn!(
                without_quorum_ms = since.elapsed().as_millis() as u64,
                "no quorum: read-only mode, serving reads to clients that allow read-only sessions (writes get NotReadOnly)"
            );
        }
    }
}

fn close_read_only_connections(s: &Shared) -> usize {
    let conns = s.conns.lock();
    let mut n = 0;
    for c in conns.values().filter(|c| c.read_only) {
        let _ = c.tx.send(Out::Close);
        n += 1;
    }
    n
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn delay_is_zookeepers() {
        assert_eq!(delay(2000), Duration::from_millis(2000));
        assert_eq!(delay(500), Duration::from_millis(2000));
        assert_eq!(delay(3000), Duration::from_millis(3000));
    }
}
