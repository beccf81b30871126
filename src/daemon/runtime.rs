//! The daemon's core, independent of signals and sockets so it can be
//! driven in tests with the in-memory IPVS: start-up (adopt the kernel
//! table, first reconcile, register checks), check events (director state,
//! then reconcile), periodic drift repair, reload (keep unchanged checks
//! running), and shutdown (remove what lvsd owns unless told to keep it).
//!
//! Also keepalived's global IPVS settings (`lvs_flush` at start,
//! `lvs_timeouts` at start and reload, `lvs_flush_on_stop`), the
//! operator's admin state (kept across reloads until cleared), draining of
//! real servers removed by a reload (`--drain-removed`), and the counters
//! status and metrics report. Transitions are queued in `transitions` for
//! the caller (watchers, notify scripts, FIFOs).

use std::collections::{HashMap, HashSet};
use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use lvsd_checkers::engine::{AttemptReports, AttemptStats, Engine, EngineEvent};
use lvsd_ipvs::reconcile::{reconcile_with, ReconcileReport};
use lvsd_ipvs::{owned, Destination, IpvsBackend, Operation, ServiceKey, Table, Timeouts};
use tokio::time::Instant;

use crate::config::model::{Config, FlushOnStop, LvsTimeouts};
use crate::director::checks;
use crate::director::migrate;
use crate::director::names::{self, NameError};
use crate::director::state::{AdminState, CheckerId, Director, Transition};

/// Counters operators see in status and metrics.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct ReconcileStats {
    pub runs: u64,
    pub operations: u64,
    pub failures: u64,
}

/// Reloads done and refused (a configuration with errors).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct ReloadStats {
    pub count: u64,
    pub failures: u64,
}

/// Check attempts of one real server's checkers (for metrics).
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct CheckStats {
    pub pass: u64,
    pub fail: u64,
    /// Sum of attempt latencies, in seconds.
    pub latency_sum: f64,
}

impl CheckStats {
    fn add(&mut self, a: &AttemptStats) {
        self.pass += a.pass;
        self.fail += a.fail;
        self.latency_sum += a.latency_sum.as_secs_f64();
    }
}

/// How long start-up took after the configuration was loaded.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct StartupTiming {
    /// Until every check was registered (their start-up delay runs from
    /// there).
    pub checks: Duration,
    /// Reading and programming the IPVS table, after that.
    pub table: Duration,
}

/// Real server and virtual server names (`names::vs_name` + protocol).
pub type RsLabel = (String, String);

/// A destination removed by a reload, kept at weight 0 until `until`.
#[derive(Debug, Clone)]
struct Draining {
    service: ServiceKey,
    dest: Destination,
    until: Instant,
}

pub struct Runtime<B: IpvsBackend> {
    pub cfg: Config,
    pub director: Director,
    backend: B,
    owned: HashSet<ServiceKey>,
    owned_path: Option<PathBuf>,
    engine: Engine,
    generation: u64,
    ids: HashMap<u64, CheckerId>,
    pub stats: ReconcileStats,
    pub reloads: ReloadStats,
    /// Lines for the log (the caller prints them).
    pub log: Vec<String>,
    /// Transitions not yet handed to watchers and notifiers (the caller
    /// drains them; indexes refer to `cfg`).
    pub transitions: Vec<Transition>,
    /// Check attempts of checkers a reload replaced, per (virtual server,
    /// real server) name (the engine counts the running ones).
    retired_stats: HashMap<RsLabel, CheckStats>,
    /// Operator admin states by (virtual server name, real server); they
    /// outlive reloads until cleared with `enable`.
    admin: HashMap<(String, SocketAddr), AdminState>,
    drain_grace: Option<Duration>,
    draining: Vec<Draining>,
    /// Virtual servers whose checks `ha_suspend` holds (address not local).
    ha_suspended: HashSet<usize>,
    /// The table the last successful reconcile left in the kernel.
    known: Option<Table>,
    pub startup: StartupTiming,
}

/// `lvs_timeouts` as the kernel takes them (0 = leave unchanged); `None`
/// when none is configured.
pub fn kernel_timeouts(t: &LvsTimeouts) -> Option<Timeouts> {
    if t.tcp.is_none() && t.tcpfin.is_none() && t.udp.is_none() {
        return None;
    }
    Some(Timeouts {
        tcp: t.tcp.unwrap_or(0),
        tcp_fin: t.tcpfin.unwrap_or(0),
        udp: t.udp.unwrap_or(0),
    })
}

