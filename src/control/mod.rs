//! The control socket (`/run/lvsd/lvsd.sock`): how `lvsd status`,
//! `lvsd reload` and `lvsd rs ...` talk to the running daemon.
//!
//! - `protocol.rs`: the JSON-lines request and response types (pure);
//! - `status.rs`: status snapshots and watch events from daemon state;
//! - `access.rs`: socket file creation (mode, group) and who may change
//!   state (`SO_PEERCRED`);
//! - `server.rs`: the socket's I/O, forwarding requests to the daemon loop;
//! - `client.rs`: the client side used by the CLI.

pub mod access;
pub mod client;
pub mod protocol;
pub mod server;
pub mod status;
