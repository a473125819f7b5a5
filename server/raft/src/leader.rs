//! Leader-side membership work: reconfig (joint consensus, with the synced-quorum check) and
//! leadership transfer, which openraft 0.9 does not have.

use crate::batcher::IN_FLIGHT;
use crate::error::{ElectError, ProposeError, ReconfigError, TransferError};
use crate::network::{PeerRequest, PeerResponse, RpcConn};
use crate::node::{MembersView, RaftNode, SYNCED_LAG};
use crate::types::*;
use openraft::error::{ChangeMembershipError, ClientWriteError, RaftError};
use openraft::{ChangeMembers, ServerState};
use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

/// A requested membership change (ZooKeeper incremental reconfig).
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct MembershipChange {
    /// Members to add or update; `true` = participant (voter), `false` = observer (learner).
    pub upsert: Vec<(u64, Member, bool)>,
    pub remove: Vec<u64>,
}

impl RaftNode {
    /// Applies an incremental membership change (ZooKeeper reconfig), forwarding to the leader if needed.
    pub async fn reconfigure(
        &self,
        change: MembershipChange,
    ) -> Result<MembersView, ReconfigError> {
        if !self.is_leader() {
            return self.forward_reconfig(change).await;
        }
        self.reconfigure_as_leader(change, true).await
    }

    async fn reconfigure_as_leader(
        &self,
        change: MembershipChange,
        hand_over: bool,
    ) -> Result<MembersView, ReconfigError> {
        let _one_at_a_time = self
            .inner
            .reconfig
            .try_lock()
            .map_err(|_| ReconfigError::InProgress)?;
        let raft = &self.inner.raft;
        let cur = self.members();
        let mut voters: BTreeSet<u64> = cur.voters.keys().copied().collect();
        let mut all: BTreeSet<u64> = voters.iter().chain(cur.learners.keys()).copied().collect();
        for id in &change.remove {
            if !all.contains(id) {
                return Err(ReconfigError::BadArguments(format!(
                    "server {id} is not a member"
                )));
            }
            voters.remove(id);
            all.remove(id);
        }
        for (id, _, voter) in &change.upsert {
            all.insert(*id);
            if *voter {
                voters.insert(*id);
            } else {
                voters.remove(id);
            }
        }
        if voters.is_empty() {
            return Err(ReconfigError::BadArguments(
                "the new configuration has no participants".into(),
            ));
        }
        // A leader that leaves the voters hands leadership to a synced member of the new voter set
        // first, and that member makes the change: openraft 0.9 panics when a leader that removed
        // itself is later added back ("Only leader is allowed to call update_effective_membership").
        let me = self.inner.id;
        if hand_over && !voters.contains(&me) {
            if let Some(to) = self.best_transfer_target(|v| voters.contains(&v)) {
                drop(_one_at_a_time);
                match self.transfer_leadership(to, Duration::from_secs(10)).await {
                    Ok(_) => return self.forward_reconfig(change).await,
                    Err(e) => {
                        tracing::warn!(to, error = %e, "no hand-over before leaving the voters; making the change as leader");
                        if !self.is_leader() {
                            return Err(ReconfigError::Propose(ProposeError::NotLeader {
                                leader: None,
                            }));
                        }
                    }
                }
                return Box::pin(self.reconfigure_as_leader(change, false)).await;
            }
        }
        // A member whose release cannot decode the entries of the feature level in force
        // cannot join (see `features`).
        let level = self.feature_level();
        for (id, m, _) in &change.upsert {
            let known = cur.voters.get(id).or(cur.learners.get(id));
            if known.is_none() {
                if let Some(p) = self.probe(*id, &m.quorum_addr).await {
                    if p.feature_level_max < level {
                        return Err(ReconfigError::BadArguments(format!(
                            "server {id} runs rzk {} which supports cluster feature level {} \
                             only; this cluster is at level {level}: upgrade it first",
                            p.release.as_deref().unwrap_or("0.1.0"),
                            p.feature_level_max
                        )));
                    }
                }
            }
        }
        // New members first catch up as learners.
        for (id, m, _) in &change.upsert {
            let known = cur.voters.get(id).or(cur.learners.get(id));
            if known != Some(m) {
                raft.add_learner(*id, m.clone(), true)
                    .await
                    .map_err(map_change_err)?;
            }
        }
        // The new voter set must have a majority that is up to date (leader + synced followers that
        // answer right now: replication progress alone does not show that a follower died).
        // Replication metrics trail the catch-up above a little: give them a moment first.
        let me = self.inner.id;
        let _ = raft
            .wait(Some(Duration::from_secs(2)))
            .metrics(
                |m| {
                    let synced = self.status_of(m).synced(SYNCED_LAG);
                    voters.iter().filter(|v| synced.contains(v)).count()
                        + usize::from(voters.contains(&me))
                        > voters.len() / 2
                },
                "new voters synced",
            )
            .await;
        let st = self.status();
        let synced: BTreeSet<u64> = st.synced(SYNCED_LAG).into_iter().collect();
        let mut ok = usize::from(voters.contains(&self.inner.id));
        let all_nodes: BTreeMap<u64, Member> = cur
            .voters
            .iter()
            .chain(cur.learners.iter())
            .map(|(k, v)| (*k, v.clone()))
            .collect();
        for v in voters
            .iter()
            .filter(|v| **v != self.inner.id && synced.contains(v))
        {
            let addr = change
                .upsert
                .iter()
                .find(|(id, _, _)| id == v)
                .map(|(_, m, _)| m.quorum_addr.clone())
                .or_else(|| all_nodes.get(v).map(|m| m.quorum_addr.clone()));
            if let Some(addr) = addr {
                if let Ok(PeerResponse::Status { .. }) = RpcConn::new(addr)
                    .call(&PeerRequest::Status, Duration::from_secs(1))
                    .await
                {
                    ok += 1;
                }
            }
        }
        if ok * 2 <= voters.len() {
            return Err(ReconfigError::NoQuorum);
        }
        let gone: BTreeSet<u64> = change.remove.iter().copied().collect();
        let demoted = change
            .upsert
            .iter()
            .any(|(id, _, voter)| !voter && cur.voters.contains_key(id));
        if voters != cur.voters.keys().copied().collect() {
            // Without demotions one joint change also drops the removed voters entirely (retain =
            // false), which still works when the leader removes itself and steps down afterwards.
            raft.change_membership(ChangeMembers::ReplaceAllVoters(voters.clone()), demoted)
                .await
                .map_err(map_change_err)?;
        }
        let still_there: BTreeSet<u64> = {
            let now = self.members();
            gone.iter()
                .copied()
                .filter(|id| now.voters.contains_key(id) || now.learners.contains_key(id))
                .collect()
        };
        if !still_there.is_empty() && self.is_leader() {
            raft.change_membership(ChangeMembers::RemoveNodes(still_there), false)
                .await
                .map_err(map_change_err)?;
        }
        Ok(self.members())
    }