/// The virtual server's name with its protocol, unique within a config.
pub fn vs_label(vs: &crate::config::model::VirtualServer) -> String {
    format!(
        "{}/{}",
        names::vs_name(vs),
        names::protocol_name(vs.protocol.value)
    )
}

/// Wall-clock Unix milliseconds (for `since` and events).
pub fn now_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_millis() as u64)
        .unwrap_or(0)
}

fn engine_id(generation: u64, c: CheckerId) -> u64 {
    (generation << 48)
        | ((c.vs as u64 & 0xffff) << 32)
        | ((c.rs as u64 & 0xffff) << 16)
        | (c.checker as u64 & 0xffff)
}

impl<B: IpvsBackend> Runtime<B> {
    /// Starts the checks, adopts the kernel table and reconciles once.
    pub fn start(
        cfg: Config,
        mut backend: B,
        owned_path: Option<PathBuf>,
        mut engine: Engine,
    ) -> Result<Self, String> {
        let t0 = std::time::Instant::now();
        // Passing attempts are counted by the engine, not sent here.
        engine.set_attempt_reports(AttemptReports::Notable);
        let mut owned = match &owned_path {
            Some(p) => owned::load(p).map_err(|e| e.to_string())?,
            None => HashSet::new(),
        };
        let mut log = Vec::new();
        if cfg.global.lvs_flush {
            backend
                .flush()
                .map_err(|e| format!("lvs_flush: cannot flush the IPVS table: {e}"))?;
            owned.clear();
            log.push("lvs_flush: flushed the IPVS table".to_string());
        }
        if let Some(t) = kernel_timeouts(&cfg.global.lvs_timeouts) {
            if let Err(e) = backend.set_timeouts(&t) {
                log.push(format!("lvs_timeouts: {e}"));
            }
        }
        let director = Director::new(&cfg, now_ms());
        let mut rt = Runtime {
            cfg,
            director,
            backend,
            owned,
            owned_path,
            engine,
            generation: 0,
            ids: HashMap::new(),
            stats: ReconcileStats::default(),
            reloads: ReloadStats::default(),
            log,
            transitions: Vec::new(),
            retired_stats: HashMap::new(),
            admin: HashMap::new(),
            drain_grace: None,
            draining: Vec::new(),
            ha_suspended: HashSet::new(),
            known: None,
            startup: StartupTiming::default(),
        };
        // Checks first: keepalived's start-up delay (1 s) runs from here
        // (or from the epoch the caller set: the daemon's start), for every
        // check alike however long registering them all takes, while a
        // large table is read and programmed (results queue until the loop
        // runs; the checks' state does not depend on the table).
        if rt.engine.epoch().is_none() {
            rt.engine.set_epoch(Some(Instant::now()));
        }
        rt.register_checks();
        rt.engine.set_epoch(None);
        let t_checks = t0.elapsed();
        let kernel = rt
            .backend
            .dump()
            .map_err(|e| format!("cannot read the IPVS table: {e}"))?;
        rt.director = migrate::adopt(&rt.cfg, &kernel, now_ms());
        rt.reconcile_with(Some(kernel));
        rt.startup = StartupTiming {
            checks: t_checks,
            table: t0.elapsed() - t_checks,
        };
        Ok(rt)
    }

    pub fn backend(&mut self) -> &mut B {
        &mut self.backend
    }

    /// `--drain-removed`: real servers removed by a reload stay at weight 0
    /// for `grace` before they are deleted (`None`: deleted at once).
    pub fn set_drain_removed(&mut self, grace: Option<Duration>) {
        self.drain_grace = grace;
    }

    /// Real servers removed by a reload that are still draining.
    pub fn draining_count(&self) -> usize {
        self.draining.len()
    }

    /// When the next drained destination is due for deletion.
    pub fn next_drain_deadline(&self) -> Option<Instant> {
        self.draining.iter().map(|d| d.until).min()
    }

    /// Drops drained destinations whose grace is over; true if any was
    /// (the caller reconciles).
    pub fn expire_drains(&mut self, now: Instant) -> bool {
        let before = self.draining.len();
        self.draining.retain(|d| d.until > now);
        self.draining.len() != before
    }

