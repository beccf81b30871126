//! HTTP_GET/SSL_GET's one-URL-per-round machine (keepalived's
//! `check_http.c` epilog): the pure state machine, step by step, and the
//! engine driving a multi-URL check on tokio's paused clock.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use lvsd_checkers::engine::{Engine, EngineEvent};
use lvsd_checkers::rounds::{UrlRoundState, UrlRounds};
use lvsd_checkers::timing::{TimingSpec, Transition};
use lvsd_checkers::{AttemptFuture, Check, CheckOutcome, Verdict};
use tokio::sync::mpsc::unbounded_channel;
use tokio::time::Instant;

const DL: Duration = Duration::from_secs(10);
const DBR: Duration = Duration::from_secs(3);
const MAX: Duration = Duration::from_secs(10);

fn spec(retry: u32) -> TimingSpec {
    TimingSpec {
        delay_loop: DL,
        delay_before_retry: DBR,
        retry,
        warmup: Duration::ZERO,
        alpha: false,
        poll_down_at_max: true,
        rise: None,
        fall: None,
    }
}

fn rounds(count: usize, fast_recovery: bool) -> UrlRounds {
    UrlRounds {
        count,
        fast_recovery,
    }
}

/// Feeds results; returns (url attempted, transition, next) per step.
fn run(
    s: &TimingSpec,
    r: &UrlRounds,
    st: &mut UrlRoundState,
    results: &[bool],
) -> Vec<(usize, Option<Transition>, Duration)> {
    results
        .iter()
        .map(|&ok| {
            let url = st.url();
            let step = st.on_result(s, r, ok);
            (url, step.transition, step.next)
        })
        .collect()
}

#[test]
fn one_url_per_round_and_up_only_after_a_full_pass() {
    let s = spec(1);
    let r = rounds(3, false);
    let mut st = UrlRoundState::new(&s);
    let steps = run(&s, &r, &mut st, &[true, true]);
    assert_eq!(steps, [(0, None, DL), (1, None, DL)]);
    assert!(!st.has_run, "a pass is not complete before the last URL");
    let steps = run(&s, &r, &mut st, &[true, true]);
    assert_eq!(steps, [(2, None, DL), (0, None, DL)]);
    assert!(st.has_run && st.up);
    assert_eq!(st.url(), 1);
}

#[test]
fn a_fresh_checker_goes_down_on_its_first_failure_on_any_url() {
    let s = spec(3);
    let r = rounds(3, false);
    let mut st = UrlRoundState::new(&s);
    // URL 0 passes, URL 1 fails: still the start-up rule (retry counter full
    // until a complete pass).
    let steps = run(&s, &r, &mut st, &[true, false]);
    assert_eq!(steps, [(0, None, DL), (1, Some(Transition::Down), MAX)]);
    assert_eq!(st.failed_url(), Some(1));
}

#[test]
fn failure_retries_the_same_url_then_pins_it_and_rechecks_all_after_recovery() {
    let s = spec(1);
    let r = rounds(3, false);
    let mut st = UrlRoundState::new(&s);
    run(&s, &r, &mut st, &[true, true, true]);
    assert!(st.has_run && st.up);
    // URL 0 ok, URL 1 fails twice: silent retry after dbr, then down.
    let steps = run(&s, &r, &mut st, &[true, false, false]);
    assert_eq!(
        steps,
        [
            (0, None, DL),
            (1, None, DBR),
            (1, Some(Transition::Down), MAX)
        ]
    );
    assert_eq!(st.failed_url(), Some(1));
    // Only the pinned URL is polled, at max(dbr, delay_loop).
    let steps = run(&s, &r, &mut st, &[false, false]);
    assert_eq!(steps, [(1, None, MAX), (1, None, MAX)]);
    // It recovers: no Up yet, every URL is checked again from the first.
    let steps = run(&s, &r, &mut st, &[true]);
    assert_eq!(steps, [(1, None, DL)]);
    assert_eq!(st.failed_url(), None);
    assert_eq!(st.url(), 0);
    let steps = run(&s, &r, &mut st, &[true, true, true]);
    assert_eq!(
        steps,
        [(0, None, DL), (1, None, DL), (2, Some(Transition::Up), DL)]
    );
}

#[test]
fn a_down_checker_failing_during_the_recheck_pass_retries_that_url() {
    let s = spec(1);
    let r = rounds(2, false);
    let mut st = UrlRoundState::new(&s);
    run(&s, &r, &mut st, &[false]); // down, URL 0 pinned
    run(&s, &r, &mut st, &[true]); // pin cleared, re-check from 0
                                   // URL 0 ok, URL 1 fails while down with no pin: retried after dbr,
                                   // not pinned, no transition.
    let steps = run(&s, &r, &mut st, &[true, false, false, true]);
    assert_eq!(
        steps,
        [
            (0, None, DL),
            (1, None, DBR),
            (1, None, DBR),
            (1, Some(Transition::Up), DL)
        ]
    );
}

