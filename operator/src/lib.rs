//! rzk-operator: runs rzk ensembles on Kubernetes from `ZookeeperCluster` resources.
//!
//! * [`crd`]: the `ZookeeperCluster` custom resource (`rzk.dev/v1alpha1`).
//! * [`builders`]: pure functions from a cluster to the objects it owns.
//! * [`reconcile`]: the controller (server-side apply, status, events).
//! * [`fourlw`]: `ruok`/`srvr` client used to read the servers' health and roles.
//! * [`metrics`]: the operator's Prometheus metrics.
pub mod builders;
pub mod crd;
pub mod fourlw;
pub mod metrics;
pub mod reconcile;
