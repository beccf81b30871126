//! `lvsd -f FILE`: the director daemon. Runs the checks, keeps the kernel
//! IPVS table where the configuration and the checks say, repairs drift
//! periodically, reloads on SIGHUP (a broken new config changes nothing),
//! and on SIGTERM/SIGINT removes what it owns (unless `--keep-ipvs`).
//! Serves the control socket (`lvsd status`, `reload`, `rs`) and, when
//! asked, a Prometheus endpoint; runs notify scripts and FIFOs.
//!
//! - `runtime.rs`: the state and the table (no I/O besides the backend);
//! - `check_runtime.rs`: the checks' own thread;
//! - `event_loop.rs`: the event loop around it (testable with the fake kernel);
//! - here: the process (signals, sockets, pid file, sd_notify).

pub mod check_runtime;
pub mod conn_handover;
pub mod event_loop;
pub mod runtime;
pub mod syncd;

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use lvsd_checkers::engine::Engine;
use lvsd_ipvs::netlink::client::IpvsClient;
use tokio::signal::unix::{signal, SignalKind};
use tokio::sync::mpsc::{self, unbounded_channel};

use crate::cli::{self, exit};
use crate::control::access;
use crate::control::protocol::{Request, Response};
use crate::control::server::{self, Command};
use crate::notify::Notifier;
use crate::vrrp::engine::{Engine as VrrpEngine, SharedStatus, StateHook, VrrpCommand, VrrpEvent};
use event_loop::{ConfigSource, Core, Inputs};
use runtime::Runtime;

pub struct DaemonOptions {
    pub common: cli::args::Common,
    pub pid_file: Option<PathBuf>,
    pub keep_ipvs: bool,
    pub owned_file: PathBuf,
    pub reconcile_interval: Duration,
    /// The control socket (`None`: none).
    pub control_socket: Option<PathBuf>,
    /// A group granted access to the control socket.
    pub control_group: Option<String>,
    /// Where the Prometheus endpoint listens (`None`: off).
    pub metrics_listen: Option<SocketAddr>,
    /// Grace for real servers removed by a reload (weight 0, then deleted).
    pub drain_removed: Option<Duration>,
    /// Bound on one notify script's run time.
    pub notify_timeout: Duration,
    /// keepalived -P: VRRP only (no IPVS, no checks).
    pub vrrp_only: bool,
    /// keepalived -C: checks and IPVS only (no VRRP).
    pub check_only: bool,
}

/// The grid check deadlines are rounded up to.
pub const CHECK_TIMER_STEP: Duration = Duration::from_millis(10);

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

impl DaemonOptions {
    /// The daemon's options from the command line.
    pub fn from_cli(cli: &cli::args::Cli) -> Self {
        DaemonOptions {
            common: cli.common.clone(),
            pid_file: cli.pid_file.clone(),
            keep_ipvs: cli.keep_ipvs,
            owned_file: cli.owned_file.clone(),
            reconcile_interval: Duration::from_secs(cli.reconcile_interval.max(1)),
            vrrp_only: cli.vrrp_only,
            check_only: cli.check_only,
            control_socket: Some(cli.control_socket.clone()),
            control_group: cli.control_group.clone(),
            metrics_listen: cli.metrics_listen,
            drain_removed: cli.drain_removed.map(Duration::from_secs),
            notify_timeout: Duration::from_secs(cli.notify_timeout.max(1)),
        }
    }
}

/// Runs the daemon on the kernel's IPVS.
pub fn run(opts: DaemonOptions) -> i32 {
    run_with(opts, || IpvsClient::open().map_err(|e| e.to_string()))
}

/// Runs the daemon on the IPVS backend `open` gives (opened after the
/// configuration is loaded); benchmarks pass a simulated kernel.
pub fn run_with<B, F>(opts: DaemonOptions, open: F) -> i32
where
    B: lvsd_ipvs::IpvsBackend,
    F: FnOnce() -> Result<B, String>,
{
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
    rt.block_on(main_loop(opts, open))
}

/// The control socket, if configured. Another lvsd listening there is
/// fatal when `exclusive` (two directors must never share one IPVS table);
/// any other failure runs without a socket.
fn bind_control(opts: &DaemonOptions, exclusive: bool) -> Result<Option<access::BoundSocket>, i32> {
    let Some(path) = &opts.control_socket else {
        return Ok(None);
    };
    let group = match opts.control_group.as_deref().map(access::resolve_group) {
        Some(Ok(g)) => Some(g),
        Some(Err(e)) => {
            log(&e.to_string());
            return Err(exit::RUNTIME);
        }
        None => None,
    };
    match access::bind(path, group) {
        Ok(s) => Ok(Some(s)),
        Err(e @ access::AccessError::InUse(_)) if exclusive => {
            log(&e.to_string());
            Err(exit::RUNTIME)
        }
        Err(e) => {
            log(&format!("{e}; running without a control socket"));
            Ok(None)
        }
    }
}

