//! The security keys (`secureClientPort`, `client.portUnification`, `ssl.*`, `authProvider.*`,
//! `X509AuthenticationProvider.superUser`, `admin.forceHttps`, `client.certReload`,
//! `serverCnxnFactory`): values, defaults, and `file:line: key: reason` errors.

use rzk_config::{
    parse_str, ClientAuth, ConfigWarning, ServerConfig, StoreType, TlsVersion, WarningKind,
};

const BASE: &str = "dataDir=/tmp/zk\nclientPort=2181\n";
/// A working TLS setup (lines 3..=5).
const TLS: &str = "secureClientPort=2281\nssl.keyStore.location=/k/server.pem\nssl.trustStore.location=/k/ca.pem\n";

fn ok(extra: &str) -> (ServerConfig, Vec<ConfigWarning>) {
    let text = format!("{BASE}{extra}");
    match parse_str(&text, "zoo.cfg") {
        Ok(r) => r,
        Err(e) => panic!("unexpected error: {e}\n--- input ---\n{text}"),
    }
}

fn err(extra: &str) -> String {
    let text = format!("{BASE}{extra}");
    match parse_str(&text, "zoo.cfg") {
        Ok((c, _)) => panic!(
            "expected an error, got {:?}\n--- input ---\n{text}",
            c.security
        ),
        Err(e) => e.to_string(),
    }
}

#[test]
fn defaults_are_zookeepers() {
    let (c, w) = ok("");
    assert!(w.is_empty());
    let s = &c.security;
    assert_eq!(s.secure_client_port, None);
    assert!(!s.port_unification && !s.cert_reload && !s.x509_auth && !s.admin_force_https);
    assert!(!s.tls_enabled());
    assert_eq!(s.client_auth, ClientAuth::Need);
    assert!(s.hostname_verification);
    assert_eq!(s.protocol, TlsVersion::Tls13);
    assert_eq!(s.protocols(), vec![TlsVersion::Tls13, TlsVersion::Tls12]);
    assert_eq!(s.ssl_auth_provider, "x509");
    assert_eq!(s.handshake_detection_timeout_ms, 5000);
}

#[test]
fn a_full_tls_setup_is_read() {
    let (c, w) = ok(&format!(
        "{TLS}secureClientPortAddress=127.0.0.2\nclient.portUnification=true\nssl.keyStore.password=secret\nssl.keyStore.type=PEM\nssl.trustStore.type=pem\n\
         ssl.clientAuth=want\nssl.hostnameVerification=false\nssl.protocol=TLSv1.2\nssl.enabledProtocols=TLSv1.3, TLSv1.2\n\
         ssl.ciphersuites=TLS_AES_128_GCM_SHA256,TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384\nclient.certReload=true\n\
         authProvider.x509=org.apache.zookeeper.server.auth.X509AuthenticationProvider\nssl.authProvider=x509\n\
         zookeeper.X509AuthenticationProvider.superUser=CN=admin,O=rzk\nserverCnxnFactory=org.apache.zookeeper.server.NettyServerCnxnFactory\n\
         admin.forceHttps=true\nadmin.needClientAuth=true\nzookeeper.ssl.handshakeDetectionTimeoutMillis=1000\n"
    ));
    assert!(w.is_empty(), "{w:?}");
    let s = &c.security;
    assert_eq!(s.secure_client_port, Some(2281));
    assert_eq!(s.secure_client_port_address.as_deref(), Some("127.0.0.2"));
    assert!(s.port_unification && s.cert_reload && s.x509_auth && s.admin_force_https);
    assert!(s.admin_need_client_auth);
    assert_eq!(
        s.key_store.location.as_deref(),
        Some(std::path::Path::new("/k/server.pem"))
    );
    assert_eq!(s.key_store.password.as_deref(), Some("secret"));
    assert_eq!(s.client_auth, ClientAuth::Want);
    assert!(!s.hostname_verification);
    assert_eq!(s.protocol, TlsVersion::Tls12);
    assert_eq!(s.protocols(), vec![TlsVersion::Tls13, TlsVersion::Tls12]);
    assert_eq!(
        s.cipher_suites.as_deref(),
        Some(
            &[
                "TLS_AES_128_GCM_SHA256".to_string(),
                "TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384".to_string()
            ][..]
        )
    );
    assert_eq!(s.x509_super_user.as_deref(), Some("CN=admin,O=rzk"));
    assert_eq!(s.handshake_detection_timeout_ms, 1000);
    assert_eq!(
        c.conf_entries(&Default::default())[1],
        ("secureClientPort".to_string(), "2281".to_string())
    );
}

