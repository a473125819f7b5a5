//! Transactions of ZooKeeper's log (`TxnHeader` and the `txn` records of `zookeeper.jute`).

use crate::jute::{JuteError, Reader, Writer};
use rzk_tree::{Acl, Id};

/// ZooKeeper opcodes that appear in transaction logs.
pub mod opcode {
    pub const CREATE: i32 = 1;
    pub const DELETE: i32 = 2;
    pub const SET_DATA: i32 = 5;
    pub const SET_ACL: i32 = 7;
    pub const CHECK: i32 = 13;
    pub const MULTI: i32 = 14;
    pub const CREATE2: i32 = 15;
    pub const RECONFIG: i32 = 16;
    pub const CREATE_CONTAINER: i32 = 19;
    pub const DELETE_CONTAINER: i32 = 20;
    pub const CREATE_TTL: i32 = 21;
    pub const CREATE_SESSION: i32 = -10;
    pub const CLOSE_SESSION: i32 = -11;
    pub const ERROR: i32 = -1;
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TxnHeader {
    pub client_id: i64,
    pub cxid: i32,
    pub zxid: i64,
    pub time: i64,
    pub typ: i32,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CreateKind {
    Normal,
    Container,
    Ttl(i64),
}

#[derive(Debug, Clone, PartialEq)]
pub enum Txn {
    Create {
        path: String,
        data: Option<Vec<u8>>,
        acl: Vec<Acl>,
        ephemeral: bool,
        /// -1: a version-0 create without it (the parent's cversion + 1).
        parent_cversion: i32,
        kind: CreateKind,
        /// Opcode `create` (1), whose NodeExists on replay adjusts the parent.
        v1_create: bool,
    },
    Delete {
        path: String,
    },
    SetData {
        path: String,
        data: Option<Vec<u8>>,
        version: i32,
    },
    /// A `SetDataTxn` of /zookeeper/config.
    Reconfig {
        path: String,
        data: Option<Vec<u8>>,
        version: i32,
    },
    SetAcl {
        path: String,
        acl: Vec<Acl>,
        version: i32,
    },
    Check {
        path: String,
        version: i32,
    },
    Multi(Vec<Txn>),
    CreateSession {
        timeout: i32,
    },
    CloseSession {
        paths: Option<Vec<String>>,
    },
    Error {
        err: i32,
    },
}

/// Why a transaction's bytes do not decode, at byte `offset` of the record.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TxnError {
    #[error("at byte {offset} of the transaction: {error}")]
    Jute { offset: usize, error: JuteError },
    #[error("unsupported transaction type {0}")]
    Unsupported(i32),
    #[error("unsupported operation type {0} inside a multi")]
    BadMultiOp(i32),
    #[error("null path")]
    NullPath,
}

fn path(r: &mut Reader<'_>) -> Result<String, TxnError> {
    let start = r.pos();
    r.string()
        .map_err(|error| TxnError::Jute {
            offset: start,
            error,
        })?
        .ok_or(TxnError::NullPath)
}

macro_rules! rd {
    ($r:expr, $m:ident) => {{
        let pos = $r.pos();
        $r.$m()
            .map_err(|error| TxnError::Jute { offset: pos, error })?
    }};
}

/// A vector of `ACL {int perms; Id {ustring scheme; ustring id}}` (null reads as empty).
pub fn read_acl(r: &mut Reader<'_>) -> Result<Vec<Acl>, JuteError> {
    let Some(n) = r.vec_len(12)? else {
        return Ok(Vec::new());
    };
    let mut v = Vec::with_capacity(n);
    for _ in 0..n {
        let perms = r.i32()?;
        let scheme = r.string()?.unwrap_or_default();
        let id = r.string()?.unwrap_or_default();
        v.push(Acl {
            perms,
            id: Id { scheme, id },
        });
    }
    Ok(v)
}

pub fn write_acl(w: &mut Writer, acl: &[Acl]) {
    w.i32(acl.len() as i32);
    for a in acl {
        w.i32(a.perms);
        w.string(&a.id.scheme);
        w.string(&a.id.id);
    }
}

pub fn read_header(r: &mut Reader<'_>) -> Result<TxnHeader, TxnError> {
    Ok(TxnHeader {
        client_id: rd!(r, i64),
        cxid: rd!(r, i32),
        zxid: rd!(r, i64),
        time: rd!(r, i64),
        typ: rd!(r, i32),
    })
}

/// `TxnDigest` (3.6+): the digest version and the tree digest after the transaction, as the
/// leader computed it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TxnDigest {
    pub version: i32,
    pub tree_digest: i64,
}

