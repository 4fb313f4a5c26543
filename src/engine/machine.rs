//! The engine's state machine: `(state, input) → effects`, with no I/O.
//!
//! [`Machine::handle`] takes the time (a duration since the engine's epoch)
//! and one [`Input`] — a process spawned or exited, a probe result, a timer,
//! a user command — updates the per-service records and returns the
//! [`Effect`]s the runtime must carry out: spawn, signal, kill, arm a timer,
//! start a liveness probe, publish an event. Nothing here sleeps, spawns or
//! reads a clock, so every transition is unit-tested directly.
//!
//! Each spawn gets a new generation number; inputs and timers carry the
//! generation they belong to, so a late probe result or timer from an
//! earlier process is recognised and ignored instead of corrupting the
//! current one.
//!
//! The parts: `schedule` (who may start now), `lifecycle` (spawned,
//! ready, alive, exited, restart policy, timers, adoption), `stop`,
//! `commands`, `cascade` (restarts that are not failures: a dependency
//! restarted, a watched file changed), `reload` (an edited config),
//! `cold_start` (the summary) and `view` (snapshot, status).
//!
//! After every input the machine re-runs `schedule`, which walks the
//! services in start order (within a wave, what took longest last time
//! first, when that is known) and starts whatever has become eligible — the
//! one place the dependency rules of DESIGN.md live — and, while shutting
//! down, `advance_shutdown`, which stops every service whose dependents are
//! all gone.

use std::sync::Arc;
use std::time::Duration;

use nix::sys::signal::Signal;

use crate::api::summary;
use crate::api::{
    Cause, Command, EventKind, Exit, Lost, Need, Notice, Outcome, Phase, PortChoice, PortHow,
    Reason, Refusal, RestartWhy, ServiceStatus, Snapshot, State, Stray, Summary, Then, Ticket,
    WaitReason,
};
use crate::config::plan::{Check, DepKind, Kind, Plan, RestartPolicy, ServiceId};

/// A service that stayed ready this long has its restart streak forgiven.
const STABLE_AFTER: Duration = Duration::from_secs(60);
/// Backoff delays vary by ±20% so crash-looping services spread out.
const JITTER: f64 = 0.2;

mod messages;
pub use messages::{Effect, HolderVerdict, Input, News, Reload, Timer};

/// What happens when a process we are stopping exits.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum StopIntent {
    /// Stay stopped (user stop).
    Stop,
    /// Stay stopped, and SIGKILL rather than ask (user kill).
    Kill,
    /// Become skipped.
    Skip,
    /// Start again right away (user restart).
    Restart,
    /// Liveness failed: treat the exit as a crash (restart policy applies).
    Failure,
    /// Shutdown or restart-all.
    Shutdown,
    /// Removed from the config: stays stopped for good.
    Remove,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Process {
    Down,
    /// A spawn was asked for; no pid yet.
    Spawning,
    Running(u32),
}

/// What the user (or shutdown) wants for a service.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Want {
    Up,
    Stopped,
    Skipped,
}

/// The machine's record of one service.
#[derive(Debug, Clone)]
struct Slot {
    state: State,
    since: Duration,
    generation: u64,
    process: Process,
    stop: Option<StopIntent>,
    want: Want,
    spawns: u32,
    restarts: u32,
    restart_pending: bool,
    /// Blocked by this required dependency (state is `Failed` meanwhile).
    blocked_by: Option<ServiceId>,
    waiting: Option<WaitReason>,
    degraded: Vec<ServiceId>,
    /// Until when optional dependencies may keep it waiting, set each time
    /// it starts waiting.
    optional_deadline: Option<Duration>,
    last_exit: Option<Exit>,
    /// Why it is in its state.
    reason: Reason,
    /// The last failed readiness check of the current process.
    last_check: Option<String>,
    /// Why bringup is ending the current process itself (checks failed),
    /// for the exit that follows.
    cause: Option<Cause>,
    spawned_at: Option<Duration>,
    ready_at: Option<Duration>,
    readiness_failures: u32,
    liveness_failures: u32,
    /// When this service last started being useful to its dependents
    /// (ready, completed, spawned, or gave up): "released" them.
    released_at: Duration,
    /// Cold-start bookkeeping: the spawn of the attempt that first became
    /// ready in this bring-up (until then, of the latest attempt), and that
    /// first ready. Earlier attempts (a crash, a port conflict the user
    /// took a minute to answer) do not count towards its time to ready.
    ready_attempt_spawned_at: Option<Duration>,
    first_ready_at: Option<Duration>,
    /// Which dependency (or start slot) held it back last; the critical path
    /// is the chain of these.
    gated_by: Option<ServiceId>,
    /// A SIGKILL went to the current process (forced shutdown or kill).
    killed: bool,
    /// The liveness probe of the current process is running.
    liveness_started: bool,
    /// The port the service has (allocated, or adopted), and how it came
    /// by it when that is worth saying.
    port: Option<u16>,
    port_how: Option<PortHow>,
    /// Adopted: a process bringup did not start stands in for it.
    external: bool,
    /// The required dependencies it was last said to have lost.
    lost: Vec<ServiceId>,
    /// Its port's holder is being checked: it does not start meanwhile.
    holder_check: bool,
    /// `autostart = false` and not started by hand yet: it stays stopped
    /// with the stack, its required dependents wait for it.
    manual: bool,
    /// When its current (or last) process was spawned, in the machine's
    /// count of spawns: a dependent spawned before its dependency's
    /// current process still talks to the old one (see `cascade`).
    spawn_seq: u64,
}

