//! Operator metrics (Prometheus text format on `/metrics`), plus `/healthz` and `/readyz`.

use std::net::SocketAddr;
use std::sync::Arc;

use prometheus::{
    Encoder, Histogram, HistogramOpts, IntCounterVec, IntGaugeVec, Opts, Registry, TextEncoder,
};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;

/// Server ids with a lag series, per (namespace, cluster).
type LagIds = std::collections::HashMap<(String, String), Vec<String>>;

/// Roles reported per cluster (`rzk_cluster_members{role=...}`).
pub const ROLES: [&str; 5] = ["leader", "follower", "observer", "standalone", "unknown"];

#[derive(Clone)]
pub struct Metrics {
    pub registry: Registry,
    /// `rzk_operator_reconciliations_total{result="ok|error"}`
    pub reconciliations: IntCounterVec,
    /// `rzk_operator_reconcile_errors_total{reason}`
    pub reconcile_errors: IntCounterVec,
    /// `rzk_operator_step_failures_total{reason}`: failed day-2 steps, by the Degraded reason
    /// they set ([`crate::steps::StepError::reason`]).
    pub step_failures: IntCounterVec,
    /// `rzk_operator_reconcile_duration_seconds`
    pub reconcile_duration: Histogram,
    /// `rzk_cluster_members{namespace,cluster,role}`
    pub members: IntGaugeVec,
    /// `rzk_cluster_quorum_healthy{namespace,cluster}` 1/0
    pub quorum_healthy: IntGaugeVec,
    /// `rzk_cluster_ready_replicas{namespace,cluster}`
    pub ready_replicas: IntGaugeVec,
    /// `rzk_cluster_replicas{namespace,cluster}` (desired)
    pub replicas: IntGaugeVec,
    /// `rzk_cluster_updated_replicas{namespace,cluster}`
    pub updated_replicas: IntGaugeVec,
    /// `rzk_cluster_voters{namespace,cluster}` (voting members per /zookeeper/config)
    pub voters: IntGaugeVec,
    /// `rzk_cluster_synced_followers{namespace,cluster}`
    pub synced_followers: IntGaugeVec,
    /// `rzk_cluster_leader_server_id{namespace,cluster}` (0: no leader)
    pub leader_id: IntGaugeVec,
    /// `rzk_cluster_member_lag_entries{namespace,cluster,server_id}` (-1: unknown)
    pub member_lag: IntGaugeVec,
    /// `rzk_cluster_rollout_halted{namespace,cluster}` 1/0
    pub halted: IntGaugeVec,
    /// `rzk_cluster_operations_total{namespace,cluster,operation,result}`
    pub operations: IntCounterVec,
    /// Server ids with a lag series, per (namespace, cluster).
    lag_ids: std::sync::Arc<std::sync::Mutex<LagIds>>,
}

impl Default for Metrics {
    fn default() -> Self {
        Self::new()
    }
}

/// The day-2 gauges of one cluster (see [`Metrics::set_ensemble`]).
#[derive(Clone, Copy, Debug)]
pub struct EnsembleGauges<'a> {
    /// Pods running the current revision.
    pub updated: i32,
    pub voters: usize,
    /// Followers within [`crate::plan::SYNCED_LAG`] of the leader.
    pub synced_followers: usize,
    pub leader: Option<i64>,
    /// Replication lag per server id (None: unknown).
    pub lag: &'a std::collections::BTreeMap<i64, Option<u64>>,
    pub halted: bool,
}

