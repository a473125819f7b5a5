//! ACLs: schemes world, auth, digest, ip, x509, sasl and super; checks as ZooKeeper's checkACL/fixupACL.

use base64::Engine;
use rzk_proto::consts::perms;
use serde::{Deserialize, Serialize};
use sha1::{Digest, Sha1};

#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize, PartialOrd, Ord)]
pub struct Id {
    pub scheme: String,
    pub id: String,
}

impl Id {
    pub fn new(scheme: &str, id: &str) -> Self {
        Id {
            scheme: scheme.into(),
            id: id.into(),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Acl {
    pub perms: i32,
    pub id: Id,
}

impl Acl {
    pub fn world_all() -> Vec<Acl> {
        vec![Acl {
            perms: perms::ALL,
            id: Id::new("world", "anyone"),
        }]
    }
    pub fn world_read() -> Vec<Acl> {
        vec![Acl {
            perms: perms::READ,
            id: Id::new("world", "anyone"),
        }]
    }
}

impl From<&rzk_proto::records::Acl> for Acl {
    fn from(a: &rzk_proto::records::Acl) -> Self {
        Acl {
            perms: a.perms,
            id: Id {
                scheme: a.id.scheme.clone(),
                id: a.id.id.clone(),
            },
        }
    }
}

impl From<&Acl> for rzk_proto::records::Acl {
    fn from(a: &Acl) -> Self {
        rzk_proto::records::Acl {
            perms: a.perms,
            id: rzk_proto::records::Id {
                scheme: a.id.scheme.clone(),
                id: a.id.id.clone(),
            },
        }
    }
}

/// `user:base64(sha1(user:password))`, the id a digest ACL stores for `user:password`.
pub fn digest_id(user_password: &str) -> String {
    let user = user_password.split(':').next().unwrap_or("");
    let hash = Sha1::digest(user_password.as_bytes());
    format!(
        "{user}:{}",
        base64::engine::general_purpose::STANDARD.encode(hash)
    )
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
                || auth
                    .iter()
                    .any(|id| id.scheme == a.id.scheme && matches(&a.id, &id.id)))
    })
}

fn matches(acl_id: &Id, client: &str) -> bool {
    // Only schemes with a server AuthenticationProvider can match (ZooKeeper's checkACL).
    match acl_id.scheme.as_str() {
        "ip" => ip_matches(&acl_id.id, client),
        "digest" => acl_id.id == client,
        // X509AuthenticationProvider: the subject DN; SASLAuthenticationProvider: the user.
        "x509" | "sasl" => acl_id.id == client,
        _ => false,
    }
}

/// Java's Integer.parseInt(s, radix) for ASCII input: optional sign, digits, i32 range.
fn java_parse_int(s: &str, radix: u32) -> Option<i32> {
    i32::from_str_radix(s, radix).ok()
}

/// IPAuthenticationProvider.addr2Bytes: a ':' makes it IPv6, else a '.' makes it IPv4.
fn addr_to_bytes(addr: &str) -> Option<Vec<u8>> {
    if addr.contains(':') {
        v6_to_bytes(addr)
    } else if addr.contains('.') {
        let parts: Vec<&str> = addr.split('.').collect();
        if parts.len() != 4 {
            return None;
        }
        parts
            .iter()
            .map(|p| {
                java_parse_int(p, 10)
                    .filter(|v| (0..=255).contains(v))
                    .map(|v| v as u8)
            })
            .collect()
    } else {
        None
    }
}

/// IPAuthenticationProvider.parseV6addr: 8 hex segments, or fewer around a single "::".
fn v6_to_bytes(addr: &str) -> Option<Vec<u8>> {
    let parts: Vec<&str> = addr.split("::").collect();
    let segs = |s: &str| -> Vec<String> {
        if s.is_empty() {
            Vec::new()
        } else {
            s.split(':').map(str::to_string).collect()
        }
    };
    let (head, tail) = match parts.len() {
        1 => {
            let head: Vec<String> = parts[0].split(':').map(str::to_string).collect();
            if head.len() != 8 {
                return None;
            }
            (head, Vec::new())
        }
        2 => {
            let (h, t) = (segs(parts[0]), segs(parts[1]));
            if h.len() + t.len() >= 8 {
                return None;
            }
            (h, t)
        }
        _ => return None,
    };
    let mut out = vec![0u8; 16];
    let mut put = |start: usize, segments: &[String]| -> Option<()> {
        let mut i = start;
        for seg in segments {
            if seg.is_empty() || seg.encode_utf16().count() > 4 {
                return None;
            }
            let v = java_parse_int(seg, 16)?;
            out[i] = (v >> 8) as u8;
            out[i + 1] = v as u8;
            i += 2;
        }
        Some(())
    };
    put(0, &head)?;
    put(16 - tail.len() * 2, &tail)?;
    Some(out)
}

