//! Prometheus metrics endpoint (`GET /metrics`, default port 7000).
//!
//! Metric names follow Apache ZooKeeper 3.8's `PrometheusMetricsProvider` where rzk measures the
//! same thing ([`ZK_COMPATIBLE`]; `tests/metrics_admin.rs` checks every one of them against names
//! scraped from a real ZooKeeper 3.8, `tests/fixtures/zk38_metric_names.txt`), so existing ZooKeeper
//! dashboards and alerts keep working. What only rzk has is under the `rzk_` prefix: the server role
//! as a labelled gauge, quorum health, Raft internals and a request latency histogram.
//!
//! When it is served: ZooKeeper serves `/metrics` only when `metricsProvider.className` names its
//! Prometheus provider. rzk serves it also when `metricsProvider.className` is not set at all (it
//! has no other metrics provider, and its operator scrapes every server); setting the class name
//! to anything else (e.g. ZooKeeper's `DefaultMetricsProvider`) turns the endpoint off.
//! `metricsProvider.httpHost` / `metricsProvider.httpPort` choose the address (default
//! `0.0.0.0:7000`, as in ZooKeeper). A port that cannot be bound is logged and the server runs on
//! without metrics (like ZooKeeper's admin server, unlike its metrics provider which aborts start).
//!
//! Values are read from the server's state at scrape time; a background task samples the Raft
//! role every [`POLL`] to time elections and count leader changes.

use crate::http::{Request, Response};
use crate::report::{Report, Role};
use crate::server::Shared;
use parking_lot::Mutex;
use prometheus::proto::{
    Bucket, Counter, Gauge, Histogram, LabelPair, Metric, MetricFamily, MetricType, Quantile,
    Summary,
};
use prometheus::{Encoder, TextEncoder};
use std::collections::VecDeque;
use std::sync::Arc;
use std::time::{Duration, Instant};

/// How often the Raft role is sampled for election timing and leader changes.
pub const POLL: Duration = Duration::from_millis(20);

/// Names rzk exports with the meaning Apache ZooKeeper 3.8's Prometheus provider gives them.
pub const ZK_COMPATIBLE: &[&str] = &[
    // data tree and clients
    "znode_count",
    "watch_count",
    "ephemerals_count",
    "approximate_data_size",
    "num_alive_connections",
    "outstanding_requests",
    "request_throttle_wait_count",
    "packets_received",
    "packets_sent",
    "avg_latency",
    "min_latency",
    "max_latency",
    "global_sessions",
    "local_sessions",
    "uptime",
    "open_file_descriptor_count",
    "max_file_descriptor_count",
    // quorum (ensembles only, as in ZooKeeper)
    "quorum_size",
    "learners",
    "synced_followers",
    "synced_observers",
    "leader_uptime",
    "election_time",
    "looking_count",
    // process (standard Prometheus client names, exported by ZooKeeper's provider too)
    "process_cpu_seconds_total",
    "process_open_fds",
    "process_max_fds",
    "process_resident_memory_bytes",
    "process_virtual_memory_bytes",
    "process_start_time_seconds",
];

/// Sliding window of recent samples for summary quantiles.
#[derive(Default)]
struct Window {
    samples: VecDeque<f64>,
    count: u64,
    sum: f64,
}

impl Window {
    const KEEP: usize = 1024;
    fn add(&mut self, v: f64) {
        if self.samples.len() == Self::KEEP {
            self.samples.pop_front();
        }
        self.samples.push_back(v);
        self.count += 1;
        self.sum += v;
    }
    fn quantile(&self, q: f64) -> f64 {
        if self.samples.is_empty() {
            return f64::NAN;
        }
        let mut v: Vec<f64> = self.samples.iter().copied().collect();
        v.sort_by(|a, b| a.total_cmp(b));
        let i = ((q * v.len() as f64).ceil() as usize).clamp(1, v.len()) - 1;
        v[i]
    }
}

#[derive(Default)]
struct ObsState {
    started: bool,
    /// When this server last became the leader (None when it is not the leader).
    leader_since: Option<Instant>,
    /// When this server last lost sight of a leader (None while a leader is known).
    looking_since: Option<Instant>,
    /// The last (leader, term) seen.
    last_leader: Option<(u64, u64)>,
    /// When the last sample was taken.
    last_sample: Option<Instant>,
    leader_changes: u64,
    looking_count: u64,
    /// Elections seen by this server: time from losing the leader to knowing one, in ms.
    elections: Window,
}

