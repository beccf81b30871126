//! `lvsd-checkers`: keepalived-compatible health checks and their timing.
//!
//! Takes check specifications, emits up/down and weight-delta events. Knows
//! nothing of IPVS or the keepalived.conf format.

pub mod check;
pub mod conn;
pub mod describe;
pub mod engine;
pub mod genhash;
pub mod http;
pub mod outcome;
pub mod socket;
pub mod tcp;
pub mod timing;

pub use check::{AttemptFuture, Check};
pub use conn::ConnOptions;
pub use outcome::{CheckOutcome, Verdict};
