//! Stopping: one service, or everything in reverse dependency order
//! (each once its dependents are gone), gracefully or by force.

use super::*;

impl Machine {
    /// Asks a running (or spawning) service to stop; `intent` says what then.
    pub(super) fn begin_stop(&mut self, now: Duration, id: ServiceId, intent: StopIntent) {
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

    pub(super) fn send_stop_signal(&mut self, _now: Duration, id: ServiceId, _intent: StopIntent) {
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
            signal: signal.into(),
        });
    }

    /// Stops whatever has no running dependents left; finishes when all is down.
    pub(super) fn advance_shutdown(&mut self, now: Duration) {
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
            if self.dependents_down(id) {
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
            Phase::ShuttingDown { .. } if !self.sweeping => {
                self.sweeping = true;
                self.out.push(Effect::SweepLeftovers);
            }
            _ => {}
        }
    }

    /// No process of `id`'s dependents runs: `id` may stop (in a
    /// shutdown, or removed from the config) without pulling the floor
    /// from under one.
    pub(super) fn dependents_down(&self, id: ServiceId) -> bool {
        self.plan
            .graph
            .dependents(id)
            .iter()
            .all(|d| !self.slots[d.on.0].alive())
    }

    /// What the services left behind was stopped: shutdown is complete.
    pub(super) fn swept(&mut self, result: Result<Vec<Stray>, String>) {
        if !self.sweeping || self.phase == Phase::Done {
            return;
        }
        let notice = match result {
            Ok(stopped) if stopped.is_empty() => None,
            Ok(stopped) => Some(Notice::LeftBehind { stopped }),
            Err(error) => Some(Notice::SweepFailed { error }),
        };
        if let Some(notice) = notice {
            self.publish(EventKind::Notice {
                service: None,
                name: None,
                notice,
            });
        }
        self.phase = Phase::Done;
        self.publish(EventKind::ShutdownComplete);
    }

    pub(super) fn stop_everything(&mut self, now: Duration, then: Phase) {
        self.phase = then;
        for index in 0..self.slots.len() {
            let id = ServiceId(index);
            let slot = &mut self.slots[index];
            slot.restart_pending = false;
            let waiting = slot.state == State::Pending
                || (slot.state == State::Failed && slot.blocked_by.is_some());
            if !slot.alive() && waiting {
                self.set_state(now, id, State::Stopped, Reason::NotStarted);
            }
        }
        self.dirty = true;
    }
}
