//! Who holds a port: the process behind a listening socket.
//!
//! The kernel's socket tables (`/proc/net/tcp`, `/proc/net/tcp6`) list each
//! listening socket with its owner's uid and its inode; a process that has
//! the socket open shows `socket:[inode]` among its file descriptors. So
//! the holder is found by matching inodes, and described from `/proc`: pid,
//! command line, user, how long it has been running. Another user's file
//! descriptors cannot be read; then the socket table still tells whose it
//! is, and the description says it cannot be inspected further.

use std::collections::HashMap;
use std::fmt;
use std::time::Duration;

use procfs::net::TcpState;
use serde::Serialize;

/// A process (or an owner that could not be looked into) holding a port.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Holder {
    /// The listening address.
    pub address: String,
    pub uid: u32,
    pub user: String,
    /// `None` when the process could not be found (another user's).
    pub pid: Option<u32>,
    pub command: Option<String>,
    /// How long the process has been running.
    #[serde(serialize_with = "seconds")]
    pub running_for: Option<Duration>,
}

impl Holder {
    /// Whether this process belongs to the user running bringup.
    pub fn is_ours(&self) -> bool {
        self.uid == nix::unistd::getuid().as_raw()
    }
}

impl fmt::Display for Holder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match (self.pid, &self.command) {
            (Some(pid), Some(command)) => {
                write!(f, "pid {pid} `{command}` (user {}", self.user)?;
                if let Some(running) = self.running_for {
                    write!(f, ", running for {}", human(running))?;
                }
                write!(f, ")")
            }
            _ => write!(
                f,
                "a process of user {} (uid {}) that cannot be inspected; `sudo ss -ltnp` shows it",
                self.user, self.uid
            ),
        }
    }
}

/// Every process listening on TCP `port`, on any address.
pub fn holders(port: u16) -> Vec<Holder> {
    let listening: Vec<procfs::net::TcpNetEntry> = procfs::net::tcp()
        .into_iter()
        .flatten()
        .chain(procfs::net::tcp6().into_iter().flatten())
        .filter(|entry| entry.state == TcpState::Listen && entry.local_address.port() == port)
        .collect();
    if listening.is_empty() {
        return Vec::new();
    }
    let wanted: Vec<u64> = listening.iter().map(|entry| entry.inode).collect();
    let owners = socket_owners(&wanted);
    let mut found: Vec<Holder> = listening
        .iter()
        .map(|entry| {
            let pid = owners.get(&entry.inode).copied();
            let process = pid.and_then(|pid| procfs::process::Process::new(pid as i32).ok());
            Holder {
                address: entry.local_address.to_string(),
                uid: entry.uid,
                user: user_name(entry.uid),
                pid,
                command: process.as_ref().and_then(command_line),
                running_for: process.as_ref().and_then(running_for),
            }
        })
        .collect();
    // The same process often listens on 0.0.0.0 and :: alike.
    found.dedup_by(|a, b| a.pid.is_some() && a.pid == b.pid);
    found
}

/// inode → the lowest pid that has that socket open (a forked server's
/// children share it; the parent is the one to name).
fn socket_owners(inodes: &[u64]) -> HashMap<u64, u32> {
    let mut owners: HashMap<u64, u32> = HashMap::new();
    let Ok(processes) = procfs::process::all_processes() else {
        return owners;
    };
    for process in processes.flatten() {
        let Ok(fds) = process.fd() else { continue };
        for fd in fds.flatten() {
            if let procfs::process::FDTarget::Socket(inode) = fd.target
                && inodes.contains(&inode)
            {
                let pid = process.pid as u32;
                owners
                    .entry(inode)
                    .and_modify(|p| *p = (*p).min(pid))
                    .or_insert(pid);
            }
        }
    }
    owners
}

