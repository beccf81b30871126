//! The check engine: drives every registered check on the tokio runtime
//! (one lightweight task per distinct check, no thread per check), applies
//! the timing state machine, and reports results and transitions on a
//! channel.
//!
//! Checks split into URLs (HTTP_GET/SSL_GET) attempt one URL per round
//! with keepalived's rules (`rounds`); the others are whole attempts
//! (`timing`).
//!
//! Identical checks (same `identity()` and timing) registered under several
//! ids run once and report to all of them (keepalived #2111: the same
//! backend checked once per virtual server). Checks can be added, removed
//! and suspended at runtime; the others keep their schedule and state, which
//! is what a reload needs.
//!
//! Every attempt is counted per id (`stats`). With
//! `AttemptReports::Notable` a passing attempt without a weight is only
//! counted, not sent: a steady state of thousands of passing checks then
//! sends nothing and wakes no receiver.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::runtime::Handle;
use tokio::sync::mpsc::UnboundedSender;
use tokio::time::Instant;

use crate::check::Check;
use crate::group::{lock, Group, Member, Shared, TimerGrid};
use crate::machine::Machine;
use crate::spawner::Spawner;
use crate::timing::TimingSpec;

pub use crate::group::{AttemptReports, AttemptStats};

/// The caller's name for one registered check.
pub type CheckId = u64;

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum EngineEvent {
    /// One attempt finished (for metrics and `log_all_failures`).
    Attempt {
        id: CheckId,
        pass: bool,
        reason: Option<String>,
        weight_delta: Option<i64>,
        latency: Duration,
    },
    /// The checker changed state.
    Transition {
        id: CheckId,
        up: bool,
        /// Why it went down ("HTTP_GET ...: status 503 ..., after 3 attempts").
        reason: Option<String>,
        weight_delta: Option<i64>,
    },
}

/// What makes checks identical: the check's identity and its timing.
#[derive(Debug, PartialEq, Eq, Hash)]
struct GroupKey {
    identity: String,
    timing: TimingSpec,
}

/// Runs checks. Dropping it stops them all.
pub struct Engine {
    events: UnboundedSender<EngineEvent>,
    /// The shared state of each distinct check; ids share the key.
    groups: HashMap<Arc<GroupKey>, Arc<Mutex<Shared>>>,
    by_id: HashMap<CheckId, Arc<GroupKey>>,
    random: Box<dyn FnMut() -> f64 + Send>,
    reports: AttemptReports,
    grid: TimerGrid,
    /// Starts the tasks on another runtime (`None`: the caller's).
    spawner: Option<Spawner>,
    /// Where first-attempt delays run from (`None`: each registration).
    epoch: Option<Instant>,
}

impl Drop for Engine {
    fn drop(&mut self) {
        for g in self.groups.values() {
            lock(g).stop();
        }
    }
}

impl Engine {
    /// `random` gives numbers in [0, 1) for the first-run spread (injected so
    /// tests are deterministic).
    pub fn new(
        events: UnboundedSender<EngineEvent>,
        random: Box<dyn FnMut() -> f64 + Send>,
    ) -> Self {
        Engine {
            events,
            groups: HashMap::new(),
            by_id: HashMap::new(),
            random,
            reports: AttemptReports::All,
            grid: TimerGrid {
                origin: Instant::now(),
                step: Duration::ZERO,
            },
            spawner: None,
            epoch: None,
        }
    }

    /// The first-attempt delay of checks registered from now on runs from
    /// `epoch` instead of each one's registration (`None` again after
    /// start-up). keepalived registers its checkers in one go and starts
    /// every delay then; registering 40,000 checks takes a while, and
    /// without a common epoch the last ones would start that much later.
    /// A first attempt never runs before its registration.
    pub fn set_epoch(&mut self, epoch: Option<Instant>) {
        self.epoch = epoch;
    }

    /// The epoch `set_epoch` gave, if any.
    pub fn epoch(&self) -> Option<Instant> {
        self.epoch
    }

