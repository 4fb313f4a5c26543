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
use serde::{Deserialize, Serialize};

use crate::ansi::plain;

/// A process (or an owner that could not be looked into) holding a port.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Holder {
    /// The listening address.
    pub address: String,
    /// Whose process it is: its real uid when the process could be seen
    /// (a process may bind as one user and then switch to another, and the
    /// socket keeps the first), else the socket's owner.
    pub uid: u32,
    pub user: String,
    /// The process's effective uid, when it could be seen.
    pub euid: Option<u32>,
    /// The user the socket was created by.
    pub socket_uid: u32,
    /// `None` when the process could not be found (another user's).
    pub pid: Option<u32>,
    pub command: Option<String>,
    /// How long the process has been running, to the second.
    #[serde(serialize_with = "seconds", deserialize_with = "from_seconds")]
    pub running_for: Option<Duration>,
    /// When the process started (clock ticks since boot): tells this
    /// process from a later one that got the same pid.
    #[serde(default)]
    pub started: Option<u64>,
}

impl Holder {
    /// Whether this process belongs to the user running bringup: its real
    /// and effective uid are both ours.
    pub fn is_ours(&self) -> bool {
        let me = nix::unistd::getuid().as_raw();
        self.uid == me && self.euid.unwrap_or(self.uid) == me
    }

    /// The user to name when it is not ours: the one that is not.
    pub fn foreign_user(&self) -> String {
        let me = nix::unistd::getuid().as_raw();
        match self.euid {
            Some(euid) if self.uid == me && euid != me => user_name(euid),
            _ => self.user.clone(),
        }
    }
}

impl fmt::Display for Holder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // The command line and even the user name are someone else's words:
        // shown without the escape sequences they may carry.
        match (self.pid, &self.command) {
            (Some(pid), Some(command)) => {
                write!(
                    f,
                    "pid {pid} `{}` (user {}",
                    plain(command),
                    plain(&self.user)
                )?;
                if let Some(euid) = self.euid.filter(|euid| *euid != self.uid) {
                    write!(f, ", effective user {}", plain(&user_name(euid)))?;
                }
                if let Some(running) = self.running_for {
                    write!(f, ", running for {}", crate::text::uptime(running))?;
                }
                write!(f, ")")
            }
            _ => write!(
                f,
                "a process of user {} (uid {}) that cannot be inspected; `sudo ss -ltnp` shows it",
                plain(&self.user),
                self.uid
            ),
        }
    }
}

/// A listening TCP socket.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Listener {
    pub inode: u64,
    /// Who created it.
    pub uid: u32,
    pub address: std::net::SocketAddr,
}

/// Every socket listening on TCP `port`, on any address, IPv4 and IPv6.
///
/// Asked of the kernel's sock_diag netlink interface for listening sockets
/// only ([`super::diag`]): reading `/proc/net/tcp{,6}` walks the table of
/// every connection and costs milliseconds on a large machine, which a
/// readiness check that asks on every pass cannot afford. The socket
/// tables are the fallback where netlink is not allowed.
pub fn listeners(port: u16) -> Vec<Listener> {
    match super::diag::listening() {
        Ok(all) => all
            .into_iter()
            .filter(|l| l.address.port() == port)
            .collect(),
        Err(_) => listeners_from_proc(port),
    }
}

fn listeners_from_proc(port: u16) -> Vec<Listener> {
    procfs::net::tcp()
        .into_iter()
        .flatten()
        .chain(procfs::net::tcp6().into_iter().flatten())
        .filter(|entry| entry.state == TcpState::Listen && entry.local_address.port() == port)
        .map(|entry| Listener {
            inode: entry.inode,
            uid: entry.uid,
            address: entry.local_address,
        })
        .collect()
}

/// Every process listening on TCP `port`, on any address.
pub fn holders(port: u16) -> Vec<Holder> {
    let listening = listeners(port);
    if listening.is_empty() {
        return Vec::new();
    }
    let wanted: Vec<u64> = listening.iter().map(|l| l.inode).collect();
    let owners = socket_owners(&wanted);
    let mut found: Vec<Holder> = listening
        .iter()
        .map(|listener| describe(listener, owners.get(&listener.inode).copied()))
        .collect();
    // The same process often listens on 0.0.0.0 and :: alike.
    found.dedup_by(|a, b| a.pid.is_some() && a.pid == b.pid);
    found
}

