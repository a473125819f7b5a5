//! Replication of rzk's state machine with openraft 0.9.
//!
//! This crate is the only place that names openraft types. The rest of the server sees
//! [`RaftNode`]: propose an [`rzk_tree::Entry`], get back its zxid and result; read the role.
#![forbid(unsafe_code)]
// openraft's storage traits return its `StorageError`, which is large; boxing it here would
// only add a conversion at every trait boundary.
#![allow(clippy::result_large_err)]

mod batcher;
mod bootstrap;
mod error;
mod features;
mod format;
mod forward;
pub mod import;
mod leader;
mod log_store;
mod network;
mod node;
mod snapshot_policy;
mod state_machine;
mod types;

pub use error::{ElectError, ProposeError, ReconfigError, StartError, TransferError};
pub use features::PeerSupport;
pub use leader::MembershipChange;
pub use node::{
    MembersView, Pending, RaftNode, RaftNodeConfig, RaftStatus, Role, TouchSink, SYNCED_LAG,
};
pub use snapshot_policy::SnapshotPolicy;
/// The highest cluster feature level this release supports (see ARCHITECTURE.md, "Formats and
/// versions").
pub const FEATURE_LEVEL_MAX: u32 = network::hello::FEATURE_LEVEL_MAX;
pub use state_machine::ApplyHook;
pub use types::Member;
