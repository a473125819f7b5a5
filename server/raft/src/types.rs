//! openraft type configuration and the member description.

use rzk_tree::{CmdResult, Entry};
use serde::{Deserialize, Serialize};
use std::io::Cursor;

/// One ensemble member as known to the consensus layer (ZooKeeper's `server.N` line).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Member {
    /// host:quorumPort, where peers send Raft RPCs.
    pub quorum_addr: String,
    /// electionPort from zoo.cfg; kept for /zookeeper/config, unused by Raft.
    pub election_port: u16,
    /// host:clientPort, where clients connect.
    pub client_addr: String,
}

impl std::fmt::Display for Member {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}", self.quorum_addr)
    }
}

openraft::declare_raft_types!(
    /// rzk's openraft configuration: log payload = [`Entry`], result = [`CmdResult`].
    pub TypeConfig:
        D = Entry,
        R = CmdResult,
        NodeId = u64,
        Node = Member,
        Entry = openraft::Entry<TypeConfig>,
        SnapshotData = Cursor<Vec<u8>>,
        AsyncRuntime = openraft::TokioRuntime,
);

pub type LogId = openraft::LogId<u64>;
pub type Vote = openraft::Vote<u64>;
pub type RaftEntry = openraft::Entry<TypeConfig>;
pub type StoredMembership = openraft::StoredMembership<u64, Member>;
pub type SnapshotMeta = openraft::SnapshotMeta<u64, Member>;
pub type StorageError = openraft::StorageError<u64>;
pub type Raft = openraft::Raft<TypeConfig>;
