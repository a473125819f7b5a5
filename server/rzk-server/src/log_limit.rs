//! Rate limit for log lines: a statement that fires over and over (one line per request while a
//! peer is down, e.g. openraft's "timeout while confirming leadership for read request") is
//! written [`BURST`] times per [`WINDOW`]; the rest are counted, summed up once per window by
//! [`report_loop`], and exported as `rzk_log_lines_suppressed_total`.

use parking_lot::Mutex;
use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::LazyLock;
use std::time::{Duration, Instant};
use tracing::callsite::Identifier;
use tracing::{Event, Level, Subscriber};
use tracing_subscriber::layer::{Context, Layer};

/// Lines per statement (call site) written per window.
pub const BURST: u32 = 10;
/// The window.
pub const WINDOW: Duration = Duration::from_secs(10);

/// Lines suppressed since start, all statements together.
pub static SUPPRESSED_TOTAL: AtomicU64 = AtomicU64::new(0);

struct Site {
    /// `event file:line` of the statement, and its target.
    name: &'static str,
    target: &'static str,
    window_start: Instant,
    written: u32,
    /// Suppressed in the current window, not yet reported.
    suppressed: u64,
}

static SITES: LazyLock<Mutex<HashMap<Identifier, Site>>> =
    LazyLock::new(|| Mutex::new(HashMap::new()));

/// The layer; lines below INFO (debug, trace) are never limited.
#[derive(Default)]
pub struct RateLimit;

impl<S: Subscriber> Layer<S> for RateLimit {
    fn event_enabled(&self, event: &Event<'_>, _ctx: Context<'_, S>) -> bool {
        let meta = event.metadata();
        if *meta.level() > Level::INFO
            || meta.target() == SUMMARY_TARGET
            || meta.target() == crate::audit::TARGET
        {
            return true;
        }
        let now = Instant::now();
        let mut sites = SITES.lock();
        let site = sites.entry(meta.callsite()).or_insert_with(|| Site {
            name: meta.name(),
            target: meta.target(),
            window_start: now,
            written: 0,
            suppressed: 0,
        });
        if now.duration_since(site.window_start) >= WINDOW && site.suppressed == 0 {
            site.window_start = now;
            site.written = 0;
        }
        if site.written < BURST {
            site.written += 1;
            return true;
        }
        site.suppressed += 1;
        SUPPRESSED_TOTAL.fetch_add(1, Ordering::Relaxed);
        false
    }
}

const SUMMARY_TARGET: &str = "rzk::log_limit";

/// Statements with lines suppressed since the last call: (name, target, count). Their windows
/// restart, so each gets its burst again.
pub fn take_suppressed() -> Vec<(&'static str, &'static str, u64)> {
    let now = Instant::now();
    let mut out = Vec::new();
    for site in SITES.lock().values_mut() {
        if site.suppressed > 0 && now.duration_since(site.window_start) >= WINDOW {
            out.push((site.name, site.target, std::mem::take(&mut site.suppressed)));
            site.window_start = now;
            site.written = 0;
        }
    }
    out
}

/// Writes one summary line per statement that had lines suppressed, once per window. (Not from
/// inside the layer: tracing drops events raised while another is being dispatched.)
pub async fn report_loop() {
    loop {
        tokio::time::sleep(WINDOW).await;
        for (name, target, n) in take_suppressed() {
            tracing::warn!(target: SUMMARY_TARGET, statement = name, from = target, suppressed = n, window_s = WINDOW.as_secs(), "repeated log line suppressed (rate limit: {BURST} per statement per window)");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Arc;
    use tracing_subscriber::layer::SubscriberExt;

    /// Counts the lines that reach the writer.
    #[derive(Clone, Default)]
    struct Count(Arc<AtomicU64>);
    impl<S: Subscriber> Layer<S> for Count {
        fn on_event(&self, _e: &Event<'_>, _c: Context<'_, S>) {
            self.0.fetch_add(1, Ordering::Relaxed);
        }
    }

    #[test]
    fn a_flooding_statement_is_cut_to_its_burst_and_counted() {
        let seen = Count::default();
        let sub = tracing_subscriber::registry()
            .with(RateLimit)
            .with(seen.clone());
        let before = SUPPRESSED_TOTAL.load(Ordering::Relaxed);
        tracing::subscriber::with_default(sub, || {
            for i in 0..1000 {
                tracing::error!(i, "flood");
            }
            tracing::info!("another statement is not affected");
            for i in 0..5 {
                tracing::debug!(i, "debug lines are never limited");
            }
        });
        assert_eq!(seen.0.load(Ordering::Relaxed), BURST as u64 + 1 + 5);
        assert!(SUPPRESSED_TOTAL.load(Ordering::Relaxed) - before >= 1000 - BURST as u64);
        let pending: u64 = SITES.lock().values().map(|s| s.suppressed).sum();
        assert!(pending >= 1000 - BURST as u64);
    }
}
