//! A minimal HTTP/1.1 server for the metrics and admin endpoints.
//!
//! Only what a Prometheus scraper, curl, a Kubernetes probe or a browser needs: `GET` and `HEAD`,
//! one request per connection (`Connection: close`), bodies of requests are ignored. It is
//! defensive against bad input: request heads are limited in size and time, malformed requests get a
//! 400, and the number of connections served at once is capped. Nothing here panics on input.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::time::Duration;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::net::TcpListener;
use tokio::sync::Semaphore;

/// Largest request head (request line + headers) accepted.
const MAX_HEAD: usize = 16 * 1024;
/// Time a client has to send its request head.
const READ_TIMEOUT: Duration = Duration::from_secs(10);
/// Time allowed to write a response.
const WRITE_TIMEOUT: Duration = Duration::from_secs(30);
/// Connections served at once; more wait in the accept queue.
const MAX_CONNECTIONS: usize = 64;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Request {
    pub method: String,
    /// The path, percent-decoded, without the query string.
    pub path: String,
    /// The raw query string (after `?`), if any.
    pub query: Option<String>,
    /// The `Authorization` header, if any.
    pub authorization: Option<String>,
    /// The client's address.
    pub peer: Option<std::net::SocketAddr>,
    /// Over HTTPS with a verified client certificate: its subject DN (RFC 2253).
    pub client_dn: Option<String>,
}

#[derive(Debug, Clone)]
pub struct Response {
    pub status: u16,
    pub content_type: &'static str,
    pub body: Vec<u8>,
}

impl Response {
    pub fn new(status: u16, content_type: &'static str, body: impl Into<Vec<u8>>) -> Response {
        Response {
            status,
            content_type,
            body: body.into(),
        }
    }
    pub fn json(body: String) -> Response {
        Response::new(200, "application/json", body)
    }
    pub fn text(status: u16, body: impl Into<Vec<u8>>) -> Response {
        Response::new(status, "text/plain; charset=utf-8", body)
    }
    pub fn not_found() -> Response {
        Response::text(404, "Not Found\n")
    }
}

fn reason(status: u16) -> &'static str {
    match status {
        200 => "OK",
        400 => "Bad Request",
        401 => "Unauthorized",
        403 => "Forbidden",
        404 => "Not Found",
        405 => "Method Not Allowed",
        408 => "Request Timeout",
        414 => "URI Too Long",
        431 => "Request Header Fields Too Large",
        500 => "Internal Server Error",
        503 => "Service Unavailable",
        _ => "Unknown",
    }
}

pub type Handler =
    Arc<dyn Fn(Request) -> Pin<Box<dyn Future<Output = Response> + Send>> + Send + Sync>;

/// Decodes `%XX` escapes; `None` for a bad escape or a result that is not UTF-8.
pub fn percent_decode(s: &str) -> Option<String> {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'%' {
            let hex = b.get(i + 1..i + 3)?;
            let h = std::str::from_utf8(hex).ok()?;
            out.push(u8::from_str_radix(h, 16).ok()?);
            i += 3;
        } else {
            out.push(b[i]);
            i += 1;
        }
    }
    String::from_utf8(out).ok()
}

