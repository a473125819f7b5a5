//! The sending end: [`RpcConn`] (one ordered, lazily reconnecting connection to a peer, matching
//! answers by request id) and openraft's [`RaftNetwork`] over it.

use super::hello::{self, PeerInfo};
use super::{encode_frame, read_frame, PeerError, PeerRequest, PeerResponse};
use crate::types::*;
use openraft::error::{
    InstallSnapshotError, NetworkError, RPCError, RaftError, RemoteError, Unreachable,
};
use openraft::network::{RPCOption, RaftNetwork, RaftNetworkFactory};
use openraft::raft::{
    AppendEntriesRequest, AppendEntriesResponse, InstallSnapshotRequest, InstallSnapshotResponse,
    VoteRequest, VoteResponse,
};
use parking_lot::Mutex;
use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;
use tokio::io::AsyncWriteExt;
use tokio::net::tcp::OwnedReadHalf;
use tokio::net::TcpStream;
use tokio::sync::{mpsc, oneshot};

type Pending = Arc<Mutex<HashMap<u64, oneshot::Sender<PeerResponse>>>>;

struct Live {
    tx: mpsc::UnboundedSender<Vec<u8>>,
    pending: Pending,
    dead: Arc<std::sync::atomic::AtomicBool>,
}

/// The last handshake outcome per peer address, and when it was learned. openraft opens a new
/// connection for many RPCs (heartbeats, leadership confirmation), so only the first connection to
/// an address waits for the hello's answer; later ones send the hello and their requests at once
/// (the answer is checked when it arrives), or, to a 0.1.0 peer, no hello at all.
static KNOWN_PEERS: std::sync::LazyLock<Mutex<HashMap<String, (PeerInfo, std::time::Instant)>>> =
    std::sync::LazyLock::new(|| Mutex::new(HashMap::new()));

/// How long a "this address is rzk 0.1.0" result is trusted before handshaking again (so a
/// member upgraded in place is noticed).
const LEGACY_RECHECK: Duration = Duration::from_secs(5);

/// Records a handshake outcome; logs when it differs from what was known for the address.
fn record(addr: &str, info: &PeerInfo) {
    let prev = KNOWN_PEERS
        .lock()
        .insert(addr.to_string(), (info.clone(), std::time::Instant::now()));
    if prev.map(|(p, _)| p).as_ref() != Some(info) {
        tracing::info!(
            peer = %addr,
            protocol = info.protocol,
            feature_level_max = info.feature_level_max,
            release = info.release.as_deref().unwrap_or("0.1.0 (no handshake)"),
            "peer protocol negotiated"
        );
    }
}

fn hello_frame() -> Vec<u8> {
    super::encode_raw_frame(hello::HELLO_ID, &hello::encode_hello(&hello::ours()))
}

/// The peer's answer to our hello.
fn parse_ack(addr: &str, id: u64, body: &[u8]) -> Result<PeerInfo, PeerError> {
    let protocol_err = |reason: String| PeerError::Protocol {
        addr: addr.to_string(),
        reason,
    };
    let rest = hello::strip_magic(body)
        .filter(|_| id == hello::HELLO_ID)
        .ok_or_else(|| protocol_err("the first frame answering a hello is not a hello".into()))?;
    let ack = hello::decode_ack(rest)
        .map_err(|e| protocol_err(format!("undecodable hello answer: {e}")))?;
    if ack.protocol < hello::PROTOCOL_V1 || ack.protocol > hello::PROTOCOL_MAX {
        return Err(protocol_err(format!(
            "peer chose protocol {} that this build does not speak",
            ack.protocol
        )));
    }
    Ok(PeerInfo {
        protocol: ack.protocol,
        feature_level_max: ack.feature_level_max,
        release: Some(ack.release),
    })
}

/// How long the accepting member may take to answer a hello.
const HELLO_TIMEOUT: Duration = Duration::from_secs(1);

/// A lazily (re)connecting request/response channel to one peer address.
pub(crate) struct RpcConn {
    addr: String,
    live: tokio::sync::Mutex<Option<Live>>,
    next_id: AtomicU64,
    /// What the peer said in the handshake of the current (or last) connection.
    peer: Arc<Mutex<Option<PeerInfo>>>,
    /// Always wait for the hello's answer (the feature-level probes: they must see an upgrade).
    always_handshake: bool,
}

impl RpcConn {
    pub(crate) fn new(addr: String) -> Self {
        RpcConn {
            addr,
            live: tokio::sync::Mutex::new(None),
            next_id: AtomicU64::new(1),
            peer: Arc::new(Mutex::new(None)),
            always_handshake: false,
        }
    }

    /// A connection that handshakes fresh on every connect (never trusts [`KNOWN_PEERS`]).
    pub(crate) fn probing(addr: String) -> Self {
        RpcConn {
            always_handshake: true,
            ..RpcConn::new(addr)
        }
    }

    /// The peer's protocol and feature level as of the last handshake (`None` before the
    /// first connection).
    pub(crate) fn peer_info(&self) -> Option<PeerInfo> {
        self.peer.lock().clone()
    }