fn command_line(process: &procfs::process::Process) -> Option<String> {
    let argv = process.cmdline().ok()?;
    if argv.is_empty() {
        return process.stat().ok().map(|stat| format!("[{}]", stat.comm));
    }
    let line = argv.join(" ");
    // Long Java/Node command lines say little past their start.
    Some(if line.chars().count() > 160 {
        format!("{}…", line.chars().take(160).collect::<String>())
    } else {
        line
    })
}

fn running_for(process: &procfs::process::Process) -> Option<Duration> {
    let started_ticks = process.stat().ok()?.starttime;
    let boot = procfs::boot_time_secs().ok()?;
    let ticks = procfs::ticks_per_second();
    let started = boot as f64 + started_ticks as f64 / ticks as f64;
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .ok()?
        .as_secs_f64();
    Some(Duration::from_secs_f64((now - started).max(0.0)))
}

/// Who holds a service's port right now.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case", tag = "held_by")]
pub enum PortHolder {
    /// Nothing listens on it.
    Free,
    /// The service itself (its process, or one of its process group).
    Ours { pid: u32 },
    /// Some other process: a conflict.
    Foreign { holder: Holder },
}

/// Who holds `port`, told apart from the service that should: `service`
/// is its process (a holder in its process group counts as the service).
pub fn classify(port: u16, service: Option<u32>) -> PortHolder {
    let found = holders(port);
    let Some(holder) = found.into_iter().next() else {
        return PortHolder::Free;
    };
    let ours = holder.pid.filter(|&pid| {
        Some(pid) == service || process_group(pid).is_some_and(|group| Some(group) == service)
    });
    match ours {
        Some(pid) => PortHolder::Ours { pid },
        None => PortHolder::Foreign { holder },
    }
}

/// The process group of `pid`.
pub fn process_group(pid: u32) -> Option<u32> {
    let stat = procfs::process::Process::new(i32::try_from(pid).ok()?)
        .ok()?
        .stat()
        .ok()?;
    u32::try_from(stat.pgrp).ok()
}

/// The name of `uid`, or the number when it has none.
pub fn user_name(uid: u32) -> String {
    nix::unistd::User::from_uid(nix::unistd::Uid::from_raw(uid))
        .ok()
        .flatten()
        .map_or_else(|| uid.to_string(), |user| user.name)
}

/// "3s", "5m", "2h 10m", "3d 4h".
pub fn human(d: Duration) -> String {
    let s = d.as_secs();
    match s {
        0..60 => format!("{s}s"),
        60..3600 => format!("{}m", s / 60),
        3600..86_400 => format!("{}h {}m", s / 3600, s % 3600 / 60),
        _ => format!("{}d {}h", s / 86_400, s % 86_400 / 3600),
    }
}

fn seconds<S: serde::Serializer>(d: &Option<Duration>, s: S) -> Result<S::Ok, S::Error> {
    match d {
        Some(d) => s.serialize_u64(d.as_secs()),
        None => s.serialize_none(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_holder_of_a_port_is_found_and_described() {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        let found = holders(port);
        assert_eq!(found.len(), 1, "{found:?}");
        let holder = &found[0];
        assert_eq!(holder.pid, Some(std::process::id()));
        assert_eq!(holder.address, format!("127.0.0.1:{port}"));
        assert!(holder.is_ours());
        let text = holder.to_string();
        assert!(
            text.starts_with(&format!("pid {} `", std::process::id())),
            "{text}"
        );
        assert!(text.contains("running for"), "{text}");
        // (Not the port just closed: a process spawned by a test running in
        // parallel can hold a copy of a closing socket until its exec.)
        assert!(holders(1).is_empty());
    }

    #[test]
    fn durations_read_like_a_person_would_say_them() {
        assert_eq!(human(Duration::from_secs(42)), "42s");
        assert_eq!(human(Duration::from_secs(600)), "10m");
        assert_eq!(human(Duration::from_secs(7800)), "2h 10m");
        assert_eq!(human(Duration::from_secs(90_000)), "1d 1h");
    }
}
