//! The plain data that crosses between the engine and its front ends:
//! [`Command`]s in, [`Event`]s and [`Snapshot`]s out.
//!
//! Everything here is serde-serializable and free of handles, so the same
//! types could travel over a control socket. Times are durations since the
//! engine started (its epoch), which keeps the state machine free of clocks.

use std::fmt;
use std::time::Duration;

use serde::{Deserialize, Serialize};

use crate::config::plan::{DepKind, Kind, ServiceId};
pub use crate::ports::owner::PortHolder;
pub use crate::process::exit::{Exit, SignalName};

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

/// Why a service is in its state: the data behind the words that
/// [`crate::engine::describe`] makes of it. Front ends never parse those
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
    /// Spawned; `attempt` counts every spawn of this bring-up.
    Starting {
        attempt: u32,
        degraded: Vec<String>,
    },
    ReadyIn {
        #[serde(with = "millis")]
        took: Duration,
        /// What the readiness check said ("HTTP 200"), if anything.
        detail: String,
    },
    CompletedIn {
        #[serde(with = "millis")]
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
        #[serde(with = "millis")]
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
    /// Its process ended without being asked to, or was stopped because
    /// checks failed (`cause`); what happens next.
    Exited {
        exit: Exit,
        cause: Option<Cause>,
        then: Then,
    },
    /// Being stopped, it did not stop within its grace: it is killed.
    KillingAfter {
        #[serde(with = "millis")]
        grace: Duration,
    },
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
        #[serde(with = "millis")]
        delay: Duration,
    },
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
        #[serde(with = "millis")]
        at: Duration,
    },
    /// A required dependency failed, was skipped or stopped.
    Blocked { on: String, state: State },
}

impl fmt::Display for WaitReason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            WaitReason::Dependency { on, need } => write!(f, "waiting for {on} ({need})"),
            WaitReason::StartSlot { limit } => {
                write!(f, "waiting for a start slot ({limit} may start at once)")
            }
            WaitReason::Restart { attempt, of, .. } => {
                write!(f, "restart {attempt} of {of} after backoff")
            }
            WaitReason::Blocked { on, state } => write!(f, "blocked: {on} is {state}"),
        }
    }
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
            Command::RestartAll | Command::Shutdown { .. } => None,
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

/// Something that happened, stamped with when.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Event {
    #[serde(with = "millis")]
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
        message: String,
    },
    /// The cold start is over: everything that will come up is up.
    ColdStart(Summary),
    /// Everything is being stopped, to be started again in order.
    RestartingAll,
    /// Shutdown began.
    ShutdownStarted { force: bool },
    /// Every process is gone.
    ShutdownComplete,
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

/// The state of one service at a moment.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ServiceStatus {
    pub id: ServiceId,
    pub name: String,
    pub kind: Kind,
    pub optional: bool,
    pub state: State,
    /// When it entered `state`.
    #[serde(with = "millis")]
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
    #[serde(with = "millis_opt")]
    pub ready_attempt_spawned_at: Option<Duration>,
    #[serde(with = "millis_opt")]
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
    #[serde(with = "millis_opt")]
    pub spawned_at: Option<Duration>,
    /// When the current process became ready.
    #[serde(with = "millis_opt")]
    pub ready_at: Option<Duration>,
    /// A stop has been asked for and the process has not exited yet.
    pub stopping: bool,
}

/// A required dependency a running service does without, and its state.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Lost {
    pub name: String,
    pub state: State,
}

/// What a front end knows about the stack it shows: told once per
/// session (the names, kinds, ports and dependencies it draws), so that no
/// front end reads the config's `Plan`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct StackInfo {
    pub project: String,
    /// The config file, as the user named it.
    pub config: String,
    /// Every service, in declaration order (index = [`ServiceId`]).
    pub services: Vec<ServiceInfo>,
}

/// One service as the config declares it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ServiceInfo {
    pub id: ServiceId,
    pub name: String,
    pub kind: Kind,
    pub optional: bool,
    pub port: Option<WantedPort>,
    pub depends_on: Vec<DependsOn>,
}

/// The port a service asks for.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct WantedPort {
    /// `None`: any free port of the project's range (`port = "auto"`).
    pub preferred: Option<u16>,
    pub fallbacks: Vec<u16>,
    /// `on_conflict = "adopt"`.
    pub adopts: bool,
    /// The address it binds, when not 127.0.0.1.
    pub host: Option<String>,
    /// `listen = true`: bringup hands the socket over.
    pub listen: bool,
}

/// A dependency as the config declares it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct DependsOn {
    pub on: ServiceId,
    pub kind: DepKind,
}

impl StackInfo {
    /// The service `id`, if there is one.
    pub fn service(&self, id: ServiceId) -> Option<&ServiceInfo> {
        self.services.get(id.0)
    }

    /// The service called `name`.
    pub fn find(&self, name: &str) -> Option<ServiceId> {
        self.services.iter().find(|s| s.name == name).map(|s| s.id)
    }

    /// The name of service `id` ("?" for an id it does not know).
    pub fn name(&self, id: ServiceId) -> &str {
        self.service(id).map_or("?", |s| s.name.as_str())
    }
}

/// The whole picture, published after every change.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Snapshot {
    pub phase: Phase,
    /// When the current bring-up began (since the epoch).
    #[serde(with = "millis")]
    pub began_at: Duration,
    /// Services in start order.
    pub services: Vec<ServiceStatus>,
    /// The latest cold-start summary, once there is one.
    pub summary: Option<Summary>,
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
    #[serde(with = "millis")]
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
    #[serde(with = "millis_opt")]
    pub spawned_at: Option<Duration>,
    #[serde(with = "millis_opt")]
    pub ready_at: Option<Duration>,
}

impl Timing {
    /// Spawn to ready.
    pub fn time_to_ready(&self) -> Option<Duration> {
        Some(self.ready_at?.saturating_sub(self.spawned_at?))
    }
}

/// Durations as milliseconds (a float, so sub-millisecond times survive)
/// in serialized form.
mod millis {
    use std::time::Duration;

    use serde::Deserialize;

    pub fn serialize<S: serde::Serializer>(d: &Duration, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_f64(d.as_secs_f64() * 1000.0)
    }

    pub fn deserialize<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Duration, D::Error> {
        let ms = f64::deserialize(d)?;
        Duration::try_from_secs_f64(ms / 1000.0).map_err(serde::de::Error::custom)
    }
}

mod millis_opt {
    use std::time::Duration;

    use serde::Deserialize;

    pub fn serialize<S: serde::Serializer>(d: &Option<Duration>, s: S) -> Result<S::Ok, S::Error> {
        match d {
            Some(d) => s.serialize_f64(d.as_secs_f64() * 1000.0),
            None => s.serialize_none(),
        }
    }

    pub fn deserialize<'de, D: serde::Deserializer<'de>>(
        d: D,
    ) -> Result<Option<Duration>, D::Error> {
        match Option::<f64>::deserialize(d)? {
            Some(ms) => Duration::try_from_secs_f64(ms / 1000.0)
                .map(Some)
                .map_err(serde::de::Error::custom),
            None => Ok(None),
        }
    }
}
