//! Observing the servers: per pod `conf` (the server id it runs, its own `server.N` line) and
//! `srvr` (role when serving) on the client port; the leader's `/zookeeper/config` (membership)
//! over a client session and its `/commands/monitor` (per-member replication lag) on the
//! AdminServer.

use std::time::Duration;

use k8s_openapi::api::core::v1::Pod;
use kube::ResourceExt;

use crate::builders;
use crate::crd::ZookeeperCluster;
use crate::fourlw;
use crate::plan::{EnsembleObs, PodObs};
use crate::zkclient;

fn addr(ip: &str, port: i32) -> String {
    if ip.contains(':') {
        format!("[{ip}]:{port}")
    } else {
        format!("{ip}:{port}")
    }
}

/// What `conf` says: (serverId, this server's own `server.N` value).
pub fn parse_conf(text: &str) -> (Option<i64>, Option<String>) {
    let mut id = None;
    let mut lines = Vec::new();
    for line in text.lines().map(str::trim) {
        if let Some(v) = line.strip_prefix("serverId=") {
            id = v.trim().parse::<i64>().ok().filter(|i| *i > 0);
        } else if let Some(rest) = line.strip_prefix("server.") {
            if let Some((n, v)) = rest.split_once('=') {
                if let Ok(n) = n.parse::<i64>() {
                    lines.push((n, v.trim().to_string()));
                }
            }
        }
    }
    let own = id.and_then(|id| lines.into_iter().find(|(n, _)| *n == id).map(|(_, v)| v));
    (id, own)
}

fn epoch(t: &k8s_openapi::apimachinery::pkg::apis::meta::v1::Time) -> i64 {
    t.0.as_second()
}

/// Kubernetes-side facts of a pod (no network I/O).
pub fn pod_facts(zk: &ZookeeperCluster, pod: &Pod) -> Option<PodObs> {
    let name = pod.name_any();
    let ordinal = builders::ordinal_of_pod(zk, &name)?;
    let status = pod.status.as_ref();
    let ready_cond = status
        .and_then(|s| s.conditions.as_ref())
        .and_then(|c| c.iter().find(|c| c.type_ == "Ready"));
    let ready = ready_cond.is_some_and(|c| c.status == "True");
    let created = pod.metadata.creation_timestamp.as_ref().map(epoch);
    let unready_since = if ready {
        None
    } else {
        let t = ready_cond
            .and_then(|c| c.last_transition_time.as_ref())
            .map(epoch);
        match (t, created) {
            (Some(t), Some(c)) => Some(t.max(c)),
            (t, c) => t.or(c),
        }
    };
    let wiped = status
        .and_then(|s| s.init_container_statuses.as_ref())
        .is_some_and(|cs| {
            cs.iter()
                .filter(|c| c.name == builders::INIT_MYID)
                .any(|c| {
                    let code = |st: Option<&k8s_openapi::api::core::v1::ContainerState>| {
                        st.and_then(|s| s.terminated.as_ref()).map(|t| t.exit_code)
                    };
                    let waiting = c.state.as_ref().and_then(|s| s.waiting.as_ref()).is_some();
                    code(c.state.as_ref()) == Some(builders::INIT_EXIT_WIPED)
                        || (waiting
                            && code(c.last_state.as_ref()) == Some(builders::INIT_EXIT_WIPED))
                })
        });
    Some(PodObs {
        ordinal,
        name,
        ip: status
            .and_then(|s| s.pod_ip.clone())
            .filter(|ip| !ip.is_empty()),
        ready,
        terminating: pod.metadata.deletion_timestamp.is_some(),
        template_hash: pod
            .annotations()
            .get(builders::TEMPLATE_HASH_ANNOTATION)
            .cloned(),
        unready_since,
        wiped,
        ..Default::default()
    })
}

