//! `lvsd -f FILE`: the director daemon. Runs the checks, keeps the kernel
//! IPVS table where the configuration and the checks say, repairs drift
//! periodically, reloads on SIGHUP (a broken new config changes nothing),
//! and on SIGTERM/SIGINT removes what it owns (unless `--keep-ipvs`).

pub mod runtime;
pub mod syncd;

use std::path::PathBuf;
use std::time::Duration;

use lvsd_checkers::engine::Engine;
use lvsd_ipvs::netlink::client::IpvsClient;
use tokio::signal::unix::{signal, SignalKind};
use tokio::sync::mpsc::{unbounded_channel, UnboundedReceiver};

use crate::cli::{self, exit};
use crate::vrrp::engine::{Engine as VrrpEngine, StateHook, VrrpCommand, VrrpEvent};
use runtime::Runtime;

pub struct DaemonOptions {
    pub common: cli::args::Common,
    pub pid_file: Option<PathBuf>,
    pub keep_ipvs: bool,
    pub owned_file: PathBuf,
    pub reconcile_interval: Duration,
    /// keepalived -P: VRRP only (no IPVS, no checks).
    pub vrrp_only: bool,
    /// keepalived -C: checks and IPVS only (no VRRP).
    pub check_only: bool,
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

/// Starts the VRRP engine for the configuration's instances (after the
/// first IPVS reconcile: a node never claims Master with an empty table).
fn start_vrrp(
    cfg: &crate::config::model::Config,
    with_ipvs: bool,
) -> Result<Option<VrrpHandle>, String> {
    if cfg.vrrp_instances.is_empty() {
        return Ok(None);
    }
    let hook: Option<Box<dyn StateHook>> = match &cfg.global.lvs_sync_daemon {
        Some(sd) => match IpvsClient::open() {
            Ok(c) => {
                let instances: Vec<(&str, u8)> = cfg
                    .vrrp_instances
                    .iter()
                    .map(|v| (v.name.as_str(), v.virtual_router_id))
                    .collect();
                Some(Box::new(syncd::SyncDaemonFollower::new(
                    sd.clone(),
                    &instances,
                    c,
                )))
            }
            Err(e) => {
                if with_ipvs {
                    return Err(format!("lvs_sync_daemon: {e}"));
                }
                log(&format!("lvs_sync_daemon ignored: {e}"));
                None
            }
        },
        None => None,
    };
    let (ev_tx, ev_rx) = unbounded_channel();
    let (engine, status) = VrrpEngine::new(cfg.clone(), ev_tx, hook)?;
    let (cmd_tx, cmd_rx) = unbounded_channel();
    let task = tokio::spawn(engine.run(cmd_rx));
    Ok(Some(VrrpHandle {
        events: ev_rx,
        commands: cmd_tx,
        task,
        _status: status,
    }))
}

struct VrrpHandle {
    events: UnboundedReceiver<VrrpEvent>,
    commands: tokio::sync::mpsc::UnboundedSender<VrrpCommand>,
    task: tokio::task::JoinHandle<()>,
    _status: crate::vrrp::engine::SharedStatus,
}

async fn next_vrrp_event(v: &mut Option<VrrpHandle>) -> Option<VrrpEvent> {
    match v {
        Some(h) => h.events.recv().await,
        None => std::future::pending().await,
    }
}

fn log_vrrp(ev: VrrpEvent) {
    match ev {
        VrrpEvent::Log(l) => log(&l),
        VrrpEvent::Transition { .. } => {}
    }
}

async fn main_loop(opts: DaemonOptions) -> i32 {
    let loaded = match cli::plan::load_for_run(&opts.common) {
        Ok(l) => l,
        Err(code) => return code,
    };
    let (tx, mut rx) = unbounded_channel();
    let mut runtime = if opts.vrrp_only {
        None
    } else {
        let client = match IpvsClient::open() {
            Ok(c) => c,
            Err(e) => {
                log(&e.to_string());
                return exit::RUNTIME;
            }
        };
        let engine = Engine::new(tx, Box::new(rand::random::<f64>));
        match Runtime::start(
            loaded.config.clone(),
            client,
            Some(opts.owned_file.clone()),
            engine,
        ) {
            Ok(mut r) => {
                flush_log(&mut r);
                log(&format!(
                    "started: {} virtual servers, {} distinct checks, {} IPVS operations",
                    r.cfg.virtual_servers.len(),
                    r.running_checks(),
                    r.stats.operations
                ));
                Some(r)
            }
            Err(e) => {
                log(&e);
                return exit::RUNTIME;
            }
        }
    };
    let mut vrrp = if opts.check_only {
        None
    } else {
        match start_vrrp(&loaded.config, !opts.vrrp_only) {
            Ok(v) => {
                if v.is_some() {
                    log(&format!(
                        "VRRP: {} instances started",
                        loaded.config.vrrp_instances.len()
                    ));
                }
                v
            }
            Err(e) => {
                log(&e);
                if let Some(rt) = runtime.as_mut() {
                    rt.shutdown(opts.keep_ipvs);
                    flush_log(rt);
                }
                return exit::RUNTIME;
            }
        }
    };
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
                if let Some(rt) = runtime.as_mut() {
                    let mut changed = rt.on_event(ev);
                    while let Ok(ev) = rx.try_recv() {
                        changed |= rt.on_event(ev);
                    }
                    if changed {
                        rt.reconcile();
                    }
                    flush_log(rt);
                }
            }
            Some(ev) = next_vrrp_event(&mut vrrp) => log_vrrp(ev),
            _ = drift.tick(), if runtime.is_some() => {
                if let Some(rt) = runtime.as_mut() {
                    let r = rt.reconcile();
                    if r.applied > 0 {
                        log(&format!("repaired drift: {} operations", r.applied));
                    }
                    flush_log(rt);
                }
            }
            _ = hup.recv() => {
                let loaded = cli::load(&opts.common.file, opts.common.config_id.as_deref(), false);
                if loaded.has_errors() {
                    eprint!("{}", loaded.render_diagnostics());
                    log("reload refused: the new configuration has errors; still running the previous one");
                } else if let Some(rt) = runtime.as_mut() {
                    let r = rt.reload(loaded.config);
                    log(&format!("reloaded: {} IPVS operations", r.applied));
                    flush_log(rt);
                }
                if vrrp.is_some() {
                    log("VRRP instances keep running unchanged across reloads (no transition); VRRP changes take effect at restart");
                }
            }
            _ = term.recv() => break,
            _ = int.recv() => break,
        }
    }
    // Make-before-break: VRRP hands over first (the VIP and forwarding stay
    // until the new master is heard), then the IPVS entries go.
    if let Some(mut v) = vrrp.take() {
        let _ = v.commands.send(VrrpCommand::Shutdown { graceful: true });
        let bound = loaded
            .config
            .vrrp_instances
            .iter()
            .map(|i| i.advert_int.value * 3)
            .max()
            .unwrap_or_default()
            + Duration::from_secs(2);
        let deadline = tokio::time::Instant::now() + bound;
        let mut task = v.task;
        loop {
            tokio::select! {
                _ = &mut task => break,
                Some(ev) = v.events.recv() => log_vrrp(ev),
                _ = tokio::time::sleep_until(deadline) => {
                    log("VRRP did not stop within its bound");
                    break;
                }
            }
        }
        while let Ok(ev) = v.events.try_recv() {
            log_vrrp(ev);
        }
    }
    if let Some(rt) = runtime.as_mut() {
        let r = rt.shutdown(opts.keep_ipvs);
        flush_log(rt);
        log(&format!("stopped: {} IPVS operations", r.applied));
    } else {
        log("stopped");
    }
    if let Some(p) = &opts.pid_file {
        let _ = std::fs::remove_file(p);
    }
    exit::OK
}