#[test]
fn system_property_spellings_are_accepted() {
    let (c, w) = ok(
        "secureClientPort=2281\nzookeeper.ssl.keyStore.location=/k/s.pem\nzookeeper.ssl.trustStore.location=/k/ca.pem\nzookeeper.ssl.clientAuth=none\nzookeeper.client.portUnification=true\nzookeeper.authProvider.1=org.apache.zookeeper.server.auth.X509AuthenticationProvider\n",
    );
    assert!(w.is_empty(), "{w:?}");
    assert_eq!(c.security.client_auth, ClientAuth::None);
    assert!(c.security.port_unification && c.security.x509_auth);
}

#[test]
fn bad_values_name_file_line_and_key() {
    for (extra, want) in [
        ("secureClientPort=x\n", "zoo.cfg:3: secureClientPort: "),
        ("secureClientPort=70000\n", "zoo.cfg:3: secureClientPort: "),
        (
            "secureClientPortAddress=a b\n",
            "zoo.cfg:3: secureClientPortAddress: ",
        ),
        (
            "client.portUnification=yes\n",
            "zoo.cfg:3: client.portUnification: expected true or false",
        ),
        (
            "client.certReload=1\n",
            "zoo.cfg:3: client.certReload: expected true or false",
        ),
        (
            "admin.forceHttps=maybe\n",
            "zoo.cfg:3: admin.forceHttps: expected true or false",
        ),
        (
            "ssl.clientAuth=sometimes\n",
            "zoo.cfg:3: ssl.clientAuth: expected none, want or need, got \"sometimes\"",
        ),
        (
            "ssl.hostnameVerification=no\n",
            "zoo.cfg:3: ssl.hostnameVerification: expected true or false",
        ),
        (
            "ssl.protocol=TLSv1.1\n",
            "zoo.cfg:3: ssl.protocol: \"TLSv1.1\" is not supported",
        ),
        (
            "ssl.protocol=QUIC\n",
            "zoo.cfg:3: ssl.protocol: unknown TLS protocol \"QUIC\"",
        ),
        (
            "ssl.enabledProtocols=TLSv1.2,SSLv3\n",
            "zoo.cfg:3: ssl.enabledProtocols: \"SSLv3\" is not supported",
        ),
        (
            "ssl.enabledProtocols= , \n",
            "zoo.cfg:3: ssl.enabledProtocols: must name at least one protocol",
        ),
        (
            "ssl.ciphersuites=TLS_AES_128_GCM_SHA256,NOPE\n",
            "zoo.cfg:3: ssl.ciphersuites: unknown cipher suite \"NOPE\"",
        ),
        (
            "ssl.ciphersuites=TLS_RSA_WITH_AES_128_CBC_SHA\n",
            "zoo.cfg:3: ssl.ciphersuites: none of the listed cipher suites is supported",
        ),
        (
            "ssl.keyStore.type=XYZ\n",
            "zoo.cfg:3: ssl.keyStore.type: expected PEM, PKCS12, JKS or BCFKS, got \"XYZ\"",
        ),
        (
            "ssl.keyStore.location=\n",
            "zoo.cfg:3: ssl.keyStore.location: must not be empty",
        ),
        (
            "ssl.authProvider=sasl\n",
            "zoo.cfg:3: ssl.authProvider: only x509 is supported",
        ),
        (
            "ssl.crl=true\n",
            "zoo.cfg:3: ssl.crl: certificate revocation checks are not supported",
        ),
        (
            "ssl.ocsp=true\n",
            "zoo.cfg:3: ssl.ocsp: certificate revocation checks are not supported",
        ),
        (
            "ssl.context.supplier.class=a.B\n",
            "zoo.cfg:3: ssl.context.supplier.class: custom SSL context suppliers",
        ),
        (
            "ssl.handshakeDetectionTimeoutMillis=0\n",
            "zoo.cfg:3: ssl.handshakeDetectionTimeoutMillis: expected a positive integer",
        ),
        (
            "X509AuthenticationProvider.superUser=\n",
            "zoo.cfg:3: X509AuthenticationProvider.superUser: must not be empty",
        ),
    ] {
        let e = err(extra);
        assert!(e.starts_with(want), "{extra:?}: {e}");
    }
}

