//! One pod deleted (the StatefulSet, `OnDelete`, re-creates it): to run the current revision,
//! or to come back under a new server id after its volume came back empty.

use kube::api::{DeleteParams, Preconditions};
use kube::ResourceExt;

use super::StepError;
use crate::builders;
use crate::plan::Plan;
use crate::reconcile::Reconciler;

impl Reconciler<'_> {
    /// Delete the pod of `ordinal` (the one observed: uid precondition). `replace`: it gets a new id.
    pub(crate) async fn delete_pod(
        &self,
        plan: &Plan,
        ordinal: i32,
        replace: bool,
    ) -> Result<(), StepError> {
        let pname = builders::pod_name(&self.zk, ordinal);
        let api = self.pod_api();
        let uid = match api.get_opt(&pname).await {
            Ok(Some(p)) => p.uid(),
            Ok(None) => return Ok(()),
            Err(source) => return Err(StepError::ReadPod { pod: pname, source }),
        };
        let dp = DeleteParams {
            preconditions: Some(Preconditions {
                uid,
                resource_version: None,
            }),
            ..Default::default()
        };
        let res = api.delete(&pname, &dp).await;
        let op = if replace {
            "replace_member"
        } else {
            "restart_pod"
        };
        self.operation(op, res.is_ok());
        match res {
            Ok(_) => {
                let p = self.pod(ordinal);
                let role = p
                    .and_then(|p| p.mode.clone())
                    .unwrap_or_else(|| "down".into());
                if replace {
                    self.warn_event_on(
                        self.pod_ref(&pname),
                        "MemberReplaced",
                        "DeletePod",
                        format!(
                            "deleted {pname} to restart it under a new server id: {}",
                            plan.message
                        ),
                    )
                    .await;
                } else {
                    self.event_on(
                        self.pod_ref(&pname),
                        "RestartingPod",
                        "DeletePod",
                        format!(
                            "deleted {pname} ({role}, server {}) to run the current revision: {}",
                            p.and_then(|p| p.server_id).unwrap_or(0),
                            plan.message
                        ),
                    )
                    .await;
                }
                Ok(())
            }
            Err(kube::Error::Api(e)) if e.code == 404 || e.code == 409 => Ok(()),
            Err(source) => Err(StepError::DeletePod { pod: pname, source }),
        }
    }
}
