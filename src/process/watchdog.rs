//! The watchdog: makes `kill -9 bringup` leave nothing behind.
//!
//! A parent-death signal reaches a service's direct child only; the
//! grandchildren in its process group live on when bringup is killed with
//! SIGKILL and cannot clean up. So bringup starts one small helper process
//! (`bringup __watchdog`, in its own session so terminal signals and a
//! closed tmux pane do not reach it) and tells it, over a pipe, every
//! process group it starts (`+PGID`) and reaps (`-PGID`). When the pipe
//! reaches end of file — bringup is gone, however it ended — the watchdog
//! sends SIGTERM to every group still registered, waits up to
//! [`GRACE`], SIGKILLs what is left and exits. The pipe's write end is
//! close-on-exec, so no service holds it open by accident.
//!
//! Groups alone leave two gaps: a service spawned in the instant before
//! bringup died, before its group was registered (and before its
//! parent-death signal was set up), and a grandchild that left its group
//! (a daemon calling `setsid`). So every service also gets a run marker in
//! its environment, `BRINGUP_RUN=<id>`, which its children inherit; the
//! watchdog learns it first (`=ID`) and, when bringup is gone, also signals
//! every process of this user carrying it.

use std::collections::BTreeSet;
use std::io::{self, BufRead, Write};
use std::os::unix::process::CommandExt;
use std::path::Path;
use std::process::{Child, ChildStdin, Stdio};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use nix::sys::signal::{SigHandler, Signal, signal};

use crate::process::{group_alive, signal_group};

/// How long groups get between SIGTERM and SIGKILL after bringup died.
pub const GRACE: Duration = Duration::from_secs(2);

/// The environment variable that marks every process of a run.
pub const RUN_VARIABLE: &str = "BRINGUP_RUN";

/// bringup's end of the watchdog.
pub struct Watchdog {
    stdin: Mutex<Option<ChildStdin>>,
    child: Child,
}

impl Watchdog {
    /// Starts `bringup __watchdog` from the bringup executable at `exe`,
    /// for the run whose services carry `BRINGUP_RUN=run`.
    pub fn start(exe: &Path, run: &str) -> io::Result<Self> {
        let mut command = std::process::Command::new(exe);
        command
            .arg("__watchdog")
            .stdin(Stdio::piped())
            .stdout(Stdio::null())
            .stderr(Stdio::null());
        // SAFETY: setsid is async-signal-safe; nothing else runs before exec.
        unsafe {
            command.pre_exec(|| {
                nix::unistd::setsid().map_err(io::Error::from)?;
                Ok(())
            });
        }
        let mut child = command.spawn()?;
        let stdin = child.stdin.take();
        let watchdog = Self {
            stdin: Mutex::new(stdin),
            child,
        };
        watchdog.send(&format!("={run}\n"));
        Ok(watchdog)
    }

    /// The watchdog's pid.
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Asks the watchdog to clean up group `pgid` if bringup dies.
    pub fn guard(&self, pgid: u32) {
        self.send(&format!("+{pgid}\n"));
    }

    /// The group is gone; forget it.
    pub fn release(&self, pgid: u32) {
        self.send(&format!("-{pgid}\n"));
    }

    fn send(&self, line: &str) {
        let mut stdin = self.stdin.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(pipe) = stdin.as_mut()
            && pipe.write_all(line.as_bytes()).is_err()
        {
            // The watchdog died; the parent-death signal still covers the
            // direct children, so carry on without it.
            *stdin = None;
        }
    }

    /// Closes the pipe (nothing left to guard) and reaps the watchdog.
    pub fn finish(mut self) {
        self.stdin.lock().unwrap_or_else(|p| p.into_inner()).take();
        let _ = self.child.wait();
    }
}

