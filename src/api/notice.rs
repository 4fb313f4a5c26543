//! What the user should know that is not a state change: [`Notice`]s, as
//! data. The sentences are made in `describe`, like every other.

use serde::{Deserialize, Serialize};

use super::SignalName;

/// A process bringup came across outside a service's process group: its
/// pid and command line.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Stray {
    pub pid: i32,
    pub command: String,
}

impl From<&crate::process::leftovers::Marked> for Stray {
    fn from(process: &crate::process::leftovers::Marked) -> Self {
        Self {
            pid: process.pid,
            command: process.command.clone(),
        }
    }
}

/// The kinds of notice.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", tag = "notice")]
pub enum Notice {
    /// The engine could not start its runtime: nothing will run.
    EngineFailed { error: String },
    /// No watchdog: if bringup is killed with SIGKILL, grandchildren of
    /// services may survive.
    NoWatchdog { error: String },
    /// The open-file limit (already raised to the hard limit) that this
    /// many services may exhaust.
    OpenFileLimit { limit: u64, services: usize },
    /// bringup could not become a child subreaper: daemons that leave
    /// their service's process group may outlive the stack.
    NoSubreaper { error: String },
    /// A process left its service's process group (a daemon?) and was
    /// taken in; it stops with its service, or with the stack when no
    /// service could be told.
    Adopted {
        process: Stray,
        service: Option<String>,
    },
    /// What a service's process left behind outside its process group,
    /// stopped after it exited.
    Escaped {
        service: String,
        stopped: Vec<Stray>,
    },
    /// What the stack left behind outside the services' process groups,
    /// stopped at shutdown.
    LeftBehind { stopped: Vec<Stray> },
    /// The look for processes left behind at shutdown failed.
    SweepFailed { error: String },
    /// A signal could not be sent to a service's process group.
    SignalFailed { signal: SignalName, error: String },
    /// The notify socket received something it could not use, and why.
    NotifyRejected { why: String },
    /// Files cannot be watched (all, or some): why.
    WatchTrouble { why: String },
    /// The edited config does not validate; the stack runs on as it was.
    ConfigInvalid { errors: String },
    /// The edited config cannot be applied while the stack runs; it runs
    /// on as it was.
    ReloadNotApplicable { why: String },
    /// The config was edited as the stack began to stop; the next `up`
    /// applies it.
    ReloadWhileStopping,
}
