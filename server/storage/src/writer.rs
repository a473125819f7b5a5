//! [`LogWriter`]: a dedicated thread that owns a log's write side and group-commits.

use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::mpsc::{self, Receiver, Sender};
use std::sync::Arc;
use std::thread::JoinHandle;

use crate::error::StorageError;
use crate::log::{DiskLog, LogReader, LogStats, LogStore, Shared};

/// Completion callback of an asynchronous log operation. Runs on the writer thread, so it
/// must be quick (e.g. send on a channel / complete a `tokio::sync::oneshot`).
pub type Done = Box<dyn FnOnce(Result<(), StorageError>) + Send + 'static>;

/// Upper bound of requests handled in one group commit, so acks are not starved under
/// sustained load.
const MAX_BATCH: usize = 4096;

enum Op {
    Append {
        entries: Vec<(u64, Arc<[u8]>)>,
        done: Done,
    },
    Flush {
        done: Done,
    },
    Truncate {
        from: u64,
        done: Done,
    },
    Purge {
        upto: u64,
        done: Done,
    },
}

/// A queued operation, with the in-memory truncation count when it was queued (the writer
/// evicts cached entries only while no newer truncation is pending: see `MemLog::evict`).
struct Request {
    op: Op,
    truncations: u64,
}

/// Group-commit front end for a [`LogStore`].
///
/// A dedicated `std::thread` owns the log's files. Each wake-up it drains every queued
/// request, writes all appends, issues **one** fsync, and then invokes the `done`
/// callbacks in submission order. Truncations and purges travel through the same queue,
/// so their order relative to appends is preserved; pending appends are made durable
/// (and acknowledged) before a truncate/purge is executed.
///
/// In-memory state is updated at submission time, under the same lock that orders the
/// queue: after `append_async` returns, the entries are visible through
/// [`reader`](LogWriter::reader) (as openraft requires), and the callback reports when
/// they are durable. After any I/O error the store is poisoned: every later request fails
/// with [`StorageError::Failed`] and the log must be reopened.
///
/// Bridging to async code: pass a callback that completes a `tokio::sync::oneshot::Sender`
/// (or openraft's `LogFlushed`) and await the receiver.
///
/// Dropping the writer processes every queued request and joins the thread.
pub struct LogWriter {
    tx: Option<Sender<Request>>,
    shared: Arc<Shared>,
    thread: Option<JoinHandle<DiskLog>>,
}

impl std::fmt::Debug for LogWriter {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LogWriter")
            .field("stats", &self.stats())
            .finish()
    }
}

fn call(done: Done, result: Result<(), StorageError>) {
    if catch_unwind(AssertUnwindSafe(move || done(result))).is_err() {
        tracing::error!("log writer completion callback panicked");
    }
}

fn commit(disk: &mut DiskLog, pending: &mut Vec<Done>, truncations: u64) {
    if pending.is_empty() {
        return;
    }
    let r = disk.sync();
    if r.is_ok() {
        disk.shared.evict(disk.written_upto(), truncations);
    }
    for done in pending.drain(..) {
        call(done, r.clone());
    }
}

fn run(mut disk: DiskLog, rx: Receiver<Request>) -> DiskLog {
    let mut pending: Vec<Done> = Vec::new();
    let mut batch: Vec<Request> = Vec::new();
    let mut seen = 0;
    while let Ok(first) = rx.recv() {
        batch.push(first);
        while batch.len() < MAX_BATCH {
            match rx.try_recv() {
                Ok(r) => batch.push(r),
                Err(_) => break,
            }
        }
        for req in batch.drain(..) {
            // The files match the in-memory log as of `seen` only once this request is done.
            let t = req.truncations;
            match req.op {
                Op::Append { entries, done } => {
                    let mut result = Ok(());
                    for (index, payload) in &entries {
                        if let Err(e) = disk.write_entry(*index, payload) {
                            result = Err(e);
                            break;
                        }
                    }
                    match result {
                        Ok(()) => {
                            disk.count_append(entries.len());
                            pending.push(done);
                        }
                        Err(e) => {
                            // The store is poisoned now; everything not yet durable fails.
                            let failed = StorageError::Failed(e.to_string());
                            for d in pending.drain(..) {
                                call(d, Err(failed.clone()));
                            }
                            call(done, Err(e));
                        }
                    }
                }
                Op::Flush { done } => pending.push(done),
                Op::Truncate { from, done } => {
                    commit(&mut disk, &mut pending, seen);
                    call(done, disk.truncate_from(from));
                }
                Op::Purge { upto, done } => {
                    commit(&mut disk, &mut pending, seen);
                    call(done, disk.purge_upto(upto));
                }
            }
            seen = t;
        }
        commit(&mut disk, &mut pending, seen);
    }
    disk
}

