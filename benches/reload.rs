//! Reload of a 2,000 x 20 (40,000 real servers, TCP_CHECK) configuration
//! with one real server's weight changed, on the in-memory IPVS table:
//! prints the time to parse + validate, to diff + apply, the IPVS
//! operations it took (expect 1), and whether the 40,000 checks kept
//! running (no task restarted). Run: `cargo bench --bench reload`
//! (scripts/bench-reload). Under `cargo test` it only says how to run it.

use std::fmt::Write as _;
use std::path::Path;
use std::time::Instant;

use lvsd::config::{load_str, LoadOptions};
use lvsd::daemon::runtime::Runtime;
use lvsd_checkers::engine::Engine;
use lvsd_ipvs::fake::FakeIpvs;

/// 2,000 x 20 with loopback real servers (no traffic leaves the host; the
/// first check would run only after delay_loop, long after the bench).
fn config(changed_weight: u32) -> String {
    let mut out = String::with_capacity(7 << 20);
    out.push_str("global_defs {\n    router_id bench\n}\n");
    for v in 0..2000u32 {
        let _ = write!(
            out,
            "virtual_server 10.{}.{}.1 80 {{\n    delay_loop 60\n    lb_algo wrr\n    lb_kind NAT\n    protocol TCP\n",
            100 + v / 250,
            v % 250
        );
        for r in 0..20u32 {
            let w = if v == 1234 && r == 7 {
                changed_weight
            } else {
                1 + r % 5
            };
            let _ = write!(
                out,
                "    real_server 127.{}.{}.{} 8080 {{\n        weight {w}\n        TCP_CHECK {{\n            connect_timeout 3\n        }}\n    }}\n",
                1 + v / 250,
                v % 250,
                r + 10
            );
        }
        out.push_str("}\n");
    }
    out
}

fn main() {
    if !std::env::args().any(|a| a == "--bench") {
        println!("bench reload: run with `cargo bench --bench reload` (scripts/bench-reload)");
        return;
    }
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("tokio runtime");
    rt.block_on(async {
        let text = config(3);
        let t = Instant::now();
        let l = load_str(Path::new("bench.conf"), &text, &LoadOptions::default());
        assert!(!l.has_errors(), "{}", l.render_diagnostics());
        println!("BENCH reload: initial load {:.0} ms ({} bytes)", t.elapsed().as_secs_f64() * 1e3, text.len());
        let (tx, _rx) = tokio::sync::mpsc::unbounded_channel();
        // First attempts at the end of delay_loop: none runs during the bench.
        let engine = Engine::new(tx, Box::new(|| 1.0));
        let t = Instant::now();
        let mut runtime = Runtime::start(l.config, FakeIpvs::default(), None, engine)
            .expect("start");
        println!(
            "BENCH reload: start (adopt + apply {} operations + register {} checks) {:.0} ms",
            runtime.stats.operations,
            runtime.running_checks(),
            t.elapsed().as_secs_f64() * 1e3
        );
        let before_ops = runtime.stats.operations;
        let before_checks = runtime.running_checks();
        let text2 = config(9);
        let t = Instant::now();
        let l2 = load_str(Path::new("bench.conf"), &text2, &LoadOptions::default());
        let parse = t.elapsed();
        assert!(!l2.has_errors());
        let t2 = Instant::now();
        let r = runtime.reload(l2.config);
        let apply = t2.elapsed();
        let total = t.elapsed();
        println!(
            "BENCH reload: one weight changed: parse+validate {:.0} ms, diff+apply {:.0} ms, total {:.0} ms (target < 200 ms)",
            parse.as_secs_f64() * 1e3,
            apply.as_secs_f64() * 1e3,
            total.as_secs_f64() * 1e3
        );
        for l in runtime.log.drain(..) {
            if l.starts_with("reload timing") {
                println!("BENCH {l}");
            }
        }
        println!(
            "BENCH reload: IPVS operations {} (expect 1); reported {}; distinct checks running {} -> {} (kept, none restarted)",
            runtime.stats.operations - before_ops,
            r.applied,
            before_checks,
            runtime.running_checks()
        );
    });
}
