//! Helpers shared by the integration tests.
#![allow(dead_code)]

use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};

/// A scratch directory removed on drop (no external crate needed).
pub struct TempDir(PathBuf);

static COUNTER: AtomicU64 = AtomicU64::new(0);

impl TempDir {
    pub fn new(tag: &str) -> TempDir {
        // Prefer cargo's per-target scratch dir (a real disk, so fsync has a cost).
        let base = option_env!("CARGO_TARGET_TMPDIR")
            .map(PathBuf::from)
            .unwrap_or_else(std::env::temp_dir);
        let p = base.join(format!(
            "rzk-storage-{tag}-{}-{}",
            std::process::id(),
            COUNTER.fetch_add(1, Ordering::Relaxed)
        ));
        let _ = std::fs::remove_dir_all(&p);
        std::fs::create_dir_all(&p).unwrap();
        TempDir(p)
    }

    pub fn path(&self) -> &Path {
        &self.0
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// Deterministic payload for `index`, of varying length (1..=97 bytes).
pub fn payload(index: u64) -> Vec<u8> {
    payload_v(index, 0)
}

/// Like [`payload`], but different for each `version` (to tell rewritten entries apart).
pub fn payload_v(index: u64, version: u8) -> Vec<u8> {
    let len = (index.wrapping_mul(7) % 97 + 1) as usize;
    (0..len)
        .map(|k| {
            (index as u8)
                .wrapping_mul(31)
                .wrapping_add(k as u8)
                .wrapping_add(version.wrapping_mul(101))
        })
        .collect()
}

/// Segment files in `dir`, sorted by name (= by first index).
pub fn segment_files(dir: &Path) -> Vec<PathBuf> {
    let mut v: Vec<PathBuf> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| {
            p.file_name()
                .and_then(|n| n.to_str())
                .is_some_and(|n| n.starts_with("log.") && !n.ends_with(".tmp"))
        })
        .collect();
    v.sort();
    v
}

/// First index encoded in a segment file name.
pub fn segment_first(path: &Path) -> u64 {
    path.file_name().unwrap().to_str().unwrap()["log.".len()..]
        .parse()
        .unwrap()
}

/// Copies every regular file of `from` into `to`.
pub fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for e in std::fs::read_dir(from).unwrap() {
        let e = e.unwrap();
        if e.file_type().unwrap().is_file() {
            std::fs::copy(e.path(), to.join(e.file_name())).unwrap();
        }
    }
}

/// XOR `mask` into the byte at `offset` of `path`.
pub fn flip(path: &Path, offset: u64, mask: u8) {
    let mut b = std::fs::read(path).unwrap();
    b[offset as usize] ^= mask;
    std::fs::write(path, b).unwrap();
}

/// A minimal global `tracing` subscriber that records WARN-or-worse events as text for
/// the threads that asked for it (see [`capture_warnings`]), without pulling in
/// tracing-subscriber. It is installed once as the global default; scoped dispatchers are
/// avoided because their callsite-interest caching is racy across parallel tests.
struct WarnCollector;

thread_local! {
    static CAPTURED: std::cell::RefCell<Option<Vec<String>>> = const { std::cell::RefCell::new(None) };
}

struct Fields(String);

impl tracing::field::Visit for Fields {
    fn record_debug(&mut self, field: &tracing::field::Field, value: &dyn std::fmt::Debug) {
        let _ = write!(self.0, "{}={:?} ", field.name(), value);
    }
}

impl tracing::Subscriber for WarnCollector {
    fn enabled(&self, _: &tracing::Metadata<'_>) -> bool {
        true
    }
    fn max_level_hint(&self) -> Option<tracing::level_filters::LevelFilter> {
        Some(tracing::level_filters::LevelFilter::TRACE)
    }
    fn new_span(&self, _: &tracing::span::Attributes<'_>) -> tracing::span::Id {
        tracing::span::Id::from_u64(1)
    }
    fn record(&self, _: &tracing::span::Id, _: &tracing::span::Record<'_>) {}
    fn record_follows_from(&self, _: &tracing::span::Id, _: &tracing::span::Id) {}
    fn event(&self, event: &tracing::Event<'_>) {
        if *event.metadata().level() <= tracing::Level::WARN {
            let mut f = Fields(String::new());
            event.record(&mut f);
            CAPTURED.with(|c| {
                if let Some(v) = c.borrow_mut().as_mut() {
                    v.push(f.0);
                }
            });
        }
    }
    fn enter(&self, _: &tracing::span::Id) {}
    fn exit(&self, _: &tracing::span::Id) {}
}

/// Installs the global warning collector (idempotent). Call at the start of every test
/// of a binary that uses [`capture_warnings`].
pub fn init_tracing() {
    static ONCE: std::sync::Once = std::sync::Once::new();
    ONCE.call_once(|| {
        tracing::subscriber::set_global_default(WarnCollector).expect("global subscriber");
    });
}

/// Runs `f`, returning its result and the WARN/ERROR events it emitted on this thread.
pub fn capture_warnings<T>(f: impl FnOnce() -> T) -> (T, Vec<String>) {
    init_tracing();
    CAPTURED.with(|c| *c.borrow_mut() = Some(Vec::new()));
    let r = f();
    let ev = CAPTURED.with(|c| c.borrow_mut().take()).unwrap_or_default();
    (r, ev)
}
