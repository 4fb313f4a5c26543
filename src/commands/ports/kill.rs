//! `bringup ports kill PORT`: stopping a stale holder, safely.
//!
//! It stops only the user's own processes, judged by the process's real
//! and effective uid (a server that bound its port as root and then
//! switched user is that user's, though the socket says root), and never
//! pid 1, this bringup or a running bringup. Right before signalling, the
//! process is pinned with a pidfd and its start time compared with the one
//! judged, so a pid that was freed and reused in between is never
//! signalled.

use std::io::{BufRead, IsTerminal, Write};
use std::os::fd::OwnedFd;
use std::process::ExitCode;
use std::time::{Duration, Instant};

use bringup::ansi::plain;
use bringup::ports::owner::{self, Holder};
use serde::Serialize;

use super::print_json;
use super::state::{Locks, describe, state_of};

/// `bringup ports kill PORT`.
pub(super) fn kill(port: u16, yes: bool, grace: Duration, json: bool) -> ExitCode {
    let locks = Locks::now();
    let state = state_of(port, &locks);
    if state.holders.is_empty() {
        let message = if state.free {
            format!("nothing holds port {port}")
        } else {
            format!("port {port} is {}", describe(&state))
        };
        return finish(json, port, false, Vec::new(), &message, ExitCode::FAILURE);
    }
    // Decide for every holder before touching any.
    let mut judged: Vec<&Holder> = Vec::new();
    for holder in &state.holders {
        if let Err(why) = may_stop(holder, &locks) {
            let message = format!("will not stop {holder}: {why}");
            return finish(json, port, false, Vec::new(), &message, ExitCode::FAILURE);
        }
        if !judged.iter().any(|h| h.pid == holder.pid) {
            judged.push(holder);
        }
    }
    if !yes {
        for holder in &state.holders {
            eprintln!("port {port} is held by {holder}");
        }
        eprint!(
            "stop it (SIGTERM, then SIGKILL after {})? [y/N] ",
            humantime::format_duration(grace)
        );
        let _ = std::io::stderr().flush();
        let mut answer = String::new();
        let _ = std::io::stdin().lock().read_line(&mut answer);
        if !matches!(answer.trim(), "y" | "Y" | "yes") {
            let note = if std::io::stdin().is_terminal() {
                ""
            } else {
                " (pass --yes when not at a terminal)"
            };
            return finish(
                json,
                port,
                false,
                Vec::new(),
                &format!("left it running{note}"),
                ExitCode::FAILURE,
            );
        }
    }
    // The answer may have taken a while: pin each process now and make
    // sure it is still the one judged.
    let mut targets = Vec::new();
    for holder in judged {
        match Target::pin(holder) {
            Ok(target) => targets.push(target),
            Err(why) => {
                return finish(json, port, false, Vec::new(), &why, ExitCode::FAILURE);
            }
        }
    }
    let freed = stop(port, &targets, grace);
    let targets: Vec<u32> = targets.iter().map(|t| t.pid).collect();
    let message = if freed {
        format!("port {port} is free now")
    } else {
        format!(
            "port {port} is still held: {}",
            describe(&state_of(port, &Locks::now()))
        )
    };
    let code = if freed {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    };
    finish(json, port, freed, targets, &message, code)
}

/// Why a holder must not be stopped, if it must not.
fn may_stop(holder: &Holder, locks: &Locks) -> Result<(), String> {
    let Some(pid) = holder.pid else {
        return Err("it cannot be inspected (another user's process)".into());
    };
    if pid == 1 {
        return Err("it is pid 1, the system's init".into());
    }
    if pid == std::process::id() {
        return Err("it is this bringup".into());
    }
    if let Some(info) = locks.infos().find(|info| info.pid == pid) {
        return Err(format!(
            "it is a running bringup (project {:?}) holding the port for `{}`; stop that bringup, or restart the service from it",
            info.project,
            plain(&info.service)
        ));
    }
    if !holder.is_ours() {
        return Err(format!(
            "it belongs to user {}; bringup stops only your own processes",
            plain(&holder.foreign_user())
        ));
    }
    Ok(())
}

/// A process about to be signalled, pinned by a pidfd where the kernel has
/// them (Linux 5.3): signals through it reach that very process or none.
struct Target {
    pid: u32,
    pidfd: Option<OwnedFd>,
}

impl Target {
    /// Pins `holder`'s process, if it is still the process that was judged
    /// (same start time) and still ours.
    fn pin(holder: &Holder) -> Result<Self, String> {
        let gone = |pid: u32| {
            format!(
                "pid {pid} is not the process that held the port any more (it ended, and its pid may be another process's now); nothing was signalled"
            )
        };
        let pid = holder.pid.ok_or("the holder cannot be inspected")?;
        let pidfd = rustix::process::Pid::from_raw(i32::try_from(pid).map_err(|_| gone(pid))?)
            .and_then(|p| {
                rustix::process::pidfd_open(p, rustix::process::PidfdFlags::empty()).ok()
            });
        // Checked after the pidfd is open: from here on it names this process.
        if holder.started.is_none() || owner::start_time(pid) != holder.started {
            return Err(gone(pid));
        }
        let (real, effective) = owner::uids(pid).ok_or_else(|| gone(pid))?;
        let me = nix::unistd::getuid().as_raw();
        if real != me || effective != me {
            let theirs = if real != me { real } else { effective };
            return Err(format!(
                "will not stop pid {pid}: it belongs to user {} now; bringup stops only your own processes",
                plain(&owner::user_name(theirs))
            ));
        }
        Ok(Self { pid, pidfd })
    }

