//! What the machine shows: the snapshot, one service's status, and the
//! dependencies a running service does without (optional ones it is
//! degraded without, required ones it lost), said when they change.

use super::*;

impl Machine {
    /// The whole picture, services in start order (not those removed
    /// from the config: they are no longer the stack's).
    pub fn snapshot(&self) -> Snapshot {
        let services = self
            .plan
            .graph
            .order()
            .iter()
            .filter(|&&id| !self.plan.is_removed(id))
            .map(|&id| self.status(id))
            .collect();
        Snapshot {
            phase: self.phase,
            began_at: self.began_at,
            services,
            summary: self.summary.clone(),
            watch_paused: self.watch_paused,
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
            port_how: slot.port_how.clone(),
            external: slot.external,
            ever_ready: slot.first_ready_at.is_some(),
            ready_attempt_spawned_at: slot.ready_attempt_spawned_at,
            first_ready_at: slot.first_ready_at,
            gated_by: slot.gated_by,
            // A service waiting to be started by hand is not one this run
            // brings up: it does not count against "ready".
            selected: self.selected[id.0] && !self.slots[id.0].manual,
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
            reason: slot.reason.clone(),
            last_check: slot.last_check.clone(),
            spawned_at: slot.spawned_at,
            ready_at: slot.ready_at,
            stopping: slot.stop.is_some() && slot.alive(),
            watching: spec.watch.is_some(),
        }
    }

    /// The optional dependencies a running service does without: those it
    /// started without, and those that have gone down since (skipped,
    /// failed, stopped, not ready).
    pub(super) fn degraded(&self, id: ServiceId) -> Vec<String> {
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
    pub(super) fn lost(&self, id: ServiceId) -> Vec<ServiceId> {
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
    pub(super) fn track_lost(&mut self) {
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
}
