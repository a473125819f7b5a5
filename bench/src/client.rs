//! A minimal pipelining ZooKeeper client: one TCP connection, one session, requests encoded with
//! rzk-proto records into a write buffer and sent in batches, replies read in order.

use bytes::BytesMut;
use rzk_proto::consts::{op, perms, xid};
use rzk_proto::records::{
    Acl, CreateRequest, DeleteRequest, Id, MultiHeader, PathRequest, PathWatchRequest, ReplyHeader,
    RequestHeader, SetDataRequest,
};
use rzk_proto::{ConnectRequest, ConnectResponse, FrameDecoder, Jute, Reader, Writer};
use std::io;
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::tcp::{OwnedReadHalf, OwnedWriteHalf};
use tokio::net::TcpStream;

/// Largest reply we accept (ZooKeeper's default jute.maxbuffer is 1 MiB; getChildren can be large).
const MAX_FRAME: u32 = 64 << 20;

/// One decoded reply frame.
pub struct Reply {
    pub xid: i32,
    #[allow(dead_code)]
    pub zxid: i64,
    pub err: i32,
    /// The body after the reply header (empty unless `err == 0`, or a watch event for xid -1).
    pub body: Vec<u8>,
}

pub struct Conn {
    rd: OwnedReadHalf,
    wr: OwnedWriteHalf,
    rbuf: BytesMut,
    dec: FrameDecoder,
    w: Writer,
    next_xid: i32,
    pub session_id: i64,
    pub timeout_ms: i32,
    pub addr: String,
}

pub fn open_acl() -> Vec<Acl> {
    vec![Acl {
        perms: perms::ALL,
        id: Id {
            scheme: "world".into(),
            id: "anyone".into(),
        },
    }]
}

fn io_err(msg: String) -> io::Error {
    io::Error::other(msg)
}

impl Conn {
    /// TCP connect plus session handshake. `timeout` bounds the whole exchange.
    pub async fn connect(
        addr: &str,
        session_timeout_ms: i32,
        timeout: Duration,
    ) -> io::Result<Conn> {
        tokio::time::timeout(timeout, Self::connect_inner(addr, session_timeout_ms))
            .await
            .map_err(|_| {
                io::Error::new(
                    io::ErrorKind::TimedOut,
                    format!("{addr}: handshake timed out"),
                )
            })?
    }

    async fn connect_inner(addr: &str, session_timeout_ms: i32) -> io::Result<Conn> {
        let stream = TcpStream::connect(addr).await?;
        stream.set_nodelay(true)?;
        let (rd, wr) = stream.into_split();
        let mut c = Conn {
            rd,
            wr,
            rbuf: BytesMut::with_capacity(64 * 1024),
            dec: FrameDecoder::new(MAX_FRAME),
            w: Writer {
                buf: Vec::with_capacity(64 * 1024),
            },
            next_xid: 1,
            session_id: 0,
            timeout_ms: 0,
            addr: addr.to_string(),
        };
        let start = c.begin_frame();
        ConnectRequest {
            protocol_version: 0,
            last_zxid_seen: 0,
            timeout_ms: session_timeout_ms,
            session_id: 0,
            passwd: vec![0; 16],
            read_only: Some(false),
        }
        .encode(&mut c.w);
        c.end_frame(start);
        c.flush().await?;
        let body = c.read_raw_frame().await?;
        let resp = ConnectResponse::decode(&body)
            .map_err(|e| io_err(format!("{addr}: bad ConnectResponse: {e}")))?;
        if resp.session_id == 0 || resp.timeout_ms <= 0 {
            return Err(io_err(format!("{addr}: session refused")));
        }
        c.session_id = resp.session_id;
        c.timeout_ms = resp.timeout_ms;
        Ok(c)
    }

    fn begin_frame(&mut self) -> usize {
        let start = self.w.buf.len();
        self.w.i32(0);
        start
    }

    fn end_frame(&mut self, start: usize) {
        let len = (self.w.buf.len() - start - 4) as u32;
        self.w.buf[start..start + 4].copy_from_slice(&len.to_be_bytes());
    }

