//! The daemon core with real checks against real sockets on 127.0.0.1 and
//! the in-memory kernel: a real server whose listener goes away is removed
//! within keepalived's bound and comes back when it listens again; a reload
//! with one weight changed is exactly one operation and keeps the checks
//! running; shutdown removes what lvsd owns.

use std::path::Path;
use std::time::{Duration, Instant};

use lvsd::config::{load_str, Config, LoadOptions};
use lvsd::daemon::runtime::Runtime;
use lvsd_checkers::engine::Engine;
use lvsd_ipvs::fake::FakeIpvs as MemoryIpvs;
use lvsd_ipvs::format::save_table;
use tokio::net::TcpListener;
use tokio::sync::mpsc::unbounded_channel;

fn config(port_a: u16, port_b: u16, weight_b: u32) -> Config {
    let text = format!(
        "virtual_server 10.0.0.1 80 {{\n lb_algo rr\n lb_kind DR\n protocol TCP\n delay_loop 1\n\
         real_server 127.0.0.1 80 {{\n  weight 1\n  TCP_CHECK {{\n   connect_port {port_a}\n   connect_timeout 1\n   warmup 0\n   retry 1\n   delay_before_retry 0.2\n  }}\n }}\n\
         real_server 127.0.0.2 80 {{\n  weight {weight_b}\n  TCP_CHECK {{\n   connect_ip 127.0.0.1\n   connect_port {port_b}\n   connect_timeout 1\n   warmup 0\n  }}\n }}\n}}\n"
    );
    let l = load_str(Path::new("t.conf"), &text, &LoadOptions::default());
    assert!(!l.has_errors(), "{}", l.render_diagnostics());
    l.config
}

fn dests(rt: &mut Runtime<MemoryIpvs>) -> String {
    let t = rt.backend().table().clone();
    save_table(&t)
        .lines()
        .filter(|l| l.starts_with("-a"))
        .map(|l| {
            l.split_whitespace().nth(4).unwrap_or("").to_string()
                + "="
                + l.rsplit(' ').next().unwrap_or("")
        })
        .collect::<Vec<_>>()
        .join(" ")
}