    /// Sets an operator's admin state on a real server named as operators
    /// write it (`10.0.0.1:80`, `fwmark:1`, ...). Returns the names it
    /// resolved to; the caller reconciles.
    pub fn set_admin(
        &mut self,
        vs: &str,
        rs: &str,
        admin: AdminState,
    ) -> Result<(String, String), NameError> {
        let (vi, ri) = names::find_rs(&self.cfg, vs, rs)?;
        let (label, addr) = self.rs_key(vi, ri).ok_or_else(|| NameError::NoRealServer {
            vs: vs.to_string(),
            rs: rs.to_string(),
        })?;
        if admin == AdminState::Enabled {
            self.admin.remove(&(label.clone(), addr));
        } else {
            self.admin.insert((label.clone(), addr), admin);
        }
        let t = self.director.set_admin(&self.cfg, vi, ri, admin, now_ms());
        self.queue(t);
        Ok((label, names::rs_name(addr.ip(), addr.port())))
    }

    fn rs_key(&self, vi: usize, ri: usize) -> Option<(String, SocketAddr)> {
        let vs = self.cfg.virtual_servers.get(vi)?;
        let rs = vs.real_servers.get(ri)?;
        Some((vs_label(vs), SocketAddr::new(rs.addr, rs.port.value)))
    }

    /// Re-applies the operator's admin states after a reload (a real
    /// server removed and added back keeps it).
    fn reapply_admin(&mut self) {
        let now = now_ms();
        for vi in 0..self.cfg.virtual_servers.len() {
            let count = self.cfg.virtual_servers[vi].real_servers.len();
            for ri in 0..count {
                let has = self
                    .director
                    .virtual_servers
                    .get(vi)
                    .and_then(|v| v.real_servers.get(ri))
                    .map(|r| r.admin);
                // No operator state anywhere: nothing to look up.
                if self.admin.is_empty() && has == Some(Default::default()) {
                    continue;
                }
                let Some(key) = self.rs_key(vi, ri) else {
                    continue;
                };
                let want = self.admin.get(&key).copied().unwrap_or_default();
                if has != Some(want) {
                    let t = self.director.set_admin(&self.cfg, vi, ri, want, now);
                    self.queue(t);
                }
            }
        }
    }

    fn register_checks(&mut self) {
        self.register_checks_except(&HashMap::new());
    }

    /// Registers every checker except those already registered (`skip`).
    fn register_checks_except(&mut self, skip: &HashMap<CheckerId, u64>) {
        let gen = self.generation;
        let count: usize = self
            .cfg
            .virtual_servers
            .iter()
            .flat_map(|v| &v.real_servers)
            .map(|r| r.checkers.len())
            .sum();
        let new = count.saturating_sub(skip.len());
        self.engine.reserve(new);
        self.ids.reserve(new);
        for (vi, vs) in self.cfg.virtual_servers.iter().enumerate() {
            for (ri, rs) in vs.real_servers.iter().enumerate() {
                for (ci, c) in rs.checkers.iter().enumerate() {
                    let id = CheckerId {
                        vs: vi,
                        rs: ri,
                        checker: ci,
                    };
                    if skip.contains_key(&id) {
                        continue;
                    }
                    match checks::build(c, rs, vs, &self.cfg) {
                        Ok(check) => {
                            let eid = engine_id(gen, id);
                            self.engine.add(eid, check, checks::timing(c), None);
                            self.ids.insert(eid, id);
                        }
                        Err(e) => self.log.push(format!(
                            "real server {}:{}: {}",
                            rs.addr, rs.port.value, e.0
                        )),
                    }
                }
            }
        }
    }

    /// Whether some virtual server asks for `ha_suspend`.
    pub fn uses_ha_suspend(&self) -> bool {
        self.cfg.virtual_servers.iter().any(|v| v.ha_suspend)
    }

