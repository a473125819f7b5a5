//! Four-letter words on the client port, in ZooKeeper 3.8's output formats.

use crate::report::{DirSizes, Report};
use crate::server::Shared;
use std::fmt::Write;
use std::sync::atomic::Ordering::Relaxed;
use std::time::UNIX_EPOCH;

pub const VERSION: &str = concat!(
    "3.9.0-rzk-",
    env!("CARGO_PKG_VERSION"),
    ", built on 2026-11-25 00:00 UTC"
);

const WORDS: &[&str] = &[
    "ruok", "srvr", "stat", "conf", "cons", "crst", "srst", "mntr", "wchs", "wchc", "wchp", "dump",
    "envi", "isro", "dirs", "gtmk", "stmk",
];

/// The command if the first four bytes of a connection are a four-letter word.
pub fn detect(first: &[u8]) -> Option<&'static str> {
    WORDS.iter().copied().find(|w| w.as_bytes() == first)
}

fn conn_lines(s: &Shared, detailed: bool) -> String {
    let mut out = String::new();
    let conns = s.conns.lock();
    let mut list: Vec<_> = conns.iter().collect();
    list.sort_by_key(|(id, _)| **id);
    for (_, c) in list {
        let _ = write!(
            out,
            " /{}:{}[1](queued=0,recved={},sent={}",
            c.peer.ip(),
            c.peer.port(),
            c.received.load(Relaxed),
            c.sent.load(Relaxed)
        );
        if detailed {
            let est = c
                .established
                .duration_since(UNIX_EPOCH)
                .map(|d| d.as_millis())
                .unwrap_or(0);
            let d = c.detail.lock().clone();
            let avg = d.total_ms.checked_div(d.count).unwrap_or(0);
            let _ = write!(
                out,
                ",sid=0x{:x},lop={},est={},to={},lcxid=0x{:x},lzxid=0x{:x},lresp={},llat={},minlat={},avglat={},maxlat={}",
                c.session_id, d.lop, est, c.timeout_ms, d.lcxid, d.lzxid, d.lresp_ms, d.llat_ms, d.min_ms, avg, d.max_ms
            );
        }
        out.push_str(")\n");
    }
    out
}

/// The `srvr` lines after the version (also the tail of `stat`).
pub(crate) fn summary(r: &Report, out: &mut String) {
    let _ = write!(
        out,
        "Latency min/avg/max: {}/{:.4}/{}\nReceived: {}\nSent: {}\nConnections: {}\nOutstanding: {}\nZxid: 0x{:x}\nMode: {}\nNode count: {}\n",
        r.latency.min,
        r.latency.avg,
        r.latency.max,
        r.packets_received,
        r.packets_sent,
        r.connections,
        r.outstanding_requests,
        r.zxid,
        r.role,
        r.znodes
    );
    // After ZooKeeper's lines, as ZooKeeper's own quorum-mode extras ("Proposal sizes") are.
    let _ = writeln!(
        out,
        "Feature level: {} (this release supports up to {})",
        r.feature_level, r.feature_level_max
    );
}