impl Slot {
    fn new() -> Self {
        Self {
            state: State::Pending,
            since: Duration::ZERO,
            generation: 0,
            process: Process::Down,
            stop: None,
            want: Want::Up,
            spawns: 0,
            restarts: 0,
            restart_pending: false,
            blocked_by: None,
            waiting: None,
            degraded: Vec::new(),
            optional_deadline: None,
            last_exit: None,
            reason: Reason::WaitingToStart,
            last_check: None,
            cause: None,
            spawned_at: None,
            ready_at: None,
            readiness_failures: 0,
            liveness_failures: 0,
            released_at: Duration::ZERO,
            ready_attempt_spawned_at: None,
            first_ready_at: None,
            gated_by: None,
            killed: false,
            liveness_started: false,
            port: None,
            port_how: None,
            external: false,
            lost: Vec::new(),
            holder_check: false,
            manual: false,
            spawn_seq: 0,
        }
    }

    fn alive(&self) -> bool {
        self.process != Process::Down
    }

    /// Ready (or completed) and not being stopped: what a dependent needs.
    fn up(&self) -> bool {
        self.state.is_ready() && !(self.stop.is_some() && self.alive())
    }

    /// Failed, skipped or stopped, and nothing will change that by itself.
    fn down_for_good(&self) -> bool {
        match self.state {
            State::Failed => self.blocked_by.is_none(),
            State::Skipped | State::Stopped => true,
            _ => false,
        }
    }
}

/// How a dependent stands with respect to its dependencies.
enum Eligibility {
    Go {
        gate: Option<ServiceId>,
        degraded: Vec<ServiceId>,
    },
    Wait(WaitReason),
    Blocked(ServiceId),
}

/// The state machine of a whole stack.
pub struct Machine {
    plan: Arc<Plan>,
    slots: Vec<Slot>,
    phase: Phase,
    /// Effects produced by the current input.
    out: Vec<Effect>,
    /// Whether anything visible changed since the last `take_dirty`.
    dirty: bool,
    rng: u64,
    /// When the current bring-up began, and whether its summary is out.
    began_at: Duration,
    cold_start_done: bool,
    summary: Option<Summary>,
    /// The service that most recently left `starting`, for start-slot gating.
    last_slot_freed_by: Option<ServiceId>,
    /// Services this run is about (`bringup up api` selects api and what it
    /// depends on); the rest stay stopped.
    selected: Vec<bool>,
    /// The order `schedule` walks: the graph's start order, or (see
    /// [`Machine::order_by_expected`]) the one that puts the longest expected way to
    /// the end first within each wave.
    spawn_order: Vec<ServiceId>,
    /// Shutting down, every service stopped: the look for what they left
    /// behind was asked for, and shutdown completes when it is answered.
    sweeping: bool,
    /// Spawns so far, for [`Slot::spawn_seq`].
    spawn_seq: u64,
    /// Changed files restart nothing for now (the user paused watching).
    watch_paused: bool,
    /// The run is of the whole stack (`bringup up`), not of a selection:
    /// services an edit adds are part of it.
    whole_stack: bool,
    /// Services an applied edit changed, whose restart waits for removed
    /// services that depend on them to stop (see `reload`).
    deferred_restarts: Vec<ServiceId>,
    /// Removed services still running (see `reload`).
    leaving: Vec<reload::Leaving>,
}

impl Machine {
    /// A machine for `plan`; `seed` drives the backoff jitter.
    pub fn new(plan: Arc<Plan>, seed: u64) -> Self {
        let selected = vec![true; plan.services.len()];
        Self {
            whole_stack: true,
            ..Self::with_selection(plan, seed, selected)
        }
    }

    /// A machine that only brings up the services marked in `selected`
    /// (`bringup up api`: api and what it needs).
    pub fn with_selection(plan: Arc<Plan>, seed: u64, selected: Vec<bool>) -> Self {
        let mut slots = vec![Slot::new(); plan.services.len()];
        for (slot, spec) in slots.iter_mut().zip(&plan.services) {
            slot.manual = !spec.autostart;
        }
        let plan_order = plan.graph.order().to_vec();
        Self {
            plan,
            slots,
            phase: Phase::Idle,
            out: Vec::new(),
            dirty: true,
            rng: seed | 1,
            began_at: Duration::ZERO,
            cold_start_done: false,
            summary: None,
            last_slot_freed_by: None,
            selected,
            spawn_order: plan_order,
            sweeping: false,
            spawn_seq: 0,
            watch_paused: false,
            whole_stack: false,
            deferred_restarts: Vec::new(),
            leaving: Vec::new(),
        }
    }

