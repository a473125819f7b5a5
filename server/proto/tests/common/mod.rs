//! Helpers shared by the codec integration tests: vector loading and request re-encoding.
#![allow(dead_code)]

use std::path::PathBuf;

use rzk_proto::consts::op;
use rzk_proto::jute::{Jute, Writer};
use rzk_proto::records::*;
use rzk_proto::{Create, MultiOp, Request};

pub fn vectors_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests")
        .join("vectors")
}

/// Decodes a `.hex` vector: lower-case hex, whitespace ignored.
pub fn parse_hex(text: &str) -> Vec<u8> {
    let digits: Vec<u8> = text.bytes().filter(|b| !b.is_ascii_whitespace()).collect();
    assert_eq!(digits.len() % 2, 0, "odd number of hex digits");
    digits
        .chunks(2)
        .map(|p| {
            let s = std::str::from_utf8(p).expect("ascii hex");
            u8::from_str_radix(s, 16).unwrap_or_else(|_| panic!("bad hex digits {s:?}"))
        })
        .collect()
}

/// Loads `tests/vectors/<name>.hex`.
pub fn load(name: &str) -> Vec<u8> {
    let path = vectors_dir().join(format!("{name}.hex"));
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    parse_hex(&text)
}

/// Names (without `.hex`) of every vector in the directory, sorted.
pub fn all_vector_names() -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(vectors_dir())
        .expect("vectors dir")
        .map(|e| {
            e.expect("dir entry")
                .file_name()
                .to_string_lossy()
                .into_owned()
        })
        .filter_map(|n| n.strip_suffix(".hex").map(str::to_owned))
        .collect();
    names.sort();
    names
}

pub fn all_vectors() -> Vec<(String, Vec<u8>)> {
    all_vector_names()
        .into_iter()
        .map(|n| {
            let b = load(&n);
            (n, b)
        })
        .collect()
}

fn encode_create(c: &Create, w: &mut Writer) {
    if c.op == op::CREATE_TTL {
        CreateTtlRequest {
            path: c.path.clone(),
            data: c.data.clone(),
            acl: c.acl.clone(),
            flags: c.flags,
            ttl: c.ttl,
        }
        .encode(w)
    } else {
        CreateRequest {
            path: c.path.clone(),
            data: c.data.clone(),
            acl: c.acl.clone(),
            flags: c.flags,
        }
        .encode(w)
    }
}

fn encode_multi(ops: &[MultiOp], w: &mut Writer) {
    for o in ops {
        MultiHeader {
            op: o.op_code(),
            done: false,
            err: -1,
        }
        .encode(w);
        match o {
            MultiOp::Create(c) => encode_create(c, w),
            MultiOp::Delete(r) => r.encode(w),
            MultiOp::SetData(r) => r.encode(w),
            MultiOp::Check(r) => r.encode(w),
            // GetChildrenRequest / GetDataRequest: path + watch (always false inside a multi).
            MultiOp::GetChildren(r) | MultiOp::GetData(r) => PathWatchRequest {
                path: r.path.clone(),
                watch: false,
            }
            .encode(w),
        }
    }
    MultiHeader {
        op: -1,
        done: true,
        err: -1,
    }
    .encode(w);
}

/// Encodes the body of a decoded request again, as the client would have sent it for opcode `opc`.
pub fn encode_request_body(opc: i32, req: &Request, w: &mut Writer) {
    match req {
        Request::Ping | Request::CloseSession | Request::WhoAmI => {}
        Request::Auth(a) => a.encode(w),
        Request::SetWatches(s) if opc == op::SET_WATCHES => {
            assert!(s.persistent_watches.is_empty() && s.persistent_recursive_watches.is_empty());
            SetWatches {
                relative_zxid: s.relative_zxid,
                data_watches: s.data_watches.clone(),
                exist_watches: s.exist_watches.clone(),
                child_watches: s.child_watches.clone(),
            }
            .encode(w)
        }
        Request::SetWatches(s) => s.encode(w),
        Request::Create(c) => {
            assert_eq!(c.op, opc, "Create.op must be the header opcode");
            encode_create(c, w)
        }
        Request::Delete(r) => r.encode(w),
        Request::Exists(r)
        | Request::GetData(r)
        | Request::GetChildren(r)
        | Request::GetChildren2(r) => r.encode(w),
        Request::SetData(r) => r.encode(w),
        Request::GetAcl(r)
        | Request::Sync(r)
        | Request::GetEphemerals(r)
        | Request::GetAllChildrenNumber(r) => r.encode(w),
        Request::SetAcl(r) => r.encode(w),
        Request::Check(r) => r.encode(w),
        Request::Multi(ops) | Request::MultiRead(ops) => encode_multi(ops, w),
        Request::Reconfig(r) => r.encode(w),
        Request::CheckWatches(r) | Request::RemoveWatches(r) => r.encode(w),
        Request::AddWatch(r) => r.encode(w),
        // The SASL token is not kept by the decoder.
        Request::Sasl => {}
    }
}

/// Header + body, without the frame length prefix.
pub fn encode_request(h: &RequestHeader, req: &Request) -> Vec<u8> {
    let mut w = Writer::new();
    h.encode(&mut w);
    encode_request_body(h.op, req, &mut w);
    w.buf
}

/// Every opcode the decoder knows, plus a few it must reject.
pub const ALL_OPCODES: &[i32] = &[
    op::NOTIFICATION,
    op::CREATE,
    op::DELETE,
    op::EXISTS,
    op::GET_DATA,
    op::SET_DATA,
    op::GET_ACL,
    op::SET_ACL,
    op::GET_CHILDREN,
    op::SYNC,
    op::PING,
    op::GET_CHILDREN2,
    op::CHECK,
    op::MULTI,
    op::CREATE2,
    op::RECONFIG,
    op::CHECK_WATCHES,
    op::REMOVE_WATCHES,
    op::CREATE_CONTAINER,
    op::DELETE_CONTAINER,
    op::CREATE_TTL,
    op::MULTI_READ,
    op::AUTH,
    op::SET_WATCHES,
    op::SASL,
    op::GET_EPHEMERALS,
    op::GET_ALL_CHILDREN_NUMBER,
    op::SET_WATCHES2,
    op::ADD_WATCH,
    op::WHO_AM_I,
    op::CREATE_SESSION,
    op::CLOSE_SESSION,
    op::ERROR,
    10,
    i32::MIN,
    i32::MAX,
];