    /// `ha_suspend`: the checks of a virtual server whose address is not on
    /// this host (the VIP is with the other director) are suspended, and
    /// resume when the address arrives. Re-applied after reloads (new
    /// checks start unsuspended). Returns how many servers changed.
    pub fn apply_ha_suspend(&mut self, is_local: &dyn Fn(std::net::IpAddr) -> bool) -> usize {
        let mut changed = 0;
        let mut now_suspended = HashSet::new();
        for (vi, vs) in self.cfg.virtual_servers.iter().enumerate() {
            if !vs.ha_suspend {
                continue;
            }
            let crate::config::model::VsTarget::Addr { addr, .. } = vs.target else {
                continue;
            };
            if !is_local(addr) {
                now_suspended.insert(vi);
            }
        }
        for (eid, id) in &self.ids {
            if self.cfg.virtual_servers[id.vs].ha_suspend {
                self.engine.suspend(*eid, now_suspended.contains(&id.vs));
            }
        }
        for vi in now_suspended.symmetric_difference(&self.ha_suspended) {
            changed += 1;
            let vs = &self.cfg.virtual_servers[*vi];
            self.log.push(format!(
                "ha_suspend: checks of {} {}",
                vs_label(vs),
                if now_suspended.contains(vi) {
                    "suspended (address not on this host)"
                } else {
                    "resumed (address on this host)"
                }
            ));
        }
        self.ha_suspended = now_suspended;
        changed
    }

    /// Applies one engine event to the director; true when state changed.
    pub fn on_event(&mut self, ev: EngineEvent) -> bool {
        if let EngineEvent::Attempt {
            id,
            pass: false,
            reason,
            ..
        } = &ev
        {
            self.log_failure(*id, reason.as_deref());
        }
        let (eid, up, delta, reason) = match ev {
            EngineEvent::Transition {
                id,
                up,
                reason,
                weight_delta,
            } => (id, Some(up), weight_delta, reason),
            EngineEvent::Attempt {
                id,
                pass,
                weight_delta: Some(d),
                ..
            } if pass => (id, None, Some(d), None),
            _ => return false,
        };
        let Some(&cid) = self.ids.get(&eid) else {
            return false;
        };
        let current = self
            .director
            .virtual_servers
            .get(cid.vs)
            .and_then(|v| v.real_servers.get(cid.rs))
            .and_then(|r| r.checker_up.get(cid.checker).copied())
            .unwrap_or(true);
        let transitions = self.director.set_checker(
            &self.cfg,
            cid,
            up.unwrap_or(current),
            delta,
            reason,
            now_ms(),
        );
        self.queue(transitions);
        up.is_some() || delta.is_some()
    }

    /// Logs transitions and queues them for watchers and notifiers.
    fn queue(&mut self, transitions: Vec<Transition>) {
        for t in &transitions {
            self.log.push(self.describe(t));
        }
        self.transitions.extend(transitions);
    }

    /// With `log_all_failures` (the checker's, else global
    /// `checker_log_all_failures`) every failed attempt is logged, not only
    /// the state changes.
    fn log_failure(&mut self, eid: u64, reason: Option<&str>) {
        let Some(&cid) = self.ids.get(&eid) else {
            return;
        };
        let log_all = self
            .cfg
            .virtual_servers
            .get(cid.vs)
            .and_then(|v| v.real_servers.get(cid.rs))
            .and_then(|r| r.checkers.get(cid.checker))
            .is_some_and(|c| c.timing.log_all_failures);
        if log_all {
            self.log.push(format!(
                "check failed: {}",
                reason.unwrap_or("(no reason given)")
            ));
        }
    }

    /// The (virtual server, real server) names of a real server.
    fn rs_label(&self, vi: usize, ri: usize) -> Option<RsLabel> {
        let (label, addr) = self.rs_key(vi, ri)?;
        Some((label, names::rs_name(addr.ip(), addr.port())))
    }

    /// Check attempts per (virtual server, real server) name, for status
    /// and metrics: the running checkers' counts (from the engine) plus
    /// those of checkers a reload replaced.
    pub fn check_stats(&self) -> HashMap<RsLabel, CheckStats> {
        let mut out = self.retired_stats.clone();
        for (eid, cid) in &self.ids {
            let (Some(st), Some(label)) = (self.engine.stats(*eid), self.rs_label(cid.vs, cid.rs))
            else {
                continue;
            };
            out.entry(label).or_default().add(&st);
        }
        out
    }

