//! One client connection: handshake, request pipeline (FIFO per session), replies and notifications.

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

async fn handle(
    s: Arc<Shared>,
    rd: BoxRead,
    wr: BoxWrite,
    peer: SocketAddr,
    tls_ids: Vec<Id>,
    secure: bool,
) -> Result<(), ConnError> {
    let mut reader = FrameReader {
        rd,
        buf: BytesMut::with_capacity(8192),
        dec: FrameDecoder::new(s.cfg.jute_max_buffer),
    };
    let mut wr = BufWriter::new(wr);
    // Four-letter words arrive as 4 raw ASCII bytes instead of a length prefix.
    while reader.buf.len() < 4 {
        if tokio::time::timeout(Duration::from_secs(30), reader.rd.read_buf(&mut reader.buf))
            .await
            .map_err(|_| ConnError::Refused("no handshake within 30s".into()))??
            == 0
        {
            return Ok(());
        }
    }
    if !secure && reader.buf[0] == TLS_HANDSHAKE {
        tracing::warn!(%peer, "TLS handshake on a plaintext client port; closing (use secureClientPort, or client.portUnification=true)");
        return Ok(());
    }
    if let Some(cmd) = fourlw::detect(&reader.buf[..4]) {
        let out = fourlw::run(&s, cmd);
        wr.write_all(out.as_bytes()).await?;
        wr.flush().await?;
        let _ = wr.shutdown().await;
        return Ok(());
    }
    let body = match reader.next().await {
        Ok(Some(b)) => b,
        Ok(None) => return Ok(()),
        Err(e) => {
            tracing::warn!(%peer, error = %e, "closing connection: bad handshake frame");
            return Err(e);
        }
    };
    let req = ConnectRequest::decode(&body).map_err(|e| {
        tracing::warn!(%peer, error = %e, "closing connection: malformed ConnectRequest");
        e
    })?;
    s.stats.packets_received.fetch_add(1, Ordering::Relaxed);
    let last_zxid = s.tree.read().last_zxid();
    if req.last_zxid_seen > last_zxid {
        tracing::info!(%peer, client_zxid = req.last_zxid_seen, our_zxid = last_zxid, "refusing session: client has seen a newer zxid");
        return Ok(());
    }
    if !s.serving() {
        tracing::info!(%peer, "refusing client: not part of a working quorum");
        return Ok(());
    }
    let timeout = req.timeout_ms.clamp(
        s.cfg.min_session_timeout as i32,
        s.cfg.max_session_timeout as i32,
    );
    let (session, passwd, timeout) = if req.session_id == 0 {
        let id = s.new_session_id();
        let passwd: Vec<u8> = (0..16).map(|_| rand::random::<u8>()).collect();
        let fut = s
            .raft()
            .submit(Entry {
                time_ms: now_ms(),
                cmd: Command::CreateSession {
                    session_id: id,
                    timeout_ms: timeout,
                    passwd: passwd.clone(),
                },
            })
            .await;
        match fut.await {
            Ok(_) => (id, passwd, timeout),
            Err(e) => {
                tracing::info!(%peer, error = %e, "cannot create session");
                return Ok(());
            }
        }
    } else {
        let mut known = s.tree.read().session(req.session_id).cloned();
        if known.is_none() && s.cfg.is_distributed() {
            // The session may have been created through another member moments ago: catch up first.
            if s.raft().read_barrier().await.is_ok() {
                known = s.tree.read().session(req.session_id).cloned();
            }
        }
        match known {
            Some(info) if info.passwd == req.passwd => {
                (req.session_id, info.passwd, info.timeout_ms)
            }
            _ => {
                tracing::info!(%peer, session = format_args!("0x{:x}", req.session_id), "invalid or expired session on reconnect");
                let mut w = Writer::framed();
                ConnectResponse {
                    protocol_version: 0,
                    timeout_ms: 0,
                    session_id: 0,
                    passwd: vec![0; 16],
                    read_only: req.read_only.map(|_| false),
                }
                .encode(&mut w);
                wr.write_all(&w.finish_frame()).await?;
                wr.flush().await?;
                return Ok(());
            }
        }
    };
    s.touch(session);

    let (tx, mut rx) = mpsc::unbounded_channel::<Out>();
    let conn_id = s.next_conn.fetch_add(1, Ordering::Relaxed);
    let info = Arc::new(ConnInfo {
        tx: tx.clone(),
        session_id: session,
        peer,
        established: SystemTime::now(),
        received: AtomicU64::new(1),
        sent: AtomicU64::new(0),
        last_zxid: AtomicU64::new(0),
        timeout_ms: timeout,
        closing: std::sync::atomic::AtomicBool::new(false),
        detail: parking_lot::Mutex::new(crate::server::ConnDetail {
            lop: "NA",
            ..Default::default()
        }),
    });
    {
        let mut conns = s.conns.lock();
        // A session lives on one connection: a reconnect replaces the old one.
        for c in conns.values() {
            if c.session_id == session {
                let _ = c.tx.send(Out::Close);
            }
        }
        conns.insert(conn_id, info.clone());
    }
    let mut w = Writer::framed();
    ConnectResponse {
        protocol_version: 0,
        timeout_ms: timeout,
        session_id: session,
        passwd,
        read_only: req.read_only.map(|_| false),
    }
    .encode(&mut w);
    let _ = tx.send(Out::Frame(w.finish_frame()));
    tracing::debug!(%peer, session = format_args!("0x{session:x}"), timeout, "session established");

    let stats_s = s.clone();
    let writer = tokio::spawn(async move {
        while let Some(out) = rx.recv().await {
            match out {
                Out::Frame(f) => {
                    if wr.write_all(&f).await.is_err() {
                        break;
                    }
                    stats_s.stats.packets_sent.fetch_add(1, Ordering::Relaxed);
                    if rx.is_empty() && wr.flush().await.is_err() {
                        break;
                    }
                }
                Out::Close => {
                    let _ = wr.flush().await;
                    break;
                }
            }
        }
        let _ = wr.shutdown().await;
    });

    let ctx = Arc::new(Ctx {
        s: s.clone(),
        conn: conn_id,
        session,
        auth: RwLock::new(
            std::iter::once(Id::new("ip", &peer.ip().to_string()))
                .chain(tls_ids)
                .collect(),
        ),
        info: info.clone(),
        sasl: parking_lot::Mutex::new(crate::sasl::Digest::Start),
    });
    let result = run_loop(&ctx, &mut reader, &tx, timeout).await;
    let _ = tx.send(Out::Close);
    s.conns.lock().remove(&conn_id);
    s.watches.lock().remove_conn(conn_id);
    let _ = writer.await;
    result
}

