//! TLS for client connections (rustls, ring provider): the server configuration built from the
//! `ssl.*` keys (PEM key and trust stores, `ssl.clientAuth`, protocols, cipher suites), its
//! reload when the files change on disk, and the x509 identity of a client certificate
//! (subject DN as Java's `X500Principal.getName()` prints it, RFC 2253).
//!
//! A store that cannot be read at startup is an error; a store that cannot be read on reload is
//! logged and the previous certificates stay in use.

use crate::keystore;
use parking_lot::RwLock;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use rustls::server::WebPkiClientVerifier;
use rzk_config::{ClientAuth, SecurityConfig, StoreConfig, TlsVersion};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, SystemTime};

#[derive(Debug, thiserror::Error)]
pub enum TlsError {
    #[error("{key}: cannot read {path}: {reason}")]
    Store {
        key: &'static str,
        path: String,
        reason: String,
    },
    #[error("TLS configuration: {0}")]
    Config(String),
}

/// The live TLS server configuration; [`Tls::acceptor`] always hands out the newest one.
pub struct Tls {
    sec: SecurityConfig,
    current: RwLock<Arc<rustls::ServerConfig>>,
    stamps: RwLock<Vec<Stamp>>,
}

fn store_err(key: &'static str, path: &Path, reason: impl Into<String>) -> TlsError {
    TlsError::Store {
        key,
        path: path.display().to_string(),
        reason: reason.into(),
    }
}

/// The certificate chain and private key of `ssl.keyStore.location`: one PEM file (as in
/// ZooKeeper; a key in a separate file is not supported), or a JKS/PKCS12 store (keystore.rs).
fn load_key_store(
    store: &StoreConfig,
    path: &Path,
) -> Result<(Vec<CertificateDer<'static>>, PrivateKeyDer<'static>), TlsError> {
    const KEY: &str = "ssl.keyStore.location";
    let text = std::fs::read(path).map_err(|e| store_err(KEY, path, e.to_string()))?;
    if let Some(kind) = keystore::binary_kind(store, path, &text) {
        let pw = keystore::password(store).map_err(|e| store_err(KEY, path, e))?;
        return keystore::key_store(&text, kind, &pw).map_err(|e| store_err(KEY, path, e));
    }
    let certs: Vec<CertificateDer<'static>> = CertificateDer::pem_slice_iter(&text)
        .collect::<Result<_, _>>()
        .map_err(|e| store_err(KEY, path, format!("bad PEM certificate: {e}")))?;
    if certs.is_empty() {
        return Err(store_err(KEY, path, "no CERTIFICATE in the file"));
    }
    let key = match PrivateKeyDer::from_pem_slice(&text) {
        Ok(k) => k,
        Err(_) if text.windows(23).any(|w| w == b"ENCRYPTED PRIVATE KEY--") => {
            return Err(store_err(
                KEY,
                path,
                "the private key is encrypted; rzk reads unencrypted PEM keys only (decrypt it with `openssl pkey -in key.pem -out plain.pem`)",
            ))
        }
        Err(e) => return Err(store_err(KEY, path, format!("no usable private key: {e}"))),
    };
    if let Some(na) = not_after(&certs[0]) {
        if na < SystemTime::now() {
            tracing::warn!(path = %path.display(), "the server certificate has expired; clients will refuse it");
        }
    }
    Ok((certs, key))
}

fn load_trust_store(store: &StoreConfig, path: &Path) -> Result<rustls::RootCertStore, TlsError> {
    const KEY: &str = "ssl.trustStore.location";
    let text = std::fs::read(path).map_err(|e| store_err(KEY, path, e.to_string()))?;
    let mut roots = rustls::RootCertStore::empty();
    let certs: Vec<CertificateDer<'static>> = match keystore::binary_kind(store, path, &text) {
        Some(kind) => {
            let pw = keystore::password(store).map_err(|e| store_err(KEY, path, e))?;
            keystore::trust_store(&text, kind, &pw).map_err(|e| store_err(KEY, path, e))?
        }
        None => CertificateDer::pem_slice_iter(&text)
            .collect::<Result<_, _>>()
            .map_err(|e| store_err(KEY, path, format!("bad PEM certificate: {e}")))?,
    };
    for c in certs {
        roots
            .add(c)
            .map_err(|e| store_err(KEY, path, format!("unusable CA certificate: {e}")))?;
    }
    if roots.is_empty() {
        return Err(store_err(KEY, path, "no CERTIFICATE in the file"));
    }
    Ok(roots)
}

