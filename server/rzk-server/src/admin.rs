//! ZooKeeper AdminServer-compatible HTTP commands (`GET /commands/<name>`, default port 8080).
//!
//! The JSON of each command has the fields ZooKeeper 3.8's AdminServer returns (samples captured
//! from a real ZooKeeper 3.8 are in `tests/fixtures/zk38_admin/`): every answer has `command` (the
//! command's primary name) and `error` (null, or a message). `GET /commands` lists the commands
//! as links, like ZooKeeper. Unknown commands answer 200 with `"error": "Unknown command: X"`, as
//! ZooKeeper does.
//!
//! Configured by `admin.enableServer` (default true), `admin.serverAddress` (default 0.0.0.0),
//! `admin.serverPort` (default 8080) and `admin.commandURL` (default `/commands`). If the port
//! cannot be bound the server logs it and runs on, like ZooKeeper.

use crate::http::{Request, Response};
use crate::metrics::{self, round4, Observer};
use crate::report::{DirSizes, Report, Role};
use crate::server::{now_ms, Shared};
use rzk_config::PeerRole;
use rzk_proto::consts::perms;
use rzk_tree::{acl, Id};
use serde_json::{json, Map, Value};
use std::sync::atomic::Ordering::Relaxed;
use std::sync::Arc;
use std::time::UNIX_EPOCH;

/// (primary name, aliases). The primary name is what `command` says in the answer.
pub const COMMANDS: &[(&str, &[&str])] = &[
    ("configuration", &["conf", "config"]),
    ("connection_stat_reset", &["crst"]),
    ("connections", &["cons"]),
    ("dirs", &[]),
    ("dump", &[]),
    ("elect", &["rzk_elect"]),
    ("environment", &["env", "envi"]),
    ("initial_configuration", &["icfg"]),
    ("is_read_only", &["isro"]),
    ("leader", &["lead"]),
    ("monitor", &["mntr"]),
    ("observers", &["obsr"]),
    ("ruok", &[]),
    ("server_stats", &["srvr"]),
    ("stat_reset", &["srst"]),
    ("stats", &["stat"]),
    ("transfer_leadership", &["rzk_transfer"]),
    ("voting_view", &[]),
    ("watch_summary", &["wchs"]),
    ("watches", &["wchc"]),
    ("watches_by_path", &["wchp"]),
    ("zabstate", &[]),
];

/// Commands that need an authenticated caller, with the permissions it must hold on `/`
/// (ZooKeeper 3.9's `AuthRequest(perms, "/")`, each bit checked on its own): those that change
/// the server's state (ALL) or show clients' sessions, paths and data (READ). Everything else
/// (health: ruok, srvr, stat, mntr, isro, ...) stays open.
pub const AUTH_REQUIRED: &[(&str, i32)] = &[
    ("transfer_leadership", perms::ALL),
    ("elect", perms::ALL),
    ("stat_reset", perms::ALL),
    ("connection_stat_reset", perms::ALL),
    ("dump", perms::READ),
    ("connections", perms::READ),
    ("watches", perms::READ),
    ("watches_by_path", perms::READ),
];

/// Why a command was refused: HTTP status and ZooKeeper's message (`Commands.runCommand`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Refused(pub u16, pub &'static str);

