//! Test harness: runs the real `rzk-server` binary (built by cargo for the
//! integration tests) as a child process on a free loopback port, with its own
//! temporary directory and zoo.cfg.
//!
//! * `Server::start()` / `Server::start_with(&[(key, value)])` start it and wait
//!   until `ruok` answers `imok`;
//! * `connect_string()` is `127.0.0.1:<port>`;
//! * `kill9()` SIGKILLs it; `restart()` starts it again on the same port and
//!   data directory (after a `kill9()` if it is still running);
//! * dropping the `Server` kills the child.
//!
//! The server's stderr goes to `server.log` in the temp dir (appended across
//! restarts); its tail is printed when the server fails to come up.

#![allow(dead_code)]

use std::fs::OpenOptions;
use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// The binary cargo built for this package.
pub const SERVER_BIN: &str = env!("CARGO_BIN_EXE_rzk-server");

/// tickTime used by the harness (ms): min session timeout 2 ticks, max 20 ticks.
pub const TICK_MS: u64 = 500;

/// How long to wait for the server to answer `ruok`.
const READY_TIMEOUT: Duration = Duration::from_secs(30);

pub struct Server {
    dir: tempfile::TempDir,
    port: u16,
    extra: Vec<(String, String)>,
    child: Option<Child>,
    starts: u32,
}

/// Picks a port that is free on 127.0.0.1 right now.
fn free_port() -> u16 {
    let l = TcpListener::bind("127.0.0.1:0").expect("bind 127.0.0.1:0");
    l.local_addr().unwrap().port()
}

impl Server {
    /// Starts a server with the harness defaults.
    pub fn start() -> Server {
        Server::start_with(&[])
    }

    /// Starts a server with extra zoo.cfg lines (they override the defaults).
    pub fn start_with(extra: &[(&str, &str)]) -> Server {
        let dir = tempfile::Builder::new()
            .prefix("rzk-it-")
            .tempdir()
            .expect("temp dir");
        let mut s = Server {
            dir,
            port: free_port(),
            extra: extra
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect(),
            child: None,
            starts: 0,
        };
        s.launch();
        s
    }

    pub fn port(&self) -> u16 {
        self.port
    }

    pub fn connect_string(&self) -> String {
        format!("127.0.0.1:{}", self.port)
    }

    pub fn data_dir(&self) -> PathBuf {
        self.dir.path().join("data")
    }

    pub fn cfg_path(&self) -> PathBuf {
        self.dir.path().join("zoo.cfg")
    }

    pub fn log_path(&self) -> PathBuf {
        self.dir.path().join("server.log")
    }

    /// Sets (or with `None` removes) a zoo.cfg key; it takes effect at the next `restart()`.
    pub fn set_cfg(&mut self, key: &str, value: Option<&str>) {
        self.extra.retain(|(k, _)| k != key);
        if let Some(v) = value {
            self.extra.push((key.to_string(), v.to_string()));
        }
    }

    pub fn is_running(&mut self) -> bool {
        match self.child.as_mut() {
            None => false,
            Some(c) => matches!(c.try_wait(), Ok(None)),
        }
    }

    pub fn pid(&self) -> Option<u32> {
        self.child.as_ref().map(|c| c.id())
    }

    fn write_cfg(&self) {
        let mut cfg = vec![
            ("tickTime".to_string(), TICK_MS.to_string()),
            ("dataDir".to_string(), self.data_dir().display().to_string()),
            ("clientPort".to_string(), self.port.to_string()),
            ("clientPortAddress".to_string(), "127.0.0.1".to_string()),
            ("4lw.commands.whitelist".to_string(), "*".to_string()),
            (
                "rzk.containerCheckIntervalMs".to_string(),
                "200".to_string(),
            ),
        ];
        for (k, v) in &self.extra {
            cfg.retain(|(ck, _)| ck != k);
            cfg.push((k.clone(), v.clone()));
        }
        let text: String = cfg.iter().map(|(k, v)| format!("{k}={v}\n")).collect();
        std::fs::write(self.cfg_path(), text).expect("write zoo.cfg");
    }