/// Decodes one logged transaction: header, body and the 3.6+ digest if one follows (other
/// trailing bytes are ignored, as ZooKeeper does).
pub fn decode(bytes: &[u8]) -> Result<(TxnHeader, Txn, Option<TxnDigest>), TxnError> {
    let mut r = Reader::new(bytes);
    let hdr = read_header(&mut r)?;
    let txn = decode_body(hdr.typ, &mut r, false)?;
    let digest = if r.remaining() == 12 {
        Some(TxnDigest {
            version: rd!(r, i32),
            tree_digest: rd!(r, i64),
        })
    } else {
        None
    };
    Ok((hdr, txn, digest))
}

fn decode_body(typ: i32, r: &mut Reader<'_>, in_multi: bool) -> Result<Txn, TxnError> {
    use opcode::*;
    Ok(match typ {
        CREATE | CREATE2 | CREATE_CONTAINER | CREATE_TTL => {
            let p = path(r)?;
            let data = rd!(r, buffer);
            let acl = {
                let pos = r.pos();
                read_acl(r).map_err(|error| TxnError::Jute { offset: pos, error })?
            };
            let (ephemeral, parent_cversion, kind) = match typ {
                CREATE_CONTAINER => (false, rd!(r, i32), CreateKind::Container),
                CREATE_TTL => {
                    let cv = rd!(r, i32);
                    (false, cv, CreateKind::Ttl(rd!(r, i64)))
                }
                _ => {
                    let eph = rd!(r, bool);
                    // CreateTxnV0 (before 3.3) ends here: parentCVersion -1 asks for the fixup.
                    let cv = if r.remaining() >= 4 { rd!(r, i32) } else { -1 };
                    (eph, cv, CreateKind::Normal)
                }
            };
            Txn::Create {
                path: p,
                data,
                acl,
                ephemeral,
                parent_cversion,
                kind,
                v1_create: typ == CREATE,
            }
        }
        DELETE | DELETE_CONTAINER => Txn::Delete { path: path(r)? },
        SET_DATA | RECONFIG => {
            let p = path(r)?;
            let data = rd!(r, buffer);
            let version = rd!(r, i32);
            if typ == RECONFIG && !in_multi {
                Txn::Reconfig {
                    path: p,
                    data,
                    version,
                }
            } else {
                Txn::SetData {
                    path: p,
                    data,
                    version,
                }
            }
        }
        SET_ACL if !in_multi => {
            let p = path(r)?;
            let pos = r.pos();
            let acl = read_acl(r).map_err(|error| TxnError::Jute { offset: pos, error })?;
            Txn::SetAcl {
                path: p,
                acl,
                version: rd!(r, i32),
            }
        }
        CHECK => Txn::Check {
            path: path(r)?,
            version: rd!(r, i32),
        },
        ERROR => Txn::Error { err: rd!(r, i32) },
        CREATE_SESSION if !in_multi => Txn::CreateSession {
            timeout: rd!(r, i32),
        },
        CLOSE_SESSION if !in_multi => {
            // CloseSessionTxn (3.6+, zookeeper.closeSessionTxn.enabled) lists the ephemerals;
            // older logs have no body. A body that does not parse is treated as absent.
            let start = r.pos();
            let paths = match read_paths(r) {
                Ok(p) => Some(p),
                Err(_) => {
                    r.seek(start);
                    None
                }
            };
            Txn::CloseSession { paths }
        }
        MULTI if !in_multi => {
            let n = {
                let pos = r.pos();
                r.vec_len(8)
                    .map_err(|error| TxnError::Jute { offset: pos, error })?
                    .unwrap_or(0)
            };
            let mut ops = Vec::with_capacity(n);
            for _ in 0..n {
                let t = rd!(r, i32);
                let data = rd!(r, buffer).unwrap_or_default();
                let mut sub = Reader::new(&data);
                let op = decode_body(t, &mut sub, true).map_err(|e| match e {
                    TxnError::Unsupported(t) => TxnError::BadMultiOp(t),
                    e => e,
                })?;
                ops.push(op);
            }
            Txn::Multi(ops)
        }
        t => return Err(TxnError::Unsupported(t)),
    })
}

