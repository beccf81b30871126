//! Running a plan through a backend and reporting what happened, overall
//! and per service, and what lvsd owns afterwards.

use std::collections::{BTreeMap, HashSet};

use crate::model::ServiceKey;
use crate::ops::errno::{EEXIST, ENOENT, ESRCH};
use crate::ops::{IpvsBackend, OpError, Operation};

/// How `apply` judges errors.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ApplyOptions {
    /// keepalived's tolerance: `EEXIST` on an add and `ENOENT`/`ESRCH` on a
    /// delete mean the kernel is already as wanted (a race with another
    /// writer) and count as success. On by default.
    pub tolerate_races: bool,
}

impl Default for ApplyOptions {
    fn default() -> Self {
        ApplyOptions {
            tolerate_races: true,
        }
    }
}

/// What happened to one service's operations.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ServiceReport {
    pub attempted: usize,
    /// Including tolerated errors.
    pub succeeded: usize,
    pub failed: Vec<(Operation, OpError)>,
}

/// What one apply (or reconcile) did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ReconcileReport {
    /// Operations sent to the backend (attempted).
    pub applied: usize,
    /// Operations that succeeded, tolerated errors included.
    pub succeeded: usize,
    /// Errors counted as success under `ApplyOptions::tolerate_races`.
    pub tolerated: usize,
    /// Operations that failed, with the kernel's reason, in order.
    pub failed: Vec<(Operation, OpError)>,
    /// The same per service (only services that had operations).
    pub services: BTreeMap<ServiceKey, ServiceReport>,
}

impl ReconcileReport {
    pub fn is_clean(&self) -> bool {
        self.failed.is_empty()
    }

    /// Operations attempted (same as `applied`).
    pub fn attempted(&self) -> usize {
        self.applied
    }
}

/// Whether an error means "already as wanted".
pub fn is_race(op: &Operation, error: &OpError) -> bool {
    match op {
        Operation::AddService(_) | Operation::AddDest(..) => error.errno == EEXIST,
        Operation::DelService(_) | Operation::DelDest(..) => {
            error.errno == ENOENT || error.errno == ESRCH
        }
        Operation::EditService(_) | Operation::EditDest(..) => false,
    }
}

/// Applies `ops` in order through `backend` (one batch, so a pipelining
/// backend can send them in few round trips) and reports the results.
pub fn apply(
    backend: &mut dyn IpvsBackend,
    ops: Vec<Operation>,
    options: ApplyOptions,
) -> ReconcileReport {
    let mut report = ReconcileReport {
        applied: ops.len(),
        ..Default::default()
    };
    if ops.is_empty() {
        return report;
    }
    let mut results = backend.apply(&ops).into_iter();
    // Operations come grouped by service (a new service and its
    // destinations are adjacent), so each run of one service's operations
    // is counted locally and looked up in the sorted map once.
    let mut run: Option<(ServiceKey, ServiceReport)> = None;
    for op in ops {
        let result = results.next().unwrap_or_else(|| {
            Err(OpError {
                errno: 0,
                message: "the backend returned no result for this operation".into(),
            })
        });
        let key = op.service_key();
        if run.as_ref().is_some_and(|(k, _)| *k != key) {
            if let Some((k, r)) = run.take() {
                merge_service_report(&mut report, k, r);
            }
        }
        let per_service = &mut run.get_or_insert_with(|| (key, ServiceReport::default())).1;
        per_service.attempted += 1;
        match result {
            Ok(()) => {
                report.succeeded += 1;
                per_service.succeeded += 1;
            }
            Err(e) if options.tolerate_races && is_race(&op, &e) => {
                report.succeeded += 1;
                report.tolerated += 1;
                per_service.succeeded += 1;
            }
            Err(e) => {
                per_service.failed.push((op.clone(), e.clone()));
                report.failed.push((op, e));
            }
        }
    }
    if let Some((k, r)) = run {
        merge_service_report(&mut report, k, r);
    }
    report
}

/// Adds one run of a service's results to its entry in `report.services`.
fn merge_service_report(report: &mut ReconcileReport, key: ServiceKey, run: ServiceReport) {
    let entry = report.services.entry(key).or_default();
    entry.attempted += run.attempted;
    entry.succeeded += run.succeeded;
    entry.failed.extend(run.failed);
}

/// What lvsd owns after applying a plan for `desired`: the desired
/// services (adopted or created), except those whose creation failed, plus
/// previously owned services whose deletion failed.
pub fn owned_after_apply(
    desired_keys: impl IntoIterator<Item = ServiceKey>,
    previously_owned: &HashSet<ServiceKey>,
    report: &ReconcileReport,
) -> HashSet<ServiceKey> {
    let mut owned: HashSet<ServiceKey> = desired_keys.into_iter().collect();
    for (op, _) in &report.failed {
        match op {
            Operation::AddService(s) => {
                owned.remove(&s.key);
            }
            Operation::DelService(k) if previously_owned.contains(k) => {
                owned.insert(*k);
            }
            _ => {}
        }
    }
    owned
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::fake::FakeIpvs;
    use crate::model::{Destination, Protocol, Service};
    use crate::ops::errno::ESRCH;

    fn key(port: u16) -> ServiceKey {
        ServiceKey::Addr {
            protocol: Protocol::Tcp,
            addr: std::net::IpAddr::from([10, 0, 0, 1]),
            port,
        }
    }

    fn dest(last: u8) -> Destination {
        Destination::new(std::net::IpAddr::from([10, 0, 1, last]), 80)
    }

    /// A service's operations need not be adjacent: its counts and
    /// failures add up across runs, in order.
    #[test]
    fn per_service_reports_add_up_over_separate_runs() {
        let (a, b) = (key(80), key(443));
        let mut fake = FakeIpvs::new();
        let ops = vec![
            Operation::AddService(Service::new(a)),
            Operation::AddDest(a, dest(1)),
            Operation::AddDest(b, dest(1)), // no such service
            Operation::AddDest(a, dest(2)),
            Operation::AddDest(b, dest(2)), // no such service
            Operation::AddService(Service::new(b)),
            Operation::AddDest(b, dest(3)),
        ];
        let r = apply(&mut fake, ops, ApplyOptions::default());
        assert_eq!((r.applied, r.succeeded), (7, 5));
        assert_eq!(r.services.len(), 2);
        let ra = &r.services[&a];
        assert_eq!((ra.attempted, ra.succeeded, ra.failed.len()), (3, 3, 0));
        let rb = &r.services[&b];
        assert_eq!((rb.attempted, rb.succeeded), (4, 2));
        let failed: Vec<(String, i32)> = rb
            .failed
            .iter()
            .map(|(op, e)| (op.to_string(), e.errno))
            .collect();
        assert_eq!(
            failed,
            vec![
                (Operation::AddDest(b, dest(1)).to_string(), ESRCH),
                (Operation::AddDest(b, dest(2)).to_string(), ESRCH),
            ]
        );
        assert_eq!(r.failed.len(), 2);
    }
}
