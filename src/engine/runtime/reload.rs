//! Reading the config again, off the loop, and taking the new plan: the
//! runtime compares it with the running one (`crate::config::diff`) and
//! tells the machine, which decides what restarts; an applied plan is
//! the runtime's from the moment the machine hears of it, so the restarts
//! it asks for spawn the new commands.

use super::*;
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
                    let diff = crate::config::diff::diff(&running, &plan);
                    match diff.not_applicable {
                        Some(why) => Reload::NotApplicable { why },
                        None => Reload::Applied {
                            plan: Arc::new(plan),
                            diff,
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

    /// `plan` replaces the running one (same services, same ports).
    pub(super) fn use_plan(&mut self, plan: Arc<Plan>) {
        self.plan = plan;
        self.watching = None;
        self.watching = self.watch_files();
    }
}
