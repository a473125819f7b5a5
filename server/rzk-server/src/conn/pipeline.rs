//! The request pipeline of one connection: frames in, replies out in request order.

use super::*;

pub(super) async fn run_loop(
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
    // A request read and waiting for a throttle slot (throttle.rs): no further frame is read
    // meanwhile, while earlier replies keep flowing (they free the slots).
    let mut waiting: Option<(Vec<u8>, Instant)> = None;
    loop {
        tokio::select! {
            r = tokio::time::timeout(idle, reader.next()), if !closing && waiting.is_none() => {
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
                if !ctx.info.read_only {
                    s.touch(ctx.session);
                }
                waiting = Some((body, Instant::now()));
            }
            slot = s.throttle.slot(), if waiting.is_some() => {
                let Some((body, started)) = waiting.take() else { continue };
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
                    pending.push_back(Box::pin(async move {
                        let reply = f.await;
                        drop(slot);
                        reply
                    }));
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
