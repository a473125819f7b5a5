//! The `myid` file.

use std::path::Path;

use crate::error::{quote, ConfigError};

/// Read `<data_dir>/myid` like ZooKeeper: `Ok(None)` when there is no such
/// regular file (a standalone server needs none), otherwise the id, which
/// must be a positive integer (at most `i64::MAX`, Java's `long`).
///
/// Whitespace around the number is trimmed (ZooKeeper only strips the line
/// terminator: it rejects `" 2 "`; rzk accepts it). Errors look like
/// `/var/lib/zk/myid:1: myid: expected a positive integer, got "abc"`.
pub fn read_myid(data_dir: &Path) -> Result<Option<u64>, ConfigError> {
    let path = data_dir.join("myid");
    let name = path.display().to_string();
    match std::fs::metadata(&path) {
        Ok(m) if m.is_file() => {}
        Ok(_) => return Ok(None),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => {
            return Err(ConfigError::Io {
                file: name,
                reason: "cannot read".to_string(),
                source: e,
            })
        }
    }
    let text = crate::parser::read_text(&path, &name)?;
    parse_myid(&text, &name).map(Some)
}

/// Parse the content of a myid file; `origin` names it in errors.
pub fn parse_myid(text: &str, origin: &str) -> Result<u64, ConfigError> {
    let trimmed = text.trim();
    // the line the number starts on, for the message
    let leading = &text[..text.len() - text.trim_start().len()];
    let line = 1 + leading.matches('\n').count();
    if trimmed.is_empty() {
        return Err(ConfigError::invalid(
            origin,
            1,
            "myid",
            "file is empty; expected a positive integer",
        ));
    }
    crate::server_line::parse_id(trimmed).map_err(|r| {
        let reason = if r.starts_with("expected") {
            format!("expected a positive integer, got {}", quote(trimmed))
        } else {
            r
        };
        ConfigError::invalid(origin, line, "myid", reason)
    })
}
