//! TCP_CHECK and HTTP_GET against purpose-built servers on 127.0.0.1, and
//! genhash compared with the real `keepalived --genhash` (Debian's 2.2.7).

use std::net::SocketAddr;
use std::process::Command;
use std::time::{Duration, Instant};

use lvsd_checkers::genhash::{genhash, GenhashRequest};
use lvsd_checkers::http::{HttpCheck, HttpVersion, UrlSpec};
use lvsd_checkers::tcp::TcpCheck;
use lvsd_checkers::{Check, ConnOptions, Verdict};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;

/// A server answering every connection with `reply` after reading the
/// request; `close` decides whether it closes afterwards (keep-alive if not).
async fn server(reply: Vec<u8>, close: bool, drip: Option<Duration>) -> SocketAddr {
    let l = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = l.local_addr().unwrap();
    tokio::spawn(async move {
        for _ in 0..50 {
            let Ok((mut s, _)) = l.accept().await else {
                return;
            };
            let reply = reply.clone();
            tokio::spawn(async move {
                let mut buf = [0u8; 4096];
                let _ = s.read(&mut buf).await;
                match drip {
                    Some(d) => {
                        for b in reply {
                            if s.write_all(&[b]).await.is_err() {
                                return;
                            }
                            tokio::time::sleep(d).await;
                        }
                    }
                    None => {
                        let _ = s.write_all(&reply).await;
                    }
                }
                if close {
                    let _ = s.shutdown().await;
                } else {
                    tokio::time::sleep(Duration::from_secs(30)).await;
                }
            });
        }
    });
    addr
}

fn http(addr: SocketAddr, digest: Option<&str>, deadline: Duration) -> HttpCheck {
    HttpCheck {
        conn: ConnOptions::new(addr, deadline),
        urls: vec![UrlSpec {
            path: "/health".into(),
            digest: digest.map(str::to_string),
            status: vec![],
            host: format!("{addr}"),
            regex: None,
            regex_no_match: false,
        }],
        version: HttpVersion::Http10,
        tls: None,
        deadline,
        fast_recovery: false,
    }
}

fn reason(v: &Verdict) -> &str {
    match v {
        Verdict::Fail(r) => r,
        _ => "",
    }
}

#[tokio::test]
async fn tcp_pass_and_refused() {
    let l = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let up = l.local_addr().unwrap();
    let c = TcpCheck {
        conn: ConnOptions::new(up, Duration::from_secs(2)),
    };
    assert_eq!(c.attempt().await.verdict, Verdict::Pass);
    drop(l);
    let o = c.attempt().await;
    assert!(
        reason(&o.verdict).ends_with("connection refused"),
        "{:?}",
        o.verdict
    );
    assert!(
        o.elapsed < Duration::from_millis(500),
        "refused fails at once"
    );
}

#[tokio::test]
async fn http_200_503_and_keepalive_without_close() {
    let ok = server(
        b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok".to_vec(),
        true,
        None,
    )
    .await;
    assert_eq!(
        http(ok, None, Duration::from_secs(3))
            .attempt()
            .await
            .verdict,
        Verdict::Pass
    );

    let bad = server(
        b"HTTP/1.1 503 Unavailable\r\nContent-Length: 0\r\n\r\n".to_vec(),
        true,
        None,
    )
    .await;
    let v = http(bad, None, Duration::from_secs(3))
        .attempt()
        .await
        .verdict;
    assert!(
        reason(&v).ends_with("/health: status 503, expected 200-299"),
        "{v:?}"
    );

    // Keep-alive server that never closes: complete by Content-Length, fast.
    let ka = server(
        b"HTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\nok".to_vec(),
        false,
        None,
    )
    .await;
    let t = Instant::now();
    assert_eq!(
        http(ka, None, Duration::from_secs(3))
            .attempt()
            .await
            .verdict,
        Verdict::Pass
    );
    assert!(
        t.elapsed() < Duration::from_secs(1),
        "did not wait for close"
    );
}

