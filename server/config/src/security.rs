//! Security keys: the TLS client port (`secureClientPort`, `client.portUnification`, `ssl.*`),
//! x509 authentication (`authProvider.x509`, `ssl.authProvider`,
//! `X509AuthenticationProvider.superUser`) and the AdminServer's `admin.forceHttps`. Names and
//! defaults are ZooKeeper 3.9's (`X509Util`, `ClientX509Util`, `NettyServerCnxnFactory`).
//!
//! rzk reads PEM key and trust stores only (`ssl.keyStore.type=PEM`, or a `.pem`/`.crt`/`.key`
//! file); PKCS12, JKS and BCFKS are configuration errors naming the key, never a silent
//! fallback to plaintext.

use std::path::PathBuf;

use crate::error::{quote, ConfigError, WarningKind};
use crate::parser::Ctx;
use crate::server_line::{parse_host, parse_port};
use crate::types::ServerConfig;
use crate::values::{boolean, non_empty_path};

/// `ssl.clientAuth`: whether the TLS port asks for a client certificate.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum ClientAuth {
    /// No certificate requested.
    None,
    /// Requested; a client without one is served without an x509 identity.
    Want,
    /// Required (ZooKeeper's default when the key is unset or empty).
    #[default]
    Need,
}

/// A TLS protocol version rzk (rustls) speaks.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum TlsVersion {
    Tls12,
    Tls13,
}

impl TlsVersion {
    /// Java's name (`TLSv1.2`, `TLSv1.3`).
    pub fn java_name(self) -> &'static str {
        match self {
            TlsVersion::Tls12 => "TLSv1.2",
            TlsVersion::Tls13 => "TLSv1.3",
        }
    }

    fn parse(v: &str) -> Result<TlsVersion, String> {
        match v {
            "TLSv1.2" => Ok(TlsVersion::Tls12),
            "TLSv1.3" => Ok(TlsVersion::Tls13),
            // Java's generic names: the newest version it offers.
            "TLS" => Ok(TlsVersion::Tls13),
            "TLSv1" | "TLSv1.1" | "SSLv3" | "SSL" | "SSLv2Hello" => Err(format!(
                "{} is not supported (rzk speaks TLSv1.2 and TLSv1.3 only)",
                quote(v)
            )),
            _ => Err(format!(
                "unknown TLS protocol {} (expected TLSv1.2 or TLSv1.3)",
                quote(v)
            )),
        }
    }
}

/// The format of a key or trust store file.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StoreType {
    Pem,
    Pkcs12,
    Jks,
    Bcfks,
}

impl StoreType {
    fn parse(v: &str) -> Option<StoreType> {
        match v.to_ascii_uppercase().as_str() {
            "PEM" => Some(StoreType::Pem),
            "PKCS12" => Some(StoreType::Pkcs12),
            "JKS" => Some(StoreType::Jks),
            "BCFKS" => Some(StoreType::Bcfks),
            _ => None,
        }
    }

    /// ZooKeeper's `KeyStoreFileType.fromFilename`: the type implied by a file name.
    pub fn from_file_name(p: &std::path::Path) -> Option<StoreType> {
        let ext = p.extension()?.to_str()?.to_ascii_lowercase();
        match ext.as_str() {
            "pem" | "crt" | "cer" | "key" => Some(StoreType::Pem),
            "p12" | "pfx" => Some(StoreType::Pkcs12),
            "jks" => Some(StoreType::Jks),
            "bcfks" => Some(StoreType::Bcfks),
            _ => None,
        }
    }
}

/// `ssl.keyStore.*` or `ssl.trustStore.*`.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct StoreConfig {
    /// `.location`: a PEM file (certificate chain + private key for the key store; CA
    /// certificates for the trust store).
    pub location: Option<PathBuf>,
    /// `.password`: the password of an encrypted PEM private key. rzk reads unencrypted keys
    /// only; a password is accepted (ZooKeeper needs one for PKCS12) and unused.
    pub password: Option<String>,
    /// `.passwordPath`: a file holding the password.
    pub password_path: Option<PathBuf>,
    /// `.type` as written; `None` = from the file name.
    pub store_type: Option<StoreType>,
}

/// The TLS cipher suites rzk offers, by their IANA/Java names.
pub const SUPPORTED_CIPHER_SUITES: &[&str] = &[
    "TLS_AES_128_GCM_SHA256",
    "TLS_AES_256_GCM_SHA384",
    "TLS_CHACHA20_POLY1305_SHA256",
    "TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256",
    "TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384",
    "TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256",
    "TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256",
    "TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384",
    "TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256",
];

