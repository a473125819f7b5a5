//! Reading zoo.cfg: files and text, one pass over the entries (each key handled by its setter in
//! [`crate::keys::KEYS`]), then the checks that need the whole file.

use std::collections::HashMap;
use std::io::Read;
use std::path::Path;

use crate::error::{quote, ConfigError, ConfigWarning, WarningKind};
use crate::keys::{canonical_key, is_ensemble_key, setter, unlisted};
use crate::properties::{self, Entry};
use crate::types::{Origin, ServerConfig};

/// Largest config file we read (a real zoo.cfg is a few KiB).
const MAX_FILE_BYTES: u64 = 16 * 1024 * 1024;

/// Read a text file the way Java's `Properties.load(InputStream)` would
/// accept it: UTF-8 when valid, else ISO-8859-1 (what Java assumes).
pub(crate) fn read_text(path: &Path, origin: &str) -> Result<String, ConfigError> {
    let io = |reason: &str, e: std::io::Error| ConfigError::Io {
        file: origin.to_string(),
        reason: reason.to_string(),
        source: e,
    };
    let f = std::fs::File::open(path).map_err(|e| io("cannot open", e))?;
    let mut bytes = Vec::new();
    f.take(MAX_FILE_BYTES + 1)
        .read_to_end(&mut bytes)
        .map_err(|e| io("cannot read", e))?;
    if bytes.len() as u64 > MAX_FILE_BYTES {
        return Err(io(
            "cannot read",
            std::io::Error::new(
                std::io::ErrorKind::InvalidData,
                format!("file is larger than {MAX_FILE_BYTES} bytes"),
            ),
        ));
    }
    Ok(match String::from_utf8(bytes) {
        Ok(s) => s,
        Err(e) => e.into_bytes().iter().map(|&b| b as char).collect(),
    })
}

/// Parse a zoo.cfg file. `path` is used as the file name in messages.
/// A `dynamicConfigFile` it names is read too (its path as written:
/// absolute or relative to the working directory, like ZooKeeper).
pub fn parse_file(path: &Path) -> Result<(ServerConfig, Vec<ConfigWarning>), ConfigError> {
    let origin = path.display().to_string();
    let text = read_text(path, &origin)?;
    parse_str(&text, &origin)
}

/// Parse zoo.cfg text; `origin` names it in messages (e.g. `"zoo.cfg"`).
/// A `dynamicConfigFile` it names is read from disk.
pub fn parse_str(
    text: &str,
    origin: &str,
) -> Result<(ServerConfig, Vec<ConfigWarning>), ConfigError> {
    let mut p = Parser {
        file: origin.to_string(),
        warnings: Vec::new(),
    };
    let cfg = p.parse(text)?;
    Ok((cfg, p.warnings))
}

/// Parse a zoo.cfg, read `myid` from its dataDir and apply it
/// ([`ServerConfig::apply_myid`]), and check that there is a client port.
/// This is what a server wants at startup.
pub fn load(path: &Path) -> Result<(ServerConfig, Vec<ConfigWarning>), ConfigError> {
    let (mut cfg, mut warnings) = parse_file(path)?;
    let myid = crate::myid::read_myid(&cfg.data_dir)?;
    let myid_file = cfg.data_dir.join("myid");
    warnings.extend(cfg.apply_myid(myid, &myid_file)?);
    if cfg.client_address().is_none() {
        return Err(ConfigError::missing(
            &cfg.origin,
            "clientPort",
            "is not set, and this server's server.N line has no client port",
        ));
    }
    Ok((cfg, warnings))
}

pub(crate) struct Parser {
    /// The file being read (zoo.cfg, or the dynamic config file while it is read).
    pub(crate) file: String,
    pub(crate) warnings: Vec<ConfigWarning>,
}

/// What one pass over zoo.cfg's entries remembers besides the configuration itself (for the
/// checks that need the whole file).
#[derive(Default)]
pub(crate) struct Seen {
    /// `dynamicConfigFile` is set (anywhere in the file): `server.N` lines belong there.
    pub(crate) has_dynamic: bool,
    pub(crate) data_dir: bool,
    pub(crate) data_log_dir: bool,
    pub(crate) client_port_address_line: Option<usize>,
    /// `minSessionTimeout` / `maxSessionTimeout` as written (-1 = default), with their lines.
    pub(crate) min_session_timeout: Option<(i64, usize)>,
    pub(crate) max_session_timeout: Option<(i64, usize)>,
}

