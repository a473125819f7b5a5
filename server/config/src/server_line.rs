//! `server.N=...` ensemble lines, `group.N`/`weight.N`, host validation.

use std::net::{Ipv4Addr, Ipv6Addr};

use crate::error::quote;

/// The role of an ensemble member.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum PeerRole {
    #[default]
    Participant,
    Observer,
}

impl PeerRole {
    /// `participant` / `observer`, as written in zoo.cfg.
    pub fn as_str(self) -> &'static str {
        match self {
            PeerRole::Participant => "participant",
            PeerRole::Observer => "observer",
        }
    }

    /// ZooKeeper's `LearnerType` ordinal, as printed by the `conf` command
    /// (`peerType=0` / `peerType=1`).
    pub fn ordinal(self) -> u8 {
        match self {
            PeerRole::Participant => 0,
            PeerRole::Observer => 1,
        }
    }

    /// Case-insensitive, like ZooKeeper.
    pub fn parse(s: &str) -> Option<PeerRole> {
        if s.eq_ignore_ascii_case("participant") {
            Some(PeerRole::Participant)
        } else if s.eq_ignore_ascii_case("observer") {
            Some(PeerRole::Observer)
        } else {
            None
        }
    }
}

/// One `server.N=host:quorumPort:electionPort[:role][;[clientHost:]clientPort]` line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ServerSpec {
    /// N from `server.N`.
    pub id: u64,
    /// Host name or IP address, without the `[]` around IPv6 addresses.
    pub host: String,
    pub quorum_port: u16,
    pub election_port: u16,
    pub role: PeerRole,
    /// The part after `;`. When only a port is given the host is `0.0.0.0`,
    /// as in ZooKeeper. The host has no `[]`.
    pub client_addr: Option<(String, u16)>,
}

impl ServerSpec {
    /// Render the value part of the line the way ZooKeeper's
    /// `QuorumServer.toString()` does: the role is always written, and the
    /// client address (when present) always has a host.
    pub fn to_value(&self) -> String {
        let mut s = format!(
            "{}:{}:{}:{}",
            bracket_host(&self.host),
            self.quorum_port,
            self.election_port,
            self.role.as_str()
        );
        if let Some((h, p)) = &self.client_addr {
            s.push_str(&format!(";{}:{}", bracket_host(h), p));
        }
        s
    }
}

/// Wrap IPv6 literals in `[]`.
pub fn bracket_host(h: &str) -> String {
    if h.contains(':') {
        format!("[{h}]")
    } else {
        h.to_string()
    }
}

/// Parse an id such as the N of `server.N` or the content of `myid`:
/// ASCII digits only, positive, at most Java's `Long.MAX_VALUE`.
pub(crate) fn parse_id(s: &str) -> Result<u64, String> {
    let bad = || format!("expected a positive integer, got {}", quote(s));
    if s.is_empty() || !s.bytes().all(|b| b.is_ascii_digit()) {
        return Err(bad());
    }
    match s.parse::<u64>() {
        Ok(0) => Err(bad()),
        Ok(v) if v <= i64::MAX as u64 => Ok(v),
        _ => Err(format!("{} is out of range (1..={})", quote(s), i64::MAX)),
    }
}

/// Parse a port number `1..=65535` (ASCII digits, optional leading `+`).
pub(crate) fn parse_port(s: &str) -> Result<u16, String> {
    let digits = s.strip_prefix('+').unwrap_or(s);
    let bad = || {
        format!(
            "expected a port number between 1 and 65535, got {}",
            quote(s)
        )
    };
    if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
        // allow a clearer message for negative numbers
        return Err(bad());
    }
    match digits.parse::<u32>() {
        Ok(v) if (1..=65535).contains(&v) => Ok(v as u16),
        _ => Err(bad()),
    }
}

/// Validate a host: an IPv4 address, an IPv6 address (with or without
/// `[]`, zone id allowed), or a DNS-style host name. Returns the host
/// without brackets.
pub(crate) fn parse_host(s: &str) -> Result<String, String> {
    if s.is_empty() {
        return Err("empty host".to_string());
    }
    if let Some(inner) = s.strip_prefix('[') {
        let inner = inner
            .strip_suffix(']')
            .ok_or_else(|| format!("unterminated '[' in host {}", quote(s)))?;
        return if is_ipv6(inner) {
            Ok(inner.to_string())
        } else {
            Err(format!("{} is not an IPv6 address", quote(inner)))
        };
    }
    if s.contains(':') {
        return if is_ipv6(s) {
            Ok(s.to_string())
        } else {
            Err(format!("invalid host {}", quote(s)))
        };
    }
    if s.parse::<Ipv4Addr>().is_ok() {
        return Ok(s.to_string());
    }
    let ok = s.len() <= 253
        && s.split('.').all(|label| {
            !label.is_empty()
                && label.len() <= 63
                && label
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
        });
    if ok {
        Ok(s.to_string())
    } else {
        Err(format!("invalid host name {}", quote(s)))
    }
}

