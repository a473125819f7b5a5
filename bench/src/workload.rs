//! Workload drivers: setup, pipelined session loops, watch fan-out, start/failover probe.

use crate::client::{self, Conn, Reply};
use crate::stats::{self, err_name, record, summarize, Report, Stats};
use crate::{Opts, Workload};
use rzk_proto::consts::{create_mode, event_type, op, xid};
use rzk_proto::records::{CreateResponse, WatcherEvent};
use rzk_proto::Jute;
use std::collections::VecDeque;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};
use tokio::sync::mpsc;

const NODE_EXISTS: i32 = -110;
const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);
/// A request without a reply for this long counts as an I/O error and ends its session.
const REPLY_TIMEOUT: Duration = Duration::from_secs(30);

/// Small xorshift generator: key choice and read/write mix.
struct Rng(u64);
impl Rng {
    fn next(&mut self) -> u64 {
        let mut x = self.0;
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        self.0 = x;
        x
    }
    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }
}

/// One request kind the session loop can issue.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Kind {
    Create,
    Set,
    Get,
    Exists,
    Children,
    ChurnCreate,
    Delete,
}

impl Kind {
    fn is_read(self) -> bool {
        matches!(self, Kind::Get | Kind::Exists | Kind::Children)
    }
}

struct Pending {
    xid: i32,
    kind: Kind,
    sent: Instant,
}

/// Everything sessions share during a run.
struct Plan {
    w: Workload,
    keys: Vec<String>,
    children_parent: String,
    create_parent: String,
    churn_prefix: String,
    data: Vec<u8>,
    reads: u32,
    depth: usize,
    /// Creates per request (create workload): 1 = plain create, more = one multi per request.
    multi: usize,
    /// Measurement window (duration mode) or `None` (count mode: everything counts).
    window: Option<(Instant, Instant)>,
    count: Option<u64>,
    issued: AtomicU64,
    stop: AtomicBool,
}

fn now_ns() -> u128 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_nanos())
        .unwrap_or(0)
}

fn io<E: std::fmt::Display>(e: E) -> String {
    e.to_string()
}

/// Creates `paths` (pipelined, `depth` outstanding), ignoring NodeExists. Returns the number of other errors.
async fn create_all(
    c: &mut Conn,
    paths: &[String],
    data: &[u8],
    depth: usize,
) -> Result<u64, String> {
    let mut next = 0;
    let mut inflight: VecDeque<i32> = VecDeque::new();
    let mut errors = 0;
    while next < paths.len() || !inflight.is_empty() {
        while next < paths.len() && inflight.len() < depth {
            inflight.push_back(c.push(
                op::CREATE,
                client::create_body(&paths[next], data, create_mode::PERSISTENT),
            ));
            next += 1;
        }
        c.flush().await.map_err(io)?;
        let r = tokio::time::timeout(REPLY_TIMEOUT, c.read())
            .await
            .map_err(|_| "setup: reply timed out".to_string())?
            .map_err(io)?;
        if r.xid == xid::NOTIFICATION || r.xid == xid::PING {
            continue;
        }
        if inflight.pop_front() != Some(r.xid) {
            return Err(format!("setup: out-of-order reply xid {}", r.xid));
        }
        if r.err != 0 && r.err != NODE_EXISTS {
            errors += 1;
            if errors == 1 {
                eprintln!("rzk-bench: setup create failed: {}", err_name(r.err));
            }
        }
    }
    Ok(errors)
}

/// Ensures every ancestor of `path` (and `path`) exists.
async fn ensure_path(c: &mut Conn, path: &str) -> Result<(), String> {
    let mut cur = String::new();
    let mut paths = Vec::new();
    for part in path.split('/').filter(|p| !p.is_empty()) {
        cur.push('/');
        cur.push_str(part);
        paths.push(cur.clone());
    }
    // One at a time: each parent must exist before its child.
    for p in paths {
        if create_all(c, std::slice::from_ref(&p), &[], 1).await? > 0 {
            return Err(format!("cannot create {p}"));
        }
    }
    Ok(())
}

