//! `lvsd-ipvs`: the kernel IPVS table over generic netlink.
//!
//! Codec, client, and the desired-state diff/apply engine. Knows nothing of
//! keepalived.conf or health checks.

pub mod listing;
pub mod model;
pub mod ops;
pub mod save;

pub use listing::*;
pub use model::*;
pub use ops::*;
