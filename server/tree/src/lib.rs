//! The replicated ZooKeeper state machine: znode tree, session table, ACLs and path rules.
//!
//! [`DataTree::apply`] is deterministic: every member applies the same [`Entry`] sequence and
//! reaches the same state, results and watch events.
#![forbid(unsafe_code)]

pub mod acl;
pub mod command;
pub mod path;
pub mod tree;

pub use acl::{Acl, Id};
pub use command::{CmdResult, Command, Entry, OpResult, WatchEvent, WriteOp};
pub use tree::{DataTree, Node, SessionInfo, Stat, TreeImage};

use rzk_proto::ErrorCode;

/// Maps a wire error code back to [`ErrorCode`] (unknown codes become SystemError).
pub fn error_from_code(v: i32) -> ErrorCode {
    use ErrorCode::*;
    [
        Ok,
        SystemError,
        RuntimeInconsistency,
        DataInconsistency,
        ConnectionLoss,
        MarshallingError,
        Unimplemented,
        OperationTimeout,
        BadArguments,
        UnknownSession,
        NewConfigNoQuorum,
        ReconfigInProgress,
        ApiError,
        NoNode,
        NoAuth,
        BadVersion,
        NoChildrenForEphemerals,
        NodeExists,
        NotEmpty,
        SessionExpired,
        InvalidCallback,
        InvalidAcl,
        AuthFailed,
        SessionMoved,
        NotReadOnly,
        EphemeralOnLocalSession,
        NoWatcher,
        RequestTimeout,
        ReconfigDisabled,
        SessionClosedRequireSaslAuth,
        QuotaExceeded,
        Throttled,
    ]
    .into_iter()
    .find(|c| c.code() == v)
    .unwrap_or(SystemError)
}
