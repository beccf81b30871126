//! `lvsd-checkers`: keepalived-compatible health checks and their timing.
//!
//! Takes check specifications, emits up/down and weight-delta events. Knows
//! nothing of IPVS or the keepalived.conf format.

pub mod check;
pub mod conn;
pub mod describe;
pub mod dns;
pub mod engine;
pub mod file;
pub mod genhash;
mod group;
pub mod http;
pub mod machine;
pub mod misc;
pub mod outcome;
pub mod ping;
pub mod rounds;
pub mod smtp;
pub mod socket;
mod spawner;
pub mod tcp;
pub mod timing;
pub mod udp;

pub use check::{AttemptFuture, Check};
pub use conn::ConnOptions;
pub use outcome::{CheckOutcome, Verdict};
