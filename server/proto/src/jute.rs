//! Jute primitive encoding: big-endian ints, length-prefixed buffers/strings/vectors, -1 meaning null.

use crate::DecodeError;

/// Cursor over one frame body.
pub struct Reader<'a> {
    buf: &'a [u8],
    pos: usize,
}

impl<'a> Reader<'a> {
    pub fn new(buf: &'a [u8]) -> Self {
        Reader { buf, pos: 0 }
    }
    pub fn remaining(&self) -> usize {
        self.buf.len() - self.pos
    }
    pub fn position(&self) -> usize {
        self.pos
    }
    fn take(&mut self, n: usize, what: &'static str) -> Result<&'a [u8], DecodeError> {
        if self.remaining() < n {
            return Err(DecodeError::UnexpectedEof { what, at: self.pos });
        }
        let s = &self.buf[self.pos..self.pos + n];
        self.pos += n;
        Ok(s)
    }
    pub fn i32(&mut self) -> Result<i32, DecodeError> {
        let b = self.take(4, "int")?;
        Ok(i32::from_be_bytes([b[0], b[1], b[2], b[3]]))
    }
    pub fn i64(&mut self) -> Result<i64, DecodeError> {
        let b = self.take(8, "long")?;
        let mut a = [0u8; 8];
        a.copy_from_slice(b);
        Ok(i64::from_be_bytes(a))
    }
    pub fn bool(&mut self) -> Result<bool, DecodeError> {
        Ok(self.take(1, "boolean")?[0] != 0)
    }
    /// A length-prefixed byte buffer; `None` for the null encoding (-1).
    pub fn buffer(&mut self) -> Result<Option<&'a [u8]>, DecodeError> {
        let len = self.i32()?;
        if len == -1 {
            return Ok(None);
        }
        if len < 0 {
            return Err(DecodeError::NegativeLength { len, at: self.pos });
        }
        Ok(Some(self.take(len as usize, "buffer")?))
    }
    /// A UTF-8 string; null is decoded as the empty string.
    pub fn string(&mut self) -> Result<String, DecodeError> {
        let at = self.pos;
        match self.buffer()? {
            None => Ok(String::new()),
            Some(b) => String::from_utf8(b.to_vec()).map_err(|_| DecodeError::InvalidUtf8 { at }),
        }
    }
    /// A vector element count; null is decoded as zero. Bounds the count by the bytes left.
    pub fn vec_len(&mut self, min_elem_size: usize) -> Result<usize, DecodeError> {
        let len = self.i32()?;
        if len == -1 {
            return Ok(0);
        }
        if len < 0 {
            return Err(DecodeError::NegativeLength { len, at: self.pos });
        }
        let len = len as usize;
        if len.saturating_mul(min_elem_size.max(1)) > self.remaining() {
            return Err(DecodeError::UnexpectedEof {
                what: "vector",
                at: self.pos,
            });
        }
        Ok(len)
    }
}

/// Append-only output buffer.
#[derive(Default)]
pub struct Writer {
    pub buf: Vec<u8>,
}

