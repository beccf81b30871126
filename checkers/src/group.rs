//! One distinct check's task: waits for its next attempt, runs it, applies
//! the timing state machine, counts the attempt for every id that shares
//! the check, and sends the events worth sending. Its shared state is what
//! the engine reads and changes from outside (members, suspension, stop).

use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use tokio::sync::mpsc::UnboundedSender;
use tokio::task::AbortHandle;
use tokio::time::Instant;

use crate::check::Check;
use crate::engine::{CheckId, EngineEvent};
use crate::machine::Machine;
use crate::outcome::Verdict;
use crate::timing::{TimingSpec, Transition};

/// Which attempts are sent as `EngineEvent::Attempt` (all are counted).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum AttemptReports {
    /// Every attempt.
    #[default]
    All,
    /// Failed attempts and passes that carry a weight delta.
    Notable,
}

/// Attempts of one registered check since it was registered.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct AttemptStats {
    pub pass: u64,
    pub fail: u64,
    /// Sum of the attempts' durations.
    pub latency_sum: Duration,
}

impl AttemptStats {
    fn count(&mut self, pass: bool, latency: Duration) {
        if pass {
            self.pass += 1;
        } else {
            self.fail += 1;
        }
        self.latency_sum += latency;
    }
}

pub(crate) struct Member {
    pub id: CheckId,
    pub stats: AttemptStats,
}

/// What the engine shares with a group's task.
pub(crate) struct Shared {
    pub members: Vec<Member>,
    pub suspended: bool,
    /// The group was removed: its task must not start (or must end).
    pub stopped: bool,
    /// The running task, once spawned.
    pub task: Option<AbortHandle>,
}

impl Shared {
    pub fn new(first: CheckId) -> Arc<Mutex<Shared>> {
        Arc::new(Mutex::new(Shared {
            members: vec![Member {
                id: first,
                stats: AttemptStats::default(),
            }],
            suspended: false,
            stopped: false,
            task: None,
        }))
    }

    /// Stops the group's task, now or, if not yet spawned, before it starts.
    pub fn stop(&mut self) {
        self.stopped = true;
        if let Some(t) = self.task.take() {
            t.abort();
        }
    }
}

/// The lock, also when a panicking holder poisoned it (the data is plain
/// counters, ids and flags, always consistent).
pub(crate) fn lock(shared: &Mutex<Shared>) -> MutexGuard<'_, Shared> {
    shared.lock().unwrap_or_else(|p| p.into_inner())
}

/// Everything a group's task needs.
pub(crate) struct Group {
    pub check: Arc<dyn Check>,
    pub timing: TimingSpec,
    pub state: Machine,
    /// When the first attempt is due.
    pub first: Instant,
    pub shared: Arc<Mutex<Shared>>,
    pub events: UnboundedSender<EngineEvent>,
    pub reports: AttemptReports,
}

impl Group {
    /// Spawns the task on the current runtime, unless the group was
    /// removed meanwhile.
    pub fn spawn(self) {
        let shared = self.shared.clone();
        let mut s = lock(&shared);
        if !s.stopped {
            s.task = Some(tokio::spawn(self.run()).abort_handle());
        }
    }

    async fn run(self) {
        let Group {
            check,
            timing,
            mut state,
            first,
            shared,
            events,
            reports,
        } = self;
        let mut next = first;
        loop {
            tokio::time::sleep_until(next).await;
            if lock(&shared).suspended {
                next = Instant::now() + timing.delay_loop;
                continue;
            }
            let outcome = match state.part() {
                Some(part) => check.attempt_part(part).await,
                None => check.attempt().await,
            };
            let pass = outcome.verdict.is_pass();
            let (reason, delta) = match outcome.verdict {
                Verdict::Pass => (None, None),
                Verdict::PassWithWeight(d) => (None, Some(d)),
                Verdict::Fail(r) => (Some(r), None),
            };
            let step = state.on_result(&timing, pass);
            let report = reports == AttemptReports::All || !pass || delta.is_some();
            let why = match (step.transition, &reason) {
                (Some(_), Some(r)) if step.attempts > 1 => {
                    Some(format!("{r}, after {} attempts", step.attempts))
                }
                (Some(_), r) => r.clone(),
                (None, _) => None,
            };
            for m in lock(&shared).members.iter_mut() {
                m.stats.count(pass, outcome.elapsed);
                if report {
                    let _ = events.send(EngineEvent::Attempt {
                        id: m.id,
                        pass,
                        reason: reason.clone(),
                        weight_delta: delta,
                        latency: outcome.elapsed,
                    });
                }
                if let Some(t) = step.transition {
                    let _ = events.send(EngineEvent::Transition {
                        id: m.id,
                        up: t == Transition::Up,
                        reason: why.clone(),
                        weight_delta: delta,
                    });
                }
            }
            next = Instant::now() + step.next;
        }
    }
}
