//! VRRP notifications, in order: for each transition the specific script
//! (`notify_master|backup|fault|stop`) then the generic `notify` with
//! keepalived's four arguments (`INSTANCE|GROUP NAME STATE PRIORITY`), and
//! a line in `notify_fifo` / `vrrp_notify_fifo` (`INSTANCE "NAME" STATE
//! PRIORITY`). keepalived runs its scripts racing each other; lvsd runs
//! them one after the other on a queue of its own, so they happen in
//! transition order and a slow script never delays VRRP itself. Each
//! script is bounded by a timeout (killed with its process group). Scripts
//! and FIFOs are run and written by the director's `crate::notify`.

use std::time::Duration;

use tokio::sync::mpsc::{unbounded_channel, UnboundedSender};

use crate::config::model::{Config, Script};
use crate::notify::fifo::Fifo;
use crate::notify::script::{self, Outcome};

/// How long a notify script may run before it is killed.
pub const SCRIPT_TIMEOUT: Duration = Duration::from_secs(30);

/// One notification: the scripts to run, in order, and the FIFO line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Notification {
    /// Command lines (keepalived quoting), run in this order.
    pub commands: Vec<(String, Option<String>, Option<String>)>,
    pub fifo_line: String,
}

fn quote(arg: &str) -> String {
    format!("\"{}\"", arg.replace('\\', "\\\\").replace('"', "\\\""))
}

/// The notification of `kind` (`INSTANCE` or `GROUP`) `name` entering
/// `state` at `priority`, from its scripts (pure).
pub fn build(
    kind: &str,
    name: &str,
    state: &str,
    priority: u8,
    specific: Option<&Script>,
    generic: Option<&Script>,
) -> Notification {
    let mut commands = Vec::new();
    if let Some(s) = specific {
        commands.push((s.command.clone(), s.user.clone(), s.group.clone()));
    }
    if let Some(s) = generic {
        commands.push((
            format!(
                "{} {} {} {} {}",
                s.command,
                kind,
                quote(name),
                state,
                priority
            ),
            s.user.clone(),
            s.group.clone(),
        ));
    }
    Notification {
        commands,
        fifo_line: format!("{kind} \"{name}\" {state} {priority}\n"),
    }
}

/// The queue that runs notifications in order.
pub struct Notifier {
    tx: UnboundedSender<Notification>,
    task: tokio::task::JoinHandle<()>,
}

impl Notifier {
    /// Starts the queue. `log` receives one line per failed script.
    pub fn start(cfg: &Config, log: UnboundedSender<String>) -> Notifier {
        let (tx, mut rx) = unbounded_channel::<Notification>();
        let fifos: Vec<Fifo> = [&cfg.global.notify_fifo, &cfg.global.vrrp_notify_fifo]
            .into_iter()
            .flatten()
            .filter_map(|f| match Fifo::open(std::path::Path::new(&f.path)) {
                Ok(fifo) => Some(fifo),
                Err(e) => {
                    let _ = log.send(format!("notify FIFO: {e}"));
                    None
                }
            })
            .collect();
        let global = cfg.global.clone();
        let task = tokio::spawn(async move {
            let mut fifos = fifos;
            while let Some(n) = rx.recv().await {
                for f in fifos.iter_mut() {
                    let _ = f.write_line(&n.fifo_line);
                }
                for (command, user, group) in &n.commands {
                    let s = Script {
                        command: command.clone(),
                        user: user.clone(),
                        group: group.clone(),
                    };
                    let outcome = match script::prepare(&s, &global) {
                        Ok(p) => script::run(&p, SCRIPT_TIMEOUT).await,
                        Err(e) => Outcome::CannotRun(e.to_string()),
                    };
                    match outcome {
                        Outcome::Exited(0) => {}
                        Outcome::Exited(c) => {
                            let _ = log.send(format!("notify script {command}: exit status {c}"));
                        }
                        Outcome::Signalled => {
                            let _ =
                                log.send(format!("notify script {command}: killed by a signal"));
                        }
                        Outcome::TimedOut => {
                            let _ = log.send(format!(
                                "notify script {command}: killed after {} s",
                                SCRIPT_TIMEOUT.as_secs()
                            ));
                        }
                        Outcome::CannotRun(e) => {
                            let _ = log.send(format!("notify script {command}: {e}"));
                        }
                    }
                }
            }
        });
        Notifier { tx, task }
    }

    /// Runs what is queued (at most `bound`), then stops the queue.
    pub async fn finish(self, bound: Duration) {
        drop(self.tx);
        let _ = tokio::time::timeout(bound, self.task).await;
    }

    pub fn send(&self, n: Notification) {
        let _ = self.tx.send(n);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn script(c: &str) -> Script {
        Script {
            command: c.to_string(),
            user: None,
            group: None,
        }
    }

    #[test]
    fn keepalived_arguments_and_fifo_line() {
        let n = build(
            "INSTANCE",
            "VI_1",
            "MASTER",
            150,
            Some(&script("/bin/m.sh")),
            Some(&script("/bin/n.sh x")),
        );
        assert_eq!(n.commands[0].0, "/bin/m.sh");
        assert_eq!(n.commands[1].0, "/bin/n.sh x INSTANCE \"VI_1\" MASTER 150");
        assert_eq!(n.fifo_line, "INSTANCE \"VI_1\" MASTER 150\n");
    }
}
