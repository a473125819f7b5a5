//! The day-2 decision: from what the cluster and the ensemble report now, the ONE next step
//! (pure, unit-tested). Nothing here depends on the operator's memory: the inputs are the
//! StatefulSet (its `replicas` is the current step of a scale operation, its pod template the
//! target of a rollout), the pods (readiness, template hash, the server id each runs), the
//! ensemble (membership from `/zookeeper/config`, the leader, per-member replication lag) and
//! the durable `status.serverIds`. A restarted operator computes the same step.
//!
//! Order of precedence (each returns at most one action):
//! 1. no readable membership: wait (a new ensemble is forming, or there is no quorum);
//! 2. a pod whose volume was wiped under a joined id: give it a new id (and restart it);
//! 3. members that no pod owns any more (e.g. a wiped pod's old id): remove them, if the
//!    remaining voters keep a healthy quorum;
//! 4. scale down: remove the highest ordinal from the ensemble (handing leadership away first if
//!    it leads), then, once it is no member, shrink the StatefulSet by one;
//! 5. every pod below the StatefulSet's replicas must be a synced member: add the first one that
//!    is not (once its server runs), or wait for it to sync; a pod that is down AND runs an
//!    outdated revision may be restarted (it is down already);
//! 6. scale up: grow the StatefulSet by one;
//! 7. rolling update: restart one outdated pod, followers first (highest ordinal first), the
//!    leader last after handing its leadership to a synced, updated follower.
//!
//! Steps 4-7 only run with every member healthy (except what step 5 repairs), so no second server
//! is ever taken down while one is unhealthy.

use std::collections::{BTreeMap, BTreeSet};

use crate::crd::ServerIdStatus;
use crate::zkclient::Membership;

/// A follower within this many log entries of the leader is in sync (the server's own notion:
/// `zk_synced_followers`, and what `reconfig` requires of a new voter set).
pub const SYNCED_LAG: u64 = 100;

/// One server pod as observed.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct PodObs {
    pub ordinal: i32,
    pub name: String,
    pub ip: Option<String>,
    /// Ready condition.
    pub ready: bool,
    /// Has a deletionTimestamp.
    pub terminating: bool,
    /// `rzk.dev/template-hash` annotation (the revision of the pod template it runs).
    pub template_hash: Option<String>,
    /// Since when (epoch seconds) the pod has not been Ready: the Ready condition's last
    /// transition, or its creation. None while Ready.
    pub unready_since: Option<i64>,
    /// The init container refused to start: the volume is empty under a joined id.
    pub wiped: bool,
    /// The server process answers (`conf`).
    pub running: bool,
    /// The server id the process runs (`conf`: serverId).
    pub server_id: Option<i64>,
    /// The server's own `server.N` value from its configuration (`conf`), as it announces itself.
    pub own_spec: Option<String>,
    /// `srvr` Mode when serving (leader, follower, observer).
    pub mode: Option<String>,
    /// `srvr` version.
    pub version: Option<String>,
}

/// The ensemble as observed.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct EnsembleObs {
    /// `/zookeeper/config` read from the leader; None without a leader / quorum.
    pub membership: Option<Membership>,
    /// Server id of the leader.
    pub leader_id: Option<i64>,
    /// Per member (not the leader): entries behind the leader, None when unknown.
    pub lag: BTreeMap<i64, Option<u64>>,
}

/// What one reconcile does to make progress.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Action {
    /// Nothing to do now (settled, or waiting for something to happen).
    None,
    /// `reconfig` add `id` (the pod `ordinal`) as a participant.
    AddMember { ordinal: i32, id: i64 },
    /// `reconfig` remove these ids.
    RemoveMembers { ids: Vec<i64> },
    /// Set the StatefulSet's replicas (one step of a scale operation).
    SetReplicas(i32),
    /// Hand leadership from `from` to a follower: `candidates` are the ordinals of healthy
    /// (updated) voters, best first. The operator asks the leader (`transfer_leadership?to=`), or
    /// a follower to start an election when the leader runs an earlier rzk; a failed attempt is
    /// retried with the next candidate.
    TransferLeadership { from: i64, candidates: Vec<i32> },
    /// Delete a pod (the StatefulSet recreates it from the current template).
    DeletePod { ordinal: i32 },
    /// Give the pod a new server id (its volume was wiped) and restart it.
    ReplaceId { ordinal: i32 },
}

