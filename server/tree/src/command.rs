//! Replicated commands (the log payload) and their results.

use crate::acl::{Acl, Id};
use rzk_proto::ErrorCode;
use serde::{Deserialize, Serialize};

/// One state-machine input. Proposed by the leader, applied identically on every member.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Entry {
    /// Leader wall-clock time in ms when proposed: znode ctime/mtime and TTL decisions use it.
    pub time_ms: i64,
    pub cmd: Command,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum Command {
    CreateSession {
        session_id: i64,
        timeout_ms: i32,
        passwd: Vec<u8>,
    },
    /// Explicit close or expiry: deletes the session's ephemerals.
    CloseSession { session_id: i64 },
    /// A client write on behalf of `session_id`, with the session's identities for ACL checks.
    Write {
        session_id: i64,
        auth: Vec<Id>,
        op: WriteOp,
    },
    Multi {
        session_id: i64,
        auth: Vec<Id>,
        ops: Vec<WriteOp>,
    },
    /// Server-issued reaping of an empty container or an expired TTL node.
    Reap { path: String, czxid: i64 },
    /// Replaces the data of /zookeeper/config (ensemble membership).
    SetConfig { data: Vec<u8> },
    /// No state change; marks a point in the log (leader changes, sync).
    Noop,
    /// Raises the cluster feature level (rzk-raft records it; no tree change). Appended after
    /// every rzk 0.1.0 variant and proposed only once every member runs a release that knows
    /// it: 0.1.0 members cannot decode it.
    SetFeatureLevel { level: u32 },
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum WriteOp {
    Create {
        path: String,
        data: Option<Vec<u8>>,
        acl: Vec<Acl>,
        flags: i32,
        ttl: i64,
        op: i32,
    },
    Delete {
        path: String,
        version: i32,
    },
    SetData {
        path: String,
        data: Option<Vec<u8>>,
        version: i32,
    },
    SetAcl {
        path: String,
        acl: Vec<Acl>,
        version: i32,
    },
    Check {
        path: String,
        version: i32,
    },
}

impl WriteOp {
    pub fn path(&self) -> &str {
        match self {
            WriteOp::Create { path, .. }
            | WriteOp::Delete { path, .. }
            | WriteOp::SetData { path, .. }
            | WriteOp::SetAcl { path, .. }
            | WriteOp::Check { path, .. } => path,
        }
    }
}

/// Outcome of one write op.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum OpResult {
    Created {
        path: String,
        stat: crate::tree::Stat,
    },
    Deleted,
    SetData {
        stat: crate::tree::Stat,
    },
    SetAcl {
        stat: crate::tree::Stat,
    },
    Checked,
    Error(#[serde(with = "error_code")] ErrorCode),
}

/// Outcome of one applied command.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum CmdResult {
    Op(OpResult),
    Multi(Vec<OpResult>),
    Session(#[serde(with = "error_code")] ErrorCode),
    Done,
}

/// A change that may trigger watches.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WatchEvent {
    pub path: String,
    pub typ: i32,
}

mod error_code {
    use rzk_proto::ErrorCode;
    use serde::{Deserialize, Deserializer, Serializer};
    pub fn serialize<S: Serializer>(c: &ErrorCode, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_i32(c.code())
    }
    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<ErrorCode, D::Error> {
        let v = i32::deserialize(d)?;
        Ok(crate::error_from_code(v))
    }
}
