//! The typed configuration and the zoo.cfg key handling.

use std::collections::{BTreeMap, HashMap};
use std::io::Read;
use std::path::{Path, PathBuf};

use crate::error::{quote, ConfigError, ConfigWarning, WarningKind};
use crate::properties::{self, Entry};
use crate::server_line::{
    parse_group_value, parse_host, parse_id, parse_port, parse_server_value, PeerRole, ServerSpec,
};

/// ZooKeeper's `ZooKeeperServer.DEFAULT_TICK_TIME`: the tickTime a zoo.cfg
/// gets when it does not set one (checked against ZooKeeper 3.8.0).
pub const ZK_DEFAULT_TICK_TIME: u32 = 3000;
/// tickTime of [`ServerConfig::default_standalone`] (the value of ZooKeeper's
/// sample zoo.cfg).
pub const STANDALONE_TICK_TIME: u32 = 2000;
/// Default client port.
pub const DEFAULT_CLIENT_PORT: u16 = 2181;
/// ZooKeeper's default `jute.maxbuffer`: 0xfffff bytes.
pub const DEFAULT_JUTE_MAX_BUFFER: u32 = 0xfffff;
/// ZooKeeper's minimum `autopurge.snapRetainCount`.
pub const MIN_SNAP_RETAIN_COUNT: u32 = 3;
/// The only `electionAlg` ZooKeeper 3.8 accepts (fast leader election).
pub const ELECTION_ALG_FAST_LEADER: u32 = 3;

/// The four-letter words ZooKeeper 3.8 knows.
pub const KNOWN_FOUR_LETTER_WORDS: &[&str] = &[
    "conf", "cons", "crst", "dirs", "dump", "envi", "gtmk", "ruok", "stmk", "srst", "srvr", "stat",
    "wchc", "wchp", "wchs", "mntr", "isro", "hash",
];

/// Where a key was set.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Origin {
    pub file: String,
    pub line: usize,
}

/// `4lw.commands.whitelist`.
///
/// rzk's default is `Only(["srvr"])`, like ZooKeeper 3.5+. As in ZooKeeper,
/// `srvr` is always allowed whatever the list says (zkServer.sh status
/// depends on it), and `isro` is allowed when read-only mode is enabled: see
/// [`ServerConfig::four_letter_word_enabled`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FourLetterWords {
    /// `*`: every command.
    All,
    /// An explicit list, in file order, without duplicates.
    Only(Vec<String>),
}

impl Default for FourLetterWords {
    fn default() -> Self {
        FourLetterWords::Only(vec!["srvr".to_string()])
    }
}

impl FourLetterWords {
    /// Whether the list itself names `cmd` (see
    /// [`ServerConfig::four_letter_word_enabled`] for the effective rule).
    pub fn contains(&self, cmd: &str) -> bool {
        match self {
            FourLetterWords::All => true,
            FourLetterWords::Only(v) => v.iter().any(|c| c == cmd),
        }
    }

    /// The value as written in zoo.cfg (`*` or a comma list).
    pub fn to_value(&self) -> String {
        match self {
            FourLetterWords::All => "*".to_string(),
            FourLetterWords::Only(v) => v.join(","),
        }
    }
}

/// The embedded admin (HTTP) server: `admin.*` keys.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AdminServerConfig {
    /// `admin.enableServer`, default true (as in ZooKeeper).
    pub enable_server: bool,
    /// `admin.serverAddress`, default `0.0.0.0`.
    pub server_address: String,
    /// `admin.serverPort`, default 8080.
    pub server_port: u16,
    /// `admin.commandURL`, default `/commands`.
    pub command_url: String,
}

impl Default for AdminServerConfig {
    fn default() -> Self {
        AdminServerConfig {
            enable_server: true,
            server_address: "0.0.0.0".to_string(),
            server_port: 8080,
            command_url: "/commands".to_string(),
        }
    }
}

/// `metricsProvider.*` keys.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MetricsConfig {
    /// `metricsProvider.className`; `None` means ZooKeeper's default
    /// (`DefaultMetricsProvider`, i.e. no exporter).
    pub class_name: Option<String>,
    /// `metricsProvider.httpHost`, default `0.0.0.0`.
    pub http_host: String,
    /// `metricsProvider.httpPort`, default 7000.
    pub http_port: u16,
    /// `metricsProvider.exportJvmInfo`, default true.
    pub export_jvm_info: bool,
    /// Every other `metricsProvider.X` key, by X.
    pub extra: BTreeMap<String, String>,
}

impl Default for MetricsConfig {
    fn default() -> Self {
        MetricsConfig {
            class_name: None,
            http_host: "0.0.0.0".to_string(),
            http_port: 7000,
            export_jvm_info: true,
            extra: BTreeMap::new(),
        }
    }
}

/// The class name that means "export Prometheus metrics".
pub const PROMETHEUS_PROVIDER: &str =
    "org.apache.zookeeper.metrics.prometheus.PrometheusMetricsProvider";
/// ZooKeeper's default (no-op) metrics provider.
pub const DEFAULT_PROVIDER: &str = "org.apache.zookeeper.metrics.impl.DefaultMetricsProvider";

impl MetricsConfig {
    /// True when a Prometheus exporter was asked for.
    pub fn prometheus_enabled(&self) -> bool {
        self.class_name.as_deref() == Some(PROMETHEUS_PROVIDER)
    }
}

