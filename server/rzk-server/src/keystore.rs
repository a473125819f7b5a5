//! The binary key and trust stores Java deployments of ZooKeeper use (`ssl.keyStore.type` /
//! `ssl.trustStore.type` JKS or PKCS12, or a `.jks`/`.p12`/`.pfx` file), read with the `jks`
//! and `p12-keystore` crates. PEM files are read by tls.rs.
//!
//! As ZooKeeper, the store password (`.password`, or the file `.passwordPath`) opens the store
//! and the private key. A wrong password, a store without a key (key store) or without
//! certificates (trust store) is an error naming the key and the file.

use rustls::pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer};
use rzk_config::{StoreConfig, StoreType};
use std::path::Path;

/// The JKS magic number.
const JKS_MAGIC: [u8; 4] = [0xfe, 0xed, 0xfe, 0xed];

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Binary {
    Jks,
    Pkcs12,
}

/// Which binary format `bytes` of `store` are in, or None for PEM: the declared type, else the
/// JKS magic number, else the file name (`.p12`, `.pfx`).
pub fn binary_kind(store: &StoreConfig, path: &Path, bytes: &[u8]) -> Option<Binary> {
    match store.store_type {
        Some(StoreType::Jks) => return Some(Binary::Jks),
        Some(StoreType::Pkcs12) => return Some(Binary::Pkcs12),
        Some(_) => return None,
        None => {}
    }
    if bytes.starts_with(&JKS_MAGIC) {
        return Some(Binary::Jks);
    }
    match StoreType::from_file_name(path) {
        Some(StoreType::Pkcs12) => Some(Binary::Pkcs12),
        Some(StoreType::Jks) => Some(Binary::Jks),
        _ => None,
    }
}

/// The store password: `.password`, else the first line of `.passwordPath`.
pub fn password(store: &StoreConfig) -> Result<String, String> {
    if let Some(p) = &store.password {
        return Ok(p.clone());
    }
    if let Some(path) = &store.password_path {
        let text = std::fs::read_to_string(path)
            .map_err(|e| format!("cannot read the password file {}: {e}", path.display()))?;
        return Ok(text.lines().next().unwrap_or_default().to_string());
    }
    Err("a JKS or PKCS12 store needs its password (.password or .passwordPath)".into())
}

/// What a store holds, whatever its format: (alias, chain, PKCS#8 key) and trusted certificates.
struct Contents {
    keys: Vec<(String, Vec<Vec<u8>>, Vec<u8>)>,
    trusted: Vec<(String, Vec<u8>)>,
}

fn open(bytes: &[u8], kind: Binary, password: &str) -> Result<Contents, String> {
    let mut c = Contents {
        keys: Vec::new(),
        trusted: Vec::new(),
    };
    match kind {
        Binary::Jks => {
            let mut ks = jks::KeyStore::new();
            ks.load(bytes, password.as_bytes()).map_err(|e| match e {
                jks::KeyStoreError::InvalidMagic => "not a JKS store".to_string(),
                jks::KeyStoreError::InvalidDigest => {
                    "the store's integrity check failed: wrong password, or a damaged file"
                        .to_string()
                }
                e => format!("cannot read the JKS store: {e}"),
            })?;
            let mut aliases = ks.aliases();
            aliases.sort();
            for a in aliases {
                if ks.is_private_key_entry(&a) {
                    let e = ks
                        .get_private_key_entry(&a, password.as_bytes())
                        .map_err(|e| format!("cannot read the private key of entry {a:?}: {e}"))?;
                    let chain = e.certificate_chain.into_iter().map(|c| c.content).collect();
                    c.keys.push((a, chain, e.private_key));
                } else if let Ok(t) = ks.get_trusted_certificate_entry(&a) {
                    c.trusted.push((a, t.certificate.content));
                }
            }
        }
        Binary::Pkcs12 => {
            let ks = p12_keystore::KeyStore::from_pkcs12(
                bytes,
                password,
                p12_keystore::Pkcs12ImportPolicy::Strict,
            )
            .map_err(|e| format!("cannot read the PKCS12 store (wrong password?): {e}"))?;
            for (a, e) in ks.entries() {
                match e {
                    p12_keystore::KeyStoreEntry::PrivateKeyChain(k) => c.keys.push((
                        a.clone(),
                        k.certs().iter().map(|x| x.as_der().to_vec()).collect(),
                        k.key().as_der().to_vec(),
                    )),
                    p12_keystore::KeyStoreEntry::Certificate(x) => {
                        c.trusted.push((a.clone(), x.as_der().to_vec()))
                    }
                    p12_keystore::KeyStoreEntry::Secret(_) => {}
                }
            }
        }
    }
    Ok(c)
}

/// The certificate chain and private key of the store's first private-key entry (aliases in
/// order).
pub fn key_store(
    bytes: &[u8],
    kind: Binary,
    password: &str,
) -> Result<(Vec<CertificateDer<'static>>, PrivateKeyDer<'static>), String> {
    let c = open(bytes, kind, password)?;
    let (alias, chain, key) = c
        .keys
        .into_iter()
        .next()
        .ok_or("the store holds no private key entry")?;
    if chain.is_empty() {
        return Err(format!("entry {alias:?} has no certificate chain"));
    }
    let certs = chain.into_iter().map(CertificateDer::from).collect();
    Ok((certs, PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(key))))
}

/// The trusted certificates of the store (its trusted-certificate entries, else the chains of
/// its private-key entries).
pub fn trust_store(
    bytes: &[u8],
    kind: Binary,
    password: &str,
) -> Result<Vec<CertificateDer<'static>>, String> {
    let c = open(bytes, kind, password)?;
    let mut out: Vec<CertificateDer<'static>> = c
        .trusted
        .into_iter()
        .map(|(_, d)| CertificateDer::from(d))
        .collect();
    if out.is_empty() {
        for (_, chain, _) in c.keys {
            out.extend(chain.into_iter().map(CertificateDer::from));
        }
    }
    if out.is_empty() {
        return Err("the store holds no certificate".into());
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kind_from_type_magic_and_name() {
        let mut st = StoreConfig::default();
        let p = Path::new("/x/store.bin");
        assert_eq!(
            binary_kind(&st, p, b"\xfe\xed\xfe\xed...."),
            Some(Binary::Jks)
        );
        assert_eq!(binary_kind(&st, p, b"-----BEGIN"), None);
        assert_eq!(
            binary_kind(&st, Path::new("/x/a.P12"), b"0\x82"),
            Some(Binary::Pkcs12)
        );
        st.store_type = Some(StoreType::Pem);
        assert_eq!(
            binary_kind(&st, Path::new("/x/a.jks"), b"\xfe\xed\xfe\xed"),
            None
        );
        st.store_type = Some(StoreType::Pkcs12);
        assert_eq!(binary_kind(&st, p, b""), Some(Binary::Pkcs12));
    }

    #[test]
    fn garbage_and_wrong_kinds_are_errors_not_panics() {
        for bytes in [
            &b""[..],
            b"\xfe\xed\xfe\xed",
            b"\xfe\xed\xfe\xed\0\0\0\x02\xff\xff\xff\xff",
            b"0\x84\xff\xff\xff\xff",
            b"hello",
        ] {
            for kind in [Binary::Jks, Binary::Pkcs12] {
                assert!(key_store(bytes, kind, "pw").is_err());
                assert!(trust_store(bytes, kind, "pw").is_err());
            }
        }
    }
}
