//! SASL DIGEST-MD5 (RFC 2831) on the server side, as ZooKeeper's SASLAuthenticationProvider with
//! the JAAS `DigestLoginModule`: users and passwords come from the `Server` section of a JAAS file
//! (`user_<name>="<password>"`), named by `-Djava.security.auth.login.config=<file>` in the
//! `SERVER_JVMFLAGS` / `JVMFLAGS` environment variables (as zkServer.sh passes it to Java) or by the
//! `rzk.jaasConfig` knob. A session that authenticates gets the ACL id `sasl:<user>`.
//!
//! Only `qop=auth` (authentication, no integrity or confidentiality layer) is offered, as
//! ZooKeeper's client uses it.

use std::collections::BTreeMap;
use std::path::Path;

/// The realm and digest-uri host ZooKeeper's DIGEST-MD5 server uses.
pub const REALM: &str = "zk-sasl-md5";

#[derive(Debug, thiserror::Error)]
pub enum JaasError {
    #[error("JAAS config {path}: {reason}")]
    Bad { path: String, reason: String },
    /// A readable file without a `Server` section: ZooKeeper then runs without SASL logins.
    #[error("JAAS config {path}: no Server section")]
    NoServerSection { path: String },
}

const NO_SERVER_SECTION: &str = "no Server section";

/// The DigestLoginModule users of a JAAS file's `Server` section.
#[derive(Debug, Clone, Default)]
pub struct Users(BTreeMap<String, String>);

impl Users {
    pub fn password(&self, user: &str) -> Option<&str> {
        self.0.get(user).map(String::as_str)
    }
    pub fn len(&self) -> usize {
        self.0.len()
    }
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

/// Where the JAAS file is: `rzk.jaasConfig`, else `-Djava.security.auth.login.config=` in
/// SERVER_JVMFLAGS or JVMFLAGS.
pub fn jaas_path(cfg: &rzk_config::ServerConfig) -> Option<String> {
    if let Some(p) = cfg.rzk_knob("jaasConfig") {
        return Some(p.to_string());
    }
    for var in ["SERVER_JVMFLAGS", "JVMFLAGS"] {
        if let Ok(v) = std::env::var(var) {
            for tok in v.split_whitespace() {
                if let Some(p) = tok.strip_prefix("-Djava.security.auth.login.config=") {
                    return Some(p.trim_matches('"').to_string());
                }
            }
        }
    }
    None
}

/// Reads the `Server` section of a JAAS file.
pub fn load_users(path: &Path) -> Result<Users, JaasError> {
    let bad = |reason: String| JaasError::Bad {
        path: path.display().to_string(),
        reason,
    };
    let text = std::fs::read_to_string(path).map_err(|e| bad(e.to_string()))?;
    parse_jaas(&text).map_err(|reason| match reason.as_str() {
        NO_SERVER_SECTION => JaasError::NoServerSection {
            path: path.display().to_string(),
        },
        _ => bad(reason),
    })
}

/// JAAS syntax: `Name { module flag key="value" ...; ... };`, `//` and `/* */` comments.
pub fn parse_jaas(text: &str) -> Result<Users, String> {
    let mut s = String::with_capacity(text.len());
    let mut rest = text;
    while !rest.is_empty() {
        if let Some(r) = rest.strip_prefix("//") {
            rest = r.find('\n').map_or("", |i| &r[i..]);
        } else if let Some(r) = rest.strip_prefix("/*") {
            rest = r.find("*/").map_or("", |i| &r[i + 2..]);
        } else if rest.starts_with('"') {
            let end = rest[1..].find('"').map(|i| i + 2).unwrap_or(rest.len());
            s.push_str(&rest[..end]);
            rest = &rest[end..];
        } else {
            let ch = rest.chars().next().unwrap_or(' ');
            s.push(ch);
            rest = &rest[ch.len_utf8()..];
        }
    }
    let mut users = BTreeMap::new();
    let mut found = false;
    let mut pos = 0;
    while let Some(open) = s[pos..].find('{') {
        let name = s[pos..pos + open].trim().trim_start_matches(';').trim();
        let body_start = pos + open + 1;
        let close = s[body_start..]
            .find('}')
            .ok_or_else(|| format!("section {name:?} has no closing brace"))?;
        let body = &s[body_start..body_start + close];
        pos = body_start + close + 1;
        if name != "Server" {
            continue;
        }
        found = true;
        for entry in split_unquoted(body, ';')
            .iter()
            .map(|e| e.trim())
            .filter(|e| !e.is_empty())
        {
            let mut toks = tokens(entry);
            let module = toks.next().unwrap_or_default();
            if !module.ends_with("DigestLoginModule") {
                return Err(format!(
                    "login module {module} is not supported (only org.apache.zookeeper.server.auth.DigestLoginModule)"
                ));
            }
            let _flag = toks.next();
            for kv in toks {
                let Some((k, v)) = kv.split_once('=') else {
                    return Err(format!("expected key=\"value\", got {kv:?}"));
                };
                let v = v.trim().trim_matches('"');
                if let Some(user) = k.trim().strip_prefix("user_") {
                    users.insert(user.to_string(), v.to_string());
                }
            }
        }
    }
    if !found {
        return Err(NO_SERVER_SECTION.into());
    }
    if users.is_empty() {
        return Err("the Server section defines no user_<name>=\"<password>\"".into());
    }
    Ok(Users(users))
}

/// Splits on `sep` outside double quotes.
fn split_unquoted(s: &str, sep: char) -> Vec<&str> {
    let mut out = Vec::new();
    let (mut start, mut quoted) = (0, false);
    for (i, ch) in s.char_indices() {
        if ch == '"' {
            quoted = !quoted;
        } else if ch == sep && !quoted {
            out.push(&s[start..i]);
            start = i + 1;
        }
    }
    out.push(&s[start..]);
    out
}

/// The users of the JAAS file, loaded once at startup when the SASL provider is configured.
pub static USERS: std::sync::OnceLock<Users> = std::sync::OnceLock::new();

/// Splits on whitespace outside double quotes.
fn tokens(s: &str) -> impl Iterator<Item = String> + '_ {
    let mut out = Vec::new();
    let mut cur = String::new();
    let mut quoted = false;
    for ch in s.chars() {
        match ch {
            '"' => {
                quoted = !quoted;
                cur.push(ch);
            }
            c if c.is_whitespace() && !quoted => {
                if !cur.is_empty() {
                    out.push(std::mem::take(&mut cur));
                }
            }
            c => cur.push(c),
        }
    }
    if !cur.is_empty() {
        out.push(cur);
    }
    out.into_iter()
}

