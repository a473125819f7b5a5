//! Follower→leader forwarding over one ordered connection per leader: writes (answered once
//! applied here too), the read index for `sync`, session touches and reconfigs.

use crate::error::{ProposeError, ReconfigError};
use crate::leader::MembershipChange;
use crate::network::{PeerRequest, PeerResponse, RpcConn};
use crate::node::{MembersView, Pending, RaftNode};
use crate::types::*;
use openraft::error::RaftError;
use rzk_tree::{CmdResult, Entry};
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::Duration;

const FORWARD_TIMEOUT: Duration = Duration::from_secs(30);
/// How often a request held for want of a reachable leader looks again.
const HOLD_RETRY: Duration = Duration::from_millis(100);

/// Where [`RaftNode::send_to_leader`] put a request.
enum Route {
    /// This member is the leader: the request, to be handled here.
    Local(PeerRequest),
    /// Queued on the connection to this leader; its answer arrives on the receiver.
    Sent(
        u64,
        Arc<RpcConn>,
        tokio::sync::oneshot::Receiver<PeerResponse>,
    ),
}

impl RaftNode {
    fn leader_conn(&self) -> Result<(u64, Arc<RpcConn>), ProposeError> {
        let m = self.inner.raft.metrics().borrow().clone();
        let leader = m.current_leader.ok_or(ProposeError::NoLeader)?;
        let node = m
            .membership_config
            .membership()
            .get_node(&leader)
            .cloned()
            .ok_or(ProposeError::NoLeader)?;
        let mut f = self.inner.forward.lock();
        let conn = f
            .entry(leader)
            .or_insert_with(|| Arc::new(RpcConn::new(node.quorum_addr.clone())))
            .clone();
        Ok((leader, conn))
    }

    /// Submits a write: proposed here when leader, else forwarded to the leader. The entry is queued
    /// (locally or on the ordered forward connection) before this returns, so a caller's writes keep
    /// their order. The returned future resolves once the entry is applied on THIS member.
    ///
    /// While no leader is known, or the known one cannot be reached (nothing was sent), the write is
    /// held here and retried for up to `hold_without_leader`, as a ZooKeeper client's request waits
    /// out an election, instead of failing at once. Once sent, it is never retried: its outcome is
    /// then unknown and the caller must say so (ZooKeeper: connection loss).
    pub async fn submit(&self, entry: Entry) -> Pending<Result<(i64, CmdResult), ProposeError>> {
        let (leader, conn, rx) = match self.send_to_leader(PeerRequest::Propose(entry)).await {
            Ok(Route::Local(PeerRequest::Propose(entry))) => {
                return self.propose_local(entry).await
            }
            Ok(Route::Local(_)) => unreachable!("send_to_leader gives the request back unchanged"),
            Ok(Route::Sent(leader, conn, rx)) => (leader, conn, rx),
            Err(e) => return Box::pin(async move { Err(e) }),
        };
        let me = self.clone();
        Box::pin(async move {
            match conn
                .wait(rx, FORWARD_TIMEOUT)
                .await
                .map_err(|e| ProposeError::Forward(e.to_string()))?
            {
                PeerResponse::Propose(Ok((zxid, r))) => {
                    me.wait_applied(index_of(zxid)).await?;
                    Ok((zxid, r))
                }
                PeerResponse::Propose(Err(e)) => Err(e),
                _ => Err(ProposeError::Forward(format!(
                    "unexpected answer from leader {leader}"
                ))),
            }
        })
    }

    /// Queues `req` on the leader's connection, holding it while no leader is known or the
    /// known leader refuses connections (see [`RaftNode::submit`]). `Route::Local` gives the
    /// request back when this member is the leader.
    async fn send_to_leader(&self, req: PeerRequest) -> Result<Route, ProposeError> {
        let deadline = std::time::Instant::now() + self.inner.hold_without_leader;
        let mut held = false;
        loop {
            if self.is_leader() {
                return Ok(Route::Local(req));
            }
            let err = match self.leader_conn() {
                Ok((leader, conn)) => match conn.send(&req).await {
                    Ok(rx) => {
                        if held {
                            self.inner.held_requests.fetch_add(1, Ordering::Relaxed);
                        }
                        return Ok(Route::Sent(leader, conn, rx));
                    }
                    Err(e) => ProposeError::Forward(e.to_string()),
                },
                Err(e) => e,
            };
            if std::time::Instant::now() >= deadline {
                return Err(err);
            }
            held = true;
            // Woken by a change of leader, or after a short pause to retry the same one.
            let _ = tokio::time::timeout(
                HOLD_RETRY,
                self.inner
                    .raft
                    .wait(None)
                    .metrics(|m| m.current_leader.is_some(), "leader known"),
            )
            .await;
            tokio::time::sleep(HOLD_RETRY / 2).await;
        }
    }

