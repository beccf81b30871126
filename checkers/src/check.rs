//! The `Check` trait: one configured health check that can be attempted.
//!
//! Every checker type (TCP_CHECK, HTTP_GET, MISC_CHECK, ...) implements it;
//! the scheduling engine drives any `Check` without knowing its type.

use std::future::Future;
use std::pin::Pin;

use crate::outcome::CheckOutcome;
use crate::rounds::UrlRounds;

/// Boxed future returned by `Check::attempt`.
pub type AttemptFuture<'a> = Pin<Box<dyn Future<Output = CheckOutcome> + Send + 'a>>;

pub trait Check: Send + Sync + 'static {
    /// Runs one attempt. Must finish on its own within the check's deadline
    /// (connect_timeout, misc_timeout, ...): the engine does not cancel it.
    fn attempt(&self) -> AttemptFuture<'_>;

    /// Human label used in logs and reasons: `HTTP_GET http://10.0.0.11:80/health`.
    fn describe(&self) -> String;

    /// Identity for sharing: two checks with equal identity (same type,
    /// target and settings) give the same verdict and may run once.
    fn identity(&self) -> String;

    /// Checks split into parts attempted one per round (HTTP_GET/SSL_GET
    /// URLs, keepalived's `url_it`): how many, and `fast_recovery`. `None`
    /// (the default): every attempt is whole.
    fn rounds(&self) -> Option<UrlRounds> {
        None
    }

    /// Runs one attempt on one part (`part < rounds().count`). The default
    /// runs the whole check.
    fn attempt_part(&self, _part: usize) -> AttemptFuture<'_> {
        self.attempt()
    }
}
