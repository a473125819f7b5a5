//! A reader for the `java.util.Properties` text format, which is what
//! ZooKeeper uses for zoo.cfg (`Properties.load`, then every key and value is
//! `String.trim()`med by `QuorumPeerConfig.parseProperties`).
//!
//! Rules implemented (from the `Properties.load` documentation):
//! * a logical line may span several physical lines: a physical line that
//!   ends in an odd number of backslashes continues on the next one, whose
//!   leading whitespace is dropped;
//! * line terminators are `\n`, `\r` or `\r\n`;
//! * blank lines and lines whose first non-whitespace character is `#` or
//!   `!` are comments (a comment line never continues);
//! * the key ends at the first unescaped `=`, `:` or whitespace; whitespace
//!   around the separator is skipped and at most one `=`/`:` is consumed;
//! * escapes `\t \n \r \f \uXXXX` are decoded, any other `\x` is `x`;
//!   a malformed `\uXXXX` is an error;
//! * unlike Java, entries are returned in file order with their line number
//!   (the first physical line of the logical line); duplicates are kept so
//!   the caller can warn about them.

/// One `key=value` entry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Entry {
    /// Decoded and trimmed key.
    pub key: String,
    /// Decoded and trimmed value.
    pub value: String,
    /// 1-based line number of the first physical line of the entry.
    pub line: usize,
}

/// A syntax error: only a malformed `\uXXXX` escape can cause one.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SyntaxError {
    pub line: usize,
    /// The (raw, undecoded) key of the offending entry.
    pub key: String,
    pub reason: String,
}

fn is_ws(c: char) -> bool {
    c == ' ' || c == '\t' || c == '\x0c'
}

/// Java's `String.trim()`: strips all chars <= U+0020 from both ends.
pub fn java_trim(s: &str) -> &str {
    s.trim_matches(|c: char| c <= ' ')
}

/// Parse properties text into entries in file order.
pub fn parse(text: &str) -> Result<Vec<Entry>, SyntaxError> {
    let chars: Vec<char> = text.chars().collect();
    let n = chars.len();
    let mut i = 0usize;
    let mut line = 1usize;
    let mut out = Vec::new();

    loop {
        // Start of a logical line: skip whitespace and blank lines.
        while i < n {
            match chars[i] {
                c if is_ws(c) => i += 1,
                '\n' => {
                    line += 1;
                    i += 1;
                }
                '\r' => {
                    line += 1;
                    i += 1;
                    if i < n && chars[i] == '\n' {
                        i += 1;
                    }
                }
                _ => break,
            }
        }
        if i >= n {
            break;
        }
        let start_line = line;
        if chars[i] == '#' || chars[i] == '!' {
            while i < n && chars[i] != '\n' && chars[i] != '\r' {
                i += 1;
            }
            continue;
        }

        // Read the logical line.
        let mut buf: Vec<char> = Vec::new();
        let mut preceding_backslash = false;
        loop {
            if i >= n {
                if preceding_backslash {
                    buf.pop();
                }
                break;
            }
            let c = chars[i];
            if c == '\n' || c == '\r' {
                i += 1;
                if c == '\r' && i < n && chars[i] == '\n' {
                    i += 1;
                }
                line += 1;
                if preceding_backslash {
                    buf.pop();
                    preceding_backslash = false;
                    while i < n && is_ws(chars[i]) {
                        i += 1;
                    }
                    continue;
                }
                break;
            }
            buf.push(c);
            i += 1;
            if c == '\\' {
                preceding_backslash = !preceding_backslash;
            } else {
                preceding_backslash = false;
            }
        }
        if buf.is_empty() {
            continue;
        }

        // Split key and value.
        let limit = buf.len();
        let mut key_len = 0usize;
        let mut value_start = limit;
        let mut has_sep = false;
        let mut backslash = false;
        while key_len < limit {
            let c = buf[key_len];
            if (c == '=' || c == ':') && !backslash {
                value_start = key_len + 1;
                has_sep = true;
                break;
            } else if is_ws(c) && !backslash {
                value_start = key_len + 1;
                break;
            }
            if c == '\\' {
                backslash = !backslash;
            } else {
                backslash = false;
            }
            key_len += 1;
        }
        while value_start < limit {
            let c = buf[value_start];
            if !is_ws(c) {
                if !has_sep && (c == '=' || c == ':') {
                    has_sep = true;
                } else {
                    break;
                }
            }
            value_start += 1;
        }
        let raw_key: String = buf[..key_len].iter().collect();
        let key = unescape(&buf[..key_len]).map_err(|reason| SyntaxError {
            line: start_line,
            key: raw_key.clone(),
            reason,
        })?;
        let value = unescape(&buf[value_start..]).map_err(|reason| SyntaxError {
            line: start_line,
            key: raw_key.clone(),
            reason,
        })?;
        out.push(Entry {
            key: java_trim(&key).to_string(),
            value: java_trim(&value).to_string(),
            line: start_line,
        });
    }
    Ok(out)
}