    fn describe(&self, t: &Transition) -> String {
        let rs_name = |vs: usize, rs: usize| {
            self.cfg
                .virtual_servers
                .get(vs)
                .and_then(|v| v.real_servers.get(rs))
                .map(|r| format!("{}", lvsd_ipvs::SocketText(r.addr, r.port.value)))
                .unwrap_or_default()
        };
        match t {
            Transition::RealServerUp { vs, rs } => format!(
                "real server {} of virtual server #{vs} is up",
                rs_name(*vs, *rs)
            ),
            Transition::RealServerDown { vs, rs, reason } => format!(
                "real server {} of virtual server #{vs} is down: {}",
                rs_name(*vs, *rs),
                reason.as_deref().unwrap_or("checker failed")
            ),
            Transition::QuorumUp { vs } => format!("virtual server #{vs} gained quorum"),
            Transition::QuorumDown { vs } => format!("virtual server #{vs} lost quorum"),
        }
    }

    /// The table the director wants now (with drained destinations of
    /// removed real servers at weight 0).
    pub fn desired(&self) -> Table {
        let mut t = self.director.desired(&self.cfg);
        for d in &self.draining {
            if let Some(e) = t.services.iter_mut().find(|e| e.service.key == d.service) {
                if !e.destinations.iter().any(|x| x.key() == d.dest.key()) {
                    e.destinations.push(d.dest.clone());
                }
            }
        }
        t
    }

    /// Brings the kernel to the desired table (also repairs drift).
    pub fn reconcile(&mut self) -> ReconcileReport {
        self.reconcile_with(None)
    }

    /// After a reload: against what the last reconcile left (no dump of a
    /// possibly huge table) unless the new configuration adds services,
    /// which the kernel may already hold (an operator's, or a leftover):
    /// then against a fresh dump, so that they are adopted, not re-added.
    pub fn reconcile_after_reload(&mut self) -> ReconcileReport {
        let desired = self.desired();
        let adds_services = match &self.known {
            Some(known) => {
                let keys: HashSet<ServiceKey> =
                    known.services.iter().map(|e| e.service.key).collect();
                desired
                    .services
                    .iter()
                    .any(|e| !keys.contains(&e.service.key))
            }
            None => true,
        };
        let kernel = if adds_services {
            None
        } else {
            self.known.take()
        };
        self.reconcile_desired(desired, kernel)
    }

    /// After check events: the kernel is taken to hold what the last
    /// successful reconcile left (no dump of a possibly huge table);
    /// anything changed behind lvsd's back is for the periodic `reconcile`.
    pub fn reconcile_events(&mut self) -> ReconcileReport {
        let known = self.known.take();
        self.reconcile_with(known)
    }

    fn reconcile_with(&mut self, kernel: Option<Table>) -> ReconcileReport {
        let desired = self.desired();
        self.reconcile_desired(desired, kernel)
    }

    /// Makes the kernel hold `desired`, diffing against `kernel` (a fresh
    /// dump when `None`).
    fn reconcile_desired(&mut self, desired: Table, kernel: Option<Table>) -> ReconcileReport {
        let kernel = match kernel {
            Some(k) => k,
            None => match self.backend.dump() {
                Ok(k) => k,
                Err(e) => {
                    self.log.push(format!("cannot read the IPVS table: {e}"));
                    self.stats.failures += 1;
                    return ReconcileReport::default();
                }
            },
        };
        let report = reconcile_with(&mut self.backend, &desired, &kernel, &mut self.owned);
        // What the kernel holds now, for the next event-driven reconcile.
        self.known = report.failed.is_empty().then_some(desired);
        self.stats.runs += 1;
        self.stats.operations += report.applied as u64;
        self.stats.failures += report.failed.len() as u64;
        for (op, e) in &report.failed {
            self.log.push(format!("{op}: {e}"));
        }
        if report.applied > 0 {
            self.save_owned();
        }
        report
    }

    fn save_owned(&mut self) {
        if let Some(p) = &self.owned_path {
            if let Err(e) = owned::save(p, &self.owned) {
                self.log.push(e.to_string());
            }
        }
    }

