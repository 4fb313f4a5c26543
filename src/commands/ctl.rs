//! The control verbs: `status`, `restart`, `stop`, `start`, `kill`,
//! `skip`, `wait`, `logs`, `attach`, `down` and `ls`, each asking the bringup that runs the
//! stack of the config (found the way `up` finds it) over its control
//! socket.
//!
//! Exit codes: 0 done (and, for verbs that wait, the service got where it
//! was asked to go); 1 it did not (refused, failed, timed out: the reason
//! is printed); 2 no such stack, no such service, or bad usage.
//!
//! Here: finding the stack, `status`, `down` and `ls`; the verbs that act
//! and wait are in `act`, `logs` in `logs`, the dashboard in `attach`.

use std::path::Path;
use std::process::ExitCode;
use std::time::Duration;

use bringup::api::describe;
use bringup::api::{Command, Outcome, Snapshot, StackInfo};
use bringup::config::ServiceId;
use bringup::control::client::{Client, ClientError};
use bringup::control::registry::{self, Record};

use super::{INVALID, runtime};

mod act;
mod attach;
mod logs;

pub use act::{Goal, act, wait};
pub use attach::attach;
pub use logs::{LogsRequest, logs};

/// How long a stack that is registered but has not opened its socket yet
/// (it has just started) is waited for.
const STARTING: Duration = Duration::from_secs(5);

/// Exit code when the stack did not do what was asked.
const FAILED: u8 = 1;

/// The running stack of the config, or exit 2 with how to start one.
fn connect(explicit: Option<&Path>, color: bool) -> Result<(Client, Record), ExitCode> {
    connect_plan(explicit, color).map(|(client, record, _)| (client, record))
}

/// [`connect`], with the config it found (for its `[ui]`).
fn connect_plan(
    explicit: Option<&Path>,
    color: bool,
) -> Result<(Client, Record, bringup::config::Plan), ExitCode> {
    let (plan, identity) = find_plan(explicit, color)?;
    let record = match registry::find(&identity) {
        Ok(Some(record)) => record,
        Ok(None) if let Some(record) = renamed(&plan) => record,
        Ok(None) => {
            eprintln!("error: no stack of {} is running", plan.source.display());
            eprintln!("  help: start it with `bringup up` (in another terminal or tmux pane)");
            return Err(ExitCode::from(INVALID));
        }
        Err(e) => {
            eprintln!("error: cannot look for running stacks: {e}");
            return Err(ExitCode::from(INVALID));
        }
    };
    // A stack registers before it starts its engine and opens its socket:
    // one asked right after `bringup up` began is given a moment.
    let deadline = std::time::Instant::now() + STARTING;
    while !record.socket.exists() && std::time::Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(10));
    }
    match Client::new(&record.socket) {
        Ok(client) => Ok((client, record, plan)),
        Err(e) => {
            eprintln!("error: {e}");
            Err(ExitCode::from(INVALID))
        }
    }
}

/// The stack of `plan`'s file running under another project name (the
/// file's `[project] name` was edited since it started), said as such.
fn renamed(plan: &bringup::config::Plan) -> Option<Record> {
    let config = std::fs::canonicalize(&plan.source).ok()?;
    let record = registry::of_config(&config).ok()?.into_iter().next()?;
    eprintln!(
        "note: the stack of {} runs as project `{}`; the file now names `{}` (`bringup down` and `bringup up` apply the new name)",
        plan.source.display(),
        bringup::ansi::plain(&record.project),
        bringup::ansi::plain(&plan.project.name)
    );
    Some(record)
}

/// The config (found the way `up` finds it) and its identity. With no
/// `-c` and no config file here, a demo started in this directory
/// (`bringup demo`, then detached) is the stack meant.
fn find_plan(
    explicit: Option<&Path>,
    color: bool,
) -> Result<(bringup::config::Plan, String), ExitCode> {
    if explicit.is_none()
        && let Ok(cwd) = std::env::current_dir()
        && bringup::config::load::discover(None, &cwd).is_err()
        && let Ok((plan, identity)) = super::run::demo_plan(&cwd)
        && matches!(registry::find(&identity), Ok(Some(_)))
    {
        return Ok((plan, identity));
    }
    let plan = super::load(explicit, color)?;
    let identity = plan.identity();
    Ok((plan, identity))
}

