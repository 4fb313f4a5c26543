//! One `[services.NAME]` table into a [`ServiceSpec`]: what to run, where,
//! with which environment, port and probes, and how to stop and restart it.
//!
//! Each key is checked by the part that owns its idea ([`env`], [`ports`],
//! [`probe`], [`defaults`]); this module checks the rest (`command`, `cwd`,
//! `stop_signal`) and puts the parts together. A service with a problem is
//! still checked to the end, so all of its problems are reported at once;
//! it then yields no spec. Its dependencies are checked in [`deps`], since
//! they become the graph's edges rather than part of the spec.
//!
//! [`env`]: crate::config::env
//! [`ports`]: crate::config::ports
//! [`probe`]: crate::config::probe
//! [`defaults`]: crate::config::defaults
//! [`deps`]: crate::config::deps

use std::path::PathBuf;
use std::str::FromStr;

use nix::sys::signal::Signal;
use toml::Spanned;

use crate::config::context::Context;
use crate::config::defaults::{Defaults, Lifecycle};
use crate::config::error::Collector;
use crate::config::interpolate::{Scope, Template};
use crate::config::load::RawServiceEntry;
use crate::config::names::shown;
use crate::config::plan::{CommandSpec, Kind, ServiceSpec};
use crate::config::raw::RawCommand;
use crate::config::templates::{shell_template, template};
use crate::config::{container, env, ports, probe, watch};

/// What every service is validated against: the project's environment and
/// defaults, and the world outside the file.
pub(crate) struct Shared<'a> {
    pub project_env: &'a [(String, Template)],
    pub defaults: &'a Defaults,
    pub cx: &'a Context<'a>,
    /// `[project]` as written (its env files and env keys, for export).
    pub project: &'a crate::config::raw::RawProject,
}

/// Validates one service of kind `kind`; `scope` resolves its templates.
pub(crate) fn service(
    entry: &RawServiceEntry,
    kind: Kind,
    shared: &Shared<'_>,
    scope: &Scope<'_>,
    errors: &mut Collector<'_>,
) -> Option<ServiceSpec> {
    let name = entry.name.get_ref().clone();
    let path = format!("services.{}", shown(&name));
    let raw = &entry.raw;

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
    let cwd = cwd(&path, raw.cwd.as_ref(), shared.cx, errors);
    let env = env::service(&path, raw, shared.project_env, scope, shared.cx, errors);
    let port = ports::port_spec(&path, raw, errors);
    let owner = probe::Owner {
        path: &path,
        kind,
        port: port.as_ref(),
        scope,
    };
    let readiness = probe::readiness(&owner, raw.readiness.as_ref(), errors);
    let liveness = probe::liveness(&owner, raw.liveness.as_ref(), errors);
    let stop_signal = stop_signal(&path, raw.stop_signal.as_ref(), errors);
    let watch = watch::watch_spec(&path, raw.watch.as_ref(), raw.watch_ignore.as_ref(), errors);
    let Lifecycle {
        timing,
        restart,
        max_restarts,
        backoff,
    } = shared.defaults.service(&path, raw, kind, errors);
    let container = container::container(&path, raw, shared.project, shared.cx, errors);

    Some(ServiceSpec {
        name,
        command: command?,
        cwd,
        env,
        kind,
        optional: raw.optional.unwrap_or(false),
        autostart: raw.autostart.unwrap_or(true),
        readiness: readiness?,
        liveness,
        ready_timeout: timing.ready_timeout,
        dependency_timeout: timing.dependency_timeout,
        restart,
        max_restarts,
        backoff,
        stop_signal,
        stop_grace: timing.stop_grace,
        port,
        container,
        watch,
    })
}

/// `command`: a shell string (run with `sh -c`) or an argument array.
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

/// `cwd`, relative to the config file's directory; it must exist now.
fn cwd(
    path: &str,
    raw: Option<&Spanned<String>>,
    cx: &Context<'_>,
    errors: &mut Collector<'_>,
) -> PathBuf {
    let Some(cwd) = raw else {
        return cx.base_dir.to_path_buf();
    };
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

/// `stop_signal`, SIGTERM unless given (and when it names no signal).
fn stop_signal(path: &str, raw: Option<&Spanned<String>>, errors: &mut Collector<'_>) -> Signal {
    let Some(text) = raw else {
        return Signal::SIGTERM;
    };
    parse_signal(text.get_ref()).unwrap_or_else(|| {
        errors.push(
            Some(text.span()),
            format!("{path}.stop_signal"),
            format!("unknown signal {:?}", text.get_ref()),
            Some("use a name such as \"SIGTERM\", \"SIGINT\", \"SIGQUIT\" or \"SIGHUP\"".into()),
        );
        Signal::SIGTERM
    })
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