pub async fn run(o: &Opts) -> Result<(), String> {
    let w = o.workload.expect("workload");
    if w == Workload::Watch {
        return watch_fanout(o).await;
    }
    let data = vec![b'x'; o.payload];
    let mut setup = Conn::connect(&o.servers[0], o.session_timeout_ms, CONNECT_TIMEOUT)
        .await
        .map_err(io)?;
    ensure_path(&mut setup, &o.root).await?;
    let setup_start = Instant::now();
    let mut keys = Vec::new();
    let mut children_parent = String::new();
    let create_parent = format!("{}/c-{}", o.root, o.tag);
    let churn_parent = format!("{}/churn", o.root);
    match w {
        Workload::Set | Workload::Get | Workload::Exists | Workload::Mixed => {
            let dir = format!("{}/k{}", o.root, o.payload);
            ensure_path(&mut setup, &dir).await?;
            keys = (0..o.keys).map(|i| format!("{dir}/{i}")).collect();
            create_all(&mut setup, &keys, &data, 256).await?;
        }
        Workload::Children => {
            children_parent = format!("{}/ch{}", o.root, o.children);
            ensure_path(&mut setup, &children_parent).await?;
            let kids: Vec<String> = (0..o.children)
                .map(|i| format!("{children_parent}/child-{i:06}"))
                .collect();
            create_all(&mut setup, &kids, &[], 256).await?;
        }
        Workload::Create => {
            ensure_path(&mut setup, &create_parent).await?;
            let dirs: Vec<String> = (0..o.sessions)
                .map(|i| format!("{create_parent}/s{i}"))
                .collect();
            create_all(&mut setup, &dirs, &[], 256).await?;
        }
        Workload::Churn => ensure_path(&mut setup, &churn_parent).await?,
        Workload::Watch => unreachable!(),
    }
    let setup_s = setup_start.elapsed().as_secs_f64();
    setup.close().await;

    // Connect every session (spread over the servers) and let followers catch up with the setup.
    let mut conns = Vec::with_capacity(o.sessions);
    let mut connecting = Vec::new();
    for i in 0..o.sessions {
        let addr = o.servers[i % o.servers.len()].clone();
        let to = o.session_timeout_ms;
        let root = o.root.clone();
        connecting.push(tokio::spawn(async move {
            let mut c = Conn::connect(&addr, to, CONNECT_TIMEOUT)
                .await
                .map_err(io)?;
            let mut ev = Vec::new();
            c.call(op::SYNC, client::path_body(&root), &mut ev)
                .await
                .map_err(io)?;
            Ok::<Conn, String>(c)
        }));
    }
    for h in connecting {
        conns.push(h.await.map_err(io)??);
    }

    let start = Instant::now();
    let window = if o.count.is_some() {
        None
    } else {
        Some((start + o.warmup, start + o.warmup + o.duration))
    };
    let plan = Arc::new(Plan {
        w,
        keys,
        children_parent,
        create_parent,
        churn_prefix: format!("{churn_parent}/lock-"),
        data,
        reads: o.reads,
        depth: o.depth,
        multi: o.multi.max(1),
        window,
        count: o.count,
        issued: AtomicU64::new(0),
        stop: AtomicBool::new(false),
    });
    let mut tasks = Vec::new();
    for (i, c) in conns.into_iter().enumerate() {
        let plan = plan.clone();
        tasks.push(tokio::spawn(session_loop(plan, c, i)));
    }
    let mut total = Stats::default();
    let mut first_err: Option<String> = None;
    let mut last_done = start;
    for t in tasks {
        let (st, err, done) = t.await.map_err(io)?;
        total.add(&st);
        last_done = last_done.max(done);
        if first_err.is_none() {
            first_err = err;
        }
    }
    let secs = match window {
        Some((a, b)) => (b - a).as_secs_f64(),
        None => (last_done - start).as_secs_f64(),
    };
    let ops = total.all.len();
    let mut r = Report::new();
    r.s("workload", w.name());
    if !o.label.is_empty() {
        r.s("label", o.label.clone());
    }
    r.s("servers", o.servers.join(","));
    r.i("sessions", o.sessions as i64);
    r.i("depth", o.depth as i64);
    if matches!(
        w,
        Workload::Create | Workload::Set | Workload::Get | Workload::Mixed
    ) {
        r.i("payload", o.payload as i64);
    }
    if w == Workload::Mixed {
        r.i("read_pct", o.reads as i64);
    }
    if w == Workload::Create && o.multi > 1 {
        r.i("multi", o.multi as i64);
    }
    if w == Workload::Children {
        r.i("children", o.children as i64);
    }
    r.n("setup_s", setup_s);
    r.n("seconds", secs);
    r.i("ops", ops as i64);
    r.n(
        "ops_per_s",
        if secs > 0.0 { ops as f64 / secs } else { 0.0 },
    );
    if w == Workload::Create {
        let znodes = ops * o.multi.max(1) as u64;
        r.i("znodes", znodes as i64);
        r.n(
            "znodes_per_s",
            if secs > 0.0 {
                znodes as f64 / secs
            } else {
                0.0
            },
        );
    }
    r.i("reads", total.reads as i64);
    r.i("writes", total.writes as i64);
    r.i("error_total", total.error_total() as i64);
    for (code, n) in &total.errors {
        r.errors.insert(err_name(*code), *n);
    }
    if total.io_errors > 0 {
        r.errors.insert("io".into(), total.io_errors);
    }
    r.lat("all", summarize(&total.all));
    if total.reads > 0 && total.writes > 0 {
        r.lat("read", summarize(&total.read));
        r.lat("write", summarize(&total.write));
    }
    print!("{}", if o.json { r.json() + "\n" } else { r.text() });
    if let Some(e) = first_err {
        eprintln!("rzk-bench: first session error: {e}");
    }
    Ok(())
}

