//! Znode path validation, mirroring ZooKeeper's PathUtils.validatePath.

/// Returns `Err(reason)` when `path` is not a valid absolute znode path.
pub fn validate(path: &str) -> Result<(), String> {
    if path.is_empty() {
        return Err("Path length must be > 0".into());
    }
    if !path.starts_with('/') {
        return Err("Path must start with / character".into());
    }
    if path.len() == 1 {
        return Ok(());
    }
    if path.ends_with('/') {
        return Err("Path must not end with / character".into());
    }
    if path.is_ascii() {
        return validate_ascii(path.as_bytes());
    }
    validate_chars(path)
}

fn validate_chars(path: &str) -> Result<(), String> {
    let chars: Vec<char> = path.chars().collect();
    for i in 1..chars.len() {
        let c = chars[i];
        let last = chars[i - 1];
        let next_is_end_or_slash = i + 1 == chars.len() || chars[i + 1] == '/';
        if c == '\0' {
            return Err(format!("null character not allowed @{i}"));
        } else if c == '/' && last == '/' {
            return Err(format!("empty node name specified @{i}"));
        } else if c == '.' && last == '.' {
            if chars[i - 2] == '/' && next_is_end_or_slash {
                return Err(format!("relative paths not allowed @{i}"));
            }
        } else if c == '.' {
            if last == '/' && next_is_end_or_slash {
                return Err(format!("relative paths not allowed @{i}"));
            }
        } else {
            let u = c as u32;
            // Java checks UTF-16 units: surrogates (any char above U+FFFF), private use, specials.
            if (u > 0 && u <= 0x1f)
                || (0x7f..=0x9f).contains(&u)
                || (0xd800..=0xf8ff).contains(&u)
                || u >= 0xfff0
            {
                return Err(format!("invalid character @{i}"));
            }
        }
    }
    Ok(())
}

/// [`validate`] for ASCII paths (nearly all): the same rules on bytes, without collecting chars.
/// `p` starts with '/', is longer than 1 and does not end with '/'.
fn validate_ascii(p: &[u8]) -> Result<(), String> {
    for i in 1..p.len() {
        let (c, last) = (p[i], p[i - 1]);
        let next_is_end_or_slash = i + 1 == p.len() || p[i + 1] == b'/';
        match c {
            0 => return Err(format!("null character not allowed @{i}")),
            b'/' if last == b'/' => return Err(format!("empty node name specified @{i}")),
            // "/.." and "/." as a whole name.
            b'.' if last == b'.' && p[i - 2] == b'/' && next_is_end_or_slash => {
                return Err(format!("relative paths not allowed @{i}"));
            }
            b'.' if last == b'/' && next_is_end_or_slash => {
                return Err(format!("relative paths not allowed @{i}"));
            }
            1..=0x1f | 0x7f => return Err(format!("invalid character @{i}")),
            _ => {}
        }
    }
    Ok(())
}

/// Parent of a valid non-root path.
pub fn parent(path: &str) -> &str {
    match path.rfind('/') {
        Some(0) | None => "/",
        Some(i) => &path[..i],
    }
}

/// Last component of a valid non-root path.
pub fn name(path: &str) -> &str {
    match path.rfind('/') {
        Some(i) => &path[i + 1..],
        None => path,
    }
}

/// Joins a parent path and a child name.
pub fn join(parent: &str, child: &str) -> String {
    if parent == "/" {
        format!("/{child}")
    } else {
        format!("{parent}/{child}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accepts_valid_paths() {
        for p in [
            "/",
            "/a",
            "/a/b",
            "/a.b",
            "/..a",
            "/a..",
            "/.a/b.",
            "/zookeeper",
            "/é",
        ] {
            assert!(validate(p).is_ok(), "{p}");
        }
    }

    #[test]
    fn rejects_like_zookeeper() {
        for (p, why) in [
            ("", "length"),
            ("a", "start"),
            ("/a/", "end"),
            ("/a//b", "empty"),
            ("/a/./b", "relative"),
            ("/a/..", "relative"),
            ("/.", "relative"),
            ("/a\0b", "null"),
            ("/a\u{1}", "invalid"),
            ("/a\u{1F600}", "invalid"),
            ("/a\u{e000}", "invalid"),
            ("/a\u{fff5}", "invalid"),
        ] {
            let e = validate(p).unwrap_err();
            assert!(e.contains(why), "{p:?}: {e}");
        }
    }

    #[test]
    fn ascii_fast_path_agrees_with_the_general_one() {
        let alphabet = ['/', '.', 'a', '\0', '\u{1}', '\u{7f}', '~'];
        let mut n = 0;
        for len in 1..=5u32 {
            for mut k in 0..alphabet.len().pow(len) {
                let mut tail = String::new();
                for _ in 0..len {
                    tail.push(alphabet[k % alphabet.len()]);
                    k /= alphabet.len();
                }
                if tail.ends_with('/') {
                    continue; // rejected before either path runs
                }
                let p = format!("/{tail}");
                assert_eq!(validate_ascii(p.as_bytes()), validate_chars(&p), "{p:?}");
                n += 1;
            }
        }
        assert!(n > 10_000);
    }

    #[test]
    fn parent_and_name() {
        assert_eq!(parent("/a"), "/");
        assert_eq!(parent("/a/b/c"), "/a/b");
        assert_eq!(name("/a/b/c"), "c");
        assert_eq!(join("/", "x"), "/x");
        assert_eq!(join("/a", "x"), "/a/x");
    }
}