fn read_paths(r: &mut Reader<'_>) -> Result<Vec<String>, JuteError> {
    let n = r.vec_len(4)?.unwrap_or(0);
    let mut v = Vec::with_capacity(n);
    for _ in 0..n {
        v.push(r.string()?.unwrap_or_default());
    }
    Ok(v)
}

#[cfg(test)]
pub(crate) mod build {
    //! Encoders of the same records, for tests.
    use super::*;

    pub fn header(w: &mut Writer, client: i64, zxid: i64, time: i64, typ: i32) {
        w.i64(client);
        w.i32(1);
        w.i64(zxid);
        w.i64(time);
        w.i32(typ);
    }

    pub fn create(w: &mut Writer, path: &str, data: &[u8], acl: &[Acl], eph: bool, pcv: i32) {
        w.string(path);
        w.buffer(Some(data));
        write_acl(w, acl);
        w.bool(eph);
        w.i32(pcv);
    }
}

#[cfg(test)]
mod tests {
    use super::build::*;
    use super::*;

    #[test]
    fn create_and_multi_decode() {
        let acl = Acl::world_all();
        let mut w = Writer::default();
        header(&mut w, 7, 0x1_0000_0005, 1000, opcode::CREATE);
        create(&mut w, "/a", b"x", &acl, true, 3);
        w.i32(2); // digest version
        w.i64(12345); // digest
        let (h, t, d) = decode(&w.buf).unwrap();
        assert_eq!(
            d,
            Some(TxnDigest {
                version: 2,
                tree_digest: 12345
            })
        );
        assert_eq!((h.client_id, h.zxid, h.typ), (7, 0x1_0000_0005, 1));
        assert!(
            matches!(t, Txn::Create { ref path, ephemeral: true, parent_cversion: 3, .. } if path == "/a")
        );

        let mut sub = Writer::default();
        sub.string("/b");
        sub.buffer(Some(b"y"));
        sub.i32(4);
        let mut w = Writer::default();
        header(&mut w, 7, 6, 1000, opcode::MULTI);
        w.i32(2);
        w.i32(opcode::SET_DATA);
        w.buffer(Some(&sub.buf));
        w.i32(opcode::ERROR);
        let mut e = Writer::default();
        e.i32(-101);
        w.buffer(Some(&e.buf));
        let (_, t, _) = decode(&w.buf).unwrap();
        let Txn::Multi(ops) = t else { panic!() };
        assert_eq!(ops.len(), 2);
        assert!(matches!(ops[1], Txn::Error { err: -101 }));
    }

    #[test]
    fn every_truncation_is_an_error_not_a_panic() {
        let mut w = Writer::default();
        header(&mut w, 7, 5, 1000, opcode::CREATE_TTL);
        w.string("/ttl");
        w.buffer(Some(b"data"));
        write_acl(&mut w, &Acl::world_all());
        w.i32(1);
        w.i64(5000);
        let (_, t, _) = decode(&w.buf).unwrap();
        assert!(matches!(
            t,
            Txn::Create {
                kind: CreateKind::Ttl(5000),
                ..
            }
        ));
        for n in 0..w.buf.len() {
            assert!(decode(&w.buf[..n]).is_err(), "prefix {n}");
        }
        assert_eq!(
            decode(&{
                let mut w = Writer::default();
                header(&mut w, 0, 1, 1, 99);
                w.buf
            }),
            Err(TxnError::Unsupported(99))
        );
    }
}
