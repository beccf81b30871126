//! A minimal async inotify watch on one directory (libc + tokio AsyncFd).

use std::ffi::{CString, OsString};
use std::io;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
use std::os::unix::ffi::{OsStrExt, OsStringExt};
use std::path::Path;

use tokio::io::unix::AsyncFd;

/// Watches a directory for files being written, created, moved or deleted.
pub struct DirWatch {
    fd: AsyncFd<OwnedFd>,
}

const MASK: u32 = libc::IN_CLOSE_WRITE
    | libc::IN_MODIFY
    | libc::IN_CREATE
    | libc::IN_MOVED_TO
    | libc::IN_MOVED_FROM
    | libc::IN_DELETE
    | libc::IN_ATTRIB;

impl DirWatch {
    pub fn new(dir: &Path) -> io::Result<Self> {
        let c = CString::new(dir.as_os_str().as_bytes())
            .map_err(|_| io::Error::new(io::ErrorKind::InvalidInput, "NUL in path"))?;
        // SAFETY: plain syscalls; the fd is owned immediately.
        let fd = unsafe { libc::inotify_init1(libc::IN_NONBLOCK | libc::IN_CLOEXEC) };
        if fd < 0 {
            return Err(io::Error::last_os_error());
        }
        // SAFETY: fd is a fresh, valid descriptor we own.
        let owned = unsafe { OwnedFd::from_raw_fd(fd) };
        // SAFETY: valid fd and C string.
        if unsafe { libc::inotify_add_watch(owned.as_raw_fd(), c.as_ptr(), MASK) } < 0 {
            return Err(io::Error::last_os_error());
        }
        // SAFETY: `owned` is a valid open fd, owned by the AsyncFd for its
        // whole lifetime.
        let fd = unsafe { AsyncFd::register(owned) }?;
        Ok(DirWatch { fd })
    }

    /// Waits for events; returns the names they concern (`None` = queue
    /// overflow or an event without a name: re-check everything).
    pub async fn next_names(&mut self) -> io::Result<Vec<Option<OsString>>> {
        let mut buf = [0u8; 4096];
        loop {
            let mut guard = self.fd.readable().await?;
            let r = guard.try_io(|fd| {
                // SAFETY: buf is valid for its length.
                let n = unsafe { libc::read(fd.as_raw_fd(), buf.as_mut_ptr().cast(), buf.len()) };
                if n < 0 {
                    Err(io::Error::last_os_error())
                } else {
                    Ok(n as usize)
                }
            });
            match r {
                Ok(Ok(n)) => return Ok(parse_events(&buf[..n])),
                Ok(Err(e)) => return Err(e),
                Err(_would_block) => continue,
            }
        }
    }
}

/// Parses a buffer of `struct inotify_event` records (pure).
pub fn parse_events(mut b: &[u8]) -> Vec<Option<OsString>> {
    const HDR: usize = std::mem::size_of::<libc::inotify_event>();
    let mut out = Vec::new();
    while b.len() >= HDR {
        let mask = u32::from_ne_bytes([b[4], b[5], b[6], b[7]]);
        let len = u32::from_ne_bytes([b[12], b[13], b[14], b[15]]) as usize;
        let end = (HDR + len).min(b.len());
        let name: Vec<u8> = b[HDR..end]
            .iter()
            .copied()
            .take_while(|c| *c != 0)
            .collect();
        if mask & libc::IN_Q_OVERFLOW != 0 || name.is_empty() {
            out.push(None);
        } else {
            out.push(Some(OsString::from_vec(name)));
        }
        b = &b[end..];
    }
    out
}
