//! Runs a notify script (`notify_up`, `notify_down`, `quorum_up`,
//! `quorum_down`, a FIFO's reader script) without a shell: keepalived's word
//! splitting, as the script's user (else `script_user`, else lvsd's own),
//! in its own process group, bounded by a timeout (SIGTERM to the group,
//! SIGKILL after a grace).

use std::time::Duration;

use lvsd_checkers::misc::{self, MiscError};
use thiserror::Error;
use tokio::process::Child;

use crate::config::model::{GlobalDefs, Script};

#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum ScriptError {
    #[error("script `{command}`: {source}")]
    Prepare {
        command: String,
        #[source]
        source: MiscError,
    },
}

/// A script ready to run: argv and the ids to run it as.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Prepared {
    pub argv: Vec<String>,
    pub uid: u32,
    pub gid: u32,
}

/// How a run ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    Exited(i32),
    Signalled,
    TimedOut,
    CannotRun(String),
}

/// Splits and resolves a configured script (and, with
/// `enable_script_security`, refuses an unsafe one).
pub fn prepare(script: &Script, global: &GlobalDefs) -> Result<Prepared, ScriptError> {
    let wrap = |source: MiscError| ScriptError::Prepare {
        command: script.command.clone(),
        source,
    };
    let argv = misc::split_argv(&script.command).map_err(|e| wrap(e.into()))?;
    let (user, group) = match (&script.user, &global.script_user) {
        (Some(u), _) => (Some(u.as_str()), script.group.as_deref()),
        (None, Some((u, g))) => (Some(u.as_str()), g.as_deref()),
        (None, None) => (None, None),
    };
    let (uid, gid) = misc::resolve_ids(user, group).map_err(wrap)?;
    if global.enable_script_security {
        misc::check_script_security(std::path::Path::new(&argv[0]), uid)
            .map_err(|e| wrap(e.into()))?;
    }
    Ok(Prepared { argv, uid, gid })
}

/// Starts the script (stdio to /dev/null) in its own session, as its user.
pub fn spawn(p: &Prepared, extra_args: &[String]) -> std::io::Result<Child> {
    if p.argv.is_empty() {
        return Err(std::io::Error::other("empty command"));
    }
    let mut cmd = lvsd_checkers::misc::script_command(&p.argv, p.uid, p.gid);
    cmd.args(extra_args);
    cmd.spawn()
}

fn kill_group(pgid: Option<u32>, sig: libc::c_int) {
    if let Some(pg) = pgid.filter(|p| *p > 0) {
        // SAFETY: plain syscall; ESRCH when the group is gone is fine.
        unsafe {
            libc::kill(-(pg as libc::pid_t), sig);
        }
    }
}

/// Runs the script to completion or until `timeout`.
pub async fn run(p: &Prepared, timeout: Duration) -> Outcome {
    let mut child = match spawn(p, &[]) {
        Ok(c) => c,
        Err(e) => return Outcome::CannotRun(e.to_string()),
    };
    let pgid = child.id();
    match tokio::time::timeout(timeout, child.wait()).await {
        Ok(Ok(st)) => {
            kill_group(pgid, libc::SIGKILL);
            match st.code() {
                Some(c) => Outcome::Exited(c),
                None => Outcome::Signalled,
            }
        }
        Ok(Err(e)) => Outcome::CannotRun(e.to_string()),
        Err(_) => {
            kill_group(pgid, libc::SIGTERM);
            if tokio::time::timeout(misc::KILL_GRACE, child.wait())
                .await
                .is_err()
            {
                kill_group(pgid, libc::SIGKILL);
                let _ = child.wait().await;
            }
            kill_group(pgid, libc::SIGKILL);
            Outcome::TimedOut
        }
    }
}
