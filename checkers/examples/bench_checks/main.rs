//! Scale benchmark of the check engine: N TCP_CHECK (or HTTP_GET) checks at
//! a chosen delay_loop against listeners on 127.0.0.x (run in a child
//! process), measured over a fixed window after the start-up spread.
//! Prints checks/s achieved vs scheduled, CPU per check, RSS and the
//! scheduling lateness p50/p99/max. Figures only: nothing is asserted.
//!
//! `cargo run --release -p lvsd-checkers --example bench_checks -- \
//!     [--kind tcp|http] [--checks N] [--delay-loop SECS] [--window SECS] \
//!     [--addrs K] [--ports P] [--runtime current|multi]`
//! (`scripts/bench-checks` runs both kinds with the defaults).

mod server;
mod stats;
mod timed;

use std::io::{BufRead, BufReader};
use std::net::SocketAddr;
use std::process::{Child, Command, ExitCode, Stdio};
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::{Duration, Instant};

use lvsd_checkers::engine::Engine;
use lvsd_checkers::http::request::default_host;
use lvsd_checkers::http::{HttpCheck, HttpVersion, UrlSpec};
use lvsd_checkers::tcp::TcpCheck;
use lvsd_checkers::timing::TimingSpec;
use lvsd_checkers::{Check, ConnOptions};

use stats::{cpu_time, micros, quantile, raise_nofile, rss_kib};
use timed::{Timed, Totals};

#[derive(Debug, Clone)]
struct Args {
    http: bool,
    checks: usize,
    delay_loop: Duration,
    window: Duration,
    addrs: u8,
    ports: u8,
    multi: bool,
    serve: bool,
    lifetime: Duration,
}

fn parse(mut it: impl Iterator<Item = String>) -> Result<Args, String> {
    let mut a = Args {
        http: false,
        checks: 10_000,
        delay_loop: Duration::from_secs(1),
        window: Duration::from_secs(20),
        addrs: 8,
        ports: 2,
        multi: false,
        serve: false,
        lifetime: Duration::from_secs(600),
    };
    let secs = |v: Option<String>, name: &str| -> Result<Duration, String> {
        v.as_deref()
            .and_then(|s| s.parse::<f64>().ok())
            .filter(|s| s.is_finite() && *s > 0.0 && *s < 86_400.0)
            .map(Duration::from_secs_f64)
            .ok_or_else(|| format!("{name} needs a number of seconds"))
    };
    while let Some(flag) = it.next() {
        match flag.as_str() {
            "--kind" => {
                a.http = match it.next().as_deref() {
                    Some("tcp") => false,
                    Some("http") => true,
                    _ => return Err("--kind tcp|http".into()),
                }
            }
            "--checks" => {
                a.checks = it
                    .next()
                    .and_then(|v| v.parse().ok())
                    .filter(|n| (1..=1_000_000).contains(n))
                    .ok_or("--checks needs 1..=1000000")?
            }
            "--delay-loop" => a.delay_loop = secs(it.next(), "--delay-loop")?,
            "--window" => a.window = secs(it.next(), "--window")?,
            "--lifetime" => a.lifetime = secs(it.next(), "--lifetime")?,
            "--addrs" => {
                a.addrs = it
                    .next()
                    .and_then(|v| v.parse().ok())
                    .filter(|n| (1..=200).contains(n))
                    .ok_or("--addrs needs 1..=200")?
            }
            "--ports" => {
                a.ports = it
                    .next()
                    .and_then(|v| v.parse().ok())
                    .filter(|n| (1..=64).contains(n))
                    .ok_or("--ports needs 1..=64")?
            }
            "--runtime" => {
                a.multi = match it.next().as_deref() {
                    Some("current") => false,
                    Some("multi") => true,
                    _ => return Err("--runtime current|multi".into()),
                }
            }
            "--serve" => a.serve = true,
            other => return Err(format!("unknown argument {other}")),
        }
    }
    Ok(a)
}

/// The server child; killed and reaped on drop, whatever happened.
struct Server(Child);

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn start_server(a: &Args) -> Result<(Server, Vec<SocketAddr>), String> {
    let exe = std::env::current_exe().map_err(|e| format!("own path: {e}"))?;
    let lifetime = a.window + a.delay_loop * 4 + Duration::from_secs(60);
    let child = Command::new(exe)
        .args([
            "--serve",
            "--kind",
            if a.http { "http" } else { "tcp" },
            "--addrs",
            &a.addrs.to_string(),
            "--ports",
            &a.ports.to_string(),
            "--lifetime",
            &lifetime.as_secs().to_string(),
        ])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .map_err(|e| format!("server: {e}"))?;
    let mut server = Server(child);
    let out = server.0.stdout.take().ok_or("server stdout")?;
    let mut addrs = Vec::new();
    let max_lines = usize::from(a.addrs) * usize::from(a.ports) + 1;
    for line in BufReader::new(out).lines().take(max_lines) {
        let line = line.map_err(|e| format!("server output: {e}"))?;
        if line == "READY" {
            return Ok((server, addrs));
        }
        addrs.push(
            line.parse()
                .map_err(|_| format!("server printed {line:?}"))?,
        );
    }
    Err("the server exited before it was ready".into())
}

fn check_for(a: &Args, target: SocketAddr) -> Arc<dyn Check> {
    let timeout = Duration::from_secs(2);
    if a.http {
        Arc::new(HttpCheck {
            conn: ConnOptions::new(target, timeout),
            urls: vec![UrlSpec {
                path: "/".into(),
                digest: None,
                status: vec![],
                host: default_host(target),
                regex: None,
                regex_no_match: false,
            }],
            version: HttpVersion::Http10,
            tls: None,
            deadline: timeout,
            fast_recovery: false,
        })
    } else {
        Arc::new(TcpCheck {
            conn: ConnOptions::new(target, timeout),
        })
    }
}

