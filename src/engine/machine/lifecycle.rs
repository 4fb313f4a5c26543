//! One process's life as the machine sees it: spawned, ready (or not),
//! alive (or not), exited; what an exit means under the restart policy;
//! timers; and adopted processes, which are checked like the others.

use super::*;

impl Machine {
    pub(super) fn spawned(&mut self, now: Duration, id: ServiceId, pid: u32) {
        if self.slots[id.0].process != Process::Spawning {
            return;
        }
        let generation = self.slots[id.0].generation;
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

    /// No port could be had for the spawn that was asked for.
    pub(super) fn unavailable(&mut self, now: Duration, id: ServiceId, reason: String) {
        if self.slots[id.0].process != Process::Spawning {
            return;
        }
        self.slots[id.0].process = Process::Down;
        self.slots[id.0].last_exit = Some(Exit::NotStarted(reason.clone()));
        self.out.push(Effect::StopProbes { id });
        self.set_state(
            now,
            id,
            State::Failed,
            Reason::CouldNotStart { why: reason },
        );
    }

    pub(super) fn readiness(&mut self, now: Duration, id: ServiceId, ok: bool, detail: String) {
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
                    self.set_state(
                        now,
                        id,
                        State::NotReady,
                        Reason::ReadinessFailing { detail },
                    );
                }
            }
            (State::Starting | State::NotReady, false)
                if self.slots[id.0].last_check.as_deref() != Some(detail.as_str()) =>
            {
                self.slots[id.0].last_check = Some(detail.clone());
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

    pub(super) fn become_ready(&mut self, now: Duration, id: ServiceId, detail: String) {
        let generation = self.slots[id.0].generation;
        let slot = &mut self.slots[id.0];
        slot.ready_at = Some(now);
        slot.readiness_failures = 0;
        slot.first_ready_at.get_or_insert(now);
        slot.last_check = None;
        let took = now.saturating_sub(slot.spawned_at.unwrap_or(now));
        self.set_state(now, id, State::Ready, Reason::ReadyIn { took, detail });
        self.cascade(now, id);
        // Once per process: a not_ready → ready recovery keeps the loop it has.
        if self.plan.service(id).liveness.is_some() && !self.slots[id.0].liveness_started {
            self.slots[id.0].liveness_started = true;
            self.out.push(Effect::StartLiveness { id, generation });
        }
    }

    pub(super) fn liveness(&mut self, now: Duration, id: ServiceId, ok: bool, detail: String) {
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
            let reason = Reason::LivenessFailing {
                failures,
                detail,
                restart: false,
            };
            self.set_state(now, id, State::NotReady, reason);
            return;
        }
        let slot = &mut self.slots[id.0];
        slot.reason = Reason::LivenessFailing {
            failures,
            detail: detail.clone(),
            restart: true,
        };
        slot.cause = Some(Cause::Liveness { failures, detail });
        self.dirty = true;
        self.begin_stop(now, id, StopIntent::Failure);
    }

