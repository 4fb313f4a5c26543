//! What the user asks for: every command is carried out or answered with
//! why not.

use super::*;

impl Machine {
    /// Carries out a command and answers it: exactly one
    /// [`Effect::Reply`] with `ticket`. A command that changed nothing
    /// visible is answered with why (nothing to do, say); a refusal is also
    /// published, so every front end's log shows it.
    pub(super) fn command(&mut self, now: Duration, ticket: Ticket, command: Command) {
        let before = self.out.len();
        let Some(mut outcome) = self.carry_out(now, ticket, command) else {
            // Answered later (a port's holder to check, say).
            return;
        };
        let changed = self.out[before..]
            .iter()
            .any(|e| matches!(e, Effect::Publish(_)));
        if outcome.is_done()
            && !changed
            && let Some(id) = command.service()
        {
            let slot = &self.slots[id.0];
            outcome = Outcome::Refused {
                why: Refusal::NothingToDo {
                    state: slot.state,
                    stopping: slot.stop.is_some() && slot.alive(),
                },
            };
        }
        let service = command.service().filter(|id| id.0 < self.slots.len());
        self.answer(service, ticket, outcome);
    }

    /// Answers the command that came with `ticket`; a refusal is also
    /// published, so every front end's log shows it.
    pub(super) fn answer(&mut self, service: Option<ServiceId>, ticket: Ticket, outcome: Outcome) {
        if let Outcome::Refused { why } = &outcome {
            self.publish(EventKind::Refused {
                service,
                name: service.map(|id| self.name(id).to_string()),
                why: why.clone(),
            });
        }
        self.out.push(Effect::Reply { ticket, outcome });
    }

    /// Carries out `command`; `None` when the answer comes later.
    fn carry_out(&mut self, now: Duration, ticket: Ticket, command: Command) -> Option<Outcome> {
        let refused = |why| Some(Outcome::Refused { why });
        let service = command.service();
        if let Some(id) = service
            && (id.0 >= self.slots.len() || self.plan.is_removed(id))
        {
            return Some(Outcome::NotFound);
        }
        if service.is_some_and(|id| self.slots[id.0].external) {
            return refused(Refusal::Adopted);
        }
        let stopping = matches!(self.phase, Phase::ShuttingDown { .. } | Phase::Done);
        if stopping && !matches!(command, Command::Shutdown { .. }) {
            return refused(Refusal::ShuttingDown);
        }
        match command {
            Command::ResolvePort { service, choice } => {
                return self.resolve_port(service, choice, ticket);
            }
            Command::Shutdown { force } => {
                let already = matches!(
                    self.phase,
                    Phase::ShuttingDown { force: true } | Phase::Done
                ) || (matches!(self.phase, Phase::ShuttingDown { .. }) && !force);
                if already {
                    return refused(Refusal::AlreadyStopping);
                }
                if !self.cold_start_done && self.phase == Phase::Running {
                    // Stopped before everything settled: say how far it got.
                    self.cold_start_done = true;
                    self.publish_summary();
                }
                self.publish(EventKind::ShutdownStarted { force });
                self.stop_everything(now, Phase::ShuttingDown { force });
            }
            Command::Reload => {
                self.out.push(Effect::LoadConfig {
                    ticket: Some(ticket),
                });
                return None;
            }
            Command::Watching { paused } => {
                // Asking for what already is, is done too.
                if self.watch_paused != paused {
                    self.watch_paused = paused;
                    self.publish(EventKind::Watching { paused });
                }
            }
            Command::RestartAll => {
                if self.phase == Phase::Restarting {
                    return refused(Refusal::AlreadyRestartingAll);
                }
                self.publish(EventKind::RestartingAll);
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
                let state = self.slots[id.0].state;
                if self.slots[id.0].alive() || state == State::Pending {
                    return refused(Refusal::AlreadyStarted { state });
                }
                self.revive(now, id, Reason::StartingOnRequest);
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
                    return refused(Refusal::NotOptional);
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
                    return refused(Refusal::NotRunning);
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
                    signal: Signal::SIGKILL.into(),
                });
            }
        }
        Some(Outcome::Done)
    }

    /// Brings a service that is not running back into line.
    pub(super) fn revive(&mut self, now: Duration, id: ServiceId, reason: Reason) {
        let slot = &mut self.slots[id.0];
        slot.want = Want::Up;
        slot.manual = false;
        slot.restarts = 0;
        slot.restart_pending = false;
        self.make_pending(now, id, reason);
    }
}
