//! IPVS connection synchronisation from user space.
//!
//! The kernel's sync daemon copies connections to the backups, but holds a
//! partly filled message for up to 2 s before sending it, and discards what
//! it holds when it is stopped. A director handing over gracefully copies
//! its connection table itself so that the new master knows every
//! connection before clients' packets reach it: `conn_table` reads the
//! table as `/proc/net/ip_vs_conn` prints it, `message` encodes it in the
//! kernel's sync protocol (version 1), which the backups' kernel sync
//! daemons accept like their master's own messages.

pub mod conn_table;
pub mod message;
pub mod snapshot;

pub use conn_table::{Conn, ConnTable};
pub use message::{SyncConn, SyncEncoder};
pub use snapshot::{to_sync, DestIndex};
