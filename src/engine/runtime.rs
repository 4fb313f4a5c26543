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

use std::collections::VecDeque;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

use tokio::sync::{broadcast, mpsc, oneshot, watch};

use crate::config::plan::{Check, CommandSpec, Kind, Plan, ServiceId};
use crate::engine::api::{
    Command, Event, EventKind, Notice, Outcome, Phase, Snapshot, StackInfo, Stray, Ticket,
};
use crate::engine::crash::CrashReport;
use crate::engine::describe::Weight;
use crate::engine::history::History;
use crate::engine::machine::{Effect, HolderVerdict, Input, Machine, News};
use crate::engine::ports::{PortBook, Start, Trouble};
use crate::logs::{LogHub, Stream};
use crate::probe::notify::NotifySocket;
use crate::probe::{self, AbortOnDrop, Prober, Target};
use crate::process::launcher::{Direct, Launcher};
use crate::process::leftovers::{self, RUN_VARIABLE};
use crate::process::output::{LogWatch, pump};
use crate::process::watchdog::{GRACE, Watchdog};
use crate::process::{self, SpawnRequest, Subreaper};
use crate::rundir::RunDir;

/// How long output still in the pipes may take to arrive after a process
/// exits, before its exit is reported anyway (a grandchild that left the
/// process group could hold the pipe open forever).
const DRAIN_AFTER_EXIT: Duration = Duration::from_millis(200);
/// Capacity of the channels into the engine.
const CHANNEL: usize = 1024;
/// Events kept for slow front ends before they are told they lagged.
const EVENT_BACKLOG: usize = 4096;

/// How to run an engine.
#[derive(Debug, Clone, Default)]
pub struct EngineOptions {
    /// The bringup executable, used to start the watchdog that cleans up if
    /// bringup is killed; `None` runs without one.
    pub watchdog_exe: Option<PathBuf>,
    /// Bring up only these services and what they depend on.
    pub only: Option<Vec<ServiceId>>,
    /// Where cold-start history is kept (see [`crate::engine::history`]);
    /// `None` neither reads nor writes any.
    pub history_dir: Option<PathBuf>,
}

/// Why an engine could not start.
#[derive(Debug, thiserror::Error)]
pub enum EngineError {
    #[error("bringup's runtime directory: {0}")]
    RunDir(crate::rundir::Error),
    #[error("cannot start the engine thread: {0}")]
    Thread(std::io::Error),
    #[error("the engine stopped on an internal error (a bug in bringup): {0}")]
    Panicked(String),
}

/// A command for the engine, and where its answer goes (none for a
/// command nobody waits on).
#[derive(Debug)]
pub struct Request {
    pub command: Command,
    pub reply: Option<oneshot::Sender<Outcome>>,
}

/// A running engine, as front ends see it.
pub struct Engine {
    plan: Arc<Plan>,
    info: StackInfo,
    commands: mpsc::Sender<Request>,
    events: broadcast::Sender<Event>,
    snapshot: watch::Receiver<Snapshot>,
    logs: Arc<LogHub>,
    epoch: Instant,
    thread: Option<std::thread::JoinHandle<()>>,
    crash: CrashReport,
}