/// Phase reported in the Progressing condition.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Phase {
    Settled,
    Creating,
    NoQuorum,
    ScalingUp,
    ScalingDown,
    RollingUpdate,
    ReplacingMember,
    RemovingMember,
    WaitingForMember,
}

impl Phase {
    pub fn reason(self) -> &'static str {
        match self {
            Phase::Settled => "Reconciled",
            Phase::Creating => "Creating",
            Phase::NoQuorum => "NoQuorum",
            Phase::ScalingUp => "ScalingUp",
            Phase::ScalingDown => "ScalingDown",
            Phase::RollingUpdate => "RollingUpdate",
            Phase::ReplacingMember => "ReplacingMember",
            Phase::RemovingMember => "RemovingMember",
            Phase::WaitingForMember => "WaitingForMember",
        }
    }
}

/// The decision.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Plan {
    pub action: Action,
    pub phase: Phase,
    pub message: String,
    /// Set when a server stayed unhealthy past the health timeout: the rollout (or scale
    /// operation) is halted until it recovers. (reason, message)
    pub halted: Option<(String, String)>,
}

/// Inputs of [`plan`].
pub struct PlanInput<'a> {
    /// The StatefulSet's name (pods are `<name>-<ordinal>`).
    pub name: &'a str,
    /// spec.replicas
    pub desired: i32,
    /// The StatefulSet's current replicas.
    pub sts_replicas: i32,
    /// status.serverIds (after bookkeeping).
    pub ids: &'a [ServerIdStatus],
    pub pods: &'a [PodObs],
    pub ens: &'a EnsembleObs,
    /// Hash of the current pod template.
    pub template_hash: &'a str,
    /// The StatefulSet carries the current template and its controller has observed it, so a
    /// deleted pod comes back with it: only then are outdated pods restarted.
    pub rollout_ready: bool,
    /// Now, epoch seconds.
    pub now: i64,
    /// spec.rollout.healthTimeoutSeconds
    pub health_timeout: i64,
}

