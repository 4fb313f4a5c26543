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
//! After every input the machine re-runs `schedule`, which walks the
//! services in start order (within a wave, what took longest last time
//! first, when that is known) and starts whatever has become eligible — the
//! one place the dependency rules of DESIGN.md live — and, while shutting
//! down, `advance_shutdown`, which stops every service whose dependents are
//! all gone.

use std::sync::Arc;
use std::time::Duration;

use nix::sys::signal::Signal;

use crate::config::plan::{Check, DepKind, Kind, Plan, RestartPolicy, ServiceId};
use crate::engine::api::{
    Command, EventKind, Exit, Lost, Need, Phase, ServiceStatus, Snapshot, State, Summary,
    WaitReason,
};
use crate::engine::summary;

/// A service that stayed ready this long has its restart streak forgiven.
const STABLE_AFTER: Duration = Duration::from_secs(60);
/// Backoff delays vary by ±20% so crash-looping services spread out.
const JITTER: f64 = 0.2;

/// Something that happened, fed to [`Machine::handle`].
#[derive(Debug, Clone)]
pub enum Input {
    /// Bring the stack up.
    Begin,
    Spawned {
        id: ServiceId,
        generation: u64,
        pid: u32,
    },
    SpawnFailed {
        id: ServiceId,
        generation: u64,
        error: String,
    },
    /// The process exited (and its process group is gone).
    Exited {
        id: ServiceId,
        generation: u64,
        exit: Exit,
    },
    Readiness {
        id: ServiceId,
        generation: u64,
        ok: bool,
        detail: String,
    },
    Liveness {
        id: ServiceId,
        generation: u64,
        ok: bool,
        detail: String,
    },
    Timer {
        id: ServiceId,
        generation: u64,
        timer: Timer,
    },
    Command(Command),
    /// The service got `port` (`note` says how, when it was not the
    /// preferred one).
    PortAssigned {
        id: ServiceId,
        port: u16,
        note: Option<String>,
    },
    /// A process already holding the service's port passed its readiness
    /// check: it stands in for the service, which bringup never starts or
    /// signals.
    Adopted {
        id: ServiceId,
        port: u16,
        detail: String,
    },
    /// The service cannot be started at all (no port could be had); no
    /// restart would change that.
    Unavailable {
        id: ServiceId,
        generation: u64,
        reason: String,
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
    Spawn { id: ServiceId, generation: u64 },
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
}

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
    note: String,
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
    port_note: Option<String>,
    /// Adopted: a process bringup did not start stands in for it.
    external: bool,
    /// The required dependencies it was last said to have lost.
    lost: Vec<ServiceId>,
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
            note: String::new(),
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
            port_note: None,
            external: false,
            lost: Vec::new(),
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
    /// [`Machine::expect`]) the one that puts the longest expected way to
    /// the end first within each wave.
    spawn_order: Vec<ServiceId>,
}

impl Machine {
    /// A machine for `plan`; `seed` drives the backoff jitter.
    pub fn new(plan: Arc<Plan>, seed: u64) -> Self {
        let selected = vec![true; plan.services.len()];
        Self::with_selection(plan, seed, selected)
    }