impl Engine {
    /// Starts bringing `plan` up. The returned receiver sees every event
    /// from the very first; later [`Engine::subscribe`]rs may miss early ones.
    pub fn start(
        plan: Arc<Plan>,
        options: EngineOptions,
    ) -> Result<(Self, broadcast::Receiver<Event>), EngineError> {
        let rundir = RunDir::create().map_err(EngineError::RunDir)?;
        // Marks every process of this run, for the watchdog to find.
        let run_id = format!(
            "{}-{}",
            std::process::id(),
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map_or(0, |d| d.as_nanos())
        );
        // A few descriptors per service: past ~300 services the usual soft
        // limit of 1,024 runs out (services get the original back).
        let open_files = crate::process::limits::raise();
        let (commands_tx, commands_rx) = mpsc::channel(CHANNEL);
        let (inputs_tx, inputs_rx) = mpsc::channel(CHANNEL);
        let (events_tx, events_rx) = broadcast::channel(EVENT_BACKLOG);
        let logs = LogHub::new(plan.services.len(), plan.project.log_lines);
        let selected = match &options.only {
            Some(only) => plan.graph.closure(only),
            None => vec![true; plan.services.len()],
        };
        let seed = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(1, |d| d.as_nanos() as u64)
            ^ u64::from(std::process::id());
        let mut machine = Machine::with_selection(plan.clone(), seed, selected.clone());
        let history = options
            .history_dir
            .as_deref()
            .map(|dir| History::of(dir, &plan));
        let expected = match &history {
            Some(history) => {
                let expected = history.load(&plan);
                machine.expect(&expected);
                expected
            }
            None => vec![None; plan.services.len()],
        };
        let (snapshot_tx, snapshot_rx) = watch::channel(machine.snapshot());
        // One clock for the events and the log lines, so that front ends
        // can interleave them (and tell wall-clock times of both).
        let epoch = logs.epoch();

        let mut startup_notices = Vec::new();
        let watchdog = match &options.watchdog_exe {
            Some(exe) => match Watchdog::start(exe, &run_id) {
                Ok(watchdog) => Some(Arc::new(watchdog)),
                Err(e) => {
                    startup_notices.push(Notice::NoWatchdog {
                        error: e.to_string(),
                    });
                    None
                }
            },
            None => None,
        };

        if let Ok(limit) = open_files
            && limit < 4 * plan.services.len() as u64 + 64
        {
            startup_notices.push(Notice::OpenFileLimit {
                limit,
                services: plan.services.len(),
            });
        }
        // Daemons that leave their service are re-parented to bringup.
        let subreaper = match Subreaper::start(&run_id, watchdog.as_ref()) {
            Ok(subreaper) => Some(subreaper),
            Err(e) => {
                startup_notices.push(Notice::NoSubreaper {
                    error: e.to_string(),
                });
                None
            }
        };

        let (launches, launches_rx) = mpsc::unbounded_channel();
        let runtime = Runtime {
            launcher: Box::new(Direct),
            replies: std::collections::HashMap::new(),
            next_ticket: 0,
            launches,
            subreaper,
            adopting: None,
            ports: PortBook::new(&plan),
            selected,
            services: (0..plan.services.len())
                .map(|_| ServiceRuntime::default())
                .collect(),
            plan: plan.clone(),
            machine,
            epoch,
            inputs: inputs_tx,
            events: events_tx.clone(),
            snapshot: snapshot_tx,
            logs: logs.clone(),
            watchdog,
            rundir,
            run_id,
            history,
            expected,
        };
        let thread = std::thread::Builder::new()
            .name("bringup-engine".into())
            .spawn(move || {
                let rt = match tokio::runtime::Builder::new_current_thread()
                    .enable_all()
                    .build()
                {
                    Ok(rt) => rt,
                    Err(e) => {
                        let _ = runtime.events.send(Event {
                            at: Duration::ZERO,
                            kind: EventKind::Notice {
                                service: None,
                                name: None,
                                notice: Notice::EngineFailed {
                                    error: e.to_string(),
                                },
                            },
                        });
                        return;
                    }
                };
                rt.block_on(runtime.run(inputs_rx, commands_rx, launches_rx, startup_notices));
            })
            .map_err(EngineError::Thread)?;

        Ok((
            Self {
                info: crate::engine::info::stack_info(&plan),
                plan,
                commands: commands_tx,
                events: events_tx,
                snapshot: snapshot_rx,
                logs,
                epoch,
                thread: Some(thread),
                crash: CrashReport::default(),
            },
            events_rx,
        ))
    }

    pub fn plan(&self) -> &Arc<Plan> {
        &self.plan
    }

    /// The stack as front ends know it.
    pub fn info(&self) -> &StackInfo {
        &self.info
    }

    /// The sender of events, for sessions to subscribe with.
    pub fn event_sender(&self) -> broadcast::Sender<Event> {
        self.events.clone()
    }

    /// A sender for commands.
    pub fn commands(&self) -> mpsc::Sender<Request> {
        self.commands.clone()
    }

    /// Sends a command, waiting if the engine is busy, and waits for the
    /// answer; a stack that has ended answers nothing (`None`).
    pub async fn send(&self, command: Command) -> Option<Outcome> {
        let (reply, answer) = oneshot::channel();
        let request = Request {
            command,
            reply: Some(reply),
        };
        self.commands.send(request).await.ok()?;
        answer.await.ok()
    }

    /// A new event receiver (sees events from now on).
    pub fn subscribe(&self) -> broadcast::Receiver<Event> {
        self.events.subscribe()
    }

    /// The latest snapshot, updated after every change.
    pub fn snapshot(&self) -> watch::Receiver<Snapshot> {
        self.snapshot.clone()
    }

