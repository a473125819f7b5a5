//! Audit log (`audit.enable=true`): one line per client write (create, delete, setData, setAcl,
//! multi, reconfig), per ephemeral node the server deletes when its session ends, and for server
//! start and stop. The line is ZooKeeper's: tab-separated `key=value` pairs in the order session,
//! user, ip, operation, znode, znode_type, acl, then result (success, failure or invoked), so
//! tools written for ZooKeeper's audit log read it unchanged.
//!
//! As in ZooKeeper, a client operation is logged by the member the client is connected to, once
//! its result is known; an ephemeral deletion is logged by every member as it applies the close.
//! Lines go to the log target `audit` of the server log, or, with `rzk.auditLogFile=<path>`, to
//! that file only (appended, one line per event, ISO 8601 UTC time first). Audit lines are never
//! rate-limited (log_limit.rs lets the target through).

use parking_lot::Mutex;
use rzk_proto::consts::{create_mode, perms};
use rzk_tree::{Acl, Id};
use std::fs::File;
use std::io::{LineWriter, Write};
use std::net::IpAddr;
use std::path::Path;

/// The tracing target of audit lines (when they go to the server log).
pub const TARGET: &str = "audit";

pub const OP_START: &str = "serverStart";
pub const OP_STOP: &str = "serverStop";
pub const OP_CREATE: &str = "create";
pub const OP_DELETE: &str = "delete";
pub const OP_SET_DATA: &str = "setData";
pub const OP_SET_ACL: &str = "setAcl";
pub const OP_MULTI: &str = "multiOperation";
pub const OP_RECONFIG: &str = "reconfig";
pub const OP_EPHEMERAL_DELETED: &str = "ephemeralZNodeDeletionOnSessionCloseOrExpire";

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    Success,
    Failure,
    /// Logged before the outcome is known (serverStop).
    Invoked,
}

impl Outcome {
    fn as_str(self) -> &'static str {
        match self {
            Outcome::Success => "success",
            Outcome::Failure => "failure",
            Outcome::Invoked => "invoked",
        }
    }
}

/// One audit event; absent fields are left out of the line.
#[derive(Debug, Default, Clone)]
pub struct Event<'a> {
    pub session: Option<i64>,
    pub user: Option<String>,
    pub ip: Option<IpAddr>,
    pub operation: &'a str,
    pub znode: Option<&'a str>,
    pub znode_type: Option<&'static str>,
    pub acl: Option<String>,
}

/// The line for `e` with `result`, without time or level.
pub fn format(e: &Event<'_>, result: Outcome) -> String {
    let mut fields: Vec<String> = Vec::with_capacity(8);
    if let Some(s) = e.session {
        fields.push(format!("session=0x{:x}", s as u64));
    }
    if let Some(u) = &e.user {
        fields.push(format!("user={u}"));
    }
    if let Some(ip) = e.ip {
        fields.push(format!("ip={ip}"));
    }
    fields.push(format!("operation={}", e.operation));
    if let Some(z) = e.znode {
        fields.push(format!("znode={z}"));
    }
    if let Some(t) = e.znode_type {
        fields.push(format!("znode_type={t}"));
    }
    if let Some(a) = &e.acl {
        fields.push(format!("acl={a}"));
    }
    fields.push(format!("result={}", result.as_str()));
    fields.join("\t")
}

/// ZooKeeper's user field: the session's identities that have a user name, comma-separated:
/// certificate, digest and SASL identities in the order they were added, then the client
/// address (what ZooKeeper 3.8 writes: `user=bob,al,127.0.0.1` after two addauths). `super`
/// has no user name.
pub fn users(auth: &[Id]) -> Option<String> {
    let name = |id: &Id| match id.scheme.as_str() {
        "ip" | "x509" | "sasl" => Some(id.id.clone()),
        "digest" => Some(id.id.split(':').next().unwrap_or_default().to_string()),
        _ => None,
    };
    let names: Vec<String> = auth
        .iter()
        .filter(|id| id.scheme != "ip")
        .chain(auth.iter().filter(|id| id.scheme == "ip"))
        .filter_map(name)
        .collect();
    (!names.is_empty()).then(|| names.join(","))
}

/// CreateMode in lower case, as ZooKeeper logs `znode_type`.
pub fn create_mode_name(flags: i32) -> &'static str {
    match flags {
        create_mode::PERSISTENT => "persistent",
        create_mode::EPHEMERAL => "ephemeral",
        create_mode::PERSISTENT_SEQUENTIAL => "persistent_sequential",
        create_mode::EPHEMERAL_SEQUENTIAL => "ephemeral_sequential",
        create_mode::CONTAINER => "container",
        create_mode::PERSISTENT_WITH_TTL => "persistent_with_ttl",
        create_mode::PERSISTENT_SEQUENTIAL_WITH_TTL => "persistent_sequential_with_ttl",
        _ => "unknown",
    }
}

/// ZooKeeper's ACL string (`ZKUtil.aclToString`): `scheme:id:perms` per entry with the
/// permissions in the order c, d, r, w, a. ZooKeeper puts no separator between entries; nor
/// does this, so the lines compare equal.
pub fn acl_string(acl: &[Acl]) -> String {
    let mut s = String::new();
    for a in acl {
        s.push_str(&a.id.scheme);
        s.push(':');
        s.push_str(&a.id.id);
        s.push(':');
        for (bit, c) in [
            (perms::CREATE, 'c'),
            (perms::DELETE, 'd'),
            (perms::READ, 'r'),
            (perms::WRITE, 'w'),
            (perms::ADMIN, 'a'),
        ] {
            if a.perms & bit != 0 {
                s.push(c);
            }
        }
    }
    s
}

