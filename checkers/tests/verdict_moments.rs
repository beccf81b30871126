//! The rest of issue #4's test list, each asserting the verdict and the
//! moment it is reached: HTTP_GET refused / 503 / wrong digest / huge
//! header (at once), chunked keep-alive (at the chunk end, not at close),
//! regex with lookaround and backreferences, status_code lists, the request
//! bytes on the wire, SSL_GET against a self-signed server with and without
//! SNI, UDP and DNS servers that never answer (paused clock: exactly at
//! connect_timeout), SMTP multi-line banner, MISC exit 1 / exit 7 dynamic,
//! the connection options (bindto, bind_port, bind_if, fwmark), and
//! misc_dynamic weights not accumulating across a failure (keepalived #2720).

use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use lvsd_checkers::engine::{Engine, EngineEvent};
use lvsd_checkers::http::tls::insecure_config;
use lvsd_checkers::http::{HttpCheck, HttpVersion, TlsSpec, UrlSpec};
use lvsd_checkers::misc::{MiscCheck, MiscSpec};
use lvsd_checkers::smtp::{SmtpCheck, SmtpSpec};
use lvsd_checkers::tcp::TcpCheck;
use lvsd_checkers::timing::TimingSpec;
use lvsd_checkers::udp::{ReplyPattern, UdpCheck, UdpSpec};
use lvsd_checkers::{AttemptFuture, Check, CheckOutcome, ConnOptions, Verdict};
use rustls::pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer};
use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::net::TcpListener;

type Log = Arc<Mutex<Vec<Vec<u8>>>>;

/// Answers every connection with `reply` after reading the request (which
/// it records); closes afterwards when `close`, else holds the connection
/// open for 30 s (keep-alive).
async fn server(reply: &'static [u8], close: bool) -> (SocketAddr, Log) {
    let l = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = l.local_addr().unwrap();
    let log: Log = Arc::default();
    let seen = log.clone();
    tokio::spawn(async move {
        for _ in 0..20 {
            let Ok((mut s, _)) = l.accept().await else {
                return;
            };
            let seen = seen.clone();
            tokio::spawn(async move {
                let mut buf = [0u8; 4096];
                let n = s.read(&mut buf).await.unwrap_or(0);
                seen.lock().unwrap().push(buf[..n].to_vec());
                let _ = s.write_all(reply).await;
                if close {
                    let _ = s.shutdown().await;
                } else {
                    tokio::time::sleep(Duration::from_secs(30)).await;
                }
            });
        }
    });
    (addr, log)
}

fn url(path: &str, host: &str) -> UrlSpec {
    UrlSpec {
        path: path.into(),
        digest: None,
        status: vec![],
        host: host.into(),
        regex: None,
        regex_no_match: false,
    }
}

fn http(addr: SocketAddr, u: UrlSpec) -> HttpCheck {
    let deadline = Duration::from_secs(3);
    HttpCheck {
        conn: ConnOptions::new(addr, deadline),
        urls: vec![u],
        version: HttpVersion::Http10,
        tls: None,
        deadline,
        fast_recovery: false,
    }
}

fn reason(v: &Verdict) -> String {
    match v {
        Verdict::Fail(r) => r.clone(),
        v => format!("not a failure: {v:?}"),
    }
}

/// Runs one attempt; returns the verdict and the wall time it took.
async fn timed(c: &dyn Check) -> (Verdict, Duration) {
    let t = Instant::now();
    let o = c.attempt().await;
    (o.verdict, t.elapsed())
}

/// "At once": well before any timeout in these tests (3 s).
const AT_ONCE: Duration = Duration::from_millis(700);