    pub fn logs(&self) -> &Arc<LogHub> {
        &self.logs
    }

    /// The moment event and snapshot times are measured from.
    pub fn epoch(&self) -> Instant {
        self.epoch
    }

    /// Tells, once the engine thread has ended, whether it panicked; keep
    /// it to judge a run after handing the engine to a front end.
    pub fn crash_report(&self) -> CrashReport {
        self.crash.clone()
    }

    /// Waits (blocking) for the engine thread to end. It ends once shutdown
    /// is complete, or at once if the engine never got going; `Err` if it
    /// ended in a panic (recorded in [`Engine::crash_report`] too).
    pub fn join(mut self) -> Result<(), EngineError> {
        if let Some(thread) = self.thread.take()
            && let Err(payload) = thread.join()
        {
            self.crash.record(payload.as_ref());
        }
        match self.crash.message() {
            Some(message) => Err(EngineError::Panicked(message.to_string())),
            None => Ok(()),
        }
    }
}

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
    /// Starts the services' processes (see [`process::launcher`]).
    launcher: Box<dyn Launcher>,
    /// Where the launcher answers.
    launches: mpsc::UnboundedSender<LaunchDone>,
    /// Where the answers to commands go, by ticket.
    replies: std::collections::HashMap<Ticket, oneshot::Sender<Outcome>>,
    next_ticket: u64,
}

impl Runtime {
    async fn run(
        mut self,
        mut inputs: mpsc::Receiver<Input>,
        mut commands: mpsc::Receiver<Request>,
        mut launches: mpsc::UnboundedReceiver<LaunchDone>,
        notices: Vec<Notice>,
    ) {
        for notice in notices {
            self.publish(
                Duration::ZERO,
                EventKind::Notice {
                    service: None,
                    name: None,
                    notice,
                },
            );
        }
        if let Some(subreaper) = &self.subreaper {
            let (events, logs, epoch) = (self.events.clone(), self.logs.clone(), self.epoch);
            self.adopting = Some(probe::spawn_abortable(subreaper.clone().watch(
                move |adopted| {
                    let notice = EventKind::Notice {
                        service: None,
                        name: None,
                        notice: Notice::Adopted {
                            process: Stray::from(&adopted.process),
                            service: adopted.service.clone(),
                        },
                    };
                    announce(&events, &logs, epoch.elapsed(), notice);
                },
            )));
        }
        let mut queue = self.allocate_ports();
        queue.push_back(Input::Begin);
        let mut commands_open = true;
        loop {
            let next = match queue.pop_front() {
                Some(input) => Next::Input(input),
                None => tokio::select! {
                    biased;
                    // A process that exists is news before anything else:
                    // a command must not find its service still "spawning".
                    Some(done) = launches.recv() => Next::Launched(done),
                    request = commands.recv(), if commands_open => Next::Input(match request {
                        Some(request) => self.take(request),
                        // Every front end is gone: nobody can stop us later.
                        None => {
                            commands_open = false;
                            self.take(Request {
                                command: Command::Shutdown { force: false },
                                reply: None,
                            })
                        }
                    }),
                    Some(input) = inputs.recv() => Next::Input(input),
                },
            };
            let input = match next {
                Next::Input(input) => input,
                Next::Launched(done) => {
                    self.launched(done, &mut queue);
                    continue;
                }
            };
            let now = self.epoch.elapsed();
            for effect in self.machine.handle(now, input) {
                self.execute(now, effect, &mut queue);
            }
            if self.machine.take_dirty() {
                self.snapshot.send_replace(self.machine.snapshot());
            }
            if self.machine.phase() == Phase::Done && queue.is_empty() {
                break;
            }
        }
        for service in &mut self.services {
            service.probes.clear();
        }
        self.adopting = None;
        if let Some(watchdog) = self.watchdog.take().and_then(|w| Arc::try_unwrap(w).ok()) {
            watchdog.finish();
        }
    }

    fn publish(&self, at: Duration, kind: EventKind) {
        announce(&self.events, &self.logs, at, kind);
    }