/// The watchdog process itself (`bringup __watchdog`). Returns its exit code.
pub fn run() -> i32 {
    for sig in [
        Signal::SIGINT,
        Signal::SIGHUP,
        Signal::SIGTERM,
        Signal::SIGPIPE,
        Signal::SIGQUIT,
    ] {
        // SAFETY: installing SIG_IGN has no handler code to be unsafe.
        let _ = unsafe { signal(sig, SigHandler::SigIgn) };
    }
    let mut groups = BTreeSet::new();
    let mut run = None;
    for line in io::stdin().lock().lines() {
        let Ok(line) = line else { break };
        let (sign, rest) = line.split_at(line.len().min(1));
        match (sign, rest.trim().parse::<u32>()) {
            ("+", Ok(pgid)) => {
                groups.insert(pgid);
            }
            ("-", Ok(pgid)) => {
                groups.remove(&pgid);
            }
            ("=", _) if !rest.trim().is_empty() => run = Some(rest.trim().to_string()),
            _ => {}
        }
    }
    clean_up(&groups, run.as_deref());
    0
}

fn clean_up(groups: &BTreeSet<u32>, run: Option<&str>) {
    let marked = || run.map_or_else(Vec::new, marked_processes);
    let alive: Vec<u32> = groups.iter().copied().filter(|&g| group_alive(g)).collect();
    let stragglers = marked();
    if alive.is_empty() && stragglers.is_empty() {
        return;
    }
    for &pgid in &alive {
        let _ = signal_group(pgid, Signal::SIGTERM);
    }
    for &pid in &stragglers {
        let _ = nix::sys::signal::kill(nix::unistd::Pid::from_raw(pid), Signal::SIGTERM);
    }
    let deadline = Instant::now() + GRACE;
    while Instant::now() < deadline
        && (alive.iter().any(|&g| group_alive(g)) || !marked().is_empty())
    {
        std::thread::sleep(Duration::from_millis(10));
    }
    for &pgid in &alive {
        let _ = signal_group(pgid, Signal::SIGKILL);
    }
    // Those marked now include any a dying service forked in the meantime.
    for pid in marked() {
        let _ = nix::sys::signal::kill(nix::unistd::Pid::from_raw(pid), Signal::SIGKILL);
    }
}

/// Stops the processes of run `run` still alive once every service has
/// stopped: those that left their service's process group (a daemon that
/// called `setsid`, say). SIGTERM, up to [`GRACE`] to exit, then SIGKILL.
/// Returns them as "PID `command`", for the user to hear about.
pub fn stop_leftovers(run: &str) -> Vec<String> {
    let leftovers = marked_processes(run);
    if leftovers.is_empty() {
        return Vec::new();
    }
    let described = leftovers
        .iter()
        .map(|&pid| {
            let command = std::fs::read(format!("/proc/{pid}/cmdline"))
                .map(|raw| {
                    String::from_utf8_lossy(&raw)
                        .replace('\0', " ")
                        .trim()
                        .to_string()
                })
                .unwrap_or_default();
            format!("{pid} `{command}`")
        })
        .collect();
    for &pid in &leftovers {
        let _ = nix::sys::signal::kill(nix::unistd::Pid::from_raw(pid), Signal::SIGTERM);
    }
    let deadline = Instant::now() + GRACE;
    while Instant::now() < deadline && !marked_processes(run).is_empty() {
        std::thread::sleep(Duration::from_millis(10));
    }
    for pid in marked_processes(run) {
        let _ = nix::sys::signal::kill(nix::unistd::Pid::from_raw(pid), Signal::SIGKILL);
    }
    described
}

/// This user's processes (zombies aside) whose environment carries
/// `BRINGUP_RUN=run`; other users' environments cannot be read anyway.
fn marked_processes(run: &str) -> Vec<i32> {
    let me = std::process::id() as i32;
    let Ok(all) = procfs::process::all_processes() else {
        return Vec::new();
    };
    all.flatten()
        .filter(|process| process.pid != me)
        .filter(|process| {
            process
                .stat()
                .is_ok_and(|stat| stat.state != 'Z' && stat.state != 'X')
        })
        .filter(|process| {
            process.environ().is_ok_and(|env| {
                env.get(std::ffi::OsStr::new(RUN_VARIABLE))
                    .is_some_and(|value| value == run)
            })
        })
        .map(|process| process.pid)
        .collect()
}
