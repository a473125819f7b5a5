//! Versioned byte formats of everything rzk-raft persists: log entries, meta values, snapshot
//! metadata and snapshot data. (The peer protocol negotiates its version per connection: see
//! `network::hello`.)
//!
//! Every payload written by this code starts with a one-byte format tag, followed by the
//! postcard encoding of the tagged version's types:
//!
//! | tag | written by | body |
//! |---|---|---|
//! | 1 | rzk 0.1.0 | postcard of the 0.1.0 types, *untagged on disk*: rzk-storage puts the tag in front of log records and meta values of its version-1 files; snapshot payloads of 0.1.0 begin with a postcard `Option` tag (0 or 1) and are recognised by that |
//! | 2 | rzk 0.2 | postcard of the same types; the snapshot body adds the cluster feature level |
//!
//! Rules (ARCHITECTURE.md, "Formats and versions"): a release never changes the bytes of an
//! existing tag. A change to any serialized type (rzk-tree's `Entry`/`Command`/`DataTree`,
//! [`Member`](crate::Member), the openraft types) takes a new tag, keeps a frozen copy of the
//! old types with a conversion, and adds the release to `tests/upgrade/releases`. The
//! `golden_bytes` tests pin today's encodings so that an accidental change fails loudly.
//! Formats that peers must decode (snapshot data sent with InstallSnapshot) are written in the
//! newest version the *cluster feature level* allows.

use crate::types::*;
use rzk_tree::DataTree;
use serde::{Deserialize, Serialize};

/// Tag of the rzk 0.1.0 formats.
pub const FORMAT_V1: u8 = 1;
/// Tag written by this release.
pub const FORMAT_V2: u8 = 2;
/// What rzk-storage puts in front of payloads of its version-1 (rzk 0.1.0) files.
pub const V1_PREFIX: [u8; 1] = [FORMAT_V1];

/// A payload that this build cannot decode.
#[derive(Debug, thiserror::Error)]
pub enum FormatError {
    #[error("empty payload")]
    Empty,
    #[error(
        "format tag {0} is newer than this build understands (up to {FORMAT_V2}); \
         was this data written by a later rzk release?"
    )]
    Unknown(u8),
    #[error("format {tag} payload does not decode: {source}")]
    Decode {
        tag: u8,
        #[source]
        source: postcard::Error,
    },
    #[error("encoding failed: {0}")]
    Encode(#[source] postcard::Error),
}

fn tagged<T: Serialize + ?Sized>(tag: u8, v: &T) -> Result<Vec<u8>, FormatError> {
    let mut out = vec![tag];
    postcard::to_io(v, &mut out).map_err(FormatError::Encode)?;
    Ok(out)
}

fn body<T: for<'de> Deserialize<'de>>(tag: u8, bytes: &[u8]) -> Result<T, FormatError> {
    postcard::from_bytes(bytes).map_err(|source| FormatError::Decode { tag, source })
}

/// Splits a tagged payload (log record or meta value) into tag and body.
fn split(bytes: &[u8]) -> Result<(u8, &[u8]), FormatError> {
    match bytes.split_first() {
        None => Err(FormatError::Empty),
        Some((&t, rest)) if t == FORMAT_V1 || t == FORMAT_V2 => Ok((t, rest)),
        Some((&t, _)) => Err(FormatError::Unknown(t)),
    }
}

// ---- log entries and meta values (vote, purge point) ---------------------------------------

/// Encodes a Raft log entry for the log segments.
pub fn encode_entry(e: &RaftEntry) -> Result<Vec<u8>, FormatError> {
    tagged(FORMAT_V2, e)
}

/// Decodes a log record of any supported version.
pub fn decode_entry(bytes: &[u8]) -> Result<RaftEntry, FormatError> {
    let (tag, b) = split(bytes)?;
    // Versions 1 and 2 share the entry types.
    body(tag, b)
}

/// Encodes a small value for the meta store.
pub fn encode_meta<T: Serialize>(v: &T) -> Result<Vec<u8>, FormatError> {
    tagged(FORMAT_V2, v)
}

/// Decodes a meta value of any supported version.
pub fn decode_meta<T: for<'de> Deserialize<'de>>(bytes: &[u8]) -> Result<T, FormatError> {
    let (tag, b) = split(bytes)?;
    body(tag, b)
}

/// A presence marker for the meta store (its content is informational).
pub fn marker(text: &[u8]) -> Vec<u8> {
    let mut v = vec![FORMAT_V2];
    v.extend_from_slice(text);
    v
}