/// Parses a request head (everything before the blank line).
pub fn parse_head(head: &[u8]) -> Result<Request, u16> {
    let text = std::str::from_utf8(head).map_err(|_| 400u16)?;
    let line = text.split("\r\n").next().unwrap_or("");
    let line = line.strip_suffix('\r').unwrap_or(line);
    let mut parts = line.split(' ');
    let (Some(method), Some(target), Some(version), None) =
        (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return Err(400);
    };
    if method.is_empty()
        || !method.bytes().all(|c| c.is_ascii_uppercase())
        || !version.starts_with("HTTP/1.")
    {
        return Err(400);
    }
    // Absolute-form targets (`http://host/path`) are allowed by HTTP/1.1.
    let target = match target.find("://") {
        Some(i) => {
            let rest = &target[i + 3..];
            &rest[rest.find('/').unwrap_or(rest.len())..]
        }
        None => target,
    };
    let target = if target.is_empty() { "/" } else { target };
    if !target.starts_with('/') {
        return Err(400);
    }
    let (raw_path, query) = match target.split_once('?') {
        Some((p, q)) => (p, Some(q.to_string())),
        None => (target, None),
    };
    let path = percent_decode(raw_path).ok_or(400u16)?;
    let authorization = text.split('\n').skip(1).find_map(|h| {
        let (name, value) = h.split_once(':')?;
        name.trim()
            .eq_ignore_ascii_case("authorization")
            .then(|| value.trim().to_string())
    });
    Ok(Request {
        method: method.to_string(),
        path,
        query,
        authorization,
        peer: None,
        client_dn: None,
    })
}

async fn read_head<S: AsyncRead + Unpin>(sock: &mut S) -> Result<Vec<u8>, u16> {
    let mut buf = Vec::with_capacity(1024);
    let mut chunk = [0u8; 2048];
    loop {
        if let Some(end) = find_head_end(&buf) {
            buf.truncate(end);
            return Ok(buf);
        }
        if buf.len() > MAX_HEAD {
            return Err(431);
        }
        let n = match tokio::time::timeout(READ_TIMEOUT, sock.read(&mut chunk)).await {
            Err(_) => return Err(408),
            Ok(Err(_)) | Ok(Ok(0)) => return Err(0),
            Ok(Ok(n)) => n,
        };
        buf.extend_from_slice(&chunk[..n]);
    }
}

fn find_head_end(buf: &[u8]) -> Option<usize> {
    if let Some(i) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
        return Some(i);
    }
    // Be lenient with clients that send bare LFs.
    buf.windows(2).position(|w| w == b"\n\n")
}

fn encode(resp: &Response, head_only: bool) -> Vec<u8> {
    let mut out = format!(
        "HTTP/1.1 {} {}\r\nContent-Type: {}\r\nContent-Length: {}\r\nCache-Control: no-cache\r\nConnection: close\r\nServer: rzk\r\n\r\n",
        resp.status,
        reason(resp.status),
        resp.content_type,
        resp.body.len()
    )
    .into_bytes();
    if !head_only {
        out.extend_from_slice(&resp.body);
    }
    out
}

async fn serve_conn<S: AsyncRead + AsyncWrite + Unpin>(
    mut sock: S,
    handler: Handler,
    peer: Option<std::net::SocketAddr>,
    client_dn: Option<String>,
) {
    let resp = match read_head(&mut sock).await {
        Err(0) => return,
        Err(code) => (Response::text(code, format!("{}\n", reason(code))), false),
        Ok(head) => match parse_head(&head) {
            Err(code) => (Response::text(code, format!("{}\n", reason(code))), false),
            Ok(mut req) if req.method == "GET" || req.method == "HEAD" => {
                req.peer = peer;
                req.client_dn = client_dn;
                let head_only = req.method == "HEAD";
                // A panicking handler must not take the listener down: run it as its own task.
                let fut = handler(req);
                match tokio::spawn(fut).await {
                    Ok(r) => (r, head_only),
                    Err(_) => (Response::text(500, "Internal Server Error\n"), head_only),
                }
            }
            Ok(_) => (Response::text(405, "Method Not Allowed\n"), false),
        },
    };
    let bytes = encode(&resp.0, resp.1);
    let _ = tokio::time::timeout(WRITE_TIMEOUT, async {
        let _ = sock.write_all(&bytes).await;
        let _ = sock.shutdown().await;
    })
    .await;
}

/// Binds `host:port` (loopback or any address the configuration names).
pub async fn bind(host: &str, port: u16) -> std::io::Result<TcpListener> {
    let host = host.trim_start_matches('[').trim_end_matches(']');
    TcpListener::bind((host, port)).await
}

