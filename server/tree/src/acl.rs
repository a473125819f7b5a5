//! ACLs: schemes world, auth, digest, ip and super; checks as ZooKeeper's checkACL/fixupACL.

use base64::Engine;
use rzk_proto::consts::perms;
use serde::{Deserialize, Serialize};
use sha1::{Digest, Sha1};
use std::net::Ipv4Addr;

#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize, PartialOrd, Ord)]
pub struct Id {
    pub scheme: String,
    pub id: String,
}

impl Id {
    pub fn new(scheme: &str, id: &str) -> Self {
        Id { scheme: scheme.into(), id: id.into() }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Acl {
    pub perms: i32,
    pub id: Id,
}

impl Acl {
    pub fn world_all() -> Vec<Acl> {
        vec![Acl { perms: perms::ALL, id: Id::new("world", "anyone") }]
    }
    pub fn world_read() -> Vec<Acl> {
        vec![Acl { perms: perms::READ, id: Id::new("world", "anyone") }]
    }
}

impl From<&rzk_proto::records::Acl> for Acl {
    fn from(a: &rzk_proto::records::Acl) -> Self {
        Acl { perms: a.perms, id: Id { scheme: a.id.scheme.clone(), id: a.id.id.clone() } }
    }
}

impl From<&Acl> for rzk_proto::records::Acl {
    fn from(a: &Acl) -> Self {
        rzk_proto::records::Acl {
            perms: a.perms,
            id: rzk_proto::records::Id { scheme: a.id.scheme.clone(), id: a.id.id.clone() },
        }
    }
}

/// `user:base64(sha1(user:password))`, the id a digest ACL stores for `user:password`.
pub fn digest_id(user_password: &str) -> String {
    let user = user_password.split(':').next().unwrap_or("");
    let hash = Sha1::digest(user_password.as_bytes());
    format!("{user}:{}", base64::engine::general_purpose::STANDARD.encode(hash))
}

/// Whether `auth` (the identities of a session) grants `perm` on a node with `acl`.
pub fn check(acl: &[Acl], perm: i32, auth: &[Id]) -> bool {
    if auth.iter().any(|a| a.scheme == "super") {
        return true;
    }
    if acl.is_empty() {
        return true;
    }
    acl.iter().any(|a| {
        a.perms & perm != 0
            && (a.id.scheme == "world" && a.id.id == "anyone"
                || auth.iter().any(|id| id.scheme == a.id.scheme && matches(&a.id, &id.id)))
    })
}

fn matches(acl_id: &Id, client: &str) -> bool {
    match acl_id.scheme.as_str() {
        "ip" => ip_matches(&acl_id.id, client),
        _ => acl_id.id == client,
    }
}

fn ip_matches(pattern: &str, client: &str) -> bool {
    let (addr, bits) = match pattern.split_once('/') {
        Some((a, b)) => match b.parse::<u32>() {
            Ok(b) if b <= 32 => (a, b),
            _ => return false,
        },
        None => (pattern, 32),
    };
    match (addr.parse::<Ipv4Addr>(), client.parse::<Ipv4Addr>()) {
        (Ok(a), Ok(c)) => {
            let mask = if bits == 0 { 0 } else { u32::MAX << (32 - bits) };
            u32::from(a) & mask == u32::from(c) & mask
        }
        _ => pattern == client,
    }
}

fn valid_ip(id: &str) -> bool {
    let (addr, bits) = match id.split_once('/') {
        Some((a, b)) => (a, b.parse::<u32>().ok().filter(|b| *b <= 32).is_some()),
        None => (id, true),
    };
    bits && (addr.parse::<Ipv4Addr>().is_ok() || addr.parse::<std::net::Ipv6Addr>().is_ok())
}

/// Validates a requested ACL and expands the `auth` scheme into the session's authenticated ids
/// (ZooKeeper's fixupACL). `None` means InvalidACL.
pub fn fixup(requested: &[Acl], auth: &[Id]) -> Option<Vec<Acl>> {
    if requested.is_empty() {
        return None;
    }
    let mut out: Vec<Acl> = Vec::with_capacity(requested.len());
    for a in requested {
        match a.id.scheme.as_str() {
            "world" => {
                if a.id.id != "anyone" {
                    return None;
                }
                out.push(a.clone());
            }
            "auth" => {
                let mut any = false;
                for id in auth.iter().filter(|id| id.scheme != "ip" && id.scheme != "super") {
                    any = true;
                    out.push(Acl { perms: a.perms, id: id.clone() });
                }
                if !any {
                    return None;
                }
            }
            "digest" => {
                if a.id.id.split(':').count() != 2 {
                    return None;
                }
                out.push(a.clone());
            }
            "ip" => {
                if !valid_ip(&a.id.id) {
                    return None;
                }
                out.push(a.clone());
            }
            _ => return None,
        }
    }
    let mut dedup: Vec<Acl> = Vec::with_capacity(out.len());
    for a in out {
        if !dedup.contains(&a) {
            dedup.push(a);
        }
    }
    Some(dedup)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn digest_matches_zookeeper() {
        // ZooKeeper's DigestAuthenticationProvider.generateDigest("super:test").
        assert_eq!(digest_id("super:test"), "super:D/InIHSb7yEEbrWz8b9l71RjZJU=");
    }

    #[test]
    fn checks() {
        let acl = vec![Acl { perms: perms::READ, id: Id::new("digest", &digest_id("u:p")) }];
        assert!(!check(&acl, perms::READ, &[]));
        assert!(check(&acl, perms::READ, &[Id::new("digest", &digest_id("u:p"))]));
        assert!(!check(&acl, perms::WRITE, &[Id::new("digest", &digest_id("u:p"))]));
        assert!(check(&acl, perms::WRITE, &[Id::new("super", "")]));
        let ip = vec![Acl { perms: perms::ALL, id: Id::new("ip", "127.0.0.0/8") }];
        assert!(check(&ip, perms::READ, &[Id::new("ip", "127.0.0.5")]));
        assert!(!check(&ip, perms::READ, &[Id::new("ip", "10.0.0.5")]));
    }

    #[test]
    fn fixup_rules() {
        assert!(fixup(&[], &[]).is_none());
        let auth = vec![Acl { perms: perms::ALL, id: Id::new("auth", "") }];
        assert!(fixup(&auth, &[Id::new("ip", "127.0.0.1")]).is_none());
        let f = fixup(&auth, &[Id::new("ip", "127.0.0.1"), Id::new("digest", "u:x")]).unwrap();
        assert_eq!(f, vec![Acl { perms: perms::ALL, id: Id::new("digest", "u:x") }]);
        assert!(fixup(&[Acl { perms: 1, id: Id::new("foo", "x") }], &[]).is_none());
        assert!(fixup(&[Acl { perms: 1, id: Id::new("world", "x") }], &[]).is_none());
        assert!(fixup(&[Acl { perms: 1, id: Id::new("ip", "300.1.1.1") }], &[]).is_none());
        assert!(fixup(&[Acl { perms: 1, id: Id::new("digest", "nocolon") }], &[]).is_none());
    }
}
