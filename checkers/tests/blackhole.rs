//! TCP_CHECK and HTTP_GET against a blackholed server (no SYN-ACK): the
//! verdict is a failure at connect_timeout, alone and through the engine.
//!
//! The blackhole is real and needs no firewall: a listener on 127.0.0.1
//! with backlog 0 whose accept queue is filled by a connection that is
//! never accepted; Linux then drops further SYNs (`ListenOverflows`, with
//! `tcp_abort_on_overflow` 0, the default), so a client sees no SYN-ACK and
//! its connect stays pending. `blackhole()` checks this on the running
//! kernel before any test relies on it. Real clock: with tokio's paused
//! clock the connect timer could fire before a loopback SYN-ACK is even
//! processed, which would let the test pass for the wrong reason.

use std::io::ErrorKind;
use std::net::{SocketAddr, TcpStream};
use std::sync::Arc;
use std::time::{Duration, Instant};

use lvsd_checkers::engine::{Engine, EngineEvent};
use lvsd_checkers::http::{HttpCheck, HttpVersion, UrlSpec};
use lvsd_checkers::tcp::TcpCheck;
use lvsd_checkers::timing::TimingSpec;
use lvsd_checkers::{Check, ConnOptions, Verdict};
use socket2::{Domain, Socket, Type};

/// The listener and the connections filling its queue (kept open).
struct Blackhole {
    addr: SocketAddr,
    _listener: Socket,
    _fill: Vec<TcpStream>,
}

/// Reads the sysctl, if present.
fn sysctl(path: &str) -> Option<String> {
    std::fs::read_to_string(path)
        .ok()
        .map(|s| s.trim().to_string())
}

/// A 127.0.0.1 address that completes no handshake, verified: a probe
/// connect stays pending (no SYN-ACK, no RST) for 600 ms.
fn blackhole() -> Blackhole {
    assert_eq!(
        sysctl("/proc/sys/net/ipv4/tcp_abort_on_overflow").as_deref(),
        Some("0"),
        "with tcp_abort_on_overflow the overflowing SYN gets a reset, not silence"
    );
    let l = Socket::new(Domain::IPV4, Type::STREAM, None).unwrap();
    l.bind(&SocketAddr::from(([127, 0, 0, 1], 0)).into())
        .unwrap();
    l.listen(0).unwrap();
    let addr = l.local_addr().unwrap().as_socket().unwrap();
    // Fill the accept queue: connects complete until it is full (one with
    // backlog 0 on Linux); the first that times out proves it is.
    let mut fill = Vec::new();
    let mut full = false;
    for _ in 0..8 {
        match TcpStream::connect_timeout(&addr, Duration::from_millis(300)) {
            Ok(s) => fill.push(s),
            Err(e) if matches!(e.kind(), ErrorKind::TimedOut | ErrorKind::WouldBlock) => {
                full = true;
                break;
            }
            Err(e) => panic!("filling the accept queue: {e}"),
        }
    }
    assert!(full, "the accept queue never filled");
    assert!(!fill.is_empty(), "no connection was ever queued");
    // The verification the tests rely on: a connect gets no SYN-ACK (it
    // would complete) and no RST (it would be refused) for 600 ms.
    let t = Instant::now();
    let probe = TcpStream::connect_timeout(&addr, Duration::from_millis(600));
    match probe {
        Err(e) if matches!(e.kind(), ErrorKind::TimedOut | ErrorKind::WouldBlock) => {}
        other => panic!("not a blackhole on this kernel: {other:?}"),
    }
    assert!(t.elapsed() >= Duration::from_millis(590));
    Blackhole {
        addr,
        _listener: l,
        _fill: fill,
    }
}

fn reason(v: &Verdict) -> &str {
    match v {
        Verdict::Fail(r) => r,
        _ => "",
    }
}

/// The moment, with generous slack for a loaded 2-core machine.
fn assert_at(elapsed: Duration, want: Duration, what: &str) {
    assert!(
        elapsed >= want.saturating_sub(Duration::from_millis(20))
            && elapsed < want + Duration::from_millis(700),
        "{what}: failed after {elapsed:?}, expected at {want:?}"
    );
}

#[tokio::test]
async fn tcp_check_fails_at_connect_timeout() {
    let bh = blackhole();
    let timeout = Duration::from_millis(1500);
    let c = TcpCheck {
        conn: ConnOptions::new(bh.addr, timeout),
    };
    let t = Instant::now();
    let o = c.attempt().await;
    let e = t.elapsed();
    assert!(
        reason(&o.verdict).ends_with("timed out after 1.5s"),
        "{:?}",
        o.verdict
    );
    assert!(
        reason(&o.verdict).starts_with(&format!("TCP_CHECK {}", bh.addr)),
        "{:?}",
        o.verdict
    );
    assert_at(e, timeout, "TCP_CHECK");
    assert_at(o.elapsed, timeout, "TCP_CHECK outcome.elapsed");
}