impl PlanInput<'_> {
    fn id_of(&self, ordinal: i32) -> Option<i64> {
        self.ids.iter().find(|s| s.ordinal == ordinal).map(|s| s.id)
    }
    fn pod(&self, ordinal: i32) -> Option<&PodObs> {
        self.pods.iter().find(|p| p.ordinal == ordinal)
    }
    fn ordinal_of_id(&self, id: i64) -> Option<i32> {
        self.ids.iter().find(|s| s.id == id).map(|s| s.ordinal)
    }
    fn synced(&self, id: i64) -> bool {
        self.ens.leader_id == Some(id)
            || self
                .ens
                .lag
                .get(&id)
                .is_some_and(|l| l.is_some_and(|l| l <= SYNCED_LAG))
    }
    /// A voting member whose pod is Ready, runs its id, and is in sync with the leader.
    fn healthy_id(&self, id: i64) -> bool {
        let Some(m) = &self.ens.membership else {
            return false;
        };
        if !m.voters.contains_key(&id) || !self.synced(id) {
            return false;
        }
        match self.ordinal_of_id(id).and_then(|o| self.pod(o)) {
            Some(p) => p.ready && !p.terminating && p.server_id.is_none_or(|s| s == id),
            None => false,
        }
    }
    fn healthy_ordinal(&self, ordinal: i32) -> bool {
        self.id_of(ordinal).is_some_and(|id| self.healthy_id(id))
    }
    fn updated(&self, ordinal: i32) -> bool {
        match self.pod(ordinal) {
            Some(p) => p.template_hash.as_deref() == Some(self.template_hash),
            None => true,
        }
    }
    /// Whether removing `ids` leaves voters with a healthy majority.
    fn can_remove(&self, ids: &[i64]) -> Result<(), String> {
        let Some(m) = &self.ens.membership else {
            return Err("the membership is unknown".into());
        };
        let rest: Vec<i64> = m
            .voters
            .keys()
            .copied()
            .filter(|v| !ids.contains(v))
            .collect();
        if rest.is_empty() {
            return Err("no voter would remain".into());
        }
        let healthy = rest.iter().filter(|v| self.healthy_id(**v)).count();
        if healthy * 2 > rest.len() {
            Ok(())
        } else {
            Err(format!(
                "only {healthy} of the {} remaining voters are healthy",
                rest.len()
            ))
        }
    }
    /// Followers to hand leadership to, best first: healthy, updated, voters, not excluded.
    fn transfer_targets(&self, exclude: &[i32]) -> Vec<i32> {
        let Some(m) = self.ens.membership.as_ref() else {
            return Vec::new();
        };
        let mut candidates: Vec<(bool, u64, i32)> = (0..self.sts_replicas)
            .filter(|o| !exclude.contains(o))
            .filter_map(|o| {
                let id = self.id_of(o)?;
                (m.voters.contains_key(&id)
                    && self.ens.leader_id != Some(id)
                    && self.healthy_id(id))
                .then(|| {
                    let lag = self.ens.lag.get(&id).copied().flatten().unwrap_or(u64::MAX);
                    (!self.updated(o), lag, o)
                })
            })
            .collect();
        candidates.sort();
        candidates.into_iter().map(|c| c.2).collect()
    }
}

fn plan_of(action: Action, phase: Phase, message: impl Into<String>) -> Plan {
    Plan {
        action,
        phase,
        message: message.into(),
        halted: None,
    }
}

/// The next step.
pub fn plan(inp: &PlanInput<'_>) -> Plan {
    let mut p = plan_inner(inp);
    p.halted = halted(inp, &p);
    p
}

/// Servers that stayed unhealthy past the timeout halt the operation.
fn halted(inp: &PlanInput<'_>, p: &Plan) -> Option<(String, String)> {
    if p.phase == Phase::Settled {
        return None;
    }
    let mut late = Vec::new();
    for o in 0..inp.sts_replicas {
        if inp.healthy_ordinal(o) {
            continue;
        }
        let since = match inp.pod(o) {
            Some(pod) => pod.unready_since,
            None => None,
        };
        if let Some(since) = since {
            if inp.now - since > inp.health_timeout {
                let name = inp
                    .pod(o)
                    .map(|p| p.name.clone())
                    .unwrap_or_else(|| format!("{}-{o}", inp.name));
                late.push(format!("{name} (unhealthy for {}s)", inp.now - since));
            }
        }
    }
    if late.is_empty() {
        return None;
    }
    let rollout = (0..inp.sts_replicas).any(|o| !inp.updated(o));
    let reason = if rollout {
        "RolloutHalted"
    } else {
        "MemberUnhealthy"
    };
    Some((
        reason.into(),
        format!(
            "{} did not become healthy within {}s; no further server is taken down until it recovers or the spec changes ({})",
            late.join(", "),
            inp.health_timeout,
            p.message
        ),
    ))
}