#[tokio::test]
async fn http_failures_are_reached_at_once() {
    // Refused.
    let closed = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap()
    };
    let (v, e) = timed(&http(closed, url("/h", "x"))).await;
    assert_eq!(
        reason(&v),
        format!("HTTP_GET http://{closed}/h: connect: connection refused")
    );
    assert!(e < AT_ONCE, "refused after {e:?}");

    // 503, also from a keep-alive server (complete by Content-Length).
    for close in [true, false] {
        let (a, _) = server(
            b"HTTP/1.1 503 Unavailable\r\nContent-Length: 4\r\n\r\nbusy",
            close,
        )
        .await;
        let (v, e) = timed(&http(a, url("/h", "x"))).await;
        assert_eq!(
            reason(&v),
            format!("HTTP_GET http://{a}/h: status 503, expected 200-299")
        );
        assert!(e < AT_ONCE, "503 (close={close}) after {e:?}");
    }

    // Wrong digest (the server closes: a digest reads until close).
    let (a, _) = server(b"HTTP/1.0 200 OK\r\nContent-Length: 5\r\n\r\nhello", true).await;
    let mut u = url("/h", "x");
    u.digest = Some("0123456789abcdef0123456789abcdef".into());
    let (v, e) = timed(&http(a, u)).await;
    assert_eq!(
        reason(&v),
        format!(
            "HTTP_GET http://{a}/h: digest 5d41402abc4b2a76b9719d911017c592, expected 0123456789abcdef0123456789abcdef"
        )
    );
    assert!(e < AT_ONCE, "wrong digest after {e:?}");

    // Huge header from a server that keeps sending: the cap, not the deadline.
    let l = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let a = l.local_addr().unwrap();
    tokio::spawn(async move {
        if let Ok((mut s, _)) = l.accept().await {
            let mut buf = [0u8; 1024];
            let _ = s.read(&mut buf).await;
            let _ = s.write_all(b"HTTP/1.0 200 OK\r\n").await;
            for _ in 0..10_000 {
                if s.write_all(b"X-Padding: aaaaaaaaaaaaaaaaaaaaaaaaaaaa\r\n")
                    .await
                    .is_err()
                {
                    return;
                }
            }
        }
    });
    let (v, e) = timed(&http(a, url("/h", "x"))).await;
    assert!(
        reason(&v).ends_with("response header larger than 64 KiB"),
        "{v:?}"
    );
    assert!(e < AT_ONCE, "huge header after {e:?}");
}

#[tokio::test]
async fn chunked_keepalive_passes_at_the_chunk_end_and_a_digest_hashes_the_framing() {
    let reply: &[u8] =
        b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n6\r\n world\r\n0\r\n\r\n";
    let (a, _) = server(reply, false).await;
    let (v, e) = timed(&http(a, url("/c", "x"))).await;
    assert_eq!(v, Verdict::Pass);
    assert!(e < AT_ONCE, "waited for a close that never comes: {e:?}");

    // keepalived's digest: the raw chunked bytes, read until close.
    let (a, _) = server(reply, true).await;
    let mut u = url("/c", "x");
    u.digest = Some(lvsd_checkers::http::response::md5_hex(
        b"5\r\nhello\r\n6\r\n world\r\n0\r\n\r\n",
    ));
    let (v, e) = timed(&http(a, u)).await;
    assert_eq!(v, Verdict::Pass);
    assert!(e < AT_ONCE, "{e:?}");
}

#[tokio::test]
async fn regex_with_lookaround_and_backreferences() {
    let (a, _) = server(
        b"HTTP/1.0 200 OK\r\n\r\n<status>ok</status> version=2.4 build 77-77\n",
        true,
    )
    .await;
    let cases = [
        // lookbehind + lookahead
        (r"(?<=<status>)ok(?=</status>)", false, true),
        // backreference
        (r"build (\d+)-\1\b", false, true),
        (r"build (\d+)-\1-", false, false),
        // negative lookahead, regex_no_match
        (r"version=(?!2\.4)", true, true),
        (r"<status>ok", true, false),
    ];
    for (pattern, no_match, pass) in cases {
        let mut u = url("/r", "x");
        u.regex = Some(fancy_regex::Regex::new(pattern).unwrap());
        u.regex_no_match = no_match;
        let (v, e) = timed(&http(a, u)).await;
        assert_eq!(v.is_pass(), pass, "{pattern} (no_match={no_match}): {v:?}");
        if !pass {
            let r = reason(&v);
            assert!(r.contains(pattern), "{r}");
        }
        assert!(e < AT_ONCE, "{pattern}: {e:?}");
    }
}

