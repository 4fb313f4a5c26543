//! The engine handle front ends hold: [`Engine::start`] sets up what a run
//! needs (its runtime directory, the watchdog, the subreaper, the history)
//! and starts the loop on a thread of its own; the handle gives out the
//! channels into it and waits for it to end.

use super::*;

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

impl Request {
    /// Sends `command` into `commands`, waiting if the engine is busy, and
    /// waits for its answer; a stack that has ended answers nothing.
    pub async fn ask(commands: &mpsc::Sender<Request>, command: Command) -> Option<Outcome> {
        let (reply, answer) = oneshot::channel();
        let request = Request {
            command,
            reply: Some(reply),
        };
        commands.send(request).await.ok()?;
        answer.await.ok()
    }
}

/// A running engine, as front ends see it.
pub struct Engine {
    plan: Arc<Plan>,
    info: watch::Receiver<Arc<StackInfo>>,
    commands: mpsc::Sender<Request>,
    events: broadcast::Sender<Event>,
    snapshot: watch::Receiver<Snapshot>,
    logs: Arc<LogHub>,
    epoch: Instant,
    /// The run directory's path (the runtime owns the directory).
    run_dir: PathBuf,
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
        Self::start_with(plan, options, Box::new(Direct))
    }

    /// [`Engine::start`], with the services' processes started by
    /// `launcher` (tests record what would be started instead).
    pub(crate) fn start_with(
        plan: Arc<Plan>,
        options: EngineOptions,
        launcher: Box<dyn Launcher>,
    ) -> Result<(Self, broadcast::Receiver<Event>), EngineError> {
        let rundir = RunDir::create().map_err(EngineError::RunDir)?;
        let run_dir = rundir.path().to_path_buf();
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
        let whole_stack = options.only.is_none();
        let mut machine = if whole_stack {
            Machine::new(plan.clone(), seed)
        } else {
            Machine::with_selection(plan.clone(), seed, selected.clone())
        };
        let history = options
            .history_dir
            .as_deref()
            .map(|dir| History::of(dir, &plan));
        let expected = match &history {
            Some(history) => {
                let expected = history.load(&plan);
                machine.order_by_expected(&expected);
                expected
            }
            None => vec![None; plan.services.len()],
        };
        let (snapshot_tx, snapshot_rx) = watch::channel(machine.snapshot());
        let (info_tx, info_rx) = watch::channel(Arc::new(crate::engine::info::stack_info(&plan)));
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
            launcher,
            replies: std::collections::HashMap::new(),
            watching: None,
            next_ticket: 0,
            launches,
            subreaper,
            adopting: None,
            ports: PortBook::new(&plan),
            selected,
            whole_stack,
            services: (0..plan.services.len())
                .map(|_| ServiceRuntime::default())
                .collect(),
            plan: plan.clone(),
            machine,
            epoch,
            inputs: inputs_tx,
            events: events_tx.clone(),
            snapshot: snapshot_tx,
            info: info_tx,
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
                // Followers' lines are paced here, where they are read.
                let _pacer = rt.spawn(runtime.logs.clone().pace());
                rt.block_on(runtime.run(inputs_rx, commands_rx, launches_rx, startup_notices));
            })
            .map_err(EngineError::Thread)?;

        Ok((
            Self {
                info: info_rx,
                run_dir,
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

    /// The stack as front ends know it now.
    pub fn info(&self) -> Arc<StackInfo> {
        self.info.borrow().clone()
    }

    /// The stack as front ends know it, updated when an edit of the
    /// config adds or removes services.
    pub fn info_watch(&self) -> watch::Receiver<Arc<StackInfo>> {
        self.info.clone()
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
        Request::ask(&self.commands, command).await
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

    /// The run's private directory (where its sockets live), for as long
    /// as the engine runs.
    pub fn run_dir(&self) -> &std::path::Path {
        &self.run_dir
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
