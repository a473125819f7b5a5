//! Rendering: `to_zoo_cfg` and the `conf` four-letter word.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use crate::properties::escape_value;
use crate::types::ServerConfig;

/// Runtime facts that ZooKeeper's `conf` command prints next to the
/// configuration. Everything defaults to what a fresh server would show.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ConfRuntime {
    /// Directory holding snapshots; default `<absolute dataDir>/version-2`
    /// (what ZooKeeper prints).
    pub snap_dir: Option<PathBuf>,
    /// Directory holding transaction logs; default
    /// `<absolute dataLogDir>/version-2`.
    pub log_dir: Option<PathBuf>,
    /// Total bytes of snapshot files (`dataDirSize`).
    pub data_dir_size: u64,
    /// Total bytes of log files (`dataLogSize`).
    pub data_log_size: u64,
    /// The port actually bound (e.g. when the OS picked it); default the
    /// configured client port.
    pub client_port: Option<u16>,
}

fn version_dir(p: &Path) -> PathBuf {
    std::path::absolute(p)
        .unwrap_or_else(|_| p.to_path_buf())
        .join("version-2")
}

impl ServerConfig {
    /// The `key=value` pairs of ZooKeeper 3.8's `conf` command, in its
    /// order (see tests/fixtures/zk-3.8.0-conf-*.txt, captured from a real
    /// ZooKeeper 3.8.0):
    ///
    /// `clientPort, secureClientPort, dataDir, dataDirSize, dataLogDir,
    /// dataLogSize, tickTime, maxClientCnxns, minSessionTimeout,
    /// maxSessionTimeout, clientPortListenBacklog, serverId`, and for an
    /// ensemble also `initLimit, syncLimit, electionAlg, electionPort,
    /// quorumPort, peerType` (the membership block is separate, see
    /// [`Self::render_conf`]).
    ///
    /// `secureClientPort` is -1 without a TLS port, `serverId` is
    /// 0 for a standalone server, `peerType` is 0 (participant) or
    /// 1 (observer).
    pub fn conf_entries(&self, rt: &ConfRuntime) -> Vec<(String, String)> {
        let mut v: Vec<(String, String)> = Vec::new();
        let mut push = |k: &str, val: String| v.push((k.to_string(), val));
        let client_port = rt
            .client_port
            .or_else(|| self.client_address().map(|(_, p)| p))
            .map(|p| p.to_string())
            .unwrap_or_else(|| "-1".to_string());
        push("clientPort", client_port);
        push(
            "secureClientPort",
            self.security
                .secure_client_port
                .map_or_else(|| "-1".to_string(), |p| p.to_string()),
        );
        let snap = rt
            .snap_dir
            .clone()
            .unwrap_or_else(|| version_dir(&self.data_dir));
        let log = rt
            .log_dir
            .clone()
            .unwrap_or_else(|| version_dir(&self.data_log_dir));
        push("dataDir", snap.display().to_string());
        push("dataDirSize", rt.data_dir_size.to_string());
        push("dataLogDir", log.display().to_string());
        push("dataLogSize", rt.data_log_size.to_string());
        push("tickTime", self.tick_time.to_string());
        push("maxClientCnxns", self.max_client_cnxns.to_string());
        push("minSessionTimeout", self.min_session_timeout.to_string());
        push("maxSessionTimeout", self.max_session_timeout.to_string());
        push(
            "clientPortListenBacklog",
            self.client_port_listen_backlog
                .map(|b| b.to_string())
                .unwrap_or_else(|| "-1".to_string()),
        );
        let distributed = self.is_distributed();
        let server_id = if distributed {
            self.server_id.unwrap_or(0)
        } else {
            0
        };
        push("serverId", server_id.to_string());
        if distributed {
            let me = self.my_server();
            push("initLimit", self.init_limit.to_string());
            push("syncLimit", self.sync_limit.to_string());
            push("electionAlg", self.election_alg.to_string());
            push(
                "electionPort",
                me.map(|s| s.election_port.to_string())
                    .unwrap_or_else(|| "-1".to_string()),
            );
            push(
                "quorumPort",
                me.map(|s| s.quorum_port.to_string())
                    .unwrap_or_else(|| "-1".to_string()),
            );
            push("peerType", self.peer_type.ordinal().to_string());
        }
        v
    }

    /// ZooKeeper's membership text (`QuorumVerifier.toString()`): one
    /// `server.N=host:quorumPort:electionPort:role[;clientHost:clientPort]`
    /// line per member, then `version=<hex>` with no trailing newline.
    pub fn membership(&self) -> String {
        let mut s = String::new();
        for (id, spec) in &self.servers {
            let _ = writeln!(s, "server.{id}={}", spec.to_value());
        }
        let _ = write!(s, "version={:x}", self.config_version);
        s
    }

    /// The exact text of the `conf` four-letter word: `key=value\n` lines
    /// and, for an ensemble, `membership: \n` followed by
    /// [`Self::membership`] (ZooKeeper ends that with no newline).
    pub fn render_conf(&self, rt: &ConfRuntime) -> String {
        let mut s = String::new();
        for (k, v) in self.conf_entries(rt) {
            let _ = writeln!(s, "{k}={v}");
        }
        if self.is_distributed() {
            s.push_str("membership: \n");
            s.push_str(&self.membership());
        }
        s
    }

