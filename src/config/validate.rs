//! From raw tables to a [`Plan`]: defaults filled in, every name resolved,
//! every duration parsed, and every problem recorded with its place.
//!
//! Validation never stops early. A service with a bad key is still checked
//! for everything else, and the dependency graph is still built from the
//! edges that do resolve, so cycles show up in the same report as typos.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::str::FromStr;
use std::time::Duration;

use nix::sys::signal::Signal;
use toml::Spanned;

use crate::config::durations::{self, duration};
use crate::config::error::{Collector, nearest};
use crate::config::interpolate::{Scope, Template};
use crate::config::load::{RawDocument, RawServiceEntry};
use crate::config::names::shown;
use crate::config::plan::{
    Backoff, Check, CommandSpec, DepKind, Dependency, Kind, Plan, Probe, Project, RestartPolicy,
    ServiceId, ServiceSpec,
};
use crate::config::probe::{
    LIVENESS_DEFAULTS, READINESS_DEFAULTS, probe, shell_template, template,
};
use crate::config::raw::{
    DependsOn, OneOrMany, RawBackoff, RawCommand, RawDepKind, RawKind, RawRestart,
};
use crate::graph::{Graph, GraphError};

const DEFAULT_TIMING: Timing = Timing {
    ready_timeout: Duration::from_secs(60),
    dependency_timeout: Duration::from_secs(30),
    stop_grace: Duration::from_secs(5),
};
const DEFAULT_MAX_RESTARTS: u32 = 5;
const DEFAULT_BACKOFF: Backoff = Backoff {
    initial: Duration::from_millis(250),
    max: Duration::from_secs(30),
};
const DEFAULT_LOG_LINES: usize = 10_000;

/// What validation needs from the world outside the file.
pub struct Context<'a> {
    /// The config file (for messages) and the directory paths are relative to.
    pub file: &'a Path,
    pub base_dir: &'a Path,
    /// bringup's own environment, for `${env.VAR}`.
    pub env: &'a dyn Fn(&str) -> Option<String>,
    /// What `${bringup}` stands for.
    pub bringup: &'a str,
}

impl<'a> Context<'a> {
    /// A context in which no environment variable is set: for tests and
    /// benchmarks, whose plans must not depend on the shell they run in.
    pub fn without_env(file: &'a Path, base_dir: &'a Path, bringup: &'a str) -> Self {
        fn unset(_: &str) -> Option<String> {
            None
        }
        Self {
            file,
            base_dir,
            env: &unset,
            bringup,
        }
    }
}

/// Project-wide defaults a service falls back on.
struct Defaults {
    timing: Timing,
    restart: Option<RestartPolicy>,
    max_restarts: u32,
    backoff: Backoff,
}

