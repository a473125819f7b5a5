//! A minimal ZooKeeper client for the operator's own needs, on the `rzk-proto` codec:
//! open a session, authenticate as the super user, read `/zookeeper/config`, and run the
//! `reconfig` operation (incremental). Plus a tiny HTTP GET for the servers' AdminServer
//! (`/commands/monitor`, `/commands/elect`).
//!
//! One request at a time per session; pings are sent while a long request (a reconfig that waits
//! for a new member to catch up) is outstanding, so the session does not expire under it.

use std::time::Duration;

use rzk_proto::consts::{op, xid as special_xid};
use rzk_proto::records::{
    AuthPacket, GetDataResponse, PathWatchRequest, ReconfigRequest, ReplyHeader, RequestHeader,
};
use rzk_proto::{ConnectRequest, ConnectResponse, Jute, Reader, Writer};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::tcp::{OwnedReadHalf, OwnedWriteHalf};
use tokio::net::TcpStream;

/// Largest reply accepted (ZooKeeper's default jute.maxbuffer).
const MAX_FRAME: usize = 0xfffff;

/// ZooKeeper error codes the operator reacts to.
pub mod code {
    pub const BAD_ARGUMENTS: i32 = -8;
    pub const NEW_CONFIG_NO_QUORUM: i32 = -13;
    pub const RECONFIG_IN_PROGRESS: i32 = -14;
    pub const NO_AUTH: i32 = -102;
    pub const BAD_VERSION: i32 = -103;
    pub const RECONFIG_DISABLED: i32 = -123;
    pub const AUTH_FAILED: i32 = -115;
}

#[derive(Debug, thiserror::Error)]
pub enum ZkError {
    #[error("{addr}: {source}")]
    Io {
        addr: String,
        source: std::io::Error,
    },
    #[error("{addr}: timed out after {secs:.0} s ({what})")]
    Timeout {
        addr: String,
        what: &'static str,
        secs: f64,
    },
    #[error("{addr}: session refused")]
    SessionRefused { addr: String },
    #[error("{addr}: {what}: server error {code} ({})", code_name(*code))]
    Server {
        addr: String,
        what: &'static str,
        code: i32,
    },
    #[error("{addr}: protocol error: {msg}")]
    Protocol { addr: String, msg: String },
}

impl ZkError {
    /// The ZooKeeper error code of a refused request.
    pub fn server_code(&self) -> Option<i32> {
        match self {
            ZkError::Server { code, .. } => Some(*code),
            _ => None,
        }
    }
}

/// Name of a ZooKeeper error code (for messages).
pub fn code_name(code: i32) -> &'static str {
    match code {
        code::BAD_ARGUMENTS => "BadArguments",
        code::NEW_CONFIG_NO_QUORUM => "NewConfigNoQuorum",
        code::RECONFIG_IN_PROGRESS => "ReconfigInProgress",
        code::NO_AUTH => "NoAuth",
        code::BAD_VERSION => "BadVersion",
        code::RECONFIG_DISABLED => "ReconfigDisabled",
        code::AUTH_FAILED => "AuthFailed",
        -4 => "ConnectionLoss",
        -7 => "OperationTimeout",
        -101 => "NoNode",
        -1 => "SystemError",
        _ => "error",
    }
}

fn encode<J: Jute>(j: &J) -> Vec<u8> {
    let mut w = Writer::new();
    j.encode(&mut w);
    w.buf
}

/// An open client session.
pub struct Session {
    addr: String,
    reader: OwnedReadHalf,
    writer: OwnedWriteHalf,
    buf: Vec<u8>,
    next_xid: i32,
    session_timeout: Duration,
    io_timeout: Duration,
}

impl Session {
    /// Connect and create a session (`session_timeout` is asked for; the server may lower it).
    pub async fn connect(
        addr: &str,
        session_timeout: Duration,
        io_timeout: Duration,
    ) -> Result<Session, ZkError> {
        let io = |source| ZkError::Io {
            addr: addr.to_string(),
            source,
        };
        let stream = tokio::time::timeout(io_timeout, TcpStream::connect(addr))
            .await
            .map_err(|_| ZkError::Timeout {
                addr: addr.into(),
                what: "connect",
                secs: io_timeout.as_secs_f64(),
            })?
            .map_err(io)?;
        let _ = stream.set_nodelay(true);
        let (reader, writer) = stream.into_split();
        let mut s = Session {
            addr: addr.to_string(),
            reader,
            writer,
            buf: Vec::new(),
            next_xid: 1,
            session_timeout,
            io_timeout,
        };
        let mut w = Writer::framed();
        ConnectRequest {
            protocol_version: 0,
            last_zxid_seen: 0,
            timeout_ms: session_timeout.as_millis().min(i32::MAX as u128) as i32,
            session_id: 0,
            passwd: vec![0; 16],
            read_only: Some(false),
        }
        .encode(&mut w);
        s.send(w.finish_frame()).await?;
        let body = s.read_frame(io_timeout, "session handshake").await?;
        let resp = ConnectResponse::decode(&body).map_err(|e| s.protocol(e.to_string()))?;
        if resp.session_id == 0 || resp.timeout_ms <= 0 {
            return Err(ZkError::SessionRefused { addr: addr.into() });
        }
        s.session_timeout = Duration::from_millis(resp.timeout_ms as u64);
        Ok(s)
    }

