//! Who may do what on the control socket, and the socket file itself:
//! mode 0600 (root, or whoever runs lvsd), or 0660 with a group granted by
//! `--control-group`; read-only requests for anyone who can connect,
//! state-changing requests only for uid 0 or the socket owner's uid
//! (checked with `SO_PEERCRED`).
//!
//! The socket is bound under a temporary name, given its mode and group,
//! then renamed into place, so it is never reachable with looser rights.
//! A live socket at the path (another lvsd) is an error; a stale one is
//! replaced.

use std::ffi::CString;
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::{DirBuilderExt, FileTypeExt, PermissionsExt};
use std::path::{Path, PathBuf};

use thiserror::Error;
use tokio::net::UnixListener;

pub const DEFAULT_SOCKET: &str = "/run/lvsd/lvsd.sock";

#[derive(Debug, Error)]
pub enum AccessError {
    #[error("control socket {path}: {what}: {source}")]
    Io {
        path: PathBuf,
        what: &'static str,
        #[source]
        source: std::io::Error,
    },
    #[error("control socket {0}: another lvsd is listening there")]
    InUse(PathBuf),
    #[error("control socket {0}: exists and is not a socket")]
    NotASocket(PathBuf),
    #[error("unknown group {0}")]
    UnknownGroup(String),
}

/// May a peer with this uid change state?
pub fn may_change(peer_uid: u32, owner_uid: u32) -> bool {
    peer_uid == 0 || peer_uid == owner_uid
}

/// A group name or number.
pub fn resolve_group(name: &str) -> Result<u32, AccessError> {
    if let Ok(gid) = name.parse::<u32>() {
        return Ok(gid);
    }
    lvsd_checkers::misc::resolve_ids(None, Some(name))
        .map(|(_, gid)| gid)
        .map_err(|_| AccessError::UnknownGroup(name.to_string()))
}

/// The bound socket; the file is removed when this is dropped.
pub struct BoundSocket {
    pub listener: UnixListener,
    pub path: PathBuf,
    /// The uid that owns the socket (lvsd's effective uid).
    pub owner_uid: u32,
}

impl Drop for BoundSocket {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.path);
    }
}

fn io<'a>(path: &'a Path, what: &'static str) -> impl FnOnce(std::io::Error) -> AccessError + 'a {
    move |source| AccessError::Io {
        path: path.to_path_buf(),
        what,
        source,
    }
}

/// Binds the control socket at `path` (mode 0600, or 0660 with `group`).
/// Needs a tokio runtime.
pub fn bind(path: &Path, group: Option<u32>) -> Result<BoundSocket, AccessError> {
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        if !dir.exists() {
            std::fs::DirBuilder::new()
                .recursive(true)
                .mode(0o755)
                .create(dir)
                .map_err(io(path, "cannot create its directory"))?;
        }
    }
    match std::fs::symlink_metadata(path) {
        Ok(m) if m.file_type().is_socket() => {
            if std::os::unix::net::UnixStream::connect(path).is_ok() {
                return Err(AccessError::InUse(path.to_path_buf()));
            }
            std::fs::remove_file(path).map_err(io(path, "cannot remove the stale socket"))?;
        }
        Ok(_) => return Err(AccessError::NotASocket(path.to_path_buf())),
        Err(_) => {}
    }
    let mut tmp = path.as_os_str().to_owned();
    tmp.push(format!(".{}.tmp", std::process::id()));
    let tmp = PathBuf::from(tmp);
    let _ = std::fs::remove_file(&tmp);
    let listener = UnixListener::bind(&tmp).map_err(io(path, "cannot bind"))?;
    let finish = || -> Result<(), AccessError> {
        let mode = if group.is_some() { 0o660 } else { 0o600 };
        std::fs::set_permissions(&tmp, std::fs::Permissions::from_mode(mode))
            .map_err(io(path, "cannot set its mode"))?;
        if let Some(gid) = group {
            let c = CString::new(tmp.as_os_str().as_bytes()).map_err(|_| AccessError::Io {
                path: path.to_path_buf(),
                what: "bad path",
                source: std::io::Error::from(std::io::ErrorKind::InvalidInput),
            })?;
            // SAFETY: valid C string; uid -1 keeps the owner.
            if unsafe { libc::chown(c.as_ptr(), u32::MAX, gid) } < 0 {
                return Err(io(path, "cannot set its group")(
                    std::io::Error::last_os_error(),
                ));
            }
        }
        std::fs::rename(&tmp, path).map_err(io(path, "cannot move it into place"))
    };
    if let Err(e) = finish() {
        let _ = std::fs::remove_file(&tmp);
        return Err(e);
    }
    Ok(BoundSocket {
        listener,
        path: path.to_path_buf(),
        // SAFETY: cannot fail.
        owner_uid: unsafe { libc::geteuid() },
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn policy() {
        assert!(may_change(0, 1000));
        assert!(may_change(1000, 1000));
        assert!(!may_change(65534, 1000));
        assert!(!may_change(65534, 0));
    }

    #[tokio::test]
    async fn modes_stale_and_in_use() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("sub/lvsd.sock");
        let s = bind(&path, None).unwrap();
        let m = std::fs::metadata(&path).unwrap();
        assert!(m.file_type().is_socket());
        assert_eq!(m.permissions().mode() & 0o777, 0o600);
        assert!(matches!(bind(&path, None), Err(AccessError::InUse(_))));
        drop(s);
        assert!(!path.exists(), "removed on drop");

        // A stale socket (nobody listening) is replaced; a group gives 0660.
        let stale = std::os::unix::net::UnixListener::bind(&path).unwrap();
        drop(stale);
        // SAFETY: cannot fail.
        let gid = unsafe { libc::getegid() };
        let s = bind(&path, Some(gid)).unwrap();
        let m = std::fs::metadata(&path).unwrap();
        assert_eq!(m.permissions().mode() & 0o777, 0o660);
        drop(s);

        std::fs::write(&path, "x").unwrap();
        assert!(matches!(bind(&path, None), Err(AccessError::NotASocket(_))));
        assert!(resolve_group("no-such-group-lvsd").is_err());
        assert_eq!(resolve_group("0").unwrap(), 0);
    }
}