/// `lvsd -P`'s answers on the control socket: VRRP status and reload; no
/// director.
fn vrrp_only_answer(
    req: Request,
    vrrp: Option<&VrrpHandle>,
    reload: &mut dyn FnMut() -> Response,
) -> Response {
    match req {
        Request::Status => Response::Status(crate::control::protocol::Status {
            virtual_servers: Vec::new(),
            reconcile: Default::default(),
            reloads: Default::default(),
            draining: 0,
            vrrp: vrrp
                .map(|v| crate::control::status::vrrp(&v.status))
                .unwrap_or_default(),
        }),
        Request::Reload => reload(),
        Request::Rs { .. } => Response::error("lvsd -P runs VRRP only: there are no real servers"),
        Request::Watch => Response::error("watch is served by the socket"),
    }
}

fn write_pid_file(opts: &DaemonOptions) {
    if let Some(p) = &opts.pid_file {
        if let Err(e) = std::fs::write(p, format!("{}\n", std::process::id())) {
            log(&format!("cannot write pid file {}: {e}", p.display()));
        }
    }
}

/// SIGHUP, SIGTERM, SIGINT.
fn signals() -> Option<(
    tokio::signal::unix::Signal,
    tokio::signal::unix::Signal,
    tokio::signal::unix::Signal,
)> {
    match (
        signal(SignalKind::hangup()),
        signal(SignalKind::terminate()),
        signal(SignalKind::interrupt()),
    ) {
        (Ok(h), Ok(t), Ok(i)) => Some((h, t, i)),
        _ => {
            log("cannot install signal handlers");
            None
        }
    }
}

struct VrrpHandle {
    commands: mpsc::UnboundedSender<VrrpCommand>,
    task: tokio::task::JoinHandle<()>,
    logger: tokio::task::JoinHandle<()>,
    status: SharedStatus,
}

fn log_vrrp(ev: VrrpEvent) {
    match ev {
        VrrpEvent::Log(l) => log(&l),
        VrrpEvent::Transition { .. } => {}
    }
}

/// Starts the VRRP engine for the configuration's instances. The daemon
/// calls it after the first IPVS reconcile: a node never claims Master
/// with an empty table.
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
                    syncd::KernelSync::new(c),
                )))
            }
            Err(e) if with_ipvs => return Err(format!("lvs_sync_daemon: {e}")),
            Err(e) => {
                log(&format!("lvs_sync_daemon ignored: {e}"));
                None
            }
        },
        None => None,
    };
    let (ev_tx, mut ev_rx) = unbounded_channel();
    let (engine, status) = VrrpEngine::new(vrrp_config(cfg), ev_tx, hook)?;
    let (cmd_tx, cmd_rx) = unbounded_channel();
    let task = tokio::spawn(engine.run(cmd_rx));
    let logger = tokio::spawn(async move {
        while let Some(ev) = ev_rx.recv().await {
            log_vrrp(ev);
        }
    });
    log(&format!(
        "VRRP: {} instances started",
        cfg.vrrp_instances.len()
    ));
    Ok(Some(VrrpHandle {
        commands: cmd_tx,
        task,
        logger,
        status,
    }))
}

/// The part of a configuration VRRP uses: all but the virtual servers
/// (a large director's bulk, which VRRP would otherwise hold a copy of).
pub fn vrrp_config(cfg: &crate::config::model::Config) -> crate::config::model::Config {
    crate::config::model::Config {
        global: cfg.global.clone(),
        ssl: cfg.ssl.clone(),
        vs_groups: Vec::new(),
        virtual_servers: Vec::new(),
        track_files: cfg.track_files.clone(),
        vrrp_scripts: cfg.vrrp_scripts.clone(),
        vrrp_sync_groups: cfg.vrrp_sync_groups.clone(),
        vrrp_instances: cfg.vrrp_instances.clone(),
        static_ipaddress: cfg.static_ipaddress.clone(),
        static_routes: cfg.static_routes.clone(),
        static_rules: cfg.static_rules.clone(),
        bfd_instances: cfg.bfd_instances.clone(),
        other_blocks: cfg.other_blocks.clone(),
    }
}

