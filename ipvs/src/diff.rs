//! Desired-state diff: the minimal ordered operations that turn the part of
//! the kernel table lvsd owns into the desired table.
//!
//! - Services are matched by `ServiceKey`; one whose key changed is a
//!   different service (delete + add). Scheduler, flags, persistence,
//!   netmask and persistence engine are edited in place.
//! - Destinations are matched by address and port; weight, forwarding,
//!   thresholds and tunnel settings are edited in place.
//! - Only services that are desired or owned are touched: an operator's own
//!   `ipvsadm` services stay. A desired service already in the kernel is
//!   adopted.
//! - Order: service adds before their destination adds; destination
//!   deletions before service deletions; edits in between.

use std::collections::{HashMap, HashSet};

use crate::model::{svc_flags, DestKey, Destination, Service, ServiceKey, Table};
use crate::ops::Operation;

/// Compares services ignoring the kernel-internal HASHED flag.
fn service_differs(a: &Service, b: &Service) -> bool {
    a.scheduler != b.scheduler
        || (a.flags & !svc_flags::HASHED) != (b.flags & !svc_flags::HASHED)
        || (a.is_persistent() && a.timeout != b.timeout)
        || a.is_persistent() != b.is_persistent()
        || a.netmask != b.netmask
        || a.pe_name != b.pe_name
}

fn dest_differs(a: &Destination, b: &Destination) -> bool {
    a.forward != b.forward
        || a.weight != b.weight
        || a.u_threshold != b.u_threshold
        || a.l_threshold != b.l_threshold
        || (a.forward == crate::model::ForwardMethod::Tunnel && a.tunnel != b.tunnel)
}

/// The operations that make the kernel's owned part equal to `desired`.
/// `owned` is the set of services lvsd created or adopted earlier.
pub fn plan(desired: &Table, kernel: &Table, owned: &HashSet<ServiceKey>) -> Vec<Operation> {
    let kernel_by_key: HashMap<ServiceKey, usize> = kernel
        .services
        .iter()
        .enumerate()
        .map(|(i, e)| (e.service.key, i))
        .collect();
    let desired_keys: HashSet<ServiceKey> =
        desired.services.iter().map(|e| e.service.key).collect();

    let mut dest_dels = Vec::new();
    let mut svc_dels = Vec::new();
    let mut svc_adds = Vec::new();
    let mut edits = Vec::new();
    let mut dest_adds = Vec::new();

    // Owned services that are no longer desired.
    let mut stale: Vec<&ServiceKey> = owned
        .iter()
        .filter(|k| !desired_keys.contains(k) && kernel_by_key.contains_key(k))
        .collect();
    stale.sort();
    for key in stale {
        svc_dels.push(Operation::DelService(*key));
    }

    for entry in &desired.services {
        let key = entry.service.key;
        match kernel_by_key.get(&key).map(|&i| &kernel.services[i]) {
            None => {
                svc_adds.push(Operation::AddService(entry.service.clone()));
                for d in &entry.destinations {
                    dest_adds.push(Operation::AddDest(key, d.clone()));
                }
            }
            Some(have) => {
                if service_differs(&entry.service, &have.service) {
                    edits.push(Operation::EditService(entry.service.clone()));
                }
                let have_dests: HashMap<DestKey, &Destination> =
                    have.destinations.iter().map(|d| (d.key(), d)).collect();
                let want_keys: HashSet<DestKey> =
                    entry.destinations.iter().map(|d| d.key()).collect();
                let mut gone: Vec<DestKey> = have_dests
                    .keys()
                    .filter(|k| !want_keys.contains(k))
                    .copied()
                    .collect();
                gone.sort();
                for k in gone {
                    dest_dels.push(Operation::DelDest(key, k));
                }
                for d in &entry.destinations {
                    match have_dests.get(&d.key()) {
                        None => dest_adds.push(Operation::AddDest(key, d.clone())),
                        Some(h) if dest_differs(d, h) => {
                            edits.push(Operation::EditDest(key, d.clone()))
                        }
                        Some(_) => {}
                    }
                }
            }
        }
    }
    let mut ops = dest_dels;
    ops.extend(svc_dels);
    ops.extend(svc_adds);
    ops.extend(edits);
    ops.extend(dest_adds);
    ops
}

/// The owned set after applying a plan: desired services are owned, stale
/// ones are released once deleted.
pub fn owned_after(desired: &Table) -> HashSet<ServiceKey> {
    desired.services.iter().map(|e| e.service.key).collect()
}
