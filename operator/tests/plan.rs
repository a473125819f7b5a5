//! The day-2 decision (pure): scale through reconfig, rolling updates leader last, health gates.

use std::collections::BTreeMap;

use rzk_operator::crd::ServerIdStatus;
use rzk_operator::plan::{self, Action, EnsembleObs, Phase, PlanInput, PodObs};
use rzk_operator::zkclient::Membership;

const NOW: i64 = 1_000_000;

/// A test world: pods `zk-<ordinal>` with server ids, a membership, a leader.
#[derive(Clone)]
struct World {
    desired: i32,
    sts: i32,
    ids: Vec<ServerIdStatus>,
    pods: Vec<PodObs>,
    ens: EnsembleObs,
    rev: String,
    rollout_ready: bool,
}

fn pod(ordinal: i32, id: i64, mode: &str) -> PodObs {
    PodObs {
        ordinal,
        name: format!("zk-{ordinal}"),
        ip: Some(format!("10.0.0.{}", ordinal + 1)),
        ready: true,
        template_hash: Some("r1".into()),
        running: true,
        server_id: Some(id),
        own_spec: Some(format!("10.0.0.{}:2888:3888:participant", ordinal + 1)),
        mode: Some(mode.into()),
        ..Default::default()
    }
}

fn membership(voters: &[i64]) -> Membership {
    Membership {
        voters: voters
            .iter()
            .map(|v| (*v, format!("h{v}:2888:3888:participant")))
            .collect(),
        observers: BTreeMap::new(),
        version: "100000001".into(),
    }
}

/// A healthy ensemble of `n` servers, ids 1..=n, leader = `leader` (an id).
fn healthy(n: i32, leader: i64) -> World {
    let ids: Vec<ServerIdStatus> = (0..n)
        .map(|o| ServerIdStatus {
            ordinal: o,
            id: i64::from(o) + 1,
            joined: true,
        })
        .collect();
    let pods = ids
        .iter()
        .map(|s| {
            pod(
                s.ordinal,
                s.id,
                if s.id == leader { "leader" } else { "follower" },
            )
        })
        .collect();
    let voters: Vec<i64> = ids.iter().map(|s| s.id).collect();
    let lag = voters
        .iter()
        .filter(|v| **v != leader)
        .map(|v| (*v, Some(0)))
        .collect();
    World {
        desired: n,
        sts: n,
        ids,
        pods,
        ens: EnsembleObs {
            membership: Some(membership(&voters)),
            leader_id: Some(leader),
            lag,
        },
        rev: "r1".into(),
        rollout_ready: true,
    }
}

impl World {
    fn plan(&self) -> plan::Plan {
        plan::plan(&PlanInput {
            name: "zk",
            desired: self.desired,
            sts_replicas: self.sts,
            ids: &self.ids,
            pods: &self.pods,
            ens: &self.ens,
            template_hash: &self.rev,
            rollout_ready: self.rollout_ready,
            now: NOW,
            health_timeout: 300,
        })
    }
    fn pod_mut(&mut self, ordinal: i32) -> &mut PodObs {
        self.pods.iter_mut().find(|p| p.ordinal == ordinal).unwrap()
    }
    /// Add the pod of a new ordinal (running, not a member yet), with its id allocated.
    fn start_pod(&mut self, ordinal: i32, id: i64) {
        self.ids.push(ServerIdStatus {
            ordinal,
            id,
            joined: false,
        });
        let mut p = pod(ordinal, id, "x");
        p.mode = None;
        p.ready = false;
        p.unready_since = Some(NOW - 5);
        self.pods.push(p);
    }
    fn join(&mut self, ordinal: i32) {
        let id = self.ids.iter().find(|s| s.ordinal == ordinal).unwrap().id;
        let m = self.ens.membership.as_mut().unwrap();
        m.voters.insert(id, String::new());
        self.ens.lag.insert(id, Some(0));
        let p = self.pod_mut(ordinal);
        p.mode = Some("follower".into());
        p.ready = true;
        p.unready_since = None;
    }
    fn leave(&mut self, id: i64) {
        let m = self.ens.membership.as_mut().unwrap();
        m.voters.remove(&id);
        self.ens.lag.remove(&id);
    }
}

#[test]
fn settled_ensemble_does_nothing() {
    let p = healthy(3, 2).plan();
    assert_eq!(p.action, Action::None);
    assert_eq!(p.phase, Phase::Settled);
    assert_eq!(p.halted, None);
}

