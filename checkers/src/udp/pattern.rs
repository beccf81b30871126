//! UDP_CHECK hex parsing: `payload` hex and `require_reply` patterns with
//! `x` wildcard nibbles (keepalived `check_udp_reply`). Pure.

use thiserror::Error;

#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum HexError {
    #[error("invalid hex character {0:?}")]
    BadChar(char),
    #[error("odd number of hex digits")]
    Odd,
}

/// A byte pattern: each byte must match `value` under `mask`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReplyPattern {
    pub value: Vec<u8>,
    pub mask: Vec<u8>,
}

fn nibble(c: char, wild: bool) -> Result<(u8, u8), HexError> {
    if wild && (c == 'x' || c == 'X') {
        return Ok((0, 0));
    }
    c.to_digit(16)
        .map(|d| (d as u8, 0xf))
        .ok_or(HexError::BadChar(c))
}

fn parse(s: &str, wild: bool) -> Result<(Vec<u8>, Vec<u8>), HexError> {
    let digits: Vec<char> = s.chars().filter(|c| !c.is_whitespace()).collect();
    if digits.len() % 2 != 0 {
        return Err(HexError::Odd);
    }
    let mut v = Vec::with_capacity(digits.len() / 2);
    let mut m = Vec::with_capacity(digits.len() / 2);
    for pair in digits.chunks(2) {
        let (hv, hm) = nibble(pair[0], wild)?;
        let (lv, lm) = nibble(pair[1], wild)?;
        v.push(hv << 4 | lv);
        m.push(hm << 4 | lm);
    }
    Ok((v, m))
}

/// Parses a `payload` hex string (whitespace ignored).
pub fn parse_hex(s: &str) -> Result<Vec<u8>, HexError> {
    parse(s, false).map(|(v, _)| v)
}

impl ReplyPattern {
    pub fn parse(s: &str) -> Result<Self, HexError> {
        let (value, mask) = parse(s, true)?;
        Ok(ReplyPattern { value, mask })
    }

    /// keepalived: the first min(reply len, pattern len) bytes must match.
    pub fn matches(&self, reply: &[u8]) -> bool {
        reply
            .iter()
            .zip(self.value.iter().zip(&self.mask))
            .all(|(r, (v, m))| r & m == v & m)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hex() {
        assert_eq!(parse_hex("00ff 10").unwrap(), vec![0, 0xff, 0x10]);
        assert_eq!(parse_hex("0"), Err(HexError::Odd));
        assert_eq!(parse_hex("zz"), Err(HexError::BadChar('z')));
        assert_eq!(parse_hex("x0"), Err(HexError::BadChar('x')));
    }

    #[test]
    fn pattern() {
        let p = ReplyPattern::parse("41x2xx").unwrap();
        assert_eq!(p.mask, vec![0xff, 0x0f, 0x00]);
        assert!(p.matches(&[0x41, 0x52, 0x99]));
        assert!(p.matches(&[0x41, 0xf2]));
        assert!(!p.matches(&[0x42, 0x52, 0x99]));
        assert!(!p.matches(&[0x41, 0x53]));
        assert!(p.matches(&[0x41, 0x02, 0, 1, 2]));
    }
}
