//! Session handshake records. Their trailing `readOnly` byte is optional (older clients omit it).

use crate::jute::{Reader, Writer};
use crate::DecodeError;

#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct ConnectRequest {
    pub protocol_version: i32,
    pub last_zxid_seen: i64,
    pub timeout_ms: i32,
    pub session_id: i64,
    pub passwd: Vec<u8>,
    /// `None` when the client did not send the field at all.
    pub read_only: Option<bool>,
}

impl ConnectRequest {
    pub fn decode(body: &[u8]) -> Result<Self, DecodeError> {
        let mut r = Reader::new(body);
        let mut req = ConnectRequest {
            protocol_version: r.i32()?,
            last_zxid_seen: r.i64()?,
            timeout_ms: r.i32()?,
            session_id: r.i64()?,
            passwd: r.buffer()?.map(|b| b.to_vec()).unwrap_or_default(),
            read_only: None,
        };
        if r.remaining() > 0 {
            req.read_only = Some(r.bool()?);
        }
        Ok(req)
    }
    pub fn encode(&self, w: &mut Writer) {
        w.i32(self.protocol_version);
        w.i64(self.last_zxid_seen);
        w.i32(self.timeout_ms);
        w.i64(self.session_id);
        w.buffer(Some(&self.passwd));
        if let Some(ro) = self.read_only {
            w.bool(ro);
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct ConnectResponse {
    pub protocol_version: i32,
    pub timeout_ms: i32,
    pub session_id: i64,
    pub passwd: Vec<u8>,
    pub read_only: Option<bool>,
}

impl ConnectResponse {
    pub fn decode(body: &[u8]) -> Result<Self, DecodeError> {
        let mut r = Reader::new(body);
        let mut resp = ConnectResponse {
            protocol_version: r.i32()?,
            timeout_ms: r.i32()?,
            session_id: r.i64()?,
            passwd: r.buffer()?.map(|b| b.to_vec()).unwrap_or_default(),
            read_only: None,
        };
        if r.remaining() > 0 {
            resp.read_only = Some(r.bool()?);
        }
        Ok(resp)
    }
    pub fn encode(&self, w: &mut Writer) {
        w.i32(self.protocol_version);
        w.i32(self.timeout_ms);
        w.i64(self.session_id);
        w.buffer(Some(&self.passwd));
        if let Some(ro) = self.read_only {
            w.bool(ro);
        }
    }
}