#[test]
fn whole_file_checks() {
    assert!(err("secureClientPort=2281\n")
        .starts_with("zoo.cfg:3: secureClientPort: TLS needs ssl.keyStore.location"));
    assert!(err("client.portUnification=true\n")
        .starts_with("zoo.cfg:3: client.portUnification: TLS needs ssl.keyStore.location"));
    assert!(err("admin.forceHttps=true\n")
        .starts_with("zoo.cfg:3: admin.forceHttps: TLS needs ssl.keyStore.location"));
    // clientAuth defaults to need: a trust store is required.
    assert!(err("secureClientPort=2281\nssl.keyStore.location=/k/s.pem\n")
        .starts_with("zoo.cfg:3: secureClientPort: requiring client certificates (ssl.clientAuth defaults to need) needs ssl.trustStore.location"));
    assert!(err("secureClientPort=2281\nssl.keyStore.location=/k/s.pem\nssl.clientAuth=want\n")
        .starts_with("zoo.cfg:5: ssl.clientAuth: asking for client certificates needs ssl.trustStore.location"));
    let (c, _) = ok("secureClientPort=2281\nssl.keyStore.location=/k/s.pem\nssl.clientAuth=none\n");
    assert_eq!(c.security.client_auth, ClientAuth::None);
    // PEM, JKS and PKCS12 stores are read (rzk-server's keystore.rs); BCFKS is refused, naming the
    // key that says so.
    let (c, _) = ok(&format!("{TLS}ssl.keyStore.type=PKCS12\n"));
    assert_eq!(c.security.key_store.store_type, Some(StoreType::Pkcs12));
    ok("secureClientPort=2281\nssl.keyStore.location=/k/s.p12\nssl.trustStore.location=/k/t.jks\n");
    assert!(
        err(&format!("{TLS}ssl.keyStore.type=BCFKS\n")).starts_with(
            "zoo.cfg:6: ssl.keyStore.type: Bcfks stores are not supported by rzk; use PEM, JKS or PKCS12"
        )
    );
    assert!(err(
        "secureClientPort=2281\nssl.keyStore.location=/k/s.pem\nssl.trustStore.location=/k/t.bcfks\n"
    )
    .starts_with("zoo.cfg:5: ssl.trustStore.location: Bcfks stores are not supported"));
    // ...even when no listener uses them yet.
    assert!(err("ssl.trustStore.location=/k/t.bcfks\n")
        .starts_with("zoo.cfg:3: ssl.trustStore.location: Bcfks"));
    // An explicit PEM type wins over the file name.
    ok("secureClientPort=2281\nssl.keyStore.location=/k/s.p12\nssl.keyStore.type=PEM\nssl.trustStore.location=/k/ca.pem\n");
}

#[test]
fn unimplemented_security_keys_warn_loudly() {
    let (_, w) = ok(
        "authProvider.kerberos=com.example.KerberosProvider\nssl.quorum.keyStore.location=/q.pem\nssl.clientHostnameVerification=true\nserverCnxnFactory=com.example.Factory\nssl.bogus=1\nssl.ciphersuites=TLS_AES_128_GCM_SHA256,TLS_ECDHE_RSA_WITH_AES_128_CBC_SHA256\n",
    );
    let got: Vec<(&str, WarningKind)> = w.iter().map(|w| (w.key.as_str(), w.kind)).collect();
    assert_eq!(
        got,
        vec![
            ("authProvider.kerberos", WarningKind::Unsupported),
            ("ssl.quorum.keyStore.location", WarningKind::Unsupported),
            ("ssl.clientHostnameVerification", WarningKind::Unsupported),
            ("serverCnxnFactory", WarningKind::Unsupported),
            ("ssl.bogus", WarningKind::UnknownKey),
            ("ssl.ciphersuites", WarningKind::Unsupported),
        ]
    );
    assert!(w[5]
        .message
        .contains("TLS_ECDHE_RSA_WITH_AES_128_CBC_SHA256"));
    // Digest and ip providers are built in: no warning.
    let (_, w) =
        ok("authProvider.1=org.apache.zookeeper.server.auth.DigestAuthenticationProvider\n");
    assert!(w.is_empty());
}

