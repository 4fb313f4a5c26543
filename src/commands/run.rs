//! `bringup up` and `bringup demo`: run a stack until told to stop.

use std::path::Path;
use std::process::ExitCode;
use std::sync::Arc;

use bringup::api::{Command, Verdict};
use bringup::config::{self, Plan, ServiceId};
use bringup::control::registry::{self, ClaimError, Record};
use bringup::engine::{Engine, EngineOptions};
use bringup::headless::{self, HeadlessOptions};
use bringup::session::Session;
use bringup::tui::{self, Ending, TuiOptions};

use super::signals;

/// The front end that ran, for its last words.
enum Shown {
    Dashboard,
    Detached,
    Headless(headless::Farewell),
}

/// How to show a run.
pub struct Show {
    pub color: bool,
    /// The background bringup of `up -d`: no front end on screen.
    pub detached: bool,
    /// `Some` to open the dashboard.
    pub dashboard: Option<TuiOptions>,
}

/// `bringup up [SERVICE...]`.
pub fn up(explicit: Option<&Path>, services: &[String], show: Show) -> ExitCode {
    let color = show.color;
    let plan = match super::load(explicit, color) {
        Ok(plan) => plan,
        Err(code) => return code,
    };
    let only = match select(&plan, services) {
        Ok(only) => only,
        Err(message) => {
            eprintln!("error: {message}");
            return ExitCode::from(super::INVALID);
        }
    };
    let identity = plan.identity();
    run(plan, only, show, &identity)
}

/// `bringup demo`: the embedded demo stack, run from the current directory.
pub fn demo(show: Show) -> ExitCode {
    let cwd = std::env::current_dir().unwrap_or_else(|_| ".".into());
    match demo_plan(&cwd) {
        Ok((plan, identity)) => run(plan, None, show, &identity),
        Err(errors) => {
            // The demo is part of the binary; this is a bug, not user error.
            super::report::config_errors(&errors, show.color);
            ExitCode::from(super::INVALID)
        }
    }
}

/// The embedded demo stack run from `cwd`, and its identity: one demo per
/// directory, as it has no config file to be known by.
pub(super) fn demo_plan(cwd: &Path) -> Result<(Plan, String), config::error::ConfigErrors> {
    let plan = config::load_str(config::DEMO, Path::new("demo.toml (embedded)"), cwd)?;
    let identity = config::plan::identity_of(&cwd.join("(demo)"), &plan.project.name);
    Ok((plan, identity))
}

/// Names → ids; an unknown name is an error with a suggestion.
pub(super) fn select(plan: &Plan, names: &[String]) -> Result<Option<Vec<ServiceId>>, String> {
    if names.is_empty() {
        return Ok(None);
    }
    names
        .iter()
        .map(|name| {
            plan.find(name).ok_or_else(|| {
                let known = plan.services.iter().map(|s| s.name.as_str());
                match config::error::nearest(name, known) {
                    Some(near) => format!("no service named `{name}`; did you mean `{near}`?"),
                    None => format!(
                        "no service named `{name}`; services: {}",
                        plan.services
                            .iter()
                            .map(|s| s.name.as_str())
                            .collect::<Vec<_>>()
                            .join(", ")
                    ),
                }
            })
        })
        .collect::<Result<Vec<_>, _>>()
        .map(Some)
}