/// A parsed zoo.cfg.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ServerConfig {
    /// The file name (or origin string) the configuration came from.
    pub origin: String,

    /// `tickTime`, milliseconds. Default 3000 when a zoo.cfg omits it (as in
    /// ZooKeeper 3.8); 2000 in [`ServerConfig::default_standalone`].
    pub tick_time: u32,
    /// `initLimit`, ticks; 0 = not set (required for an ensemble).
    pub init_limit: u32,
    /// `syncLimit`, ticks; 0 = not set (required for an ensemble).
    pub sync_limit: u32,
    /// `dataDir` (required, non-empty). Not created by this crate.
    pub data_dir: PathBuf,
    /// `dataLogDir`, defaults to `data_dir`.
    pub data_log_dir: PathBuf,
    /// `clientPort`. `None` only when the client port comes from this
    /// server's `server.N` line.
    pub client_port: Option<u16>,
    /// `clientPortAddress` (without `[]`); `None` = all interfaces.
    pub client_port_address: Option<String>,
    /// `clientPortListenBacklog`; `None` = system default (ZooKeeper prints -1).
    pub client_port_listen_backlog: Option<u32>,
    /// `maxClientCnxns` per client IP, default 60; 0 = unlimited.
    pub max_client_cnxns: u32,
    /// Effective `minSessionTimeout`, ms (default 2 * tickTime).
    pub min_session_timeout: u32,
    /// Effective `maxSessionTimeout`, ms (default 20 * tickTime).
    pub max_session_timeout: u32,
    /// `autopurge.snapRetainCount`, default 3, values below 3 become 3.
    pub snap_retain_count: u32,
    /// `autopurge.purgeInterval` in hours; 0 = auto purge off.
    pub purge_interval_hours: u32,
    /// `4lw.commands.whitelist` (also `zookeeper.4lw.commands.whitelist`).
    pub four_letter_words: FourLetterWords,
    /// `jute.maxbuffer` (also `zookeeper.jute.maxbuffer`), bytes, default 0xfffff.
    pub jute_max_buffer: u32,
    /// `globalOutstandingLimit`, default 1000.
    pub global_outstanding_limit: u32,
    /// `snapCount`, default 100000 (values below 2 become 2, as in ZooKeeper).
    pub snap_count: u32,
    /// `preAllocSize` in KiB, default 65536 (64 MiB).
    pub pre_alloc_size_kb: u64,
    /// `syncEnabled` (observers log transactions to disk), default true.
    pub sync_enabled: bool,
    /// `forceSync` (yes/no), default yes.
    pub force_sync: bool,
    /// `standaloneEnabled`, default true.
    pub standalone_enabled: bool,
    /// `reconfigEnabled`, default false.
    pub reconfig_enabled: bool,
    /// `readonlymode.enabled` (also `zookeeper.readonlymode.enabled`), default false.
    pub read_only_mode: bool,
    /// `skipACL` (yes/no), default no.
    pub skip_acl: bool,
    /// `DigestAuthenticationProvider.superDigest` (also with the
    /// `zookeeper.` prefix): `user:base64(sha1(user:password))`.
    pub super_digest: Option<String>,
    /// `admin.*`.
    pub admin: AdminServerConfig,
    /// `metricsProvider.*`.
    pub metrics: MetricsConfig,
    /// `dynamicConfigFile`, as written (absolute or relative to the working
    /// directory, like ZooKeeper). Its `server.N` lines are merged into
    /// `servers`.
    pub dynamic_config_file: Option<PathBuf>,
    /// The quorum configuration version: the hex suffix of the dynamic config
    /// file name (`zoo.cfg.dynamic.100000000`), else 0.
    pub config_version: u64,
    /// `electionAlg`; only 3 is accepted.
    pub election_alg: u32,
    /// `quorumListenOnAllIPs`, default false.
    pub quorum_listen_on_all_ips: bool,
    /// `peerType`, default participant. [`ServerConfig::apply_myid`] replaces
    /// it with the role of this server's `server.N` line, like ZooKeeper.
    pub peer_type: PeerRole,
    /// `localSessionsEnabled`, default false.
    pub local_sessions_enabled: bool,
    /// `localSessionsUpgradingEnabled`, default false.
    pub local_sessions_upgrading_enabled: bool,
    /// `server.N` lines by N (from zoo.cfg or from the dynamic config file).
    pub servers: BTreeMap<u64, ServerSpec>,
    /// `group.N` (parsed, hierarchical quorums are not supported).
    pub groups: BTreeMap<u64, Vec<u64>>,
    /// `weight.N` (parsed, hierarchical quorums are not supported).
    pub weights: BTreeMap<u64, u64>,
    /// This server's id (from `myid`, see [`crate::read_myid`] and
    /// [`ServerConfig::apply_myid`]). `None` until applied.
    pub server_id: Option<u64>,
    /// Every `rzk.X` key, by X (without the `rzk.` prefix).
    pub rzk: BTreeMap<String, String>,
    /// Where each key was set, by canonical key name (`tickTime`,
    /// `server.1`, ...). Empty for defaults.
    pub origins: BTreeMap<String, Origin>,
}

impl ServerConfig {
    /// ZooKeeper's defaults for everything; `data_dir` empty, no client port.
    fn zk_defaults(origin: &str) -> ServerConfig {
        ServerConfig {
            origin: origin.to_string(),
            tick_time: ZK_DEFAULT_TICK_TIME,
            init_limit: 0,
            sync_limit: 0,
            data_dir: PathBuf::new(),
            data_log_dir: PathBuf::new(),
            client_port: None,
            client_port_address: None,
            client_port_listen_backlog: None,
            max_client_cnxns: 60,
            min_session_timeout: ZK_DEFAULT_TICK_TIME * 2,
            max_session_timeout: ZK_DEFAULT_TICK_TIME * 20,
            snap_retain_count: MIN_SNAP_RETAIN_COUNT,
            purge_interval_hours: 0,
            four_letter_words: FourLetterWords::default(),
            jute_max_buffer: DEFAULT_JUTE_MAX_BUFFER,
            global_outstanding_limit: 1000,
            snap_count: 100_000,
            pre_alloc_size_kb: 65536,
            sync_enabled: true,
            force_sync: true,
            standalone_enabled: true,
            reconfig_enabled: false,
            read_only_mode: false,
            skip_acl: false,
            super_digest: None,
            admin: AdminServerConfig::default(),
            metrics: MetricsConfig::default(),
            dynamic_config_file: None,
            config_version: 0,
            election_alg: ELECTION_ALG_FAST_LEADER,
            quorum_listen_on_all_ips: false,
            peer_type: PeerRole::Participant,
            local_sessions_enabled: false,
            local_sessions_upgrading_enabled: false,
            servers: BTreeMap::new(),
            groups: BTreeMap::new(),
            weights: BTreeMap::new(),
            server_id: None,
            rzk: BTreeMap::new(),
            origins: BTreeMap::new(),
        }
    }

    /// The configuration used when there is no config file at all:
    /// client port 2181 on 127.0.0.1, tickTime 2000 (session timeouts
    /// 4000..=40000), dataDir = dataLogDir = `<cwd>/rzk-data` (the server
    /// creates it; this crate does not), every other value ZooKeeper's
    /// default. Origin is `"<default>"`.
    pub fn default_standalone(cwd: &Path) -> ServerConfig {
        let mut c = ServerConfig::zk_defaults("<default>");
        c.tick_time = STANDALONE_TICK_TIME;
        c.min_session_timeout = STANDALONE_TICK_TIME * 2;
        c.max_session_timeout = STANDALONE_TICK_TIME * 20;
        c.data_dir = cwd.join("rzk-data");
        c.data_log_dir = c.data_dir.clone();
        c.client_port = Some(DEFAULT_CLIENT_PORT);
        c.client_port_address = Some("127.0.0.1".to_string());
        c
    }

    /// Number of voting members (participants) in `servers`.
    pub fn participants(&self) -> usize {
        self.servers
            .values()
            .filter(|s| s.role == PeerRole::Participant)
            .count()
    }

    /// ZooKeeper's `isDistributed()`: there are `server.N` lines and either
    /// more than one participant or `standaloneEnabled=false`. A single
    /// `server.N` line with standaloneEnabled=true runs standalone.
    pub fn is_distributed(&self) -> bool {
        !self.servers.is_empty() && (!self.standalone_enabled || self.participants() > 1)
    }