#[test]
fn enforce_auth() {
    let (c, w) = ok("enforce.auth.enabled=true\nzookeeper.enforce.auth.schemes=digest, ip\n");
    assert!(w.is_empty());
    assert!(c.security.enforce_auth);
    assert_eq!(c.security.enforce_auth_schemes, vec!["digest", "ip"]);
    let (c, _) = ok(&format!(
        "{TLS}authProvider.x509=org.apache.zookeeper.server.auth.X509AuthenticationProvider\nenforce.auth.enabled=true\nenforce.auth.schemes=x509\n"
    ));
    assert_eq!(c.security.enforce_auth_schemes, vec!["x509"]);
    assert!(err("enforce.auth.enabled=true\n").starts_with(
        "zoo.cfg:3: enforce.auth.enabled: is true, so enforce.auth.schemes must name"
    ));
    assert!(err("enforce.auth.enabled=yes\n")
        .starts_with("zoo.cfg:3: enforce.auth.enabled: expected true or false"));
    assert!(err("enforce.auth.enabled=true\nenforce.auth.schemes=x509\n").starts_with(
        "zoo.cfg:4: enforce.auth.schemes: authentication scheme \"x509\" is not available (set authProvider.x509"
    ));
    assert!(err("enforce.auth.enabled=true\nenforce.auth.schemes=digest,sasl\n").starts_with(
        "zoo.cfg:4: enforce.auth.schemes: authentication scheme \"sasl\" is not available (set authProvider.sasl"
    ));
    let (c, _) = ok("authProvider.sasl=org.apache.zookeeper.server.auth.SASLAuthenticationProvider\nenforce.auth.enabled=true\nenforce.auth.schemes=digest,sasl\n");
    assert!(c.security.sasl_auth);
    // Disabled: the schemes are not looked at (ZooKeeper does not either).
    ok("enforce.auth.schemes=kerberos\n");
    assert!(err("sessionRequireClientSASLAuth=true\n")
        .starts_with("zoo.cfg:3: sessionRequireClientSASLAuth: needs authProvider.sasl="));
    ok("sessionRequireClientSASLAuth=false\n");
    let (c, _) = ok("zookeeper.sessionRequireClientSASLAuth=true\nauthProvider.1=org.apache.zookeeper.server.auth.SASLAuthenticationProvider\nenforce.auth.schemes=x509\n");
    assert!(c.security.enforce_auth);
    assert_eq!(c.security.enforce_auth_schemes, vec!["sasl"]);
}

#[test]
fn sasl_super_users() {
    let (c, w) = ok("authProvider.sasl=org.apache.zookeeper.server.auth.SASLAuthenticationProvider\nzookeeper.superUser=admin\nsuperUser.2=ops\n");
    assert!(w.is_empty(), "{w:?}");
    assert_eq!(c.security.sasl_super_users, vec!["admin", "ops"]);
    assert!(err("superUser=\n").starts_with("zoo.cfg:3: superUser: must not be empty"));
}

#[test]
fn quorum_security_that_rzk_lacks_is_refused() {
    assert!(err("sslQuorum=true\n").starts_with(
        "zoo.cfg:3: sslQuorum: TLS between servers is not supported by rzk; refusing"
    ));
    assert!(err("quorum.auth.enableSasl=true\n")
        .starts_with("zoo.cfg:3: quorum.auth.enableSasl: SASL between servers is not supported"));
    assert!(err("quorum.auth.serverRequireSasl=true\n")
        .starts_with("zoo.cfg:3: quorum.auth.serverRequireSasl: "));
    assert!(err("sslQuorum=maybe\n").starts_with("zoo.cfg:3: sslQuorum: expected true or false"));
    let (_, w) = ok("sslQuorum=false\nquorum.auth.enableSasl=false\nquorum.auth.kerberos.servicePrincipal=zk/h\n");
    let got: Vec<(&str, WarningKind)> = w.iter().map(|w| (w.key.as_str(), w.kind)).collect();
    assert_eq!(
        got,
        vec![(
            "quorum.auth.kerberos.servicePrincipal",
            WarningKind::Unsupported
        )]
    );
}
