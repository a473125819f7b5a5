//! ZooKeeper transaction log files (`version-2/log.<first zxid>`, `FileTxnLog`): a file header,
//! then records `long adler32 | int len | txn bytes | byte 'B'`. ZooKeeper preallocates the
//! file with zeros, so a zero length (or a record cut short) ends the file, as in
//! `Util.readTxnBytes`; a checksum mismatch is corruption.

use crate::jute::{adler32, Reader};
use crate::txn::{self, Txn, TxnDigest, TxnError, TxnHeader};

/// "ZKLG"
pub const LOG_MAGIC: i32 = 0x5a4b_4c47;

/// One decoded record and its byte offset in the file.
#[derive(Debug, Clone, PartialEq)]
pub struct Record {
    pub offset: u64,
    pub hdr: TxnHeader,
    pub txn: Txn,
    pub digest: Option<TxnDigest>,
}

/// How reading a log file ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum End {
    /// Exactly at the end of the file.
    Eof,
    /// Preallocated zeros from this offset on.
    Preallocated(u64),
    /// A record cut short at this offset (a crash while appending); ZooKeeper stops there too.
    Torn(u64),
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum LogError {
    #[error("at byte {0}: not a ZooKeeper transaction log (bad magic)")]
    Magic(u64),
    #[error("at byte {offset}: unsupported log version {version}")]
    Version { offset: u64, version: i32 },
    #[error("at byte {offset}: record checksum mismatch (file says {stored:#x}, content sums to {actual:#x})")]
    Crc {
        offset: u64,
        stored: i64,
        actual: i64,
    },
    #[error("at byte {offset}: {error}")]
    Txn { offset: u64, error: TxnError },
}

/// Parses a whole log file. Records come back in file order.
pub fn parse(bytes: &[u8]) -> Result<(Vec<Record>, End), LogError> {
    let mut r = Reader::new(bytes);
    if bytes.len() < 16 {
        // Created but its header never written: nothing in it.
        return Ok((Vec::new(), End::Torn(0)));
    }
    if r.i32().ok() != Some(LOG_MAGIC) {
        return Err(LogError::Magic(0));
    }
    let version = r.i32().unwrap_or(0);
    if version != 2 {
        return Err(LogError::Version { offset: 4, version });
    }
    let _dbid = r.i64();
    let mut out = Vec::new();
    loop {
        let offset = r.pos() as u64;
        if r.remaining() == 0 {
            return Ok((out, End::Eof));
        }
        let (Ok(crc), Ok(len)) = (r.i64(), r.i32()) else {
            return Ok((out, End::Torn(offset)));
        };
        if len == 0 {
            return Ok((out, End::Preallocated(offset)));
        }
        if len < 0 || len as usize > r.remaining() {
            return Ok((out, End::Torn(offset)));
        }
        let body = r.take(len as usize).expect("length checked");
        match r.u8() {
            Ok(b'B') => {}
            _ => return Ok((out, End::Torn(offset))),
        }
        let actual = adler32(body) as i64;
        if actual != crc {
            return Err(LogError::Crc {
                offset,
                stored: crc,
                actual,
            });
        }
        let (hdr, txn, digest) = txn::decode(body).map_err(|error| LogError::Txn {
            offset: offset + 12,
            error,
        })?;
        out.push(Record {
            offset,
            hdr,
            txn,
            digest,
        });
    }
}
