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

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::sync::mpsc::UnboundedSender;
use tokio::task::JoinHandle;
use tokio::time::Instant;

use crate::check::Check;
use crate::machine::Machine;
use crate::outcome::Verdict;
use crate::timing::{TimingSpec, Transition};

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

struct Shared {
    members: Vec<CheckId>,
    suspended: bool,
}

struct Group {
    shared: Arc<Mutex<Shared>>,
    handle: JoinHandle<()>,
}

/// Runs checks. Dropping it stops them all.
pub struct Engine {
    events: UnboundedSender<EngineEvent>,
    groups: HashMap<String, Group>,
    by_id: HashMap<CheckId, String>,
    random: Box<dyn FnMut() -> f64 + Send>,
}

impl Drop for Engine {
    fn drop(&mut self) {
        for g in self.groups.values() {
            g.handle.abort();
        }
    }
}

fn members(shared: &Mutex<Shared>) -> (Vec<CheckId>, bool) {
    match shared.lock() {
        Ok(s) => (s.members.clone(), s.suspended),
        Err(p) => {
            let s = p.into_inner();
            (s.members.clone(), s.suspended)
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
        }
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
    /// a tokio runtime.
    pub fn add(
        &mut self,
        id: CheckId,
        check: Arc<dyn Check>,
        timing: TimingSpec,
        initial: Option<(bool, bool)>,
    ) {
        self.remove(id);
        let key = format!("{}|{:?}", check.identity(), timing);
        if let Some(g) = self.groups.get(&key) {
            if let Ok(mut s) = g.shared.lock() {
                s.members.push(id);
            }
            self.by_id.insert(id, key);
            return;
        }
        let shared = Arc::new(Mutex::new(Shared {
            members: vec![id],
            suspended: false,
        }));
        let first = match initial {
            Some((_, true)) => timing.delay_loop,
            _ => timing.first_delay((self.random)()),
        };
        let state = Machine::new(&timing, check.rounds(), initial);
        let handle = tokio::spawn(run_group(
            check,
            timing,
            state,
            first,
            shared.clone(),
            self.events.clone(),
        ));
        self.groups.insert(key.clone(), Group { shared, handle });
        self.by_id.insert(id, key);
    }

    /// Unregisters a check; its task stops when no id uses it any more.
    pub fn remove(&mut self, id: CheckId) {
        let Some(key) = self.by_id.remove(&id) else {
            return;
        };
        let empty = match self.groups.get(&key) {
            Some(g) => match g.shared.lock() {
                Ok(mut s) => {
                    s.members.retain(|m| *m != id);
                    s.members.is_empty()
                }
                Err(_) => true,
            },
            None => false,
        };
        if empty {
            if let Some(g) = self.groups.remove(&key) {
                g.handle.abort();
            }
        }
    }

    /// Suspends or resumes a check (`ha_suspend`): while suspended it is
    /// not attempted and its state freezes.
    pub fn suspend(&mut self, id: CheckId, suspended: bool) {
        if let Some(g) = self.by_id.get(&id).and_then(|k| self.groups.get(k)) {
            if let Ok(mut s) = g.shared.lock() {
                s.suspended = suspended;
            }
        }
    }
}

async fn run_group(
    check: Arc<dyn Check>,
    timing: TimingSpec,
    mut state: Machine,
    first: Duration,
    shared: Arc<Mutex<Shared>>,
    events: UnboundedSender<EngineEvent>,
) {
    let mut next = Instant::now() + first;
    loop {
        tokio::time::sleep_until(next).await;
        let (_, suspended) = members(&shared);
        if suspended {
            next = Instant::now() + timing.delay_loop;
            continue;
        }
        let outcome = match state.part() {
            Some(part) => check.attempt_part(part).await,
            None => check.attempt().await,
        };
        let pass = outcome.verdict.is_pass();
        let (reason, delta) = match &outcome.verdict {
            Verdict::Pass => (None, None),
            Verdict::PassWithWeight(d) => (None, Some(*d)),
            Verdict::Fail(r) => (Some(r.clone()), None),
        };
        let step = state.on_result(&timing, pass);
        let (ids, _) = members(&shared);
        for id in &ids {
            let _ = events.send(EngineEvent::Attempt {
                id: *id,
                pass,
                reason: reason.clone(),
                weight_delta: delta,
                latency: outcome.elapsed,
            });
            if let Some(t) = step.transition {
                let why = reason.as_ref().map(|r| {
                    if step.attempts > 1 {
                        format!("{r}, after {} attempts", step.attempts)
                    } else {
                        r.clone()
                    }
                });
                let _ = events.send(EngineEvent::Transition {
                    id: *id,
                    up: t == Transition::Up,
                    reason: why,
                    weight_delta: delta,
                });
            }
        }
        next = Instant::now() + step.next;
    }
}
