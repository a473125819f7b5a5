//! Reads against the local tree, with their watches registered atomically.

use super::*;

/// getChildren / getChildren2 (with the parent's stat); the child watch is set only on success.
pub(super) fn children_reply(
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
pub(super) fn read(ctx: &Ctx, xid: i32, req: Request) -> Vec<u8> {
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
