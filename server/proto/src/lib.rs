//! Apache ZooKeeper client wire protocol: framing, jute records, opcodes and error codes.
//!
//! Every decoder works on untrusted bytes and returns [`DecodeError`] instead of panicking.
#![forbid(unsafe_code)]

pub mod connect;
pub mod consts;
pub mod frame;
pub mod jute;
pub mod records;
pub mod request;

pub use connect::{ConnectRequest, ConnectResponse};
pub use consts::ErrorCode;
pub use frame::{FrameDecoder, FrameError};
pub use jute::{Jute, Reader, Writer};
pub use request::{decode_request, Create, MultiOp, Request};

/// Default maximum frame body size, as ZooKeeper's `jute.maxbuffer` (0xfffff).
pub const DEFAULT_MAX_BUFFER: u32 = 0xfffff;

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum DecodeError {
    #[error("unexpected end of frame reading {what} at byte {at}")]
    UnexpectedEof { what: &'static str, at: usize },
    #[error("negative length {len} at byte {at}")]
    NegativeLength { len: i32, at: usize },
    #[error("string at byte {at} is not valid UTF-8")]
    InvalidUtf8 { at: usize },
    #[error("unknown opcode {0}")]
    UnknownOpcode(i32),
    #[error("opcode {0} is not allowed inside this multi")]
    BadMultiOp(i32),
}

/// Encodes a complete framed reply: header followed by an optional body record.
pub fn encode_reply(header: &records::ReplyHeader, body: Option<&dyn Fn(&mut Writer)>) -> Vec<u8> {
    let mut w = Writer::framed();
    header.encode(&mut w);
    if let Some(f) = body {
        f(&mut w);
    }
    w.finish_frame()
}