async fn run_loop(
    ctx: &Arc<Ctx>,
    reader: &mut FrameReader,
    tx: &mpsc::UnboundedSender<Out>,
    timeout: i32,
) -> Result<(), ConnError> {
    let s = &ctx.s;
    let mut pending: FuturesOrdered<ReplyFuture> = FuturesOrdered::new();
    let (done_tx, done_rx) = watch::channel(0u64);
    let done_tx = Arc::new(done_tx);
    let mut writes_submitted = 0u64;
    let idle = Duration::from_millis(timeout as u64 * 3 / 2);
    let mut closing = false;
    loop {
        tokio::select! {
            r = tokio::time::timeout(idle, reader.next()), if !closing => {
                let body = match r {
                    Err(_) => return Err(ConnError::Refused("no traffic within the session timeout".into())),
                    Ok(Ok(Some(b))) => b,
                    Ok(Ok(None)) => return Ok(()),
                    Ok(Err(e)) => {
                        tracing::warn!(peer = %ctx.info.peer, error = %e, "closing connection");
                        return Err(e);
                    }
                };
                s.stats.packets_received.fetch_add(1, Ordering::Relaxed);
                ctx.info.received.fetch_add(1, Ordering::Relaxed);
                s.touch(ctx.session);
                let started = Instant::now();
                let mut r = rzk_proto::Reader::new(&body);
                let hdr = RequestHeader::decode(&mut r).map_err(|e| {
                    tracing::warn!(peer = %ctx.info.peer, error = %e, "closing connection: malformed request header");
                    e
                })?;
                if s.cfg.security.enforce_auth && hdr.op != op::AUTH && hdr.op != op::SASL {
                    let schemes = &s.cfg.security.enforce_auth_schemes;
                    if !ctx.auth.read().iter().any(|id| schemes.contains(&id.scheme)) {
                        let have: Vec<String> = ctx.auth.read().iter().map(|id| id.scheme.clone()).collect();
                        tracing::error!(peer = %ctx.info.peer, session = format_args!("0x{:x}", ctx.session), ?have, expected = ?schemes, "session is not authenticated with a scheme enforce.auth.schemes requires; closing the connection");
                        let f = header_only(hdr.xid, 0, ErrorCode::SessionClosedRequireSaslAuth);
                        pending.push_back(Box::pin(async move { Reply { frame: Some(f), close: true, started } }));
                        closing = true;
                        continue;
                    }
                }
                if hdr.op == op::SASL {
                    if let Some(users) = crate::sasl::USERS.get().filter(|_| s.cfg.security.sasl_auth) {
                        let (f, close) = sasl_step(ctx, users, hdr.xid, &body[r.position()..]);
                        pending.push_back(Box::pin(async move { Reply { frame: Some(f), close, started } }));
                        closing |= close;
                        continue;
                    }
                }
                let req = match decode_request(hdr.op, &body[r.position()..]) {
                    Ok(q) => q,
                    Err(DecodeError::UnknownOpcode(o)) => {
                        tracing::info!(opcode = o, "unknown opcode");
                        let f = header_only(hdr.xid, s.tree.read().last_zxid(), ErrorCode::Unimplemented);
                        pending.push_back(Box::pin(async move { Reply { frame: Some(f), close: false, started } }));
                        continue;
                    }
                    Err(e) => {
                        // The frame boundary is intact, so like ZooKeeper answer MarshallingError and go on.
                        tracing::info!(peer = %ctx.info.peer, opcode = hdr.op, error = %e, "malformed request body");
                        let f = header_only(hdr.xid, s.tree.read().last_zxid(), ErrorCode::MarshallingError);
                        pending.push_back(Box::pin(async move { Reply { frame: Some(f), close: false, started } }));
                        continue;
                    }
                };
                if request_path(&req).is_some_and(|p| p.is_empty()) {
                    // A null/empty path cannot be processed by ZooKeeper either.
                    let f = header_only(hdr.xid, s.tree.read().last_zxid(), ErrorCode::MarshallingError);
                    pending.push_back(Box::pin(async move { Reply { frame: Some(f), close: false, started } }));
                    continue;
                }
                {
                    let mut d = ctx.info.detail.lock();
                    d.lop = crate::server::op_abbrev(hdr.op);
                    if hdr.xid > 0 {
                        d.lcxid = hdr.xid;
                    }
                }
                let fut = dispatch(ctx, hdr.xid, req, started, &done_tx, &done_rx, &mut writes_submitted).await;
                if let Some(f) = fut {
                    pending.push_back(f);
                }
            }
            Some(reply) = pending.next(), if !pending.is_empty() => {
                if let Some(f) = reply.frame {
                    let us = reply.started.elapsed().as_micros() as u64;
                    s.stats.record_latency_us(us);
                    {
                        let mut d = ctx.info.detail.lock();
                        let ms = us / 1000;
                        d.lzxid = reply_zxid(&f);
                        d.lresp_ms = now_ms();
                        d.llat_ms = ms;
                        d.min_ms = if d.count == 0 { ms } else { d.min_ms.min(ms) };
                        d.max_ms = d.max_ms.max(ms);
                        d.total_ms += ms;
                        d.count += 1;
                    }
                    ctx.info.sent.fetch_add(1, Ordering::Relaxed);
                    let _ = tx.send(Out::Frame(f));
                }
                if reply.close {
                    closing = true;
                }
            }
            else => {}
        }
        if closing && pending.is_empty() {
            return Ok(());
        }
    }
}