/// The identities an `Authorization` header (`<scheme>` or `<scheme> <data>`, as ZooKeeper's
/// AdminServer reads it) proves: `digest user:password`, `ip`, `x509` (HTTPS with a verified
/// client certificate, and authProvider.x509 configured).
fn authenticate(s: &Shared, req: &Request, header: &str) -> Option<Vec<Id>> {
    let parts: Vec<&str> = header.split(' ').collect();
    let (scheme, data) = match parts.as_slice() {
        [scheme] => (*scheme, None),
        [scheme, data] => (*scheme, Some(*data)),
        _ => return None,
    };
    match (scheme, data) {
        ("digest", Some(up)) if up.contains(':') => {
            let id = acl::digest_id(up);
            let mut ids = Vec::new();
            if s.cfg.super_digest.as_deref() == Some(id.as_str()) {
                ids.push(Id::new("super", ""));
            }
            ids.push(Id::new("digest", &id));
            Some(ids)
        }
        ("ip", _) => req.peer.map(|p| vec![Id::new("ip", &p.ip().to_string())]),
        ("x509", _) if s.cfg.security.x509_auth => {
            let dn = req.client_dn.as_deref()?;
            let mut ids = Vec::new();
            if s.cfg.security.x509_super_user.as_deref() == Some(dn) {
                ids.push(Id::new("super", dn));
            }
            ids.push(Id::new("x509", dn));
            Some(ids)
        }
        _ => None,
    }
}

/// Checks the caller of command `cmd` (a primary name) against the ACL of `/`. ZooKeeper answers
/// 401 without an `Authorization` header; rzk treats a missing header as `ip` (the caller's
/// address), so that with the default open ACL of `/` existing callers keep working, and answers
/// ZooKeeper's 401 "Auth info is missing" when that is not enough (`rzk.adminAuthHeaderRequired=true`:
/// always, as ZooKeeper). A header that proves nothing is 401 "Not authenticated"; identities the
/// ACL does not grant every bit of the permission are 403 "Not authorized".
pub fn authorize(s: &Shared, cmd: &str, req: &Request) -> Result<(), Refused> {
    const MISSING: Refused = Refused(401, "Auth info is missing for the command");
    let Some(&(_, perm)) = AUTH_REQUIRED.iter().find(|(c, _)| *c == cmd) else {
        return Ok(());
    };
    let strict = s
        .cfg
        .rzk_knob("adminAuthHeaderRequired")
        .is_some_and(|v| v.eq_ignore_ascii_case("true"));
    let (ids, implicit) = match req.authorization.as_deref() {
        None if strict => return Err(MISSING),
        None => (
            req.peer
                .map(|p| vec![Id::new("ip", &p.ip().to_string())])
                .unwrap_or_default(),
            true,
        ),
        Some(h) => match authenticate(s, req, h) {
            Some(ids) => (ids, false),
            None => {
                tracing::warn!(command = cmd, peer = ?req.peer, "admin command refused: authentication failed");
                return Err(Refused(401, "Not authenticated"));
            }
        },
    };
    if s.cfg.skip_acl {
        return Ok(());
    }
    let acl = s
        .tree
        .read()
        .node("/")
        .map(|n| n.acl.clone())
        .unwrap_or_default();
    let granted = (0..5)
        .map(|b| 1 << b)
        .filter(|bit| perm & bit != 0)
        .all(|bit| acl::check(&acl, bit, &ids));
    if granted {
        return Ok(());
    }
    tracing::warn!(command = cmd, peer = ?req.peer, "admin command refused: the ACL of / does not grant it");
    Err(if implicit {
        MISSING
    } else {
        Refused(403, "Not authorized")
    })
}

/// The primary name of `name` (a primary name or an alias).
pub fn primary(name: &str) -> Option<&'static str> {
    COMMANDS
        .iter()
        .find(|(p, aliases)| *p == name || aliases.contains(&name))
        .map(|(p, _)| *p)
}

/// How long a leadership transfer waits for another member to lead.
const TRANSFER_WINDOW: std::time::Duration = std::time::Duration::from_secs(10);

const NOT_SERVING: &str = "This ZooKeeper instance is not currently serving requests";

