//! Group commit on the leader: while up to `IN_FLIGHT` batches are being replicated and fsynced,
//! new writes queue up; each time a slot frees, everything queued (up to `MAX_BATCH`) becomes ONE
//! Raft entry. openraft 0.9 flushes one append at a time, so this is what lets many concurrent
//! writes share an fsync.

use crate::error::ProposeError;
use crate::node::{Pending, RaftNode};
use crate::types::*;
use openraft::error::ClientWriteError;
use rzk_tree::{CmdResult, Entry};
use std::sync::Arc;
use tokio::sync::mpsc;

/// Batches being replicated at once; a leadership transfer holds all these slots.
pub(crate) const IN_FLIGHT: u32 = 2;

/// Where the result of one queued write goes.
pub(crate) type Reply = tokio::sync::oneshot::Sender<Result<(i64, CmdResult), ProposeError>>;

impl RaftNode {
    /// Queues `entry` for the next batch. The queue is FIFO, so calls keep their order.
    pub(crate) async fn propose_local(
        &self,
        entry: Entry,
    ) -> Pending<Result<(i64, CmdResult), ProposeError>> {
        let (tx, rx) = tokio::sync::oneshot::channel();
        if self.inner.batch_tx.send((entry, tx)).is_err() {
            return Box::pin(async { Err(ProposeError::Fatal("proposal queue closed".into())) });
        }
        Box::pin(async move {
            rx.await
                .unwrap_or_else(|_| Err(ProposeError::Fatal("proposal dropped".into())))
        })
    }
}

pub(crate) async fn batcher(
    raft: Raft,
    mut rx: mpsc::UnboundedReceiver<(Entry, Reply)>,
    slots: Arc<tokio::sync::Semaphore>,
) {
    while let Some(first) = rx.recv().await {
        let Ok(permit) = slots.clone().acquire_owned().await else {
            return;
        };
        let mut entries = vec![first.0];
        let mut replies = vec![first.1];
        while entries.len() < MAX_BATCH {
            match rx.try_recv() {
                Ok((e, r)) => {
                    entries.push(e);
                    replies.push(r);
                }
                Err(_) => break,
            }
        }
        let sent = raft.client_write_ff(entries).await;
        tokio::spawn(async move {
            let result = match sent {
                Err(e) => Err(ProposeError::Fatal(e.to_string())),
                Ok(rx) => match rx.await {
                    Ok(Ok(resp)) => Ok((resp.log_id.index, resp.data)),
                    Ok(Err(ClientWriteError::ForwardToLeader(f))) => Err(ProposeError::NotLeader {
                        leader: f.leader_id,
                    }),
                    Ok(Err(e)) => Err(ProposeError::Fatal(e.to_string())),
                    Err(e) => Err(ProposeError::Fatal(e.to_string())),
                },
            };
            drop(permit);
            match result {
                Ok((index, results)) => {
                    let mut results = results.into_iter();
                    for (pos, reply) in replies.into_iter().enumerate() {
                        let r = results
                            .next()
                            .ok_or_else(|| ProposeError::Fatal("missing result in batch".into()));
                        let _ = reply.send(r.map(|r| (zxid_of(index, pos), r)));
                    }
                }
                Err(e) => {
                    for reply in replies {
                        let _ = reply.send(Err(e.clone()));
                    }
                }
            }
        });
    }
}