    fn protocol(&self, msg: impl Into<String>) -> ZkError {
        ZkError::Protocol {
            addr: self.addr.clone(),
            msg: msg.into(),
        }
    }

    async fn send(&mut self, frame: Vec<u8>) -> Result<(), ZkError> {
        let addr = self.addr.clone();
        tokio::time::timeout(self.io_timeout, self.writer.write_all(&frame))
            .await
            .map_err(|_| ZkError::Timeout {
                addr: addr.clone(),
                what: "write",
                secs: self.io_timeout.as_secs_f64(),
            })?
            .map_err(|source| ZkError::Io { addr, source })
    }

    /// One complete frame from the buffer, if there is one.
    fn take_frame(&mut self) -> Result<Option<Vec<u8>>, ZkError> {
        if self.buf.len() < 4 {
            return Ok(None);
        }
        let len = i32::from_be_bytes([self.buf[0], self.buf[1], self.buf[2], self.buf[3]]);
        if len < 0 || len as usize > MAX_FRAME {
            return Err(self.protocol(format!("bad frame length {len}")));
        }
        let total = 4 + len as usize;
        if self.buf.len() < total {
            return Ok(None);
        }
        let body = self.buf[4..total].to_vec();
        self.buf.drain(..total);
        Ok(Some(body))
    }

    /// Read more bytes into the buffer (cancel-safe: a cancelled read loses nothing).
    async fn fill(&mut self) -> Result<(), ZkError> {
        let mut tmp = [0u8; 8192];
        let n = self
            .reader
            .read(&mut tmp)
            .await
            .map_err(|source| ZkError::Io {
                addr: self.addr.clone(),
                source,
            })?;
        if n == 0 {
            return Err(ZkError::Io {
                addr: self.addr.clone(),
                source: std::io::Error::new(
                    std::io::ErrorKind::UnexpectedEof,
                    "connection closed by the server",
                ),
            });
        }
        self.buf.extend_from_slice(&tmp[..n]);
        Ok(())
    }

    async fn read_frame(
        &mut self,
        timeout: Duration,
        what: &'static str,
    ) -> Result<Vec<u8>, ZkError> {
        let deadline = tokio::time::Instant::now() + timeout;
        loop {
            if let Some(f) = self.take_frame()? {
                return Ok(f);
            }
            tokio::time::timeout_at(deadline, self.fill())
                .await
                .map_err(|_| ZkError::Timeout {
                    addr: self.addr.clone(),
                    what,
                    secs: timeout.as_secs_f64(),
                })??;
        }
    }

    /// Send a request and wait for its reply (skipping pings' replies and notifications),
    /// pinging every third of the session timeout meanwhile. Returns the reply body after the
    /// header; a non-zero error code becomes [`ZkError::Server`].
    async fn call(
        &mut self,
        xid: i32,
        opcode: i32,
        what: &'static str,
        body: Vec<u8>,
        timeout: Duration,
    ) -> Result<Vec<u8>, ZkError> {
        let frame = {
            let mut w = Writer::framed();
            RequestHeader { xid, op: opcode }.encode(&mut w);
            w.buf.extend_from_slice(&body);
            w.finish_frame()
        };
        self.send(frame).await?;
        let deadline = tokio::time::Instant::now() + timeout;
        let ping_every = (self.session_timeout / 3).max(Duration::from_millis(500));
        let mut next_ping = tokio::time::Instant::now() + ping_every;
        loop {
            while let Some(frame) = self.take_frame()? {
                let mut r = Reader::new(&frame);
                let h = ReplyHeader::decode(&mut r).map_err(|e| self.protocol(e.to_string()))?;
                if h.xid != xid {
                    continue; // a ping reply or a watch notification
                }
                if h.err != 0 {
                    return Err(ZkError::Server {
                        addr: self.addr.clone(),
                        what,
                        code: h.err,
                    });
                }
                let pos = r.position();
                return Ok(frame[pos..].to_vec());
            }
            tokio::select! {
                r = self.fill() => r?,
                _ = tokio::time::sleep_until(next_ping) => {
                    let mut w = Writer::framed();
                    RequestHeader { xid: special_xid::PING, op: op::PING }.encode(&mut w);
                    self.send(w.finish_frame()).await?;
                    next_ping = tokio::time::Instant::now() + ping_every;
                }
                _ = tokio::time::sleep_until(deadline) => {
                    return Err(ZkError::Timeout { addr: self.addr.clone(), what, secs: timeout.as_secs_f64() });
                }
            }
        }
    }

