//! Client writes: request → tree operation, ACL scheme gates, multi encoding, submission.

use super::*;

// The request comes back whole when it is not a write (the caller answers it as a read).
#[allow(clippy::result_large_err)]
pub(super) fn write_op(req: Request) -> Result<WriteOp, Request> {
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
pub(super) fn acl_providers_configured(sec: &rzk_config::SecurityConfig, op: &WriteOp) -> bool {
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
pub(super) const ACL_SCHEMES_FEATURE_LEVEL: u32 = 3;

pub(super) fn acl_allowed(s: &Shared, op: &WriteOp) -> bool {
    let new_scheme = match op {
        WriteOp::Create { acl, .. } | WriteOp::SetAcl { acl, .. } => acl
            .iter()
            .any(|a| a.id.scheme == "x509" || a.id.scheme == "sasl"),
        _ => false,
    };
    acl_providers_configured(&s.cfg.security, op)
        && (!new_scheme || s.raft().feature_level() >= ACL_SCHEMES_FEATURE_LEVEL)
}

pub(super) fn multi_write_op(o: MultiOp) -> Option<WriteOp> {
    write_op(match o {
        MultiOp::Create(c) => Request::Create(c),
        MultiOp::Delete(d) => Request::Delete(d),
        MultiOp::SetData(d) => Request::SetData(d),
        MultiOp::Check(c) => Request::Check(c),
        _ => return None,
    })
    .ok()
}

pub(super) fn encode_op_result(w: &mut Writer, opc: i32, r: &OpResult) {
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

pub(super) fn encode_multi(w: &mut Writer, ops: &[i32], results: &[OpResult]) {
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
pub(super) async fn submit_write(
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
    let s = ctx.s.clone();
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
                s.stats.closed_unanswered.fetch_add(1, Ordering::Relaxed);
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
