//! lvsd: the LVS/IPVS director library (config front end, director, CLI).

pub mod config;