#[tokio::test]
async fn status_code_lists_and_ranges() {
    let (a, _) = server(b"HTTP/1.0 302 Found\r\nContent-Length: 0\r\n\r\n", true).await;
    let mut u = url("/s", "x");
    u.status = vec![(200, 200), (301, 302)];
    assert_eq!(http(a, u).attempt().await.verdict, Verdict::Pass);
    let mut u = url("/s", "x");
    u.status = vec![(200, 200), (400, 499)];
    let v = http(a, u).attempt().await.verdict;
    assert_eq!(
        reason(&v),
        format!("HTTP_GET http://{a}/s: status 302, expected 200,400-499")
    );
    // Default 200-299.
    let v = http(a, url("/s", "x")).attempt().await.verdict;
    assert!(
        reason(&v).ends_with("status 302, expected 200-299"),
        "{v:?}"
    );
}

#[tokio::test]
async fn the_request_bytes_on_the_wire() {
    let (a, log) = server(b"HTTP/1.0 200 OK\r\nContent-Length: 0\r\n\r\n", true).await;
    for version in [
        HttpVersion::Http10,
        HttpVersion::Http10Close,
        HttpVersion::Http11,
    ] {
        let mut c = http(a, url("/health?x=1", "www.example"));
        c.version = version;
        assert_eq!(c.attempt().await.verdict, Verdict::Pass);
    }
    let mut c = http(a, url("/", &lvsd_checkers::http::request::default_host(a)));
    c.version = HttpVersion::Http10;
    assert_eq!(c.attempt().await.verdict, Verdict::Pass);
    let got: Vec<String> = log
        .lock()
        .unwrap()
        .iter()
        .map(|r| String::from_utf8_lossy(r).into_owned())
        .collect();
    assert_eq!(
        got,
        [
            "GET /health?x=1 HTTP/1.0\r\nUser-Agent: KeepAliveClient\r\nHost: www.example\r\n\r\n".to_string(),
            "GET /health?x=1 HTTP/1.0\r\nUser-Agent: KeepAliveClient\r\nConnection: close\r\nHost: www.example\r\n\r\n".to_string(),
            "GET /health?x=1 HTTP/1.1\r\nUser-Agent: KeepAliveClient\r\nConnection: close\r\nHost: www.example\r\n\r\n".to_string(),
            format!("GET / HTTP/1.0\r\nUser-Agent: KeepAliveClient\r\nHost: {a}\r\n\r\n"),
        ]
    );
}

/// A TLS server with a self-signed certificate; records each SNI.
async fn self_signed_tls() -> (SocketAddr, Arc<Mutex<Vec<Option<String>>>>) {
    let ck = rcgen::generate_simple_self_signed(vec!["www.example".to_string()]).unwrap();
    let cert: CertificateDer<'static> = ck.cert.der().clone();
    let key = PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(ck.key_pair.serialize_der()));
    let cfg = rustls::ServerConfig::builder_with_provider(Arc::new(
        rustls::crypto::ring::default_provider(),
    ))
    .with_safe_default_protocol_versions()
    .unwrap()
    .with_no_client_auth()
    .with_single_cert(vec![cert], key)
    .unwrap();
    let acceptor = tokio_rustls::TlsAcceptor::from(Arc::new(cfg));
    let l = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = l.local_addr().unwrap();
    let seen: Arc<Mutex<Vec<Option<String>>>> = Arc::default();
    let log = seen.clone();
    tokio::spawn(async move {
        for _ in 0..10 {
            let Ok((s, _)) = l.accept().await else { return };
            let Ok(mut t) = acceptor.accept(s).await else {
                continue;
            };
            log.lock()
                .unwrap()
                .push(t.get_ref().1.server_name().map(str::to_string));
            let mut buf = [0u8; 1024];
            let _ = t.read(&mut buf).await;
            let _ = t
                .write_all(b"HTTP/1.0 200 OK\r\nContent-Length: 2\r\n\r\nok")
                .await;
            let _ = t.shutdown().await;
        }
    });
    (addr, seen)
}

#[tokio::test]
async fn ssl_get_against_a_self_signed_server_with_and_without_sni() {
    let (a, seen) = self_signed_tls().await;
    for sni in [None, Some("www.example".to_string())] {
        let mut c = http(a, url("/t", "www.example"));
        c.tls = Some(TlsSpec {
            config: insecure_config().unwrap(),
            sni: sni.clone(),
            verify_ca: None,
        });
        let (v, e) = timed(&c).await;
        assert_eq!(v, Verdict::Pass, "sni={sni:?}");
        assert!(e < AT_ONCE, "{e:?}");
    }
    assert_eq!(
        *seen.lock().unwrap(),
        [None, Some("www.example".to_string())]
    );
}