/// One SASL (DIGEST-MD5) request: the reply frame, and whether to close the connection (a failed
/// authentication, as ZooKeeper does unless it is told to keep such clients).
fn sasl_step(ctx: &Ctx, users: &crate::sasl::Users, xid: i32, body: &[u8]) -> (Vec<u8>, bool) {
    use crate::sasl::Step;
    let token = rzk_proto::Reader::new(body)
        .buffer()
        .ok()
        .flatten()
        .unwrap_or(&[])
        .to_vec();
    let peer = ctx.info.peer;
    let step = ctx.sasl.lock().step(&token, users);
    let reply = |tok: &[u8]| frame(xid, 0, 0, |w| w.buffer(Some(tok)));
    match step {
        Step::Continue(tok) => (reply(&tok), false),
        Step::Success(tok, user) => {
            tracing::info!(%peer, user = %user, "SASL DIGEST-MD5 authenticated");
            let id = Id::new("sasl", &user);
            let mut auth = ctx.auth.write();
            if ctx.s.cfg.security.sasl_super_users.contains(&user) {
                auth.push(Id::new("super", ""));
            }
            if !auth.contains(&id) {
                auth.push(id);
            }
            (reply(&tok), false)
        }
        Step::Failure(why) => {
            tracing::warn!(%peer, reason = %why, "SASL authentication failed; closing the connection");
            let code = if ctx
                .s
                .cfg
                .security
                .enforce_auth_schemes
                .iter()
                .any(|s| s == "sasl")
                && ctx.s.cfg.security.enforce_auth
            {
                ErrorCode::SessionClosedRequireSaslAuth
            } else {
                ErrorCode::AuthFailed
            };
            (header_only(xid, 0, code), true)
        }
    }
}

#[derive(Debug)]
enum ReconfigParseError {
    Bad(String),
    StaleConfig,
}

impl std::fmt::Display for ReconfigParseError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            ReconfigParseError::Bad(m) => f.write_str(m),
            ReconfigParseError::StaleConfig => {
                f.write_str("curConfigId does not match the current configuration")
            }
        }
    }
}

fn e_code(e: &ReconfigParseError) -> ErrorCode {
    match e {
        ReconfigParseError::Bad(_) => ErrorCode::BadArguments,
        ReconfigParseError::StaleConfig => ErrorCode::BadVersion,
    }
}

fn reconfig_code(e: &rzk_raft::ReconfigError) -> ErrorCode {
    match e {
        rzk_raft::ReconfigError::NoQuorum => ErrorCode::NewConfigNoQuorum,
        rzk_raft::ReconfigError::InProgress => ErrorCode::ReconfigInProgress,
        rzk_raft::ReconfigError::BadArguments(_) => ErrorCode::BadArguments,
        _ => ErrorCode::SystemError,
    }
}

