//! One child process: spawn it in its own process group, capture its
//! output, signal its group, reap it and whatever it left behind.
//!
//! Every service is the leader of a new process group, so a signal to the
//! group reaches its children and grandchildren too (`sh -c` wrappers,
//! worker pools). On Linux the child also gets a parent-death signal, and
//! the [`watchdog`] kills registered groups if bringup itself is killed
//! with SIGKILL, so no way of ending bringup leaves processes behind.
//!
//! The parent-death signal fires when the *thread* that started the child
//! exits, not the process. The engine therefore spawns from its own
//! long-lived thread, which ends only after every service has stopped.
//! How the signal is set without a costly fork is in [`command`].

pub mod command;
pub mod leftovers;
pub mod output;
pub mod watchdog;

pub use command::shell_argv;

use std::io;
use std::os::unix::process::CommandExt;
use std::path::PathBuf;
use std::process::Stdio;
use std::time::Duration;

use nix::sys::signal::{Signal, killpg};
use nix::unistd::Pid;

use crate::engine::api::Exit;

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
}

/// A socket passed to the child the way systemd does: as fd 3, with
/// `LISTEN_FDS=1`, `LISTEN_PID` (the child's own pid) and `LISTEN_FDNAMES`.
#[derive(Debug, Clone)]
pub struct Handoff {
    pub fd: std::os::fd::RawFd,
    pub name: String,
}

/// Sets `LISTEN_PID` to the shell's own pid, which the service keeps when
/// the shell execs it: a pid cannot be known before the child exists.
const HANDOFF_TRAMPOLINE: &str = "LISTEN_PID=$$; export LISTEN_PID; exec \"$0\" \"$@\"";

/// A spawned child, its pipes not yet taken.
pub struct Spawned {
    pub child: tokio::process::Child,
    pub pid: u32,
}

/// Spawns `request` as the leader of a new process group, stdin from
/// /dev/null and stdout/stderr piped, with a parent-death signal on Linux.
pub fn spawn(request: &SpawnRequest) -> io::Result<Spawned> {
    let Some((program, args)) = request.argv.split_first() else {
        return Err(io::Error::new(io::ErrorKind::InvalidInput, "empty command"));
    };
    let child_path = request
        .env
        .iter()
        .rev()
        .find(|(key, _)| key == "PATH")
        .map(|(_, value)| value.as_str());
    command::resolve(program, &request.cwd, child_path)?;
    let parent = nix::unistd::getpid();
    let mut command = match (&request.handoff, command::pdeathsig_shim()) {
        // Handing over a socket needs code between fork and exec (moving it
        // to fd 3), so this one forks; the trampoline sets LISTEN_PID.
        (Some(handoff), _) => {
            let mut command = std::process::Command::new("sh");
            command.args(["-c", HANDOFF_TRAMPOLINE, program]);
            let fd = handoff.fd;
            // SAFETY: between fork and exec; dup2, fcntl, prctl and getppid
            // are async-signal-safe and nothing is allocated.
            unsafe {
                command.pre_exec(move || {
                    hand_over(fd)?;
                    die_with_parent(parent)
                });
            }
            command
        }
        // posix_spawn + setpriv: fast, and the service still dies with us.
        (None, Some(setpriv)) => {
            let mut command = std::process::Command::new(setpriv);
            command.args(["--pdeathsig", "TERM", "--", program]);
            command
        }
        (None, None) => {
            let mut command = std::process::Command::new(program);
            // SAFETY: the closure runs between fork and exec and only makes
            // two async-signal-safe system calls (prctl, getppid).
            unsafe {
                command.pre_exec(move || die_with_parent(parent));
            }
            command
        }
    };
    command
        .args(args)
        .current_dir(&request.cwd)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .process_group(0);
    for key in &request.env_remove {
        command.env_remove(key);
    }
    for (key, value) in &request.env {
        command.env(key, value);
    }
    if let Some(handoff) = &request.handoff {
        command
            .env("LISTEN_FDS", "1")
            .env("LISTEN_FDNAMES", &handoff.name);
    }
    let mut command = tokio::process::Command::from(command);
    command.kill_on_drop(false);
    let child = command
        .spawn()
        .map_err(|e| describe_spawn_error(e, program))?;
    let pid = child
        .id()
        .ok_or_else(|| io::Error::other("the child exited before its pid could be read"))?;
    Ok(Spawned { child, pid })
}

/// Puts `fd` at 3 and lets it survive exec (the systemd convention).
fn hand_over(fd: std::os::fd::RawFd) -> io::Result<()> {
    use nix::libc;
    // SAFETY: plain system calls on descriptors this process owns.
    unsafe {
        if fd != 3 && libc::dup2(fd, 3) < 0 {
            return Err(io::Error::last_os_error());
        }
        if libc::fcntl(3, libc::F_SETFD, 0) < 0 {
            return Err(io::Error::last_os_error());
        }
    }
    Ok(())
}

#[cfg(target_os = "linux")]
fn die_with_parent(parent: Pid) -> io::Result<()> {
    // SIGTERM, not SIGKILL: the watchdog escalates, and a database gets a
    // chance to shut down cleanly even when bringup is killed.
    nix::sys::prctl::set_pdeathsig(Signal::SIGTERM).map_err(io::Error::from)?;
    // The parent may have died before prctl took effect.
    if nix::unistd::getppid() != parent {
        return Err(io::Error::other(
            "bringup exited while starting the service",
        ));
    }
    Ok(())
}

#[cfg(not(target_os = "linux"))]
fn die_with_parent(_parent: Pid) -> io::Result<()> {
    Ok(())
}

fn describe_spawn_error(error: io::Error, program: &str) -> io::Error {
    io::Error::new(error.kind(), format!("{program}: {error}"))
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

/// Waits for the group leader to exit, then makes sure nothing else of its
/// group survives it: leftovers get SIGTERM, then SIGKILL after `grace`.
pub async fn wait(child: &mut tokio::process::Child, pgid: u32, grace: Duration) -> Exit {
    let exit = match child.wait().await {
        Ok(status) => exit_of(status),
        Err(e) => Exit::NotStarted(format!("could not wait for the process: {e}")),
    };
    reap_group(pgid, grace).await;
    exit
}

/// Ends whatever is left of a group whose leader has exited.
pub async fn reap_group(pgid: u32, grace: Duration) {
    if !group_alive(pgid) {
        return;
    }
    let _ = signal_group(pgid, Signal::SIGTERM);
    if !wait_group_gone(pgid, grace).await {
        let _ = signal_group(pgid, Signal::SIGKILL);
        wait_group_gone(pgid, Duration::from_secs(5)).await;
    }
}

/// Polls until the group is gone or `limit` passes. There is no event for
/// "a process group became empty", so this polls, starting fast.
pub async fn wait_group_gone(pgid: u32, limit: Duration) -> bool {
    let deadline = tokio::time::Instant::now() + limit;
    let mut interval = Duration::from_millis(1);
    loop {
        if !group_alive(pgid) {
            return true;
        }
        if tokio::time::Instant::now() >= deadline {
            return false;
        }
        tokio::time::sleep(interval).await;
        interval = (interval * 2).min(Duration::from_millis(50));
    }
}

fn exit_of(status: std::process::ExitStatus) -> Exit {
    use std::os::unix::process::ExitStatusExt;
    match (status.code(), status.signal()) {
        (Some(code), _) => Exit::Code(code),
        (None, Some(signal)) => Exit::Signal(signal),
        (None, None) => Exit::Code(-1),
    }
}
