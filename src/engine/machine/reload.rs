//! An edited config: whether to read it, and what applying it does.
//!
//! The runtime reads and validates the file and merges it into the
//! running plan (`crate::config::diff`: services keep their numbers); the
//! machine decides. A valid, applicable edit replaces the plan, and then:
//!
//! - removed services stop for good, each once nothing started before the
//!   edit that depended on it still runs (a removed api stops before the
//!   removed db it used; a worker moved from db to db2 is restarted, and
//!   db stops after its old process);
//! - changed services restart (as any restart that is not a failure: no
//!   backoff, not counted), in start order, so what depends on another
//!   changed service comes back after it — but not while a removed service
//!   that depends on them is still stopping;
//! - added services start like any other, once what they depend on is up;
//! - unchanged services keep their processes.
//!
//! An invalid edit, or one a running stack cannot take, changes nothing
//! and is said, with its errors, to every front end; so is each later edit
//! until one is good.

use super::*;
use crate::config::diff::PlanDiff;
use crate::engine::machine::Reload;

/// A removed service on its way out.
#[derive(Debug, Clone)]
pub(super) struct Leaving {
    pub(super) id: ServiceId,
    /// What depended on it before the edit.
    pub(super) dependents: Vec<ServiceId>,
    /// The machine's spawn count at the edit: a dependent whose process
    /// is from before then still talks to the removed service.
    pub(super) edit: u64,
}

impl Machine {
    /// The config changed on disk: read it, unless `[project] reload =
    /// false` or the stack is not running.
    pub(super) fn config_touched(&mut self) {
        if self.plan.project.reload && self.phase == Phase::Running {
            self.out.push(Effect::LoadConfig { ticket: None });
        }
    }

    /// Whether an applied edit may be taken now: not once the stack is
    /// stopping (what it adds would wait for a start that never comes).
    /// The runtime asks before it takes the edited plan.
    pub fn takes_reload(&self) -> bool {
        matches!(self.phase, Phase::Running | Phase::Restarting)
    }

    /// Which services of `plan` (merged into the running one, see
    /// `config::diff::merge`) a run that selected `before` brings up:
    /// those it selected, and of the others, every one when it runs the
    /// whole stack (`bringup up`), else those the selected ones depend on
    /// (`bringup up api` brings up what api needs, also when that grows).
    pub fn selection_after(plan: &Plan, before: &[bool], whole_stack: bool) -> Vec<bool> {
        let was = |id: ServiceId| before.get(id.0).copied();
        let everything = whole_stack;
        let roots: Vec<ServiceId> = plan.ids().filter(|&id| was(id) == Some(true)).collect();
        let needed = plan.graph.closure(&roots);
        // (A removed service keeps its mark: it stops for good all the
        // same, and if it comes back it is as selected as it was.)
        plan.all_ids()
            .map(|id| was(id) == Some(true) || everything || needed[id.0])
            .collect()
    }

    /// Services of the config a run left out (`before`) that it now
    /// brings up (`after`, see [`Machine::selection_after`]) without the
    /// edit adding them: a selected service came to need them.
    pub fn joining(
        plan: &Plan,
        before: &[bool],
        after: &[bool],
        diff: &PlanDiff,
    ) -> Vec<ServiceId> {
        plan.ids()
            .filter(|&id| after[id.0] && before.get(id.0) == Some(&false))
            .filter(|id| !diff.added.contains(id))
            .collect()
    }