/// Serves `listener` forever with `handler`.
pub async fn serve(listener: TcpListener, handler: Handler) {
    serve_with(listener, handler, None).await
}

/// Serves `listener` forever with `handler`, over TLS when `tls` is given (HTTPS only: a
/// plaintext request gets no answer, and the failed handshake is logged at debug level).
pub async fn serve_with(
    listener: TcpListener,
    handler: Handler,
    tls: Option<Arc<crate::tls::Tls>>,
) {
    let limit = Arc::new(Semaphore::new(MAX_CONNECTIONS));
    loop {
        let permit = match limit.clone().acquire_owned().await {
            Ok(p) => p,
            Err(_) => return,
        };
        let (sock, peer) = match listener.accept().await {
            Ok(x) => x,
            Err(e) => {
                tracing::debug!(error = %e, "http accept failed");
                tokio::time::sleep(Duration::from_millis(50)).await;
                continue;
            }
        };
        let _ = sock.set_nodelay(true);
        let h = handler.clone();
        let tls = tls.clone();
        tokio::spawn(async move {
            match tls {
                None => serve_conn(sock, h, Some(peer), None).await,
                Some(t) => {
                    let hs = tokio::time::timeout(READ_TIMEOUT, t.acceptor().accept(sock)).await;
                    match hs {
                        Ok(Ok(st)) => {
                            let dn = st
                                .get_ref()
                                .1
                                .peer_certificates()
                                .and_then(|c| c.first())
                                .and_then(|c| crate::tls::subject_dn(c));
                            serve_conn(st, h, Some(peer), dn).await
                        }
                        Ok(Err(e)) => {
                            tracing::info!(%peer, error = %e, "admin HTTPS handshake failed")
                        }
                        Err(_) => tracing::info!(%peer, "admin HTTPS handshake timed out"),
                    }
                }
            }
            drop(permit);
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_request_lines() {
        let r = parse_head(b"GET /commands/ruok?x=1 HTTP/1.1\r\nHost: a").unwrap();
        assert_eq!(r.method, "GET");
        assert_eq!(r.path, "/commands/ruok");
        assert_eq!(r.query.as_deref(), Some("x=1"));
        let r = parse_head(b"GET http://h:1/metrics HTTP/1.0").unwrap();
        assert_eq!(r.path, "/metrics");
        let r = parse_head(b"GET /a%20b HTTP/1.1").unwrap();
        assert_eq!(r.path, "/a b");
        assert_eq!(r.authorization, None);
        let r = parse_head(
            b"GET /commands/dump HTTP/1.1\r\nHost: a\r\nauthorization:  digest u:p \r\n",
        )
        .unwrap();
        assert_eq!(r.authorization.as_deref(), Some("digest u:p"));
    }

    #[test]
    fn rejects_garbage_without_panicking() {
        for bad in [
            &b""[..],
            b"GET",
            b"GET /",
            b"GET / HTTP/1.1 extra",
            b"get / HTTP/1.1",
            b"GET x HTTP/1.1",
            b"GET / SPDY/3",
            b"GET /%zz HTTP/1.1",
            b"GET /%f HTTP/1.1",
            b"GET /%ff HTTP/1.1",
            b"\xff\xfe / HTTP/1.1",
        ] {
            assert!(
                parse_head(bad).is_err(),
                "{:?}",
                String::from_utf8_lossy(bad)
            );
        }
        // Random bytes never panic.
        let mut x: u64 = 0x9e3779b97f4a7c15;
        for _ in 0..20_000 {
            let len = (x % 64) as usize;
            let mut v = Vec::with_capacity(len);
            for _ in 0..len {
                x ^= x << 13;
                x ^= x >> 7;
                x ^= x << 17;
                v.push(b"GET /%?HTP1. \r\nab"[(x % 17) as usize]);
            }
            let _ = parse_head(&v);
        }
    }
}