/// Decode Java properties escapes. Works on UTF-16 code units so that
/// `\uD83D\uDE00` surrogate pairs combine the way they do in Java.
fn unescape(s: &[char]) -> Result<String, String> {
    let mut units: Vec<u16> = Vec::with_capacity(s.len());
    let mut i = 0;
    while i < s.len() {
        let c = s[i];
        i += 1;
        if c != '\\' {
            let mut b = [0u16; 2];
            units.extend_from_slice(c.encode_utf16(&mut b));
            continue;
        }
        if i >= s.len() {
            // A lone trailing backslash cannot normally reach here (the line
            // reader treats it as a continuation); drop it like Java does.
            break;
        }
        let e = s[i];
        i += 1;
        match e {
            'u' => {
                let mut v: u32 = 0;
                for _ in 0..4 {
                    let d = s.get(i).and_then(|c| c.to_digit(16));
                    match d {
                        Some(d) => {
                            v = v * 16 + d;
                            i += 1;
                        }
                        None => return Err("malformed \\uxxxx escape".to_string()),
                    }
                }
                units.push(v as u16);
            }
            't' => units.push('\t' as u16),
            'r' => units.push('\r' as u16),
            'n' => units.push('\n' as u16),
            'f' => units.push(0x0c),
            other => {
                let mut b = [0u16; 2];
                units.extend_from_slice(other.encode_utf16(&mut b));
            }
        }
    }
    Ok(String::from_utf16_lossy(&units))
}

