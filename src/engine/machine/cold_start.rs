//! The cold start's end: when everything has gone as far as it will by
//! itself, the summary (time to ready, critical path) is published.

use super::*;

impl Machine {
    /// Publishes the cold-start summary once everything has gone as far as
    /// it will on its own; and again if a service that had not made it then
    /// becomes ready later and so completes the picture.
    pub(super) fn check_cold_start(&mut self, _now: Duration) {
        if self.phase != Phase::Running {
            return;
        }
        if self.cold_start_done {
            let incomplete = self.summary.as_ref().is_some_and(|s| !s.all_required_ready);
            if incomplete && self.compute_summary().all_required_ready {
                self.publish_summary();
            }
            return;
        }
        if (0..self.slots.len()).all(|i| self.settled(ServiceId(i), 0)) {
            self.cold_start_done = true;
            self.publish_summary();
        }
    }

    pub(super) fn publish_summary(&mut self) {
        let summary = self.compute_summary();
        self.summary = Some(summary.clone());
        self.out.push(Effect::SaveHistory(summary.clone()));
        self.publish(EventKind::ColdStart(summary));
    }

    /// The summary of the current bring-up, as far as it got.
    pub(super) fn compute_summary(&self) -> Summary {
        let records: Vec<summary::Record> = self
            .plan
            .graph
            .order()
            .iter()
            // A service removed from the config is no longer the stack's:
            // it does not count, however far it got.
            .filter(|&&id| {
                self.selected[id.0] && !self.slots[id.0].manual && !self.plan.is_removed(id)
            })
            .map(|&id| {
                let slot = &self.slots[id.0];
                summary::Record {
                    id,
                    name: self.name(id).to_string(),
                    optional: self.plan.service(id).optional,
                    state: slot.state,
                    spawned_at: slot
                        .ready_attempt_spawned_at
                        .map(|t| t.saturating_sub(self.began_at)),
                    ready_at: slot.first_ready_at.map(|t| t.saturating_sub(self.began_at)),
                    gated_by: slot.gated_by,
                }
            })
            .collect();
        summary::summarize(&records)
    }

    /// Whether a service has gone as far as it will go on its own.
    pub(super) fn settled(&self, id: ServiceId, depth: usize) -> bool {
        let slot = &self.slots[id.0];
        match slot.state {
            State::Ready | State::Completed | State::Skipped | State::Stopped | State::NotReady => {
                true
            }
            State::Failed => true,
            State::Starting => false,
            State::Pending => {
                if slot.restart_pending || slot.alive() || depth > self.slots.len() {
                    return false;
                }
                // Waiting on something that is stuck (not ready, or itself
                // waiting on something stuck) will not resolve by itself.
                match &slot.waiting {
                    Some(WaitReason::Dependency { on, .. }) => {
                        self.plan.find(on).is_some_and(|dep| {
                            let d = &self.slots[dep.0];
                            d.state != State::Starting
                                && !d.state.is_ready()
                                && self.settled(dep, depth + 1)
                        })
                    }
                    _ => false,
                }
            }
        }
    }
}