    fn signal(&self, signal: nix::sys::signal::Signal) {
        match &self.pidfd {
            Some(pidfd) => {
                let signal = match signal {
                    nix::sys::signal::Signal::SIGKILL => rustix::process::Signal::KILL,
                    _ => rustix::process::Signal::TERM,
                };
                let _ = rustix::process::pidfd_send_signal(pidfd, signal);
            }
            // No pidfds: the start time is compared once more instead.
            None => {
                if let Ok(raw) = i32::try_from(self.pid)
                    && owner::start_time(self.pid).is_some()
                {
                    let _ = nix::sys::signal::kill(nix::unistd::Pid::from_raw(raw), signal);
                }
            }
        }
    }
}

/// SIGTERM, wait for the port to come free, SIGKILL after `grace`.
fn stop(port: u16, targets: &[Target], grace: Duration) -> bool {
    let send = |signal| {
        for target in targets {
            target.signal(signal);
        }
    };
    let released = |limit: Duration| {
        let deadline = Instant::now() + limit;
        loop {
            if owner::holders(port).is_empty() {
                return true;
            }
            if Instant::now() >= deadline {
                return false;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    };
    send(nix::sys::signal::Signal::SIGTERM);
    if released(grace) {
        return true;
    }
    send(nix::sys::signal::Signal::SIGKILL);
    released(Duration::from_secs(2))
}

#[derive(Serialize)]
struct KillReport<'a> {
    port: u16,
    freed: bool,
    stopped: Vec<u32>,
    message: &'a str,
}

fn finish(
    json: bool,
    port: u16,
    freed: bool,
    stopped: Vec<u32>,
    message: &str,
    code: ExitCode,
) -> ExitCode {
    if json {
        print_json(&KillReport {
            port,
            freed,
            stopped,
            message,
        });
    } else if freed {
        println!("{message}");
    } else {
        eprintln!("{message}");
    }
    code
}

#[cfg(test)]
mod tests {
    use bringup::ports::lock::LockInfo;

    use super::*;

    fn holder(pid: u32, uid: u32) -> Holder {
        Holder {
            address: "127.0.0.1:8000".into(),
            uid,
            user: owner::user_name(uid),
            euid: Some(uid),
            socket_uid: uid,
            pid: Some(pid),
            command: Some("server".into()),
            running_for: None,
            started: None,
        }
    }

    fn locks(ours: Vec<(u16, Option<LockInfo>)>) -> Locks {
        Locks {
            ours,
            claimed: Vec::new(),
        }
    }

    #[test]
    fn pid_1_other_users_and_running_bringups_are_never_stopped() {
        let me = nix::unistd::getuid().as_raw();
        let no_locks = locks(Vec::new());
        assert!(
            may_stop(&holder(1, me), &no_locks)
                .unwrap_err()
                .contains("pid 1")
        );
        assert!(
            may_stop(&holder(std::process::id(), me), &no_locks)
                .unwrap_err()
                .contains("this bringup")
        );
        let other = if me == 65534 { 1000 } else { 65534 };
        assert!(
            may_stop(&holder(4242, other), &no_locks)
                .unwrap_err()
                .contains("only your own processes")
        );
        // Ours by its real uid, another user's by its effective one.
        let switched = Holder {
            euid: Some(other),
            ..holder(4242, me)
        };
        let why = may_stop(&switched, &no_locks).unwrap_err();
        assert!(
            why.contains(&format!("belongs to user {}", owner::user_name(other))),
            "{why}"
        );
        let unknown = Holder {
            pid: None,
            command: None,
            ..holder(4242, other)
        };
        assert!(
            may_stop(&unknown, &no_locks)
                .unwrap_err()
                .contains("cannot be inspected")
        );
        let bringup = LockInfo {
            pid: 4242,
            port: 8000,
            project: "p".into(),
            service: "api".into(),
            config: "/x/bringup.toml".into(),
            service_pid: None,
        };
        let with_bringup = locks(vec![(8000, Some(bringup))]);
        assert!(
            may_stop(&holder(4242, me), &with_bringup)
                .unwrap_err()
                .contains("running bringup")
        );
        assert!(may_stop(&holder(4243, me), &with_bringup).is_ok());
    }

    /// A `sleep` child, killed and reaped when dropped.
    struct Sleeper(std::process::Child);

    impl Drop for Sleeper {
        fn drop(&mut self) {
            let _ = self.0.kill();
            let _ = self.0.wait();
        }
    }

    #[test]
    fn a_process_that_is_not_the_one_judged_is_never_signalled() {
        let me = nix::unistd::getuid().as_raw();
        let mut sleeper = Sleeper(
            std::process::Command::new("sleep")
                .arg("30")
                .spawn()
                .unwrap(),
        );
        let pid = sleeper.0.id();
        let started = owner::start_time(pid).unwrap();
        // Judged when a process with another start time had this pid: the
        // pid was reused in between.
        let earlier = Holder {
            started: Some(started - 1),
            ..holder(pid, me)
        };
        let why = Target::pin(&earlier).err().unwrap();
        assert!(why.contains("not the process that held the port"), "{why}");
        assert!(matches!(sleeper.0.try_wait(), Ok(None)), "left running");
        // The very process judged is signalled.
        let judged = Holder {
            started: Some(started),
            ..holder(pid, me)
        };
        let target = Target::pin(&judged).unwrap();
        assert!(target.pidfd.is_some(), "this kernel has pidfds");
        target.signal(nix::sys::signal::Signal::SIGKILL);
        let status = sleeper.0.wait().unwrap();
        assert!(!status.success());
    }
}