fn mask(b: &mut [u8], bits: usize) {
    let start = bits / 8;
    let mut m: u8 = !(((1u32 << (8 - bits % 8)) - 1) as u8);
    for byte in b.iter_mut().skip(start) {
        *byte &= m;
        m = 0;
    }
}

/// `addr[/bits]` as IPAuthenticationProvider parses it; `None` when ZooKeeper rejects it.
fn parse_ip_expr(expr: &str) -> Option<(Vec<u8>, usize)> {
    let (addr, bits) = match expr.split_once('/') {
        Some((a, b)) => (a, Some(b)),
        None => (expr, None),
    };
    let bytes = addr_to_bytes(addr)?;
    let max = bytes.len() as i32 * 8;
    let bits = match bits {
        Some(b) => java_parse_int(b, 10).filter(|b| (0..=max).contains(b))?,
        None => max,
    };
    Some((bytes, bits as usize))
}

/// IPAuthenticationProvider.matches: IPv4 or IPv6 prefix match of the client address.
fn ip_matches(pattern: &str, client: &str) -> bool {
    let Some((mut acl, bits)) = parse_ip_expr(pattern) else {
        return false;
    };
    mask(&mut acl, bits);
    let Some(mut remote) = addr_to_bytes(client) else {
        return false;
    };
    mask(&mut remote, bits);
    acl == remote
}

/// IPAuthenticationProvider.isValid.
fn valid_ip(id: &str) -> bool {
    parse_ip_expr(id).is_some()
}

/// DigestAuthenticationProvider.isValid: `id.split(":")` (Java, trailing empty strings dropped)
/// has exactly two parts.
fn valid_digest(id: &str) -> bool {
    if !id.contains(':') {
        return false;
    }
    let mut parts: Vec<&str> = id.split(':').collect();
    while parts.last() == Some(&"") {
        parts.pop();
    }
    parts.len() == 2
}

/// How getACL shows a digest id to a caller without ADMIN: Java's `id.replaceAll(":.*", ":x")`
/// (`.` stops at line terminators).
pub fn redact_digest(id: &str) -> String {
    let mut out = String::with_capacity(id.len());
    let mut rest = id;
    while let Some(i) = rest.find(':') {
        out.push_str(&rest[..i]);
        out.push_str(":x");
        let after = &rest[i + 1..];
        match after.find(['\n', '\r', '\u{85}', '\u{2028}', '\u{2029}']) {
            Some(j) => rest = &after[j..],
            None => {
                rest = "";
                break;
            }
        }
    }
    out.push_str(rest);
    out
}

