//! The engine on tokio's paused clock with scripted checks: first-run
//! window, retry spacing, down after retry+1 failures, up after one success,
//! dedupe of identical checks, runtime removal, suspension.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use lvsd_checkers::engine::{AttemptReports, AttemptStats, Engine, EngineEvent};
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

/// `AttemptReports::Notable`: passing attempts are counted but not sent;
/// failures and transitions are sent. Counts are per id, from its
/// registration.
#[tokio::test(start_paused = true)]
async fn notable_reports_count_every_attempt_and_send_failures_only() {
    let (tx, mut rx) = unbounded_channel();
    let mut e = Engine::new(tx, Box::new(|| 0.0));
    e.set_attempt_reports(AttemptReports::Notable);
    // pass, pass, fail (retry 0: down), pass (up)
    let c = Scripted::new("rs1", vec![true, true, false, true]);
    e.add(1, c.clone(), timing(0), None);
    // Attempts at 1, 11, 21, 31 s.
    tokio::time::sleep(Duration::from_secs(32)).await;
    let mut got = Vec::new();
    while let Ok(ev) = rx.try_recv() {
        got.push(match ev {
            EngineEvent::Attempt { pass, .. } => format!("attempt {pass}"),
            EngineEvent::Transition { up, .. } => format!("transition {up}"),
        });
    }
    assert_eq!(
        got,
        ["attempt false", "transition false", "transition true"]
    );
    let st = e.stats(1).expect("registered");
    assert_eq!((st.pass, st.fail), (3, 1));
    // A second id sharing the check counts from its own registration.
    e.add(2, c.clone(), timing(0), None);
    assert_eq!(e.stats(2), Some(AttemptStats::default()));
    tokio::time::sleep(Duration::from_secs(10)).await;
    assert_eq!(e.stats(2).map(|s| s.pass), Some(1));
    assert_eq!(e.stats(1).map(|s| s.pass), Some(4));
    e.remove(1);
    assert_eq!(e.stats(1), None);
}

/// Checks can run on another runtime (the daemon's checks thread): they
/// are attempted there on schedule and stop when removed.
#[test]
fn checks_run_on_the_runtime_given() {
    let other = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let handle = other.handle().clone();
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let thread = std::thread::spawn(move || {
        let _ = other.block_on(stopped);
    });
    let (tx, _rx) = unbounded_channel();
    let mut e = Engine::new(tx, Box::new(|| 0.0));
    e.set_runtime(&handle);
    let mut fast = timing(0);
    fast.delay_loop = Duration::from_millis(200);
    fast.warmup = Duration::ZERO;
    let a = Scripted::new("a", vec![true]);
    let b = Scripted::new("b", vec![true]);
    e.add(1, a.clone(), fast.clone(), None);
    e.add(2, b.clone(), fast, None);
    // First attempts at 1 s, then every 0.2 s: wait (at most 10 s) for a
    // few of each.
    let started = std::time::Instant::now();
    while (a.calls.load(Ordering::SeqCst) < 3 || b.calls.load(Ordering::SeqCst) < 3)
        && started.elapsed() < Duration::from_secs(10)
    {
        std::thread::sleep(Duration::from_millis(50));
    }
    assert!(
        a.calls.load(Ordering::SeqCst) >= 3,
        "a attempted on the other runtime"
    );
    assert!(e.stats(1).is_some_and(|s| s.pass >= 3 && s.fail == 0));
    e.remove(1);
    std::thread::sleep(Duration::from_millis(50));
    let after = a.calls.load(Ordering::SeqCst);
    let b_before = b.calls.load(Ordering::SeqCst);
    std::thread::sleep(Duration::from_millis(600));
    assert_eq!(a.calls.load(Ordering::SeqCst), after, "stopped");
    assert!(
        b.calls.load(Ordering::SeqCst) > b_before,
        "the other goes on"
    );
    drop(e);
    let _ = stop.send(());
    thread.join().unwrap();
}

/// `set_timer_step`: deadlines round up to multiples of the step from the
/// engine's creation (here 4 s, to see it; the daemon uses 10 ms).
#[tokio::test(start_paused = true)]
async fn deadlines_round_up_to_the_timer_step() {
    let (tx, _rx) = unbounded_channel();
    let mut e = Engine::new(tx, Box::new(|| 0.5));
    e.set_timer_step(Duration::from_secs(4));
    let c = Scripted::new("rs1", vec![true]);
    e.add(1, c.clone(), timing(1), None);
    tokio::time::sleep(Duration::from_secs(45)).await;
    // Exact: 6, 16, 26, 36; on the 4 s grid: 8, then 8 + 10 = 18 -> 20,
    // 30 -> 32, 42 -> 44.
    assert_eq!(secs(&c.at.lock().unwrap()), [8, 20, 32, 44]);
}

/// Start-up: the first-attempt delay of every check registered under an
/// epoch runs from that epoch, however long registering them all takes;
/// one registered after its time runs at once; without the epoch the delay
/// runs from the registration again.
#[tokio::test(start_paused = true)]
async fn start_up_epoch_is_common_to_all_registrations() {
    let (tx, _rx) = unbounded_channel();
    let mut e = Engine::new(tx, Box::new(|| 0.0));
    let mut t = timing(1);
    t.warmup = Duration::ZERO;
    let checks: Vec<Arc<Scripted>> = ["a", "b", "c", "d"]
        .into_iter()
        .map(|n| Scripted::new(n, vec![true]))
        .collect();
    e.set_epoch(Some(Instant::now()));
    e.add(1, checks[0].clone(), t.clone(), None);
    // A slow registration: the next one comes 0.5 s later.
    tokio::time::sleep(Duration::from_millis(500)).await;
    e.add(2, checks[1].clone(), t.clone(), None);
    tokio::time::sleep(Duration::from_millis(1000)).await;
    e.add(3, checks[2].clone(), t.clone(), None);
    e.set_epoch(None);
    e.add(4, checks[3].clone(), t, None);
    tokio::time::sleep(Duration::from_millis(1500)).await;
    let first: Vec<u128> = checks
        .iter()
        .map(|c| c.at.lock().unwrap()[0].as_millis())
        .collect();
    assert_eq!(first, [1000, 1000, 1500, 2500]);
}