    /// Render the effective configuration as a zoo.cfg that parses back to
    /// the same configuration ([`crate::parse_str`]). Every key is written
    /// with its effective value; servers from a dynamic config file are
    /// written inline (and `dynamicConfigFile` is left out); `myid` is not
    /// part of zoo.cfg.
    pub fn to_zoo_cfg(&self) -> String {
        let mut out = String::new();
        let mut kv = |k: &str, v: &str| {
            let _ = writeln!(out, "{k}={}", escape_value(v));
        };
        kv("tickTime", &self.tick_time.to_string());
        if self.init_limit > 0 {
            kv("initLimit", &self.init_limit.to_string());
        }
        if self.sync_limit > 0 {
            kv("syncLimit", &self.sync_limit.to_string());
        }
        kv("dataDir", &self.data_dir.to_string_lossy());
        kv("dataLogDir", &self.data_log_dir.to_string_lossy());
        if let Some(p) = self.client_port {
            kv("clientPort", &p.to_string());
        }
        if let Some(a) = &self.client_port_address {
            kv("clientPortAddress", a);
        }
        if let Some(b) = self.client_port_listen_backlog {
            kv("clientPortListenBacklog", &b.to_string());
        }
        kv("maxClientCnxns", &self.max_client_cnxns.to_string());
        if self.max_cnxns > 0 {
            kv("maxCnxns", &self.max_cnxns.to_string());
        }
        kv("minSessionTimeout", &self.min_session_timeout.to_string());
        kv("maxSessionTimeout", &self.max_session_timeout.to_string());
        kv(
            "autopurge.snapRetainCount",
            &self.snap_retain_count.to_string(),
        );
        kv(
            "autopurge.purgeInterval",
            &self.purge_interval_hours.to_string(),
        );
        kv("4lw.commands.whitelist", &self.four_letter_words.to_value());
        kv("jute.maxbuffer", &self.jute_max_buffer.to_string());
        kv(
            "globalOutstandingLimit",
            &self.global_outstanding_limit.to_string(),
        );
        kv("snapCount", &self.snap_count.to_string());
        kv("preAllocSize", &self.pre_alloc_size_kb.to_string());
        kv("syncEnabled", bool_str(self.sync_enabled));
        kv("forceSync", yes_no(self.force_sync));
        kv("standaloneEnabled", bool_str(self.standalone_enabled));
        kv("reconfigEnabled", bool_str(self.reconfig_enabled));
        kv("readonlymode.enabled", bool_str(self.read_only_mode));
        kv("enforceQuota", bool_str(self.enforce_quota));
        kv("audit.enable", bool_str(self.audit_enable));
        kv(
            "requestThrottleLimit",
            &self.request_throttle_limit.to_string(),
        );
        kv(
            "requestThrottleStallTime",
            &self.request_throttle_stall_time_ms.to_string(),
        );
        kv(
            "requestThrottleDropStale",
            bool_str(self.request_throttle_drop_stale),
        );
        kv("skipACL", yes_no(self.skip_acl));
        if let Some(d) = &self.super_digest {
            kv("DigestAuthenticationProvider.superDigest", d);
        }
        kv("admin.enableServer", bool_str(self.admin.enable_server));
        kv("admin.serverAddress", &self.admin.server_address);
        kv("admin.serverPort", &self.admin.server_port.to_string());
        kv("admin.commandURL", &self.admin.command_url);
        if let Some(c) = &self.metrics.class_name {
            kv("metricsProvider.className", c);
        }
        kv("metricsProvider.httpHost", &self.metrics.http_host);
        kv(
            "metricsProvider.httpPort",
            &self.metrics.http_port.to_string(),
        );
        kv(
            "metricsProvider.exportJvmInfo",
            bool_str(self.metrics.export_jvm_info),
        );
        for (k, v) in &self.metrics.extra {
            kv(&format!("metricsProvider.{}", escape_key(k)), v);
        }
        kv("electionAlg", &self.election_alg.to_string());
        kv(
            "quorumListenOnAllIPs",
            bool_str(self.quorum_listen_on_all_ips),
        );
        kv("peerType", self.peer_type.as_str());
        kv(
            "localSessionsEnabled",
            bool_str(self.local_sessions_enabled),
        );
        kv(
            "localSessionsUpgradingEnabled",
            bool_str(self.local_sessions_upgrading_enabled),
        );
        for (id, spec) in &self.servers {
            kv(&format!("server.{id}"), &spec.to_value());
        }
        for (id, members) in &self.groups {
            let m: Vec<String> = members.iter().map(u64::to_string).collect();
            kv(&format!("group.{id}"), &m.join(":"));
        }
        for (id, w) in &self.weights {
            kv(&format!("weight.{id}"), &w.to_string());
        }
        for (k, v) in &self.rzk {
            kv(&format!("rzk.{}", escape_key(k)), v);
        }
        out
    }
}

fn bool_str(b: bool) -> &'static str {
    if b {
        "true"
    } else {
        "false"
    }
}

fn yes_no(b: bool) -> &'static str {
    if b {
        "yes"
    } else {
        "no"
    }
}

/// Escape a key for the properties format (separators and whitespace).
fn escape_key(k: &str) -> String {
    let mut out = String::new();
    for c in k.chars() {
        match c {
            '=' | ':' | ' ' | '#' | '!' | '\\' => {
                out.push('\\');
                out.push(c);
            }
            '\t' => out.push_str("\\t"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\x0c' => out.push_str("\\f"),
            c => out.push(c),
        }
    }
    out
}
