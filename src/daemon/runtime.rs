//! The daemon's core, independent of signals and sockets so it can be
//! driven in tests with the in-memory IPVS: start-up (adopt the kernel
//! table, first reconcile, register checks), check events (director state,
//! then reconcile), periodic drift repair, reload (keep unchanged checks
//! running), and shutdown (remove what lvsd owns unless told to keep it).

use std::collections::{HashMap, HashSet};
use std::path::PathBuf;
use std::time::{SystemTime, UNIX_EPOCH};

use lvsd_checkers::engine::{Engine, EngineEvent};
use lvsd_ipvs::reconcile::{reconcile_with, ReconcileReport};
use lvsd_ipvs::{owned, IpvsBackend, ServiceKey, Table};

use crate::config::model::Config;
use crate::director::checks;
use crate::director::migrate;
use crate::director::state::{CheckerId, Director, Transition};

/// Counters operators see in status and metrics.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ReconcileStats {
    pub runs: u64,
    pub operations: u64,
    pub failures: u64,
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
    /// Lines for the log (the caller prints them).
    pub log: Vec<String>,
}

fn now_ms() -> u64 {
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
    /// Adopts the kernel table, reconciles once, and starts the checks.
    pub fn start(
        cfg: Config,
        mut backend: B,
        owned_path: Option<PathBuf>,
        engine: Engine,
    ) -> Result<Self, String> {
        let owned = match &owned_path {
            Some(p) => owned::load(p).map_err(|e| e.to_string())?,
            None => HashSet::new(),
        };
        let kernel = backend
            .dump()
            .map_err(|e| format!("cannot read the IPVS table: {e}"))?;
        let director = migrate::adopt(&cfg, &kernel, now_ms());
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
            log: Vec::new(),
        };
        rt.reconcile_with(Some(kernel));
        rt.register_checks();
        Ok(rt)
    }

    pub fn backend(&mut self) -> &mut B {
        &mut self.backend
    }

    fn register_checks(&mut self) {
        let gen = self.generation;
        for (vi, vs) in self.cfg.virtual_servers.iter().enumerate() {
            for (ri, rs) in vs.real_servers.iter().enumerate() {
                for (ci, c) in rs.checkers.iter().enumerate() {
                    let id = CheckerId {
                        vs: vi,
                        rs: ri,
                        checker: ci,
                    };
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

    /// Applies one engine event to the director; true when state changed.
    pub fn on_event(&mut self, ev: EngineEvent) -> bool {
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
        for t in &transitions {
            self.log.push(self.describe(t));
        }
        up.is_some() || delta.is_some()
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

    /// The table the director wants now.
    pub fn desired(&self) -> Table {
        self.director.desired(&self.cfg)
    }

    /// Brings the kernel to the desired table (also repairs drift).
    pub fn reconcile(&mut self) -> ReconcileReport {
        self.reconcile_with(None)
    }

    fn reconcile_with(&mut self, kernel: Option<Table>) -> ReconcileReport {
        let desired = self.desired();
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
        self.director = migrate::reload(&self.cfg, &self.director, &new_cfg, now_ms());
        let old_ids: Vec<u64> = self.ids.keys().copied().collect();
        self.cfg = new_cfg;
        self.generation += 1;
        // Register first so identical checks join their running task...
        let mut previous = std::mem::take(&mut self.ids);
        self.register_checks();
        // ...then drop the old registrations.
        for id in old_ids {
            previous.remove(&id);
            self.engine.remove(id);
        }
        self.reconcile()
    }

    /// Stops: removes what lvsd owns unless `keep` (keepalived's -I).
    pub fn shutdown(&mut self, keep: bool) -> ReconcileReport {
        let report = if keep {
            ReconcileReport::default()
        } else {
            let kernel = self.backend.dump().unwrap_or_default();
            reconcile_with(
                &mut self.backend,
                &Table::default(),
                &kernel,
                &mut self.owned,
            )
        };
        self.save_owned();
        report
    }

    pub fn running_checks(&self) -> usize {
        self.engine.running()
    }
}
