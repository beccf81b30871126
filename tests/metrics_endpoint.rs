//! The Prometheus endpoint over real TCP on 127.0.0.1 (ephemeral port),
//! serving the daemon loop on the in-memory kernel: kernel counters per
//! service and destination, RS up and weight, quorum, check results and
//! latency from a real TCP check, reconcile counters; the exposition
//! format is well formed; other paths and methods are refused.

use std::collections::HashSet;
use std::path::Path;
use std::time::Duration;

use lvsd::config::{load_str, LoadOptions};
use lvsd::control::server::Command;
use lvsd::daemon::event_loop::{ConfigSource, Core, Inputs};
use lvsd::daemon::runtime::Runtime;
use lvsd_checkers::engine::Engine;
use lvsd_ipvs::fake::FakeIpvs;
use lvsd_ipvs::{DestCounters, DestKey, Protocol, ServiceKey, Stats};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{mpsc, oneshot};

async fn http(addr: std::net::SocketAddr, request: &str) -> String {
    let mut s = TcpStream::connect(addr).await.unwrap();
    s.write_all(request.as_bytes()).await.unwrap();
    let mut out = Vec::new();
    tokio::time::timeout(Duration::from_secs(10), s.read_to_end(&mut out))
        .await
        .expect("response within the bound")
        .unwrap();
    String::from_utf8(out).unwrap()
}

fn get(path: &str) -> String {
    format!("GET {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n")
}

/// Checks the exposition text: every sample belongs to a family announced
/// with HELP and TYPE, label sets are well formed, values parse.
fn check_format(body: &str) {
    let mut announced = HashSet::new();
    let mut typed = HashSet::new();
    for line in body.lines() {
        if let Some(rest) = line.strip_prefix("# HELP ") {
            announced.insert(rest.split(' ').next().unwrap().to_string());
            continue;
        }
        if let Some(rest) = line.strip_prefix("# TYPE ") {
            let mut it = rest.split(' ');
            let name = it.next().unwrap();
            assert!(announced.contains(name), "TYPE before HELP: {line}");
            assert!(
                matches!(it.next(), Some("counter" | "gauge" | "summary")),
                "{line}"
            );
            typed.insert(name.to_string());
            continue;
        }
        let (series, value) = line.rsplit_once(' ').expect(line);
        value
            .parse::<f64>()
            .unwrap_or_else(|_| panic!("value in {line}"));
        let name = series.split('{').next().unwrap();
        let family = name
            .strip_suffix("_sum")
            .or_else(|| name.strip_suffix("_count"))
            .filter(|f| typed.contains(*f))
            .unwrap_or(name);
        assert!(typed.contains(family), "sample without TYPE: {line}");
        if let Some(labels) = series.strip_prefix(name) {
            if !labels.is_empty() {
                assert!(labels.starts_with('{') && labels.ends_with('}'), "{line}");
            }
        }
    }
}