    /// Which attempts are sent as events (default: all).
    pub fn set_attempt_reports(&mut self, reports: AttemptReports) {
        self.reports = reports;
    }

    /// Rounds the deadlines of checks added from now on up to multiples of
    /// `step` (default zero: exact), so that checks due within one step
    /// run together: each attempt is at most `step` later than its exact
    /// time.
    pub fn set_timer_step(&mut self, step: Duration) {
        self.grid.step = step;
    }

    /// Runs the check tasks added from now on on `runtime` (e.g. a
    /// runtime of their own, away from work that may block).
    pub fn set_runtime(&mut self, runtime: &Handle) {
        self.spawner = Some(Spawner::new(runtime));
    }

    /// The attempts counted for `id` since it was registered.
    pub fn stats(&self, id: CheckId) -> Option<AttemptStats> {
        let g = self.groups.get(self.by_id.get(&id)?)?;
        let s = lock(g);
        s.members.iter().find(|m| m.id == id).map(|m| m.stats)
    }

    /// Makes room for `additional` more checks (saves re-hashing while
    /// tens of thousands are registered).
    pub fn reserve(&mut self, additional: usize) {
        self.groups.reserve(additional);
        self.by_id.reserve(additional);
    }

    pub fn len(&self) -> usize {
        self.by_id.len()
    }

    pub fn is_empty(&self) -> bool {
        self.by_id.is_empty()
    }

    /// Distinct checks actually running.
    pub fn running(&self) -> usize {
        self.groups.len()
    }

    /// Registers a check. `initial` carries a state over (reload): (up,
    /// has_run); otherwise the start-up rule applies. Must be called within
    /// a tokio runtime unless `set_runtime` gave one. The first attempt's
    /// delay runs from now.
    pub fn add(
        &mut self,
        id: CheckId,
        check: Arc<dyn Check>,
        timing: TimingSpec,
        initial: Option<(bool, bool)>,
    ) {
        self.remove(id);
        let key = GroupKey {
            identity: check.identity(),
            timing,
        };
        if let Some((key, g)) = self.groups.get_key_value(&key) {
            lock(g).members.push(Member {
                id,
                stats: AttemptStats::default(),
            });
            self.by_id.insert(id, key.clone());
            return;
        }
        let key = Arc::new(key);
        let timing = key.timing.clone();
        let shared = Shared::new(id);
        let first = match initial {
            Some((_, true)) => timing.delay_loop,
            _ => timing.first_delay((self.random)()),
        };
        let now = Instant::now();
        let first_at = match self.epoch {
            Some(e) => (e + first).max(now),
            None => now + first,
        };
        let group = Group {
            state: Machine::new(&timing, check.rounds(), initial),
            check,
            timing,
            first: self.grid.round_up(first_at),
            shared: shared.clone(),
            events: self.events.clone(),
            reports: self.reports,
            grid: self.grid,
        };
        match &self.spawner {
            Some(s) => s.spawn(group),
            None => group.spawn(),
        }
        self.groups.insert(key.clone(), shared);
        self.by_id.insert(id, key);
    }

    /// Unregisters a check; its task stops when no id uses it any more.
    pub fn remove(&mut self, id: CheckId) {
        let Some(key) = self.by_id.remove(&id) else {
            return;
        };
        let empty = match self.groups.get(&key) {
            Some(g) => {
                let mut s = lock(g);
                s.members.retain(|m| m.id != id);
                s.members.is_empty()
            }
            None => false,
        };
        if empty {
            if let Some(g) = self.groups.remove(&key) {
                lock(&g).stop();
            }
        }
    }

    /// Suspends or resumes a check (`ha_suspend`): while suspended it is
    /// not attempted and its state freezes.
    pub fn suspend(&mut self, id: CheckId, suspended: bool) {
        if let Some(g) = self.by_id.get(&id).and_then(|k| self.groups.get(k)) {
            lock(g).suspended = suspended;
        }
    }
}