// ---- snapshots -------------------------------------------------------------------------

/// The cluster feature level of rzk 0.1.0 (no feature level was recorded then).
pub const FEATURE_LEVEL_V1: u32 = 1;

/// What a snapshot holds besides openraft's own metadata.
pub struct SnapshotBody {
    pub last_applied: Option<LogId>,
    pub membership: StoredMembership,
    /// The cluster feature level in force at `last_applied`.
    pub feature_level: u32,
    pub tree: DataTree,
}

/// rzk 0.1.0's snapshot body (and its field order): what `postcard` wrote untagged.
#[derive(Deserialize)]
struct SnapshotBodyV1 {
    last_applied: Option<LogId>,
    membership: StoredMembership,
    tree: DataTree,
}

#[derive(Serialize)]
struct SnapshotBodyRefV1<'a, T> {
    last_applied: Option<LogId>,
    membership: &'a StoredMembership,
    tree: &'a T,
}

#[derive(Serialize)]
struct SnapshotBodyRefV2<'a, T> {
    last_applied: Option<LogId>,
    membership: &'a StoredMembership,
    feature_level: u32,
    tree: &'a T,
}

#[derive(Deserialize)]
struct SnapshotBodyV2 {
    last_applied: Option<LogId>,
    membership: StoredMembership,
    feature_level: u32,
    tree: DataTree,
}

/// Which encoding a snapshot (body and metadata) is written in: the newest one every member
/// can read, decided by the cluster feature level.
pub fn snapshot_format_for(feature_level: u32) -> u8 {
    if feature_level >= 2 {
        FORMAT_V2
    } else {
        FORMAT_V1
    }
}

/// Encodes a snapshot body. `format` comes from [`snapshot_format_for`]; `tree` is a
/// [`DataTree`] or its [`rzk_tree::TreeImage`] (same bytes).
pub fn encode_snapshot_body<T: Serialize>(
    format: u8,
    last_applied: Option<LogId>,
    membership: &StoredMembership,
    feature_level: u32,
    tree: &T,
) -> Result<Vec<u8>, FormatError> {
    if format == FORMAT_V1 {
        postcard::to_allocvec(&SnapshotBodyRefV1 {
            last_applied,
            membership,
            tree,
        })
        .map_err(FormatError::Encode)
    } else {
        tagged(
            FORMAT_V2,
            &SnapshotBodyRefV2 {
                last_applied,
                membership,
                feature_level,
                tree,
            },
        )
    }
}

/// A snapshot payload's version: 0.1.0 wrote postcard directly, whose first byte is the
/// `Option` tag (0 or 1) of its first field; later versions begin with their tag (2 and up).
fn snapshot_tag(bytes: &[u8]) -> Result<u8, FormatError> {
    match bytes.first() {
        None => Err(FormatError::Empty),
        Some(0) | Some(1) => Ok(FORMAT_V1),
        Some(&FORMAT_V2) => Ok(FORMAT_V2),
        Some(&t) => Err(FormatError::Unknown(t)),
    }
}

/// Decodes a snapshot body of any supported version.
pub fn decode_snapshot_body(bytes: &[u8]) -> Result<SnapshotBody, FormatError> {
    match snapshot_tag(bytes)? {
        FORMAT_V1 => {
            let b: SnapshotBodyV1 = body(FORMAT_V1, bytes)?;
            Ok(SnapshotBody {
                last_applied: b.last_applied,
                membership: b.membership,
                feature_level: FEATURE_LEVEL_V1,
                tree: b.tree,
            })
        }
        _ => {
            let b: SnapshotBodyV2 = body(FORMAT_V2, &bytes[1..])?;
            Ok(SnapshotBody {
                last_applied: b.last_applied,
                membership: b.membership,
                feature_level: b.feature_level,
                tree: b.tree,
            })
        }
    }
}

/// Encodes openraft's snapshot metadata in `format`.
pub fn encode_snapshot_meta(format: u8, meta: &SnapshotMeta) -> Result<Vec<u8>, FormatError> {
    if format == FORMAT_V1 {
        postcard::to_allocvec(meta).map_err(FormatError::Encode)
    } else {
        tagged(FORMAT_V2, meta)
    }
}

