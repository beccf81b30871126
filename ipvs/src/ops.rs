//! Operations on an IPVS table and the backend trait that performs them.
//!
//! The reconciler produces `Operation`s; a backend (the netlink client, or the
//! in-memory fake used in tests) applies them. Backends apply a batch in order
//! and report one result per operation, so a pipelining backend can send many
//! operations per round trip.

use serde::{Deserialize, Serialize};

use crate::listing::{IpvsInfo, ListedDest, ListedService, Listing};
use crate::model::{DestKey, Destination, Service, ServiceKey, Table};
pub use crate::netlink::convert::Timeouts;

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

impl std::fmt::Display for Operation {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        use crate::model::SocketText;
        match self {
            Operation::AddService(s) => write!(f, "add service {}", s.key),
            Operation::EditService(s) => write!(f, "edit service {}", s.key),
            Operation::DelService(k) => write!(f, "delete service {k}"),
            Operation::AddDest(k, d) => {
                write!(f, "add destination {} to {k}", SocketText(d.addr, d.port))
            }
            Operation::EditDest(k, d) => {
                write!(f, "edit destination {} of {k}", SocketText(d.addr, d.port))
            }
            Operation::DelDest(k, d) => write!(
                f,
                "delete destination {} of {k}",
                SocketText(d.addr, d.port)
            ),
        }
    }
}

impl Operation {
    /// The service this operation is about.
    pub fn service_key(&self) -> ServiceKey {
        match self {
            Operation::AddService(s) | Operation::EditService(s) => s.key,
            Operation::DelService(k)
            | Operation::AddDest(k, _)
            | Operation::EditDest(k, _)
            | Operation::DelDest(k, _) => *k,
        }
    }
}

/// The Linux errno values IPVS operations fail with (positive, as in
/// `OpError::errno`).
pub mod errno {
    pub const ENOENT: i32 = 2;
    pub const ESRCH: i32 = 3;
    pub const EEXIST: i32 = 17;
    pub const EINVAL: i32 = 22;
    pub const ERANGE: i32 = 34;
    pub const EAFNOSUPPORT: i32 = 97;
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

    /// The table with counters and statistics (`ipvsadm -L --stats`).
    /// Default: the dump with zero counters.
    fn listing(&mut self) -> Result<Listing, OpError> {
        let table = self.dump()?;
        Ok(Listing {
            info: IpvsInfo {
                version: 0,
                conn_tab_size: 0,
            },
            services: table
                .services
                .into_iter()
                .map(|e| ListedService {
                    service: e.service,
                    stats: Default::default(),
                    destinations: e
                        .destinations
                        .into_iter()
                        .map(|dest| ListedDest {
                            dest,
                            counters: Default::default(),
                            stats: Default::default(),
                        })
                        .collect(),
                })
                .collect(),
        })
    }

    /// Deletes every service, lvsd's or not (`ipvsadm -C`). Default: one
    /// delete per service of the dump.
    fn flush(&mut self) -> Result<(), OpError> {
        let table = self.dump()?;
        let ops: Vec<Operation> = table
            .services
            .iter()
            .map(|e| Operation::DelService(e.service.key))
            .collect();
        self.apply(&ops).into_iter().collect()
    }

    /// Sets the connection timeouts (seconds; 0 leaves a value unchanged,
    /// `ipvsadm --set`). Default: unsupported.
    fn set_timeouts(&mut self, _t: &Timeouts) -> Result<(), OpError> {
        Err(OpError {
            errno: errno::EINVAL,
            message: "this backend cannot set timeouts".into(),
        })
    }
}
