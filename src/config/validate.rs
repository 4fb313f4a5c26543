//! From raw tables to a [`Plan`]: defaults filled in, every name resolved,
//! every duration parsed, and every problem recorded with its place.
//!
//! Validation never stops early. A service with a bad key is still checked
//! for everything else, and the dependency graph is still built from the
//! edges that do resolve, so cycles show up in the same report as typos
//! (a service with problems of its own adds its edges once they are fixed).
//!
//! This module only orders the steps; each part of the file is checked by
//! the module that owns its idea:
//!
//! | part | module |
//! |---|---|
//! | service names | `names` |
//! | `env`, `env_file` | `env` |
//! | `[project]` | `project`, `defaults` (the keys services inherit) |
//! | `[services.NAME]` | `service`, with `ports` and `probe` |
//! | `depends_on`, cycles | `deps` |
//! | `[ui]` | `ui` |
//!
//! Checks that need every service (ports two services insist on, tasks
//! waited for that never stay complete, cycles) run after all services.
//! The order of the steps does not decide the order of the messages: the
//! collector sorts them by place when it finishes.

use crate::config::defaults::Defaults;
use crate::config::error::Collector;
use crate::config::interpolate::Scope;
use crate::config::load::RawDocument;
use crate::config::plan::{Dependency, Kind, Plan, ServiceId};
use crate::config::raw::RawKind;
use crate::config::service::Shared;
use crate::config::{deps, env, names, ports, project, service, ui};

pub use crate::config::context::Context;

pub(crate) fn validate(
    doc: RawDocument,
    cx: &Context<'_>,
    errors: &mut Collector<'_>,
) -> Option<Plan> {
    let names: Vec<String> = doc
        .services
        .iter()
        .map(|s| s.name.get_ref().clone())
        .collect();
    let has_port: Vec<bool> = doc.services.iter().map(|s| s.raw.port.is_some()).collect();
    let hosts: Vec<String> = doc
        .services
        .iter()
        .map(|s| ports::reach_address(&s.raw))
        .collect();
    let kinds: Vec<Kind> = doc
        .services
        .iter()
        .map(|s| match s.raw.kind {
            Some(RawKind::Task) => Kind::Task,
            _ => Kind::Service,
        })
        .collect();

    if doc.services.is_empty() {
        errors.push(
            None,
            "services",
            "no services are defined",
            Some("add a table such as [services.api] with a `command`".into()),
        );
    }
    names::check(&doc.services, errors);

    let template_names = env::Names {
        services: &names,
        has_port: &has_port,
        hosts: &hosts,
    };
    let project_env = env::project(&doc.project, cx, &template_names, errors);
    // Services see the project env through `${env.VAR}` too.
    let project_values = env::values(&project_env);
    let service_lookup = |var: &str| project_values.get(var).cloned().or_else(|| (cx.env)(var));
    let defaults = Defaults::project(&doc.project, errors);
    let shared = Shared {
        project_env: &project_env,
        defaults: &defaults,
        cx,
        project: &doc.project,
    };

    let mut services = Vec::new();
    let mut edges: Vec<Vec<Dependency>> = Vec::new();
    for (index, entry) in doc.services.iter().enumerate() {
        let scope = Scope {
            services: &names,
            has_port: &has_port,
            hosts: &hosts,
            own: Some(ServiceId(index)),
            env: &service_lookup,
            bringup: cx.bringup,
        };
        let spec = service::service(entry, kinds[index], &shared, &scope, errors);
        let mut own = deps::edges(entry, &names, &kinds, errors);
        // The graph is built from the services that validated: a service
        // that did not will not run, and its problems are reported already.
        if spec.is_none() {
            own.clear();
        }
        services.push(spec);
        edges.push(own);
    }
    ports::check_contested(&doc.services, &services, errors);
    deps::check_completed_tasks(&doc.services, &services, &edges, errors);
    let graph = deps::graph(&doc.services, &names, edges, errors);

    let project = project::project(&doc.project, cx.base_dir, errors);
    let ui = ui::ui(&doc.ui, errors);

    if !errors.is_empty() {
        return None;
    }
    let services = services.into_iter().collect::<Option<Vec<_>>>()?;
    Some(Plan {
        project,
        removed: vec![false; services.len()],
        services,
        graph: graph?,
        source: cx.file.to_path_buf(),
        warnings: Vec::new(),
        ui,
    })
}
