//! `bringup run [SERVICE…] [--timeout D] -- CMD…`: brings the stack up
//! (headless, quietly), waits until it is ready, runs CMD with the stack's
//! ports in its environment, tears the stack down however CMD ends, and
//! exits with CMD's status.
//!
//! If the stack does not come up, CMD does not run: the failure summary
//! names each service that did not become ready, why, and its last lines,
//! and the exit status is [`STACK_FAILED`] — distinct from anything CMD
//! says, since CMD never ran (130 when bringup itself was stopped first). Ctrl-C in a terminal reaches CMD directly
//! (it is in bringup's process group); SIGTERM and SIGHUP sent to bringup
//! are passed on to CMD. Either way the stack is stopped once CMD has
//! ended, and nothing is left behind.

use std::path::Path;
use std::process::ExitCode;
use std::sync::Arc;
use std::time::{Duration, Instant};

use bringup::api::describe;
use bringup::api::{Command, ServiceStatus, Snapshot, State};
use bringup::engine::{Engine, EngineOptions};
use bringup::session::Session;
use tokio::signal::unix::{SignalKind, signal};

use super::{INVALID, run, signals};

/// The exit status when the stack did not come up (CMD did not run).
pub const STACK_FAILED: u8 = 125;
/// The exit status when bringup was stopped (Ctrl-C, SIGTERM) before the
/// stack was up, as a shell says for an interrupted command.
const INTERRUPTED: u8 = 130;
/// The exit status when CMD could not be started (as a shell says).
const NOT_STARTED: u8 = 127;
/// Log lines shown per service that did not come up.
const LAST_LINES: usize = 10;

/// `bringup run`.
pub fn run_command(
    explicit: Option<&Path>,
    color: bool,
    services: &[String],
    timeout: Duration,
    command: &[String],
) -> ExitCode {
    let Some((program, args)) = command.split_first() else {
        eprintln!("error: no command to run; write it after `--`: bringup run -- pytest -x");
        return ExitCode::from(INVALID);
    };
    let plan = match super::load(explicit, color) {
        Ok(plan) => plan,
        Err(code) => return code,
    };
    let only = match run::select(&plan, services) {
        Ok(only) => only,
        Err(message) => {
            eprintln!("error: {message}");
            return ExitCode::from(INVALID);
        }
    };
    let identity = plan.identity();
    let _claim = match run::claim(&plan, &identity) {
        Ok(claim) => claim,
        Err(code) => return code,
    };
    let runtime = match super::runtime() {
        Ok(runtime) => runtime,
        Err(code) => return code,
    };
    let options = EngineOptions {
        watchdog_exe: std::env::current_exe().ok(),
        only,
        history_dir: bringup::engine::history::default_dir(),
    };
    let project = plan.project.name.clone();
    let (engine, events) = match Engine::start(Arc::new(plan), options) {
        Ok(started) => started,
        Err(e) => {
            eprintln!("error: {e}");
            return ExitCode::FAILURE;
        }
    };
    let session = Session::local(&engine, events);
    let run_dir = engine.run_dir().to_path_buf();
    let code = runtime.block_on(async {
        let _control = bringup::control::server::serve(session.clone(), &run_dir).ok();
        let started = Instant::now();
        eprintln!("bringup: bringing up {project}…");
        let code = match wait_up(&session, timeout).await {
            Up::Ready(snapshot) => {
                eprintln!(
                    "bringup: {project} is ready ({}); running {}",
                    describe::fmt_duration(started.elapsed()),
                    command.join(" ")
                );
                run_cmd(program, args, &snapshot).await
            }
            Up::Failed(snapshot) => {
                failure_summary(&session, &snapshot, timeout);
                STACK_FAILED
            }
            Up::Interrupted => {
                eprintln!("bringup: stopped before the stack was up; the command did not run");
                INTERRUPTED
            }
        };
        session.send(Command::Shutdown { force: false }).await;
        let stopping = tokio::spawn(signals::forward(session.clone()));
        signals::wait_ended(&session).await;
        stopping.abort();
        code
    });
    let _ = engine.join();
    ExitCode::from(code)
}

enum Up {
    Ready(Snapshot),
    Failed(Snapshot),
    /// Stopped by a signal before it was up.
    Interrupted,
}