    fn unreachable(&self, reason: impl Into<String>) -> PeerError {
        PeerError::Unreachable {
            addr: self.addr.clone(),
            reason: reason.into(),
        }
    }

    async fn tcp(&self) -> Result<TcpStream, PeerError> {
        let stream = tokio::time::timeout(Duration::from_secs(2), TcpStream::connect(&self.addr))
            .await
            .map_err(|_| PeerError::Unreachable {
                addr: self.addr.clone(),
                reason: "connect timed out".into(),
            })?
            .map_err(|e| PeerError::Unreachable {
                addr: self.addr.clone(),
                reason: e.to_string(),
            })?;
        let _ = stream.set_nodelay(true);
        Ok(stream)
    }

    /// Sends our hello and reads the answer. `Ok(None)`: the peer closed the connection without
    /// answering, which is what an rzk 0.1.0 member does.
    async fn handshake(&self, stream: &mut TcpStream) -> Result<Option<PeerInfo>, PeerError> {
        if stream.write_all(&hello_frame()).await.is_err() {
            return Ok(None);
        }
        let answer = match tokio::time::timeout(HELLO_TIMEOUT, read_frame(stream)).await {
            Err(_) => return Err(self.unreachable("no answer to the protocol handshake")),
            Ok(Ok(Some(f))) => f,
            // Closed (or reset) without an answer: a member without the handshake.
            Ok(Ok(None)) | Ok(Err(_)) => return Ok(None),
        };
        let (id, body) = answer;
        parse_ack(&self.addr, id, &body).map(Some)
    }

    async fn connect(&self) -> Result<Live, PeerError> {
        let known = if self.always_handshake {
            None
        } else {
            KNOWN_PEERS.lock().get(&self.addr).cloned()
        };
        match known {
            Some((info, _)) if info.protocol >= 2 => {
                // Pipelined: the hello goes first, requests right behind it.
                let stream = self.tcp().await?;
                *self.peer.lock() = Some(info);
                let (rd, wr) = stream.into_split();
                let live = self.run(rd, wr, true);
                let _ = live.tx.send(hello_frame());
                Ok(live)
            }
            Some((_, at)) if at.elapsed() < LEGACY_RECHECK => {
                // rzk 0.1.0 a moment ago: protocol 1, no hello.
                let stream = self.tcp().await?;
                *self.peer.lock() = Some(PeerInfo::v1());
                let (rd, wr) = stream.into_split();
                Ok(self.run(rd, wr, false))
            }
            _ => {
                let mut stream = self.tcp().await?;
                let info = match self.handshake(&mut stream).await? {
                    Some(info) => info,
                    None => {
                        // rzk 0.1.0 closed the connection on our hello: protocol 1 on a new one.
                        stream = self.tcp().await?;
                        PeerInfo::v1()
                    }
                };
                *self.peer.lock() = Some(info.clone());
                record(&self.addr, &info);
                let (rd, wr) = stream.into_split();
                Ok(self.run(rd, wr, false))
            }
        }
    }

    /// Starts the writer and reader tasks of a connection. `expect_ack`: a pipelined hello was
    /// sent, so the first frame must be its answer.
    fn run(
        &self,
        mut rd: OwnedReadHalf,
        wr: tokio::net::tcp::OwnedWriteHalf,
        expect_ack: bool,
    ) -> Live {
        let pending: Pending = Arc::new(Mutex::new(HashMap::new()));
        let dead = Arc::new(std::sync::atomic::AtomicBool::new(false));
        let (tx, writer) = super::spawn_frame_writer(wr);
        let d2 = dead.clone();
        tokio::spawn(async move {
            let _ = writer.await;
            d2.store(true, Ordering::Relaxed);
        });
        let p2 = pending.clone();
        let d3 = dead.clone();
        let (addr, peer) = (self.addr.clone(), self.peer.clone());
        tokio::spawn(async move {
            let mut awaiting_ack = expect_ack;
            while let Ok(Some((id, body))) = read_frame(&mut rd).await {
                if std::mem::take(&mut awaiting_ack) {
                    match parse_ack(&addr, id, &body) {
                        Ok(info) => {
                            record(&addr, &info);
                            *peer.lock() = Some(info);
                            continue;
                        }
                        Err(e) => {
                            tracing::warn!(error = %e, "bad answer to the peer hello; closing");
                            KNOWN_PEERS.lock().remove(&addr);
                            break;
                        }
                    }
                }
                match postcard::from_bytes::<PeerResponse>(&body) {
                    Ok(resp) => {
                        if let Some(tx) = p2.lock().remove(&id) {
                            let _ = tx.send(resp);
                        }
                    }
                    Err(e) => {
                        tracing::warn!(error = %e, "undecodable peer response");
                        break;
                    }
                }
            }
            if awaiting_ack {
                // Closed before answering the hello (a peer that went back to 0.1.0, or died):
                // the next connection handshakes and waits for the answer.
                KNOWN_PEERS.lock().remove(&addr);
            }
            d3.store(true, Ordering::Relaxed);
            p2.lock().clear();
        });
        Live { tx, pending, dead }
    }