    fn execute(&mut self, now: Duration, effect: Effect, queue: &mut VecDeque<Input>) {
        match effect {
            Effect::Spawn { id, generation } => self.spawn(id, generation, queue),
            Effect::StartLiveness { id, generation } => self.start_liveness(id, generation),
            Effect::WatchAdopted { id, generation } => self.watch_adopted(id, generation),
            Effect::Disown { id } => self.ports.disown(id),
            Effect::StopProbes { id } => {
                let service = &mut self.services[id.0];
                service.probes.clear();
                if let Some(watch) = service.log_watch.take() {
                    watch.disarm();
                }
            }
            Effect::Signal {
                id,
                generation,
                signal,
            } => self.signal(id, generation, signal),
            Effect::Kill { id, generation } => {
                self.signal(id, generation, nix::sys::signal::Signal::SIGKILL)
            }
            Effect::Arm {
                id,
                generation,
                timer,
                after,
            } => {
                let inputs = self.inputs.clone();
                tokio::spawn(async move {
                    tokio::time::sleep(after).await;
                    let _ = inputs
                        .send(Input::Process {
                            id,
                            generation,
                            news: News::Timer { timer },
                        })
                        .await;
                });
            }
            Effect::SweepLeftovers => self.sweep_leftovers(),
            Effect::SaveHistory(summary) => self.save_history(summary),
            Effect::Publish(kind) => self.publish(now, kind),
            Effect::Reply { ticket, outcome } => {
                if let Some(reply) = self.replies.remove(&ticket) {
                    let _ = reply.send(outcome);
                }
            }
            Effect::CheckHolder { id, port, ticket } => self.check_holder(id, port, ticket),
            Effect::TakeHolder { id, port } => self.ports.adopt(id, port),
            Effect::RefuseHolder { id, port, why } => {
                let plan = self.plan.clone();
                let holders = crate::ports::owner::holders(port);
                self.ports.refuse(&plan, id, port, holders, &why);
            }
            Effect::MovePort { id, ticket } => {
                let plan = self.plan.clone();
                let result = self
                    .ports
                    .fallback(&plan, id)
                    .map_err(|trouble| trouble.message);
                queue.push_back(Input::PortMoved { id, ticket, result });
            }
        }
    }

    fn signal(&self, id: ServiceId, generation: u64, signal: nix::sys::signal::Signal) {
        let service = &self.services[id.0];
        if service.generation != generation {
            return;
        }
        if let (Some(pgid), Some(subreaper)) = (service.pgid, &self.subreaper) {
            subreaper.signal(pgid as i32, signal);
        }
        if let Some(pgid) = service.pgid
            && let Err(e) = process::signal_group(pgid, signal)
        {
            self.publish(
                self.epoch.elapsed(),
                EventKind::Notice {
                    service: Some(id),
                    name: Some(self.plan.service(id).name.clone()),
                    notice: Notice::SignalFailed {
                        signal: signal.into(),
                        error: e.to_string(),
                    },
                },
            );
        }
    }

    /// Every service has stopped; whatever still carries this run's marker
    /// escaped its process group. Stops it, off the loop (it waits out a
    /// grace period), and tells the machine what was found.
    fn sweep_leftovers(&self) {
        let subreaper = self.subreaper.clone();
        let run_id = self.run_id.clone();
        let inputs = self.inputs.clone();
        tokio::spawn(async move {
            let stopped = tokio::task::spawn_blocking(move || match subreaper {
                Some(subreaper) => subreaper.stop_all(GRACE),
                None => leftovers::stop(&run_id, GRACE),
            })
            .await;
            let result = match stopped {
                Ok(Ok(found)) => Ok(found.iter().map(Stray::from).collect()),
                Ok(Err(e)) => Err(e.to_string()),
                Err(e) => Err(e.to_string()),
            };
            let _ = inputs.send(Input::Swept { result }).await;
        });
    }

    /// Keeps the cold start's figures for the next one, off the loop.
    fn save_history(&self, summary: crate::engine::api::Summary) {
        let Some(history) = self.history.clone() else {
            return;
        };
        let plan = self.plan.clone();
        tokio::task::spawn_blocking(move || {
            if let Err(e) = history.save(&plan, &summary) {
                // Only a cache: the next cold start just knows less.
                tracing::debug!(target: "bringup::engine", "cannot save the cold-start history: {e}");
            }
        });
    }

    /// Tells the front ends about a port conflict, once: the same trouble
    /// found again when the service's turn comes is not news.
    fn report_conflict(&mut self, id: ServiceId, trouble: &Trouble, ahead: bool) {
        let reported = &mut self.services[id.0].conflict_reported;
        if reported.as_deref() == Some(trouble.message.as_str()) {
            return;
        }
        *reported = Some(trouble.message.clone());
        self.publish(
            self.epoch.elapsed(),
            EventKind::PortConflict {
                service: id,
                name: self.plan.service(id).name.clone(),
                port: trouble.port,
                holders: trouble.holders.clone(),
                message: trouble.message.clone(),
                ahead,
            },
        );
    }

