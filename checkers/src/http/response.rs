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

/// What a read returned, whatever its shape.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RawResponse {
    pub bytes: Vec<u8>,
    /// The server closed cleanly (EOF; for TLS, after close_notify), as
    /// opposed to a reset or a TLS connection cut without close_notify.
    pub clean_close: bool,
}

/// Reads a response until the deadline.
pub async fn read<S: AsyncRead + Unpin>(
    s: &mut S,
    deadline: Instant,
    mode: ReadMode,
) -> Result<Vec<u8>, ReadError> {
    let raw = read_raw(s, deadline, mode).await?;
    if raw.bytes.is_empty() || header_end(&raw.bytes).is_none() {
        return Err(ReadError::NoData);
    }
    Ok(raw.bytes)
}

/// Reads until the deadline, returning whatever arrived (possibly nothing,
/// or a header without its blank line) and how the stream ended; fails
/// only on the deadline, the header cap, or an error before any byte.
pub async fn read_raw<S: AsyncRead + Unpin>(
    s: &mut S,
    deadline: Instant,
    mode: ReadMode,
) -> Result<RawResponse, ReadError> {
    let mut buf = Vec::with_capacity(4096);
    let mut chunk = [0u8; 16 * 1024];
    let mut clean_close = true;
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
                // A reset (or a TLS close without close_notify) after
                // data: judge what arrived.
                clean_close = false;
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
    Ok(RawResponse {
        bytes: buf,
        clean_close,
    })
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

/// keepalived's receive buffer (`MAX_BUFFER_LENGTH`, one byte kept for
/// the NUL it appends).
pub const KEEPALIVED_BUFFER: usize = 4096 - 1;

/// The `Content-Length:` cut keepalived applies to the digest, measured
/// against 2.2.7: an exact-case `strstr` over its first receive buffer
/// (the header and whatever body came with it, up to a NUL byte), the
/// value read as `strtoul` does (leading whitespace, CR and LF included, an
/// optional sign), and accepted only when the number is followed by CR, LF
/// or the end of the buffer; no digits at all read as 0. A value out of
/// range or negative means no cut.
pub fn content_length_cut(buf: &[u8]) -> Option<usize> {
    let first = &buf[..buf.len().min(KEEPALIVED_BUFFER)];
    let first = match first.iter().position(|&b| b == 0) {
        Some(nul) => &first[..nul],
        None => first,
    };
    const TAG: &[u8] = b"Content-Length:";
    let at = first.windows(TAG.len()).position(|w| w == TAG)?;
    let start = at + TAG.len();
    let rest = &first[start..];
    let mut i = rest
        .iter()
        .take_while(|b| matches!(b, b' ' | b'\t' | b'\n' | b'\r' | 0x0b | 0x0c))
        .count();
    let negative = match rest.get(i) {
        Some(b'-') => {
            i += 1;
            true
        }
        Some(b'+') => {
            i += 1;
            false
        }
        _ => false,
    };
    let digits = rest[i..].iter().take_while(|b| b.is_ascii_digit()).count();
    // strtoul's end pointer: after the digits, or back at the start when
    // nothing converted.
    let end = if digits == 0 { 0 } else { i + digits };
    if !matches!(rest.get(end), None | Some(b'\r') | Some(b'\n')) {
        return None;
    }
    if digits == 0 {
        return Some(0);
    }
    let value: u64 = std::str::from_utf8(&rest[i..i + digits])
        .ok()?
        .parse()
        .ok()?;
    if negative && value != 0 {
        return None;
    }
    usize::try_from(value).ok()
}

/// The bytes keepalived hashes: after the first blank line, cut at an
/// exact-case `Content-Length:` value (see `content_length_cut`).
pub fn digest_body(buf: &[u8]) -> &[u8] {
    let Some(end) = header_end(buf) else {
        return &[];
    };
    let body = &buf[end..];
    match content_length_cut(buf) {
        Some(cl) => &body[..cl.min(body.len())],
        None => body,
    }
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

    /// Each case measured with `keepalived --genhash` 2.2.7 (body `hello`).
    #[test]
    fn content_length_as_keepalived_2_2_7_reads_it() {
        let h = |hdr: &str, body: &str| format!("HTTP/1.0 200 OK\r\n{hdr}\r\n{body}").into_bytes();
        let cut = |hdr: &str| content_length_cut(&h(hdr, "hello"));
        assert_eq!(cut("Content-Length: 3\r\n"), Some(3));
        assert_eq!(cut("Content-Length:3\r\n"), Some(3));
        assert_eq!(cut("Content-Length: +3\r\n"), Some(3));
        assert_eq!(cut("Content-Length: 03\r\n"), Some(3));
        assert_eq!(cut("Content-Length:  \t3\r\n"), Some(3));
        assert_eq!(cut("Content-Length: \r\n 3\r\n"), Some(3));
        assert_eq!(cut("Content-Length: 3\nX: y\r\n"), Some(3));
        assert_eq!(cut("Content-Length: 3\r\nContent-Length: 4\r\n"), Some(3));
        assert_eq!(cut("X-Content-Length: 2\r\n"), Some(2));
        assert_eq!(cut("Content-Length:\r\n"), Some(0));
        assert_eq!(cut("Content-Length: 3 \r\n"), None);
        assert_eq!(cut("Content-Length: 3\t\r\n"), None);
        assert_eq!(cut("Content-Length: abc\r\n"), None);
        assert_eq!(cut("Content-Length: -3\r\n"), None);
        assert_eq!(cut("Content-Length: 99999999999999999999999\r\n"), None);
        assert_eq!(cut("content-length: 3\r\n"), None);
        // Found in the body when it came in the first buffer.
        let r = h("Server: x\r\n", "hello\r\nContent-Length: 3\r\nworld");
        assert_eq!(digest_body(&r), b"hel");
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
