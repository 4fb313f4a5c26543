//! How the engine has its services started: the seam between deciding to
//! start a process and starting it.
//!
//! The engine hands a [`SpawnRequest`] to a [`Launcher`] with a callback
//! for the outcome, and takes up the process once the callback has said
//! it exists (or could not be started). [`Direct`] starts it right away on
//! the calling thread — the engine's, which lives until every service has
//! stopped, as the parent-death signal requires (see [`mod@super::launch`]).
//! Starting from threads of their own, several at once, was measured on
//! two cores: it did not start a stack any sooner (the cores are busy with
//! the services' own start either way) and added two thread hops to every
//! start, so the engine starts its services itself.

use std::io;

use crate::process::{Launched, SpawnRequest, launch};

/// What a launcher does with a result.
pub type Done = Box<dyn FnOnce(io::Result<Launched>) + Send>;

/// Starts processes for the engine.
pub trait Launcher: Send {
    /// Starts `request`; `done` gets the result.
    fn launch(&self, request: SpawnRequest, done: Done);
}

/// Starts each process on the calling thread, at once.
#[derive(Debug, Clone, Copy, Default)]
pub struct Direct;

impl Launcher for Direct {
    fn launch(&self, request: SpawnRequest, done: Done) {
        done(launch(&request));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_start_is_answered_with_the_process_or_why_not() {
        let request = |program: &str| SpawnRequest {
            argv: vec![program.into(), "30".into()],
            cwd: "/".into(),
            env: Vec::new(),
            env_remove: Vec::new(),
            handoff: None,
            owner: None,
        };
        let (tx, rx) = std::sync::mpsc::channel();
        for program in ["sleep", "/no/such/program"] {
            let tx = tx.clone();
            Direct.launch(
                request(program),
                Box::new(move |result| {
                    let _ = tx.send(result.map(|l| l.pid).map_err(|e| e.to_string()));
                }),
            );
        }
        let started = rx.recv().expect("an answer").expect("sleep starts");
        let _ = crate::process::signal_group(started, nix::sys::signal::Signal::SIGKILL);
        let error = rx.recv().expect("an answer").expect_err("no such program");
        assert!(error.contains("no such file"), "{error}");
    }
}
