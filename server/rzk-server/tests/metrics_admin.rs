//! The Prometheus endpoint and the AdminServer commands of a running `rzk-server` binary.
//!
//! * values scraped from `/metrics` follow the data tree, watches, sessions and connections;
//! * metric names rzk claims as ZooKeeper-compatible are all in the list scraped from a real
//!   Apache ZooKeeper 3.8 (`tests/fixtures/zk38_metric_names.txt`, made by
//!   `tests/fixtures/capture_zk38.py`), and every name without the `rzk_` prefix is one of them;
//! * each admin command answers at least the JSON fields the real ZooKeeper 3.8 AdminServer
//!   answers (`tests/fixtures/zk38_admin/*.json`), with values that match the server's state;
//! * `admin.enableServer`, `admin.serverPort`, `metricsProvider.className/httpHost/httpPort` are
//!   honoured, and garbage on both ports does not hurt the server.

use serde_json::Value;
use std::collections::{BTreeMap, BTreeSet};
use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};
use zookeeper_client as zk;

const BIN: &str = env!("CARGO_BIN_EXE_rzk-server");

fn fixtures() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures")
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

struct Server {
    dir: tempfile::TempDir,
    child: Child,
    client: u16,
    admin: u16,
    metrics: u16,
}

impl Server {
    /// Starts rzk with the given extra zoo.cfg lines; waits for `ruok` on the client port.
    fn start(extra: &[(&str, &str)]) -> Server {
        let dir = tempfile::Builder::new()
            .prefix("rzk-obs-")
            .tempdir()
            .unwrap();
        let (client, admin, metrics) = (free_port(), free_port(), free_port());
        let mut cfg: Vec<(String, String)> = vec![
            ("clientPort".into(), client.to_string()),
            ("clientPortAddress".into(), "127.0.0.1".into()),
        ];
        for (k, v) in extra {
            cfg.push((k.to_string(), v.to_string()));
        }
        let mut s = Server::launch(dir, client, admin, metrics, cfg);
        s.wait_ruok();
        s
    }

    /// Writes zoo.cfg (harness defaults, overridden by `cfg`) into `dir` and starts the binary.
    fn launch(
        dir: tempfile::TempDir,
        client: u16,
        admin: u16,
        metrics: u16,
        extra: Vec<(String, String)>,
    ) -> Server {
        let mut cfg: Vec<(String, String)> = vec![
            ("tickTime".into(), "500".into()),
            (
                "dataDir".into(),
                dir.path().join("data").display().to_string(),
            ),
            ("4lw.commands.whitelist".into(), "*".into()),
            ("admin.serverAddress".into(), "127.0.0.1".into()),
            ("admin.serverPort".into(), admin.to_string()),
            ("metricsProvider.httpHost".into(), "127.0.0.1".into()),
            ("metricsProvider.httpPort".into(), metrics.to_string()),
        ];
        for (k, v) in extra {
            cfg.retain(|(ck, _)| *ck != k);
            cfg.push((k, v));
        }
        let text: String = cfg.iter().map(|(k, v)| format!("{k}={v}\n")).collect();
        let cfg_path = dir.path().join("zoo.cfg");
        std::fs::write(&cfg_path, text).unwrap();
        let log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(dir.path().join("server.log"))
            .unwrap();
        let child = Command::new(BIN)
            .arg("start-foreground")
            .arg(&cfg_path)
            .stdin(Stdio::null())
            .stdout(log.try_clone().unwrap())
            .stderr(log)
            .spawn()
            .expect("spawn rzk-server");
        Server {
            dir,
            child,
            client,
            admin,
            metrics,
        }
    }