/// Samples the Raft role over time (what a scrape alone cannot see), and probes the disk.
#[derive(Default)]
pub struct Observer {
    state: Mutex<ObsState>,
    /// Durations of the periodic fsync probe in dataLogDir.
    fsync_probe: crate::stats::LatencyHistogram,
}

/// Name of the file the fsync probe rewrites in dataLogDir.
pub const FSYNC_PROBE_FILE: &str = ".rzk-fsync-probe";

/// Writes 4 KiB to `path` and fsyncs it; the time taken.
fn fsync_once(path: &std::path::Path) -> std::io::Result<Duration> {
    use std::io::Write;
    let mut f = std::fs::OpenOptions::new()
        .create(true)
        .write(true)
        .truncate(true)
        .open(path)?;
    let t = Instant::now();
    f.write_all(&[0u8; 4096])?;
    f.sync_data()?;
    Ok(t.elapsed())
}

impl Observer {
    pub fn new() -> Arc<Observer> {
        Arc::new(Observer::default())
    }

    /// Starts the sampling task and the fsync probe (every `rzk.fsyncProbeIntervalMs`, default
    /// 10000; 0 turns it off).
    pub fn start(self: &Arc<Self>, s: Arc<Shared>) {
        let obs = self.clone();
        let s2 = s.clone();
        tokio::spawn(async move {
            loop {
                obs.sample(&s2);
                tokio::time::sleep(POLL).await;
            }
        });
        let every = s
            .cfg
            .rzk_knob("fsyncProbeIntervalMs")
            .and_then(|v| v.parse::<u64>().ok())
            .unwrap_or(10_000);
        if every == 0 {
            return;
        }
        let obs = self.clone();
        let path = s.cfg.data_log_dir.join(FSYNC_PROBE_FILE);
        tokio::spawn(async move {
            loop {
                let p = path.clone();
                match tokio::task::spawn_blocking(move || fsync_once(&p)).await {
                    Ok(Ok(d)) => obs.fsync_probe.observe_us(d.as_micros() as u64),
                    Ok(Err(e)) => tracing::debug!(error = %e, "fsync probe failed"),
                    Err(_) => {}
                }
                tokio::time::sleep(Duration::from_millis(every.max(100))).await;
            }
        });
    }

    /// Takes one sample of the Raft role.
    pub fn sample(&self, s: &Shared) {
        let Some(st) = s.raft.get().map(|r| r.status()) else {
            return;
        };
        let now = Instant::now();
        let distributed = s.cfg.is_distributed();
        let mut o = self.state.lock();
        let known = st.leader.is_some()
            && !matches!(
                st.role,
                rzk_raft::Role::Candidate | rzk_raft::Role::Shutdown
            );
        if !o.started {
            o.started = true;
            if distributed && !known {
                // The first election started with the process.
                o.looking_since = Some(s.started);
                o.looking_count += 1;
            } else if distributed {
                o.elections
                    .add(now.duration_since(s.started).as_secs_f64() * 1000.0);
            }
        }
        let lost = o.looking_since.is_some();
        if known {
            if let Some(t) = o.looking_since.take() {
                o.elections
                    .add(now.duration_since(t).as_secs_f64() * 1000.0);
            }
            let cur = (st.leader.unwrap_or(0), st.term);
            if o.last_leader != Some(cur) {
                if o.last_leader.is_some() && !lost {
                    // The election ran between two samples: it took at most one sampling period.
                    let since = o.last_sample.map_or(POLL, |t| now.duration_since(t));
                    o.elections.add(since.as_secs_f64() * 1000.0);
                    o.looking_count += 1;
                }
                o.last_leader = Some(cur);
                o.leader_changes += 1;
            }
        } else if o.looking_since.is_none() {
            o.looking_since = Some(now);
            o.looking_count += 1;
        }
        o.last_sample = Some(now);
        if st.role == rzk_raft::Role::Leader {
            if o.leader_since.is_none() {
                o.leader_since = Some(now);
            }
        } else {
            o.leader_since = None;
        }
    }

    /// Milliseconds this server has been the leader, if it is.
    pub fn leader_uptime_ms(&self) -> Option<u64> {
        self.state
            .lock()
            .leader_since
            .map(|t| t.elapsed().as_millis() as u64)
    }
}

// ---- building metric families ------------------------------------------------------------------

fn label(name: &str, value: &str) -> LabelPair {
    let mut l = LabelPair::default();
    l.set_name(name.to_string());
    l.set_value(value.to_string());
    l
}