/// The user the server runs as (ZooKeeper's system user, for server start/stop and the
/// ephemeral deletions it does itself): `$USER`, else the name of the process's uid in
/// /etc/passwd, else the uid.
pub fn system_user() -> String {
    if let Ok(u) = std::env::var("USER") {
        if !u.is_empty() {
            return u;
        }
    }
    let uid = std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find_map(|l| l.strip_prefix("Uid:"))
                .and_then(|r| r.split_whitespace().next().map(str::to_string))
        })
        .unwrap_or_default();
    std::fs::read_to_string("/etc/passwd")
        .ok()
        .and_then(|p| {
            p.lines().find_map(|l| {
                let f: Vec<&str> = l.split(':').collect();
                (f.len() > 2 && f[2] == uid).then(|| f[0].to_string())
            })
        })
        .unwrap_or(uid)
}

enum Sink {
    Off,
    Log,
    File(Mutex<LineWriter<File>>),
}

/// Where audit events go; cheap to ask whether it is on.
pub struct AuditLog {
    sink: Sink,
    system_user: String,
}

impl AuditLog {
    pub fn off() -> Self {
        AuditLog {
            sink: Sink::Off,
            system_user: String::new(),
        }
    }

    /// `file`: `rzk.auditLogFile`, appended to (created if missing).
    pub fn new(enabled: bool, file: Option<&Path>) -> std::io::Result<Self> {
        if !enabled {
            return Ok(Self::off());
        }
        let sink = match file {
            Some(p) => Sink::File(Mutex::new(LineWriter::new(
                std::fs::OpenOptions::new()
                    .create(true)
                    .append(true)
                    .open(p)?,
            ))),
            None => Sink::Log,
        };
        Ok(AuditLog {
            sink,
            system_user: system_user(),
        })
    }

    pub fn enabled(&self) -> bool {
        !matches!(self.sink, Sink::Off)
    }

    pub fn log(&self, e: &Event<'_>, result: Outcome) {
        match &self.sink {
            Sink::Off => {}
            Sink::Log => tracing::info!(target: TARGET, "{}", format(e, result)),
            Sink::File(f) => {
                let mut time = String::new();
                let _ = tracing_subscriber::fmt::time::FormatTime::format_time(
                    &tracing_subscriber::fmt::time::SystemTime,
                    &mut tracing_subscriber::fmt::format::Writer::new(&mut time),
                );
                let line = format!("{time} INFO audit: {}\n", format(e, result));
                if let Err(err) = f.lock().write_all(line.as_bytes()) {
                    tracing::error!(error = %err, "cannot write the audit log");
                }
            }
        }
    }

    /// An event done by the server itself (start, stop, ephemeral deletion).
    pub fn system(&self, session: Option<i64>, operation: &str, znode: Option<&str>, r: Outcome) {
        if !self.enabled() {
            return;
        }
        self.log(
            &Event {
                session,
                user: Some(self.system_user.clone()),
                operation,
                znode,
                ..Default::default()
            },
            r,
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn line_has_zookeepers_fields_in_order() {
        let e = Event {
            session: Some(0x1934_4730_0000),
            user: users(&[
                Id::new("ip", "192.168.1.2"),
                Id::new("digest", "bob:abc="),
                Id::new("digest", "al:xyz="),
            ]),
            ip: Some("192.168.1.2".parse().unwrap()),
            operation: OP_CREATE,
            znode: Some("/a"),
            znode_type: Some(create_mode_name(create_mode::PERSISTENT)),
            acl: None,
        };
        assert_eq!(
            format(&e, Outcome::Success),
            "session=0x193447300000\tuser=bob,al,192.168.1.2\tip=192.168.1.2\toperation=create\tznode=/a\tznode_type=persistent\tresult=success"
        );
        let start = Event {
            user: Some("zk".into()),
            operation: OP_START,
            ..Default::default()
        };
        assert_eq!(
            format(&start, Outcome::Success),
            "user=zk\toperation=serverStart\tresult=success"
        );
    }

    #[test]
    fn acl_and_users() {
        let acl = vec![
            Acl {
                perms: perms::ALL,
                id: Id::new("world", "anyone"),
            },
            Acl {
                perms: perms::READ | perms::ADMIN,
                id: Id::new("ip", "10.0.0.0/8"),
            },
        ];
        assert_eq!(acl_string(&acl), "world:anyone:cdrwaip:10.0.0.0/8:ra");
        assert_eq!(users(&[Id::new("super", "")]), None);
        assert_eq!(
            users(&[Id::new("ip", "127.0.0.1"), Id::new("x509", "CN=a,O=b")]).as_deref(),
            Some("CN=a,O=b,127.0.0.1")
        );
    }

    #[test]
    fn file_sink_appends_lines() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("audit.log");
        let a = AuditLog::new(true, Some(&p)).unwrap();
        a.system(Some(5), OP_EPHEMERAL_DELETED, Some("/e"), Outcome::Success);
        a.system(None, OP_STOP, None, Outcome::Invoked);
        let text = std::fs::read_to_string(&p).unwrap();
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(lines.len(), 2);
        assert!(lines[0].ends_with(
            "operation=ephemeralZNodeDeletionOnSessionCloseOrExpire\tznode=/e\tresult=success"
        ));
        assert!(lines[0].contains(" INFO audit: session=0x5\tuser="));
        assert!(lines[1].ends_with("\toperation=serverStop\tresult=invoked"));
        assert!(!AuditLog::new(false, Some(&p)).unwrap().enabled());
    }
}