    fn port_of(&self, id: ServiceId) -> Option<u16> {
        self.ports.port_of(id)
    }

    /// Hands out every port before anything starts; returns what the
    /// machine must hear (a held port it may adopt the holder of is the
    /// machine's to decide).
    fn allocate_ports(&mut self) -> VecDeque<Input> {
        let plan = self.plan.clone();
        let mut inputs = VecDeque::new();
        for start in self.ports.allocate_all(&plan, &self.selected) {
            match start {
                Start::Assigned { id, port, how } => {
                    inputs.push_back(Input::PortAssigned { id, port, how })
                }
                // Said now, not when the service's turn comes: the user can
                // act while the rest of the stack starts.
                Start::Conflict { id, trouble } => self.report_conflict(id, &trouble, true),
                Start::Adoptable { id, port, .. } => inputs.push_back(Input::PortHeld { id, port }),
            }
        }
        inputs
    }

    /// A command from a front end, with a ticket for its answer.
    fn take(&mut self, request: Request) -> Input {
        self.next_ticket += 1;
        let ticket = Ticket(self.next_ticket);
        if let Some(reply) = request.reply {
            self.replies.insert(ticket, reply);
        }
        Input::Command {
            ticket,
            command: request.command,
        }
    }

    /// Checks whether the holder of `port` passes `id`'s readiness check,
    /// off the loop (the check may take up to its timeout).
    fn check_holder(&self, id: ServiceId, port: u16, ticket: Option<Ticket>) {
        let spec = self.plan.service(id);
        let target = self.target_with_port(id, &spec.readiness.check, port);
        let timeout = spec.readiness.timeout;
        let inputs = self.inputs.clone();
        tokio::spawn(async move {
            let holders = tokio::task::spawn_blocking(move || crate::ports::owner::holders(port))
                .await
                .unwrap_or_default();
            let who = holders
                .first()
                .map_or_else(|| "the holder".to_string(), ToString::to_string);
            let verdict = match target {
                Some(target) => Prober::new(target, timeout)
                    .check()
                    .await
                    .map_err(|f| f.why),
                // Nothing to check a running process by: take it as it is.
                None => Ok("no readiness check".to_string()),
            };
            let verdict = match verdict {
                Ok(detail) if !holders.is_empty() => HolderVerdict::Passes {
                    detail: format!("{who} on port {port} ({detail})"),
                },
                Ok(_) => HolderVerdict::Gone,
                Err(why) => HolderVerdict::Fails { holder: who, why },
            };
            let _ = inputs
                .send(Input::HolderChecked {
                    id,
                    port,
                    ticket,
                    verdict,
                })
                .await;
        });
    }

    /// Environment bringup adds for every service: its port and the ports of
    /// the others. The service's own `env` comes after and may override.
    fn base_env(&self, id: ServiceId) -> Vec<(String, String)> {
        let mut env = vec![
            (
                "BRINGUP_SERVICE".to_string(),
                self.plan.service(id).name.clone(),
            ),
            (RUN_VARIABLE.to_string(), self.run_id.clone()),
        ];
        if let Some(port) = self.port_of(id) {
            env.push(("PORT".into(), port.to_string()));
        }
        for other in self.plan.ids() {
            if let Some(port) = self.port_of(other) {
                env.push((
                    crate::config::port_variable(&self.plan.service(other).name),
                    port.to_string(),
                ));
            }
        }
        env
    }