/// What a key's setter gets besides the configuration and the value: the entry, its canonical
/// key, the parser (for warnings and errors) and the pass's [`Seen`].
pub(crate) struct Ctx<'a> {
    pub(crate) p: &'a mut Parser,
    pub(crate) seen: &'a mut Seen,
    pub(crate) e: &'a Entry,
    pub(crate) key: &'a str,
}

impl Ctx<'_> {
    /// `file:line: key: reason`.
    pub(crate) fn err(&self, reason: impl Into<String>) -> ConfigError {
        self.p.err(self.e, self.key, reason)
    }

    /// A value parser's result, its reason turned into [`Ctx::err`].
    pub(crate) fn val<T>(&self, r: Result<T, String>) -> Result<T, ConfigError> {
        r.map_err(|reason| self.err(reason))
    }

    pub(crate) fn warn(&mut self, kind: WarningKind, message: impl Into<String>) {
        self.p.warn(self.e.line, self.key, kind, message);
    }
}

impl Parser {
    pub(crate) fn err(&self, e: &Entry, key: &str, reason: impl Into<String>) -> ConfigError {
        ConfigError::invalid(&self.file, e.line, key, reason)
    }

    pub(crate) fn warn(
        &mut self,
        line: usize,
        key: &str,
        kind: WarningKind,
        message: impl Into<String>,
    ) {
        self.warnings.push(ConfigWarning {
            file: self.file.clone(),
            line,
            key: key.to_string(),
            kind,
            message: message.into(),
        });
    }

    pub(crate) fn warn_at(
        &mut self,
        file: &str,
        line: usize,
        key: &str,
        kind: WarningKind,
        message: &str,
    ) {
        self.warnings.push(ConfigWarning {
            file: file.to_string(),
            line,
            key: key.to_string(),
            kind,
            message: message.to_string(),
        });
    }

    fn parse(&mut self, text: &str) -> Result<ServerConfig, ConfigError> {
        let entries = properties::parse(text).map_err(|e| {
            ConfigError::invalid(&self.file, e.line, e.key.clone(), e.reason.clone())
        })?;
        let mut cfg = ServerConfig::zk_defaults(&self.file);

        // Last duplicate wins (like java.util.Properties); warn about the
        // overridden ones. server.N ids are checked separately (error).
        let mut last: HashMap<String, usize> = HashMap::new();
        let keys: Vec<String> = entries.iter().map(|e| canonical_key(&e.key)).collect();
        for (i, k) in keys.iter().enumerate() {
            if !k.starts_with("server.") {
                last.insert(k.clone(), i);
            }
        }
        let mut seen = Seen {
            has_dynamic: last.contains_key("dynamicConfigFile"),
            ..Seen::default()
        };

        for (i, e) in entries.iter().enumerate() {
            let key = keys[i].as_str();
            if !key.starts_with("server.") && last.get(key) != Some(&i) {
                let winner = entries[last[key]].line;
                self.warn(
                    e.line,
                    key,
                    WarningKind::Duplicate,
                    format!("duplicate key; the value on line {winner} wins"),
                );
                continue;
            }
            if !is_ensemble_key(key) {
                cfg.origins.insert(
                    key.to_string(),
                    Origin {
                        file: self.file.clone(),
                        line: e.line,
                    },
                );
            }
            let mut x = Ctx {
                p: self,
                seen: &mut seen,
                e,
                key,
            };
            match setter(key) {
                Some(set) => set(&mut cfg, &e.value, &mut x)?,
                None => unlisted(&mut cfg, &e.value, &mut x),
            }
        }

        // dataDir / dataLogDir
        if !seen.data_dir {
            return Err(ConfigError::missing(&self.file, "dataDir", "is not set"));
        }
        if !seen.data_log_dir {
            cfg.data_log_dir = cfg.data_dir.clone();
        }

        if cfg.client_port.is_none() {
            if let Some(line) = seen.client_port_address_line {
                return Err(ConfigError::invalid(
                    &self.file,
                    line,
                    "clientPortAddress",
                    "is set but clientPort is not set",
                ));
            }
        }

        self.session_timeouts(&mut cfg, &seen)?;

        // dynamic config file
        if let Some(dyn_path) = cfg.dynamic_config_file.clone() {
            let line = cfg
                .origins
                .get("dynamicConfigFile")
                .map(|o| o.line)
                .unwrap_or(0);
            self.read_dynamic(&mut cfg, &dyn_path, line)?;
        }

        self.validate_ensemble(&mut cfg)?;
        crate::security::check(&mut cfg)?;

        // No way to get a client port at all?
        if cfg.client_port.is_none() && !cfg.servers.values().any(|s| s.client_addr.is_some()) {
            return Err(ConfigError::missing(
                &self.file,
                "clientPort",
                "is not set (and no server.N line has a client port)",
            ));
        }
        Ok(cfg)
    }