    pub(super) fn exited(&mut self, now: Duration, id: ServiceId, exit: Exit) {
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
                self.set_state(now, id, State::Stopped, Reason::Stopped { exit });
            }
            Some(StopIntent::Skip) => self.set_state(now, id, State::Skipped, Reason::Skipped),
            Some(StopIntent::Remove) => {
                let reason = Reason::Removed { exit: Some(exit) };
                self.set_state(now, id, State::Stopped, reason);
            }
            // A restart asked for before shutdown began ends with the rest.
            Some(StopIntent::Restart) if self.phase != Phase::Running => {
                self.set_state(now, id, State::Stopped, Reason::Stopped { exit });
            }
            Some(StopIntent::Restart) => self.make_pending(now, id, Reason::Restarting),
            Some(StopIntent::Failure) | None => self.crashed(now, id, exit),
        }
    }

    /// A process ended that nobody asked to stop, or that bringup stopped
    /// because its checks failed (the slot's `cause` says which).
    pub(super) fn crashed(&mut self, now: Duration, id: ServiceId, exit: Exit) {
        let spec = self.plan.service(id);
        let (kind, policy, max_restarts, backoff) =
            (spec.kind, spec.restart, spec.max_restarts, spec.backoff);
        let stopping_everything = !matches!(self.phase, Phase::Running);
        if kind == Kind::Task && exit.success() && policy != RestartPolicy::Always {
            let took = now.saturating_sub(self.slots[id.0].spawned_at.unwrap_or(now));
            let slot = &mut self.slots[id.0];
            slot.first_ready_at.get_or_insert(now);
            slot.ready_at = Some(now);
            self.set_state(now, id, State::Completed, Reason::CompletedIn { took });
            self.cascade(now, id);
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
        let cause = slot.cause.take();
        let wants_restart = match policy {
            RestartPolicy::Always => true,
            RestartPolicy::OnFailure => !exit.success() || cause.is_some(),
            RestartPolicy::Never => false,
        };
        let exited = |then| Reason::Exited {
            exit: exit.clone(),
            cause: cause.clone(),
            then,
        };
        if self.plan.is_removed(id) {
            let reason = Reason::Removed { exit: Some(exit) };
            self.set_state(now, id, State::Stopped, reason);
            return;
        }
        if stopping_everything || self.slots[id.0].want != Want::Up {
            self.set_state(now, id, State::Stopped, exited(Then::StaysDown));
            return;
        }
        if !wants_restart {
            self.set_state(now, id, State::Failed, exited(Then::StaysDown));
            return;
        }
        let restarts = self.slots[id.0].restarts;
        if restarts >= max_restarts {
            let reason = exited(Then::GaveUp { restarts });
            self.set_state(now, id, State::Failed, reason);
            return;
        }
        let attempt = restarts + 1;
        let delay = self.backoff_delay(backoff.initial, backoff.max, attempt);
        let generation = self.slots[id.0].generation;
        let slot = &mut self.slots[id.0];
        slot.restarts = attempt;
        slot.restart_pending = true;
        let reason = exited(Then::RestartIn {
            attempt,
            of: max_restarts,
            delay,
        });
        self.set_state(now, id, State::Pending, reason);
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
    pub(super) fn backoff_delay(
        &mut self,
        initial: Duration,
        max: Duration,
        attempt: u32,
    ) -> Duration {
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

    pub(super) fn timer(&mut self, now: Duration, id: ServiceId, timer: Timer) {
        let slot = &self.slots[id.0];
        match timer {
            Timer::ReadyTimeout => {
                if slot.state == State::Starting && slot.stop.is_none() {
                    let reason = Reason::NotReadyAfter {
                        timeout: self.plan.service(id).ready_timeout,
                        last_check: slot.last_check.clone(),
                    };
                    self.set_state(now, id, State::NotReady, reason);
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
                    self.slots[id.0].reason = Reason::KillingAfter { grace };
                    self.out.push(Effect::Kill { id, generation });
                    let name = self.name(id).to_string();
                    self.publish(EventKind::Signalled {
                        service: id,
                        name,
                        signal: Signal::SIGKILL.into(),
                    });
                }
            }
            // The deadline is in the slot; `schedule`, which runs after
            // every input, compares it with the time.
            Timer::DependencyTimeout => {}
        }
    }

    pub(super) fn adopted(&mut self, now: Duration, id: ServiceId, port: u16, detail: String) {
        let slot = &mut self.slots[id.0];
        if slot.alive() {
            return;
        }
        slot.external = true;
        slot.port = Some(port);
        slot.port_how = Some(PortHow::External);
        slot.ready_at = Some(now);
        slot.first_ready_at.get_or_insert(now);
        // A generation of its own, so checks of an earlier adoption (or
        // process) cannot count against this one.
        slot.generation += 1;
        slot.liveness_failures = 0;
        let generation = slot.generation;
        self.set_state(now, id, State::Ready, Reason::Adopted { holder: detail });
        self.out.push(Effect::WatchAdopted { id, generation });
    }

    /// A check of an adopted process: it answers, or it stops answering
    /// (not ready) and, after the threshold, is taken to be gone. Then the
    /// restart policy may start bringup's own instance on the freed port.
    pub(super) fn adopted_check(&mut self, now: Duration, id: ServiceId, ok: bool, detail: String) {
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
                self.set_state(now, id, State::Ready, Reason::AdoptedAnswersAgain);
            }
            return;
        }
        slot.liveness_failures += 1;
        let failures = slot.liveness_failures;
        if failures < threshold {
            let reason = Reason::AdoptedNotAnswering { detail };
            self.set_state(now, id, State::NotReady, reason);
            return;
        }
        let slot = &mut self.slots[id.0];
        slot.external = false;
        slot.port = None;
        slot.port_how = None;
        slot.liveness_failures = 0;
        self.out.push(Effect::StopProbes { id });
        self.out.push(Effect::Disown { id });
        self.slots[id.0].cause = Some(Cause::AdoptedSilent { failures, detail });
        self.crashed(now, id, Exit::AdoptedGone);
    }
}