fn run(plan: Plan, only: Option<Vec<ServiceId>>, show: Show, identity: &str) -> ExitCode {
    // Theme and keys are checked before anything starts, so a typo in a
    // theme name is reported on a normal terminal with nothing to clean up.
    let dashboard = match &show.dashboard {
        Some(options) => match tui::prepare(plan.ui.theme.as_deref(), &plan.ui.keys, options) {
            Ok(prepared) => Some(prepared),
            Err(e) => {
                eprintln!("error: {e}");
                return ExitCode::from(super::INVALID);
            }
        },
        None => None,
    };
    // Split before the runtime starts its threads: the dashboard's stack
    // runs in a child the terminal's job waits for, so it can detach.
    let mut detachable = match &dashboard {
        Some(_) if !show.detached => match super::waiter::split() {
            Ok(detachable) => Some(detachable),
            Err(e) => {
                tracing::warn!(target: "bringup", "cannot split off the terminal's process ({e}); this dashboard cannot detach");
                None
            }
        },
        _ => None,
    };
    let runtime = match super::runtime() {
        Ok(runtime) => runtime,
        Err(code) => return code,
    };
    // Claimed before anything starts: a second `up` of this config must
    // not start a second stack.
    let _claim = match claim(&plan, identity) {
        Ok(claim) => claim,
        Err(code) => return code,
    };
    let options = EngineOptions {
        watchdog_exe: std::env::current_exe().ok(),
        only,
        history_dir: bringup::engine::history::default_dir(),
    };
    let (engine, events) = match Engine::start(Arc::new(plan), options) {
        Ok(started) => started,
        Err(e) => {
            eprintln!("error: {e}");
            return ExitCode::FAILURE;
        }
    };
    // Front ends judge by the last snapshot, which a crashed engine may
    // have left saying "all ready"; this says whether it crashed.
    let crash = engine.crash_report();
    let session = Session::local(&engine, events);
    let run_dir = engine.run_dir().to_path_buf();
    let shown = runtime.block_on(async {
        // Other processes reach the stack through it while it runs.
        let _control = match bringup::control::server::serve(session.clone(), &run_dir) {
            Ok(socket) => Some(socket),
            Err(e) => {
                tracing::warn!(target: "bringup", "cannot serve the control socket in {}: {e}; `bringup status` and the other verbs will not reach this stack", run_dir.display());
                None
            }
        };
        let mut signals = tokio::spawn(signals::forward_with(session.clone(), !show.detached));
        let shown = match dashboard {
            _ if show.detached => {
                super::detach::run_detached(&session, identity).await;
                Ok(Shown::Detached)
            }
            Some((theme, keys)) => {
                match tui::run(&session, theme, keys, detachable.is_some()).await {
                    Ok(Ending::Detached) => {
                        // From now on a hangup is not the terminal's: the
                        // stack runs on like one started with `up -d`.
                        signals.abort();
                        signals = tokio::spawn(signals::forward_with(session.clone(), false));
                        detach(detachable.take(), &session);
                        super::detach::run_detached(&session, identity).await;
                        Ok(Shown::Detached)
                    }
                    Ok(Ending::Ended) => Ok(Shown::Dashboard),
                    Err(e) => Err(e),
                }
            }
            None => Ok(Shown::Headless(
                headless::run(&session, HeadlessOptions { color: show.color }).await,
            )),
        };
        if shown.is_err() {
            // No front end: stop what was started, and wait for it.
            session.send(Command::Shutdown { force: false }).await;
            signals::wait_ended(&session).await;
        }
        signals.abort();
        shown
    });
    // The engine thread ends after its last snapshot: judge by that one.
    let _ = engine.join();
    let last = session.snapshot().borrow().clone();
    let verdict = Verdict::of(&last);
    match shown {
        Ok(Shown::Headless(farewell)) => farewell.say(&verdict),
        Ok(Shown::Dashboard) => tui::farewell(&last, &verdict),
        Ok(Shown::Detached) => {}
        Err(e) => {
            eprintln!("error: {e}");
            return ExitCode::FAILURE;
        }
    }
    if let Some(message) = crash.message() {
        eprintln!(
            "error: bringup's engine stopped on an internal error: {message}\n  \
             this is a bug in bringup; please report it with the config that caused it"
        );
        return ExitCode::FAILURE;
    }
    if verdict.healthy() {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    }
}

/// The foreground dashboard was closed with the detach key: say how to
/// come back, then let the terminal go (see `super::waiter`).
fn detach(detachable: Option<super::waiter::Detachable>, session: &Session) {
    println!(
        "bringup: detached; {} keeps running in the background (pid {}): `bringup attach` comes back, `bringup down` stops it",
        bringup::ansi::plain(&session.info().project),
        std::process::id()
    );
    if let Some(detachable) = detachable
        && let Err(e) = detachable.detach()
    {
        // The stack runs on either way; the terminal may stay busy.
        tracing::warn!(target: "bringup", "detaching from the terminal: {e}");
    }
}

/// Registers the stack among the running ones; another bringup running the
/// same config is an error (exit 2) that says how to reach it.
pub(super) fn claim(plan: &Plan, identity: &str) -> Result<Option<registry::Claim>, ExitCode> {
    let pid = std::process::id();
    let socket = match bringup::rundir::base() {
        Ok(base) => base
            .join(pid.to_string())
            .join(bringup::control::wire::SOCKET_NAME),
        // The engine reports this one when it cannot make its directory.
        Err(_) => return Ok(None),
    };
    let record = Record {
        pid,
        socket,
        project: plan.project.name.clone(),
        config: std::fs::canonicalize(&plan.source).unwrap_or_else(|_| plan.source.clone()),
        started_unix_ms: std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX)),
        version: env!("CARGO_PKG_VERSION").to_string(),
    };
    // The same file running under its old project name (edited since):
    // a second stack of it would fight the first for its ports.
    if let Ok(running) = registry::of_config(&record.config)
        && let Some(other) = running.iter().find(|r| r.project != record.project)
    {
        eprintln!(
            "error: {} is already running as project `{}` (bringup pid {}); its [project] name changed since",
            plan.source.display(),
            bringup::ansi::plain(&other.project),
            other.pid
        );
        eprintln!(
            "  help: `bringup down` stops it (the verbs still find it), then `bringup up` starts it as `{}`",
            bringup::ansi::plain(&plan.project.name)
        );
        return Err(ExitCode::from(super::INVALID));
    }
    match registry::claim(identity, &record) {
        Ok(claim) => Ok(Some(claim)),
        Err(ClaimError::AlreadyRunning(running)) => {
            let by = running.map_or_else(
                || "by a bringup that is just starting".to_string(),
                |r| format!("bringup pid {}", r.pid),
            );
            eprintln!(
                "error: {} is already running ({by}); bringup will not start it twice",
                plan.source.display()
            );
            eprintln!(
                "  help: `bringup attach` shows its dashboard, `bringup status` its state, `bringup down` stops it"
            );
            Err(ExitCode::from(super::INVALID))
        }
        Err(e) => {
            eprintln!(
                "warning: {e}; `bringup status` and the other verbs will not find this stack"
            );
            Ok(None)
        }
    }
}
