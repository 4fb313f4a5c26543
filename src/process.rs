//! One child process: spawn it in its own process group, capture its
//! output, signal its group, reap it and whatever it left behind.
//!
//! Every service is the leader of a new process group, so a signal to the
//! group reaches its children and grandchildren too (`sh -c` wrappers,
//! worker pools). On Linux the child also gets a parent-death signal, and
//! the [`watchdog`] kills registered groups if bringup itself is killed
//! with SIGKILL, so no way of ending bringup leaves processes behind.
//! Descendants that leave the group (daemons) are re-parented to bringup,
//! a child subreaper, and stopped with their service ([`subreaper`]).
//!
//! The parent-death signal fires when the *thread* that started the child
//! exits, not the process. The engine therefore spawns from its own
//! long-lived thread, which ends only after every service has stopped.
//! How the child is started — no fork, no extra exec — is in [`launch`];
//! how it is waited for, in [`child`].

pub mod child;
pub mod command;
pub mod exit;
pub mod launch;
pub mod launcher;
pub mod leftovers;
pub mod limits;
pub mod output;
pub mod subreaper;
pub mod watchdog;

pub use child::{Child, Owner};
pub use command::shell_argv;
pub use subreaper::{Adopted, Subreaper};

use std::ffi::{OsStr, OsString};
use std::io;
use std::os::fd::OwnedFd;
use std::path::PathBuf;
use std::time::Duration;

use nix::sys::signal::{Signal, killpg};
use nix::unistd::Pid;
use tokio::net::unix::pipe;

use exit::Exit;

/// What to run and how.
#[derive(Debug, Clone)]
pub struct SpawnRequest {
    /// The program and its arguments; `sh -c` commands come as
    /// `["sh", "-c", text]`.
    pub argv: Vec<String>,
    pub cwd: PathBuf,
    /// Set on top of bringup's own environment (later entries win).
    pub env: Vec<(String, String)>,
    /// Removed from the inherited environment first.
    pub env_remove: Vec<String>,
    /// A listening socket to hand over as fd 3 (systemd socket activation).
    pub handoff: Option<Handoff>,
    /// The service this is the main process of (None for checks): what
    /// its escaped descendants are attributed to.
    pub owner: Option<Owner>,
}

/// A socket passed to the child the way systemd does: as fd 3, with
/// `LISTEN_FDS=1`, `LISTEN_PID` (the child's own pid) and `LISTEN_FDNAMES`.
#[derive(Debug, Clone)]
pub struct Handoff {
    pub fd: std::os::fd::RawFd,
    pub name: String,
}

/// A spawned child and the read ends of its output.
pub struct Spawned {
    pub child: Child,
    pub pid: u32,
    pub stdout: Option<pipe::Receiver>,
    pub stderr: Option<pipe::Receiver>,
}

/// A started child whose output pipes are not tied to any runtime yet: what
/// [`launch`] returns, on whatever thread it ran (see [`launcher`]).
pub struct Launched {
    pub child: Child,
    pub pid: u32,
    stdout: OwnedFd,
    stderr: OwnedFd,
}

impl Launched {
    /// Ties the output pipes to the current tokio runtime.
    pub fn attach(self) -> io::Result<Spawned> {
        let pipes = pipe::Receiver::from_owned_fd(self.stdout)
            .and_then(|out| Ok((out, pipe::Receiver::from_owned_fd(self.stderr)?)));
        match pipes {
            Ok((stdout, stderr)) => Ok(Spawned {
                child: self.child,
                pid: self.pid,
                stdout: Some(stdout),
                stderr: Some(stderr),
            }),
            Err(e) => {
                // Running, but unwatchable: end it (the table reaps it later).
                let _ = signal_group(self.pid, Signal::SIGKILL);
                Err(e)
            }
        }
    }
}

/// Spawns `request` as the leader of a new process group, stdin from
/// /dev/null and stdout/stderr piped, with a parent-death signal. Must be
/// called within a tokio runtime (the pipes are registered with it).
pub fn spawn(request: &SpawnRequest) -> io::Result<Spawned> {
    launch(request)?.attach()
}

/// Starts `request` on the calling thread, which sleeps until the child
/// has called `execve`; the parent-death signal is tied to this thread
/// (see [`launch`](mod@launch)), so it must outlive the child.
pub fn launch(request: &SpawnRequest) -> io::Result<Launched> {
    let Some(program) = request.argv.first() else {
        return Err(io::Error::new(io::ErrorKind::InvalidInput, "empty command"));
    };
    let child_path = request
        .env
        .iter()
        .rev()
        .find(|(key, _)| key == "PATH")
        .map(|(_, value)| value.as_str());
    let path = command::resolve(program, &request.cwd, child_path)?;
    // The child changes directory before it execs.
    let path = std::path::absolute(&path)?;
    let env = environment(request);
    let launch = launch::Launch {
        path: &path,
        argv: &request.argv,
        cwd: &request.cwd,
        env: &env,
        listen_pid: request.handoff.is_some(),
        handoff: request.handoff.as_ref().map(|h| h.fd),
        nofile: limits::for_children(),
    };
    child::reap_abandoned();
    let launched = child::register(request.owner.clone(), || launch::spawn(&launch), |l| l.pid)?;
    subreaper::poke();
    let child = Child::new(launched.pid, launched.pidfd, request.owner.clone());
    let pid = child.pid();
    Ok(Launched {
        child,
        pid,
        stdout: launched.stdout,
        stderr: launched.stderr,
    })
}