fn unreachable(e: &ClientError) -> ExitCode {
    eprintln!("error: {e}");
    if matches!(e, ClientError::Unreachable { .. }) {
        eprintln!(
            "  help: the stack's bringup is registered but does not answer: `bringup ls` lists what runs; if it is wedged, stop it with `kill` on its pid (its watchdog stops the services)"
        );
    }
    ExitCode::from(INVALID)
}

/// Runs `verb` with a client of the config's running stack (exit 2, with
/// how to start one, when none runs), on a runtime of its own.
fn on_stack<Verb, Done>(explicit: Option<&Path>, color: bool, verb: Verb) -> ExitCode
where
    Verb: FnOnce(Client, Record) -> Done,
    Done: std::future::Future<Output = ExitCode>,
{
    let (client, record) = match connect(explicit, color) {
        Ok(found) => found,
        Err(code) => return code,
    };
    let runtime = match runtime() {
        Ok(runtime) => runtime,
        Err(code) => return code,
    };
    runtime.block_on(verb(client, record))
}

/// Names → ids, or exit 2 naming what the stack has.
fn resolve(info: &StackInfo, names: &[String]) -> Result<Vec<ServiceId>, ExitCode> {
    bringup::control::act::resolve(info, names).map_err(|e| {
        eprintln!("error: {e}");
        ExitCode::from(INVALID)
    })
}

/// `bringup status [--json]`.
pub fn status(explicit: Option<&Path>, color: bool, json: bool) -> ExitCode {
    on_stack(explicit, color, |client, _| async move {
        let (hello, snapshot) = match tokio::try_join!(client.hello(), client.snapshot()) {
            Ok(both) => both,
            Err(e) => return unreachable(&e),
        };
        if json {
            let value = serde_json::json!({
                "protocol": hello.protocol,
                "pid": hello.pid,
                "uptime_ms": hello.uptime_ms,
                "project": hello.info.project,
                "config": hello.info.config,
                "phase": snapshot.phase,
                "services": snapshot.services,
                "summary": snapshot.summary,
            });
            println!("{value}");
        } else {
            print_status(&hello.info, &snapshot, hello.pid);
        }
        ExitCode::SUCCESS
    })
}

fn print_status(info: &StackInfo, snapshot: &Snapshot, pid: u32) {
    let (ready, selected) = snapshot.ready_of_selected();
    println!(
        "{} ({}): {ready}/{selected} ready, bringup pid {pid}",
        info.project, info.config
    );
    let width = snapshot
        .services
        .iter()
        .map(|s| bringup::text::width(&s.name))
        .max()
        .unwrap_or(4)
        .max(7);
    println!(
        "{:width$}  {:10}  {:>5}  {:>7}  WHY",
        "SERVICE", "STATE", "PORT", "PID"
    );
    for s in &snapshot.services {
        let port = s.port.map_or_else(|| "-".to_string(), |p| p.to_string());
        let pid = s.pid.map_or_else(|| "-".to_string(), |p| p.to_string());
        let why = match &s.waiting {
            Some(waiting) => describe::waiting(waiting),
            None => describe::reason(&s.reason),
        };
        println!(
            "{}  {:10}  {port:>5}  {pid:>7}  {}",
            bringup::text::pad_right(&bringup::ansi::plain(&s.name), width),
            s.state.as_str(),
            bringup::ansi::plain(&why)
        );
    }
}