    /// This server's `server.N` line, once `server_id` is known.
    pub fn my_server(&self) -> Option<&ServerSpec> {
        self.server_id.and_then(|id| self.servers.get(&id))
    }

    /// The address clients connect to, `(host, port)`: the client address of
    /// this server's `server.N` line if it has one (ZooKeeper lets it
    /// override the static one), else `clientPortAddress` (default
    /// `0.0.0.0`) and `clientPort`.
    pub fn client_address(&self) -> Option<(String, u16)> {
        if let Some(ca) = self.my_server().and_then(|s| s.client_addr.clone()) {
            return Some(ca);
        }
        self.client_port.map(|p| {
            (
                self.client_port_address
                    .clone()
                    .unwrap_or_else(|| "0.0.0.0".to_string()),
                p,
            )
        })
    }

    /// Whether the four-letter word `cmd` may run: listed (or `*`), or
    /// `srvr` (always, as in ZooKeeper), or `isro` when read-only mode is
    /// enabled (as in ZooKeeper).
    pub fn four_letter_word_enabled(&self, cmd: &str) -> bool {
        cmd == "srvr"
            || (cmd == "isro" && self.read_only_mode)
            || self.four_letter_words.contains(cmd)
    }

    /// Look up an `rzk.X` knob; `name` may be given with or without the
    /// `rzk.` prefix.
    pub fn rzk_knob(&self, name: &str) -> Option<&str> {
        let n = name.strip_prefix("rzk.").unwrap_or(name);
        self.rzk.get(n).map(String::as_str)
    }

    fn origin_of(&self, key: &str) -> Origin {
        self.origins.get(key).cloned().unwrap_or(Origin {
            file: self.origin.clone(),
            line: 0,
        })
    }

    /// Apply this server's id (from [`crate::read_myid`]) the way
    /// ZooKeeper's `QuorumPeerConfig` does after reading `myid`:
    ///
    /// * in an ensemble ([`Self::is_distributed`]) a missing myid or an id
    ///   without a `server.N` line is an error;
    /// * if this server's line has a client address and `clientPort` /
    ///   `clientPortAddress` are set too, they must agree: when
    ///   `clientPortAddress` is a specific address the whole address must
    ///   match, when it is unset / a wildcard only the port must match;
    ///   otherwise this is an error, as in ZooKeeper;
    /// * `peer_type` becomes the role of this server's line (a warning when
    ///   `peerType` said otherwise).
    ///
    /// Returns warnings. `myid_file` is only used in messages.
    pub fn apply_myid(
        &mut self,
        myid: Option<u64>,
        myid_file: &Path,
    ) -> Result<Vec<ConfigWarning>, ConfigError> {
        let mut warnings = Vec::new();
        let myid_name = myid_file.display().to_string();
        self.server_id = myid;
        if self.is_distributed() {
            let Some(id) = myid else {
                return Err(ConfigError::missing(
                    &myid_name,
                    "myid",
                    "myid file is missing; it is required when server.N lines define an ensemble",
                ));
            };
            if !self.servers.contains_key(&id) {
                let ids: Vec<String> = self.servers.keys().map(u64::to_string).collect();
                return Err(ConfigError::invalid(
                    &myid_name,
                    1,
                    "myid",
                    format!(
                        "server id {id} has no server.{id} line in {} (ids: {})",
                        self.origin,
                        ids.join(", ")
                    ),
                ));
            }
        }
        let Some(id) = myid else {
            return Ok(warnings);
        };
        if let Some(spec) = self.servers.get(&id).cloned() {
            if let (Some(port), Some((line_host, line_port))) =
                (self.client_port, &spec.client_addr)
            {
                let static_host = self.client_port_address.clone();
                let wildcard = match &static_host {
                    None => true,
                    Some(h) => is_wildcard(h),
                };
                let agree = if wildcard {
                    port == *line_port
                } else {
                    static_host.as_deref() == Some(line_host.as_str()) && port == *line_port
                };
                if !agree {
                    let o = self.origin_of(&format!("server.{id}"));
                    return Err(ConfigError::invalid(
                        &o.file,
                        o.line,
                        format!("server.{id}"),
                        format!(
                            "client address {}:{} of this server (myid {id}) differs from clientPort/clientPortAddress {}:{}; ZooKeeper requires them to agree",
                            crate::server_line::bracket_host(line_host),
                            line_port,
                            crate::server_line::bracket_host(
                                static_host.as_deref().unwrap_or("0.0.0.0")
                            ),
                            port
                        ),
                    ));
                }
            }
        }
        let role_by_list = match self.servers.get(&id) {
            Some(s) => s.role,
            None => PeerRole::Participant,
        };
        if role_by_list != self.peer_type {
            let o = self.origin_of("peerType");
            warnings.push(ConfigWarning {
                file: o.file,
                line: o.line,
                key: "peerType".to_string(),
                kind: WarningKind::Adjusted,
                message: format!(
                    "peerType {} does not match the servers list ({}) for myid {id}; using the servers list, like ZooKeeper",
                    self.peer_type.as_str(),
                    role_by_list.as_str()
                ),
            });
            self.peer_type = role_by_list;
        }
        Ok(warnings)
    }
}

fn is_wildcard(h: &str) -> bool {
    matches!(h, "0.0.0.0" | "::" | "0:0:0:0:0:0:0:0")
}

// ---------------------------------------------------------------------------
// Key tables

/// Keys that ZooKeeper reads as Java system properties (`zookeeper.X`);
/// both `X` and `zookeeper.X` are accepted in zoo.cfg.
const SYSPROP_KEYS: &[&str] = &[
    "4lw.commands.whitelist",
    "jute.maxbuffer",
    "globalOutstandingLimit",
    "snapCount",
    "preAllocSize",
    "forceSync",
    "skipACL",
    "DigestAuthenticationProvider.superDigest",
    "readonlymode.enabled",
    "admin.enableServer",
    "admin.serverAddress",
    "admin.serverPort",
    "admin.commandURL",
];

/// Keys ZooKeeper accepts that rzk does not implement: (key, reason).
const UNSUPPORTED_KEYS: &[(&str, &str)] = &[
    (
        "secureClientPort",
        "TLS client connections are not supported",
    ),
    (
        "secureClientPortAddress",
        "TLS client connections are not supported",
    ),
    ("sslQuorum", "TLS between servers is not supported"),
    (
        "sslQuorumReloadCertFiles",
        "TLS between servers is not supported",
    ),
    ("portUnification", "TLS port unification is not supported"),
    (
        "client.portUnification",
        "TLS port unification is not supported",
    ),
    ("observerMasterPort", "observer masters are not supported"),
    ("oraclePath", "the oracle quorum verifier is not supported"),
    (
        "multiAddress.enabled",
        "multiple quorum addresses are not supported",
    ),
    (
        "multiAddress.reachabilityCheckTimeoutMs",
        "multiple quorum addresses are not supported",
    ),
    (
        "multiAddress.reachabilityCheckEnabled",
        "multiple quorum addresses are not supported",
    ),
    ("serverCnxnFactory", "rzk has its own connection layer"),
    (
        "X509AuthenticationProvider.superUser",
        "x509 authentication is not supported",
    ),
    (
        "sessionRequireClientSASLAuth",
        "SASL authentication is not supported",
    ),
    ("enforce.auth.enabled", "auth enforcement is not supported"),
    ("enforce.auth.schemes", "auth enforcement is not supported"),
];