/// bringup's environment without `env_remove`, with `env` (and the
/// socket-activation variables) set on top.
fn environment(request: &SpawnRequest) -> Vec<(OsString, OsString)> {
    let removed = |key: &OsStr| {
        request.env_remove.iter().any(|r| OsStr::new(r) == key)
            // The launcher adds LISTEN_PID itself, with the child's pid.
            || (request.handoff.is_some() && key == "LISTEN_PID")
    };
    let mut env: Vec<(OsString, OsString)> = std::env::vars_os()
        .filter(|(key, _)| !removed(key))
        .collect();
    let mut set = |key: &str, value: &str| {
        let (key, value) = (OsString::from(key), OsString::from(value));
        match env.iter_mut().find(|(k, _)| *k == key) {
            Some(slot) => slot.1 = value,
            None => env.push((key, value)),
        }
    };
    for (key, value) in &request.env {
        set(key, value);
    }
    if let Some(handoff) = &request.handoff {
        set("LISTEN_FDS", "1");
        set("LISTEN_FDNAMES", &handoff.name);
    }
    env
}

/// Sends `signal` to the process group led by `pgid`. A group that is
/// already gone is not an error.
pub fn signal_group(pgid: u32, signal: Signal) -> io::Result<()> {
    let Ok(raw) = i32::try_from(pgid) else {
        return Err(io::Error::new(
            io::ErrorKind::InvalidInput,
            "pid out of range",
        ));
    };
    match killpg(Pid::from_raw(raw), signal) {
        Ok(()) | Err(nix::errno::Errno::ESRCH) => Ok(()),
        Err(e) => Err(e.into()),
    }
}

/// Whether any process of the group is still alive.
///
/// Zombies do not count: a grandchild orphaned by its service is reparented
/// to pid 1, and an init that reaps slowly (containers without one, some
/// sandboxes) would otherwise make every stop wait out its whole grace.
pub fn group_alive(pgid: u32) -> bool {
    let Ok(raw) = i32::try_from(pgid) else {
        return false;
    };
    if killpg(Pid::from_raw(raw), None).is_err() {
        return false;
    }
    live_member_in_proc(raw).unwrap_or(true)
}

/// Scans /proc for a member of group `pgid` that is not a zombie; `None`
/// when /proc cannot be read (then the caller trusts `killpg`).
#[cfg(target_os = "linux")]
fn live_member_in_proc(pgid: i32) -> Option<bool> {
    let entries = std::fs::read_dir("/proc").ok()?;
    for entry in entries.flatten() {
        let name = entry.file_name();
        let Some(pid) = name.to_str().and_then(|n| n.parse::<i32>().ok()) else {
            continue;
        };
        let Ok(stat) = std::fs::read_to_string(format!("/proc/{pid}/stat")) else {
            continue;
        };
        // "pid (comm) state ppid pgrp ...": comm may hold spaces and parens,
        // so split after its last ')'.
        let Some((_, rest)) = stat.rsplit_once(") ") else {
            continue;
        };
        let mut fields = rest.split_whitespace();
        let state = fields.next();
        let group = fields.nth(1).and_then(|g| g.parse::<i32>().ok());
        if group == Some(pgid) && state != Some("Z") {
            return Some(true);
        }
    }
    Some(false)
}

#[cfg(not(target_os = "linux"))]
fn live_member_in_proc(_pgid: i32) -> Option<bool> {
    None
}

/// How a service's main process ended, and the escapees of it that were
/// stopped with it.
pub struct Waited {
    pub exit: Exit,
    pub escaped: Vec<Adopted>,
}

/// Waits for the group leader to exit, then makes sure nothing else of its
/// group survives it — nor, with a `subreaper`, any descendant that escaped
/// the group: leftovers get SIGTERM, then SIGKILL after `grace`.
pub async fn wait(child: &mut Child, grace: Duration, subreaper: Option<&Subreaper>) -> Waited {
    let exit = match child.wait().await {
        Ok(exit) => exit,
        Err(e) => Exit::NotStarted(format!("could not wait for the process: {e}")),
    };
    subreaper::poke();
    let escaped = subreaper::stop_remains(subreaper, child.pid(), grace).await;
    Waited { exit, escaped }
}

/// Ends whatever is left of a group whose leader has exited.
pub async fn reap_group(pgid: u32, grace: Duration) {
    subreaper::stop_remains(None, pgid, grace).await;
}

/// Polls until the group is gone or `limit` passes. There is no event for
/// "a process group became empty", so this polls, starting fast.
pub async fn wait_group_gone(pgid: u32, limit: Duration) -> bool {
    poll_until(limit, || !group_alive(pgid)).await
}

/// Polls `done` until it holds (true) or `limit` passes (false), starting
/// at 1 ms and backing off to 50 ms.
pub(crate) async fn poll_until(limit: Duration, mut done: impl FnMut() -> bool) -> bool {
    let deadline = tokio::time::Instant::now() + limit;
    let mut interval = Duration::from_millis(1);
    loop {
        if done() {
            return true;
        }
        if tokio::time::Instant::now() >= deadline {
            return false;
        }
        tokio::time::sleep(interval).await;
        interval = (interval * 2).min(Duration::from_millis(50));
    }
}
