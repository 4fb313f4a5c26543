//! What an edit of the config changed, and the plan a running stack
//! takes from it.
//!
//! Services are matched by name, and keep their numbers ([`ServiceId`]):
//! every front end, log and in-flight answer holds services by number, so
//! [`merge`] renumbers the edited plan into the running one's numbers.
//! A service the edit adds gets the next free number (or its old one, if
//! it was removed earlier in the run); one it removes keeps its number and
//! its old settings, marked removed ([`Plan::removed`]), so that it can be
//! stopped, dependents first, and never started again.
//!
//! A service counts as changed when anything the engine reads of it
//! differs (command, env after interpolation and env files, cwd, probes,
//! port, restart policy, stop settings, watch globs), its dependencies do,
//! or the port of a service its texts name changed. The specs hold compiled
//! regexes and glob sets, which have no equality; their `Debug` text shows
//! every field, built the same way from the same text, so it is compared
//! instead.
//!
//! What a running stack cannot take without starting over is said as such
//! ([`PlanDiff::not_applicable`]): the project's name (the stack's
//! identity, its socket and its entry among running stacks go by it), its
//! port range or its log size. Such an edit changes nothing, like an
//! invalid one.

use std::collections::BTreeSet;

use crate::config::plan::{Dependency, Plan, ServiceId};
use crate::graph::Graph;

/// What changed between the running plan and an edited one, in the
/// numbers of the merged plan.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct PlanDiff {
    /// Services whose settings changed, in start order of the new plan.
    pub changed: Vec<ServiceId>,
    /// Services the edit added (or brought back), in start order.
    pub added: Vec<ServiceId>,
    /// Services the edit removed.
    pub removed: Vec<ServiceId>,
    /// Changed services whose port setting changed: their port is
    /// allocated again.
    pub ports: Vec<ServiceId>,
    /// `[ui]` changed.
    pub ui: bool,
    /// Why the edit cannot be applied while the stack runs, if it cannot.
    pub not_applicable: Option<String>,
}

impl PlanDiff {
    pub fn is_empty(&self) -> bool {
        self.changed.is_empty()
            && self.added.is_empty()
            && self.removed.is_empty()
            && !self.ui
            && self.not_applicable.is_none()
    }
}

/// The edited plan in the running plan's numbers, and what changed.
#[derive(Debug)]
pub struct Merged {
    pub plan: Plan,
    pub diff: PlanDiff,
}

/// What changed from `old` to `new` (see [`merge`]).
pub fn diff(old: &Plan, new: Plan) -> PlanDiff {
    merge(old, new).diff
}