/// The rustls provider restricted to `ssl.ciphersuites` (IANA names, TLS 1.3 ones without the
/// `13`: `TLS_AES_128_GCM_SHA256` is rustls' `TLS13_AES_128_GCM_SHA256`).
fn provider(sec: &SecurityConfig) -> Result<rustls::crypto::CryptoProvider, TlsError> {
    let mut p = rustls::crypto::ring::default_provider();
    if let Some(want) = &sec.cipher_suites {
        let name_of = |s: &rustls::SupportedCipherSuite| {
            s.suite()
                .as_str()
                .unwrap_or("")
                .replacen("TLS13_", "TLS_", 1)
        };
        for w in want {
            if !p.cipher_suites.iter().any(|s| name_of(s) == *w) {
                return Err(TlsError::Config(format!(
                    "ssl.ciphersuites: {w} is not offered by this build"
                )));
            }
        }
        p.cipher_suites.retain(|s| want.contains(&name_of(s)));
    }
    Ok(p)
}

fn build(sec: &SecurityConfig) -> Result<rustls::ServerConfig, TlsError> {
    let key_path = sec
        .key_store
        .location
        .as_deref()
        .ok_or_else(|| TlsError::Config("ssl.keyStore.location is not set".into()))?;
    let (certs, key) = load_key_store(&sec.key_store, key_path)?;
    let provider = Arc::new(provider(sec)?);
    let certified = Arc::new(certified_key(&provider, certs, key, key_path)?);
    let versions: Vec<&'static rustls::SupportedProtocolVersion> = sec
        .protocols()
        .iter()
        .map(|v| match v {
            TlsVersion::Tls12 => &rustls::version::TLS12,
            TlsVersion::Tls13 => &rustls::version::TLS13,
        })
        .collect();
    let builder = rustls::ServerConfig::builder_with_provider(provider.clone())
        .with_protocol_versions(&versions)
        .map_err(|e| {
            TlsError::Config(format!(
                "ssl.enabledProtocols / ssl.ciphersuites: no usable combination: {e}"
            ))
        })?;
    let builder = match (sec.client_auth, &sec.trust_store.location) {
        (ClientAuth::None, _) => builder.with_no_client_auth(),
        (auth, Some(tp)) => {
            let roots = Arc::new(load_trust_store(&sec.trust_store, tp)?);
            let mut v = WebPkiClientVerifier::builder_with_provider(roots, provider);
            if auth == ClientAuth::Want {
                v = v.allow_unauthenticated();
            }
            let v = v
                .build()
                .map_err(|e| TlsError::Config(format!("ssl.trustStore.location: {e}")))?;
            builder.with_client_cert_verifier(v)
        }
        (_, None) => return Err(TlsError::Config(
            "ssl.clientAuth asks for client certificates but ssl.trustStore.location is not set"
                .into(),
        )),
    };
    Ok(builder.with_cert_resolver(Arc::new(OneCert(certified))))
}

/// The server's certificate chain with its signing key. An X.509 v1 certificate (what some test
/// harnesses and old tooling make; Java accepts it) is served with a warning: the key-match check
/// cannot parse it, and clients using webpki will refuse it.
fn certified_key(
    provider: &rustls::crypto::CryptoProvider,
    certs: Vec<CertificateDer<'static>>,
    key: PrivateKeyDer<'static>,
    key_path: &Path,
) -> Result<rustls::sign::CertifiedKey, TlsError> {
    const KEY: &str = "ssl.keyStore.location";
    let signing = provider
        .key_provider
        .load_private_key(key)
        .map_err(|e| store_err(KEY, key_path, format!("unusable private key: {e}")))?;
    let ck = rustls::sign::CertifiedKey::new(certs, signing);
    match ck.keys_match() {
        Ok(()) => {}
        Err(e) if format!("{e:?}").contains("UnsupportedCertVersion") => tracing::warn!(
            path = %key_path.display(),
            "the server certificate is X.509 v1: served as is, but its key could not be checked against it and clients using webpki (rustls) refuse v1 certificates; issue a v3 certificate"
        ),
        Err(e) => {
            return Err(store_err(
                KEY,
                key_path,
                format!("certificate and key do not fit together: {e}"),
            ))
        }
    }
    Ok(ck)
}