#[tokio::test]
async fn slow_drip_fails_at_the_total_deadline() {
    let body = b"HTTP/1.0 200 OK\r\n\r\n"
        .iter()
        .chain([b'x'; 200].iter())
        .copied()
        .collect();
    let drip = server(body, true, Some(Duration::from_millis(50))).await;
    let t = Instant::now();
    let v = http(
        drip,
        Some("00000000000000000000000000000000"),
        Duration::from_secs(1),
    )
    .attempt()
    .await
    .verdict;
    let e = t.elapsed();
    assert!(
        reason(&v).contains("not complete within the deadline"),
        "{v:?}"
    );
    assert!(
        e >= Duration::from_millis(900) && e < Duration::from_millis(1500),
        "{e:?}"
    );
}

#[tokio::test]
async fn digest_mismatch_and_huge_header() {
    let s = server(
        b"HTTP/1.0 200 OK\r\nContent-Length: 5\r\n\r\nhelloEXTRA".to_vec(),
        true,
        None,
    )
    .await;
    // md5("hello")
    let good = "5d41402abc4b2a76b9719d911017c592";
    assert_eq!(
        http(s, Some(good), Duration::from_secs(3))
            .attempt()
            .await
            .verdict,
        Verdict::Pass
    );
    let v = http(
        s,
        Some("0123456789abcdef0123456789abcdef"),
        Duration::from_secs(3),
    )
    .attempt()
    .await
    .verdict;
    assert!(
        reason(&v).contains("digest 5d41402abc4b2a76b9719d911017c592, expected"),
        "{v:?}"
    );

    let mut huge = b"HTTP/1.0 200 OK\r\n".to_vec();
    for _ in 0..2000 {
        huge.extend_from_slice(b"X-Padding: aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\r\n");
    }
    huge.extend_from_slice(b"\r\nbody");
    let h = server(huge, true, None).await;
    let v = http(h, None, Duration::from_secs(3))
        .attempt()
        .await
        .verdict;
    assert!(
        reason(&v).contains("response header larger than 64 KiB"),
        "{v:?}"
    );
}

async fn keepalived_genhash(addr: SocketAddr) -> String {
    let out = tokio::task::spawn_blocking(move || {
        Command::new("keepalived")
            .args([
                "--genhash",
                "-s",
                &addr.ip().to_string(),
                "-p",
                &addr.port().to_string(),
                "-u",
                "/x",
                "-P",
                "1.1",
            ])
            .output()
            .expect("keepalived 2.2.7 must be installed (scripts/install-deps)")
    })
    .await
    .unwrap();
    String::from_utf8_lossy(&out.stdout).into_owned()
}

async fn ours(addr: SocketAddr) -> String {
    genhash(&GenhashRequest {
        server: addr.ip(),
        port: addr.port(),
        url: "/x".into(),
        ssl: false,
        sni: None,
        vhost: None,
        version: HttpVersion::Http11,
        fwmark: 0,
        timeout: Duration::from_secs(5),
        verbose: false,
    })
    .await
    .stdout
}

#[tokio::test(flavor = "multi_thread")]
async fn genhash_matches_keepalived_on_every_framing() {
    let cases: Vec<Vec<u8>> = vec![
        b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nhelloEXTRA".to_vec(),
        b"HTTP/1.1 200 OK\r\ncontent-length: 5\r\n\r\nhelloEXTRA".to_vec(),
        b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n".to_vec(),
        b"HTTP/1.0 200 OK\r\nServer: t\r\n\r\nclose-delimited body\n".to_vec(),
        b"HTTP/1.1 404 Not Found\r\nContent-Length: 9\r\n\r\nnot found".to_vec(),
    ];
    for reply in cases {
        let addr = server(reply.clone(), true, None).await;
        let want = keepalived_genhash(addr).await;
        let got = ours(addr).await;
        assert_eq!(got, want, "for {:?}", String::from_utf8_lossy(&reply));
        assert_eq!(got.len(), 33);
    }
}
