//! Protocol negotiation on the quorum port.
//!
//! A connecting member sends, as its first frame, request id 0 (ordinary ids start at 1) with
//! a [`Hello`] body: [`MAGIC`] then postcard. The accepting member answers with frame id 0, a
//! [`HelloAck`] naming the protocol both use on this connection. rzk 0.1.0 members (protocol 1)
//! have no hello: they fail to decode it as a `PeerRequest` (its first byte is no variant
//! tag), log "undecodable peer request" and close the connection; the connecting member then
//! reconnects and speaks protocol 1. A connection whose first frame is not a hello comes from
//! a 0.1.0 member and is served as protocol 1.
//!
//! Protocol 1 is 0.1.0's `PeerRequest`/`PeerResponse`. Protocol 2 adds the hello itself; new
//! messages are added as variants at the end and sent only on connections that negotiated a
//! protocol that has them. `Hello` and `HelloAck` may only grow by fields at the end (older
//! decoders ignore trailing bytes).

use serde::{Deserialize, Serialize};

/// The peer protocol of rzk 0.1.0 (no hello).
pub const PROTOCOL_V1: u16 = 1;
/// The newest peer protocol this build speaks.
pub const PROTOCOL_MAX: u16 = 2;
/// The highest cluster feature level this build supports. 2: snapshot format 2 (with the level),
/// `SetFeatureLevel`. 3: the x509 and sasl ACL schemes (checked where writes are proposed).
pub const FEATURE_LEVEL_MAX: u32 = 3;
/// Request id of hello frames.
pub const HELLO_ID: u64 = 0;
/// First bytes of a hello body. `R` (82) is no `PeerRequest` variant of protocol 1.
pub const MAGIC: &[u8; 8] = b"RZKPEER\0";

/// What a connecting member offers.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Hello {
    pub protocol_min: u16,
    pub protocol_max: u16,
    pub feature_level_max: u32,
    /// The sender's release (`CARGO_PKG_VERSION`), for logs.
    pub release: String,
}

/// The accepting member's answer.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct HelloAck {
    /// The protocol used on this connection from now on.
    pub protocol: u16,
    pub feature_level_max: u32,
    pub release: String,
}

/// What one end learned about the other.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PeerInfo {
    pub protocol: u16,
    pub feature_level_max: u32,
    /// `None` for 0.1.0 members (they do not say).
    pub release: Option<String>,
}

impl PeerInfo {
    /// A member that answered no hello: rzk 0.1.0.
    pub fn v1() -> Self {
        PeerInfo {
            protocol: PROTOCOL_V1,
            feature_level_max: crate::format::FEATURE_LEVEL_V1,
            release: None,
        }
    }
}

pub fn ours() -> Hello {
    Hello {
        protocol_min: PROTOCOL_V1,
        protocol_max: PROTOCOL_MAX,
        feature_level_max: FEATURE_LEVEL_MAX,
        release: env!("CARGO_PKG_VERSION").to_string(),
    }
}

fn with_magic<T: Serialize>(v: &T) -> Vec<u8> {
    let mut out = MAGIC.to_vec();
    // Encoding plain structs of integers and strings into a Vec cannot fail.
    out.extend(postcard::to_allocvec(v).unwrap_or_default());
    out
}

pub fn encode_hello(h: &Hello) -> Vec<u8> {
    with_magic(h)
}

pub fn encode_ack(a: &HelloAck) -> Vec<u8> {
    with_magic(a)
}

/// `Some` if `body` is a hello frame's body (whether or not it decodes).
pub fn strip_magic(body: &[u8]) -> Option<&[u8]> {
    body.strip_prefix(MAGIC.as_slice())
}

pub fn decode_hello(rest: &[u8]) -> Result<Hello, postcard::Error> {
    postcard::from_bytes(rest)
}

pub fn decode_ack(rest: &[u8]) -> Result<HelloAck, postcard::Error> {
    postcard::from_bytes(rest)
}

/// The accepting side's choice: the highest protocol both speak, or `None`.
pub fn choose(h: &Hello) -> Option<u16> {
    let top = h.protocol_max.min(PROTOCOL_MAX);
    (top >= h.protocol_min.max(PROTOCOL_V1)).then_some(top)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hello_is_not_a_protocol_1_request() {
        // A 0.1.0 member decodes a frame body as PeerRequest: the hello must fail there.
        let body = encode_hello(&ours());
        assert!(postcard::from_bytes::<super::super::PeerRequest>(&body).is_err());
        assert_eq!(decode_hello(strip_magic(&body).unwrap()).unwrap(), ours());
    }

    #[test]
    fn negotiation_picks_the_highest_common_protocol() {
        let mut h = ours();
        assert_eq!(choose(&h), Some(PROTOCOL_MAX));
        h.protocol_max = 9;
        assert_eq!(
            choose(&h),
            Some(PROTOCOL_MAX),
            "a newer peer talks down to us"
        );
        h.protocol_min = 5;
        assert_eq!(choose(&h), None, "a peer that dropped our protocols");
    }

    #[test]
    fn later_fields_are_ignored_by_this_decoder() {
        #[derive(Serialize)]
        struct HelloV3 {
            protocol_min: u16,
            protocol_max: u16,
            feature_level_max: u32,
            release: String,
            extra: u64,
        }
        let body = with_magic(&HelloV3 {
            protocol_min: 1,
            protocol_max: 3,
            feature_level_max: 3,
            release: "0.3.0".into(),
            extra: 77,
        });
        let h = decode_hello(strip_magic(&body).unwrap()).unwrap();
        assert_eq!((h.protocol_max, h.release.as_str()), (3, "0.3.0"));
    }
}
