//! One health report: a snapshot of this server's state that every status output renders —
//! `srvr`/`stat`/`mntr` (`fourlw.rs`), the AdminServer JSON (`admin.rs`) and `/metrics`
//! (`metrics.rs`). A value shown by two of them comes from the same [`Report`] field, computed in
//! one place (role, synced followers, directory sizes...), so they cannot disagree.

use crate::server::Shared;
use rzk_raft::RaftStatus;
use std::path::Path;
use std::sync::atomic::Ordering::Relaxed;

/// A follower or observer whose log is within this many entries of the leader's counts as synced
/// (the same bound the leader uses to accept a reconfig). `rzk.syncedLagEntries` overrides it for
/// the reports (not for reconfig).
pub const SYNCED_LAG: u64 = rzk_raft::SYNCED_LAG;

/// `zk_max_file_descriptor_count` when the limit cannot be read.
const DEFAULT_MAX_FDS: u64 = 1_048_576;

/// What this server is: ZooKeeper's server states, plus `looking` for a member of an ensemble that
/// knows no leader (ZooKeeper's LOOKING; `srvr`/`mntr` are not served then).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Role {
    Standalone,
    Leader,
    Follower,
    Observer,
    Looking,
    /// Read-only mode (readonly.rs): no quorum, serving read-only clients.
    ReadOnly,
}

impl Role {
    /// Every role, in the order `rzk_server_role{role=...}` lists them.
    pub const ALL: [Role; 6] = [
        Role::Standalone,
        Role::Leader,
        Role::Follower,
        Role::Observer,
        Role::Looking,
        Role::ReadOnly,
    ];

    /// The role of a server that is an ensemble member (`distributed`) with Raft status `st`.
    pub fn of(distributed: bool, st: Option<&RaftStatus>) -> Role {
        Role::of_raft(distributed, st.map(|st| (st.role, st.leader.is_some())))
    }

    /// [`Role::of`] from the Raft role and whether a leader is known.
    fn of_raft(distributed: bool, raft: Option<(rzk_raft::Role, bool)>) -> Role {
        if !distributed {
            return Role::Standalone;
        }
        match raft {
            Some((role, true)) => match role {
                rzk_raft::Role::Leader => Role::Leader,
                rzk_raft::Role::Follower => Role::Follower,
                rzk_raft::Role::Learner => Role::Observer,
                rzk_raft::Role::Candidate | rzk_raft::Role::Shutdown => Role::Looking,
            },
            _ => Role::Looking,
        }
    }

    /// The word ZooKeeper prints (`Mode:`, `zk_server_state`, `server_state`).
    pub fn as_str(self) -> &'static str {
        match self {
            Role::Standalone => "standalone",
            Role::Leader => "leader",
            Role::Follower => "follower",
            Role::Observer => "observer",
            Role::Looking => "looking",
            Role::ReadOnly => "read-only",
        }
    }
}

impl std::fmt::Display for Role {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Request latency since the last stats reset, milliseconds (min and max rounded, as ZooKeeper
/// prints them).
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct Latency {
    pub min: u64,
    pub avg: f64,
    pub max: u64,
}

/// Bytes under dataDir and dataLogDir.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct DirSizes {
    pub data_dir: u64,
    pub log_dir: u64,
}

impl DirSizes {
    pub fn of(cfg: &rzk_config::ServerConfig) -> DirSizes {
        DirSizes {
            data_dir: du(&cfg.data_dir),
            log_dir: du(&cfg.data_log_dir),
        }
    }
}

/// Bytes of the regular files under `path` (16 directory levels at most).
fn du(path: &Path) -> u64 {
    fn walk(p: &Path, depth: u32) -> u64 {
        if depth > 16 {
            return 0;
        }
        std::fs::read_dir(p)
            .map(|rd| {
                rd.flatten()
                    .map(|e| match e.metadata() {
                        Ok(m) if m.is_dir() => walk(&e.path(), depth + 1),
                        Ok(m) => m.len(),
                        Err(_) => 0,
                    })
                    .sum()
            })
            .unwrap_or(0)
    }
    walk(path, 0)
}

/// One follower or observer as its leader sees it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Peer {
    pub id: u64,
    /// Highest log index known replicated there (None: nothing acknowledged yet).
    pub matched: Option<u64>,
    /// Entries it is behind the leader's log.
    pub lag: u64,
    /// A voting member (follower), else an observer.
    pub voter: bool,
}