/// Drives one session: keeps `depth` requests outstanding until the window ends or the count is used up.
async fn session_loop(
    plan: Arc<Plan>,
    mut c: Conn,
    idx: usize,
) -> (Stats, Option<String>, Instant) {
    let mut st = Stats::default();
    let mut rng = Rng(0x9E37_79B9_7F4A_7C15 ^ ((idx as u64 + 1) * 0x1000_0001));
    let mut inflight: VecDeque<Pending> = VecDeque::with_capacity(plan.depth);
    let mut followups: VecDeque<String> = VecDeque::new();
    let mut seq: u64 = 0;
    let my_dir = format!("{}/s{idx}", plan.create_parent);
    let mut err: Option<String> = None;
    let mut sending = true;
    let mut last_done = Instant::now();
    'outer: loop {
        // Refill the window.
        if sending {
            let now = Instant::now();
            if plan.stop.load(Ordering::Relaxed) || plan.window.is_some_and(|(_, end)| now >= end) {
                sending = false;
            }
        }
        while sending && inflight.len() < plan.depth {
            let (kind, x) = if let Some(p) = followups.pop_front() {
                (Kind::Delete, c.push(op::DELETE, client::delete_body(&p)))
            } else {
                if let Some(n) = plan.count {
                    // With --multi, --count is in znodes and each request carries `multi` of them.
                    let per = if plan.w == Workload::Create {
                        plan.multi as u64
                    } else {
                        1
                    };
                    if plan.issued.fetch_add(per, Ordering::Relaxed) >= n {
                        sending = false;
                        break;
                    }
                }
                match plan.w {
                    Workload::Create if plan.multi > 1 => {
                        let first = seq;
                        seq += plan.multi as u64;
                        let paths: Vec<String> = (first..first + plan.multi as u64)
                            .map(|n| format!("{my_dir}/n{n:010}"))
                            .collect();
                        (
                            Kind::Create,
                            c.push(op::MULTI, client::multi_create_body(&paths, &plan.data)),
                        )
                    }
                    Workload::Create => {
                        let p = format!("{my_dir}/n{seq:010}");
                        seq += 1;
                        (
                            Kind::Create,
                            c.push(
                                op::CREATE,
                                client::create_body(&p, &plan.data, create_mode::PERSISTENT),
                            ),
                        )
                    }
                    Workload::Set => {
                        let k = &plan.keys[rng.below(plan.keys.len())];
                        (
                            Kind::Set,
                            c.push(op::SET_DATA, client::set_body(k, &plan.data)),
                        )
                    }
                    Workload::Get => {
                        let k = &plan.keys[rng.below(plan.keys.len())];
                        (
                            Kind::Get,
                            c.push(op::GET_DATA, client::path_watch_body(k, false)),
                        )
                    }
                    Workload::Exists => {
                        let k = &plan.keys[rng.below(plan.keys.len())];
                        (
                            Kind::Exists,
                            c.push(op::EXISTS, client::path_watch_body(k, false)),
                        )
                    }
                    Workload::Children => (
                        Kind::Children,
                        c.push(
                            op::GET_CHILDREN,
                            client::path_watch_body(&plan.children_parent, false),
                        ),
                    ),
                    Workload::Mixed => {
                        let k = &plan.keys[rng.below(plan.keys.len())];
                        if (rng.next() % 100) < plan.reads as u64 {
                            (
                                Kind::Get,
                                c.push(op::GET_DATA, client::path_watch_body(k, false)),
                            )
                        } else {
                            (
                                Kind::Set,
                                c.push(op::SET_DATA, client::set_body(k, &plan.data)),
                            )
                        }
                    }
                    Workload::Churn => (
                        Kind::ChurnCreate,
                        c.push(
                            op::CREATE,
                            client::create_body(
                                &plan.churn_prefix,
                                &[],
                                create_mode::EPHEMERAL_SEQUENTIAL,
                            ),
                        ),
                    ),
                    Workload::Watch => unreachable!(),
                }
            };
            inflight.push_back(Pending {
                xid: x,
                kind,
                sent: Instant::now(),
            });
        }
        if inflight.is_empty() {
            break;
        }
        if let Err(e) = c.flush().await {
            st.io_errors += 1;
            err = Some(e.to_string());
            break;
        }
        // Wait for one reply, then take whatever else is already buffered.
        let first = match tokio::time::timeout(REPLY_TIMEOUT, c.read()).await {
            Ok(Ok(r)) => r,
            Ok(Err(e)) => {
                st.io_errors += 1;
                err = Some(e.to_string());
                break;
            }
            Err(_) => {
                st.io_errors += 1;
                err = Some(format!("{}: no reply within {:?}", c.addr, REPLY_TIMEOUT));
                break;
            }
        };
        let mut next = Some(first);
        while let Some(r) = next.take() {
            let done = Instant::now();
            if r.xid != xid::NOTIFICATION && r.xid != xid::PING {
                let Some(p) = inflight.pop_front() else {
                    err = Some(format!("unexpected reply xid {}", r.xid));
                    break 'outer;
                };
                if p.xid != r.xid {
                    err = Some(format!("reply xid {} while expecting {}", r.xid, p.xid));
                    st.io_errors += 1;
                    break 'outer;
                }
                last_done = done;
                handle_reply(&plan, &mut st, &mut followups, p, &r, done);
            }
            match c.try_read() {
                Ok(n) => next = n,
                Err(e) => {
                    st.io_errors += 1;
                    err = Some(e.to_string());
                    break 'outer;
                }
            }
        }
    }
    c.close().await;
    (st, err, last_done)
}