/// Serves one certificate chain to every client.
#[derive(Debug)]
struct OneCert(Arc<rustls::sign::CertifiedKey>);

impl rustls::server::ResolvesServerCert for OneCert {
    fn resolve(
        &self,
        _hello: rustls::server::ClientHello<'_>,
    ) -> Option<Arc<rustls::sign::CertifiedKey>> {
        Some(self.0.clone())
    }
}

/// What tells a changed store file: modification time, size and inode (a Kubernetes Secret
/// update swaps a symlink to a new file, which may keep the old time).
type Stamp = Option<(SystemTime, u64, u64)>;

fn stamp(p: &Path) -> Stamp {
    use std::os::unix::fs::MetadataExt;
    let m = std::fs::metadata(p).ok()?;
    Some((m.modified().ok()?, m.len(), m.ino()))
}

impl Tls {
    /// Reads the stores; an unreadable or inconsistent one is an error (startup).
    pub fn load(sec: &SecurityConfig) -> Result<Arc<Tls>, TlsError> {
        let cfg = build(sec)?;
        let tls = Tls {
            sec: sec.clone(),
            current: RwLock::new(Arc::new(cfg)),
            stamps: RwLock::new(Vec::new()),
        };
        *tls.stamps.write() = tls.paths().iter().map(|p| stamp(p)).collect();
        Ok(Arc::new(tls))
    }

    fn paths(&self) -> Vec<PathBuf> {
        [&self.sec.key_store.location, &self.sec.trust_store.location]
            .into_iter()
            .flatten()
            .cloned()
            .collect()
    }

    pub fn acceptor(&self) -> tokio_rustls::TlsAcceptor {
        tokio_rustls::TlsAcceptor::from(self.current.read().clone())
    }

    /// Re-reads the stores if a file changed since the last look; keeps the old configuration
    /// (and logs why) when the new files do not load.
    pub fn reload_if_changed(&self) -> bool {
        let now: Vec<Stamp> = self.paths().iter().map(|p| stamp(p)).collect();
        if *self.stamps.read() == now {
            return false;
        }
        *self.stamps.write() = now;
        match build(&self.sec) {
            Ok(cfg) => {
                *self.current.write() = Arc::new(cfg);
                tracing::info!("TLS certificates reloaded");
                true
            }
            Err(e) => {
                tracing::error!(error = %e, "TLS certificate reload failed; still using the previous certificates");
                false
            }
        }
    }

    /// Watches the store files (every `period`) for the life of the process.
    pub fn spawn_watcher(self: &Arc<Self>, period: Duration) {
        let me = Arc::downgrade(self);
        tokio::spawn(async move {
            loop {
                tokio::time::sleep(period).await;
                let Some(t) = me.upgrade() else { return };
                let _ = tokio::task::spawn_blocking(move || t.reload_if_changed()).await;
            }
        });
    }
}

/// How often the store files are looked at (`rzk.certReloadIntervalMs`, default 5 s).
pub fn reload_interval(cfg: &rzk_config::ServerConfig) -> Duration {
    let ms = cfg
        .rzk_knob("certReloadIntervalMs")
        .and_then(|v| v.parse::<u64>().ok())
        .unwrap_or(5000)
        .max(100);
    Duration::from_millis(ms)
}

// ---------------------------------------------------------------------------------------------
// A minimal DER reader for the parts of a certificate rzk needs: the subject and notAfter.

struct Der<'a> {
    b: &'a [u8],
}