/// A UDP socket that reads and never answers.
async fn silent_udp() -> (SocketAddr, tokio::task::JoinHandle<usize>) {
    let s = tokio::net::UdpSocket::bind("127.0.0.1:0").await.unwrap();
    let a = s.local_addr().unwrap();
    let h = tokio::spawn(async move {
        let mut b = [0u8; 512];
        let mut n = 0;
        while let Ok(Ok(_)) =
            tokio::time::timeout(Duration::from_secs(30), s.recv_from(&mut b)).await
        {
            n += 1;
        }
        n
    });
    (a, h)
}

#[tokio::test(start_paused = true)]
async fn udp_without_reply_fails_at_connect_timeout_only_when_a_reply_is_required() {
    let (a, _h) = silent_udp().await;
    let timeout = Duration::from_secs(2);
    let mut spec = UdpSpec::new(ConnOptions::new(a, timeout));
    spec.require_reply = Some(ReplyPattern::parse("4142").unwrap());
    let t = tokio::time::Instant::now();
    let v = UdpCheck::new(spec).attempt().await.verdict;
    assert!(!v.is_pass(), "{v:?}");
    assert_eq!(t.elapsed(), timeout, "failed at connect_timeout exactly");

    // keepalived: without require_reply a timeout is a success.
    let t = tokio::time::Instant::now();
    let v = UdpCheck::new(UdpSpec::new(ConnOptions::new(a, timeout)))
        .attempt()
        .await
        .verdict;
    assert_eq!(v, Verdict::Pass);
    assert_eq!(t.elapsed(), timeout);
}

#[tokio::test(start_paused = true)]
async fn dns_without_reply_fails_at_connect_timeout() {
    let (a, _h) = silent_udp().await;
    let timeout = Duration::from_secs(3);
    let spec = lvsd_checkers::dns::DnsSpec::new(ConnOptions::new(a, timeout));
    let t = tokio::time::Instant::now();
    let v = lvsd_checkers::dns::DnsCheck::new(spec)
        .attempt()
        .await
        .verdict;
    assert!(reason(&v).ends_with("no reply within 3s"), "{v:?}");
    assert_eq!(t.elapsed(), timeout);
}

#[tokio::test]
async fn smtp_multiline_banner_passes_at_once_and_a_silent_server_at_the_deadline() {
    let l = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let a = l.local_addr().unwrap();
    tokio::spawn(async move {
        for _ in 0..2 {
            let Ok((s, _)) = l.accept().await else { return };
            tokio::spawn(async move {
                let mut r = BufReader::new(s);
                let _ = r
                    .get_mut()
                    .write_all(b"220-mx.example ESMTP\r\n220-second line\r\n220 ready\r\n")
                    .await;
                let mut line = String::new();
                while r.read_line(&mut line).await.unwrap_or(0) > 0 {
                    let answer: &[u8] = if line.starts_with("HELO ") {
                        b"250 hello\r\n"
                    } else {
                        b"221 bye\r\n"
                    };
                    let _ = r.get_mut().write_all(answer).await;
                    line.clear();
                }
            });
        }
    });
    let c = SmtpCheck::new(SmtpSpec {
        conn: ConnOptions::new(a, Duration::from_secs(3)),
        helo_name: None,
    });
    let (v, e) = timed(&c).await;
    assert_eq!(v, Verdict::Pass);
    assert!(e < AT_ONCE, "{e:?}");

    // Accepts and says nothing: fails at connect_timeout.
    let l = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let a = l.local_addr().unwrap();
    tokio::spawn(async move {
        let held = l.accept().await;
        tokio::time::sleep(Duration::from_secs(30)).await;
        drop(held);
    });
    let c = SmtpCheck::new(SmtpSpec {
        conn: ConnOptions::new(a, Duration::from_secs(1)),
        helo_name: None,
    });
    let (v, e) = timed(&c).await;
    assert!(!v.is_pass(), "{v:?}");
    assert!(
        e >= Duration::from_millis(950) && e < Duration::from_millis(1700),
        "{e:?}"
    );
}