    pub(super) fn reload(&mut self, now: Duration, ticket: Option<Ticket>, outcome: Reload) {
        let refused = match outcome {
            Reload::Invalid { errors } => Some((
                Notice::ConfigInvalid {
                    errors: errors.clone(),
                },
                Refusal::ConfigInvalid { errors },
            )),
            Reload::NotApplicable { why } => Some((
                Notice::ReloadNotApplicable { why: why.clone() },
                Refusal::ReloadNotApplicable { why },
            )),
            Reload::Applied { .. } if !self.takes_reload() => {
                Some((Notice::ReloadWhileStopping, Refusal::ReloadWhileStopping))
            }
            Reload::Applied { plan, diff, ports } => {
                if plan.services.len() < self.slots.len() {
                    // A merged plan keeps every number: this cannot be one.
                    let why = "bringup's own error: the edited plan leaves out a running service; please report it".to_string();
                    Some((
                        Notice::ReloadNotApplicable { why: why.clone() },
                        Refusal::ReloadNotApplicable { why },
                    ))
                } else {
                    self.apply(now, plan, &diff, ports);
                    None
                }
            }
        };
        match (refused, ticket) {
            (Some((notice, _)), None) => self.publish(EventKind::Notice {
                service: None,
                name: None,
                notice,
            }),
            (Some((_, why)), Some(ticket)) => {
                self.answer(None, ticket, Outcome::Refused { why });
            }
            (None, Some(ticket)) => self.out.push(Effect::Reply {
                ticket,
                outcome: Outcome::Done,
            }),
            (None, None) => {}
        }
    }

    fn apply(&mut self, now: Duration, plan: Arc<Plan>, diff: &PlanDiff, ports: Vec<Input>) {
        let selected = Self::selection_after(&plan, &self.selected, self.whole_stack);
        // Who depended on each removed service until now: their running
        // processes were started against it.
        for &id in &diff.removed {
            let dependents = self
                .plan
                .graph
                .dependents(id)
                .iter()
                .map(|d| d.on)
                .collect();
            self.leaving.push(Leaving {
                id,
                dependents,
                edit: self.spawn_seq,
            });
        }
        while self.slots.len() < plan.services.len() {
            let mut slot = Slot::new();
            slot.since = now;
            slot.want = Want::Stopped;
            slot.state = State::Stopped;
            slot.reason = Reason::NotStarted;
            self.slots.push(slot);
        }
        // Services of the config this run left out that a selected one
        // now needs (`bringup up api`, api now depending on them) join it.
        let joining = Self::joining(&plan, &self.selected, &selected, diff);
        self.selected = selected;
        self.spawn_order = plan.graph.order().to_vec();
        self.plan = plan;
        let names = |ids: &[ServiceId]| -> Vec<String> {
            ids.iter().map(|&id| self.name(id).to_string()).collect()
        };
        self.publish(EventKind::Reloaded {
            changed: names(&diff.changed),
            ui: diff.ui,
            added: names(&diff.added),
            removed: names(&diff.removed),
        });
        for port in ports {
            match port {
                Input::PortAssigned { id, port, how } => self.port_assigned(id, port, how),
                Input::PortHeld { id, port } => self.port_held(id, port, None),
                _ => {}
            }
        }
        for &id in &diff.removed {
            self.remove(now, id);
        }
        for &id in diff.added.iter().chain(&joining) {
            self.add(now, id);
        }
        self.deferred_restarts.extend(diff.changed.iter().copied());
        self.advance_reload(now);
    }

    /// `id` is no longer in the config: it stops for good (once what
    /// depended on it is down: see [`Machine::advance_reload`]).
    fn remove(&mut self, now: Duration, id: ServiceId) {
        let slot = &mut self.slots[id.0];
        slot.want = Want::Stopped;
        slot.restart_pending = false;
        slot.manual = false;
        if slot.external {
            // An adopted process is not bringup's to stop: it is let go
            // (no more checks, its port no longer the stack's).
            slot.external = false;
            slot.port = None;
            slot.port_how = None;
            self.out.push(Effect::StopProbes { id });
            self.out.push(Effect::Disown { id });
        }
        if !slot.alive() {
            self.set_state(now, id, State::Stopped, Reason::Removed { exit: None });
        }
    }

