//! One client connection: transport (plaintext/TLS), then the session (session.rs), the request
//! pipeline (pipeline.rs, FIFO per session), dispatch, reads and writes.

use crate::audit::{self, Outcome};
use crate::fourlw;
use crate::server::{notification_frame, now_ms, ConnInfo, Out, Shared};
use crate::tls::Tls;
use crate::watches::{self, ConnId};
use bytes::BytesMut;
use futures_util::stream::{FuturesOrdered, StreamExt};
use parking_lot::RwLock;
use rzk_proto::consts::{add_watch_mode, event_type, op, xid};
use rzk_proto::records::*;
use rzk_proto::{
    decode_request, ConnectRequest, ConnectResponse, DecodeError, ErrorCode, FrameDecoder, Jute,
    MultiOp, Request, Writer,
};
use rzk_tree::{acl, CmdResult, Command, Entry, Id, OpResult, WatchEvent, WriteOp};
use std::future::Future;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt, BufWriter};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{mpsc, watch};

mod audited;
mod dispatch;
mod pipeline;
mod read;
mod reconfig;
mod sasl_step;
mod session;
mod writes;
use audited::*;
use dispatch::*;
use pipeline::*;
use read::*;
use reconfig::*;
use sasl_step::*;
use session::*;
use writes::*;

/// What a client listener speaks.
#[derive(Clone)]
pub enum Mode {
    /// `clientPort`.
    Plain,
    /// `secureClientPort`: TLS only.
    Tls(Arc<Tls>),
    /// `clientPort` with `client.portUnification=true`: TLS when the first byte is a TLS
    /// handshake record (0x16), plaintext otherwise.
    Unified(Arc<Tls>),
}

type BoxRead = Box<dyn AsyncRead + Send + Unpin>;
type BoxWrite = Box<dyn AsyncWrite + Send + Unpin>;

/// First byte of a TLS record carrying a handshake message (a ClientHello starts with it).
const TLS_HANDSHAKE: u8 = 0x16;
const TLS_HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);

