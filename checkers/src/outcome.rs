//! The result of one check attempt.

use std::time::Duration;

/// What one attempt of one checker found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CheckOutcome {
    pub verdict: Verdict,
    /// How long the attempt took (for latency metrics).
    pub elapsed: Duration,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Verdict {
    /// The target passed.
    Pass,
    /// The target passed and asks for a weight change relative to the real
    /// server's configured weight (MISC_CHECK `misc_dynamic`, FILE_CHECK).
    PassWithWeight(i64),
    /// The target failed; the text says why, for operators
    /// ("connect to 10.0.0.11:80: connection refused").
    Fail(String),
}

impl Verdict {
    pub fn is_pass(&self) -> bool {
        !matches!(self, Verdict::Fail(_))
    }
}
