//! The HTTP request keepalived sends, byte for byte:
//! `GET <path> HTTP/1.<0|1>\r\nUser-Agent: KeepAliveClient\r\n`
//! `[Connection: close\r\n]Host: <vhost | ip:port | [v6]:port>\r\n\r\n`.

use std::net::SocketAddr;

/// `http_protocol`: 1.0 (default), 1.0C, 1.1.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum HttpVersion {
    #[default]
    Http10,
    Http10Close,
    Http11,
}

/// The Host header value when no virtualhost is configured.
pub fn default_host(target: SocketAddr) -> String {
    match target {
        SocketAddr::V4(a) => format!("{}:{}", a.ip(), a.port()),
        SocketAddr::V6(a) => format!("[{}]:{}", a.ip(), a.port()),
    }
}

pub fn build(path: &str, version: HttpVersion, host: &str) -> Vec<u8> {
    let (minor, close) = match version {
        HttpVersion::Http10 => (0, ""),
        HttpVersion::Http10Close => (0, "Connection: close\r\n"),
        HttpVersion::Http11 => (1, "Connection: close\r\n"),
    };
    format!(
        "GET {path} HTTP/1.{minor}\r\nUser-Agent: KeepAliveClient\r\n{close}Host: {host}\r\n\r\n"
    )
    .into_bytes()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn exact_bytes() {
        assert_eq!(
            build("/health", HttpVersion::Http10, "10.0.0.1:80"),
            b"GET /health HTTP/1.0\r\nUser-Agent: KeepAliveClient\r\nHost: 10.0.0.1:80\r\n\r\n"
        );
        assert_eq!(
            build("/", HttpVersion::Http11, "www"),
            b"GET / HTTP/1.1\r\nUser-Agent: KeepAliveClient\r\nConnection: close\r\nHost: www\r\n\r\n"
        );
        assert_eq!(
            default_host("[2001:db8::1]:8080".parse().unwrap()),
            "[2001:db8::1]:8080"
        );
    }
}