/// The `server_stats` object of `srvr`/`stats` (`leader_uptime_ms` from the [`Observer`]).
pub(crate) fn server_stats(r: &Report, leader_uptime_ms: Option<u64>) -> Value {
    json!({
        "server_state": r.role.as_str(),
        "provider_null": false,
        "avg_latency": round4(r.latency.avg),
        "max_latency": r.latency.max,
        "min_latency": r.latency.min,
        "packets_received": r.packets_received,
        "packets_sent": r.packets_sent,
        "num_alive_client_connections": r.connections,
        "outstanding_requests": r.outstanding_requests,
        "last_processed_zxid": r.zxid,
        "data_dir_size": r.dirs.map(|d| d.data_dir),
        "log_dir_size": r.dirs.map(|d| d.log_dir),
        "fsync_threshold_exceed_count": 0,
        "auth_failed_count": 0,
        "non_mtlslocal_conn_count": 0,
        "non_mtlsremote_conn_count": 0,
        "uptime": r.uptime_ms,
        "client_response_stats": { "last_buffer_size": -1, "max_buffer_size": -1, "min_buffer_size": -1 },
        "rzk_leader_uptime": leader_uptime_ms,
    })
}

/// The fields `srvr` and `stats` share.
fn srvr_fields(r: &Report, leader_uptime_ms: Option<u64>, out: &mut Map<String, Value>) {
    out.insert("version".into(), json!(crate::fourlw::VERSION));
    out.insert("read_only".into(), json!(r.role == Role::ReadOnly));
    out.insert("server_stats".into(), server_stats(r, leader_uptime_ms));
    out.insert(
        "client_response".into(),
        json!({ "last_buffer_size": -1, "max_buffer_size": -1, "min_buffer_size": -1 }),
    );
    out.insert("node_count".into(), json!(r.znodes));
}

fn connections(s: &Shared, detailed: bool) -> Value {
    let conns = s.conns.lock();
    let mut list: Vec<_> = conns.iter().collect();
    list.sort_by_key(|(id, _)| **id);
    let items: Vec<Value> = list
        .into_iter()
        .map(|(_, c)| {
            let mut o = json!({
                "remote_socket_address": c.peer.to_string(),
                "interest_ops": 1,
                "outstanding_requests": 0,
                "packets_received": c.received.load(Relaxed),
                "packets_sent": c.sent.load(Relaxed),
            });
            if detailed {
                let d = c.detail.lock().clone();
                let est = c
                    .established
                    .duration_since(UNIX_EPOCH)
                    .map(|d| d.as_millis() as u64)
                    .unwrap_or(0);
                let avg = d.total_ms.checked_div(d.count).unwrap_or(0);
                let Some(m) = o.as_object_mut() else { return o };
                m.insert("session_id".into(), json!(c.session_id));
                m.insert("last_operation".into(), json!(d.lop));
                m.insert("established".into(), json!(est));
                m.insert("session_timeout".into(), json!(c.timeout_ms));
                m.insert("last_cxid".into(), json!(d.lcxid));
                m.insert("last_zxid".into(), json!(d.lzxid));
                m.insert("last_response_time".into(), json!(d.lresp_ms));
                m.insert("last_latency".into(), json!(d.llat_ms));
                m.insert("min_latency".into(), json!(d.min_ms));
                m.insert("avg_latency".into(), json!(avg));
                m.insert("max_latency".into(), json!(d.max_ms));
            }
            o
        })
        .collect();
    Value::Array(items)
}

fn host_port(h: &str, p: u16) -> String {
    if h.contains(':') {
        format!("[{h}]:{p}")
    } else {
        format!("{h}:{p}")
    }
}