#[test]
fn a_single_url_needs_two_successes_to_recover() {
    let s = spec(0);
    let r = rounds(1, false);
    let mut st = UrlRoundState::new(&s);
    run(&s, &r, &mut st, &[true]);
    let steps = run(&s, &r, &mut st, &[false, true, true]);
    assert_eq!(
        steps,
        [
            (0, Some(Transition::Down), MAX),
            (0, None, DL),
            (0, Some(Transition::Up), DL)
        ]
    );
}

#[test]
fn a_success_resets_the_retry_count() {
    let s = spec(1);
    let r = rounds(2, false);
    let mut st = UrlRoundState::new(&s);
    run(&s, &r, &mut st, &[true, true]);
    // fail URL 0 once, it passes, fail URL 1 once: never down.
    let steps = run(&s, &r, &mut st, &[false, true, false, true]);
    assert!(steps.iter().all(|(_, t, _)| t.is_none()), "{steps:?}");
    assert!(st.up);
}

#[test]
fn fast_recovery_checks_the_next_url_at_once_until_the_pass_completes() {
    let s = spec(1);
    let r = rounds(3, true);
    let mut st = UrlRoundState::new(&s);
    // Never run: no delay between URLs; once the pass is done, delay_loop.
    let steps = run(&s, &r, &mut st, &[true, true, true, true]);
    let z = Duration::ZERO;
    assert_eq!(
        steps,
        [(0, None, z), (1, None, z), (2, None, DL), (0, None, DL)]
    );
    // Down on URL 1 (retry 1: two failures), recovery of the pinned URL,
    // then the re-check pass runs without delay and ends Up.
    let steps = run(&s, &r, &mut st, &[false, false, false, true]);
    assert_eq!(
        steps,
        [
            (1, None, DBR),
            (1, Some(Transition::Down), MAX),
            (1, None, MAX),
            (1, None, z)
        ]
    );
    let steps = run(&s, &r, &mut st, &[true, true, true]);
    assert_eq!(
        steps,
        [(0, None, z), (1, None, z), (2, Some(Transition::Up), DL)]
    );
}

#[test]
fn fast_recovery_never_retries_a_failure_at_once() {
    // keepalived would re-attempt at once here (busy loop); lvsd waits dbr.
    let s = spec(0);
    let r = rounds(2, true);
    let mut st = UrlRoundState::new(&s);
    run(&s, &r, &mut st, &[false, true]); // down, then pin cleared
    assert!(!st.up && st.failed_url().is_none());
    let steps = run(&s, &r, &mut st, &[false, false]);
    assert_eq!(steps, [(0, None, DBR), (0, None, DBR)]);
}

#[test]
fn alpha_starts_down_and_comes_up_after_one_full_pass() {
    let mut s = spec(1);
    s.alpha = true;
    let r = rounds(2, false);
    let mut st = UrlRoundState::new(&s);
    assert!(!st.up);
    let steps = run(&s, &r, &mut st, &[true, true]);
    assert_eq!(steps, [(0, None, DL), (1, Some(Transition::Up), DL)]);
    // alpha, first failure: no transition (already down), URL pinned.
    let mut st = UrlRoundState::new(&s);
    let steps = run(&s, &r, &mut st, &[false]);
    assert_eq!(steps, [(0, None, MAX)]);
    assert_eq!(st.failed_url(), Some(0));
}

#[test]
fn rise_and_fall_extension_count_attempts_down_and_passes_up() {
    let mut s = spec(0);
    s.fall = Some(3);
    s.rise = Some(2);
    let r = rounds(2, false);
    let mut st = UrlRoundState::new(&s);
    run(&s, &r, &mut st, &[true, true]);
    let steps = run(&s, &r, &mut st, &[false, false, false]);
    let t: Vec<_> = steps.iter().map(|x| x.1).collect();
    assert_eq!(t, [None, None, Some(Transition::Down)]);
    // pinned URL recovers, then two complete passes are needed.
    let steps = run(&s, &r, &mut st, &[true, true, true, true, true]);
    let t: Vec<_> = steps.iter().map(|x| x.1).collect();
    assert_eq!(t, [None, None, None, None, Some(Transition::Up)]);
}