/// Whether `name` looks like a real TLS suite name that rzk does not offer (CBC, RSA key
/// exchange, DHE, ...): such names are dropped with a warning; anything else is an error.
fn is_known_unsupported_suite(name: &str) -> bool {
    (name.starts_with("TLS_") || name.starts_with("SSL_"))
        && name.contains("_WITH_")
        && name
            .bytes()
            .all(|b| b.is_ascii_uppercase() || b.is_ascii_digit() || b == b'_')
}

/// The SASLAuthenticationProvider class name (`authProvider.N=` value).
pub const SASL_PROVIDER: &str = "org.apache.zookeeper.server.auth.SASLAuthenticationProvider";
/// The X509AuthenticationProvider class name (`authProvider.N=` value).
pub const X509_PROVIDER: &str = "org.apache.zookeeper.server.auth.X509AuthenticationProvider";
/// ZooKeeper's Netty connection factory (`serverCnxnFactory=`): what a TLS port needs there.
pub const NETTY_FACTORY: &str = "org.apache.zookeeper.server.NettyServerCnxnFactory";
const NIO_FACTORY: &str = "org.apache.zookeeper.server.NIOServerCnxnFactory";

/// Everything security-related in zoo.cfg.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SecurityConfig {
    /// `secureClientPort`: a second client listener speaking the same protocol over TLS.
    pub secure_client_port: Option<u16>,
    /// `secureClientPortAddress` (default: `clientPortAddress`, else all interfaces).
    pub secure_client_port_address: Option<String>,
    /// `client.portUnification`: the plaintext client port also accepts TLS.
    pub port_unification: bool,
    pub key_store: StoreConfig,
    pub trust_store: StoreConfig,
    /// `ssl.clientAuth`, default need.
    pub client_auth: ClientAuth,
    /// `ssl.hostnameVerification`, default true. On the server side ZooKeeper uses it only for
    /// quorum peers (`ssl.quorum.*`); for client connections it checks nothing: rzk accepts it
    /// and checks no client host names either.
    pub hostname_verification: bool,
    /// `ssl.protocol`, default TLSv1.3 (ZooKeeper 3.9 on a JDK with TLSv1.3).
    pub protocol: TlsVersion,
    /// `ssl.enabledProtocols`; `None` = ZooKeeper's default: `ssl.protocol` and, for TLSv1.3,
    /// TLSv1.2 too.
    pub enabled_protocols: Option<Vec<TlsVersion>>,
    /// `ssl.ciphersuites` (IANA names from [`SUPPORTED_CIPHER_SUITES`]); `None` = all.
    pub cipher_suites: Option<Vec<String>>,
    /// `client.certReload` (default false): re-read the key and trust stores when they change.
    pub cert_reload: bool,
    /// `ssl.handshakeDetectionTimeoutMillis` (default 5000): how long port unification waits
    /// for a client's first bytes.
    pub handshake_detection_timeout_ms: u32,
    /// An `authProvider.N` names the X509AuthenticationProvider: TLS clients with a verified
    /// certificate get the id `x509:<subject DN>`.
    pub x509_auth: bool,
    /// `ssl.authProvider` (default `x509`).
    pub ssl_auth_provider: String,
    /// `X509AuthenticationProvider.superUser`: the subject DN of the x509 super user.
    pub x509_super_user: Option<String>,
    /// `admin.forceHttps` (default false).
    pub admin_force_https: bool,
    /// `admin.needClientAuth` (default false): the HTTPS AdminServer requires a client
    /// certificate; otherwise it asks for one (for `Authorization: x509`) without requiring it.
    pub admin_need_client_auth: bool,
    /// `enforce.auth.enabled` (default false): every request except auth/sasl needs a session
    /// authenticated with one of [`Self::enforce_auth_schemes`], else the connection gets
    /// SessionClosedRequireSaslAuth (-124) and is closed, as in ZooKeeper 3.7+.
    pub enforce_auth: bool,
    /// `enforce.auth.schemes` (comma list: digest, ip, x509, sasl).
    pub enforce_auth_schemes: Vec<String>,
    /// An `authProvider.N` names the SASLAuthenticationProvider: SASL DIGEST-MD5 with the
    /// users of the JAAS file's `Server` section gives the id `sasl:<user>`.
    pub sasl_auth: bool,
    /// `sessionRequireClientSASLAuth=true`: as enforce.auth with the sasl scheme.
    pub session_require_sasl: bool,
    /// `superUser` and `superUser.<anything>` (ZooKeeper's `zookeeper.superUser*` properties): SASL
    /// users that pass every ACL.
    pub sasl_super_users: Vec<String>,
}