    /// Switches to a new (already validated) configuration: state carried
    /// over, unchanged checks keep running on their schedule, the table
    /// changes only where the configuration did.
    pub fn reload(&mut self, new_cfg: Config) -> ReconcileReport {
        let t0 = std::time::Instant::now();
        let old_desired = self.desired();
        let t_desired = t0.elapsed();
        if let Some(t) = kernel_timeouts(&new_cfg.global.lvs_timeouts) {
            if let Err(e) = self.backend.set_timeouts(&t) {
                self.log.push(format!("lvs_timeouts: {e}"));
            }
        }
        self.reloads.count += 1;
        let (director, pairs) =
            migrate::reload_mapped(&self.cfg, &self.director, &new_cfg, now_ms());
        self.director = director;
        let t_migrate = t0.elapsed();
        // Unchanged checkers keep their engine registration untouched (no
        // re-build, no re-add): same check, same inputs to build it.
        let same_globals = self.cfg.global.enable_script_security
            == new_cfg.global.enable_script_security
            && self.cfg.global.script_user == new_cfg.global.script_user
            && self.cfg.ssl == new_cfg.ssl;
        let old_eid: HashMap<CheckerId, u64> = self.ids.iter().map(|(e, c)| (*c, *e)).collect();
        let mut reuse: HashMap<CheckerId, u64> = HashMap::new();
        if same_globals {
            for (n, o) in &pairs {
                let (ovs, nvs) = (
                    &self.cfg.virtual_servers[o.vs],
                    &new_cfg.virtual_servers[n.vs],
                );
                let (ors, nrs) = (&ovs.real_servers[o.rs], &nvs.real_servers[n.rs]);
                let same_inputs = ovs.virtualhost == nvs.virtualhost
                    && ors.addr == nrs.addr
                    && ors.port.value == nrs.port.value
                    && ors.weight.value == nrs.weight.value
                    && ors.virtualhost == nrs.virtualhost;
                if let (true, Some(e)) = (same_inputs, old_eid.get(o)) {
                    reuse.insert(*n, *e);
                }
            }
        }
        let kept: HashSet<u64> = reuse.values().copied().collect();
        // Replaced checkers: their names under the old configuration, to
        // keep their attempt counts.
        let old_ids: Vec<(u64, Option<RsLabel>)> = self
            .ids
            .iter()
            .filter(|(e, _)| !kept.contains(e))
            .map(|(e, c)| (*e, self.rs_label(c.vs, c.rs)))
            .collect();
        self.cfg = new_cfg;
        self.generation += 1;
        // Register first so identical checks join their running task...
        self.ids.retain(|e, _| kept.contains(e));
        for (n, e) in &reuse {
            self.ids.insert(*e, *n);
        }
        self.register_checks_except(&reuse);
        // ...then drop the old registrations.
        for (id, label) in old_ids {
            if let (Some(label), Some(st)) = (label, self.engine.stats(id)) {
                self.retired_stats.entry(label).or_default().add(&st);
            }
            self.engine.remove(id);
        }
        let t_checks = t0.elapsed();
        self.reapply_admin();
        self.start_drains(&old_desired);
        // Forget the check statistics of real servers that went away (none
        // did when every old checker found its match).
        if pairs.len() != old_eid.len() && !self.retired_stats.is_empty() {
            let current: HashSet<RsLabel> = self
                .cfg
                .virtual_servers
                .iter()
                .flat_map(|v| {
                    let label = vs_label(v);
                    v.real_servers
                        .iter()
                        .map(move |r| (label.clone(), names::rs_name(r.addr, r.port.value)))
                })
                .collect();
            self.retired_stats.retain(|k, _| current.contains(k));
        }
        let t_before = t0.elapsed();
        let r = self.reconcile_after_reload();
        self.log.push(format!(
            "reload timing: old table {} ms, migrate {} ms, checks {} ms, drains {} ms, reconcile {} ms",
            t_desired.as_millis(),
            (t_migrate - t_desired).as_millis(),
            (t_checks - t_migrate).as_millis(),
            (t_before - t_checks).as_millis(),
            (t0.elapsed() - t_before).as_millis()
        ));
        r
    }

    /// A reload was refused (the new configuration has errors).
    pub fn refuse_reload(&mut self) {
        self.reloads.failures += 1;
    }

    /// With `--drain-removed`: destinations the old configuration had and
    /// the new one dropped, on services that remain, stay at weight 0 for
    /// the grace period.
    fn start_drains(&mut self, old: &Table) {
        let Some(grace) = self.drain_grace else {
            return;
        };
        let new = self.director.desired(&self.cfg);
        let until = Instant::now() + grace;
        for entry in &old.services {
            let Some(now_entry) = new.find(&entry.service.key) else {
                continue;
            };
            for d in &entry.destinations {
                if now_entry.destinations.iter().any(|x| x.key() == d.key())
                    || self
                        .draining
                        .iter()
                        .any(|x| x.service == entry.service.key && x.dest.key() == d.key())
                {
                    continue;
                }
                let mut dest = d.clone();
                dest.weight = 0;
                self.log.push(format!(
                    "draining removed real server {} of {} for {} s",
                    names::rs_name(d.addr, d.port),
                    entry.service.key,
                    grace.as_secs()
                ));
                self.draining.push(Draining {
                    service: entry.service.key,
                    dest,
                    until,
                });
            }
        }
    }