    fn spawn(&mut self, id: ServiceId, generation: u64, queue: &mut VecDeque<Input>) {
        let plan = self.plan.clone();
        let spec = plan.service(id);
        // The port may have been taken since it was handed out.
        match self.ports.prepare(&plan, id) {
            Ok(Some((port, how))) => {
                self.services[id.0].conflict_reported = None;
                queue.push_back(Input::PortAssigned { id, port, how });
            }
            Ok(None) => self.services[id.0].conflict_reported = None,
            Err(trouble) => {
                self.report_conflict(id, &trouble, false);
                queue.push_back(Input::Process {
                    id,
                    generation,
                    news: News::Unavailable {
                        reason: trouble.message,
                    },
                });
                return;
            }
        }
        let own = self.port_of(id);
        let render =
            |t: &crate::config::interpolate::Template| t.render(own, |other| self.port_of(other));
        let argv = match &spec.command {
            CommandSpec::Shell(text) => {
                process::shell_argv(&text.render_shell(own, |other| self.port_of(other)))
            }
            CommandSpec::Argv(parts) => parts.iter().map(render).collect(),
        };
        let mut env = self.base_env(id);
        env.extend(
            spec.env
                .iter()
                .map(|(key, value)| (key.clone(), render(value))),
        );

        // What the service is ready by is set up before it runs, so not even
        // its very first words can be missed.
        let mut probes = Vec::new();
        // Who may notify: filled in once the process runs.
        let notifier = NotifySocket::service_cell();
        if spec.kind == Kind::Service && matches!(spec.readiness.check, Check::Notify) {
            match NotifySocket::bind(self.rundir.path(), &format!("n{}-{generation}.sock", id.0)) {
                Ok(socket) => {
                    env.push(("NOTIFY_SOCKET".into(), socket.path().display().to_string()));
                    let tx = self.inputs.clone();
                    let (events, logs, epoch) =
                        (self.events.clone(), self.logs.clone(), self.epoch);
                    let name = spec.name.clone();
                    probes.push(probe::spawn_abortable(socket.listen(
                        notifier.clone(),
                        tx,
                        move |ok, detail| Input::Process {
                            id,
                            generation,
                            news: News::Readiness { ok, detail },
                        },
                        move |why| {
                            let kind = EventKind::Notice {
                                service: Some(id),
                                name: Some(name.clone()),
                                notice: Notice::NotifyRejected { why },
                            };
                            announce(&events, &logs, epoch.elapsed(), kind);
                        },
                    )));
                }
                Err(e) => {
                    let error = format!(
                        "cannot create its notify socket in {}: {e}",
                        self.rundir.path().display()
                    );
                    queue.push_back(Input::Process {
                        id,
                        generation,
                        news: News::SpawnFailed { error },
                    });
                    return;
                }
            }
        }
        let log_watch = match (&spec.readiness.check, spec.kind) {
            (Check::Log { pattern }, Kind::Service) => {
                let tx = self.inputs.clone();
                Some(LogWatch::new(pattern.clone(), move |line| {
                    let tx = tx.clone();
                    // Called from the output reader task; hand over without blocking it.
                    tokio::spawn(async move {
                        let detail = format!("log: {line}");
                        let _ = tx
                            .send(Input::Process {
                                id,
                                generation,
                                news: News::Readiness { ok: true, detail },
                            })
                            .await;
                    });
                }))
            }
            _ => None,
        };

        let request = SpawnRequest {
            argv,
            cwd: spec.cwd.clone(),
            env: env.clone(),
            // Never pass on bringup's own supervisor protocol variables.
            env_remove: [
                "LISTEN_FDS",
                "LISTEN_PID",
                "LISTEN_FDNAMES",
                "NOTIFY_SOCKET",
            ]
            .map(String::from)
            .to_vec(),
            handoff: self.ports.listener_fd(id).map(|fd| process::Handoff {
                fd,
                name: spec.name.clone(),
            }),
            owner: Some(process::Owner {
                run: self.run_id.clone(),
                service: spec.name.clone(),
            }),
        };
        self.services[id.0].launching = Some(Launching {
            generation,
            env,
            probes,
            log_watch,
            notifier,
            asked: Instant::now(),
        });
        let answer = self.launches.clone();
        self.launcher.launch(
            request,
            Box::new(move |result| {
                let _ = answer.send(LaunchDone {
                    id,
                    generation,
                    result,
                });
            }),
        );
    }

