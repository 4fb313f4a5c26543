//! Restarts that are not failures: a dependency a service follows
//! (`depends_on = { db = { kind = "required", restart = true } }`)
//! restarted and is ready again, or something outside the machine (a
//! watched file, a config edit) asks for one with [`Input::Restart`].
//!
//! A dependent follows its dependency when its current process was spawned
//! before the dependency's current one: it still holds connections to the
//! old process. The test is by spawn count, not by who restarted what, so
//! it holds whatever restarted the dependency (its restart policy, a user,
//! a watch, a reload), and a cascade cannot loop: a restarted dependent's
//! process is newer than its dependency's, and the graph has no cycles.
//! A chain restarts link by link in dependency order, each once: the next
//! link goes when the one before is ready again. In a diamond the second
//! dependency to be ready finds the dependent already restarted after it
//! (or waiting for it), so that is once too.
//!
//! These restarts do not count toward `max_restarts` and do not back off:
//! a service waiting out a backoff, or one that gave up, starts again at
//! once (the file that broke it may have just been fixed).

use super::*;

impl Machine {
    /// `id` became ready (or completed): restarts the running dependents
    /// that follow it and still talk to its previous process.
    pub(super) fn cascade(&mut self, now: Duration, id: ServiceId) {
        if self.phase != Phase::Running {
            return;
        }
        let seq = self.slots[id.0].spawn_seq;
        let followers: Vec<ServiceId> = self
            .plan
            .graph
            .dependents(id)
            .iter()
            .filter(|d| d.restart)
            .map(|d| d.on)
            .filter(|d| {
                let slot = &self.slots[d.0];
                slot.alive() && !slot.external && slot.spawn_seq < seq
            })
            .collect();
        let on = self.name(id).to_string();
        for follower in followers {
            let why = RestartWhy::DependencyRestarted { on: on.clone() };
            self.restart_for(now, follower, why);
        }
    }

    /// Restarts `id` for `why`, unless it is meant to stay down (stopped or
    /// skipped by the user, not selected), is on its way up anyway, or
    /// `why` is a changed file and watching is paused.
    pub(super) fn restart_for(&mut self, now: Duration, id: ServiceId, why: RestartWhy) {
        let slot = &self.slots[id.0];
        let paused = self.watch_paused && matches!(why, RestartWhy::FileChanged { .. });
        if paused
            || self.phase != Phase::Running
            || !self.selected[id.0]
            || slot.want != Want::Up
            || slot.external
        {
            return;
        }
        let reason = Reason::RestartingBecause { why };
        if slot.alive() {
            if slot.stop.is_some() {
                // Being stopped already; it comes back as that stop says.
                return;
            }
            // Said while it stops; once down it is "restarting" like any.
            let state = slot.state;
            self.set_state(now, id, state, reason);
            self.begin_stop(now, id, StopIntent::Restart);
            return;
        }
        let down = slot.restart_pending
            || slot.state == State::Completed
            || (slot.state == State::Failed && slot.blocked_by.is_none());
        if down {
            self.revive(now, id, reason);
        }
    }
}