impl Default for SecurityConfig {
    fn default() -> Self {
        SecurityConfig {
            secure_client_port: None,
            secure_client_port_address: None,
            port_unification: false,
            key_store: StoreConfig::default(),
            trust_store: StoreConfig::default(),
            client_auth: ClientAuth::Need,
            hostname_verification: true,
            protocol: TlsVersion::Tls13,
            enabled_protocols: None,
            cipher_suites: None,
            cert_reload: false,
            handshake_detection_timeout_ms: 5000,
            x509_auth: false,
            ssl_auth_provider: "x509".to_string(),
            x509_super_user: None,
            admin_force_https: false,
            admin_need_client_auth: false,
            enforce_auth: false,
            enforce_auth_schemes: Vec::new(),
            sasl_auth: false,
            session_require_sasl: false,
            sasl_super_users: Vec::new(),
        }
    }
}

impl SecurityConfig {
    /// Whether any client listener speaks TLS.
    pub fn tls_enabled(&self) -> bool {
        self.secure_client_port.is_some() || self.port_unification || self.admin_force_https
    }

    /// The protocol versions to offer.
    pub fn protocols(&self) -> Vec<TlsVersion> {
        match &self.enabled_protocols {
            Some(v) => v.clone(),
            None if self.protocol == TlsVersion::Tls13 => {
                vec![TlsVersion::Tls13, TlsVersion::Tls12]
            }
            None => vec![self.protocol],
        }
    }
}

/// The `ssl.` key family (`ssl.X`, also as `zookeeper.ssl.X`).
pub(crate) fn ssl_key(c: &mut ServerConfig, v: &str, x: &mut Ctx<'_>) -> Result<(), ConfigError> {
    let name = &x.key["ssl.".len()..];
    let sec = &mut c.security;
    match name {
        "keyStore.location" => sec.key_store.location = Some(x.val(non_empty_path(v))?),
        "keyStore.password" => sec.key_store.password = Some(v.to_string()),
        "keyStore.passwordPath" => sec.key_store.password_path = Some(x.val(non_empty_path(v))?),
        "keyStore.type" => sec.key_store.store_type = store_type(v, x)?,
        "trustStore.location" => sec.trust_store.location = Some(x.val(non_empty_path(v))?),
        "trustStore.password" => sec.trust_store.password = Some(v.to_string()),
        "trustStore.passwordPath" => {
            sec.trust_store.password_path = Some(x.val(non_empty_path(v))?)
        }
        "trustStore.type" => sec.trust_store.store_type = store_type(v, x)?,
        "clientAuth" => {
            sec.client_auth = match v.to_ascii_lowercase().as_str() {
                "" | "need" => ClientAuth::Need,
                "want" => ClientAuth::Want,
                "none" => ClientAuth::None,
                _ => return Err(x.err(format!("expected none, want or need, got {}", quote(v)))),
            }
        }
        "hostnameVerification" => sec.hostname_verification = x.val(boolean(v))?,
        "clientHostnameVerification" => {
            if x.val(boolean(v))? {
                x.warn(
                    WarningKind::Unsupported,
                    "rzk does not check client host names against their certificates (ZooKeeper does so only for quorum peers)",
                );
            }
        }
        "protocol" => sec.protocol = x.val(TlsVersion::parse(v))?,
        "enabledProtocols" => {
            let mut list = Vec::new();
            for p in v.split(',').map(str::trim).filter(|p| !p.is_empty()) {
                let p = x.val(TlsVersion::parse(p))?;
                if !list.contains(&p) {
                    list.push(p);
                }
            }
            if list.is_empty() {
                return Err(x.err("must name at least one protocol (TLSv1.2, TLSv1.3)"));
            }
            sec.enabled_protocols = Some(list);
        }
        "ciphersuites" => {
            let mut list: Vec<String> = Vec::new();
            let mut dropped = Vec::new();
            for s in v.split(',').map(str::trim).filter(|s| !s.is_empty()) {
                if SUPPORTED_CIPHER_SUITES.contains(&s) {
                    if !list.iter().any(|l| l == s) {
                        list.push(s.to_string());
                    }
                } else if is_known_unsupported_suite(s) {
                    dropped.push(s.to_string());
                } else {
                    return Err(x.err(format!(
                        "unknown cipher suite {} (rzk offers {})",
                        quote(s),
                        SUPPORTED_CIPHER_SUITES.join(", ")
                    )));
                }
            }
            if !dropped.is_empty() {
                x.warn(
                    WarningKind::Unsupported,
                    format!(
                        "cipher suites rzk does not offer are left out: {}",
                        dropped.join(", ")
                    ),
                );
            }
            if list.is_empty() {
                return Err(x.err(format!(
                    "none of the listed cipher suites is supported (rzk offers {})",
                    SUPPORTED_CIPHER_SUITES.join(", ")
                )));
            }
            sec.cipher_suites = Some(list);
        }
        "authProvider" => {
            if v != "x509" {
                return Err(x.err(format!(
                    "only x509 is supported (the X509AuthenticationProvider), got {}",
                    quote(v)
                )));
            }
            sec.ssl_auth_provider = v.to_string();
        }
        "handshakeDetectionTimeoutMillis" => {
            sec.handshake_detection_timeout_ms = x.val(crate::values::positive_int(v))?.min(600_000)
        }
        "crl" | "ocsp" => {
            if x.val(boolean(v))? {
                return Err(x.err(
                    "certificate revocation checks are not supported by rzk; refusing to run without them",
                ));
            }
        }
        "context.supplier.class" => {
            return Err(x.err("custom SSL context suppliers are not supported by rzk"));
        }
        "allowReverseDnsLookup" => {
            x.val(boolean(v))?;
        }
        n if n.starts_with("quorum.") => {
            x.warn(
                WarningKind::Unsupported,
                "TLS between servers is not supported (sslQuorum); ignored",
            );
        }
        _ => x.warn(WarningKind::UnknownKey, "unknown ssl.* key; ignored"),
    }
    Ok(())
}

