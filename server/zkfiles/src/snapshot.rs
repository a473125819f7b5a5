//! ZooKeeper snapshot files (`version-2/snapshot.<zxid>[.gz|.snappy]`): `FileSnap` framing,
//! `SerializeUtils.serializeSnapshot` body, `DataTree.serialize` with its ACL cache, the
//! Adler-32 seals, and the optional 3.6+ digest and 3.9 last-processed-zxid trailers.

use crate::jute::{adler32, JuteError, Reader, Writer};
use crate::model::{StatPersisted, ZkNode, ZkTree};
use crate::txn::{read_acl, write_acl};
use rzk_tree::Acl;
use std::collections::{BTreeSet, HashMap};

/// "ZKSN"
pub const SNAP_MAGIC: i32 = 0x5a4b_534e;

/// How a snapshot file is compressed (`zookeeper.snapshot.compression.method`), from its name.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Compression {
    None,
    Gzip,
    Snappy,
}

impl Compression {
    pub fn of_name(name: &str) -> Compression {
        if name.ends_with(".gz") {
            Compression::Gzip
        } else if name.ends_with(".snappy") {
            Compression::Snappy
        } else {
            Compression::None
        }
    }
}

/// Why a snapshot does not read, at byte `offset` of its (decompressed) stream.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("at byte {offset}: {what}")]
pub struct SnapError {
    pub offset: u64,
    pub what: String,
}

fn at(offset: usize, what: impl Into<String>) -> SnapError {
    SnapError {
        offset: offset as u64,
        what: what.into(),
    }
}

fn jute(r: &Reader<'_>, what: &str) -> impl Fn(JuteError) -> SnapError {
    let pos = r.pos();
    let what = what.to_string();
    move |e| at(pos, format!("{what}: {e}"))
}

/// xerial snappy-java's stream (`SnappyOutputStream`): an 8-byte magic `\x82SNAPPY\0`, two
/// big-endian ints (version, compatible version), then blocks of `u32 length | raw snappy`.
pub fn unsnappy(b: &[u8]) -> Result<Vec<u8>, SnapError> {
    const MAGIC: &[u8; 8] = b"\x82SNAPPY\0";
    if b.len() < 16 || &b[..8] != MAGIC {
        return Err(at(0, "not a snappy-java stream (magic missing)"));
    }
    let mut out = Vec::new();
    let mut pos = 16;
    let mut dec = snap::raw::Decoder::new();
    while pos < b.len() {
        if b.len() - pos < 4 {
            return Err(at(pos, "truncated snappy block header"));
        }
        let n = u32::from_be_bytes([b[pos], b[pos + 1], b[pos + 2], b[pos + 3]]) as usize;
        pos += 4;
        if n > b.len() - pos {
            return Err(at(
                pos,
                format!("snappy block of {n} bytes runs past the end"),
            ));
        }
        let block = dec
            .decompress_vec(&b[pos..pos + n])
            .map_err(|e| at(pos, format!("snappy block does not decompress: {e}")))?;
        out.extend_from_slice(&block);
        pos += n;
    }
    Ok(out)
}

/// Decompresses a snapshot file's bytes. Offsets of later errors count in the result.
pub fn decompress(c: Compression, raw: &[u8]) -> Result<Vec<u8>, SnapError> {
    match c {
        Compression::None => Ok(raw.to_vec()),
        Compression::Snappy => unsnappy(raw),
        Compression::Gzip => {
            use std::io::Read;
            let mut out = Vec::new();
            flate2::read::GzDecoder::new(raw)
                .read_to_end(&mut out)
                .map_err(|e| {
                    at(
                        out.len(),
                        format!("gzip stream is damaged or truncated: {e}"),
                    )
                })?;
            Ok(out)
        }
    }
}

/// What a snapshot held besides the tree.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SnapInfo {
    pub dbid: i64,
    /// The 3.6+ digest trailer's zxid and digest version, if present.
    pub digest: Option<(i64, i32)>,
    /// The 3.9 `lastZxid` trailer, if present.
    pub last_processed_zxid: Option<i64>,
}

