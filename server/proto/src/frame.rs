//! Length-prefixed framing: a 4-byte big-endian length followed by that many bytes.

use thiserror::Error;

#[derive(Debug, Error, PartialEq, Eq)]
pub enum FrameError {
    #[error("frame length {len} exceeds the maximum of {max} bytes (jute.maxbuffer)")]
    TooLarge { len: u32, max: u32 },
    #[error("frame length {0} is negative")]
    Negative(i32),
}

/// Extracts complete frames from a growing buffer, enforcing a maximum body size.
#[derive(Debug, Clone)]
pub struct FrameDecoder {
    max: u32,
}

impl FrameDecoder {
    pub fn new(max_frame: u32) -> Self {
        FrameDecoder { max: max_frame }
    }

    /// Returns the byte range of the next complete frame body in `buf` and the total bytes it spans,
    /// `Ok(None)` when more bytes are needed, or an error that must close the connection.
    pub fn next_frame(
        &self,
        buf: &[u8],
    ) -> Result<Option<(std::ops::Range<usize>, usize)>, FrameError> {
        if buf.len() < 4 {
            return Ok(None);
        }
        let len = i32::from_be_bytes([buf[0], buf[1], buf[2], buf[3]]);
        if len < 0 {
            return Err(FrameError::Negative(len));
        }
        let len = len as u32;
        if len > self.max {
            return Err(FrameError::TooLarge { len, max: self.max });
        }
        let total = 4 + len as usize;
        if buf.len() < total {
            return Ok(None);
        }
        Ok(Some((4..total, total)))
    }
}