/// The `monitor` answer: every metric flattened to `name` / `name{labels}` / `name_count` /
/// `name_sum` keys, as ZooKeeper's AdminServer does with its metrics provider's values.
fn monitor(s: &Shared, obs: &Observer, out: &mut Map<String, Value>) {
    use prometheus::proto::MetricType;
    let num = |v: f64| {
        if v.is_finite() {
            json!(v)
        } else {
            json!(format!("{v}"))
        }
    };
    let (r, families) = metrics::gather(s, obs);
    for fam in families {
        let name = fam.name().to_string();
        for m in fam.get_metric() {
            let labels: Vec<String> = m
                .get_label()
                .iter()
                .map(|l| format!("{}=\"{}\"", l.name(), l.value()))
                .collect();
            let key = |suffix: &str, extra: Option<String>| {
                let mut ls = labels.clone();
                ls.extend(extra);
                if ls.is_empty() {
                    format!("{name}{suffix}")
                } else {
                    format!("{name}{suffix}{{{}}}", ls.join(","))
                }
            };
            match fam.get_field_type() {
                MetricType::GAUGE => {
                    out.insert(key("", None), num(m.get_gauge().get_value()));
                }
                MetricType::COUNTER => {
                    out.insert(key("", None), num(m.get_counter().get_value()));
                }
                MetricType::SUMMARY => {
                    let sm = m.get_summary();
                    out.insert(key("_count", None), json!(sm.sample_count() as f64));
                    out.insert(key("_sum", None), num(sm.sample_sum()));
                    for q in sm.get_quantile() {
                        out.insert(
                            key("", Some(format!("quantile=\"{}\"", q.quantile()))),
                            num(q.value()),
                        );
                    }
                }
                MetricType::HISTOGRAM => {
                    let h = m.get_histogram();
                    out.insert(key("_count", None), json!(h.get_sample_count() as f64));
                    out.insert(key("_sum", None), num(h.get_sample_sum()));
                }
                _ => {}
            }
        }
    }
    out.insert("server_state".into(), json!(r.role.as_str()));
    out.insert("version".into(), json!(crate::fourlw::VERSION));
}

fn voting_view(s: &Shared) -> Value {
    let mut cfg = Map::new();
    if s.cfg.is_distributed() {
        let me = s.cfg.server_id;
        let own_client = s.cfg.client_address();
        for (id, sp) in &s.cfg.servers {
            if sp.role != PeerRole::Participant {
                continue;
            }
            let client = match (&sp.client_addr, Some(*id) == me, &own_client) {
                (Some((h, p)), _, _) => host_port(h, *p),
                (None, true, Some((h, p))) => host_port(h, *p),
                _ => String::new(),
            };
            cfg.insert(
                id.to_string(),
                json!({
                    "server_addresses": [host_port(&sp.host, sp.quorum_port)],
                    "election_addresses": [host_port(&sp.host, sp.election_port)],
                    "client_address": client,
                    "learner_type": sp.role.as_str(),
                }),
            );
        }
    }
    Value::Object(cfg)
}

fn environment(out: &mut Map<String, Value>) {
    let host =
        std::fs::read_to_string("/proc/sys/kernel/hostname").unwrap_or_else(|_| "localhost".into());
    let osr = std::fs::read_to_string("/proc/sys/kernel/osrelease").unwrap_or_default();
    out.insert("zookeeper.version".into(), json!(crate::fourlw::VERSION));
    out.insert("host.name".into(), json!(host.trim()));
    // rzk is not a JVM: the java.* keys exist so parsers find them, with ZooKeeper's "<NA>".
    for k in [
        "java.version",
        "java.vendor",
        "java.home",
        "java.class.path",
        "java.library.path",
        "java.compiler",
    ] {
        out.insert(k.into(), json!("<NA>"));
    }
    out.insert(
        "java.io.tmpdir".into(),
        json!(std::env::temp_dir().display().to_string()),
    );
    out.insert(
        "os.name".into(),
        json!(if std::env::consts::OS == "linux" {
            "Linux"
        } else {
            std::env::consts::OS
        }),
    );
    out.insert(
        "os.arch".into(),
        json!(if std::env::consts::ARCH == "x86_64" {
            "amd64"
        } else {
            std::env::consts::ARCH
        }),
    );
    out.insert("os.version".into(), json!(osr.trim()));
    // ZooKeeper reports the JVM heap here; rzk has none.
    for k in ["os.memory.free", "os.memory.max", "os.memory.total"] {
        out.insert(k.into(), json!("<NA>"));
    }
    out.insert(
        "user.name".into(),
        json!(std::env::var("USER").unwrap_or_default()),
    );
    out.insert(
        "user.home".into(),
        json!(std::env::var("HOME").unwrap_or_default()),
    );
    out.insert(
        "user.dir".into(),
        json!(std::env::current_dir()
            .map(|d| d.display().to_string())
            .unwrap_or_default()),
    );
}

