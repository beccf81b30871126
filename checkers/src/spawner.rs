//! Starts check tasks on another runtime in batches. Spawning onto a
//! runtime from outside it wakes that runtime's thread every time (a
//! system call and a context switch each); registering tens of thousands
//! of checks would pay that per check. Here the engine queues the groups
//! and one task on the target runtime spawns what is queued; it is woken
//! only when the queue was empty, and lets the queue fill for a
//! millisecond before it takes it.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::runtime::Handle;
use tokio::sync::Notify;
use tokio::task::JoinHandle;

use crate::group::Group;

pub(crate) struct Spawner {
    queue: Arc<Mutex<Vec<Group>>>,
    wake: Arc<Notify>,
    task: JoinHandle<()>,
}

impl Spawner {
    pub fn new(runtime: &Handle) -> Self {
        let queue: Arc<Mutex<Vec<Group>>> = Arc::default();
        let wake = Arc::new(Notify::new());
        let task = runtime.spawn(run(queue.clone(), wake.clone()));
        Spawner { queue, wake, task }
    }

    pub fn spawn(&self, group: Group) {
        let was_empty = {
            let mut q = self.queue.lock().unwrap_or_else(|p| p.into_inner());
            q.push(group);
            q.len() == 1
        };
        if was_empty {
            // Stored as a permit if the task is busy: no wake-up is lost.
            self.wake.notify_one();
        }
    }
}

impl Drop for Spawner {
    fn drop(&mut self) {
        self.task.abort();
    }
}

async fn run(queue: Arc<Mutex<Vec<Group>>>, wake: Arc<Notify>) {
    loop {
        wake.notified().await;
        // A burst of registrations (start-up, reload) comes in batches
        // instead of one wake-up each.
        tokio::time::sleep(Duration::from_millis(1)).await;
        let batch = std::mem::take(&mut *queue.lock().unwrap_or_else(|p| p.into_inner()));
        // Yield between chunks: checks already started whose first
        // attempt is due run while tens of thousands are still spawned.
        for (i, g) in batch.into_iter().enumerate() {
            g.spawn();
            if i % 256 == 255 {
                tokio::task::yield_now().await;
            }
        }
    }
}
