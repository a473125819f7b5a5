//! Scaling: the StatefulSet's replicas move by one (the apply of this reconcile does it, with the
//! ids allocated first); the step reports it.

use crate::builders;
use crate::plan::Plan;
use crate::reconcile::Reconciler;

impl Reconciler<'_> {
    pub(crate) async fn scale(&self, n: i32, plan: &Plan) {
        let current_r = self.current_r;
        self.operation("scale", true);
        // About the pod that is added (the next ordinal) or removed (the highest).
        let pod = builders::pod_name(&self.zk, n.max(current_r) - 1);
        self.event_on(
            self.pod_ref(&pod),
            if n > current_r {
                "ScalingUp"
            } else {
                "ScalingDown"
            },
            "Scale",
            format!(
                "StatefulSet replicas {current_r} -> {n} (target {}): {}",
                self.zk.spec.replicas, plan.message
            ),
        )
        .await;
    }
}
