//! openraft's RaftLogStorage on top of rzk-storage's segmented log and meta store.

use crate::types::*;
use openraft::storage::{LogFlushed, RaftLogStorage};
use openraft::{ErrorSubject, ErrorVerb, LogState, OptionalSend, RaftLogReader};
use rzk_storage::{LogReader, LogWriter, MetaStore};
use std::fmt::Debug;
use std::ops::RangeBounds;
use std::sync::Arc;

const VOTE: &str = "vote";
pub(crate) const PURGED: &str = "purged";

fn sto_err(
    subject: ErrorSubject<u64>,
    verb: ErrorVerb,
    e: impl std::error::Error + 'static,
) -> StorageError {
    openraft::StorageIOError::new(subject, verb, openraft::AnyError::new(&e)).into()
}

fn decode_entry(index: u64, bytes: &[u8]) -> Result<RaftEntry, StorageError> {
    crate::format::decode_entry(bytes).map_err(|e| {
        sto_err(
            ErrorSubject::Log(openraft::LogId::new(
                openraft::CommittedLeaderId::new(0, 0),
                index,
            )),
            ErrorVerb::Read,
            e,
        )
    })
}

/// Durable Raft log: entries in rzk-storage segments (group-committed), vote and purge point in the meta store.
pub struct LogStore {
    writer: Arc<LogWriter>,
    meta: Arc<MetaStore>,
    counters: Arc<crate::snapshot_policy::Counters>,
}

impl LogStore {
    pub fn new(
        writer: LogWriter,
        meta: MetaStore,
        counters: Arc<crate::snapshot_policy::Counters>,
    ) -> Self {
        LogStore {
            writer: Arc::new(writer),
            meta: Arc::new(meta),
            counters,
        }
    }

    fn load<T: serde::de::DeserializeOwned>(&self, name: &str) -> Result<Option<T>, StorageError> {
        match self
            .meta
            .load(name)
            .map_err(|e| sto_err(ErrorSubject::Store, ErrorVerb::Read, e))?
        {
            None => Ok(None),
            Some(b) => crate::format::decode_meta(&b)
                .map(Some)
                .map_err(|e| sto_err(ErrorSubject::Store, ErrorVerb::Read, e)),
        }
    }

    fn store<T: serde::Serialize>(&self, name: &str, v: &T) -> Result<(), StorageError> {
        let b = crate::format::encode_meta(v)
            .map_err(|e| sto_err(ErrorSubject::Store, ErrorVerb::Write, e))?;
        self.meta
            .save(name, &b)
            .map_err(|e| sto_err(ErrorSubject::Store, ErrorVerb::Write, e))
    }

    async fn wait(
        &self,
        f: impl FnOnce(rzk_storage::Done),
    ) -> Result<(), rzk_storage::StorageError> {
        let (tx, rx) = tokio::sync::oneshot::channel();
        f(Box::new(move |r| {
            let _ = tx.send(r);
        }));
        rx.await.unwrap_or_else(|_| {
            Err(rzk_storage::StorageError::Failed(
                "log writer stopped".into(),
            ))
        })
    }
}

/// Reads entries from the shared in-memory index of the log.
#[derive(Clone)]
pub struct Reader {
    log: LogReader,
}

impl RaftLogReader<TypeConfig> for Reader {
    async fn try_get_log_entries<RB: RangeBounds<u64> + Clone + Debug + OptionalSend>(
        &mut self,
        range: RB,
    ) -> Result<Vec<RaftEntry>, StorageError> {
        // Entries older than the cache come from the segment files (positioned reads, mostly
        // from the page cache: lagging followers, recovery).
        self.log
            .try_range(range)
            .map_err(|e| sto_err(ErrorSubject::Logs, ErrorVerb::Read, e))?
            .into_iter()
            .map(|(i, b)| decode_entry(i, &b))
            .collect()
    }
}

impl RaftLogReader<TypeConfig> for LogStore {
    async fn try_get_log_entries<RB: RangeBounds<u64> + Clone + Debug + OptionalSend>(
        &mut self,
        range: RB,
    ) -> Result<Vec<RaftEntry>, StorageError> {
        Reader {
            log: self.writer.reader(),
        }
        .try_get_log_entries(range)
        .await
    }
}

impl RaftLogStorage<TypeConfig> for LogStore {
    type LogReader = Reader;

    async fn get_log_state(&mut self) -> Result<LogState<TypeConfig>, StorageError> {
        let purged: Option<LogId> = self.load(PURGED)?;
        let reader = self.writer.reader();
        let last = match reader.last_index() {
            Some(i) => match reader
                .try_get(i)
                .map_err(|e| sto_err(ErrorSubject::Logs, ErrorVerb::Read, e))?
            {
                Some(b) => Some(decode_entry(i, &b)?.log_id),
                None => purged,
            },
            None => purged,
        };
        Ok(LogState {
            last_purged_log_id: purged,
            last_log_id: last,
        })
    }

    async fn get_log_reader(&mut self) -> Self::LogReader {
        Reader {
            log: self.writer.reader(),
        }
    }

    async fn save_vote(&mut self, vote: &Vote) -> Result<(), StorageError> {
        self.store(VOTE, vote)
    }

    async fn read_vote(&mut self) -> Result<Option<Vote>, StorageError> {
        self.load(VOTE)
    }

    // The committed index is not persisted: writing it on every commit cost two fsyncs per write.
    // After a restart the member re-learns it from the leader (or, alone, by committing a new entry)
    // and then applies the durable log.

    async fn append<I>(
        &mut self,
        entries: I,
        callback: LogFlushed<TypeConfig>,
    ) -> Result<(), StorageError>
    where
        I: IntoIterator<Item = RaftEntry> + OptionalSend,
        I::IntoIter: OptionalSend,
    {
        let mut batch = Vec::new();
        for e in entries {
            let b = crate::format::encode_entry(&e)
                .map_err(|err| sto_err(ErrorSubject::Log(e.log_id), ErrorVerb::Write, err))?;
            self.counters
                .log_bytes
                .fetch_add(b.len() as u64, std::sync::atomic::Ordering::Relaxed);
            batch.push((e.log_id.index, b));
        }
        self.writer.append_async(
            batch,
            Box::new(move |r| {
                callback.log_io_completed(r.map_err(|e| std::io::Error::other(e.to_string())))
            }),
        );
        Ok(())
    }

    async fn truncate(&mut self, log_id: LogId) -> Result<(), StorageError> {
        let w = self.writer.clone();
        self.wait(move |d| w.truncate_async(log_id.index, d))
            .await
            .map_err(|e| sto_err(ErrorSubject::Log(log_id), ErrorVerb::Delete, e))
    }

    async fn purge(&mut self, log_id: LogId) -> Result<(), StorageError> {
        self.store(PURGED, &log_id)?;
        let w = self.writer.clone();
        self.wait(move |d| w.purge_async(log_id.index, d))
            .await
            .map_err(|e| sto_err(ErrorSubject::Log(log_id), ErrorVerb::Delete, e))
    }
}
