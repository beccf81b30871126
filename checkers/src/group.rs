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

/// Deadlines rounded up to a grid, so that checks due within one grid step
/// run in one wake-up of the runtime instead of one each (a wake-up costs
/// more than a check's own work in a virtual machine). A zero step keeps
/// deadlines exact.
#[derive(Debug, Clone, Copy)]
pub struct TimerGrid {
    pub origin: Instant,
    pub step: Duration,
}

impl TimerGrid {
    /// The first grid point at or after `t` (`t` itself with a zero step,
    /// or before the origin).
    pub fn round_up(&self, t: Instant) -> Instant {
        let step = self.step.as_nanos();
        if step == 0 || t <= self.origin {
            return t;
        }
        let since = t.duration_since(self.origin).as_nanos();
        let rest = since % step;
        if rest == 0 {
            return t;
        }
        let up = u64::try_from(step - rest).unwrap_or(0);
        t + Duration::from_nanos(up)
    }
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
    pub grid: TimerGrid,
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

    // Uses the fields in place: destructuring would keep a second copy of
    // them in the task (tens of thousands of tasks).
    async fn run(mut self) {
        let mut next = self.first;
        loop {
            tokio::time::sleep_until(next).await;
            if lock(&self.shared).suspended {
                next = self.grid.round_up(Instant::now() + self.timing.delay_loop);
                continue;
            }
            let outcome = match self.state.part() {
                Some(part) => self.check.attempt_part(part).await,
                None => self.check.attempt().await,
            };
            let pass = outcome.verdict.is_pass();
            let (reason, delta) = match outcome.verdict {
                Verdict::Pass => (None, None),
                Verdict::PassWithWeight(d) => (None, Some(d)),
                Verdict::Fail(r) => (Some(r), None),
            };
            let step = self.state.on_result(&self.timing, pass);
            let report = self.reports == AttemptReports::All || !pass || delta.is_some();
            let why = match (step.transition, &reason) {
                (Some(_), Some(r)) if step.attempts > 1 => {
                    Some(format!("{r}, after {} attempts", step.attempts))
                }
                (Some(_), r) => r.clone(),
                (None, _) => None,
            };
            for m in lock(&self.shared).members.iter_mut() {
                m.stats.count(pass, outcome.elapsed);
                if report {
                    let _ = self.events.send(EngineEvent::Attempt {
                        id: m.id,
                        pass,
                        reason: reason.clone(),
                        weight_delta: delta,
                        latency: outcome.elapsed,
                    });
                }
                if let Some(t) = step.transition {
                    let _ = self.events.send(EngineEvent::Transition {
                        id: m.id,
                        up: t == Transition::Up,
                        reason: why.clone(),
                        weight_delta: delta,
                    });
                }
            }
            next = self.grid.round_up(Instant::now() + step.next);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn deadlines_round_up_to_the_grid() {
        let origin = Instant::now();
        let ms = Duration::from_millis;
        let grid = TimerGrid {
            origin,
            step: ms(10),
        };
        assert_eq!(grid.round_up(origin + ms(1)), origin + ms(10));
        assert_eq!(grid.round_up(origin + ms(10)), origin + ms(10));
        assert_eq!(grid.round_up(origin + ms(10_001)), origin + ms(10_010));
        let exact = TimerGrid {
            origin,
            step: Duration::ZERO,
        };
        assert_eq!(exact.round_up(origin + ms(3)), origin + ms(3));
    }
}
