//! `rzk-operator render`: the objects of a cluster file, without an API server; and the JSON
//! log format.

use std::io::Write;
use std::sync::{Arc, Mutex};

use k8s_openapi::api::apps::v1::StatefulSet;
use k8s_openapi::api::core::v1::ConfigMap;
use rzk_operator::builders::BuildContext;
use rzk_operator::render::{parse_cluster, render, RenderError};

const KEY: &[u8] = b"0123456789abcdef0123";

fn docs(yaml: &str) -> Vec<serde_json::Value> {
    yaml.split("\n---\n")
        .skip(1)
        .map(|d| serde_saphyr::from_str(d).expect("each document parses"))
        .collect()
}

#[test]
fn renders_every_owned_object_of_a_new_cluster() {
    let zk = parse_cluster(
        "apiVersion: rzk.dev/v1alpha1\nkind: ZookeeperCluster\nmetadata: {name: zk, namespace: apps}\nspec: {replicas: 5}\n",
    )
    .unwrap();
    let out = render(&zk, &BuildContext::default(), KEY).unwrap();
    let d = docs(&out);
    let kinds: Vec<&str> = d.iter().map(|o| o["kind"].as_str().unwrap()).collect();
    assert_eq!(
        kinds,
        [
            "ConfigMap",
            "ConfigMap",
            "Service",
            "Service",
            "StatefulSet",
            "PodDisruptionBudget"
        ]
    );
    for o in &d {
        assert_eq!(o["metadata"]["namespace"], "apps");
        assert!(o["apiVersion"].is_string());
    }
    let sts: StatefulSet = serde_json::from_value(d[4].clone()).unwrap();
    assert_eq!(sts.spec.as_ref().unwrap().replicas, Some(5));
    let members: ConfigMap = serde_json::from_value(d[1].clone()).unwrap();
    let data = members.data.unwrap();
    assert_eq!(
        data["zoo.cfg.dynamic"].lines().count(),
        5,
        "a new ensemble's ids 1..5"
    );
    assert_eq!(data["zk-4.myid"], "5\n");
    // The StatefulSet mounts the rendered zoo.cfg ConfigMap.
    let cfg_name = d[0]["metadata"]["name"].as_str().unwrap();
    assert!(out.contains(&format!("name: {cfg_name}")));
    // The super digest depends on the key.
    let other = render(&zk, &BuildContext::default(), b"another-key-of-16-bytes").unwrap();
    assert_ne!(docs(&other)[0]["data"], d[0]["data"]);
}

#[test]
fn defaults_and_disabled_pdb() {
    let zk = parse_cluster(
        "apiVersion: rzk.dev/v1alpha1\nkind: ZookeeperCluster\nmetadata: {name: zk}\nspec: {pdb: {enabled: false}}\n",
    )
    .unwrap();
    assert_eq!(zk.metadata.namespace.as_deref(), Some("default"));
    assert_eq!(zk.spec.replicas, 3, "CRD defaults");
    let d = docs(&render(&zk, &BuildContext::default(), KEY).unwrap());
    assert_eq!(d.len(), 5);
    assert!(d.iter().all(|o| o["kind"] != "PodDisruptionBudget"));
    let no_spec = parse_cluster(
        "apiVersion: rzk.dev/v1alpha1\nkind: ZookeeperCluster\nmetadata: {name: zk}\n",
    )
    .unwrap();
    assert_eq!(no_spec.spec.replicas, 3);
}

#[test]
fn refuses_what_is_not_a_cluster() {
    assert!(matches!(
        parse_cluster("apiVersion: v1\nkind: Pod\nmetadata: {name: p}\n"),
        Err(RenderError::NotACluster(_))
    ));
    assert!(matches!(
        parse_cluster("apiVersion: rzk.dev/v1alpha1\nkind: ZookeeperCluster\nmetadata: {}\n"),
        Err(RenderError::NoName)
    ));
    assert!(matches!(
        parse_cluster(
            "apiVersion: rzk.dev/v1alpha1\nkind: ZookeeperCluster\nmetadata: {name: zk}\nspec: {replicas: many}\n"
        ),
        Err(RenderError::Parse(_))
    ));
}

#[derive(Clone, Default)]
struct Buf(Arc<Mutex<Vec<u8>>>);

impl Write for Buf {
    fn write(&mut self, b: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(b);
        Ok(b.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

#[test]
fn json_log_lines() {
    let buf = Buf::default();
    let w = buf.clone();
    let sub = tracing_subscriber::fmt()
        .with_ansi(false)
        .event_format(rzk_operator::logging::JsonLines)
        .with_writer(move || w.clone())
        .finish();
    tracing::subscriber::with_default(sub, || {
        let span = tracing::info_span!("reconcile");
        let _g = span.enter();
        tracing::warn!(cluster = "zk", replicas = 3, ok = true, "scaled \"up\"");
        tracing::info!("second");
    });
    let text = String::from_utf8(buf.0.lock().unwrap().clone()).unwrap();
    let lines: Vec<serde_json::Value> = text
        .lines()
        .map(|l| serde_json::from_str(l).expect("each line is one JSON object"))
        .collect();
    assert_eq!(lines.len(), 2);
    let l = &lines[0];
    assert_eq!(l["level"], "WARN");
    assert_eq!(l["message"], "scaled \"up\"");
    assert_eq!(l["fields"]["cluster"], "zk");
    assert_eq!(l["fields"]["replicas"], 3);
    assert_eq!(l["fields"]["ok"], true);
    assert_eq!(l["spans"][0], "reconcile");
    assert!(l["timestamp"].as_str().unwrap().ends_with('Z'));
    assert!(!text.contains('\u{1b}'), "no ANSI escapes");
    assert!(lines[1].get("fields").is_none());
    assert!(
        text.starts_with("{\"timestamp\":"),
        "timestamp first: {text}"
    );
}

/// Without a uid there can be no owner reference (the API server refuses an empty uid); with
/// it, the objects are owned and the digest is the live cluster's.
#[test]
fn owner_references_only_with_a_uid() {
    let file = "apiVersion: rzk.dev/v1alpha1\nkind: ZookeeperCluster\nmetadata: {name: zk, namespace: apps}\n";
    let zk = parse_cluster(file).unwrap();
    let anonymous = docs(&render(&zk, &BuildContext::default(), KEY).unwrap());
    assert!(anonymous
        .iter()
        .all(|o| o["metadata"].get("ownerReferences").is_none()));
    let mut zk = parse_cluster(file).unwrap();
    zk.metadata.uid = Some("1234-abcd".into());
    let owned = docs(&render(&zk, &BuildContext::default(), KEY).unwrap());
    for o in &owned {
        let r = &o["metadata"]["ownerReferences"][0];
        assert_eq!(
            (r["kind"].as_str(), r["uid"].as_str()),
            (Some("ZookeeperCluster"), Some("1234-abcd"))
        );
    }
    assert_ne!(
        owned[0]["data"], anonymous[0]["data"],
        "the digest derives from the uid"
    );
    // What the operator builds for that cluster.
    let digest = rzk_operator::auth::super_digest(&rzk_operator::auth::super_password(
        KEY,
        "apps",
        "zk",
        "1234-abcd",
    ));
    assert_eq!(
        owned[0]["data"]["zoo.cfg"].as_str().unwrap(),
        rzk_operator::builders::zoo_cfg(&zk, &digest)
    );
}
