//! Reading the config again, off the loop, and taking the new plan: the
//! runtime merges it into the running one (`crate::config::diff`: every
//! service keeps its number) and tells the machine, which decides what
//! stops, restarts and starts. An applied plan is the runtime's from the
//! moment the machine hears of it, so the restarts it asks for spawn the
//! new commands; before that, the runtime makes room for added services
//! (their records, logs and ports) and tells the front ends what the stack
//! is now.

use super::*;
use crate::config::diff::PlanDiff;
use crate::engine::machine::Reload;

impl Runtime {
    /// Reads and validates the config file, and answers with
    /// [`Input::Reload`].
    pub(super) fn load_config(&self, ticket: Option<Ticket>) {
        let running = self.plan.clone();
        let inputs = self.inputs.clone();
        tokio::spawn(async move {
            let source = running.source.clone();
            let loaded =
                tokio::task::spawn_blocking(move || crate::config::load_file(&source)).await;
            let outcome = match loaded {
                Ok(Ok(plan)) => {
                    let merged = crate::config::diff::merge(&running, plan);
                    match merged.diff.not_applicable {
                        Some(why) => Reload::NotApplicable { why },
                        None => Reload::Applied {
                            plan: Arc::new(merged.plan),
                            diff: merged.diff,
                            ports: Vec::new(),
                        },
                    }
                }
                Ok(Err(e)) => Reload::Invalid {
                    errors: e.to_string(),
                },
                Err(e) => Reload::Invalid {
                    errors: e.to_string(),
                },
            };
            let _ = inputs.send(Input::Reload { ticket, outcome }).await;
        });
    }

    /// An applied reload becomes the runtime's plan before the machine
    /// hears of it; the machine gets the ports handed out for it with it.
    /// One the machine will not take (the stack is stopping) is left to
    /// it to refuse.
    pub(super) fn take_plan(&mut self, input: Input) -> Input {
        if !self.machine.takes_reload() {
            return input;
        }
        let Input::Reload {
            ticket,
            outcome: Reload::Applied { plan, diff, .. },
        } = input
        else {
            return input;
        };
        let ports = self.use_plan(plan.clone(), &diff);
        Input::Reload {
            ticket,
            outcome: Reload::Applied { plan, diff, ports },
        }
    }

    /// `plan` replaces the running one: room for added services, ports for
    /// them and for changed ports (as [`Input`]s for the machine), removed
    /// services' ports given back, the new stack told to the front ends,
    /// and the services' files watched anew.
    fn use_plan(&mut self, plan: Arc<Plan>, diff: &PlanDiff) -> Vec<Input> {
        let count = plan.services.len();
        let selected = Machine::selection_after(&plan, &self.selected, self.whole_stack);
        // Services this run left out that a selected one now needs join it
        // (the machine decides the same): they need ports like added ones.
        let joining = Machine::joining(&plan, &self.selected, &selected, diff);
        self.selected = selected;
        self.services.resize_with(count, ServiceRuntime::default);
        self.expected.resize(count, None);
        self.logs.grow(count);
        self.ports.grow(count);
        self.plan = plan.clone();
        // The front ends learn the new stack first: what is said of an
        // added service next (a conflict over its port) names it.
        if !diff.added.is_empty() || !diff.removed.is_empty() {
            let info = crate::engine::info::stack_info(&plan);
            self.info.send_replace(Arc::new(info.clone()));
            self.publish(
                self.epoch.elapsed(),
                EventKind::StackChanged {
                    info: Box::new(info),
                },
            );
        }
        // Ports our own processes still hold on their way out (removed
        // services, those brought back before they stopped, and those
        // restarting because their port setting changed): a service that
        // wants one gets it right before it spawns, which the machine
        // holds back until that process is gone.
        let leaving: Vec<u16> = plan
            .all_ids()
            .filter(|&id| {
                plan.is_removed(id) || diff.added.contains(&id) || diff.ports.contains(&id)
            })
            .filter_map(|id| self.machine.live_port(id))
            .collect();
        for &id in &diff.removed {
            self.ports.release(id);
        }
        let mut inputs = VecDeque::new();
        for &id in diff.added.iter().chain(&joining).chain(&diff.ports) {
            if diff.ports.contains(&id) {
                self.ports.release(id);
            }
            let wanted = plan.service(id).port.as_ref().and_then(|p| p.preferred);
            if wanted.is_some_and(|port| leaving.contains(&port)) {
                self.ports.defer(id);
                continue;
            }
            if self.selected[id.0]
                && let Some(start) = self.ports.allocate_one(&plan, id)
            {
                self.port_start(start, &mut inputs);
            }
        }
        self.watching = None;
        self.watching = self.watch_files();
        inputs.into()
    }
}
