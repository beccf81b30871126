//! A check wrapper that counts attempts and measures scheduling lateness:
//! how long after `previous completion + delay_loop` (keepalived's
//! schedule, which the engine follows after a pass) the attempt started.
//! Each wrapper has its own identity, so the engine runs every one (as for
//! 10,000 distinct real servers) instead of sharing identical checks.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use lvsd_checkers::{AttemptFuture, Check, CheckOutcome};

/// Counters shared by every wrapper.
#[derive(Default)]
pub struct Totals {
    /// Only attempts starting while this is set are counted.
    pub measuring: AtomicBool,
    pub attempts: AtomicU64,
    pub passes: AtomicU64,
    /// Sum of attempt durations, µs.
    pub busy_us: AtomicU64,
    /// Lateness samples in µs (bounded by the attempts in the window).
    pub late_us: Mutex<Vec<u32>>,
}

pub struct Timed {
    pub inner: Arc<dyn Check>,
    pub id: usize,
    pub delay_loop: Duration,
    pub totals: Arc<Totals>,
    /// End of the previous attempt, when it passed.
    last_pass_end: Mutex<Option<Instant>>,
}

impl Timed {
    pub fn new(
        inner: Arc<dyn Check>,
        id: usize,
        delay_loop: Duration,
        totals: Arc<Totals>,
    ) -> Self {
        Timed {
            inner,
            id,
            delay_loop,
            totals,
            last_pass_end: Mutex::new(None),
        }
    }

    fn record(&self, start: Instant, outcome: &CheckOutcome) {
        let prev = self.last_pass_end.lock().ok().and_then(|mut g| {
            let p = *g;
            *g = outcome.verdict.is_pass().then(|| start + outcome.elapsed);
            p
        });
        if !self.totals.measuring.load(Ordering::Relaxed) {
            return;
        }
        self.totals.attempts.fetch_add(1, Ordering::Relaxed);
        let busy = outcome.elapsed.as_micros().min(u128::from(u64::MAX)) as u64;
        self.totals.busy_us.fetch_add(busy, Ordering::Relaxed);
        if outcome.verdict.is_pass() {
            self.totals.passes.fetch_add(1, Ordering::Relaxed);
        }
        if let Some(prev) = prev {
            let late = start.saturating_duration_since(prev + self.delay_loop);
            if let Ok(mut v) = self.totals.late_us.lock() {
                v.push(late.as_micros().min(u128::from(u32::MAX)) as u32);
            }
        }
    }
}

impl Check for Timed {
    fn attempt(&self) -> AttemptFuture<'_> {
        Box::pin(async move {
            let start = Instant::now();
            let outcome = self.inner.attempt().await;
            self.record(start, &outcome);
            outcome
        })
    }

    fn describe(&self) -> String {
        self.inner.describe()
    }

    fn identity(&self) -> String {
        format!("bench#{}|{}", self.id, self.inner.identity())
    }
}