fn is_ipv6(s: &str) -> bool {
    // allow a zone id: fe80::1%eth0
    let (addr, zone) = match s.split_once('%') {
        Some((a, z)) => (a, Some(z)),
        None => (s, None),
    };
    if let Some(z) = zone {
        if z.is_empty()
            || !z
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_' || b == b'.')
        {
            return false;
        }
    }
    addr.parse::<Ipv6Addr>().is_ok()
}

/// ZooKeeper's `ConfigUtils.splitWithLeadingHostname`: split on `:`, except
/// that a leading `[ipv6]` is one field.
fn split_with_leading_host(s: &str) -> Result<Vec<String>, String> {
    if let Some(rest) = s.strip_prefix('[') {
        let close = rest
            .find(']')
            .ok_or_else(|| format!("unterminated '[' in {}", quote(s)))?;
        let host = &rest[..close];
        let after = &rest[close + 1..];
        let after = after
            .strip_prefix(':')
            .ok_or_else(|| format!("IPv6 address [{host}] must be followed by ':' and a port"))?;
        let mut v = vec![format!("[{host}]")];
        v.extend(after.split(':').map(str::to_string));
        Ok(v)
    } else {
        Ok(s.split(':').map(str::to_string).collect())
    }
}

const SERVER_FORMAT: &str =
    "expected host:quorumPort:electionPort[:participant|observer][;[clientHost:]clientPort]";

/// Parse the value of a `server.N` line.
pub(crate) fn parse_server_value(id: u64, value: &str) -> Result<ServerSpec, String> {
    if value.is_empty() {
        return Err(format!("empty value; {SERVER_FORMAT}"));
    }
    if value.chars().any(char::is_whitespace) {
        return Err(format!(
            "whitespace is not allowed inside a server line ({}); {SERVER_FORMAT}",
            quote(value)
        ));
    }
    // Java's String.split drops trailing empty strings, so "a:1:2;" has no
    // client part in ZooKeeper.
    let mut parts: Vec<&str> = value.split(';').collect();
    while parts.len() > 1 && parts.last() == Some(&"") {
        parts.pop();
    }
    if parts.len() > 2 {
        return Err(format!(
            "more than one ';' in {}; {SERVER_FORMAT}",
            quote(value)
        ));
    }
    let server_part = parts[0];
    if server_part.contains('|') {
        return Err(
            "multiple addresses ('|') are not supported (ZooKeeper also rejects them unless multiAddress.enabled=true)"
                .to_string(),
        );
    }
    let fields = split_with_leading_host(server_part)?;
    if fields.len() < 3 || fields.len() > 4 {
        let hint = if !server_part.starts_with('[') && server_part.matches(':').count() > 3 {
            " (IPv6 addresses must be written in brackets, e.g. [::1]:2888:3888)"
        } else {
            ""
        };
        return Err(format!(
            "malformed server address {}{hint}; {SERVER_FORMAT}",
            quote(value)
        ));
    }
    let host = parse_host(&fields[0])?;
    let quorum_port = parse_port(&fields[1]).map_err(|e| format!("quorum port: {e}"))?;
    let election_port = parse_port(&fields[2]).map_err(|e| format!("election port: {e}"))?;
    let role = match fields.get(3) {
        None => PeerRole::Participant,
        Some(t) => PeerRole::parse(t).ok_or_else(|| {
            format!(
                "unknown peer type {} (expected participant or observer)",
                quote(t)
            )
        })?,
    };
    let client_addr = match parts.get(1) {
        None => None,
        Some(c) => Some(parse_client_part(c)?),
    };
    Ok(ServerSpec {
        id,
        host,
        quorum_port,
        election_port,
        role,
        client_addr,
    })
}

fn parse_client_part(c: &str) -> Result<(String, u16), String> {
    let fields = split_with_leading_host(c)?;
    match fields.len() {
        1 => Ok((
            "0.0.0.0".to_string(),
            parse_port(&fields[0]).map_err(|e| format!("client port: {e}"))?,
        )),
        2 => Ok((
            parse_host(&fields[0]).map_err(|e| format!("client address: {e}"))?,
            parse_port(&fields[1]).map_err(|e| format!("client port: {e}"))?,
        )),
        _ => Err(format!(
            "malformed client address {} (expected port or host:port)",
            quote(c)
        )),
    }
}

/// Parse the value of `group.N`: a `:`-separated list of server ids.
pub(crate) fn parse_group_value(value: &str) -> Result<Vec<u64>, String> {
    if value.is_empty() {
        return Err("expected a ':'-separated list of server ids, got \"\"".to_string());
    }
    value
        .split(':')
        .map(|s| parse_id(s).map_err(|e| format!("server id in group: {e}")))
        .collect()
}

