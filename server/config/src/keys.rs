//! Every zoo.cfg key rzk knows, in tables: [`KEYS`] (key → setter) and [`PREFIXES`] for key
//! families, then the keys ZooKeeper accepts that rzk ignores or does not support. To find where a
//! key is handled, grep for it (quoted) in this file.

use std::path::PathBuf;

use crate::error::{quote, ConfigError, WarningKind};
use crate::parser::Ctx;
use crate::security;
use crate::server_line::{parse_host, parse_port, PeerRole};
use crate::types::{
    FourLetterWords, ServerConfig, DEFAULT_PROVIDER, ELECTION_ALG_FAST_LEADER,
    KNOWN_FOUR_LETTER_WORDS, MIN_SNAP_RETAIN_COUNT, PROMETHEUS_PROVIDER,
};
use crate::values::{
    any_int, boolean, decoded_positive, non_empty_path, non_negative_int, positive_int, yes_no,
};

/// Applies one entry's value (`&str`, trimmed) to the configuration; a bad value is an error
/// naming the entry's file, line and key ([`Ctx::err`]).
pub(crate) type Setter = fn(&mut ServerConfig, &str, &mut Ctx<'_>) -> Result<(), ConfigError>;

/// The keys rzk reads, by canonical name (a `zookeeper.X` system-property key appears as `X`,
/// see [`canonical_key`]).
pub(crate) const KEYS: &[(&str, Setter)] = &[
    ("tickTime", |c, v, x| {
        c.tick_time = x.val(positive_int(v))?;
        Ok(())
    }),
    ("initLimit", |c, v, x| {
        c.init_limit = x.val(non_negative_int(v))?;
        Ok(())
    }),
    ("syncLimit", |c, v, x| {
        c.sync_limit = x.val(non_negative_int(v))?;
        Ok(())
    }),
    ("dataDir", |c, v, x| {
        c.data_dir = data_path(v, x)?;
        x.seen.data_dir = true;
        Ok(())
    }),
    ("dataLogDir", |c, v, x| {
        c.data_log_dir = data_path(v, x)?;
        x.seen.data_log_dir = true;
        Ok(())
    }),
    ("clientPort", |c, v, x| {
        c.client_port = Some(x.val(parse_port(v))?);
        Ok(())
    }),
    ("clientPortAddress", |c, v, x| {
        c.client_port_address = Some(x.val(parse_host(v))?);
        x.seen.client_port_address_line = Some(x.e.line);
        Ok(())
    }),
    ("clientPortListenBacklog", |c, v, x| {
        let n = x.val(any_int(v))?;
        c.client_port_listen_backlog = if n > 0 { Some(n as u32) } else { None };
        Ok(())
    }),
    ("maxClientCnxns", |c, v, x| {
        c.max_client_cnxns = connection_limit(v, x)?;
        Ok(())
    }),
    ("maxCnxns", |c, v, x| {
        c.max_cnxns = connection_limit(v, x)?;
        Ok(())
    }),
    ("minSessionTimeout", |_, v, x| {
        x.seen.min_session_timeout = Some(session_timeout(v, x)?);
        Ok(())
    }),
    ("maxSessionTimeout", |_, v, x| {
        x.seen.max_session_timeout = Some(session_timeout(v, x)?);
        Ok(())
    }),
    ("autopurge.snapRetainCount", |c, v, x| {
        let n = x.val(any_int(v))?;
        if n < MIN_SNAP_RETAIN_COUNT as i64 {
            x.warn(
                WarningKind::Adjusted,
                format!("{n} is below the minimum; using {MIN_SNAP_RETAIN_COUNT} like ZooKeeper"),
            );
            c.snap_retain_count = MIN_SNAP_RETAIN_COUNT;
        } else {
            c.snap_retain_count = n as u32;
        }
        Ok(())
    }),
    ("autopurge.purgeInterval", |c, v, x| {
        let n = x.val(any_int(v))?;
        if n < 0 {
            x.warn(
                WarningKind::Adjusted,
                format!("{n} disables auto purge; use 0"),
            );
        }
        c.purge_interval_hours = n.max(0) as u32;
        Ok(())
    }),
    ("4lw.commands.whitelist", |c, v, x| {
        c.four_letter_words = four_letter_words(v, x);
        Ok(())
    }),
    ("jute.maxbuffer", |c, v, x| {
        c.jute_max_buffer = x.val(decoded_positive(v, i32::MAX as i64))? as u32;
        Ok(())
    }),
    ("globalOutstandingLimit", |c, v, x| {
        c.global_outstanding_limit = x.val(decoded_positive(v, i32::MAX as i64))? as u32;
        Ok(())
    }),
    ("snapCount", |c, v, x| {
        let n = x.val(decoded_positive(v, i32::MAX as i64))? as u32;
        if n < 2 {
            x.warn(
                WarningKind::Adjusted,
                "snapCount should be 2 or more; using 2 like ZooKeeper",
            );
        }
        c.snap_count = n.max(2);
        Ok(())
    }),
    ("snapSizeLimitInKb", |c, v, x| {
        c.snap_size_limit_kb = x.val(any_int(v))?;
        Ok(())
    }),
    ("preAllocSize", |c, v, x| {
        c.pre_alloc_size_kb = x.val(decoded_positive(v, i64::MAX))? as u64;
        Ok(())
    }),
    ("syncEnabled", |c, v, x| {
        c.sync_enabled = x.val(boolean(v))?;
        Ok(())
    }),
    ("forceSync", |c, v, x| {
        c.force_sync = x.val(yes_no(v))?;
        Ok(())
    }),
    ("standaloneEnabled", |c, v, x| {
        c.standalone_enabled = x.val(boolean(v))?;
        Ok(())
    }),
    ("reconfigEnabled", |c, v, x| {
        c.reconfig_enabled = x.val(boolean(v))?;
        Ok(())
    }),
    ("readonlymode.enabled", |c, v, x| {
        c.read_only_mode = x.val(boolean(v))?;
        Ok(())
    }),
    ("enforceQuota", |c, v, x| {
        c.enforce_quota = x.val(boolean(v))?;
        Ok(())
    }),
    ("audit.enable", |c, v, x| {
        c.audit_enable = x.val(boolean(v))?;
        Ok(())
    }),
    ("requestThrottleLimit", |c, v, x| {
        c.request_throttle_limit = x.val(any_int(v))?.clamp(0, i32::MAX as i64) as u32;
        Ok(())
    }),
    ("requestThrottleStallTime", |c, v, x| {
        c.request_throttle_stall_time_ms = x.val(decoded_positive(v, i32::MAX as i64))? as u32;
        Ok(())
    }),
    ("requestThrottleDropStale", |c, v, x| {
        c.request_throttle_drop_stale = x.val(boolean(v))?;
        Ok(())
    }),
    // The system properties ZooKeeper's RequestThrottler actually reads
    // (`zookeeper.request_throttle_max_requests`, ...), under the documented key names above.
    ("request_throttle_max_requests", |c, v, x| {
        c.request_throttle_limit = x.val(any_int(v))?.clamp(0, i32::MAX as i64) as u32;
        Ok(())
    }),
    ("request_throttle_stall_time", |c, v, x| {
        c.request_throttle_stall_time_ms = x.val(decoded_positive(v, i32::MAX as i64))? as u32;
        Ok(())
    }),
    ("request_throttle_drop_stale", |c, v, x| {
        c.request_throttle_drop_stale = x.val(boolean(v))?;
        Ok(())
    }),
    ("skipACL", |c, v, x| {
        c.skip_acl = x.val(yes_no(v))?;
        Ok(())
    }),
    ("DigestAuthenticationProvider.superDigest", |c, v, x| {
        if v.is_empty() {
            return Err(x.err("must not be empty (expected user:base64-sha1-digest)"));
        }
        if !v.contains(':') {
            x.warn(
                WarningKind::Advice,
                "expected user:base64-sha1-digest; no client can match a digest without ':'",
            );
        }
        c.super_digest = Some(v.to_string());
        Ok(())
    }),
    ("admin.enableServer", |c, v, x| {
        c.admin.enable_server = x.val(boolean(v))?;
        Ok(())
    }),
    ("admin.serverAddress", |c, v, x| {
        c.admin.server_address = x.val(parse_host(v))?;
        Ok(())
    }),
    ("admin.serverPort", |c, v, x| {
        c.admin.server_port = x.val(parse_port(v))?;
        Ok(())
    }),
    ("admin.commandURL", |c, v, x| {
        if !v.starts_with('/') {
            return Err(x.err(format!(
                "expected a URL path starting with '/', got {}",
                quote(v)
            )));
        }
        c.admin.command_url = v.to_string();
        Ok(())
    }),
    ("metricsProvider.className", |c, v, x| {
        if v.is_empty() {
            return Err(x.err("must not be empty"));
        }
        if v != PROMETHEUS_PROVIDER && v != DEFAULT_PROVIDER {
            x.warn(
                WarningKind::Unsupported,
                format!(
                    "rzk only provides {PROMETHEUS_PROVIDER} (and the no-op default); {} is ignored",
                    quote(v)
                ),
            );
        }
        c.metrics.class_name = Some(v.to_string());
        Ok(())
    }),
    ("metricsProvider.httpHost", |c, v, x| {
        c.metrics.http_host = x.val(parse_host(v))?;
        Ok(())
    }),
    ("metricsProvider.httpPort", |c, v, x| {
        c.metrics.http_port = x.val(parse_port(v))?;
        Ok(())
    }),
    ("metricsProvider.exportJvmInfo", |c, v, x| {
        c.metrics.export_jvm_info = x.val(boolean(v))?;
        Ok(())
    }),
    ("dynamicConfigFile", |c, v, x| {
        c.dynamic_config_file = Some(x.val(non_empty_path(v))?);
        Ok(())
    }),
    ("electionAlg", |c, v, x| {
        let n = x.val(any_int(v))?;
        if n != ELECTION_ALG_FAST_LEADER as i64 {
            return Err(x.err(format!(
                "only 3 (fast leader election) is supported, got {}",
                quote(v)
            )));
        }
        c.election_alg = ELECTION_ALG_FAST_LEADER;
        Ok(())
    }),
    ("quorumListenOnAllIPs", |c, v, x| {
        c.quorum_listen_on_all_ips = x.val(boolean(v))?;
        Ok(())
    }),
    ("peerType", |c, v, x| {
        c.peer_type = PeerRole::parse(v).ok_or_else(|| {
            x.err(format!(
                "expected participant or observer, got {}",
                quote(v)
            ))
        })?;
        Ok(())
    }),
    ("localSessionsEnabled", |c, v, x| {
        c.local_sessions_enabled = x.val(boolean(v))?;
        Ok(())
    }),
    ("localSessionsUpgradingEnabled", |c, v, x| {
        c.local_sessions_upgrading_enabled = x.val(boolean(v))?;
        Ok(())
    }),
    // Security (security.rs).
    ("secureClientPort", security::secure_client_port),
    (
        "secureClientPortAddress",
        security::secure_client_port_address,
    ),
    ("client.portUnification", security::port_unification),
    ("client.certReload", security::cert_reload),
    ("admin.forceHttps", security::admin_force_https),
    ("admin.needClientAuth", security::admin_need_client_auth),
    (
        "X509AuthenticationProvider.superUser",
        security::x509_super_user,
    ),
    ("serverCnxnFactory", security::server_cnxn_factory),
    ("superUser", security::sasl_super_user),
    ("sslQuorum", security::ssl_quorum),
    ("enforce.auth.enabled", security::enforce_auth_enabled),
    ("enforce.auth.schemes", security::enforce_auth_schemes),
    (
        "sessionRequireClientSASLAuth",
        security::session_require_sasl,
    ),
];

/// Key families (`prefix` + name), tried in order when [`KEYS`] has no exact match.
pub(crate) const PREFIXES: &[(&str, Setter)] = &[
    ("rzk.", |c, v, x| {
        let name = &x.key["rzk.".len()..];
        if name.is_empty() {
            return Err(x.err("empty rzk knob name"));
        }
        c.rzk.insert(name.to_string(), v.to_string());
        Ok(())
    }),
    ("metricsProvider.", |c, v, x| {
        let name = &x.key["metricsProvider.".len()..];
        c.metrics.extra.insert(name.to_string(), v.to_string());
        Ok(())
    }),
    ("ssl.", security::ssl_key),
    ("superUser.", security::sasl_super_user),
    ("quorum.auth.", security::quorum_auth),
    ("authProvider.", security::auth_provider),
    ("server.", ensemble),
    ("group.", ensemble),
    ("weight.", ensemble),
];

/// The setter of `key` (canonical): its [`KEYS`] entry, else its [`PREFIXES`] family's.
pub(crate) fn setter(key: &str) -> Option<Setter> {
    KEYS.iter()
        .find(|(k, _)| *k == key)
        .or_else(|| PREFIXES.iter().find(|(p, _)| key.starts_with(p)))
        .map(|(_, set)| *set)
}

/// `server.N`, `group.N` and `weight.N`: the ensemble (see `ensemble.rs`).
pub(crate) fn is_ensemble_key(key: &str) -> bool {
    key.starts_with("server.") || key.starts_with("group.") || key.starts_with("weight.")
}

fn ensemble(c: &mut ServerConfig, _: &str, x: &mut Ctx<'_>) -> Result<(), ConfigError> {
    if x.seen.has_dynamic {
        return Err(x.err("must be in the dynamic config file when dynamicConfigFile is set (ZooKeeper rejects it too)"));
    }
    x.p.ensemble_entry(c, x.e, x.key)
}

fn data_path(v: &str, x: &mut Ctx<'_>) -> Result<PathBuf, ConfigError> {
    let path = x.val(non_empty_path(v))?;
    if path.is_relative() {
        x.warn(
            WarningKind::Advice,
            "relative path; it is resolved against the server's working directory",
        );
    }
    Ok(path)
}

/// `minSessionTimeout` / `maxSessionTimeout` as written (checked against each other once the
/// whole file is read), with the entry's line.
/// `maxClientCnxns` / `maxCnxns`: a count, 0 = unlimited; a negative one means unlimited too
/// (warned).
fn connection_limit(v: &str, x: &mut Ctx<'_>) -> Result<u32, ConfigError> {
    let n = x.val(any_int(v))?;
    if n < 0 {
        x.warn(WarningKind::Adjusted, format!("{n} means unlimited; use 0"));
    }
    Ok(n.max(0) as u32)
}

fn session_timeout(v: &str, x: &mut Ctx<'_>) -> Result<(i64, usize), ConfigError> {
    let n = x.val(any_int(v))?;
    if n < -1 {
        return Err(x.err(format!(
            "expected a non-negative number of milliseconds (or -1 for the default), got {}",
            quote(v)
        )));
    }
    Ok((n, x.e.line))
}

fn four_letter_words(v: &str, x: &mut Ctx<'_>) -> FourLetterWords {
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
            x.warn(
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

/// A key without a setter: not supported by rzk, ignored by rzk, or unknown: a warning each
/// (`sslQuorum=false` and friends ask for nothing rzk lacks: no warning).
pub(crate) fn unlisted(_: &mut ServerConfig, v: &str, x: &mut Ctx<'_>) {
    let key = x.key;
    if let Some((_, why)) = UNSUPPORTED_KEYS
        .iter()
        .chain(UNSUPPORTED_PREFIXES)
        .find(|(k, _)| *k == key || (k.ends_with(['.', '_']) && key.starts_with(k)))
    {
        if !v.eq_ignore_ascii_case("false") {
            x.warn(WarningKind::Unsupported, format!("{why}; ignored"));
        }
    } else if IGNORED_KEYS.contains(&key) || IGNORED_PREFIXES.iter().any(|p| key.starts_with(p)) {
        x.warn(
            WarningKind::Ignored,
            "accepted by ZooKeeper, ignored by rzk",
        );
    } else {
        x.warn(
            WarningKind::UnknownKey,
            "unknown key (not a ZooKeeper or rzk setting); ignored",
        );
    }
}

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
    "enforceQuota",
    "audit.enable",
    "requestThrottleLimit",
    "requestThrottleStallTime",
    "requestThrottleDropStale",
    "request_throttle_max_requests",
    "request_throttle_stall_time",
    "request_throttle_drop_stale",
    "admin.enableServer",
    "admin.serverAddress",
    "admin.serverPort",
    "admin.commandURL",
    "admin.forceHttps",
    "admin.needClientAuth",
    "client.portUnification",
    "client.certReload",
    "X509AuthenticationProvider.superUser",
    "serverCnxnFactory",
    "enforce.auth.enabled",
    "enforce.auth.schemes",
    "sessionRequireClientSASLAuth",
    "superUser",
];

/// Key families ZooKeeper reads as Java system properties (`zookeeper.ssl.keyStore.location`).
const SYSPROP_PREFIXES: &[&str] = &["ssl.", "authProvider.", "superUser."];

/// Keys ZooKeeper accepts that rzk does not implement: (key, reason).
const UNSUPPORTED_KEYS: &[(&str, &str)] = &[
    (
        "sslQuorumReloadCertFiles",
        "TLS between servers is not supported",
    ),
    ("portUnification", "TLS port unification is not supported"),
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
];

/// Key prefixes ZooKeeper accepts that rzk does not implement.
const UNSUPPORTED_PREFIXES: &[(&str, &str)] = &[("kerberos.", "Kerberos is not supported")];

/// Keys ZooKeeper accepts that rzk parses but ignores.
const IGNORED_KEYS: &[&str] = &[
    "connectToLearnerMasterLimit",
    "quorum.cnxn.threads.size",
    "txnLogSizeLimitInKb",
    "commitLogCount",
    "maxResponseCacheSize",
    "maxGetChildrenResponseCacheSize",
    "flushDelay",
    "maxWriteQueuePollTime",
    "maxBatchSize",
    "requestStaleLatencyCheck",
    "requestStaleConnectionCheck",
    "throttledOpWaitTime",
    "learner.throttledOpWaitTime",
    "digest.enabled",
    "closeSessionTxn.enabled",
    "admin.idleTimeout",
    "admin.portUnification",
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
        || SYSPROP_PREFIXES.iter().any(|p| k.starts_with(p))
        || IGNORED_KEYS.contains(&k)
        || UNSUPPORTED_KEYS.iter().any(|(u, _)| *u == k)
        || IGNORED_PREFIXES.iter().any(|p| k.starts_with(p))
        || UNSUPPORTED_PREFIXES.iter().any(|(p, _)| k.starts_with(p))
}

/// Map `zookeeper.X` to `X` for system-property style keys.
pub(crate) fn canonical_key(key: &str) -> String {
    if let Some(rest) = key.strip_prefix("zookeeper.") {
        if is_sysprop_key(rest) {
            return rest.to_string();
        }
    }
    key.to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

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

    #[test]
    fn every_key_has_one_place() {
        for (i, (k, _)) in KEYS.iter().enumerate() {
            assert!(
                KEYS[i + 1..].iter().all(|(other, _)| other != k),
                "{k} is in KEYS twice"
            );
            assert!(!IGNORED_KEYS.contains(k), "{k} is both read and ignored");
            assert!(
                UNSUPPORTED_KEYS.iter().all(|(u, _)| u != k),
                "{k} is both read and unsupported"
            );
            assert!(
                PREFIXES.iter().all(|(p, _)| !k.starts_with(p))
                    || k.starts_with("metricsProvider."),
                "{k} is also matched by a prefix family"
            );
        }
        for k in SYSPROP_KEYS {
            assert!(setter(k).is_some(), "system property {k} has no setter");
        }
    }
}