async fn pump(
    rt: &mut Runtime<MemoryIpvs>,
    rx: &mut tokio::sync::mpsc::UnboundedReceiver<lvsd_checkers::engine::EngineEvent>,
    until: impl Fn(&str) -> bool,
    limit: Duration,
) -> Duration {
    let start = Instant::now();
    loop {
        if until(&dests(rt)) {
            return start.elapsed();
        }
        assert!(
            start.elapsed() < limit,
            "not reached within {limit:?}: {}",
            dests(rt)
        );
        if let Ok(Some(ev)) = tokio::time::timeout(Duration::from_millis(100), rx.recv()).await {
            if rt.on_event(ev) {
                rt.reconcile();
            }
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn checks_drive_the_table_reload_and_shutdown() {
    let a = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let b = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let (pa, pb) = (
        a.local_addr().unwrap().port(),
        b.local_addr().unwrap().port(),
    );
    let (tx, mut rx) = unbounded_channel();
    let engine = Engine::new(tx, Box::new(|| 0.0));
    let mut rt = Runtime::start(config(pa, pb, 2), MemoryIpvs::default(), None, engine).unwrap();
    assert_eq!(dests(&mut rt), "127.0.0.1:80=1 127.0.0.2:80=2");
    assert_eq!(rt.running_checks(), 2);

    // Listener A goes away: refused at once; keepalived's bound is
    // delay_loop (1 s) + retry x delay_before_retry (0.2 s) + slack.
    drop(a);
    let took = pump(
        &mut rt,
        &mut rx,
        |d| d == "127.0.0.2:80=2",
        Duration::from_secs(4),
    )
    .await;
    assert!(took < Duration::from_millis(1700), "{took:?}");

    // It listens again: back within one delay_loop (+ slack).
    let _a2 = TcpListener::bind(("127.0.0.1", pa)).await.unwrap();
    pump(
        &mut rt,
        &mut rx,
        |d| d == "127.0.0.1:80=1 127.0.0.2:80=2",
        Duration::from_secs(3),
    )
    .await;

    // Reload with one weight changed: exactly one operation, same checks.
    let before = rt.backend().op_count();
    let r = rt.reload(config(pa, pb, 5));
    assert_eq!(r.applied, 1);
    assert_eq!(rt.backend().op_count() - before, 1);
    assert_eq!(rt.running_checks(), 2, "unchanged checks kept");
    assert_eq!(dests(&mut rt), "127.0.0.1:80=1 127.0.0.2:80=5");

    // Drift behind our back is repaired by the periodic reconcile.
    let key = rt.backend().table().services[0].service.key;
    let d = rt.backend().table().services[0].destinations[0].clone();
    rt.backend()
        .apply_unlogged(&lvsd_ipvs::Operation::DelDest(key, d.key()))
        .unwrap();
    assert_eq!(rt.reconcile().applied, 1);
    assert_eq!(dests(&mut rt), "127.0.0.1:80=1 127.0.0.2:80=5");

    // Shutdown removes the owned service.
    rt.shutdown(false);
    assert!(rt.backend().table().services.is_empty());
    drop(b);
}

/// `ha_suspend`: while the virtual server's address is not on this host,
/// its checks are not attempted (a dead real server stays in the table);
/// once the address arrives they run and the dead server is removed.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ha_suspend_follows_the_address() {
    let dead = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = dead.local_addr().unwrap().port();
    drop(dead); // nothing listens: every attempt fails at once
    let text = format!(
        "virtual_server 10.0.0.1 80 {{\n ha_suspend\n lb_kind DR\n delay_loop 1\n\
         real_server 127.0.0.1 80 {{\n  TCP_CHECK {{\n   connect_port {port}\n   connect_timeout 1\n   retry 0\n  }}\n }}\n}}\n"
    );
    let l = load_str(Path::new("t.conf"), &text, &LoadOptions::default());
    assert!(!l.has_errors(), "{}", l.render_diagnostics());
    let (tx, mut rx) = unbounded_channel();
    // First attempt at half the delay_loop: after the suspension below.
    let engine = Engine::new(tx, Box::new(|| 0.5));
    let mut rt = Runtime::start(l.config, MemoryIpvs::default(), None, engine).unwrap();
    assert!(rt.uses_ha_suspend());
    // The VIP is elsewhere: suspended before the first attempt.
    assert_eq!(rt.apply_ha_suspend(&|_| false), 1);
    let quiet = tokio::time::timeout(Duration::from_millis(2500), async {
        loop {
            if let Some(ev) = rx.recv().await {
                if rt.on_event(ev) {
                    return;
                }
            }
        }
    })
    .await;
    assert!(quiet.is_err(), "a suspended check changed state");
    assert_eq!(dests(&mut rt), "127.0.0.1:80=1");
    // The VIP arrives: checks resume and the dead server goes.
    assert_eq!(rt.apply_ha_suspend(&|_| true), 1);
    assert_eq!(rt.apply_ha_suspend(&|_| true), 0);
    pump(&mut rt, &mut rx, |d| d.is_empty(), Duration::from_secs(5)).await;
}

/// `log_all_failures`: every failed attempt is logged (with its reason),
/// not only the state change; without it only the change is. The first
/// failure comes at 1 s (warmup 0) and takes the server down at once
/// (keepalived's start-up rule); the next ones every delay_loop (1 s).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn log_all_failures_logs_every_failed_attempt() {
    let closed = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap().port()
    };
    for log_all in [true, false] {
        let flag = if log_all { "   log_all_failures\n" } else { "" };
        let text = format!(
            "virtual_server 10.0.0.1 80 {{\n lb_algo rr\n lb_kind DR\n protocol TCP\n delay_loop 1\n\
             real_server 127.0.0.1 80 {{\n  TCP_CHECK {{\n   connect_port {closed}\n   connect_timeout 1\n   warmup 0\n{flag}  }}\n }}\n}}\n"
        );
        let l = load_str(Path::new("t.conf"), &text, &LoadOptions::default());
        assert!(!l.has_errors(), "{}", l.render_diagnostics());
        let (tx, mut rx) = unbounded_channel();
        let engine = Engine::new(tx, Box::new(|| 0.0));
        let mut rt = Runtime::start(l.config, MemoryIpvs::default(), None, engine).unwrap();
        let start = Instant::now();
        let mut failures = Vec::new();
        while start.elapsed() < Duration::from_millis(3500) {
            if let Ok(Some(ev)) = tokio::time::timeout(Duration::from_millis(100), rx.recv()).await
            {
                rt.on_event(ev);
            }
            for line in rt.log.drain(..) {
                if line.starts_with("check failed: ") {
                    failures.push((start.elapsed(), line));
                } else {
                    // The state change (and its quorum) is logged either way.
                    assert!(
                        line.contains("is down") || line.contains("quorum"),
                        "{line}"
                    );
                }
            }
        }
        if !log_all {
            assert!(failures.is_empty(), "{failures:?}");
            continue;
        }
        // Attempts at 1, 2 and 3 s (refused at once).
        assert_eq!(failures.len(), 3, "{failures:?}");
        for (i, (at, line)) in failures.iter().enumerate() {
            let want = Duration::from_secs(i as u64 + 1);
            assert!(
                *at + Duration::from_millis(50) >= want && *at < want + Duration::from_millis(600),
                "failure {i} logged at {at:?}"
            );
            assert!(
                line.ends_with(&format!(
                    "TCP_CHECK 127.0.0.1:{closed}: connect to 127.0.0.1:{closed}: connection refused"
                )),
                "{line}"
            );
        }
    }
}