fn plan_inner(inp: &PlanInput<'_>) -> Plan {
    let r = inp.sts_replicas;
    let d = inp.desired;

    // 1. membership
    let Some(members) = &inp.ens.membership else {
        let any_joined = inp.ids.iter().any(|s| s.joined);
        return if any_joined {
            plan_of(
                Action::None,
                Phase::NoQuorum,
                "no leader with a readable membership: waiting for a quorum",
            )
        } else {
            plan_of(
                Action::None,
                Phase::Creating,
                "waiting for the servers to form the ensemble",
            )
        };
    };

    // 2. wiped volumes
    for o in 0..r {
        if let (Some(pod), Some(s)) = (inp.pod(o), inp.ids.iter().find(|s| s.ordinal == o)) {
            if pod.wiped && s.joined {
                return plan_of(
                    Action::ReplaceId { ordinal: o },
                    Phase::ReplacingMember,
                    format!(
                        "{}: its volume is empty but server {} had joined: replacing it with a new server id",
                        pod.name, s.id
                    ),
                );
            }
        }
    }

    // 3. members no pod owns
    let owned: BTreeSet<i64> = (0..r).filter_map(|o| inp.id_of(o)).collect();
    let stale: Vec<i64> = members.ids().filter(|id| !owned.contains(id)).collect();
    if !stale.is_empty() {
        if let Some(l) = inp.ens.leader_id.filter(|l| stale.contains(l)) {
            let candidates = inp.transfer_targets(&[]);
            return match candidates.is_empty() {
                false => plan_of(
                    Action::TransferLeadership { from: l, candidates },
                    Phase::RemovingMember,
                    format!("server {l} leads but no pod owns it: handing leadership over before removing it"),
                ),
                true => plan_of(Action::None, Phase::RemovingMember, format!("server {l} leads but no pod owns it, and no healthy follower can take over")),
            };
        }
        return match inp.can_remove(&stale) {
            Ok(()) => plan_of(
                Action::RemoveMembers { ids: stale.clone() },
                Phase::RemovingMember,
                format!("removing server(s) {stale:?}: no pod owns them"),
            ),
            Err(why) => plan_of(
                Action::None,
                Phase::RemovingMember,
                format!("cannot remove server(s) {stale:?} yet: {why}"),
            ),
        };
    }

    // 4. scale down
    if d < r {
        let o = r - 1;
        let pod_name = inp
            .pod(o)
            .map(|p| p.name.clone())
            .unwrap_or_else(|| format!("{}-{o}", inp.name));
        match inp.id_of(o) {
            Some(id) if members.contains(id) => {
                if inp.ens.leader_id == Some(id) {
                    let candidates = inp.transfer_targets(&[o]);
                    return match candidates.is_empty() {
                        false => plan_of(
                            Action::TransferLeadership { from: id, candidates },
                            Phase::ScalingDown,
                            format!("scaling down {r} -> {d}: {pod_name} (server {id}) leads: handing leadership over first"),
                        ),
                        true => plan_of(
                            Action::None,
                            Phase::ScalingDown,
                            format!("scaling down {r} -> {d}: {pod_name} (server {id}) leads and no healthy follower can take over"),
                        ),
                    };
                }
                return match inp.can_remove(&[id]) {
                    Ok(()) => plan_of(
                        Action::RemoveMembers { ids: vec![id] },
                        Phase::ScalingDown,
                        format!("scaling down {r} -> {d}: removing {pod_name} (server {id}) from the ensemble"),
                    ),
                    Err(why) => plan_of(
                        Action::None,
                        Phase::ScalingDown,
                        format!("scaling down {r} -> {d}: cannot remove {pod_name} (server {id}) yet: {why}"),
                    ),
                };
            }
            _ => {
                return plan_of(
                    Action::SetReplicas(r - 1),
                    Phase::ScalingDown,
                    format!("scaling down {r} -> {d}: {pod_name} left the ensemble; deleting it"),
                );
            }
        }
    }

    let scaling_up = d > r;
    let rollout = (0..r).any(|o| !inp.updated(o));
    let busy_phase = if scaling_up {
        Phase::ScalingUp
    } else if rollout {
        Phase::RollingUpdate
    } else {
        Phase::WaitingForMember
    };

    // 5. every pod below replicas is a synced member
    for o in 0..r {
        let Some(id) = inp.id_of(o) else {
            return plan_of(
                Action::None,
                busy_phase,
                format!("ordinal {o} has no server id yet"),
            );
        };
        if inp.healthy_ordinal(o) {
            continue;
        }
        let pod = inp.pod(o);
        let name = pod
            .map(|p| p.name.clone())
            .unwrap_or_else(|| format!("{}-{o}", inp.name));
        // A pod that is down anyway and runs an outdated revision: restarting it costs nothing
        // and may cure it (e.g. after a bad change was reverted).
        if let Some(p) = pod {
            if !p.ready
                && !p.terminating
                && p.mode.is_none()
                && !inp.updated(o)
                && inp.rollout_ready
            {
                return plan_of(
                    Action::DeletePod { ordinal: o },
                    Phase::RollingUpdate,
                    format!("{name} is down and runs an outdated revision: restarting it"),
                );
            }
        }
        // Not a voter: absent, or left a learner (observer) by a refused reconfig (e.g. it was
        // not yet in sync when the new configuration was checked): (re)add it as a participant.
        if !members.voters.contains_key(&id) {
            let starting = match pod {
                Some(p) if p.running && !p.terminating && p.server_id == Some(id) => None,
                Some(p) if p.running && p.server_id.is_some() && p.server_id != Some(id) => {
                    Some(format!(
                    "{name} runs server {} but is assigned server {id}: waiting for it to restart",
                    p.server_id.unwrap_or(0)
                ))
                }
                _ => Some(format!("waiting for {name} (server {id}) to start")),
            };
            return match starting {
                None => plan_of(
                    Action::AddMember { ordinal: o, id },
                    busy_phase,
                    format!("adding {name} (server {id}) to the ensemble"),
                ),
                Some(msg) => plan_of(Action::None, busy_phase, msg),
            };
        }
        let why = match pod {
            None => "its pod is missing".to_string(),
            Some(p) if p.terminating => "its pod is terminating".to_string(),
            Some(p) if !p.ready => "its pod is not Ready".to_string(),
            Some(_) if !inp.synced(id) => match inp.ens.lag.get(&id).copied().flatten() {
                Some(l) => format!("it is {l} entries behind the leader"),
                None => "the leader reports no replication progress for it".to_string(),
            },
            Some(_) => "it runs another server id".to_string(),
        };
        return plan_of(
            Action::None,
            busy_phase,
            format!("waiting for {name} (server {id}) to be healthy: {why}"),
        );
    }

    // 6. scale up
    if scaling_up {
        return plan_of(
            Action::SetReplicas(r + 1),
            Phase::ScalingUp,
            format!(
                "scaling up {r} -> {d}: all {r} servers are synced members; starting {}-{r}",
                inp.name
            ),
        );
    }

    // 7. rolling update
    if rollout && !inp.rollout_ready {
        return plan_of(
            Action::None,
            Phase::RollingUpdate,
            "waiting for the StatefulSet controller to observe the new pod template",
        );
    }
    if rollout {
        let outdated: Vec<i32> = (0..r).filter(|o| !inp.updated(*o)).collect();
        let leader_ordinal = inp.ens.leader_id.and_then(|l| inp.ordinal_of_id(l));
        let done = r as usize - outdated.len();
        if let Some(&o) = outdated.iter().rev().find(|o| Some(**o) != leader_ordinal) {
            let name = format!("{}-{o}", inp.name);
            return plan_of(
                Action::DeletePod { ordinal: o },
                Phase::RollingUpdate,
                format!("rolling update ({done} of {r} updated): restarting follower {name}"),
            );
        }
        let o = outdated[0];
        let name = format!("{}-{o}", inp.name);
        let leader = inp.ens.leader_id.unwrap_or(0);
        let candidates = inp.transfer_targets(&[o]);
        return match candidates.first() {
            Some(_) => plan_of(
                Action::TransferLeadership { from: leader, candidates },
                Phase::RollingUpdate,
                format!("rolling update ({done} of {r} updated): {name} leads: handing leadership over before restarting it"),
            ),
            None if r == 1 => plan_of(
                Action::DeletePod { ordinal: o },
                Phase::RollingUpdate,
                format!("rolling update: restarting the only server {name} (a one-server ensemble is unavailable meanwhile)"),
            ),
            None => plan_of(
                Action::None,
                Phase::RollingUpdate,
                format!("rolling update: {name} leads and no healthy updated follower can take over"),
            ),
        };
    }

    plan_of(
        Action::None,
        Phase::Settled,
        format!("all {r} servers are synced members running the current revision"),
    )
}