// ---------------------------------------------------------------------------------------------
// MD5 (RFC 1321).

pub fn md5(data: &[u8]) -> [u8; 16] {
    const S: [u32; 64] = [
        7, 12, 17, 22, 7, 12, 17, 22, 7, 12, 17, 22, 7, 12, 17, 22, 5, 9, 14, 20, 5, 9, 14, 20, 5,
        9, 14, 20, 5, 9, 14, 20, 4, 11, 16, 23, 4, 11, 16, 23, 4, 11, 16, 23, 4, 11, 16, 23, 6, 10,
        15, 21, 6, 10, 15, 21, 6, 10, 15, 21, 6, 10, 15, 21,
    ];
    let k: Vec<u32> = (0..64)
        .map(|i| ((i as f64 + 1.0).sin().abs() * 4294967296.0) as u32)
        .collect();
    let (mut a0, mut b0, mut c0, mut d0) =
        (0x67452301u32, 0xefcdab89u32, 0x98badcfeu32, 0x10325476u32);
    let mut msg = data.to_vec();
    let bits = (data.len() as u64).wrapping_mul(8);
    msg.push(0x80);
    while msg.len() % 64 != 56 {
        msg.push(0);
    }
    msg.extend_from_slice(&bits.to_le_bytes());
    for chunk in msg.chunks(64) {
        let m: Vec<u32> = chunk
            .chunks(4)
            .map(|w| u32::from_le_bytes([w[0], w[1], w[2], w[3]]))
            .collect();
        let (mut a, mut b, mut c, mut d) = (a0, b0, c0, d0);
        for i in 0..64 {
            let (f, g) = match i / 16 {
                0 => ((b & c) | (!b & d), i),
                1 => ((d & b) | (!d & c), (5 * i + 1) % 16),
                2 => (b ^ c ^ d, (3 * i + 5) % 16),
                _ => (c ^ (b | !d), (7 * i) % 16),
            };
            let f = f.wrapping_add(a).wrapping_add(k[i]).wrapping_add(m[g]);
            a = d;
            d = c;
            c = b;
            b = b.wrapping_add(f.rotate_left(S[i]));
        }
        a0 = a0.wrapping_add(a);
        b0 = b0.wrapping_add(b);
        c0 = c0.wrapping_add(c);
        d0 = d0.wrapping_add(d);
    }
    let mut out = [0u8; 16];
    for (i, v) in [a0, b0, c0, d0].iter().enumerate() {
        out[i * 4..i * 4 + 4].copy_from_slice(&v.to_le_bytes());
    }
    out
}

