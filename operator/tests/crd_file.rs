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