impl Writer {
    pub fn new() -> Self {
        Writer {
            buf: Vec::with_capacity(64),
        }
    }
    /// A writer that reserves 4 bytes for the frame length, filled by [`Writer::finish_frame`].
    pub fn framed() -> Self {
        Self::framed_with_capacity(128)
    }
    /// Like [`Writer::framed`], reserving room for `body` bytes up front.
    pub fn framed_with_capacity(body: usize) -> Self {
        let mut buf = Vec::with_capacity(body + 4);
        buf.extend_from_slice(&[0, 0, 0, 0]);
        Writer { buf }
    }
    pub fn finish_frame(mut self) -> Vec<u8> {
        let len = (self.buf.len() - 4) as u32;
        self.buf[..4].copy_from_slice(&len.to_be_bytes());
        self.buf
    }
    pub fn i32(&mut self, v: i32) {
        self.buf.extend_from_slice(&v.to_be_bytes());
    }
    pub fn i64(&mut self, v: i64) {
        self.buf.extend_from_slice(&v.to_be_bytes());
    }
    pub fn bool(&mut self, v: bool) {
        self.buf.push(v as u8);
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
    pub fn string(&mut self, s: &str) {
        self.buffer(Some(s.as_bytes()));
    }
}

/// A value with a jute encoding.
pub trait Jute: Sized {
    fn decode(r: &mut Reader<'_>) -> Result<Self, DecodeError>;
    fn encode(&self, w: &mut Writer);
    /// Smallest encoded size, used to bound vector counts before allocating.
    const MIN_SIZE: usize = 1;
}

/// Marker for types that may appear as elements of a jute vector.
pub trait Element: Jute {}

impl Jute for i32 {
    fn decode(r: &mut Reader<'_>) -> Result<Self, DecodeError> {
        r.i32()
    }
    fn encode(&self, w: &mut Writer) {
        w.i32(*self)
    }
    const MIN_SIZE: usize = 4;
}
impl Jute for i64 {
    fn decode(r: &mut Reader<'_>) -> Result<Self, DecodeError> {
        r.i64()
    }
    fn encode(&self, w: &mut Writer) {
        w.i64(*self)
    }
    const MIN_SIZE: usize = 8;
}
impl Jute for bool {
    fn decode(r: &mut Reader<'_>) -> Result<Self, DecodeError> {
        r.bool()
    }
    fn encode(&self, w: &mut Writer) {
        w.bool(*self)
    }
}
impl Jute for String {
    fn decode(r: &mut Reader<'_>) -> Result<Self, DecodeError> {
        r.string()
    }
    fn encode(&self, w: &mut Writer) {
        w.string(self)
    }
    const MIN_SIZE: usize = 4;
}
impl Element for String {}

/// Non-null buffer (null decodes as empty).
impl Jute for Vec<u8> {
    fn decode(r: &mut Reader<'_>) -> Result<Self, DecodeError> {
        Ok(r.buffer()?.map(|b| b.to_vec()).unwrap_or_default())
    }
    fn encode(&self, w: &mut Writer) {
        w.buffer(Some(self))
    }
    const MIN_SIZE: usize = 4;
}

/// Nullable buffer (znode data may be null in ZooKeeper).
impl Jute for Option<Vec<u8>> {
    fn decode(r: &mut Reader<'_>) -> Result<Self, DecodeError> {
        Ok(r.buffer()?.map(|b| b.to_vec()))
    }
    fn encode(&self, w: &mut Writer) {
        w.buffer(self.as_deref())
    }
    const MIN_SIZE: usize = 4;
}

impl<T: Element> Jute for Vec<T> {
    fn decode(r: &mut Reader<'_>) -> Result<Self, DecodeError> {
        let n = r.vec_len(T::MIN_SIZE)?;
        let mut v = Vec::with_capacity(n);
        for _ in 0..n {
            v.push(T::decode(r)?);
        }
        Ok(v)
    }
    fn encode(&self, w: &mut Writer) {
        w.i32(self.len() as i32);
        for e in self {
            e.encode(w);
        }
    }
    const MIN_SIZE: usize = 4;
}

/// Defines a jute record: a struct whose fields are encoded in declaration order.
#[macro_export]
macro_rules! record {
    ($(#[$m:meta])* $name:ident { $($(#[$fm:meta])* $field:ident : $ty:ty),* $(,)? }) => {
        $(#[$m])*
        #[derive(Debug, Clone, PartialEq, Eq, Default)]
        pub struct $name { $($(#[$fm])* pub $field: $ty),* }
        impl $crate::jute::Jute for $name {
            #[allow(unused_variables)]
            fn decode(r: &mut $crate::jute::Reader<'_>) -> Result<Self, $crate::DecodeError> {
                Ok(Self { $($field: <$ty as $crate::jute::Jute>::decode(r)?),* })
            }
            #[allow(unused_variables)]
            fn encode(&self, w: &mut $crate::jute::Writer) {
                $(<$ty as $crate::jute::Jute>::encode(&self.$field, w);)*
            }
            const MIN_SIZE: usize = 0 $(+ <$ty as $crate::jute::Jute>::MIN_SIZE)*;
        }
    };
}