impl Metrics {
    pub fn new() -> Self {
        let registry = Registry::new();
        let reconciliations = IntCounterVec::new(
            Opts::new(
                "rzk_operator_reconciliations_total",
                "Reconciliations of ZookeeperClusters by result",
            ),
            &["result"],
        )
        .unwrap();
        let reconcile_errors = IntCounterVec::new(
            Opts::new(
                "rzk_operator_reconcile_errors_total",
                "Failed reconciliations by error kind",
            ),
            &["reason"],
        )
        .unwrap();
        let reconcile_duration = Histogram::with_opts(
            HistogramOpts::new(
                "rzk_operator_reconcile_duration_seconds",
                "Duration of one reconciliation",
            )
            .buckets(vec![0.01, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0]),
        )
        .unwrap();
        let cl = &["namespace", "cluster"];
        let members = IntGaugeVec::new(
            Opts::new(
                "rzk_cluster_members",
                "Servers of a cluster by the role srvr reports",
            ),
            &["namespace", "cluster", "role"],
        )
        .unwrap();
        let quorum_healthy = IntGaugeVec::new(
            Opts::new(
                "rzk_cluster_quorum_healthy",
                "1 when a quorum of the cluster is serving",
            ),
            cl,
        )
        .unwrap();
        let ready_replicas = IntGaugeVec::new(
            Opts::new("rzk_cluster_ready_replicas", "Ready server pods"),
            cl,
        )
        .unwrap();
        let replicas = IntGaugeVec::new(
            Opts::new("rzk_cluster_replicas", "Desired servers (spec.replicas)"),
            cl,
        )
        .unwrap();
        let gauge = |name: &str, help: &str| IntGaugeVec::new(Opts::new(name, help), cl).unwrap();
        let updated_replicas = gauge(
            "rzk_cluster_updated_replicas",
            "Server pods running the current pod template",
        );
        let voters = gauge(
            "rzk_cluster_voters",
            "Voting members of the ensemble (/zookeeper/config)",
        );
        let synced_followers = gauge(
            "rzk_cluster_synced_followers",
            "Voting followers the leader reports in sync",
        );
        let leader_id = gauge(
            "rzk_cluster_leader_server_id",
            "Server id of the leader (0: none)",
        );
        let halted = gauge(
            "rzk_cluster_rollout_halted",
            "1 while a rollout or scale operation is halted on an unhealthy server",
        );
        let member_lag = IntGaugeVec::new(
            Opts::new(
                "rzk_cluster_member_lag_entries",
                "Log entries a member is behind the leader (-1: unknown)",
            ),
            &["namespace", "cluster", "server_id"],
        )
        .unwrap();
        let operations = IntCounterVec::new(
            Opts::new(
                "rzk_cluster_operations_total",
                "Day-2 operations by kind (add_member, remove_member, scale, transfer_leadership, restart_pod, replace_member) and result",
            ),
            &["namespace", "cluster", "operation", "result"],
        )
        .unwrap();
        let step_failures = IntCounterVec::new(
            Opts::new(
                "rzk_operator_step_failures_total",
                "Failed day-2 steps by reason (ReconfigFailed, LeadershipTransferFailed, PodDeletionFailed); retried",
            ),
            &["reason"],
        )
        .unwrap();
        for c in [
            &reconciliations,
            &reconcile_errors,
            &step_failures,
            &operations,
        ] {
            registry.register(Box::new(c.clone())).unwrap();
        }
        for g in [
            &updated_replicas,
            &voters,
            &synced_followers,
            &leader_id,
            &halted,
            &member_lag,
        ] {
            registry.register(Box::new(g.clone())).unwrap();
        }
        registry
            .register(Box::new(reconcile_duration.clone()))
            .unwrap();
        for g in [&members, &quorum_healthy, &ready_replicas, &replicas] {
            registry.register(Box::new(g.clone())).unwrap();
        }
        Self {
            registry,
            reconciliations,
            reconcile_errors,
            reconcile_duration,
            members,
            quorum_healthy,
            ready_replicas,
            replicas,
            updated_replicas,
            voters,
            synced_followers,
            leader_id,
            member_lag,
            halted,
            operations,
            step_failures,
            lag_ids: Default::default(),
        }
    }

    /// Record the ensemble's day-2 state of a cluster.
    pub fn set_ensemble(&self, ns: &str, name: &str, g: &EnsembleGauges<'_>) {
        let EnsembleGauges {
            updated,
            voters,
            synced_followers,
            leader,
            lag,
            halted,
        } = *g;
        self.updated_replicas
            .with_label_values(&[ns, name])
            .set(i64::from(updated));
        self.voters
            .with_label_values(&[ns, name])
            .set(voters as i64);
        self.synced_followers
            .with_label_values(&[ns, name])
            .set(synced_followers as i64);
        self.leader_id
            .with_label_values(&[ns, name])
            .set(leader.unwrap_or(0));
        self.halted
            .with_label_values(&[ns, name])
            .set(i64::from(halted));
        let now: Vec<String> = lag.keys().map(|k| k.to_string()).collect();
        let mut known = self.lag_ids.lock().unwrap();
        let prev = known
            .insert((ns.to_string(), name.to_string()), now.clone())
            .unwrap_or_default();
        for id in prev.iter().filter(|i| !now.contains(i)) {
            let _ = self.member_lag.remove_label_values(&[ns, name, id]);
        }
        for (id, l) in lag {
            self.member_lag
                .with_label_values(&[ns, name, &id.to_string()])
                .set(l.map_or(-1, |l| l.min(i64::MAX as u64) as i64));
        }
    }

