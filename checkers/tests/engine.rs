//! The engine on tokio's paused clock with scripted checks: first-run
//! window, retry spacing, down after retry+1 failures, up after one success,
//! dedupe of identical checks, runtime removal, suspension.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use lvsd_checkers::engine::{Engine, EngineEvent};
use lvsd_checkers::timing::TimingSpec;
use lvsd_checkers::{AttemptFuture, Check, CheckOutcome, Verdict};
use tokio::sync::mpsc::unbounded_channel;
use tokio::time::Instant;

/// Returns scripted verdicts (the last one repeats) and records when.
struct Scripted {
    name: &'static str,
    script: Vec<bool>,
    calls: AtomicUsize,
    at: Mutex<Vec<Duration>>,
    start: Instant,
}

impl Scripted {
    fn new(name: &'static str, script: Vec<bool>) -> Arc<Self> {
        Arc::new(Scripted {
            name,
            script,
            calls: AtomicUsize::new(0),
            at: Mutex::new(Vec::new()),
            start: Instant::now(),
        })
    }
}

impl Check for Scripted {
    fn attempt(&self) -> AttemptFuture<'_> {
        Box::pin(async move {
            let n = self.calls.fetch_add(1, Ordering::SeqCst);
            self.at.lock().unwrap().push(self.start.elapsed());
            let ok = *self.script.get(n).or(self.script.last()).unwrap_or(&true);
            CheckOutcome {
                verdict: if ok {
                    Verdict::Pass
                } else {
                    Verdict::Fail(format!("{} refused", self.name))
                },
                elapsed: Duration::ZERO,
            }
        })
    }
    fn describe(&self) -> String {
        self.name.into()
    }
    fn identity(&self) -> String {
        self.name.into()
    }
}

fn timing(retry: u32) -> TimingSpec {
    TimingSpec {
        delay_loop: Duration::from_secs(10),
        delay_before_retry: Duration::from_secs(2),
        retry,
        warmup: Duration::from_secs(10),
        alpha: false,
        poll_down_at_max: false,
        rise: None,
        fall: None,
    }
}

fn secs(v: &[Duration]) -> Vec<u64> {
    v.iter().map(|d| d.as_secs()).collect()
}

#[tokio::test(start_paused = true)]
async fn schedule_retries_and_transitions() {
    let (tx, mut rx) = unbounded_channel();
    let mut e = Engine::new(tx, Box::new(|| 0.5));
    // up, up, fail, fail, fail (down), fail, ok (up)
    let c = Scripted::new("rs1", vec![true, true, false, false, false, false, true]);
    e.add(1, c.clone(), timing(2), None);
    tokio::time::sleep(Duration::from_secs(80)).await;
    // First run at 1 + 0.5 * warmup = 6 s; then delay_loop 10; retries at 2;
    // down after 3 failures; then delay_loop.
    assert_eq!(
        secs(&c.at.lock().unwrap()[..7]),
        [6, 16, 26, 28, 30, 40, 50]
    );
    let mut transitions = Vec::new();
    while let Ok(ev) = rx.try_recv() {
        if let EngineEvent::Transition { up, reason, .. } = ev {
            transitions.push((up, reason));
        }
    }
    assert_eq!(
        transitions,
        [
            (false, Some("rs1 refused, after 3 attempts".to_string())),
            (true, None)
        ]
    );
}

#[tokio::test(start_paused = true)]
async fn identical_checks_run_once_and_removal_keeps_the_other_schedule() {
    let (tx, mut rx) = unbounded_channel();
    let mut e = Engine::new(tx, Box::new(|| 0.0));
    let c = Scripted::new("shared", vec![true]);
    e.add(1, c.clone(), timing(1), None);
    e.add(2, c.clone(), timing(1), None);
    assert_eq!(e.running(), 1);
    tokio::time::sleep(Duration::from_secs(25)).await;
    assert_eq!(
        c.calls.load(Ordering::SeqCst),
        3,
        "1 s, 11 s, 21 s: once for both ids"
    );
    let mut ids = Vec::new();
    while let Ok(EngineEvent::Attempt { id, .. }) = rx.try_recv() {
        ids.push(id);
    }
    assert_eq!(ids.len(), 6, "each attempt reported to both ids");
    e.remove(1);
    tokio::time::sleep(Duration::from_secs(10)).await;
    assert_eq!(
        secs(&c.at.lock().unwrap()),
        [1, 11, 21, 31],
        "cadence unchanged"
    );
    e.remove(2);
    tokio::time::sleep(Duration::from_secs(30)).await;
    assert_eq!(c.calls.load(Ordering::SeqCst), 4, "stopped");
}

#[tokio::test(start_paused = true)]
async fn suspended_checks_are_not_attempted() {
    let (tx, _rx) = unbounded_channel();
    let mut e = Engine::new(tx, Box::new(|| 0.0));
    let c = Scripted::new("s", vec![true]);
    e.add(7, c.clone(), timing(1), None);
    tokio::time::sleep(Duration::from_secs(2)).await;
    e.suspend(7, true);
    tokio::time::sleep(Duration::from_secs(30)).await;
    assert_eq!(c.calls.load(Ordering::SeqCst), 1);
    e.suspend(7, false);
    tokio::time::sleep(Duration::from_secs(11)).await;
    assert_eq!(c.calls.load(Ordering::SeqCst), 2);
}

#[tokio::test(start_paused = true)]
async fn carried_state_keeps_cadence_and_does_not_re_transition() {
    let (tx, mut rx) = unbounded_channel();
    let mut e = Engine::new(tx, Box::new(|| 0.9));
    let c = Scripted::new("kept", vec![false]);
    // A reloaded checker already down and run: next attempt after
    // delay_loop, no new Down transition.
    e.add(1, c.clone(), timing(1), Some((false, true)));
    tokio::time::sleep(Duration::from_secs(15)).await;
    assert_eq!(secs(&c.at.lock().unwrap()), [10]);
    while let Ok(ev) = rx.try_recv() {
        assert!(!matches!(ev, EngineEvent::Transition { .. }), "{ev:?}");
    }
}