/// Validates a requested ACL and expands the `auth` scheme into the session's authenticated ids
/// (ZooKeeper's fixupACL). `None` means InvalidACL. As ZooKeeper, duplicates are removed from the
/// request before expansion (an expansion may still repeat an explicit entry).
pub fn fixup(requested: &[Acl], auth: &[Id]) -> Option<Vec<Acl>> {
    let mut uniq: Vec<&Acl> = Vec::with_capacity(requested.len());
    for a in requested {
        if !uniq.contains(&a) {
            uniq.push(a);
        }
    }
    if uniq.is_empty() {
        return None;
    }
    let mut out: Vec<Acl> = Vec::with_capacity(uniq.len());
    for a in uniq {
        match a.id.scheme.as_str() {
            "world" => {
                if a.id.id != "anyone" {
                    return None;
                }
                out.push(a.clone());
            }
            "auth" => {
                let mut any = false;
                for id in auth
                    .iter()
                    .filter(|id| id.scheme != "ip" && id.scheme != "super")
                {
                    any = true;
                    out.push(Acl {
                        perms: a.perms,
                        id: id.clone(),
                    });
                }
                if !any {
                    return None;
                }
            }
            "digest" => {
                if !valid_digest(&a.id.id) {
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
            "x509" => {
                // A distinguished name (X500Principal accepts it): at least one `type=value`.
                if !a.id.id.contains('=') {
                    return None;
                }
                out.push(a.clone());
            }
            "sasl" => {
                // SASLAuthenticationProvider.isValid: any user name.
                if a.id.id.is_empty() {
                    return None;
                }
                out.push(a.clone());
            }
            _ => return None,
        }
    }
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn digest_matches_zookeeper() {
        // ZooKeeper's DigestAuthenticationProvider.generateDigest("super:test").
        assert_eq!(
            digest_id("super:test"),
            "super:D/InIHSb7yEEbrWz8b9l71RjZJU="
        );
    }

    #[test]
    fn checks() {
        let acl = vec![Acl {
            perms: perms::READ,
            id: Id::new("digest", &digest_id("u:p")),
        }];
        assert!(!check(&acl, perms::READ, &[]));
        assert!(check(
            &acl,
            perms::READ,
            &[Id::new("digest", &digest_id("u:p"))]
        ));
        assert!(!check(
            &acl,
            perms::WRITE,
            &[Id::new("digest", &digest_id("u:p"))]
        ));
        assert!(check(&acl, perms::WRITE, &[Id::new("super", "")]));
        let ip = vec![Acl {
            perms: perms::ALL,
            id: Id::new("ip", "127.0.0.0/8"),
        }];
        assert!(check(&ip, perms::READ, &[Id::new("ip", "127.0.0.5")]));
        assert!(!check(&ip, perms::READ, &[Id::new("ip", "10.0.0.5")]));
    }

    #[test]
    fn x509_ids() {
        let dn = "CN=client1,O=rzk\\, Inc.";
        let acl = vec![Acl {
            perms: perms::READ,
            id: Id::new("x509", dn),
        }];
        assert!(fixup(&acl, &[]).is_some());
        assert!(check(&acl, perms::READ, &[Id::new("x509", dn)]));
        assert!(!check(&acl, perms::READ, &[Id::new("x509", "CN=client2")]));
        assert!(!check(&acl, perms::READ, &[Id::new("digest", dn)]));
        assert!(fixup(
            &[Acl {
                perms: 1,
                id: Id::new("x509", "nodn")
            }],
            &[]
        )
        .is_none());
        let sasl = vec![Acl {
            perms: perms::READ,
            id: Id::new("sasl", "bob"),
        }];
        assert!(fixup(&sasl, &[]).is_some());
        assert!(check(&sasl, perms::READ, &[Id::new("sasl", "bob")]));
        assert!(!check(&sasl, perms::READ, &[Id::new("sasl", "alice")]));
        // `auth` expands to the x509 id too (X509AuthenticationProvider.isAuthenticated).
        let auth = vec![Acl {
            perms: perms::ALL,
            id: Id::new("auth", ""),
        }];
        assert_eq!(
            fixup(&auth, &[Id::new("ip", "127.0.0.1"), Id::new("x509", dn)]).unwrap(),
            vec![Acl {
                perms: perms::ALL,
                id: Id::new("x509", dn)
            }]
        );
    }

    #[test]
    fn fixup_rules() {
        assert!(fixup(&[], &[]).is_none());
        let auth = vec![Acl {
            perms: perms::ALL,
            id: Id::new("auth", ""),
        }];
        assert!(fixup(&auth, &[Id::new("ip", "127.0.0.1")]).is_none());
        let f = fixup(
            &auth,
            &[Id::new("ip", "127.0.0.1"), Id::new("digest", "u:x")],
        )
        .unwrap();
        assert_eq!(
            f,
            vec![Acl {
                perms: perms::ALL,
                id: Id::new("digest", "u:x")
            }]
        );
        assert!(fixup(
            &[Acl {
                perms: 1,
                id: Id::new("foo", "x")
            }],
            &[]
        )
        .is_none());
        assert!(fixup(
            &[Acl {
                perms: 1,
                id: Id::new("world", "x")
            }],
            &[]
        )
        .is_none());
        assert!(fixup(
            &[Acl {
                perms: 1,
                id: Id::new("ip", "300.1.1.1")
            }],
            &[]
        )
        .is_none());
        assert!(fixup(
            &[Acl {
                perms: 1,
                id: Id::new("digest", "nocolon")
            }],
            &[]
        )
        .is_none());
    }
}
