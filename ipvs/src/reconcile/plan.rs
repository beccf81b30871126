//! The desired-state diff: the minimal ordered operations that make the
//! part of the kernel table lvsd owns equal to the desired table.
//!
//! - Services are matched by `ServiceKey` (their identity): a service whose
//!   key changed (protocol, address, port, mark, family) is another service,
//!   so the old one is deleted and the new one added. Scheduler, flags,
//!   persistence timeout, netmask and persistence engine are edited in place.
//! - Destinations are matched by `DestKey` (address, port); forwarding,
//!   weight, thresholds and tunnel settings are edited in place.
//! - Only desired or owned services are touched: an operator's own
//!   `ipvsadm` services stay. A desired service already in the kernel is
//!   adopted (diffed, not recreated).
//! - Order: destination deletions, service deletions, each new service
//!   followed at once by its destinations, then edits and destination
//!   additions to existing services; so a service is added before its
//!   destinations and its destinations go before it does.
//! - A new service's destinations come right after it because the kernel
//!   finds the service of every destination request in a hash chain that
//!   it walks from the newest service: on a chain that many services share
//!   (the kernel hashes only address, port and protocol into 256 buckets,
//!   so VIPs `10.1.N.1` on one port all collide), adding all services
//!   first made each destination walk past up to all of them. This is
//!   keepalived's order too.
//!
//! O(n) in the number of entries (hash maps); the only sort is over the
//! stale keys and removed destinations, for a deterministic order.

use std::collections::{HashMap, HashSet};

use crate::model::{
    svc_flags, DestKey, Destination, ForwardMethod, Service, ServiceEntry, ServiceKey, Table,
};
use crate::ops::Operation;

/// True when the kernel's service must be edited to become `want`
/// (the kernel-internal HASHED flag is ignored; the timeout matters only
/// for persistent services).
pub fn service_differs(want: &Service, have: &Service) -> bool {
    let flags = |s: &Service| s.flags & !svc_flags::HASHED;
    want.scheduler != have.scheduler
        || flags(want) != flags(have)
        || (want.is_persistent() && want.timeout != have.timeout)
        || want.netmask != have.netmask
        || want.pe_name != have.pe_name
}

/// True when the kernel's destination must be edited to become `want`
/// (tunnel settings matter only for tunnelling destinations).
pub fn dest_differs(want: &Destination, have: &Destination) -> bool {
    want.forward != have.forward
        || want.weight != have.weight
        || want.u_threshold != have.u_threshold
        || want.l_threshold != have.l_threshold
        || (want.forward == ForwardMethod::Tunnel && want.tunnel != have.tunnel)
}

/// Operations grouped by phase, concatenated in `into_ops`.
#[derive(Default)]
struct Phases {
    dest_dels: Vec<Operation>,
    service_dels: Vec<Operation>,
    /// Each new service, followed by its destinations.
    service_adds: Vec<Operation>,
    edits: Vec<Operation>,
    dest_adds: Vec<Operation>,
}

impl Phases {
    fn into_ops(self) -> Vec<Operation> {
        // Without deletions (a first start, a reload that only adds), the
        // new services' operations, usually most of the plan, are kept in
        // place rather than copied behind empty phases.
        let mut ops = if self.dest_dels.is_empty() && self.service_dels.is_empty() {
            self.service_adds
        } else {
            let mut ops = self.dest_dels;
            ops.extend(self.service_dels);
            ops.extend(self.service_adds);
            ops
        };
        ops.extend(self.edits);
        ops.extend(self.dest_adds);
        ops
    }

    fn add_service(&mut self, want: &ServiceEntry) {
        let key = want.service.key;
        self.service_adds
            .push(Operation::AddService(want.service.clone()));
        self.service_adds.extend(
            want.destinations
                .iter()
                .map(|d| Operation::AddDest(key, d.clone())),
        );
    }

    fn update_service(&mut self, want: &ServiceEntry, have: &ServiceEntry) {
        let key = want.service.key;
        if service_differs(&want.service, &have.service) {
            self.edits
                .push(Operation::EditService(want.service.clone()));
        }
        let have_dests: HashMap<DestKey, &Destination> =
            have.destinations.iter().map(|d| (d.key(), d)).collect();
        let want_keys: HashSet<DestKey> = want.destinations.iter().map(|d| d.key()).collect();
        let mut gone: Vec<DestKey> = have_dests
            .keys()
            .filter(|k| !want_keys.contains(k))
            .copied()
            .collect();
        gone.sort();
        self.dest_dels
            .extend(gone.into_iter().map(|d| Operation::DelDest(key, d)));
        for dest in &want.destinations {
            match have_dests.get(&dest.key()) {
                None => self.dest_adds.push(Operation::AddDest(key, dest.clone())),
                Some(have) if dest_differs(dest, have) => {
                    self.edits.push(Operation::EditDest(key, dest.clone()))
                }
                Some(_) => {}
            }
        }
    }
}

/// The operations that turn the owned part of `kernel` into `desired`.
/// `owned`: the services lvsd created or adopted earlier (see `owned`).
pub fn plan(desired: &Table, kernel: &Table, owned: &HashSet<ServiceKey>) -> Vec<Operation> {
    let in_kernel: HashMap<ServiceKey, &ServiceEntry> =
        kernel.services.iter().map(|e| (e.service.key, e)).collect();
    let desired_keys: HashSet<ServiceKey> =
        desired.services.iter().map(|e| e.service.key).collect();
    let mut phases = Phases::default();

    let mut stale: Vec<ServiceKey> = owned
        .iter()
        .filter(|k| !desired_keys.contains(k) && in_kernel.contains_key(k))
        .copied()
        .collect();
    stale.sort();
    phases
        .service_dels
        .extend(stale.into_iter().map(Operation::DelService));

    let mut seen = HashSet::with_capacity(desired.services.len());
    for want in &desired.services {
        if !seen.insert(want.service.key) {
            continue; // a duplicate key: the first entry wins
        }
        match in_kernel.get(&want.service.key) {
            None => phases.add_service(want),
            Some(have) => phases.update_service(want, have),
        }
    }
    phases.into_ops()
}

/// The owned set once `desired` is fully applied: exactly its services.
pub fn owned_after(desired: &Table) -> HashSet<ServiceKey> {
    desired.services.iter().map(|e| e.service.key).collect()
}
