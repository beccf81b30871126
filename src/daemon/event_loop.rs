//! The daemon's event loop, independent of signals, the real kernel and
//! the process: check events drive the director and the table, periodic
//! drift repair, drained real servers expire, and commands from the control
//! socket (status, reload, rs), SIGHUP (reload) and the metrics endpoint
//! are answered. Every transition goes to `watch` subscribers and the
//! notifier. Tests drive it with the in-memory IPVS.

use std::future::Future;
use std::path::PathBuf;
use std::time::Duration;

use lvsd_checkers::engine::EngineEvent;
use lvsd_ipvs::IpvsBackend;
use tokio::sync::{broadcast, mpsc};

use super::runtime::{now_ms, Runtime};
use crate::control::protocol::{Event, Request, Response};
use crate::control::server::Command;
use crate::control::status;
use crate::notify::Notifier;

/// Where a reload reads the configuration from.
#[derive(Debug, Clone)]
pub struct ConfigSource {
    pub file: PathBuf,
    pub config_id: Option<String>,
}

pub struct Core<B: IpvsBackend> {
    pub runtime: Runtime<B>,
    pub notifier: Option<Notifier>,
    pub events: broadcast::Sender<Event>,
    pub source: ConfigSource,
    /// The VRRP engine's status, when VRRP runs.
    pub vrrp: Option<crate::vrrp::engine::SharedStatus>,
    /// The VRRP engine's commands (reloads reach it too).
    pub vrrp_commands: Option<mpsc::UnboundedSender<crate::vrrp::engine::VrrpCommand>>,
}

/// The loop's inputs.
pub struct Inputs {
    pub engine: mpsc::UnboundedReceiver<EngineEvent>,
    pub commands: mpsc::Receiver<Command>,
    /// Log lines of the notifier's script task.
    pub notify_log: Option<mpsc::UnboundedReceiver<String>>,
    pub reconcile_interval: Duration,
}

/// The pause before the next drift repair: the configured interval, or 50
/// times what the last repair took when that is longer (pure).
pub fn drift_pause(interval: Duration, last: Duration) -> Duration {
    interval.max(last * 50)
}

/// Capacity of the watch broadcast (a slower watcher is told it lagged).
pub const WATCH_BUFFER: usize = 1024;

impl<B: IpvsBackend> Core<B> {
    pub fn new(runtime: Runtime<B>, notifier: Option<Notifier>, source: ConfigSource) -> Self {
        Core {
            runtime,
            notifier,
            events: broadcast::channel(WATCH_BUFFER).0,
            source,
            vrrp: None,
            vrrp_commands: None,
        }
    }

    /// Hands queued transitions to watchers and the notifier, in order.
    fn dispatch(&mut self) {
        let at = now_ms();
        for t in std::mem::take(&mut self.runtime.transitions) {
            if let Some(ev) = status::event(&self.runtime.cfg, &t, at) {
                let _ = self.events.send(ev);
            }
            if let Some(n) = &mut self.notifier {
                n.notify(&self.runtime.cfg, &t);
            }
        }
    }

    /// Reload from the configuration file: refused (nothing changes) when
    /// it has errors.
    pub fn reload(&mut self) -> Response {
        let loaded = crate::cli::load(&self.source.file, self.source.config_id.as_deref(), false);
        if loaded.has_errors() {
            self.runtime.refuse_reload();
            let diagnostics = loaded.render_diagnostics();
            self.runtime.log.push(format!(
                "reload refused: the new configuration has errors; still running the previous one\n{}",
                diagnostics.trim_end()
            ));
            return Response::Error {
                message: "reload refused: the new configuration has errors; still running the previous one".into(),
                diagnostics: Some(diagnostics),
            };
        }
        if let Some(tx) = &self.vrrp_commands {
            let _ = tx.send(crate::vrrp::engine::VrrpCommand::Reload(Box::new(
                super::vrrp_config(&loaded.config),
            )));
        }
        let r = self.runtime.reload(loaded.config);
        if let Some(n) = &mut self.notifier {
            n.reconfigure(&self.runtime.cfg.global);
        }
        self.runtime
            .log
            .push(format!("reloaded: {} IPVS operations", r.applied));
        Response::Reloaded {
            operations: r.applied as u64,
        }
    }

    /// Answers one request (`watch` is the socket's own business).
    pub fn handle(&mut self, req: Request) -> Response {
        let resp = match req {
            Request::Status => {
                let mut st = status::snapshot(&self.runtime);
                if let Some(v) = &self.vrrp {
                    st.vrrp = status::vrrp(v);
                }
                Response::Status(st)
            }
            Request::Reload => self.reload(),
            Request::Rs { action, vs, rs } => {
                match self.runtime.set_admin(&vs, &rs, action.admin_state()) {
                    Ok((vs, rs)) => {
                        let r = self.runtime.reconcile();
                        self.runtime.log.push(format!(
                            "operator: real server {rs} of {vs} set to {:?}",
                            action.admin_state()
                        ));
                        Response::Admin {
                            vs,
                            rs,
                            admin: action.admin_state(),
                            operations: r.applied as u64,
                        }
                    }
                    Err(e) => Response::error(e.to_string()),
                }
            }
            Request::Watch => Response::error("watch is served by the socket"),
        };
        self.dispatch();
        resp
    }