struct Figures {
    wall: Duration,
    cpu: Duration,
    attempts: u64,
    passes: u64,
    busy_us: u64,
    late: Vec<u32>,
    rss: (u64, u64),
    events: u64,
}

async fn drive(a: Args, targets: Vec<SocketAddr>) -> Figures {
    let totals = Arc::new(Totals::default());
    let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel();
    let events = tokio::spawn(async move {
        let mut n = 0u64;
        while rx.recv().await.is_some() {
            n += 1;
        }
        n
    });
    let mut engine = Engine::new(tx, Box::new(rand::random::<f64>));
    let timing = TimingSpec {
        delay_loop: a.delay_loop,
        delay_before_retry: a.delay_loop,
        retry: 1,
        warmup: a.delay_loop,
        alpha: false,
        poll_down_at_max: false,
        rise: None,
        fall: None,
    };
    for i in 0..a.checks {
        let inner = check_for(&a, targets[i % targets.len()]);
        let t = Timed::new(inner, i, a.delay_loop, totals.clone());
        engine.add(i as u64, Arc::new(t), timing.clone(), None);
    }
    // First attempts land in [1 s, 1 s + warmup]; one more round to settle.
    tokio::time::sleep(Duration::from_secs(1) + a.delay_loop * 2).await;
    totals.measuring.store(true, Ordering::Relaxed);
    let cpu0 = cpu_time();
    let t0 = Instant::now();
    tokio::time::sleep(a.window).await;
    totals.measuring.store(false, Ordering::Relaxed);
    let cpu = cpu_time().saturating_sub(cpu0);
    let wall = t0.elapsed();
    let rss = rss_kib();
    drop(engine);
    let events = events.await.unwrap_or(0);
    let mut late = totals
        .late_us
        .lock()
        .map(|mut v| std::mem::take(&mut *v))
        .unwrap_or_default();
    late.sort_unstable();
    Figures {
        wall,
        cpu,
        attempts: totals.attempts.load(Ordering::Relaxed),
        passes: totals.passes.load(Ordering::Relaxed),
        busy_us: totals.busy_us.load(Ordering::Relaxed),
        late,
        rss,
        events,
    }
}

fn report(a: &Args, targets: usize, nofile: u64, f: &Figures) {
    let kind = if a.http { "HTTP_GET" } else { "TCP_CHECK" };
    let wall = f.wall.as_secs_f64().max(1e-9);
    let scheduled = a.checks as f64 / a.delay_loop.as_secs_f64();
    let achieved = f.attempts as f64 / wall;
    let per_check_us = if f.attempts > 0 {
        f.cpu.as_secs_f64() * 1e6 / f.attempts as f64
    } else {
        0.0
    };
    println!(
        "BENCH {kind}: {} checks, delay_loop {:.3}s, window {:.1}s, {} listeners on 127.0.0.x, engine on a {} runtime, open-files limit {nofile}",
        a.checks,
        a.delay_loop.as_secs_f64(),
        wall,
        targets,
        if a.multi { "multi-thread" } else { "single-thread" }
    );
    let mean_busy = f.busy_us as f64 / f.attempts.max(1) as f64;
    let mean_late = f.late.iter().map(|&v| f64::from(v)).sum::<f64>() / f.late.len().max(1) as f64;
    // keepalived's schedule: next = completion + delay_loop, so the period
    // is delay_loop + attempt duration (+ lateness).
    let drift = a.checks as f64 / (a.delay_loop.as_secs_f64() + (mean_busy + mean_late) / 1e6);
    println!("  checks/s     scheduled {scheduled:.1}, achieved {achieved:.1}, expected with keepalived's completion-based period {drift:.1} ({} attempts, {} passed, mean attempt {mean_busy:.0}µs, {} engine events)", f.attempts, f.passes, f.events);
    println!(
        "  cpu          {:.3} cores ({:.2}s user+sys over the window), {per_check_us:.1}µs per check",
        f.cpu.as_secs_f64() / wall,
        f.cpu.as_secs_f64()
    );
    println!(
        "               reference (issue #4, measured at 10,000 HTTP/s): a bare C client ~0.5 core, TCP connect+close alone ~0.33 core"
    );
    println!(
        "  rss          {:.1} MiB (peak {:.1} MiB)",
        f.rss.0 as f64 / 1024.0,
        f.rss.1 as f64 / 1024.0
    );
    println!(
        "  lateness     p50 {} p99 {} max {} ({} samples; start vs previous completion + delay_loop)",
        micros(quantile(&f.late, 0.50)),
        micros(quantile(&f.late, 0.99)),
        micros(f.late.last().copied().unwrap_or(0)),
        f.late.len()
    );
}

fn run(a: Args) -> Result<(), String> {
    let nofile = raise_nofile(1 << 16);
    let (server, targets) = start_server(&a)?;
    let rt = if a.multi {
        tokio::runtime::Builder::new_multi_thread()
            .enable_all()
            .build()
    } else {
        tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
    }
    .map_err(|e| format!("runtime: {e}"))?;
    let n_targets = targets.len();
    let figures = rt.block_on(drive(a.clone(), targets));
    drop(server);
    report(&a, n_targets, nofile, &figures);
    Ok(())
}

fn main() -> ExitCode {
    let a = match parse(std::env::args().skip(1)) {
        Ok(a) => a,
        Err(e) => {
            eprintln!("bench_checks: {e}");
            return ExitCode::from(2);
        }
    };
    let r = if a.serve {
        server::serve(a.http, a.addrs, a.ports, a.lifetime)
    } else {
        run(a)
    };
    match r {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("bench_checks: {e}");
            ExitCode::FAILURE
        }
    }
}