    pub(crate) async fn wait_applied(&self, index: u64) -> Result<(), ProposeError> {
        self.inner
            .raft
            .wait(Some(FORWARD_TIMEOUT))
            .applied_index_at_least(Some(index), "apply forwarded write")
            .await
            .map(|_| ())
            .map_err(|e| ProposeError::Fatal(e.to_string()))
    }

    /// ZooKeeper `sync`: once this resolves, this member has applied everything the leader had
    /// committed when it was called. Returns the index waited for.
    pub async fn read_barrier(&self) -> Result<i64, ProposeError> {
        let index = if self.is_leader() {
            // openraft confirms leadership with one heartbeat round whose deadline is the heartbeat
            // interval; a slow round on a busy machine is not a lost quorum, so retry a few times.
            let mut attempt = 0;
            loop {
                match self.inner.raft.ensure_linearizable().await {
                    Ok(l) => break l.map_or(0, |l| l.index),
                    Err(RaftError::APIError(
                        openraft::error::CheckIsLeaderError::ForwardToLeader(f),
                    )) => {
                        return Err(ProposeError::NotLeader {
                            leader: f.leader_id,
                        })
                    }
                    Err(RaftError::APIError(
                        openraft::error::CheckIsLeaderError::QuorumNotEnough(_),
                    )) if attempt < 10 => {
                        attempt += 1;
                        tokio::time::sleep(Duration::from_millis(50)).await;
                    }
                    Err(e) => return Err(ProposeError::Fatal(e.to_string())),
                }
            }
        } else {
            let (conn, rx) = match self.send_to_leader(PeerRequest::ReadIndex).await? {
                Route::Sent(_, conn, rx) => (conn, rx),
                // Became leader meanwhile: confirm it the leader's way.
                Route::Local(_) => return Box::pin(self.read_barrier()).await,
            };
            match conn
                .wait(rx, FORWARD_TIMEOUT)
                .await
                .map_err(|e| ProposeError::Forward(e.to_string()))?
            {
                PeerResponse::ReadIndex(r) => r? as u64,
                _ => {
                    return Err(ProposeError::Forward(
                        "unexpected answer to ReadIndex".into(),
                    ))
                }
            }
        };
        self.wait_applied(index).await?;
        Ok(index as i64)
    }

    /// Tells the leader these sessions were active here (no-op on the leader itself).
    pub async fn report_touches(&self, sessions: Vec<i64>) {
        if sessions.is_empty() {
            return;
        }
        if self.is_leader() {
            (self.inner.touch_sink)(&sessions);
            return;
        }
        if let Ok((_, conn)) = self.leader_conn() {
            let _ = conn
                .call(&PeerRequest::Touch(sessions), Duration::from_secs(2))
                .await;
        }
    }

    /// Sends a reconfig to the leader; answers once this member has applied the new configuration
    /// (unless it is no longer in it).
    pub(crate) async fn forward_reconfig(
        &self,
        change: MembershipChange,
    ) -> Result<MembersView, ReconfigError> {
        let (_, conn) = self.leader_conn()?;
        match conn
            .call(&PeerRequest::Reconfig(change), Duration::from_secs(120))
            .await
            .map_err(|e| ProposeError::Forward(e.to_string()))?
        {
            PeerResponse::Reconfig(r) => {
                if let Ok(v) = &r {
                    // A member that was just removed may never see the final config entry.
                    if v.voters.contains_key(&self.inner.id)
                        || v.learners.contains_key(&self.inner.id)
                    {
                        let _ = self.wait_applied(v.version).await;
                    } else {
                        self.inner
                            .removed_in
                            .fetch_max(v.version, std::sync::atomic::Ordering::SeqCst);
                    }
                }
                r
            }
            _ => Err(ReconfigError::Failed(
                "unexpected answer to Reconfig".into(),
            )),
        }
    }
}
