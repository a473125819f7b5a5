//! Audit lines for a client's writes (audit.rs has the format): described before the write is
//! proposed, logged once its result is known, as ZooKeeper logs them on the member the client
//! is connected to.

use super::*;
use crate::audit::{self, Event, Outcome};

/// Who did it: the session, its users and address at the time of the request.
pub(super) struct Auditor {
    s: Arc<Shared>,
    session: i64,
    user: Option<String>,
    ip: std::net::IpAddr,
}

/// What one write op would be logged as.
pub(super) struct Described {
    operation: &'static str,
    path: String,
    znode_type: Option<&'static str>,
    acl: Option<String>,
}

impl Auditor {
    /// None when the audit log is off (nothing is prepared then).
    pub(super) fn new(ctx: &Ctx) -> Option<Self> {
        ctx.s.audit.enabled().then(|| Auditor {
            s: ctx.s.clone(),
            session: ctx.session,
            user: audit::users(&ctx.auth.read()),
            ip: ctx.info.peer.ip(),
        })
    }

    pub(super) fn log(
        &self,
        operation: &str,
        znode: Option<&str>,
        znode_type: Option<&'static str>,
        acl: Option<String>,
        result: Outcome,
    ) {
        self.s.audit.log(
            &Event {
                session: Some(self.session),
                user: self.user.clone(),
                ip: Some(self.ip),
                operation,
                znode,
                znode_type,
                acl,
            },
            result,
        );
    }

    fn described(&self, d: &Described, znode: &str, result: Outcome) {
        self.log(
            d.operation,
            Some(znode),
            d.znode_type,
            d.acl.clone(),
            result,
        );
    }

    /// A single write's result: a create names the node it made (the sequential name).
    pub(super) fn write(&self, d: &Option<Described>, r: &CmdResult) {
        let Some(d) = d else { return };
        match r {
            CmdResult::Op(OpResult::Created { path, .. }) => {
                self.described(d, path, Outcome::Success)
            }
            CmdResult::Op(OpResult::Error(_)) | CmdResult::Session(_) | CmdResult::Done => {
                self.described(d, &d.path, Outcome::Failure)
            }
            CmdResult::Op(_) => self.described(d, &d.path, Outcome::Success),
            CmdResult::Multi(_) => self.described(d, &d.path, Outcome::Failure),
        }
    }

    /// A write refused before it was proposed (an ACL scheme not configured, say).
    pub(super) fn refused(&self, d: &Option<Described>) {
        if let Some(d) = d {
            self.described(d, &d.path, Outcome::Failure)
        }
    }

    /// A multi: each create, delete and setData on success, else one multiOperation failure.
    pub(super) fn multi(&self, ds: &[Option<Described>], r: Option<&CmdResult>) {
        match r {
            Some(CmdResult::Multi(results))
                if !results.iter().any(|x| matches!(x, OpResult::Error(_))) =>
            {
                for (d, res) in ds.iter().zip(results) {
                    let Some(d) = d else { continue };
                    if d.operation == audit::OP_SET_ACL {
                        continue;
                    }
                    let znode = match res {
                        OpResult::Created { path, .. } => path.as_str(),
                        _ => d.path.as_str(),
                    };
                    self.described(d, znode, Outcome::Success);
                }
            }
            _ => self.log(audit::OP_MULTI, None, None, None, Outcome::Failure),
        }
    }
}

/// The audit description of `op`; a check is not audited.
pub(super) fn describe(op: &WriteOp) -> Option<Described> {
    Some(match op {
        WriteOp::Create { path, flags, .. } => Described {
            operation: audit::OP_CREATE,
            path: path.clone(),
            znode_type: Some(audit::create_mode_name(*flags)),
            acl: None,
        },
        WriteOp::Delete { path, .. } => Described {
            operation: audit::OP_DELETE,
            path: path.clone(),
            znode_type: None,
            acl: None,
        },
        WriteOp::SetData { path, .. } => Described {
            operation: audit::OP_SET_DATA,
            path: path.clone(),
            znode_type: None,
            acl: None,
        },
        WriteOp::SetAcl { path, acl, .. } => Described {
            operation: audit::OP_SET_ACL,
            path: path.clone(),
            znode_type: None,
            acl: Some(audit::acl_string(acl)),
        },
        WriteOp::Check { .. } => return None,
    })
}