/// Key prefixes ZooKeeper accepts that rzk does not implement.
const UNSUPPORTED_PREFIXES: &[(&str, &str)] = &[
    ("ssl.", "TLS is not supported"),
    (
        "quorum.auth.",
        "SASL quorum authentication is not supported",
    ),
    (
        "authProvider.",
        "pluggable auth providers are not supported",
    ),
    ("kerberos.", "Kerberos is not supported"),
];

/// Keys ZooKeeper accepts that rzk parses but ignores.
const IGNORED_KEYS: &[&str] = &[
    "connectToLearnerMasterLimit",
    "quorum.cnxn.threads.size",
    "maxCnxns",
    "snapSizeLimitInKb",
    "txnLogSizeLimitInKb",
    "commitLogCount",
    "maxResponseCacheSize",
    "maxGetChildrenResponseCacheSize",
    "flushDelay",
    "maxWriteQueuePollTime",
    "maxBatchSize",
    "requestThrottleLimit",
    "requestThrottleStallTime",
    "requestThrottleDropStale",
    "requestStaleLatencyCheck",
    "requestStaleConnectionCheck",
    "throttledOpWaitTime",
    "learner.throttledOpWaitTime",
    "digest.enabled",
    "closeSessionTxn.enabled",
    "audit.enable",
    "admin.idleTimeout",
    "admin.portUnification",
    "admin.forceHttps",
    "leaderServes",
    "cnxTimeout",
    "electionPortBindRetry",
    "tcpKeepAlive",
    "clientTcpKeepAlive",
    "watchManagerName",
    "watcherCleanThreshold",
    "watcherCleanIntervalInSeconds",
    "watcherCleanThreadsNum",
    "maxInProcessingDeadWatchers",
    "enforceQuota",
    "serializeLastProcessedZxid.enabled",
    "snapshot.trust.empty",
    "snapshot.compression.method",
    "advancedFlowControlEnabled",
    "messageTracker.BufferSize",
    "messageTracker.Enabled",
    "fips-mode",
    "ensembleAuthName",
    "syncLimit.observer",
];

const IGNORED_PREFIXES: &[&str] = &[
    "jvm.pause.",
    "fastleader.",
    "connection_throttle_",
    "netty.",
    "nettyServerCnxnFactory.",
    "learner.",
    "leader.",
    "admin.",
];

fn is_sysprop_key(k: &str) -> bool {
    SYSPROP_KEYS.contains(&k)
        || IGNORED_KEYS.contains(&k)
        || UNSUPPORTED_KEYS.iter().any(|(u, _)| *u == k)
        || IGNORED_PREFIXES.iter().any(|p| k.starts_with(p))
        || UNSUPPORTED_PREFIXES.iter().any(|(p, _)| k.starts_with(p))
}

/// Map `zookeeper.X` to `X` for system-property style keys.
fn canonical_key(key: &str) -> String {
    if let Some(rest) = key.strip_prefix("zookeeper.") {
        if is_sysprop_key(rest) {
            return rest.to_string();
        }
    }
    key.to_string()
}

// ---------------------------------------------------------------------------
// Value parsers (each returns the reason on failure)

/// Java `Integer.parseInt`: optional sign, ASCII digits, i32 range.
fn java_parse_int(s: &str) -> Option<i64> {
    let (neg, digits) = match s.as_bytes().first() {
        Some(b'-') => (true, &s[1..]),
        Some(b'+') => (false, &s[1..]),
        _ => (false, s),
    };
    if digits.is_empty() || digits.len() > 12 || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let v: i64 = digits.parse().ok()?;
    let v = if neg { -v } else { v };
    if v < i32::MIN as i64 || v > i32::MAX as i64 {
        return None;
    }
    Some(v)
}

/// Java `Integer.decode` / `Long.decode` (used by `Integer.getInteger`):
/// optional sign, then `0x`/`0X`/`#` hex, leading `0` octal, or decimal.
fn java_decode(s: &str) -> Option<i64> {
    let (neg, rest) = match s.as_bytes().first() {
        Some(b'-') => (true, &s[1..]),
        Some(b'+') => (false, &s[1..]),
        _ => (false, s),
    };
    let (radix, digits) =
        if let Some(h) = rest.strip_prefix("0x").or_else(|| rest.strip_prefix("0X")) {
            (16, h)
        } else if let Some(h) = rest.strip_prefix('#') {
            (16, h)
        } else if rest.len() > 1 && rest.starts_with('0') {
            (8, &rest[1..])
        } else {
            (10, rest)
        };
    if digits.is_empty() || digits.starts_with(['+', '-']) || digits.len() > 24 {
        return None;
    }
    let v = i64::from_str_radix(digits, radix).ok()?;
    Some(if neg { -v } else { v })
}

fn positive_int(v: &str) -> Result<u32, String> {
    match java_parse_int(v) {
        Some(n) if n >= 1 => Ok(n as u32),
        _ => Err(format!("expected a positive integer, got {}", quote(v))),
    }
}

fn non_negative_int(v: &str) -> Result<u32, String> {
    match java_parse_int(v) {
        Some(n) if n >= 0 => Ok(n as u32),
        _ => Err(format!("expected a non-negative integer, got {}", quote(v))),
    }
}

fn any_int(v: &str) -> Result<i64, String> {
    java_parse_int(v).ok_or_else(|| {
        format!(
            "expected an integer between {} and {}, got {}",
            i32::MIN,
            i32::MAX,
            quote(v)
        )
    })
}

fn decoded_positive(v: &str, max: i64) -> Result<i64, String> {
    match java_decode(v) {
        Some(n) if n >= 1 && n <= max => Ok(n),
        _ => Err(format!(
            "expected a positive integer (decimal, or hex with 0x) no larger than {max}, got {}",
            quote(v)
        )),
    }
}

fn boolean(v: &str) -> Result<bool, String> {
    if v.eq_ignore_ascii_case("true") {
        Ok(true)
    } else if v.eq_ignore_ascii_case("false") {
        Ok(false)
    } else {
        Err(format!("expected true or false, got {}", quote(v)))
    }
}