fn transfer_leadership(
    s: &Shared,
    st: Option<&rzk_raft::RaftStatus>,
    query: Option<&str>,
    out: &mut Map<String, Value>,
) {
    let fail = |out: &mut Map<String, Value>, e: String| {
        out.insert("transferred".into(), json!(false));
        out.insert("error".into(), json!(e));
    };
    let (Some(raft), Some(st)) = (s.raft.get(), st) else {
        return fail(
            out,
            "only the leader of an ensemble can transfer leadership".into(),
        );
    };
    if !s.cfg.is_distributed() || st.role != rzk_raft::Role::Leader {
        return fail(
            out,
            "only the leader of an ensemble can transfer leadership".into(),
        );
    }
    let to = query
        .unwrap_or("")
        .split('&')
        .find_map(|kv| kv.strip_prefix("to="))
        .map(|v| {
            v.parse::<u64>()
                .map_err(|_| format!("bad server id in to={v}"))
        });
    let to = match to {
        Some(Ok(id)) => id,
        Some(Err(e)) => return fail(out, e),
        None => match raft.best_transfer_target(|_| true) {
            Some(id) => id,
            None => return fail(out, "no other voting member".into()),
        },
    };
    out.insert("to".into(), json!(to));
    let r = raft.clone();
    // The admin server runs commands on blocking threads: wait for the transfer here.
    match tokio::runtime::Handle::current().block_on(r.transfer_leadership(to, TRANSFER_WINDOW)) {
        Ok(leader) => {
            out.insert("transferred".into(), json!(true));
            out.insert("leader".into(), json!(leader));
        }
        Err(e) => fail(out, e.to_string()),
    }
}

