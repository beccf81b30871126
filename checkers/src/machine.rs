//! The state machine the engine drives for one check: keepalived's plain
//! retry machine (`timing`), or HTTP_GET/SSL_GET's one-URL-per-round
//! machine (`rounds`) for checks that are split into URLs.

use crate::rounds::{UrlRoundState, UrlRounds};
use crate::timing::{CheckerState, Step, TimingSpec};

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Machine {
    Plain(CheckerState),
    Urls {
        state: UrlRoundState,
        rounds: UrlRounds,
    },
}

impl Machine {
    /// A fresh machine, or one carrying `(up, has_run)` over (reload).
    pub fn new(
        spec: &TimingSpec,
        rounds: Option<UrlRounds>,
        initial: Option<(bool, bool)>,
    ) -> Self {
        match rounds {
            None => Machine::Plain(match initial {
                Some((up, has_run)) => CheckerState::with_up(spec, up, has_run),
                None => CheckerState::new(spec),
            }),
            Some(rounds) => Machine::Urls {
                state: match initial {
                    Some((up, has_run)) => UrlRoundState::with_up(spec, up, has_run),
                    None => UrlRoundState::new(spec),
                },
                rounds,
            },
        }
    }

    /// The part (URL index) the next attempt checks; `None` for whole checks.
    pub fn part(&self) -> Option<usize> {
        match self {
            Machine::Plain(_) => None,
            Machine::Urls { state, .. } => Some(state.url()),
        }
    }

    pub fn is_up(&self) -> bool {
        match self {
            Machine::Plain(s) => s.up,
            Machine::Urls { state, .. } => state.up,
        }
    }

    pub fn on_result(&mut self, spec: &TimingSpec, pass: bool) -> Step {
        match self {
            Machine::Plain(s) => s.on_result(spec, pass),
            Machine::Urls { state, rounds } => state.on_result(spec, rounds, pass),
        }
    }
}
