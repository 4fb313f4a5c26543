//! Where a service and the engine are: [`State`], what a pending service
//! waits for ([`WaitReason`], [`Need`]) and the engine's [`Phase`].

use std::fmt;
use std::time::Duration;

use serde::{Deserialize, Serialize};

/// The state of one service (DESIGN.md, "Service states").
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum State {
    /// Waiting for its dependencies, a start slot or a restart delay.
    Pending,
    /// Spawned; readiness has not passed yet (a running task is here too).
    Starting,
    /// Readiness passed.
    Ready,
    /// Running, but readiness fails now (or never passed in `ready_timeout`).
    NotReady,
    /// Exited and will not be restarted, could not start, or is blocked by a
    /// required dependency that failed.
    Failed,
    /// Stopped by the user or at shutdown.
    Stopped,
    /// An optional service left out by the user.
    Skipped,
    /// A task that exited 0.
    Completed,
}

impl State {
    pub fn as_str(self) -> &'static str {
        match self {
            State::Pending => "pending",
            State::Starting => "starting",
            State::Ready => "ready",
            State::NotReady => "not_ready",
            State::Failed => "failed",
            State::Stopped => "stopped",
            State::Skipped => "skipped",
            State::Completed => "completed",
        }
    }

    /// A symbol that tells states apart without colour.
    pub fn symbol(self) -> char {
        match self {
            State::Pending => '…',
            State::Starting => '◌',
            State::Ready => '●',
            State::NotReady => '◐',
            State::Failed => '✗',
            State::Stopped => '■',
            State::Skipped => '⊘',
            State::Completed => '✓',
        }
    }

    /// Up in the sense dependents care about.
    pub fn is_ready(self) -> bool {
        matches!(self, State::Ready | State::Completed)
    }
}

impl fmt::Display for State {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// What a pending service is waiting for.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", tag = "waiting_for")]
pub enum WaitReason {
    /// A dependency has not reached what this service needs yet.
    Dependency { on: String, need: Need },
    /// All `max_parallel_starts` slots are taken.
    StartSlot { limit: usize },
    /// It exited and restarts after a backoff delay.
    Restart {
        attempt: u32,
        of: u32,
        #[serde(with = "crate::millis")]
        at: Duration,
    },
    /// A required dependency failed, was skipped or stopped.
    Blocked { on: String, state: State },
    /// The port it wants is still held by the process of a service removed
    /// from the config, which is stopping (a renamed service, say).
    PortOfRemoved { port: u16, by: String },
}

/// What a dependent needs from a dependency.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Need {
    Ready,
    Spawned,
    Completed,
}

impl fmt::Display for Need {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Need::Ready => "ready",
            Need::Spawned => "spawned",
            Need::Completed => "completed",
        })
    }
}

/// Where the engine is in its life.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Phase {
    /// Created; `Begin` not yet received.
    Idle,
    /// Bringing services up and keeping them running.
    Running,
    /// Stopping everything before starting it all again.
    Restarting,
    /// Stopping everything for good.
    ShuttingDown { force: bool },
    /// Nothing is running any more.
    Done,
}
