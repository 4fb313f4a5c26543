//! An edited config: whether to read it, and what applying it does.
//!
//! The runtime reads and validates the file and compares it with the
//! running plan (`crate::config::diff`); the machine decides. A valid,
//! applicable edit replaces the plan; each changed service restarts (as
//! any restart that is not a failure: no backoff, not counted), in start
//! order, so what depends on another changed service comes back after it;
//! unchanged services keep their processes. An invalid edit, or one a
//! running stack cannot take, changes nothing and is said, with its
//! errors, to every front end; so is each later edit until one is good.

use super::*;
use crate::engine::machine::Reload;

impl Machine {
    /// The config changed on disk: read it, unless `[project] reload =
    /// false` or the stack is not running.
    pub(super) fn config_touched(&mut self) {
        if self.plan.project.reload && self.phase == Phase::Running {
            self.out.push(Effect::LoadConfig { ticket: None });
        }
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
            Reload::Applied { plan, diff } => {
                if plan.services.len() != self.slots.len() {
                    // The runtime's diff makes this impossible; stay safe.
                    let why = "services added or removed".to_string();
                    Some((
                        Notice::ReloadNotApplicable { why: why.clone() },
                        Refusal::ReloadNotApplicable { why },
                    ))
                } else {
                    self.apply(now, plan, &diff);
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

    fn apply(&mut self, now: Duration, plan: Arc<Plan>, diff: &crate::config::diff::PlanDiff) {
        self.spawn_order = plan.graph.order().to_vec();
        self.plan = plan;
        let changed: Vec<String> = diff
            .changed
            .iter()
            .map(|&id| self.name(id).to_string())
            .collect();
        self.publish(EventKind::Reloaded {
            changed,
            ui: diff.ui,
        });
        for &id in &diff.changed {
            self.restart_for(now, id, RestartWhy::ConfigChanged);
        }
    }
}