/// Turns a ZooKeeper reconfig request (incremental or a full new member list) into a change.
fn reconfig_change(
    s: &Shared,
    r: &ReconfigRequest,
) -> Result<rzk_raft::MembershipChange, ReconfigParseError> {
    let cur = s.raft().members();
    if r.cur_config_id != -1 && r.cur_config_id as u64 != cur.version {
        return Err(ReconfigParseError::StaleConfig);
    }
    let default_port = s.cfg.client_address().map_or(2181, |a| a.1);
    let parse_specs =
        |text: &str| -> Result<Vec<(u64, rzk_raft::Member, bool)>, ReconfigParseError> {
            text.split(',')
                .map(str::trim)
                .filter(|t| !t.is_empty())
                .map(|t| {
                    let sp =
                        rzk_config::parse_server_assignment(t).map_err(ReconfigParseError::Bad)?;
                    let (m, voter) = crate::server::member_from_spec(&sp, default_port);
                    Ok((sp.id, m, voter))
                })
                .collect()
        };
    let mut change = rzk_raft::MembershipChange::default();
    if !r.new_members.trim().is_empty() {
        change.upsert = parse_specs(&r.new_members)?;
        let keep: std::collections::BTreeSet<u64> = change.upsert.iter().map(|u| u.0).collect();
        change.remove = cur
            .voters
            .keys()
            .chain(cur.learners.keys())
            .copied()
            .filter(|id| !keep.contains(id))
            .collect();
    } else {
        change.upsert = parse_specs(&r.joining_servers)?;
        for id in r
            .leaving_servers
            .split(',')
            .map(str::trim)
            .filter(|t| !t.is_empty())
        {
            change.remove.push(id.parse().map_err(|_| {
                ReconfigParseError::Bad(format!("bad server id {id:?} in leavingServers"))
            })?);
        }
    }
    if change.upsert.is_empty() && change.remove.is_empty() {
        return Err(ReconfigParseError::Bad("empty reconfiguration".into()));
    }
    Ok(change)
}

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

// The request comes back whole when it is not a write (the caller answers it as a read).
#[allow(clippy::result_large_err)]
fn write_op(req: Request) -> Result<WriteOp, Request> {
    Ok(match req {
        Request::Create(c) => WriteOp::Create {
            path: c.path,
            data: c.data,
            acl: c.acl.iter().map(Into::into).collect(),
            flags: c.flags,
            ttl: c.ttl,
            op: c.op,
        },
        Request::Delete(d) => WriteOp::Delete {
            path: d.path,
            version: d.version,
        },
        Request::SetData(d) => WriteOp::SetData {
            path: d.path,
            data: d.data,
            version: d.version,
        },
        Request::SetAcl(a) => WriteOp::SetAcl {
            path: a.path,
            acl: a.acl.iter().map(Into::into).collect(),
            version: a.version,
        },
        Request::Check(c) => WriteOp::Check {
            path: c.path,
            version: c.version,
        },
        other => return Err(other),
    })
}

/// ZooKeeper accepts an ACL of scheme x509 or sasl only when that authentication provider is
/// configured (fixupACL: InvalidACL otherwise); the tree itself accepts both schemes.
fn acl_providers_configured(sec: &rzk_config::SecurityConfig, op: &WriteOp) -> bool {
    let acl = match op {
        WriteOp::Create { acl, .. } | WriteOp::SetAcl { acl, .. } => acl,
        _ => return true,
    };
    acl.iter().all(|a| match a.id.scheme.as_str() {
        "x509" => sec.x509_auth,
        "sasl" => sec.sasl_auth,
        _ => true,
    })
}

/// Cluster feature level from which the x509 and sasl ACL schemes may be used: an rzk 0.1.0
/// member's tree refuses them (InvalidACL) where a newer one creates the node, so until every
/// member knows them (ARCHITECTURE.md, "Formats and versions") they are refused here.
const ACL_SCHEMES_FEATURE_LEVEL: u32 = 3;

fn acl_allowed(s: &Shared, op: &WriteOp) -> bool {
    let new_scheme = match op {
        WriteOp::Create { acl, .. } | WriteOp::SetAcl { acl, .. } => acl
            .iter()
            .any(|a| a.id.scheme == "x509" || a.id.scheme == "sasl"),
        _ => false,
    };
    acl_providers_configured(&s.cfg.security, op)
        && (!new_scheme || s.raft().feature_level() >= ACL_SCHEMES_FEATURE_LEVEL)
}

fn multi_write_op(o: MultiOp) -> Option<WriteOp> {
    write_op(match o {
        MultiOp::Create(c) => Request::Create(c),
        MultiOp::Delete(d) => Request::Delete(d),
        MultiOp::SetData(d) => Request::SetData(d),
        MultiOp::Check(c) => Request::Check(c),
        _ => return None,
    })
    .ok()
}

