//! The typed configuration: [`ServerConfig`] and its parts, defaults and the queries the server
//! asks of it.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use crate::server_line::{PeerRole, ServerSpec};

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
    /// `maxCnxns`: client connections to this server in all, default 0 = unlimited.
    pub max_cnxns: u32,
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
    /// `snapSizeLimitInKb`: a snapshot once the log written since the last one exceeds this;
    /// 0 or less disables the limit. Default 4194304 (4 GiB), as in ZooKeeper.
    pub snap_size_limit_kb: i64,
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
    /// `enforceQuota` (also `zookeeper.enforceQuota`): writes past a quota's hard limits fail with
    /// QuotaExceeded instead of only being logged. Default false, as in ZooKeeper.
    pub enforce_quota: bool,
    /// `audit.enable` (also `zookeeper.audit.enable`): one audit line per operation. Default false.
    pub audit_enable: bool,
    /// `requestThrottleLimit`: requests in flight (all connections) past which new requests wait;
    /// 0 (the default) turns the throttle off, as in ZooKeeper.
    pub request_throttle_limit: u32,
    /// `requestThrottleStallTime`, ms: how long a throttled request waits before it is retried.
    /// Default 100.
    pub request_throttle_stall_time_ms: u32,
    /// `requestThrottleDropStale`: a throttled request whose connection has closed is dropped.
    /// Default true.
    pub request_throttle_drop_stale: bool,
    /// `skipACL` (yes/no), default no.
    pub skip_acl: bool,
    /// `DigestAuthenticationProvider.superDigest` (also with the
    /// `zookeeper.` prefix): `user:base64(sha1(user:password))`.
    pub super_digest: Option<String>,
    /// `admin.*`.
    pub admin: AdminServerConfig,
    /// TLS and x509 authentication (`secureClientPort`, `ssl.*`, `authProvider.*`, ...).
    pub security: crate::security::SecurityConfig,
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
    pub(crate) fn zk_defaults(origin: &str) -> ServerConfig {
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
            max_cnxns: 0,
            min_session_timeout: ZK_DEFAULT_TICK_TIME * 2,
            max_session_timeout: ZK_DEFAULT_TICK_TIME * 20,
            snap_retain_count: MIN_SNAP_RETAIN_COUNT,
            purge_interval_hours: 0,
            four_letter_words: FourLetterWords::default(),
            jute_max_buffer: DEFAULT_JUTE_MAX_BUFFER,
            global_outstanding_limit: 1000,
            snap_count: 100_000,
            snap_size_limit_kb: 4_194_304,
            pre_alloc_size_kb: 65536,
            sync_enabled: true,
            force_sync: true,
            standalone_enabled: true,
            reconfig_enabled: false,
            read_only_mode: false,
            enforce_quota: false,
            audit_enable: false,
            request_throttle_limit: 0,
            request_throttle_stall_time_ms: 100,
            request_throttle_drop_stale: true,
            skip_acl: false,
            super_digest: None,
            admin: AdminServerConfig::default(),
            security: crate::security::SecurityConfig::default(),
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

    pub(crate) fn origin_of(&self, key: &str) -> Origin {
        self.origins.get(key).cloned().unwrap_or(Origin {
            file: self.origin.clone(),
            line: 0,
        })
    }
}