    /// Queues `req` (in call order) and returns a receiver for its response.
    pub(crate) async fn send(
        &self,
        req: &PeerRequest,
    ) -> Result<oneshot::Receiver<PeerResponse>, PeerError> {
        let mut guard = self.live.lock().await;
        if guard
            .as_ref()
            .is_none_or(|l| l.dead.load(Ordering::Relaxed))
        {
            *guard = Some(self.connect().await?);
        }
        let live = guard.as_ref().expect("connected above");
        let id = self.next_id.fetch_add(1, Ordering::Relaxed);
        let (tx, rx) = oneshot::channel();
        live.pending.lock().insert(id, tx);
        if live.tx.send(encode_frame(id, req)).is_err() {
            live.pending.lock().remove(&id);
            *guard = None;
            return Err(PeerError::Unreachable {
                addr: self.addr.clone(),
                reason: "connection closed".into(),
            });
        }
        Ok(rx)
    }

    pub(crate) async fn call(
        &self,
        req: &PeerRequest,
        timeout: Duration,
    ) -> Result<PeerResponse, PeerError> {
        let rx = self.send(req).await?;
        self.wait(rx, timeout).await
    }

    pub(crate) async fn wait(
        &self,
        rx: oneshot::Receiver<PeerResponse>,
        timeout: Duration,
    ) -> Result<PeerResponse, PeerError> {
        match tokio::time::timeout(timeout, rx).await {
            Err(_) => Err(PeerError::Timeout {
                addr: self.addr.clone(),
                after: timeout,
            }),
            Ok(Err(_)) => {
                *self.live.lock().await = None;
                Err(PeerError::Unreachable {
                    addr: self.addr.clone(),
                    reason: "connection lost".into(),
                })
            }
            Ok(Ok(r)) => Ok(r),
        }
    }
}

/// Creates per-peer Raft clients.
pub struct Network;

pub struct PeerClient {
    target: u64,
    conn: RpcConn,
}

impl RaftNetworkFactory<TypeConfig> for Network {
    type Network = PeerClient;
    async fn new_client(&mut self, target: u64, node: &Member) -> Self::Network {
        PeerClient {
            target,
            conn: RpcConn::new(node.quorum_addr.clone()),
        }
    }
}

/// openraft derives RPC deadlines from the heartbeat interval (tens of ms); a busy 2-core machine
/// with fsyncs in the path needs more slack before a peer is declared unresponsive.
fn deadline(option: &RPCOption) -> Duration {
    option.hard_ttl().max(Duration::from_millis(500))
}

fn to_rpc_err<E: std::error::Error>(e: PeerError) -> RPCError<u64, Member, E> {
    match e {
        PeerError::Unreachable { .. } => RPCError::Unreachable(Unreachable::new(&e)),
        _ => RPCError::Network(NetworkError::new(&e)),
    }
}

fn unexpected<E: std::error::Error>(target: u64) -> RPCError<u64, Member, E> {
    RPCError::Network(NetworkError::new(&PeerError::Protocol {
        addr: format!("member {target}"),
        reason: "unexpected response kind".into(),
    }))
}

impl RaftNetwork<TypeConfig> for PeerClient {
    async fn append_entries(
        &mut self,
        rpc: AppendEntriesRequest<TypeConfig>,
        option: RPCOption,
    ) -> Result<AppendEntriesResponse<u64>, RPCError<u64, Member, RaftError<u64>>> {
        match self
            .conn
            .call(&PeerRequest::Append(rpc), deadline(&option))
            .await
            .map_err(to_rpc_err)?
        {
            PeerResponse::Append(Ok(r)) => Ok(r),
            PeerResponse::Append(Err(e)) => {
                Err(RPCError::RemoteError(RemoteError::new(self.target, e)))
            }
            _ => Err(unexpected(self.target)),
        }
    }

    async fn install_snapshot(
        &mut self,
        rpc: InstallSnapshotRequest<TypeConfig>,
        option: RPCOption,
    ) -> Result<
        InstallSnapshotResponse<u64>,
        RPCError<u64, Member, RaftError<u64, InstallSnapshotError>>,
    > {
        match self
            .conn
            .call(&PeerRequest::Snapshot(rpc), deadline(&option))
            .await
            .map_err(to_rpc_err)?
        {
            PeerResponse::Snapshot(Ok(r)) => Ok(r),
            PeerResponse::Snapshot(Err(e)) => {
                Err(RPCError::RemoteError(RemoteError::new(self.target, e)))
            }
            _ => Err(unexpected(self.target)),
        }
    }

    async fn vote(
        &mut self,
        rpc: VoteRequest<u64>,
        option: RPCOption,
    ) -> Result<VoteResponse<u64>, RPCError<u64, Member, RaftError<u64>>> {
        match self
            .conn
            .call(&PeerRequest::Vote(rpc), deadline(&option))
            .await
            .map_err(to_rpc_err)?
        {
            PeerResponse::Vote(Ok(r)) => Ok(r),
            PeerResponse::Vote(Err(e)) => {
                Err(RPCError::RemoteError(RemoteError::new(self.target, e)))
            }
            _ => Err(unexpected(self.target)),
        }
    }
}