    fn spawn(&mut self) -> Child {
        self.write_cfg();
        let mut log = OpenOptions::new()
            .create(true)
            .append(true)
            .open(self.log_path())
            .expect("open server.log");
        self.starts += 1;
        let _ = writeln!(
            log,
            "==== harness: start #{} on port {} ====",
            self.starts, self.port
        );
        Command::new(SERVER_BIN)
            .arg("start-foreground")
            .arg(self.cfg_path())
            .current_dir(self.dir.path())
            .env(
                "RZK_LOG",
                std::env::var("RZK_LOG").unwrap_or_else(|_| "info,openraft=warn".into()),
            )
            .stdin(Stdio::null())
            .stdout(log.try_clone().unwrap())
            .stderr(log)
            .spawn()
            .unwrap_or_else(|e| panic!("cannot run {SERVER_BIN}: {e}"))
    }

    /// Spawns the server and waits until it answers `ruok`. A start that fails
    /// only because the port is still held (bind error) is retried.
    fn launch(&mut self) {
        let deadline = Instant::now() + READY_TIMEOUT;
        loop {
            let mut child = self.spawn();
            loop {
                if let Ok(Some(status)) = child.try_wait() {
                    let log = self.log_tail(40);
                    if log.contains("cannot listen") && Instant::now() < deadline {
                        std::thread::sleep(Duration::from_millis(200));
                        break; // retry the spawn
                    }
                    panic!("rzk-server exited during startup ({status}); log tail:\n{log}");
                }
                if self.four_letter_once("ruok").as_deref() == Some("imok") {
                    self.child = Some(child);
                    return;
                }
                if Instant::now() > deadline {
                    let _ = child.kill();
                    let _ = child.wait();
                    panic!(
                        "rzk-server not ready within {READY_TIMEOUT:?}; log tail:\n{}",
                        self.log_tail(40)
                    );
                }
                std::thread::sleep(Duration::from_millis(20));
            }
        }
    }

    /// SIGKILLs the server (no-op if it is not running) and reaps it.
    pub fn kill9(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill(); // SIGKILL on Unix
            let _ = c.wait();
        }
    }

    /// Starts the server again on the same port with the same data dir
    /// (SIGKILLing it first if it is still running), and waits for readiness.
    pub fn restart(&mut self) {
        self.kill9();
        self.launch();
    }

    /// Sends a four-letter word and returns the full answer (panics on I/O errors).
    pub fn four_letter(&self, cmd: &str) -> String {
        self.four_letter_once(cmd)
            .unwrap_or_else(|| panic!("four-letter word {cmd} failed"))
    }

    fn four_letter_once(&self, cmd: &str) -> Option<String> {
        let mut s = TcpStream::connect_timeout(
            &([127, 0, 0, 1], self.port).into(),
            Duration::from_millis(500),
        )
        .ok()?;
        s.set_read_timeout(Some(Duration::from_secs(5))).ok()?;
        s.write_all(cmd.as_bytes()).ok()?;
        let mut out = String::new();
        s.read_to_string(&mut out).ok()?;
        Some(out)
    }

    /// The last `n` lines of the server log.
    pub fn log_tail(&self, n: usize) -> String {
        tail(&self.log_path(), n)
    }

    /// The whole server log.
    pub fn log(&self) -> String {
        std::fs::read_to_string(self.log_path()).unwrap_or_default()
    }
}

fn tail(path: &Path, n: usize) -> String {
    let text = std::fs::read_to_string(path).unwrap_or_default();
    let lines: Vec<&str> = text.lines().collect();
    lines[lines.len().saturating_sub(n)..].join("\n")
}

impl Drop for Server {
    fn drop(&mut self) {
        self.kill9();
        if std::thread::panicking() {
            eprintln!(
                "---- rzk-server log tail ({}) ----\n{}",
                self.log_path().display(),
                self.log_tail(60)
            );
        }
    }
}
