//! The per-checker retry and timing state machine, exactly keepalived's
//! (`check_tcp.c:tcp_epilog`, `check_http.c:epilog`), pure and clock-free:
//!
//! - a checker starts up (down with `alpha`), not yet run, with its retry
//!   counter full, so the very first failure takes it down at once
//!   (keepalived's start-up rule, kept for compatibility);
//! - an up checker needs `retry + 1` consecutive failures, spaced
//!   `delay_before_retry`, to go down; one success brings a down checker up;
//! - the next attempt is scheduled from the completion of this one:
//!   `delay_loop` normally, `delay_before_retry` while retrying; a down
//!   HTTP/SSL checker is polled at `max(delay_before_retry, delay_loop)`;
//! - the first attempt runs at 1 s + a random fraction of `warmup`.
//!
//! lvsd extension (off unless set): `fall` consecutive failures to go down
//! (instead of `retry + 1`), `rise` consecutive successes to come up.

use std::time::Duration;

/// Timing settings of one checker.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct TimingSpec {
    pub delay_loop: Duration,
    pub delay_before_retry: Duration,
    pub retry: u32,
    pub warmup: Duration,
    pub alpha: bool,
    /// HTTP/SSL poll a down checker at max(delay_before_retry, delay_loop).
    pub poll_down_at_max: bool,
    pub rise: Option<u32>,
    pub fall: Option<u32>,
}

impl TimingSpec {
    /// keepalived's defaults for a TCP_CHECK.
    pub fn keepalived_default() -> Self {
        TimingSpec {
            delay_loop: Duration::from_secs(60),
            delay_before_retry: Duration::from_secs(1),
            retry: 1,
            warmup: Duration::from_secs(60),
            alpha: false,
            poll_down_at_max: false,
            rise: None,
            fall: None,
        }
    }