    fn wait_ruok(&mut self) {
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            if four_letter(self.client, "ruok").as_deref() == Some("imok") {
                return;
            }
            if Instant::now() > deadline || matches!(self.child.try_wait(), Ok(Some(_))) {
                panic!("rzk-server did not start:\n{}", self.log());
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// Sends `sig` (STOP, CONT, KILL) to the server process.
    fn signal(&self, sig: &str) {
        let ok = Command::new("kill")
            .arg(format!("-{sig}"))
            .arg(self.child.id().to_string())
            .status()
            .unwrap()
            .success();
        assert!(ok, "kill -{sig}");
    }

    /// A scrape, or None when the endpoint does not answer.
    fn try_scrape(&self) -> Option<Scrape> {
        match http_get(self.metrics, "/metrics") {
            Ok((200, body)) => Some(Scrape::parse(&body)),
            _ => None,
        }
    }

    fn log(&self) -> String {
        std::fs::read_to_string(self.dir.path().join("server.log")).unwrap_or_default()
    }

    fn connect_string(&self) -> String {
        format!("127.0.0.1:{}", self.client)
    }

    fn scrape(&self) -> Scrape {
        let (status, body) = http_get(self.metrics, "/metrics").expect("scrape /metrics");
        assert_eq!(status, 200, "{body}");
        Scrape::parse(&body)
    }

    fn admin(&self, cmd: &str) -> Value {
        let (status, body) =
            http_get(self.admin, &format!("/commands/{cmd}")).expect("admin command");
        assert_eq!(status, 200, "{cmd}: {body}");
        serde_json::from_str(&body).unwrap_or_else(|e| panic!("{cmd}: bad JSON ({e}): {body}"))
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn four_letter(port: u16, cmd: &str) -> Option<String> {
    let mut s = TcpStream::connect(("127.0.0.1", port)).ok()?;
    s.set_read_timeout(Some(Duration::from_secs(5))).ok()?;
    s.write_all(cmd.as_bytes()).ok()?;
    let mut out = String::new();
    s.read_to_string(&mut out).ok()?;
    Some(out)
}

/// A raw HTTP/1.1 GET; (status, body).
fn http_get(port: u16, path: &str) -> std::io::Result<(u16, String)> {
    let raw = http_raw(
        port,
        format!("GET {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n").as_bytes(),
    )?;
    let text = String::from_utf8_lossy(&raw).to_string();
    let status = text
        .split(' ')
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or(0);
    let body = text
        .split_once("\r\n\r\n")
        .map(|(_, b)| b.to_string())
        .unwrap_or_default();
    Ok((status, body))
}

fn http_raw(port: u16, request: &[u8]) -> std::io::Result<Vec<u8>> {
    let mut s = TcpStream::connect(("127.0.0.1", port))?;
    s.set_read_timeout(Some(Duration::from_secs(15)))?;
    s.write_all(request)?;
    // Half-close: a server waiting for the rest of a partial request sees the end at once.
    let _ = s.shutdown(std::net::Shutdown::Write);
    let mut out = Vec::new();
    s.read_to_end(&mut out)?;
    Ok(out)
}

/// A parsed Prometheus text exposition.
struct Scrape {
    /// `name` or `name{labels}` → value.
    samples: BTreeMap<String, f64>,
    /// family name → type, from `# TYPE` lines.
    types: BTreeMap<String, String>,
}

impl Scrape {
    fn parse(text: &str) -> Scrape {
        let mut samples = BTreeMap::new();
        let mut types = BTreeMap::new();
        for line in text.lines() {
            if let Some(rest) = line.strip_prefix("# TYPE ") {
                let mut it = rest.split_whitespace();
                types.insert(
                    it.next().unwrap().to_string(),
                    it.next().unwrap().to_string(),
                );
            } else if !line.starts_with('#') && !line.trim().is_empty() {
                let (k, v) = line
                    .rsplit_once(' ')
                    .unwrap_or_else(|| panic!("bad sample line {line:?}"));
                let v: f64 = v
                    .parse()
                    .unwrap_or_else(|_| panic!("bad value in {line:?}"));
                samples.insert(k.to_string(), v);
            }
        }
        Scrape { samples, types }
    }
    fn get(&self, k: &str) -> f64 {
        *self
            .samples
            .get(k)
            .unwrap_or_else(|| panic!("no sample {k} in scrape"))
    }
}

/// srvr and mntr (four-letter words), the admin JSON (`srvr`, `mntr`) and `/metrics` render one
/// report: every value two of them show agrees. Retried for a while, as a client request (or a
/// ping) between the reads may move a counter.
fn assert_reports_agree(s: &Server) {
    let mut last = String::new();
    for _ in 0..50 {
        match reports_disagree(s) {
            None => return,
            Some(why) => last = why,
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    panic!("srvr/mntr, admin JSON and /metrics disagree: {last}");
}

fn reports_disagree(s: &Server) -> Option<String> {
    let mntr_text = four_letter(s.client, "mntr").expect("mntr");
    let mntr: BTreeMap<&str, &str> = mntr_text
        .lines()
        .filter_map(|l| l.split_once('\t'))
        .collect();
    let srvr_text = four_letter(s.client, "srvr").expect("srvr");
    let srvr: BTreeMap<&str, &str> = srvr_text
        .lines()
        .filter_map(|l| l.split_once(": "))
        .collect();
    let admin_srvr = s.admin("srvr");
    let stats = &admin_srvr["server_stats"];
    let monitor = s.admin("mntr");
    let scrape = s.scrape();
    let mut bad = Vec::new();
    let mut same = |what: String, values: Vec<Option<f64>>| {
        if values.iter().any(|v| *v != values[0]) || values[0].is_none() {
            bad.push(format!("{what}: {values:?}"));
        }
    };
    let zk = |k: &str| mntr.get(k).and_then(|v| v.parse::<f64>().ok());
    // (mntr key, metric = admin monitor key, admin server_stats key)
    for (key, metric, admin) in [
        ("zk_znode_count", "znode_count", None),
        ("zk_watch_count", "watch_count", None),
        ("zk_ephemerals_count", "ephemerals_count", None),
        ("zk_approximate_data_size", "approximate_data_size", None),
        ("zk_global_sessions", "global_sessions", None),
        (
            "zk_num_alive_connections",
            "num_alive_connections",
            Some("num_alive_client_connections"),
        ),
        (
            "zk_outstanding_requests",
            "outstanding_requests",
            Some("outstanding_requests"),
        ),
        (
            "zk_packets_received",
            "packets_received",
            Some("packets_received"),
        ),
        ("zk_packets_sent", "packets_sent", Some("packets_sent")),
        ("zk_avg_latency", "avg_latency", Some("avg_latency")),
        ("zk_min_latency", "min_latency", Some("min_latency")),
        ("zk_max_latency", "max_latency", Some("max_latency")),
    ] {
        let mut values = vec![
            zk(key),
            scrape.samples.get(metric).copied(),
            monitor[metric].as_f64(),
        ];
        values.extend(admin.map(|a| stats[a].as_f64()));
        same(key.to_string(), values);
    }
    // Ensemble and leader-only values: present in all or none.
    for (key, metric) in [
        ("zk_quorum_size", "quorum_size"),
        ("zk_learners", "learners"),
        ("zk_synced_followers", "synced_followers"),
        ("zk_synced_observers", "synced_observers"),
    ] {
        let values = vec![
            zk(key),
            scrape.samples.get(metric).copied(),
            monitor[metric].as_f64(),
        ];
        if values.iter().any(Option::is_some) {
            same(key.to_string(), values);
        }
    }
    let zxid = srvr
        .get("Zxid")
        .and_then(|z| i64::from_str_radix(z.trim_start_matches("0x"), 16).ok());
    same(
        "zxid".into(),
        vec![
            zxid.map(|z| z as f64),
            scrape.samples.get("rzk_last_zxid").copied(),
            stats["last_processed_zxid"].as_f64(),
        ],
    );
    let node_count = srvr.get("Node count").and_then(|v| v.parse::<f64>().ok());
    same(
        "node count".into(),
        vec![
            node_count,
            zk("zk_znode_count"),
            admin_srvr["node_count"].as_f64(),
        ],
    );
    let roles = [
        srvr.get("Mode").copied(),
        mntr.get("zk_server_state").copied(),
        stats["server_state"].as_str(),
        monitor["server_state"].as_str(),
        Some(role_of(&scrape)),
    ];
    if roles.iter().any(|r| *r != roles[0]) {
        bad.push(format!("role: {roles:?}"));
    }
    (!bad.is_empty()).then(|| bad.join("; "))
}

fn zk_fixture_names() -> BTreeSet<String> {
    std::fs::read_to_string(fixtures().join("zk38_metric_names.txt"))
        .unwrap()
        .lines()
        .filter(|l| !l.starts_with('#') && !l.trim().is_empty())
        .map(|l| l.trim().to_string())
        .collect()
}

fn zk_admin_fixture(name: &str) -> Value {
    let text = std::fs::read_to_string(fixtures().join("zk38_admin").join(format!("{name}.json")))
        .unwrap();
    serde_json::from_str(&text).unwrap()
}

/// Every key of `zk` (recursively into objects) must be in `ours`.
fn assert_has_zk_fields(cmd: &str, zk: &Value, ours: &Value, at: &str) {
    let (Some(zo), Some(oo)) = (zk.as_object(), ours.as_object()) else {
        return;
    };
    for (k, zv) in zo {
        let Some(ov) = oo.get(k) else {
            panic!(
                "{cmd}: field {at}{k} that ZooKeeper 3.8 answers is missing; rzk answered {ours:#}"
            );
        };
        // Maps keyed by ids or paths are data, not shape: compare only fixed-key objects.
        let data_map = [
            "current_config",
            "session_id_to_watched_paths",
            "path_to_session_ids",
            "expiry_time_to_session_ids",
            "session_id_to_ephemeral_paths",
        ];
        if zv.is_object() && !data_map.contains(&k.as_str()) {
            assert_has_zk_fields(cmd, zv, ov, &format!("{at}{k}."));
        }
    }
}

async fn client(s: &Server) -> zk::Client {
    zk::Client::connector()
        .with_session_timeout(Duration::from_secs(5))
        .connect(&s.connect_string())
        .await
        .expect("connect")
}

fn eventually(what: &str, mut f: impl FnMut() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(20);
    while !f() {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(50));
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn metrics_follow_the_server_state() {
    let s = Server::start(&[("rzk.fsyncProbeIntervalMs", "100")]);
    let before = s.scrape();
    assert_eq!(before.get("rzk_server_role{role=\"standalone\"}"), 1.0);
    for r in ["leader", "follower", "observer", "looking"] {
        assert_eq!(
            before.get(&format!("rzk_server_role{{role=\"{r}\"}}")),
            0.0,
            "{r}"
        );
    }
    assert_eq!(before.get("rzk_quorum_healthy"), 1.0);
    assert_eq!(before.get("num_alive_connections"), 0.0);
    assert_eq!(
        before.types.get("znode_count").map(String::as_str),
        Some("gauge")
    );
    // Ensemble-only metrics are absent in standalone mode, as in ZooKeeper.
    for n in [
        "quorum_size",
        "learners",
        "synced_followers",
        "leader_uptime",
        "election_time",
    ] {
        assert!(
            !before.types.contains_key(n),
            "{n} exported by a standalone server"
        );
    }

    const N: usize = 12;
    const EPH: usize = 3;
    const WATCHED: usize = 5;
    let c = client(&s).await;
    let persistent = zk::CreateMode::Persistent.with_acls(zk::Acls::anyone_all());
    let ephemeral = zk::CreateMode::Ephemeral.with_acls(zk::Acls::anyone_all());
    c.create("/obs", b"x", &persistent).await.unwrap();
    for i in 1..N {
        c.create(&format!("/obs/n{i}"), b"0123456789", &persistent)
            .await
            .unwrap();
    }
    for i in 0..EPH {
        c.create(&format!("/obs/e{i}"), b"", &ephemeral)
            .await
            .unwrap();
    }
    let mut watchers = Vec::new();
    for i in 1..=WATCHED {
        let (_, _, w) = c.get_and_watch_data(&format!("/obs/n{i}")).await.unwrap();
        watchers.push(w);
    }

    let after = s.scrape();
    let d = |k: &str| after.get(k) - before.get(k);
    assert_eq!(d("znode_count"), (N + EPH) as f64);
    assert_eq!(d("ephemerals_count"), EPH as f64);
    assert_eq!(d("watch_count"), WATCHED as f64);
    assert_eq!(d("num_alive_connections"), 1.0);
    assert_eq!(d("global_sessions"), 1.0);
    assert!(
        d("approximate_data_size") >= (10 * (N - 1)) as f64,
        "{}",
        d("approximate_data_size")
    );
    assert!(d("packets_received") >= (N + EPH + WATCHED) as f64);
    assert!(d("packets_sent") >= (N + EPH + WATCHED) as f64);
    assert!(after.get("rzk_request_latency_seconds_count") >= (N + EPH + WATCHED) as f64);
    assert!(after.get("rzk_raft_last_applied_index") > before.get("rzk_raft_last_applied_index"));
    assert!(after.get("rzk_raft_last_log_index") >= after.get("rzk_raft_last_applied_index"));
    assert!(after.get("rzk_raft_term") >= 1.0);
    assert_eq!(
        after.get("rzk_raft_leader_id"),
        after.get("rzk_raft_server_id")
    );
    assert!(after.get("uptime") > 0.0);
    assert!(after.get("max_latency") >= after.get("min_latency"));
    assert!(
        after.get("process_open_fds") > 0.0 && after.get("process_resident_memory_bytes") > 0.0
    );
    assert_eq!(after.get("outstanding_requests"), 0.0);
    assert_eq!(
        after
            .types
            .get("rzk_request_latency_seconds")
            .map(String::as_str),
        Some("histogram")
    );

    assert_reports_agree(&s);

    // The 4lw mntr and the scrape agree on the tree.
    let mntr = four_letter(s.client, "mntr").unwrap();
    let mntr: BTreeMap<&str, &str> = mntr.lines().filter_map(|l| l.split_once('\t')).collect();
    assert_eq!(
        mntr["zk_znode_count"].parse::<f64>().unwrap(),
        after.get("znode_count")
    );
    assert_eq!(
        mntr["zk_ephemerals_count"].parse::<f64>().unwrap(),
        after.get("ephemerals_count")
    );
    assert_eq!(
        mntr["zk_watch_count"].parse::<f64>().unwrap(),
        after.get("watch_count")
    );

    // A fired watch is gone.
    c.set_data("/obs/n1", b"changed", None).await.unwrap();
    eventually("watch_count to drop by one", || {
        s.scrape().get("watch_count") == after.get("watch_count") - 1.0
    });

    // Closing the session removes its ephemerals, watches and connection.
    drop(watchers);
    drop(c);
    eventually("session close to show in metrics", || {
        let m = s.scrape();
        m.get("num_alive_connections") == before.get("num_alive_connections")
            && m.get("ephemerals_count") == before.get("ephemerals_count")
            && m.get("global_sessions") == before.get("global_sessions")
            && m.get("watch_count") == before.get("watch_count")
    });
    assert_eq!(
        s.scrape().get("znode_count"),
        before.get("znode_count") + N as f64
    );

    // The disk probe fsyncs in dataLogDir.
    eventually("fsync probes", || {
        s.scrape().get("rzk_fsync_probe_seconds_count") >= 2.0
    });
    assert!(s
        .dir
        .path()
        .join("data")
        .join(rzk_server::metrics::FSYNC_PROBE_FILE)
        .exists());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn metric_names_match_zookeeper_38() {
    let s = Server::start(&[]);
    let zk_names = zk_fixture_names();
    assert!(zk_names.len() > 100, "fixture looks truncated");
    let scrape = s.scrape();
    let ours: BTreeSet<&String> = scrape.types.keys().collect();

    // Every name we claim as ZooKeeper-compatible is one ZooKeeper 3.8 exports.
    let bad: Vec<&&str> = rzk_server::metrics::ZK_COMPATIBLE
        .iter()
        .filter(|n| !zk_names.contains(**n))
        .collect();
    assert!(
        bad.is_empty(),
        "claimed ZooKeeper-compatible but not exported by ZooKeeper 3.8: {bad:?}"
    );
    // Everything we export is either one of those or under rzk_.
    let mut shared = Vec::new();
    for n in &ours {
        if n.starts_with("rzk_") {
            continue;
        }
        assert!(
            rzk_server::metrics::ZK_COMPATIBLE.contains(&n.as_str()),
            "{n} is exported without the rzk_ prefix but not listed in ZK_COMPATIBLE"
        );
        assert!(
            zk_names.contains(n.as_str()),
            "{n} is not a ZooKeeper 3.8 metric"
        );
        shared.push(n.as_str());
    }
    // And their types agree with ZooKeeper's.
    let zk_scrape = Scrape::parse(
        &std::fs::read_to_string(fixtures().join("zk38_metrics_leader.txt"))
            .unwrap()
            .replace(",}", "}"),
    );
    for n in &shared {
        if let Some(t) = zk_scrape.types.get(*n) {
            assert_eq!(scrape.types.get(*n), Some(t), "type of {n}");
        }
    }
    eprintln!(
        "{} names shared with ZooKeeper 3.8 in standalone mode: {}",
        shared.len(),
        shared.join(" ")
    );
    for core in [
        "znode_count",
        "watch_count",
        "ephemerals_count",
        "approximate_data_size",
        "num_alive_connections",
        "outstanding_requests",
        "packets_received",
        "packets_sent",
        "avg_latency",
        "min_latency",
        "max_latency",
        "global_sessions",
        "uptime",
    ] {
        assert!(shared.contains(&core), "{core} missing from the scrape");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn admin_commands_answer_like_zookeeper() {
    let s = Server::start(&[]);
    let c = client(&s).await;
    let persistent = zk::CreateMode::Persistent.with_acls(zk::Acls::anyone_all());
    let ephemeral = zk::CreateMode::Ephemeral.with_acls(zk::Acls::anyone_all());
    c.create("/adm", b"x", &persistent).await.unwrap();
    c.create("/adm/e", b"", &ephemeral).await.unwrap();
    let (_, _, _w1) = c.get_and_watch_data("/adm").await.unwrap();
    let (_, _, _w2) = c.get_and_watch_data("/adm/e").await.unwrap();
    let sid = c.session_id().0;

    // Shapes: at least the fields ZooKeeper 3.8 answers (standalone captures).
    for (cmd, fixture) in [
        ("ruok", "ruok"),
        ("srvr", "srvr"),
        ("server_stats", "srvr"),
        ("stat", "stat"),
        ("stats", "stat"),
        ("conf", "conf"),
        ("configuration", "conf"),
        ("cons", "cons"),
        ("connections", "cons"),
        ("wchs", "wchs"),
        ("watch_summary", "wchs"),
        ("watches", "watches"),
        ("watches_by_path", "watches_by_path"),
        ("dump", "dump"),
        ("is_read_only", "is_read_only"),
        ("isro", "is_read_only"),
        ("envi", "envi"),
        ("environment", "envi"),
        ("dirs", "dirs"),
        ("leader", "leader"),
        ("voting_view", "voting_view"),
        ("observers", "observers"),
        ("zabstate", "zabstate"),
        ("initial_configuration", "initial_configuration"),
    ] {
        let zk = zk_admin_fixture(fixture);
        let ours = s.admin(cmd);
        assert_eq!(ours["command"], zk["command"], "{cmd}: command name");
        assert_has_zk_fields(cmd, &zk, &ours, "");
    }
    // mntr/monitor: ZooKeeper's non-JVM keys that rzk shares.
    let mon = s.admin("mntr");
    assert_eq!(mon["command"], "monitor");
    let zk_mon = zk_admin_fixture("mntr");
    for k in [
        "znode_count",
        "watch_count",
        "ephemerals_count",
        "approximate_data_size",
        "num_alive_connections",
        "outstanding_requests",
        "packets_received",
        "packets_sent",
        "avg_latency",
        "min_latency",
        "max_latency",
        "global_sessions",
        "uptime",
        "server_state",
        "version",
        "open_file_descriptor_count",
        "max_file_descriptor_count",
    ] {
        assert!(zk_mon.get(k).is_some(), "fixture lacks {k}");
        assert!(mon.get(k).is_some(), "monitor lacks {k}: {mon:#}");
    }

    // Values.
    assert_eq!(s.admin("ruok")["error"], Value::Null);
    let srvr = s.admin("srvr");
    assert_eq!(srvr["server_stats"]["server_state"], "standalone");
    assert_eq!(srvr["server_stats"]["num_alive_client_connections"], 1);
    assert_eq!(srvr["read_only"], false);
    let scrape = s.scrape();
    assert_eq!(
        srvr["node_count"].as_f64().unwrap(),
        scrape.get("znode_count")
    );
    assert_eq!(
        mon["znode_count"].as_f64().unwrap(),
        scrape.get("znode_count")
    );
    assert_eq!(mon["server_state"], "standalone");
    assert_eq!(mon["rzk_server_role{role=\"standalone\"}"], 1.0);
    let stat = s.admin("stat");
    assert_eq!(stat["connections"].as_array().unwrap().len(), 1);
    let cons = s.admin("cons");
    assert_eq!(cons["connections"][0]["session_id"].as_i64(), Some(sid));
    assert_eq!(cons["connections"][0]["session_timeout"], 5000);
    let conf = s.admin("conf");
    assert_eq!(conf["client_port"], s.client);
    assert_eq!(conf["tick_time"], 500);
    assert_eq!(conf["min_session_timeout"], 1000);
    assert_eq!(conf["max_session_timeout"], 10000);
    let wchs = s.admin("wchs");
    assert_eq!(
        (
            wchs["num_connections"].as_u64(),
            wchs["num_paths"].as_u64(),
            wchs["num_total_watches"].as_u64()
        ),
        (Some(1), Some(2), Some(2))
    );
    let watches = s.admin("watches");
    let mut paths: Vec<&str> = watches["session_id_to_watched_paths"][sid.to_string()]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_str().unwrap())
        .collect();
    paths.sort();
    assert_eq!(paths, ["/adm", "/adm/e"]);
    assert_eq!(
        s.admin("watches_by_path")["path_to_session_ids"]["/adm"][0].as_i64(),
        Some(sid)
    );
    assert_eq!(
        s.admin("dump")["session_id_to_ephemeral_paths"][sid.to_string()][0],
        "/adm/e"
    );
    assert_eq!(s.admin("leader")["error"], "server is not initialized");
    assert_eq!(
        s.admin("voting_view")["current_config"],
        serde_json::json!({})
    );
    assert_eq!(s.admin("is_read_only")["read_only"], false);
    assert!(s.admin("dirs")["datadir_size"].as_u64().unwrap() > 0);
    assert!(s.admin("envi")["zookeeper.version"]
        .as_str()
        .unwrap()
        .contains("rzk"));
    assert!(s.admin("initial_configuration")["initial_configuration"]
        .as_str()
        .unwrap()
        .contains(&format!("clientPort={}", s.client)));
    let z = s.admin("zabstate");
    assert_eq!(
        (z["voting"].as_bool(), z["zabstate"].as_str()),
        (Some(false), Some(""))
    );

    // Unknown commands, the index, other paths.
    let nope = s.admin("nope");
    assert_eq!(
        (nope["command"].as_str(), nope["error"].as_str()),
        (Some("nope"), Some("Unknown command: nope"))
    );
    assert_eq!(s.admin("RUOK")["error"], "Unknown command: RUOK");
    assert_eq!(s.admin("ruok?x=1")["command"], "ruok");
    for p in ["/commands", "/commands/"] {
        let (st, body) = http_get(s.admin, p).unwrap();
        assert_eq!(st, 200);
        for cmd in [
            "ruok",
            "server_stats",
            "stats",
            "monitor",
            "configuration",
            "connections",
            "watch_summary",
            "leader",
            "voting_view",
            "is_read_only",
            "environment",
            "dirs",
        ] {
            assert!(
                body.contains(&format!("<a href=\"/commands/{cmd}\">{cmd}</a>")),
                "{p} lacks {cmd}:\n{body}"
            );
        }
    }
    assert_eq!(http_get(s.admin, "/").unwrap().0, 404);
    assert_eq!(http_get(s.admin, "/commandsx").unwrap().0, 404);
    assert_eq!(http_get(s.metrics, "/").unwrap().0, 404);
    let head = http_raw(s.admin, b"HEAD /commands/ruok HTTP/1.1\r\n\r\n").unwrap();
    let head = String::from_utf8_lossy(&head);
    assert!(
        head.starts_with("HTTP/1.1 200")
            && head.contains("application/json")
            && head.ends_with("\r\n\r\n"),
        "{head}"
    );
    let post = http_raw(
        s.admin,
        b"POST /commands/ruok HTTP/1.1\r\nContent-Length: 0\r\n\r\n",
    )
    .unwrap();
    assert!(String::from_utf8_lossy(&post).starts_with("HTTP/1.1 405"));

    // srst resets the latency/packet stats; crst answers.
    assert_eq!(s.admin("srst")["command"], "stat_reset");
    assert_eq!(s.admin("crst")["command"], "connection_stat_reset");
    drop(c);
}

#[test]
fn garbage_does_not_hurt_the_http_ports() {
    let s = Server::start(&[]);
    let mut x: u64 = 0x2545f4914f6cdd1d;
    let mut rnd = move || {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        x
    };
    for port in [s.admin, s.metrics] {
        for i in 0..60 {
            let req: Vec<u8> = match i % 6 {
                0 => (0..(rnd() % 300)).map(|_| rnd() as u8).collect(),
                1 => format!("GET /{} HTTP/1.1\r\n\r\n", "a".repeat(40_000)).into_bytes(),
                2 => b"GET /commands/%ff%fe HTTP/1.1\r\n\r\n".to_vec(),
                3 => b"\r\n\r\n".to_vec(),
                4 => format!(
                    "GET /metrics HTTP/1.1\r\n{}\r\n\r\n",
                    "X-A: b\r\n".repeat(5000)
                )
                .into_bytes(),
                _ => b"GET /commands/ruok HTTP/9.9 x\r\n\r\n".to_vec(),
            };
            if let Ok(resp) = http_raw(port, &req) {
                let resp = String::from_utf8_lossy(&resp);
                assert!(resp.is_empty() || resp.starts_with("HTTP/1.1 "), "{resp}");
            }
        }
        // Clients that connect and say nothing, or stop halfway, do not block others.
        let idle: Vec<TcpStream> = (0..10)
            .filter_map(|_| TcpStream::connect(("127.0.0.1", port)).ok())
            .collect();
        let mut half = TcpStream::connect(("127.0.0.1", port)).unwrap();
        half.write_all(b"GET /commands/ruok HTTP/1.1\r\nHost: x")
            .unwrap();
        let (st, _) = http_get(
            port,
            if port == s.admin {
                "/commands/ruok"
            } else {
                "/metrics"
            },
        )
        .unwrap();
        assert_eq!(st, 200);
        drop(idle);
    }
    assert_eq!(four_letter(s.client, "ruok").as_deref(), Some("imok"));
    assert_eq!(s.admin("ruok")["error"], Value::Null);
}

#[test]
fn configuration_switches_the_endpoints() {
    // Explicitly off: ZooKeeper's default provider, admin disabled.
    let off = Server::start(&[
        ("admin.enableServer", "false"),
        (
            "metricsProvider.className",
            "org.apache.zookeeper.metrics.impl.DefaultMetricsProvider",
        ),
    ]);
    std::thread::sleep(Duration::from_millis(300));
    // Nobody listens there: we can bind the port ourselves (a connect() could self-connect).
    assert!(
        TcpListener::bind(("127.0.0.1", off.admin)).is_ok(),
        "admin port in use with admin.enableServer=false"
    );
    assert!(
        TcpListener::bind(("127.0.0.1", off.metrics)).is_ok(),
        "metrics port in use with the default provider"
    );
    drop(off);

    // ZooKeeper's Prometheus provider named explicitly, custom command URL.
    let on = Server::start(&[
        (
            "metricsProvider.className",
            "org.apache.zookeeper.metrics.prometheus.PrometheusMetricsProvider",
        ),
        ("admin.commandURL", "/zk"),
    ]);
    assert!(on.scrape().get("znode_count") >= 1.0);
    let (st, body) = http_get(on.admin, "/zk/ruok").unwrap();
    assert_eq!(st, 200, "{body}");
    assert!(body.contains("\"ruok\""));
    assert_eq!(http_get(on.admin, "/commands/ruok").unwrap().0, 404);

    // A port that is taken does not stop the server.
    let blocker = TcpListener::bind("127.0.0.1:0").unwrap();
    let taken = blocker.local_addr().unwrap().port().to_string();
    let busy = Server::start(&[
        ("admin.serverPort", &taken),
        ("metricsProvider.httpPort", &taken),
    ]);
    assert_eq!(four_letter(busy.client, "ruok").as_deref(), Some("imok"));
}

/// Role (from `rzk_server_role`) of a scrape.
fn role_of(m: &Scrape) -> &'static str {
    for r in ["standalone", "leader", "follower", "observer", "looking"] {
        if m.samples.get(&format!("rzk_server_role{{role=\"{r}\"}}")) == Some(&1.0) {
            return r;
        }
    }
    "none"
}

/// Three participants on loopback, each with its own metrics and admin ports.
fn ensemble(extra: &[(&str, &str)]) -> Vec<Server> {
    let ports: Vec<(u16, u16, u16, u16, u16)> = (0..3)
        .map(|_| {
            (
                free_port(),
                free_port(),
                free_port(),
                free_port(),
                free_port(),
            )
        })
        .collect();
    let lines: Vec<(String, String)> = ports
        .iter()
        .enumerate()
        .map(|(i, (client, quorum, election, _, _))| {
            (
                format!("server.{}", i + 1),
                format!("127.0.0.1:{quorum}:{election}:participant;127.0.0.1:{client}"),
            )
        })
        .collect();
    let mut servers: Vec<Server> = ports
        .iter()
        .enumerate()
        .map(|(i, (client, _, _, admin, metrics))| {
            let dir = tempfile::Builder::new()
                .prefix("rzk-obs-ens-")
                .tempdir()
                .unwrap();
            std::fs::create_dir_all(dir.path().join("data")).unwrap();
            std::fs::write(dir.path().join("data/myid"), format!("{}\n", i + 1)).unwrap();
            let mut cfg: Vec<(String, String)> = vec![
                ("initLimit".into(), "10".into()),
                ("syncLimit".into(), "4".into()),
            ];
            cfg.extend(lines.iter().cloned());
            cfg.extend(extra.iter().map(|(k, v)| (k.to_string(), v.to_string())));
            Server::launch(dir, *client, *admin, *metrics, cfg)
        })
        .collect();
    for s in servers.iter_mut() {
        s.wait_ruok();
    }
    servers
}

/// Waits until the live members agree on one leader; its index.
fn wait_one_leader(servers: &[Server], live: &[usize]) -> usize {
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let roles: Vec<(usize, &str)> = live
            .iter()
            .map(|i| (*i, servers[*i].try_scrape().map_or("down", |m| role_of(&m))))
            .collect();
        let leaders: Vec<usize> = roles
            .iter()
            .filter(|r| r.1 == "leader")
            .map(|r| r.0)
            .collect();
        if leaders.len() == 1 && roles.iter().all(|r| r.1 == "leader" || r.1 == "follower") {
            return leaders[0];
        }
        if Instant::now() > deadline {
            let logs: String = servers
                .iter()
                .map(|s| s.log())
                .collect::<Vec<_>>()
                .join("\n-----\n");
            panic!("no single leader: {roles:?}\n{logs}");
        }
        std::thread::sleep(Duration::from_millis(100));
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ensemble_roles_lag_and_leader_change() {
    let servers = ensemble(&[("rzk.syncedLagEntries", "5")]);
    let leader = wait_one_leader(&servers, &[0, 1, 2]);
    let followers: Vec<usize> = (0..3).filter(|i| *i != leader).collect();
    let lid = (leader + 1) as f64;

    // Leader view: ZooKeeper's leader metrics and per-follower replication.
    eventually("leader to see both followers synced", || {
        let m = servers[leader].scrape();
        m.samples.get("synced_followers") == Some(&2.0) && m.samples.get("learners") == Some(&2.0)
    });
    assert_reports_agree(&servers[leader]);
    assert_reports_agree(&servers[followers[0]]);
    let m = servers[leader].scrape();
    assert_eq!(m.get("quorum_size"), 3.0);
    assert!(m.get("leader_uptime") >= 0.0);
    assert_eq!(m.get("rzk_quorum_healthy"), 1.0);
    assert_eq!(m.get("rzk_raft_leader_id"), lid);
    assert!(
        m.get("election_time_count") >= 1.0,
        "the first election is timed"
    );
    assert_eq!(m.get("rzk_raft_voters"), 3.0);
    for f in &followers {
        let peer = format!("{{peer=\"{}\"}}", f + 1);
        assert!(
            m.samples
                .contains_key(&format!("rzk_raft_replication_lag_entries{peer}")),
            "no lag for {peer}"
        );
        assert!(m
            .samples
            .contains_key(&format!("rzk_raft_replication_matched_index{peer}")));
    }
    assert!(m.get("rzk_raft_commit_index") >= 1.0);
    for f in &followers {
        let fm = servers[*f].scrape();
        assert_eq!(role_of(&fm), "follower");
        assert_eq!(fm.get("quorum_size"), 3.0);
        assert_eq!(fm.get("rzk_raft_leader_id"), lid);
        assert_eq!(fm.get("rzk_quorum_healthy"), 1.0);
        assert!(
            !fm.types.contains_key("synced_followers") && !fm.types.contains_key("leader_uptime"),
            "leader-only metrics on a follower"
        );
        assert!(!fm.types.contains_key("rzk_raft_replication_lag_entries"));
    }

    // Admin commands in an ensemble.
    let f0 = &servers[followers[0]];
    let lead = f0.admin("leader");
    assert_eq!(
        (
            lead["is_leader"].as_bool(),
            lead["leader_id"].as_u64(),
            lead["leader_ip"].as_str()
        ),
        (Some(false), Some(leader as u64 + 1), Some("127.0.0.1"))
    );
    assert_eq!(servers[leader].admin("lead")["is_leader"], true);
    let vv = f0.admin("voting_view");
    let cc = vv["current_config"].as_object().unwrap();
    assert_eq!(cc.len(), 3);
    assert_has_zk_fields(
        "voting_view",
        &zk_admin_fixture("ensemble_leader_voting_view")["current_config"]["1"],
        &cc["1"],
        "current_config.1.",
    );
    assert_eq!(cc["2"]["learner_type"], "participant");
    assert_eq!(f0.admin("srvr")["server_stats"]["server_state"], "follower");
    assert_eq!(
        servers[leader].admin("srvr")["server_stats"]["server_state"],
        "leader"
    );
    let z = servers[leader].admin("zabstate");
    assert_eq!(
        (
            z["voting"].as_bool(),
            z["zabstate"].as_str(),
            z["is_leader"].as_bool()
        ),
        (Some(true), Some("broadcast"), Some(true))
    );
    for (cmd, fx) in [
        ("srvr", "ensemble_leader_srvr"),
        ("leader", "ensemble_leader_leader"),
        ("conf", "ensemble_leader_conf"),
    ] {
        let ours = servers[leader].admin(cmd);
        let mut zk = zk_admin_fixture(fx);
        // ZooKeeper's leader also reports proposal sizes, which rzk does not track.
        zk.as_object_mut().unwrap().remove("proposal_stats");
        assert_has_zk_fields(cmd, &zk, &ours, "");
    }

    // Writes reach every member's data tree.
    let c = client(&servers[leader]).await;
    let persistent = zk::CreateMode::Persistent.with_acls(zk::Acls::anyone_all());
    c.create("/ens", b"", &persistent).await.unwrap();
    for i in 0..10 {
        c.create(&format!("/ens/a{i}"), b"", &persistent)
            .await
            .unwrap();
    }
    let want = servers[leader].scrape().get("znode_count");
    for f in &followers {
        eventually("followers to apply the writes", || {
            servers[*f].scrape().get("znode_count") == want
        });
    }

    // A paused follower falls behind: its lag grows with writes and it stops counting as synced.
    let paused = followers[0];
    let ppeer = format!(
        "rzk_raft_replication_lag_entries{{peer=\"{}\"}}",
        paused + 1
    );
    servers[paused].signal("STOP");
    for i in 0..20 {
        c.create(&format!("/ens/b{i}"), b"", &persistent)
            .await
            .unwrap();
    }
    eventually("lag of the paused follower", || {
        let m = servers[leader].scrape();
        m.get(&ppeer) >= 20.0 && m.get("synced_followers") == 1.0
    });
    assert_eq!(
        servers[leader].scrape().get("rzk_quorum_healthy"),
        1.0,
        "two of three still form a quorum"
    );
    servers[paused].signal("CONT");
    eventually("the resumed follower to catch up", || {
        let m = servers[leader].scrape();
        m.get(&ppeer) == 0.0 && m.get("synced_followers") == 2.0
    });
    drop(c);

    // Killing the leader: the survivors elect a new one and count the change.
    let before: Vec<(f64, f64)> = followers
        .iter()
        .map(|f| {
            let m = servers[*f].scrape();
            (
                m.get("rzk_raft_leader_changes_total"),
                m.get("election_time_count"),
            )
        })
        .collect();
    servers[leader].signal("KILL");
    let new_leader = wait_one_leader(&servers, &followers);
    assert_ne!(new_leader, leader);
    for (f, (changes, elections)) in followers.iter().zip(before) {
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            let m = servers[*f].scrape();
            let got = (
                m.get("rzk_raft_leader_changes_total"),
                m.get("election_time_count"),
                m.get("looking_count"),
                m.get("rzk_raft_leader_id"),
            );
            if got.0 > changes
                && got.1 > elections
                && got.2 >= 1.0
                && got.3 == (new_leader + 1) as f64
            {
                break;
            }
            assert!(
                Instant::now() < deadline,
                "member {}: (leader changes, elections, looking, leader) = {got:?}, before ({changes}, {elections}), new leader {}",
                f + 1,
                new_leader + 1
            );
            std::thread::sleep(Duration::from_millis(100));
        }
    }
    let m = servers[new_leader].scrape();
    assert_eq!(role_of(&m), "leader");
    assert_eq!(m.get("quorum_size"), 3.0);
    eventually("the new leader to see one synced follower", || {
        servers[new_leader].scrape().get("synced_followers") == 1.0
    });
    assert_eq!(servers[new_leader].scrape().get("rzk_quorum_healthy"), 1.0);
}