/// Bookkeeping of `status.serverIds` from observations (pure): an id is marked joined once its
/// pod serves as a member of the ensemble under that id (so its volume holds state; a member
/// listed at bootstrap whose pod never ran has nothing to lose); ordinals at or above the
/// StatefulSet's replicas whose pod is gone and whose id is no member are released. Returns the
/// new list (sorted by ordinal).
pub fn update_ids(
    ids: &[ServerIdStatus],
    sts_replicas: i32,
    pods: &[PodObs],
    membership: Option<&Membership>,
) -> Vec<ServerIdStatus> {
    let mut out: Vec<ServerIdStatus> = ids
        .iter()
        .filter(|s| {
            if s.ordinal < sts_replicas {
                return true;
            }
            let pod_exists = pods.iter().any(|p| p.ordinal == s.ordinal);
            let member = match membership {
                Some(m) => m.contains(s.id),
                None => true, // unknown: keep
            };
            pod_exists || member
        })
        .cloned()
        .map(|mut s| {
            let serving = pods
                .iter()
                .any(|p| p.ordinal == s.ordinal && p.server_id == Some(s.id) && p.mode.is_some());
            if serving && membership.is_some_and(|m| m.contains(s.id)) {
                s.joined = true;
            }
            s
        })
        .collect();
    out.sort_by_key(|s| s.ordinal);
    out
}

