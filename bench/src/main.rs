//! rzk-bench: a load generator speaking the ZooKeeper client protocol, for rzk and Apache ZooKeeper.
//!
//! ```text
//! rzk-bench <workload> [options]      workloads: create set get exists children mixed churn watch
//! rzk-bench probe   [options]         time until a new session's first create succeeds
//! rzk-bench leader  --servers A,B,C   print "<index> <addr>" of the member whose srvr says leader
//! rzk-bench 4lw CMD --servers A       print a four-letter word's answer
//! ```
//! Run `rzk-bench --help` for the options.

mod client;
mod stats;
mod workload;

use std::time::Duration;

const HELP: &str = "\
rzk-bench: load generator for ZooKeeper-protocol servers (rzk, Apache ZooKeeper)

USAGE
  rzk-bench <workload> [options]
  rzk-bench probe  --servers A,B,C [--since-ns EPOCH_NS] [--max-wait 60s] [--json]
  rzk-bench leader --servers A,B,C
  rzk-bench 4lw <cmd> --servers A

WORKLOADS
  create     create persistent znodes (unique paths, one parent per session)
  set        setData on --keys existing znodes (random key), payload --payload bytes
  get        getData on --keys znodes holding --payload bytes
  exists     exists on --keys znodes
  children   getChildren on a znode with --children children
  mixed      getData / setData on --keys znodes, --reads PCT percent reads
  churn      create EPHEMERAL_SEQUENTIAL under one parent, then delete it (each request is one op)
  watch      watch fan-out: --sessions watchers set a data watch on one znode, one setData,
             time until the last notification arrives; repeated (--count rounds or --duration)

OPTIONS
  --servers LIST      comma-separated host:port (default 127.0.0.1:2181); sessions are spread over them
  --sessions N        concurrent sessions, one TCP connection each (default 32)
  --depth N           outstanding requests per session (pipelining, default 16)
  --duration D        measured time, e.g. 10s, 500ms, 2m (default 10s)
  --count N           stop after N operations (watch: N rounds) instead of a duration
  --warmup D          not measured, before --duration (default 2s; ignored with --count)
  --payload BYTES     data size for create/set/get/mixed/watch (default 100)
  --keys N            key space for set/get/exists/mixed (default 1000)
  --children N        children of the getChildren parent (default 100)
  --reads PCT         read percentage for mixed (default 90)
  --multi K           create: send K creates per request as one multi (bulk loading; --count counts znodes)
  --root PATH         parent of everything the tool creates (default /rzk-bench)
  --tag STR           name part that keeps create paths unique across runs (default: time)
  --label STR         free text copied into the report (e.g. system name)
  --session-timeout MS  requested session timeout (default 30000)
  --threads N         client runtime threads (default 1: the client competes for the same cores)
  --json              print one JSON object instead of text
";

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum Workload {
    Create,
    Set,
    Get,
    Exists,
    Children,
    Mixed,
    Churn,
    Watch,
}

impl Workload {
    fn parse(s: &str) -> Option<Workload> {
        Some(match s {
            "create" => Workload::Create,
            "set" => Workload::Set,
            "get" => Workload::Get,
            "exists" => Workload::Exists,
            "children" | "getchildren" => Workload::Children,
            "mixed" => Workload::Mixed,
            "churn" => Workload::Churn,
            "watch" => Workload::Watch,
            _ => return None,
        })
    }
    pub fn name(self) -> &'static str {
        match self {
            Workload::Create => "create",
            Workload::Set => "set",
            Workload::Get => "get",
            Workload::Exists => "exists",
            Workload::Children => "children",
            Workload::Mixed => "mixed",
            Workload::Churn => "churn",
            Workload::Watch => "watch",
        }
    }
}

#[derive(Clone, Debug)]
pub struct Opts {
    pub cmd: String,
    pub arg: Option<String>,
    pub workload: Option<Workload>,
    pub servers: Vec<String>,
    pub sessions: usize,
    pub depth: usize,
    pub duration: Duration,
    pub count: Option<u64>,
    pub warmup: Duration,
    pub payload: usize,
    pub keys: usize,
    pub children: usize,
    pub reads: u32,
    pub multi: usize,
    pub root: String,
    pub tag: String,
    pub label: String,
    pub session_timeout_ms: i32,
    pub threads: usize,
    pub json: bool,
    pub since_ns: Option<u128>,
    pub max_wait: Duration,
}

pub fn parse_duration(s: &str) -> Result<Duration, String> {
    let s = s.trim();
    let (num, mult) = if let Some(n) = s.strip_suffix("ms") {
        (n, 0.001)
    } else if let Some(n) = s.strip_suffix('s') {
        (n, 1.0)
    } else if let Some(n) = s.strip_suffix('m') {
        (n, 60.0)
    } else {
        (s, 1.0)
    };
    let v: f64 = num.parse().map_err(|_| format!("bad duration {s:?}"))?;
    if v.is_nan() || v < 0.0 {
        return Err(format!("bad duration {s:?}"));
    }
    Ok(Duration::from_secs_f64(v * mult))
}