fn seal(r: &mut Reader<'_>) -> Result<(), SnapError> {
    let want = adler32(r.consumed()) as i64;
    let pos = r.pos();
    let val = r.i64().map_err(jute(r, "checksum"))?;
    let p = r.string().map_err(jute(r, "checksum terminator"))?;
    if p.as_deref() != Some("/") {
        return Err(at(pos + 8, "checksum is not followed by \"/\""));
    }
    if val != want {
        return Err(at(
            pos,
            format!("checksum mismatch (file says {val:#x}, content sums to {want:#x})"),
        ));
    }
    Ok(())
}

/// Parses a decompressed snapshot stream into a tree whose `last_zxid` is `zxid` (from the
/// file name, as ZooKeeper does).
pub fn parse(bytes: &[u8], zxid: i64) -> Result<(ZkTree, SnapInfo), SnapError> {
    let mut r = Reader::new(bytes);
    let magic = r.i32().map_err(jute(&r, "file header"))?;
    if magic != SNAP_MAGIC {
        return Err(at(
            0,
            format!("not a ZooKeeper snapshot (magic {magic:#x})"),
        ));
    }
    let version = r.i32().map_err(jute(&r, "file header"))?;
    if version != 2 {
        return Err(at(4, format!("unsupported snapshot version {version}")));
    }
    let mut info = SnapInfo {
        dbid: r.i64().map_err(jute(&r, "file header"))?,
        ..Default::default()
    };
    let mut tree = ZkTree {
        last_zxid: zxid,
        ..Default::default()
    };
    let n = r.i32().map_err(jute(&r, "session count"))?;
    if n < 0 || n as usize > r.remaining() / 12 {
        return Err(at(r.pos() - 4, format!("invalid session count {n}")));
    }
    for _ in 0..n {
        let id = r.i64().map_err(jute(&r, "session"))?;
        let to = r.i32().map_err(jute(&r, "session"))?;
        tree.sessions.insert(id, to);
    }
    // ReferenceCountedACLCache: map of long -> ACL list.
    let n = r.i32().map_err(jute(&r, "ACL cache size"))?;
    if n < 0 || n as usize > r.remaining() / 12 {
        return Err(at(r.pos() - 4, format!("invalid ACL cache size {n}")));
    }
    let mut acls: HashMap<i64, Vec<Acl>> = HashMap::new();
    for _ in 0..n {
        let idx = r.i64().map_err(jute(&r, "ACL cache entry"))?;
        let pos = r.pos();
        if r.peek_i32() == Some(-1) {
            return Err(at(pos, "ACL cache entry without an ACL vector"));
        }
        let list = read_acl(&mut r).map_err(|e| at(pos, format!("ACL cache entry: {e}")))?;
        acls.insert(idx, list);
    }
    // Nodes, parents first, until the path "/".
    loop {
        let pos = r.pos();
        let path = r
            .string()
            .map_err(jute(&r, "node path"))?
            .ok_or_else(|| at(pos, "null node path"))?;
        if path == "/" {
            break;
        }
        let data = r.buffer().map_err(jute(&r, "node data"))?;
        let acl_pos = r.pos();
        let acl_ref = r.i64().map_err(jute(&r, "node ACL"))?;
        let acl = if acl_ref == -1 {
            Acl::world_all()
        } else {
            acls.get(&acl_ref).cloned().ok_or_else(|| {
                at(
                    acl_pos,
                    format!("node {path:?} refers to ACL {acl_ref}, which the cache lacks"),
                )
            })?
        };
        let mut st = || r.i64().map_err(jute(&r, "node stat"));
        let (czxid, mzxid, ctime, mtime) = (st()?, st()?, st()?, st()?);
        let mut st32 = || r.i32().map_err(jute(&r, "node stat"));
        let (version, cversion, aversion) = (st32()?, st32()?, st32()?);
        let mut st = || r.i64().map_err(jute(&r, "node stat"));
        let (ephemeral_owner, pzxid) = (st()?, st()?);
        let key = if path.is_empty() {
            "/".to_string()
        } else {
            path.clone()
        };
        if key != "/" && !key.starts_with('/') {
            return Err(at(pos, format!("invalid node path {path:?}")));
        }
        tree.insert_loaded(
            key,
            ZkNode {
                data,
                acl,
                stat: StatPersisted {
                    czxid,
                    mzxid,
                    ctime,
                    mtime,
                    version,
                    cversion,
                    aversion,
                    ephemeral_owner,
                    pzxid,
                },
                children: BTreeSet::new(),
            },
        )
        .map_err(|e| at(pos, e))?;
    }
    if !tree.nodes.contains_key("/") {
        return Err(at(r.pos(), "snapshot has no root node"));
    }
    seal(&mut r)?;
    // 3.6+: ZxidDigest {long zxid; int digestVersion; long digest (version < 2: string)} and a
    // second seal. 3.9: optionally long lastZxid and a third seal. Absent in older files.
    // A seal is 13 bytes (long + the string "/").
    if r.remaining() >= 8 + 4 + 8 + 13 && r.remaining() != 8 + 13 {
        let z = r.i64().map_err(jute(&r, "digest"))?;
        let v = r.i32().map_err(jute(&r, "digest"))?;
        if v < 2 {
            r.string().map_err(jute(&r, "digest"))?;
        } else {
            r.i64().map_err(jute(&r, "digest"))?;
        }
        seal(&mut r)?;
        info.digest = Some((z, v));
    }
    if r.remaining() >= 8 + 13 {
        info.last_processed_zxid = Some(r.i64().map_err(jute(&r, "last zxid"))?);
        seal(&mut r)?;
    }
    if r.remaining() > 0 {
        // ZooKeeper would take a cut trailer for an older snapshot; a file cut anywhere is
        // refused here, so a crash while writing it is noticed.
        return Err(at(
            r.pos(),
            format!(
                "{} unexpected bytes after the snapshot's checksum (truncated digest trailer?)",
                r.remaining()
            ),
        ));
    }
    Ok((tree, info))
}