struct Families(Vec<MetricFamily>);

impl Families {
    fn push(&mut self, name: &str, help: &str, typ: MetricType, metrics: Vec<Metric>) {
        let mut f = MetricFamily::default();
        f.set_name(name.to_string());
        f.set_help(help.to_string());
        f.set_field_type(typ);
        f.set_metric(metrics);
        self.0.push(f);
    }
    fn gauge(&mut self, name: &str, help: &str, v: f64) {
        self.gauge_vec(name, help, vec![(vec![], v)]);
    }
    fn gauge_vec(&mut self, name: &str, help: &str, values: Vec<(Vec<LabelPair>, f64)>) {
        let ms = values
            .into_iter()
            .map(|(labels, v)| {
                let mut g = Gauge::default();
                g.set_value(v);
                let mut m = Metric::default();
                m.set_label(labels);
                m.set_gauge(g);
                m
            })
            .collect();
        self.push(name, help, MetricType::GAUGE, ms);
    }
    fn counter(&mut self, name: &str, help: &str, v: f64) {
        let mut c = Counter::default();
        c.set_value(v);
        let mut m = Metric::default();
        m.set_counter(c);
        self.push(name, help, MetricType::COUNTER, vec![m]);
    }
    fn histogram(&mut self, name: &str, help: &str, hist: &crate::stats::LatencyHistogram) {
        let (cumulative, count, sum_us) = hist.snapshot();
        let mut h = Histogram::default();
        h.set_sample_count(count);
        h.set_sample_sum(sum_us as f64 / 1e6);
        h.set_bucket(
            crate::stats::LATENCY_BUCKETS_US
                .iter()
                .zip(cumulative)
                .map(|(ub, c)| {
                    let mut b = Bucket::default();
                    b.set_upper_bound(*ub as f64 / 1e6);
                    b.set_cumulative_count(c);
                    b
                })
                .collect(),
        );
        let mut m = Metric::default();
        m.set_histogram(h);
        self.push(name, help, MetricType::HISTOGRAM, vec![m]);
    }
    fn summary(&mut self, name: &str, help: &str, w: &Window, quantiles: &[f64]) {
        let mut s = Summary::default();
        s.set_sample_count(w.count);
        s.set_sample_sum(w.sum);
        s.set_quantile(
            quantiles
                .iter()
                .map(|q| {
                    let mut x = Quantile::default();
                    x.set_quantile(*q);
                    x.set_value(w.quantile(*q));
                    x
                })
                .collect(),
        );
        let mut m = Metric::default();
        m.set_summary(s);
        self.push(name, help, MetricType::SUMMARY, vec![m]);
    }
}

/// Process metrics from /proc (Linux); missing values are left out.
struct ProcessInfo {
    cpu_seconds: Option<f64>,
    start_time_seconds: Option<f64>,
    rss_bytes: Option<f64>,
    vsize_bytes: Option<f64>,
}

/// Clock ticks per second of /proc/*/stat times (USER_HZ, 100 on Linux).
const USER_HZ: f64 = 100.0;

fn process_info() -> ProcessInfo {
    let stat = std::fs::read_to_string("/proc/self/stat").ok();
    // Fields after the `(comm)`, which may contain spaces: field 3 (state) is index 0.
    let fields: Vec<&str> = stat
        .as_deref()
        .and_then(|s| {
            s.rfind(')')
                .map(|i| s[i + 1..].split_whitespace().collect())
        })
        .unwrap_or_default();
    let field = |n: usize| fields.get(n - 3).and_then(|v| v.parse::<f64>().ok());
    let cpu_seconds = match (field(14), field(15)) {
        (Some(u), Some(s)) => Some((u + s) / USER_HZ),
        _ => None,
    };
    let boot = std::fs::read_to_string("/proc/stat").ok().and_then(|s| {
        s.lines().find_map(|l| {
            l.strip_prefix("btime ")
                .and_then(|v| v.trim().parse::<f64>().ok())
        })
    });
    let start_time_seconds = match (boot, field(22)) {
        (Some(b), Some(t)) => Some(b + t / USER_HZ),
        _ => None,
    };
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    let kb = |key: &str| {
        status.lines().find_map(|l| {
            l.strip_prefix(key)
                .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<f64>().ok())
                .map(|v| v * 1024.0)
        })
    };
    ProcessInfo {
        cpu_seconds,
        start_time_seconds,
        rss_bytes: kb("VmRSS:"),
        vsize_bytes: kb("VmSize:"),
    }
}

