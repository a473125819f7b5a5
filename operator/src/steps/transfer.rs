//! Leadership hand-over before the leader's pod is restarted or the leader removed: the leader's
//! `transfer_leadership` (an rzk AdminServer command), or, for a leader of an earlier version, an
//! election started on the follower. After [`TRANSFER_ATTEMPTS`] failed attempts the operator goes
//! on without a hand-over.

use std::time::{Duration, Instant};

use kube::api::DeleteParams;

use super::{host_port, StepError};
use crate::builders;
use crate::plan::{Phase, Plan};
use crate::reconcile::events::truncate;
use crate::reconcile::Reconciler;
use crate::zkclient;

/// A leadership hand-over in progress.
pub(crate) struct Transfer {
    from: i64,
    attempts: u32,
    last: Option<Instant>,
}

/// Time an election gets before the next attempt (each costs an election's worth of unavailability).
const TRANSFER_RETRY: Duration = Duration::from_secs(8);
/// How long the leader's `transfer_leadership` may take (catch-up + election + step-down).
const TRANSFER_CALL_TIMEOUT: Duration = Duration::from_secs(20);
/// Elections tried (on different followers in turn) before the operator goes on without a hand-over.
const TRANSFER_ATTEMPTS: u32 = 3;

impl Reconciler<'_> {
    /// Hand leadership from server `from` to one of the `candidates` (ordinals, tried in turn).
    pub(crate) async fn transfer_leadership(
        &self,
        plan: &Plan,
        from: i64,
        candidates: &[i32],
    ) -> Result<(), StepError> {
        let (ctx, name) = (self.ctx, &self.name);
        let key = (self.ns.clone(), name.clone());
        let attempt = {
            let mut t = ctx.transfers.lock().unwrap();
            let st = t.entry(key.clone()).or_insert(Transfer {
                from,
                attempts: 0,
                last: None,
            });
            if st.from != from {
                *st = Transfer {
                    from,
                    attempts: 0,
                    last: None,
                };
            }
            if st.last.is_some_and(|l| l.elapsed() < TRANSFER_RETRY) {
                return Ok(()); // asked recently: give the election time
            }
            st.attempts += 1;
            st.last = Some(Instant::now());
            st.attempts
        };
        if attempt > TRANSFER_ATTEMPTS {
            ctx.transfers.lock().unwrap().remove(&key);
            return self.transfer_fallback(plan, from, attempt - 1).await;
        }
        let to_ordinal = candidates[(attempt as usize - 1) % candidates.len()];
        let Some(ip) = self.pod(to_ordinal).and_then(|p| p.ip.clone()) else {
            return Err(StepError::NoCandidateAddress(to_ordinal));
        };
        let target = builders::pod_name(&self.zk, to_ordinal);
        // The leader transfers (catch-up, targeted election, no win-back); a leader of an earlier
        // version does not know the command: then the follower just starts an election.
        let to_id = self.pod(to_ordinal).and_then(|p| p.server_id);
        let leader_pod = self.leader_pod();
        if let (Some(lp), Some(to_id)) = (leader_pod.filter(|p| p.server_id == Some(from)), to_id) {
            if let Some(lip) = lp.ip.as_deref() {
                let admin = host_port(lip, self.zk.spec.ports.admin);
                let path = format!("/commands/transfer_leadership?to={to_id}");
                let res = zkclient::http_get(&admin, &path, TRANSFER_CALL_TIMEOUT).await;
                let answer = match &res {
                    Ok((200, body)) => serde_json::from_str::<serde_json::Value>(body).ok(),
                    _ => None,
                };
                let field = |k: &str| answer.as_ref().and_then(|v| v.get(k));
                let transferred = field("transferred").and_then(|t| t.as_bool());
                match transferred {
                    Some(true) => {
                        self.operation("transfer_leadership", true);
                        let new_leader = field("leader").and_then(|l| l.as_i64());
                        self.event_on(
                            self.pod_ref(&target),
                            "LeadershipTransfer",
                            "Transfer",
                            format!(
                                "server {from} ({}) handed leadership to server {} (asked: {target}, server {to_id}; attempt {attempt} of {TRANSFER_ATTEMPTS}): {}",
                                lp.name,
                                new_leader.map_or("?".into(), |l| l.to_string()),
                                plan.message
                            ),
                        )
                        .await;
                        return Ok(());
                    }
                    Some(false) => {
                        self.operation("transfer_leadership", false);
                        let why = field("error")
                            .and_then(|e| e.as_str())
                            .unwrap_or("no reason given");
                        let pod = self.pod_ref(&target);
                        let e = StepError::TransferRefused {
                            from: lp.name.clone(),
                            to: target,
                            to_id,
                            why: why.to_string(),
                        };
                        self.warn_event_on(
                            pod,
                            "LeadershipTransferFailed",
                            "Transfer",
                            e.to_string(),
                        )
                        .await;
                        return Err(e);
                    }
                    None => tracing::info!(
                        cluster = %name,
                        leader = %lp.name,
                        answer = ?res.as_ref().map(|(c, b)| (c, truncate(b.trim(), 200))),
                        "the leader cannot transfer leadership (older rzk?): asking {target} to start an election"
                    ),
                }
            }
        }
        let admin = host_port(&ip, self.zk.spec.ports.admin);
        let res = zkclient::http_get(&admin, "/commands/elect", ctx.probe_timeout).await;
        let ok = matches!(&res, Ok((200, body)) if serde_json::from_str::<serde_json::Value>(body)
            .ok()
            .and_then(|v| v.get("triggered").and_then(|t| t.as_bool()))
            == Some(true));
        self.operation("transfer_leadership", ok);
        if ok {
            self.event_on(
                self.pod_ref(&target),
                "LeadershipTransfer",
                "Elect",
                format!("asked {target} to take over leadership from server {from} (attempt {attempt} of {TRANSFER_ATTEMPTS}): {}", plan.message),
            )
            .await;
            return Ok(());
        }
        let pod = self.pod_ref(&target);
        let e = match res {
            Ok((code, body)) => StepError::ElectRefused {
                target,
                code,
                body: truncate(body.trim(), 200),
            },
            Err(source) => StepError::Elect { target, source },
        };
        self.warn_event_on(pod, "LeadershipTransferFailed", "Elect", e.to_string())
            .await;
        Err(e)
    }

    /// Leadership could not be handed over (the old leader kept winning the elections): go on
    /// without it. A rollout restarts the leader anyway (an ordinary failover: the others elect a
    /// new leader); a removal removes the leader from the ensemble (it steps down once the new
    /// configuration is committed).
    async fn transfer_fallback(
        &self,
        plan: &Plan,
        leader: i64,
        attempts: u32,
    ) -> Result<(), StepError> {
        let why = format!(
            "server {leader} is still the leader after {attempts} elections on other members"
        );
        tracing::warn!(cluster = %self.name, leader, attempts, "leadership hand-over failed: {why}; going on without it");
        if plan.phase == Phase::RollingUpdate {
            let Some(p) = self.pod_obs.iter().find(|p| p.server_id == Some(leader)) else {
                return Err(StepError::LeaderPodNotFound { why });
            };
            self.warn_event_on(
                self.pod_ref(&p.name),
                "LeadershipTransferFailed",
                "DeletePod",
                format!(
                    "{why}: restarting its pod {} anyway (the others elect a new leader)",
                    p.name
                ),
            )
            .await;
            let res = self
                .pod_api()
                .delete(&p.name, &DeleteParams::default())
                .await;
            self.operation("restart_pod", res.is_ok());
            return res.map(|_| ()).map_err(|source| StepError::DeletePod {
                pod: p.name.clone(),
                source,
            });
        }
        self.warn_event(
            "LeadershipTransferFailed",
            "Reconfig",
            format!("{why}: removing it from the ensemble while it leads"),
        )
        .await;
        let leader_pod = self
            .pod_obs
            .iter()
            .find(|p| p.server_id == Some(leader) && p.mode.as_deref() == Some("leader"));
        let res = self.reconfig(leader_pod, "", &leader.to_string()).await;
        self.operation("remove_member", res.is_ok());
        res.map(|_| ())
            .map_err(|source| StepError::RemoveLeader { leader, source })
    }
}
