//! A child bringup started, and the table of them all.
//!
//! A [`Child`] is waited for through its pidfd: the descriptor becomes
//! readable when the process exits, which tokio's reactor (epoll) reports
//! like any socket, and `waitid(P_PIDFD)` then collects the status of that
//! process and no other. Nothing in bringup ever calls `waitpid(-1)`, which
//! would steal the status of a child someone else is waiting for. Where the
//! kernel has no pidfds (before 5.3), a blocking thread waits for the pid.
//!
//! The table lists every process bringup started itself, so the
//! [`super::subreaper`] can tell them from the descendants that were
//! re-parented to bringup. A process stays on it until its `Child` is
//! dropped, after its group's leftovers were stopped: until then the group
//! is still a service's, and an orphan in it is a leftover of the group,
//! not an escapee. Spawning holds the table's lock from the clone
//! until the pid is noted, and a scan holds it while it classifies, so no
//! scan ever sees a child of ours before the table does. A `Child`
//! dropped before its process was reaped (an exec check that timed out)
//! stays in the table as *abandoned* and is reaped by its pid later
//! (`reap_abandoned`), so it does not linger as a zombie.

use std::collections::HashMap;
use std::io;
use std::os::fd::{AsFd, AsRawFd, OwnedFd, RawFd};
use std::sync::{LazyLock, Mutex, MutexGuard};

use nix::sys::wait::{Id, WaitPidFlag, WaitStatus, waitid, waitpid};
use nix::unistd::Pid;
use tokio::io::Interest;
use tokio::io::unix::AsyncFd;

use crate::process::exit::{Exit, SignalName};

/// Whose process a child is: the run and the service it belongs to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Owner {
    /// The run's `BRINGUP_RUN` value.
    pub run: String,
    /// The service's name.
    pub service: String,
}

/// Every process bringup started and has not reaped yet.
#[derive(Default)]
pub(crate) struct Table {
    /// pid → the service it runs (None for checks and helpers).
    own: HashMap<i32, Option<Owner>>,
    /// Children whose `Child` was dropped before they were reaped.
    abandoned: Vec<i32>,
    /// Spawns under way without the table's lock (see [`register_slow`]):
    /// while there are any, a scan cannot tell ours from escapees.
    starting: usize,
}

impl Table {
    pub(crate) fn insert(&mut self, pid: i32, owner: Option<Owner>) {
        self.own.insert(pid, owner);
    }

    /// Whether a spawn is under way whose child may not be noted yet.
    pub(crate) fn settling(&self) -> bool {
        self.starting > 0
    }

    pub(crate) fn contains(&self, pid: i32) -> bool {
        self.own.contains_key(&pid)
    }

    /// The process group (= pid) of the running service `service` of `run`.
    pub(crate) fn service_group(&self, run: &str, service: &str) -> Option<i32> {
        self.own.iter().find_map(|(&pid, owner)| {
            owner
                .as_ref()
                .is_some_and(|o| o.run == run && o.service == service)
                .then_some(pid)
        })
    }

    /// Whether `pgid` is the group of a process bringup started (which
    /// leads its own group): a service's or a check's.
    pub(crate) fn is_own_group(&self, pgid: i32) -> bool {
        self.own.contains_key(&pgid)
    }

    /// The owner of the service process that leads group `pgid`.
    pub(crate) fn owner_of_group(&self, pgid: i32) -> Option<&Owner> {
        self.own.get(&pgid).and_then(Option::as_ref)
    }
}

static TABLE: LazyLock<Mutex<Table>> = LazyLock::new(Mutex::default);

/// The table, locked. Hold it only for moments.
pub(crate) fn table() -> MutexGuard<'static, Table> {
    TABLE
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}

/// Runs `spawn` (which starts one process and returns its pid) with the
/// table locked, and notes the pid before anyone can scan.
pub(crate) fn register<T>(
    owner: Option<Owner>,
    spawn: impl FnOnce() -> io::Result<T>,
    pid_of: impl Fn(&T) -> i32,
) -> io::Result<T> {
    let mut table = table();
    let spawned = spawn()?;
    table.insert(pid_of(&spawned), owner);
    Ok(spawned)
}

/// As [`register`], for a spawn too slow to hold the table for (a fork,
/// from a thread other than the engine's): scans wait for it by finding
/// the table [`Table::settling`] instead.
pub(crate) fn register_slow<T>(
    spawn: impl FnOnce() -> io::Result<T>,
    pid_of: impl Fn(&T) -> i32,
) -> io::Result<T> {
    table().starting += 1;
    let spawned = spawn();
    let mut table = table();
    table.starting -= 1;
    let spawned = spawned?;
    table.insert(pid_of(&spawned), None);
    Ok(spawned)
}

