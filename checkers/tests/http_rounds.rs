//! HTTP_GET's one-URL-per-round rule and fast_recovery on real sockets: the
//! engine (real clock) against a server on 127.0.0.1 that records which
//! path was requested when. Bounds are behavioural and generous.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use lvsd_checkers::engine::{Engine, EngineEvent};
use lvsd_checkers::http::{HttpCheck, HttpVersion, UrlSpec};
use lvsd_checkers::timing::TimingSpec;
use lvsd_checkers::ConnOptions;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;
use tokio::sync::mpsc::{unbounded_channel, UnboundedReceiver};

type Log = Arc<Mutex<Vec<(Instant, String)>>>;

/// Answers `GET <path>` with the status configured for the path (404 when
/// absent), records each request; serves at most 200 connections.
async fn server(status: HashMap<&'static str, u16>) -> (SocketAddr, Log) {
    let l = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = l.local_addr().unwrap();
    let log: Log = Arc::new(Mutex::new(Vec::new()));
    let log2 = log.clone();
    tokio::spawn(async move {
        for _ in 0..200 {
            let Ok((mut s, _)) = l.accept().await else {
                return;
            };
            let mut buf = vec![0u8; 2048];
            let mut n = 0;
            while n < buf.len() && !buf[..n].windows(4).any(|w| w == b"\r\n\r\n") {
                match s.read(&mut buf[n..]).await {
                    Ok(0) | Err(_) => break,
                    Ok(k) => n += k,
                }
            }
            let req = String::from_utf8_lossy(&buf[..n]).into_owned();
            let path = req.split(' ').nth(1).unwrap_or("").to_string();
            let code = status.get(path.as_str()).copied().unwrap_or(404);
            log2.lock().unwrap().push((Instant::now(), path));
            let reply = format!("HTTP/1.0 {code} X\r\nContent-Length: 0\r\n\r\n");
            let _ = s.write_all(reply.as_bytes()).await;
            let _ = s.shutdown().await;
        }
    });
    (addr, log)
}

fn check(addr: SocketAddr, paths: &[&str], fast_recovery: bool) -> Arc<HttpCheck> {
    let deadline = Duration::from_secs(2);
    Arc::new(HttpCheck {
        conn: ConnOptions::new(addr, deadline),
        urls: paths
            .iter()
            .map(|p| UrlSpec {
                path: p.to_string(),
                digest: None,
                status: vec![],
                host: addr.to_string(),
                regex: None,
                regex_no_match: false,
            })
            .collect(),
        version: HttpVersion::Http10,
        tls: None,
        deadline,
        fast_recovery,
    })
}

fn timing(delay_loop_ms: u64, retry: u32, alpha: bool) -> TimingSpec {
    TimingSpec {
        delay_loop: Duration::from_millis(delay_loop_ms),
        delay_before_retry: Duration::from_millis(delay_loop_ms),
        retry,
        warmup: Duration::ZERO,
        alpha,
        poll_down_at_max: true,
        rise: None,
        fall: None,
    }
}

fn paths(log: &Log) -> Vec<String> {
    log.lock().unwrap().iter().map(|(_, p)| p.clone()).collect()
}

/// Waits (bounded) for the first transition.
async fn transition(
    rx: &mut UnboundedReceiver<EngineEvent>,
    within: Duration,
) -> Option<(bool, Option<String>)> {
    let end = tokio::time::Instant::now() + within;
    loop {
        match tokio::time::timeout_at(end, rx.recv()).await {
            Ok(Some(EngineEvent::Transition { up, reason, .. })) => return Some((up, reason)),
            Ok(Some(_)) => continue,
            _ => return None,
        }
    }
}

#[tokio::test]
async fn each_round_requests_one_url_in_turn() {
    let (addr, log) = server(HashMap::from([("/a", 200), ("/b", 200), ("/c", 200)])).await;
    let (tx, _rx) = unbounded_channel();
    let mut e = Engine::new(tx, Box::new(|| 0.0));
    e.add(
        1,
        check(addr, &["/a", "/b", "/c"], false),
        timing(300, 1, false),
        None,
    );
    // First attempt at 1 s, then one URL every 300 ms.
    tokio::time::sleep(Duration::from_millis(2900)).await;
    drop(e);
    let seen = log.lock().unwrap().clone();
    let p: Vec<&str> = seen.iter().map(|(_, p)| p.as_str()).collect();
    assert!(p.len() >= 4 && p.len() <= 8, "{p:?}");
    let want = ["/a", "/b", "/c"];
    for (i, path) in p.iter().enumerate() {
        assert_eq!(*path, want[i % 3], "one URL per round, in order: {p:?}");
    }
    for w in seen.windows(2) {
        let gap = w[1].0 - w[0].0;
        assert!(
            gap >= Duration::from_millis(250),
            "URLs spaced by delay_loop: {gap:?}"
        );
    }
}

#[tokio::test]
async fn a_failing_url_takes_the_checker_down_and_is_pinned() {
    let (addr, log) = server(HashMap::from([("/a", 200), ("/b", 503)])).await;
    let (tx, mut rx) = unbounded_channel();
    let mut e = Engine::new(tx, Box::new(|| 0.0));
    e.add(
        1,
        check(addr, &["/a", "/b"], false),
        timing(200, 0, false),
        None,
    );
    let t = transition(&mut rx, Duration::from_secs(5)).await;
    let (up, reason) = t.expect("a transition within 5 s");
    assert!(!up);
    let reason = reason.unwrap_or_default();
    assert!(
        reason.contains(&format!(
            "HTTP_GET http://{addr}/b: status 503, expected 200-299"
        )),
        "{reason}"
    );
    // From now on only the pinned URL is polled.
    let before = paths(&log).len();
    tokio::time::sleep(Duration::from_millis(900)).await;
    drop(e);
    let p = paths(&log);
    assert_eq!(&p[..before], ["/a", "/b"]);
    assert!(p.len() > before, "still polled: {p:?}");
    assert!(p[before..].iter().all(|x| x == "/b"), "{p:?}");
}

#[tokio::test]
async fn fast_recovery_checks_every_url_without_waiting_for_delay_loop() {
    let (addr, log) = server(HashMap::from([("/a", 200), ("/b", 200), ("/c", 200)])).await;
    let (tx, mut rx) = unbounded_channel();
    let mut e = Engine::new(tx, Box::new(|| 0.0));
    // alpha: starts down; delay_loop 30 s, so without fast_recovery the
    // checker could not come up within the bound below.
    e.add(
        1,
        check(addr, &["/a", "/b", "/c"], true),
        timing(30_000, 1, true),
        None,
    );
    let started = Instant::now();
    let t = transition(&mut rx, Duration::from_secs(5)).await;
    assert_eq!(t, Some((true, None)));
    assert!(
        started.elapsed() < Duration::from_secs(4),
        "{:?}",
        started.elapsed()
    );
    assert_eq!(paths(&log), ["/a", "/b", "/c"]);

    // Control: the same without fast_recovery stays down (next URL at 31 s).
    let (addr2, log2) = server(HashMap::from([("/a", 200), ("/b", 200)])).await;
    e.add(
        2,
        check(addr2, &["/a", "/b"], false),
        timing(30_000, 1, true),
        None,
    );
    tokio::time::sleep(Duration::from_millis(2000)).await;
    assert_eq!(paths(&log2), ["/a"]);
    let mut ups = 0;
    while let Ok(ev) = rx.try_recv() {
        if matches!(ev, EngineEvent::Transition { id: 2, .. }) {
            ups += 1;
        }
    }
    assert_eq!(ups, 0);
}
