//! Why a service is in its state ([`Reason`]), as data: front ends never
//! parse the words [`crate::api::describe`] makes of it.

use std::time::Duration;

use serde::{Deserialize, Serialize};

use super::Exit;
use super::State;

/// Why a service is in its state: the data behind the words that
/// [`crate::api::describe`] makes of it. Front ends never parse those
/// words; they look at this.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", tag = "reason")]
pub enum Reason {
    /// In line to start, nothing asked yet.
    WaitingToStart,
    /// In line to start again after a user's restart.
    Restarting,
    /// In line to start after a user's start.
    StartingOnRequest,
    /// `bringup up api` leaves the rest out.
    NotSelected,
    /// The stack stopped before it started.
    NotStarted,
    /// `autostart = false`: it starts only when asked (`bringup start`, the
    /// start key).
    AwaitingStart,
    /// Spawned; `attempt` counts every spawn of this bring-up.
    Starting {
        attempt: u32,
        degraded: Vec<String>,
    },
    ReadyIn {
        #[serde(with = "crate::millis")]
        took: Duration,
        /// What the readiness check said ("HTTP 200"), if anything.
        detail: String,
    },
    CompletedIn {
        #[serde(with = "crate::millis")]
        took: Duration,
    },
    /// A process bringup did not start stands in for the service.
    Adopted {
        holder: String,
    },
    AdoptedAnswersAgain,
    AdoptedNotAnswering {
        detail: String,
    },
    /// It was ready; readiness fails now.
    ReadinessFailing {
        detail: String,
    },
    /// Not ready within `ready_timeout`; still being checked.
    NotReadyAfter {
        #[serde(with = "crate::millis")]
        timeout: Duration,
        last_check: Option<String>,
    },
    /// Liveness failed `failures` times in a row; `restart`: it is being
    /// restarted for it (else `restart = "never"` keeps it running).
    LivenessFailing {
        failures: u32,
        detail: String,
        restart: bool,
    },
    /// A required dependency failed, was skipped or stopped.
    Blocked {
        on: String,
        state: State,
    },
    /// It could not be started at all (no port could be had).
    CouldNotStart {
        why: String,
    },
    StoppedOnRequest,
    SkippedOnRequest,
    Skipped,
    /// Stopped as asked; how its process ended.
    Stopped {
        exit: Exit,
    },
    /// Removed from the config while the stack ran: stopped for good (how
    /// its process ended, if it had one).
    Removed {
        exit: Option<Exit>,
    },
    /// Its process ended without being asked to, or was stopped because
    /// checks failed (`cause`); what happens next.
    Exited {
        exit: Exit,
        cause: Option<Cause>,
        then: Then,
    },
    /// Being stopped, it did not stop within its grace: it is killed.
    KillingAfter {
        #[serde(with = "crate::millis")]
        grace: Duration,
    },
    /// bringup restarts it by itself (not its restart policy): `why`.
    RestartingBecause {
        why: RestartWhy,
    },
}

/// Why bringup restarts a service that did not fail. These restarts do
/// not count toward `max_restarts` and do not back off.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", tag = "why")]
pub enum RestartWhy {
    /// A dependency it follows (`restart = true`) restarted and is ready
    /// again.
    DependencyRestarted { on: String },
    /// A watched file changed; `more` others changed with it.
    FileChanged { path: String, more: usize },
    /// Its entry in the config changed.
    ConfigChanged,
}

/// Why bringup ended a process itself, when checks failed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", tag = "cause")]
pub enum Cause {
    /// Its liveness check failed this many times in a row.
    Liveness { failures: u32, detail: String },
    /// An adopted process did not answer this many checks in a row.
    AdoptedSilent { failures: u32, detail: String },
}

/// What follows an exit nobody asked for.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", tag = "then")]
pub enum Then {
    /// Nothing: it stays down (failed, or stopped while everything stops).
    StaysDown,
    /// The restart policy ran out.
    GaveUp { restarts: u32 },
    RestartIn {
        attempt: u32,
        of: u32,
        #[serde(with = "crate::millis")]
        delay: Duration,
    },
}
