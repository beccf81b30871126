//! Reading and judging an HTTP response the way keepalived does, with two
//! fixes: a total deadline for the whole read (keepalived re-arms its timer
//! on every read, so a slow-drip server never fails, #1822) and a cap on the
//! header size.
//!
//! Digest (as keepalived and its genhash): MD5 of the raw bytes after the
//! first blank line, cut at an exact-case `Content-Length:` value, otherwise
//! everything until the server closes (chunk framing included). Without a
//! digest or regex the read stops once the response is complete (any-case
//! Content-Length, end of chunked body, bodiless status), so keep-alive
//! servers do not hold the check open.

use std::time::Instant;

use md5::{Digest, Md5};
use tokio::io::{AsyncRead, AsyncReadExt};

pub const HEADER_CAP: usize = 64 * 1024;
/// Most body bytes read (a digest of a huge page is still computed on
/// what keepalived would have read up to here).
pub const BODY_CAP: usize = 16 * 1024 * 1024;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ReadMode {
    /// Read until the server closes (digest, regex, genhash).
    UntilClose,
    /// Stop once the response is complete.
    UntilComplete,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ReadError {
    Io(String),
    Deadline { got: usize },
    HeaderTooLarge,
    NoData,
}

impl std::fmt::Display for ReadError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            ReadError::Io(e) => write!(f, "read: {e}"),
            ReadError::Deadline { got } => write!(
                f,
                "response not complete within the deadline ({got} bytes read)"
            ),
            ReadError::HeaderTooLarge => {
                write!(f, "response header larger than {} KiB", HEADER_CAP / 1024)
            }
            ReadError::NoData => write!(f, "no data received"),
        }
    }
}

/// Offset just past the first `\r\n\r\n`.
pub fn header_end(buf: &[u8]) -> Option<usize> {
    buf.windows(4).position(|w| w == b"\r\n\r\n").map(|p| p + 4)
}

fn header_value<'a>(head: &'a str, name: &str, exact_case: bool) -> Option<&'a str> {
    head.split("\r\n").skip(1).find_map(|line| {
        let (k, v) = line.split_once(':')?;
        let hit = if exact_case {
            k == name
        } else {
            k.eq_ignore_ascii_case(name)
        };
        hit.then_some(v.trim())
    })
}

/// Whether a buffered response is complete (for `UntilComplete`).
pub fn is_complete(buf: &[u8]) -> bool {
    let Some(end) = header_end(buf) else {
        return false;
    };
    let head = String::from_utf8_lossy(&buf[..end]);
    if let Some(code) = status_code(buf) {
        if code == 204 || code == 304 || (100..200).contains(&code) {
            return true;
        }
    }
    if let Some(cl) =
        header_value(&head, "content-length", false).and_then(|v| v.parse::<usize>().ok())
    {
        return buf.len() >= end + cl;
    }
    let chunked = header_value(&head, "transfer-encoding", false)
        .is_some_and(|v| v.to_ascii_lowercase().contains("chunked"));
    if chunked {
        let body = &buf[end..];
        return body.starts_with(b"0\r\n\r\n") || body.windows(7).any(|w| w == b"\r\n0\r\n\r\n");
    }
    false
}

/// Reads a response until the deadline.
pub async fn read<S: AsyncRead + Unpin>(
    s: &mut S,
    deadline: Instant,
    mode: ReadMode,
) -> Result<Vec<u8>, ReadError> {
    let mut buf = Vec::with_capacity(4096);
    let mut chunk = [0u8; 16 * 1024];
    loop {
        let now = Instant::now();
        if now >= deadline {
            return Err(ReadError::Deadline { got: buf.len() });
        }
        let r = tokio::time::timeout(deadline - now, s.read(&mut chunk)).await;
        match r {
            Err(_) => return Err(ReadError::Deadline { got: buf.len() }),
            Ok(Err(e)) => {
                if buf.is_empty() {
                    return Err(ReadError::Io(e.to_string()));
                }
                // A reset after data: judge what arrived.
                break;
            }
            Ok(Ok(0)) => break,
            Ok(Ok(n)) => {
                buf.extend_from_slice(&chunk[..n]);
                if header_end(&buf).is_none() && buf.len() > HEADER_CAP {
                    return Err(ReadError::HeaderTooLarge);
                }
                if mode == ReadMode::UntilComplete && is_complete(&buf) {
                    break;
                }
                if buf.len() > HEADER_CAP + BODY_CAP {
                    break;
                }
            }
        }
    }
    if buf.is_empty() {
        return Err(ReadError::NoData);
    }
    if header_end(&buf).is_none() {
        return Err(ReadError::NoData);
    }
    Ok(buf)
}

/// keepalived's status parse: `HTTP/x <3 digits><SP>`; anything else is 0.
pub fn status_code(buf: &[u8]) -> Option<u16> {
    let line_end = buf
        .windows(2)
        .position(|w| w == b"\r\n")
        .unwrap_or(buf.len());
    let line = std::str::from_utf8(&buf[..line_end]).ok()?;
    let rest = line.strip_prefix("HTTP/")?;
    let (_, after) = rest.split_once(' ')?;
    let code = after.get(..3)?;
    if after.as_bytes().get(3) != Some(&b' ') || !code.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    code.parse().ok()
}

/// The bytes keepalived hashes: after the first blank line, cut at an
/// exact-case `Content-Length:` value when present.
pub fn digest_body(buf: &[u8]) -> &[u8] {
    let Some(end) = header_end(buf) else {
        return &[];
    };
    let body = &buf[end..];
    let head = String::from_utf8_lossy(&buf[..end]);
    if let Some(pos) = head.find("Content-Length:") {
        let v = head[pos + "Content-Length:".len()..].trim_start();
        let digits: String = v.chars().take_while(|c| c.is_ascii_digit()).collect();
        if let Ok(cl) = digits.parse::<usize>() {
            return &body[..cl.min(body.len())];
        }
    }
    body
}

pub fn md5_hex(data: &[u8]) -> String {
    let d = Md5::digest(data);
    d.iter().map(|b| format!("{b:02x}")).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn status_needs_the_space() {
        assert_eq!(status_code(b"HTTP/1.1 200 OK\r\n"), Some(200));
        assert_eq!(status_code(b"HTTP/1.1 200\r\n"), None);
        assert_eq!(status_code(b"garbage\r\n"), None);
    }

    #[test]
    fn digest_cuts_at_exact_case_content_length_only() {
        let r = b"HTTP/1.0 200 OK\r\nContent-Length: 5\r\n\r\nhelloEXTRA";
        assert_eq!(digest_body(r), b"hello");
        let r = b"HTTP/1.0 200 OK\r\ncontent-length: 5\r\n\r\nhelloEXTRA";
        assert_eq!(digest_body(r), b"helloEXTRA");
        let r = b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n";
        assert_eq!(digest_body(r), b"5\r\nhello\r\n0\r\n\r\n");
    }

    #[test]
    fn completion() {
        assert!(is_complete(
            b"HTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\nok"
        ));
        assert!(!is_complete(
            b"HTTP/1.1 200 OK\r\ncontent-length: 3\r\n\r\nok"
        ));
        assert!(is_complete(
            b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nok\r\n0\r\n\r\n"
        ));
        assert!(is_complete(b"HTTP/1.1 204 No Content\r\n\r\n"));
        assert!(!is_complete(b"HTTP/1.0 200 OK\r\n\r\nbody until close"));
    }
}
