//! Peer transport on the quorum port: Raft RPCs plus follower→leader forwarding.
//!
//! Wire format: `u32 length | u64 request id | postcard payload`, both directions. Each TCP connection
//! carries requests from one client object; the server answers in any order, matched by id.
//! Both ends of [`PeerRequest`] are here: [`client`] sends (the Raft network and [`RpcConn`]),
//! [`server`] answers ([`serve_peers`]).
//!
//! Members of different versions talk to each other: each connection starts with a protocol
//! handshake ([`hello`]). Do not change the shape or the variant order of [`PeerRequest`],
//! [`PeerResponse`] or the types they carry; new messages are new variants at the end, sent
//! only on connections whose negotiated protocol has them.

mod client;
pub(crate) mod hello;
mod server;

pub(crate) use client::{Network, RpcConn};
pub(crate) use server::serve_peers;

use crate::error::{ProposeError, ReconfigError};
use crate::leader::MembershipChange;
use crate::node::MembersView;
use crate::types::*;
use openraft::error::{InstallSnapshotError, RaftError};
use openraft::raft::{
    AppendEntriesRequest, AppendEntriesResponse, InstallSnapshotRequest, InstallSnapshotResponse,
    VoteRequest, VoteResponse,
};
use rzk_tree::{CmdResult, Entry};
use serde::{Deserialize, Serialize};
use std::time::Duration;
use tokio::io::AsyncReadExt;

/// Largest peer frame accepted (log batches and snapshot chunks are far smaller).
const MAX_FRAME: usize = 256 * 1024 * 1024;

#[derive(Debug, Serialize, Deserialize)]
pub(crate) enum PeerRequest {
    Append(AppendEntriesRequest<TypeConfig>),
    Vote(VoteRequest<u64>),
    Snapshot(InstallSnapshotRequest<TypeConfig>),
    /// A follower forwards a client write; answered after it is applied on the leader.
    Propose(Entry),
    /// Read index for `sync` on a follower.
    ReadIndex,
    /// Sessions active on a follower since its last report.
    Touch(Vec<i64>),
    /// Whether this member has ever joined a cluster (for bootstrap).
    Status,
    Reconfig(MembershipChange),
    /// Leadership transfer: the leader asks this caught-up voter to start an election. Last
    /// variant: members of an earlier version fail to decode it (and close the connection).
    Elect,
}

#[derive(Debug, Serialize, Deserialize)]
pub(crate) enum PeerResponse {
    Append(Result<AppendEntriesResponse<u64>, RaftError<u64>>),
    Vote(Result<VoteResponse<u64>, RaftError<u64>>),
    Snapshot(Result<InstallSnapshotResponse<u64>, RaftError<u64, InstallSnapshotError>>),
    Propose(Result<(i64, CmdResult), ProposeError>),
    ReadIndex(Result<i64, ProposeError>),
    Touched,
    Status {
        initialized: bool,
    },
    Reconfig(Result<MembersView, ReconfigError>),
    /// `Err`: the target's [`crate::error::ElectError`] as text.
    Elect(Result<(), String>),
}

#[derive(Debug, thiserror::Error, Clone)]
pub enum PeerError {
    #[error("cannot reach {addr}: {reason}")]
    Unreachable { addr: String, reason: String },
    #[error("peer {addr} did not answer within {after:?}")]
    Timeout { addr: String, after: Duration },
    #[error("bad frame from {addr}: {reason}")]
    Protocol { addr: String, reason: String },
}

pub(crate) async fn read_frame<R: AsyncReadExt + Unpin>(
    r: &mut R,
) -> std::io::Result<Option<(u64, Vec<u8>)>> {
    let mut len = [0u8; 4];
    match r.read_exact(&mut len).await {
        Ok(_) => {}
        Err(e) if e.kind() == std::io::ErrorKind::UnexpectedEof => return Ok(None),
        Err(e) => return Err(e),
    }
    let len = u32::from_be_bytes(len) as usize;
    if !(8..=MAX_FRAME).contains(&len) {
        return Err(std::io::Error::other(format!(
            "peer frame length {len} out of range"
        )));
    }
    let mut id = [0u8; 8];
    r.read_exact(&mut id).await?;
    let mut body = vec![0u8; len - 8];
    r.read_exact(&mut body).await?;
    Ok(Some((u64::from_be_bytes(id), body)))
}

/// Writes the frames sent on the returned channel to `wr` in order, flushing whenever the
/// channel is momentarily empty; ends at the first write error or when every sender is gone.
pub(crate) fn spawn_frame_writer(
    wr: tokio::net::tcp::OwnedWriteHalf,
) -> (
    tokio::sync::mpsc::UnboundedSender<Vec<u8>>,
    tokio::task::JoinHandle<()>,
) {
    use tokio::io::AsyncWriteExt;
    let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel::<Vec<u8>>();
    let task = tokio::spawn(async move {
        let mut wr = tokio::io::BufWriter::new(wr);
        while let Some(f) = rx.recv().await {
            if wr.write_all(&f).await.is_err() {
                break;
            }
            if rx.is_empty() && wr.flush().await.is_err() {
                break;
            }
        }
    });
    (tx, task)
}

pub(crate) fn encode_frame<T: Serialize>(id: u64, msg: &T) -> Vec<u8> {
    encode_raw_frame(id, &postcard::to_allocvec(msg).unwrap_or_default())
}

pub(crate) fn encode_raw_frame(id: u64, body: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(body.len() + 12);
    out.extend_from_slice(&((body.len() + 8) as u32).to_be_bytes());
    out.extend_from_slice(&id.to_be_bytes());
    out.extend_from_slice(body);
    out
}