fn store_type(v: &str, x: &mut Ctx<'_>) -> Result<Option<StoreType>, ConfigError> {
    if v.is_empty() {
        return Ok(None);
    }
    match StoreType::parse(v) {
        Some(t) => Ok(Some(t)),
        None => Err(x.err(format!(
            "expected PEM, PKCS12, JKS or BCFKS, got {}",
            quote(v)
        ))),
    }
}

pub(crate) fn secure_client_port(
    c: &mut ServerConfig,
    v: &str,
    x: &mut Ctx<'_>,
) -> Result<(), ConfigError> {
    c.security.secure_client_port = Some(x.val(parse_port(v))?);
    Ok(())
}

pub(crate) fn secure_client_port_address(
    c: &mut ServerConfig,
    v: &str,
    x: &mut Ctx<'_>,
) -> Result<(), ConfigError> {
    c.security.secure_client_port_address = Some(x.val(parse_host(v))?);
    Ok(())
}

pub(crate) fn port_unification(
    c: &mut ServerConfig,
    v: &str,
    x: &mut Ctx<'_>,
) -> Result<(), ConfigError> {
    c.security.port_unification = x.val(boolean(v))?;
    Ok(())
}

pub(crate) fn cert_reload(
    c: &mut ServerConfig,
    v: &str,
    x: &mut Ctx<'_>,
) -> Result<(), ConfigError> {
    c.security.cert_reload = x.val(boolean(v))?;
    Ok(())
}

pub(crate) fn admin_force_https(
    c: &mut ServerConfig,
    v: &str,
    x: &mut Ctx<'_>,
) -> Result<(), ConfigError> {
    c.security.admin_force_https = x.val(boolean(v))?;
    Ok(())
}

pub(crate) fn admin_need_client_auth(
    c: &mut ServerConfig,
    v: &str,
    x: &mut Ctx<'_>,
) -> Result<(), ConfigError> {
    c.security.admin_need_client_auth = x.val(boolean(v))?;
    Ok(())
}

pub(crate) fn x509_super_user(
    c: &mut ServerConfig,
    v: &str,
    x: &mut Ctx<'_>,
) -> Result<(), ConfigError> {
    if v.is_empty() {
        return Err(x.err("must not be empty (expected a subject DN, e.g. CN=admin,O=example)"));
    }
    c.security.x509_super_user = Some(v.to_string());
    Ok(())
}

