//! HTTP_GET/SSL_GET's one-URL-per-round state machine, keepalived's
//! `check_http.c` `epilog()` and `timeout_epilog()` (2.2.7, unchanged at
//! HEAD), pure and clock-free:
//!
//! - each attempt checks **one** URL; a success moves on to the next URL
//!   after `delay_loop`; the checker is (re)declared up only when the last
//!   URL of a pass succeeds with no URL pinned as failed, then the pass
//!   starts again at the first URL;
//! - a failure retries the **same** URL after `delay_before_retry`; after
//!   `retry + 1` consecutive failures an up checker goes down and that URL
//!   is pinned as the failed URL; the very first failure of a fresh checker
//!   takes it down at once (the retry counter starts full, as keepalived's);
//! - while a URL is pinned only it is attempted, at
//!   `max(delay_before_retry, delay_loop)`; when it succeeds the pin is
//!   cleared and **all** URLs are checked again from the first (so a single
//!   URL needs two successes to bring a failed checker back, keepalived's
//!   behaviour);
//! - a down checker failing while no URL is pinned (during the re-check
//!   pass) is retried after `delay_before_retry`, without counting;
//! - `fast_recovery`: after a success, the next URL is attempted at once
//!   (no delay) while the checker has not yet completed a pass, or while it
//!   is down with no pinned URL.
//!
//! Where lvsd deliberately differs: with `fast_recovery`, keepalived also
//! re-attempts *at once* after a failure of a down checker with no pinned
//! URL (its `thread_add_event` ignores the computed delay), a busy loop
//! against a failing server; lvsd waits `delay_before_retry` there. The
//! lvsd `rise`/`fall` extension (off by default): `fall` consecutive failed
//! attempts take the checker down (instead of `retry + 1`), `rise`
//! consecutive complete passes bring it up.

use std::time::Duration;

use crate::timing::{Step, TimingSpec, Transition};

/// How a round-based check is split: `count` URLs, `fast_recovery`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct UrlRounds {
    pub count: usize,
    pub fast_recovery: bool,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UrlRoundState {
    pub up: bool,
    pub has_run: bool,
    /// keepalived's `url_it`: the URL the next attempt checks.
    url: usize,
    /// keepalived's `failed_url`.
    failed_url: Option<usize>,
    retry_it: u32,
    consecutive_fail: u32,
    /// Complete passes in a row (for `rise`).
    passes: u32,
}

impl UrlRoundState {
    pub fn new(spec: &TimingSpec) -> Self {
        UrlRoundState {
            up: !spec.alpha,
            has_run: false,
            url: 0,
            failed_url: None,
            // "One failure is enough initially" (keepalived).
            retry_it: spec.retry,
            consecutive_fail: 0,
            passes: 0,
        }
    }

    /// A state carried over (reload): the pass restarts at the first URL.
    /// A checker that was down keeps a pinned URL (keepalived migrates
    /// `failed_url`; lvsd does not carry which one, so the first URL is
    /// pinned): it is polled at the down interval and must then pass every
    /// URL again, as after any failure.
    pub fn with_up(spec: &TimingSpec, up: bool, has_run: bool) -> Self {
        let mut s = UrlRoundState::new(spec);
        s.up = up;
        s.has_run = has_run;
        if has_run {
            s.retry_it = 0;
            if !up {
                s.failed_url = Some(0);
            }
        }
        s
    }

    /// The URL (index) the next attempt must check.
    pub fn url(&self) -> usize {
        self.url
    }

    /// The URL pinned as failed, if any.
    pub fn failed_url(&self) -> Option<usize> {
        self.failed_url
    }

    pub fn on_result(&mut self, spec: &TimingSpec, rounds: &UrlRounds, pass: bool) -> Step {
        if pass {
            self.on_success(spec, rounds)
        } else {
            self.on_failure(spec)
        }
    }

    fn on_success(&mut self, spec: &TimingSpec, rounds: &UrlRounds) -> Step {
        self.consecutive_fail = 0;
        let wrapped = self.url + 1 >= rounds.count.max(1);
        self.url = if wrapped { 0 } else { self.url + 1 };
        self.retry_it = 0;
        let mut transition = None;
        if wrapped && self.failed_url.is_none() {
            // A complete pass: every URL succeeded in turn.
            self.passes = self.passes.saturating_add(1);
            if !self.up || !self.has_run {
                if !self.up && self.passes >= spec.rise.unwrap_or(1).max(1) {
                    self.up = true;
                    transition = Some(Transition::Up);
                }
                self.has_run = true;
            }
        } else if self.failed_url.is_some() {
            // The pinned URL recovered: check every URL again.
            self.failed_url = None;
            self.url = 0;
        }
        if !self.has_run {
            self.retry_it = spec.retry;
        }
        let fast =
            rounds.fast_recovery && (!self.has_run || (!self.up && self.failed_url.is_none()));
        Step {
            transition,
            next: if fast {
                Duration::ZERO
            } else {
                spec.delay_loop
            },
            attempts: self.passes,
        }
    }

    fn on_failure(&mut self, spec: &TimingSpec) -> Step {
        self.consecutive_fail = self.consecutive_fail.saturating_add(1);
        self.passes = 0;
        let mut transition = None;
        if self.up || !self.has_run {
            self.has_run = true;
            self.retry_it = self.retry_it.saturating_add(1);
            let exhausted = match spec.fall {
                Some(f) => self.consecutive_fail >= f.max(1),
                None => self.retry_it > spec.retry,
            };
            if exhausted {
                if self.up {
                    self.up = false;
                    transition = Some(Transition::Down);
                }
                self.failed_url = Some(self.url);
            }
        }
        let next = if self.failed_url.is_some() {
            spec.delay_before_retry.max(spec.delay_loop)
        } else {
            spec.delay_before_retry
        };
        Step {
            transition,
            next,
            attempts: self.consecutive_fail,
        }
    }
}
