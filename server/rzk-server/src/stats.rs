//! Server-wide counters reported by the four-letter words and metrics.

use std::sync::atomic::{AtomicI64, AtomicU64, Ordering::Relaxed};

#[derive(Default)]
pub struct Stats {
    pub packets_received: AtomicU64,
    pub packets_sent: AtomicU64,
    pub outstanding: AtomicI64,
    lat_count: AtomicU64,
    lat_total_us: AtomicU64,
    lat_min_us: AtomicU64,
    lat_max_us: AtomicU64,
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
