//! Events about different objects must not fold into one: kube's recorder aggregates Events
//! whose type, reason, action, reporter, regarding and related objects are equal (keeping the
//! first note), so each Event about an object names it as `related`, with its uid.

use k8s_openapi::api::core::v1::{ConfigMap, Pod};
use kube::core::ObjectMeta;
use kube::runtime::events::EventType;
use rzk_operator::crd::ZookeeperCluster;
use rzk_operator::reconcile::events::{event, object_reference, pod_reference};

fn cluster() -> ZookeeperCluster {
    let mut zk = ZookeeperCluster::new("zk", serde_saphyr::from_str("{}").unwrap());
    zk.metadata = ObjectMeta {
        name: Some("zk".into()),
        namespace: Some("prod".into()),
        uid: Some("uid-zk".into()),
        ..Default::default()
    };
    zk
}

fn pod(name: &str, uid: &str) -> Pod {
    Pod {
        metadata: ObjectMeta {
            name: Some(name.into()),
            namespace: Some("prod".into()),
            uid: Some(uid.into()),
            ..Default::default()
        },
        ..Default::default()
    }
}

#[test]
fn restarts_of_different_pods_are_different_events() {
    let zk = cluster();
    let pods = [pod("zk-0", "u0"), pod("zk-1", "u1"), pod("zk-2", "u2")];
    let evs: Vec<_> = ["zk-0", "zk-1", "zk-2"]
        .iter()
        .map(|p| {
            event(
                EventType::Normal,
                "RestartingPod",
                "DeletePod",
                format!("deleted {p}"),
                Some(pod_reference(&zk, &pods, p)),
            )
        })
        .collect();
    let related: Vec<_> = evs.iter().map(|e| e.secondary.clone().unwrap()).collect();
    assert_ne!(related[0], related[1]);
    assert_ne!(related[1], related[2]);
    assert_eq!(related[0].kind.as_deref(), Some("Pod"));
    assert_eq!(related[0].namespace.as_deref(), Some("prod"));
    assert_eq!(related[2].uid.as_deref(), Some("u2"));
    // The same ordinal's pod re-created (next rollout): a new uid, a new Event.
    let again = pod_reference(&zk, &[pod("zk-0", "u0-new")], "zk-0");
    assert_ne!(again, related[0]);
    // A pod not observed (yet): named, without uid.
    let next = pod_reference(&zk, &pods, "zk-3");
    assert_eq!((next.name.as_deref(), next.uid), (Some("zk-3"), None));
}

#[test]
fn updates_of_an_object_are_different_events() {
    let cm = |rv: &str| ConfigMap {
        metadata: ObjectMeta {
            name: Some("zk-members".into()),
            namespace: Some("prod".into()),
            uid: Some("u-cm".into()),
            resource_version: Some(rv.into()),
            ..Default::default()
        },
        ..Default::default()
    };
    let (a, b) = (object_reference(&cm("10")), object_reference(&cm("11")));
    assert_ne!(a, b);
    assert_eq!(a.kind.as_deref(), Some("ConfigMap"));
    assert_eq!(a.resource_version.as_deref(), Some("10"));
}

#[test]
fn warnings_are_truncated_normal_events_are_not() {
    let long = "x".repeat(3000);
    let w = event(EventType::Warning, "R", "A", long.clone(), None);
    assert!(w.note.unwrap().len() <= 1003);
    let n = event(EventType::Normal, "R", "A", long.clone(), None);
    assert_eq!(n.note.unwrap(), long);
}
