//! `lvsd -f FILE`: the director daemon. Runs the checks, keeps the kernel
//! IPVS table where the configuration and the checks say, repairs drift
//! periodically, reloads on SIGHUP (a broken new config changes nothing),
//! and on SIGTERM/SIGINT removes what it owns (unless `--keep-ipvs`).

pub mod runtime;

use std::path::PathBuf;
use std::time::Duration;

use lvsd_checkers::engine::Engine;
use lvsd_ipvs::netlink::client::IpvsClient;
use tokio::signal::unix::{signal, SignalKind};
use tokio::sync::mpsc::unbounded_channel;

use crate::cli::{self, exit};
use runtime::Runtime;

pub struct DaemonOptions {
    pub common: cli::args::Common,
    pub pid_file: Option<PathBuf>,
    pub keep_ipvs: bool,
    pub owned_file: PathBuf,
    pub reconcile_interval: Duration,
}

fn log(line: &str) {
    eprintln!("lvsd: {line}");
}

fn flush_log<B: lvsd_ipvs::IpvsBackend>(rt: &mut Runtime<B>) {
    for l in rt.log.drain(..) {
        log(&l);
    }
}

/// Tells systemd (Type=notify) that lvsd is ready, if it asked.
fn notify_ready() {
    let Some(path) = std::env::var_os("NOTIFY_SOCKET") else {
        return;
    };
    if let Ok(sock) = std::os::unix::net::UnixDatagram::unbound() {
        let _ = sock.send_to(b"READY=1", path);
    }
}

pub fn run(opts: DaemonOptions) -> i32 {
    let rt = match tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            log(&format!("cannot start the runtime: {e}"));
            return exit::RUNTIME;
        }
    };
    rt.block_on(main_loop(opts))
}

async fn main_loop(opts: DaemonOptions) -> i32 {
    let loaded = match cli::plan::load_for_run(&opts.common) {
        Ok(l) => l,
        Err(code) => return code,
    };
    let client = match IpvsClient::open() {
        Ok(c) => c,
        Err(e) => {
            log(&e.to_string());
            return exit::RUNTIME;
        }
    };
    let (tx, mut rx) = unbounded_channel();
    let engine = Engine::new(tx, Box::new(rand::random::<f64>));
    let mut runtime =
        match Runtime::start(loaded.config, client, Some(opts.owned_file.clone()), engine) {
            Ok(r) => r,
            Err(e) => {
                log(&e);
                return exit::RUNTIME;
            }
        };
    flush_log(&mut runtime);
    log(&format!(
        "started: {} virtual servers, {} distinct checks, {} IPVS operations",
        runtime.cfg.virtual_servers.len(),
        runtime.running_checks(),
        runtime.stats.operations
    ));
    if let Some(p) = &opts.pid_file {
        if let Err(e) = std::fs::write(p, format!("{}\n", std::process::id())) {
            log(&format!("cannot write pid file {}: {e}", p.display()));
        }
    }
    notify_ready();
    let (Ok(mut hup), Ok(mut term), Ok(mut int)) = (
        signal(SignalKind::hangup()),
        signal(SignalKind::terminate()),
        signal(SignalKind::interrupt()),
    ) else {
        log("cannot install signal handlers");
        return exit::RUNTIME;
    };
    let mut drift = tokio::time::interval(opts.reconcile_interval);
    drift.tick().await;
    loop {
        tokio::select! {
            Some(ev) = rx.recv() => {
                let mut changed = runtime.on_event(ev);
                while let Ok(ev) = rx.try_recv() {
                    changed |= runtime.on_event(ev);
                }
                if changed {
                    runtime.reconcile();
                }
                flush_log(&mut runtime);
            }
            _ = drift.tick() => {
                let r = runtime.reconcile();
                if r.applied > 0 {
                    log(&format!("repaired drift: {} operations", r.applied));
                }
                flush_log(&mut runtime);
            }
            _ = hup.recv() => {
                let loaded = cli::load(&opts.common.file, opts.common.config_id.as_deref(), false);
                if loaded.has_errors() {
                    eprint!("{}", loaded.render_diagnostics());
                    log("reload refused: the new configuration has errors; still running the previous one");
                } else {
                    let r = runtime.reload(loaded.config);
                    log(&format!("reloaded: {} IPVS operations", r.applied));
                }
                flush_log(&mut runtime);
            }
            _ = term.recv() => break,
            _ = int.recv() => break,
        }
    }
    let r = runtime.shutdown(opts.keep_ipvs);
    flush_log(&mut runtime);
    log(&format!("stopped: {} IPVS operations", r.applied));
    if let Some(p) = &opts.pid_file {
        let _ = std::fs::remove_file(p);
    }
    exit::OK
}
