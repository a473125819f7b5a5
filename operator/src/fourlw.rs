//! Four-letter-word client: `ruok`, `srvr`, `mntr` over the server's client port.
//!
//! The operator reads each server's health and role this way (the generated zoo.cfg whitelists
//! all four-letter words). The AdminServer's `/commands/srvr` is a later alternative.

use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

/// What `srvr` says about a server.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Srvr {
    /// `leader`, `follower`, `observer`, `standalone`, ...
    pub mode: String,
    /// `Zookeeper version:` line (up to the first `,` or `-` build suffix kept as is).
    pub version: Option<String>,
    /// `Zxid:` (e.g. `0x100000002`).
    pub zxid: Option<String>,
}

/// Errors talking to a server.
#[derive(Debug, thiserror::Error)]
pub enum FourLwError {
    #[error("connect/read {addr}: {source}")]
    Io {
        addr: String,
        source: std::io::Error,
    },
    #[error("{addr}: timed out")]
    Timeout { addr: String },
    #[error("{addr}: unexpected answer to {cmd}: {answer:?}")]
    Unexpected {
        addr: String,
        cmd: &'static str,
        answer: String,
    },
}

/// Send a four-letter word and read the whole answer (the server closes the connection).
pub async fn command(
    addr: &str,
    cmd: &'static str,
    timeout: Duration,
) -> Result<String, FourLwError> {
    let io = |source| FourLwError::Io {
        addr: addr.to_string(),
        source,
    };
    let fut = async {
        let mut s = TcpStream::connect(addr).await.map_err(io)?;
        s.write_all(cmd.as_bytes()).await.map_err(io)?;
        let mut out = Vec::new();
        s.read_to_end(&mut out).await.map_err(io)?;
        Ok(String::from_utf8_lossy(&out).into_owned())
    };
    tokio::time::timeout(timeout, fut)
        .await
        .map_err(|_| FourLwError::Timeout {
            addr: addr.to_string(),
        })?
}

/// `ruok` → `imok`.
pub async fn ruok(addr: &str, timeout: Duration) -> Result<(), FourLwError> {
    let a = command(addr, "ruok", timeout).await?;
    if a.trim() == "imok" {
        Ok(())
    } else {
        Err(FourLwError::Unexpected {
            addr: addr.into(),
            cmd: "ruok",
            answer: a,
        })
    }
}

/// `srvr`, parsed.
pub async fn srvr(addr: &str, timeout: Duration) -> Result<Srvr, FourLwError> {
    let a = command(addr, "srvr", timeout).await?;
    parse_srvr(&a).ok_or(FourLwError::Unexpected {
        addr: addr.into(),
        cmd: "srvr",
        answer: a,
    })
}

/// Parse a `srvr` answer; `None` when it has no `Mode:` line (e.g. "This ZooKeeper instance is
/// not currently serving requests").
pub fn parse_srvr(text: &str) -> Option<Srvr> {
    let mut out = Srvr::default();
    let mut mode = None;
    for line in text.lines() {
        if let Some(v) = line.strip_prefix("Zookeeper version:") {
            let v = v.trim();
            let v = v.split(',').next().unwrap_or(v).trim();
            out.version = Some(v.to_string());
        } else if let Some(v) = line.strip_prefix("Mode:") {
            mode = Some(v.trim().to_string());
        } else if let Some(v) = line.strip_prefix("Zxid:") {
            out.zxid = Some(v.trim().to_string());
        }
    }
    out.mode = mode?;
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_zookeeper_srvr() {
        let text = "Zookeeper version: 3.8.0-5a02a05eddb59aee6ac762f7ea82e92a68eb9c0f, built on 2022-02-25 08:49 UTC\n\
                    Latency min/avg/max: 0/0.0/0\nReceived: 1\nSent: 0\nConnections: 1\nOutstanding: 0\n\
                    Zxid: 0x100000000\nMode: follower\nNode count: 5\n";
        let s = parse_srvr(text).unwrap();
        assert_eq!(s.mode, "follower");
        assert_eq!(s.zxid.as_deref(), Some("0x100000000"));
        assert_eq!(
            s.version.as_deref(),
            Some("3.8.0-5a02a05eddb59aee6ac762f7ea82e92a68eb9c0f")
        );
    }

    #[test]
    fn not_serving_is_none() {
        assert_eq!(
            parse_srvr("This ZooKeeper instance is not currently serving requests\n"),
            None
        );
    }

    #[tokio::test]
    async fn talks_to_a_fake_server() {
        let l = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = l.local_addr().unwrap().to_string();
        tokio::spawn(async move {
            for _ in 0..2 {
                let (mut s, _) = l.accept().await.unwrap();
                let mut cmd = [0u8; 4];
                s.read_exact(&mut cmd).await.unwrap();
                let answer = match &cmd {
                    b"ruok" => "imok".to_string(),
                    _ => "Zookeeper version: 0.1.0\nZxid: 0x5\nMode: standalone\n".to_string(),
                };
                s.write_all(answer.as_bytes()).await.unwrap();
            }
        });
        ruok(&addr, Duration::from_secs(2)).await.unwrap();
        let s = srvr(&addr, Duration::from_secs(2)).await.unwrap();
        assert_eq!(s.mode, "standalone");
        assert_eq!(s.version.as_deref(), Some("0.1.0"));
    }
}