fn yes_no(v: &str) -> Result<bool, String> {
    if v.eq_ignore_ascii_case("yes") {
        Ok(true)
    } else if v.eq_ignore_ascii_case("no") {
        Ok(false)
    } else {
        Err(format!("expected yes or no, got {}", quote(v)))
    }
}

fn non_empty_path(v: &str) -> Result<PathBuf, String> {
    if v.is_empty() {
        Err("must not be empty".to_string())
    } else {
        Ok(PathBuf::from(v))
    }
}

// ---------------------------------------------------------------------------
// Parsing

/// Largest config file we read (a real zoo.cfg is a few KiB).
const MAX_FILE_BYTES: u64 = 16 * 1024 * 1024;

/// Read a text file the way Java's `Properties.load(InputStream)` would
/// accept it: UTF-8 when valid, else ISO-8859-1 (what Java assumes).
pub(crate) fn read_text(path: &Path, origin: &str) -> Result<String, ConfigError> {
    let io = |reason: &str, e: std::io::Error| ConfigError::Io {
        file: origin.to_string(),
        reason: reason.to_string(),
        source: e,
    };
    let f = std::fs::File::open(path).map_err(|e| io("cannot open", e))?;
    let mut bytes = Vec::new();
    f.take(MAX_FILE_BYTES + 1)
        .read_to_end(&mut bytes)
        .map_err(|e| io("cannot read", e))?;
    if bytes.len() as u64 > MAX_FILE_BYTES {
        return Err(io(
            "cannot read",
            std::io::Error::new(
                std::io::ErrorKind::InvalidData,
                format!("file is larger than {MAX_FILE_BYTES} bytes"),
            ),
        ));
    }
    Ok(match String::from_utf8(bytes) {
        Ok(s) => s,
        Err(e) => e.into_bytes().iter().map(|&b| b as char).collect(),
    })
}

/// Parse a zoo.cfg file. `path` is used as the file name in messages.
/// A `dynamicConfigFile` it names is read too (its path as written:
/// absolute or relative to the working directory, like ZooKeeper).
pub fn parse_file(path: &Path) -> Result<(ServerConfig, Vec<ConfigWarning>), ConfigError> {
    let origin = path.display().to_string();
    let text = read_text(path, &origin)?;
    parse_str(&text, &origin)
}

/// Parse zoo.cfg text; `origin` names it in messages (e.g. `"zoo.cfg"`).
/// A `dynamicConfigFile` it names is read from disk.
pub fn parse_str(
    text: &str,
    origin: &str,
) -> Result<(ServerConfig, Vec<ConfigWarning>), ConfigError> {
    let mut p = Parser {
        file: origin.to_string(),
        warnings: Vec::new(),
    };
    let cfg = p.parse(text)?;
    Ok((cfg, p.warnings))
}

/// Parse a zoo.cfg, read `myid` from its dataDir and apply it
/// ([`ServerConfig::apply_myid`]), and check that there is a client port.
/// This is what a server wants at startup.
pub fn load(path: &Path) -> Result<(ServerConfig, Vec<ConfigWarning>), ConfigError> {
    let (mut cfg, mut warnings) = parse_file(path)?;
    let myid = crate::myid::read_myid(&cfg.data_dir)?;
    let myid_file = cfg.data_dir.join("myid");
    warnings.extend(cfg.apply_myid(myid, &myid_file)?);
    if cfg.client_address().is_none() {
        return Err(ConfigError::missing(
            &cfg.origin,
            "clientPort",
            "is not set, and this server's server.N line has no client port",
        ));
    }
    Ok((cfg, warnings))
}

struct Parser {
    file: String,
    warnings: Vec<ConfigWarning>,
}

impl Parser {
    fn err(&self, e: &Entry, key: &str, reason: impl Into<String>) -> ConfigError {
        ConfigError::invalid(&self.file, e.line, key, reason)
    }

    fn warn(&mut self, line: usize, key: &str, kind: WarningKind, message: impl Into<String>) {
        self.warnings.push(ConfigWarning {
            file: self.file.clone(),
            line,
            key: key.to_string(),
            kind,
            message: message.into(),
        });
    }