/// (tag, content, whole encoding) of the next element.
fn next<'a>(d: &mut Der<'a>) -> Option<(u8, &'a [u8], &'a [u8])> {
    let b = d.b;
    let tag = *b.first()?;
    if tag & 0x1f == 0x1f {
        return None; // multi-byte tags do not occur in the fields read here
    }
    let l0 = *b.get(1)? as usize;
    let (len, hdr) = if l0 < 0x80 {
        (l0, 2)
    } else {
        let n = l0 & 0x7f;
        if n == 0 || n > 4 {
            return None;
        }
        let mut len = 0usize;
        for i in 0..n {
            len = (len << 8) | *b.get(2 + i)? as usize;
        }
        (len, 2 + n)
    };
    let end = hdr.checked_add(len)?;
    let whole = b.get(..end)?;
    d.b = &b[end..];
    Some((tag, &whole[hdr..], whole))
}

/// The TBSCertificate's fields, from `version` on.
fn tbs_fields(cert: &[u8]) -> Option<Der<'_>> {
    let (t, c, _) = next(&mut Der { b: cert })?;
    if t != 0x30 {
        return None;
    }
    let (t, tbs, _) = next(&mut Der { b: c })?;
    if t != 0x30 {
        return None;
    }
    let mut d = Der { b: tbs };
    if d.b.first() == Some(&0xa0) {
        next(&mut d)?; // [0] version
    }
    next(&mut d)?; // serialNumber
    next(&mut d)?; // signature algorithm
    next(&mut d)?; // issuer
    Some(d)
}

fn not_after(cert: &[u8]) -> Option<SystemTime> {
    let mut d = tbs_fields(cert)?;
    let (_, validity, _) = next(&mut d)?;
    let mut v = Der { b: validity };
    next(&mut v)?;
    let (tag, t, _) = next(&mut v)?;
    let s = std::str::from_utf8(t).ok()?;
    let digits = |r: std::ops::Range<usize>| s.get(r).and_then(|x| x.parse::<i64>().ok());
    let (year, rest) = match tag {
        0x17 => {
            let y = digits(0..2)?;
            (if y >= 50 { 1900 + y } else { 2000 + y }, 2)
        }
        0x18 => (digits(0..4)?, 4),
        _ => return None,
    };
    let (mo, da, h, mi, se) = (
        digits(rest..rest + 2)?,
        digits(rest + 2..rest + 4)?,
        digits(rest + 4..rest + 6)?,
        digits(rest + 6..rest + 8)?,
        digits(rest + 8..rest + 10)?,
    );
    // Days from the civil date (Howard Hinnant's algorithm).
    let y = if mo <= 2 { year - 1 } else { year };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (mo + 9) % 12;
    let doy = (153 * mp + 2) / 5 + da - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    let days = era * 146097 + doe - 719468;
    let secs = days * 86400 + h * 3600 + mi * 60 + se;
    let secs = u64::try_from(secs).ok()?;
    Some(SystemTime::UNIX_EPOCH + Duration::from_secs(secs))
}

fn oid_string(b: &[u8]) -> Option<String> {
    let first = *b.first()?;
    let mut parts = vec![
        (first / 40).min(2) as u64,
        (first as u64) - 40 * (first / 40).min(2) as u64,
    ];
    let mut acc: u64 = 0;
    for &x in &b[1..] {
        acc = acc.checked_mul(128)? | (x & 0x7f) as u64;
        if x & 0x80 == 0 {
            parts.push(acc);
            acc = 0;
        }
    }
    Some(
        parts
            .iter()
            .map(u64::to_string)
            .collect::<Vec<_>>()
            .join("."),
    )
}

/// The RFC 2253 keywords Java's `X500Principal.getName()` uses; other attributes print as
/// `OID=#hex`.
fn keyword(oid: &str) -> Option<&'static str> {
    Some(match oid {
        "2.5.4.3" => "CN",
        "2.5.4.6" => "C",
        "2.5.4.7" => "L",
        "2.5.4.8" => "ST",
        "2.5.4.10" => "O",
        "2.5.4.11" => "OU",
        "2.5.4.9" => "STREET",
        "0.9.2342.19200300.100.1.25" => "DC",
        "0.9.2342.19200300.100.1.1" => "UID",
        _ => return None,
    })
}