#[test]
fn new_ensemble_waits_for_bootstrap() {
    let mut w = healthy(3, 1);
    w.ens = EnsembleObs::default();
    for s in &mut w.ids {
        s.joined = false;
    }
    let p = w.plan();
    assert_eq!((p.action, p.phase), (Action::None, Phase::Creating));
    w.ids[0].joined = true;
    assert_eq!(w.plan().phase, Phase::NoQuorum);
}

#[test]
fn scale_up_one_server_at_a_time_through_reconfig() {
    let mut w = healthy(3, 1);
    w.desired = 5;
    // all 3 synced members: grow the StatefulSet by one
    assert_eq!(w.plan().action, Action::SetReplicas(4));
    w.sts = 4;
    // the new pod has no running server yet: wait
    w.ids.push(ServerIdStatus {
        ordinal: 3,
        id: 4,
        joined: false,
    });
    let p = w.plan();
    assert_eq!(p.action, Action::None);
    assert_eq!(p.phase, Phase::ScalingUp);
    assert!(p.message.contains("waiting for zk-3"), "{}", p.message);
    // its server runs (as server 4): add it
    w.ids.pop();
    w.start_pod(3, 4);
    assert_eq!(w.plan().action, Action::AddMember { ordinal: 3, id: 4 });
    // a member, but not in sync yet: do not advance
    w.ens
        .membership
        .as_mut()
        .unwrap()
        .voters
        .insert(4, String::new());
    w.ens.lag.insert(4, Some(5000));
    assert!(w.plan().message.contains("not Ready"));
    w.pod_mut(3).ready = true;
    let p = w.plan();
    assert_eq!(p.action, Action::None);
    assert!(p.message.contains("5000 entries behind"), "{}", p.message);
    // synced and Ready: next server
    w.join(3);
    assert_eq!(w.plan().action, Action::SetReplicas(5));
    w.sts = 5;
    w.start_pod(4, 5);
    assert_eq!(w.plan().action, Action::AddMember { ordinal: 4, id: 5 });
    w.join(4);
    assert_eq!(w.plan().phase, Phase::Settled);
}

#[test]
fn a_member_left_an_observer_by_a_refused_reconfig_is_added_again() {
    let mut w = healthy(1, 1);
    w.desired = 3;
    w.sts = 2;
    w.start_pod(1, 6);
    w.join(1);
    let m = w.ens.membership.as_mut().unwrap();
    m.voters.remove(&6);
    m.observers.insert(6, String::new());
    w.pod_mut(1).mode = Some("observer".into());
    assert_eq!(w.plan().action, Action::AddMember { ordinal: 1, id: 6 });
}

#[test]
fn a_pod_running_the_wrong_id_is_not_added() {
    let mut w = healthy(1, 1);
    w.desired = 2;
    w.sts = 2;
    w.start_pod(1, 2);
    w.pod_mut(1).server_id = Some(9);
    let p = w.plan();
    assert_eq!(p.action, Action::None);
    assert!(p.message.contains("runs server 9"), "{}", p.message);
}

#[test]
fn scale_down_removes_the_member_before_deleting_its_pod() {
    let mut w = healthy(5, 1);
    w.desired = 3;
    assert_eq!(w.plan().action, Action::RemoveMembers { ids: vec![5] });
    w.leave(5);
    assert_eq!(w.plan().action, Action::SetReplicas(4));
    w.sts = 4;
    // the pod may still exist (terminating): the next member goes
    assert_eq!(w.plan().action, Action::RemoveMembers { ids: vec![4] });
    w.leave(4);
    assert_eq!(w.plan().action, Action::SetReplicas(3));
}

#[test]
fn scale_down_hands_leadership_away_first() {
    let mut w = healthy(3, 3);
    w.desired = 2;
    match w.plan().action {
        Action::TransferLeadership {
            from: 3,
            candidates,
        } => assert_eq!(candidates, [0, 1]),
        a => panic!("{a:?}"),
    }
}

#[test]
fn scale_down_never_below_a_healthy_quorum() {
    // 3 voters, one of the survivors down: removing the third would leave {1 healthy of 2}
    let mut w = healthy(3, 1);
    w.desired = 2;
    w.pod_mut(1).ready = false;
    w.pod_mut(1).mode = None;
    w.ens.lag.insert(2, None);
    let p = w.plan();
    assert_eq!(p.action, Action::None);
    assert!(p.message.contains("cannot remove"), "{}", p.message);
}

