//! First start of an ensemble: only the lowest participant id ever calls `initialize()`, once,
//! after a majority of the configured voters answered that none of them belongs to a cluster yet.

use crate::error::StartError;
use crate::network::{PeerRequest, PeerResponse, RpcConn};
use crate::node::{RaftNode, RaftNodeConfig};
use crate::types::*;
use rzk_storage::MetaStore;
use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

/// Meta file that marks a data directory as belonging to a cluster (`initialize()` called or
/// joined); written once.
pub(crate) const INITIALIZED: &str = "initialized";

impl RaftNode {
    /// Called by `start` on a data directory without the [`INITIALIZED`] marker.
    pub(crate) async fn bootstrap_new(
        &self,
        cfg: &RaftNodeConfig,
        meta: MetaStore,
    ) -> Result<(), StartError> {
        let voters: BTreeMap<u64, Member> = cfg
            .members
            .iter()
            .filter(|(id, _)| !cfg.observers.contains(id))
            .map(|(k, v)| (*k, v.clone()))
            .collect();
        let bootstrapper = voters.keys().next() == Some(&cfg.node_id);
        if !bootstrapper {
            meta.save(INITIALIZED, &crate::format::marker(b"joined"))?;
        } else if voters.len() == 1 {
            self.initialize(voters, &meta).await?;
        } else {
            let n = self.clone();
            let (members, observers) = (cfg.members.clone(), cfg.observers.clone());
            tokio::spawn(async move {
                if let Err(e) = n.bootstrap(voters, members, observers, meta).await {
                    tracing::error!(error = %e, "bootstrap failed");
                }
            });
        }
        Ok(())
    }

    async fn initialize(
        &self,
        voters: BTreeMap<u64, Member>,
        meta: &MetaStore,
    ) -> Result<(), StartError> {
        match self.inner.raft.initialize(voters).await {
            Ok(()) => tracing::info!("initialized a new ensemble"),
            Err(e) => tracing::info!(error = %e, "initialize skipped"),
        }
        meta.save(INITIALIZED, &crate::format::marker(b"bootstrapped"))?;
        Ok(())
    }

    /// Waits until a majority of the configured voters are reachable and none of them has joined a
    /// cluster yet, then initializes. If any has, this member joins instead.
    async fn bootstrap(
        &self,
        voters: BTreeMap<u64, Member>,
        all: BTreeMap<u64, Member>,
        observers: BTreeSet<u64>,
        meta: MetaStore,
    ) -> Result<(), StartError> {
        loop {
            if self.inner.raft.is_initialized().await.unwrap_or(false) {
                meta.save(INITIALIZED, &crate::format::marker(b"joined"))?;
                return Ok(());
            }
            let mut reachable = 1;
            let mut someone_initialized = false;
            for (id, m) in &voters {
                if *id == self.inner.id {
                    continue;
                }
                let conn = RpcConn::new(m.quorum_addr.clone());
                if let Ok(PeerResponse::Status { initialized }) = conn
                    .call(&PeerRequest::Status, Duration::from_secs(1))
                    .await
                {
                    reachable += 1;
                    someone_initialized |= initialized;
                }
            }
            if someone_initialized {
                tracing::info!(
                    "another member already belongs to a cluster; joining instead of initializing"
                );
                meta.save(INITIALIZED, &crate::format::marker(b"joined"))?;
                return Ok(());
            }
            if reachable * 2 > voters.len() {
                self.initialize(voters.clone(), &meta).await?;
                if !observers.is_empty() && self.wait_leader(Duration::from_secs(30)).await {
                    for id in &observers {
                        if let Some(m) = all.get(id) {
                            // The initial membership must commit before another change is accepted.
                            for attempt in 0..50 {
                                match self.inner.raft.add_learner(*id, m.clone(), false).await {
                                    Ok(_) => break,
                                    Err(e) if attempt == 49 => {
                                        tracing::warn!(id, error = %e, "adding observer failed")
                                    }
                                    Err(_) => tokio::time::sleep(Duration::from_millis(200)).await,
                                }
                            }
                        }
                    }
                }
                return Ok(());
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }
}
