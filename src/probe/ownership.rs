//! Is the process answering on a service's port the service itself?
//!
//! A readiness check only says that *something* answers: a server left
//! over from an earlier run, another user's process that took the port
//! between allocation and bind, or an old instance of the service that
//! escaped its process group all pass a `tcp` or `http` check, while the
//! service itself fails to bind. So when a check of a service with a port
//! passes, [`Owner::confirm`] looks at who listens on that port before the
//! pass counts:
//!
//! 1. the LISTEN sockets on the port, from `/proc/net/tcp{,6}` (their inode
//!    and the uid that created them);
//! 2. the sockets the service's process has open (`/proc/PID/fd`): in the
//!    usual case that is all, and it costs a few dozen syscalls;
//! 3. only if some listener is still unaccounted for: the process's
//!    descendants (`/proc/PID/task/*/children`), then every process, to
//!    find who has it open. A holder in the service's process group, or a
//!    descendant of its process, is the service's. So is a daemon it
//!    started, which left the process group: a process started after the
//!    service's process that carries this run's and this service's marker
//!    in its environment, or that bringup (the subreaper) adopted.
//!
//! Anyone else is a stranger, and the check does not pass: it fails with a
//! detail naming the holder, and the service's conflict is reported like
//! any other (with the holder), once per holder. A listener whose process
//! cannot be seen (another user's, when bringup is not root) is reported
//! as such. Adopted services are never checked (the holder *is* the
//! service), nor are `listen = true` services (bringup holds the socket),
//! and `check_port_owner = false` turns the check off for services whose
//! listener is legitimately another process, such as a container runtime's
//! port proxy.

use std::collections::HashSet;
use std::sync::{Arc, Mutex};

use crate::ports::owner::{self, Holder, Listener};
use crate::probe::Failure;
use crate::process::leftovers::RUN_VARIABLE;

/// At most this many descendants are walked before scanning everything.
const MAX_DESCENDANTS: usize = 4096;

/// Who answered on the port.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Verdict {
    /// The service (or nothing at all listens on the port).
    Ours,
    /// Another process, seen.
    Stranger(Holder),
    /// A listener whose process cannot be looked into (another user's).
    Unseen(Holder),
}

/// What identifies one process of a service.
#[derive(Debug, Clone)]
pub struct Service {
    /// Its process (the leader of its process group).
    pub pid: u32,
    /// The `BRINGUP_RUN` and `BRINGUP_SERVICE` values in its environment.
    pub run: String,
    pub name: String,
}

/// Called with the holder and the whole explanation when a stranger is found.
pub type Report = Arc<dyn Fn(Holder, String) + Send + Sync>;

/// The ownership check of one service process's port.
pub struct Owner {
    port: u16,
    service: Service,
    /// When the service's process started (clock ticks since boot).
    started: Option<u64>,
    report: Report,
    /// The holder last reported, so each is reported once.
    reported: Mutex<Option<(Option<u32>, u32)>>,
}

impl std::fmt::Debug for Owner {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Owner")
            .field("port", &self.port)
            .field("service", &self.service)
            .finish_non_exhaustive()
    }
}

impl Owner {
    pub fn new(port: u16, service: Service, report: Report) -> Self {
        Self {
            port,
            started: owner::start_time(service.pid),
            service,
            report,
            reported: Mutex::new(None),
        }
    }

    /// `detail` (a passed check) if the port's listener is the service's;
    /// else a failure naming the holder, reported once per holder.
    pub async fn confirm(self: &Arc<Self>, detail: String) -> Result<String, Failure> {
        // The usual answer (the service's process holds the socket) takes
        // a few dozen syscalls: asked right here. Looking further reads
        // /proc at large, off the engine's thread.
        let verdict = if mine(self.port, self.service.pid) {
            Verdict::Ours
        } else {
            let this = self.clone();
            tokio::task::spawn_blocking(move || this.judge())
                .await
                .unwrap_or(Verdict::Ours)
        };
        let holder = match verdict {
            Verdict::Ours => {
                if let Ok(mut last) = self.reported.lock() {
                    *last = None;
                }
                return Ok(detail);
            }
            Verdict::Stranger(holder) | Verdict::Unseen(holder) => holder,
        };
        let why = self.explain(&holder);
        let key = (holder.pid, holder.uid);
        let news = self
            .reported
            .lock()
            .map(|mut last| last.replace(key) != Some(key))
            .unwrap_or(true);
        if news {
            (self.report)(holder, why.clone());
        }
        // The stranger did answer, so checking again costs it something.
        Err(Failure::answered(why))
    }

    fn explain(&self, holder: &Holder) -> String {
        let (port, name) = (self.port, &self.service.name);
        let fix = if holder.pid.is_some() && holder.is_ours() {
            format!("stop it (`bringup ports kill {port}`)")
        } else {
            "stop it, or ask its owner to".to_string()
        };
        format!(
            "port {port} is answered by {holder}, not by {name}'s own processes; {fix}, or if it is {name}'s by right (a container's port proxy), set `check_port_owner = false`"
        )
    }

    /// Who listens on the port: the service, or who else.
    pub fn judge(&self) -> Verdict {
        judge(self.port, &self.service, self.started)
    }
}

/// Whether every listener on `port` (if any) is open in process `pid`.
fn mine(port: u16, pid: u32) -> bool {
    let listening = owner::listeners(port);
    if listening.is_empty() {
        return true;
    }
    let Ok(pid) = i32::try_from(pid) else {
        return false;
    };
    // A server's listening socket is among its first descriptors: stop
    // reading as soon as every listener is accounted for.
    let mut left: Vec<u64> = listening.iter().map(|l| l.inode).collect();
    owner::has_sockets(pid, |inode| {
        left.retain(|l| *l != inode);
        left.is_empty()
    })
}

