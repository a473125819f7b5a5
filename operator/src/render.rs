//! `rzk-operator render -f CLUSTER.yaml`: the objects the operator would create for a new
//! cluster, as YAML, without an API server (a review or `kubectl diff` aid).
//!
//! The cluster is parsed with the CRD's defaults (the same serde defaults the API server's
//! schema applies); server ids are those a new ensemble gets (1..N). The super-user digest in
//! zoo.cfg derives from the cluster's uid, which only the API server assigns: the rendered
//! value (from `metadata.uid` if the file has one, else an empty uid) differs from a live
//! cluster's, so the revision ConfigMap's name and the pod template hash differ too.

use kube::ResourceExt;
use serde::Serialize;

use crate::builders::{self, BuildContext};
use crate::crd::ZookeeperCluster;
use crate::{auth, plan};

/// Errors of [`render`].
#[derive(Debug, thiserror::Error)]
pub enum RenderError {
    #[error("parsing the ZookeeperCluster: {0}")]
    Parse(String),
    #[error("{0}: expected apiVersion rzk.dev/v1alpha1, kind ZookeeperCluster")]
    NotACluster(String),
    #[error("the ZookeeperCluster has no metadata.name")]
    NoName,
    #[error("serializing {0}: {1}")]
    Serialize(&'static str, String),
}

/// Parse one ZookeeperCluster manifest (YAML or JSON); a missing namespace becomes `default`.
pub fn parse_cluster(yaml: &str) -> Result<ZookeeperCluster, RenderError> {
    let v: serde_json::Value =
        serde_saphyr::from_str(yaml).map_err(|e| RenderError::Parse(e.to_string()))?;
    let (api, kind) = (v["apiVersion"].as_str(), v["kind"].as_str());
    if api != Some("rzk.dev/v1alpha1") || kind != Some("ZookeeperCluster") {
        return Err(RenderError::NotACluster(format!(
            "apiVersion {api:?}, kind {kind:?}"
        )));
    }
    let mut v = v;
    if v.get("spec").is_none_or(|s| s.is_null()) {
        v["spec"] = serde_json::json!({});
    }
    let mut zk: ZookeeperCluster =
        serde_json::from_value(v).map_err(|e| RenderError::Parse(e.to_string()))?;
    if zk.metadata.name.as_deref().unwrap_or("").is_empty() {
        return Err(RenderError::NoName);
    }
    if zk.metadata.namespace.is_none() {
        zk.metadata.namespace = Some("default".into());
    }
    Ok(zk)
}

fn doc<T: Serialize>(kind: &'static str, obj: &T) -> Result<String, RenderError> {
    serde_saphyr::to_string(obj).map_err(|e| RenderError::Serialize(kind, e.to_string()))
}

/// The owned objects of a new cluster as a multi-document YAML stream, in the order the
/// operator applies them: zoo.cfg ConfigMap, members ConfigMap, headless Service, client
/// Service, StatefulSet, PodDisruptionBudget (when enabled).
pub fn render(
    zk: &ZookeeperCluster,
    build: &BuildContext,
    auth_key: &[u8],
) -> Result<String, RenderError> {
    let ns = zk.namespace().unwrap_or_default();
    let uid = zk.uid().unwrap_or_default();
    let password = auth::super_password(auth_key, &ns, &zk.name_any(), &uid);
    let zoo_cfg = builders::zoo_cfg(zk, &auth::super_digest(&password));
    let replicas = zk.spec.replicas;
    let (ids, _) = plan::allocate_ids(&[], 1, replicas);
    let mut docs = vec![
        doc("ConfigMap", &builders::config_map(zk, &zoo_cfg))?,
        doc("ConfigMap", &builders::members_config_map(zk, build, &ids))?,
        doc("Service", &builders::headless_service(zk))?,
        doc("Service", &builders::client_service(zk))?,
        doc(
            "StatefulSet",
            &builders::statefulset(zk, replicas, &zoo_cfg),
        )?,
    ];
    if zk.spec.pdb.enabled {
        docs.push(doc("PodDisruptionBudget", &builders::pdb(zk))?);
    }
    let mut out = format!(
        "# Rendered by rzk-operator {} for ZookeeperCluster {ns}/{} (no API server: the super-user\n\
         # digest, hence the zoo.cfg ConfigMap name and template hash, differ from a live cluster's).\n",
        env!("CARGO_PKG_VERSION"),
        zk.name_any()
    );
    for d in docs {
        out.push_str("---\n");
        out.push_str(&d);
    }
    Ok(out)
}