    /// Count one day-2 operation.
    pub fn operation(&self, ns: &str, name: &str, op: &str, ok: bool) {
        self.operations
            .with_label_values(&[ns, name, op, if ok { "ok" } else { "error" }])
            .inc();
    }

    /// Record a cluster's observed state.
    pub fn set_cluster(
        &self,
        ns: &str,
        name: &str,
        roles: &std::collections::BTreeMap<String, i64>,
        quorum: bool,
        ready: i32,
        desired: i32,
    ) {
        for role in ROLES {
            self.members
                .with_label_values(&[ns, name, role])
                .set(roles.get(role).copied().unwrap_or(0));
        }
        self.quorum_healthy
            .with_label_values(&[ns, name])
            .set(i64::from(quorum));
        self.ready_replicas
            .with_label_values(&[ns, name])
            .set(i64::from(ready));
        self.replicas
            .with_label_values(&[ns, name])
            .set(i64::from(desired));
    }

    /// Forget a deleted cluster.
    pub fn remove_cluster(&self, ns: &str, name: &str) {
        for role in ROLES {
            let _ = self.members.remove_label_values(&[ns, name, role]);
        }
        let _ = self.quorum_healthy.remove_label_values(&[ns, name]);
        let _ = self.ready_replicas.remove_label_values(&[ns, name]);
        let _ = self.replicas.remove_label_values(&[ns, name]);
        for g in [
            &self.updated_replicas,
            &self.voters,
            &self.synced_followers,
            &self.leader_id,
            &self.halted,
        ] {
            let _ = g.remove_label_values(&[ns, name]);
        }
        let ids = self
            .lag_ids
            .lock()
            .unwrap()
            .remove(&(ns.to_string(), name.to_string()))
            .unwrap_or_default();
        for id in ids {
            let _ = self.member_lag.remove_label_values(&[ns, name, &id]);
        }
        // Counters of a deleted cluster go too.
        let fams = self.registry.gather();
        for f in fams
            .iter()
            .filter(|f| f.name() == "rzk_cluster_operations_total")
        {
            for m in f.get_metric() {
                let l: std::collections::HashMap<&str, &str> = m
                    .get_label()
                    .iter()
                    .map(|l| (l.name(), l.value()))
                    .collect();
                if l.get("namespace") == Some(&ns) && l.get("cluster") == Some(&name) {
                    let _ = self.operations.remove_label_values(&[
                        ns,
                        name,
                        l.get("operation").copied().unwrap_or(""),
                        l.get("result").copied().unwrap_or(""),
                    ]);
                }
            }
        }
    }

    /// Text exposition of every metric.
    pub fn render(&self) -> String {
        let mut buf = Vec::new();
        TextEncoder::new()
            .encode(&self.registry.gather(), &mut buf)
            .expect("text encoding");
        String::from_utf8(buf).expect("utf8")
    }
}

/// Serve `/metrics`, `/healthz`, `/readyz` (a deliberately tiny HTTP/1.0 responder).
pub async fn serve(addr: SocketAddr, metrics: Arc<Metrics>) -> std::io::Result<()> {
    let listener = TcpListener::bind(addr).await?;
    tracing::info!(%addr, "metrics and health endpoint listening");
    loop {
        let (mut sock, _) = listener.accept().await?;
        let metrics = metrics.clone();
        tokio::spawn(async move {
            let mut buf = vec![0u8; 4096];
            let mut n = 0;
            // Read until the end of the request head (or the buffer fills).
            while n < buf.len() {
                let r = match tokio::time::timeout(
                    std::time::Duration::from_secs(5),
                    sock.read(&mut buf[n..]),
                )
                .await
                {
                    Ok(Ok(r)) => r,
                    _ => return,
                };
                if r == 0 {
                    break;
                }
                n += r;
                if buf[..n].windows(4).any(|w| w == b"\r\n\r\n") {
                    break;
                }
            }
            let head = String::from_utf8_lossy(&buf[..n]);
            let path = head.split_whitespace().nth(1).unwrap_or("/");
            let (status, ctype, body) = match path.split('?').next().unwrap_or(path) {
                "/metrics" => ("200 OK", "text/plain; version=0.0.4", metrics.render()),
                "/healthz" | "/readyz" => ("200 OK", "text/plain", "ok\n".to_string()),
                _ => ("404 Not Found", "text/plain", "not found\n".to_string()),
            };
            let resp = format!(
                "HTTP/1.1 {status}\r\nContent-Type: {ctype}\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
                body.len()
            );
            let _ = sock.write_all(resp.as_bytes()).await;
            let _ = sock.shutdown().await;
        });
    }
}