    /// Appends one request to the write buffer and returns its xid. Nothing is sent until [`Conn::flush`].
    pub fn push(&mut self, opcode: i32, body: impl FnOnce(&mut Writer)) -> i32 {
        let x = match opcode {
            op::PING => xid::PING,
            _ => {
                let x = self.next_xid;
                self.next_xid = if x == i32::MAX { 1 } else { x + 1 };
                x
            }
        };
        let start = self.begin_frame();
        RequestHeader { xid: x, op: opcode }.encode(&mut self.w);
        body(&mut self.w);
        self.end_frame(start);
        x
    }

    pub async fn flush(&mut self) -> io::Result<()> {
        if !self.w.buf.is_empty() {
            self.wr.write_all(&self.w.buf).await?;
            self.w.buf.clear();
        }
        Ok(())
    }

    async fn read_raw_frame(&mut self) -> io::Result<Vec<u8>> {
        loop {
            if let Some(f) = self.try_raw_frame()? {
                return Ok(f);
            }
            if self.rd.read_buf(&mut self.rbuf).await? == 0 {
                return Err(io::Error::new(
                    io::ErrorKind::UnexpectedEof,
                    format!("{}: connection closed by server", self.addr),
                ));
            }
        }
    }

    fn try_raw_frame(&mut self) -> io::Result<Option<Vec<u8>>> {
        match self
            .dec
            .next_frame(&self.rbuf)
            .map_err(|e| io_err(e.to_string()))?
        {
            Some((range, total)) => {
                let body = self.rbuf[range].to_vec();
                let _ = self.rbuf.split_to(total);
                Ok(Some(body))
            }
            None => Ok(None),
        }
    }

    fn parse(body: Vec<u8>) -> io::Result<Reply> {
        let mut r = Reader::new(&body);
        let h =
            ReplyHeader::decode(&mut r).map_err(|e| io_err(format!("bad reply header: {e}")))?;
        let pos = r.position();
        Ok(Reply {
            xid: h.xid,
            zxid: h.zxid,
            err: h.err,
            body: body[pos..].to_vec(),
        })
    }

    /// Waits for the next reply (or notification).
    pub async fn read(&mut self) -> io::Result<Reply> {
        Self::parse(self.read_raw_frame().await?)
    }

    /// A reply already complete in the read buffer, without waiting.
    pub fn try_read(&mut self) -> io::Result<Option<Reply>> {
        match self.try_raw_frame()? {
            Some(b) => Ok(Some(Self::parse(b)?)),
            None => Ok(None),
        }
    }

    /// Sends one request and waits for its reply; notifications arriving meanwhile are returned in `events`.
    pub async fn call(
        &mut self,
        opcode: i32,
        body: impl FnOnce(&mut Writer),
        events: &mut Vec<Reply>,
    ) -> io::Result<Reply> {
        let x = self.push(opcode, body);
        self.flush().await?;
        loop {
            let r = self.read().await?;
            if r.xid == xid::NOTIFICATION {
                events.push(r);
            } else if r.xid == x {
                return Ok(r);
            } else if r.xid == xid::PING {
                continue;
            } else {
                return Err(io_err(format!(
                    "{}: reply xid {} while waiting for {}",
                    self.addr, r.xid, x
                )));
            }
        }
    }

    /// Best-effort closeSession (ephemerals go away at once instead of at session expiry).
    pub async fn close(mut self) {
        self.push(op::CLOSE_SESSION, |_| {});
        if self.flush().await.is_ok() {
            let _ = tokio::time::timeout(Duration::from_secs(2), async {
                while let Ok(r) = self.read().await {
                    if r.xid != xid::NOTIFICATION && r.xid != xid::PING {
                        break;
                    }
                }
            })
            .await;
        }
        let _ = self.wr.shutdown().await;
    }
}

// Request body encoders.

pub fn create_body<'a>(path: &'a str, data: &'a [u8], flags: i32) -> impl FnOnce(&mut Writer) + 'a {
    move |w| {
        CreateRequest {
            path: path.to_string(),
            data: Some(data.to_vec()),
            acl: open_acl(),
            flags,
        }
        .encode(w)
    }
}