    /// The launcher's answer: the process exists (or could not be started);
    /// watch it, read its output, check it, and tell the machine.
    fn launched(&mut self, done: LaunchDone, queue: &mut VecDeque<Input>) {
        let LaunchDone {
            id,
            generation,
            result,
        } = done;
        let launching = match self.services[id.0].launching.take() {
            Some(launching) if launching.generation == generation => launching,
            other => {
                // Not the start the machine waits for (it cannot happen:
                // nothing starts a service twice at once); end it.
                self.services[id.0].launching = other;
                if let Ok(stray) = result {
                    let _ = process::signal_group(stray.pid, nix::sys::signal::Signal::SIGKILL);
                    let mut child = stray.child;
                    tokio::spawn(async move { child.wait().await });
                }
                return;
            }
        };
        let plan = self.plan.clone();
        let spec = plan.service(id);
        tracing::debug!(target: "bringup::engine", service = %spec.name, took = ?launching.asked.elapsed(), "spawn");
        let mut spawned = match result.and_then(process::Launched::attach) {
            Ok(spawned) => spawned,
            Err(e) => {
                queue.push_back(Input::Process {
                    id,
                    generation,
                    news: News::SpawnFailed {
                        error: e.to_string(),
                    },
                });
                return;
            }
        };
        let Launching {
            env,
            mut probes,
            log_watch,
            notifier,
            ..
        } = launching;
        let pid = spawned.pid;
        if let Some(watchdog) = &self.watchdog {
            watchdog.guard(pid);
        }
        NotifySocket::serve(
            &notifier,
            crate::probe::ownership::Service {
                pid,
                run: self.run_id.clone(),
                name: spec.name.clone(),
            },
        );

        // Its output wakes its readiness check (see [`probe`]'s hints).
        let spoke = Arc::new(tokio::sync::Notify::new());
        let mut pumps = Vec::new();
        if let Some(stdout) = spawned.stdout.take() {
            pumps.push(tokio::spawn(pump(
                stdout,
                self.logs.clone(),
                id.0,
                Stream::Stdout,
                log_watch.clone(),
                Some(spoke.clone()),
            )));
        }
        if let Some(stderr) = spawned.stderr.take() {
            pumps.push(tokio::spawn(pump(
                stderr,
                self.logs.clone(),
                id.0,
                Stream::Stderr,
                log_watch.clone(),
                Some(spoke.clone()),
            )));
        }
        let inputs = self.inputs.clone();
        let watchdog = self.watchdog.clone();
        let subreaper = self.subreaper.clone();
        let (events, logs, epoch) = (self.events.clone(), self.logs.clone(), self.epoch);
        let name = spec.name.clone();
        let grace = spec.stop_grace;
        let mut child = spawned.child;
        tokio::spawn(async move {
            let waited = process::wait(&mut child, grace, subreaper.as_deref()).await;
            let exit = waited.exit;
            if !waited.escaped.is_empty() {
                let stopped = waited.escaped.iter().map(|a| Stray::from(&a.process));
                let notice = EventKind::Notice {
                    service: Some(id),
                    name: Some(name.clone()),
                    notice: Notice::Escaped {
                        service: name,
                        stopped: stopped.collect(),
                    },
                };
                announce(&events, &logs, epoch.elapsed(), notice);
            }
            let _ = tokio::time::timeout(DRAIN_AFTER_EXIT, async {
                for pump in pumps {
                    let _ = pump.await;
                }
            })
            .await;
            if let Some(watchdog) = watchdog {
                watchdog.release(pid);
            }
            let _ = inputs
                .send(Input::Process {
                    id,
                    generation,
                    news: News::Exited { exit },
                })
                .await;
        });

        if spec.kind == Kind::Service
            && let Some(target) = self.target(id, &spec.readiness.check, &env)
        {
            let prober = self.owned(id, pid, Prober::new(target, spec.readiness.timeout));
            let tx = self.inputs.clone();
            let hints = probe::Hints {
                expected: self.expected.get(id.0).copied().flatten(),
                output: Some(spoke),
            };
            probes.push(probe::spawn_abortable(probe::readiness_loop(
                prober,
                spec.readiness.period,
                hints,
                tx,
                move |ok, detail| Input::Process {
                    id,
                    generation,
                    news: News::Readiness { ok, detail },
                },
            )));
        }

        let service = &mut self.services[id.0];
        service.generation = generation;
        service.pgid = Some(pid);
        service.env = env;
        service.probes = probes;
        service.log_watch = log_watch;
        self.ports.record_pid(&plan, id, pid);
        queue.push_back(Input::Process {
            id,
            generation,
            news: News::Spawned { pid },
        });
    }

    fn start_liveness(&mut self, id: ServiceId, generation: u64) {
        let plan = self.plan.clone();
        let Some(liveness) = &plan.service(id).liveness else {
            return;
        };
        if self.services[id.0].generation != generation {
            return;
        }
        let env = self.services[id.0].env.clone();
        let Some(target) = self.target(id, &liveness.check, &env) else {
            return;
        };
        // Not owner-checked: readiness confirmed whose listener this is,
        // and it does not change hands while the process lives.
        let prober = Prober::new(target, liveness.timeout);
        let task = self.liveness_task(id, generation, prober, liveness.period);
        self.services[id.0].probes.push(task);
    }

