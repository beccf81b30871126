//! `lvsd-ipvs`: the kernel IPVS table over generic netlink.
//!
//! Codec, client, and the desired-state diff/apply engine. Knows nothing of
//! keepalived.conf or health checks.

pub mod error;
pub mod fake;
pub mod format;
pub mod listing;
pub mod model;
pub mod netlink;
pub mod ops;
pub mod owned;
pub mod reconcile;
pub mod sync;

pub use listing::*;
pub use model::*;
pub use ops::*;