    fn parse(&mut self, text: &str) -> Result<ServerConfig, ConfigError> {
        let entries = properties::parse(text).map_err(|e| {
            ConfigError::invalid(&self.file, e.line, e.key.clone(), e.reason.clone())
        })?;
        let mut cfg = ServerConfig::zk_defaults(&self.file);

        // Last duplicate wins (like java.util.Properties); warn about the
        // overridden ones. server.N ids are checked separately (error).
        let mut last: HashMap<String, usize> = HashMap::new();
        let keys: Vec<String> = entries.iter().map(|e| canonical_key(&e.key)).collect();
        for (i, k) in keys.iter().enumerate() {
            if !k.starts_with("server.") {
                last.insert(k.clone(), i);
            }
        }
        let has_dynamic = last.contains_key("dynamicConfigFile");

        let mut min_st: Option<(i64, usize)> = None;
        let mut max_st: Option<(i64, usize)> = None;
        let mut data_dir_set = false;
        let mut data_log_dir_set = false;
        let mut client_port_address_line = None;

        for (i, e) in entries.iter().enumerate() {
            let key = keys[i].as_str();
            if !key.starts_with("server.") && last.get(key) != Some(&i) {
                let winner = entries[last[key]].line;
                self.warn(
                    e.line,
                    key,
                    WarningKind::Duplicate,
                    format!("duplicate key; the value on line {winner} wins"),
                );
                continue;
            }
            let v = e.value.as_str();
            let ensemble_key = key.starts_with("server.")
                || key.starts_with("group.")
                || key.starts_with("weight.");
            if !ensemble_key {
                cfg.origins.insert(
                    key.to_string(),
                    Origin {
                        file: self.file.clone(),
                        line: e.line,
                    },
                );
            }
            macro_rules! val {
                ($f:expr) => {
                    $f.map_err(|r| self.err(e, key, r))?
                };
            }
            match key {
                "tickTime" => cfg.tick_time = val!(positive_int(v)),
                "initLimit" => cfg.init_limit = val!(non_negative_int(v)),
                "syncLimit" => cfg.sync_limit = val!(non_negative_int(v)),
                "dataDir" => {
                    cfg.data_dir = val!(non_empty_path(v));
                    data_dir_set = true;
                    if cfg.data_dir.is_relative() {
                        self.warn(
                            e.line,
                            key,
                            WarningKind::Advice,
                            "relative path; it is resolved against the server's working directory",
                        );
                    }
                }
                "dataLogDir" => {
                    cfg.data_log_dir = val!(non_empty_path(v));
                    data_log_dir_set = true;
                    if cfg.data_log_dir.is_relative() {
                        self.warn(
                            e.line,
                            key,
                            WarningKind::Advice,
                            "relative path; it is resolved against the server's working directory",
                        );
                    }
                }
                "clientPort" => cfg.client_port = Some(val!(parse_port(v))),
                "clientPortAddress" => {
                    cfg.client_port_address = Some(val!(parse_host(v)));
                    client_port_address_line = Some(e.line);
                }
                "clientPortListenBacklog" => {
                    let n = val!(any_int(v));
                    cfg.client_port_listen_backlog = if n > 0 { Some(n as u32) } else { None };
                }
                "maxClientCnxns" => {
                    let n = val!(any_int(v));
                    if n < 0 {
                        self.warn(
                            e.line,
                            key,
                            WarningKind::Adjusted,
                            format!("{n} means unlimited; use 0"),
                        );
                    }
                    cfg.max_client_cnxns = n.max(0) as u32;
                }
                "minSessionTimeout" | "maxSessionTimeout" => {
                    let n = val!(any_int(v));
                    if n < -1 {
                        return Err(self.err(
                            e,
                            key,
                            format!("expected a non-negative number of milliseconds (or -1 for the default), got {}", quote(v)),
                        ));
                    }
                    if key == "minSessionTimeout" {
                        min_st = Some((n, e.line));
                    } else {
                        max_st = Some((n, e.line));
                    }
                }
                "autopurge.snapRetainCount" => {
                    let n = val!(any_int(v));
                    if n < MIN_SNAP_RETAIN_COUNT as i64 {
                        self.warn(e.line, key, WarningKind::Adjusted, format!("{n} is below the minimum; using {MIN_SNAP_RETAIN_COUNT} like ZooKeeper"));
                        cfg.snap_retain_count = MIN_SNAP_RETAIN_COUNT;
                    } else {
                        cfg.snap_retain_count = n as u32;
                    }
                }
                "autopurge.purgeInterval" => {
                    let n = val!(any_int(v));
                    if n < 0 {
                        self.warn(
                            e.line,
                            key,
                            WarningKind::Adjusted,
                            format!("{n} disables auto purge; use 0"),
                        );
                    }
                    cfg.purge_interval_hours = n.max(0) as u32;
                }
                "4lw.commands.whitelist" => {
                    cfg.four_letter_words = self.parse_4lw(e, v);
                }
                "jute.maxbuffer" => {
                    cfg.jute_max_buffer = val!(decoded_positive(v, i32::MAX as i64)) as u32;
                }
                "globalOutstandingLimit" => {
                    cfg.global_outstanding_limit =
                        val!(decoded_positive(v, i32::MAX as i64)) as u32;
                }
                "snapCount" => {
                    let n = val!(decoded_positive(v, i32::MAX as i64)) as u32;
                    if n < 2 {
                        self.warn(
                            e.line,
                            key,
                            WarningKind::Adjusted,
                            "snapCount should be 2 or more; using 2 like ZooKeeper",
                        );
                    }
                    cfg.snap_count = n.max(2);
                }
                "preAllocSize" => {
                    cfg.pre_alloc_size_kb = val!(decoded_positive(v, i64::MAX)) as u64;
                }
                "syncEnabled" => cfg.sync_enabled = val!(boolean(v)),
                "forceSync" => cfg.force_sync = val!(yes_no(v)),
                "standaloneEnabled" => cfg.standalone_enabled = val!(boolean(v)),
                "reconfigEnabled" => cfg.reconfig_enabled = val!(boolean(v)),
                "readonlymode.enabled" => cfg.read_only_mode = val!(boolean(v)),
                "skipACL" => cfg.skip_acl = val!(yes_no(v)),
                "DigestAuthenticationProvider.superDigest" => {
                    if v.is_empty() {
                        return Err(self.err(
                            e,
                            key,
                            "must not be empty (expected user:base64-sha1-digest)",
                        ));
                    }
                    if !v.contains(':') {
                        self.warn(e.line, key, WarningKind::Advice, "expected user:base64-sha1-digest; no client can match a digest without ':'");
                    }
                    cfg.super_digest = Some(v.to_string());
                }
                "admin.enableServer" => cfg.admin.enable_server = val!(boolean(v)),
                "admin.serverAddress" => cfg.admin.server_address = val!(parse_host(v)),
                "admin.serverPort" => cfg.admin.server_port = val!(parse_port(v)),
                "admin.commandURL" => {
                    if !v.starts_with('/') {
                        return Err(self.err(
                            e,
                            key,
                            format!("expected a URL path starting with '/', got {}", quote(v)),
                        ));
                    }
                    cfg.admin.command_url = v.to_string();
                }
                "metricsProvider.className" => {
                    if v.is_empty() {
                        return Err(self.err(e, key, "must not be empty"));
                    }
                    if v != PROMETHEUS_PROVIDER && v != DEFAULT_PROVIDER {
                        self.warn(e.line, key, WarningKind::Unsupported, format!("rzk only provides {PROMETHEUS_PROVIDER} (and the no-op default); {} is ignored", quote(v)));
                    }
                    cfg.metrics.class_name = Some(v.to_string());
                }
                "metricsProvider.httpHost" => cfg.metrics.http_host = val!(parse_host(v)),
                "metricsProvider.httpPort" => cfg.metrics.http_port = val!(parse_port(v)),
                "metricsProvider.exportJvmInfo" => cfg.metrics.export_jvm_info = val!(boolean(v)),
                "dynamicConfigFile" => {
                    cfg.dynamic_config_file = Some(val!(non_empty_path(v)));
                }
                "electionAlg" => {
                    let n = val!(any_int(v));
                    if n != ELECTION_ALG_FAST_LEADER as i64 {
                        return Err(self.err(
                            e,
                            key,
                            format!(
                                "only 3 (fast leader election) is supported, got {}",
                                quote(v)
                            ),
                        ));
                    }
                    cfg.election_alg = ELECTION_ALG_FAST_LEADER;
                }
                "quorumListenOnAllIPs" => cfg.quorum_listen_on_all_ips = val!(boolean(v)),
                "peerType" => {
                    cfg.peer_type = PeerRole::parse(v).ok_or_else(|| {
                        self.err(
                            e,
                            key,
                            format!("expected participant or observer, got {}", quote(v)),
                        )
                    })?;
                }
                "localSessionsEnabled" => cfg.local_sessions_enabled = val!(boolean(v)),
                "localSessionsUpgradingEnabled" => {
                    cfg.local_sessions_upgrading_enabled = val!(boolean(v))
                }
                _ => {
                    if let Some(name) = key.strip_prefix("rzk.") {
                        if name.is_empty() {
                            return Err(self.err(e, key, "empty rzk knob name"));
                        }
                        cfg.rzk.insert(name.to_string(), v.to_string());
                    } else if let Some(x) = key.strip_prefix("metricsProvider.") {
                        cfg.metrics.extra.insert(x.to_string(), v.to_string());
                    } else if key.starts_with("server.")
                        || key.starts_with("group.")
                        || key.starts_with("weight.")
                    {
                        if has_dynamic {
                            return Err(self.err(e, key, "must be in the dynamic config file when dynamicConfigFile is set (ZooKeeper rejects it too)"));
                        }
                        self.ensemble_entry(&mut cfg, e, key)?;
                    } else if let Some((_, why)) = UNSUPPORTED_KEYS
                        .iter()
                        .chain(UNSUPPORTED_PREFIXES)
                        .find(|(k, _)| *k == key || (k.ends_with(['.', '_']) && key.starts_with(k)))
                    {
                        // `sslQuorum=false` and friends ask for nothing rzk lacks
                        if !v.eq_ignore_ascii_case("false") {
                            self.warn(
                                e.line,
                                key,
                                WarningKind::Unsupported,
                                format!("{why}; ignored"),
                            );
                        }
                    } else if IGNORED_KEYS.contains(&key)
                        || IGNORED_PREFIXES.iter().any(|p| key.starts_with(p))
                    {
                        self.warn(
                            e.line,
                            key,
                            WarningKind::Ignored,
                            "accepted by ZooKeeper, ignored by rzk",
                        );
                    } else {
                        self.warn(
                            e.line,
                            key,
                            WarningKind::UnknownKey,
                            "unknown key (not a ZooKeeper or rzk setting); ignored",
                        );
                    }
                }
            }
        }

        // dataDir / dataLogDir
        if !data_dir_set {
            return Err(ConfigError::missing(&self.file, "dataDir", "is not set"));
        }
        if !data_log_dir_set {
            cfg.data_log_dir = cfg.data_dir.clone();
        }

        if cfg.client_port.is_none() {
            if let Some(line) = client_port_address_line {
                return Err(ConfigError::invalid(
                    &self.file,
                    line,
                    "clientPortAddress",
                    "is set but clientPort is not set",
                ));
            }
        }

        // session timeouts
        let min_default = (cfg.tick_time as i64) * 2;
        let max_default = (cfg.tick_time as i64) * 20;
        let min = match min_st {
            Some((n, _)) if n >= 0 => n,
            _ => min_default,
        };
        let max = match max_st {
            Some((n, _)) if n >= 0 => n,
            _ => max_default,
        };
        if min > max {
            let explicit_min = min_st.filter(|(n, _)| *n >= 0);
            let explicit_max = max_st.filter(|(n, _)| *n >= 0);
            let (key, line, reason) = match (explicit_min, explicit_max) {
                (None, Some((_, l))) => (
                    "maxSessionTimeout",
                    l,
                    format!("{max} must not be smaller than minSessionTimeout ({min}, the default 2 * tickTime)"),
                ),
                (m, _) => (
                    "minSessionTimeout",
                    m.map(|(_, l)| l).unwrap_or(0),
                    format!("{min} must not be larger than maxSessionTimeout ({max}{})", if explicit_max.is_some() { "" } else { ", the default 20 * tickTime" }),
                ),
            };
            return Err(ConfigError::invalid(&self.file, line, key, reason));
        }
        cfg.min_session_timeout = min.min(u32::MAX as i64) as u32;
        cfg.max_session_timeout = max.min(u32::MAX as i64) as u32;

        // dynamic config file
        if let Some(dyn_path) = cfg.dynamic_config_file.clone() {
            let line = cfg
                .origins
                .get("dynamicConfigFile")
                .map(|o| o.line)
                .unwrap_or(0);
            self.read_dynamic(&mut cfg, &dyn_path, line)?;
        }

        self.validate_ensemble(&mut cfg)?;

        // No way to get a client port at all?
        if cfg.client_port.is_none() && !cfg.servers.values().any(|s| s.client_addr.is_some()) {
            return Err(ConfigError::missing(
                &self.file,
                "clientPort",
                "is not set (and no server.N line has a client port)",
            ));
        }
        Ok(cfg)
    }