fn misc(cmd: &str, dynamic: bool) -> MiscSpec {
    MiscSpec {
        misc_path: cmd.into(),
        misc_timeout: Duration::from_secs(5),
        misc_dynamic: dynamic,
        user: None,
        group: None,
        script_user: None,
        rs_weight: 5,
        script_security: false,
    }
}

#[tokio::test]
async fn misc_exit_1_and_exit_7_dynamic_are_judged_when_the_script_exits() {
    for (cmd, dynamic, want) in [
        ("/bin/sh -c 'sleep 0.3; exit 1'", false, None),
        ("/bin/sh -c 'sleep 0.3; exit 1'", true, None),
        ("/bin/sh -c 'sleep 0.3; exit 7'", false, None),
        // misc_dynamic: 7 → weight 7-2 = 5 = the RS weight: delta 0.
        (
            "/bin/sh -c 'sleep 0.3; exit 7'",
            true,
            Some(Verdict::PassWithWeight(0)),
        ),
        (
            "/bin/sh -c 'sleep 0.3; exit 12'",
            true,
            Some(Verdict::PassWithWeight(5)),
        ),
    ] {
        let c = MiscCheck::new(misc(cmd, dynamic)).unwrap();
        let (v, e) = timed(&c).await;
        match want {
            Some(w) => assert_eq!(v, w, "{cmd} dynamic={dynamic}"),
            None => assert!(!v.is_pass(), "{cmd} dynamic={dynamic}: {v:?}"),
        }
        assert!(
            e >= Duration::from_millis(290) && e < Duration::from_millis(300) + AT_ONCE,
            "{cmd}: {e:?}"
        );
    }
}

#[tokio::test]
async fn connection_options_bindto_bind_port_bind_if_and_fwmark() {
    let l = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let a = l.local_addr().unwrap();
    let peers: Arc<Mutex<Vec<SocketAddr>>> = Arc::default();
    let p = peers.clone();
    tokio::spawn(async move {
        for _ in 0..3 {
            let Ok((_s, peer)) = l.accept().await else {
                return;
            };
            p.lock().unwrap().push(peer);
        }
    });
    // bindto + bind_port: the server sees that source.
    let port = {
        let t = std::net::TcpListener::bind("127.0.0.3:0").unwrap();
        t.local_addr().unwrap().port()
    };
    let mut conn = ConnOptions::new(a, Duration::from_secs(2));
    conn.bind_addr = Some("127.0.0.3".parse().unwrap());
    conn.bind_port = Some(port);
    assert_eq!(TcpCheck { conn }.attempt().await.verdict, Verdict::Pass);
    // bind_if lo passes; an unknown device fails at once.
    let mut conn = ConnOptions::new(a, Duration::from_secs(2));
    conn.bind_if = Some("lo".into());
    assert_eq!(
        TcpCheck { conn: conn.clone() }.attempt().await.verdict,
        Verdict::Pass
    );
    conn.bind_if = Some("lvsdnodev0".into());
    let (v, e) = timed(&TcpCheck { conn }).await;
    assert!(!v.is_pass(), "{v:?}");
    assert!(e < AT_ONCE);
    tokio::time::sleep(Duration::from_millis(100)).await;
    assert_eq!(
        peers.lock().unwrap()[0],
        SocketAddr::new("127.0.0.3".parse().unwrap(), port)
    );

    // fwmark: SO_MARK set on the check socket (needs CAP_NET_ADMIN).
    let mut conn = ConnOptions::new(a, Duration::from_secs(2));
    conn.fwmark = 0x2a;
    match lvsd_checkers::socket::socket_with_opts(
        &conn,
        socket2::Type::STREAM,
        socket2::Protocol::TCP,
    ) {
        Ok(s) => assert_eq!(s.mark().unwrap(), 0x2a),
        // SAFETY: plain getter.
        Err(e) if unsafe { libc::geteuid() } != 0 => {
            eprintln!("fwmark needs CAP_NET_ADMIN, skipped: {e}")
        }
        Err(e) => panic!("SO_MARK as root: {e}"),
    }
}

/// misc_dynamic through the engine: each attempt carries the delta of that
/// attempt only, and a failure (e.g. a script killed at misc_timeout)
/// carries none, so nothing accumulates (keepalived #2720). Paused clock.
struct Weights {
    script: Vec<Verdict>,
    n: std::sync::atomic::AtomicUsize,
}

