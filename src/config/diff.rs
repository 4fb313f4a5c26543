//! What an edit of the config changed: which services restart, and
//! whether the edit can be applied to a running stack at all.
//!
//! Services are matched by name. One counts as changed when anything the
//! engine reads of it differs (command, env after interpolation and env
//! files, cwd, probes, restart policy, stop settings, watch globs) or its
//! dependencies do. The specs hold compiled regexes and glob sets, which
//! have no equality; their `Debug` text shows every field, built the same
//! way from the same text, so it is compared instead.
//!
//! What a running stack cannot take without starting over is said as
//! such ([`PlanDiff::not_applicable`]): services added, removed or
//! reordered (their ids are indices every front end holds), a port
//! setting (ports are allocated once, for the whole run), the project's
//! name, port range or log size. Such an edit changes nothing, like an
//! invalid one.

use crate::config::plan::{Plan, ServiceId};

/// What changed between the running plan and an edited one.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PlanDiff {
    /// Services whose settings changed (same ids in both plans), in start
    /// order of the new plan.
    pub changed: Vec<ServiceId>,
    /// `[ui]` changed.
    pub ui: bool,
    /// Why the edit cannot be applied while the stack runs, if it cannot.
    pub not_applicable: Option<String>,
}

impl PlanDiff {
    pub fn is_empty(&self) -> bool {
        self.changed.is_empty() && !self.ui && self.not_applicable.is_none()
    }
}

/// What changed from `old` to `new`.
pub fn diff(old: &Plan, new: &Plan) -> PlanDiff {
    let names =
        |plan: &Plan| -> Vec<String> { plan.services.iter().map(|s| s.name.clone()).collect() };
    let ui = old.ui != new.ui;
    let not_applicable = |why: String| PlanDiff {
        changed: Vec::new(),
        ui,
        not_applicable: Some(why),
    };
    let (old_names, new_names) = (names(old), names(new));
    if old_names != new_names {
        let added: Vec<&String> = new_names
            .iter()
            .filter(|n| !old_names.contains(n))
            .collect();
        let removed: Vec<&String> = old_names
            .iter()
            .filter(|n| !new_names.contains(n))
            .collect();
        let list = |names: &[&String]| {
            names
                .iter()
                .map(|n| n.as_str())
                .collect::<Vec<_>>()
                .join(", ")
        };
        let what = match (added.is_empty(), removed.is_empty()) {
            (false, false) => format!(
                "services added ({}) and removed ({})",
                list(&added),
                list(&removed)
            ),
            (false, true) => format!("services added ({})", list(&added)),
            (true, false) => format!("services removed ({})", list(&removed)),
            (true, true) => "services reordered".to_string(),
        };
        return not_applicable(what);
    }
    let (p, q) = (&old.project, &new.project);
    if p.name != q.name || p.port_range != q.port_range || p.log_lines != q.log_lines {
        return not_applicable("the project's name, port_range or log_lines changed".into());
    }
    for id in old.ids() {
        if old.service(id).port != new.service(id).port {
            return not_applicable(format!("the port of {} changed", old.service(id).name));
        }
    }
    let changed = new
        .graph
        .order()
        .iter()
        .copied()
        .filter(|&id| fingerprint(old, id) != fingerprint(new, id))
        .collect();
    PlanDiff {
        changed,
        ui,
        not_applicable: None,
    }
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
        let (old, new) = (plan(old), plan(new));
        let diff = diff(&old, &new);
        assert_eq!(diff.not_applicable, None);
        diff.changed
            .iter()
            .map(|&id| new.service(id).name.clone())
            .collect()
    }

    #[test]
    fn the_same_file_changes_nothing() {
        let diff = diff(&plan(BASE), &plan(BASE));
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
    fn added_removed_or_reported_ports_cannot_be_applied() {
        let added = format!("{BASE}[services.cache]\ncommand = \"c\"\n");
        let diff = diff(&plan(BASE), &plan(&added));
        assert_eq!(
            diff.not_applicable.as_deref(),
            Some("services added (cache)")
        );
        let port = BASE.replace("command = \"db\"", "command = \"db\"\nport = 5432");
        let diff = super::diff(&plan(BASE), &plan(&port));
        assert_eq!(
            diff.not_applicable.as_deref(),
            Some("the port of db changed")
        );
    }

    #[test]
    fn ui_changes_are_said() {
        let themed = format!("{BASE}[ui]\ntheme = \"light\"\n");
        let diff = diff(&plan(BASE), &plan(&themed));
        assert!(diff.ui && diff.changed.is_empty() && diff.not_applicable.is_none());
    }
}
