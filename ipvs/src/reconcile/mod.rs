//! The desired-state reconciler: diff the desired table against the
//! kernel's (`plan`), run the operations through any `IpvsBackend`
//! (`apply`), and keep the set of owned services up to date.
//!
//! Idempotent: once applied, a second reconcile plans nothing. Drift (an
//! entry changed or removed behind lvsd's back) is repaired by simply
//! reconciling again. Services neither owned nor desired are never touched.

pub mod apply;
pub mod plan;

use std::collections::HashSet;

pub use apply::{apply, is_race, owned_after_apply, ApplyOptions, ReconcileReport, ServiceReport};
pub use plan::plan;

use crate::model::{ServiceKey, Table};
use crate::ops::{IpvsBackend, OpError};

/// Dumps the kernel, then `reconcile_with` (default options).
pub fn reconcile(
    backend: &mut dyn IpvsBackend,
    desired: &Table,
    owned: &mut HashSet<ServiceKey>,
) -> Result<ReconcileReport, OpError> {
    let kernel = backend.dump()?;
    Ok(reconcile_with(backend, desired, &kernel, owned))
}

/// Plans against a kernel table the caller already dumped, applies with
/// the default options (races tolerated), and updates `owned`.
pub fn reconcile_with(
    backend: &mut dyn IpvsBackend,
    desired: &Table,
    kernel: &Table,
    owned: &mut HashSet<ServiceKey>,
) -> ReconcileReport {
    reconcile_with_options(backend, desired, kernel, owned, ApplyOptions::default())
}

/// `reconcile_with` with explicit options.
pub fn reconcile_with_options(
    backend: &mut dyn IpvsBackend,
    desired: &Table,
    kernel: &Table,
    owned: &mut HashSet<ServiceKey>,
    options: ApplyOptions,
) -> ReconcileReport {
    let ops = plan(desired, kernel, owned);
    let report = apply(backend, ops, options);
    *owned = owned_after_apply(
        desired.services.iter().map(|e| e.service.key),
        owned,
        &report,
    );
    report
}