/// Everything `/metrics` exports, read at call time: the [`Report`] plus what only metrics show
/// (process, histograms, elections).
/// Returns the report too, for renderers that add to the families (admin `monitor`).
pub fn gather(s: &Shared, obs: &Observer) -> (Report, Vec<MetricFamily>) {
    obs.sample(s);
    let r = Report::take(s);
    let mut f = Families(Vec::new());
    report_families(&r, obs.leader_uptime_ms(), &mut f);

    let p = process_info();
    if let Some(v) = p.cpu_seconds {
        f.counter(
            "process_cpu_seconds_total",
            "Total user and system CPU time spent in seconds.",
            v,
        );
    }
    if let Some(v) = p.rss_bytes {
        f.gauge(
            "process_resident_memory_bytes",
            "Resident memory size in bytes.",
            v,
        );
    }
    if let Some(v) = p.vsize_bytes {
        f.gauge(
            "process_virtual_memory_bytes",
            "Virtual memory size in bytes.",
            v,
        );
    }
    if let Some(v) = p.start_time_seconds {
        f.gauge(
            "process_start_time_seconds",
            "Start time of the process since unix epoch in seconds.",
            v,
        );
    }
    f.histogram(
        "rzk_request_latency_seconds",
        "Client request latency (receipt to reply), seconds",
        &s.stats.latency_hist,
    );
    f.histogram(
        "rzk_fsync_probe_seconds",
        "Time to write and fsync 4 KiB in dataLogDir, probed every rzk.fsyncProbeIntervalMs (a disk health signal)",
        &obs.fsync_probe,
    );
    {
        let o = obs.state.lock();
        if s.cfg.is_distributed() {
            // ZooKeeper exports these on ensemble members only.
            f.summary(
                "election_time",
                "Time between losing and finding a leader, ms",
                &o.elections,
                &[0.5],
            );
            f.counter(
                "looking_count",
                "Times this server started looking for a leader",
                o.looking_count as f64,
            );
        }
        f.counter(
            "rzk_raft_leader_changes_total",
            "Times this server saw a new leader (a new leader id or term)",
            o.leader_changes as f64,
        );
    }
    f.gauge_vec(
        "rzk_build_info",
        "rzk version (value is always 1)",
        vec![(
            vec![
                label("version", env!("CARGO_PKG_VERSION")),
                label("zk_version", crate::fourlw::VERSION),
            ],
            1.0,
        )],
    );
    (r, f.0)
}

/// The metric families of one [`Report`] alone.
#[cfg(test)]
pub(crate) fn report_metrics(r: &Report, leader_uptime_ms: Option<u64>) -> Vec<MetricFamily> {
    let mut f = Families(Vec::new());
    report_families(r, leader_uptime_ms, &mut f);
    f.0
}

