//! The cluster feature level: which formats and entry kinds every member can decode.
//!
//! Each member supports levels up to `hello::FEATURE_LEVEL_MAX` and says so in the peer
//! handshake (0.1.0 members, which have none, support level 1). The level in force is part of
//! the replicated state (`Command::SetFeatureLevel`, kept by the state machine and in
//! snapshots). The leader raises it, through the log, to the highest level that every member
//! of the current configuration (voters and learners) supports, and only then uses what it
//! enables. A level is never lowered; a member whose release does not know the level in force
//! cannot join (reconfig refuses it).

use crate::network::hello::{self, PeerInfo};
use crate::network::{PeerRequest, RpcConn};
use crate::node::RaftNode;
use rzk_tree::{Command, Entry};
use std::collections::BTreeMap;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::Duration;

/// How often the leader looks at the members' supported levels.
const CHECK_EVERY: Duration = Duration::from_secs(1);
const PROBE_TIMEOUT: Duration = Duration::from_secs(2);

/// A member's view of one peer's support, for status output.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PeerSupport {
    pub id: u64,
    pub protocol: u16,
    pub feature_level_max: u32,
    pub release: Option<String>,
}

impl RaftNode {
    /// The cluster feature level in force on this member.
    pub fn feature_level(&self) -> u32 {
        self.inner.feature_level.load(Ordering::SeqCst)
    }

    /// What this member learned in handshakes with the other members (leader: all of them).
    pub fn peer_support(&self) -> Vec<PeerSupport> {
        let probes = self.inner.probes.lock();
        probes
            .iter()
            .filter_map(|(id, (_, c))| {
                c.peer_info().map(|p| PeerSupport {
                    id: *id,
                    protocol: p.protocol,
                    feature_level_max: p.feature_level_max,
                    release: p.release,
                })
            })
            .collect()
    }

    /// Handshake result for member `id` at `addr`, connecting if needed.
    pub(crate) async fn probe(&self, id: u64, addr: &str) -> Option<PeerInfo> {
        let conn = {
            let mut probes = self.inner.probes.lock();
            let e = probes.entry(id).or_insert_with(|| {
                (
                    addr.to_string(),
                    Arc::new(RpcConn::probing(addr.to_string())),
                )
            });
            if e.0 != addr {
                *e = (
                    addr.to_string(),
                    Arc::new(RpcConn::probing(addr.to_string())),
                );
            }
            e.1.clone()
        };
        // Any protocol-1 request makes the connection (and its handshake); Status is harmless.
        conn.call(&PeerRequest::Status, PROBE_TIMEOUT).await.ok()?;
        conn.peer_info()
    }

    /// The highest level every member supports, if all of them answered.
    async fn common_level(&self) -> Option<u32> {
        let view = self.members();
        let mut level = hello::FEATURE_LEVEL_MAX;
        let others: BTreeMap<u64, String> = view
            .voters
            .iter()
            .chain(view.learners.iter())
            .filter(|(id, _)| **id != self.id())
            .map(|(id, m)| (*id, m.quorum_addr.clone()))
            .collect();
        for (id, addr) in others {
            level = level.min(self.probe(id, &addr).await?.feature_level_max);
        }
        Some(level)
    }

    /// On the leader: raises the feature level once every member supports a higher one.
    pub(crate) async fn raise_feature_level_loop(self) {
        let mut logged_waiting = 0;
        let mut round = 0u32;
        loop {
            // Quickly at first (a new ensemble, a standalone server), then every second.
            round = round.saturating_add(1);
            tokio::time::sleep(if round <= 10 {
                CHECK_EVERY / 5
            } else {
                CHECK_EVERY
            })
            .await;
            if self.inner.raft.metrics().borrow().state != openraft::ServerState::Leader {
                continue;
            }
            let current = self.feature_level();
            if current >= hello::FEATURE_LEVEL_MAX {
                continue;
            }
            let Some(common) = self.common_level().await else {
                continue;
            };
            if common <= current {
                if logged_waiting != current {
                    tracing::info!(
                        level = current,
                        this_release_supports = hello::FEATURE_LEVEL_MAX,
                        "cluster feature level stays: a member runs an older release"
                    );
                    logged_waiting = current;
                }
                continue;
            }
            let entry = Entry {
                time_ms: 0,
                cmd: Command::SetFeatureLevel { level: common },
            };
            match self.propose_local(entry).await.await {
                Ok((zxid, _)) => {
                    tracing::info!(
                        from = current,
                        to = common,
                        zxid,
                        "raised the cluster feature level"
                    )
                }
                Err(e) => tracing::debug!(error = %e, "raising the feature level failed; retrying"),
            }
        }
    }
}
