//! The processes of a run, found by the marker in their environment.
//!
//! Process groups catch a service's children, but not a daemon that left
//! its group (`setsid`), nor a service spawned in the instant bringup died,
//! before anyone could note its group. Environments are inherited, though:
//! every service gets `BRINGUP_RUN=<id>`, unique to the run, and so does
//! everything it starts. This module finds those processes in /proc.
//!
//! It only ever looks at processes of the same effective user that started
//! after the looking process did (nothing older can carry the marker, and
//! the filter is cheap: one small read before the environment is read at
//! all), and it signals a process only while its start time still matches
//! the one it was found with, so a pid reused in the meantime is left
//! alone. Running as root changes nothing: other users' processes are
//! never touched.

use std::ffi::OsStr;
use std::fmt;
use std::io;
use std::time::{Duration, Instant};

use nix::sys::signal::{Signal, kill};
use nix::unistd::Pid;
use procfs::process::Process;

/// The environment variable that marks every process of a run.
pub const RUN_VARIABLE: &str = "BRINGUP_RUN";

/// A process carrying a run's marker.
#[derive(Debug, Clone)]
pub struct Marked {
    pub pid: i32,
    /// Its start time (clock ticks since boot): with the pid, its identity.
    started: u64,
    pub command: String,
}

impl fmt::Display for Marked {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} `{}`", self.pid, self.command)
    }
}

impl Marked {
    /// The process `pid` that started at `started` (clock ticks since boot).
    pub fn identified(pid: i32, started: u64, command: String) -> Self {
        Self {
            pid,
            started,
            command,
        }
    }

    /// Its start time, which with the pid identifies it.
    pub fn started(&self) -> u64 {
        self.started
    }

    /// Still running (not a zombie) and still the same process.
    pub fn alive(&self) -> bool {
        Process::new(self.pid)
            .and_then(|p| p.stat())
            .is_ok_and(|stat| stat.starttime == self.started && !matches!(stat.state, 'Z' | 'X'))
    }

    pub fn signal(&self, signal: Signal) {
        if self.alive() {
            let _ = kill(Pid::from_raw(self.pid), signal);
        }
    }
}

/// Every process of this user, started after this one, whose environment
/// has `BRINGUP_RUN=run`. Err when /proc cannot be read at all.
pub fn find(run: &str) -> io::Result<Vec<Marked>> {
    let me = Process::myself().map_err(io::Error::other)?;
    let since = me.stat().map_err(io::Error::other)?.starttime;
    let uid = nix::unistd::geteuid().as_raw();
    let all = procfs::process::all_processes().map_err(io::Error::other)?;
    let marked = all
        .flatten()
        .filter(|p| p.pid != me.pid && p.uid().is_ok_and(|owner| owner == uid))
        .filter_map(|p| {
            let stat = p.stat().ok()?;
            if stat.starttime < since || matches!(stat.state, 'Z' | 'X') {
                return None;
            }
            let env = p.environ().ok()?;
            (env.get(OsStr::new(RUN_VARIABLE))? == run).then(|| Marked {
                pid: p.pid,
                started: stat.starttime,
                command: p
                    .cmdline()
                    .ok()
                    .filter(|argv| !argv.is_empty())
                    .map_or(stat.comm, |argv| argv.join(" ")),
            })
        })
        .collect();
    Ok(marked)
}

/// Stops what is left of run `run` once every service has stopped: SIGTERM,
/// up to `grace` to exit, then SIGKILL, also for any process they started
/// meanwhile. Returns what it found.
///
/// This blocks for as long as a leftover takes to exit (at most `grace`),
/// which only happens when there is one.
pub fn stop(run: &str, grace: Duration) -> io::Result<Vec<Marked>> {
    let found = find(run)?;
    if found.is_empty() {
        return Ok(found);
    }
    for process in &found {
        process.signal(Signal::SIGTERM);
    }
    wait_gone(&found, grace);
    for process in found.iter().chain(find(run)?.iter()) {
        process.signal(Signal::SIGKILL);
    }
    Ok(found)
}

/// Waits up to `grace` for every one of `processes` to be gone.
pub fn wait_gone(processes: &[Marked], grace: Duration) {
    let deadline = Instant::now() + grace;
    while Instant::now() < deadline && processes.iter().any(Marked::alive) {
        std::thread::sleep(Duration::from_millis(10));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_a_marked_child_and_stops_it_but_not_the_unmarked() {
        let run = format!("test-{}", std::process::id());
        let spawn = |marked: bool| {
            let mut command = std::process::Command::new("sleep");
            command.arg("30");
            if marked {
                command.env(RUN_VARIABLE, &run);
            }
            command.spawn().expect("sleep")
        };
        let (mut marked, mut plain) = (spawn(true), spawn(false));
        let found = find(&run).expect("/proc");
        assert_eq!(
            found.iter().map(|m| m.pid).collect::<Vec<_>>(),
            [marked.id() as i32]
        );
        assert_eq!(found[0].command, "sleep 30");
        let stopped = stop(&run, Duration::from_secs(5)).expect("/proc");
        assert_eq!(stopped.len(), 1);
        assert!(marked.wait().is_ok_and(|status| !status.success()));
        assert!(
            matches!(plain.try_wait(), Ok(None)),
            "the unmarked one runs on"
        );
        let _ = plain.kill();
        let _ = plain.wait();
    }
}