/// Observe every pod of the cluster (facts + `conf` and `srvr`, concurrently).
pub async fn observe_pods(zk: &ZookeeperCluster, pods: &[Pod], timeout: Duration) -> Vec<PodObs> {
    let port = zk.spec.ports.client;
    let futs = pods
        .iter()
        .filter_map(|p| pod_facts(zk, p))
        .map(|mut o| async move {
            if let (Some(ip), false) = (o.ip.clone(), o.terminating) {
                let a = addr(&ip, port);
                let (conf, srvr) = tokio::join!(
                    fourlw::command(&a, "conf", timeout),
                    fourlw::srvr(&a, timeout)
                );
                if let Ok(text) = conf {
                    let (id, own) = parse_conf(&text);
                    o.running = id.is_some() || text.contains("clientPort=");
                    o.server_id = id;
                    o.own_spec = own;
                }
                if let Ok(s) = srvr {
                    o.running = true;
                    o.mode = Some(s.mode);
                    o.version = s.version;
                }
            }
            o
        });
    let mut out = futures::future::join_all(futs).await;
    out.sort_by_key(|o| o.ordinal);
    out
}

/// Observe the ensemble through its leader. `error` explains a missing membership.
pub async fn observe_ensemble(
    zk: &ZookeeperCluster,
    pods: &[PodObs],
    timeout: Duration,
) -> (EnsembleObs, Option<String>) {
    let mut out = EnsembleObs::default();
    let leaders: Vec<&PodObs> = pods
        .iter()
        .filter(|p| p.mode.as_deref() == Some("leader") && p.ip.is_some())
        .collect();
    let Some(leader) = leaders.first() else {
        return (out, Some("no server reports itself leader".into()));
    };
    if leaders.len() > 1 {
        return (
            out,
            Some(format!(
                "{} servers report themselves leader (an election is settling)",
                leaders.len()
            )),
        );
    }
    let ip = leader.ip.clone().unwrap_or_default();
    out.leader_id = leader.server_id;
    let client = addr(&ip, zk.spec.ports.client);
    let membership = async {
        let mut s = zkclient::Session::connect(&client, Duration::from_secs(10), timeout).await?;
        let data = s.get_data("/zookeeper/config").await;
        s.close().await;
        data
    };
    let admin = addr(&ip, zk.spec.ports.admin);
    let monitor = zkclient::http_get(&admin, "/commands/monitor", timeout);
    let (membership, monitor) = tokio::join!(membership, monitor);
    let mut error = None;
    match membership {
        Ok(data) => {
            let m = zkclient::parse_membership(&String::from_utf8_lossy(&data));
            if m.voters.is_empty() {
                error = Some("/zookeeper/config lists no voter".into());
            } else {
                out.membership = Some(m);
            }
        }
        Err(e) => {
            error = Some(format!(
                "reading /zookeeper/config from {}: {e}",
                leader.name
            ))
        }
    }
    match monitor {
        Ok((200, body)) => {
            if let Ok(v) = serde_json::from_str::<serde_json::Value>(&body) {
                out.lag = zkclient::parse_replication(&v);
            }
        }
        Ok((code, _)) => tracing::debug!(pod = %leader.name, code, "monitor failed"),
        Err(e) => tracing::debug!(pod = %leader.name, error = %e, "monitor failed"),
    }
    // A member the leader has no replication entry for is not synced.
    if let Some(m) = &out.membership {
        for id in m.ids() {
            if Some(id) != out.leader_id {
                out.lag.entry(id).or_insert(None);
            }
        }
    }
    (out, error)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_conf() {
        let text = "clientPort=2181\nsecureClientPort=-1\ndataDir=/data\nserverId=5\ninitLimit=10\nsyncLimit=5\nelectionAlg=3\n\
                    server.1=10.0.0.1:2888:3888:participant\nserver.5=zk-1.zk-headless.ns.svc.cluster.local:2888:3888:participant\n";
        let (id, own) = parse_conf(text);
        assert_eq!(id, Some(5));
        assert_eq!(
            own.as_deref(),
            Some("zk-1.zk-headless.ns.svc.cluster.local:2888:3888:participant")
        );
        assert_eq!(parse_conf("serverId=0\n"), (None, None));
    }
}