#[test]
fn scale_to_one_and_back() {
    let mut w = healthy(2, 1);
    w.desired = 1;
    assert_eq!(w.plan().action, Action::RemoveMembers { ids: vec![2] });
    w.leave(2);
    assert_eq!(w.plan().action, Action::SetReplicas(1));
    w.sts = 1;
    w.pods.retain(|p| p.ordinal == 0);
    w.ids.retain(|s| s.ordinal == 0);
    assert_eq!(w.plan().phase, Phase::Settled);
    w.desired = 3;
    assert_eq!(w.plan().action, Action::SetReplicas(2));
    w.sts = 2;
    w.start_pod(1, 6); // a fresh id: ids are never reused
    assert_eq!(w.plan().action, Action::AddMember { ordinal: 1, id: 6 });
}

#[test]
fn rolling_update_followers_first_highest_ordinal_first_leader_last() {
    let mut w = healthy(3, 3); // the leader is the highest ordinal
    w.rev = "r2".into();
    assert_eq!(w.plan().action, Action::DeletePod { ordinal: 1 });
    // while it is down, nothing else is touched
    w.pod_mut(1).ready = false;
    w.pod_mut(1).mode = None;
    w.pod_mut(1).template_hash = Some("r2".into());
    w.pod_mut(1).unready_since = Some(NOW - 3);
    w.ens.lag.insert(2, None);
    let p = w.plan();
    assert_eq!(p.action, Action::None);
    assert_eq!(p.phase, Phase::RollingUpdate);
    // back and synced
    w.join(1);
    assert_eq!(w.plan().action, Action::DeletePod { ordinal: 0 });
    w.pod_mut(0).template_hash = Some("r2".into());
    // only the leader is outdated: hand over to an updated synced follower
    assert_eq!(
        w.plan().action,
        Action::TransferLeadership {
            from: 3,
            candidates: vec![0, 1]
        }
    );
    // leadership moved: the old leader is a follower now and goes last
    w.ens.leader_id = Some(1);
    w.ens.lag = [(2, Some(0)), (3, Some(0))].into();
    w.pod_mut(0).mode = Some("leader".into());
    w.pod_mut(2).mode = Some("follower".into());
    assert_eq!(w.plan().action, Action::DeletePod { ordinal: 2 });
    w.pod_mut(2).template_hash = Some("r2".into());
    assert_eq!(w.plan().phase, Phase::Settled);
}

#[test]
fn no_rollout_until_the_statefulset_controller_saw_the_template() {
    let mut w = healthy(3, 1);
    w.rev = "r2".into();
    w.rollout_ready = false;
    let p = w.plan();
    assert_eq!((p.action, p.phase), (Action::None, Phase::RollingUpdate));
    w.rollout_ready = true;
    assert_eq!(w.plan().action, Action::DeletePod { ordinal: 2 });
}

#[test]
fn a_server_that_never_becomes_healthy_halts_the_rollout() {
    let mut w = healthy(3, 1);
    w.rev = "r2".into();
    w.pod_mut(2).template_hash = Some("r2".into());
    w.pod_mut(2).ready = false;
    w.pod_mut(2).mode = None;
    w.pod_mut(2).running = false;
    w.ens.lag.insert(3, None);
    w.pod_mut(2).unready_since = Some(NOW - 100);
    let p = w.plan();
    assert_eq!(p.action, Action::None);
    assert_eq!(p.halted, None, "within the timeout");
    w.pod_mut(2).unready_since = Some(NOW - 301);
    let p = w.plan();
    assert_eq!(p.action, Action::None, "no second server is taken down");
    let (reason, msg) = p.halted.unwrap();
    assert_eq!(reason, "RolloutHalted");
    assert!(msg.contains("zk-2"), "{msg}");
    // the change is reverted: the broken pod is outdated now and down anyway: restart it
    w.rev = "r1".into();
    assert_eq!(w.plan().action, Action::DeletePod { ordinal: 2 });
}