/// Runs command `name` (with the request's query string, for commands that take arguments); the
/// JSON object ZooKeeper's AdminServer would answer.
pub fn run(s: &Shared, obs: &Observer, name: &str, query: Option<&str>) -> Value {
    let mut out = Map::new();
    let Some(cmd) = primary(name) else {
        out.insert("command".into(), json!(name));
        out.insert("error".into(), json!(format!("Unknown command: {name}")));
        return Value::Object(out);
    };
    out.insert("command".into(), json!(cmd));
    out.insert("error".into(), Value::Null);
    let st = s.raft.get().map(|r| r.status());
    let distributed = s.cfg.is_distributed();
    // Like ZooKeeper, commands that need a serving server fail while no leader is known.
    let serving = st.as_ref().is_some_and(|st| st.leader.is_some());
    let needs_serving = !matches!(
        cmd,
        "ruok"
            | "environment"
            | "configuration"
            | "dirs"
            | "initial_configuration"
            | "zabstate"
            | "elect"
            | "transfer_leadership"
    );
    if needs_serving && !serving {
        out.insert("error".into(), json!(NOT_SERVING));
        return Value::Object(out);
    }
    match cmd {
        "ruok" => {}
        "elect" => {
            // rzk extension: start an election on this follower (leadership transfer before a restart).
            match (s.raft.get(), &st) {
                (Some(r), Some(st)) if distributed && st.role != rzk_raft::Role::Leader => {
                    let r = r.clone();
                    tokio::spawn(async move {
                        if let Err(e) = r.trigger_election().await {
                            tracing::warn!(error = %e, "election trigger failed");
                        }
                    });
                    out.insert("triggered".into(), json!(true));
                }
                _ => {
                    out.insert("triggered".into(), json!(false));
                    out.insert(
                        "error".into(),
                        json!("only a follower of an ensemble can start an election"),
                    );
                }
            }
        }
        "transfer_leadership" => {
            // rzk extension: hand leadership to `?to=<server id>` (default: the most caught-up
            // voter) before this leader restarts. Answers when another member leads, or the error.
            transfer_leadership(s, st.as_ref(), query, &mut out);
        }
        "server_stats" => srvr_fields(&Report::take_with_dirs(s), obs.leader_uptime_ms(), &mut out),
        "stats" => {
            srvr_fields(&Report::take_with_dirs(s), obs.leader_uptime_ms(), &mut out);
            out.insert("connections".into(), connections(s, false));
            out.insert("secure_connections".into(), json!([]));
        }
        "connections" => {
            out.insert("connections".into(), connections(s, true));
            out.insert("secure_connections".into(), json!([]));
        }
        "connection_stat_reset" => {}
        "stat_reset" => s.stats.reset(),
        "monitor" => monitor(s, obs, &mut out),
        "configuration" => {
            let c = &s.cfg;
            out.insert(
                "client_port".into(),
                json!(c.client_address().map(|a| a.1).unwrap_or(2181)),
            );
            out.insert("data_dir".into(), json!(c.data_dir.display().to_string()));
            out.insert(
                "data_log_dir".into(),
                json!(c.data_log_dir.display().to_string()),
            );
            out.insert("tick_time".into(), json!(c.tick_time));
            out.insert("max_client_cnxns".into(), json!(c.max_client_cnxns));
            out.insert("min_session_timeout".into(), json!(c.min_session_timeout));
            out.insert("max_session_timeout".into(), json!(c.max_session_timeout));
            out.insert("server_id".into(), json!(c.server_id.unwrap_or(0)));
            out.insert(
                "client_port_listen_backlog".into(),
                json!(c.client_port_listen_backlog.map_or(-1, |b| b as i64)),
            );
        }
        "initial_configuration" => {
            let text =
                std::fs::read_to_string(&s.cfg.origin).unwrap_or_else(|_| s.cfg.to_zoo_cfg());
            out.insert("initial_configuration".into(), json!(text));
        }
        "watch_summary" => {
            let w = s.watches.lock();
            out.insert("num_connections".into(), json!(w.conn_count()));
            out.insert("num_paths".into(), json!(w.path_count()));
            out.insert("num_total_watches".into(), json!(w.watch_count()));
        }
        "watches" => {
            let w = s.watches.lock();
            let conns = s.conns.lock();
            let mut m = Map::new();
            for (c, paths) in w.by_conn() {
                let sid = conns.get(&c).map_or(0, |ci| ci.session_id);
                m.insert(sid.to_string(), json!(paths));
            }
            out.insert("session_id_to_watched_paths".into(), Value::Object(m));
        }
        "watches_by_path" => {
            let w = s.watches.lock();
            let conns = s.conns.lock();
            let mut m = Map::new();
            for (p, cs) in w.by_path() {
                let ids: Vec<i64> = cs
                    .iter()
                    .map(|c| conns.get(c).map_or(0, |ci| ci.session_id))
                    .collect();
                m.insert(p, json!(ids));
            }
            out.insert("path_to_session_ids".into(), Value::Object(m));
        }
        "dump" => {
            let tree = s.tree.read();
            let touches = s.touches.lock();
            let tick = s.cfg.tick_time.max(1) as i64;
            let now = now_ms();
            let mut expiry: std::collections::BTreeMap<i64, Vec<i64>> = Default::default();
            for (id, info) in tree.sessions() {
                let idle = touches
                    .get(id)
                    .map_or(0, |t| t.elapsed().as_millis() as i64);
                let at = now + (info.timeout_ms as i64 - idle).max(0);
                expiry
                    .entry((at + tick - 1) / tick * tick)
                    .or_default()
                    .push(*id);
            }
            let exp: Map<String, Value> = expiry
                .into_iter()
                .map(|(k, v)| (k.to_string(), json!(v)))
                .collect();
            let eph: Map<String, Value> = tree
                .ephemerals_by_session()
                .iter()
                .map(|(sid, paths)| (sid.to_string(), json!(paths)))
                .collect();
            out.insert("expiry_time_to_session_ids".into(), Value::Object(exp));
            out.insert("session_id_to_ephemeral_paths".into(), Value::Object(eph));
        }
        "environment" => environment(&mut out),
        "dirs" => {
            let dirs = DirSizes::of(&s.cfg);
            out.insert("datadir_size".into(), json!(dirs.data_dir));
            out.insert("logdir_size".into(), json!(dirs.log_dir));
        }
        "is_read_only" => {
            out.insert("read_only".into(), json!(s.read_only.active()));
        }
        "leader" => {
            let st = st.as_ref().expect("serving implies a status");
            if !distributed {
                out.insert("error".into(), json!("server is not initialized"));
            } else {
                let leader = st.leader.unwrap_or(0);
                let ip = s
                    .cfg
                    .servers
                    .get(&leader)
                    .map(|sp| sp.host.clone())
                    .unwrap_or_default();
                out.insert("is_leader".into(), json!(st.role == rzk_raft::Role::Leader));
                out.insert("leader_id".into(), json!(leader));
                out.insert("leader_ip".into(), json!(ip));
            }
        }
        "voting_view" => {
            out.insert("current_config".into(), voting_view(s));
        }
        "observers" => {
            let r = Report::take(s);
            let rep = r.replication.unwrap_or_default();
            let obs_list: Vec<Value> = rep
                .peers
                .iter()
                .filter(|p| !p.voter)
                .map(|p| json!({ "sid": p.id, "matched_index": p.matched, "lag_entries": p.lag }))
                .collect();
            out.insert("synced_observers".into(), json!(rep.synced_observers()));
            out.insert("observers".into(), Value::Array(obs_list));
        }
        "zabstate" => {
            if !distributed {
                out.insert("voting".into(), json!(false));
                out.insert("zabstate".into(), json!(""));
            } else {
                let me = s.cfg.server_id.unwrap_or(0);
                let sp = s.cfg.servers.get(&me);
                let voting = sp.is_some_and(|sp| sp.role == PeerRole::Participant);
                let zxid = s.tree.read().last_zxid();
                let state = match &st {
                    Some(st)
                        if st.leader.is_some() && !matches!(st.role, rzk_raft::Role::Candidate) =>
                    {
                        "broadcast"
                    }
                    _ => "election",
                };
                out.insert("myid".into(), json!(me));
                out.insert(
                    "is_leader".into(),
                    json!(st
                        .as_ref()
                        .is_some_and(|st| st.role == rzk_raft::Role::Leader)),
                );
                out.insert(
                    "quorum_address".into(),
                    json!(sp.map(|sp| host_port(&sp.host, sp.quorum_port))),
                );
                out.insert(
                    "election_address".into(),
                    json!(sp.map(|sp| host_port(&sp.host, sp.election_port))),
                );
                out.insert(
                    "client_address".into(),
                    json!(s
                        .cfg
                        .client_address()
                        .map(|(h, p)| host_port(&h, p))
                        .unwrap_or_default()),
                );
                out.insert("voting".into(), json!(voting));
                out.insert("last_zxid".into(), json!(format!("0x{zxid:x}")));
                out.insert(
                    "zab_epoch".into(),
                    json!(st.as_ref().map_or(0, |st| st.term)),
                );
                out.insert("zab_counter".into(), json!(zxid & 0xffff_ffff));
                out.insert("zabstate".into(), json!(state));
            }
        }
        _ => {}
    }
    Value::Object(out)
}

