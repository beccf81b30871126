//! A notify FIFO (`notify_fifo`, `lvs_notify_fifo`) as keepalived keeps
//! one: created (mode 0600) when missing, opened read-write and
//! non-blocking so lvsd never blocks on a slow or absent reader (a line that
//! does not fit is dropped), lines written whole (each is shorter than
//! `PIPE_BUF`, so writes are atomic).

use std::ffi::CString;
use std::fs::{File, OpenOptions};
use std::io::Write;
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::{FileTypeExt, OpenOptionsExt};
use std::path::{Path, PathBuf};

use thiserror::Error;

#[derive(Debug, Error)]
pub enum FifoError {
    #[error("{path}: exists and is not a FIFO")]
    NotAFifo { path: PathBuf },
    #[error("{path}: {source}")]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
}

pub struct Fifo {
    path: PathBuf,
    file: File,
}

fn io_err(path: &Path) -> impl FnOnce(std::io::Error) -> FifoError + '_ {
    move |source| FifoError::Io {
        path: path.to_path_buf(),
        source,
    }
}

impl Fifo {
    /// Creates (if needed) and opens the FIFO.
    pub fn open(path: &Path) -> Result<Self, FifoError> {
        match std::fs::symlink_metadata(path) {
            Ok(m) if m.file_type().is_fifo() => {}
            Ok(_) => {
                return Err(FifoError::NotAFifo {
                    path: path.to_path_buf(),
                })
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                let c = CString::new(path.as_os_str().as_bytes()).map_err(|_| FifoError::Io {
                    path: path.to_path_buf(),
                    source: std::io::Error::from(std::io::ErrorKind::InvalidInput),
                })?;
                // SAFETY: valid C string.
                if unsafe { libc::mkfifo(c.as_ptr(), 0o600) } < 0 {
                    return Err(io_err(path)(std::io::Error::last_os_error()));
                }
            }
            Err(e) => return Err(io_err(path)(e)),
        }
        let file = OpenOptions::new()
            .read(true)
            .write(true)
            .custom_flags(libc::O_NONBLOCK | libc::O_NOFOLLOW | libc::O_CLOEXEC)
            .open(path)
            .map_err(io_err(path))?;
        Ok(Fifo {
            path: path.to_path_buf(),
            file,
        })
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Writes one line; an error (e.g. the pipe is full) drops it.
    pub fn write_line(&mut self, line: &str) -> Result<(), FifoError> {
        self.file
            .write_all(line.as_bytes())
            .map_err(io_err(&self.path))
    }
}