    /// Starts an election on this member now. Used to move leadership away from a leader that is
    /// about to restart (openraft 0.9 has no leader transfer): a caught-up follower that calls an
    /// election with a higher term makes the old leader step down.
    pub async fn trigger_election(&self) -> Result<(), ElectError> {
        if self.is_leader() {
            return Err(ElectError::IsLeader);
        }
        self.inner
            .raft
            .trigger()
            .elect()
            .await
            .map_err(|e| ElectError::Raft(Box::new(e)))
    }

    /// The voter (other than this leader, and `eligible`) with the most of the log: the best
    /// transfer target.
    pub fn best_transfer_target(&self, eligible: impl Fn(u64) -> bool) -> Option<u64> {
        let st = self.status();
        st.replication
            .iter()
            .filter(|(id, _)| **id != st.id && st.voters.contains(id) && eligible(**id))
            .max_by_key(|(id, m)| (m.unwrap_or(0), std::cmp::Reverse(**id)))
            .map(|(id, _)| *id)
    }

    /// Hands leadership to voter `to` (openraft 0.9 has no leader transfer, so this builds one):
    /// this leader stops proposing (queued writes wait) and stops standing for election, waits until
    /// `to` has its whole log, asks `to` to start an election (which it wins with an up-to-date log;
    /// this leader steps down when it sees the higher term), and waits until another member leads.
    /// Another member than `to` may win when a follower's leader lease refuses `to` its vote (five
    /// and more voters); this member never wins it back within `window`. Returns the new leader.
    pub async fn transfer_leadership(
        &self,
        to: u64,
        window: Duration,
    ) -> Result<u64, TransferError> {
        use std::sync::atomic::Ordering;
        const CATCH_UP: Duration = Duration::from_secs(3);
        const STEP_DOWN: Duration = Duration::from_secs(3);
        let me = self.inner.id;
        let m = self.inner.raft.metrics().borrow().clone();
        if m.state != ServerState::Leader {
            return Err(TransferError::NotLeader);
        }
        let membership = m.membership_config.membership();
        if to == me || !membership.voter_ids().any(|v| v == to) {
            return Err(TransferError::NotAVoter(to));
        }
        let addr = membership
            .get_node(&to)
            .map(|n| n.quorum_addr.clone())
            .ok_or(TransferError::NotAVoter(to))?;
        let gen = self.inner.step_aside.fetch_add(1, Ordering::SeqCst) + 1;
        self.inner.raft.runtime_config().elect(false);
        tracing::info!(
            to,
            "transferring leadership: proposals paused until server {to} has the whole log"
        );
        let result = async {
            // Holding every slot: the batches in flight have committed, no new one starts.
            let _paused = tokio::time::timeout(CATCH_UP, self.inner.slots.acquire_many(IN_FLIGHT))
                .await
                .map_err(|_| TransferError::Behind(to, CATCH_UP))?
                .map_err(|_| TransferError::NotLeader)?;
            let caught_up = self
                .inner
                .raft
                .wait(Some(CATCH_UP))
                .metrics(
                    |m| self.status_of(m).synced(0).contains(&to),
                    "transfer target caught up",
                )
                .await
                .is_ok();
            if !caught_up {
                return Err(TransferError::Behind(to, CATCH_UP));
            }
            match RpcConn::new(addr)
                .call(&PeerRequest::Elect, Duration::from_secs(2))
                .await
            {
                Ok(PeerResponse::Elect(Ok(()))) => {}
                Ok(PeerResponse::Elect(Err(e))) => return Err(TransferError::ElectFailed(to, e)),
                Ok(_) => return Err(TransferError::ElectFailed(to, "unexpected answer".into())),
                Err(e) => return Err(TransferError::ElectFailed(to, e.to_string())),
            }
            // Writes stay paused only until this member has stepped down.
            let stepped_down = self
                .inner
                .raft
                .wait(Some(STEP_DOWN))
                .metrics(|m| m.state != ServerState::Leader, "stepped down")
                .await
                .is_ok();
            drop(_paused);
            if !stepped_down {
                return Err(TransferError::NotHandedOver(STEP_DOWN));
            }
            self.inner
                .raft
                .wait(Some(window))
                .metrics(
                    |m| m.current_leader.is_some_and(|l| l != me),
                    "another leader",
                )
                .await
                .map(|m| m.current_leader.unwrap_or(to))
                .map_err(|_| TransferError::NotHandedOver(window))
        }
        .await;
        // (slots released) queued writes go on: the new leader refuses them (the writer's client
        // reconnects and retries), or this leader proposes them if nothing changed.
        if self.inner.step_aside.load(Ordering::SeqCst) == gen {
            self.inner.raft.runtime_config().elect(true);
        }
        match &result {
            Ok(l) => tracing::info!(to, new_leader = l, "leadership transferred"),
            Err(e) => tracing::warn!(to, error = %e, "leadership transfer failed"),
        }
        result
    }
}