    fn xid(&mut self) -> i32 {
        let x = self.next_xid;
        self.next_xid += 1;
        x
    }

    /// Add `digest` credentials (`user:password`) to the session.
    pub async fn auth_digest(&mut self, user_password: &str) -> Result<(), ZkError> {
        let pkt = AuthPacket {
            typ: 0,
            scheme: "digest".into(),
            auth: user_password.as_bytes().to_vec(),
        };
        let t = self.io_timeout;
        self.call(special_xid::AUTH, op::AUTH, "auth", encode(&pkt), t)
            .await
            .map(|_| ())
    }

    /// The data of a znode.
    pub async fn get_data(&mut self, path: &str) -> Result<Vec<u8>, ZkError> {
        let xid = self.xid();
        let req = PathWatchRequest {
            path: path.into(),
            watch: false,
        };
        let t = self.io_timeout;
        let body = self
            .call(xid, op::GET_DATA, "getData", encode(&req), t)
            .await?;
        let resp = GetDataResponse::decode(&mut Reader::new(&body))
            .map_err(|e| self.protocol(e.to_string()))?;
        Ok(resp.data.unwrap_or_default())
    }

    /// Incremental reconfig: `joining` = comma-separated `server.N=...` specs, `leaving` =
    /// comma-separated ids. Returns the new configuration text.
    pub async fn reconfig(
        &mut self,
        joining: &str,
        leaving: &str,
        cur_config_id: i64,
        timeout: Duration,
    ) -> Result<String, ZkError> {
        let xid = self.xid();
        let req = ReconfigRequest {
            joining_servers: joining.into(),
            leaving_servers: leaving.into(),
            new_members: String::new(),
            cur_config_id,
        };
        let body = self
            .call(xid, op::RECONFIG, "reconfig", encode(&req), timeout)
            .await?;
        let resp = GetDataResponse::decode(&mut Reader::new(&body))
            .map_err(|e| self.protocol(e.to_string()))?;
        Ok(String::from_utf8_lossy(&resp.data.unwrap_or_default()).into_owned())
    }

    /// Close the session (best effort).
    pub async fn close(mut self) {
        let xid = self.xid();
        let t = self.io_timeout.min(Duration::from_secs(2));
        let _ = self
            .call(xid, op::CLOSE_SESSION, "closeSession", Vec::new(), t)
            .await;
    }
}

/// The ensemble membership as `/zookeeper/config` shows it.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Membership {
    /// Voting members (participants), by id, with their `server.N` value.
    pub voters: std::collections::BTreeMap<i64, String>,
    /// Observers (non-voting members), by id.
    pub observers: std::collections::BTreeMap<i64, String>,
    /// `version=<hex>` (the configuration version), as written.
    pub version: String,
}

impl Membership {
    pub fn contains(&self, id: i64) -> bool {
        self.voters.contains_key(&id) || self.observers.contains_key(&id)
    }
    pub fn ids(&self) -> impl Iterator<Item = i64> + '_ {
        self.voters.keys().chain(self.observers.keys()).copied()
    }
    /// The version as a number (for `curConfigId`), -1 when unknown.
    pub fn version_number(&self) -> i64 {
        i64::from_str_radix(&self.version, 16).unwrap_or(-1)
    }
}

/// Parse `/zookeeper/config` text (`server.N=host:q:e:role;client` lines and `version=<hex>`).
pub fn parse_membership(text: &str) -> Membership {
    let mut m = Membership::default();
    for line in text.lines().map(str::trim) {
        if let Some(rest) = line.strip_prefix("server.") {
            let Some((id, value)) = rest.split_once('=') else {
                continue;
            };
            let Ok(id) = id.trim().parse::<i64>() else {
                continue;
            };
            let addr = value.split(';').next().unwrap_or("");
            let observer = addr.rsplit(':').next() == Some("observer");
            if observer {
                m.observers.insert(id, value.trim().to_string());
            } else {
                m.voters.insert(id, value.trim().to_string());
            }
        } else if let Some(v) = line.strip_prefix("version=") {
            m.version = v.trim().to_string();
        }
    }
    m
}

