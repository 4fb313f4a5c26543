//! The loop: one input at a time into the machine, its effects carried
//! out in order, a snapshot published after each input that changed
//! anything. Whatever may block (a sweep for leftovers, saving history,
//! checking a port's holder) is handed to a task and answered as an input.

use super::*;

impl Runtime {
    pub(super) async fn run(
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
        self.watching = self.watch_files();
        let _config_watch =
            crate::engine::config_watch::start(&self.plan.source, self.inputs.clone());
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
            let input = self.take_plan(input);
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

    /// Changes of watched files become restarts (see [`crate::engine::watch`]);
    /// what cannot be watched is a notice.
    pub(super) fn watch_files(&self) -> Option<AbortOnDrop> {
        let (events, logs, epoch) = (self.events.clone(), self.logs.clone(), self.epoch);
        crate::engine::watch::start(&self.plan, self.inputs.clone(), move |why| {
            let notice = EventKind::Notice {
                service: None,
                name: None,
                notice: Notice::WatchTrouble { why },
            };
            announce(&events, &logs, epoch.elapsed(), notice);
        })
    }

    pub(super) fn publish(&self, at: Duration, kind: EventKind) {
        announce(&self.events, &self.logs, at, kind);
    }

    pub(super) fn execute(&mut self, now: Duration, effect: Effect, queue: &mut VecDeque<Input>) {
        match effect {
            Effect::Spawn {
                id,
                generation,
                attempt,
            } => self.spawn(id, generation, attempt, queue),
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
            Effect::LoadConfig { ticket } => self.load_config(ticket),
            Effect::Publish(kind) => self.publish(now, kind),
            Effect::Reply { ticket, outcome } => {
                if let Some(reply) = self.replies.remove(&ticket) {
                    let _ = reply.send(outcome);
                }
            }
            Effect::CheckHolder { id, port, ticket } => self.check_holder(id, port, ticket),
            Effect::TakeHolder { id, port } => self.ports.adopt(id, port),
            Effect::RefuseHolder {
                id,
                port,
                holders,
                why,
            } => {
                let plan = self.plan.clone();
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

    pub(super) fn signal(&self, id: ServiceId, generation: u64, signal: nix::sys::signal::Signal) {
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

    /// A command from a front end, with a ticket for its answer.
    pub(super) fn take(&mut self, request: Request) -> Input {
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

    /// Every service has stopped; whatever still carries this run's marker
    /// escaped its process group. Stops it, off the loop (it waits out a
    /// grace period), and tells the machine what was found.
    pub(super) fn sweep_leftovers(&self) {
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
    pub(super) fn save_history(&self, summary: crate::api::Summary) {
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
}