/// How long stopping VRRP may take: 3 x the longest advert_int, a notify
/// script's timeout, and 2 s.
fn vrrp_stop_bound(cfg: &crate::config::model::Config) -> Duration {
    cfg.vrrp_instances
        .iter()
        .map(|i| i.advert_int.value * 3)
        .max()
        .unwrap_or_default()
        + crate::vrrp::notify::SCRIPT_TIMEOUT
        + Duration::from_secs(2)
}

/// Stops VRRP make-before-break: a Master resigns and keeps its VIP (and
/// forwarding) until the new master is heard, at most `bound`.
async fn stop_vrrp(v: VrrpHandle, bound: Duration) {
    let _ = v.commands.send(VrrpCommand::Shutdown { graceful: true });
    if tokio::time::timeout(bound, v.task).await.is_err() {
        log("VRRP did not stop within its bound");
    }
    let _ = tokio::time::timeout(Duration::from_secs(1), v.logger).await;
}

/// keepalived -P: VRRP only, no IPVS table and no checks.
async fn vrrp_only(opts: DaemonOptions, cfg: crate::config::model::Config) -> i32 {
    let vrrp = match start_vrrp(&cfg, false) {
        Ok(v) => v,
        Err(e) => {
            log(&e);
            return exit::RUNTIME;
        }
    };
    let (cmd_tx, mut cmd_rx) = mpsc::channel::<Command>(64);
    if let Ok(Some(sock)) = bind_control(&opts, false) {
        log(&format!("control socket: {}", sock.path.display()));
        let (events, _) = tokio::sync::broadcast::channel(16);
        tokio::spawn(server::serve(sock, cmd_tx.clone(), events));
    }
    drop(cmd_tx);
    write_pid_file(&opts);
    let Some((mut hup, mut term, mut int)) = signals() else {
        return exit::RUNTIME;
    };
    notify_ready();
    let reload = |vrrp: &Option<VrrpHandle>| -> Response {
        let loaded = cli::load(&opts.common.file, opts.common.config_id.as_deref(), false);
        if loaded.has_errors() {
            let diagnostics = loaded.render_diagnostics();
            eprint!("{diagnostics}");
            let message =
                "reload refused: the new configuration has errors; still running the previous one";
            log(message);
            return Response::Error {
                message: message.into(),
                diagnostics: Some(diagnostics),
            };
        }
        if let Some(v) = vrrp {
            let _ = v
                .commands
                .send(VrrpCommand::Reload(Box::new(loaded.config)));
        }
        Response::Reloaded { operations: 0 }
    };
    loop {
        tokio::select! {
            _ = hup.recv() => {
                reload(&vrrp);
            }
            Some(cmd) = cmd_rx.recv() => match cmd {
                Command::Request { req, reply } => {
                    let resp = vrrp_only_answer(req, vrrp.as_ref(), &mut || reload(&vrrp));
                    if let Some(r) = reply {
                        let _ = r.send(resp);
                    }
                }
                Command::Metrics { reply } => {
                    let list = vrrp
                        .as_ref()
                        .and_then(|v| v.status.lock().ok().map(|l| l.clone()))
                        .unwrap_or_default();
                    let _ = reply.send(crate::metrics::exposition::render(
                        &crate::metrics::collect::vrrp_families(&list),
                    ));
                }
            },
            _ = term.recv() => break,
            _ = int.recv() => break,
        }
    }
    if let Some(v) = vrrp {
        stop_vrrp(v, vrrp_stop_bound(&cfg)).await;
    }
    log("stopped");
    if let Some(p) = &opts.pid_file {
        let _ = std::fs::remove_file(p);
    }
    exit::OK
}