    fn parse_4lw(&mut self, e: &Entry, v: &str) -> FourLetterWords {
        let mut list: Vec<String> = Vec::new();
        for cmd in v.split(',') {
            let cmd = cmd.trim();
            if cmd.is_empty() {
                continue;
            }
            if cmd == "*" {
                return FourLetterWords::All;
            }
            if !KNOWN_FOUR_LETTER_WORDS.contains(&cmd) {
                self.warn(
                    e.line,
                    "4lw.commands.whitelist",
                    WarningKind::UnknownKey,
                    format!("unknown four-letter word {}", quote(cmd)),
                );
            }
            if !list.iter().any(|c| c == cmd) {
                list.push(cmd.to_string());
            }
        }
        FourLetterWords::Only(list)
    }

    /// A `server.N`, `group.N` or `weight.N` entry.
    fn ensemble_entry(
        &mut self,
        cfg: &mut ServerConfig,
        e: &Entry,
        key: &str,
    ) -> Result<(), ConfigError> {
        let (family, id_text) = key.split_once('.').unwrap_or((key, ""));
        let id = parse_id(id_text).map_err(|r| self.err(e, key, format!("invalid id: {r}")))?;
        match family {
            "server" => {
                let spec = parse_server_value(id, &e.value).map_err(|r| self.err(e, key, r))?;
                let canonical = format!("server.{id}");
                if let Some(prev) = cfg
                    .origins
                    .get(&canonical)
                    .filter(|_| cfg.servers.contains_key(&id))
                {
                    let where_ = if prev.file == self.file {
                        format!("line {}", prev.line)
                    } else {
                        format!("{}:{}", prev.file, prev.line)
                    };
                    return Err(self.err(
                        e,
                        key,
                        format!("duplicate server id {id} (already defined on {where_})"),
                    ));
                }
                cfg.servers.insert(id, spec);
                cfg.origins.insert(
                    canonical,
                    Origin {
                        file: self.file.clone(),
                        line: e.line,
                    },
                );
            }
            "group" => {
                let members = parse_group_value(&e.value).map_err(|r| self.err(e, key, r))?;
                self.warn(e.line, key, WarningKind::Unsupported, "hierarchical quorums (group.N/weight.N) are not supported; rzk uses majority quorums");
                if cfg.groups.insert(id, members).is_some() {
                    self.warn(
                        e.line,
                        key,
                        WarningKind::Duplicate,
                        format!("group {id} defined more than once; the last one wins"),
                    );
                }
            }
            _ => {
                let w = java_parse_int(&e.value)
                    .filter(|n| *n >= 0)
                    .ok_or_else(|| {
                        self.err(
                            e,
                            key,
                            format!(
                                "expected a non-negative integer weight, got {}",
                                quote(&e.value)
                            ),
                        )
                    })?;
                self.warn(e.line, key, WarningKind::Unsupported, "hierarchical quorums (group.N/weight.N) are not supported; rzk uses majority quorums");
                if cfg.weights.insert(id, w as u64).is_some() {
                    self.warn(
                        e.line,
                        key,
                        WarningKind::Duplicate,
                        format!("weight {id} defined more than once; the last one wins"),
                    );
                }
            }
        }
        if family != "server" {
            cfg.origins.insert(
                format!("{family}.{id}"),
                Origin {
                    file: self.file.clone(),
                    line: e.line,
                },
            );
        }
        Ok(())
    }