    fn on_command(&mut self, cmd: Command) {
        match cmd {
            Command::Request { req, reply } => {
                let resp = self.handle(req);
                if let Some(r) = reply {
                    let _ = r.send(resp);
                }
            }
            Command::Metrics { reply } => {
                let text = crate::metrics::collect::render_with_vrrp(
                    &mut self.runtime,
                    self.vrrp.as_ref(),
                );
                let _ = reply.send(text);
            }
        }
    }

    /// At stop: keepalived's `omega` notifications (real servers down,
    /// quorum lost) for the virtual servers that ask for them, then waits
    /// at most `limit` for queued scripts. Call after `run`.
    pub async fn finish_notifications(&mut self, limit: Duration) -> bool {
        self.runtime.omega_transitions();
        self.dispatch();
        match self.notifier.take() {
            Some(n) => n.finish(limit).await,
            None => true,
        }
    }

    /// Runs until `stop` resolves; `log` gets the log lines.
    pub async fn run(
        &mut self,
        mut inputs: Inputs,
        stop: impl Future<Output = ()>,
        log: &mut (dyn FnMut(&str) + Send),
    ) {
        // Start-up notifications queued before the loop.
        self.dispatch();
        // Drift repair every reconcile_interval, but never more than about
        // 2 % of a core: a full table (42,000 entries) takes a while to
        // read, so the interval stretches to 50 x the last repair's time
        // (measured in the lab's slow guest: at 20 x, the repairs were a
        // tenth of lvsd's CPU while checking 40,000 servers).
        let mut drift_at = tokio::time::Instant::now() + inputs.reconcile_interval;
        tokio::pin!(stop);
        let mut notify_log = inputs.notify_log.take();
        // ha_suspend follows the addresses on this host (VRRP moving the
        // VIP, or an operator): checked every second when configured.
        let mut ha = tokio::time::interval(Duration::from_secs(1));
        ha.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            let deadline = self.runtime.next_drain_deadline();
            let drain_due = async move {
                match deadline {
                    Some(d) => tokio::time::sleep_until(d).await,
                    None => std::future::pending().await,
                }
            };
            let notify_line = async {
                match notify_log.as_mut() {
                    Some(rx) => rx.recv().await,
                    None => std::future::pending().await,
                }
            };
            tokio::select! {
                Some(ev) = inputs.engine.recv() => {
                    let mut changed = self.runtime.on_event(ev);
                    // Bounded batch: what is queued now, at most 4096.
                    for _ in 0..4096 {
                        match inputs.engine.try_recv() {
                            Ok(ev) => changed |= self.runtime.on_event(ev),
                            Err(_) => break,
                        }
                    }
                    if changed {
                        self.runtime.reconcile_events();
                    }
                    self.dispatch();
                }
                Some(cmd) = inputs.commands.recv() => self.on_command(cmd),
                _ = tokio::time::sleep_until(drift_at) => {
                    let started = tokio::time::Instant::now();
                    let r = self.runtime.reconcile();
                    if r.applied > 0 {
                        self.runtime.log.push(format!("repaired drift: {} operations", r.applied));
                    }
                    drift_at = tokio::time::Instant::now()
                        + drift_pause(inputs.reconcile_interval, started.elapsed());
                }
                _ = drain_due => {
                    if self.runtime.expire_drains(tokio::time::Instant::now()) {
                        self.runtime.reconcile();
                    }
                }
                Some(line) = notify_line => log(&line),
                _ = ha.tick(), if self.runtime.uses_ha_suspend() => {
                    self.runtime.apply_ha_suspend(&crate::vrrp::net::iface::is_local);
                }
                _ = &mut stop => break,
            }
            for l in self.runtime.log.drain(..) {
                log(&l);
            }
        }
        for l in self.runtime.log.drain(..) {
            log(&l);
        }
    }
}

#[cfg(test)]
mod drift_tests {
    use super::*;

    #[test]
    fn drift_repair_stays_under_two_percent_of_a_core() {
        let s = Duration::from_secs;
        let ms = Duration::from_millis;
        // Small tables: the configured interval.
        assert_eq!(drift_pause(s(5), ms(20)), s(5));
        // A 42,000-entry table read in 0.6 s: every 30 s.
        assert_eq!(drift_pause(s(5), ms(600)), s(30));
        assert_eq!(drift_pause(s(60), ms(600)), s(60));
    }
}