    /// What each service took from spawn to ready last time (by plan
    /// index), so that of services free to start together, those with the
    /// longest expected way to the end of the cold start are spawned first:
    /// on a busy machine starting a process takes a while, and the critical
    /// path should not wait behind services nothing waits for.
    pub fn order_by_expected(&mut self, expected: &[Option<Duration>]) {
        self.spawn_order = self.plan.graph.order_by_expected(expected);
    }

    pub fn phase(&self) -> Phase {
        self.phase
    }

    pub fn plan(&self) -> &Arc<Plan> {
        &self.plan
    }

    /// Applies one input and returns what the runtime must do.
    pub fn handle(&mut self, now: Duration, input: Input) -> Vec<Effect> {
        match input {
            Input::Begin => self.begin(now),
            Input::Process {
                id,
                generation,
                news,
            } => {
                if self.current(id, generation) {
                    self.news(now, id, news);
                }
            }
            Input::Command { ticket, command } => self.command(now, ticket, command),
            Input::PortAssigned { id, port, how } => self.port_assigned(id, port, how),
            Input::PortHeld { id, port } => self.port_held(id, port, None),
            Input::HolderChecked {
                id,
                port,
                ticket,
                verdict,
            } => self.holder_checked(now, id, port, ticket, verdict),
            Input::PortMoved { id, ticket, result } => self.port_moved(now, id, ticket, result),
            Input::Swept { result } => self.swept(result),
            Input::Restart { id, why } => {
                if id.0 < self.slots.len() {
                    self.restart_for(now, id, why);
                }
            }
            Input::ConfigTouched => self.config_touched(),
            Input::Reload { ticket, outcome } => self.reload(now, ticket, outcome),
        }
        match self.phase {
            Phase::Running => {
                self.advance_reload(now);
                self.schedule(now);
            }
            Phase::Restarting | Phase::ShuttingDown { .. } => self.advance_shutdown(now),
            Phase::Idle | Phase::Done => {}
        }
        self.track_lost();
        self.check_cold_start(now);
        std::mem::take(&mut self.out)
    }

    /// Whether anything visible changed since the last call.
    pub fn take_dirty(&mut self) -> bool {
        std::mem::replace(&mut self.dirty, false)
    }

    /// News of `id`'s current process.
    fn news(&mut self, now: Duration, id: ServiceId, news: News) {
        match news {
            News::Spawned { pid } => self.spawned(now, id, pid),
            News::SpawnFailed { error } => self.exited(now, id, Exit::NotStarted(error)),
            News::Exited { exit } => self.exited(now, id, exit),
            News::Readiness { ok, detail } => self.readiness(now, id, ok, detail),
            News::Liveness { ok, detail } => self.liveness(now, id, ok, detail),
            News::Timer { timer } => self.timer(now, id, timer),
            News::Unavailable { reason } => self.unavailable(now, id, reason),
        }
    }

    fn name(&self, id: ServiceId) -> &str {
        &self.plan.service(id).name
    }

    fn current(&self, id: ServiceId, generation: u64) -> bool {
        id.0 < self.slots.len() && self.slots[id.0].generation == generation
    }

    fn publish(&mut self, kind: EventKind) {
        self.dirty = true;
        self.out.push(kind_effect(kind));
    }

    /// Moves `id` to `state` (publishing the change and why).
    fn set_state(&mut self, now: Duration, id: ServiceId, state: State, reason: Reason) {
        let slot = &mut self.slots[id.0];
        let from = slot.state;
        if from == state && slot.reason == reason {
            return;
        }
        if from == State::Starting && state != State::Starting {
            self.last_slot_freed_by = Some(id);
        }
        slot.state = state;
        slot.reason = reason.clone();
        if from != state {
            slot.since = now;
            if state != State::Pending {
                slot.waiting = None;
            }
            if matches!(
                state,
                State::Ready | State::Completed | State::Failed | State::Skipped | State::Stopped
            ) {
                slot.released_at = now;
            }
        }
        if state != State::Failed {
            slot.blocked_by = None;
        }
        let name = self.name(id).to_string();
        self.publish(EventKind::State {
            service: id,
            name,
            from,
            to: state,
            reason,
        });
        if state == State::Pending && from != State::Pending {
            self.start_waiting(now, id);
        }
    }
}

fn kind_effect(kind: EventKind) -> Effect {
    Effect::Publish(kind)
}

mod cascade;
mod cold_start;
mod commands;
mod conflicts;
mod lifecycle;
mod reload;
mod schedule;
mod stop;
mod view;

#[cfg(test)]
mod tests;

#[cfg(test)]
mod properties;