pub(crate) fn enforce_auth_enabled(
    c: &mut ServerConfig,
    v: &str,
    x: &mut Ctx<'_>,
) -> Result<(), ConfigError> {
    c.security.enforce_auth = x.val(boolean(v))?;
    Ok(())
}

pub(crate) fn enforce_auth_schemes(
    c: &mut ServerConfig,
    v: &str,
    _: &mut Ctx<'_>,
) -> Result<(), ConfigError> {
    c.security.enforce_auth_schemes = v
        .split(',')
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(str::to_string)
        .collect();
    Ok(())
}

/// `sessionRequireClientSASLAuth=true`: every session must authenticate with SASL (ZooKeeper
/// then ignores enforce.auth.*); needs the SASL provider.
pub(crate) fn session_require_sasl(
    c: &mut ServerConfig,
    v: &str,
    x: &mut Ctx<'_>,
) -> Result<(), ConfigError> {
    c.security.session_require_sasl = x.val(boolean(v))?;
    Ok(())
}

/// `superUser` / `superUser.N`: a SASL super user.
pub(crate) fn sasl_super_user(
    c: &mut ServerConfig,
    v: &str,
    x: &mut Ctx<'_>,
) -> Result<(), ConfigError> {
    if v.is_empty() {
        return Err(x.err("must not be empty (expected a SASL user name)"));
    }
    c.security.sasl_super_users.push(v.to_string());
    Ok(())
}

/// `sslQuorum=true` asks for TLS between servers, which rzk does not have: running with a
/// plaintext quorum port instead would be a silent downgrade, so it is an error.
pub(crate) fn ssl_quorum(
    _: &mut ServerConfig,
    v: &str,
    x: &mut Ctx<'_>,
) -> Result<(), ConfigError> {
    if x.val(boolean(v))? {
        return Err(x.err(
            "TLS between servers is not supported by rzk; refusing to run with a plaintext quorum port (set sslQuorum=false and keep the quorum port on a private network)",
        ));
    }
    Ok(())
}

/// `quorum.auth.*` (SASL between servers): asking for it is an error, the other keys of the
/// family are warned about.
pub(crate) fn quorum_auth(
    _: &mut ServerConfig,
    v: &str,
    x: &mut Ctx<'_>,
) -> Result<(), ConfigError> {
    let name = &x.key["quorum.auth.".len()..];
    if matches!(
        name,
        "enableSasl" | "learnerRequireSasl" | "serverRequireSasl"
    ) {
        if x.val(boolean(v))? {
            return Err(
                x.err("SASL between servers is not supported by rzk; refusing to run without it")
            );
        }
    } else {
        x.warn(
            WarningKind::Unsupported,
            "SASL between servers is not supported; ignored",
        );
    }
    Ok(())
}

/// `serverCnxnFactory`: both of ZooKeeper's factories are accepted (rzk has one connection
/// layer, which speaks TLS when asked); anything else is warned about.
pub(crate) fn server_cnxn_factory(
    _: &mut ServerConfig,
    v: &str,
    x: &mut Ctx<'_>,
) -> Result<(), ConfigError> {
    if v != NETTY_FACTORY && v != NIO_FACTORY {
        x.warn(
            WarningKind::Unsupported,
            format!("rzk has its own connection layer; {} is ignored", quote(v)),
        );
    }
    Ok(())
}

/// `authProvider.N=class`: the x509 and SASL (DIGEST-MD5) providers are implemented; custom
/// classes are not (their ACL ids never match, so nothing becomes readable: a loud warning, not
/// an error).
pub(crate) fn auth_provider(
    c: &mut ServerConfig,
    v: &str,
    x: &mut Ctx<'_>,
) -> Result<(), ConfigError> {
    if v == X509_PROVIDER {
        c.security.x509_auth = true;
    } else if v == SASL_PROVIDER {
        c.security.sasl_auth = true;
    } else if v.ends_with("DigestAuthenticationProvider") || v.ends_with("IPAuthenticationProvider")
    {
        // Built in, as in ZooKeeper.
    } else {
        x.warn(
            WarningKind::Unsupported,
            format!(
                "auth provider {} is not supported by rzk (only {X509_PROVIDER}, {SASL_PROVIDER}, digest and ip); ids of its scheme never match an ACL",
                quote(v)
            ),
        );
    }
    Ok(())
}