    fn read_dynamic(
        &mut self,
        cfg: &mut ServerConfig,
        path: &Path,
        line: usize,
    ) -> Result<(), ConfigError> {
        let dyn_name = path.display().to_string();
        let not_file = match std::fs::metadata(path) {
            Ok(m) => !m.is_file(),
            Err(err) => {
                return Err(ConfigError::invalid(
                    &self.file,
                    line,
                    "dynamicConfigFile",
                    format!("cannot read {}: {err}", quote(&dyn_name)),
                ))
            }
        };
        if not_file {
            return Err(ConfigError::invalid(
                &self.file,
                line,
                "dynamicConfigFile",
                format!("{} is not a regular file", quote(&dyn_name)),
            ));
        }
        let text = read_text(path, &dyn_name)?;
        let entries = properties::parse(&text).map_err(|e| {
            ConfigError::invalid(&dyn_name, e.line, e.key.clone(), e.reason.clone())
        })?;
        let saved = std::mem::replace(&mut self.file, dyn_name.clone());
        let result = (|| {
            for e in &entries {
                let key = e.key.as_str();
                if key == "version" {
                    return Err(self.err(e, key, "must not appear inside a dynamic config file (the version is the file name's suffix)"));
                }
                if key.starts_with("server.")
                    || key.starts_with("group.")
                    || key.starts_with("weight.")
                {
                    self.ensemble_entry(cfg, e, key)?;
                } else {
                    return Err(self.err(e, key, "not allowed in a dynamic config file (only server.N, group.N and weight.N; ZooKeeper rejects it too)"));
                }
            }
            Ok(())
        })();
        self.file = saved;
        result?;
        // ZooKeeper: the version is the hex suffix of the file name.
        cfg.config_version = dyn_name
            .rsplit_once('.')
            .and_then(|(_, suffix)| u64::from_str_radix(suffix, 16).ok())
            .unwrap_or(0);
        Ok(())
    }

    /// ZooKeeper's `parseDynamicConfig` + `checkValidity` rules.
    fn validate_ensemble(&mut self, cfg: &mut ServerConfig) -> Result<(), ConfigError> {
        let participants = cfg.participants();
        let observers = cfg.servers.len() - participants;
        let first = cfg
            .servers
            .keys()
            .next()
            .map(|id| cfg.origin_of(&format!("server.{id}")));
        let first_line = first.as_ref().map(|o| o.line).unwrap_or(0);
        let first_file = first
            .as_ref()
            .map(|o| o.file.clone())
            .unwrap_or_else(|| self.file.clone());
        if participants == 0 {
            if !cfg.standalone_enabled {
                let o = cfg.origin_of("standaloneEnabled");
                return Err(ConfigError::invalid(
                    &o.file,
                    o.line,
                    "standaloneEnabled",
                    "is false, so at least one participant server.N line is required",
                ));
            }
            if observers > 0 {
                return Err(ConfigError::invalid(
                    &first_file,
                    first_line,
                    "server",
                    "observers without participants is an invalid configuration",
                ));
            }
        } else if participants == 1 && cfg.standalone_enabled {
            if observers > 0 {
                return Err(ConfigError::invalid(
                    &first_file,
                    first_line,
                    "server",
                    "observers without a quorum (only one participant) is an invalid configuration",
                ));
            }
            self.warn_at(&first_file, first_line, "server", WarningKind::Advice,
                "only one server specified: it runs standalone, like ZooKeeper (set standaloneEnabled=false for a one-member ensemble)");
        } else if participants <= 2 {
            self.warn_at(
                &first_file,
                first_line,
                "server",
                WarningKind::Advice,
                "no server failure will be tolerated; you need at least 3 servers",
            );
        } else if participants & 1 == 0 {
            self.warn_at(
                &first_file,
                first_line,
                "server",
                WarningKind::Advice,
                "non-optimal configuration, consider an odd number of servers",
            );
        }
        if cfg.is_distributed() {
            if cfg.init_limit == 0 {
                return Err(ConfigError::missing(
                    &self.file,
                    "initLimit",
                    "is not set; it is required when server.N lines define an ensemble",
                ));
            }
            if cfg.sync_limit == 0 {
                return Err(ConfigError::missing(
                    &self.file,
                    "syncLimit",
                    "is not set; it is required when server.N lines define an ensemble",
                ));
            }
        }
        Ok(())
    }

    fn warn_at(&mut self, file: &str, line: usize, key: &str, kind: WarningKind, message: &str) {
        self.warnings.push(ConfigWarning {
            file: file.to_string(),
            line,
            key: key.to_string(),
            kind,
            message: message.to_string(),
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn java_int_parsing() {
        assert_eq!(java_parse_int("0"), Some(0));
        assert_eq!(java_parse_int("+5"), Some(5));
        assert_eq!(java_parse_int("-5"), Some(-5));
        assert_eq!(java_parse_int("2147483647"), Some(2147483647));
        assert_eq!(java_parse_int("2147483648"), None);
        assert_eq!(java_parse_int("-2147483648"), Some(-2147483648));
        assert_eq!(java_parse_int(""), None);
        assert_eq!(java_parse_int("-"), None);
        assert_eq!(java_parse_int("1 2"), None);
        assert_eq!(java_parse_int("0x10"), None);
        assert_eq!(java_parse_int("99999999999999999999999"), None);
    }

    #[test]
    fn java_decode_parsing() {
        assert_eq!(java_decode("1048575"), Some(1048575));
        assert_eq!(java_decode("0xfffff"), Some(0xfffff));
        assert_eq!(java_decode("0XFF"), Some(255));
        assert_eq!(java_decode("#10"), Some(16));
        assert_eq!(java_decode("010"), Some(8));
        assert_eq!(java_decode("0"), Some(0));
        assert_eq!(java_decode("-0x10"), Some(-16));
        assert_eq!(java_decode("0x"), None);
        assert_eq!(java_decode("0x-1"), None);
        assert_eq!(java_decode("09"), None);
        assert_eq!(java_decode("abc"), None);
    }

    #[test]
    fn canonical_keys() {
        assert_eq!(
            canonical_key("zookeeper.4lw.commands.whitelist"),
            "4lw.commands.whitelist"
        );
        assert_eq!(canonical_key("zookeeper.jute.maxbuffer"), "jute.maxbuffer");
        assert_eq!(
            canonical_key("zookeeper.ssl.keyStore.location"),
            "ssl.keyStore.location"
        );
        // QuorumPeerConfig keys do not take the prefix
        assert_eq!(canonical_key("zookeeper.tickTime"), "zookeeper.tickTime");
    }
}
