//! MISC_CHECK: runs an external script (no shell) as a user, in its own
//! process group, bounded by `misc_timeout` (SIGTERM to the group, SIGKILL
//! 2 s later).
//!
//! Exit status: 0 = pass. With `misc_dynamic`: 1 = fail; 2..=255 = pass with
//! `Verdict::PassWithWeight(status - 2 - iweight)` where `iweight` is the
//! real server's configured weight — so the RS effective weight
//! (`iweight + delta`) becomes `status - 2`, as keepalived does (exit 7 with
//! weight 5 gives delta 0; exit 12 with weight 5 gives delta 5). A script
//! that times out or is killed is a plain `Fail`: unlike keepalived (#2720)
//! no weight is carried over (the engine resets the delta on Fail).

pub mod argv;
pub mod security;

use std::ffi::CString;
use std::os::unix::process::ExitStatusExt;
use std::process::Stdio;
use std::time::{Duration, Instant};

use thiserror::Error;
use tokio::process::Command;

use crate::check::{AttemptFuture, Check};
use crate::describe::secs;
use crate::outcome::{CheckOutcome, Verdict};

pub use argv::{split_argv, ArgvError};
pub use security::{check_script_security, SecurityError};

/// Grace between SIGTERM and SIGKILL after `misc_timeout`.
pub const KILL_GRACE: Duration = Duration::from_secs(2);

#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum MiscError {
    #[error(transparent)]
    Argv(#[from] ArgvError),
    #[error("unknown user {0}")]
    UnknownUser(String),
    #[error("unknown group {0}")]
    UnknownGroup(String),
    #[error(transparent)]
    Security(#[from] SecurityError),
}

/// Typed MISC_CHECK specification (as the director builds it).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MiscSpec {
    /// `misc_path` verbatim ("cmd args").
    pub misc_path: String,
    /// `misc_timeout` (keepalived default: the VS delay_loop).
    pub misc_timeout: Duration,
    pub misc_dynamic: bool,
    /// `user USER [GROUP]`; `None` = `script_user` below.
    pub user: Option<String>,
    pub group: Option<String>,
    /// global `script_user` (default for `user`); `None` = current user.
    pub script_user: Option<String>,
    /// The real server's configured weight (for `misc_dynamic`).
    pub rs_weight: i64,
    /// global `enable_script_security`.
    pub script_security: bool,
}

/// A validated, ready-to-run MISC_CHECK.
#[derive(Debug, Clone)]
pub struct MiscCheck {
    spec: MiscSpec,
    argv: Vec<String>,
    uid: u32,
    gid: u32,
}

impl MiscCheck {
    /// Splits the command, resolves user/group and, with script security,
    /// refuses an insecure script.
    pub fn new(spec: MiscSpec) -> Result<Self, MiscError> {
        let argv = split_argv(&spec.misc_path)?;
        let (uid, gid) = resolve_ids(
            spec.user.as_deref().or(spec.script_user.as_deref()),
            spec.group.as_deref(),
        )?;
        if spec.script_security {
            check_script_security(std::path::Path::new(&argv[0]), uid)?;
        }
        Ok(MiscCheck {
            spec,
            argv,
            uid,
            gid,
        })
    }

    async fn run(&self) -> Verdict {
        let mut cmd = script_command(&self.argv, self.uid, self.gid);
        let mut child = match cmd.spawn() {
            Ok(c) => c,
            Err(e) => return Verdict::Fail(format!("{}: cannot run: {e}", self.describe())),
        };
        let pgid = child.id().map(|p| p as libc::pid_t);
        let status = match tokio::time::timeout(self.spec.misc_timeout, child.wait()).await {
            Ok(Ok(st)) => st,
            Ok(Err(e)) => return Verdict::Fail(format!("{}: wait: {e}", self.describe())),
            Err(_) => {
                if let Some(pg) = pgid {
                    kill_group(pg, libc::SIGTERM);
                    if tokio::time::timeout(KILL_GRACE, child.wait())
                        .await
                        .is_err()
                    {
                        kill_group(pg, libc::SIGKILL);
                        let _ = child.wait().await;
                    } else {
                        // the leader exited; make sure the rest of the group goes
                        kill_group(pg, libc::SIGKILL);
                    }
                }
                return Verdict::Fail(format!(
                    "{}: timed out after {}",
                    self.describe(),
                    secs(self.spec.misc_timeout)
                ));
            }
        };
        if let Some(pg) = pgid {
            // leftover group members of a finished script
            kill_group(pg, libc::SIGKILL);
        }
        match status.code() {
            Some(code) => interpret_exit(code, self.spec.misc_dynamic, self.spec.rs_weight)
                .map_err(|r| format!("{}: {r}", self.describe()))
                .unwrap_or_else(Verdict::Fail),
            None => Verdict::Fail(format!(
                "{}: killed by signal {}",
                self.describe(),
                status.signal().unwrap_or(0)
            )),
        }
    }
}

