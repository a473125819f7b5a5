//! `rzk-operator render -f CLUSTER.yaml`: the objects the operator would create for a new
//! cluster, as YAML, without an API server (a review or `kubectl diff` aid).
//!
//! The cluster is parsed with the CRD's defaults (the same serde defaults the API server's
//! schema applies); server ids are those a new ensemble gets (1..N). The super-user digest in
//! zoo.cfg derives from the cluster's uid, which only the API server assigns: without one
//! (`metadata.uid` in the file, or `--uid`) the rendered digest, hence the revision ConfigMap's
//! name and the pod template hash, differ from a live cluster's, and the objects carry no owner
//! reference (an owner reference needs the uid); `kubectl apply --dry-run=server` accepts them.
//! With the uid and the operator's auth key they are what the operator applies.

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

fn doc<T: Serialize>(kind: &'static str, obj: &T, owned: bool) -> Result<String, RenderError> {
    let err = |e: String| RenderError::Serialize(kind, e);
    let mut v = serde_json::to_value(obj).map_err(|e| err(e.to_string()))?;
    if !owned {
        if let Some(m) = v.get_mut("metadata").and_then(|m| m.as_object_mut()) {
            m.remove("ownerReferences");
        }
    }
    serde_saphyr::to_string(&v).map_err(|e| err(e.to_string()))
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
    let owned = !uid.is_empty();
    let mut docs = vec![
        doc("ConfigMap", &builders::config_map(zk, &zoo_cfg), owned)?,
        doc(
            "ConfigMap",
            &builders::members_config_map(zk, build, &ids),
            owned,
        )?,
        doc("Service", &builders::headless_service(zk), owned)?,
        doc("Service", &builders::client_service(zk), owned)?,
        doc(
            "StatefulSet",
            &builders::statefulset(zk, replicas, &zoo_cfg),
            owned,
        )?,
    ];
    if zk.spec.pdb.enabled {
        docs.push(doc("PodDisruptionBudget", &builders::pdb(zk), owned)?);
    }
    let mut out = format!(
        "# Rendered by rzk-operator {} for ZookeeperCluster {ns}/{} without an API server.\n",
        env!("CARGO_PKG_VERSION"),
        zk.name_any()
    );
    if !owned {
        out.push_str(
            "# No uid: no owner references, and the super-user digest (hence the zoo.cfg ConfigMap\n\
             # name and the template hash) differs from a live cluster's (see --uid).\n",
        );
    }
    for d in docs {
        out.push_str("---\n");
        out.push_str(&d);
    }
    Ok(out)
}
