//! What goes into the machine ([`Input`], with [`News`] of processes, a
//! [`Reload`]ed config, a [`HolderVerdict`]) and what comes out of it
//! ([`Effect`]s for the runtime to carry out, [`Timer`]s to arm): the
//! machine's whole interface with the world, as data.

use std::sync::Arc;
use std::time::Duration;

use nix::sys::signal::Signal;

use crate::api::{
    Command, EventKind, Exit, Holder, Outcome, PortHow, RestartWhy, Stray, Summary, Ticket,
};
use crate::config::plan::{Plan, ServiceId};

/// Something that happened, fed to [`Machine::handle`].
#[derive(Debug, Clone)]
pub enum Input {
    /// Bring the stack up.
    Begin,
    /// News of one process of a service (or of the process it adopted).
    /// Each spawn or adoption gets a new generation; news of an earlier one
    /// (a late probe result, a timer armed for a process long gone) is
    /// dropped here, once, before anything looks at it.
    Process {
        id: ServiceId,
        generation: u64,
        news: News,
    },
    /// A command, answered with an [`Effect::Reply`] with its ticket.
    Command { ticket: Ticket, command: Command },
    /// The service got `port` (`note` says how, when it was not the
    /// preferred one).
    PortAssigned {
        id: ServiceId,
        port: u16,
        how: Option<PortHow>,
    },
    /// When ports were handed out, the port of a service that may adopt
    /// its holder (`on_conflict = "adopt"`) was held: is the holder good?
    PortHeld { id: ServiceId, port: u16 },
    /// The holder of `port` was checked (asked by [`Effect::CheckHolder`]).
    HolderChecked {
        id: ServiceId,
        port: u16,
        ticket: Option<Ticket>,
        verdict: HolderVerdict,
    },
    /// The processes the stack left behind were looked for and stopped
    /// (asked by [`Effect::SweepLeftovers`]): which, or why that failed.
    Swept { result: Result<Vec<Stray>, String> },
    /// Another port was looked for (asked by [`Effect::MovePort`]): the
    /// port and how it came about, or why there is none.
    PortMoved {
        id: ServiceId,
        ticket: Ticket,
        result: Result<(u16, PortHow), String>,
    },
    /// Something other than a failure wants `id` restarted (a watched file
    /// changed, say); the machine decides whether it is (see `cascade`).
    Restart { id: ServiceId, why: RestartWhy },
    /// The config file (or an env file it reads) changed on disk.
    ConfigTouched,
    /// The config was read again (asked by [`Effect::LoadConfig`]) and
    /// compared with the running one (see `reload`).
    Reload {
        ticket: Option<Ticket>,
        outcome: Reload,
    },
}

/// A config read again, as the runtime found it.
#[derive(Debug, Clone)]
pub enum Reload {
    /// Valid and applicable: the new plan, merged into the running one's
    /// numbers (the runtime uses it already), what changed, and the ports
    /// handed out for it (added services, changed ports: only
    /// [`Input::PortAssigned`] and [`Input::PortHeld`]), taken before any
    /// added service may start.
    Applied {
        plan: Arc<Plan>,
        diff: crate::config::diff::PlanDiff,
        ports: Vec<Input>,
    },
    /// Valid, but not while the stack runs: why.
    NotApplicable { why: String },
    /// Not valid: its errors (file:line:col).
    Invalid { errors: String },
}

/// What happened to a service's current process.
#[derive(Debug, Clone)]
pub enum News {
    Spawned {
        pid: u32,
    },
    SpawnFailed {
        error: String,
    },
    /// The process exited (and its process group is gone).
    Exited {
        exit: Exit,
    },
    Readiness {
        ok: bool,
        detail: String,
    },
    Liveness {
        ok: bool,
        detail: String,
    },
    Timer {
        timer: Timer,
    },
    /// The service cannot be started at all (no port could be had); no
    /// restart would change that.
    Unavailable {
        reason: String,
    },
}

/// What a check of a port's holder found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum HolderVerdict {
    /// It passes the service's readiness check: who it is and what the
    /// check said.
    Passes { detail: String },
    /// Nothing holds the port any more.
    Gone,
    /// It does not pass: who it is (in words, and every holder found), and
    /// why not.
    Fails {
        holder: String,
        holders: Vec<Holder>,
        why: String,
    },
}

/// The timers the machine arms.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Timer {
    /// `ready_timeout` after spawn.
    ReadyTimeout,
    /// The backoff before a restart.
    Restart,
    /// `stop_grace` after the stop signal.
    StopGrace,
    /// `dependency_timeout` for optional dependencies.
    DependencyTimeout,
}

/// What the runtime must do.
#[derive(Debug, Clone, PartialEq)]
pub enum Effect {
    /// Spawn the service's process and start its readiness check (polled,
    /// log line or notify socket, as configured).
    /// `attempt` counts the service's starts in this run, from 1: with its
    /// name, it tells one start from another (`BRINGUP_ATTEMPT`).
    Spawn {
        id: ServiceId,
        generation: u64,
        attempt: u32,
    },
    /// Start the liveness probe of a ready service.
    StartLiveness { id: ServiceId, generation: u64 },
    /// Check an adopted process at `period` (its liveness check, else its
    /// readiness check, else a TCP connect to its port) and report the
    /// results as liveness.
    WatchAdopted { id: ServiceId, generation: u64 },
    /// The adopted process is gone: its port is no longer taken by it, so
    /// a start of bringup's own instance must allocate it again.
    Disown { id: ServiceId },
    /// Stop every probe of the service.
    StopProbes { id: ServiceId },
    /// Send `signal` to the service's process group.
    Signal {
        id: ServiceId,
        generation: u64,
        signal: Signal,
    },
    /// SIGKILL the service's process group.
    Kill { id: ServiceId, generation: u64 },
    /// Feed `Input::Timer` back after `after`.
    Arm {
        id: ServiceId,
        generation: u64,
        timer: Timer,
        after: Duration,
    },
    /// Tell the front ends.
    Publish(EventKind),
    /// The answer to the command that came with `ticket`.
    Reply { ticket: Ticket, outcome: Outcome },
    /// Check whether the holder of `port` passes `id`'s readiness check;
    /// answer with [`Input::HolderChecked`].
    CheckHolder {
        id: ServiceId,
        port: u16,
        ticket: Option<Ticket>,
    },
    /// The holder of `port` stands in for `id` now: its port is external.
    TakeHolder { id: ServiceId, port: u16 },
    /// The holder of `port` will not do for `id`: starting it fails with
    /// `why` unless the port is freed.
    RefuseHolder {
        id: ServiceId,
        port: u16,
        holders: Vec<Holder>,
        why: String,
    },
    /// Give `id` any free port of the range instead of the one it wanted;
    /// answer with [`Input::PortMoved`].
    MovePort { id: ServiceId, ticket: Ticket },
    /// Every service has stopped: stop whatever still carries this run's
    /// marker (it escaped its process group), off the loop since that
    /// waits out a grace period; answer with [`Input::Swept`].
    SweepLeftovers,
    /// Keep what this cold start took, for the next one's start order
    /// (off the loop: it writes a file).
    SaveHistory(Summary),
    /// Read the config again and compare it with the running one; answer
    /// with [`Input::Reload`] (with `ticket`, when a command asked).
    LoadConfig { ticket: Option<Ticket> },
}