/// `bringup down [--force]`: stops the stack, dependents first, and
/// returns once its bringup has ended.
pub fn down(explicit: Option<&Path>, color: bool, force: bool, timeout: Duration) -> ExitCode {
    use bringup::control::act::{ActError, Down};
    on_stack(explicit, color, |client, record| async move {
        let gone = || !process_runs(record.pid);
        match bringup::control::act::down(&client, force, timeout, gone).await {
            Ok(Down::Stopped) => {
                println!("stopped");
                ExitCode::SUCCESS
            }
            Ok(Down::Refused(why)) => {
                eprintln!("{why}");
                ExitCode::from(FAILED)
            }
            Ok(Down::TimedOut) => {
                eprintln!(
                    "error: the stack did not stop within {}; `bringup down --force` kills what is left",
                    describe::fmt_duration(timeout)
                );
                ExitCode::from(FAILED)
            }
            Ok(Down::Lingering) => {
                eprintln!(
                    "error: the services are down but the stack's bringup (pid {pid}) has not ended yet; `bringup ls` shows whether it has since, `kill {pid}` ends it",
                    pid = record.pid
                );
                ExitCode::from(FAILED)
            }
            Err(ActError::Client(e)) => unreachable(&e),
            Err(e) => {
                eprintln!("error: {e}");
                ExitCode::from(FAILED)
            }
        }
    })
}

/// `bringup reload`: the running stack reads its config again and
/// applies what changed; what it did ("config reloaded: cache added; api
/// restarts; …"), or its refusal (errors, or why not), is printed.
pub fn reload(explicit: Option<&Path>, color: bool) -> ExitCode {
    on_stack(explicit, color, |client, _record| async move {
        // Listening before asking: the stack says what it did as an event.
        let stream = client.stream().await.ok();
        match client.command(Command::Reload).await {
            Ok(Outcome::Done) => {
                let said = match stream {
                    Some(stream) => what_reloaded(stream).await,
                    None => None,
                };
                println!("{}", said.as_deref().unwrap_or("reloaded"));
                ExitCode::SUCCESS
            }
            Ok(outcome) => {
                let said = describe::outcome(None, &outcome).unwrap_or_default();
                eprintln!("{}", bringup::ansi::plain(&said));
                ExitCode::from(FAILED)
            }
            Err(e) => unreachable(&e),
        }
    })
}

/// The words of the `reloaded` event on `stream`, if it comes soon.
async fn what_reloaded(
    mut stream: bringup::control::client::Lines<bringup::control::wire::StreamItem>,
) -> Option<String> {
    use bringup::api::EventKind;
    use bringup::control::wire::StreamItem;
    let look = async {
        while let Some(item) = stream.next().await {
            if let Ok(StreamItem::Event(event)) = item
                && matches!(event.kind, EventKind::Reloaded { .. })
            {
                let described = describe::describe(&event.kind)?;
                return Some(bringup::ansi::plain(&described.message).into_owned());
            }
        }
        None
    };
    tokio::time::timeout(Duration::from_secs(5), look)
        .await
        .ok()
        .flatten()
}

/// Whether `pid` still runs: a zombie (ended, not yet reaped by its
/// parent) does not.
fn process_runs(pid: u32) -> bool {
    let Ok(pid) = i32::try_from(pid) else {
        return false;
    };
    procfs::process::Process::new(pid)
        .and_then(|p| p.stat())
        .is_ok_and(|stat| !matches!(stat.state, 'Z' | 'X'))
}

/// `bringup ls [--json]`: every running stack of this user.
pub fn ls(json: bool) -> ExitCode {
    let records = match registry::list() {
        Ok(records) => records,
        Err(e) => {
            eprintln!("error: cannot look for running stacks: {e}");
            return ExitCode::from(INVALID);
        }
    };
    if json {
        match serde_json::to_string(&records) {
            Ok(text) => println!("{text}"),
            Err(e) => {
                eprintln!("error: {e}");
                return ExitCode::FAILURE;
            }
        }
        return ExitCode::SUCCESS;
    }
    if records.is_empty() {
        println!("no stack is running");
        return ExitCode::SUCCESS;
    }
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as u64);
    println!("{:<20}  {:>7}  {:>8}  CONFIG", "PROJECT", "PID", "UP FOR");
    for r in records {
        let up = Duration::from_millis(now.saturating_sub(r.started_unix_ms));
        println!(
            "{:<20}  {:>7}  {:>8}  {}",
            bringup::ansi::plain(&r.project),
            r.pid,
            bringup::text::uptime(up),
            bringup::ansi::plain(&r.config.display().to_string())
        );
    }
    ExitCode::SUCCESS
}