/// A directory string value as text (UTF8String, PrintableString, IA5String, T61String,
/// BMPString, UniversalString), or `None` for anything else.
fn string_value(tag: u8, c: &[u8]) -> Option<String> {
    match tag {
        0x0c | 0x13 | 0x16 => String::from_utf8(c.to_vec()).ok(),
        0x14 => Some(c.iter().map(|&b| b as char).collect()),
        0x1e => {
            let u: Vec<u16> = c
                .chunks(2)
                .map(|p| u16::from_be_bytes([p[0], *p.get(1).unwrap_or(&0)]))
                .collect();
            String::from_utf16(&u).ok()
        }
        0x1c => c
            .chunks(4)
            .map(|p| {
                let mut a = [0u8; 4];
                a[..p.len()].copy_from_slice(p);
                char::from_u32(u32::from_be_bytes(a))
            })
            .collect(),
        _ => None,
    }
}

/// RFC 2253 escaping, as Java's AVA does it.
fn escape(v: &str) -> String {
    let mut out = String::with_capacity(v.len());
    let n = v.chars().count();
    for (i, ch) in v.chars().enumerate() {
        let special = matches!(ch, ',' | '+' | '"' | '\\' | '<' | '>' | ';')
            || (i == 0 && (ch == '#' || ch == ' '))
            || (i + 1 == n && ch == ' ');
        if special {
            out.push('\\');
        }
        out.push(ch);
    }
    out
}

fn hex(b: &[u8]) -> String {
    b.iter().map(|x| format!("{x:02x}")).collect()
}