/// The metric families of one [`Report`] (`leader_uptime_ms` from the [`Observer`]).
fn report_families(r: &Report, leader_uptime_ms: Option<u64>, f: &mut Families) {
    f.gauge(
        "znode_count",
        "Number of znodes in the data tree",
        r.znodes as f64,
    );
    f.gauge(
        "ephemerals_count",
        "Number of ephemeral znodes",
        r.ephemerals as f64,
    );
    f.gauge(
        "approximate_data_size",
        "Approximate size of znode data and paths, bytes",
        r.approximate_data_size as f64,
    );
    f.gauge(
        "global_sessions",
        "Number of global sessions",
        r.global_sessions as f64,
    );
    f.gauge("rzk_last_zxid", "Last applied zxid", r.zxid as f64);
    f.gauge(
        "rzk_feature_level",
        "Cluster feature level in force (formats and entry kinds every member can read)",
        r.feature_level as f64,
    );
    f.gauge(
        "rzk_feature_level_supported",
        "Highest cluster feature level this release supports",
        r.feature_level_max as f64,
    );
    let l = &r.leaderless;
    f.counter(
        "rzk_sessions_refused_no_leader_total",
        "Sessions refused at the handshake because no leader confirmed them",
        l.refused_sessions as f64,
    );
    f.counter(
        "rzk_requests_held_for_leader_total",
        "Client requests held until a leader was reachable, then sent",
        l.held_requests as f64,
    );
    f.counter(
        "rzk_connections_closed_unanswered_total",
        "Client connections closed with a request of unknown outcome (leader lost)",
        l.closed_unanswered as f64,
    );
    f.counter(
        "request_throttle_wait_count",
        "Times a connection waited for a slot under globalOutstandingLimit/requestThrottleLimit",
        r.throttle_waits as f64,
    );
    f.counter(
        "rzk_log_lines_suppressed_total",
        "Log lines dropped by the per-statement rate limit",
        l.log_lines_suppressed as f64,
    );
    f.gauge(
        "local_sessions",
        "Number of local sessions (rzk has none)",
        0.0,
    );
    f.gauge(
        "watch_count",
        "Number of watches set by clients on this server",
        r.watches as f64,
    );
    f.gauge(
        "num_alive_connections",
        "Number of live client connections",
        r.connections as f64,
    );
    f.gauge(
        "outstanding_requests",
        "Requests received but not yet answered",
        r.outstanding_requests as f64,
    );
    f.gauge(
        "packets_received",
        "Client packets received",
        r.packets_received as f64,
    );
    f.gauge("packets_sent", "Client packets sent", r.packets_sent as f64);
    f.gauge(
        "min_latency",
        "Minimum request latency since the last stat reset, ms",
        r.latency.min as f64,
    );
    f.gauge(
        "avg_latency",
        "Average request latency since the last stat reset, ms",
        round4(r.latency.avg),
    );
    f.gauge(
        "max_latency",
        "Maximum request latency since the last stat reset, ms",
        r.latency.max as f64,
    );
    f.gauge(
        "uptime",
        "Time since the server started, ms",
        r.uptime_ms as f64,
    );
    if let Some(v) = r.open_fds {
        f.gauge(
            "open_file_descriptor_count",
            "Open file descriptors",
            v as f64,
        );
        f.gauge(
            "process_open_fds",
            "Number of open file descriptors.",
            v as f64,
        );
    }
    if let Some(v) = r.max_fds {
        f.gauge(
            "max_file_descriptor_count",
            "Maximum file descriptors",
            v as f64,
        );
        f.gauge(
            "process_max_fds",
            "Maximum number of open file descriptors.",
            v as f64,
        );
    }

    // Role and health.
    f.gauge_vec(
        "rzk_server_role",
        "Role of this server (1 for the current role): standalone, leader, follower, observer, or looking (no leader known)",
        Role::ALL
            .iter()
            .map(|role| {
                (
                    vec![label("role", role.as_str())],
                    if *role == r.role { 1.0 } else { 0.0 },
                )
            })
            .collect(),
    );
    f.gauge(
        "rzk_quorum_healthy",
        "1 if this server is part of a quorum that can commit writes (leader: heard from a quorum within syncLimit ticks; follower/observer: a leader is known)",
        if r.quorum_healthy { 1.0 } else { 0.0 },
    );

    if let Some(st) = &r.raft {
        f.gauge("rzk_raft_term", "Current Raft term", st.term as f64);
        f.gauge(
            "rzk_raft_last_log_index",
            "Index of the last entry in the local Raft log",
            st.last_log_index as f64,
        );
        f.gauge(
            "rzk_raft_last_applied_index",
            "Index of the last entry applied to the data tree",
            st.last_applied as f64,
        );
        f.gauge(
            "rzk_raft_apply_lag_entries",
            "Entries in the local log not yet applied",
            st.last_log_index.saturating_sub(st.last_applied) as f64,
        );
        f.gauge(
            "rzk_raft_leader_id",
            "Id of the leader this server knows (0: none)",
            st.leader.unwrap_or(0) as f64,
        );
        f.gauge("rzk_raft_server_id", "Id of this server", st.id as f64);
        f.gauge(
            "rzk_raft_voters",
            "Voting members in the current configuration",
            st.voters.len() as f64,
        );
        f.gauge(
            "rzk_raft_learners",
            "Non-voting members (observers) in the current configuration",
            st.learners.len() as f64,
        );
        if st.role == rzk_raft::Role::Leader {
            if let Some(ms) = st.millis_since_quorum_ack {
                f.gauge(
                    "rzk_raft_millis_since_quorum_ack",
                    "Time since a quorum last acknowledged the leader, ms",
                    ms as f64,
                );
            }
        }
    }
    if let Some(n) = r.quorum_size {
        f.gauge(
            "quorum_size",
            "Number of voting members in the ensemble",
            n as f64,
        );
    }
    if let Some(ci) = r.commit_index {
        f.gauge(
            "rzk_raft_commit_index",
            "Highest index stored on a majority of voters (leader only)",
            ci as f64,
        );
    }
    if let Some(rep) = &r.replication {
        f.gauge(
            "learners",
            "Followers and observers replicating from this leader",
            rep.learners() as f64,
        );
        f.gauge(
            "synced_followers",
            "Voting followers whose log is within rzk.syncedLagEntries (default 100) of the leader's",
            rep.synced_followers() as f64,
        );
        f.gauge(
            "synced_observers",
            "Observers whose log is within rzk.syncedLagEntries (default 100) of the leader's",
            rep.synced_observers() as f64,
        );
        if let Some(ms) = leader_uptime_ms {
            f.gauge(
                "leader_uptime",
                "Time since this server became the leader, ms",
                ms as f64,
            );
        }
        f.gauge_vec(
            "rzk_raft_replication_matched_index",
            "Highest log index known replicated on each follower/observer (leader only)",
            rep.peers
                .iter()
                .map(|p| {
                    (
                        vec![label("peer", &p.id.to_string())],
                        p.matched.map_or(-1.0, |v| v as f64),
                    )
                })
                .collect(),
        );
        f.gauge_vec(
            "rzk_raft_replication_lag_entries",
            "Entries each follower/observer is behind the leader's log (leader only)",
            rep.peers
                .iter()
                .map(|p| (vec![label("peer", &p.id.to_string())], p.lag as f64))
                .collect(),
        );
    }
}