    /// Checks with `prober` every `period`, reporting each result as the
    /// liveness of `id`'s process `generation`.
    fn liveness_task(
        &self,
        id: ServiceId,
        generation: u64,
        prober: Prober,
        period: Duration,
    ) -> AbortOnDrop {
        probe::spawn_abortable(probe::liveness_loop(
            prober,
            period,
            self.inputs.clone(),
            move |ok, detail| Input::Process {
                id,
                generation,
                news: News::Liveness { ok, detail },
            },
        ))
    }

    /// Checks an adopted process every `period` for as long as it stays
    /// adopted: its liveness check, else its readiness check, else (log,
    /// notify and none cannot be asked of a process bringup did not start)
    /// a TCP connect to its port.
    fn watch_adopted(&mut self, id: ServiceId, generation: u64) {
        let plan = self.plan.clone();
        let spec = plan.service(id);
        let Some(port) = self.port_of(id) else {
            return;
        };
        let probe = spec.liveness.as_ref().unwrap_or(&spec.readiness);
        let host = spec
            .port
            .as_ref()
            .map_or_else(|| std::net::IpAddr::from([127, 0, 0, 1]), |p| p.host);
        let target = self
            .target_with_port(id, &probe.check, port)
            .unwrap_or_else(|| Target::Tcp {
                address: std::net::SocketAddr::new(host, port).to_string(),
            });
        let prober = Prober::new(target, probe.timeout);
        let task = self.liveness_task(id, generation, prober, probe.period);
        let service = &mut self.services[id.0];
        service.generation = generation;
        service.probes.clear();
        service.probes.push(task);
    }

    /// `prober`, passing only when the listener on the service's port is
    /// process `pid`'s (see [`crate::probe::ownership`]); a stranger there
    /// is reported as a port conflict.
    fn owned(&self, id: ServiceId, pid: u32, prober: Prober) -> Prober {
        let spec = self.plan.service(id);
        let (Some(port_spec), Some(port)) = (&spec.port, self.port_of(id)) else {
            return prober;
        };
        if !port_spec.check_owner || port_spec.listen {
            return prober;
        }
        let service = crate::probe::ownership::Service {
            pid,
            run: self.run_id.clone(),
            name: spec.name.clone(),
        };
        let (events, logs, epoch) = (self.events.clone(), self.logs.clone(), self.epoch);
        let name = spec.name.clone();
        let report: crate::probe::ownership::Report = Arc::new(move |holder, message| {
            let kind = EventKind::PortConflict {
                service: id,
                name: name.clone(),
                port: Some(port),
                holders: vec![holder],
                message,
                // (Found by a readiness check: the "not ready yet" that
                // follows says it in words.)
                ahead: false,
            };
            announce(&events, &logs, epoch.elapsed(), kind);
        });
        prober.owned_by(crate::probe::ownership::Owner::new(port, service, report))
    }

    /// The polled check of a service, rendered; `None` for log, notify and none.
    fn target(&self, id: ServiceId, check: &Check, env: &[(String, String)]) -> Option<Target> {
        self.target_rendered(id, check, env, self.port_of(id))
    }

    /// The check of `id` against `port` (a holder it might adopt).
    fn target_with_port(&self, id: ServiceId, check: &Check, port: u16) -> Option<Target> {
        self.target_rendered(id, check, &[], Some(port))
    }

    fn target_rendered(
        &self,
        id: ServiceId,
        check: &Check,
        env: &[(String, String)],
        own: Option<u16>,
    ) -> Option<Target> {
        let render =
            |t: &crate::config::interpolate::Template| t.render(own, |other| self.port_of(other));
        match check {
            Check::Tcp { address } => Some(Target::Tcp {
                address: render(address),
            }),
            Check::Http { url, status, json } => Some(Target::Http {
                url: render(url),
                status: *status,
                json: json.clone(),
            }),
            Check::Exec { command } => Some(Target::Exec {
                command: command.render_shell(own, |other| self.port_of(other)),
                cwd: self.plan.service(id).cwd.clone(),
                env: env.to_vec(),
            }),
            Check::Log { .. } | Check::Notify | Check::None => None,
        }
    }
}

/// Tells the front ends what happened, and writes it in words into
/// bringup's own log (the dashboard's orchestrator log, a log store read
/// like a service's; and stderr with `BRINGUP_LOG`).
fn announce(events: &broadcast::Sender<Event>, logs: &LogHub, at: Duration, kind: EventKind) {
    if let Some(described) = crate::engine::describe::describe(&kind) {
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
