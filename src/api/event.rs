//! What happened, stamped with when: [`Event`]s, and how a service came
//! by its port ([`PortHow`]).

use std::time::Duration;

use serde::{Deserialize, Serialize};

use super::{Exit, Notice, Reason, Refusal, SignalName, State, Summary, WaitReason};
use crate::ids::ServiceId;

/// Something that happened, stamped with when.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Event {
    #[serde(with = "crate::millis")]
    pub at: Duration,
    #[serde(flatten)]
    pub kind: EventKind,
}

/// The kinds of [`Event`].
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", tag = "event")]
pub enum EventKind {
    /// A service changed state, and why.
    State {
        service: ServiceId,
        name: String,
        from: State,
        to: State,
        reason: Reason,
    },
    /// A pending service now waits for something else.
    Waiting {
        service: ServiceId,
        name: String,
        reason: WaitReason,
    },
    /// A process was started.
    Spawned {
        service: ServiceId,
        name: String,
        pid: u32,
        attempt: u32,
    },
    /// A process ended.
    Exited {
        service: ServiceId,
        name: String,
        pid: Option<u32>,
        exit: Exit,
    },
    /// A service got its port (`how`, when it is news: a fallback because
    /// the preferred port was held, say).
    Port {
        service: ServiceId,
        name: String,
        port: u16,
        how: Option<PortHow>,
    },
    /// A service cannot start because its port is taken (the holders, if
    /// any could be seen, and the whole explanation). `ahead`: found when
    /// ports were handed out, before the service's turn to start (which
    /// fails unless it is resolved, or the port freed, by then).
    PortConflict {
        service: ServiceId,
        name: String,
        port: Option<u16>,
        holders: Vec<crate::ports::Holder>,
        message: String,
        ahead: bool,
    },
    /// A running service lost a required dependency: it is no longer
    /// ready (or is being stopped), so the service may not work.
    DependencyLost {
        service: ServiceId,
        name: String,
        on: String,
        state: State,
    },
    /// A required dependency a running service had lost is back.
    DependencyBack {
        service: ServiceId,
        name: String,
        on: String,
    },
    /// A signal was sent to a service's process group.
    Signalled {
        service: ServiceId,
        name: String,
        signal: SignalName,
    },
    /// A probe result that is news (first failure, a different failure).
    Probe {
        service: ServiceId,
        name: String,
        liveness: bool,
        ok: bool,
        detail: String,
    },
    /// A command was not carried out (its sender got the same answer).
    Refused {
        service: Option<ServiceId>,
        name: Option<String>,
        why: Refusal,
    },
    /// Something the user should know that is not a state change.
    Notice {
        service: Option<ServiceId>,
        name: Option<String>,
        notice: Notice,
    },
    /// The cold start is over: everything that will come up is up.
    ColdStart(Summary),
    /// Everything is being stopped, to be started again in order.
    RestartingAll,
    /// Watching files was paused (changes restart nothing) or resumed.
    Watching { paused: bool },
    /// Shutdown began.
    ShutdownStarted { force: bool },
    /// Every process is gone.
    ShutdownComplete,
    /// An edit of the config was applied: `changed` services restart,
    /// `added` ones start, `removed` ones stop (the rest keep their
    /// processes); `ui`: `[ui]` changed.
    Reloaded {
        changed: Vec<String>,
        ui: bool,
        #[serde(default, skip_serializing_if = "Vec::is_empty")]
        added: Vec<String>,
        #[serde(default, skip_serializing_if = "Vec::is_empty")]
        removed: Vec<String>,
    },
    /// The stack's services are not the ones told before (an edit of the
    /// config added or removed some): what a front end knows of the
    /// stack, anew. Comes before any event about an added service.
    StackChanged { info: Box<super::StackInfo> },
}

/// How a service came by its port, when that is worth saying.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", tag = "how")]
pub enum PortHow {
    /// Any free port of the project's range (`port = "auto"`).
    Auto,
    /// The wanted port (and maybe other fallbacks) was taken: each port
    /// passed over, and why.
    Fallback { passed: Vec<crate::ports::Tried> },
    /// It had a port that was taken since it was handed out.
    Moved {
        from: u16,
        why: crate::ports::Reason,
    },
    /// The user asked for another port than the one it wanted.
    Instead { of: Option<u16> },
    /// A process bringup adopted holds it.
    External,
}

impl PortHow {
    /// Not the port it asked for (a fallback, a move, the user's choice).
    pub fn elsewhere(&self) -> bool {
        matches!(
            self,
            PortHow::Fallback { .. } | PortHow::Moved { .. } | PortHow::Instead { .. }
        )
    }
}