    /// Start-up notifications, as keepalived sends them: a virtual server
    /// that starts without quorum reports it (e.g. `alpha` plus a sorry
    /// server); with `rs_init_notifies`, every real server reports its
    /// initial state too. Queued in `transitions`.
    pub fn startup_transitions(&mut self) {
        let mut out = Vec::new();
        let init = self.cfg.global.rs_init_notifies;
        for (vi, st) in self.director.virtual_servers.iter().enumerate() {
            if init {
                for (ri, r) in st.real_servers.iter().enumerate() {
                    out.push(if r.alive() {
                        Transition::RealServerUp { vs: vi, rs: ri }
                    } else {
                        Transition::RealServerDown {
                            vs: vi,
                            rs: ri,
                            reason: None,
                        }
                    });
                }
            }
            if !st.quorum_up {
                out.push(Transition::QuorumDown { vs: vi });
            }
        }
        self.queue(out);
    }

    /// keepalived's `omega`: at shutdown, the virtual servers that set it
    /// report their alive real servers down and, if it held, quorum lost
    /// (queued in `transitions` for the notifier).
    pub fn omega_transitions(&mut self) {
        let mut out = Vec::new();
        for (vi, (vs, st)) in self
            .cfg
            .virtual_servers
            .iter()
            .zip(&self.director.virtual_servers)
            .enumerate()
        {
            if !vs.omega {
                continue;
            }
            for (ri, r) in st.real_servers.iter().enumerate() {
                if r.alive() {
                    out.push(Transition::RealServerDown {
                        vs: vi,
                        rs: ri,
                        reason: Some("lvsd is stopping".into()),
                    });
                }
            }
            if st.quorum_up {
                out.push(Transition::QuorumDown { vs: vi });
            }
        }
        self.queue(out);
    }

    /// Stops: removes what lvsd owns unless `keep` (keepalived's -I).
    pub fn shutdown(&mut self, keep: bool) -> ReconcileReport {
        let report = if keep {
            ReconcileReport::default()
        } else {
            match self.cfg.global.lvs_flush_on_stop {
                Some(FlushOnStop::All) => self.flush_on_stop(),
                Some(FlushOnStop::VirtualServers) => self.delete_services_on_stop(),
                None => {
                    let kernel = self.backend.dump().unwrap_or_default();
                    reconcile_with(
                        &mut self.backend,
                        &Table::default(),
                        &kernel,
                        &mut self.owned,
                    )
                }
            }
        };
        self.save_owned();
        report
    }

    /// `lvs_flush_on_stop`: the whole table goes, lvsd's or not.
    fn flush_on_stop(&mut self) -> ReconcileReport {
        let mut report = ReconcileReport::default();
        match self.backend.flush() {
            Ok(()) => {
                self.owned.clear();
                report.applied = 1;
                report.succeeded = 1;
            }
            Err(e) => self.log.push(format!("lvs_flush_on_stop: {e}")),
        }
        report
    }

    /// `lvs_flush_on_stop VS`: each configured service is deleted (with its
    /// destinations) in one operation, without deleting real servers first.
    fn delete_services_on_stop(&mut self) -> ReconcileReport {
        let mut report = ReconcileReport::default();
        let kernel = self.backend.dump().unwrap_or_default();
        let ops: Vec<Operation> = self
            .desired()
            .services
            .iter()
            .filter(|e| kernel.find(&e.service.key).is_some())
            .map(|e| Operation::DelService(e.service.key))
            .collect();
        for (op, r) in ops.iter().zip(self.backend.apply(&ops)) {
            match r {
                Ok(()) => {
                    report.applied += 1;
                    report.succeeded += 1;
                    self.owned.remove(&op.service_key());
                }
                Err(e) => self.log.push(format!("{op}: {e}")),
            }
        }
        report
    }

    pub fn running_checks(&self) -> usize {
        self.engine.running()
    }
}