    /// When the first attempt runs: 1 s + `fraction` (in [0, 1)) of warmup.
    pub fn first_delay(&self, fraction: f64) -> Duration {
        let f = fraction.clamp(0.0, 1.0);
        Duration::from_secs(1) + self.warmup.mul_f64(f)
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Transition {
    Up,
    Down,
}

/// What one result did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Step {
    /// The checker changed state.
    pub transition: Option<Transition>,
    /// Delay from now (the completion of the attempt) to the next attempt.
    pub next: Duration,
    /// Attempts that led here (for the human reason: "after 3 attempts").
    pub attempts: u32,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CheckerState {
    pub up: bool,
    pub has_run: bool,
    retry_it: u32,
    consecutive_fail: u32,
    consecutive_ok: u32,
}

impl CheckerState {
    pub fn new(spec: &TimingSpec) -> Self {
        CheckerState {
            up: !spec.alpha,
            has_run: false,
            // "One failure is enough initially" (keepalived).
            retry_it: spec.retry,
            consecutive_fail: 0,
            consecutive_ok: 0,
        }
    }

    /// A state carried over from elsewhere (reload migration, adoption).
    pub fn with_up(spec: &TimingSpec, up: bool, has_run: bool) -> Self {
        let mut s = CheckerState::new(spec);
        s.up = up;
        s.has_run = has_run;
        if has_run {
            s.retry_it = 0;
        }
        s
    }

    pub fn on_result(&mut self, spec: &TimingSpec, pass: bool) -> Step {
        let first = !self.has_run;
        self.has_run = true;
        if pass {
            self.consecutive_fail = 0;
            self.consecutive_ok += 1;
            self.retry_it = 0;
            let needed = spec.rise.unwrap_or(1).max(1);
            let transition = if !self.up && self.consecutive_ok >= needed {
                self.up = true;
                Some(Transition::Up)
            } else {
                None
            };
            return Step {
                transition,
                next: spec.delay_loop,
                attempts: self.consecutive_ok,
            };
        }
        self.consecutive_ok = 0;
        self.consecutive_fail += 1;
        let attempts = self.consecutive_fail;
        if let Some(fall) = spec.fall {
            // lvsd extension: `fall` consecutive failures.
            if self.up && self.consecutive_fail >= fall.max(1) {
                self.up = false;
                return Step {
                    transition: Some(Transition::Down),
                    next: self.down_poll(spec),
                    attempts,
                };
            }
            return Step {
                transition: None,
                next: if self.up {
                    spec.delay_before_retry
                } else {
                    self.down_poll(spec)
                },
                attempts,
            };
        }
        if (self.up || first) && self.retry_it >= spec.retry {
            self.retry_it = 0;
            let transition = if self.up {
                self.up = false;
                Some(Transition::Down)
            } else {
                None
            };
            return Step {
                transition,
                next: spec.delay_loop,
                attempts,
            };
        }
        if self.up {
            self.retry_it += 1;
            return Step {
                transition: None,
                next: spec.delay_before_retry,
                attempts,
            };
        }
        Step {
            transition: None,
            next: self.down_poll(spec),
            attempts,
        }
    }

    fn down_poll(&self, spec: &TimingSpec) -> Duration {
        if spec.poll_down_at_max {
            spec.delay_loop.max(spec.delay_before_retry)
        } else {
            spec.delay_loop
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spec(retry: u32) -> TimingSpec {
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

    #[test]
    fn first_failure_takes_a_fresh_checker_down_at_once() {
        let s = spec(3);
        let mut st = CheckerState::new(&s);
        let step = st.on_result(&s, false);
        assert_eq!(step.transition, Some(Transition::Down));
        assert_eq!(step.next, s.delay_loop);
    }

    #[test]
    fn an_up_checker_needs_retry_plus_one_failures() {
        let s = spec(2);
        let mut st = CheckerState::new(&s);
        assert_eq!(st.on_result(&s, true).transition, None);
        let a = st.on_result(&s, false);
        assert_eq!((a.transition, a.next), (None, s.delay_before_retry));
        let b = st.on_result(&s, false);
        assert_eq!((b.transition, b.next), (None, s.delay_before_retry));
        let c = st.on_result(&s, false);
        assert_eq!(c.transition, Some(Transition::Down));
        assert_eq!(c.attempts, 3);
        assert_eq!(c.next, s.delay_loop);
        // Down: keep polling at delay_loop; one success brings it up.
        assert_eq!(st.on_result(&s, false).next, s.delay_loop);
        assert_eq!(st.on_result(&s, true).transition, Some(Transition::Up));
    }

    #[test]
    fn a_success_resets_the_retry_count() {
        let s = spec(1);
        let mut st = CheckerState::new(&s);
        st.on_result(&s, true);
        st.on_result(&s, false);
        st.on_result(&s, true);
        assert_eq!(st.on_result(&s, false).transition, None);
        assert_eq!(st.on_result(&s, false).transition, Some(Transition::Down));
    }

    #[test]
    fn alpha_starts_down_and_comes_up_on_first_success() {
        let mut s = spec(1);
        s.alpha = true;
        let mut st = CheckerState::new(&s);
        assert!(!st.up);
        assert_eq!(st.on_result(&s, false).transition, None);
        assert_eq!(st.on_result(&s, true).transition, Some(Transition::Up));
    }

    #[test]
    fn http_polls_a_down_checker_at_the_longer_interval() {
        let mut s = spec(0);
        s.poll_down_at_max = true;
        s.delay_before_retry = Duration::from_secs(30);
        let mut st = CheckerState::new(&s);
        st.on_result(&s, false);
        assert_eq!(st.on_result(&s, false).next, Duration::from_secs(30));
    }

    #[test]
    fn rise_and_fall_extension() {
        let mut s = spec(0);
        s.rise = Some(2);
        s.fall = Some(3);
        let mut st = CheckerState::new(&s);
        st.on_result(&s, true);
        assert_eq!(st.on_result(&s, false).transition, None);
        assert_eq!(st.on_result(&s, false).transition, None);
        assert_eq!(st.on_result(&s, false).transition, Some(Transition::Down));
        assert_eq!(st.on_result(&s, true).transition, None);
        assert_eq!(st.on_result(&s, true).transition, Some(Transition::Up));
    }

    #[test]
    fn first_run_window() {
        let s = spec(1);
        assert_eq!(s.first_delay(0.0), Duration::from_secs(1));
        assert_eq!(s.first_delay(0.5), Duration::from_secs(6));
        let mut z = s.clone();
        z.warmup = Duration::ZERO;
        assert_eq!(z.first_delay(0.9), Duration::from_secs(1));
    }
}