/// Parses one `server.N=host:quorumPort:electionPort[:role][;[clientAddr:]clientPort]` assignment, as
/// found in zoo.cfg and in the `joiningServers` of a reconfig request.
pub fn parse_server_assignment(s: &str) -> Result<ServerSpec, String> {
    let (k, v) = s
        .split_once('=')
        .ok_or_else(|| format!("expected server.N=..., got {s:?}"))?;
    let id = k
        .trim()
        .strip_prefix("server.")
        .ok_or_else(|| format!("expected server.N, got {k:?}"))?;
    parse_server_value(parse_id(id)?, v.trim())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spec(v: &str) -> ServerSpec {
        parse_server_value(1, v).unwrap()
    }

    #[test]
    fn ipv4_minimal() {
        let s = spec("127.0.0.1:2888:3888");
        assert_eq!(s.host, "127.0.0.1");
        assert_eq!((s.quorum_port, s.election_port), (2888, 3888));
        assert_eq!(s.role, PeerRole::Participant);
        assert_eq!(s.client_addr, None);
        assert_eq!(s.to_value(), "127.0.0.1:2888:3888:participant");
    }

    #[test]
    fn hostname_observer_client_port() {
        let s = spec("zk-3.example.com:2888:3888:observer;2181");
        assert_eq!(s.host, "zk-3.example.com");
        assert_eq!(s.role, PeerRole::Observer);
        assert_eq!(s.client_addr, Some(("0.0.0.0".to_string(), 2181)));
        assert_eq!(
            s.to_value(),
            "zk-3.example.com:2888:3888:observer;0.0.0.0:2181"
        );
    }

    #[test]
    fn role_case_insensitive() {
        assert_eq!(spec("h:1:2:OBSERVER").role, PeerRole::Observer);
        assert_eq!(spec("h:1:2:Participant").role, PeerRole::Participant);
    }

    #[test]
    fn ipv6() {
        let s = spec("[::1]:2888:3888:participant;[::1]:2181");
        assert_eq!(s.host, "::1");
        assert_eq!(s.client_addr, Some(("::1".to_string(), 2181)));
        assert_eq!(s.to_value(), "[::1]:2888:3888:participant;[::1]:2181");
        let s = spec("[fe80::1%eth0]:2888:3888");
        assert_eq!(s.host, "fe80::1%eth0");
        let e = parse_server_value(1, "::1:2888:3888").unwrap_err();
        assert!(e.contains("brackets"), "{e}");
        assert!(parse_server_value(1, "[::1]2888:3888").is_err());
        assert!(parse_server_value(1, "[::1:2888:3888").is_err());
        assert!(parse_server_value(1, "[zz]:2888:3888").is_err());
    }

    #[test]
    fn client_host_and_port() {
        let s = spec("h:1:2;10.0.0.1:2181");
        assert_eq!(s.client_addr, Some(("10.0.0.1".to_string(), 2181)));
        // trailing ';' is ignored like Java's String.split
        assert_eq!(spec("h:1:2;").client_addr, None);
        assert!(parse_server_value(1, "h:1:2;a:b:c").is_err());
        assert!(parse_server_value(1, "h:1:2;x").is_err());
        assert!(parse_server_value(1, "h:1:2;1;2").is_err());
        assert!(parse_server_value(1, "h:1:2;:2181").is_err());
    }

    #[test]
    fn malformed() {
        for v in [
            "",
            "h",
            "h:1",
            "h:1:2:observer:x",
            "h:abc:3888",
            "h:2888:99999",
            "h:0:3888",
            "h:-1:3888",
            "h:1:2:leader",
            "h:1:2|h2:1:2",
            "h :1:2",
            ":1:2",
            "bad_host!:1:2",
            "h..x:1:2",
        ] {
            assert!(parse_server_value(1, v).is_err(), "{v:?} should fail");
        }
    }

    #[test]
    fn ids() {
        assert_eq!(parse_id("1"), Ok(1));
        assert_eq!(parse_id("007"), Ok(7));
        assert!(parse_id("0").is_err());
        assert!(parse_id("-1").is_err());
        assert!(parse_id("+1").is_err());
        assert!(parse_id("1a").is_err());
        assert!(parse_id("").is_err());
        assert_eq!(parse_id("9223372036854775807"), Ok(i64::MAX as u64));
        assert!(parse_id("9223372036854775808")
            .unwrap_err()
            .contains("out of range"));
        assert!(parse_id("99999999999999999999999").is_err());
    }

    #[test]
    fn ports() {
        assert_eq!(parse_port("1"), Ok(1));
        assert_eq!(parse_port("65535"), Ok(65535));
        assert_eq!(parse_port("+2181"), Ok(2181));
        assert!(parse_port("0").is_err());
        assert!(parse_port("65536").is_err());
        assert!(parse_port("-1").is_err());
        assert!(parse_port("").is_err());
        assert!(parse_port("21 81").is_err());
        assert!(parse_port("99999999999999999999").is_err());
    }

    #[test]
    fn groups() {
        assert_eq!(parse_group_value("1:2:3"), Ok(vec![1, 2, 3]));
        assert!(parse_group_value("").is_err());
        assert!(parse_group_value("1::3").is_err());
        assert!(parse_group_value("a").is_err());
    }
}