/// Accepts client connections forever.
pub async fn serve(s: Arc<Shared>, listener: TcpListener, mode: Mode) {
    loop {
        match listener.accept().await {
            Ok((stream, peer)) => {
                let total_max = s.cfg.max_cnxns as usize;
                if total_max > 0 && s.conns.lock().len() >= total_max {
                    tracing::warn!(%peer, max = total_max, "too many connections to this server (maxCnxns); closing");
                    continue;
                }
                let max = s.cfg.max_client_cnxns as usize;
                if max > 0 {
                    let n = s
                        .conns
                        .lock()
                        .values()
                        .filter(|c| c.peer.ip() == peer.ip())
                        .count();
                    if n >= max {
                        tracing::warn!(%peer, max, "too many connections from this address; closing");
                        continue;
                    }
                }
                let s = s.clone();
                let mode = mode.clone();
                tokio::spawn(async move {
                    if let Err(e) = accept(s, stream, peer, mode).await {
                        tracing::debug!(%peer, error = %e, "connection ended");
                    }
                });
            }
            Err(e) => {
                tracing::warn!(error = %e, "accept failed");
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
        }
    }
}

/// Sorts out the transport (plaintext, TLS, or either on a unified port), then serves the
/// connection. TLS failures are logged with the peer and the reason; nothing else is affected.
async fn accept(
    s: Arc<Shared>,
    stream: TcpStream,
    peer: SocketAddr,
    mode: Mode,
) -> Result<(), ConnError> {
    let _ = stream.set_nodelay(true);
    let tls = match mode {
        Mode::Plain => None,
        Mode::Tls(t) => {
            let mut first = [0u8; 1];
            match tokio::time::timeout(TLS_HANDSHAKE_TIMEOUT, stream.peek(&mut first)).await {
                // Connected and closed without a byte (a TCP probe): nothing to report.
                Ok(Ok(0)) | Ok(Err(_)) => return Ok(()),
                Ok(Ok(_)) if first[0] != TLS_HANDSHAKE => {
                    tracing::warn!(%peer, "plaintext (not TLS) on the secure client port; closing the connection");
                    return Ok(());
                }
                _ => {}
            }
            Some(t)
        }
        Mode::Unified(t) => {
            let wait = Duration::from_millis(s.cfg.security.handshake_detection_timeout_ms as u64);
            let mut first = [0u8; 1];
            match tokio::time::timeout(wait, stream.peek(&mut first)).await {
                Ok(Ok(1)) if first[0] == TLS_HANDSHAKE => Some(t),
                Ok(Ok(1)) => None,
                Ok(Ok(_)) => return Ok(()),
                Ok(Err(e)) => return Err(e.into()),
                Err(_) => {
                    return Err(ConnError::Refused(format!(
                        "no data within {} ms to tell TLS from plaintext",
                        wait.as_millis()
                    )))
                }
            }
        }
    };
    let Some(tls) = tls else {
        let (rd, wr) = stream.into_split();
        return handle(s, Box::new(rd), Box::new(wr), peer, Vec::new(), false).await;
    };
    let hs = tokio::time::timeout(TLS_HANDSHAKE_TIMEOUT, tls.acceptor().accept(stream)).await;
    let stream = match hs {
        Ok(Ok(st)) => st,
        Ok(Err(e)) => {
            tracing::warn!(%peer, error = %e, "TLS handshake failed; closing the connection");
            return Ok(());
        }
        Err(_) => {
            tracing::warn!(%peer, "TLS handshake did not finish within 10 s; closing the connection");
            return Ok(());
        }
    };
    let mut ids = Vec::new();
    let sec = &s.cfg.security;
    if let Some(cert) = stream
        .get_ref()
        .1
        .peer_certificates()
        .and_then(|c| c.first())
    {
        match crate::tls::subject_dn(cert) {
            Some(dn) if sec.x509_auth => {
                tracing::info!(%peer, id = %dn, "authenticated x509 client");
                if sec.x509_super_user.as_deref() == Some(dn.as_str()) {
                    ids.push(Id::new("super", &dn));
                }
                ids.push(Id::new("x509", &dn));
            }
            Some(_) => {}
            None => {
                tracing::warn!(%peer, "cannot read the subject of the client certificate; closing the connection");
                return Ok(());
            }
        }
    }
    let (rd, wr) = tokio::io::split(stream);
    handle(s, Box::new(rd), Box::new(wr), peer, ids, true).await
}

#[derive(Debug, thiserror::Error)]
enum ConnError {
    #[error("io: {0}")]
    Io(#[from] std::io::Error),
    #[error("{0}")]
    Frame(#[from] rzk_proto::FrameError),
    #[error("malformed request: {0}")]
    Decode(#[from] DecodeError),
    #[error("{0}")]
    Refused(String),
}

struct FrameReader {
    rd: BoxRead,
    buf: BytesMut,
    dec: FrameDecoder,
}

impl FrameReader {
    /// Next frame body; `None` on clean EOF. Cancel-safe (partial input stays in `buf`).
    async fn next(&mut self) -> Result<Option<Vec<u8>>, ConnError> {
        loop {
            if let Some((range, total)) = self.dec.next_frame(&self.buf)? {
                let body = self.buf[range].to_vec();
                let _ = self.buf.split_to(total);
                return Ok(Some(body));
            }
            let n = match self.rd.read_buf(&mut self.buf).await {
                Ok(n) => n,
                // TLS clients often close without close_notify: an EOF like any other.
                Err(e) if e.kind() == std::io::ErrorKind::UnexpectedEof => 0,
                Err(e) => return Err(e.into()),
            };
            if n == 0 {
                return if self.buf.is_empty() {
                    Ok(None)
                } else {
                    Err(ConnError::Refused(format!(
                        "connection closed mid-frame ({} bytes pending)",
                        self.buf.len()
                    )))
                };
            }
        }
    }
}

fn frame(xid: i32, zxid: i64, err: i32, body: impl FnOnce(&mut Writer)) -> Vec<u8> {
    let mut w = Writer::framed();
    ReplyHeader { xid, zxid, err }.encode(&mut w);
    if err == 0 {
        body(&mut w);
    }
    w.finish_frame()
}

fn header_only(xid: i32, zxid: i64, err: ErrorCode) -> Vec<u8> {
    frame(xid, zxid, err.code(), |_| {})
}

/// Per-connection state visible to request futures.
struct Ctx {
    s: Arc<Shared>,
    conn: ConnId,
    session: i64,
    auth: RwLock<Vec<Id>>,
    info: Arc<ConnInfo>,
    sasl: parking_lot::Mutex<crate::sasl::Digest>,
}

struct Reply {
    frame: Option<Vec<u8>>,
    close: bool,
    started: Instant,
}

type ReplyFuture = Pin<Box<dyn Future<Output = Reply> + Send>>;

/// zxid field of a framed reply (bytes 8..16 after the length prefix and xid).
fn reply_zxid(f: &[u8]) -> i64 {
    f.get(8..16)
        .map_or(0, |b| i64::from_be_bytes(b.try_into().unwrap_or([0; 8])))
}

fn request_path(req: &Request) -> Option<&str> {
    Some(match req {
        Request::Create(c) => &c.path,
        Request::Delete(r) => &r.path,
        Request::Exists(r)
        | Request::GetData(r)
        | Request::GetChildren(r)
        | Request::GetChildren2(r) => &r.path,
        Request::SetData(r) => &r.path,
        Request::GetAcl(r) | Request::Sync(r) | Request::GetAllChildrenNumber(r) => &r.path,
        Request::SetAcl(r) => &r.path,
        Request::Check(r) => &r.path,
        Request::AddWatch(r) => &r.path,
        Request::CheckWatches(r) | Request::RemoveWatches(r) => &r.path,
        _ => return None,
    })
}

fn ready(frame: Vec<u8>, started: Instant) -> Option<ReplyFuture> {
    Some(Box::pin(async move {
        Reply {
            frame: Some(frame),
            close: false,
            started,
        }
    }))
}