async fn main_loop<B, F>(opts: DaemonOptions, open: F) -> i32
where
    B: lvsd_ipvs::IpvsBackend,
    F: FnOnce() -> Result<B, String>,
{
    let started = std::time::Instant::now();
    let loaded = match cli::plan::load_for_run(&opts.common) {
        Ok(l) => l,
        Err(code) => return code,
    };
    if opts.vrrp_only {
        return vrrp_only(opts, loaded.config).await;
    }
    let client = match open() {
        Ok(c) => c,
        Err(e) => {
            log(&e);
            return exit::RUNTIME;
        }
    };
    // Control socket and metrics listener first: a taken socket or port is
    // an error before anything touches IPVS.
    let control = match bind_control(&opts, true) {
        Ok(c) => c,
        Err(code) => return code,
    };
    let metrics = match opts.metrics_listen {
        Some(addr) => match crate::metrics::server::bind(addr).await {
            Ok(l) => Some(l),
            Err(e) => {
                log(&format!("metrics: cannot listen on {addr}: {e}"));
                return exit::RUNTIME;
            }
        },
        None => None,
    };
    let (tx, rx) = unbounded_channel();
    log(&format!(
        "start-up: configuration loaded in {} ms",
        started.elapsed().as_millis()
    ));
    let checks = match check_runtime::CheckRuntime::start() {
        Ok(c) => c,
        Err(e) => {
            log(&format!("cannot start the checks' thread: {e}"));
            return exit::RUNTIME;
        }
    };
    let mut engine = Engine::new(tx, Box::new(rand::random::<f64>));
    engine.set_runtime(&checks.handle());
    // Checks due within the same 10 ms start in one wake-up of the checks'
    // thread (at most 10 ms after their exact time).
    engine.set_timer_step(CHECK_TIMER_STEP);
    // keepalived's 1 s before the first attempts counts from the daemon's
    // start, so that with a large configuration it overlaps the parse (for
    // a small one the two are the same moment).
    engine.set_epoch(Some(tokio::time::Instant::from_std(started)));
    let mut runtime =
        match Runtime::start(loaded.config, client, Some(opts.owned_file.clone()), engine) {
            Ok(r) => r,
            Err(e) => {
                log(&e);
                return exit::RUNTIME;
            }
        };
    log(&format!(
        "start-up: checks registered {} ms after the configuration, IPVS table read and programmed in {} ms",
        runtime.startup.checks.as_millis(),
        runtime.startup.table.as_millis()
    ));
    runtime.set_drain_removed(opts.drain_removed);
    runtime.startup_transitions();
    flush_log(&mut runtime);
    log(&format!(
        "started: {} virtual servers, {} distinct checks, {} IPVS operations",
        runtime.cfg.virtual_servers.len(),
        runtime.running_checks(),
        runtime.stats.operations
    ));
    let vrrp = if opts.check_only {
        None
    } else {
        match start_vrrp(&runtime.cfg, true) {
            Ok(v) => v,
            Err(e) => {
                log(&e);
                let r = runtime.shutdown(opts.keep_ipvs);
                flush_log(&mut runtime);
                log(&format!("stopped: {} IPVS operations", r.applied));
                return exit::RUNTIME;
            }
        }
    };
    let vrrp_stop = vrrp_stop_bound(&runtime.cfg);
    let (notifier, notify_log) = Notifier::new(&runtime.cfg.global, opts.notify_timeout);
    let mut core = Core::new(
        runtime,
        Some(notifier),
        ConfigSource {
            file: opts.common.file.clone(),
            config_id: opts.common.config_id.clone(),
        },
    );
    core.vrrp = vrrp.as_ref().map(|v| v.status.clone());
    core.vrrp_commands = vrrp.as_ref().map(|v| v.commands.clone());
    let (cmd_tx, cmd_rx) = mpsc::channel(64);
    if let Some(sock) = control {
        log(&format!("control socket: {}", sock.path.display()));
        tokio::spawn(server::serve(sock, cmd_tx.clone(), core.events.clone()));
    }
    if let Some(l) = metrics {
        if let Ok(a) = l.local_addr() {
            log(&format!("metrics: http://{a}/metrics"));
        }
        tokio::spawn(crate::metrics::server::serve(l, cmd_tx.clone()));
    }
    write_pid_file(&opts);
    let Some((mut hup, mut term, mut int)) = signals() else {
        return exit::RUNTIME;
    };
    // SIGHUP is a reload request like the socket's.
    let hup_tx = cmd_tx.clone();
    tokio::spawn(async move {
        while hup.recv().await.is_some() {
            let cmd = Command::Request {
                req: Request::Reload,
                reply: None,
            };
            if hup_tx.send(cmd).await.is_err() {
                return;
            }
        }
    });
    drop(cmd_tx);
    notify_ready();
    let stop = async {
        tokio::select! {
            _ = term.recv() => {}
            _ = int.recv() => {}
        }
    };
    let inputs = Inputs {
        engine: rx,
        commands: cmd_rx,
        notify_log: Some(notify_log),
        reconcile_interval: opts.reconcile_interval,
    };
    core.run(inputs, stop, &mut |l| log(l)).await;
    // VRRP hands over first; the IPVS entries go once the VIP has moved.
    if let Some(v) = vrrp {
        stop_vrrp(v, vrrp_stop).await;
    }
    let r = core.runtime.shutdown(opts.keep_ipvs);
    // Scripts get their timeout plus the kill grace before lvsd exits.
    let limit = opts.notify_timeout + Duration::from_secs(3);
    if !core.finish_notifications(limit).await {
        log("notify scripts still running at exit");
    }
    flush_log(&mut core.runtime);
    log(&format!("stopped: {} IPVS operations", r.applied));
    if let Some(p) = &opts.pid_file {
        let _ = std::fs::remove_file(p);
    }
    exit::OK
}
