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
//! the processes carrying it (see [`leftovers`]). A bringup that stopped its
//! stack itself says so (`.`) before closing the pipe: it has looked for
//! leftovers already, so the watchdog does not search again.
//!
//! A daemon that rewrote its process title has no readable marker any
//! more. bringup is a child subreaper, so such a daemon is re-parented to
//! it and adopted ([`super::subreaper`]); bringup tells the watchdog its
//! pid and start time (`*PID START`) and when it is gone (`~PID`). The
//! start time guards against a pid reused after bringup died.

use std::collections::{BTreeMap, BTreeSet};
use std::io::PipeWriter;
use std::io::{self, BufRead, Write};
use std::os::unix::process::CommandExt;
use std::path::Path;
use std::process::{Child, Stdio};
use std::sync::Mutex;
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use nix::sys::signal::{SigHandler, Signal, signal};

use crate::process::child;
use crate::process::leftovers::{self, Marked};
use crate::process::{group_alive, signal_group};

/// How long groups get between SIGTERM and SIGKILL after bringup died.
pub const GRACE: Duration = Duration::from_secs(2);
/// Groups and adopted processes remembered at most (a bound on memory; a
/// real stack has a few dozen).
const MAX_TRACKED: usize = 65_536;

/// bringup's end of the watchdog.
pub struct Watchdog {
    stdin: Mutex<Option<PipeWriter>>,
    /// The thread that starts the watchdog process and hands it over.
    starting: Mutex<Option<JoinHandle<io::Result<Child>>>>,
}

impl Watchdog {
    /// Starts `bringup __watchdog` from the bringup executable at `exe`,
    /// for the run whose services carry `BRINGUP_RUN=run`.
    ///
    /// Starting it takes a fork (for `setsid`) and the wait for its exec:
    /// a millisecond or more that bringup's own start need not spend. So a
    /// thread of its own starts it, while messages already go into its
    /// pipe (64 KiB of buffer, far more than a start writes); a watchdog
    /// that cannot start closes the pipe, and bringup carries on without.
    pub fn start(exe: &Path, run: &str) -> io::Result<Self> {
        let (read, write) = std::io::pipe()?;
        let mut command = std::process::Command::new(exe);
        command
            .arg("__watchdog")
            .stdin(Stdio::from(read))
            .stdout(Stdio::null())
            .stderr(Stdio::null());
        // SAFETY: setsid is async-signal-safe; nothing else runs before exec.
        unsafe {
            command.pre_exec(|| {
                nix::unistd::setsid().map_err(io::Error::from)?;
                Ok(())
            });
        }
        let starting = std::thread::Builder::new()
            .name("bringup-watchdog".into())
            .spawn(move || {
                // Noted as bringup's own, or the subreaper would take the
                // watchdog (in a session of its own) for an escaped daemon.
                let started = child::register_slow(|| command.spawn(), |c| c.id() as i32);
                if let Err(e) = &started {
                    tracing::warn!(target: "bringup", "could not start the watchdog ({e}); if bringup is killed with SIGKILL, grandchildren of services may survive");
                }
                started
            })?;
        let watchdog = Self {
            stdin: Mutex::new(Some(write)),
            starting: Mutex::new(Some(starting)),
        };
        watchdog.send(&format!("={run}\n"));
        Ok(watchdog)
    }

    /// Asks the watchdog to clean up group `pgid` if bringup dies.
    pub fn guard(&self, pgid: u32) {
        self.send(&format!("+{pgid}\n"));
    }

    /// The group is gone; forget it.
    pub fn release(&self, pgid: u32) {
        self.send(&format!("-{pgid}\n"));
    }

    /// Asks the watchdog to stop process `pid` (started at `started`, in
    /// clock ticks since boot) if bringup dies: an adopted escapee.
    pub fn adopt(&self, pid: i32, started: u64) {
        self.send(&format!("*{pid} {started}\n"));
    }

    /// The adopted process `pid` is gone; forget it.
    pub fn disown(&self, pid: i32) {
        self.send(&format!("~{pid}\n"));
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

    /// Says the stack stopped cleanly, closes the pipe (nothing left to
    /// guard) and reaps the watchdog.
    pub fn finish(self) {
        self.send(".\n");
        self.stdin.lock().unwrap_or_else(|p| p.into_inner()).take();
        let starting = self
            .starting
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .take();
        if let Some(Ok(Ok(mut process))) = starting.map(JoinHandle::join) {
            let _ = process.wait();
            child::forget(process.id() as i32);
        }
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
    let mut adopted = BTreeMap::new();
    let mut run = None;
    let mut clean = false;
    for line in io::stdin().lock().lines() {
        let Ok(line) = line else { break };
        let (sign, rest) = line.split_at(line.len().min(1));
        let rest = rest.trim();
        match (sign, rest.parse::<u32>()) {
            ("+", Ok(pgid)) if groups.len() < MAX_TRACKED => {
                groups.insert(pgid);
            }
            ("-", Ok(pgid)) => {
                groups.remove(&pgid);
            }
            ("*", _) if adopted.len() < MAX_TRACKED => {
                let mut words = rest.split(' ').map(str::parse::<u64>);
                if let (Some(Ok(pid)), Some(Ok(started))) = (words.next(), words.next())
                    && let Ok(pid) = i32::try_from(pid)
                {
                    adopted.insert(pid, started);
                }
            }
            ("~", _) => {
                if let Ok(pid) = rest.parse::<i32>() {
                    adopted.remove(&pid);
                }
            }
            ("=", _) if !rest.is_empty() => run = Some(rest.to_string()),
            (".", _) => clean = true,
            _ => {}
        }
    }
    let adopted: Vec<Marked> = adopted
        .into_iter()
        .map(|(pid, started)| Marked::identified(pid, started, String::new()))
        .filter(Marked::alive)
        .collect();
    clean_up(&groups, &adopted, run.as_deref().filter(|_| !clean));
    0
}

fn clean_up(groups: &BTreeSet<u32>, adopted: &[Marked], run: Option<&str>) {
    let alive: Vec<u32> = groups.iter().copied().filter(|&g| group_alive(g)).collect();
    // Unreadable /proc: the groups are all there is to go on.
    let mut stragglers = run.map_or_else(Vec::new, |run| leftovers::find(run).unwrap_or_default());
    stragglers.extend(adopted.iter().cloned());
    if alive.is_empty() && stragglers.is_empty() {
        return;
    }
    for &pgid in &alive {
        let _ = signal_group(pgid, Signal::SIGTERM);
    }
    for process in &stragglers {
        process.signal(Signal::SIGTERM);
    }
    let deadline = Instant::now() + GRACE;
    while Instant::now() < deadline && alive.iter().any(|&g| group_alive(g)) {
        std::thread::sleep(Duration::from_millis(10));
    }
    leftovers::wait_gone(
        &stragglers,
        deadline.saturating_duration_since(Instant::now()),
    );
    for &pgid in &alive {
        let _ = signal_group(pgid, Signal::SIGKILL);
    }
    // Searched again: a dying service may have started something meanwhile.
    let late = run.map_or_else(Vec::new, |run| leftovers::find(run).unwrap_or_default());
    for process in stragglers.iter().chain(&late) {
        process.signal(Signal::SIGKILL);
    }
}