/// See the module docs for the order things are looked at in.
pub fn judge(port: u16, service: &Service, started: Option<u64>) -> Verdict {
    let listening = owner::listeners(port);
    let mut left: Vec<&Listener> = listening.iter().collect();
    let mut account = |pid: u32| {
        if let Ok(pid) = i32::try_from(pid) {
            let open = owner::sockets_of(pid);
            left.retain(|l| !open.contains(&l.inode));
        }
        left.is_empty()
    };
    if account(service.pid) {
        return Verdict::Ours;
    }
    for pid in descendants(service.pid) {
        if account(pid) {
            return Verdict::Ours;
        }
    }
    // The slow way: who else has these sockets open?
    let wanted: Vec<u64> = left.iter().map(|l| l.inode).collect();
    let mut ours: HashSet<u64> = HashSet::new();
    let mut strangers: Vec<(u64, u32)> = Vec::new();
    if let Ok(processes) = procfs::process::all_processes() {
        for process in processes.flatten() {
            let open = owner::sockets_of(process.pid);
            let held: Vec<u64> = wanted
                .iter()
                .copied()
                .filter(|inode| open.contains(inode))
                .collect();
            if held.is_empty() {
                continue;
            }
            let pid = process.pid as u32;
            if belongs(&process, service, started) {
                ours.extend(held);
            } else {
                strangers.extend(held.into_iter().map(|inode| (inode, pid)));
            }
        }
    }
    let me = nix::unistd::getuid().as_raw();
    for listener in left {
        if ours.contains(&listener.inode) {
            continue;
        }
        // (The lowest pid: a forking server's parent, not a worker.)
        let holder = strangers
            .iter()
            .filter(|(inode, _)| *inode == listener.inode)
            .map(|(_, pid)| *pid)
            .min();
        match holder {
            Some(pid) => return Verdict::Stranger(owner::describe(listener, Some(pid))),
            // Not found in any process we can look into. Another user's is
            // a stranger we cannot name; one of ours that cannot be read
            // (not dumpable) or that just closed it cannot be judged.
            None if listener.uid != me => {
                return Verdict::Unseen(owner::describe(listener, None));
            }
            None => {}
        }
    }
    Verdict::Ours
}

/// Whether `process` is one of the service's: in its process group, a
/// descendant of its process, or a daemon it started (see the module docs;
/// `started` is when the service's process started).
pub fn belongs(
    process: &procfs::process::Process,
    service: &Service,
    started: Option<u64>,
) -> bool {
    let Ok(stat) = process.stat() else {
        return false;
    };
    let group = u32::try_from(stat.pgrp).ok();
    if u32::try_from(process.pid).ok() == Some(service.pid)
        || group == Some(service.pid)
        || descends(process, service.pid)
    {
        return true;
    }
    let after = started.is_some_and(|started| stat.starttime >= started);
    if !after {
        return false;
    }
    let adopted = u32::try_from(stat.ppid).ok() == Some(std::process::id());
    adopted || marked(process, service)
}

/// Whether `process` descends from `ancestor` (bounded walk up).
fn descends(process: &procfs::process::Process, ancestor: u32) -> bool {
    let mut pid = process.pid;
    for _ in 0..64 {
        let Some(parent) = procfs::process::Process::new(pid)
            .ok()
            .and_then(|p| p.stat().ok())
            .map(|stat| stat.ppid)
        else {
            return false;
        };
        if u32::try_from(parent).ok() == Some(ancestor) {
            return true;
        }
        if parent <= 1 {
            return false;
        }
        pid = parent;
    }
    false
}

/// Whether the environment of `process` names this run and this service.
fn marked(process: &procfs::process::Process, service: &Service) -> bool {
    let Ok(environ) = process.environ() else {
        return false;
    };
    let is = |key: &str, value: &str| {
        environ
            .get(std::ffi::OsStr::new(key))
            .is_some_and(|v| v == value)
    };
    is(RUN_VARIABLE, &service.run) && is("BRINGUP_SERVICE", &service.name)
}

/// The descendants of `pid`, breadth first, at most [`MAX_DESCENDANTS`].
fn descendants(pid: u32) -> Vec<u32> {
    let mut found = Vec::new();
    let mut queue = std::collections::VecDeque::from([pid]);
    while let Some(parent) = queue.pop_front() {
        for child in crate::process::children(parent) {
            if found.len() >= MAX_DESCENDANTS {
                return found;
            }
            found.push(child);
            queue.push_back(child);
        }
    }
    found
}

#[cfg(test)]
mod tests {
    use std::net::TcpListener;
    use std::process::{Child, Command};

    use super::*;

    /// A child process, killed and reaped when dropped.
    struct Reaped(Child);

    impl Drop for Reaped {
        fn drop(&mut self) {
            let _ = self.0.kill();
            let _ = self.0.wait();
        }
    }

    fn service(pid: u32) -> Service {
        Service {
            pid,
            run: "test-run".into(),
            name: "api".into(),
        }
    }

    #[test]
    fn our_own_listener_is_ours_and_nothing_listening_is_no_conflict() {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        let me = service(std::process::id());
        assert_eq!(judge(port, &me, None), Verdict::Ours);
        drop(listener);
        assert_eq!(judge(port, &me, None), Verdict::Ours);
    }

    #[test]
    fn a_listener_of_another_process_is_a_stranger_named() {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        // A service that is a `sleep`: the listener (this test) is not its.
        let sleeper = Reaped(Command::new("sleep").arg("30").spawn().unwrap());
        match judge(port, &service(sleeper.0.id()), None) {
            Verdict::Stranger(holder) => assert_eq!(holder.pid, Some(std::process::id())),
            other => panic!("{other:?}"),
        }
    }
}
