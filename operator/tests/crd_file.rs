//! The checked-in CRD files must be exactly what `rzk-operator crd` prints.
//! Regenerate: `cargo run -p rzk-operator -- crd > crds/zookeepercluster.yaml`
//! and copy it to `charts/rzk-operator/crds/zookeepercluster.yaml`.

use std::path::Path;

fn check(rel: &str) {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    let path = root.join(rel);
    let on_disk = std::fs::read_to_string(&path)
        .unwrap_or_else(|e| panic!("reading {}: {e}", path.display()));
    let generated = rzk_operator::crd::crd_yaml();
    assert!(
        on_disk == generated,
        "{rel} is stale: regenerate it with `cargo run -p rzk-operator -- crd > {rel}`"
    );
}

#[test]
fn crds_dir_file_is_current() {
    check("crds/zookeepercluster.yaml");
}

#[test]
fn chart_crd_is_current() {
    check("charts/rzk-operator/crds/zookeepercluster.yaml");
}

#[test]
fn crd_yaml_round_trips() {
    use k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1::CustomResourceDefinition;
    let yaml = rzk_operator::crd::crd_yaml();
    let crd: CustomResourceDefinition = serde_saphyr::from_str(&yaml).expect("CRD YAML parses");
    assert_eq!(
        crd.metadata.name.as_deref(),
        Some("zookeeperclusters.rzk.dev")
    );
    let v = &crd.spec.versions[0];
    assert!(v.subresources.as_ref().unwrap().status.is_some());
    let cols: Vec<_> = v
        .additional_printer_columns
        .as_ref()
        .unwrap()
        .iter()
        .map(|c| c.name.as_str())
        .collect();
    assert_eq!(
        cols,
        ["Replicas", "Ready", "Updated", "Leader", "Version", "Age"]
    );
    assert_eq!(crd.spec.names.short_names.as_ref().unwrap()[0], "zk");
}

/// The schema refuses the mistakes `tests/k8s/e2e.sh` submits to a real API server: here, that
/// the rules and patterns are in the generated CRD where the API server will find them.
#[test]
fn schema_catches_mistakes() {
    let crd: serde_json::Value =
        serde_saphyr::from_str(&rzk_operator::crd::crd_yaml()).expect("CRD YAML parses");
    let spec = &crd["spec"]["versions"][0]["schema"]["openAPIV3Schema"]["properties"]["spec"];
    let rules = |v: &serde_json::Value| -> Vec<String> {
        v["x-kubernetes-validations"]
            .as_array()
            .map(|a| {
                a.iter()
                    .map(|r| r["rule"].as_str().unwrap().to_string())
                    .collect()
            })
            .unwrap_or_default()
    };
    let p = &spec["properties"];
    for res in ["resources", "initResources"] {
        for kind in ["requests", "limits"] {
            let q = &p[res]["properties"][kind]["additionalProperties"];
            assert_eq!(
                q["pattern"].as_str(),
                Some(rzk_operator::crd::QUANTITY_PATTERN),
                "{res}.{kind}"
            );
            assert_eq!(q["x-kubernetes-int-or-string"], true);
        }
    }
    let size = rules(&p["storage"]["properties"]["size"]);
    assert!(
        size.iter()
            .any(|r| r.contains("isGreaterThan(quantity('0'))")),
        "{size:?}"
    );
    // A transition rule on the parent: it fires also when storageClassName did not exist.
    let spec_rules = rules(spec);
    assert!(
        spec_rules
            .iter()
            .any(|r| r.contains("oldSelf.storage.storageClassName")
                && r.contains("has(oldSelf.storage)")),
        "{spec_rules:?}"
    );
    let config = rules(&p["config"]);
    for key in [
        "clientPort",
        "admin.serverPort",
        "metricsProvider.httpPort",
        "admin.enableServer",
        "admin.serverAddress",
        "metricsProvider.httpHost",
    ] {
        assert!(
            config.iter().any(|r| r.contains(&format!("'{key}'"))),
            "{key}: {config:?}"
        );
    }
}
