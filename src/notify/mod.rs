//! Telling the outside world about transitions, as keepalived does:
//!
//! - `lines.rs`: keepalived's FIFO line format (pure);
//! - `fifo.rs`: the `notify_fifo` / `lvs_notify_fifo` FIFOs (created when
//!   missing, never blocking);
//! - `script.rs`: running a script without a shell, as its user, with a
//!   timeout;
//! - here: the `Notifier`, which writes FIFO lines at once, in transition
//!   order, and queues `notify_up`/`notify_down` and `quorum_up`/
//!   `quorum_down` scripts to one task that runs them one at a time, in
//!   order. Queuing never blocks: a hanging script delays later scripts
//!   (until its timeout), never checks or table updates.

pub mod fifo;
pub mod lines;
pub mod script;

use std::path::PathBuf;
use std::time::Duration;

use tokio::process::Child;
use tokio::sync::mpsc::{unbounded_channel, UnboundedReceiver, UnboundedSender};

use crate::config::model::{Config, GlobalDefs, Script};
use crate::director::state::Transition;

/// Default bound on one notify script's run time.
pub const DEFAULT_SCRIPT_TIMEOUT: Duration = Duration::from_secs(30);

struct Job {
    what: String,
    script: script::Prepared,
}

pub struct Notifier {
    fifo_paths: Vec<PathBuf>,
    fifos: Vec<fifo::Fifo>,
    /// FIFO reader scripts (killed when the notifier goes).
    readers: Vec<Child>,
    jobs: UnboundedSender<Job>,
    task: tokio::task::JoinHandle<()>,
    log: UnboundedSender<String>,
}

fn fifo_specs(global: &GlobalDefs) -> Vec<(PathBuf, Option<Script>)> {
    let mut out: Vec<(PathBuf, Option<Script>)> = Vec::new();
    for f in [&global.notify_fifo, &global.lvs_notify_fifo]
        .into_iter()
        .flatten()
    {
        let p = PathBuf::from(&f.path);
        if !out.iter().any(|(q, _)| q == &p) {
            out.push((p, f.script.clone()));
        }
    }
    out
}

impl Notifier {
    /// Opens the FIFOs of `global` and starts the script task (needs a
    /// tokio runtime). Log lines arrive on the returned receiver.
    pub fn new(global: &GlobalDefs, timeout: Duration) -> (Self, UnboundedReceiver<String>) {
        let (log, log_rx) = unbounded_channel();
        let (jobs, mut jobs_rx) = unbounded_channel::<Job>();
        let task_log = log.clone();
        let task = tokio::spawn(async move {
            while let Some(job) = jobs_rx.recv().await {
                let outcome = script::run(&job.script, timeout).await;
                let msg = match outcome {
                    script::Outcome::Exited(0) => continue,
                    script::Outcome::Exited(c) => format!("{}: exit status {c}", job.what),
                    script::Outcome::Signalled => format!("{}: killed by a signal", job.what),
                    script::Outcome::TimedOut => {
                        format!("{}: timed out after {} s", job.what, timeout.as_secs_f64())
                    }
                    script::Outcome::CannotRun(e) => format!("{}: cannot run: {e}", job.what),
                };
                let _ = task_log.send(msg);
            }
        });
        let mut n = Notifier {
            fifo_paths: Vec::new(),
            fifos: Vec::new(),
            readers: Vec::new(),
            jobs,
            task,
            log,
        };
        n.open_fifos(global);
        (n, log_rx)
    }

    fn open_fifos(&mut self, global: &GlobalDefs) {
        self.fifos.clear();
        self.readers.clear();
        let specs = fifo_specs(global);
        self.fifo_paths = specs.iter().map(|(p, _)| p.clone()).collect();
        for (path, reader) in specs {
            match fifo::Fifo::open(&path) {
                Ok(f) => self.fifos.push(f),
                Err(e) => {
                    let _ = self.log.send(format!("notify FIFO: {e}"));
                    continue;
                }
            }
            // keepalived starts the FIFO's script with the FIFO's path.
            if let Some(s) = reader {
                let started = script::prepare(&s, global)
                    .map_err(|e| e.to_string())
                    .and_then(|p| {
                        script::spawn(&p, &[path.display().to_string()])
                            .map_err(|e| format!("FIFO script `{}`: {e}", s.command))
                    });
                match started {
                    Ok(child) => self.readers.push(child),
                    Err(e) => {
                        let _ = self.log.send(e);
                    }
                }
            }
        }
    }

    /// Stops taking scripts and waits (at most `limit`) for the queued ones
    /// to finish; true if they all did. FIFO reader scripts are killed.
    pub async fn finish(self, limit: Duration) -> bool {
        let Notifier { jobs, task, .. } = self;
        drop(jobs);
        tokio::time::timeout(limit, task).await.is_ok()
    }

    /// After a reload: reopens the FIFOs if their paths changed.
    pub fn reconfigure(&mut self, global: &GlobalDefs) {
        let paths: Vec<PathBuf> = fifo_specs(global).into_iter().map(|(p, _)| p).collect();
        if paths != self.fifo_paths {
            self.open_fifos(global);
        }
    }

    /// Writes the FIFO line and queues the script for one transition
    /// (indexes into `cfg`). Never blocks.
    pub fn notify(&mut self, cfg: &Config, t: &Transition) {
        let (line, script, what) = match *t {
            Transition::RealServerUp { vs, rs } | Transition::RealServerDown { vs, rs, .. } => {
                let up = matches!(t, Transition::RealServerUp { .. });
                let Some(v) = cfg.virtual_servers.get(vs) else {
                    return;
                };
                let Some(r) = v.real_servers.get(rs) else {
                    return;
                };
                let script = if up { &r.notify_up } else { &r.notify_down };
                let what = if up { "notify_up" } else { "notify_down" };
                (
                    lines::rs_line(v, r.addr, r.port.value, up),
                    script.clone(),
                    what,
                )
            }
            Transition::QuorumUp { vs } | Transition::QuorumDown { vs } => {
                let up = matches!(t, Transition::QuorumUp { .. });
                let Some(v) = cfg.virtual_servers.get(vs) else {
                    return;
                };
                let script = if up { &v.quorum_up } else { &v.quorum_down };
                let what = if up { "quorum_up" } else { "quorum_down" };
                (lines::vs_line(v, up), script.clone(), what)
            }
        };
        for f in &mut self.fifos {
            if let Err(e) = f.write_line(&line) {
                let _ = self.log.send(format!("notify FIFO: line dropped: {e}"));
            }
        }
        if let Some(s) = script {
            match script::prepare(&s, &cfg.global) {
                Ok(p) => {
                    let _ = self.jobs.send(Job {
                        what: format!("{what} script `{}`", s.command),
                        script: p,
                    });
                }
                Err(e) => {
                    let _ = self.log.send(format!("{what}: {e}"));
                }
            }
        }
    }
}