/// Allocate ids for every ordinal below `replicas` that has none. Returns the new list and next id.
pub fn allocate_ids(
    ids: &[ServerIdStatus],
    next_id: i64,
    replicas: i32,
) -> (Vec<ServerIdStatus>, i64) {
    let mut out = ids.to_vec();
    let mut next = next_id.max(ids.iter().map(|s| s.id + 1).max().unwrap_or(1));
    for o in 0..replicas {
        if !out.iter().any(|s| s.ordinal == o) {
            out.push(ServerIdStatus {
                ordinal: o,
                id: next,
                joined: false,
            });
            next += 1;
        }
    }
    out.sort_by_key(|s| s.ordinal);
    (out, next)
}

/// Give `ordinal` a fresh id.
pub fn replace_id(
    ids: &[ServerIdStatus],
    next_id: i64,
    ordinal: i32,
) -> (Vec<ServerIdStatus>, i64) {
    let next = next_id.max(ids.iter().map(|s| s.id + 1).max().unwrap_or(1));
    let mut out: Vec<ServerIdStatus> = ids
        .iter()
        .filter(|s| s.ordinal != ordinal)
        .cloned()
        .collect();
    out.push(ServerIdStatus {
        ordinal,
        id: next,
        joined: false,
    });
    out.sort_by_key(|s| s.ordinal);
    (out, next + 1)
}

/// The joining spec for `reconfig`: the server's own `server.N` value (as it announces itself in
/// `conf`), as a participant, or `fallback`.
pub fn joining_spec(id: i64, own_spec: Option<&str>, fallback: &str) -> String {
    let value = match own_spec {
        Some(v) if !v.is_empty() => {
            let (addr, client) = match v.split_once(';') {
                Some((a, c)) => (a, Some(c)),
                None => (v, None),
            };
            let parts: Vec<&str> = addr.split(':').collect();
            // host:quorum:election[:role] (an IPv6 host is bracketed and has ':' inside)
            let base = if addr.ends_with(":participant") || addr.ends_with(":observer") {
                addr.rsplit_once(':').map_or(addr, |x| x.0).to_string()
            } else if parts.len() >= 3 {
                addr.to_string()
            } else {
                return format!("server.{id}={fallback}");
            };
            match client {
                Some(c) => format!("{base}:participant;{c}"),
                None => format!("{base}:participant"),
            }
        }
        _ => fallback.to_string(),
    };
    format!("server.{id}={value}")
}
