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
//! How the child is started — no fork, no extra exec — is in [`mod@launch`];
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
/// [`launch()`] returns, on whatever thread it ran (see [`launcher`]).
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
    let processes = procfs::process::all_processes().ok()?;
    // A process that ended since the listing is no member.
    Some(
        processes
            .flatten()
            .filter_map(|process| process.stat().ok())
            .any(|stat| stat.pgrp == pgid && stat.state != 'Z'),
    )
}

/// The children of process `pid`, across all its threads (a child is
/// listed under the thread that started it, and a re-parented orphan under
/// one of them); none when it cannot be read.
pub fn children(pid: u32) -> Vec<u32> {
    children_of(pid, &threads(pid)).0
}

/// The threads of process `pid` (none when it cannot be read).
pub fn threads(pid: u32) -> Vec<u32> {
    let Ok(tasks) = std::fs::read_dir(format!("/proc/{pid}/task")) else {
        return Vec::new();
    };
    tasks
        .flatten()
        .filter_map(|task| task.file_name().to_str()?.parse().ok())
        .collect()
}

/// The children of threads `tids` of process `pid`, and whether every
/// one of them was there (else the list of threads is out of date).
///
/// Read straight from `/proc/PID/task/TID/children`, an open and two reads
/// a thread: the subreaper looks every few seconds for as long as a stack
/// runs, so a look is kept to the system calls it needs.
pub fn children_of(pid: u32, tids: &[u32]) -> (Vec<u32>, bool) {
    use std::io::Read;
    let mut found = Vec::new();
    let mut all_there = true;
    let mut text = Vec::with_capacity(512);
    for tid in tids {
        let Ok(mut file) = std::fs::File::open(format!("/proc/{pid}/task/{tid}/children")) else {
            all_there = false;
            continue;
        };
        text.clear();
        // Not `read_to_end`: that asks for the file's size first, which a
        // /proc file does not know.
        let mut chunk = [0u8; 512];
        while let Ok(read @ 1..) = file.read(&mut chunk) {
            text.extend_from_slice(&chunk[..read]);
            // (A bound: a thousand times more children than a stack has.)
            if text.len() > 1 << 20 {
                // Without the number the cut went through.
                let whole = text.iter().rposition(u8::is_ascii_whitespace);
                text.truncate(whole.unwrap_or(0));
                break;
            }
        }
        found.extend(
            text.split(u8::is_ascii_whitespace)
                .filter_map(|pid| std::str::from_utf8(pid).ok()?.parse::<u32>().ok()),
        );
    }
    (found, all_there)
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

#[cfg(test)]
mod tests {
    use std::os::unix::process::CommandExt;
    use std::time::Instant;

    use super::*;

    /// Waits (up to 20 s) until `pid` is a zombie: exited, not yet reaped.
    fn until_zombie(pid: i32) {
        let deadline = Instant::now() + Duration::from_secs(20);
        while procfs::process::Process::new(pid)
            .and_then(|p| p.stat())
            .map_or(true, |stat| stat.state != 'Z')
        {
            assert!(Instant::now() < deadline, "{pid} never became a zombie");
            std::thread::sleep(Duration::from_millis(5));
        }
    }

    /// A child that is killed and reaped however the test ends.
    struct Reaped(std::process::Child);

    impl Drop for Reaped {
        fn drop(&mut self) {
            let _ = self.0.kill();
            let _ = self.0.wait();
        }
    }

    fn sleeper() -> Reaped {
        Reaped(
            std::process::Command::new("sleep")
                .arg("60")
                .process_group(0)
                .spawn()
                .unwrap(),
        )
    }

    #[test]
    fn a_group_is_alive_while_a_member_runs_and_not_once_only_zombies_are_left() {
        let mut running = sleeper();
        let pgid = running.0.id();
        assert!(group_alive(pgid), "a running member");
        running.0.kill().unwrap();
        // Not reaped yet: the group still exists, with a zombie in it.
        until_zombie(pgid as i32);
        assert!(!group_alive(pgid), "only a zombie is left");
        running.0.wait().unwrap();
        assert!(!group_alive(pgid), "gone");
    }

    #[test]
    fn children_are_found_under_the_thread_that_started_them() {
        // Test threads are not the main thread: the child is listed under
        // this thread's task only.
        let child = sleeper();
        let pid = child.0.id();
        assert!(children(std::process::id()).contains(&pid));
        drop(child);
        assert!(!children(std::process::id()).contains(&pid));
        assert!(children(u32::MAX).is_empty(), "no such process");
    }
}
