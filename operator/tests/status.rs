//! Status computation from observed servers (pure).

use kube::core::ObjectMeta;
use rzk_operator::builders::BuildContext;
use rzk_operator::crd::{ServerIdStatus, ZookeeperCluster, ZookeeperClusterSpec};
use rzk_operator::plan::{Action, EnsembleObs, Phase, Plan, PodObs};
use rzk_operator::reconcile::{carry_transition_times, compute_status, StatusInput};
use rzk_operator::zkclient::Membership;

fn cluster(replicas: i32) -> ZookeeperCluster {
    let spec: ZookeeperClusterSpec =
        serde_saphyr::from_str(&format!("replicas: {replicas}")).unwrap();
    let mut zk = ZookeeperCluster::new("zk", spec);
    zk.metadata = ObjectMeta {
        name: Some("zk".into()),
        namespace: Some("ns".into()),
        generation: Some(2),
        ..Default::default()
    };
    zk
}

fn member(id: i64, ready: bool, mode: Option<&str>) -> PodObs {
    PodObs {
        ordinal: (id - 1) as i32,
        name: format!("zk-{}", id - 1),
        ready,
        running: mode.is_some() || ready,
        server_id: Some(id),
        mode: mode.map(str::to_string),
        version: Some("0.1.0".into()),
        template_hash: Some("r1".into()),
        ..Default::default()
    }
}

fn ensemble(voters: &[i64], leader: Option<i64>) -> EnsembleObs {
    EnsembleObs {
        membership: leader.map(|_| Membership {
            voters: voters.iter().map(|v| (*v, String::new())).collect(),
            observers: Default::default(),
            version: "10000000a".into(),
        }),
        leader_id: leader,
        lag: voters
            .iter()
            .filter(|v| Some(**v) != leader)
            .map(|v| (*v, Some(0)))
            .collect(),
    }
}

fn ids(n: i64) -> Vec<ServerIdStatus> {
    (1..=n)
        .map(|id| ServerIdStatus {
            ordinal: (id - 1) as i32,
            id,
            joined: true,
        })
        .collect()
}

fn status(
    zk: &ZookeeperCluster,
    pods: &[PodObs],
    ens: &EnsembleObs,
    phase: Phase,
) -> rzk_operator::crd::ZookeeperClusterStatus {
    let n = zk.spec.replicas;
    let plan = Plan {
        action: Action::None,
        phase,
        message: "m".into(),
        halted: None,
    };
    let ids = ids(i64::from(n));
    compute_status(&StatusInput {
        zk,
        sts: None,
        replicas: n,
        pods,
        ens,
        ens_error: None,
        ids: &ids,
        next_id: i64::from(n) + 1,
        plan: &plan,
        template_hash: "r1",
        apply_error: None,
        step_error: None,
        build: &BuildContext::default(),
    })
}

fn cond<'a>(s: &'a rzk_operator::crd::ZookeeperClusterStatus, t: &str) -> &'a str {
    &s.conditions.iter().find(|c| c.type_ == t).unwrap().status
}

#[test]
fn healthy_ensemble() {
    let zk = cluster(3);
    let ms = [
        member(1, true, Some("follower")),
        member(2, true, Some("leader")),
        member(3, true, Some("follower")),
    ];
    let s = status(&zk, &ms, &ensemble(&[1, 2, 3], Some(2)), Phase::Settled);
    assert_eq!(s.leader.as_deref(), Some("zk-1"));
    assert!(s.quorum_healthy);
    assert_eq!(s.ready_replicas, 3);
    assert_eq!(s.updated_replicas, 3);
    assert_eq!(s.observed_generation, Some(2));
    assert_eq!(s.version.as_deref(), Some("0.1.0"));
    assert_eq!(cond(&s, "Available"), "True");
    assert_eq!(cond(&s, "Degraded"), "False");
    assert_eq!(cond(&s, "Progressing"), "False");
    assert_eq!(
        s.members
            .iter()
            .map(|m| m.role.as_str())
            .collect::<Vec<_>>(),
        ["follower", "leader", "follower"]
    );
    assert!(s.members.iter().all(|m| m.synced && m.updated));
    assert_eq!(s.ensemble.as_ref().unwrap().voters, [1, 2, 3]);
    assert_eq!(s.next_server_id, Some(4));
}

#[test]
fn minority_without_leader_is_not_available() {
    let zk = cluster(3);
    let ms = [
        member(1, true, None),
        member(2, false, None),
        member(3, false, Some("follower")),
    ];
    let s = status(&zk, &ms, &ensemble(&[1, 2, 3], None), Phase::NoQuorum);
    assert!(!s.quorum_healthy);
    assert_eq!(s.leader, None);
    assert_eq!(cond(&s, "Available"), "False");
    assert_eq!(cond(&s, "Degraded"), "True");
    assert_eq!(cond(&s, "Progressing"), "True");
    assert_eq!(s.members[0].role, "unknown");
}

#[test]
fn one_follower_down_keeps_quorum_but_is_degraded() {
    let zk = cluster(3);
    let ms = [
        member(1, true, Some("leader")),
        member(2, true, Some("follower")),
        member(3, false, None),
    ];
    let s = status(
        &zk,
        &ms,
        &ensemble(&[1, 2, 3], Some(1)),
        Phase::WaitingForMember,
    );
    assert!(s.quorum_healthy);
    assert_eq!(cond(&s, "Available"), "True");
    assert_eq!(cond(&s, "Degraded"), "True");
}