/// Waits for the cold start's verdict (or `timeout`, or a stop signal).
async fn wait_up(session: &Session, timeout: Duration) -> Up {
    let mut snapshots = session.snapshot();
    let deadline = tokio::time::sleep(timeout);
    tokio::pin!(deadline);
    let (Ok(mut interrupt), Ok(mut terminate)) = (
        signal(SignalKind::interrupt()),
        signal(SignalKind::terminate()),
    ) else {
        return Up::Interrupted;
    };
    loop {
        {
            let snapshot = snapshots.borrow_and_update();
            if let Some(summary) = &snapshot.summary {
                return if summary.all_required_ready {
                    Up::Ready(snapshot.clone())
                } else {
                    Up::Failed(snapshot.clone())
                };
            }
        }
        tokio::select! {
            changed = snapshots.changed() => if changed.is_err() {
                return Up::Failed(snapshots.borrow().clone());
            },
            () = &mut deadline => return Up::Failed(snapshots.borrow().clone()),
            _ = interrupt.recv() => return Up::Interrupted,
            _ = terminate.recv() => return Up::Interrupted,
        }
    }
}

/// Runs CMD with the stack's ports in its environment; its exit status
/// (128 + N for a signal, as a shell says).
async fn run_cmd(program: &str, args: &[String], snapshot: &Snapshot) -> u8 {
    let mut command = tokio::process::Command::new(program);
    command.args(args);
    for service in &snapshot.services {
        if let Some(port) = service.port {
            command.env(
                bringup::config::port_variable(&service.name),
                port.to_string(),
            );
        }
    }
    // Listening before CMD exists: a signal meanwhile is passed on too.
    let (Ok(mut terminate), Ok(mut hangup), Ok(mut interrupt)) = (
        signal(SignalKind::terminate()),
        signal(SignalKind::hangup()),
        signal(SignalKind::interrupt()),
    ) else {
        eprintln!("bringup: cannot listen for signals; not running {program}");
        return STACK_FAILED;
    };
    let mut child = match command.spawn() {
        Ok(child) => child,
        Err(e) => {
            eprintln!("bringup: cannot run {program}: {e}");
            return NOT_STARTED;
        }
    };
    let pid = child.id().and_then(|p| i32::try_from(p).ok());
    let pass_on = |signal: nix::sys::signal::Signal| {
        if let Some(pid) = pid {
            let _ = nix::sys::signal::kill(nix::unistd::Pid::from_raw(pid), signal);
        }
    };
    let status = loop {
        tokio::select! {
            status = child.wait() => break status,
            _ = terminate.recv() => pass_on(nix::sys::signal::Signal::SIGTERM),
            _ = hangup.recv() => pass_on(nix::sys::signal::Signal::SIGHUP),
            // A terminal's Ctrl-C reaches CMD itself (same process group);
            // bringup only waits for it to end.
            _ = interrupt.recv() => {}
        }
    };
    match status {
        Ok(status) => {
            use std::os::unix::process::ExitStatusExt;
            match (status.code(), status.signal()) {
                (Some(code), _) => u8::try_from(code).unwrap_or(1),
                (None, Some(signal)) => u8::try_from(128 + signal).unwrap_or(1),
                (None, None) => 1,
            }
        }
        Err(e) => {
            eprintln!("bringup: lost track of {program}: {e}");
            1
        }
    }
}

/// What did not come up, why, and the last lines it printed.
fn failure_summary(session: &Session, snapshot: &Snapshot, timeout: Duration) {
    let not_up: Vec<&ServiceStatus> = snapshot
        .services
        .iter()
        .filter(|s| s.selected && !s.optional && !s.state.is_ready())
        .collect();
    if snapshot.summary.is_none() {
        eprintln!(
            "bringup: the stack was not up after {}; the command did not run",
            describe::fmt_duration(timeout)
        );
    } else {
        eprintln!("bringup: the stack did not come up; the command did not run");
    }
    for s in not_up {
        let why = match (&s.state, &s.waiting) {
            (State::Pending, Some(waiting)) => describe::waiting(waiting),
            _ => describe::state_line(s.state, &s.reason),
        };
        eprintln!("  {}: {}", s.name, bringup::ansi::plain(&why));
        if let Some(store) = session.logs().store(s.id.0) {
            let total = store.read().total();
            let page = store.page(total.saturating_sub(LAST_LINES as u64), LAST_LINES);
            for line in page.lines {
                eprintln!("    | {}", bringup::ansi::plain(&line.text));
            }
        }
    }
}