fn encode_op_result(w: &mut Writer, opc: i32, r: &OpResult) {
    match r {
        OpResult::Created { path, stat } => {
            if opc == op::CREATE {
                CreateResponse { path: path.clone() }.encode(w)
            } else {
                Create2Response {
                    path: path.clone(),
                    stat: (*stat).into(),
                }
                .encode(w)
            }
        }
        OpResult::SetData { stat } | OpResult::SetAcl { stat } => StatResponse {
            stat: (*stat).into(),
        }
        .encode(w),
        OpResult::Deleted | OpResult::Checked | OpResult::Error(_) => {}
    }
}

fn encode_multi(w: &mut Writer, ops: &[i32], results: &[OpResult]) {
    for (opc, r) in ops.iter().zip(results) {
        match r {
            OpResult::Error(e) => {
                MultiHeader {
                    op: op::ERROR,
                    done: false,
                    err: e.code(),
                }
                .encode(w);
                ErrorResponse { err: e.code() }.encode(w);
            }
            ok => {
                let t = match (opc, ok) {
                    (&op::CREATE, _) => op::CREATE,
                    (_, OpResult::Created { .. }) => op::CREATE2,
                    (o, _) => *o,
                };
                MultiHeader {
                    op: t,
                    done: false,
                    err: 0,
                }
                .encode(w);
                encode_op_result(w, t, ok);
            }
        }
    }
    MultiHeader {
        op: -1,
        done: true,
        err: -1,
    }
    .encode(w);
}

/// Proposes a client write and returns the future of its reply. The write is queued before this
/// returns (FIFO per session); later reads of the session wait for `done_tx` to reach its number.
/// A write that cannot commit (leader lost) closes the connection, as a ZooKeeper server does.
async fn submit_write(
    ctx: &Arc<Ctx>,
    cmd: Command,
    xid: i32,
    started: Instant,
    done_tx: &Arc<watch::Sender<u64>>,
    writes_submitted: &mut u64,
    encode: impl FnOnce(i32, i64, CmdResult) -> Vec<u8> + Send + 'static,
) -> ReplyFuture {
    let fut = ctx
        .s
        .raft()
        .submit(Entry {
            time_ms: now_ms(),
            cmd,
        })
        .await;
    *writes_submitted += 1;
    let seq = *writes_submitted;
    let done_tx = done_tx.clone();
    Box::pin(async move {
        let res = fut.await;
        done_tx.send_modify(|v| *v = (*v).max(seq));
        match res {
            Ok((zxid, r)) => Reply {
                frame: Some(encode(xid, zxid, r)),
                close: false,
                started,
            },
            Err(e) => {
                tracing::info!(error = %e, "write not committed; closing the connection");
                Reply {
                    frame: None,
                    close: true,
                    started,
                }
            }
        }
    })
}