/// Replication as the leader of an ensemble sees it.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Replication {
    /// Every other member, by id.
    pub peers: Vec<Peer>,
    /// The lag up to which a peer counts as synced.
    pub synced_lag: u64,
}

impl Replication {
    /// Peers that have acknowledged part of the log (ZooKeeper's connected learners).
    pub fn learners(&self) -> usize {
        self.peers.iter().filter(|p| p.matched.is_some()).count()
    }

    /// Voting peers that have acknowledged part of the log.
    pub fn followers(&self) -> usize {
        self.peers
            .iter()
            .filter(|p| p.voter && p.matched.is_some())
            .count()
    }

    pub fn is_synced(&self, p: &Peer) -> bool {
        p.matched.is_some() && p.lag <= self.synced_lag
    }

    pub fn synced_followers(&self) -> usize {
        self.peers
            .iter()
            .filter(|p| p.voter && self.is_synced(p))
            .count()
    }

    pub fn synced_observers(&self) -> usize {
        self.peers
            .iter()
            .filter(|p| !p.voter && self.is_synced(p))
            .count()
    }
}

/// The snapshot. See the module documentation.
#[derive(Debug, Clone)]
pub struct Report {
    pub role: Role,
    /// Last applied zxid.
    pub zxid: i64,
    pub latency: Latency,
    pub packets_received: u64,
    pub packets_sent: u64,
    /// Live client connections.
    pub connections: usize,
    pub outstanding_requests: i64,
    /// Times a connection waited for a throttle slot (throttle.rs).
    pub throttle_waits: u64,
    pub znodes: usize,
    pub ephemerals: usize,
    pub watches: usize,
    pub approximate_data_size: u64,
    pub global_sessions: usize,
    pub uptime_ms: u64,
    pub open_fds: Option<u64>,
    pub max_fds: Option<u64>,
    /// Only when asked for ([`Report::take_with_dirs`]): measuring walks the directories.
    pub dirs: Option<DirSizes>,
    /// This member's Raft status (None until replication started).
    pub raft: Option<RaftStatus>,
    /// Voting members, in an ensemble.
    pub quorum_size: Option<usize>,
    /// On the leader of an ensemble.
    pub replication: Option<Replication>,
    /// Highest index stored on a majority of voters (leader only).
    pub commit_index: Option<u64>,
    /// Part of a quorum that can commit writes, as far as this member can tell.
    pub quorum_healthy: bool,
    /// The cluster feature level in force (ARCHITECTURE.md, "Formats and versions").
    pub feature_level: u32,
    /// The highest feature level this release supports.
    pub feature_level_max: u32,
    /// Leader loss as clients see it (counters since start).
    pub leaderless: Leaderless,
}

/// What clients met while no leader was reachable (issue: sessions without a leader).
#[derive(Debug, Clone, Default)]
pub struct Leaderless {
    /// Sessions refused at the handshake (no leader confirmed them).
    pub refused_sessions: u64,
    /// Requests held until a leader was reachable, then sent.
    pub held_requests: u64,
    /// Connections closed with a request of unknown outcome.
    pub closed_unanswered: u64,
    /// Log lines dropped by the rate limit (`log_limit`).
    pub log_lines_suppressed: u64,
}