/// Writes an uncompressed snapshot that ZooKeeper 3.5+ reads, with the 3.6+ digest trailer
/// (digest version 2) for the tree at `tree.last_zxid`.
pub fn write(tree: &ZkTree) -> Vec<u8> {
    let mut w = Writer::default();
    w.i32(SNAP_MAGIC);
    w.i32(2);
    w.i64(-1);
    w.i32(tree.sessions.len() as i32);
    for (id, to) in &tree.sessions {
        w.i64(*id);
        w.i32(*to);
    }
    let mut ids: HashMap<&[Acl], i64> = HashMap::new();
    let mut order: Vec<&[Acl]> = Vec::new();
    let mut paths: Vec<&String> = tree.nodes.keys().collect();
    // Parents before children: sorting by path puts "/a" before "/a/b"; siblings' order does not
    // matter to readers.
    paths.sort_by(|a, b| path_order(a, b));
    for p in &paths {
        let acl = tree.nodes[*p].acl.as_slice();
        if !ids.contains_key(acl) {
            ids.insert(acl, order.len() as i64 + 1);
            order.push(acl);
        }
    }
    w.i32(order.len() as i32);
    for (i, acl) in order.iter().enumerate() {
        w.i64(i as i64 + 1);
        write_acl(&mut w, acl);
    }
    for p in &paths {
        let n = &tree.nodes[*p];
        w.string(if p.as_str() == "/" { "" } else { p.as_str() });
        w.buffer(n.data.as_deref());
        w.i64(ids[n.acl.as_slice()]);
        let s = &n.stat;
        for v in [s.czxid, s.mzxid, s.ctime, s.mtime] {
            w.i64(v);
        }
        for v in [s.version, s.cversion, s.aversion] {
            w.i32(v);
        }
        w.i64(s.ephemeral_owner);
        w.i64(s.pzxid);
    }
    w.string("/");
    let sum = adler32(&w.buf);
    w.i64(sum as i64);
    w.string("/");
    // The 3.6+ digest trailer: ZooKeeper compares it with the tree it loaded (older releases
    // stop reading after the first seal).
    w.i64(tree.last_zxid);
    w.i32(2);
    w.i64(tree.digest());
    let sum = adler32(&w.buf);
    w.i64(sum as i64);
    w.string("/");
    w.buf
}

/// Orders paths so that every node comes after its parent: component-wise comparison.
fn path_order(a: &str, b: &str) -> std::cmp::Ordering {
    if a == "/" || b == "/" {
        return (a != "/").cmp(&(b != "/"));
    }
    a.split('/').cmp(b.split('/'))
}