    /// `id` is new to the config (or back in it): it starts like any
    /// service of a bring-up, when selected and not started by hand only.
    fn add(&mut self, now: Duration, id: ServiceId) {
        let manual = !self.plan.service(id).autostart;
        let selected = self.selected[id.0];
        let slot = &mut self.slots[id.0];
        slot.manual = manual;
        slot.restarts = 0;
        slot.restart_pending = false;
        if !selected || manual {
            slot.want = Want::Stopped;
            if !slot.alive() {
                let reason = if selected {
                    Reason::AwaitingStart
                } else {
                    Reason::NotSelected
                };
                self.set_state(now, id, State::Stopped, reason);
            }
            return;
        }
        slot.want = Want::Up;
        if slot.alive() {
            if slot.stop.is_some() {
                // Removed a moment ago and stopping: back once it is down.
                slot.stop = Some(StopIntent::Restart);
            } else {
                // Removed a moment ago and still waiting for what used it
                // to stop: it stays, and restarts on the config it came
                // back with (which may not be what its process runs).
                self.leaving.retain(|l| l.id != id);
                self.deferred_restarts.push(id);
            }
            return;
        }
        self.make_pending(now, id, Reason::WaitingToStart);
    }

    /// The port of `id`'s process, while it has one (for the runtime,
    /// which hands the port of a service removed or re-added while its
    /// process still holds it out only once it is free).
    pub fn live_port(&self, id: ServiceId) -> Option<u16> {
        let slot = self.slots.get(id.0)?;
        if slot.alive() { slot.port } else { None }
    }

    /// Why `id` may not start yet: the port it wants is still held by the
    /// process of a service removed from the config (renamed, say), which
    /// is stopping. It starts once that process is gone.
    pub(super) fn port_of_removed(&self, id: ServiceId) -> Option<WaitReason> {
        let port = self.plan.service(id).port.as_ref()?.preferred?;
        let by = self
            .plan
            .all_ids()
            .find(|&other| self.plan.is_removed(other) && self.live_port(other) == Some(port))?;
        Some(WaitReason::PortOfRemoved {
            port,
            by: self.name(by).to_string(),
        })
    }

    /// Carries an applied edit on: each removed service still running
    /// stops once no process started before the edit that depended on it
    /// runs (those still talk to it; a dependent restarted since does
    /// not); each changed service restarts once no removed service that
    /// depends on it still runs.
    pub(super) fn advance_reload(&mut self, now: Duration) {
        if self.phase != Phase::Running {
            self.deferred_restarts.clear();
            self.leaving.clear();
            return;
        }
        if self.deferred_restarts.is_empty() && self.leaving.is_empty() {
            return;
        }
        let (slots, selected, plan) = (&self.slots, &self.selected, &self.plan);
        // A dependent is waited for when it is leaving too, or the machine
        // will restart it (one adopted, or run by hand outside the
        // selection, it will not).
        let from_before = |d: ServiceId, edit: u64| {
            let slot = &slots[d.0];
            slot.alive()
                && slot.spawn_seq <= edit
                && (plan.is_removed(d)
                    || (!slot.external && slot.want == Want::Up && selected[d.0]))
        };
        let due: Vec<ServiceId> = self
            .leaving
            .iter()
            .filter(|l| slots[l.id.0].alive() && slots[l.id.0].stop.is_none())
            .filter(|l| !l.dependents.iter().any(|&d| from_before(d, l.edit)))
            .map(|l| l.id)
            .collect();
        for id in due {
            self.begin_stop(now, id, StopIntent::Remove);
        }
        self.leaving.retain(|l| self.slots[l.id.0].alive());
        let waiting = std::mem::take(&mut self.deferred_restarts);
        for id in waiting {
            let held = self
                .plan
                .graph
                .dependents(id)
                .iter()
                .any(|d| self.plan.is_removed(d.on) && self.slots[d.on.0].alive());
            if held {
                self.deferred_restarts.push(id);
            } else {
                self.restart_for(now, id, RestartWhy::ConfigChanged);
            }
        }
    }
}