/// Decodes snapshot metadata of any supported version.
pub fn decode_snapshot_meta(bytes: &[u8]) -> Result<SnapshotMeta, FormatError> {
    match snapshot_tag(bytes)? {
        FORMAT_V1 => body(FORMAT_V1, bytes),
        tag => body(tag, &bytes[1..]),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use openraft::{CommittedLeaderId, EntryPayload, Membership};
    use rzk_tree::{Command, Entry, WriteOp};
    use std::collections::{BTreeMap, BTreeSet};

    fn log_id(term: u64, node: u64, index: u64) -> LogId {
        openraft::LogId::new(CommittedLeaderId::new(term, node), index)
    }

    fn sample_entry() -> RaftEntry {
        RaftEntry {
            log_id: log_id(3, 1, 42),
            payload: EntryPayload::Normal(vec![Entry {
                time_ms: 1_700_000_000_000,
                cmd: Command::Write {
                    session_id: 0x100,
                    auth: vec![],
                    op: WriteOp::SetData {
                        path: "/a".into(),
                        data: Some(b"xy".to_vec()),
                        version: -1,
                    },
                },
            }]),
        }
    }

    fn sample_membership() -> StoredMembership {
        let mut nodes = BTreeMap::new();
        nodes.insert(
            1,
            Member {
                quorum_addr: "h1:2888".into(),
                election_port: 3888,
                client_addr: "h1:2181".into(),
            },
        );
        let voters = vec![BTreeSet::from([1u64])];
        StoredMembership::new(Some(log_id(1, 1, 1)), Membership::new(voters, nodes))
    }

    fn hex(b: &[u8]) -> String {
        b.iter().map(|x| format!("{x:02x}")).collect()
    }

    /// Pins the bytes of format 2 (and of 0.1.0's untagged body). If this fails, a serialized
    /// type changed: that needs a new format tag, not a new expected string.
    #[test]
    fn golden_bytes() {
        let e = encode_entry(&sample_entry()).unwrap();
        // tag 2 | term 3 | node 1 | index 42 | Normal | 1 element | time_ms (zigzag varint)
        // | Write | session 0x100 | no auth | SetData | "/a" | Some(b"xy") | version -1
        assert_eq!(
            hex(&e),
            "02_03_01_2a_01_01_80a0abfef962_02_8004_00_02_022f61_01027879_01".replace('_', "")
        );
        assert_eq!(decode_entry(&e).unwrap(), sample_entry());
        let m = sample_membership();
        let tree = DataTree::new();
        let v1 = encode_snapshot_body(FORMAT_V1, Some(log_id(2, 1, 9)), &m, 1, &tree).unwrap();
        let v2 = encode_snapshot_body(FORMAT_V2, Some(log_id(2, 1, 9)), &m, 2, &tree).unwrap();
        assert_eq!(v2[0], FORMAT_V2);
        assert_eq!(
            &v2[1..][..4],
            &v1[..4],
            "v2 = tag + v1 fields with the level inserted"
        );
        let b1 = decode_snapshot_body(&v1).unwrap();
        assert_eq!(
            (b1.feature_level, b1.last_applied),
            (1, Some(log_id(2, 1, 9)))
        );
        let b2 = decode_snapshot_body(&v2).unwrap();
        assert_eq!((b2.feature_level, b2.membership), (2, m));
    }

    #[test]
    fn v1_payloads_decode_through_the_storage_prefix() {
        let legacy = postcard::to_allocvec(&sample_entry()).unwrap();
        let mut prefixed = V1_PREFIX.to_vec();
        prefixed.extend_from_slice(&legacy);
        assert_eq!(decode_entry(&prefixed).unwrap(), sample_entry());
        let vote: Vote = openraft::Vote::new(7, 2);
        let mut v = V1_PREFIX.to_vec();
        v.extend_from_slice(&postcard::to_allocvec(&vote).unwrap());
        assert_eq!(decode_meta::<Vote>(&v).unwrap(), vote);
        assert_eq!(
            decode_meta::<Vote>(&encode_meta(&vote).unwrap()).unwrap(),
            vote
        );
    }

    #[test]
    fn unknown_and_damaged_payloads_are_errors_not_panics() {
        assert!(matches!(decode_entry(&[]), Err(FormatError::Empty)));
        assert!(matches!(
            decode_entry(&[9, 1, 2]),
            Err(FormatError::Unknown(9))
        ));
        assert!(matches!(
            decode_entry(&[FORMAT_V2, 0xff]),
            Err(FormatError::Decode { tag: 2, .. })
        ));
        assert!(matches!(
            decode_snapshot_body(&[7]),
            Err(FormatError::Unknown(7))
        ));
        let msg = decode_entry(&[9]).unwrap_err().to_string();
        assert!(msg.contains("newer than this build"), "{msg}");
    }
}
