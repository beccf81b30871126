//! `lvsd apply -f FILE`: program the start-up table `lvsd plan` prints,
//! once (the daemon's first reconcile), touching only the services lvsd
//! owns, and record ownership for the next run.

use std::path::Path;

use lvsd_ipvs::netlink::client::IpvsClient;
use lvsd_ipvs::{owned, reconcile};

use crate::director::startup;

use super::args::{ApplyArgs, Common};
use super::exit;
use super::plan::load_for_run;

pub fn run(common: &Common, a: &ApplyArgs) -> i32 {
    let t0 = std::time::Instant::now();
    let loaded = match load_for_run(common) {
        Ok(l) => l,
        Err(code) => return code,
    };
    let t_parsed = std::time::Instant::now();
    let desired = startup::startup_table(&loaded.config);
    let t_desired = std::time::Instant::now();
    let owned_path = Path::new(&a.owned_file);
    let mut own = match owned::load(owned_path) {
        Ok(o) => o,
        Err(e) => {
            eprintln!("lvsd: {e}");
            return exit::RUNTIME;
        }
    };
    let mut client = match IpvsClient::open() {
        Ok(c) => c,
        Err(e) => {
            eprintln!("lvsd: {e}");
            return exit::RUNTIME;
        }
    };
    let t1 = std::time::Instant::now();
    let kernel = match client.table() {
        Ok(t) => t,
        Err(e) => {
            eprintln!("lvsd: cannot read the IPVS table: {e}");
            return exit::RUNTIME;
        }
    };
    let t2 = std::time::Instant::now();
    let ops = reconcile::plan(&desired, &kernel, &own);
    let t_diff = std::time::Instant::now();
    let n_ops = ops.len();
    let report = reconcile::apply(&mut client, ops, reconcile::ApplyOptions::default());
    own = reconcile::owned_after_apply(
        desired.services.iter().map(|e| e.service.key),
        &own,
        &report,
    );
    let t3 = std::time::Instant::now();
    if let Err(e) = owned::save(owned_path, &own) {
        eprintln!("lvsd: {e}");
        return exit::RUNTIME;
    }
    let t4 = std::time::Instant::now();
    if a.timing {
        let ms = |a: std::time::Instant, b: std::time::Instant| (b - a).as_secs_f64() * 1e3;
        let entries: usize = kernel
            .services
            .iter()
            .map(|s| 1 + s.destinations.len())
            .sum();
        eprintln!(
            "lvsd: timing: config {:.0} ms (read and parse {:.0}, desired table {:.0}, \
             owned record and socket {:.0}), kernel dump {:.0} ms ({entries} entries), \
             diff and apply {:.0} ms (diff {:.0}, apply {:.0} for {n_ops} operations), \
             owned record saved {:.0} ms",
            ms(t0, t1),
            ms(t0, t_parsed),
            ms(t_parsed, t_desired),
            ms(t_desired, t1),
            ms(t1, t2),
            ms(t2, t3),
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
