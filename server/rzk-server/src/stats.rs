//! Server-wide counters reported by the four-letter words and metrics.

use std::sync::atomic::{AtomicU64, Ordering::Relaxed};

#[derive(Default)]
pub struct Stats {
    pub packets_received: AtomicU64,
    pub packets_sent: AtomicU64,
    /// Connections refused at the handshake because no leader could confirm the session.
    pub refused_no_leader: AtomicU64,
    /// Connections closed with a request whose outcome is unknown (leader lost after sending).
    pub closed_unanswered: AtomicU64,
    lat_count: AtomicU64,
    lat_total_us: AtomicU64,
    lat_min_us: AtomicU64,
    lat_max_us: AtomicU64,
    /// Request latency histogram for metrics (never reset: Prometheus counters only grow).
    pub latency_hist: LatencyHistogram,
}

/// Upper bounds (microseconds) of the request latency histogram buckets.
pub const LATENCY_BUCKETS_US: [u64; 14] = [
    250, 500, 1_000, 2_500, 5_000, 10_000, 25_000, 50_000, 100_000, 250_000, 500_000, 1_000_000,
    2_500_000, 10_000_000,
];

/// A cumulative-at-read-time histogram of request latencies.
#[derive(Default)]
pub struct LatencyHistogram {
    buckets: [AtomicU64; LATENCY_BUCKETS_US.len()],
    count: AtomicU64,
    sum_us: AtomicU64,
}

impl LatencyHistogram {
    pub fn observe_us(&self, us: u64) {
        if let Some(i) = LATENCY_BUCKETS_US.iter().position(|b| us <= *b) {
            self.buckets[i].fetch_add(1, Relaxed);
        }
        self.count.fetch_add(1, Relaxed);
        self.sum_us.fetch_add(us, Relaxed);
    }
    /// (cumulative count per bucket, total count, sum in microseconds).
    pub fn snapshot(&self) -> (Vec<u64>, u64, u64) {
        let mut acc = 0;
        let cumulative = self
            .buckets
            .iter()
            .map(|b| {
                acc += b.load(Relaxed);
                acc
            })
            .collect();
        (
            cumulative,
            self.count.load(Relaxed),
            self.sum_us.load(Relaxed),
        )
    }
}

impl Stats {
    pub fn new() -> Self {
        let s = Stats::default();
        s.lat_min_us.store(u64::MAX, Relaxed);
        s
    }
    pub fn record_latency_us(&self, us: u64) {
        self.lat_count.fetch_add(1, Relaxed);
        self.lat_total_us.fetch_add(us, Relaxed);
        self.lat_min_us.fetch_min(us, Relaxed);
        self.lat_max_us.fetch_max(us, Relaxed);
        self.latency_hist.observe_us(us);
    }
    /// (min, avg, max) in milliseconds, as ZooKeeper prints them.
    pub fn latency_ms(&self) -> (f64, f64, f64) {
        let n = self.lat_count.load(Relaxed);
        if n == 0 {
            return (0.0, 0.0, 0.0);
        }
        let min = self.lat_min_us.load(Relaxed) as f64 / 1000.0;
        let max = self.lat_max_us.load(Relaxed) as f64 / 1000.0;
        let avg = self.lat_total_us.load(Relaxed) as f64 / n as f64 / 1000.0;
        (min, avg, max)
    }
    pub fn reset(&self) {
        self.packets_received.store(0, Relaxed);
        self.packets_sent.store(0, Relaxed);
        self.lat_count.store(0, Relaxed);
        self.lat_total_us.store(0, Relaxed);
        self.lat_min_us.store(u64::MAX, Relaxed);
        self.lat_max_us.store(0, Relaxed);
    }
}
