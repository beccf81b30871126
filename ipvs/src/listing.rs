//! A table as the kernel reports it for listings: with counters and stats.
//!
//! `Table` (model.rs) is what lvsd wants; `Listing` is what `ipvsadm -L`
//! shows: the same entries plus connection counters and traffic statistics.

use serde::{Deserialize, Serialize};

use crate::model::{Destination, Service};

/// Traffic statistics (`IPVS_*_ATTR_STATS64`, or widened `_STATS`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Stats {
    pub conns: u64,
    pub inpkts: u64,
    pub outpkts: u64,
    pub inbytes: u64,
    pub outbytes: u64,
    pub cps: u64,
    pub inpps: u64,
    pub outpps: u64,
    pub inbps: u64,
    pub outbps: u64,
}

/// Connection counters of a destination.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct DestCounters {
    pub active_conns: u32,
    pub inact_conns: u32,
    pub persist_conns: u32,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ListedDest {
    pub dest: Destination,
    pub counters: DestCounters,
    pub stats: Stats,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ListedService {
    pub service: Service,
    pub stats: Stats,
    pub destinations: Vec<ListedDest>,
}

/// IPVS version and connection table size (GET_INFO).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct IpvsInfo {
    /// Packed as the kernel sends it: 0x010201 = 1.2.1.
    pub version: u32,
    pub conn_tab_size: u32,
}

/// Everything `ipvsadm -L` can show.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Listing {
    pub info: IpvsInfo,
    pub services: Vec<ListedService>,
}