/// `edited` renumbered into `running`'s numbers (see the module's docs),
/// and what changed.
pub fn merge(running: &Plan, mut edited: Plan) -> Merged {
    let ui = running.ui != edited.ui;
    let refuse = |plan: Plan, why: String| Merged {
        plan,
        diff: PlanDiff {
            ui,
            not_applicable: Some(why),
            ..PlanDiff::default()
        },
    };
    let (p, q) = (&running.project, &edited.project);
    if p.name != q.name || p.port_range != q.port_range || p.log_lines != q.log_lines {
        let what = if p.name != q.name {
            "the project's name changed"
        } else if p.port_range != q.port_range {
            "the project's port_range changed"
        } else {
            "the project's log_lines changed"
        };
        return refuse(edited, what.to_string());
    }

    // Each edited service's number in the merged plan.
    let known = running.services.len();
    let mut next = known;
    let numbers: Vec<ServiceId> = edited
        .services
        .iter()
        .map(|spec| {
            running
                .all_ids()
                .find(|&id| running.service(id).name == spec.name)
                .unwrap_or_else(|| {
                    next += 1;
                    ServiceId(next - 1)
                })
        })
        .collect();
    let number = |id: ServiceId| numbers[id.0];

    let mut slots: Vec<Option<(crate::config::plan::ServiceSpec, Vec<Dependency>)>> =
        (0..next).map(|_| None).collect();
    let edges = |graph: &Graph, id: ServiceId, map: &dyn Fn(ServiceId) -> ServiceId| {
        graph
            .dependencies(id)
            .iter()
            .map(|d| Dependency {
                on: map(d.on),
                ..*d
            })
            .collect::<Vec<_>>()
    };
    for (index, mut spec) in std::mem::take(&mut edited.services).into_iter().enumerate() {
        spec.renumber(&number);
        let deps = edges(&edited.graph, ServiceId(index), &number);
        slots[number(ServiceId(index)).0] = Some((spec, deps));
    }
    let mut removed = vec![false; next];
    for id in running.all_ids() {
        if slots[id.0].is_none() {
            // Gone from the file: kept, stopped, with what it depended on
            // (so that it stops before those).
            removed[id.0] = true;
            let deps = edges(&running.graph, id, &|d| d);
            slots[id.0] = Some((running.service(id).clone(), deps));
        }
    }
    let (services, dependencies): (Vec<_>, Vec<_>) = slots.into_iter().flatten().unzip();
    let names: Vec<String> = services
        .iter()
        .map(|s: &crate::config::plan::ServiceSpec| s.name.clone())
        .collect();
    let graph = match Graph::new(&names, dependencies) {
        Ok(graph) => graph,
        // Removed services depend only on what was there before, and
        // nothing depends on them: the merged graph has no cycle. Stay
        // safe all the same.
        Err(cycles) => {
            let why = cycles.iter().map(ToString::to_string).collect::<Vec<_>>();
            return refuse(edited, why.join("; "));
        }
    };
    let plan = Plan {
        project: edited.project,
        services,
        graph,
        source: running.source.clone(),
        warnings: edited.warnings,
        ui: edited.ui,
        removed,
    };

    let live_before = |id: ServiceId| id.0 < known && !running.is_removed(id);
    let ports: BTreeSet<ServiceId> = plan
        .ids()
        .filter(|&id| live_before(id) && running.service(id).port != plan.service(id).port)
        .collect();
    let order = plan.graph.order();
    let in_order = |keep: &dyn Fn(ServiceId) -> bool| -> Vec<ServiceId> {
        order.iter().copied().filter(|&id| keep(id)).collect()
    };
    let diff = PlanDiff {
        changed: in_order(&|id| {
            live_before(id)
                && !plan.is_removed(id)
                && (fingerprint(running, id) != fingerprint(&plan, id)
                    || plan
                        .service(id)
                        .names_services()
                        .any(|on| ports.contains(&on)))
        }),
        added: in_order(&|id| !plan.is_removed(id) && !live_before(id)),
        removed: in_order(&|id| plan.is_removed(id) && live_before(id)),
        ports: ports.into_iter().collect(),
        ui,
        not_applicable: None,
    };
    Merged { plan, diff }
}

/// Everything the engine reads of one service, as text.
fn fingerprint(plan: &Plan, id: ServiceId) -> String {
    let deps: Vec<(String, &str, bool)> = plan
        .graph
        .dependencies(id)
        .iter()
        .map(|d| (plan.service(d.on).name.clone(), d.kind.as_str(), d.restart))
        .collect();
    format!("{:?}{deps:?}", plan.service(id))
}

#[cfg(test)]
mod tests {
    use std::path::Path;

    use super::*;
    use crate::config::validate::Context;

    fn plan(text: &str) -> Plan {
        let cx = Context::without_env(Path::new("t.toml"), Path::new("/"), "bringup");
        crate::config::load_with(text, &cx).expect("valid")
    }

    const BASE: &str = r#"
[services.db]
command = "db"
[services.api]
command = "api"
depends_on = ["db"]
[services.web]
command = "web"
env = { A = "1" }
"#;

    fn changed(old: &str, new: &str) -> Vec<String> {
        let merged = merge(&plan(old), plan(new));
        assert_eq!(merged.diff.not_applicable, None);
        names(&merged.plan, &merged.diff.changed)
    }

    fn names(plan: &Plan, ids: &[ServiceId]) -> Vec<String> {
        ids.iter()
            .map(|&id| plan.service(id).name.clone())
            .collect()
    }

