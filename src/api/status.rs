//! The whole picture at a moment ([`Snapshot`], one [`ServiceStatus`] per
//! service), how a cold start went ([`Summary`]) and how a run is judged
//! ([`Verdict`]).

use std::time::Duration;

use serde::{Deserialize, Serialize};

use super::{Exit, Phase, PortHow, Reason, State, WaitReason};
use crate::config::plan::Kind;
use crate::ids::ServiceId;

/// The state of one service at a moment.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ServiceStatus {
    pub id: ServiceId,
    pub name: String,
    pub kind: Kind,
    pub optional: bool,
    pub state: State,
    /// When it entered `state`.
    #[serde(with = "crate::millis")]
    pub since: Duration,
    pub pid: Option<u32>,
    /// The port it got (not necessarily the one it wanted).
    pub port: Option<u16>,
    /// How it got the port, when that is worth saying.
    pub port_how: Option<PortHow>,
    /// Adopted: a process bringup did not start stands in for the service.
    pub external: bool,
    /// It became ready (or completed) at some point of this bring-up.
    pub ever_ready: bool,
    /// The spawn of the attempt that first became ready in this bring-up
    /// (until one did, of the latest attempt), and that first ready; since
    /// the epoch. Their difference is the service's time to ready.
    #[serde(with = "crate::millis::opt")]
    pub ready_attempt_spawned_at: Option<Duration>,
    #[serde(with = "crate::millis::opt")]
    pub first_ready_at: Option<Duration>,
    /// The dependency (or the service freeing a start slot) that let it start.
    pub gated_by: Option<ServiceId>,
    /// This run is about it (`bringup up api` leaves the rest unselected).
    pub selected: bool,
    /// Processes spawned so far.
    pub spawns: u32,
    /// Restarts in the current streak (reset by a manual start or by
    /// staying ready for a while).
    pub restarts: u32,
    pub max_restarts: u32,
    pub waiting: Option<WaitReason>,
    /// Optional dependencies that were missing when it started.
    pub degraded: Vec<String>,
    /// Required dependencies that are not up while it runs (a database
    /// that failed under a ready api).
    pub lost: Vec<Lost>,
    pub last_exit: Option<Exit>,
    /// Why it is in its state.
    pub reason: Reason,
    /// What the last failed readiness check of the current process said
    /// ("HTTP 503 (expected 200-299)"), while it is not ready.
    pub last_check: Option<String>,
    /// When the current (or last) process was spawned.
    #[serde(with = "crate::millis::opt")]
    pub spawned_at: Option<Duration>,
    /// When the current process became ready.
    #[serde(with = "crate::millis::opt")]
    pub ready_at: Option<Duration>,
    /// A stop has been asked for and the process has not exited yet.
    pub stopping: bool,
    /// It has `watch` globs: changes of those files restart it.
    #[serde(default)]
    pub watching: bool,
}

/// A required dependency a running service does without, and its state.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Lost {
    pub name: String,
    pub state: State,
}

/// The whole picture, published after every change.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Snapshot {
    pub phase: Phase,
    /// When the current bring-up began (since the epoch).
    #[serde(with = "crate::millis")]
    pub began_at: Duration,
    /// Services in start order.
    pub services: Vec<ServiceStatus>,
    /// The latest cold-start summary, once there is one.
    pub summary: Option<Summary>,
    /// Watching files is paused: changes restart nothing.
    #[serde(default)]
    pub watch_paused: bool,
}

/// How a run ended, judged by its last snapshot: what the exit status says.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Verdict {
    /// Required services that never became ready.
    pub never_ready: Vec<String>,
    /// Required services that had failed for good when the run ended (a
    /// crash loop that ran out of restarts, say).
    pub failed: Vec<String>,
}

impl Snapshot {
    /// How many of the services this run brings up are ready (or
    /// completed), and how many it brings up: the header's "4/5 ready".
    pub fn ready_of_selected(&self) -> (usize, usize) {
        let selected = self.services.iter().filter(|s| s.selected);
        let ready = selected.clone().filter(|s| s.state.is_ready()).count();
        (ready, selected.count())
    }
}

impl Verdict {
    pub fn of(snapshot: &Snapshot) -> Self {
        let required = || {
            snapshot
                .services
                .iter()
                .filter(|s| s.selected && !s.optional)
        };
        Self {
            never_ready: required()
                .filter(|s| !s.ever_ready)
                .map(|s| s.name.clone())
                .collect(),
            failed: required()
                .filter(|s| s.state == State::Failed)
                .map(|s| s.name.clone())
                .collect(),
        }
    }

    /// Every required service became ready and none had failed at the end.
    pub fn healthy(&self) -> bool {
        self.never_ready.is_empty() && self.failed.is_empty()
    }

    /// What to tell the user about an unhealthy run, a line each.
    pub fn complaints(&self) -> Vec<String> {
        let mut lines = Vec::new();
        if !self.never_ready.is_empty() {
            lines.push(format!(
                "required services that never became ready: {}",
                self.never_ready.join(", ")
            ));
        }
        if !self.failed.is_empty() {
            lines.push(format!(
                "required services that failed: {}",
                self.failed.join(", ")
            ));
        }
        lines
    }
}

/// How a cold start went.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Summary {
    /// Every non-optional service became ready (or completed).
    pub all_required_ready: bool,
    /// From the start of the bring-up until the last service became ready.
    #[serde(with = "crate::millis")]
    pub time_to_ready: Duration,
    /// The chain of services that decided `time_to_ready`, first to last.
    pub critical_path: Vec<Timing>,
    /// Every service, in start order.
    pub services: Vec<Timing>,
}

/// When one service was spawned and became ready during a cold start,
/// relative to the start of the bring-up.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Timing {
    pub service: ServiceId,
    pub name: String,
    pub state: State,
    #[serde(with = "crate::millis::opt")]
    pub spawned_at: Option<Duration>,
    #[serde(with = "crate::millis::opt")]
    pub ready_at: Option<Duration>,
}

impl Timing {
    /// Spawn to ready.
    pub fn time_to_ready(&self) -> Option<Duration> {
        Some(self.ready_at?.saturating_sub(self.spawned_at?))
    }
}