/// `mntr` key/value pairs, in ZooKeeper's order.
pub fn mntr_pairs(r: &Report) -> Vec<(String, String)> {
    let mut v: Vec<(String, String)> = vec![
        ("zk_version".into(), VERSION.into()),
        ("zk_server_state".into(), r.role.to_string()),
        ("zk_avg_latency".into(), format!("{:.4}", r.latency.avg)),
        ("zk_max_latency".into(), r.latency.max.to_string()),
        ("zk_min_latency".into(), r.latency.min.to_string()),
        ("zk_packets_received".into(), r.packets_received.to_string()),
        ("zk_packets_sent".into(), r.packets_sent.to_string()),
        ("zk_num_alive_connections".into(), r.connections.to_string()),
        (
            "zk_outstanding_requests".into(),
            r.outstanding_requests.to_string(),
        ),
        ("zk_znode_count".into(), r.znodes.to_string()),
        ("zk_watch_count".into(), r.watches.to_string()),
        ("zk_ephemerals_count".into(), r.ephemerals.to_string()),
        (
            "zk_approximate_data_size".into(),
            r.approximate_data_size.to_string(),
        ),
        (
            "zk_open_file_descriptor_count".into(),
            r.open_fds.unwrap_or(0).to_string(),
        ),
        (
            "zk_max_file_descriptor_count".into(),
            r.max_fds_or_default().to_string(),
        ),
        ("zk_global_sessions".into(), r.global_sessions.to_string()),
        ("zk_local_sessions".into(), "0".into()),
        ("zk_uptime".into(), r.uptime_ms.to_string()),
    ];
    if let Some(rep) = &r.replication {
        // "Synced" = acknowledged the leader's log up to a small lag (ZooKeeper: in sync with the leader).
        v.push(("zk_learners".into(), rep.learners().to_string()));
        v.push(("zk_followers".into(), rep.followers().to_string()));
        v.push((
            "zk_synced_followers".into(),
            rep.synced_followers().to_string(),
        ));
        v.push((
            "zk_synced_non_voting_followers".into(),
            rep.synced_observers().to_string(),
        ));
        v.push((
            "zk_synced_observers".into(),
            rep.synced_observers().to_string(),
        ));
        v.push(("zk_pending_syncs".into(), "0".into()));
    }
    if let Some(n) = r.quorum_size {
        // ZooKeeper reports the number of voting members here.
        v.push(("zk_quorum_size".into(), n.to_string()));
    }
    v.push(("rzk_feature_level".into(), r.feature_level.to_string()));
    v.push((
        "rzk_feature_level_supported".into(),
        r.feature_level_max.to_string(),
    ));
    let l = &r.leaderless;
    for (k, n) in [
        ("rzk_sessions_refused_no_leader", l.refused_sessions),
        ("rzk_requests_held_for_leader", l.held_requests),
        ("rzk_connections_closed_unanswered", l.closed_unanswered),
        ("rzk_log_lines_suppressed", l.log_lines_suppressed),
        ("zk_request_throttle_wait_count", r.throttle_waits),
    ] {
        v.push((k.into(), n.to_string()));
    }
    v
}

