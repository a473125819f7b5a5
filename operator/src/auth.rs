//! The ZooKeeper super user the operator uses for `reconfig`.
//!
//! Membership changes need `reconfigEnabled=true` and an authenticated super user. The password
//! of a cluster is never stored anywhere: it is derived as HMAC-SHA1(operator key,
//! `namespace/name/uid`), hex. Only its digest (`super:base64(sha1("super:<password>"))`, the
//! form ZooKeeper's `DigestAuthenticationProvider.superDigest` takes) is written to zoo.cfg. The
//! operator key comes from a file (`--auth-key-file`; the Helm chart generates a Secret and
//! mounts it), so the operator needs no API access to Secrets and a restarted operator derives
//! the same passwords.

use base64::Engine as _;
use sha1::{Digest, Sha1};

/// Super user name (ZooKeeper's convention).
pub const SUPER_USER: &str = "super";

/// Key used when no key file is configured. Passwords derived from it are predictable by anyone
/// who can read the cluster's UID; the operator warns at startup.
pub const INSECURE_DEFAULT_KEY: &[u8] = b"rzk-operator-insecure-default-key";

/// HMAC-SHA1 (RFC 2104).
pub fn hmac_sha1(key: &[u8], msg: &[u8]) -> [u8; 20] {
    const BLOCK: usize = 64;
    let mut k = [0u8; BLOCK];
    if key.len() > BLOCK {
        k[..20].copy_from_slice(&Sha1::digest(key));
    } else {
        k[..key.len()].copy_from_slice(key);
    }
    let mut ipad = [0x36u8; BLOCK];
    let mut opad = [0x5cu8; BLOCK];
    for i in 0..BLOCK {
        ipad[i] ^= k[i];
        opad[i] ^= k[i];
    }
    let inner = Sha1::new().chain_update(ipad).chain_update(msg).finalize();
    Sha1::new()
        .chain_update(opad)
        .chain_update(inner)
        .finalize()
        .into()
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// The super password of a cluster.
pub fn super_password(key: &[u8], namespace: &str, name: &str, uid: &str) -> String {
    hex(&hmac_sha1(
        key,
        format!("{namespace}/{name}/{uid}").as_bytes(),
    ))
}

/// `super:<base64(sha1("super:<password>"))>`: the value of zoo.cfg
/// `DigestAuthenticationProvider.superDigest`.
pub fn super_digest(password: &str) -> String {
    let d = Sha1::digest(format!("{SUPER_USER}:{password}").as_bytes());
    format!(
        "{SUPER_USER}:{}",
        base64::engine::general_purpose::STANDARD.encode(d)
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hmac_sha1_rfc2202_vectors() {
        assert_eq!(
            hex(&hmac_sha1(&[0x0b; 20], b"Hi There")),
            "b617318655057264e28bc0b6fb378c8ef146be00"
        );
        assert_eq!(
            hex(&hmac_sha1(b"Jefe", b"what do ya want for nothing?")),
            "effcdf6ae5eb2fa2d27416d5f184df9c259a7c79"
        );
        assert_eq!(
            hex(&hmac_sha1(
                &[0xaa; 80],
                b"Test Using Larger Than Block-Size Key - Hash Key First"
            )),
            "aa4ae5e15272d00e95705637ce8a3b55ed402112"
        );
    }

    #[test]
    fn digest_matches_zookeeper() {
        // ZooKeeper: DigestAuthenticationProvider.generateDigest("super:secret") = base64(sha1(...))
        assert_eq!(super_digest("secret"), "super:lK75jTNcA+U9vtVEw5vB51mj/w4=");
    }

    #[test]
    fn passwords_differ_per_cluster_and_key() {
        let a = super_password(b"k", "ns", "zk", "u1");
        assert_eq!(a.len(), 40);
        assert_ne!(a, super_password(b"k", "ns", "zk", "u2"));
        assert_ne!(a, super_password(b"k2", "ns", "zk", "u1"));
    }
}