impl Report {
    /// Reads everything now, except the directory sizes.
    pub fn take(s: &Shared) -> Report {
        let st = s.raft.get().map(|r| r.status());
        let distributed = s.cfg.is_distributed();
        let (min, avg, max) = s.stats.latency_ms();
        let (zxid, znodes, ephemerals, approximate_data_size, global_sessions) = {
            let tree = s.tree.read();
            (
                tree.last_zxid(),
                tree.node_count(),
                tree.ephemeral_count(),
                tree.approximate_data_size(),
                tree.sessions().len(),
            )
        };
        let replication = st
            .as_ref()
            .filter(|st| distributed && st.role == rzk_raft::Role::Leader)
            .map(|st| Replication {
                peers: peers(st),
                synced_lag: synced_lag(&s.cfg),
            });
        // One lock at a time: the apply hook takes `watches` then `conns` (under the tree's
        // write lock), so holding `conns` while taking `watches` would deadlock with it.
        let connections = s.conns.lock().len();
        let watches = s.watches.lock().watch_count();
        Report {
            role: if s.read_only.active() {
                Role::ReadOnly
            } else {
                Role::of(distributed, st.as_ref())
            },
            zxid,
            latency: Latency {
                min: min.round() as u64,
                avg,
                max: max.round() as u64,
            },
            packets_received: s.stats.packets_received.load(Relaxed),
            packets_sent: s.stats.packets_sent.load(Relaxed),
            connections,
            outstanding_requests: s.throttle.outstanding() as i64,
            throttle_waits: s.throttle.waits(),
            znodes,
            ephemerals,
            watches,
            approximate_data_size,
            global_sessions,
            uptime_ms: s.started.elapsed().as_millis() as u64,
            open_fds: std::fs::read_dir("/proc/self/fd")
                .ok()
                .map(|d| d.count() as u64),
            max_fds: max_fds(),
            dirs: None,
            quorum_size: st
                .as_ref()
                .filter(|_| distributed)
                .map(|st| st.voters.len()),
            replication,
            commit_index: st.as_ref().and_then(commit_index),
            quorum_healthy: quorum_healthy(&s.cfg, st.as_ref()),
            feature_level: st.as_ref().map_or(1, |st| st.feature_level),
            feature_level_max: rzk_raft::FEATURE_LEVEL_MAX,
            leaderless: Leaderless {
                refused_sessions: s.stats.refused_no_leader.load(Relaxed),
                held_requests: s.raft.get().map_or(0, |r| r.held_requests()),
                closed_unanswered: s.stats.closed_unanswered.load(Relaxed),
                log_lines_suppressed: crate::log_limit::SUPPRESSED_TOTAL.load(Relaxed),
            },
            raft: st,
        }
    }

    /// [`Report::take`] with the directory sizes.
    pub fn take_with_dirs(s: &Shared) -> Report {
        Report {
            dirs: Some(DirSizes::of(&s.cfg)),
            ..Report::take(s)
        }
    }

    /// `zk_max_file_descriptor_count`: the limit, or ZooKeeper's usual value when unknown.
    pub fn max_fds_or_default(&self) -> u64 {
        self.max_fds.unwrap_or(DEFAULT_MAX_FDS)
    }
}

/// The lag bound for "synced": `rzk.syncedLagEntries`, else [`SYNCED_LAG`].
pub fn synced_lag(cfg: &rzk_config::ServerConfig) -> u64 {
    cfg.rzk_knob("syncedLagEntries")
        .and_then(|v| v.parse().ok())
        .unwrap_or(SYNCED_LAG)
}

/// Every other member the leader replicates to (empty on a non-leader).
fn peers(st: &RaftStatus) -> Vec<Peer> {
    st.replication
        .iter()
        .filter(|(id, _)| **id != st.id)
        .map(|(id, m)| Peer {
            id: *id,
            matched: *m,
            lag: st.last_log_index.saturating_sub(m.unwrap_or(0)),
            voter: st.voters.contains(id),
        })
        .collect()
}

/// Highest index stored on a majority of voters (computed on the leader from replication progress).
fn commit_index(st: &RaftStatus) -> Option<u64> {
    if st.role != rzk_raft::Role::Leader || st.voters.is_empty() {
        return None;
    }
    let mut idx: Vec<u64> = st
        .voters
        .iter()
        .map(|v| {
            if *v == st.id {
                st.last_log_index
            } else {
                st.replication.get(v).copied().flatten().unwrap_or(0)
            }
        })
        .collect();
    idx.sort_unstable_by(|a, b| b.cmp(a));
    idx.get(st.voters.len() / 2).copied()
}

/// Whether this server is part of a working quorum, as far as it can tell.
fn quorum_healthy(cfg: &rzk_config::ServerConfig, st: Option<&RaftStatus>) -> bool {
    let Some(st) = st else { return false };
    if !cfg.is_distributed() {
        return st.role == rzk_raft::Role::Leader;
    }
    match st.role {
        // A leader that heard from a quorum within syncLimit ticks (when ZooKeeper's leader would
        // give up leadership).
        rzk_raft::Role::Leader => {
            let limit = (cfg.sync_limit.max(2) as u64) * (cfg.tick_time.max(1) as u64);
            st.voters.len() <= 1 || st.millis_since_quorum_ack.is_some_and(|ms| ms <= limit)
        }
        rzk_raft::Role::Follower | rzk_raft::Role::Learner => st.leader.is_some(),
        rzk_raft::Role::Candidate | rzk_raft::Role::Shutdown => false,
    }
}