pub(crate) fn validate(
    doc: RawDocument,
    cx: &Context<'_>,
    errors: &mut Collector<'_>,
) -> Option<Plan> {
    let project_raw = &doc.project;
    let names: Vec<String> = doc
        .services
        .iter()
        .map(|s| s.name.get_ref().clone())
        .collect();
    let has_port: Vec<bool> = doc.services.iter().map(|s| s.raw.port.is_some()).collect();

    if doc.services.is_empty() {
        errors.push(
            None,
            "services",
            "no services are defined",
            Some("add a table such as [services.api] with a `command`".into()),
        );
    }
    crate::config::names::check(&doc.services, errors);

    // Project env: env_file values, then `env` entries, which may use
    // `${env.VAR}` from bringup's environment and the env files.
    let mut project_env: Vec<(String, Template)> = Vec::new();
    if let Some(files) = &project_raw.env_file {
        project_env.extend(env_files("project", files, cx, errors));
    }
    let file_values: BTreeMap<String, String> = project_env
        .iter()
        .map(|(k, v)| (k.clone(), v.render(None, |_| None)))
        .collect();
    let lookup = |var: &str| file_values.get(var).cloned().or_else(|| (cx.env)(var));
    let project_scope = Scope {
        services: &names,
        has_port: &has_port,
        own: None,
        env: &lookup,
        bringup: cx.bringup,
    };
    for (key, value) in project_raw.env.iter().flatten() {
        project_env.extend(env_entry("project.env", key, value, &project_scope, errors));
    }
    // Services see the project env through `${env.VAR}` too.
    let project_values: BTreeMap<String, String> = project_env
        .iter()
        .map(|(k, v)| (k.clone(), v.render(None, |_| None)))
        .collect();
    let service_lookup = |var: &str| project_values.get(var).cloned().or_else(|| (cx.env)(var));

    let defaults = Defaults {
        timing: timing(
            "project",
            [
                project_raw.ready_timeout.as_ref(),
                project_raw.dependency_timeout.as_ref(),
                project_raw.stop_grace.as_ref(),
            ],
            DEFAULT_TIMING,
            errors,
        ),
        restart: project_raw.restart.map(restart_policy),
        max_restarts: project_raw.max_restarts.unwrap_or(DEFAULT_MAX_RESTARTS),
        backoff: backoff(
            "project",
            project_raw.backoff.as_ref(),
            DEFAULT_BACKOFF,
            errors,
        ),
    };

    let kinds: Vec<Kind> = doc
        .services
        .iter()
        .map(|s| match s.raw.kind {
            Some(RawKind::Task) => Kind::Task,
            _ => Kind::Service,
        })
        .collect();

    let mut services = Vec::new();
    for (index, entry) in doc.services.iter().enumerate() {
        let scope = Scope {
            services: &names,
            has_port: &has_port,
            own: Some(ServiceId(index)),
            env: &service_lookup,
            bringup: cx.bringup,
        };
        let service = service(
            entry,
            &names,
            &kinds,
            &project_env,
            &defaults,
            &scope,
            cx,
            errors,
        );
        services.push(service);
    }
    cross_checks(&doc, &services, errors);

    let dependencies: Vec<Vec<Dependency>> = services
        .iter()
        .map(|s| s.as_ref().map(|s| s.depends_on.clone()).unwrap_or_default())
        .collect();
    let graph = match Graph::new(&names, dependencies) {
        Ok(graph) => Some(graph),
        Err(cycles) => {
            for GraphError::Cycle(path) in cycles {
                let first = path.first().cloned().unwrap_or_default();
                let span = doc
                    .services
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
    };

    let max_parallel_starts = match project_raw.max_parallel_starts {
        None | Some(0) => None,
        Some(n) => Some(n),
    };
    let log_lines = project_raw.log_lines.unwrap_or(DEFAULT_LOG_LINES).max(1);
    let port_range = crate::config::ports::port_range(project_raw.port_range.as_ref(), errors);
    let project = Project {
        name: project_raw
            .name
            .clone()
            .unwrap_or_else(|| default_project_name(cx.base_dir)),
        max_parallel_starts,
        log_lines,
        port_range,
    };

    let ui = ui(&doc.ui, errors);

    if !errors.is_empty() {
        return None;
    }
    Some(Plan {
        project,
        services: services.into_iter().collect::<Option<Vec<_>>>()?,
        graph: graph?,
        source: cx.file.to_path_buf(),
        warnings: Vec::new(),
        ui,
    })
}

#[allow(clippy::too_many_arguments)]
fn service(
    entry: &RawServiceEntry,
    names: &[String],
    kinds: &[Kind],
    project_env: &[(String, Template)],
    defaults: &Defaults,
    scope: &Scope<'_>,
    cx: &Context<'_>,
    errors: &mut Collector<'_>,
) -> Option<ServiceSpec> {
    let name = entry.name.get_ref().clone();
    let path = format!("services.{}", shown(&name));
    let raw = &entry.raw;
    let kind = kinds[scope.own.map_or(0, |id| id.0)];

    let command = match &raw.command {
        None if errors.suggested(&path, "command") => None,
        None => {
            errors.push(
                Some(entry.span.clone()),
                &path,
                "missing `command`",
                Some(
                    "add `command = \"...\"` (run with sh -c) or `command = [\"prog\", \"arg\"]`"
                        .into(),
                ),
            );
            None
        }
        Some(command) => command_spec(&path, command, scope, errors),
    };

    let cwd = match &raw.cwd {
        Some(cwd) => {
            let dir = cx.base_dir.join(cwd.get_ref());
            if cwd.get_ref().contains('\0') {
                errors.push(
                    Some(cwd.span()),
                    format!("{path}.cwd"),
                    "contains a NUL character (\\0), which no path can hold",
                    Some("remove it (look for `\\u0000` in the string)".into()),
                );
            } else if !dir.is_dir() {
                errors.push(
                    Some(cwd.span()),
                    format!("{path}.cwd"),
                    format!("directory {} does not exist", dir.display()),
                    Some("paths are relative to the config file's directory".into()),
                );
            }
            dir
        }
        None => cx.base_dir.to_path_buf(),
    };

    let mut env = project_env.to_vec();
    if let Some(files) = &raw.env_file {
        env.extend(env_files(&path, files, cx, errors));
    }
    for (key, value) in raw.env.iter().flatten() {
        env.extend(env_entry(&format!("{path}.env"), key, value, scope, errors));
    }

    let depends_on = dependencies(&path, raw.depends_on.as_ref(), names, kinds, errors);

    let port = crate::config::ports::port_spec(&path, raw, errors);
    let probe_host = port.as_ref().map(crate::config::plan::PortSpec::probe_host);
    let listen = port.as_ref().is_some_and(|p| p.listen);

    let readiness = match (&raw.readiness, kind) {
        (Some(r), Kind::Task) => {
            errors.push(
                Some(r.span()),
                format!("{path}.readiness"),
                "a task has no readiness: it is complete when it exits 0",
                Some("remove `readiness`, or make it `kind = \"service\"`".into()),
            );
            None
        }
        (Some(r), Kind::Service) => {
            let probe = probe(
                &format!("{path}.readiness"),
                r,
                scope,
                probe_host,
                &READINESS_DEFAULTS,
                errors,
            );
            if listen && matches!(probe.as_ref().map(|p| &p.check), Some(Check::Tcp { .. })) {
                errors.warn(
                    Some(r.span()),
                    format!("{path}.readiness"),
                    "with `listen = true` a tcp check passes at once: bringup's socket accepts connections before the service does",
                    Some("check readiness with `http`, `log` or `notify` instead".into()),
                );
            }
            probe
        }
        // With `listen = true` the port accepts connections (they queue)
        // from the start, which is what dependents need; without a port,
        // there is nothing to check.
        (None, _) if listen || probe_host.is_none() || kind == Kind::Task => Some(Probe {
            check: Check::None,
            period: READINESS_DEFAULTS.period,
            timeout: Duration::from_secs(1),
            failure_threshold: 3,
        }),
        (None, _) => Some(Probe {
            check: Check::Tcp {
                address: probe_host
                    .and_then(|host| crate::config::probe::own_address(host, scope))
                    .unwrap_or_default(),
            },
            period: READINESS_DEFAULTS.period,
            timeout: Duration::from_secs(1),
            failure_threshold: 3,
        }),
    };
    let liveness = match (&raw.liveness, kind) {
        (Some(l), Kind::Task) => {
            errors.push(
                Some(l.span()),
                format!("{path}.liveness"),
                "a task has no liveness check",
                Some("remove `liveness`".into()),
            );
            None
        }
        (Some(l), Kind::Service) => {
            let probe = probe(
                &format!("{path}.liveness"),
                l,
                scope,
                probe_host,
                &LIVENESS_DEFAULTS,
                errors,
            );
            if let Some(Probe {
                check: check @ (Check::Log { .. } | Check::Notify | Check::None),
                ..
            }) = &probe
            {
                errors.push(
                    Some(l.span()),
                    format!("{path}.liveness"),
                    format!(
                        "a `{}` check cannot tell whether a running service is alive",
                        check.kind_name()
                    ),
                    Some("use `tcp`, `http` or `exec` for liveness".into()),
                );
            }
            probe
        }
        (None, _) => None,
    };

    let stop_signal = match &raw.stop_signal {
        None => Signal::SIGTERM,
        Some(text) => match parse_signal(text.get_ref()) {
            Some(signal) => signal,
            None => {
                errors.push(
                    Some(text.span()),
                    format!("{path}.stop_signal"),
                    format!("unknown signal {:?}", text.get_ref()),
                    Some(
                        "use a name such as \"SIGTERM\", \"SIGINT\", \"SIGQUIT\" or \"SIGHUP\""
                            .into(),
                    ),
                );
                Signal::SIGTERM
            }
        },
    };

    let Timing {
        ready_timeout,
        dependency_timeout,
        stop_grace,
    } = timing(
        &path,
        [
            raw.ready_timeout.as_ref(),
            raw.dependency_timeout.as_ref(),
            raw.stop_grace.as_ref(),
        ],
        defaults.timing,
        errors,
    );
    let restart = raw
        .restart
        .map(restart_policy)
        .or(defaults.restart)
        .unwrap_or(match kind {
            Kind::Service => RestartPolicy::OnFailure,
            Kind::Task => RestartPolicy::Never,
        });
    let backoff = backoff(&path, raw.backoff.as_ref(), defaults.backoff, errors);

    Some(ServiceSpec {
        name,
        command: command?,
        cwd,
        env,
        kind,
        optional: raw.optional.unwrap_or(false),
        depends_on,
        readiness: readiness?,
        liveness,
        ready_timeout,
        dependency_timeout,
        restart,
        max_restarts: raw.max_restarts.unwrap_or(defaults.max_restarts),
        backoff,
        stop_signal,
        stop_grace,
        port,
    })
}

/// `[ui]`: the theme name and `[ui.keys]` remappings.
fn ui(raw: &crate::config::raw::RawUi, errors: &mut Collector<'_>) -> crate::config::plan::Ui {
    use crate::keys::{Action, Key};
    let mut keys: Vec<(Action, Vec<Key>)> = Vec::new();
    let mut taken: Vec<(Key, Action)> = Vec::new();
    for (name, value) in raw.keys.iter().flatten() {
        let Some(action) = Action::from_name(name.get_ref()) else {
            let names = Action::ALL.iter().map(|a| a.name());
            errors.push(
                Some(name.span()),
                format!("ui.keys.{}", name.get_ref()),
                format!("unknown action `{}`", name.get_ref()),
                nearest(name.get_ref(), names)
                    .map(|n| format!("did you mean `{n}`?"))
                    .or_else(|| {
                        Some(format!(
                            "actions: {}",
                            Action::ALL
                                .iter()
                                .map(|a| a.name())
                                .collect::<Vec<_>>()
                                .join(", ")
                        ))
                    }),
            );
            continue;
        };
        let mut parsed = Vec::new();
        for text in value.get_ref().to_vec() {
            match Key::parse(&text) {
                Ok(key) => {
                    if let Some((_, other)) = taken.iter().find(|(k, a)| *k == key && *a != action)
                    {
                        errors.push(
                            Some(value.span()),
                            format!("ui.keys.{}", name.get_ref()),
                            format!("key {key} is given to `{}` too", other.name()),
                            Some("give each action its own keys".into()),
                        );
                    }
                    taken.push((key, action));
                    parsed.push(key);
                }
                Err(why) => errors.push(
                    Some(value.span()),
                    format!("ui.keys.{}", name.get_ref()),
                    why,
                    None,
                ),
            }
        }
        keys.push((action, parsed));
    }
    crate::config::plan::Ui {
        theme: raw.theme.as_ref().map(|t| t.get_ref().clone()),
        keys,
    }
}

/// Checks that need every service: ports two services both insist on, and
/// tasks that never complete although something waits for them to.
fn cross_checks(doc: &RawDocument, services: &[Option<ServiceSpec>], errors: &mut Collector<'_>) {
    let mut wanted: BTreeMap<u16, &str> = BTreeMap::new();
    for (entry, service) in doc.services.iter().zip(services) {
        let Some(service) = service else { continue };
        if let Some(spec) = &service.port
            && let Some(port) = spec.preferred
        {
            let has_fallback = spec.on_conflict == crate::config::plan::OnConflict::Fallback;
            match wanted.get(&port) {
                Some(first) if !has_fallback => errors.push(
                    entry.raw.port.as_ref().map(Spanned::span),
                    format!("services.{}.port", shown(&service.name)),
                    format!(
                        "`{first}` wants port {port} too, so only one of them could ever start"
                    ),
                    Some(
                        "give one of them another port, `fallback_ports`, or `port = \"auto\"`"
                            .into(),
                    ),
                ),
                Some(_) => {}
                None => {
                    wanted.insert(port, entry.name.get_ref());
                }
            }
        }
        for dep in &service.depends_on {
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

fn command_spec(
    path: &str,
    command: &Spanned<RawCommand>,
    scope: &Scope<'_>,
    errors: &mut Collector<'_>,
) -> Option<CommandSpec> {
    let span = command.span();
    let empty = |errors: &mut Collector<'_>| {
        errors.push(
            Some(span.clone()),
            format!("{path}.command"),
            "the command is empty",
            None,
        )
    };
    match command.get_ref() {
        RawCommand::Shell(text) if text.trim().is_empty() => {
            empty(errors);
            None
        }
        RawCommand::Shell(text) => {
            let text = Spanned::new(span.clone(), text.clone());
            shell_template(path, "command", &text, scope, errors).map(CommandSpec::Shell)
        }
        RawCommand::Argv(args) if args.is_empty() || args[0].is_empty() => {
            empty(errors);
            None
        }
        RawCommand::Argv(args) => {
            let parts: Vec<Option<Template>> = args
                .iter()
                .enumerate()
                .map(|(i, arg)| {
                    let parsed = template(
                        path,
                        "command",
                        &Spanned::new(span.clone(), arg.clone()),
                        scope,
                        errors,
                    )?;
                    // `["sh", "-c", "… ${env.X} …"]`: the value is in a script.
                    if i > 0
                        && args[i - 1] == "-c"
                        && let Some(warning) = parsed.script_problem(true)
                    {
                        errors.warn(
                            Some(span.clone()),
                            format!("{path}.command"),
                            warning.message,
                            warning.help,
                        );
                    }
                    Some(parsed)
                })
                .collect();
            parts
                .into_iter()
                .collect::<Option<Vec<_>>>()
                .map(CommandSpec::Argv)
        }
    }
}

fn dependencies(
    path: &str,
    raw: Option<&DependsOn>,
    names: &[String],
    kinds: &[Kind],
    errors: &mut Collector<'_>,
) -> Vec<Dependency> {
    let entries: Vec<(&Spanned<String>, DepKind)> = match raw {
        None => Vec::new(),
        Some(DependsOn::List(list)) => list.iter().map(|name| (name, DepKind::Required)).collect(),
        Some(DependsOn::Table(table)) => table
            .iter()
            .map(|(name, kind)| {
                let kind = match kind.get_ref() {
                    RawDepKind::Required => DepKind::Required,
                    RawDepKind::Optional => DepKind::Optional,
                    RawDepKind::Soft => DepKind::Soft,
                    RawDepKind::Completed => DepKind::Completed,
                };
                (name, kind)
            })
            .collect(),
    };
    let mut out = Vec::new();
    for (name, kind) in entries {
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
        });
    }
    out
}

/// One `env` entry: a name the OS can carry, and a value template.
fn env_entry(
    path: &str,
    key: &str,
    value: &Spanned<String>,
    scope: &Scope<'_>,
    errors: &mut Collector<'_>,
) -> Option<(String, Template)> {
    // `=` ends a name in the environment block, and a NUL ends the entry:
    // either would give the service another variable than the one written.
    if key.is_empty() || key.contains(['=', '\0']) {
        errors.push(
            Some(value.span()),
            path,
            format!("{:?} cannot be the name of an environment variable", key),
            Some("use letters, digits and `_`, e.g. `DATABASE_URL`".into()),
        );
        return None;
    }
    let template = template(path, key, value, scope, errors)?;
    Some((key.to_string(), template))
}

fn env_files(
    path: &str,
    files: &Spanned<OneOrMany>,
    cx: &Context<'_>,
    errors: &mut Collector<'_>,
) -> Vec<(String, Template)> {
    let mut vars = Vec::new();
    for file in files.get_ref().to_vec() {
        let full: PathBuf = cx.base_dir.join(&file);
        match dotenvy::from_path_iter(&full) {
            Ok(iter) => {
                for item in iter {
                    match item {
                        Ok((key, value)) if key.contains('\0') || value.contains('\0') => {
                            errors.push(
                                Some(files.span()),
                                format!("{path}.env_file"),
                                format!(
                                    "{}: `{}` contains a NUL character, which no environment variable can hold",
                                    full.display(),
                                    key.replace('\0', "\\0")
                                ),
                                None,
                            );
                        }
                        Ok((key, value)) => vars.push((key, Template::literal(value))),
                        Err(e) => {
                            errors.push(
                                Some(files.span()),
                                format!("{path}.env_file"),
                                format!("{}: {e}", full.display()),
                                None,
                            );
                            break;
                        }
                    }
                }
            }
            Err(e) => errors.push(
                Some(files.span()),
                format!("{path}.env_file"),
                format!("cannot read {}: {e}", full.display()),
                Some("paths are relative to the config file's directory".into()),
            ),
        }
    }
    vars
}

/// The timing keys a service shares with `[project]`.
#[derive(Debug, Clone, Copy)]
struct Timing {
    ready_timeout: Duration,
    dependency_timeout: Duration,
    stop_grace: Duration,
}

/// `ready_timeout`, `dependency_timeout` and `stop_grace` at `path`, each
/// falling back on `fallback`'s.
fn timing(
    path: &str,
    [ready, dependency, stop]: [Option<&Spanned<String>>; 3],
    fallback: Timing,
    errors: &mut Collector<'_>,
) -> Timing {
    let mut key =
        |name, raw, limits, default| duration(path, name, raw, limits, errors).unwrap_or(default);
    Timing {
        ready_timeout: key(
            "ready_timeout",
            ready,
            durations::READY_TIMEOUT,
            fallback.ready_timeout,
        ),
        dependency_timeout: key(
            "dependency_timeout",
            dependency,
            durations::DEPENDENCY_TIMEOUT,
            fallback.dependency_timeout,
        ),
        stop_grace: key(
            "stop_grace",
            stop,
            durations::STOP_GRACE,
            fallback.stop_grace,
        ),
    }
}

fn backoff(
    path: &str,
    raw: Option<&RawBackoff>,
    fallback: Backoff,
    errors: &mut Collector<'_>,
) -> Backoff {
    let Some(raw) = raw else {
        return fallback;
    };
    let path = format!("{path}.backoff");
    let initial = duration(
        &path,
        "initial",
        raw.initial.as_ref(),
        durations::BACKOFF,
        errors,
    )
    .unwrap_or(fallback.initial);
    let max = duration(&path, "max", raw.max.as_ref(), durations::BACKOFF, errors)
        .unwrap_or(fallback.max);
    if max < initial {
        let initial_text = humantime::format_duration(initial);
        let max_text = humantime::format_duration(max);
        match &raw.max {
            Some(written) => errors.push(
                Some(written.span()),
                format!("{path}.max"),
                format!("the maximum backoff ({max_text}) is shorter than the initial one ({initial_text})"),
                None,
            ),
            None => errors.push(
                raw.initial.as_ref().map(|i| i.span()),
                format!("{path}.initial"),
                format!("the initial backoff ({initial_text}) is longer than the maximum ({max_text}, the default)"),
                Some(format!("set `max` too, e.g. `backoff = {{ initial = \"{initial_text}\", max = \"{initial_text}\" }}`")),
            ),
        }
    }
    Backoff { initial, max }
}

fn restart_policy(raw: RawRestart) -> RestartPolicy {
    match raw {
        RawRestart::Always => RestartPolicy::Always,
        RawRestart::OnFailure => RestartPolicy::OnFailure,
        RawRestart::Never => RestartPolicy::Never,
    }
}

/// "SIGTERM", "TERM" or "term".
fn parse_signal(text: &str) -> Option<Signal> {
    let upper = text.trim().to_ascii_uppercase();
    let name = if upper.starts_with("SIG") {
        upper
    } else {
        format!("SIG{upper}")
    };
    Signal::from_str(&name).ok()
}

fn depends_on_span(entry: &RawServiceEntry) -> Option<std::ops::Range<usize>> {
    match entry.raw.depends_on.as_ref()? {
        DependsOn::Table(table) => table.first().map(|(k, _)| k.span()),
        DependsOn::List(list) => list.first().map(|k| k.span()),
    }
}

fn default_project_name(base_dir: &Path) -> String {
    base_dir
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .filter(|n| !n.is_empty())
        .unwrap_or_else(|| "bringup".to_string())
}
