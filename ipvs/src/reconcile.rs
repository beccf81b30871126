//! Applying a desired table: dump the kernel, diff the owned part, apply
//! the operations (pipelined by the backend), and report what failed.
//! Idempotent: a second run finds nothing to do. Run periodically, it
//! repairs drift (entries changed or removed behind lvsd's back).

use std::collections::HashSet;

use crate::diff;
use crate::model::{ServiceKey, Table};
use crate::ops::{IpvsBackend, OpError, Operation};

/// What one reconcile did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ReconcileReport {
    /// Operations sent to the kernel.
    pub applied: usize,
    /// Those that failed, with the kernel's reason.
    pub failed: Vec<(Operation, OpError)>,
}

impl ReconcileReport {
    pub fn is_clean(&self) -> bool {
        self.failed.is_empty()
    }
}

/// Errors that mean "already as wanted" (a race with another writer, or
/// keepalived's tolerance): EEXIST on add, ENOENT/ESRCH on delete.
fn harmless(op: &Operation, e: &OpError) -> bool {
    const EEXIST: i32 = 17;
    const ENOENT: i32 = 2;
    const ESRCH: i32 = 3;
    match op {
        Operation::AddService(_) | Operation::AddDest(..) => e.errno == EEXIST,
        Operation::DelService(_) | Operation::DelDest(..) => e.errno == ENOENT || e.errno == ESRCH,
        _ => false,
    }
}

/// Brings the kernel to `desired` for the services lvsd owns; updates
/// `owned` (desired services become owned, deleted ones are released).
pub fn reconcile(
    backend: &mut dyn IpvsBackend,
    desired: &Table,
    owned: &mut HashSet<ServiceKey>,
) -> Result<ReconcileReport, OpError> {
    let kernel = backend.dump()?;
    Ok(reconcile_with(backend, desired, &kernel, owned))
}

/// Like `reconcile`, with a kernel table the caller already dumped.
pub fn reconcile_with(
    backend: &mut dyn IpvsBackend,
    desired: &Table,
    kernel: &Table,
    owned: &mut HashSet<ServiceKey>,
) -> ReconcileReport {
    let ops = diff::plan(desired, kernel, owned);
    let mut report = ReconcileReport {
        applied: ops.len(),
        failed: Vec::new(),
    };
    if ops.is_empty() {
        *owned = diff::owned_after(desired);
        return report;
    }
    let results = backend.apply(&ops);
    let mut still_owned = diff::owned_after(desired);
    for (op, res) in ops.into_iter().zip(results) {
        if let Err(e) = res {
            if harmless(&op, &e) {
                continue;
            }
            if let Operation::DelService(k) = &op {
                still_owned.insert(*k);
            }
            report.failed.push((op, e));
        }
    }
    *owned = still_owned;
    report
}