fn handle_reply(
    plan: &Plan,
    st: &mut Stats,
    followups: &mut VecDeque<String>,
    p: Pending,
    r: &Reply,
    done: Instant,
) {
    if p.kind == Kind::ChurnCreate && r.err == 0 {
        if let Ok(cr) = CreateResponse::decode(&mut rzk_proto::Reader::new(&r.body)) {
            followups.push_back(cr.path);
        }
    }
    let counted = match plan.window {
        Some((a, b)) => p.sent >= a && p.sent < b,
        None => true,
    };
    if !counted {
        return;
    }
    let us = (done - p.sent).as_micros() as u64;
    record(&mut st.all, us);
    if p.kind.is_read() {
        st.reads += 1;
        record(&mut st.read, us);
    } else {
        st.writes += 1;
        record(&mut st.write, us);
    }
    if r.err != 0 {
        *st.errors.entry(r.err).or_default() += 1;
    }
}

enum WatchMsg {
    Registered,
    Notified(Instant),
    Failed(String),
}

/// Watch fan-out: N watcher sessions, one writer; per round, every watcher registers a data watch,
/// the writer sets the node once, and the round's time is send(setData) -> last notification.
async fn watch_fanout(o: &Opts) -> Result<(), String> {
    let data = vec![b'w'; o.payload];
    let path = format!("{}/watched", o.root);
    let mut writer = Conn::connect(&o.servers[0], o.session_timeout_ms, CONNECT_TIMEOUT)
        .await
        .map_err(io)?;
    ensure_path(&mut writer, &path).await?;
    let n = o.sessions;
    let stop = Arc::new(AtomicBool::new(false));
    let (tx, mut rx) = mpsc::unbounded_channel::<WatchMsg>();
    let mut handles = Vec::new();
    for i in 0..n {
        let addr = o.servers[i % o.servers.len()].clone();
        let (to, path, tx, stop, root) = (
            o.session_timeout_ms,
            path.clone(),
            tx.clone(),
            stop.clone(),
            o.root.clone(),
        );
        handles.push(tokio::spawn(async move {
            let r = watcher(addr, to, path, root, tx.clone(), stop).await;
            if let Err(e) = r {
                let _ = tx.send(WatchMsg::Failed(e));
            }
        }));
    }
    drop(tx);
    let start = Instant::now();
    let warm_end = if o.count.is_some() {
        start
    } else {
        start + o.warmup
    };
    let end = warm_end + o.duration;
    let mut fan = stats::new_hist();
    let mut each = stats::new_hist();
    let mut set_lat = stats::new_hist();
    let mut registered = 0usize;
    let mut rounds = 0u64;
    let mut missing = 0u64;
    let mut failures: Vec<String> = Vec::new();
    let mut ev = Vec::new();
    let mut round = 0u64;
    'rounds: loop {
        if o.count.map_or(Instant::now() >= end, |c| rounds >= c) {
            break;
        }
        // Every watcher has its watch set for this round.
        while registered < n * (round as usize + 1) {
            match tokio::time::timeout(REPLY_TIMEOUT, rx.recv()).await {
                Ok(Some(WatchMsg::Registered)) => registered += 1,
                Ok(Some(WatchMsg::Failed(e))) => {
                    failures.push(e);
                    break 'rounds;
                }
                Ok(Some(WatchMsg::Notified(_))) => {}
                Ok(None) | Err(_) => {
                    failures.push("watchers stopped answering".into());
                    break 'rounds;
                }
            }
        }
        let t0 = Instant::now();
        let r = writer
            .call(op::SET_DATA, client::set_body(&path, &data), &mut ev)
            .await
            .map_err(io)?;
        let set_done = Instant::now();
        if r.err != 0 {
            return Err(format!("setData {path}: {}", err_name(r.err)));
        }
        let measured = t0 >= warm_end;
        let mut got = 0usize;
        let mut last = t0;
        let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
        while got < n {
            match tokio::time::timeout_at(deadline, rx.recv()).await {
                Ok(Some(WatchMsg::Notified(t))) => {
                    got += 1;
                    last = last.max(t);
                    if measured {
                        record(&mut each, (t.max(t0) - t0).as_micros() as u64);
                    }
                }
                Ok(Some(WatchMsg::Registered)) => registered += 1,
                Ok(Some(WatchMsg::Failed(e))) => {
                    failures.push(e);
                    missing += (n - got) as u64;
                    break;
                }
                Ok(None) | Err(_) => {
                    missing += (n - got) as u64;
                    break;
                }
            }
        }
        if measured {
            record(&mut fan, (last - t0).as_micros() as u64);
            record(&mut set_lat, (set_done - t0).as_micros() as u64);
            rounds += 1;
        }
        round += 1;
        if missing > 0 || !failures.is_empty() {
            break;
        }
    }
    stop.store(true, Ordering::Relaxed);
    let _ = writer
        .call(op::SET_DATA, client::set_body(&path, &data), &mut ev)
        .await;
    writer.close().await;
    for h in handles {
        let _ = tokio::time::timeout(Duration::from_secs(5), h).await;
    }
    let secs = (Instant::now().min(end.max(warm_end)) - warm_end).as_secs_f64();
    let mut r = Report::new();
    r.s("workload", "watch");
    if !o.label.is_empty() {
        r.s("label", o.label.clone());
    }
    r.s("servers", o.servers.join(","));
    r.i("watchers", n as i64);
    r.i("rounds", rounds as i64);
    r.n("seconds", secs);
    r.n(
        "rounds_per_s",
        if secs > 0.0 {
            rounds as f64 / secs
        } else {
            0.0
        },
    );
    r.n(
        "notifications_per_s",
        if secs > 0.0 {
            (rounds * n as u64) as f64 / secs
        } else {
            0.0
        },
    );
    r.i("error_total", (missing + failures.len() as u64) as i64);
    if missing > 0 {
        r.errors.insert("missing_notifications".into(), missing);
    }
    if !failures.is_empty() {
        r.errors
            .insert("watcher_failures".into(), failures.len() as u64);
        eprintln!("rzk-bench: first watcher failure: {}", failures[0]);
    }
    r.lat("last_notify", summarize(&fan));
    r.lat("each_notify", summarize(&each));
    r.lat("setData", summarize(&set_lat));
    print!("{}", if o.json { r.json() + "\n" } else { r.text() });
    Ok(())
}

