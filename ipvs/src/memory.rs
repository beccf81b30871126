//! `MemoryIpvs`: a deterministic in-memory kernel table with the kernel's
//! semantics and errno (ip_vs_ctl.c), for fast tests of everything that
//! programs IPVS. It counts operations and keeps per-service counters so
//! tests can prove that untouched services were not recreated.

use std::collections::BTreeSet;

use crate::model::{ServiceEntry, ServiceKey, Table, TunnelType};
use crate::ops::{IpvsBackend, OpError, Operation};

pub const EEXIST: i32 = 17;
pub const ENOENT: i32 = 2;
pub const ESRCH: i32 = 3;
pub const ERANGE: i32 = 34;
pub const EINVAL: i32 = 22;
pub const EAFNOSUPPORT: i32 = 97;

/// Schedulers of the lab kernel (Debian 6.1 has no `twos`).
pub const DEFAULT_SCHEDULERS: &[&str] = &[
    "rr", "wrr", "lc", "wlc", "lblc", "lblcr", "dh", "sh", "sed", "nq", "fo", "ovf", "mh",
];

#[derive(Debug, Clone)]
pub struct MemoryIpvs {
    table: Table,
    /// Per service: a generation number that changes when the service is
    /// created (a re-created service loses its counters in the kernel).
    generations: Vec<(ServiceKey, u64)>,
    next_generation: u64,
    pub schedulers: BTreeSet<String>,
    pub ipv6: bool,
    /// Every operation applied, successful or not.
    pub log: Vec<Operation>,
}

impl Default for MemoryIpvs {
    fn default() -> Self {
        MemoryIpvs {
            table: Table::default(),
            generations: Vec::new(),
            next_generation: 1,
            schedulers: DEFAULT_SCHEDULERS.iter().map(|s| s.to_string()).collect(),
            ipv6: true,
            log: Vec::new(),
        }
    }
}

fn err(errno: i32, message: impl Into<String>) -> OpError {
    OpError {
        errno,
        message: message.into(),
    }
}

impl MemoryIpvs {
    pub fn table(&self) -> &Table {
        &self.table
    }

    /// The creation generation of a service (None if absent).
    pub fn generation(&self, key: &ServiceKey) -> Option<u64> {
        self.generations
            .iter()
            .find(|(k, _)| k == key)
            .map(|(_, g)| *g)
    }

    fn index(&self, key: &ServiceKey) -> Option<usize> {
        self.table
            .services
            .iter()
            .position(|e| &e.service.key == key)
    }

    fn check_service(&self, s: &crate::model::Service) -> Result<(), OpError> {
        if s.key.af() == crate::model::AddressFamily::Inet6 && !self.ipv6 {
            return Err(err(
                EAFNOSUPPORT,
                "IPv6 is not supported by this kernel's IPVS",
            ));
        }
        if !self.schedulers.contains(&s.scheduler) {
            return Err(err(
                ENOENT,
                format!("scheduler module ip_vs_{} is not available", s.scheduler),
            ));
        }
        Ok(())
    }

    fn check_dest(d: &crate::model::Destination) -> Result<(), OpError> {
        if d.weight > i32::MAX as u32 || d.u_threshold > i32::MAX as u32 {
            return Err(err(ERANGE, "weight or threshold out of range"));
        }
        if d.l_threshold > d.u_threshold {
            return Err(err(ERANGE, "lower threshold is above the upper threshold"));
        }
        if d.forward == crate::model::ForwardMethod::Tunnel
            && d.tunnel.kind == TunnelType::Gue
            && d.tunnel.port == 0
        {
            return Err(err(EINVAL, "GUE tunnel needs a port"));
        }
        Ok(())
    }

    fn apply_one(&mut self, op: &Operation) -> Result<(), OpError> {
        match op {
            Operation::AddService(s) => {
                self.check_service(s)?;
                if self.index(&s.key).is_some() {
                    return Err(err(EEXIST, "service already exists"));
                }
                let mut s = s.clone();
                s.flags &= !crate::model::svc_flags::HASHED;
                self.table.services.push(ServiceEntry {
                    service: s.clone(),
                    destinations: Vec::new(),
                });
                self.generations.retain(|(k, _)| k != &s.key);
                self.generations.push((s.key, self.next_generation));
                self.next_generation += 1;
                Ok(())
            }
            Operation::EditService(s) => {
                self.check_service(s)?;
                let i = self
                    .index(&s.key)
                    .ok_or_else(|| err(ESRCH, "no such service"))?;
                self.table.services[i].service = s.clone();
                Ok(())
            }
            Operation::DelService(k) => {
                let i = self.index(k).ok_or_else(|| err(ESRCH, "no such service"))?;
                self.table.services.remove(i);
                self.generations.retain(|(g, _)| g != k);
                Ok(())
            }
            Operation::AddDest(k, d) => {
                Self::check_dest(d)?;
                let i = self.index(k).ok_or_else(|| err(ESRCH, "no such service"))?;
                let e = &mut self.table.services[i];
                if e.destinations.iter().any(|x| x.key() == d.key()) {
                    return Err(err(EEXIST, "destination already exists"));
                }
                e.destinations.push(d.clone());
                Ok(())
            }
            Operation::EditDest(k, d) => {
                Self::check_dest(d)?;
                let i = self.index(k).ok_or_else(|| err(ESRCH, "no such service"))?;
                let e = &mut self.table.services[i];
                let j = e
                    .destinations
                    .iter()
                    .position(|x| x.key() == d.key())
                    .ok_or_else(|| err(ENOENT, "no such destination"))?;
                e.destinations[j] = d.clone();
                Ok(())
            }
            Operation::DelDest(k, dk) => {
                let i = self.index(k).ok_or_else(|| err(ESRCH, "no such service"))?;
                let e = &mut self.table.services[i];
                let j = e
                    .destinations
                    .iter()
                    .position(|x| &x.key() == dk)
                    .ok_or_else(|| err(ENOENT, "no such destination"))?;
                e.destinations.remove(j);
                Ok(())
            }
        }
    }
}

impl IpvsBackend for MemoryIpvs {
    fn dump(&mut self) -> Result<Table, OpError> {
        Ok(self.table.clone())
    }

    fn apply(&mut self, ops: &[Operation]) -> Vec<Result<(), OpError>> {
        ops.iter()
            .map(|op| {
                self.log.push(op.clone());
                self.apply_one(op)
            })
            .collect()
    }
}
