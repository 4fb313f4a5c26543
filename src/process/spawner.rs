//! Services started off the engine thread, several at once.
//!
//! Starting a process the way [`super::launch`] does leaves the calling
//! thread asleep until the child has called `execve`. On a busy machine
//! (a cold start, with the services already started all loading at once)
//! the child waits for a core before it gets that far, and a thread that
//! starts services one after the other waits for each in turn; a shell's
//! `for …; do … & done` does not, its `fork` returns at once. So services
//! are started by a few long-lived threads of their own: the engine hands
//! a request over and goes on, and the result comes back through the
//! callback it gave, while other services are being started beside it.
//!
//! The parent-death signal is tied to the thread that started a child, so
//! these threads live as long as the [`Spawner`]: dropping it (when the
//! engine has stopped every service, or is unwinding) ends them, and with
//! them, as intended, anything they started that still runs.

use std::io;
use std::sync::mpsc;
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;

use crate::process::{Launched, SpawnRequest, launch};

/// What a spawner thread does with a result.
pub type Done = Box<dyn FnOnce(io::Result<Launched>) + Send>;

type Job = (SpawnRequest, Done);

/// A few threads that start processes.
pub struct Spawner {
    jobs: Option<mpsc::Sender<Job>>,
    threads: Vec<JoinHandle<()>>,
}

impl Spawner {
    /// `threads` starters (at least one); if none can be started, requests
    /// are carried out on the caller's thread.
    pub fn new(threads: usize) -> Self {
        let (jobs, queue) = mpsc::channel::<Job>();
        let queue = Arc::new(Mutex::new(queue));
        let threads: Vec<JoinHandle<()>> = (0..threads.max(1))
            .filter_map(|n| {
                let queue = queue.clone();
                std::thread::Builder::new()
                    .name(format!("bringup-spawn-{n}"))
                    .spawn(move || work(&queue))
                    .ok()
            })
            .collect();
        Self {
            jobs: (!threads.is_empty()).then_some(jobs),
            threads,
        }
    }

    /// Starts `request`; `done` gets the result, on a spawner thread.
    pub fn launch(&self, request: SpawnRequest, done: Done) {
        let job = match &self.jobs {
            Some(jobs) => match jobs.send((request, done)) {
                Ok(()) => return,
                Err(mpsc::SendError(job)) => job,
            },
            None => (request, done),
        };
        // No thread to hand it to: start it here.
        let (request, done) = job;
        done(launch(&request));
    }
}

impl Drop for Spawner {
    fn drop(&mut self) {
        // Closing the queue ends each thread once it is idle.
        self.jobs.take();
        for thread in self.threads.drain(..) {
            let _ = thread.join();
        }
    }
}

fn work(queue: &Mutex<mpsc::Receiver<Job>>) {
    loop {
        let job = {
            let queue = queue.lock().unwrap_or_else(|p| p.into_inner());
            queue.recv()
        };
        let Ok((request, done)) = job else {
            return;
        };
        done(launch(&request));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sleeper(seconds: &str) -> SpawnRequest {
        SpawnRequest {
            argv: vec!["sleep".into(), seconds.into()],
            cwd: "/".into(),
            env: Vec::new(),
            env_remove: Vec::new(),
            handoff: None,
            owner: None,
        }
    }

    #[test]
    fn requests_are_started_off_the_calling_thread_and_answered() {
        let spawner = Spawner::new(2);
        let (tx, rx) = mpsc::channel();
        for _ in 0..4 {
            let tx = tx.clone();
            spawner.launch(
                sleeper("30"),
                Box::new(move |result| {
                    let name = std::thread::current().name().map(str::to_string);
                    let _ = tx.send((result.map(|l| l.pid), name));
                }),
            );
        }
        let mut pids = Vec::new();
        for _ in 0..4 {
            let (pid, thread) = rx
                .recv_timeout(std::time::Duration::from_secs(10))
                .expect("an answer");
            assert!(thread.is_some_and(|n| n.starts_with("bringup-spawn-")));
            pids.push(pid.expect("started"));
        }
        for pid in &pids {
            let _ = crate::process::signal_group(*pid, nix::sys::signal::Signal::SIGKILL);
        }
        // Their parent-death signal is tied to the spawner's threads:
        // dropping the spawner ends those, and the children with them.
        drop(spawner);
    }

    #[test]
    fn a_program_that_cannot_start_is_an_error_in_the_answer() {
        let spawner = Spawner::new(1);
        let (tx, rx) = mpsc::channel();
        let mut request = sleeper("1");
        request.argv = vec!["/no/such/program".into()];
        spawner.launch(
            request,
            Box::new(move |result| {
                let _ = tx.send(result.err().map(|e| e.to_string()));
            }),
        );
        let error = rx
            .recv_timeout(std::time::Duration::from_secs(10))
            .expect("an answer")
            .expect("an error");
        assert!(error.contains("no such file"), "{error}");
    }
}