/// A script's command, ready to spawn: no shell, stdio on /dev/null, its
/// own session and process group (so a timeout can kill it whole), run as
/// `uid`/`gid` with supplementary groups dropped. `argv` must not be empty.
pub fn script_command(argv: &[String], uid: u32, gid: u32) -> Command {
    let (prog, args) = argv
        .split_first()
        .map(|(p, a)| (p.as_str(), a))
        .unwrap_or(("", &[]));
    let mut cmd = Command::new(prog);
    cmd.args(args)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .kill_on_drop(true);
    // SAFETY: only async-signal-safe calls between fork and exec.
    unsafe {
        cmd.pre_exec(move || {
            if libc::setsid() < 0 {
                return Err(std::io::Error::last_os_error());
            }
            if libc::getuid() != uid || libc::getgid() != gid {
                if libc::setgroups(0, std::ptr::null()) < 0 && libc::getuid() == 0 {
                    return Err(std::io::Error::last_os_error());
                }
                if libc::setgid(gid) < 0 || libc::setuid(uid) < 0 {
                    return Err(std::io::Error::last_os_error());
                }
            }
            Ok(())
        });
    }
    cmd
}

fn kill_group(pgid: libc::pid_t, sig: libc::c_int) {
    if pgid > 0 {
        // SAFETY: plain syscall; ESRCH when the group is gone is fine.
        unsafe {
            libc::kill(-pgid, sig);
        }
    }
}

/// Maps an exit status to a verdict (pure). `Err` carries the fail reason.
pub fn interpret_exit(code: i32, dynamic: bool, rs_weight: i64) -> Result<Verdict, String> {
    match (code, dynamic) {
        (0, _) => Ok(Verdict::Pass),
        (2..=255, true) => Ok(Verdict::PassWithWeight(i64::from(code) - 2 - rs_weight)),
        (c, _) => Err(format!("exit status {c}")),
    }
}

/// Resolves a user (default current) and group (default the user's primary).
pub fn resolve_ids(user: Option<&str>, group: Option<&str>) -> Result<(u32, u32), MiscError> {
    // SAFETY: getuid/getgid cannot fail.
    let (mut uid, mut gid) = unsafe { (libc::getuid(), libc::getgid()) };
    if let Some(u) = user {
        let c = CString::new(u).map_err(|_| MiscError::UnknownUser(u.into()))?;
        // SAFETY: valid C string; result read immediately (not thread-safe
        // in theory; called at configuration time).
        let pw = unsafe { libc::getpwnam(c.as_ptr()) };
        if pw.is_null() {
            return Err(MiscError::UnknownUser(u.into()));
        }
        // SAFETY: non-null passwd entry.
        unsafe {
            uid = (*pw).pw_uid;
            gid = (*pw).pw_gid;
        }
    }
    if let Some(g) = group {
        let c = CString::new(g).map_err(|_| MiscError::UnknownGroup(g.into()))?;
        // SAFETY: as above.
        let gr = unsafe { libc::getgrnam(c.as_ptr()) };
        if gr.is_null() {
            return Err(MiscError::UnknownGroup(g.into()));
        }
        // SAFETY: non-null group entry.
        gid = unsafe { (*gr).gr_gid };
    }
    Ok((uid, gid))
}

impl Check for MiscCheck {
    fn attempt(&self) -> AttemptFuture<'_> {
        Box::pin(async move {
            let start = Instant::now();
            let verdict = self.run().await;
            CheckOutcome {
                verdict,
                elapsed: start.elapsed(),
            }
        })
    }

    fn describe(&self) -> String {
        format!("MISC_CHECK {}", self.spec.misc_path)
    }

    fn identity(&self) -> String {
        format!("MISC|{:?}|{}|{}", self.argv, self.uid, self.gid)
            + &format!(
                "|{:?}|{}|{}",
                self.spec.misc_timeout, self.spec.misc_dynamic, self.spec.rs_weight
            )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn exit_mapping() {
        assert_eq!(interpret_exit(0, false, 5), Ok(Verdict::Pass));
        assert!(interpret_exit(1, false, 5).is_err());
        assert!(interpret_exit(7, false, 5).is_err());
        assert!(interpret_exit(1, true, 5).is_err());
        // exit 7, weight 5: new weight 5 → delta 0
        assert_eq!(interpret_exit(7, true, 5), Ok(Verdict::PassWithWeight(0)));
        assert_eq!(interpret_exit(12, true, 5), Ok(Verdict::PassWithWeight(5)));
        assert_eq!(interpret_exit(2, true, 5), Ok(Verdict::PassWithWeight(-5)));
    }
}