#[test]
fn a_carried_down_state_is_polled_as_down_and_rechecks_every_url() {
    let s = spec(1);
    let r = rounds(2, false);
    let mut st = UrlRoundState::with_up(&s, false, true);
    assert_eq!(st.failed_url(), Some(0));
    let steps = run(&s, &r, &mut st, &[false, true, true, true]);
    assert_eq!(
        steps,
        [
            (0, None, MAX),
            (0, None, DL),
            (0, None, DL),
            (1, Some(Transition::Up), DL)
        ]
    );
    // A carried up state just goes on, with no transition.
    let mut st = UrlRoundState::with_up(&s, true, true);
    let steps = run(&s, &r, &mut st, &[true, true, false]);
    assert_eq!(steps, [(0, None, DL), (1, None, DL), (0, None, DBR)]);
}

/// A check of `parts` URLs with scripted verdicts per attempt; records
/// (seconds since start, part).
struct Parts {
    parts: usize,
    fast: bool,
    script: Vec<bool>,
    calls: AtomicUsize,
    log: Mutex<Vec<(u64, usize)>>,
    start: Instant,
}

impl Parts {
    fn new(parts: usize, fast: bool, script: Vec<bool>) -> Arc<Self> {
        Arc::new(Parts {
            parts,
            fast,
            script,
            calls: AtomicUsize::new(0),
            log: Mutex::new(Vec::new()),
            start: Instant::now(),
        })
    }
}

impl Check for Parts {
    fn attempt(&self) -> AttemptFuture<'_> {
        Box::pin(async { panic!("the engine must attempt one part at a time") })
    }
    fn attempt_part(&self, part: usize) -> AttemptFuture<'_> {
        Box::pin(async move {
            let n = self.calls.fetch_add(1, Ordering::SeqCst);
            self.log
                .lock()
                .unwrap()
                .push((self.start.elapsed().as_secs(), part));
            let ok = *self.script.get(n).or(self.script.last()).unwrap_or(&true);
            CheckOutcome {
                verdict: if ok {
                    Verdict::Pass
                } else {
                    Verdict::Fail(format!("url {part}: status 503"))
                },
                elapsed: Duration::ZERO,
            }
        })
    }
    fn rounds(&self) -> Option<UrlRounds> {
        Some(UrlRounds {
            count: self.parts,
            fast_recovery: self.fast,
        })
    }
    fn describe(&self) -> String {
        "parts".into()
    }
    fn identity(&self) -> String {
        format!("parts{}", self.parts)
    }
}

fn transitions(
    rx: &mut tokio::sync::mpsc::UnboundedReceiver<EngineEvent>,
) -> Vec<(bool, Option<String>)> {
    let mut out = Vec::new();
    while let Ok(ev) = rx.try_recv() {
        if let EngineEvent::Transition { up, reason, .. } = ev {
            out.push((up, reason));
        }
    }
    out
}

#[tokio::test(start_paused = true)]
async fn engine_walks_the_urls_one_per_delay_loop() {
    let (tx, mut rx) = unbounded_channel();
    let mut e = Engine::new(tx, Box::new(|| 0.0));
    // pass 0,1 | 0 ok, 1 fails twice (retry 1): down | pinned 1 ok | 0,1 ok: up
    let c = Parts::new(
        2,
        false,
        vec![true, true, true, false, false, true, true, true],
    );
    e.add(1, c.clone(), spec(1), None);
    tokio::time::sleep(Duration::from_secs(75)).await;
    assert_eq!(
        c.log.lock().unwrap().clone(),
        [
            (1, 0),
            (11, 1),
            (21, 0),
            (31, 1),
            (34, 1), // retry after dbr 3
            (44, 1), // pinned, max(dbr, delay_loop)
            (54, 0), // recovered: re-check from the first URL
            (64, 1), // pass complete: Up
            (74, 0)
        ]
    );
    assert_eq!(
        transitions(&mut rx),
        [
            (false, Some("url 1: status 503, after 2 attempts".into())),
            (true, None)
        ]
    );
}

#[tokio::test(start_paused = true)]
async fn engine_fast_recovery_brings_an_alpha_checker_up_in_one_go() {
    let (tx, mut rx) = unbounded_channel();
    let mut e = Engine::new(tx, Box::new(|| 0.0));
    let mut t = spec(1);
    t.alpha = true;
    let c = Parts::new(3, true, vec![true]);
    e.add(1, c.clone(), t, None);
    tokio::time::sleep(Duration::from_secs(12)).await;
    assert_eq!(
        c.log.lock().unwrap().clone(),
        [(1, 0), (1, 1), (1, 2), (11, 0)]
    );
    assert_eq!(transitions(&mut rx), [(true, None)]);
}
