//! Raft RPC transport between ensemble members.
//!
//! Single-node deployments never send RPCs; the TCP transport for ensembles plugs in here.

use crate::types::*;
use openraft::error::{InstallSnapshotError, NetworkError, RPCError, RaftError, Unreachable};
use openraft::network::{RPCOption, RaftNetwork, RaftNetworkFactory};
use openraft::raft::{
    AppendEntriesRequest, AppendEntriesResponse, InstallSnapshotRequest, InstallSnapshotResponse, VoteRequest,
    VoteResponse,
};

#[derive(Debug, thiserror::Error)]
#[error("no transport to member {0} at {1}")]
struct NoTransport(u64, String);

/// Creates per-peer clients.
pub struct Network;

pub struct PeerClient {
    target: u64,
    addr: String,
}

impl RaftNetworkFactory<TypeConfig> for Network {
    type Network = PeerClient;
    async fn new_client(&mut self, target: u64, node: &Member) -> Self::Network {
        PeerClient { target, addr: node.quorum_addr.clone() }
    }
}

impl PeerClient {
    fn unreachable<E: std::error::Error>(&self) -> RPCError<u64, Member, E> {
        RPCError::Unreachable(Unreachable::new(&NoTransport(self.target, self.addr.clone())))
    }
}

impl RaftNetwork<TypeConfig> for PeerClient {
    async fn append_entries(
        &mut self,
        _rpc: AppendEntriesRequest<TypeConfig>,
        _option: RPCOption,
    ) -> Result<AppendEntriesResponse<u64>, RPCError<u64, Member, RaftError<u64>>> {
        Err(self.unreachable())
    }

    async fn install_snapshot(
        &mut self,
        _rpc: InstallSnapshotRequest<TypeConfig>,
        _option: RPCOption,
    ) -> Result<InstallSnapshotResponse<u64>, RPCError<u64, Member, RaftError<u64, InstallSnapshotError>>> {
        Err(self.unreachable())
    }

    async fn vote(
        &mut self,
        _rpc: VoteRequest<u64>,
        _option: RPCOption,
    ) -> Result<VoteResponse<u64>, RPCError<u64, Member, RaftError<u64>>> {
        let _ = NetworkError::new(&NoTransport(self.target, self.addr.clone()));
        Err(self.unreachable())
    }
}
