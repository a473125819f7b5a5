//! The answering end: accepts peer connections on the quorum port and serves each
//! [`PeerRequest`] (Raft RPCs into openraft, forwarded requests into the [`RaftNode`]).

use super::hello::{self, HelloAck};
use super::{encode_frame, encode_raw_frame, read_frame, PeerRequest, PeerResponse};
use crate::error::{ProposeError, ReconfigError};
use crate::node::RaftNode;
use std::time::Duration;
use tokio::net::TcpListener;
use tokio::sync::mpsc;

/// Accepts peer connections and answers their requests.
pub(crate) async fn serve_peers(node: RaftNode, listener: TcpListener) {
    loop {
        match listener.accept().await {
            Ok((stream, peer)) => {
                let node = node.clone();
                tokio::spawn(async move {
                    let _ = stream.set_nodelay(true);
                    if let Err(e) = handle_peer(node, stream).await {
                        tracing::debug!(%peer, error = %e, "peer connection ended");
                    }
                });
            }
            Err(e) => {
                tracing::warn!(error = %e, "peer accept failed");
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
        }
    }
}

async fn handle_peer(node: RaftNode, stream: tokio::net::TcpStream) -> std::io::Result<()> {
    let (mut rd, wr) = stream.into_split();
    let (tx, writer) = super::spawn_frame_writer(wr);
    let raft = node.inner.raft.clone();
    let mut first = true;
    while let Some((id, body)) = read_frame(&mut rd).await? {
        if std::mem::take(&mut first) {
            if let Some(rest) = hello::strip_magic(&body).filter(|_| id == hello::HELLO_ID) {
                let offer = match hello::decode_hello(rest) {
                    Ok(h) => h,
                    Err(e) => {
                        tracing::warn!(error = %e, "undecodable peer hello; closing");
                        break;
                    }
                };
                let Some(protocol) = hello::choose(&offer) else {
                    tracing::warn!(
                        release = %offer.release,
                        offered = ?(offer.protocol_min, offer.protocol_max),
                        speaks = ?(hello::PROTOCOL_V1, hello::PROTOCOL_MAX),
                        "peer offers no protocol this build speaks; closing"
                    );
                    break;
                };
                tracing::debug!(release = %offer.release, protocol, "peer hello");
                let ack = HelloAck {
                    protocol,
                    feature_level_max: hello::FEATURE_LEVEL_MAX,
                    release: env!("CARGO_PKG_VERSION").to_string(),
                };
                let _ = tx.send(encode_raw_frame(hello::HELLO_ID, &hello::encode_ack(&ack)));
                continue;
            }
            // No hello: an rzk 0.1.0 member, protocol 1. Its first frame is a request.
        }
        let req: PeerRequest = match postcard::from_bytes(&body) {
            Ok(r) => r,
            Err(e) => {
                tracing::warn!(error = %e, "undecodable peer request; closing");
                break;
            }
        };
        let send = |tx: &mpsc::UnboundedSender<Vec<u8>>, resp: PeerResponse| {
            let _ = tx.send(encode_frame(id, &resp));
        };
        match req {
            PeerRequest::Append(r) => send(&tx, PeerResponse::Append(raft.append_entries(r).await)),
            PeerRequest::Vote(r) => send(&tx, PeerResponse::Vote(raft.vote(r).await)),
            PeerRequest::Snapshot(r) => {
                send(&tx, PeerResponse::Snapshot(raft.install_snapshot(r).await))
            }
            PeerRequest::Status => {
                let initialized = raft.is_initialized().await.unwrap_or(false);
                send(&tx, PeerResponse::Status { initialized })
            }
            PeerRequest::Elect => {
                let node = node.clone();
                let tx = tx.clone();
                tokio::spawn(async move {
                    // The wire carries the refusal as text (older members decode a String).
                    let r = node.trigger_election().await.map_err(|e| e.to_string());
                    let _ = tx.send(encode_frame(id, &PeerResponse::Elect(r)));
                });
            }
            PeerRequest::Touch(s) => {
                (node.inner.touch_sink)(&s);
                send(&tx, PeerResponse::Touched)
            }
            PeerRequest::Propose(e) => {
                // Queue now (keeps the forwarder's order), answer when applied.
                let fut = if node.is_leader() {
                    node.propose_local(e).await
                } else {
                    Box::pin(async { Err(ProposeError::NotLeader { leader: None }) })
                };
                let tx = tx.clone();
                tokio::spawn(async move {
                    let _ = tx.send(encode_frame(id, &PeerResponse::Propose(fut.await)));
                });
            }
            PeerRequest::ReadIndex => {
                let node = node.clone();
                let tx = tx.clone();
                tokio::spawn(async move {
                    let r = if node.is_leader() {
                        node.read_barrier().await
                    } else {
                        Err(ProposeError::NotLeader { leader: None })
                    };
                    let _ = tx.send(encode_frame(id, &PeerResponse::ReadIndex(r)));
                });
            }
            PeerRequest::Reconfig(c) => {
                let node = node.clone();
                let tx = tx.clone();
                tokio::spawn(async move {
                    let r = if node.is_leader() {
                        node.reconfigure(c).await
                    } else {
                        Err(ReconfigError::Propose(ProposeError::NotLeader {
                            leader: None,
                        }))
                    };
                    let _ = tx.send(encode_frame(id, &PeerResponse::Reconfig(r)));
                });
            }
        }
    }
    drop(tx);
    let _ = writer.await;
    Ok(())
}