/// The `/commands` page: a link per command, as ZooKeeper renders it.
fn index(base: &str) -> String {
    let mut names: Vec<&str> = COMMANDS.iter().map(|(p, _)| *p).collect();
    names.sort_unstable();
    names
        .iter()
        .map(|n| format!("<a href=\"{base}/{n}\">{n}</a>\n<br/>\n"))
        .collect()
}

pub fn handle(s: &Shared, obs: &Observer, req: &Request) -> Response {
    let base = s.cfg.admin.command_url.trim_end_matches('/');
    let base = if base.is_empty() { "" } else { base };
    let Some(rest) = req.path.strip_prefix(base) else {
        return Response::not_found();
    };
    if rest.is_empty() || rest == "/" {
        return Response::new(200, "text/html; charset=utf-8", index(base));
    }
    let Some(name) = rest.strip_prefix('/') else {
        return Response::not_found();
    };
    let name = name.trim_end_matches('/');
    if name.is_empty() || name.contains('/') {
        return Response::not_found();
    }
    if let Some(cmd) = primary(name) {
        if let Err(Refused(status, why)) = authorize(s, cmd, req) {
            let v = json!({ "command": cmd, "error": why });
            return Response::new(
                status,
                "application/json",
                serde_json::to_string_pretty(&v).unwrap_or_else(|_| "{}".into()) + "\n",
            );
        }
    }
    let v = run(s, obs, name, req.query.as_deref());
    Response::json(serde_json::to_string_pretty(&v).unwrap_or_else(|_| "{}".into()) + "\n")
}

