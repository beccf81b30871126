//! VRRP's contact with the host: interfaces, raw sockets, addresses and
//! link-layer announcements.

pub mod addrs;
pub mod announce;
pub mod iface;
pub mod routes;
pub mod socket;
pub mod vmac;
