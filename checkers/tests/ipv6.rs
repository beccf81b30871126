//! TCP_CHECK, HTTP_GET, SMTP_CHECK and UDP_CHECK over IPv6 loopback (::1)
//! against purpose-built servers: pass, and a failure each.

use std::net::SocketAddr;
use std::time::Duration;

use lvsd_checkers::http::request::default_host;
use lvsd_checkers::http::{HttpCheck, HttpVersion, UrlSpec};
use lvsd_checkers::smtp::{SmtpCheck, SmtpSpec};
use lvsd_checkers::tcp::TcpCheck;
use lvsd_checkers::udp::{ReplyPattern, UdpCheck, UdpSpec};
use lvsd_checkers::{Check, ConnOptions, Verdict};
use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::net::{TcpListener, UdpSocket};

fn conn(a: SocketAddr) -> ConnOptions {
    ConnOptions::new(a, Duration::from_secs(2))
}

fn reason(v: &Verdict) -> &str {
    match v {
        Verdict::Fail(r) => r,
        _ => "",
    }
}

/// A port on ::1 nobody listens on (TCP and UDP).
fn closed_port() -> SocketAddr {
    let t = std::net::TcpListener::bind("[::1]:0").unwrap();
    t.local_addr().unwrap()
}

#[tokio::test]
async fn tcp_check_over_ipv6() {
    let l = TcpListener::bind("[::1]:0").await.unwrap();
    let a = l.local_addr().unwrap();
    assert!(a.is_ipv6());
    let c = TcpCheck { conn: conn(a) };
    assert_eq!(c.attempt().await.verdict, Verdict::Pass);
    assert_eq!(c.describe(), format!("TCP_CHECK [::1]:{}", a.port()));
    let c = TcpCheck {
        conn: conn(closed_port()),
    };
    let v = c.attempt().await.verdict;
    assert!(reason(&v).ends_with("connection refused"), "{v:?}");
}

#[tokio::test]
async fn http_get_over_ipv6_sends_the_bracketed_host() {
    let l = TcpListener::bind("[::1]:0").await.unwrap();
    let a = l.local_addr().unwrap();
    let want = format!(
        "GET /health HTTP/1.0\r\nUser-Agent: KeepAliveClient\r\nHost: [::1]:{}\r\n\r\n",
        a.port()
    );
    tokio::spawn(async move {
        for _ in 0..4 {
            let Ok((mut s, _)) = l.accept().await else {
                return;
            };
            let mut buf = vec![0u8; 1024];
            let mut n = 0;
            while n < buf.len() && !buf[..n].ends_with(b"\r\n\r\n") {
                match s.read(&mut buf[n..]).await {
                    Ok(0) | Err(_) => break,
                    Ok(k) => n += k,
                }
            }
            // 200 only for the exact keepalived request over IPv6.
            let reply: &[u8] = if buf[..n] == *want.as_bytes() {
                b"HTTP/1.0 200 OK\r\nContent-Length: 2\r\n\r\nok"
            } else {
                b"HTTP/1.0 400 Bad\r\nContent-Length: 0\r\n\r\n"
            };
            let _ = s.write_all(reply).await;
            let _ = s.shutdown().await;
        }
    });
    let check = |target: SocketAddr| HttpCheck {
        conn: conn(target),
        urls: vec![UrlSpec {
            path: "/health".into(),
            digest: None,
            status: vec![],
            host: default_host(target),
            regex: None,
            regex_no_match: false,
        }],
        version: HttpVersion::Http10,
        tls: None,
        deadline: Duration::from_secs(2),
        fast_recovery: false,
    };
    assert_eq!(check(a).attempt().await.verdict, Verdict::Pass);
    let closed = closed_port();
    let v = check(closed).attempt().await.verdict;
    assert!(
        reason(&v).starts_with(&format!(
            "HTTP_GET http://[::1]:{}/health: connect",
            closed.port()
        )),
        "{v:?}"
    );
}

#[tokio::test]
async fn smtp_check_over_ipv6() {
    let l = TcpListener::bind("[::1]:0").await.unwrap();
    let a = l.local_addr().unwrap();
    tokio::spawn(async move {
        let Ok((s, _)) = l.accept().await else {
            return;
        };
        let mut r = BufReader::new(s);
        let _ = r.get_mut().write_all(b"220-v6 mail\r\n220 ready\r\n").await;
        let mut line = String::new();
        for _ in 0..10 {
            line.clear();
            if r.read_line(&mut line).await.unwrap_or(0) == 0 {
                break;
            }
            if line == "HELO lvsd.test\r\n" {
                let _ = r.get_mut().write_all(b"250 hello\r\n").await;
            } else if line.starts_with("QUIT") {
                let _ = r.get_mut().write_all(b"221 bye\r\n").await;
                break;
            } else {
                let _ = r.get_mut().write_all(b"500 what\r\n").await;
            }
        }
    });
    let c = SmtpCheck::new(SmtpSpec {
        conn: conn(a),
        helo_name: Some("lvsd.test".into()),
    });
    assert_eq!(c.attempt().await.verdict, Verdict::Pass);
    let c = SmtpCheck::new(SmtpSpec {
        conn: conn(closed_port()),
        helo_name: None,
    });
    assert!(!c.attempt().await.verdict.is_pass());
}

#[tokio::test]
async fn udp_check_over_ipv6() {
    let s = UdpSocket::bind("[::1]:0").await.unwrap();
    let a = s.local_addr().unwrap();
    tokio::spawn(async move {
        let mut b = [0u8; 512];
        for _ in 0..4 {
            let Ok((n, from)) = s.recv_from(&mut b).await else {
                return;
            };
            let mut reply = b"OK:".to_vec();
            reply.extend_from_slice(&b[..n]);
            let _ = s.send_to(&reply, from).await;
        }
    });
    let mut spec = UdpSpec::new(conn(a));
    spec.payload = Some(b"ping".to_vec());
    spec.require_reply = Some(ReplyPattern::parse("4f4b3a70").unwrap()); // "OK:p"
    assert_eq!(
        UdpCheck::new(spec.clone()).attempt().await.verdict,
        Verdict::Pass
    );
    // A reply that does not match the pattern fails.
    spec.require_reply = Some(ReplyPattern::parse("4f4b3a71").unwrap());
    assert!(!UdpCheck::new(spec).attempt().await.verdict.is_pass());
    // Closed port: ICMPv6 port unreachable fails the check.
    let v = UdpCheck::new(UdpSpec::new(conn(closed_port())))
        .attempt()
        .await
        .verdict;
    assert!(!v.is_pass(), "{v:?}");
}
