//! Bring-up: who may start now. The dependency rules of DESIGN.md live in
//! `eligibility`; `schedule` walks the services in spawn order after every
//! input and starts whatever has become eligible.

use super::*;

impl Machine {
    pub(super) fn begin(&mut self, now: Duration) {
        if !matches!(self.phase, Phase::Idle | Phase::Restarting) {
            return;
        }
        self.phase = Phase::Running;
        self.began_at = now;
        self.cold_start_done = false;
        self.last_slot_freed_by = None;
        for index in 0..self.slots.len() {
            let id = ServiceId(index);
            if self.plan.is_removed(id) {
                // Removed from the config: stopped for good, restart-all
                // included.
                continue;
            }
            let slot = &mut self.slots[index];
            if !self.selected[index] {
                slot.want = Want::Stopped;
                self.set_state(now, id, State::Stopped, Reason::NotSelected);
                continue;
            }
            if slot.want == Want::Skipped || slot.external {
                // A service the user skipped stays out of a restart-all, and
                // an adopted one is not ours to start.
                continue;
            }
            if slot.manual {
                // `autostart = false`: defined, started only when asked.
                slot.want = Want::Stopped;
                self.set_state(now, id, State::Stopped, Reason::AwaitingStart);
                continue;
            }
            slot.want = Want::Up;
            slot.restarts = 0;
            slot.restart_pending = false;
            slot.ready_attempt_spawned_at = None;
            slot.first_ready_at = None;
            slot.gated_by = None;
            self.make_pending(now, id, Reason::WaitingToStart);
        }
        self.dirty = true;
    }

    /// Puts a stopped service back in line to start.
    pub(super) fn make_pending(&mut self, now: Duration, id: ServiceId, reason: Reason) {
        self.slots[id.0].blocked_by = None;
        let was_pending = self.slots[id.0].state == State::Pending;
        self.set_state(now, id, State::Pending, reason);
        // `set_state` starts a wait on entering pending; this one already was.
        if was_pending {
            self.start_waiting(now, id);
        }
    }

    /// A service starts waiting: its optional dependencies get
    /// `dependency_timeout` from now, whatever earlier waits it had.
    pub(super) fn start_waiting(&mut self, now: Duration, id: ServiceId) {
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
    pub(super) fn schedule(&mut self, now: Duration) {
        let limit = self.plan.project.max_parallel_starts;
        let order = self.spawn_order.clone();
        for id in order {
            let slot = &self.slots[id.0];
            let schedulable = slot.want == Want::Up
                && !slot.alive()
                && !slot.restart_pending
                && !slot.holder_check
                && (slot.state == State::Pending
                    || (slot.state == State::Failed && slot.blocked_by.is_some()));
            if !schedulable {
                continue;
            }
            match self.eligibility(id, now) {
                Eligibility::Blocked(on) => {
                    if self.slots[id.0].blocked_by != Some(on) {
                        let dep_state = self.slots[on.0].state;
                        let reason = Reason::Blocked {
                            on: self.name(on).to_string(),
                            state: dep_state,
                        };
                        self.set_state(now, id, State::Failed, reason);
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
                        self.set_state(now, id, State::Pending, Reason::WaitingToStart);
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
                            self.set_state(now, id, State::Pending, Reason::WaitingToStart);
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

    pub(super) fn set_waiting(&mut self, _now: Duration, id: ServiceId, reason: WaitReason) {
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
    pub(super) fn latest_gate(
        &self,
        gate: Option<ServiceId>,
        waited_for_slot: bool,
    ) -> Option<ServiceId> {
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
    pub(super) fn eligibility(&self, id: ServiceId, now: Duration) -> Eligibility {
        let mut gate: Option<ServiceId> = None;
        let mut degraded = Vec::new();
        let mut wait: Option<WaitReason> = None;
        let me = &self.slots[id.0];
        if let Some(reason) = self.port_of_removed(id) {
            return Eligibility::Wait(reason);
        }
        for dep in self.plan.graph.dependencies(id) {
            let d = &self.slots[dep.on.0];
            let satisfied = match dep.kind {
                DepKind::Required => {
                    if d.up() {
                        true
                    } else if d.manual {
                        // Not started yet, by design: wait for someone to.
                        false
                    } else if d.down_for_good() || d.state == State::Failed {
                        return Eligibility::Blocked(dep.on);
                    } else {
                        false
                    }
                }
                DepKind::Completed => {
                    if d.state == State::Completed {
                        true
                    } else if d.manual {
                        false
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

    pub(super) fn spawn(
        &mut self,
        now: Duration,
        id: ServiceId,
        gate: Option<ServiceId>,
        degraded: Vec<ServiceId>,
    ) {
        let spec = self.plan.service(id);
        let ready_timeout = spec.ready_timeout;
        let kind = spec.kind;
        self.spawn_seq += 1;
        let spawn_seq = self.spawn_seq;
        let slot = &mut self.slots[id.0];
        slot.spawn_seq = spawn_seq;
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
        let reason = Reason::Starting {
            attempt,
            degraded: degraded_names,
        };
        self.set_state(now, id, State::Starting, reason);
        self.out.push(Effect::Spawn {
            id,
            generation,
            attempt,
        });
        if kind == Kind::Service && !matches!(self.plan.service(id).readiness.check, Check::None) {
            self.out.push(Effect::Arm {
                id,
                generation,
                timer: Timer::ReadyTimeout,
                after: ready_timeout,
            });
        }
    }
}