async fn watcher(
    addr: String,
    to: i32,
    path: String,
    root: String,
    tx: mpsc::UnboundedSender<WatchMsg>,
    stop: Arc<AtomicBool>,
) -> Result<(), String> {
    let mut c = Conn::connect(&addr, to, CONNECT_TIMEOUT)
        .await
        .map_err(io)?;
    let mut ev = Vec::new();
    c.call(op::SYNC, client::path_body(&root), &mut ev)
        .await
        .map_err(io)?;
    let mut last_traffic;
    while !stop.load(Ordering::Relaxed) {
        ev.clear();
        let r = c
            .call(op::GET_DATA, client::path_watch_body(&path, true), &mut ev)
            .await
            .map_err(io)?;
        if r.err != 0 {
            return Err(format!("getData {path}: {}", err_name(r.err)));
        }
        last_traffic = Instant::now();
        if tx.send(WatchMsg::Registered).is_err() {
            break;
        }
        // Wait for the data-changed event, pinging so an idle session stays alive.
        loop {
            if stop.load(Ordering::Relaxed) {
                c.close().await;
                return Ok(());
            }
            match tokio::time::timeout(Duration::from_millis(500), c.read()).await {
                Ok(Ok(r)) if r.xid == xid::NOTIFICATION => {
                    let t = Instant::now();
                    let e =
                        WatcherEvent::decode(&mut rzk_proto::Reader::new(&r.body)).map_err(io)?;
                    if e.typ == event_type::NODE_DATA_CHANGED {
                        let _ = tx.send(WatchMsg::Notified(t));
                        break;
                    }
                }
                Ok(Ok(_)) => {}
                Ok(Err(e)) => return Err(e.to_string()),
                Err(_) => {
                    if last_traffic.elapsed() > Duration::from_millis(to as u64 / 3) {
                        c.push(op::PING, |_| {});
                        c.flush().await.map_err(io)?;
                        last_traffic = Instant::now();
                    }
                }
            }
        }
    }
    c.close().await;
    Ok(())
}

