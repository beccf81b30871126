//! SMTP reply lines (RFC 5321 §4.2): `NNN-text` continues, `NNN text` or
//! `NNN` ends a reply. Pure.

/// One parsed reply line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReplyLine {
    pub code: u16,
    /// `true` for the last line of a (possibly multi-line) reply.
    pub last: bool,
}

/// Parses a line (without CRLF). `None` when it is not a reply line.
pub fn parse_line(line: &str) -> Option<ReplyLine> {
    let b = line.as_bytes();
    if b.len() < 3 || !b[..3].iter().all(u8::is_ascii_digit) {
        return None;
    }
    let code = line[..3].parse().ok()?;
    match b.get(3) {
        None | Some(b' ') => Some(ReplyLine { code, last: true }),
        Some(b'-') => Some(ReplyLine { code, last: false }),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn table() {
        let t: &[(&str, Option<(u16, bool)>)] = &[
            ("220 mail ESMTP", Some((220, true))),
            ("220", Some((220, true))),
            ("220-first", Some((220, false))),
            ("250-PIPELINING", Some((250, false))),
            ("554 go away", Some((554, true))),
            ("22 x", None),
            ("2200 x", None),
            ("abc def", None),
            ("", None),
        ];
        for (l, want) in t {
            let got = parse_line(l).map(|r| (r.code, r.last));
            assert_eq!(got, *want, "{l:?}");
        }
    }
}
