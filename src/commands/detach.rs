//! `bringup up -d`: the stack runs on in the background, in a bringup of
//! its own, and this one returns once it is up.
//!
//! The background bringup is this binary again (`up --detached`), in a
//! session of its own (`setsid`): no terminal, so closing the terminal
//! does not reach it, and its standard streams go to /dev/null. What it
//! says about itself (bringup's own log, and its errors) goes to a bounded
//! file in the user's state directory, `bringup/logs/<identity>.log`,
//! which survives it; while it runs `bringup logs --bringup` shows the
//! same. Its watchdog stops everything if it is SIGKILLed, as in the
//! foreground.
//!
//! The foreground bringup waits for the stack's record to appear, then
//! for the cold start's verdict over the control socket: exit 0 when every
//! required service is ready, 1 with what did not come up and why (the
//! stack keeps running, for a look), 2 when the config is invalid or the
//! stack already runs.

use std::fs::{File, OpenOptions};
use std::io::{Seek, Write};
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{ExitCode, Stdio};
use std::time::{Duration, Instant};

use bringup::api::Snapshot;
use bringup::api::describe;
use bringup::control::client::Client;
use bringup::control::registry;
use bringup::control::wire::StreamItem;
use bringup::session::Session;

use super::INVALID;

/// How long the background bringup may take to register its stack.
const REGISTER_TIMEOUT: Duration = Duration::from_secs(20);
/// The most the background bringup's own log file holds before it starts
/// over (the previous part is kept as `.log.1`).
pub const LOG_FILE_MAX: u64 = 1024 * 1024;

/// Where the background bringup of config `identity` writes about itself.
pub fn log_path(identity: &str) -> Option<PathBuf> {
    let state = std::env::var_os("XDG_STATE_HOME")
        .map(PathBuf::from)
        .filter(|p| p.is_absolute())
        .or_else(|| std::env::var_os("HOME").map(|home| Path::new(&home).join(".local/state")))?;
    Some(
        state
            .join("bringup")
            .join("logs")
            .join(format!("{identity}.log")),
    )
}

/// What `up -d` does with a stack that did not come up.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OnFailure {
    /// Leave it running, for a look (the default).
    KeepRunning,
    /// Stop it (`--down-on-failure`).
    Down,
}

/// `bringup up -d [SERVICE…]`.
pub fn up_detached(
    explicit: Option<&Path>,
    color: bool,
    services: &[String],
    timeout: Duration,
    on_failure: OnFailure,
) -> ExitCode {
    let plan = match super::load(explicit, color) {
        Ok(plan) => plan,
        Err(code) => return code,
    };
    if let Err(message) = super::run::select(&plan, services) {
        eprintln!("error: {message}");
        return ExitCode::from(INVALID);
    }
    let identity = plan.identity();
    if let Ok(Some(running)) = registry::find(&identity) {
        eprintln!(
            "error: {} is already running (bringup pid {})",
            plan.source.display(),
            running.pid
        );
        eprintln!(
            "  help: `bringup attach` shows its dashboard, `bringup status` its state, `bringup down` stops it"
        );
        return ExitCode::from(INVALID);
    }
    let config = std::fs::canonicalize(&plan.source).unwrap_or_else(|_| plan.source.clone());
    let log = log_path(&identity);
    let stderr = match log.as_deref().map(open_log) {
        Some(Ok(file)) => Stdio::from(file),
        _ => Stdio::null(),
    };
    let exe = match std::env::current_exe() {
        Ok(exe) => exe,
        Err(e) => {
            eprintln!("error: cannot find bringup's own executable: {e}");
            return ExitCode::FAILURE;
        }
    };
    let mut command = std::process::Command::new(exe);
    command
        .arg("-c")
        .arg(&config)
        .args(["up", "--detached"])
        .args(services)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(stderr);
    // SAFETY: setsid is async-signal-safe, and nothing else runs between
    // fork and exec.
    unsafe {
        command.pre_exec(|| {
            nix::unistd::setsid()
                .map(|_| ())
                .map_err(std::io::Error::from)
        });
    }
    let mut child = match command.spawn() {
        Ok(child) => child,
        Err(e) => {
            eprintln!("error: cannot start bringup in the background: {e}");
            return ExitCode::FAILURE;
        }
    };
    // Its record says it runs and where its socket is.
    let deadline = Instant::now() + REGISTER_TIMEOUT;
    let record = loop {
        if let Ok(Some(record)) = registry::find(&identity)
            && record.pid == child.id()
            && record.socket.exists()
        {
            break record;
        }
        if let Ok(Some(status)) = child.try_wait() {
            eprintln!("error: the background bringup ended at once ({status})");
            print_log_tail(log.as_deref());
            return ExitCode::FAILURE;
        }
        if Instant::now() > deadline {
            eprintln!(
                "error: the background bringup (pid {}) did not register its stack",
                child.id()
            );
            print_log_tail(log.as_deref());
            return ExitCode::FAILURE;
        }
        std::thread::sleep(Duration::from_millis(5));
    };
    let Ok(client) = Client::new(&record.socket) else {
        return ExitCode::FAILURE;
    };
    let runtime = match super::runtime() {
        Ok(runtime) => runtime,
        Err(code) => return code,
    };
    runtime.block_on(async {
        let snapshot = match verdict(&client, timeout).await {
            Ok(snapshot) => snapshot,
            Err(message) => {
                eprintln!("error: {message}");
                return ExitCode::from(1);
            }
        };
        let (ready, selected) = snapshot.ready_of_selected();
        let healthy = snapshot
            .summary
            .as_ref()
            .is_some_and(|s| s.all_required_ready);
        if healthy {
            println!(
                "{}: {ready}/{selected} ready, running in the background (bringup pid {})",
                record.project, record.pid
            );
            println!(
                "  `bringup attach` shows its dashboard, `bringup status` its state, `bringup logs -f` follows it, `bringup down` stops it"
            );
            return ExitCode::SUCCESS;
        }
        eprintln!(
            "{}: the stack did not come up; it keeps running so you can look",
            record.project
        );
        for s in snapshot
            .services
            .iter()
            .filter(|s| s.selected && !s.optional && !s.state.is_ready())
        {
            eprintln!(
                "  {}: {}",
                s.name,
                bringup::ansi::plain(&describe::state_line(s.state, &s.reason))
            );
            if let Ok(page) = client
                .logs(&s.name, 0, bringup::control::wire::MAX_PAGE)
                .await
            {
                let skip = page.lines.len().saturating_sub(10);
                for line in &page.lines[skip..] {
                    eprintln!("    | {}", bringup::ansi::plain(&line.text));
                }
            }
        }
        if on_failure == OnFailure::Down {
            stop(&client).await;
            eprintln!("  stopped (--down-on-failure)");
        } else {
            eprintln!("  `bringup status` shows it, `bringup down` stops it");
        }
        ExitCode::from(1)
    })
}

