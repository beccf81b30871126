//! Command-line interface: keepalived-compatible daemon flags plus lvsd's
//! subcommands (`plan`, `apply`, `list`, `genhash`, ...).

pub mod apply;
pub mod args;
pub mod config_test;
pub mod control;
pub mod genhash;
pub mod list;
pub mod plan;

use std::path::Path;

use crate::config::{self, LoadOptions, Loaded, PreprocessOptions};

/// Exit codes (close to keepalived's; see README).
pub mod exit {
    pub const OK: i32 = 0;
    /// The daemon answered with an error (refused reload, unknown server,
    /// permission denied).
    pub const FAILED: i32 = 1;
    /// Runtime failure (IPVS unavailable, I/O).
    pub const RUNTIME: i32 = 2;
    pub const MISSING_FILE: i32 = 4;
    pub const CONFIG: i32 = 5;
    pub const SCRIPT_SECURITY: i32 = 6;
    /// The daemon is not running (no control socket, connection refused).
    pub const NOT_RUNNING: i32 = 3;
    /// Bad command-line value.
    pub const USAGE: i32 = 64;
}

/// Loads the configuration named by the common flags.
/// For one-shot commands that build large tables (`apply`, `plan`): grow
/// the heap in 64 MiB steps instead of 128 KiB. Far fewer page faults
/// where the kernel backs anonymous memory with transparent huge pages
/// (thousands of faults for a 2,000 x 20 config otherwise; each is costly
/// in a virtual machine). Not for the daemon, whose heap should stay small.
pub fn large_heap() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    // SAFETY: mallopt only changes allocator parameters; a refusal (0)
    // leaves the defaults, which is fine.
    unsafe {
        libc::mallopt(libc::M_TOP_PAD, 64 << 20);
    }
}

pub fn load(file: &Path, config_id: Option<&str>, host_checks: bool) -> Loaded {
    let mut pre = PreprocessOptions::default();
    if let Some(id) = config_id {
        pre.config_id = id.to_string();
    }
    let opts = LoadOptions {
        preprocess: pre,
        build: config::BuildOptions { host_checks },
    };
    config::load_file(file, &opts)
}
