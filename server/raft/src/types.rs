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
    /// rzk's openraft configuration: a log entry carries a batch of [`Entry`]s (group commit),
    /// its result one [`CmdResult`] per element.
    pub TypeConfig:
        D = Vec<Entry>,
        R = Vec<CmdResult>,
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

/// zxid of element `pos` of the batch at Raft log `index`: `index << ZXID_SHIFT | pos`.
/// Monotonic and unique across leaders, like ZooKeeper's epoch/counter zxids.
pub const ZXID_SHIFT: u32 = 20;
/// Largest batch proposed as one log entry.
pub const MAX_BATCH: usize = 4096;

pub fn zxid_of(index: u64, pos: usize) -> i64 {
    ((index << ZXID_SHIFT) | pos as u64) as i64
}

pub fn index_of(zxid: i64) -> u64 {
    (zxid as u64) >> ZXID_SHIFT
}