impl LogWriter {
    /// Moves `store` onto a new writer thread named `rzk-log-writer`.
    pub fn new(store: LogStore) -> Result<LogWriter, StorageError> {
        let LogStore { disk, shared } = store;
        let dir = disk_dir(&disk);
        let (tx, rx) = mpsc::channel();
        let thread = std::thread::Builder::new()
            .name("rzk-log-writer".into())
            .spawn(move || run(disk, rx))
            .map_err(|e| StorageError::io(dir, e))?;
        Ok(LogWriter {
            tx: Some(tx),
            shared,
            thread: Some(thread),
        })
    }

    /// A thread-safe read handle onto the log's entries.
    pub fn reader(&self) -> LogReader {
        LogReader::new(self.shared.clone())
    }

    /// Current counters (appends processed, entries written, fsyncs).
    pub fn stats(&self) -> LogStats {
        self.shared.stats()
    }

    fn send(&self, req: Request) {
        let Some(tx) = &self.tx else {
            fail_request(req, StorageError::WriterStopped);
            return;
        };
        if let Err(mpsc::SendError(req)) = tx.send(req) {
            self.shared.poison(&StorageError::WriterStopped);
            fail_request(req, StorageError::WriterStopped);
        }
    }

    /// Queues `entries` for writing; `done` runs after they are fsynced (or on error).
    ///
    /// Validation (contiguity, size) happens immediately: on failure `done` is called with
    /// the error on the calling thread and nothing is queued. On success the entries are
    /// visible to readers when this returns. An empty `entries` acts as a flush barrier.
    pub fn append_async(&self, entries: Vec<(u64, Vec<u8>)>, done: Done) {
        let mut mem = self.shared.mem_write();
        let check = self
            .shared
            .check_ok()
            .and_then(|()| mem.check_append(entries.iter().map(|(i, d)| (*i, d.len()))));
        if let Err(e) = check {
            drop(mem);
            done(Err(e));
            return;
        }
        let entries: Vec<(u64, Arc<[u8]>)> = entries
            .into_iter()
            .map(|(i, d)| (i, Arc::from(d)))
            .collect();
        for (i, d) in &entries {
            mem.push(*i, d.clone());
        }
        // Sending while holding the lock keeps queue order == in-memory order.
        let truncations = mem.truncations;
        self.send(Request {
            op: Op::Append { entries, done },
            truncations,
        });
    }

    /// `done` runs once everything queued before this call is durable.
    pub fn flush_async(&self, done: Done) {
        let _mem = self.shared.mem_write();
        let truncations = _mem.truncations;
        self.send(Request {
            op: Op::Flush { done },
            truncations,
        });
    }

    /// Queues a truncation of all entries with index >= `from` (removed from memory at once);
    /// `done` runs when the truncation is durable.
    pub fn truncate_async(&self, from: u64, done: Done) {
        let mut mem = self.shared.mem_write();
        if let Err(e) = self.shared.check_ok() {
            drop(mem);
            done(Err(e));
            return;
        }
        mem.truncate_from(from);
        let truncations = mem.truncations;
        self.send(Request {
            op: Op::Truncate { from, done },
            truncations,
        });
    }

    /// Queues a purge of all entries with index <= `upto` (removed from memory at once);
    /// `done` runs when the purge is durable.
    pub fn purge_async(&self, upto: u64, done: Done) {
        let mut mem = self.shared.mem_write();
        if let Err(e) = self.shared.check_ok() {
            drop(mem);
            done(Err(e));
            return;
        }
        mem.purge_upto(upto);
        let truncations = mem.truncations;
        self.send(Request {
            op: Op::Purge { upto, done },
            truncations,
        });
    }

    /// Processes everything queued, stops the thread and hands the [`LogStore`] back.
    pub fn shutdown(mut self) -> Result<LogStore, StorageError> {
        self.tx = None;
        let handle = self.thread.take().ok_or(StorageError::WriterStopped)?;
        let disk = handle.join().map_err(|_| StorageError::WriterStopped)?;
        Ok(LogStore {
            disk,
            shared: self.shared.clone(),
        })
    }
}

fn disk_dir(disk: &DiskLog) -> std::path::PathBuf {
    disk.dir().to_path_buf()
}

fn fail_request(req: Request, err: StorageError) {
    let done = match req.op {
        Op::Append { done, .. }
        | Op::Flush { done }
        | Op::Truncate { done, .. }
        | Op::Purge { done, .. } => done,
    };
    call(done, Err(err));
}

impl Drop for LogWriter {
    fn drop(&mut self) {
        self.tx = None;
        if let Some(h) = self.thread.take() {
            if h.join().is_err() {
                tracing::error!("log writer thread panicked");
            }
        }
    }
}
