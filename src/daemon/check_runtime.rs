//! The checks' own thread: a single-threaded tokio runtime the check
//! engine spawns its tasks on, as keepalived runs every check in one
//! thread. Away from the main runtime, a check is never held up by the
//! daemon blocking on a large IPVS read or reload, and a finished check
//! wakes no other thread (no cross-thread hand-off per attempt: under a
//! virtual machine a futex wake-up costs more than the check itself).

use std::io;

use tokio::runtime::Handle;
use tokio::sync::oneshot;

/// The running thread; dropping it stops the runtime (its tasks are
/// dropped) without waiting for the thread.
pub struct CheckRuntime {
    handle: Handle,
    stop: Option<oneshot::Sender<()>>,
}

impl CheckRuntime {
    /// Starts the thread and its runtime.
    pub fn start() -> io::Result<Self> {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()?;
        let handle = rt.handle().clone();
        let (stop, stopped) = oneshot::channel::<()>();
        // Detached: the thread ends on its own once its runtime stops.
        std::thread::Builder::new()
            .name("lvsd-checks".into())
            .spawn(move || {
                // Runs until told to stop or the sender is dropped.
                let _ = rt.block_on(stopped);
            })?;
        Ok(CheckRuntime {
            handle,
            stop: Some(stop),
        })
    }

    /// Where to spawn the checks.
    pub fn handle(&self) -> Handle {
        self.handle.clone()
    }
}

impl Drop for CheckRuntime {
    fn drop(&mut self) {
        if let Some(s) = self.stop.take() {
            let _ = s.send(());
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tasks_run_on_the_checks_thread() {
        let rt = CheckRuntime::start().unwrap();
        let (tx, rx) = std::sync::mpsc::channel();
        rt.handle().spawn(async move {
            tokio::time::sleep(std::time::Duration::from_millis(10)).await;
            let _ = tx.send(std::thread::current().name().map(String::from));
        });
        let name = rx
            .recv_timeout(std::time::Duration::from_secs(5))
            .expect("the task ran");
        assert_eq!(name.as_deref(), Some("lvsd-checks"));
    }
}
