//! The optional Prometheus endpoint (`--metrics-listen ADDR:PORT`, off by
//! default):
//!
//! - `exposition.rs`: the text format (pure);
//! - `collect.rs`: the metrics, gathered from the daemon per scrape;
//! - `server.rs`: the HTTP/1 server (hyper) that binds only where told and
//!   asks the daemon loop for the text.

pub mod collect;
pub mod exposition;
pub mod server;
