//! What the user asks for: every command is carried out or answered with
//! why not.

use super::*;

impl Machine {
    /// Carries out a command; every command gets an answer the user can
    /// see: a change, or a notice saying why nothing changed.
    pub(super) fn command(&mut self, now: Duration, command: Command) {
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

    pub(super) fn carry_out(&mut self, now: Duration, command: Command) {
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
                    self.revive(now, id, Reason::Restarting);
                }
            }
            Command::Start(id) => {
                if self.slots[id.0].alive() || self.slots[id.0].state == State::Pending {
                    self.notice(
                        Some(id),
                        format!("{} is already {}", self.name(id), self.slots[id.0].state),
                    );
                } else {
                    self.revive(now, id, Reason::StartingOnRequest);
                }
            }
            Command::Stop(id) => {
                self.slots[id.0].want = Want::Stopped;
                self.slots[id.0].restart_pending = false;
                if self.slots[id.0].alive() {
                    self.begin_stop(now, id, StopIntent::Stop);
                } else if self.slots[id.0].state != State::Stopped {
                    self.set_state(now, id, State::Stopped, Reason::StoppedOnRequest);
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
                    self.set_state(now, id, State::Skipped, Reason::SkippedOnRequest);
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
    pub(super) fn revive(&mut self, now: Duration, id: ServiceId, reason: Reason) {
        let slot = &mut self.slots[id.0];
        slot.want = Want::Up;
        slot.restarts = 0;
        slot.restart_pending = false;
        self.make_pending(now, id, reason);
    }
}