/// A failed `add_learner` / `change_membership` as a reconfig answer (sent to forwarding members:
/// openraft's errors travel as text).
fn map_change_err(e: RaftError<u64, ClientWriteError<u64, Member>>) -> ReconfigError {
    match e {
        RaftError::APIError(ClientWriteError::ChangeMembershipError(
            ChangeMembershipError::InProgress(_),
        )) => ReconfigError::InProgress,
        RaftError::APIError(ClientWriteError::ChangeMembershipError(c)) => {
            ReconfigError::Failed(c.to_string())
        }
        RaftError::APIError(ClientWriteError::ForwardToLeader(f)) => {
            ReconfigError::Propose(ProposeError::NotLeader {
                leader: f.leader_id,
            })
        }
        other => ReconfigError::Failed(other.to_string()),
    }
}

impl RaftNode {
    /// A member that learned it was removed from the configuration (see
    /// `RaftStatus::removed`) stops campaigning: nobody replicates to it any more, so its
    /// election timer would fire again and again, each time with a higher term, and that term
    /// would make the leader step down the moment the member is added back. Elections resume
    /// once a configuration that includes it reaches it.
    pub(crate) async fn quiet_while_removed_loop(self) {
        let mut silenced = false;
        loop {
            tokio::time::sleep(Duration::from_millis(100)).await;
            let removed = self.status().removed;
            if removed && !silenced {
                tracing::info!("removed from the configuration: not campaigning");
                self.inner.raft.runtime_config().elect(false);
                silenced = true;
            } else if !removed && silenced {
                tracing::info!("part of the configuration again: campaigning as usual");
                self.inner.raft.runtime_config().elect(true);
                silenced = false;
            }
        }
    }
}