fn hex(b: &[u8]) -> String {
    b.iter().map(|x| format!("{x:02x}")).collect()
}

// ---------------------------------------------------------------------------------------------
// DIGEST-MD5 server.

/// Where a session's DIGEST-MD5 exchange is.
#[derive(Debug, Clone)]
pub enum Digest {
    /// Nothing sent yet.
    Start,
    /// The challenge with this nonce went out.
    Challenged { nonce: String },
    /// Authenticated as this authorization id.
    Done(String),
}

/// What to answer a client's SASL token.
#[derive(Debug, PartialEq, Eq)]
pub enum Step {
    /// Send this token; not finished.
    Continue(Vec<u8>),
    /// Send this token; the session is authenticated as the user.
    Success(Vec<u8>, String),
    /// Authentication failed (the reason is for the log).
    Failure(String),
}

/// `key=value` / `key="quoted value"` pairs of a digest-challenge/response.
fn directives(s: &str) -> Result<BTreeMap<String, String>, String> {
    let mut out = BTreeMap::new();
    let b = s.as_bytes();
    let mut i = 0;
    while i < b.len() {
        while i < b.len() && (b[i] == b',' || b[i].is_ascii_whitespace()) {
            i += 1;
        }
        if i >= b.len() {
            break;
        }
        let ks = i;
        while i < b.len() && b[i] != b'=' {
            i += 1;
        }
        let key = s[ks..i].trim().to_ascii_lowercase();
        if i >= b.len() {
            return Err(format!("directive {key:?} has no value"));
        }
        i += 1;
        let mut val = Vec::new();
        if b.get(i) == Some(&b'"') {
            i += 1;
            while i < b.len() && b[i] != b'"' {
                if b[i] == b'\\' && i + 1 < b.len() {
                    i += 1;
                }
                val.push(b[i]);
                i += 1;
            }
            if i >= b.len() {
                return Err(format!("unterminated quoted value of {key:?}"));
            }
            i += 1;
        } else {
            while i < b.len() && b[i] != b',' {
                val.push(b[i]);
                i += 1;
            }
        }
        let val = String::from_utf8(val).map_err(|_| "value is not UTF-8".to_string())?;
        out.insert(key, val.trim().to_string());
    }
    Ok(out)
}

impl Digest {
    /// Answers the client's `token`.
    pub fn step(&mut self, token: &[u8], users: &Users) -> Step {
        match std::mem::replace(self, Digest::Start) {
            Digest::Start => {
                let nonce = hex(&rand::random::<[u8; 16]>());
                let ch = format!(
                    "realm=\"{REALM}\",nonce=\"{nonce}\",qop=\"auth\",charset=utf-8,algorithm=md5-sess"
                );
                *self = Digest::Challenged { nonce };
                Step::Continue(ch.into_bytes())
            }
            Digest::Challenged { nonce } => match verify(token, &nonce, users) {
                Ok((rspauth, user)) => {
                    *self = Digest::Done(user.clone());
                    Step::Success(format!("rspauth={rspauth}").into_bytes(), user)
                }
                Err(e) => Step::Failure(e),
            },
            Digest::Done(u) => {
                *self = Digest::Done(u);
                Step::Failure("SASL authentication already completed".into())
            }
        }
    }
}