#[test]
fn a_down_follower_is_not_restarted_when_up_to_date() {
    let mut w = healthy(3, 1);
    w.pod_mut(1).ready = false;
    w.pod_mut(1).mode = None;
    w.ens.lag.insert(2, None);
    let p = w.plan();
    assert_eq!(p.action, Action::None);
    assert_eq!(p.phase, Phase::WaitingForMember);
}

#[test]
fn one_server_rollout_restarts_it() {
    let mut w = healthy(1, 1);
    w.rev = "r2".into();
    assert_eq!(w.plan().action, Action::DeletePod { ordinal: 0 });
}

#[test]
fn wiped_volume_gets_a_new_id_and_the_old_member_goes() {
    let mut w = healthy(3, 1);
    {
        let p = w.pod_mut(2);
        p.wiped = true;
        p.ready = false;
        p.running = false;
        p.mode = None;
    }
    w.ens.lag.insert(3, None);
    assert_eq!(w.plan().action, Action::ReplaceId { ordinal: 2 });
    // after the replacement: ordinal 2 is server 4, server 3 is a stale member
    let (ids, next) = plan::replace_id(&w.ids, 4, 2);
    assert_eq!(next, 5);
    assert_eq!(
        ids[2],
        ServerIdStatus {
            ordinal: 2,
            id: 4,
            joined: false
        }
    );
    w.ids = ids;
    w.pod_mut(2).wiped = false;
    w.pod_mut(2).server_id = Some(4);
    w.pod_mut(2).running = true;
    assert_eq!(w.plan().action, Action::RemoveMembers { ids: vec![3] });
    w.leave(3);
    assert_eq!(w.plan().action, Action::AddMember { ordinal: 2, id: 4 });
}

#[test]
fn id_bookkeeping() {
    let ids = vec![
        ServerIdStatus {
            ordinal: 0,
            id: 1,
            joined: false,
        },
        ServerIdStatus {
            ordinal: 1,
            id: 2,
            joined: true,
        },
        ServerIdStatus {
            ordinal: 2,
            id: 3,
            joined: true,
        },
    ];
    let m = membership(&[1, 2]);
    // ordinal 2 is above the StatefulSet's replicas, its pod is gone and it is no member
    let out = plan::update_ids(&ids, 2, &[pod(0, 1, "leader")], Some(&m));
    assert_eq!(out.len(), 2);
    assert!(out[0].joined, "serving as a member under its id");
    // listed in the membership (e.g. at bootstrap) but its pod never ran: not joined
    let fresh = vec![ServerIdStatus {
        ordinal: 0,
        id: 1,
        joined: false,
    }];
    assert!(!plan::update_ids(&fresh, 1, &[], Some(&m))[0].joined);
    let mut other = pod(0, 1, "follower");
    other.server_id = Some(7);
    assert!(!plan::update_ids(&fresh, 1, &[other], Some(&m))[0].joined);
    // membership unknown: keep everything
    assert_eq!(plan::update_ids(&ids, 2, &[], None).len(), 3);
    // allocation never reuses an id
    let (a, next) = plan::allocate_ids(&out, 1, 4);
    assert_eq!(a.iter().map(|s| s.id).collect::<Vec<_>>(), [1, 2, 3, 4]);
    assert_eq!(next, 5);
    let (a, next) = plan::allocate_ids(&out, 9, 3);
    assert_eq!(a[2].id, 9);
    assert_eq!(next, 10);
}

#[test]
fn joining_spec_uses_what_the_server_announces() {
    assert_eq!(
        plan::joining_spec(
            4,
            Some("127.0.1.5:2888:3888:participant"),
            "x:1:2:participant"
        ),
        "server.4=127.0.1.5:2888:3888:participant"
    );
    assert_eq!(
        plan::joining_spec(4, Some("h:2888:3888:observer;h:2181"), "x"),
        "server.4=h:2888:3888:participant;h:2181"
    );
    assert_eq!(
        plan::joining_spec(4, Some("h:2888:3888"), "x"),
        "server.4=h:2888:3888:participant"
    );
    assert_eq!(
        plan::joining_spec(4, None, "zk-3.zk-headless:2888:3888:participant"),
        "server.4=zk-3.zk-headless:2888:3888:participant"
    );
}

#[test]
fn even_counts_pass_through() {
    let mut w = healthy(4, 2);
    assert_eq!(w.plan().phase, Phase::Settled);
    w.desired = 2;
    assert_eq!(w.plan().action, Action::RemoveMembers { ids: vec![4] });
}
