//! FILE_CHECK pure logic: `strtol(base 0)` parsing and value → verdict.

use crate::outcome::Verdict;

/// `strtol(s, NULL, 0)` clamped to i64: leading whitespace, optional sign,
/// `0x` hex, leading `0` octal, else decimal; trailing junk ignored; no
/// digits → 0.
pub fn strtol0(s: &str) -> i64 {
    let b = s.trim_start().as_bytes();
    let (neg, mut i) = match b.first() {
        Some(b'-') => (true, 1),
        Some(b'+') => (false, 1),
        _ => (false, 0),
    };
    let mut base = 10;
    if b.get(i) == Some(&b'0') {
        if matches!(b.get(i + 1), Some(b'x' | b'X'))
            && b.get(i + 2).is_some_and(|c| c.is_ascii_hexdigit())
        {
            base = 16;
            i += 2;
        } else {
            base = 8;
        }
    }
    let mut v: i64 = 0;
    while let Some(d) = b.get(i).and_then(|c| (*c as char).to_digit(base)) {
        v = v
            .saturating_mul(i64::from(base))
            .saturating_add(i64::from(d));
        i += 1;
    }
    if neg {
        -v
    } else {
        v
    }
}

/// keepalived `update_track_file_status`: weight 0 → non-zero value is
/// DOWN, zero is UP; otherwise delta = value × weight (negated with
/// `reverse`), DOWN when delta ≤ INT32_MIN, else UP with that delta.
pub fn file_verdict(value: i64, weight: i64, reverse: bool, label: &str) -> Verdict {
    if weight == 0 {
        return if value == 0 {
            Verdict::Pass
        } else {
            Verdict::Fail(format!(
                "{label}: value {value} (weight 0: non-zero is down)"
            ))
        };
    }
    let w = if reverse { -weight } else { weight };
    let delta = value.saturating_mul(w);
    if delta <= i64::from(i32::MIN) {
        Verdict::Fail(format!("{label}: value {value} × weight {w} ≤ INT32_MIN"))
    } else {
        Verdict::PassWithWeight(delta)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn strtol_table() {
        let t: &[(&str, i64)] = &[
            ("0", 0),
            ("12", 12),
            ("  -7\n", -7),
            ("+3abc", 3),
            ("0x1F", 31),
            ("0X10", 16),
            ("010", 8),
            ("09", 0),
            ("0x", 0),
            ("", 0),
            ("junk", 0),
            ("\t 42 99", 42),
            ("99999999999999999999999", i64::MAX),
        ];
        for (s, want) in t {
            assert_eq!(strtol0(s), *want, "{s:?}");
        }
    }

    #[test]
    fn verdicts() {
        assert_eq!(file_verdict(0, 0, false, "f"), Verdict::Pass);
        assert!(!file_verdict(3, 0, false, "f").is_pass());
        assert_eq!(file_verdict(3, 2, false, "f"), Verdict::PassWithWeight(6));
        assert_eq!(file_verdict(3, 2, true, "f"), Verdict::PassWithWeight(-6));
        assert!(!file_verdict(-2147483648, 1, false, "f").is_pass());
        assert_eq!(
            file_verdict(-2147483647, 1, false, "f"),
            Verdict::PassWithWeight(-2147483647)
        );
    }
}
