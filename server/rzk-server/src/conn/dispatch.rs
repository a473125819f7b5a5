//! One decoded request: answered at once, proposed as a write, or read after earlier writes.

use super::*;

/// Handles one decoded request. Returns the future producing its reply (in order), if any.
pub(super) async fn dispatch(
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
    if ctx.info.read_only {
        // A read-only session (readonly.rs): nothing reaches Raft.
        match &req {
            Request::CloseSession => {
                let f = frame(xid, zxid_now(), 0, |_| {});
                return Some(Box::pin(async move {
                    Reply {
                        frame: Some(f),
                        close: true,
                        started,
                    }
                }));
            }
            r if r.is_write() || matches!(r, Request::Sync(_)) => {
                return ready(
                    header_only(xid, zxid_now(), ErrorCode::NotReadOnly),
                    started,
                )
            }
            _ => {}
        }
    }
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
            let auditor = Auditor::new(ctx);
            let refused = |a: &Option<Auditor>| {
                if let Some(a) = a {
                    a.log(audit::OP_RECONFIG, None, None, None, Outcome::Failure)
                }
            };
            if !s.cfg.reconfig_enabled {
                refused(&auditor);
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
                    refused(&auditor);
                    return ready(header_only(xid, zxid_now(), e_code(&e)), started);
                }
            };
            let is_super = ctx.auth.read().iter().any(|i| i.scheme == "super");
            if !is_super && !s.cfg.skip_acl {
                refused(&auditor);
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
                        if let Some(a) = &auditor {
                            let z = Some("/zookeeper/config");
                            a.log(audit::OP_RECONFIG, z, None, None, Outcome::Success);
                        }
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
                        refused(&auditor);
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
            let auditor = Auditor::new(ctx);
            let mut wops = Vec::with_capacity(ops.len());
            for o in ops {
                match multi_write_op(o) {
                    Some(w) => wops.push(w),
                    None => {
                        if let Some(a) = &auditor {
                            a.multi(&[], None);
                        }
                        return ready(
                            header_only(xid, zxid_now(), ErrorCode::BadArguments),
                            started,
                        );
                    }
                }
            }
            let descs: Vec<Option<Described>> = match &auditor {
                Some(_) => wops.iter().map(describe).collect(),
                None => Vec::new(),
            };
            if !wops.iter().all(|w| acl_allowed(&ctx.s, w)) {
                if let Some(a) = &auditor {
                    a.multi(&descs, None);
                }
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
                    move |xid, zxid, r| {
                        if let Some(a) = &auditor {
                            a.multi(&descs, Some(&r));
                        }
                        match r {
                            CmdResult::Multi(results) => {
                                frame(xid, zxid, 0, |w| encode_multi(w, &codes, &results))
                            }
                            CmdResult::Op(OpResult::Error(e)) => header_only(xid, zxid, e),
                            _ => header_only(xid, zxid, ErrorCode::SystemError),
                        }
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
            let auditor = Auditor::new(ctx);
            let desc = auditor.as_ref().and_then(|_| describe(&wop));
            if !acl_allowed(s, &wop) {
                if let Some(a) = &auditor {
                    a.refused(&desc);
                }
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
                    move |xid, zxid, r| {
                        if let Some(a) = &auditor {
                            a.write(&desc, &r);
                        }
                        match r {
                            CmdResult::Op(OpResult::Error(e)) => header_only(xid, zxid, e),
                            CmdResult::Op(r) => {
                                frame(xid, zxid, 0, |w| encode_op_result(w, opc, &r))
                            }
                            _ => header_only(xid, zxid, ErrorCode::SystemError),
                        }
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
                            ctx.s
                                .stats
                                .closed_unanswered
                                .fetch_add(1, Ordering::Relaxed);
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