/// Polls every server with fresh sessions until one create succeeds; prints the time it took.
pub async fn probe(o: &Opts) -> Result<(), String> {
    let t_start = Instant::now();
    let since = o.since_ns.unwrap_or_else(now_ns);
    let (tx, mut rx) = mpsc::unbounded_channel::<(usize, Instant)>();
    let stop = Arc::new(AtomicBool::new(false));
    let attempts = Arc::new(AtomicU64::new(0));
    for (i, addr) in o.servers.iter().enumerate() {
        let (addr, tx, stop, attempts) = (addr.clone(), tx.clone(), stop.clone(), attempts.clone());
        let to = o.session_timeout_ms.min(4000);
        tokio::spawn(async move {
            let inflight = Arc::new(AtomicUsize::new(0));
            let mut n = 0u64;
            while !stop.load(Ordering::Relaxed) {
                if inflight.load(Ordering::Relaxed) < 4 {
                    inflight.fetch_add(1, Ordering::Relaxed);
                    attempts.fetch_add(1, Ordering::Relaxed);
                    n += 1;
                    let path = format!("/rzk-bench-probe-{}-{i}-{n}", std::process::id());
                    let (addr, tx, inflight) = (addr.clone(), tx.clone(), inflight.clone());
                    tokio::spawn(async move {
                        if let Ok(Ok(t)) = tokio::time::timeout(
                            Duration::from_secs(3),
                            probe_once(&addr, to, &path),
                        )
                        .await
                        {
                            let _ = tx.send((i, t));
                        }
                        inflight.fetch_sub(1, Ordering::Relaxed);
                    });
                }
                tokio::time::sleep(Duration::from_millis(2)).await;
            }
        });
    }
    drop(tx);
    let got = tokio::time::timeout(o.max_wait, rx.recv()).await;
    stop.store(true, Ordering::Relaxed);
    let (idx, t) = match got {
        Ok(Some(v)) => v,
        _ => return Err(format!("no successful create within {:?}", o.max_wait)),
    };
    // Wall time of success = now - (time since success).
    let done_ns = now_ns().saturating_sub(t.elapsed().as_nanos());
    let ms = done_ns.saturating_sub(since) as f64 / 1e6;
    let mut r = Report::new();
    r.s("workload", "probe");
    if !o.label.is_empty() {
        r.s("label", o.label.clone());
    }
    r.s("first_server", o.servers[idx].clone());
    r.n("ms_since_mark", ms);
    r.n("ms_probing", (t - t_start).as_secs_f64() * 1000.0);
    r.i("attempts", attempts.load(Ordering::Relaxed) as i64);
    print!("{}", if o.json { r.json() + "\n" } else { r.text() });
    Ok(())
}

async fn probe_once(addr: &str, to: i32, path: &str) -> Result<Instant, String> {
    let mut c = Conn::connect(addr, to, Duration::from_secs(3))
        .await
        .map_err(io)?;
    let mut ev = Vec::new();
    let r = c
        .call(
            op::CREATE,
            client::create_body(path, b"p", create_mode::EPHEMERAL),
            &mut ev,
        )
        .await
        .map_err(io)?;
    let t = Instant::now();
    if r.err != 0 && r.err != NODE_EXISTS {
        return Err(err_name(r.err));
    }
    tokio::spawn(c.close());
    Ok(t)
}

/// Prints "<index> <addr>" of the server whose `srvr` reports `Mode: leader` (or standalone).
pub async fn leader(o: &Opts) -> Result<(), String> {
    for (i, a) in o.servers.iter().enumerate() {
        if let Ok(out) = client::four_letter(a, "srvr", Duration::from_secs(2)).await {
            if out
                .lines()
                .any(|l| l.trim() == "Mode: leader" || l.trim() == "Mode: standalone")
            {
                println!("{i} {a}");
                return Ok(());
            }
        }
    }
    Err("no leader found".into())
}
