//! Value parsers: Java's integer decoding (`Integer.parseInt`, `Integer.decode`) and the value
//! kinds zoo.cfg keys take. Each returns the reason on failure (the caller adds file, line, key).

use std::path::PathBuf;

use crate::error::quote;

/// Java `Integer.parseInt`: optional sign, ASCII digits, i32 range.
pub(crate) fn java_parse_int(s: &str) -> Option<i64> {
    let (neg, digits) = match s.as_bytes().first() {
        Some(b'-') => (true, &s[1..]),
        Some(b'+') => (false, &s[1..]),
        _ => (false, s),
    };
    if digits.is_empty() || digits.len() > 12 || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let v: i64 = digits.parse().ok()?;
    let v = if neg { -v } else { v };
    if v < i32::MIN as i64 || v > i32::MAX as i64 {
        return None;
    }
    Some(v)
}

/// Java `Integer.decode` / `Long.decode` (used by `Integer.getInteger`):
/// optional sign, then `0x`/`0X`/`#` hex, leading `0` octal, or decimal.
pub(crate) fn java_decode(s: &str) -> Option<i64> {
    let (neg, rest) = match s.as_bytes().first() {
        Some(b'-') => (true, &s[1..]),
        Some(b'+') => (false, &s[1..]),
        _ => (false, s),
    };
    let (radix, digits) =
        if let Some(h) = rest.strip_prefix("0x").or_else(|| rest.strip_prefix("0X")) {
            (16, h)
        } else if let Some(h) = rest.strip_prefix('#') {
            (16, h)
        } else if rest.len() > 1 && rest.starts_with('0') {
            (8, &rest[1..])
        } else {
            (10, rest)
        };
    if digits.is_empty() || digits.starts_with(['+', '-']) || digits.len() > 24 {
        return None;
    }
    let v = i64::from_str_radix(digits, radix).ok()?;
    Some(if neg { -v } else { v })
}

pub(crate) fn positive_int(v: &str) -> Result<u32, String> {
    match java_parse_int(v) {
        Some(n) if n >= 1 => Ok(n as u32),
        _ => Err(format!("expected a positive integer, got {}", quote(v))),
    }
}

pub(crate) fn non_negative_int(v: &str) -> Result<u32, String> {
    match java_parse_int(v) {
        Some(n) if n >= 0 => Ok(n as u32),
        _ => Err(format!("expected a non-negative integer, got {}", quote(v))),
    }
}

pub(crate) fn any_int(v: &str) -> Result<i64, String> {
    java_parse_int(v).ok_or_else(|| {
        format!(
            "expected an integer between {} and {}, got {}",
            i32::MIN,
            i32::MAX,
            quote(v)
        )
    })
}

pub(crate) fn decoded_positive(v: &str, max: i64) -> Result<i64, String> {
    match java_decode(v) {
        Some(n) if n >= 1 && n <= max => Ok(n),
        _ => Err(format!(
            "expected a positive integer (decimal, or hex with 0x) no larger than {max}, got {}",
            quote(v)
        )),
    }
}

pub(crate) fn boolean(v: &str) -> Result<bool, String> {
    if v.eq_ignore_ascii_case("true") {
        Ok(true)
    } else if v.eq_ignore_ascii_case("false") {
        Ok(false)
    } else {
        Err(format!("expected true or false, got {}", quote(v)))
    }
}

pub(crate) fn yes_no(v: &str) -> Result<bool, String> {
    if v.eq_ignore_ascii_case("yes") {
        Ok(true)
    } else if v.eq_ignore_ascii_case("no") {
        Ok(false)
    } else {
        Err(format!("expected yes or no, got {}", quote(v)))
    }
}

pub(crate) fn non_empty_path(v: &str) -> Result<PathBuf, String> {
    if v.is_empty() {
        Err("must not be empty".to_string())
    } else {
        Ok(PathBuf::from(v))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn java_int_parsing() {
        assert_eq!(java_parse_int("0"), Some(0));
        assert_eq!(java_parse_int("+5"), Some(5));
        assert_eq!(java_parse_int("-5"), Some(-5));
        assert_eq!(java_parse_int("2147483647"), Some(2147483647));
        assert_eq!(java_parse_int("2147483648"), None);
        assert_eq!(java_parse_int("-2147483648"), Some(-2147483648));
        assert_eq!(java_parse_int(""), None);
        assert_eq!(java_parse_int("-"), None);
        assert_eq!(java_parse_int("1 2"), None);
        assert_eq!(java_parse_int("0x10"), None);
        assert_eq!(java_parse_int("99999999999999999999999"), None);
    }

    #[test]
    fn java_decode_parsing() {
        assert_eq!(java_decode("1048575"), Some(1048575));
        assert_eq!(java_decode("0xfffff"), Some(0xfffff));
        assert_eq!(java_decode("0XFF"), Some(255));
        assert_eq!(java_decode("#10"), Some(16));
        assert_eq!(java_decode("010"), Some(8));
        assert_eq!(java_decode("0"), Some(0));
        assert_eq!(java_decode("-0x10"), Some(-16));
        assert_eq!(java_decode("0x"), None);
        assert_eq!(java_decode("0x-1"), None);
        assert_eq!(java_decode("09"), None);
        assert_eq!(java_decode("abc"), None);
    }
}