/// The subject of a DER certificate in RFC 2253 form (most specific RDN first), as Java's
/// `X500Principal.getName()`: ZooKeeper's X509AuthenticationProvider id for the certificate.
pub fn subject_dn(cert: &[u8]) -> Option<String> {
    let mut d = tbs_fields(cert)?;
    next(&mut d)?; // validity
    let (t, name, _) = next(&mut d)?;
    if t != 0x30 {
        return None;
    }
    let mut rdns = Vec::new();
    let mut nd = Der { b: name };
    while !nd.b.is_empty() {
        let (t, set, _) = next(&mut nd)?;
        if t != 0x31 {
            return None;
        }
        let mut avas = Vec::new();
        let mut sd = Der { b: set };
        while !sd.b.is_empty() {
            let (t, ava, _) = next(&mut sd)?;
            if t != 0x30 {
                return None;
            }
            let mut ad = Der { b: ava };
            let (t, oid, _) = next(&mut ad)?;
            if t != 0x06 {
                return None;
            }
            let oid = oid_string(oid)?;
            let (vt, vc, whole) = next(&mut ad)?;
            let text = match (keyword(&oid), string_value(vt, vc)) {
                (Some(k), Some(s)) => format!("{k}={}", escape(&s)),
                (Some(k), None) => format!("{k}=#{}", hex(whole)),
                (None, _) => format!("{oid}=#{}", hex(whole)),
            };
            avas.push(text);
        }
        rdns.push(avas.join("+"));
    }
    rdns.reverse();
    Some(rdns.join(","))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tlv(tag: u8, c: &[u8]) -> Vec<u8> {
        let mut v = vec![tag];
        if c.len() < 128 {
            v.push(c.len() as u8);
        } else {
            v.extend([0x82, (c.len() >> 8) as u8, c.len() as u8]);
        }
        v.extend_from_slice(c);
        v
    }

    fn ava(oid: &[u8], tag: u8, val: &str) -> Vec<u8> {
        let mut a = tlv(0x06, oid);
        a.extend(tlv(tag, val.as_bytes()));
        tlv(0x31, &tlv(0x30, &a))
    }

    fn cert_with_subject(rdns: &[Vec<u8>], not_after: &str) -> Vec<u8> {
        let name: Vec<u8> = tlv(0x30, &rdns.concat());
        let mut tbs = tlv(0xa0, &tlv(0x02, &[2]));
        tbs.extend(tlv(0x02, &[1]));
        tbs.extend(tlv(0x30, &tlv(0x06, &[0x2a, 0x86, 0x48])));
        tbs.extend(tlv(0x30, &[])); // issuer
        let mut val = tlv(0x17, b"200101000000Z");
        val.extend(tlv(0x17, not_after.as_bytes()));
        tbs.extend(tlv(0x30, &val));
        tbs.extend(name);
        let mut cert = tlv(0x30, &tbs);
        cert.extend(tlv(0x30, &[]));
        tlv(0x30, &cert)
    }

    #[test]
    fn subject_is_rfc2253_most_specific_first() {
        let c = cert_with_subject(
            &[
                ava(&[0x55, 4, 6], 0x13, "US"),
                ava(&[0x55, 4, 10], 0x0c, "rzk, Inc."),
                ava(&[0x55, 4, 11], 0x0c, "#dev "),
                ava(&[0x55, 4, 3], 0x0c, "client1"),
                ava(
                    &[0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x09, 0x01],
                    0x16,
                    "a@b",
                ),
            ],
            "491231235959Z",
        );
        assert_eq!(
            subject_dn(&c).unwrap(),
            "1.2.840.113549.1.9.1=#1603614062,CN=client1,OU=\\#dev\\ ,O=rzk\\, Inc.,C=US"
        );
        let na = not_after(&c).unwrap();
        assert_eq!(
            na.duration_since(SystemTime::UNIX_EPOCH).unwrap().as_secs(),
            2524607999
        );
    }

    fn sec_with(key: &std::path::Path) -> SecurityConfig {
        SecurityConfig {
            secure_client_port: Some(1),
            client_auth: ClientAuth::None,
            key_store: rzk_config::StoreConfig {
                location: Some(key.to_path_buf()),
                ..Default::default()
            },
            ..Default::default()
        }
    }

    #[test]
    fn bad_key_stores_are_clear_errors() {
        let dir = tempfile::tempdir().unwrap();
        let missing = dir.path().join("missing.pem");
        let e = Tls::load(&sec_with(&missing)).err().unwrap().to_string();
        assert!(
            e.starts_with(&format!(
                "ssl.keyStore.location: cannot read {}: ",
                missing.display()
            )),
            "{e}"
        );
        let junk = dir.path().join("junk.pem");
        std::fs::write(&junk, "hello\n").unwrap();
        let e = Tls::load(&sec_with(&junk)).err().unwrap().to_string();
        assert!(e.ends_with("no CERTIFICATE in the file"), "{e}");
        let bad = dir.path().join("bad.pem");
        std::fs::write(
            &bad,
            "-----BEGIN CERTIFICATE-----\n!!!!\n-----END CERTIFICATE-----\n",
        )
        .unwrap();
        let e = Tls::load(&sec_with(&bad)).err().unwrap().to_string();
        assert!(e.contains("bad PEM certificate"), "{e}");
        let enc = dir.path().join("enc.pem");
        std::fs::write(
            &enc,
            "-----BEGIN CERTIFICATE-----\nMAA=\n-----END CERTIFICATE-----\n-----BEGIN ENCRYPTED PRIVATE KEY-----\nMAA=\n-----END ENCRYPTED PRIVATE KEY-----\n",
        )
        .unwrap();
        let e = Tls::load(&sec_with(&enc)).err().unwrap().to_string();
        assert!(e.contains("the private key is encrypted"), "{e}");
        let mut sec = sec_with(&enc);
        sec.client_auth = ClientAuth::Need;
        sec.trust_store.location = Some(junk.clone());
        assert!(load_trust_store(&sec.trust_store, &junk).is_err());
    }

    #[test]
    fn garbage_never_panics() {
        assert_eq!(subject_dn(b""), None);
        assert_eq!(subject_dn(&[0x30, 0x84, 0xff, 0xff, 0xff, 0xff]), None);
        let mut x: u32 = 12345;
        for len in 0..400 {
            let v: Vec<u8> = (0..len)
                .map(|_| {
                    x ^= x << 13;
                    x ^= x >> 17;
                    x ^= x << 5;
                    [0x30, 0x31, 0x06, 0x0c, 0x82, 0x02, 0x81, (x & 0xff) as u8][(x % 8) as usize]
                })
                .collect();
            let _ = subject_dn(&v);
            let _ = not_after(&v);
        }
    }
}