    /// Effective session timeouts: as written, or 2 / 20 ticks; min must not exceed max.
    fn session_timeouts(&self, cfg: &mut ServerConfig, seen: &Seen) -> Result<(), ConfigError> {
        let (min_st, max_st) = (seen.min_session_timeout, seen.max_session_timeout);
        let min_default = (cfg.tick_time as i64) * 2;
        let max_default = (cfg.tick_time as i64) * 20;
        let min = match min_st {
            Some((n, _)) if n >= 0 => n,
            _ => min_default,
        };
        let max = match max_st {
            Some((n, _)) if n >= 0 => n,
            _ => max_default,
        };
        if min > max {
            let explicit_min = min_st.filter(|(n, _)| *n >= 0);
            let explicit_max = max_st.filter(|(n, _)| *n >= 0);
            let (key, line, reason) = match (explicit_min, explicit_max) {
                (None, Some((_, l))) => (
                    "maxSessionTimeout",
                    l,
                    format!("{max} must not be smaller than minSessionTimeout ({min}, the default 2 * tickTime)"),
                ),
                (m, _) => (
                    "minSessionTimeout",
                    m.map(|(_, l)| l).unwrap_or(0),
                    format!("{min} must not be larger than maxSessionTimeout ({max}{})", if explicit_max.is_some() { "" } else { ", the default 20 * tickTime" }),
                ),
            };
            return Err(ConfigError::invalid(&self.file, line, key, reason));
        }
        cfg.min_session_timeout = min.min(u32::MAX as i64) as u32;
        cfg.max_session_timeout = max.min(u32::MAX as i64) as u32;
        Ok(())
    }

    fn read_dynamic(
        &mut self,
        cfg: &mut ServerConfig,
        path: &Path,
        line: usize,
    ) -> Result<(), ConfigError> {
        let dyn_name = path.display().to_string();
        let not_file = match std::fs::metadata(path) {
            Ok(m) => !m.is_file(),
            Err(err) => {
                return Err(ConfigError::invalid(
                    &self.file,
                    line,
                    "dynamicConfigFile",
                    format!("cannot read {}: {err}", quote(&dyn_name)),
                ))
            }
        };
        if not_file {
            return Err(ConfigError::invalid(
                &self.file,
                line,
                "dynamicConfigFile",
                format!("{} is not a regular file", quote(&dyn_name)),
            ));
        }
        let text = read_text(path, &dyn_name)?;
        let entries = properties::parse(&text).map_err(|e| {
            ConfigError::invalid(&dyn_name, e.line, e.key.clone(), e.reason.clone())
        })?;
        let saved = std::mem::replace(&mut self.file, dyn_name.clone());
        let result = (|| {
            for e in &entries {
                let key = e.key.as_str();
                if key == "version" {
                    return Err(self.err(e, key, "must not appear inside a dynamic config file (the version is the file name's suffix)"));
                }
                if is_ensemble_key(key) {
                    self.ensemble_entry(cfg, e, key)?;
                } else {
                    return Err(self.err(e, key, "not allowed in a dynamic config file (only server.N, group.N and weight.N; ZooKeeper rejects it too)"));
                }
            }
            Ok(())
        })();
        self.file = saved;
        result?;
        // ZooKeeper: the version is the hex suffix of the file name.
        cfg.config_version = dyn_name
            .rsplit_once('.')
            .and_then(|(_, suffix)| u64::from_str_radix(suffix, 16).ok())
            .unwrap_or(0);
        Ok(())
    }
}