/// Handles one decoded request. Returns the future producing its reply (in order), if any.
async fn dispatch(
    ctx: &Arc<Ctx>,
    xid: i32,
    req: Request,
    started: Instant,
    done_tx: &Arc<watch::Sender<u64>>,
    done_rx: &watch::Receiver<u64>,
    writes_submitted: &mut u64,
) -> Option<ReplyFuture> {
    let s = &ctx.s;
    let zxid_now = || s.tree.read().last_zxid();
    match req {
        Request::Ping => ready(frame(xid::PING, zxid_now(), 0, |_| {}), started),
        Request::Auth(a) => {
            if a.scheme == "digest" {
                let text = String::from_utf8_lossy(&a.auth).to_string();
                let id = acl::digest_id(&text);
                let mut auth = ctx.auth.write();
                if s.cfg.super_digest.as_deref() == Some(id.as_str()) {
                    auth.push(Id::new("super", ""));
                }
                let new = Id::new("digest", &id);
                if !auth.contains(&new) {
                    auth.push(new);
                }
                // The reply echoes the request's xid (Java uses -4; other clients use ordinary xids).
                ready(frame(xid, 0, 0, |_| {}), started)
            } else {
                tracing::info!(scheme = %a.scheme, "auth failed: unsupported scheme");
                let f = header_only(xid, 0, ErrorCode::AuthFailed);
                Some(Box::pin(async move {
                    Reply {
                        frame: Some(f),
                        close: true,
                        started,
                    }
                }))
            }
        }
        Request::SetWatches(sw) => {
            let tree = s.tree.read();
            let mut watches = s.watches.lock();
            let mut fire = Vec::new();
            let rel = sw.relative_zxid;
            for p in &sw.data_watches {
                match tree.exists(p) {
                    Some(st) if st.mzxid > rel => fire.push(WatchEvent {
                        path: p.clone(),
                        typ: event_type::NODE_DATA_CHANGED,
                    }),
                    Some(_) => watches.add(ctx.conn, p, watches::DATA),
                    None => fire.push(WatchEvent {
                        path: p.clone(),
                        typ: event_type::NODE_DELETED,
                    }),
                }
            }
            for p in &sw.exist_watches {
                match tree.exists(p) {
                    Some(_) => fire.push(WatchEvent {
                        path: p.clone(),
                        typ: event_type::NODE_CREATED,
                    }),
                    None => watches.add(ctx.conn, p, watches::DATA),
                }
            }
            for p in &sw.child_watches {
                match tree.exists(p) {
                    Some(st) if st.pzxid > rel => fire.push(WatchEvent {
                        path: p.clone(),
                        typ: event_type::NODE_CHILDREN_CHANGED,
                    }),
                    Some(_) => watches.add(ctx.conn, p, watches::CHILD),
                    None => fire.push(WatchEvent {
                        path: p.clone(),
                        typ: event_type::NODE_DELETED,
                    }),
                }
            }
            for p in &sw.persistent_watches {
                watches.add(ctx.conn, p, watches::PERSISTENT);
            }
            for p in &sw.persistent_recursive_watches {
                watches.add(ctx.conn, p, watches::RECURSIVE);
            }
            for ev in &fire {
                let _ = ctx.info.tx.send(Out::Frame(notification_frame(ev)));
            }
            // The reply echoes the request's xid (Java sends an ordinary xid, C sends -8).
            ready(frame(xid, tree.last_zxid(), 0, |_| {}), started)
        }
        Request::Sasl => ready(
            header_only(xid, zxid_now(), ErrorCode::Unimplemented),
            started,
        ),
        Request::Reconfig(r) => {
            if !s.cfg.reconfig_enabled {
                return ready(
                    header_only(xid, zxid_now(), ErrorCode::ReconfigDisabled),
                    started,
                );
            }
            // As ZooKeeper: the request (fromConfig, member specs) is checked before the permission.
            let change = match reconfig_change(s, &r) {
                Ok(c) => c,
                Err(e) => {
                    tracing::info!(error = %e, "bad reconfig request");
                    return ready(header_only(xid, zxid_now(), e_code(&e)), started);
                }
            };
            let is_super = ctx.auth.read().iter().any(|i| i.scheme == "super");
            if !is_super && !s.cfg.skip_acl {
                return ready(header_only(xid, zxid_now(), ErrorCode::NoAuth), started);
            }
            *writes_submitted += 1;
            let seq = *writes_submitted;
            let done_tx = done_tx.clone();
            let ctx = ctx.clone();
            Some(Box::pin(async move {
                let s = &ctx.s;
                let res = s.raft().reconfigure(change).await;
                let frame = match res {
                    Ok(view) => {
                        let text = crate::server::render_config(&view);
                        let me = s.raft().id();
                        let still_member =
                            view.voters.contains_key(&me) || view.learners.contains_key(&me);
                        // The change is committed. The leader keeps /zookeeper/config in step; updating it
                        // here too lets the reply's stat reflect it. A member that removed itself answers
                        // at once: it will not see further entries.
                        let zxid = if still_member {
                            let fut = s
                                .raft()
                                .submit(Entry {
                                    time_ms: now_ms(),
                                    cmd: Command::SetConfig {
                                        data: text.clone().into_bytes(),
                                    },
                                })
                                .await;
                            match tokio::time::timeout(Duration::from_secs(10), fut).await {
                                Ok(Ok((zxid, _))) => zxid,
                                _ => s.tree.read().last_zxid(),
                            }
                        } else {
                            s.tree.read().last_zxid()
                        };
                        let tree = s.tree.read();
                        let st = tree.exists("/zookeeper/config").unwrap_or_default();
                        frame(xid, zxid, 0, |w| {
                            GetDataResponse {
                                data: Some(text.into_bytes()),
                                stat: st.into(),
                            }
                            .encode(w)
                        })
                    }
                    Err(e) => {
                        tracing::info!(error = %e, "reconfig refused");
                        header_only(xid, s.tree.read().last_zxid(), reconfig_code(&e))
                    }
                };
                done_tx.send_modify(|v| *v = (*v).max(seq));
                Reply {
                    frame: Some(frame),
                    close: false,
                    started,
                }
            }))
        }
        Request::CloseSession => {
            ctx.info.closing.store(true, Ordering::Relaxed);
            let fut = s
                .raft()
                .submit(Entry {
                    time_ms: now_ms(),
                    cmd: Command::CloseSession {
                        session_id: ctx.session,
                    },
                })
                .await;
            *writes_submitted += 1;
            Some(Box::pin(async move {
                let zxid = fut.await.map(|(z, _)| z).unwrap_or(0);
                Reply {
                    frame: Some(frame(xid, zxid, 0, |_| {})),
                    close: true,
                    started,
                }
            }))
        }
        Request::Multi(ops) => {
            let codes: Vec<i32> = ops.iter().map(|o| o.op_code()).collect();
            let mut wops = Vec::with_capacity(ops.len());
            for o in ops {
                match multi_write_op(o) {
                    Some(w) => wops.push(w),
                    None => {
                        return ready(
                            header_only(xid, zxid_now(), ErrorCode::BadArguments),
                            started,
                        )
                    }
                }
            }
            if !wops.iter().all(|w| acl_allowed(&ctx.s, w)) {
                return ready(header_only(xid, zxid_now(), ErrorCode::InvalidAcl), started);
            }
            let auth = ctx.auth.read().clone();
            let cmd = Command::Multi {
                session_id: ctx.session,
                auth,
                ops: wops,
            };
            Some(
                submit_write(
                    ctx,
                    cmd,
                    xid,
                    started,
                    done_tx,
                    writes_submitted,
                    move |xid, zxid, r| match r {
                        CmdResult::Multi(results) => {
                            frame(xid, zxid, 0, |w| encode_multi(w, &codes, &results))
                        }
                        CmdResult::Op(OpResult::Error(e)) => header_only(xid, zxid, e),
                        _ => header_only(xid, zxid, ErrorCode::SystemError),
                    },
                )
                .await,
            )
        }
        req if req.is_write() => {
            let opc = match &req {
                Request::Create(c) => c.op,
                Request::Delete(_) => op::DELETE,
                Request::SetData(_) => op::SET_DATA,
                Request::SetAcl(_) => op::SET_ACL,
                _ => op::CHECK,
            };
            let Ok(wop) = write_op(req) else {
                return ready(
                    header_only(xid, zxid_now(), ErrorCode::Unimplemented),
                    started,
                );
            };
            if !acl_allowed(s, &wop) {
                return ready(header_only(xid, zxid_now(), ErrorCode::InvalidAcl), started);
            }
            let auth = ctx.auth.read().clone();
            let cmd = Command::Write {
                session_id: ctx.session,
                auth,
                op: wop,
            };
            Some(
                submit_write(
                    ctx,
                    cmd,
                    xid,
                    started,
                    done_tx,
                    writes_submitted,
                    move |xid, zxid, r| match r {
                        CmdResult::Op(OpResult::Error(e)) => header_only(xid, zxid, e),
                        CmdResult::Op(r) => frame(xid, zxid, 0, |w| encode_op_result(w, opc, &r)),
                        _ => header_only(xid, zxid, ErrorCode::SystemError),
                    },
                )
                .await,
            )
        }
        req => {
            // Reads wait for this session's earlier writes, then run against the local tree.
            let need = *writes_submitted;
            let mut done_rx = done_rx.clone();
            let ctx = ctx.clone();
            if let Request::Sync(p) = req {
                // Later requests of this session wait for the sync like for a write.
                *writes_submitted += 1;
                let seq = *writes_submitted;
                let done_tx = done_tx.clone();
                return Some(Box::pin(async move {
                    let _ = done_rx.wait_for(|v| *v >= need).await;
                    let r = ctx.s.raft().read_barrier().await;
                    done_tx.send_modify(|v| *v = (*v).max(seq));
                    let f = match r {
                        Ok(_) => frame(xid, ctx.s.tree.read().last_zxid(), 0, |w| {
                            PathRequest {
                                path: p.path.clone(),
                            }
                            .encode(w)
                        }),
                        Err(e) => {
                            tracing::info!(error = %e, "sync failed; closing the connection");
                            return Reply {
                                frame: None,
                                close: true,
                                started,
                            };
                        }
                    };
                    Reply {
                        frame: Some(f),
                        close: false,
                        started,
                    }
                }));
            }
            if need == 0 || *done_rx.borrow() >= need {
                return ready(read(&ctx, xid, req), started);
            }
            Some(Box::pin(async move {
                let _ = done_rx.wait_for(|v| *v >= need).await;
                Reply {
                    frame: Some(read(&ctx, xid, req)),
                    close: false,
                    started,
                }
            }))
        }
    }
}