/// Check events reconcile against what the last reconcile left (no read of
/// the whole table per event); the periodic repair reads it and repairs.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn events_do_not_reread_the_table_drift_repair_does() {
    let dead = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = dead.local_addr().unwrap().port();
    drop(dead);
    let text = format!(
        "virtual_server 10.0.0.1 80 {{\n lb_kind DR\n delay_loop 1\n\
         real_server 127.0.0.1 80 {{\n  TCP_CHECK {{\n   connect_port {port}\n   connect_timeout 1\n   retry 0\n  }}\n }}\n\
         real_server 127.0.0.2 80 {{\n }}\n}}\n"
    );
    let l = load_str(Path::new("t.conf"), &text, &LoadOptions::default());
    assert!(!l.has_errors(), "{}", l.render_diagnostics());
    let (tx, mut rx) = unbounded_channel();
    let engine = Engine::new(tx, Box::new(|| 0.0));
    let mut rt = Runtime::start(l.config, MemoryIpvs::default(), None, engine).unwrap();
    let dumps_at_start = rt.backend().dumps;
    // The dead server goes: an event-driven reconcile, one operation, no dump.
    let ops = rt.stats.operations;
    let deadline = Instant::now() + Duration::from_secs(5);
    while dests(&mut rt).contains("127.0.0.1:80") {
        assert!(Instant::now() < deadline, "dead server not removed");
        if let Ok(Some(ev)) = tokio::time::timeout(Duration::from_millis(100), rx.recv()).await {
            if rt.on_event(ev) {
                rt.reconcile_events();
            }
        }
    }
    assert_eq!(rt.stats.operations - ops, 1);
    // `dests` reads the fake's table directly, not through dump().
    assert_eq!(rt.backend().dumps, dumps_at_start);
    // Drift: an operator deletes the other destination; events alone would
    // not see it, the periodic reconcile does (one dump) and repairs it.
    let ops = rt.stats.operations;
    let t = rt.backend().table().clone();
    let svc = t.services[0].service.clone();
    let dest = t.services[0].destinations[0].clone();
    let del = lvsd_ipvs::Operation::DelDest(svc.key, dest.key());
    assert!(lvsd_ipvs::IpvsBackend::apply(rt.backend(), &[del])
        .iter()
        .all(|r| r.is_ok()));
    assert_eq!(dests(&mut rt), "");
    rt.reconcile();
    assert_eq!(rt.backend().dumps, dumps_at_start + 1);
    assert_eq!(dests(&mut rt), "127.0.0.2:80=1");
    assert_eq!(rt.stats.operations - ops, 1);
}