pub fn set_body<'a>(path: &'a str, data: &'a [u8]) -> impl FnOnce(&mut Writer) + 'a {
    move |w| {
        SetDataRequest {
            path: path.to_string(),
            data: Some(data.to_vec()),
            version: -1,
        }
        .encode(w)
    }
}

/// A `multi` of persistent creates, one per path.
pub fn multi_create_body<'a>(paths: &'a [String], data: &'a [u8]) -> impl FnOnce(&mut Writer) + 'a {
    move |w| {
        for p in paths {
            MultiHeader {
                op: op::CREATE,
                done: false,
                err: -1,
            }
            .encode(w);
            create_body(p, data, rzk_proto::consts::create_mode::PERSISTENT)(w);
        }
        MultiHeader {
            op: -1,
            done: true,
            err: -1,
        }
        .encode(w);
    }
}

pub fn path_watch_body(path: &str, watch: bool) -> impl FnOnce(&mut Writer) + '_ {
    move |w| {
        PathWatchRequest {
            path: path.to_string(),
            watch,
        }
        .encode(w)
    }
}

pub fn path_body(path: &str) -> impl FnOnce(&mut Writer) + '_ {
    move |w| {
        PathRequest {
            path: path.to_string(),
        }
        .encode(w)
    }
}

pub fn delete_body(path: &str) -> impl FnOnce(&mut Writer) + '_ {
    move |w| {
        DeleteRequest {
            path: path.to_string(),
            version: -1,
        }
        .encode(w)
    }
}

/// Sends a four-letter word and returns the server's text answer.
pub async fn four_letter(addr: &str, cmd: &str, timeout: Duration) -> io::Result<String> {
    tokio::time::timeout(timeout, async {
        let mut s = TcpStream::connect(addr).await?;
        s.write_all(cmd.as_bytes()).await?;
        let mut out = Vec::new();
        s.read_to_end(&mut out).await?;
        Ok(String::from_utf8_lossy(&out).into_owned())
    })
    .await
    .map_err(|_| io::Error::new(io::ErrorKind::TimedOut, format!("{addr}: {cmd} timed out")))?
}

#[cfg(test)]
mod tests {
    use super::*;
    use rzk_proto::{decode_request, MultiOp, Request};

    fn encode(f: impl FnOnce(&mut Writer)) -> Vec<u8> {
        let mut w = Writer::new();
        f(&mut w);
        w.buf
    }

    #[test]
    fn bodies_decode_as_the_server_reads_them() {
        match decode_request(op::CREATE, &encode(create_body("/a/b", b"xyz", 3))).unwrap() {
            Request::Create(c) => {
                assert_eq!(
                    (c.path.as_str(), c.data.as_deref(), c.flags),
                    ("/a/b", Some(&b"xyz"[..]), 3)
                );
                assert_eq!(c.acl, open_acl());
            }
            other => panic!("{other:?}"),
        }
        match decode_request(op::SET_DATA, &encode(set_body("/k", b"v"))).unwrap() {
            Request::SetData(s) => assert_eq!(
                (s.path.as_str(), s.data.as_deref(), s.version),
                ("/k", Some(&b"v"[..]), -1)
            ),
            other => panic!("{other:?}"),
        }
        match decode_request(op::GET_DATA, &encode(path_watch_body("/k", true))).unwrap() {
            Request::GetData(g) => assert!(g.watch && g.path == "/k"),
            other => panic!("{other:?}"),
        }
        match decode_request(op::DELETE, &encode(delete_body("/k"))).unwrap() {
            Request::Delete(d) => assert_eq!((d.path.as_str(), d.version), ("/k", -1)),
            other => panic!("{other:?}"),
        }
        let paths: Vec<String> = (0..3).map(|i| format!("/m/{i}")).collect();
        match decode_request(op::MULTI, &encode(multi_create_body(&paths, b"d"))).unwrap() {
            Request::Multi(ops) => {
                assert_eq!(ops.len(), 3);
                assert!(matches!(&ops[2], MultiOp::Create(c) if c.path == "/m/2"));
            }
            other => panic!("{other:?}"),
        }
    }
}