#[test]
fn a_running_server_outside_the_membership_is_joining() {
    let zk = cluster(2);
    let mut ms = vec![member(1, true, Some("leader")), member(2, false, None)];
    ms[1].running = true;
    let s = status(&zk, &ms, &ensemble(&[1], Some(1)), Phase::ScalingUp);
    assert_eq!(s.members[1].role, "joining");
    assert!(!s.members[1].synced);
    assert!(s.quorum_healthy, "1 of 1 voters serving");
}

#[test]
fn single_server_leads_a_one_member_ensemble() {
    let zk = cluster(1);
    let s = status(
        &zk,
        &[member(1, true, Some("leader"))],
        &ensemble(&[1], Some(1)),
        Phase::Settled,
    );
    assert_eq!(s.leader.as_deref(), Some("zk-0"));
    assert!(s.quorum_healthy);
    assert_eq!(
        s.connect_string.as_deref(),
        Some("zk.ns.svc.cluster.local:2181")
    );
}

#[test]
fn transition_times_are_kept_when_nothing_changes() {
    let zk = cluster(1);
    let ms = [member(1, true, Some("leader"))];
    let ens = ensemble(&[1], Some(1));
    let first = carry_transition_times(&Default::default(), status(&zk, &ms, &ens, Phase::Settled));
    assert!(first
        .conditions
        .iter()
        .all(|c| c.last_transition_time.is_some()));
    let second = carry_transition_times(&first, status(&zk, &ms, &ens, Phase::Settled));
    assert_eq!(
        first, second,
        "an unchanged cluster yields an identical status (no write)"
    );
}

#[test]
fn ids_are_adopted_from_the_members_config_map_then_the_servers_then_ordinals() {
    use k8s_openapi::api::core::v1::ConfigMap;
    use rzk_operator::reconcile::adopt_ids;
    let zk = cluster(3);
    // a new cluster: nothing to adopt (allocation starts at 1)
    assert!(adopt_ids(&zk, None, None, &[]).is_empty());
    // the members ConfigMap survived a lost status
    let cm = ConfigMap {
        data: Some(
            [
                ("zk-0.myid", "1\n"),
                ("zk-1.myid", "7\n"),
                ("zk-2.myid", "3\n"),
                ("joined", "1\n7\n"),
            ]
            .into_iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect(),
        ),
        ..Default::default()
    };
    let got: Vec<(i32, i64, bool)> = adopt_ids(&zk, Some(3), Some(&cm), &[])
        .into_iter()
        .map(|s| (s.ordinal, s.id, s.joined))
        .collect();
    assert_eq!(got, [(0, 1, true), (1, 7, true), (2, 3, false)]);
    // no ConfigMap: what the running servers report, else ordinal + 1 (the earlier scheme)
    let mut p = member(2, true, Some("follower"));
    p.server_id = Some(9);
    let got: Vec<(i32, i64)> = adopt_ids(&zk, Some(3), None, &[p])
        .into_iter()
        .map(|s| (s.ordinal, s.id))
        .collect();
    assert_eq!(got, [(0, 1), (1, 9), (2, 3)]);
}

#[test]
fn scale_down_is_progressing_until_removed_pods_are_gone() {
    let zk = cluster(3);
    let mut ms = vec![
        member(1, true, Some("follower")),
        member(2, true, Some("leader")),
        member(3, true, Some("follower")),
    ];
    // server 4 left the ensemble; its pod (ordinal 3) is still terminating
    ms.push(member(4, false, None));
    let s = status(&zk, &ms, &ensemble(&[1, 2, 3], Some(2)), Phase::Settled);
    assert_eq!(cond(&s, "Progressing"), "True");
    let p = s
        .conditions
        .iter()
        .find(|c| c.type_ == "Progressing")
        .unwrap();
    assert_eq!(p.reason, "ScalingDown");
    ms.pop();
    let s = status(&zk, &ms, &ensemble(&[1, 2, 3], Some(2)), Phase::Settled);
    assert_eq!(cond(&s, "Progressing"), "False");
}

/// A failed step sets Degraded with the step's own reason (also the label of
/// `rzk_operator_step_failures_total`) and its message.
#[test]
fn a_failed_step_is_degraded_with_its_reason() {
    use rzk_operator::steps::StepError;
    use rzk_operator::zkclient::ZkError;
    let zk = cluster(3);
    let ms = [
        member(1, true, Some("follower")),
        member(2, true, Some("leader")),
        member(3, true, Some("follower")),
    ];
    let ens = ensemble(&[1, 2, 3], Some(2));
    let plan = Plan {
        action: Action::None,
        phase: Phase::Settled,
        message: "m".into(),
        halted: None,
    };
    let cases = [
        (
            StepError::AddMember {
                id: 4,
                source: ZkError::SessionRefused { addr: "a:1".into() },
            },
            "ReconfigFailed",
            "adding server 4 failed: a:1: session refused",
        ),
        (
            StepError::NoCandidateAddress(2),
            "LeadershipTransferFailed",
            "no address for the new leader candidate ordinal 2",
        ),
        (
            StepError::LeaderPodNotFound { why: "w".into() },
            "PodDeletionFailed",
            "w; its pod is not found",
        ),
    ];
    let ids = ids(3);
    for (e, reason, msg) in &cases {
        assert_eq!(e.reason(), *reason);
        let s = compute_status(&StatusInput {
            zk: &zk,
            sts: None,
            replicas: 3,
            pods: &ms,
            ens: &ens,
            ens_error: None,
            ids: &ids,
            next_id: 4,
            plan: &plan,
            template_hash: "r1",
            apply_error: None,
            step_error: Some(e),
            build: &BuildContext::default(),
        });
        let d = s.conditions.iter().find(|c| c.type_ == "Degraded").unwrap();
        assert_eq!((d.status.as_str(), d.reason.as_str()), ("True", *reason));
        assert_eq!(d.message, *msg);
    }
}
