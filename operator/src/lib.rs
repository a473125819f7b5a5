//! rzk-operator: runs rzk ensembles on Kubernetes from `ZookeeperCluster` resources.
//!
//! * [`crd`]: the `ZookeeperCluster` custom resource (`rzk.dev/v1alpha1`).
//! * [`builders`]: pure functions from a cluster to the objects it owns.
//! * [`plan`]: the day-2 decision (scale through reconfig, rolling updates leader last), pure.
//! * [`ensemble`]: observing the servers (roles, ids, membership, replication lag).
//! * [`reconcile`]: the controller (server-side apply, status, events); [`steps`]: the day-2 steps it runs.
//! * [`zkclient`]: a minimal ZooKeeper client (session, super-user auth, `reconfig`) and HTTP GET.
//! * [`auth`]: the per-cluster super password (derived, never stored) and its digest.
//! * [`fourlw`]: `ruok`/`srvr`/`conf` client used to read the servers' health and roles.
//! * [`metrics`]: the operator's Prometheus metrics.
//! * [`logging`]: text or JSON log lines.
//! * [`render`]: the objects of a cluster as YAML, without an API server (`rzk-operator render`).
pub mod auth;
pub mod builders;
pub mod crd;
pub mod ensemble;
pub mod fourlw;
pub mod logging;
pub mod metrics;
pub mod plan;
pub mod reconcile;
pub mod render;
pub mod steps;
pub mod zkclient;
