//! `rzk-server`: command line compatible with ZooKeeper's zkServer.sh.
//!
//! rzk-server start-foreground [zoo.cfg]   run in the foreground (no config: 127.0.0.1:2181, ./rzk-data)
//! rzk-server start [zoo.cfg]              run in the background, pidfile in dataDir
//! rzk-server stop|status|restart [zoo.cfg]
//! rzk-server import-zookeeper ZK_DATA_DIR RZK_DATA_DIR [--config zoo.cfg]   ZooKeeper's data -> rzk
//! rzk-server export-zookeeper RZK_DATA_DIR OUT_DIR                         rzk -> ZooKeeper snapshot

mod migrate;

use anyhow::{bail, Context};
use rzk_config::ServerConfig;
use std::io::{Read, Write};
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::time::Duration;
use tracing_subscriber::layer::SubscriberExt;
use tracing_subscriber::util::SubscriberInitExt;

fn load_config(path: Option<&str>) -> anyhow::Result<ServerConfig> {
    let mut cfg = match path {
        None => {
            let cwd = std::env::current_dir().context("cannot read the working directory")?;
            ServerConfig::default_standalone(&cwd)
        }
        Some(p) => {
            let (cfg, warnings) =
                rzk_config::load(Path::new(p)).map_err(|e| anyhow::anyhow!("{e}"))?;
            for w in warnings {
                tracing::warn!("{}:{}: {}: {}", w.file, w.line, w.key, w.message);
            }
            cfg
        }
    };
    std::fs::create_dir_all(&cfg.data_dir)
        .with_context(|| format!("cannot create dataDir {}", cfg.data_dir.display()))?;
    std::fs::create_dir_all(&cfg.data_log_dir)
        .with_context(|| format!("cannot create dataLogDir {}", cfg.data_log_dir.display()))?;
    let myid = rzk_config::read_myid(&cfg.data_dir).map_err(|e| anyhow::anyhow!("{e}"))?;
    let myid_file = cfg.data_dir.join("myid");
    for w in cfg
        .apply_myid(myid, &myid_file)
        .map_err(|e| anyhow::anyhow!("{e}"))?
    {
        tracing::warn!("{}:{}: {}: {}", w.file, w.line, w.key, w.message);
    }
    Ok(cfg)
}

fn pidfile(cfg: &ServerConfig) -> PathBuf {
    cfg.data_dir.join("rzk_server.pid")
}

fn srvr(cfg: &ServerConfig) -> anyhow::Result<String> {
    let (host, port) = cfg.client_address().unwrap_or(("127.0.0.1".into(), 2181));
    let host = if host == "0.0.0.0" {
        "127.0.0.1".to_string()
    } else {
        host
    };
    let mut s = TcpStream::connect((host.as_str(), port))?;
    s.set_read_timeout(Some(Duration::from_secs(5)))?;
    s.write_all(b"srvr")?;
    let mut out = String::new();
    s.read_to_string(&mut out)?;
    Ok(out)
}

fn read_pid(cfg: &ServerConfig) -> Option<i32> {
    std::fs::read_to_string(pidfile(cfg))
        .ok()?
        .trim()
        .parse()
        .ok()
}

fn alive(pid: i32) -> bool {
    Path::new(&format!("/proc/{pid}")).exists()
}

fn stop(cfg: &ServerConfig) -> anyhow::Result<()> {
    let Some(pid) = read_pid(cfg) else {
        println!(
            "no rzk server to stop (could not find file {})",
            pidfile(cfg).display()
        );
        return Ok(());
    };
    let _ = std::process::Command::new("kill")
        .arg(pid.to_string())
        .status();
    for _ in 0..100 {
        if !alive(pid) {
            break;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    let _ = std::fs::remove_file(pidfile(cfg));
    println!("STOPPED");
    Ok(())
}

fn start_background(cfg: &ServerConfig, cfg_path: Option<&str>) -> anyhow::Result<()> {
    if let Some(pid) = read_pid(cfg) {
        if alive(pid) {
            bail!("already running as process {pid}");
        }
    }
    let exe = std::env::current_exe()?;
    let log = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(cfg.data_dir.join("rzk-server.out"))?;
    let mut cmd = std::process::Command::new(exe);
    cmd.arg("start-foreground");
    if let Some(p) = cfg_path {
        cmd.arg(p);
    }
    let child = cmd
        .stdin(std::process::Stdio::null())
        .stdout(log.try_clone()?)
        .stderr(log)
        .spawn()?;
    std::fs::write(pidfile(cfg), child.id().to_string())?;
    for _ in 0..100 {
        if srvr(cfg).is_ok() {
            println!("STARTED");
            return Ok(());
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    bail!(
        "FAILED TO START (see {})",
        cfg.data_dir.join("rzk-server.out").display()
    )
}

fn main() {
    if let Err(e) = real_main() {
        eprintln!("rzk-server: {e:#}");
        std::process::exit(1);
    }
}

fn real_main() -> anyhow::Result<()> {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_env("RZK_LOG")
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info,openraft=warn")),
        )
        .with_writer(std::io::stderr)
        .finish()
        .with(rzk_server::log_limit::RateLimit)
        .init();
    let args: Vec<String> = std::env::args().collect();
    let cmd = args
        .get(1)
        .map(String::as_str)
        .unwrap_or("start-foreground");
    let cfg_path = args.get(2).map(String::as_str);
    match cmd {
        "start-foreground" => {
            let cfg = load_config(cfg_path)?;
            let rt = tokio::runtime::Builder::new_multi_thread().enable_all().build()?;
            rt.block_on(rzk_server::run(cfg))
        }
        "start" => start_background(&load_config(cfg_path)?, cfg_path),
        "stop" => stop(&load_config(cfg_path)?),
        "restart" => {
            let cfg = load_config(cfg_path)?;
            stop(&cfg)?;
            start_background(&cfg, cfg_path)
        }
        "status" => {
            let cfg = load_config(cfg_path)?;
            match srvr(&cfg) {
                Ok(out) => {
                    let mode = out.lines().find_map(|l| l.strip_prefix("Mode: ")).unwrap_or("unknown");
                    println!("Mode: {mode}");
                    Ok(())
                }
                Err(e) => bail!("Error contacting service. It is probably not running. ({e})"),
            }
        }
        "import-zookeeper" => migrate::import(&args[2..]),
        "export-zookeeper" => migrate::export(&args[2..]),
        "version" | "--version" => {
            println!("rzk-server {}", rzk_server::fourlw::VERSION);
            Ok(())
        }
        other => bail!("usage: rzk-server {{start|start-foreground|stop|restart|status|version|import-zookeeper|export-zookeeper}} [zoo.cfg] (got {other:?})"),
    }
}
