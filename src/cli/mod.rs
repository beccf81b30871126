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