/// Stops the stack and waits for its bringup to end.
async fn stop(client: &Client) {
    let Ok(mut stream) = client.stream().await else {
        return;
    };
    if client
        .command(bringup::api::Command::Shutdown { force: false })
        .await
        .is_err()
    {
        return;
    }
    let deadline = Instant::now() + Duration::from_secs(120);
    while Instant::now() < deadline
        && tokio::time::timeout(Duration::from_secs(1), stream.next())
            .await
            .map_or(true, |item| item.is_some())
    {}
}

/// The snapshot with the cold start's verdict (or the latest after `timeout`).
async fn verdict(client: &Client, timeout: Duration) -> Result<Snapshot, String> {
    let mut stream = client.stream().await.map_err(|e| e.to_string())?;
    let deadline = Instant::now() + timeout;
    let mut latest = None;
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        match tokio::time::timeout(left, stream.next()).await {
            Ok(Some(Ok(StreamItem::Snapshot(snapshot)))) => {
                if snapshot.summary.is_some() {
                    return Ok(*snapshot);
                }
                latest = Some(*snapshot);
            }
            Ok(Some(Ok(StreamItem::Event(_)))) => {}
            Ok(Some(Err(e))) => return Err(e.to_string()),
            Ok(None) => return Err("the background bringup ended before the stack was up".into()),
            Err(_) => {
                return latest.ok_or_else(|| "the stack said nothing".to_string());
            }
        }
    }
}

fn open_log(path: &Path) -> std::io::Result<File> {
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir)?;
    }
    rotate(path);
    OpenOptions::new().create(true).append(true).open(path)
}

/// Keeps the previous log as `.1` once the current one is over the cap.
fn rotate(path: &Path) {
    if std::fs::metadata(path).is_ok_and(|m| m.len() > LOG_FILE_MAX) {
        let _ = std::fs::rename(path, path.with_extension("log.1"));
    }
}

fn print_log_tail(path: Option<&Path>) {
    let Some(path) = path else { return };
    let text = std::fs::read_to_string(path).unwrap_or_default();
    let lines: Vec<&str> = text.lines().collect();
    for line in &lines[lines.len().saturating_sub(20)..] {
        eprintln!("  | {}", bringup::ansi::plain(line));
    }
    eprintln!("  (the whole log: {})", path.display());
}

/// The background bringup's front end: nothing on screen; bringup's own
/// log appended to its file (bounded), until the stack has ended.
pub async fn run_detached(session: &Session, identity: &str) {
    let mut file = log_path(identity).and_then(|path| open_log(&path).ok().map(|f| (path, f)));
    let logs = session.logs().clone();
    let own = bringup::logs::LogHub::OWN;
    // bringup's own lines are written as its events are published: woken
    // by those, not by every line a service prints (which would cost a
    // wake-up per line in a stack nobody watches).
    let mut events = session.events_from_now();
    let mut cursor = 0;
    let mut ended = Box::pin(super::signals::wait_ended(session));
    let mut last = false;
    loop {
        if let (Some((path, f)), Some(store)) = (file.as_mut(), logs.store(own)) {
            let page = store.page(cursor, 1000);
            cursor = page.next;
            for line in page.lines {
                let _ = writeln!(f, "{}", bringup::ansi::plain(&line.text));
            }
            if f.stream_position().is_ok_and(|n| n > LOG_FILE_MAX)
                && let Ok(reopened) = open_log(path)
            {
                *f = reopened;
            }
        }
        if last {
            break;
        }
        tokio::select! {
            // One more round for what the shutdown said.
            () = &mut ended => last = true,
            event = events.recv() => {
                if matches!(event, Err(tokio::sync::broadcast::error::RecvError::Closed)) {
                    last = true;
                }
            }
        }
    }
}
