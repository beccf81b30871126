//! `lvsd plan`: the start-up IPVS table in `ipvsadm -Sn` format.

use std::io::Write;

use crate::director::startup;

use super::args::Common;
use super::{exit, load};

/// Loads the config for a command that acts on it: errors are listed and
/// refuse the run unless `--ignore-config-errors`.
pub fn load_for_run(common: &Common) -> Result<crate::config::Loaded, i32> {
    let loaded = load(&common.file, common.config_id.as_deref(), false);
    if loaded.has_errors() {
        let mut err = std::io::stderr().lock();
        let _ = err.write_all(loaded.render_diagnostics().as_bytes());
        if !common.ignore_config_errors {
            let code = loaded.diagnostics.exit_code();
            let _ = writeln!(
                err,
                "lvsd: {}: {} error{} in the configuration; refusing to run (use --ignore-config-errors to skip the faulty items)",
                common.file.display(),
                loaded.diagnostics.error_count(),
                super::config_test::plural(loaded.diagnostics.error_count())
            );
            return Err(if code == 0 { exit::CONFIG } else { code });
        }
    }
    Ok(loaded)
}

pub fn run(common: &Common) -> i32 {
    super::large_heap();
    let loaded = match load_for_run(common) {
        Ok(l) => l,
        Err(code) => return code,
    };
    let table = startup::startup_table(&loaded.config);
    print!("{}", lvsd_ipvs::format::save_table(&table));
    exit::OK
}