/// Rounds to 4 decimals (ZooKeeper's average latency precision).
pub fn round4(v: f64) -> f64 {
    (v * 10000.0).round() / 10000.0
}

/// The text exposition of [`gather`].
pub fn render(s: &Shared, obs: &Observer) -> String {
    let (_, fams) = gather(s, obs);
    let mut buf = Vec::new();
    match TextEncoder::new().encode(&fams, &mut buf) {
        Ok(()) => String::from_utf8(buf).unwrap_or_default(),
        Err(e) => {
            tracing::warn!(error = %e, "cannot encode metrics");
            String::new()
        }
    }
}

/// Whether the configuration asks for the metrics endpoint (see the module documentation).
pub fn enabled(cfg: &rzk_config::ServerConfig) -> bool {
    cfg.metrics.class_name.is_none() || cfg.metrics.prometheus_enabled()
}

fn handle(s: &Shared, obs: &Observer, req: &Request) -> Response {
    match req.path.as_str() {
        "/metrics" => Response::new(
            200,
            "text/plain; version=0.0.4; charset=utf-8",
            render(s, obs),
        ),
        _ => Response::not_found(),
    }
}

/// Binds the metrics listener (if enabled) and serves it in the background.
pub async fn spawn(s: Arc<Shared>, obs: Arc<Observer>) {
    if !enabled(&s.cfg) {
        tracing::info!(class = ?s.cfg.metrics.class_name, "metrics endpoint disabled by metricsProvider.className");
        return;
    }
    let (host, port) = (s.cfg.metrics.http_host.clone(), s.cfg.metrics.http_port);
    let listener = match crate::http::bind(&host, port).await {
        Ok(l) => l,
        Err(e) => {
            tracing::warn!(%host, port, error = %e, "cannot serve metrics; going on without them");
            return;
        }
    };
    tracing::info!(%host, port, "serving Prometheus metrics on /metrics");
    let handler: crate::http::Handler = Arc::new(move |req: Request| {
        let (s, obs) = (s.clone(), obs.clone());
        Box::pin(async move { handle(&s, &obs, &req) })
    });
    tokio::spawn(crate::http::serve(listener, handler));
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn window_quantiles() {
        let mut w = Window::default();
        assert!(w.quantile(0.5).is_nan());
        for v in 1..=10 {
            w.add(v as f64);
        }
        assert_eq!(w.quantile(0.5), 5.0);
        assert_eq!(w.quantile(0.99), 10.0);
        assert_eq!(w.count, 10);
        assert_eq!(w.sum, 55.0);
        for _ in 0..5000 {
            w.add(1.0);
        }
        assert_eq!(w.samples.len(), Window::KEEP);
    }

    #[test]
    fn process_info_reads_proc() {
        let p = process_info();
        if std::path::Path::new("/proc/self/stat").exists() {
            assert!(p.rss_bytes.unwrap() > 0.0);
            assert!(p.start_time_seconds.unwrap() > 1.0e9);
            assert!(p.cpu_seconds.is_some());
        }
    }
}