    /// A machine that only brings up the services marked in `selected`.
    pub fn with_selection(plan: Arc<Plan>, seed: u64, selected: Vec<bool>) -> Self {
        let slots = vec![Slot::new(); plan.services.len()];
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
        }
    }

    /// What each service took from spawn to ready last time (by plan
    /// index), so that of services free to start together, those with the
    /// longest expected way to the end of the cold start are spawned first:
    /// on a busy machine starting a process takes a while, and the critical
    /// path should not wait behind services nothing waits for.
    pub fn expect(&mut self, expected: &[Option<Duration>]) {
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
            Input::Spawned {
                id,
                generation,
                pid,
            } => self.spawned(now, id, generation, pid),
            Input::SpawnFailed {
                id,
                generation,
                error,
            } => {
                if self.current(id, generation) {
                    self.exited(now, id, Exit::NotStarted(error));
                }
            }
            Input::Exited {
                id,
                generation,
                exit,
            } => {
                if self.current(id, generation) {
                    self.exited(now, id, exit);
                }
            }
            Input::Readiness {
                id,
                generation,
                ok,
                detail,
            } => {
                if self.current(id, generation) {
                    self.readiness(now, id, ok, detail);
                }
            }
            Input::Liveness {
                id,
                generation,
                ok,
                detail,
            } => {
                if self.current(id, generation) {
                    self.liveness(now, id, ok, detail);
                }
            }
            Input::Timer {
                id,
                generation,
                timer,
            } => {
                if self.current(id, generation) {
                    self.timer(now, id, timer);
                }
            }
            Input::Command(command) => self.command(now, command),
            Input::PortAssigned { id, port, note } => {
                let slot = &mut self.slots[id.0];
                slot.port = Some(port);
                slot.port_note = note.clone();
                let name = self.name(id).to_string();
                self.publish(EventKind::Port {
                    service: id,
                    name,
                    port,
                    note,
                });
            }
            Input::Adopted { id, port, detail } => self.adopted(now, id, port, detail),
            Input::Unavailable {
                id,
                generation,
                reason,
            } => {
                if self.current(id, generation) && self.slots[id.0].process == Process::Spawning {
                    self.slots[id.0].process = Process::Down;
                    self.slots[id.0].last_exit = Some(Exit::NotStarted(reason.clone()));
                    self.out.push(Effect::StopProbes { id });
                    self.set_state(now, id, State::Failed, format!("could not start: {reason}"));
                }
            }
        }
        match self.phase {
            Phase::Running => self.schedule(now),
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

    /// The whole picture, services in start order.
    pub fn snapshot(&self) -> Snapshot {
        let services = self
            .plan
            .graph
            .order()
            .iter()
            .map(|&id| self.status(id))
            .collect();
        Snapshot {
            phase: self.phase,
            began_at: self.began_at,
            services,
            summary: self.summary.clone(),
        }
    }

    /// One service's status.
    pub fn status(&self, id: ServiceId) -> ServiceStatus {
        let slot = &self.slots[id.0];
        let spec = self.plan.service(id);
        ServiceStatus {
            id,
            name: spec.name.clone(),
            kind: spec.kind,
            optional: spec.optional,
            state: slot.state,
            since: slot.since,
            pid: match slot.process {
                Process::Running(pid) => Some(pid),
                _ => None,
            },
            port: slot.port,
            port_note: slot.port_note.clone(),
            external: slot.external,
            ever_ready: slot.first_ready_at.is_some(),
            ready_attempt_spawned_at: slot.ready_attempt_spawned_at,
            first_ready_at: slot.first_ready_at,
            gated_by: slot.gated_by,
            selected: self.selected[id.0],
            spawns: slot.spawns,
            restarts: slot.restarts,
            max_restarts: spec.max_restarts,
            waiting: slot.waiting.clone(),
            degraded: self.degraded(id),
            lost: self
                .lost(id)
                .into_iter()
                .map(|on| Lost {
                    name: self.name(on).to_string(),
                    state: self.slots[on.0].state,
                })
                .collect(),
            last_exit: slot.last_exit.clone(),
            note: slot.note.clone(),
            spawned_at: slot.spawned_at,
            ready_at: slot.ready_at,
            stopping: slot.stop.is_some() && slot.alive(),
        }
    }

    /// The optional dependencies a running service does without: those it
    /// started without, and those that have gone down since (skipped,
    /// failed, stopped, not ready).
    fn degraded(&self, id: ServiceId) -> Vec<String> {
        let slot = &self.slots[id.0];
        if !slot.alive() {
            return Vec::new();
        }
        self.plan
            .graph
            .dependencies(id)
            .iter()
            .filter(|d| d.kind == DepKind::Optional)
            .filter(|d| slot.degraded.contains(&d.on) || !self.slots[d.on.0].up())
            .map(|d| self.name(d.on).to_string())
            .collect()
    }

    /// The required dependencies a running service does without now.
    fn lost(&self, id: ServiceId) -> Vec<ServiceId> {
        if !self.slots[id.0].alive() || self.slots[id.0].external {
            return Vec::new();
        }
        self.plan
            .graph
            .dependencies(id)
            .iter()
            .filter(|d| d.kind == DepKind::Required && !self.slots[d.on.0].up())
            .map(|d| d.on)
            .collect()
    }

    /// Says which running services lost a required dependency, or got it
    /// back, since this was last said. Not while everything stops: then
    /// dependencies go down on purpose, after their dependents.
    fn track_lost(&mut self) {
        if self.phase != Phase::Running {
            return;
        }
        for index in 0..self.slots.len() {
            let id = ServiceId(index);
            let now_lost = self.lost(id);
            if now_lost == self.slots[index].lost {
                continue;
            }
            let before = std::mem::replace(&mut self.slots[index].lost, now_lost.clone());
            let name = self.name(id).to_string();
            for &on in now_lost.iter().filter(|on| !before.contains(on)) {
                self.publish(EventKind::DependencyLost {
                    service: id,
                    name: name.clone(),
                    on: self.name(on).to_string(),
                    state: self.slots[on.0].state,
                });
            }
            // Gone from the list because it came back, not because the
            // dependent stopped running.
            if self.slots[index].alive() {
                for &on in before.iter().filter(|on| !now_lost.contains(on)) {
                    self.publish(EventKind::DependencyBack {
                        service: id,
                        name: name.clone(),
                        on: self.name(on).to_string(),
                    });
                }
            }
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

    fn notice(&mut self, service: Option<ServiceId>, message: String) {
        self.publish(EventKind::Notice { service, message });
    }

    /// Moves `id` to `state` (publishing the change with `note`).
    fn set_state(&mut self, now: Duration, id: ServiceId, state: State, note: impl Into<String>) {
        let note = note.into();
        let slot = &mut self.slots[id.0];
        let from = slot.state;
        if from == state && slot.note == note {
            return;
        }
        if from == State::Starting && state != State::Starting {
            self.last_slot_freed_by = Some(id);
        }
        slot.state = state;
        slot.note = note.clone();
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
            note,
        });
        if state == State::Pending && from != State::Pending {
            self.start_waiting(now, id);
        }
    }

    // ----- bring-up ---------------------------------------------------------

    fn begin(&mut self, now: Duration) {
        if !matches!(self.phase, Phase::Idle | Phase::Restarting) {
            return;
        }
        self.phase = Phase::Running;
        self.began_at = now;
        self.cold_start_done = false;
        self.last_slot_freed_by = None;
        for index in 0..self.slots.len() {
            let id = ServiceId(index);
            let slot = &mut self.slots[index];
            if !self.selected[index] {
                slot.want = Want::Stopped;
                self.set_state(now, id, State::Stopped, "not selected");
                continue;
            }
            if slot.want == Want::Skipped || slot.external {
                // A service the user skipped stays out of a restart-all, and
                // an adopted one is not ours to start.
                continue;
            }
            slot.want = Want::Up;
            slot.restarts = 0;
            slot.restart_pending = false;
            slot.ready_attempt_spawned_at = None;
            slot.first_ready_at = None;
            slot.gated_by = None;
            self.make_pending(now, id, "waiting to start");
        }
        self.dirty = true;
    }

    /// Puts a stopped service back in line to start.
    fn make_pending(&mut self, now: Duration, id: ServiceId, note: &str) {
        self.slots[id.0].blocked_by = None;
        let was_pending = self.slots[id.0].state == State::Pending;
        self.set_state(now, id, State::Pending, note);
        // `set_state` starts a wait on entering pending; this one already was.
        if was_pending {
            self.start_waiting(now, id);
        }
    }

    /// A service starts waiting: its optional dependencies get
    /// `dependency_timeout` from now, whatever earlier waits it had.
    fn start_waiting(&mut self, now: Duration, id: ServiceId) {
        if !self
            .plan
            .graph
            .has_dependency_of_kind(id, DepKind::Optional)
        {
            return;
        }
        let after = self.plan.service(id).dependency_timeout;
        let generation = self.slots[id.0].generation;
        self.slots[id.0].optional_deadline = Some(now + after);
        self.out.push(Effect::Arm {
            id,
            generation,
            timer: Timer::DependencyTimeout,
            after,
        });
    }

    /// Starts everything that may start now, in start order.
    fn schedule(&mut self, now: Duration) {
        let limit = self.plan.project.max_parallel_starts;
        let order = self.spawn_order.clone();
        for id in order {
            let slot = &self.slots[id.0];
            let schedulable = slot.want == Want::Up
                && !slot.alive()
                && !slot.restart_pending
                && (slot.state == State::Pending
                    || (slot.state == State::Failed && slot.blocked_by.is_some()));
            if !schedulable {
                continue;
            }
            match self.eligibility(id, now) {
                Eligibility::Blocked(on) => {
                    if self.slots[id.0].blocked_by != Some(on) {
                        let dep_state = self.slots[on.0].state;
                        let note = format!(
                            "blocked: required dependency {} is {dep_state}",
                            self.name(on)
                        );
                        self.set_state(now, id, State::Failed, note);
                        let slot = &mut self.slots[id.0];
                        slot.blocked_by = Some(on);
                        slot.waiting = Some(WaitReason::Blocked {
                            on: self.plan.service(on).name.clone(),
                            state: dep_state,
                        });
                    }
                }
                Eligibility::Wait(reason) => {
                    if self.slots[id.0].state != State::Pending {
                        self.set_state(now, id, State::Pending, "waiting to start");
                    }
                    self.set_waiting(now, id, reason);
                }
                Eligibility::Go { gate, degraded } => {
                    let starting = self
                        .slots
                        .iter()
                        .filter(|s| s.state == State::Starting)
                        .count();
                    if let Some(limit) = limit
                        && starting >= limit
                    {
                        if self.slots[id.0].state != State::Pending {
                            self.set_state(now, id, State::Pending, "waiting to start");
                        }
                        self.set_waiting(now, id, WaitReason::StartSlot { limit });
                        continue;
                    }
                    let waited_for_slot =
                        matches!(self.slots[id.0].waiting, Some(WaitReason::StartSlot { .. }));
                    let gate = self.latest_gate(gate, waited_for_slot);
                    self.spawn(now, id, gate, degraded);
                }
            }
        }
    }

    fn set_waiting(&mut self, _now: Duration, id: ServiceId, reason: WaitReason) {
        if self.slots[id.0].waiting.as_ref() == Some(&reason) {
            return;
        }
        self.slots[id.0].waiting = Some(reason.clone());
        let name = self.name(id).to_string();
        self.publish(EventKind::Waiting {
            service: id,
            name,
            reason,
        });
    }

    /// The dependency gate, or the service that freed the start slot if that
    /// came later.
    fn latest_gate(&self, gate: Option<ServiceId>, waited_for_slot: bool) -> Option<ServiceId> {
        let slot_gate = if waited_for_slot {
            self.last_slot_freed_by
        } else {
            None
        };
        match (gate, slot_gate) {
            (Some(g), Some(s)) => Some(
                if self.slots[s.0].released_at > self.slots[g.0].released_at {
                    s
                } else {
                    g
                },
            ),
            (g, s) => g.or(s),
        }
    }

    /// The dependency rules of DESIGN.md, for one service.
    fn eligibility(&self, id: ServiceId, now: Duration) -> Eligibility {
        let mut gate: Option<ServiceId> = None;
        let mut degraded = Vec::new();
        let mut wait: Option<WaitReason> = None;
        let me = &self.slots[id.0];
        for dep in self.plan.graph.dependencies(id) {
            let d = &self.slots[dep.on.0];
            let satisfied = match dep.kind {
                DepKind::Required => {
                    if d.up() {
                        true
                    } else if d.down_for_good() || d.state == State::Failed {
                        return Eligibility::Blocked(dep.on);
                    } else {
                        false
                    }
                }
                DepKind::Completed => {
                    if d.state == State::Completed {
                        true
                    } else if d.down_for_good() || d.state == State::Failed {
                        return Eligibility::Blocked(dep.on);
                    } else {
                        false
                    }
                }
                DepKind::Optional => {
                    if d.up() {
                        true
                    } else if d.down_for_good()
                        || d.state == State::Failed
                        || me.optional_deadline.is_some_and(|deadline| now >= deadline)
                    {
                        degraded.push(dep.on);
                        true
                    } else {
                        false
                    }
                }
                // A spawn still in flight does not count: "spawned" means a
                // process exists (or existed).
                DepKind::Soft => {
                    matches!(d.process, Process::Running(_))
                        || (d.spawns > 0 && d.process == Process::Down)
                        || d.down_for_good()
                }
            };
            if satisfied {
                if gate.is_none_or(|g| d.released_at >= self.slots[g.0].released_at) {
                    gate = Some(dep.on);
                }
            } else if wait.is_none() {
                let need = match dep.kind {
                    DepKind::Soft => Need::Spawned,
                    DepKind::Completed => Need::Completed,
                    DepKind::Required | DepKind::Optional => Need::Ready,
                };
                wait = Some(WaitReason::Dependency {
                    on: self.name(dep.on).to_string(),
                    need,
                });
            }
        }
        match wait {
            Some(reason) => Eligibility::Wait(reason),
            None => Eligibility::Go { gate, degraded },
        }
    }

    fn spawn(
        &mut self,
        now: Duration,
        id: ServiceId,
        gate: Option<ServiceId>,
        degraded: Vec<ServiceId>,
    ) {
        let spec = self.plan.service(id);
        let ready_timeout = spec.ready_timeout;
        let kind = spec.kind;
        let slot = &mut self.slots[id.0];
        slot.generation += 1;
        slot.spawns += 1;
        slot.process = Process::Spawning;
        slot.stop = None;
        slot.killed = false;
        slot.liveness_started = false;
        slot.spawned_at = Some(now);
        slot.ready_at = None;
        slot.readiness_failures = 0;
        slot.liveness_failures = 0;
        slot.waiting = None;
        if slot.first_ready_at.is_none() {
            slot.ready_attempt_spawned_at = Some(now);
        }
        if slot.gated_by.is_none() {
            slot.gated_by = gate;
        }
        let degraded_names: Vec<String> = degraded
            .iter()
            .map(|d| self.plan.service(*d).name.clone())
            .collect();
        self.slots[id.0].degraded = degraded;
        let generation = self.slots[id.0].generation;
        let attempt = self.slots[id.0].spawns;
        let mut note = if attempt > 1 {
            format!("starting (attempt {attempt})")
        } else {
            "starting".to_string()
        };
        if !degraded_names.is_empty() {
            note.push_str(&format!(
                "; degraded: without {}",
                degraded_names.join(", ")
            ));
        }
        self.set_state(now, id, State::Starting, note);
        self.out.push(Effect::Spawn { id, generation });
        if kind == Kind::Service && !matches!(self.plan.service(id).readiness.check, Check::None) {
            self.out.push(Effect::Arm {
                id,
                generation,
                timer: Timer::ReadyTimeout,
                after: ready_timeout,
            });
        }
    }

    fn spawned(&mut self, now: Duration, id: ServiceId, generation: u64, pid: u32) {
        if !self.current(id, generation) || self.slots[id.0].process != Process::Spawning {
            return;
        }
        self.slots[id.0].process = Process::Running(pid);
        self.slots[id.0].released_at = now;
        let name = self.name(id).to_string();
        let attempt = self.slots[id.0].spawns;
        self.publish(EventKind::Spawned {
            service: id,
            name,
            pid,
            attempt,
        });
        if let Some(intent) = self.slots[id.0].stop {
            // A stop was asked for while the spawn was in flight. In a forced
            // shutdown `advance_shutdown` kills it, now that it has a pid.
            if intent == StopIntent::Kill {
                self.slots[id.0].killed = true;
                self.out.push(Effect::Kill { id, generation });
            } else if !matches!(self.phase, Phase::ShuttingDown { force: true }) {
                self.send_stop_signal(now, id, intent);
            }
            return;
        }
        let spec = self.plan.service(id);
        if spec.kind == Kind::Service && matches!(spec.readiness.check, Check::None) {
            self.become_ready(now, id, "no readiness check".to_string());
        }
    }

    fn readiness(&mut self, now: Duration, id: ServiceId, ok: bool, detail: String) {
        let slot = &self.slots[id.0];
        if slot.stop.is_some() || !slot.alive() {
            return;
        }
        let threshold = self.plan.service(id).readiness.failure_threshold;
        match (slot.state, ok) {
            (State::Starting | State::NotReady, true) => self.become_ready(now, id, detail),
            (State::Ready, true) => self.slots[id.0].readiness_failures = 0,
            (State::Ready, false) => {
                let slot = &mut self.slots[id.0];
                slot.readiness_failures += 1;
                if slot.readiness_failures >= threshold {
                    let note = format!("readiness failing: {detail}");
                    self.set_state(now, id, State::NotReady, note);
                }
            }
            (State::Starting | State::NotReady, false) if self.slots[id.0].note != detail => {
                self.slots[id.0].note = detail.clone();
                let name = self.name(id).to_string();
                self.publish(EventKind::Probe {
                    service: id,
                    name,
                    liveness: false,
                    ok,
                    detail,
                });
            }
            _ => {}
        }
    }

    fn become_ready(&mut self, now: Duration, id: ServiceId, detail: String) {
        let generation = self.slots[id.0].generation;
        let slot = &mut self.slots[id.0];
        slot.ready_at = Some(now);
        slot.readiness_failures = 0;
        slot.first_ready_at.get_or_insert(now);
        let took = now.saturating_sub(slot.spawned_at.unwrap_or(now));
        let note = if detail.is_empty() {
            format!("ready in {}", fmt_duration(took))
        } else {
            format!("ready in {} ({detail})", fmt_duration(took))
        };
        self.set_state(now, id, State::Ready, note);
        // Once per process: a not_ready → ready recovery keeps the loop it has.
        if self.plan.service(id).liveness.is_some() && !self.slots[id.0].liveness_started {
            self.slots[id.0].liveness_started = true;
            self.out.push(Effect::StartLiveness { id, generation });
        }
    }

    fn liveness(&mut self, now: Duration, id: ServiceId, ok: bool, detail: String) {
        if self.slots[id.0].external {
            if matches!(self.slots[id.0].state, State::Ready | State::NotReady) {
                self.adopted_check(now, id, ok, detail);
            }
            return;
        }
        let slot = &mut self.slots[id.0];
        if slot.stop.is_some()
            || !slot.alive()
            || !matches!(slot.state, State::Ready | State::NotReady)
        {
            return;
        }
        if ok {
            slot.liveness_failures = 0;
            return;
        }
        slot.liveness_failures += 1;
        let failures = slot.liveness_failures;
        let spec = self.plan.service(id);
        let threshold = spec.liveness.as_ref().map_or(1, |l| l.failure_threshold);
        let never_restart = spec.restart == RestartPolicy::Never;
        let name = spec.name.clone();
        if failures == 1 {
            self.publish(EventKind::Probe {
                service: id,
                name,
                liveness: true,
                ok,
                detail: detail.clone(),
            });
        }
        if failures < threshold {
            return;
        }
        if never_restart {
            let note = format!(
                "liveness failed {failures} times ({detail}); restart = \"never\" keeps it running"
            );
            self.set_state(now, id, State::NotReady, note);
            return;
        }
        self.slots[id.0].note = format!("liveness failed {failures} times: {detail}");
        self.begin_stop(now, id, StopIntent::Failure);
    }

    fn exited(&mut self, now: Duration, id: ServiceId, exit: Exit) {
        let pid = match self.slots[id.0].process {
            Process::Running(pid) => Some(pid),
            _ => None,
        };
        let slot = &mut self.slots[id.0];
        slot.process = Process::Down;
        slot.last_exit = Some(exit.clone());
        let intent = slot.stop.take();
        self.out.push(Effect::StopProbes { id });
        let name = self.name(id).to_string();
        self.publish(EventKind::Exited {
            service: id,
            name,
            pid,
            exit: exit.clone(),
        });

        match intent {
            Some(StopIntent::Stop | StopIntent::Kill | StopIntent::Shutdown) => {
                self.set_state(now, id, State::Stopped, format!("stopped ({exit})"));
            }
            Some(StopIntent::Skip) => self.set_state(now, id, State::Skipped, "skipped"),
            // A restart asked for before shutdown began ends with the rest.
            Some(StopIntent::Restart) if self.phase != Phase::Running => {
                self.set_state(now, id, State::Stopped, format!("stopped ({exit})"));
            }
            Some(StopIntent::Restart) => self.make_pending(now, id, "restarting"),
            Some(StopIntent::Failure) => self.crashed(now, id, exit, true),
            None => self.crashed(now, id, exit, false),
        }
    }

    /// A process ended that nobody asked to stop (or liveness gave up on).
    fn crashed(&mut self, now: Duration, id: ServiceId, exit: Exit, liveness_failed: bool) {
        let spec = self.plan.service(id);
        let (kind, policy, max_restarts, backoff) =
            (spec.kind, spec.restart, spec.max_restarts, spec.backoff);
        let stopping_everything = !matches!(self.phase, Phase::Running);
        if kind == Kind::Task && exit.success() && policy != RestartPolicy::Always {
            let took = now.saturating_sub(self.slots[id.0].spawned_at.unwrap_or(now));
            let slot = &mut self.slots[id.0];
            slot.first_ready_at.get_or_insert(now);
            slot.ready_at = Some(now);
            self.set_state(
                now,
                id,
                State::Completed,
                format!("completed in {}", fmt_duration(took)),
            );
            return;
        }
        let slot = &mut self.slots[id.0];
        if slot.state == State::Ready
            && slot
                .ready_at
                .is_some_and(|at| now.saturating_sub(at) >= STABLE_AFTER)
        {
            slot.restarts = 0;
        }
        let wants_restart = match policy {
            RestartPolicy::Always => true,
            RestartPolicy::OnFailure => !exit.success() || liveness_failed,
            RestartPolicy::Never => false,
        };
        let previous_note = std::mem::take(&mut self.slots[id.0].note);
        let why = if liveness_failed {
            format!("{previous_note}; {exit}")
        } else {
            exit.to_string()
        };
        if stopping_everything || self.slots[id.0].want != Want::Up {
            self.set_state(now, id, State::Stopped, why);
            return;
        }
        if !wants_restart {
            self.set_state(now, id, State::Failed, why);
            return;
        }
        let restarts = self.slots[id.0].restarts;
        if restarts >= max_restarts {
            let note = format!(
                "{why}; gave up after {restarts} restart{}",
                if restarts == 1 { "" } else { "s" }
            );
            self.set_state(now, id, State::Failed, note);
            return;
        }
        let attempt = restarts + 1;
        let delay = self.backoff_delay(backoff.initial, backoff.max, attempt);
        let generation = self.slots[id.0].generation;
        let slot = &mut self.slots[id.0];
        slot.restarts = attempt;
        slot.restart_pending = true;
        let note = format!(
            "{why}; restart {attempt} of {max_restarts} in {}",
            fmt_duration(delay)
        );
        self.set_state(now, id, State::Pending, note);
        self.set_waiting(
            now,
            id,
            WaitReason::Restart {
                attempt,
                of: max_restarts,
                at: now + delay,
            },
        );
        self.out.push(Effect::Arm {
            id,
            generation,
            timer: Timer::Restart,
            after: delay,
        });
    }

    /// `initial · 2^(attempt-1)`, capped at `max`, ±20% jitter (never above `max`).
    fn backoff_delay(&mut self, initial: Duration, max: Duration, attempt: u32) -> Duration {
        let exponent = attempt.saturating_sub(1).min(32);
        let base = initial.saturating_mul(1u32 << exponent.min(31)).min(max);
        // xorshift64*: deterministic for a given seed, which keeps tests exact.
        self.rng ^= self.rng >> 12;
        self.rng ^= self.rng << 25;
        self.rng ^= self.rng >> 27;
        let random =
            (self.rng.wrapping_mul(0x2545_F491_4F6C_DD1D) >> 11) as f64 / (1u64 << 53) as f64;
        let factor = 1.0 + JITTER * (2.0 * random - 1.0);
        base.mul_f64(factor).min(max)
    }

    fn timer(&mut self, now: Duration, id: ServiceId, timer: Timer) {
        let slot = &self.slots[id.0];
        match timer {
            Timer::ReadyTimeout => {
                if slot.state == State::Starting && slot.stop.is_none() {
                    let timeout = self.plan.service(id).ready_timeout;
                    let last = if slot.note.is_empty() {
                        String::new()
                    } else {
                        format!(" (last check: {})", slot.note)
                    };
                    let note = format!(
                        "not ready after {}; still checking{last}",
                        fmt_duration(timeout)
                    );
                    self.set_state(now, id, State::NotReady, note);
                }
            }
            Timer::Restart => {
                if slot.restart_pending {
                    self.slots[id.0].restart_pending = false;
                    self.slots[id.0].waiting = None;
                }
            }
            Timer::StopGrace => {
                if slot.alive() && slot.stop.is_some() {
                    let grace = self.plan.service(id).stop_grace;
                    let generation = slot.generation;
                    self.slots[id.0].note =
                        format!("did not stop within {}; killing", fmt_duration(grace));
                    self.out.push(Effect::Kill { id, generation });
                    let name = self.name(id).to_string();
                    self.publish(EventKind::Signalled {
                        service: id,
                        name,
                        signal: "SIGKILL".into(),
                    });
                }
            }
            // The deadline is in the slot; `schedule`, which runs after
            // every input, compares it with the time.
            Timer::DependencyTimeout => {}
        }
    }

    fn adopted(&mut self, now: Duration, id: ServiceId, port: u16, detail: String) {
        let slot = &mut self.slots[id.0];
        if slot.alive() {
            return;
        }
        slot.external = true;
        slot.port = Some(port);
        slot.port_note = Some("external".into());
        slot.ready_at = Some(now);
        slot.first_ready_at.get_or_insert(now);
        // A generation of its own, so checks of an earlier adoption (or
        // process) cannot count against this one.
        slot.generation += 1;
        slot.liveness_failures = 0;
        let generation = slot.generation;
        self.set_state(now, id, State::Ready, format!("ready: adopted {detail}"));
        self.out.push(Effect::WatchAdopted { id, generation });
    }

    /// A check of an adopted process: it answers, or it stops answering
    /// (not ready) and, after the threshold, is taken to be gone. Then the
    /// restart policy may start bringup's own instance on the freed port.
    fn adopted_check(&mut self, now: Duration, id: ServiceId, ok: bool, detail: String) {
        let spec = self.plan.service(id);
        let threshold = spec
            .liveness
            .as_ref()
            .map_or(spec.readiness.failure_threshold, |l| l.failure_threshold)
            .max(1);
        let slot = &mut self.slots[id.0];
        if ok {
            slot.liveness_failures = 0;
            if slot.state == State::NotReady {
                self.set_state(
                    now,
                    id,
                    State::Ready,
                    "ready: the adopted process answers again",
                );
            }
            return;
        }
        slot.liveness_failures += 1;
        let failures = slot.liveness_failures;
        if failures < threshold {
            let note = format!("the adopted process stopped answering: {detail}");
            self.set_state(now, id, State::NotReady, note);
            return;
        }
        let slot = &mut self.slots[id.0];
        slot.external = false;
        slot.port = None;
        slot.port_note = None;
        slot.liveness_failures = 0;
        self.out.push(Effect::StopProbes { id });
        self.out.push(Effect::Disown { id });
        let checks = if failures == 1 { "check" } else { "checks" };
        self.slots[id.0].note = format!("no answer to {failures} {checks} in a row ({detail})");
        self.crashed(now, id, Exit::AdoptedGone, true);
    }

    // ----- stopping -----------------------------------------------------------

    /// Asks a running (or spawning) service to stop; `intent` says what then.
    fn begin_stop(&mut self, now: Duration, id: ServiceId, intent: StopIntent) {
        let slot = &mut self.slots[id.0];
        if !slot.alive() {
            return;
        }
        let already = slot.stop.is_some();
        slot.stop = Some(intent);
        if already {
            return;
        }
        self.dirty = true;
        self.out.push(Effect::StopProbes { id });
        if matches!(self.slots[id.0].process, Process::Running(_)) {
            self.send_stop_signal(now, id, intent);
        }
    }

    fn send_stop_signal(&mut self, _now: Duration, id: ServiceId, _intent: StopIntent) {
        let spec = self.plan.service(id);
        let (signal, grace) = (spec.stop_signal, spec.stop_grace);
        let generation = self.slots[id.0].generation;
        self.out.push(Effect::Signal {
            id,
            generation,
            signal,
        });
        self.out.push(Effect::Arm {
            id,
            generation,
            timer: Timer::StopGrace,
            after: grace,
        });
        let name = self.name(id).to_string();
        self.publish(EventKind::Signalled {
            service: id,
            name,
            signal: signal.as_str().to_string(),
        });
    }

    /// Stops whatever has no running dependents left; finishes when all is down.
    fn advance_shutdown(&mut self, now: Duration) {
        let force = matches!(self.phase, Phase::ShuttingDown { force: true });
        for index in 0..self.slots.len() {
            let id = ServiceId(index);
            let slot = &self.slots[index];
            if force && slot.alive() && !slot.killed {
                self.slots[index].stop.get_or_insert(StopIntent::Shutdown);
                if matches!(self.slots[index].process, Process::Running(_)) {
                    let generation = self.slots[index].generation;
                    self.slots[index].killed = true;
                    self.out.push(Effect::StopProbes { id });
                    self.out.push(Effect::Kill { id, generation });
                }
                continue;
            }
            if !slot.alive() || slot.stop.is_some() || force {
                continue;
            }
            let dependents_down = self
                .plan
                .graph
                .dependents(id)
                .iter()
                .all(|d| !self.slots[d.on.0].alive());
            if dependents_down {
                self.begin_stop(now, id, StopIntent::Shutdown);
            }
        }
        if self.slots.iter().any(Slot::alive) {
            return;
        }
        match self.phase {
            Phase::Restarting => {
                self.begin(now);
                self.schedule(now);
            }
            Phase::ShuttingDown { .. } => {
                self.phase = Phase::Done;
                self.publish(EventKind::ShutdownComplete);
            }
            _ => {}
        }
    }

    fn stop_everything(&mut self, now: Duration, then: Phase) {
        self.phase = then;
        for index in 0..self.slots.len() {
            let id = ServiceId(index);
            let slot = &mut self.slots[index];
            slot.restart_pending = false;
            let waiting = slot.state == State::Pending
                || (slot.state == State::Failed && slot.blocked_by.is_some());
            if !slot.alive() && waiting {
                self.set_state(now, id, State::Stopped, "not started");
            }
        }
        self.dirty = true;
    }

    // ----- commands -----------------------------------------------------------

    /// Carries out a command; every command gets an answer the user can
    /// see: a change, or a notice saying why nothing changed.
    fn command(&mut self, now: Duration, command: Command) {
        let before = self.out.len();
        self.carry_out(now, command);
        let answered = self.out[before..]
            .iter()
            .any(|e| matches!(e, Effect::Publish(_)));
        if !answered {
            let message = match command {
                Command::Restart(id)
                | Command::Kill(id)
                | Command::Stop(id)
                | Command::Start(id)
                | Command::Skip(id)
                | Command::ResolvePort { service: id, .. }
                    if id.0 < self.slots.len() =>
                {
                    let slot = &self.slots[id.0];
                    let doing = if slot.stop.is_some() && slot.alive() {
                        ", and being stopped"
                    } else {
                        ""
                    };
                    format!(
                        "{}: nothing to do; it is {}{doing}",
                        self.name(id),
                        slot.state
                    )
                }
                Command::RestartAll => "already restarting everything".to_string(),
                Command::Shutdown { .. } => "already stopping everything".to_string(),
                _ => "nothing to do".to_string(),
            };
            let service = match command {
                Command::Restart(id)
                | Command::Kill(id)
                | Command::Stop(id)
                | Command::Start(id)
                | Command::Skip(id) => Some(id),
                _ => None,
            };
            self.notice(service, message);
        }
    }

    fn carry_out(&mut self, now: Duration, command: Command) {
        let service = match command {
            Command::Restart(id)
            | Command::Kill(id)
            | Command::Stop(id)
            | Command::Start(id)
            | Command::Skip(id) => Some(id),
            Command::RestartAll | Command::Shutdown { .. } => None,
            // Resolved by the runtime (it owns the ports); nothing to decide here.
            Command::ResolvePort { .. } => return,
        };
        if let Some(id) = service
            && id.0 >= self.slots.len()
        {
            self.notice(None, format!("no service with id {}", id.0));
            return;
        }
        if let Some(id) = service
            && self.slots[id.0].external
        {
            let name = self.name(id).to_string();
            self.notice(
                Some(id),
                format!(
                    "{name} is a process bringup adopted, not one it started; it leaves it alone"
                ),
            );
            return;
        }
        let stopping = matches!(self.phase, Phase::ShuttingDown { .. } | Phase::Done);
        if stopping && !matches!(command, Command::Shutdown { .. }) {
            self.notice(service, "shutting down; commands are ignored".into());
            return;
        }
        match command {
            Command::ResolvePort { .. } => {}
            Command::Shutdown { force } => {
                let already = matches!(
                    self.phase,
                    Phase::ShuttingDown { force: true } | Phase::Done
                ) || (matches!(self.phase, Phase::ShuttingDown { .. }) && !force);
                if already {
                    return;
                }
                if !self.cold_start_done && self.phase == Phase::Running {
                    // Stopped before everything settled: say how far it got.
                    self.cold_start_done = true;
                    self.publish_summary();
                }
                self.publish(EventKind::ShutdownStarted { force });
                self.stop_everything(now, Phase::ShuttingDown { force });
            }
            Command::RestartAll => {
                if self.phase == Phase::Restarting {
                    return;
                }
                self.notice(None, "restarting everything".into());
                self.stop_everything(now, Phase::Restarting);
            }
            Command::Restart(id) => {
                if self.slots[id.0].alive() {
                    self.slots[id.0].want = Want::Up;
                    self.slots[id.0].restarts = 0;
                    self.begin_stop(now, id, StopIntent::Restart);
                } else {
                    self.revive(now, id, "restarting");
                }
            }
            Command::Start(id) => {
                if self.slots[id.0].alive() || self.slots[id.0].state == State::Pending {
                    self.notice(
                        Some(id),
                        format!("{} is already {}", self.name(id), self.slots[id.0].state),
                    );
                } else {
                    self.revive(now, id, "starting on request");
                }
            }
            Command::Stop(id) => {
                self.slots[id.0].want = Want::Stopped;
                self.slots[id.0].restart_pending = false;
                if self.slots[id.0].alive() {
                    self.begin_stop(now, id, StopIntent::Stop);
                } else if self.slots[id.0].state != State::Stopped {
                    self.set_state(now, id, State::Stopped, "stopped on request");
                }
            }
            Command::Skip(id) => {
                if !self.plan.service(id).optional {
                    let name = self.name(id).to_string();
                    self.notice(
                        Some(id),
                        format!("{name} is not optional, so it cannot be skipped; stop it instead"),
                    );
                    return;
                }
                self.slots[id.0].want = Want::Skipped;
                self.slots[id.0].restart_pending = false;
                if self.slots[id.0].alive() {
                    self.begin_stop(now, id, StopIntent::Skip);
                } else {
                    self.set_state(now, id, State::Skipped, "skipped on request");
                }
            }
            Command::Kill(id) => {
                let slot = &mut self.slots[id.0];
                if !slot.alive() {
                    let name = self.name(id).to_string();
                    self.notice(Some(id), format!("{name} is not running"));
                    return;
                }
                slot.want = Want::Stopped;
                slot.stop = Some(StopIntent::Kill);
                let generation = slot.generation;
                self.out.push(Effect::StopProbes { id });
                // A spawn in flight is killed in `spawned`, once it has a pid.
                if matches!(self.slots[id.0].process, Process::Running(_)) {
                    self.slots[id.0].killed = true;
                    self.out.push(Effect::Kill { id, generation });
                }
                let name = self.name(id).to_string();
                self.publish(EventKind::Signalled {
                    service: id,
                    name,
                    signal: "SIGKILL".into(),
                });
            }
        }
    }

    /// Brings a service that is not running back into line.
    fn revive(&mut self, now: Duration, id: ServiceId, note: &str) {
        let slot = &mut self.slots[id.0];
        slot.want = Want::Up;
        slot.restarts = 0;
        slot.restart_pending = false;
        self.make_pending(now, id, note);
    }

    // ----- cold start -----------------------------------------------------------

    /// Publishes the cold-start summary once everything has gone as far as
    /// it will on its own; and again if a service that had not made it then
    /// becomes ready later and so completes the picture.
    fn check_cold_start(&mut self, _now: Duration) {
        if self.phase != Phase::Running {
            return;
        }
        if self.cold_start_done {
            let incomplete = self.summary.as_ref().is_some_and(|s| !s.all_required_ready);
            if incomplete && self.compute_summary().all_required_ready {
                self.publish_summary();
            }
            return;
        }
        if (0..self.slots.len()).all(|i| self.settled(ServiceId(i), 0)) {
            self.cold_start_done = true;
            self.publish_summary();
        }
    }

    fn publish_summary(&mut self) {
        let summary = self.compute_summary();
        self.summary = Some(summary.clone());
        self.publish(EventKind::ColdStart(summary));
    }

    /// The summary of the current bring-up, as far as it got.
    fn compute_summary(&self) -> Summary {
        let records: Vec<summary::Record> = self
            .plan
            .graph
            .order()
            .iter()
            .filter(|id| self.selected[id.0])
            .map(|&id| {
                let slot = &self.slots[id.0];
                summary::Record {
                    id,
                    name: self.name(id).to_string(),
                    optional: self.plan.service(id).optional,
                    state: slot.state,
                    spawned_at: slot
                        .ready_attempt_spawned_at
                        .map(|t| t.saturating_sub(self.began_at)),
                    ready_at: slot.first_ready_at.map(|t| t.saturating_sub(self.began_at)),
                    gated_by: slot.gated_by,
                }
            })
            .collect();
        summary::summarize(&records)
    }

    /// Whether a service has gone as far as it will go on its own.
    fn settled(&self, id: ServiceId, depth: usize) -> bool {
        let slot = &self.slots[id.0];
        match slot.state {
            State::Ready | State::Completed | State::Skipped | State::Stopped | State::NotReady => {
                true
            }
            State::Failed => true,
            State::Starting => false,
            State::Pending => {
                if slot.restart_pending || slot.alive() || depth > self.slots.len() {
                    return false;
                }
                // Waiting on something that is stuck (not ready, or itself
                // waiting on something stuck) will not resolve by itself.
                match &slot.waiting {
                    Some(WaitReason::Dependency { on, .. }) => {
                        self.plan.find(on).is_some_and(|dep| {
                            let d = &self.slots[dep.0];
                            d.state != State::Starting
                                && !d.state.is_ready()
                                && self.settled(dep, depth + 1)
                        })
                    }
                    _ => false,
                }
            }
        }
    }
}

fn kind_effect(kind: EventKind) -> Effect {
    Effect::Publish(kind)
}

/// "412ms", "1.2s", "1m05s": short and readable.
pub fn fmt_duration(d: Duration) -> String {
    let ms = d.as_millis();
    if ms < 1000 {
        format!("{ms}ms")
    } else if ms < 60_000 {
        format!("{:.1}s", d.as_secs_f64())
    } else {
        let secs = d.as_secs();
        format!("{}m{:02}s", secs / 60, secs % 60)
    }
}

#[cfg(test)]
mod tests;

#[cfg(test)]
mod properties;