impl Check for Weights {
    fn attempt(&self) -> AttemptFuture<'_> {
        Box::pin(async move {
            let i = self.n.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
            let v = self.script.get(i).or(self.script.last()).cloned();
            CheckOutcome {
                verdict: v.unwrap_or(Verdict::Pass),
                elapsed: Duration::ZERO,
            }
        })
    }
    fn describe(&self) -> String {
        "MISC_CHECK w".into()
    }
    fn identity(&self) -> String {
        "w".into()
    }
}

#[tokio::test(start_paused = true)]
async fn misc_dynamic_weight_does_not_accumulate_across_a_timeout() {
    let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel();
    let mut e = Engine::new(tx, Box::new(|| 0.0));
    let script = vec![
        Verdict::PassWithWeight(3),
        Verdict::Fail("MISC_CHECK w: timed out after 1s".into()),
        Verdict::PassWithWeight(3),
        Verdict::PassWithWeight(3),
    ];
    e.add(
        1,
        Arc::new(Weights {
            script,
            n: Default::default(),
        }),
        TimingSpec {
            delay_loop: Duration::from_secs(5),
            delay_before_retry: Duration::from_secs(1),
            retry: 0,
            warmup: Duration::ZERO,
            alpha: false,
            poll_down_at_max: false,
            rise: None,
            fall: None,
        },
        None,
    );
    let start = tokio::time::Instant::now();
    let mut got = Vec::new();
    while got.len() < 7 {
        let ev = tokio::time::timeout(Duration::from_secs(30), rx.recv())
            .await
            .expect("engine went quiet")
            .expect("engine stopped");
        let at = start.elapsed().as_secs();
        match ev {
            EngineEvent::Attempt { weight_delta, .. } => got.push((at, "attempt", weight_delta)),
            EngineEvent::Transition {
                up, weight_delta, ..
            } => got.push((at, if up { "up" } else { "down" }, weight_delta)),
        }
    }
    // 1 s: +3 (a fresh checker starts up: no transition); 6 s: fail →
    // down (retry 0), no delta; 11 s: +3, up; 16 s and 21 s: +3 again,
    // never 6 or 9.
    assert_eq!(
        got,
        [
            (1, "attempt", Some(3)),
            (6, "attempt", None),
            (6, "down", None),
            (11, "attempt", Some(3)),
            (11, "up", Some(3)),
            (16, "attempt", Some(3)),
            (21, "attempt", Some(3)),
        ]
    );
}

#[tokio::test]
async fn udp_echo_reply_length_bounds_and_pattern_are_judged_on_arrival() {
    let s = tokio::net::UdpSocket::bind("127.0.0.1:0").await.unwrap();
    let a = s.local_addr().unwrap();
    tokio::spawn(async move {
        let mut b = [0u8; 512];
        for _ in 0..10 {
            let Ok((n, from)) = s.recv_from(&mut b).await else {
                return;
            };
            let _ = s.send_to(&b[..n], from).await;
        }
    });
    let timeout = Duration::from_secs(3);
    let run = |min: usize, max: usize, pattern: Option<&str>| {
        let mut spec = UdpSpec::new(ConnOptions::new(a, timeout));
        spec.payload = Some(b"ABCDEF".to_vec());
        spec.min_reply_length = min;
        spec.max_reply_length = max;
        spec.require_reply = pattern.map(|p| ReplyPattern::parse(p).unwrap());
        UdpCheck::new(spec)
    };
    for (min, max, pattern, pass) in [
        (0, 255, Some("41xx43"), true),
        (6, 6, Some("4142"), true),
        (7, 255, Some("4142"), false),
        (0, 5, Some("4142"), false),
        (0, 255, Some("4143"), false),
        (0, 255, None, true),
    ] {
        let (v, e) = timed(&run(min, max, pattern)).await;
        assert_eq!(v.is_pass(), pass, "{min}..={max} {pattern:?}: {v:?}");
        if !pass && min + max != 255 {
            assert!(reason(&v).contains("reply length 6 outside"), "{v:?}");
        }
        assert!(e < AT_ONCE, "{min}..={max} {pattern:?}: {e:?}");
    }
}