/// A reload diffs against what the last reconcile left (no dump of a
/// possibly huge table) unless it adds services: the kernel may already
/// hold one (an operator's, or a leftover), so then it dumps and nothing
/// fails with "service already exists".
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reload_dumps_the_table_only_when_it_adds_services() {
    let conf = |weight: u32, second: bool| {
        let mut text = format!(
            "virtual_server 10.0.0.1 80 {{\n lb_kind DR\n\
             real_server 127.0.0.1 80 {{\n  weight {weight}\n }}\n\
             real_server 127.0.0.2 80 {{\n }}\n}}\n"
        );
        if second {
            text.push_str(
                "virtual_server 10.0.0.2 80 {\n lb_kind DR\n real_server 127.0.0.3 80 {\n }\n}\n",
            );
        }
        let l = load_str(Path::new("t.conf"), &text, &LoadOptions::default());
        assert!(!l.has_errors(), "{}", l.render_diagnostics());
        l.config
    };
    let (tx, _rx) = unbounded_channel();
    let engine = Engine::new(tx, Box::new(|| 0.0));
    let mut rt = Runtime::start(conf(1, false), MemoryIpvs::default(), None, engine).unwrap();
    let dumps = rt.backend().dumps;
    // One weight changed: one operation, no dump.
    let r = rt.reload(conf(3, false));
    assert_eq!((r.applied, r.failed.len()), (1, 0));
    assert_eq!(rt.backend().dumps, dumps);
    assert_eq!(dests(&mut rt), "127.0.0.1:80=3 127.0.0.2:80=1");
    // The new service already exists in the kernel (created behind lvsd's
    // back): the reload reads the table first and does not fail on it.
    let mut svc = rt.backend().table().services[0].service.clone();
    svc.key = lvsd_ipvs::ServiceKey::Addr {
        protocol: lvsd_ipvs::Protocol::Tcp,
        addr: "10.0.0.2".parse().unwrap(),
        port: 80,
    };
    rt.backend()
        .apply_unlogged(&lvsd_ipvs::Operation::AddService(svc))
        .unwrap();
    let r = rt.reload(conf(3, true));
    assert!(r.failed.is_empty(), "{:?}", r.failed);
    assert_eq!(rt.backend().dumps, dumps + 1);
    assert!(
        dests(&mut rt).contains("127.0.0.3:80=1"),
        "{}",
        dests(&mut rt)
    );
}

/// Attempt counts (status, metrics) come from the engine and survive a
/// reload that replaces a real server's checker (weight changed).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn check_counts_survive_a_reload_that_replaces_the_checker() {
    let a = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let b = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let (pa, pb) = (
        a.local_addr().unwrap().port(),
        b.local_addr().unwrap().port(),
    );
    let (tx, _rx) = unbounded_channel();
    let engine = Engine::new(tx, Box::new(|| 0.0));
    let mut rt = Runtime::start(config(pa, pb, 2), MemoryIpvs::default(), None, engine).unwrap();
    let passes = |rt: &Runtime<MemoryIpvs>, rs: &str| -> u64 {
        rt.check_stats()
            .iter()
            .filter(|((_, r), _)| r == rs)
            .map(|(_, s)| s.pass)
            .sum()
    };
    let start = Instant::now();
    while passes(&rt, "127.0.0.2:80") == 0 && start.elapsed() < Duration::from_secs(10) {
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let before = passes(&rt, "127.0.0.2:80");
    assert!(before >= 1, "the checker passed at least once");
    rt.reload(config(pa, pb, 3));
    assert!(
        passes(&rt, "127.0.0.2:80") >= before,
        "kept across the reload"
    );
    assert!(passes(&rt, "127.0.0.1:80") >= 1);
}
