//! What front ends ask ([`Command`]) and what comes of it ([`Outcome`],
//! [`Refusal`]): every command is answered once, under its [`Ticket`].

use serde::{Deserialize, Serialize};

use super::State;
use crate::ids::ServiceId;

/// What a front end asks the engine to do.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", tag = "command", content = "service")]
pub enum Command {
    /// Stop (if running) and start again now, resetting its restart count.
    Restart(ServiceId),
    /// SIGKILL its process group; it stays stopped.
    Kill(ServiceId),
    /// Stop it gracefully; it stays stopped until started.
    Stop(ServiceId),
    /// Start a stopped, skipped, failed or completed service.
    Start(ServiceId),
    /// Stop an optional service and let its dependents run degraded.
    Skip(ServiceId),
    /// Stop everything in reverse order, then bring it all up again.
    RestartAll,
    /// Stop everything in reverse dependency order; `force` SIGKILLs now.
    Shutdown { force: bool },
    /// Pause watching files (changes restart nothing) or resume it.
    Watching { paused: bool },
    /// Read the config again and apply what changed.
    Reload,
    /// A service whose port is taken: take another port, or adopt the
    /// holder (if it passes the service's readiness check).
    ResolvePort {
        service: ServiceId,
        choice: PortChoice,
    },
}

/// Tells apart the answers to commands in flight: the engine answers every
/// command it is given, once, with the ticket it came with.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Ticket(pub u64);

/// What came of a command.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", tag = "outcome")]
pub enum Outcome {
    /// Carried out: the stop signal is sent, the service is in line to
    /// start, the port is changed. What follows shows in events.
    Done,
    /// Not carried out, and why.
    Refused { why: Refusal },
    /// The command names a service the stack does not have.
    NotFound,
}

impl Outcome {
    pub fn is_done(&self) -> bool {
        matches!(self, Outcome::Done)
    }
}

/// Why a command was not carried out.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", tag = "refusal")]
pub enum Refusal {
    /// The stack is stopping; only a harder stop is taken.
    ShuttingDown,
    /// The service is a process bringup adopted: it leaves it alone.
    Adopted,
    /// Only optional services can be skipped.
    NotOptional,
    /// Nothing to do: it already is where the command would take it.
    NothingToDo {
        state: State,
        stopping: bool,
    },
    /// `start` of a service that is running or in line already.
    AlreadyStarted {
        state: State,
    },
    /// `kill` of a service with no process.
    NotRunning,
    AlreadyRestartingAll,
    AlreadyStopping,
    /// No other port could be had.
    NoOtherPort {
        why: String,
    },
    /// Adopting needs a fixed port to look at.
    NoFixedPort,
    /// Nothing holds the port any more: restart the service instead.
    NothingHoldsPort {
        port: u16,
    },
    /// The holder does not pass the service's readiness check.
    HolderFailsCheck {
        holder: String,
        why: String,
    },
    /// The edited config does not validate: its errors (file:line:col).
    ConfigInvalid {
        errors: String,
    },
    /// The edit cannot be applied while the stack runs: why.
    ReloadNotApplicable {
        why: String,
    },
    /// The edit came as the stack began to stop: the next `up` applies it.
    ReloadWhileStopping,
}

impl Command {
    /// The service it is about, if it is about one.
    pub fn service(&self) -> Option<ServiceId> {
        match *self {
            Command::Restart(id)
            | Command::Kill(id)
            | Command::Stop(id)
            | Command::Start(id)
            | Command::Skip(id) => Some(id),
            Command::ResolvePort { service, .. } => Some(service),
            Command::RestartAll
            | Command::Shutdown { .. }
            | Command::Watching { .. }
            | Command::Reload => None,
        }
    }
}

/// The ways out of a port conflict (besides leaving the service failed).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum PortChoice {
    /// Any free port of the project's range.
    Fallback,
    /// The process holding the wanted port, if it passes readiness.
    Adopt,
}