/// Runs a four-letter word and returns its full response.
pub fn run(s: &Shared, cmd: &str) -> String {
    if !s.cfg.four_letter_word_enabled(cmd) {
        return format!("{cmd} is not executed because it is not in the whitelist.\n");
    }
    let mut out = String::new();
    let serving = s.serving();
    let read_only = s.read_only.active();
    if !serving && !read_only && !matches!(cmd, "ruok" | "isro" | "envi" | "conf" | "dirs") {
        return "This ZooKeeper instance is not currently serving requests\n".into();
    }
    match cmd {
        "ruok" => out.push_str("imok"),
        // ZooKeeper: "ro" for its read-only server, "null" while no server runs (no quorum).
        "isro" => out.push_str(match (read_only, serving) {
            (true, _) => "ro",
            (false, true) => "rw",
            (false, false) => "null",
        }),
        "srvr" => {
            let _ = writeln!(out, "Zookeeper version: {VERSION}");
            summary(&Report::take(s), &mut out);
        }
        "stat" => {
            let _ = writeln!(out, "Zookeeper version: {VERSION}\nClients:");
            out.push_str(&conn_lines(s, false));
            out.push('\n');
            summary(&Report::take(s), &mut out);
        }
        "cons" => {
            out.push_str(&conn_lines(s, true));
            out.push('\n');
        }
        "crst" => out.push_str("Connection stats reset.\n"),
        "srst" => {
            s.stats.reset();
            out.push_str("Server stats reset.\n");
        }
        "conf" => {
            let c = &s.cfg;
            let client = c.client_address().map(|a| a.1).unwrap_or(2181);
            let dirs = DirSizes::of(c);
            let _ = write!(
                out,
                "clientPort={client}\nsecureClientPort=-1\ndataDir={}\ndataDirSize={}\ndataLogDir={}\ndataLogSize={}\ntickTime={}\nmaxClientCnxns={}\nminSessionTimeout={}\nmaxSessionTimeout={}\nclientPortListenBacklog=-1\nserverId={}\n",
                c.data_dir.display(),
                dirs.data_dir,
                c.data_log_dir.display(),
                dirs.log_dir,
                c.tick_time,
                c.max_client_cnxns,
                c.min_session_timeout,
                c.max_session_timeout,
                c.server_id.unwrap_or(0)
            );
            if c.is_distributed() {
                let _ = write!(
                    out,
                    "initLimit={}\nsyncLimit={}\nelectionAlg=3\n",
                    c.init_limit, c.sync_limit
                );
                for (id, sp) in &c.servers {
                    let _ = writeln!(out, "server.{id}={}", sp.to_value());
                }
            }
        }
        "mntr" => {
            for (k, v) in mntr_pairs(&Report::take(s)) {
                let _ = writeln!(out, "{k}\t{v}");
            }
        }
        "wchs" => {
            let w = s.watches.lock();
            let _ = write!(
                out,
                "{} connections watching {} paths\nTotal watches:{}\n",
                w.conn_count(),
                w.path_count(),
                w.watch_count()
            );
        }
        "wchc" => {
            let w = s.watches.lock();
            let conns = s.conns.lock();
            for (c, paths) in w.by_conn() {
                let sid = conns.get(&c).map_or(0, |ci| ci.session_id);
                let _ = writeln!(out, "0x{sid:x}");
                for p in paths {
                    let _ = writeln!(out, "\t{p}");
                }
            }
        }
        "wchp" => {
            let w = s.watches.lock();
            let conns = s.conns.lock();
            for (p, cs) in w.by_path() {
                let _ = writeln!(out, "{p}");
                for c in cs {
                    let _ = writeln!(out, "\t0x{:x}", conns.get(&c).map_or(0, |ci| ci.session_id));
                }
            }
        }
        "dump" => {
            let tree = s.tree.read();
            let _ = writeln!(
                out,
                "SessionTracker dump:\nGlobal Sessions({}):",
                tree.sessions().len()
            );
            for (id, info) in tree.sessions() {
                let _ = writeln!(out, "0x{id:x}\t{}ms", info.timeout_ms);
            }
            let _ = writeln!(
                out,
                "ephemeral nodes dump:\nSessions with Ephemerals ({}):",
                tree.ephemerals_by_session().len()
            );
            let mut e: Vec<_> = tree.ephemerals_by_session().iter().collect();
            e.sort_by_key(|(k, _)| **k);
            for (sid, paths) in e {
                let _ = writeln!(out, "0x{sid:x}:");
                for p in paths {
                    let _ = writeln!(out, "\t{p}");
                }
            }
        }
        "envi" => {
            let _ = writeln!(out, "Environment:\nzookeeper.version={VERSION}");
            let host = std::fs::read_to_string("/proc/sys/kernel/hostname")
                .unwrap_or_else(|_| "localhost".into());
            let _ = writeln!(out, "host.name={}", host.trim());
            // rzk is not a JVM: the java.* keys exist so parsers find them, with ZooKeeper's "<NA>".
            for k in [
                "java.version",
                "java.vendor",
                "java.home",
                "java.class.path",
                "java.library.path",
                "java.compiler",
            ] {
                let _ = writeln!(out, "{k}=<NA>");
            }
            let _ = writeln!(out, "java.io.tmpdir={}", std::env::temp_dir().display());
            let osr = std::fs::read_to_string("/proc/sys/kernel/osrelease").unwrap_or_default();
            let _ = writeln!(
                out,
                "os.name={}\nos.arch={}\nos.version={}",
                std::env::consts::OS,
                std::env::consts::ARCH,
                osr.trim()
            );
            let _ = writeln!(
                out,
                "user.name={}",
                std::env::var("USER").unwrap_or_default()
            );
            let _ = writeln!(
                out,
                "user.home={}",
                std::env::var("HOME").unwrap_or_default()
            );
            if let Ok(d) = std::env::current_dir() {
                let _ = writeln!(out, "user.dir={}", d.display());
            }
        }
        "dirs" => {
            let dirs = DirSizes::of(&s.cfg);
            let _ = write!(
                out,
                "datadir_size: {}\nlogdir_size: {}\n",
                dirs.data_dir, dirs.log_dir
            );
        }
        _ => {
            let _ = writeln!(out, "{cmd} is not supported");
        }
    }
    out
}