/// `GET path` over HTTP/1.1 (`Connection: close`); returns the status code and the body.
pub async fn http_get(addr: &str, path: &str, timeout: Duration) -> Result<(u16, String), ZkError> {
    let io = |source| ZkError::Io {
        addr: addr.to_string(),
        source,
    };
    let fut = async {
        let mut s = TcpStream::connect(addr).await.map_err(io)?;
        let host = addr.rsplit_once(':').map_or(addr, |(h, _)| h);
        let req = format!("GET {path} HTTP/1.1\r\nHost: {host}\r\nConnection: close\r\nAccept: application/json\r\n\r\n");
        s.write_all(req.as_bytes()).await.map_err(io)?;
        let mut out = Vec::new();
        s.read_to_end(&mut out).await.map_err(io)?;
        Ok::<_, ZkError>(out)
    };
    let raw = tokio::time::timeout(timeout, fut)
        .await
        .map_err(|_| ZkError::Timeout {
            addr: addr.into(),
            what: "http",
            secs: timeout.as_secs_f64(),
        })??;
    let text = String::from_utf8_lossy(&raw);
    let (head, body) = text
        .split_once("\r\n\r\n")
        .ok_or_else(|| ZkError::Protocol {
            addr: addr.into(),
            msg: "malformed HTTP response".into(),
        })?;
    let status = head
        .split_whitespace()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .ok_or_else(|| ZkError::Protocol {
            addr: addr.into(),
            msg: "malformed HTTP status line".into(),
        })?;
    Ok((status, body.to_string()))
}

/// Per-peer replication progress from the leader's `/commands/monitor` JSON:
/// `rzk_raft_replication_lag_entries{peer="N"}` (entries behind) and
/// `rzk_raft_replication_matched_index{peer="N"}` (-1: nothing known replicated yet).
pub fn parse_replication(
    monitor: &serde_json::Value,
) -> std::collections::BTreeMap<i64, Option<u64>> {
    let mut lag = std::collections::BTreeMap::new();
    let mut matched = std::collections::BTreeMap::new();
    if let Some(obj) = monitor.as_object() {
        for (k, v) in obj {
            let peer = |prefix: &str| {
                k.strip_prefix(prefix)
                    .and_then(|r| r.strip_prefix("{peer=\""))
                    .and_then(|r| r.strip_suffix("\"}"))
                    .and_then(|p| p.parse::<i64>().ok())
            };
            if let Some(p) = peer("rzk_raft_replication_lag_entries") {
                lag.insert(p, v.as_f64().unwrap_or(f64::MAX));
            } else if let Some(p) = peer("rzk_raft_replication_matched_index") {
                matched.insert(p, v.as_f64().unwrap_or(-1.0));
            }
        }
    }
    lag.into_iter()
        .map(|(p, l)| {
            let known = matched.get(&p).is_none_or(|m| *m >= 0.0);
            (p, (known && l.is_finite() && l >= 0.0).then_some(l as u64))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_membership() {
        let m = parse_membership(
            "server.1=a:2888:3888:participant;a:2181\nserver.4=b:2888:3888:observer;b:2181\nserver.7=c:2888:3888:participant;0.0.0.0:2181\nversion=1000000a",
        );
        assert_eq!(m.voters.keys().copied().collect::<Vec<_>>(), [1, 7]);
        assert_eq!(m.observers.keys().copied().collect::<Vec<_>>(), [4]);
        assert_eq!(m.version, "1000000a");
        assert_eq!(m.version_number(), 0x1000000a);
        assert!(m.contains(4) && m.contains(7) && !m.contains(2));
    }

    #[test]
    fn parses_replication() {
        let v = serde_json::json!({
            "rzk_raft_replication_lag_entries{peer=\"2\"}": 3.0,
            "rzk_raft_replication_matched_index{peer=\"2\"}": 97.0,
            "rzk_raft_replication_lag_entries{peer=\"3\"}": 100.0,
            "rzk_raft_replication_matched_index{peer=\"3\"}": -1.0,
            "server_state": "leader",
        });
        let r = parse_replication(&v);
        assert_eq!(r.get(&2), Some(&Some(3)));
        assert_eq!(r.get(&3), Some(&None));
    }
}
