//! Starting a service's process: its environment and readiness set up
//! before it runs (so not even its first words are missed), the launcher
//! asked, and the answer taken up — output pumped, exit awaited, probes
//! started — before the machine hears it exists.

use super::*;

impl Runtime {
    /// Environment bringup adds for every service: its port and the ports of
    /// the others. The service's own `env` comes after and may override.
    pub(super) fn base_env(&self, id: ServiceId) -> Vec<(String, String)> {
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

    pub(super) fn spawn(
        &mut self,
        id: ServiceId,
        generation: u64,
        attempt: u32,
        queue: &mut VecDeque<Input>,
    ) {
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
        // Ties what the process writes to this start of it (the attempt
        // number in status, events and bringup's log).
        env.push(("BRINGUP_ATTEMPT".into(), attempt.to_string()));
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
    pub(super) fn launched(&mut self, done: LaunchDone, queue: &mut VecDeque<Input>) {
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
}
