//! Server ids of a cluster whose status has none.

use std::collections::BTreeMap;

use k8s_openapi::api::core::v1::ConfigMap;

use crate::builders;
use crate::crd::{ServerIdStatus, ZookeeperCluster};
use crate::plan::PodObs;

/// Server ids when the status has none: a new cluster gets them from [`plan::allocate_ids`];
/// an existing one (status lost, or created by an operator version without id allocation)
/// adopts them from the members ConfigMap, else from what the running servers report, else
/// `ordinal + 1` (the earlier scheme).
pub fn adopt_ids(
    zk: &ZookeeperCluster,
    sts_replicas: Option<i32>,
    members_cm: Option<&ConfigMap>,
    pods: &[PodObs],
) -> Vec<ServerIdStatus> {
    let Some(r) = sts_replicas else {
        return Vec::new();
    };
    let from_cm: BTreeMap<i32, i64> = members_cm
        .and_then(|cm| cm.data.as_ref())
        .map(|d| {
            d.iter()
                .filter_map(|(k, v)| {
                    let pod = k.strip_suffix(".myid")?;
                    Some((builders::ordinal_of_pod(zk, pod)?, v.trim().parse().ok()?))
                })
                .collect()
        })
        .unwrap_or_default();
    let joined: Vec<i64> = members_cm
        .and_then(|cm| cm.data.as_ref())
        .and_then(|d| d.get(builders::JOINED_KEY))
        .map(|j| j.lines().filter_map(|l| l.trim().parse().ok()).collect())
        .unwrap_or_default();
    let mut out = Vec::new();
    for o in 0..r.max(pods.iter().map(|p| p.ordinal + 1).max().unwrap_or(0)) {
        let id = from_cm
            .get(&o)
            .copied()
            .or_else(|| {
                pods.iter()
                    .find(|p| p.ordinal == o)
                    .and_then(|p| p.server_id)
            })
            .unwrap_or(i64::from(o) + 1);
        out.push(ServerIdStatus {
            ordinal: o,
            id,
            joined: joined.contains(&id),
        });
    }
    out
}