fn http(addr: SocketAddr, timeout: Duration) -> HttpCheck {
    HttpCheck {
        conn: ConnOptions::new(addr, timeout),
        urls: vec![UrlSpec {
            path: "/health".into(),
            digest: None,
            status: vec![],
            host: format!("{addr}"),
            regex: None,
            regex_no_match: false,
        }],
        version: HttpVersion::Http10,
        tls: None,
        deadline: timeout,
        fast_recovery: false,
    }
}

#[tokio::test]
async fn http_get_fails_at_connect_timeout() {
    let bh = blackhole();
    let timeout = Duration::from_secs(1);
    let t = Instant::now();
    let o = http(bh.addr, timeout).attempt().await;
    let e = t.elapsed();
    assert_eq!(
        reason(&o.verdict),
        format!(
            "HTTP_GET http://{}/health: connect: timed out after 1s",
            bh.addr
        )
    );
    assert_at(e, timeout, "HTTP_GET");
}

fn timing(retry: u32) -> TimingSpec {
    TimingSpec {
        delay_loop: Duration::from_secs(3),
        delay_before_retry: Duration::from_secs(1),
        retry,
        warmup: Duration::ZERO,
        alpha: false,
        poll_down_at_max: false,
        rise: None,
        fall: None,
    }
}

/// Through the engine: first attempt at 1 s (warmup 0), failing at
/// connect_timeout; keepalived's start-up rule takes the checker down on
/// that first failure, so the transition comes at 1 s + connect_timeout.
#[tokio::test]
async fn engine_takes_a_blackholed_checker_down_at_first_run_plus_connect_timeout() {
    let bh = blackhole();
    let timeout = Duration::from_secs(1);
    let checks: Vec<(u64, Arc<dyn Check>)> = vec![
        (
            1,
            Arc::new(TcpCheck {
                conn: ConnOptions::new(bh.addr, timeout),
            }),
        ),
        (2, Arc::new(http(bh.addr, timeout))),
    ];
    let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel();
    let mut e = Engine::new(tx, Box::new(|| 0.0));
    let start = Instant::now();
    for (id, c) in checks {
        e.add(id, c, timing(1), None);
    }
    let mut down = Vec::new();
    while down.len() < 2 {
        let ev = tokio::time::timeout(Duration::from_secs(5), rx.recv())
            .await
            .expect("no transition within 5 s")
            .expect("engine stopped");
        if let EngineEvent::Transition { id, up, reason, .. } = ev {
            assert!(!up, "check {id} came up against a blackhole");
            down.push((id, start.elapsed(), reason.unwrap_or_default()));
        }
    }
    for (id, at, why) in down {
        assert_at(at, Duration::from_secs(2), &format!("check {id} down"));
        assert!(why.contains("timed out after 1s"), "check {id}: {why}");
    }
}

/// An up checker (carried over as up and run) needs retry+1 = 2 failures
/// spaced delay_before_retry: down at delay_loop + timeout + dbr + timeout.
#[tokio::test]
async fn engine_takes_an_up_blackholed_checker_down_after_retry_plus_one_attempts() {
    let bh = blackhole();
    let timeout = Duration::from_millis(500);
    let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel();
    let mut e = Engine::new(tx, Box::new(|| 0.0));
    let mut spec = timing(1);
    spec.delay_loop = Duration::from_secs(1);
    let start = Instant::now();
    e.add(
        7,
        Arc::new(TcpCheck {
            conn: ConnOptions::new(bh.addr, timeout),
        }),
        spec,
        Some((true, true)),
    );
    let mut attempts = Vec::new();
    loop {
        let ev = tokio::time::timeout(Duration::from_secs(6), rx.recv())
            .await
            .expect("no event within 6 s")
            .expect("engine stopped");
        match ev {
            EngineEvent::Attempt { pass, .. } => {
                assert!(!pass);
                attempts.push(start.elapsed());
            }
            EngineEvent::Transition { up, reason, .. } => {
                assert!(!up);
                assert!(
                    reason
                        .as_deref()
                        .unwrap_or("")
                        .ends_with("after 2 attempts"),
                    "{reason:?}"
                );
                break;
            }
        }
    }
    let at = start.elapsed();
    assert_eq!(attempts.len(), 2, "{attempts:?}");
    // delay_loop 1 s, fail at 1.5 s; retry after 1 s, fail at 3 s.
    assert_at(attempts[0], Duration::from_millis(1500), "first failure");
    assert_at(attempts[1], Duration::from_millis(3000), "second failure");
    assert_at(at, Duration::from_millis(3000), "down");
}