/// Checks a digest-response; (rspauth, authorization id).
fn verify(token: &[u8], nonce: &str, users: &Users) -> Result<(String, String), String> {
    let text = std::str::from_utf8(token).map_err(|_| "response is not UTF-8".to_string())?;
    let d = directives(text)?;
    let get = |k: &str| {
        d.get(k)
            .map(String::as_str)
            .ok_or_else(|| format!("response has no {k}"))
    };
    let user = get("username")?;
    let realm = d.get("realm").map(String::as_str).unwrap_or("");
    let cnonce = get("cnonce")?;
    let nc = get("nc")?;
    let uri = get("digest-uri")?;
    let response = get("response")?;
    let qop = d.get("qop").map(String::as_str).unwrap_or("auth");
    if get("nonce")? != nonce {
        return Err("nonce does not match the challenge".into());
    }
    if qop != "auth" {
        return Err(format!("qop {qop} is not offered"));
    }
    if !uri.starts_with("zookeeper/") {
        return Err(format!("digest-uri {uri} is not zookeeper/<host>"));
    }
    let authzid = d.get("authzid").map(String::as_str);
    let Some(password) = users.password(user) else {
        return Err(format!("unknown user {user}"));
    };
    let mut a1 = md5(format!("{user}:{realm}:{password}").as_bytes()).to_vec();
    a1.extend_from_slice(format!(":{nonce}:{cnonce}").as_bytes());
    if let Some(z) = authzid {
        a1.extend_from_slice(format!(":{z}").as_bytes());
    }
    let ha1 = hex(&md5(&a1));
    let kd = |a2: &str| {
        let ha2 = hex(&md5(a2.as_bytes()));
        hex(&md5(
            format!("{ha1}:{nonce}:{nc}:{cnonce}:{qop}:{ha2}").as_bytes()
        ))
    };
    if !response.eq_ignore_ascii_case(&kd(&format!("AUTHENTICATE:{uri}"))) {
        return Err(format!("wrong password for user {user}"));
    }
    let id = match authzid {
        Some(z) if z != user => {
            return Err(format!("user {user} may not act as {z}"));
        }
        _ => user.to_string(),
    };
    Ok((kd(&format!(":{uri}")), id))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn md5_vectors() {
        assert_eq!(hex(&md5(b"")), "d41d8cd98f00b204e9800998ecf8427e");
        assert_eq!(hex(&md5(b"abc")), "900150983cd24fb0d6963f7d28e17f72");
        assert_eq!(
            hex(&md5(
                b"12345678901234567890123456789012345678901234567890123456789012345678901234567890"
            )),
            "57edf4a22be3c955ac49da2e2107b67a"
        );
    }

    #[test]
    fn jaas_server_section() {
        let u = parse_jaas(
            "// comment\nClient { x required username=\"a\"; };\nServer {\n  org.apache.zookeeper.server.auth.DigestLoginModule required\n  user_super=\"adm;in\"\n  user_bob=\"bob secret\";\n};\n",
        )
        .unwrap();
        assert_eq!(u.password("bob"), Some("bob secret"));
        assert_eq!(u.password("super"), Some("adm;in"));
        assert_eq!(u.len(), 2);
        assert!(parse_jaas("Client { a required; };").is_err());
        assert!(parse_jaas("Server { com.sun.Krb5LoginModule required; };").is_err());
        assert!(parse_jaas("Server { x.DigestLoginModule required; };").is_err());
        assert!(parse_jaas("Server { ").is_err());
    }

    /// The client side of RFC 2831 for `user`/`pass` against `challenge`.
    fn client_response(challenge: &str, user: &str, pass: &str) -> String {
        let d = directives(challenge).unwrap();
        let (nonce, realm) = (&d["nonce"], &d["realm"]);
        let cnonce = "OA6MHXh6VqTrRk";
        let uri = "zookeeper/zk-sasl-md5";
        let mut a1 = md5(format!("{user}:{realm}:{pass}").as_bytes()).to_vec();
        a1.extend_from_slice(format!(":{nonce}:{cnonce}").as_bytes());
        let ha1 = hex(&md5(&a1));
        let ha2 = hex(&md5(format!("AUTHENTICATE:{uri}").as_bytes()));
        let r = hex(&md5(
            format!("{ha1}:{nonce}:00000001:{cnonce}:auth:{ha2}").as_bytes()
        ));
        format!("charset=utf-8,username=\"{user}\",realm=\"{realm}\",nonce=\"{nonce}\",nc=00000001,cnonce=\"{cnonce}\",digest-uri=\"{uri}\",maxbuf=65536,response={r},qop=auth")
    }

    #[test]
    fn digest_md5_exchange() {
        let users =
            parse_jaas("Server { a.DigestLoginModule required user_bob=\"pw\"; };").unwrap();
        let mut d = Digest::Start;
        let Step::Continue(ch) = d.step(b"", &users) else {
            panic!()
        };
        let ch = String::from_utf8(ch).unwrap();
        assert!(ch.contains("algorithm=md5-sess") && ch.contains("realm=\"zk-sasl-md5\""));
        let mut bad = d.clone();
        let resp = client_response(&ch, "bob", "pw");
        match d.step(resp.as_bytes(), &users) {
            Step::Success(tok, user) => {
                assert!(tok.starts_with(b"rspauth="));
                assert_eq!(user, "bob");
            }
            other => panic!("{other:?}"),
        }
        let wrong = client_response(&ch, "bob", "nope");
        assert_eq!(
            bad.step(wrong.as_bytes(), &users),
            Step::Failure("wrong password for user bob".into())
        );
        let mut d = Digest::Challenged { nonce: "n".into() };
        assert!(matches!(
            d.step(b"\xff\x00garbage=\"", &users),
            Step::Failure(_)
        ));
    }
}
