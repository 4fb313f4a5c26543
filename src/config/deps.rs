//! `depends_on`: each service's edges, checked, and the graph they make.
//!
//! An edge names a service that exists (a typo gets the nearest name) and
//! waits in a way that can end: `completed` only on a task, and never on a
//! task whose `restart = "always"` runs it again every time it completes.
//! A name listed twice counts once. The edges that resolve are still
//! built into a [`Graph`], so cycles are reported in the same run as typos,
//! each with its whole path at the first `depends_on` entry of the service
//! it starts from.

use std::ops::Range;

use toml::Spanned;

use crate::config::error::{Collector, nearest};
use crate::config::load::RawServiceEntry;
use crate::config::names::shown;
use crate::config::plan::{DepKind, Dependency, Kind, RestartPolicy, ServiceId, ServiceSpec};
use crate::config::raw::{DependsOn, RawDepKind};
use crate::graph::{Graph, GraphError};

/// The edges of one service, in the order written. `names` and `kinds` are
/// every service's, in declaration order.
pub(crate) fn edges(
    entry: &RawServiceEntry,
    names: &[String],
    kinds: &[Kind],
    errors: &mut Collector<'_>,
) -> Vec<Dependency> {
    let path = format!("services.{}", shown(entry.name.get_ref()));
    let entries: Vec<(&Spanned<String>, DepKind, bool)> = match entry.raw.depends_on.as_ref() {
        None => Vec::new(),
        Some(DependsOn::List(list)) => list
            .iter()
            .map(|name| (name, DepKind::Required, false))
            .collect(),
        Some(DependsOn::Table(table)) => table
            .iter()
            .map(|(name, dep)| {
                let kind = match dep.get_ref().kind {
                    RawDepKind::Required => DepKind::Required,
                    RawDepKind::Optional => DepKind::Optional,
                    RawDepKind::Soft => DepKind::Soft,
                    RawDepKind::Completed => DepKind::Completed,
                };
                (name, kind, dep.get_ref().restart)
            })
            .collect(),
    };
    let mut out = Vec::new();
    for (name, kind, restart) in entries {
        let Some(index) = names.iter().position(|n| n == name.get_ref()) else {
            errors.push(
                Some(name.span()),
                format!("{path}.depends_on"),
                format!("unknown service `{}`", shown(name.get_ref())),
                nearest(name.get_ref(), names.iter().map(String::as_str))
                    .map(|n| format!("did you mean `{n}`?"))
                    .or_else(|| {
                        let known: Vec<String> = names.iter().map(|n| shown(n)).collect();
                        Some(format!("known services: {}", known.join(", ")))
                    }),
            );
            continue;
        };
        if kind == DepKind::Completed && kinds[index] != Kind::Task {
            errors.push(
                Some(name.span()),
                format!("{path}.depends_on"),
                format!(
                    "`completed` waits for a task to exit 0, but `{}` is a long-running service",
                    name.get_ref()
                ),
                Some(format!(
                    "use `required`, or mark `{}` as `kind = \"task\"`",
                    name.get_ref()
                )),
            );
            continue;
        }
        if out.iter().any(|d: &Dependency| d.on.0 == index) {
            continue;
        }
        out.push(Dependency {
            on: ServiceId(index),
            kind,
            restart,
        });
    }
    out
}

/// Tasks that never complete for good although something waits for them
/// to: `completed` on a task with `restart = "always"`. Needs every
/// service's restart policy, so it runs once all are validated; services
/// that did not validate are skipped (their problems are reported already).
pub(crate) fn check_completed_tasks(
    entries: &[RawServiceEntry],
    services: &[Option<ServiceSpec>],
    edges: &[Vec<Dependency>],
    errors: &mut Collector<'_>,
) {
    for ((entry, service), edges) in entries.iter().zip(services).zip(edges) {
        let Some(service) = service else { continue };
        for dep in edges {
            let Some(Some(target)) = services.get(dep.on.0) else {
                continue;
            };
            if dep.kind == DepKind::Completed && target.restart == RestartPolicy::Always {
                errors.push(
                    depends_on_span(entry),
                    format!("services.{}.depends_on", shown(&service.name)),
                    format!(
                        "`{}` waits for `{}` to complete, but its `restart = \"always\"` runs it again every time it does",
                        shown(&service.name),
                        shown(&target.name)
                    ),
                    Some(format!(
                        "use `restart = \"on-failure\"` on `{}`",
                        shown(&target.name)
                    )),
                );
            }
        }
    }
}

/// The dependency graph of `edges` (`edges[i]` are service `i`'s), or
/// `None` with every cycle recorded.
pub(crate) fn graph(
    entries: &[RawServiceEntry],
    names: &[String],
    edges: Vec<Vec<Dependency>>,
    errors: &mut Collector<'_>,
) -> Option<Graph> {
    match Graph::new(names, edges) {
        Ok(graph) => Some(graph),
        Err(cycles) => {
            for GraphError::Cycle(path) in cycles {
                let first = path.first().cloned().unwrap_or_default();
                let span = entries
                    .iter()
                    .find(|s| s.name.get_ref() == &first)
                    .and_then(|s| depends_on_span(s).or(Some(s.span.clone())));
                errors.push(
                    span,
                    format!("services.{first}.depends_on"),
                    format!("dependency cycle: {}", path.join(" → ")),
                    Some("services cannot wait for each other in a circle; remove one of these dependencies".into()),
                );
            }
            None
        }
    }
}

/// Where a service's `depends_on` starts: its first entry.
fn depends_on_span(entry: &RawServiceEntry) -> Option<Range<usize>> {
    match entry.raw.depends_on.as_ref()? {
        DependsOn::Table(table) => table.first().map(|(k, _)| k.span()),
        DependsOn::List(list) => list.first().map(|k| k.span()),
    }
}
