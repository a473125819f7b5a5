//! Jute's binary archive (big-endian integers, length-prefixed strings, buffers and vectors;
//! length -1 is null), read from a byte slice with the offset of every failure.

/// Why a read failed, at [`Reader::pos`].
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum JuteError {
    #[error("unexpected end of data (wanted {wanted} bytes, {left} left)")]
    Eof { wanted: usize, left: usize },
    #[error("invalid length {len} ({left} bytes left: truncated or damaged)")]
    BadLength { len: i32, left: usize },
    #[error("string is not UTF-8")]
    NotUtf8,
}

/// A cursor over jute-encoded bytes.
pub struct Reader<'a> {
    buf: &'a [u8],
    pos: usize,
}

impl<'a> Reader<'a> {
    pub fn new(buf: &'a [u8]) -> Self {
        Reader { buf, pos: 0 }
    }
    pub fn pos(&self) -> usize {
        self.pos
    }
    pub fn remaining(&self) -> usize {
        self.buf.len() - self.pos
    }
    /// The bytes read so far.
    pub fn consumed(&self) -> &'a [u8] {
        &self.buf[..self.pos]
    }
    /// Moves back (or forward) to `pos`, at most to the end.
    pub fn seek(&mut self, pos: usize) {
        self.pos = pos.min(self.buf.len());
    }
    /// The next big-endian int, not consumed.
    pub fn peek_i32(&self) -> Option<i32> {
        let b = self.buf.get(self.pos..self.pos + 4)?;
        Some(i32::from_be_bytes([b[0], b[1], b[2], b[3]]))
    }
    pub fn take(&mut self, n: usize) -> Result<&'a [u8], JuteError> {
        if n > self.remaining() {
            return Err(JuteError::Eof {
                wanted: n,
                left: self.remaining(),
            });
        }
        let s = &self.buf[self.pos..self.pos + n];
        self.pos += n;
        Ok(s)
    }
    fn array<const N: usize>(&mut self) -> Result<[u8; N], JuteError> {
        let mut a = [0u8; N];
        a.copy_from_slice(self.take(N)?);
        Ok(a)
    }
    pub fn u8(&mut self) -> Result<u8, JuteError> {
        Ok(self.array::<1>()?[0])
    }
    pub fn bool(&mut self) -> Result<bool, JuteError> {
        Ok(self.u8()? != 0)
    }
    pub fn i32(&mut self) -> Result<i32, JuteError> {
        Ok(i32::from_be_bytes(self.array()?))
    }
    pub fn i64(&mut self) -> Result<i64, JuteError> {
        Ok(i64::from_be_bytes(self.array()?))
    }
    /// A length prefix: -1 (null) is `None`; other negatives, or more than what is left, fail
    /// before anything is allocated.
    fn len(&mut self, min_item: usize) -> Result<Option<usize>, JuteError> {
        let start = self.pos;
        let n = self.i32()?;
        if n == -1 {
            return Ok(None);
        }
        if n < 0 || (n as usize).saturating_mul(min_item) > self.remaining() {
            let left = self.remaining();
            self.pos = start;
            return Err(JuteError::BadLength { len: n, left });
        }
        Ok(Some(n as usize))
    }
    pub fn buffer(&mut self) -> Result<Option<Vec<u8>>, JuteError> {
        match self.len(1)? {
            None => Ok(None),
            Some(n) => Ok(Some(self.take(n)?.to_vec())),
        }
    }
    pub fn string(&mut self) -> Result<Option<String>, JuteError> {
        let start = self.pos;
        match self.len(1)? {
            None => Ok(None),
            Some(n) => {
                let b = self.take(n)?;
                match std::str::from_utf8(b) {
                    Ok(s) => Ok(Some(s.to_string())),
                    Err(_) => {
                        self.pos = start;
                        Err(JuteError::NotUtf8)
                    }
                }
            }
        }
    }
    /// A vector's element count (`None`: null vector). Each element takes at least `min_item`
    /// bytes, which bounds the count by what is left.
    pub fn vec_len(&mut self, min_item: usize) -> Result<Option<usize>, JuteError> {
        self.len(min_item.max(1))
    }
}

/// Jute's binary archive, written.
#[derive(Default)]
pub struct Writer {
    pub buf: Vec<u8>,
}

impl Writer {
    pub fn u8(&mut self, v: u8) {
        self.buf.push(v);
    }
    pub fn bool(&mut self, v: bool) {
        self.buf.push(v as u8);
    }
    pub fn i32(&mut self, v: i32) {
        self.buf.extend_from_slice(&v.to_be_bytes());
    }
    pub fn i64(&mut self, v: i64) {
        self.buf.extend_from_slice(&v.to_be_bytes());
    }
    pub fn buffer(&mut self, v: Option<&[u8]>) {
        match v {
            None => self.i32(-1),
            Some(b) => {
                self.i32(b.len() as i32);
                self.buf.extend_from_slice(b);
            }
        }
    }
    pub fn string(&mut self, v: &str) {
        self.buffer(Some(v.as_bytes()));
    }
}

/// Adler-32 (java.util.zip.Adler32), the checksum of ZooKeeper's snapshots and log records.
pub fn adler32(data: &[u8]) -> u32 {
    const MOD: u32 = 65521;
    // 5552 is the largest n with 255·n·(n+1)/2 + (n+1)·(MOD−1) < 2^32.
    let (mut a, mut b) = (1u32, 0u32);
    for chunk in data.chunks(5552) {
        for &x in chunk {
            a += x as u32;
            b += a;
        }
        a %= MOD;
        b %= MOD;
    }
    (b << 16) | a
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn adler32_known_values() {
        assert_eq!(adler32(b""), 1);
        assert_eq!(adler32(b"Wikipedia"), 0x11E6_0398);
        let big = vec![0xffu8; 100_000];
        // Reference: the same sum computed one byte at a time with the modulo every step.
        let (mut a, mut b) = (1u64, 0u64);
        for &x in &big {
            a = (a + x as u64) % 65521;
            b = (b + a) % 65521;
        }
        assert_eq!(adler32(&big), ((b << 16) | a) as u32);
    }

    #[test]
    fn primitives_round_trip_and_fail_cleanly() {
        let mut w = Writer::default();
        w.i32(-5);
        w.i64(1 << 40);
        w.string("héllo");
        w.buffer(None);
        w.bool(true);
        let mut r = Reader::new(&w.buf);
        assert_eq!(r.i32().unwrap(), -5);
        assert_eq!(r.i64().unwrap(), 1 << 40);
        assert_eq!(r.string().unwrap().as_deref(), Some("héllo"));
        assert_eq!(r.buffer().unwrap(), None);
        assert!(r.bool().unwrap());
        assert!(matches!(r.i32(), Err(JuteError::Eof { .. })));
        // A huge length is refused without allocating.
        let mut r = Reader::new(&[0x7f, 0xff, 0xff, 0xff, 0]);
        assert_eq!(
            r.buffer(),
            Err(JuteError::BadLength {
                len: i32::MAX,
                left: 1
            })
        );
        assert_eq!(r.pos(), 0);
    }
}