/// The open-files limit from /proc/self/limits.
fn max_fds() -> Option<u64> {
    std::fs::read_to_string("/proc/self/limits")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("Max open files"))
                .and_then(|l| {
                    l["Max open files".len()..]
                        .split_whitespace()
                        .next()
                        .and_then(|v| v.parse::<u64>().ok())
                })
        })
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::BTreeMap;

    /// A leader of three voters and one observer, last log index 100: server 2 synced (lag 2),
    /// 3 behind (lag 90), observer 4 synced (lag 4); synced = lag <= 5.
    fn leader_report() -> Report {
        let peer = |id, matched: u64, voter| Peer {
            id,
            matched: Some(matched),
            lag: 100 - matched,
            voter,
        };
        Report {
            role: Role::Leader,
            zxid: (100 << 20) | 3,
            latency: Latency {
                min: 1,
                avg: 2.345678,
                max: 9,
            },
            packets_received: 41,
            packets_sent: 40,
            connections: 3,
            outstanding_requests: 2,
            throttle_waits: 0,
            znodes: 17,
            ephemerals: 4,
            watches: 6,
            approximate_data_size: 1234,
            global_sessions: 5,
            uptime_ms: 98765,
            open_fds: Some(33),
            max_fds: Some(4096),
            dirs: Some(DirSizes {
                data_dir: 2048,
                log_dir: 1024,
            }),
            raft: None,
            quorum_size: Some(3),
            replication: Some(Replication {
                peers: vec![peer(2, 98, true), peer(3, 10, true), peer(4, 96, false)],
                synced_lag: 5,
            }),
            commit_index: Some(98),
            quorum_healthy: true,
            feature_level: 2,
            feature_level_max: 2,
            leaderless: Leaderless::default(),
        }
    }

    fn metric_values(r: &Report) -> BTreeMap<String, f64> {
        let mut out = BTreeMap::new();
        for fam in crate::metrics::report_metrics(r, Some(5)) {
            for m in fam.get_metric() {
                let labels: Vec<String> = m
                    .get_label()
                    .iter()
                    .map(|l| format!("{}=\"{}\"", l.name(), l.value()))
                    .collect();
                let key = if labels.is_empty() {
                    fam.name().to_string()
                } else {
                    format!("{}{{{}}}", fam.name(), labels.join(","))
                };
                let v = if fam.get_field_type() == prometheus::proto::MetricType::COUNTER {
                    m.get_counter().get_value()
                } else {
                    m.get_gauge().get_value()
                };
                out.insert(key, v);
            }
        }
        out
    }

    #[test]
    fn replication_counts() {
        let r = leader_report();
        let rep = r.replication.as_ref().unwrap();
        assert_eq!(rep.peers.len(), 3);
        assert_eq!(
            (
                rep.learners(),
                rep.followers(),
                rep.synced_followers(),
                rep.synced_observers()
            ),
            (3, 2, 1, 1)
        );
    }

    #[test]
    fn srvr_mntr_admin_and_metrics_render_the_same_report() {
        let r = leader_report();
        let mntr: BTreeMap<String, String> = crate::fourlw::mntr_pairs(&r).into_iter().collect();
        let mut srvr = String::new();
        crate::fourlw::summary(&r, &mut srvr);
        let srvr: BTreeMap<&str, &str> = srvr.lines().filter_map(|l| l.split_once(": ")).collect();
        let stats = crate::admin::server_stats(&r, Some(5));
        let metrics = metric_values(&r);
        let num = |s: &str| s.parse::<f64>().unwrap();

        // (mntr key, metric, admin server_stats key)
        for (zk, metric, admin) in [
            ("zk_znode_count", "znode_count", None),
            ("zk_watch_count", "watch_count", None),
            ("zk_ephemerals_count", "ephemerals_count", None),
            ("zk_approximate_data_size", "approximate_data_size", None),
            (
                "zk_num_alive_connections",
                "num_alive_connections",
                Some("num_alive_client_connections"),
            ),
            (
                "zk_outstanding_requests",
                "outstanding_requests",
                Some("outstanding_requests"),
            ),
            (
                "zk_packets_received",
                "packets_received",
                Some("packets_received"),
            ),
            ("zk_packets_sent", "packets_sent", Some("packets_sent")),
            ("zk_avg_latency", "avg_latency", Some("avg_latency")),
            ("zk_min_latency", "min_latency", Some("min_latency")),
            ("zk_max_latency", "max_latency", Some("max_latency")),
            ("zk_global_sessions", "global_sessions", None),
            ("zk_uptime", "uptime", Some("uptime")),
            (
                "zk_open_file_descriptor_count",
                "open_file_descriptor_count",
                None,
            ),
            (
                "zk_max_file_descriptor_count",
                "max_file_descriptor_count",
                None,
            ),
            ("zk_learners", "learners", None),
            ("zk_synced_followers", "synced_followers", None),
            ("zk_synced_observers", "synced_observers", None),
            ("zk_quorum_size", "quorum_size", None),
            ("rzk_feature_level", "rzk_feature_level", None),
            (
                "rzk_feature_level_supported",
                "rzk_feature_level_supported",
                None,
            ),
        ] {
            let m = num(&mntr[zk]);
            assert_eq!(m, metrics[metric], "{zk} vs {metric}");
            if let Some(a) = admin {
                assert_eq!(stats[a].as_f64(), Some(m), "{zk} vs admin {a}");
            }
        }
        assert_eq!(mntr["zk_followers"], "2");
        assert_eq!(mntr["zk_synced_non_voting_followers"], "1");

        // srvr
        assert_eq!(srvr["Node count"], mntr["zk_znode_count"]);
        assert_eq!(
            srvr["Feature level"],
            format!(
                "{} (this release supports up to {})",
                mntr["rzk_feature_level"], mntr["rzk_feature_level_supported"]
            )
        );
        assert_eq!(srvr["Connections"], mntr["zk_num_alive_connections"]);
        assert_eq!(srvr["Received"], mntr["zk_packets_received"]);
        assert_eq!(srvr["Sent"], mntr["zk_packets_sent"]);
        assert_eq!(srvr["Outstanding"], mntr["zk_outstanding_requests"]);
        assert_eq!(
            srvr["Latency min/avg/max"],
            format!(
                "{}/{}/{}",
                mntr["zk_min_latency"], mntr["zk_avg_latency"], mntr["zk_max_latency"]
            )
        );
        let zxid = i64::from_str_radix(srvr["Zxid"].trim_start_matches("0x"), 16).unwrap();
        assert_eq!(zxid, r.zxid);
        assert_eq!(stats["last_processed_zxid"].as_i64(), Some(zxid));
        assert_eq!(metrics["rzk_last_zxid"], zxid as f64);

        // role: one word everywhere
        assert_eq!(srvr["Mode"], "leader");
        assert_eq!(mntr["zk_server_state"], "leader");
        assert_eq!(stats["server_state"], "leader");
        for role in Role::ALL {
            let want = if role == Role::Leader { 1.0 } else { 0.0 };
            assert_eq!(
                metrics[&format!("rzk_server_role{{role=\"{role}\"}}")],
                want
            );
        }

        // directory sizes
        assert_eq!(stats["data_dir_size"].as_u64(), Some(2048));
        assert_eq!(stats["log_dir_size"].as_u64(), Some(1024));
    }

    #[test]
    fn roles() {
        use rzk_raft::Role as R;
        assert_eq!(Role::of(false, None), Role::Standalone);
        assert_eq!(
            Role::of_raft(false, Some((R::Follower, true))),
            Role::Standalone
        );
        assert_eq!(Role::of(true, None), Role::Looking);
        assert_eq!(Role::of_raft(true, Some((R::Leader, true))), Role::Leader);
        assert_eq!(
            Role::of_raft(true, Some((R::Follower, true))),
            Role::Follower
        );
        assert_eq!(
            Role::of_raft(true, Some((R::Learner, true))),
            Role::Observer
        );
        assert_eq!(
            Role::of_raft(true, Some((R::Follower, false))),
            Role::Looking
        );
        assert_eq!(
            Role::of_raft(true, Some((R::Learner, false))),
            Role::Looking
        );
        assert_eq!(
            Role::of_raft(true, Some((R::Candidate, true))),
            Role::Looking
        );
    }

    #[test]
    fn file_descriptors_from_proc() {
        if std::path::Path::new("/proc/self/limits").exists() {
            assert!(max_fds().unwrap() >= 1);
            assert!(std::fs::read_dir("/proc/self/fd").unwrap().count() >= 1);
        }
    }
}
