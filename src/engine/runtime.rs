//! The runtime: carries out the state machine's effects and feeds the
//! results back as inputs.
//!
//! One task owns the [`Machine`] and everything it decides; it runs on its
//! own thread with a single-threaded tokio runtime. That thread is also the
//! one that forks every service, which matters because a parent-death
//! signal fires when the forking *thread* ends: this one ends only after
//! the last service has stopped.
//!
//! The loop takes one input at a time — a command from a front end, or a
//! result from a task it started (a process exited, a probe answered, a
//! timer fired) — hands it to the machine, and performs the effects in
//! order. Spawn results are queued locally and handled before anything else
//! so no probe result can overtake the news that its process exists.
//! Commands are taken before other inputs, so the user is answered promptly
//! even when probes are busy. After each input that changed anything, a new
//! [`Snapshot`] is published.
//!
//! The parts: `handle` (the [`Engine`] front ends hold, and its start),
//! `event_loop`, `launching` (a service's process, from request to
//! running), `adoption` (ports and their holders) and `checks` (rendered
//! readiness and liveness probes). Processes are started through a
//! [`Launcher`], which tests replace with a recording fake.

use std::collections::VecDeque;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

use tokio::sync::{broadcast, mpsc, oneshot, watch};

use crate::api::describe::Weight;
use crate::api::{
    Command, Event, EventKind, Notice, Outcome, Phase, Snapshot, StackInfo, Stray, Ticket,
};
use crate::config::plan::{Check, CommandSpec, Kind, Plan, ServiceId};
use crate::engine::crash::CrashReport;
use crate::engine::history::History;
use crate::engine::machine::{Effect, HolderVerdict, Input, Machine, News};
use crate::engine::port_book::{PortBook, Start, Trouble};
use crate::logs::{LogHub, Stream};
use crate::probe::notify::NotifySocket;
use crate::probe::{self, AbortOnDrop, Prober, Target};
use crate::process::launcher::{Direct, Launcher};
use crate::process::leftovers::{self, RUN_VARIABLE};
use crate::process::output::{LogWatch, pump};
use crate::process::watchdog::{GRACE, Watchdog};
use crate::process::{self, SpawnRequest, Subreaper};
use crate::rundir::RunDir;

mod adoption;
mod checks;
mod event_loop;
mod handle;
mod launching;
mod reload;

pub use handle::{Engine, EngineError, EngineOptions, Request};

/// How long output still in the pipes may take to arrive after a process
/// exits, before its exit is reported anyway (a grandchild that left the
/// process group could hold the pipe open forever).
const DRAIN_AFTER_EXIT: Duration = Duration::from_millis(200);
/// Capacity of the channels into the engine.
const CHANNEL: usize = 1024;
/// Events kept for slow front ends before they are told they lagged.
const EVENT_BACKLOG: usize = 4096;

/// What the runtime keeps per service, besides the machine's own record.
#[derive(Default)]
struct ServiceRuntime {
    generation: u64,
    /// The process group of the current process.
    pgid: Option<u32>,
    /// Rendered environment of the current process (exec probes use it).
    env: Vec<(String, String)>,
    probes: Vec<AbortOnDrop>,
    log_watch: Option<Arc<LogWatch>>,
    /// The port conflict last told to the front ends.
    conflict_reported: Option<String>,
    /// A start handed to the launcher, not answered yet.
    launching: Option<Launching>,
}

/// What a start needs once its process exists: set up before it was asked
/// for, so not even the process's first words or signals can be missed.
struct Launching {
    generation: u64,
    env: Vec<(String, String)>,
    probes: Vec<AbortOnDrop>,
    log_watch: Option<Arc<LogWatch>>,
    notifier: crate::probe::notify::ServiceCell,
    asked: Instant,
}

/// The launcher's answer to a start.
struct LaunchDone {
    id: ServiceId,
    generation: u64,
    result: std::io::Result<process::Launched>,
}

/// What wakes the loop.
enum Next {
    Input(Input),
    Launched(LaunchDone),
}

struct Runtime {
    plan: Arc<Plan>,
    machine: Machine,
    epoch: Instant,
    inputs: mpsc::Sender<Input>,
    events: broadcast::Sender<Event>,
    snapshot: watch::Sender<Snapshot>,
    /// What front ends know of the stack; it changes when an edit of the
    /// config adds or removes services.
    info: watch::Sender<Arc<StackInfo>>,
    logs: Arc<LogHub>,
    services: Vec<ServiceRuntime>,
    watchdog: Option<Arc<Watchdog>>,
    /// Adopts and stops the daemons services leave behind.
    subreaper: Option<Arc<Subreaper>>,
    /// The subreaper's task that looks for them.
    adopting: Option<AbortOnDrop>,
    rundir: RunDir,
    /// The value of `BRINGUP_RUN` in every service's environment.
    run_id: String,
    history: Option<History>,
    /// What each service took to become ready last time (by plan index).
    expected: Vec<Option<Duration>>,
    /// The port each service gets.
    ports: PortBook,
    /// The services this run brings up.
    selected: Vec<bool>,
    /// The run is of the whole stack, not of a selection (`up api`).
    whole_stack: bool,
    /// Starts the services' processes (see [`process::launcher`]).
    launcher: Box<dyn Launcher>,
    /// Where the launcher answers.
    launches: mpsc::UnboundedSender<LaunchDone>,
    /// Where the answers to commands go, by ticket.
    replies: std::collections::HashMap<Ticket, oneshot::Sender<Outcome>>,
    /// The watch of the services' files (started again with each plan).
    watching: Option<AbortOnDrop>,
    next_ticket: u64,
}

/// Tells the front ends what happened, and writes it in words into
/// bringup's own log (the dashboard's orchestrator log, a log store read
/// like a service's; and stderr with `BRINGUP_LOG`).
fn announce(events: &broadcast::Sender<Event>, logs: &LogHub, at: Duration, kind: EventKind) {
    if let Some(described) = crate::api::describe::describe(&kind) {
        // (Messages quote command lines and what services said.)
        let text = crate::ansi::plain(&described.to_string()).into_owned();
        let stream = match described.weight {
            Weight::Warn => {
                tracing::warn!(target: "bringup", "{text}");
                Stream::Stderr
            }
            Weight::Info => {
                tracing::info!(target: "bringup", "{text}");
                Stream::Stdout
            }
        };
        logs.append_own(stream, text);
    }
    let _ = events.send(Event { at, kind });
}

#[cfg(test)]
mod tests;
