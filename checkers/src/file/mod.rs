//! FILE_CHECK / `track_file`: a value in a file, watched with inotify.
//!
//! `attempt()` reads the file now; `FileCheck::watch()` yields a new
//! verdict each time the file changes (the directory is watched, so
//! replace-by-rename is seen). A missing or unreadable file reads as value
//! 0 (like keepalived, which logs and treats it as 0).

pub mod inotify;
pub mod value;

use std::io;
use std::path::{Path, PathBuf};
use std::time::Instant;

use tokio::sync::watch;

use crate::check::{AttemptFuture, Check};
use crate::outcome::{CheckOutcome, Verdict};

pub use value::{file_verdict, strtol0};

/// Typed FILE_CHECK spec (the `track_file` block plus the checker's weight).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FileSpec {
    /// `track_file` name (for messages).
    pub name: String,
    pub path: PathBuf,
    /// `weight W` (the FILE_CHECK's weight if given, else the track_file's).
    pub weight: i64,
    pub reverse: bool,
    /// `init_file [VALUE] [overwrite]`: `Some((value, overwrite))`.
    pub init_file: Option<(i64, bool)>,
}

#[derive(Debug, Clone)]
pub struct FileCheck {
    pub spec: FileSpec,
}

impl FileCheck {
    /// Builds the check, creating (or overwriting) the file per `init_file`.
    pub fn new(spec: FileSpec) -> io::Result<Self> {
        if let Some((v, overwrite)) = spec.init_file {
            if overwrite || !spec.path.exists() {
                std::fs::write(&spec.path, format!("{v}\n"))?;
            }
        }
        Ok(FileCheck { spec })
    }

    /// The verdict for the file's current content.
    pub fn read_now(&self) -> Verdict {
        verdict_for(&self.spec)
    }

    /// Starts watching: the receiver holds the current verdict and changes
    /// whenever the file's verdict does. Watching stops when every
    /// receiver is dropped. Must be called within a tokio runtime.
    pub fn watch(&self) -> io::Result<watch::Receiver<Verdict>> {
        let (dir, fname) = split_path(&self.spec.path)?;
        let mut ino = inotify::DirWatch::new(&dir)?;
        let (tx, rx) = watch::channel(self.read_now());
        let spec = self.spec.clone();
        tokio::spawn(async move {
            loop {
                tokio::select! {
                    _ = tx.closed() => break,
                    names = ino.next_names() => {
                        let names = match names {
                            Ok(n) => n,
                            // the receiver keeps the last verdict
                            Err(_) => break,
                        };
                        // overflow (None) or our name: re-read
                        if names.iter().any(|n| n.as_deref().is_none_or(|n| n == fname.as_os_str())) {
                            let v = verdict_for(&spec);
                            tx.send_if_modified(|cur| {
                                if *cur != v {
                                    *cur = v;
                                    true
                                } else {
                                    false
                                }
                            });
                        }
                    }
                }
            }
        });
        Ok(rx)
    }
}

fn split_path(p: &Path) -> io::Result<(PathBuf, std::ffi::OsString)> {
    let fname = p
        .file_name()
        .ok_or_else(|| {
            io::Error::new(
                io::ErrorKind::InvalidInput,
                "track_file path has no file name",
            )
        })?
        .to_os_string();
    let dir = match p.parent() {
        Some(d) if !d.as_os_str().is_empty() => d.to_path_buf(),
        _ => PathBuf::from("."),
    };
    Ok((dir, fname))
}

fn verdict_for(spec: &FileSpec) -> Verdict {
    let value = std::fs::read_to_string(&spec.path)
        .map(|s| strtol0(&s))
        .unwrap_or(0);
    file_verdict(
        value,
        spec.weight,
        spec.reverse,
        &format!("FILE_CHECK {} ({})", spec.name, spec.path.display()),
    )
}

impl Check for FileCheck {
    fn attempt(&self) -> AttemptFuture<'_> {
        Box::pin(async move {
            let start = Instant::now();
            CheckOutcome {
                verdict: self.read_now(),
                elapsed: start.elapsed(),
            }
        })
    }

    fn describe(&self) -> String {
        format!(
            "FILE_CHECK {} ({})",
            self.spec.name,
            self.spec.path.display()
        )
    }

    fn identity(&self) -> String {
        format!("FILE|{:?}", self.spec)
    }
}
