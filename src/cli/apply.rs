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
    let desired = startup::startup_table(&loaded.config);
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
    let report = reconcile::reconcile_with(&mut client, &desired, &kernel, &mut own);
    let t3 = std::time::Instant::now();
    if a.timing {
        eprintln!(
            "lvsd: timing: config {} ms, kernel dump {} ms, diff and apply {} ms",
            (t1 - t0).as_millis(),
            (t2 - t1).as_millis(),
            (t3 - t2).as_millis()
        );
    }
    if let Err(e) = owned::save(owned_path, &own) {
        eprintln!("lvsd: {e}");
        return exit::RUNTIME;
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
    if report.is_clean() {
        exit::OK
    } else {
        exit::RUNTIME
    }
}
