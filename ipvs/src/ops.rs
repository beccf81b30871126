//! Operations on an IPVS table and the backend trait that performs them.
//!
//! The reconciler produces `Operation`s; a backend (the netlink client, or the
//! in-memory fake used in tests) applies them. Backends apply a batch in order
//! and report one result per operation, so a pipelining backend can send many
//! operations per round trip.

use serde::{Deserialize, Serialize};

use crate::model::{DestKey, Destination, Service, ServiceKey, Table};

/// One change to the kernel table.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum Operation {
    AddService(Service),
    /// Edit a service in place (scheduler, flags, persistence, netmask, pe).
    EditService(Service),
    DelService(ServiceKey),
    AddDest(ServiceKey, Destination),
    /// Edit a destination in place (weight, forwarding, thresholds, tunnel).
    EditDest(ServiceKey, Destination),
    DelDest(ServiceKey, DestKey),
}

/// Why one operation failed. `errno` is the kernel's positive errno.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{message}")]
pub struct OpError {
    pub errno: i32,
    pub message: String,
}

/// Something that holds an IPVS table: the kernel (over netlink) or a fake.
pub trait IpvsBackend {
    /// The whole table (services with their destinations).
    fn dump(&mut self) -> Result<Table, OpError>;
    /// Applies operations in order; returns one result per operation.
    fn apply(&mut self, ops: &[Operation]) -> Vec<Result<(), OpError>>;
}