fn sample(body: &str, series: &str) -> Option<f64> {
    body.lines()
        .find_map(|l| l.strip_prefix(series).and_then(|v| v.strip_prefix(' ')))
        .and_then(|v| v.parse().ok())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn scrape_over_tcp() {
    let backend_listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = backend_listener.local_addr().unwrap().port();
    let text = format!(
        "virtual_server 10.0.0.1 80 {{\n lb_algo rr\n lb_kind DR\n protocol TCP\n delay_loop 1\n\
         real_server 127.0.0.2 80 {{\n  weight 3\n  TCP_CHECK {{\n   connect_ip 127.0.0.1\n   connect_port {port}\n   connect_timeout 1\n   warmup 0\n  }}\n }}\n}}\n"
    );
    let l = load_str(Path::new("t.conf"), &text, &LoadOptions::default());
    assert!(!l.has_errors(), "{}", l.render_diagnostics());
    let (etx, erx) = mpsc::unbounded_channel();
    let engine = Engine::new(etx, Box::new(|| 0.0));
    let mut runtime = Runtime::start(l.config, FakeIpvs::default(), None, engine).unwrap();
    let key = ServiceKey::Addr {
        protocol: Protocol::Tcp,
        addr: "10.0.0.1".parse().unwrap(),
        port: 80,
    };
    let stats = Stats {
        conns: 42,
        inpkts: 1000,
        outpkts: 900,
        inbytes: 123_456_789_012,
        outbytes: 5,
        cps: 3,
        ..Stats::default()
    };
    assert!(runtime.backend().set_service_stats(&key, stats));
    let dk = DestKey {
        addr: "127.0.0.2".parse().unwrap(),
        port: 80,
    };
    let counters = DestCounters {
        active_conns: 5,
        inact_conns: 7,
        persist_conns: 0,
    };
    assert!(runtime
        .backend()
        .set_dest_counters(&key, &dk, counters, stats));

    let mut core = Core::new(
        runtime,
        None,
        ConfigSource {
            file: "unused.conf".into(),
            config_id: None,
        },
    );
    let (cmd_tx, cmd_rx) = mpsc::channel::<Command>(16);
    let metrics = lvsd::metrics::server::bind("127.0.0.1:0".parse().unwrap())
        .await
        .unwrap();
    let addr = metrics.local_addr().unwrap();
    assert!(addr.ip().is_loopback());
    tokio::spawn(lvsd::metrics::server::serve(metrics, cmd_tx));
    let (stop_tx, stop_rx) = oneshot::channel::<()>();
    let task = tokio::spawn(async move {
        let inputs = Inputs {
            engine: erx,
            commands: cmd_rx,
            notify_log: None,
            reconcile_interval: Duration::from_secs(60),
        };
        core.run(
            inputs,
            async {
                let _ = stop_rx.await;
            },
            &mut |l| eprintln!("lvsd: {l}"),
        )
        .await;
    });

    // Wait (bounded) until the real check has passed at least once.
    let series = "lvsd_check_results_total{vs=\"10.0.0.1:80\",protocol=\"tcp\",rs=\"127.0.0.2:80\",result=\"pass\"}";
    let mut body = String::new();
    for _ in 0..100 {
        let resp = http(addr, &get("/metrics")).await;
        let (head, b) = resp.split_once("\r\n\r\n").expect("HTTP response");
        assert!(head.starts_with("HTTP/1.1 200"), "{head}");
        assert!(
            head.to_ascii_lowercase()
                .contains("content-type: text/plain; version=0.0.4; charset=utf-8"),
            "{head}"
        );
        body = b.to_string();
        if sample(&body, series).unwrap_or(0.0) >= 1.0 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    check_format(&body);
    let vs = "{vs=\"10.0.0.1:80\",protocol=\"tcp\"}";
    let rs = "{vs=\"10.0.0.1:80\",protocol=\"tcp\",rs=\"127.0.0.2:80\"}";
    assert_eq!(
        sample(&body, &format!("lvsd_vs_connections_total{vs}")),
        Some(42.0)
    );
    assert_eq!(
        sample(&body, &format!("lvsd_vs_in_bytes_total{vs}")),
        Some(123_456_789_012.0)
    );
    assert_eq!(
        sample(&body, &format!("lvsd_vs_connections_per_second{vs}")),
        Some(3.0)
    );
    assert_eq!(
        sample(&body, &format!("lvsd_rs_in_packets_total{rs}")),
        Some(1000.0)
    );
    assert_eq!(
        sample(&body, &format!("lvsd_rs_active_connections{rs}")),
        Some(5.0)
    );
    assert_eq!(
        sample(&body, &format!("lvsd_rs_inactive_connections{rs}")),
        Some(7.0)
    );
    assert_eq!(
        sample(&body, &format!("lvsd_rs_ipvs_weight{rs}")),
        Some(3.0)
    );
    assert_eq!(sample(&body, &format!("lvsd_rs_up{rs}")), Some(1.0));
    assert_eq!(sample(&body, &format!("lvsd_rs_weight{rs}")), Some(3.0));
    assert_eq!(sample(&body, &format!("lvsd_vs_quorum_up{vs}")), Some(1.0));
    assert!(sample(&body, series).unwrap_or(0.0) >= 1.0, "{body}");
    let count = sample(&body, &format!("lvsd_check_duration_seconds_count{rs}")).unwrap();
    assert!(count >= 1.0);
    assert!(sample(&body, &format!("lvsd_check_duration_seconds_sum{rs}")).unwrap() >= 0.0);
    assert_eq!(sample(&body, "lvsd_reconcile_runs_total"), Some(1.0));
    assert_eq!(sample(&body, "lvsd_reconcile_operations_total"), Some(2.0));
    assert_eq!(sample(&body, "lvsd_reload_failures_total"), Some(0.0));
    assert_eq!(sample(&body, "lvsd_ipvs_scrape_success"), Some(1.0));

    let resp = http(addr, &get("/nope")).await;
    assert!(resp.starts_with("HTTP/1.1 404"), "{resp}");
    let resp = http(
        addr,
        "POST /metrics HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\nConnection: close\r\n\r\n",
    )
    .await;
    assert!(resp.starts_with("HTTP/1.1 405"), "{resp}");

    let _ = stop_tx.send(());
    tokio::time::timeout(Duration::from_secs(10), task)
        .await
        .unwrap()
        .unwrap();
    // With the loop gone the endpoint stops answering 200.
    let after = tokio::time::timeout(Duration::from_secs(5), async {
        match TcpStream::connect(addr).await {
            Ok(mut s) => {
                let _ = s.write_all(get("/metrics").as_bytes()).await;
                let mut out = Vec::new();
                let _ = s.read_to_end(&mut out).await;
                String::from_utf8_lossy(&out).into_owned()
            }
            Err(_) => String::new(),
        }
    })
    .await
    .unwrap();
    assert!(!after.starts_with("HTTP/1.1 200"), "{after}");
    drop(backend_listener);
}
