//! `lvsd apply -f FILE`: program the start-up table `lvsd plan` prints,
//! once (the daemon's first reconcile), touching only the services lvsd
//! owns, and record ownership for the next run.

use std::collections::HashSet;
use std::path::Path;
use std::time::Instant;

use lvsd_ipvs::error::IpvsError;
use lvsd_ipvs::netlink::client::IpvsClient;
use lvsd_ipvs::{owned, reconcile, ServiceKey, Table};

use crate::director::startup;

use super::args::{ApplyArgs, Common};
use super::exit;
use super::plan::load_for_run;

/// The kernel side of an apply, read while the configuration is parsed.
enum KernelRead {
    Open(IpvsError),
    Dump(IpvsError),
}

/// Opens the IPVS socket and dumps the table; with the times it was open
/// and dumped.
fn read_kernel() -> Result<(IpvsClient, Table, Instant, Instant), KernelRead> {
    let mut client = IpvsClient::open().map_err(KernelRead::Open)?;
    let opened = Instant::now();
    let table = client.table().map_err(KernelRead::Dump)?;
    Ok((client, table, opened, Instant::now()))
}

pub fn run(common: &Common, a: &ApplyArgs) -> i32 {
    let t0 = Instant::now();
    super::large_heap();
    // The kernel's table is read on a second thread while the configuration
    // is parsed (both take long for large tables); errors are reported in
    // the same order as before: configuration, owned record, IPVS.
    let (loaded, kernel_read) = std::thread::scope(|scope| {
        let reader = scope.spawn(read_kernel);
        let loaded = load_for_run(common);
        (loaded, reader.join())
    });
    let loaded = match loaded {
        Ok(l) => l,
        Err(code) => return code,
    };
    let t_parsed = Instant::now();
    let desired = startup::startup_table(&loaded.config);
    let t_desired = Instant::now();
    let owned_path = Path::new(&a.owned_file);
    let mut own = match owned::load(owned_path) {
        Ok(o) => o,
        Err(e) => {
            eprintln!("lvsd: {e}");
            return exit::RUNTIME;
        }
    };
    let t1 = Instant::now();
    let (mut client, kernel, opened, dumped) = match kernel_read {
        Ok(Ok(k)) => k,
        Ok(Err(KernelRead::Open(e))) => {
            eprintln!("lvsd: {e}");
            return exit::RUNTIME;
        }
        Ok(Err(KernelRead::Dump(e))) => {
            eprintln!("lvsd: cannot read the IPVS table: {e}");
            return exit::RUNTIME;
        }
        Err(_) => {
            eprintln!("lvsd: the thread reading the IPVS table failed");
            return exit::RUNTIME;
        }
    };
    let t2 = Instant::now();
    let ops = reconcile::plan(&desired, &kernel, &own);
    let t_diff = Instant::now();
    let n_ops = ops.len();
    // The record is written while the kernel works: what lvsd will own if
    // every operation succeeds (the desired services), plus what it owned
    // before, in case a deletion fails. Written before the apply ends, it
    // also covers a crash part way through. If the outcome owns less, the
    // exact record replaces it afterwards.
    let planned: HashSet<ServiceKey> = desired
        .services
        .iter()
        .map(|e| e.service.key)
        .chain(own.iter().copied())
        .collect();
    let (report, planned_saved, t3) = std::thread::scope(|scope| {
        let saver = std::thread::Builder::new()
            .name("owned-record".into())
            .spawn_scoped(scope, || owned::save(owned_path, &planned));
        let report = reconcile::apply(&mut client, ops, reconcile::ApplyOptions::default());
        let t3 = Instant::now();
        let saved = match saver {
            Ok(handle) => handle.join().unwrap_or_else(|_| {
                Err(owned::OwnedError::Write {
                    path: owned_path.to_path_buf(),
                    source: std::io::Error::other("the thread writing the record failed"),
                })
            }),
            // No thread to be had: write it now.
            Err(_) => owned::save(owned_path, &planned),
        };
        (report, saved, t3)
    });
    own = reconcile::owned_after_apply(
        desired.services.iter().map(|e| e.service.key),
        &own,
        &report,
    );
    let saved = planned_saved.and_then(|()| {
        if own == planned {
            Ok(())
        } else {
            owned::save(owned_path, &own)
        }
    });
    if let Err(e) = saved {
        eprintln!("lvsd: {e}");
        return exit::RUNTIME;
    }
    let t4 = Instant::now();
    if a.timing {
        let ms = |a: Instant, b: Instant| (b.saturating_duration_since(a)).as_secs_f64() * 1e3;
        let entries: usize = kernel
            .services
            .iter()
            .map(|s| 1 + s.destinations.len())
            .sum();
        eprintln!(
            "lvsd: timing: config {:.0} ms (read and parse {:.0}, desired table {:.0}, \
             owned record {:.0}); in parallel: socket {:.0} ms, kernel dump {:.0} ms \
             ({entries} entries); after both {:.0} ms: diff {:.0} ms, apply {:.0} ms \
             for {n_ops} operations (owned record written meanwhile), then {:.0} ms \
             to finish the record",
            ms(t0, t1),
            ms(t0, t_parsed),
            ms(t_parsed, t_desired),
            ms(t_desired, t1),
            ms(t0, opened),
            ms(opened, dumped),
            ms(t0, t2),
            ms(t2, t_diff),
            ms(t_diff, t3),
            ms(t3, t4),
        );
    }
    for (op, e) in &report.failed {
        eprintln!("lvsd: {op}: {e}");
    }
    eprintln!(
        "lvsd: applied {} operation{}, {} failed",
        report.applied,
        if report.applied == 1 { "" } else { "s" },
        report.failed.len()
    );
    let code = if report.is_clean() {
        exit::OK
    } else {
        exit::RUNTIME
    };
    // The process exits next: its memory goes back to the system at once,
    // so skip freeing the configuration and both tables entry by entry
    // (tens of thousands of allocations for a large table).
    std::mem::forget((loaded, desired, kernel, report, own));
    code
}