/// The holder of `listener`: process `pid` if it was found.
pub fn describe(listener: &Listener, pid: Option<u32>) -> Holder {
    let process = pid.and_then(|pid| procfs::process::Process::new(i32::try_from(pid).ok()?).ok());
    let status = process.as_ref().and_then(|p| p.status().ok());
    let stat = process.as_ref().and_then(|p| p.stat().ok());
    let uid = status.as_ref().map_or(listener.uid, |s| s.ruid);
    Holder {
        address: listener.address.to_string(),
        uid,
        user: user_name(uid),
        euid: status.as_ref().map(|s| s.euid),
        socket_uid: listener.uid,
        pid: pid.filter(|_| process.is_some()),
        command: process.as_ref().and_then(command_line),
        running_for: stat.as_ref().and_then(running_for),
        started: stat.as_ref().map(|s| s.starttime),
    }
}

/// inode → the lowest pid that has that socket open (a forked server's
/// children share it; the parent is the one to name).
pub fn socket_owners(inodes: &[u64]) -> HashMap<u64, u32> {
    let mut owners: HashMap<u64, u32> = HashMap::new();
    let Ok(processes) = procfs::process::all_processes() else {
        return owners;
    };
    for process in processes.flatten() {
        for inode in sockets_of(process.pid) {
            if inodes.contains(&inode) {
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

/// The inodes of the sockets process `pid` has open (none if it cannot be
/// read). One `readlink` per descriptor and nothing else: readiness checks
/// ask this on every pass.
pub fn sockets_of(pid: i32) -> Vec<u64> {
    let mut found = Vec::new();
    has_sockets(pid, |inode| {
        found.push(inode);
        false
    });
    found
}

/// Calls `found` with the inode of each socket process `pid` has open,
/// lowest descriptor first, until it returns true (then true).
pub fn has_sockets(pid: i32, mut found: impl FnMut(u64) -> bool) -> bool {
    let Ok(fds) = std::fs::read_dir(format!("/proc/{pid}/fd")) else {
        return false;
    };
    for fd in fds.flatten() {
        let inode = std::fs::read_link(fd.path()).ok().and_then(|target| {
            target
                .to_str()?
                .strip_prefix("socket:[")?
                .strip_suffix(']')?
                .parse()
                .ok()
        });
        if let Some(inode) = inode
            && found(inode)
        {
            return true;
        }
    }
    false
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

fn running_for(stat: &procfs::process::Stat) -> Option<Duration> {
    let started_ticks = stat.starttime;
    let boot = procfs::boot_time_secs().ok()?;
    let ticks = procfs::ticks_per_second();
    let started = boot as f64 + started_ticks as f64 / ticks as f64;
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .ok()?
        .as_secs_f64();
    // Whole seconds: the boot time is only known to the second, so finer
    // would be noise (and the protocol carries seconds).
    Some(Duration::from_secs((now - started).max(0.0) as u64))
}

/// When process `pid` started (clock ticks since boot), if it runs.
pub fn start_time(pid: u32) -> Option<u64> {
    procfs::process::Process::new(i32::try_from(pid).ok()?)
        .ok()?
        .stat()
        .ok()
        .map(|stat| stat.starttime)
}

/// The real and effective uid of process `pid`, if it runs.
pub fn uids(pid: u32) -> Option<(u32, u32)> {
    let status = procfs::process::Process::new(i32::try_from(pid).ok()?)
        .ok()?
        .status()
        .ok()?;
    Some((status.ruid, status.euid))
}

/// Who holds a service's port right now.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
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

fn seconds<S: serde::Serializer>(d: &Option<Duration>, s: S) -> Result<S::Ok, S::Error> {
    match d {
        Some(d) => s.serialize_u64(d.as_secs()),
        None => s.serialize_none(),
    }
}

fn from_seconds<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Option<Duration>, D::Error> {
    Ok(Option::<u64>::deserialize(d)?.map(Duration::from_secs))
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
    fn netlink_and_the_socket_tables_agree() {
        let v4 = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let port = v4.local_addr().unwrap().port();
        let _v6 = std::net::TcpListener::bind(("::1", port));
        let mut fast = listeners(port);
        let mut slow = listeners_from_proc(port);
        fast.sort_by_key(|l| l.inode);
        slow.sort_by_key(|l| l.inode);
        assert!(!fast.is_empty());
        assert_eq!(fast, slow);
    }
}