/// getChildren / getChildren2 (with the parent's stat); the child watch is set only on success.
fn children_reply(
    ctx: &Ctx,
    tree: &rzk_tree::DataTree,
    auth: &[Id],
    xid: i32,
    r: &PathWatchRequest,
    with_stat: bool,
) -> Vec<u8> {
    let zxid = tree.last_zxid();
    match tree.get_children(&r.path, auth) {
        Ok((children, st)) => {
            if r.watch {
                ctx.s.watches.lock().add(ctx.conn, &r.path, watches::CHILD);
            }
            if with_stat {
                frame(xid, zxid, 0, |w| {
                    GetChildren2Response {
                        children,
                        stat: st.into(),
                    }
                    .encode(w)
                })
            } else {
                frame(xid, zxid, 0, |w| GetChildrenResponse { children }.encode(w))
            }
        }
        Err(e) => header_only(xid, zxid, e),
    }
}

/// Executes a read against the local tree and registers its watch atomically with the read.
fn read(ctx: &Ctx, xid: i32, req: Request) -> Vec<u8> {
    let s = &ctx.s;
    let tree = s.tree.read();
    let zxid = tree.last_zxid();
    let auth = ctx.auth.read();
    let bad_path = |p: &str| p.contains('\0') || !p.starts_with('/');
    match req {
        Request::Exists(r) => {
            if bad_path(&r.path) {
                return header_only(xid, zxid, ErrorCode::BadArguments);
            }
            let st = tree.exists(&r.path);
            if r.watch {
                s.watches.lock().add(ctx.conn, &r.path, watches::DATA);
            }
            match st {
                Some(st) => frame(xid, zxid, 0, |w| StatResponse { stat: st.into() }.encode(w)),
                None => header_only(xid, zxid, ErrorCode::NoNode),
            }
        }
        Request::GetData(r) => match tree.get_data(&r.path, &auth) {
            Ok((data, st)) => {
                if r.watch {
                    s.watches.lock().add(ctx.conn, &r.path, watches::DATA);
                }
                frame(xid, zxid, 0, |w| {
                    GetDataResponse {
                        data,
                        stat: st.into(),
                    }
                    .encode(w)
                })
            }
            Err(e) => header_only(xid, zxid, e),
        },
        Request::GetChildren(r) => children_reply(ctx, &tree, &auth, xid, &r, false),
        Request::GetChildren2(r) => children_reply(ctx, &tree, &auth, xid, &r, true),
        Request::GetAcl(r) => match tree.get_acl(&r.path, &auth) {
            Ok((acl, st)) => frame(xid, zxid, 0, |w| {
                GetAclResponse {
                    acl: acl.iter().map(Into::into).collect(),
                    stat: st.into(),
                }
                .encode(w)
            }),
            Err(e) => header_only(xid, zxid, e),
        },
        Request::GetAllChildrenNumber(r) => match tree.all_children_number(&r.path, &auth) {
            Ok(n) => frame(xid, zxid, 0, |w| {
                GetAllChildrenNumberResponse { total: n }.encode(w)
            }),
            Err(e) => header_only(xid, zxid, e),
        },
        Request::GetEphemerals(r) => {
            let list = tree.ephemerals_of(ctx.session, &r.path);
            frame(xid, zxid, 0, |w| {
                GetEphemeralsResponse { ephemerals: list }.encode(w)
            })
        }
        Request::WhoAmI => {
            let info: Vec<ClientInfo> = auth
                .iter()
                .map(|id| ClientInfo {
                    auth_scheme: id.scheme.clone(),
                    user: if id.scheme == "digest" {
                        id.id.split(':').next().unwrap_or("").to_string()
                    } else {
                        id.id.clone()
                    },
                })
                .collect();
            frame(xid, zxid, 0, |w| {
                WhoAmIResponse { client_info: info }.encode(w)
            })
        }
        Request::AddWatch(r) => {
            if bad_path(&r.path) {
                return header_only(xid, zxid, ErrorCode::BadArguments);
            }
            let bits = match r.mode {
                add_watch_mode::PERSISTENT => watches::PERSISTENT,
                add_watch_mode::PERSISTENT_RECURSIVE => watches::RECURSIVE,
                _ => return header_only(xid, zxid, ErrorCode::MarshallingError),
            };
            s.watches.lock().add(ctx.conn, &r.path, bits);
            frame(xid, zxid, 0, |w| ErrorResponse { err: 0 }.encode(w))
        }
        Request::CheckWatches(r) => {
            let ok = s.watches.lock().has(ctx.conn, &r.path, r.typ);
            header_only(
                xid,
                zxid,
                if ok {
                    ErrorCode::Ok
                } else {
                    ErrorCode::NoWatcher
                },
            )
        }
        Request::RemoveWatches(r) => {
            let ok = s.watches.lock().remove(ctx.conn, &r.path, r.typ);
            header_only(
                xid,
                zxid,
                if ok {
                    ErrorCode::Ok
                } else {
                    ErrorCode::NoWatcher
                },
            )
        }
        Request::MultiRead(ops) => frame(xid, zxid, 0, |w| {
            for o in &ops {
                let r = match o {
                    MultiOp::GetChildren(p) => tree
                        .get_children(&p.path, &auth)
                        .map(|(c, _)| (op::GET_CHILDREN, Some(c), None)),
                    MultiOp::GetData(p) => tree
                        .get_data(&p.path, &auth)
                        .map(|(d, st)| (op::GET_DATA, None, Some((d, st)))),
                    _ => Err(ErrorCode::BadArguments),
                };
                match r {
                    Ok((t, children, data)) => {
                        MultiHeader {
                            op: t,
                            done: false,
                            err: 0,
                        }
                        .encode(w);
                        if let Some(c) = children {
                            GetChildrenResponse { children: c }.encode(w);
                        }
                        if let Some((d, st)) = data {
                            GetDataResponse {
                                data: d,
                                stat: st.into(),
                            }
                            .encode(w);
                        }
                    }
                    Err(e) => {
                        MultiHeader {
                            op: op::ERROR,
                            done: false,
                            err: e.code(),
                        }
                        .encode(w);
                        ErrorResponse { err: e.code() }.encode(w);
                    }
                }
            }
            MultiHeader {
                op: -1,
                done: true,
                err: -1,
            }
            .encode(w);
        }),
        _ => header_only(xid, zxid, ErrorCode::Unimplemented),
    }
}
