//! The in-process VRRP engine: packet codec, the per-instance state
//! machine, tracking, and the I/O that drives them (raw sockets, VIPs over
//! rtnetlink, gratuitous ARP / unsolicited NA, notify scripts).

pub mod engine;
pub mod fsm;
pub mod instance;
pub mod net;
pub mod notify;
pub mod packet;
pub mod track;
