//! Replication of rzk's state machine with openraft 0.9.
//!
//! This crate is the only place that names openraft types. The rest of the server sees
//! [`RaftNode`]: propose an [`rzk_tree::Entry`], get back its zxid and result; read the role.
#![forbid(unsafe_code)]

mod log_store;
mod network;
mod node;
mod state_machine;
mod types;

pub use node::{
    MembersView, MembershipChange, Pending, ProposeError, RaftNode, RaftNodeConfig, RaftStatus,
    ReconfigError, Role, StartError, TransferError,
};
pub use state_machine::ApplyHook;
pub use types::Member;
