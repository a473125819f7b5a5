//! Status computation from observed servers (pure).

use kube::core::ObjectMeta;
use rzk_operator::builders::BuildContext;
use rzk_operator::crd::{ZookeeperCluster, ZookeeperClusterSpec};
use rzk_operator::fourlw::Srvr;
use rzk_operator::reconcile::{carry_transition_times, compute_status, Observed};

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

fn member(id: i64, ready: bool, mode: Option<&str>) -> Observed {
    Observed {
        pod: format!("zk-{}", id - 1),
        id,
        ready,
        srvr: mode.map(|m| Srvr {
            mode: m.into(),
            version: Some("0.1.0".into()),
            zxid: Some("0x1".into()),
        }),
    }
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
    let s = compute_status(&zk, None, &ms, None, &BuildContext::default());
    assert_eq!(s.leader.as_deref(), Some("zk-1"));
    assert!(s.quorum_healthy);
    assert_eq!(s.ready_replicas, 3);
    assert_eq!(s.observed_generation, Some(2));
    assert_eq!(s.version.as_deref(), Some("0.1.0"));
    assert_eq!(cond(&s, "Available"), "True");
    assert_eq!(cond(&s, "Degraded"), "False");
    assert_eq!(
        s.members
            .iter()
            .map(|m| m.role.as_str())
            .collect::<Vec<_>>(),
        ["follower", "leader", "follower"]
    );
}

#[test]
fn minority_without_leader_is_not_available() {
    let zk = cluster(3);
    let ms = [
        member(1, true, None),
        member(2, false, None),
        member(3, false, Some("follower")),
    ];
    let s = compute_status(&zk, None, &ms, None, &BuildContext::default());
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
    let s = compute_status(&zk, None, &ms, None, &BuildContext::default());
    assert!(s.quorum_healthy);
    assert_eq!(cond(&s, "Available"), "True");
    assert_eq!(cond(&s, "Degraded"), "True");
}

#[test]
fn standalone_single_server_is_its_own_leader() {
    let zk = cluster(1);
    let s = compute_status(
        &zk,
        None,
        &[member(1, true, Some("standalone"))],
        None,
        &BuildContext::default(),
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
    let ms = [member(1, true, Some("standalone"))];
    let first = carry_transition_times(
        &Default::default(),
        compute_status(&zk, None, &ms, None, &BuildContext::default()),
    );
    assert!(first
        .conditions
        .iter()
        .all(|c| c.last_transition_time.is_some()));
    let second = carry_transition_times(
        &first,
        compute_status(&zk, None, &ms, None, &BuildContext::default()),
    );
    assert_eq!(
        first, second,
        "an unchanged cluster yields an identical status (no write)"
    );
}
