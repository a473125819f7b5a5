//! Scaling: the StatefulSet's replicas move by one (the apply of this reconcile does it, with the
//! ids allocated first); the step reports it.

use crate::plan::Plan;
use crate::reconcile::Reconciler;

impl Reconciler<'_> {
    pub(crate) async fn scale(&self, n: i32, plan: &Plan) {
        let current_r = self.current_r;
        self.operation("scale", true);
        self.event(
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