    #[test]
    fn the_same_file_changes_nothing() {
        let diff = diff(&plan(BASE), plan(BASE));
        assert!(diff.is_empty(), "{diff:?}");
    }

    #[test]
    fn a_changed_command_env_or_dependency_is_a_change_of_that_service_only() {
        assert_eq!(changed(BASE, &BASE.replace("\"api\"", "\"api2\"")), ["api"]);
        assert_eq!(
            changed(BASE, &BASE.replace("A = \"1\"", "A = \"2\"")),
            ["web"]
        );
        let follows = BASE.replace(
            "depends_on = [\"db\"]",
            "depends_on = { db = { restart = true } }",
        );
        assert_eq!(changed(BASE, &follows), ["api"]);
    }

    #[test]
    fn added_services_get_new_numbers_and_the_others_keep_theirs() {
        // cache is declared first: it still comes after the running ones.
        let edited = format!(
            "[services.cache]\ncommand = \"c\"\n{}",
            BASE.replace("depends_on = [\"db\"]", "depends_on = [\"db\", \"cache\"]")
        );
        let running = plan(BASE);
        let merged = merge(&running, plan(&edited));
        let (plan, diff) = (&merged.plan, &merged.diff);
        for id in running.ids() {
            assert_eq!(plan.service(id).name, running.service(id).name);
        }
        assert_eq!(plan.find("cache"), Some(ServiceId(3)));
        assert_eq!(names(plan, &diff.added), ["cache"]);
        assert_eq!(
            names(plan, &diff.changed),
            ["api"],
            "its dependencies changed"
        );
        let deps: Vec<ServiceId> = plan
            .graph
            .dependencies(ServiceId(1))
            .iter()
            .map(|d| d.on)
            .collect();
        assert_eq!(deps, [ServiceId(0), ServiceId(3)]);
    }

    #[test]
    fn removed_services_keep_their_number_and_what_they_depended_on() {
        let edited = BASE.replace(
            "[services.api]\ncommand = \"api\"\ndepends_on = [\"db\"]\n",
            "",
        );
        let merged = merge(&plan(BASE), plan(&edited));
        let (plan, diff) = (&merged.plan, &merged.diff);
        assert_eq!(names(plan, &diff.removed), ["api"]);
        assert!(diff.changed.is_empty() && diff.added.is_empty(), "{diff:?}");
        let api = ServiceId(1);
        assert!(plan.is_removed(api));
        assert_eq!(
            plan.find("api"),
            None,
            "a removed service is not found by name"
        );
        assert_eq!(plan.ids().count(), 2);
        assert_eq!(plan.graph.dependencies(api)[0].on, ServiceId(0));
        // Brought back: its old number again, as an added service.
        let back = merge(plan, self::plan(BASE));
        assert_eq!(back.plan.find("api"), Some(api));
        assert_eq!(names(&back.plan, &back.diff.added), ["api"]);
        assert_eq!(back.plan.services.len(), 3);
    }

    #[test]
    fn a_port_change_restarts_the_service_and_whoever_names_its_port() {
        let base = BASE
            .replace("command = \"db\"", "command = \"db\"\nport = 5432")
            .replace("command = \"web\"", "command = \"web ${services.db.port}\"");
        let moved = base.replace("port = 5432", "port = 5433");
        let merged = merge(&plan(&base), plan(&moved));
        assert_eq!(names(&merged.plan, &merged.diff.ports), ["db"]);
        assert_eq!(names(&merged.plan, &merged.diff.changed), ["db", "web"]);
    }

    #[test]
    fn the_projects_identity_range_and_log_size_cannot_be_applied() {
        let renamed = format!("[project]\nname = \"other\"\n{BASE}");
        let diff = diff(&plan(BASE), plan(&renamed));
        assert_eq!(
            diff.not_applicable.as_deref(),
            Some("the project's name changed")
        );
    }

    #[test]
    fn ui_changes_are_said() {
        let themed = format!("{BASE}[ui]\ntheme = \"light\"\n");
        let diff = diff(&plan(BASE), plan(&themed));
        assert!(diff.ui && diff.changed.is_empty() && diff.not_applicable.is_none());
    }
}