fn parse_args(args: Vec<String>) -> Result<Opts, String> {
    let mut it = args.into_iter().peekable();
    let cmd = it
        .next()
        .ok_or_else(|| "missing workload or command (see --help)".to_string())?;
    if cmd == "--help" || cmd == "-h" || cmd == "help" {
        print!("{HELP}");
        std::process::exit(0);
    }
    let mut o = Opts {
        workload: Workload::parse(&cmd),
        cmd: cmd.clone(),
        arg: None,
        servers: vec!["127.0.0.1:2181".into()],
        sessions: 32,
        depth: 16,
        duration: Duration::from_secs(10),
        count: None,
        warmup: Duration::from_secs(2),
        payload: 100,
        keys: 1000,
        children: 100,
        reads: 90,
        multi: 1,
        root: "/rzk-bench".into(),
        tag: format!(
            "{:x}",
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map(|d| d.as_millis())
                .unwrap_or(0)
        ),
        label: String::new(),
        session_timeout_ms: 30_000,
        threads: 1,
        json: false,
        since_ns: None,
        max_wait: Duration::from_secs(60),
    };
    if o.workload.is_none() && !matches!(cmd.as_str(), "probe" | "leader" | "4lw") {
        return Err(format!("unknown workload or command {cmd:?} (see --help)"));
    }
    if cmd == "4lw" {
        o.arg = Some(it.next().ok_or("4lw needs a command, e.g. srvr")?);
    }
    while let Some(a) = it.next() {
        if a == "--json" {
            o.json = true;
            continue;
        }
        if a == "--help" || a == "-h" {
            print!("{HELP}");
            std::process::exit(0);
        }
        let (k, v) = match a.split_once('=') {
            Some((k, v)) => (k.to_string(), v.to_string()),
            None => (
                a.clone(),
                it.next().ok_or_else(|| format!("{a} needs a value"))?,
            ),
        };
        let num = |v: &str| {
            v.parse::<u64>()
                .map_err(|_| format!("{k}: not a number: {v:?}"))
        };
        match k.as_str() {
            "--servers" | "--server" => {
                o.servers = v
                    .split(',')
                    .map(|s| s.trim().to_string())
                    .filter(|s| !s.is_empty())
                    .collect();
                if o.servers.is_empty() {
                    return Err("--servers is empty".into());
                }
            }
            "--sessions" => o.sessions = num(&v)?.max(1) as usize,
            "--depth" => o.depth = num(&v)?.max(1) as usize,
            "--duration" => o.duration = parse_duration(&v)?,
            "--count" => o.count = Some(num(&v)?),
            "--warmup" => o.warmup = parse_duration(&v)?,
            "--payload" => o.payload = num(&v)? as usize,
            "--keys" => o.keys = num(&v)?.max(1) as usize,
            "--children" => o.children = num(&v)? as usize,
            "--reads" => o.reads = num(&v)?.min(100) as u32,
            "--multi" => o.multi = num(&v)?.clamp(1, 10_000) as usize,
            "--root" => o.root = v.trim_end_matches('/').to_string(),
            "--tag" => o.tag = v,
            "--label" => o.label = v,
            "--session-timeout" => o.session_timeout_ms = num(&v)? as i32,
            "--threads" => o.threads = num(&v)?.max(1) as usize,
            "--since-ns" => {
                o.since_ns = Some(
                    v.parse()
                        .map_err(|_| format!("--since-ns: bad number {v:?}"))?,
                )
            }
            "--max-wait" => o.max_wait = parse_duration(&v)?,
            _ => return Err(format!("unknown option {k} (see --help)")),
        }
    }
    if !o.root.starts_with('/') || o.root.len() < 2 {
        return Err("--root must be an absolute path below /".into());
    }
    Ok(o)
}

fn main() {
    let opts = match parse_args(std::env::args().skip(1).collect()) {
        Ok(o) => o,
        Err(e) => {
            eprintln!("rzk-bench: {e}");
            std::process::exit(2);
        }
    };
    let rt = if opts.threads <= 1 {
        tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
    } else {
        tokio::runtime::Builder::new_multi_thread()
            .worker_threads(opts.threads)
            .enable_all()
            .build()
    }
    .expect("tokio runtime");
    let result = rt.block_on(async {
        match opts.cmd.as_str() {
            "probe" => workload::probe(&opts).await,
            "leader" => workload::leader(&opts).await,
            "4lw" => {
                let cmd = opts.arg.clone().unwrap_or_default();
                let out = client::four_letter(&opts.servers[0], &cmd, Duration::from_secs(5))
                    .await
                    .map_err(|e| e.to_string())?;
                print!("{out}");
                Ok(())
            }
            _ => workload::run(&opts).await,
        }
    });
    if let Err(e) = result {
        eprintln!("rzk-bench: {e}");
        std::process::exit(1);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args(s: &str) -> Vec<String> {
        s.split_whitespace().map(String::from).collect()
    }

    #[test]
    fn durations() {
        assert_eq!(parse_duration("10s").unwrap(), Duration::from_secs(10));
        assert_eq!(parse_duration("250ms").unwrap(), Duration::from_millis(250));
        assert_eq!(parse_duration("2m").unwrap(), Duration::from_secs(120));
        assert_eq!(parse_duration("1.5").unwrap(), Duration::from_millis(1500));
        assert!(parse_duration("soon").is_err());
        assert!(parse_duration("-1s").is_err());
    }

    #[test]
    fn options() {
        let o = parse_args(args(
            "mixed --servers a:1,b:2 --sessions 4 --depth=2 --reads 50 --duration 3s --json",
        ))
        .unwrap();
        assert_eq!(o.workload, Some(Workload::Mixed));
        assert_eq!(o.servers, vec!["a:1", "b:2"]);
        assert_eq!((o.sessions, o.depth, o.reads, o.json), (4, 2, 50, true));
        assert_eq!(o.duration, Duration::from_secs(3));
        assert!(parse_args(args("nosuch")).is_err());
        assert!(parse_args(args("get --bogus 1")).is_err());
        assert!(parse_args(args("get --root relative")).is_err());
        let o = parse_args(args("4lw srvr --servers x:1")).unwrap();
        assert_eq!(o.arg.as_deref(), Some("srvr"));
    }
}