/// Binds the admin server (unless `admin.enableServer=false`) and serves it in the background.
pub async fn spawn(s: Arc<Shared>, obs: Arc<Observer>, tls: Option<Arc<crate::tls::Tls>>) {
    if !s.cfg.admin.enable_server {
        tracing::info!("admin server disabled (admin.enableServer=false)");
        return;
    }
    let (host, port) = (s.cfg.admin.server_address.clone(), s.cfg.admin.server_port);
    let listener = match crate::http::bind(&host, port).await {
        Ok(l) => l,
        Err(e) => {
            tracing::warn!(%host, port, error = %e, "cannot start the admin server; going on without it");
            return;
        }
    };
    // The AdminServer asks for a client certificate (for `Authorization: x509`) and requires one
    // only with admin.needClientAuth=true, as ZooKeeper's Jetty does.
    let tls = match tls.filter(|_| s.cfg.security.admin_force_https) {
        Some(_) => {
            let mut sec = s.cfg.security.clone();
            sec.client_auth = if sec.admin_need_client_auth {
                rzk_config::ClientAuth::Need
            } else if sec.trust_store.location.is_some() {
                rzk_config::ClientAuth::Want
            } else {
                rzk_config::ClientAuth::None
            };
            match crate::tls::Tls::load(&sec) {
                Ok(t) => {
                    t.spawn_watcher(crate::tls::reload_interval(&s.cfg));
                    Some(t)
                }
                Err(e) => {
                    tracing::error!(error = %e, "cannot start the HTTPS admin server; going on without it");
                    return;
                }
            }
        }
        None => None,
    };
    tracing::info!(%host, port, url = %s.cfg.admin.command_url, https = tls.is_some(), "admin server listening");
    let handler: crate::http::Handler = Arc::new(move |req: Request| {
        let (s, obs) = (s.clone(), obs.clone());
        // Commands read locks and the file system: keep them off the async workers.
        Box::pin(async move {
            tokio::task::spawn_blocking(move || handle(&s, &obs, &req))
                .await
                .unwrap_or_else(|_| Response::text(500, "Internal Server Error\n"))
        })
    });
    tokio::spawn(crate::http::serve_with(listener, handler, tls));
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn aliases_resolve_to_primary_names() {
        assert_eq!(primary("srvr"), Some("server_stats"));
        assert_eq!(primary("stat"), Some("stats"));
        assert_eq!(primary("mntr"), Some("monitor"));
        assert_eq!(primary("conf"), Some("configuration"));
        assert_eq!(primary("cons"), Some("connections"));
        assert_eq!(primary("wchs"), Some("watch_summary"));
        assert_eq!(primary("envi"), Some("environment"));
        assert_eq!(primary("isro"), Some("is_read_only"));
        assert_eq!(primary("ruok"), Some("ruok"));
        assert_eq!(primary("RUOK"), None);
        assert_eq!(primary("nope"), None);
    }
}