/// Checks that need the whole file: a TLS listener needs a PEM key store.
pub(crate) fn check(c: &mut ServerConfig) -> Result<(), ConfigError> {
    if c.security.session_require_sasl {
        c.security.enforce_auth = true;
        c.security.enforce_auth_schemes = vec!["sasl".to_string()];
        if !c.security.sasl_auth {
            let o = c.origin_of("sessionRequireClientSASLAuth");
            return Err(ConfigError::invalid(
                &o.file,
                o.line,
                "sessionRequireClientSASLAuth",
                format!("needs authProvider.sasl={SASL_PROVIDER}"),
            ));
        }
    }
    let c = &*c;
    let sec = &c.security;
    let at = |key: &str| {
        let o = c.origin_of(key);
        (o.file, o.line)
    };
    for (prefix, store) in [
        ("ssl.keyStore", &sec.key_store),
        ("ssl.trustStore", &sec.trust_store),
    ] {
        let Some(loc) = &store.location else { continue };
        let ty = store.store_type.or_else(|| StoreType::from_file_name(loc));
        let (key, ty) = match (store.store_type, ty) {
            (Some(t), _) => (format!("{prefix}.type"), Some(t)),
            (None, t) => (format!("{prefix}.location"), t),
        };
        let (file, line) = at(&key);
        match ty {
            Some(StoreType::Pem | StoreType::Jks | StoreType::Pkcs12) | None => {}
            Some(t) => {
                return Err(ConfigError::invalid(
                    &file,
                    line,
                    key,
                    format!("{t:?} stores are not supported by rzk; use PEM, JKS or PKCS12"),
                ))
            }
        }
    }
    let listener_key = if sec.secure_client_port.is_some() {
        "secureClientPort"
    } else if sec.port_unification {
        "client.portUnification"
    } else {
        "admin.forceHttps"
    };
    if sec.tls_enabled() && sec.key_store.location.is_none() {
        let (file, line) = at(listener_key);
        return Err(ConfigError::invalid(
            &file,
            line,
            listener_key,
            "TLS needs ssl.keyStore.location (a PEM file with the server's certificate chain and private key)",
        ));
    }
    if sec.tls_enabled()
        && sec.client_auth != ClientAuth::None
        && sec.trust_store.location.is_none()
    {
        let explicit = c.origins.contains_key("ssl.clientAuth");
        let key = if explicit {
            "ssl.clientAuth"
        } else {
            listener_key
        };
        let (file, line) = at(key);
        return Err(ConfigError::invalid(
            &file,
            line,
            key,
            format!(
                "{} client certificates{} needs ssl.trustStore.location (PEM CA certificates); set ssl.clientAuth=none to accept clients without one",
                if sec.client_auth == ClientAuth::Need { "requiring" } else { "asking for" },
                if explicit { "" } else { " (ssl.clientAuth defaults to need)" }
            ),
        ));
    }
    if sec.enforce_auth {
        let (file, line) = at("enforce.auth.schemes");
        if sec.enforce_auth_schemes.is_empty() {
            let (file, line) = at("enforce.auth.enabled");
            return Err(ConfigError::invalid(
                &file,
                line,
                "enforce.auth.enabled",
                "is true, so enforce.auth.schemes must name at least one scheme",
            ));
        }
        for scheme in &sec.enforce_auth_schemes {
            let ok = match scheme.as_str() {
                "digest" | "ip" => true,
                "x509" => sec.x509_auth,
                "sasl" => sec.sasl_auth,
                _ => false,
            };
            if !ok {
                return Err(ConfigError::invalid(
                    &file,
                    line,
                    "enforce.auth.schemes",
                    format!(
                        "authentication scheme {} is not available{}",
                        quote(scheme),
                        if scheme == "x509" {
                            " (set authProvider.x509=org.apache.zookeeper.server.auth.X509AuthenticationProvider)"
                        } else if scheme == "sasl" {
                            " (set authProvider.sasl=org.apache.zookeeper.server.auth.SASLAuthenticationProvider)"
                        } else {
                            " (rzk has digest, ip, x509 and sasl)"
                        }
                    ),
                ));
            }
        }
    }
    if sec.port_unification && c.client_port.is_none() {
        let (file, line) = at("client.portUnification");
        return Err(ConfigError::invalid(
            &file,
            line,
            "client.portUnification",
            "needs clientPort",
        ));
    }
    Ok(())
}