/// Escape a value so that [`parse`] (and Java) reads it back unchanged.
pub fn escape_value(v: &str) -> String {
    let mut out = String::with_capacity(v.len());
    for (idx, c) in v.chars().enumerate() {
        match c {
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            '\x0c' => out.push_str("\\f"),
            ' ' if idx == 0 => out.push_str("\\ "),
            c if (c as u32) < 0x20 || c == '\u{7f}' => {
                out.push_str(&format!("\\u{:04X}", c as u32));
            }
            c => out.push(c),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn kv(text: &str) -> Vec<(String, String, usize)> {
        parse(text)
            .unwrap()
            .into_iter()
            .map(|e| (e.key, e.value, e.line))
            .collect()
    }

    fn one(k: &str, v: &str, l: usize) -> (String, String, usize) {
        (k.to_string(), v.to_string(), l)
    }

    #[test]
    fn separators() {
        assert_eq!(kv("a=1"), vec![one("a", "1", 1)]);
        assert_eq!(kv("a:1"), vec![one("a", "1", 1)]);
        assert_eq!(kv("a 1"), vec![one("a", "1", 1)]);
        assert_eq!(kv("a\t1"), vec![one("a", "1", 1)]);
        assert_eq!(kv("a = 1"), vec![one("a", "1", 1)]);
        assert_eq!(kv("a : 1"), vec![one("a", "1", 1)]);
        // only one separator is consumed
        assert_eq!(kv("a==1"), vec![one("a", "=1", 1)]);
        assert_eq!(kv("a = :1"), vec![one("a", ":1", 1)]);
        // separator inside the value is kept
        assert_eq!(kv("a=b=c:d"), vec![one("a", "b=c:d", 1)]);
        // key only
        assert_eq!(kv("lonely"), vec![one("lonely", "", 1)]);
        assert_eq!(kv("lonely="), vec![one("lonely", "", 1)]);
        // empty key
        assert_eq!(kv("=v"), vec![one("", "v", 1)]);
    }

    #[test]
    fn whitespace_and_comments() {
        let t = "  # comment\n! also comment\n\n   \t\n  key =  value  \n";
        assert_eq!(kv(t), vec![one("key", "value", 5)]);
        // a '#' not at the start of a line is data
        assert_eq!(
            kv("a=b # not a comment"),
            vec![one("a", "b # not a comment", 1)]
        );
    }

    #[test]
    fn line_endings() {
        assert_eq!(
            kv("a=1\r\nb=2\rc=3\n"),
            vec![one("a", "1", 1), one("b", "2", 2), one("c", "3", 3)]
        );
    }

    #[test]
    fn continuation() {
        let t = "a=one \\\n     two\\\n three\nb=4";
        assert_eq!(kv(t), vec![one("a", "one twothree", 1), one("b", "4", 4)]);
        // even number of backslashes: no continuation, value has one backslash
        assert_eq!(
            kv("a=x\\\\\nb=2"),
            vec![one("a", "x\\", 1), one("b", "2", 2)]
        );
        // continuation at end of file: backslash dropped
        assert_eq!(kv("a=x\\"), vec![one("a", "x", 1)]);
        // continuation followed by an empty line ends the logical line
        assert_eq!(kv("a=x\\\n\nb=2"), vec![one("a", "x", 1), one("b", "2", 3)]);
        // comment lines never continue
        assert_eq!(kv("# c \\\nb=2"), vec![one("b", "2", 2)]);
        // continuation across \r\n
        assert_eq!(
            kv("a=1\\\r\n  2\r\nb=3"),
            vec![one("a", "12", 1), one("b", "3", 3)]
        );
        // key continued
        assert_eq!(kv("ti\\\n  ckTime=1"), vec![one("tickTime", "1", 1)]);
    }

    #[test]
    fn escapes() {
        assert_eq!(kv("ti\\u0063kTime=3000"), vec![one("tickTime", "3000", 1)]);
        assert_eq!(kv("a\\=b=c"), vec![one("a=b", "c", 1)]);
        assert_eq!(kv("a\\ b c"), vec![one("a b", "c", 1)]);
        assert_eq!(kv("a\\:b:c"), vec![one("a:b", "c", 1)]);
        assert_eq!(kv("k=\\q\\t"), vec![one("k", "q", 1)]); // trailing tab trimmed
        assert_eq!(kv("k=x\\ty"), vec![one("k", "x\ty", 1)]);
        assert_eq!(kv("k=\\uD83D\\uDE00"), vec![one("k", "\u{1F600}", 1)]);
        assert_eq!(kv("k=\\u00e9"), vec![one("k", "\u{e9}", 1)]);
        let err = parse("a=1\nbad\\u12=x").unwrap_err();
        assert_eq!(err.line, 2);
        assert!(err.reason.contains("uxxxx"));
        assert!(parse("k=\\u").is_err());
        assert!(parse("k=\\uzzzz").is_err());
    }

    #[test]
    fn escape_roundtrip() {
        for v in [
            "plain",
            " lead",
            "back\\slash",
            "multi\nline",
            "tab\tin",
            "\u{1}ctl",
            "ünï",
        ] {
            let text = format!("k={}", escape_value(v));
            let got = parse(&text).unwrap();
            assert_eq!(got.len(), 1);
            assert_eq!(got[0].value, java_trim(v), "value {v:?}");
        }
    }
}
