//! Typed client requests decoded from (header, body).

use crate::consts::op;
use crate::jute::{Jute, Reader};
use crate::records::*;
use crate::DecodeError;

/// The kind of create (`create`, `create2`, `createContainer`, `createTTL`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Create {
    pub op: i32,
    pub path: String,
    pub data: Option<Vec<u8>>,
    pub acl: Vec<Acl>,
    pub flags: i32,
    pub ttl: i64,
}

/// One operation inside `multi` / `multiRead`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum MultiOp {
    Create(Create),
    Delete(DeleteRequest),
    SetData(SetDataRequest),
    Check(CheckVersionRequest),
    GetChildren(PathRequest),
    GetData(PathRequest),
}

impl MultiOp {
    pub fn op_code(&self) -> i32 {
        match self {
            MultiOp::Create(c) => c.op,
            MultiOp::Delete(_) => op::DELETE,
            MultiOp::SetData(_) => op::SET_DATA,
            MultiOp::Check(_) => op::CHECK,
            MultiOp::GetChildren(_) => op::GET_CHILDREN,
            MultiOp::GetData(_) => op::GET_DATA,
        }
    }
    pub fn path(&self) -> &str {
        match self {
            MultiOp::Create(c) => &c.path,
            MultiOp::Delete(r) => &r.path,
            MultiOp::SetData(r) => &r.path,
            MultiOp::Check(r) => &r.path,
            MultiOp::GetChildren(r) | MultiOp::GetData(r) => &r.path,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Request {
    Ping,
    CloseSession,
    Auth(AuthPacket),
    SetWatches(SetWatches2),
    Create(Create),
    Delete(DeleteRequest),
    Exists(PathWatchRequest),
    GetData(PathWatchRequest),
    SetData(SetDataRequest),
    GetAcl(PathRequest),
    SetAcl(SetAclRequest),
    GetChildren(PathWatchRequest),
    GetChildren2(PathWatchRequest),
    Sync(PathRequest),
    Check(CheckVersionRequest),
    Multi(Vec<MultiOp>),
    MultiRead(Vec<MultiOp>),
    Reconfig(ReconfigRequest),
    CheckWatches(WatchTypeRequest),
    RemoveWatches(WatchTypeRequest),
    AddWatch(AddWatchRequest),
    GetEphemerals(PathRequest),
    GetAllChildrenNumber(PathRequest),
    WhoAmI,
    /// SASL is not supported; answered with an error.
    Sasl,
}

impl Request {
    /// Whether the request changes replicated state and therefore goes through the log.
    pub fn is_write(&self) -> bool {
        matches!(
            self,
            Request::CloseSession
                | Request::Create(_)
                | Request::Delete(_)
                | Request::SetData(_)
                | Request::SetAcl(_)
                | Request::Check(_)
                | Request::Multi(_)
                | Request::Reconfig(_)
        )
    }
}

fn create(r: &mut Reader<'_>, opc: i32) -> Result<Create, DecodeError> {
    if opc == op::CREATE_TTL {
        let c = CreateTtlRequest::decode(r)?;
        Ok(Create {
            op: opc,
            path: c.path,
            data: c.data,
            acl: c.acl,
            flags: c.flags,
            ttl: c.ttl,
        })
    } else {
        let c = CreateRequest::decode(r)?;
        Ok(Create {
            op: opc,
            path: c.path,
            data: c.data,
            acl: c.acl,
            flags: c.flags,
            ttl: -1,
        })
    }
}

fn multi_ops(r: &mut Reader<'_>, read: bool) -> Result<Vec<MultiOp>, DecodeError> {
    let mut ops = Vec::new();
    loop {
        let h = MultiHeader::decode(r)?;
        if h.done {
            return Ok(ops);
        }
        let o = match (h.op, read) {
            (op::CREATE | op::CREATE2 | op::CREATE_CONTAINER | op::CREATE_TTL, false) => {
                MultiOp::Create(create(r, h.op)?)
            }
            (op::DELETE, false) => MultiOp::Delete(DeleteRequest::decode(r)?),
            (op::SET_DATA, false) => MultiOp::SetData(SetDataRequest::decode(r)?),
            (op::CHECK, false) => MultiOp::Check(CheckVersionRequest::decode(r)?),
            // GetChildrenRequest / GetDataRequest carry a watch flag, which multiRead ignores.
            (op::GET_CHILDREN, true) => MultiOp::GetChildren(PathRequest {
                path: PathWatchRequest::decode(r)?.path,
            }),
            (op::GET_DATA, true) => MultiOp::GetData(PathRequest {
                path: PathWatchRequest::decode(r)?.path,
            }),
            (other, _) => return Err(DecodeError::BadMultiOp(other)),
        };
        ops.push(o);
        if ops.len() > 100_000 {
            return Err(DecodeError::BadMultiOp(h.op));
        }
    }
}

/// Decodes the body of a request with opcode `opc`. Trailing bytes are tolerated (ZooKeeper ignores them).
pub fn decode_request(opc: i32, body: &[u8]) -> Result<Request, DecodeError> {
    let r = &mut Reader::new(body);
    Ok(match opc {
        op::PING => Request::Ping,
        op::CLOSE_SESSION => Request::CloseSession,
        op::AUTH => Request::Auth(AuthPacket::decode(r)?),
        op::SET_WATCHES => {
            let s = SetWatches::decode(r)?;
            Request::SetWatches(SetWatches2 {
                relative_zxid: s.relative_zxid,
                data_watches: s.data_watches,
                exist_watches: s.exist_watches,
                child_watches: s.child_watches,
                ..Default::default()
            })
        }
        op::SET_WATCHES2 => Request::SetWatches(SetWatches2::decode(r)?),
        op::CREATE | op::CREATE2 | op::CREATE_CONTAINER | op::CREATE_TTL => {
            Request::Create(create(r, opc)?)
        }
        op::DELETE => Request::Delete(DeleteRequest::decode(r)?),
        op::EXISTS => Request::Exists(PathWatchRequest::decode(r)?),
        op::GET_DATA => Request::GetData(PathWatchRequest::decode(r)?),
        op::SET_DATA => Request::SetData(SetDataRequest::decode(r)?),
        op::GET_ACL => Request::GetAcl(PathRequest::decode(r)?),
        op::SET_ACL => Request::SetAcl(SetAclRequest::decode(r)?),
        op::GET_CHILDREN => Request::GetChildren(PathWatchRequest::decode(r)?),
        op::GET_CHILDREN2 => Request::GetChildren2(PathWatchRequest::decode(r)?),
        op::SYNC => Request::Sync(PathRequest::decode(r)?),
        op::CHECK => Request::Check(CheckVersionRequest::decode(r)?),
        op::MULTI => Request::Multi(multi_ops(r, false)?),
        op::MULTI_READ => Request::MultiRead(multi_ops(r, true)?),
        op::RECONFIG => Request::Reconfig(ReconfigRequest::decode(r)?),
        op::CHECK_WATCHES => Request::CheckWatches(WatchTypeRequest::decode(r)?),
        op::REMOVE_WATCHES => Request::RemoveWatches(WatchTypeRequest::decode(r)?),
        op::ADD_WATCH => Request::AddWatch(AddWatchRequest::decode(r)?),
        op::GET_EPHEMERALS => Request::GetEphemerals(PathRequest::decode(r)?),
        op::GET_ALL_CHILDREN_NUMBER => Request::GetAllChildrenNumber(PathRequest::decode(r)?),
        op::WHO_AM_I => Request::WhoAmI,
        op::SASL => Request::Sasl,
        other => return Err(DecodeError::UnknownOpcode(other)),
    })
}