/// Reaps, by their own pids, the abandoned children that have exited.
pub(crate) fn reap_abandoned() {
    let mut table = table();
    if table.abandoned.is_empty() {
        return;
    }
    let Table { own, abandoned, .. } = &mut *table;
    abandoned.retain(|&pid| {
        let gone = !matches!(
            waitpid(Pid::from_raw(pid), Some(WaitPidFlag::WNOHANG)),
            Ok(WaitStatus::StillAlive)
        );
        if gone {
            own.remove(&pid);
        }
        !gone
    });
}

/// Takes `pid` off the table (it was reaped).
pub(crate) fn forget(pid: i32) {
    table().own.remove(&pid);
}

/// A process bringup started.
#[derive(Debug)]
pub struct Child {
    pid: i32,
    pidfd: Option<OwnedFd>,
    owner: Option<Owner>,
    exit: Option<Exit>,
}

impl Child {
    pub(crate) fn new(pid: i32, pidfd: Option<OwnedFd>, owner: Option<Owner>) -> Self {
        Self {
            pid,
            pidfd,
            owner,
            exit: None,
        }
    }

    pub fn pid(&self) -> u32 {
        self.pid.unsigned_abs()
    }

    /// The service this process runs, if it is a service's.
    pub fn owner(&self) -> Option<&Owner> {
        self.owner.as_ref()
    }

    /// Waits for the process to exit and reaps it. Cancel-safe: dropped
    /// midway, the process is reaped later (see the module docs).
    pub async fn wait(&mut self) -> io::Result<Exit> {
        if let Some(exit) = &self.exit {
            return Ok(exit.clone());
        }
        let exit = match &self.pidfd {
            // SAFETY: `self` owns the pidfd and keeps it open for as long
            // as this borrow of `self`, which outlives the registration.
            Some(pidfd) => match unsafe {
                AsyncFd::register_with_interest(PidFd(pidfd.as_raw_fd()), Interest::READABLE)
            } {
                Ok(watch) => loop {
                    let mut ready = watch.readable().await?;
                    match waitid(
                        Id::PIDFd(pidfd.as_fd()),
                        WaitPidFlag::WEXITED | WaitPidFlag::WNOHANG,
                    ) {
                        Ok(WaitStatus::StillAlive) => ready.clear_ready(),
                        Ok(status) => break exit_of(status),
                        Err(e) => return Err(e.into()),
                    }
                },
                // Linux 5.2 has pidfds that cannot be polled yet.
                Err(_) => self.wait_blocking().await?,
            },
            None => self.wait_blocking().await?,
        };
        self.exit = Some(exit.clone());
        Ok(exit)
    }

    /// The status, if the process has exited (reaping it then).
    pub fn try_wait(&mut self) -> io::Result<Option<Exit>> {
        if let Some(exit) = &self.exit {
            return Ok(Some(exit.clone()));
        }
        match waitpid(Pid::from_raw(self.pid), Some(WaitPidFlag::WNOHANG))? {
            WaitStatus::StillAlive => Ok(None),
            status => {
                let exit = exit_of(status);
                self.exit = Some(exit.clone());
                Ok(Some(exit))
            }
        }
    }

    async fn wait_blocking(&self) -> io::Result<Exit> {
        let pid = Pid::from_raw(self.pid);
        let status = tokio::task::spawn_blocking(move || waitpid(pid, None))
            .await
            .map_err(io::Error::other)??;
        Ok(exit_of(status))
    }
}

impl Drop for Child {
    fn drop(&mut self) {
        if self.exit.is_none() {
            table().abandoned.push(self.pid);
        } else {
            forget(self.pid);
        }
    }
}

/// A pidfd as tokio's reactor wants it; the `Child` owns the descriptor.
struct PidFd(RawFd);

impl AsRawFd for PidFd {
    fn as_raw_fd(&self) -> RawFd {
        self.0
    }
}

fn exit_of(status: WaitStatus) -> Exit {
    match status {
        WaitStatus::Exited(_, code) => Exit::Code(code),
        WaitStatus::Signaled(_, signal, _) => Exit::Signal(SignalName::from(signal)),
        _ => Exit::Code(-1),
    }
}
