//! Server-side apply of the owned objects (an unchanged object is a no-op on the API server);
//! zoo.cfg revisions no pod uses are deleted.

use k8s_openapi::api::apps::v1::StatefulSet;
use k8s_openapi::api::core::v1::ConfigMap;
use k8s_openapi::api::policy::v1::PodDisruptionBudget;
use kube::api::{Api, DeleteParams, ListParams, Patch, PatchParams};
use kube::{Resource, ResourceExt};
use serde::de::DeserializeOwned;
use serde::Serialize;

use super::events::{object_reference, truncate};
use super::{Error, Reconciler};
use crate::builders::{self, MANAGER};
use crate::crd::{ServerIdStatus, ZookeeperCluster};

impl Reconciler<'_> {
    /// Apply every owned object (a Warning Event when that fails), then delete the zoo.cfg
    /// ConfigMaps of earlier revisions no pod uses. Returns the applied StatefulSet.
    pub(super) async fn apply_all(
        &self,
        replicas: i32,
        ids: &[ServerIdStatus],
    ) -> Result<StatefulSet, Error> {
        let sts = match self.apply_objects(replicas, ids).await {
            Ok(sts) => sts,
            Err(e) => {
                self.warn_event(
                    "ReconcileFailed",
                    "Reconcile",
                    truncate(&e.to_string(), 1000),
                )
                .await;
                return Err(e);
            }
        };
        if let Err(e) = self.gc_config_maps().await {
            tracing::warn!(cluster = %self.name, error = %e, "deleting old config maps failed");
        }
        Ok(sts)
    }

    /// Apply every owned object; returns the applied StatefulSet.
    async fn apply_objects(
        &self,
        replicas: i32,
        ids: &[ServerIdStatus],
    ) -> Result<StatefulSet, Error> {
        let (zk, ctx, ns, zoo_cfg) = (&self.zk, self.ctx, self.ns.as_str(), self.zoo_cfg.as_str());
        let b = &ctx.build;
        self.apply("ConfigMap", builders::config_map(zk, zoo_cfg))
            .await?;
        self.apply("ConfigMap", builders::members_config_map(zk, b, ids))
            .await?;
        self.apply("Service", builders::headless_service(zk))
            .await?;
        self.apply("Service", builders::client_service(zk)).await?;
        let sts = self
            .apply("StatefulSet", builders::statefulset(zk, replicas, zoo_cfg))
            .await?;
        let pdb_api = Api::<PodDisruptionBudget>::namespaced(ctx.client.clone(), ns);
        if zk.spec.pdb.enabled {
            self.apply("PodDisruptionBudget", builders::pdb(zk)).await?;
        } else if let Some(existing) = pdb_api.get_opt(&builders::pdb_name(zk)).await? {
            if is_owned_by(&existing, zk) {
                pdb_api
                    .delete(&builders::pdb_name(zk), &Default::default())
                    .await?;
                self.event_on(
                    object_reference(&existing),
                    "Deleted",
                    "DeletePodDisruptionBudget",
                    format!("Deleted PodDisruptionBudget {}", builders::pdb_name(zk)),
                )
                .await;
            }
        }
        Ok(sts)
    }

    /// Delete the zoo.cfg ConfigMaps of earlier revisions that no pod uses any more.
    async fn gc_config_maps(&self) -> Result<(), kube::Error> {
        let (zk, zoo_cfg, pods) = (&self.zk, self.zoo_cfg.as_str(), &self.pods);
        let api = Api::<ConfigMap>::namespaced(self.ctx.client.clone(), &self.ns);
        let current = builders::config_map_name(zk, zoo_cfg);
        let prefix = format!("{}-config", zk.name_any());
        let used: Vec<String> = pods
            .iter()
            .filter_map(|p| p.spec.as_ref())
            .flat_map(|s| s.volumes.iter().flatten())
            .filter_map(|v| v.config_map.as_ref().map(|c| c.name.clone()))
            .collect();
        let cms = api
            .list_metadata(&ListParams::default().labels(&format!(
                "app.kubernetes.io/instance={},app.kubernetes.io/managed-by={MANAGER}",
                zk.name_any()
            )))
            .await?;
        for cm in cms.items {
            let n = cm.name_any();
            let revision = n == prefix
                || n.strip_prefix(&format!("{prefix}-"))
                    .is_some_and(|h| h.len() == 10 && h.bytes().all(|b| b.is_ascii_hexdigit()));
            if !revision || n == current || used.contains(&n) || !is_owned_by(&cm, zk) {
                continue;
            }
            api.delete(&n, &DeleteParams::default()).await?;
            tracing::info!(cluster = %zk.name_any(), configmap = %n, "deleted the config of an earlier revision");
        }
        Ok(())
    }

    /// Server-side apply one object; publish an Event when it changed.
    async fn apply<R>(&self, kind: &'static str, obj: R) -> Result<R, Error>
    where
        R: Resource<Scope = k8s_openapi::NamespaceResourceScope, DynamicType = ()>
            + Clone
            + Serialize
            + DeserializeOwned
            + std::fmt::Debug,
    {
        let name = obj.meta().name.clone().unwrap_or_default();
        let api = Api::<R>::namespaced(self.ctx.client.clone(), &self.ns);
        let before = api
            .get_metadata_opt(&name)
            .await
            .map_err(|source| Error::Apply {
                kind,
                name: name.clone(),
                source,
            })?
            .and_then(|m| m.metadata.resource_version);
        let pp = PatchParams::apply(MANAGER).force();
        let after = api
            .patch(&name, &pp, &Patch::Apply(&obj))
            .await
            .map_err(|source| Error::Apply {
                kind,
                name: name.clone(),
                source,
            })?;
        let after_rv = after.meta().resource_version.clone();
        match before {
            None => {
                self.event_on(
                    object_reference(&after),
                    "Created",
                    &format!("Create{kind}"),
                    format!("Created {kind} {name}"),
                )
                .await
            }
            Some(rv) if Some(&rv) != after_rv.as_ref() => {
                tracing::info!(%kind, %name, "updated");
                self.event_on(
                    object_reference(&after),
                    "Updated",
                    &format!("Update{kind}"),
                    format!("Updated {kind} {name}"),
                )
                .await
            }
            _ => {}
        }
        Ok(after)
    }
}

fn is_owned_by<R: Resource>(obj: &R, zk: &ZookeeperCluster) -> bool {
    let uid = zk.uid();
    obj.meta()
        .owner_references
        .as_ref()
        .is_some_and(|o| o.iter().any(|r| Some(&r.uid) == uid.as_ref()))
}
