//! `enable_script_security` rules: a script run as root must not be
//! writable by non-root, nor may any directory on its path; it must exist
//! and be executable.

use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};

use thiserror::Error;

#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum SecurityError {
    #[error("script {0}: not found")]
    Missing(PathBuf),
    #[error("script {0}: path must be absolute")]
    Relative(PathBuf),
    #[error("script {path}: not executable (mode {mode:o})")]
    NotExecutable { path: PathBuf, mode: u32 },
    #[error("script {path}: {what} writable by non-root (owner uid {uid}, mode {mode:o}) and the script runs as root")]
    Writable {
        path: PathBuf,
        what: &'static str,
        uid: u32,
        mode: u32,
    },
}

/// Checks `path` (absolute) for being safe to run as `run_as_uid`.
pub fn check_script_security(path: &Path, run_as_uid: u32) -> Result<(), SecurityError> {
    if !path.is_absolute() {
        return Err(SecurityError::Relative(path.to_path_buf()));
    }
    let md = std::fs::metadata(path).map_err(|_| SecurityError::Missing(path.to_path_buf()))?;
    let mode = md.mode() & 0o7777;
    if !md.is_file() || mode & 0o111 == 0 {
        return Err(SecurityError::NotExecutable {
            path: path.to_path_buf(),
            mode,
        });
    }
    if run_as_uid != 0 {
        return Ok(());
    }
    check_writable(path, "file", md.uid(), mode)?;
    let mut dir = path.parent();
    while let Some(d) = dir {
        if let Ok(dm) = std::fs::metadata(d) {
            let m = dm.mode() & 0o7777;
            // sticky directories (/tmp) still let others replace their own
            // files only; keepalived refuses them too unless owned by root
            // and not group/other writable.
            check_writable(d, "directory", dm.uid(), m)?;
        }
        dir = d.parent();
    }
    Ok(())
}

fn check_writable(p: &Path, what: &'static str, uid: u32, mode: u32) -> Result<(), SecurityError> {
    if uid != 0 || mode & 0o022 != 0 {
        return Err(SecurityError::Writable {
            path: p.to_path_buf(),
            what,
            uid,
            mode,
        });
    }
    Ok(())
}
