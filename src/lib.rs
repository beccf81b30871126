//! lvsd: the LVS/IPVS director library (config front end, director, CLI).

pub mod cli;
pub mod config;
pub mod control;
pub mod daemon;
pub mod director;
pub mod metrics;
pub mod notify;
pub mod vrrp;
