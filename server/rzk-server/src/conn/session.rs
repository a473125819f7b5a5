//! The session handshake: ConnectRequest, a new or resumed session, the writer task.

use super::*;

pub(super) async fn handle(
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
    // Read-only mode (readonly.rs): without a quorum, only clients that allow it get a session.
    let read_only = if s.serving() {
        false
    } else if s.read_only.active() && req.read_only == Some(true) {
        true
    } else {
        if s.read_only.active() {
            tracing::info!(%peer, "refusing a client that does not allow read-only sessions: read-only mode (no quorum)");
        } else {
            tracing::info!(%peer, "refusing client: not part of a working quorum");
        }
        return Ok(());
    };
    let timeout = req.timeout_ms.clamp(
        s.cfg.min_session_timeout as i32,
        s.cfg.max_session_timeout as i32,
    );
    let (session, passwd, timeout) = if req.session_id == 0 {
        let id = s.new_session_id();
        let passwd: Vec<u8> = (0..16).map(|_| rand::random::<u8>()).collect();
        if read_only {
            // Local to this member: not replicated, it ends with the connection.
            (id, passwd, timeout)
        } else {
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
                    s.stats.refused_no_leader.fetch_add(1, Ordering::Relaxed);
                    tracing::info!(%peer, error = %e, "cannot create session");
                    return Ok(());
                }
            }
        }
    } else {
        if s.cfg.is_distributed() && !read_only {
            // Like ZooKeeper's session revalidation with the leader: a resumed session is answered
            // only once a leader has confirmed it leads (a read barrier), so a member whose leader
            // just died does not take the session and then drop it on its first write. The barrier
            // also brings in a session created through another member moments ago.
            if let Err(e) = s.raft().read_barrier().await {
                tracing::info!(%peer, session = format_args!("0x{:x}", req.session_id), error = %e, "refusing session: no leader confirmed it");
                s.stats.refused_no_leader.fetch_add(1, Ordering::Relaxed);
                return Ok(());
            }
        }
        let known = s.tree.read().session(req.session_id).cloned();
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
    if !read_only {
        s.touch(session);
    }

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
        read_only,
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
        read_only: req.read_only.map(|_| read_only),
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
