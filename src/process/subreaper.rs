//! bringup as a child subreaper: descendants that escape a service come
//! back to it, and are stopped with the service (or the stack).
//!
//! A daemon leaves its service by forking twice and calling `setsid`: it is
//! then in no process group bringup signals, and its parent has exited. Many
//! also rewrite their process title (`redis-server --daemonize yes`), which
//! overwrites `/proc/PID/environ`, so not even the run's `BRINGUP_RUN`
//! marker ([`super::leftovers`]) finds them. With `PR_SET_CHILD_SUBREAPER`
//! the kernel re-parents such orphans to bringup instead of to init, so
//! they show up among bringup's own children
//! (`/proc/self/task/*/children`), where nothing else does: that list is
//! short, and reading it costs a few system calls.
//!
//! [`Subreaper::watch`] reads it soon after every spawn and exit (10 ms,
//! then doubling; a [`poke`] starts over) and every five seconds when
//! nothing happens, on a thread of its own ([`looker`]: an idle stack's cheapest
//! way to keep that pace). A child that is not in the table of processes bringup started
//! ([`super::child`]), not in bringup's own process group (a program
//! bringup ran for itself) and not in the group of a service or check (an
//! orphan still in its group is stopped with the group; only its corpse is
//! bringup's to clear) is an escapee. It is attributed to a service,
//! where that can be told:
//!
//! 1. its environment, if still readable, names the run and the service
//!    (`BRINGUP_RUN`, `BRINGUP_SERVICE`);
//! 2. its process group or session is that of an escapee already
//!    attributed (the second fork of a double fork keeps the session the
//!    first one created);
//! 3. it was found when a service's main process had just exited (a
//!    launcher that daemonized its server and returned).
//!
//! Otherwise it belongs to the run. An attributed escapee is signalled with
//! its service and stopped when the service's main process exits, like the
//! leftovers of its process group (systemd's control-group semantics); the
//! rest are stopped at shutdown, and every stop is announced with pids and
//! command lines. Each escapee is also registered with the watchdog by pid
//! and start time, so `kill -9 bringup` does not leave it behind either.
//! Escapees are reaped by their own pid; `waitpid(-1)` would steal the exit
//! status of children other code waits for.
//!
//! A daemon meant to outlive the stack is started with the run's marker
//! removed (`env -u BRINGUP_RUN gradle --daemon`): an escapee whose
//! environment is intact but unmarked is let go (and reaped if it exits
//! while bringup runs). One whose environment cannot be read as one (a
//! rewritten title) counts as the run's.
//!
//! The window this leaves: an escapee that appears and then sees bringup
//! killed with SIGKILL before the next look (10 ms after a spawn, a second
//! when all is quiet) is not known to the watchdog.

use std::collections::HashMap;
use std::ffi::{OsStr, OsString};
use std::io;
use std::sync::{Arc, Mutex, MutexGuard, Weak};
use std::time::Duration;

use nix::sys::signal::Signal;
use nix::sys::wait::{WaitPidFlag, WaitStatus, waitpid};
use nix::unistd::Pid;
use procfs::process::Process;

use crate::process::child::{self, Table};
use crate::process::leftovers::{self, Marked, RUN_VARIABLE};
use crate::process::watchdog::Watchdog;

/// Escapees tracked at most (a bound, far above any real stack).
const MAX_ADOPTED: usize = 4096;
/// How long a killed escapee may take to become a zombie to reap.
const REAP_LIMIT: Duration = Duration::from_secs(5);

mod looker;

pub use looker::poke;

/// An escapee bringup adopted.
#[derive(Debug, Clone)]
pub struct Adopted {
    pub process: Marked,
    /// The service it was attributed to, if any.
    pub service: Option<String>,
    /// That service's process group.
    group: Option<i32>,
    pgid: i32,
    sid: i32,
}

/// How an escapee was judged.
enum Verdict {
    Service { group: i32, name: String },
    Run,
    LetGo,
}

#[derive(Default)]
struct State {
    adopted: Vec<Adopted>,
    /// Escapees let go: not ours to stop, but ours to reap.
    let_go: Vec<i32>,
}

/// The subreaper of one run.
pub struct Subreaper {
    run: String,
    /// Weak: the engine finishes the watchdog (a clean stop) by taking it
    /// back whole.
    watchdog: Option<Weak<Watchdog>>,
    state: Mutex<State>,
}

impl Subreaper {
    /// Makes this process a child subreaper (a process-wide setting; the
    /// kernel then re-parents orphaned descendants here) and starts the
    /// accounts of run `run`.
    pub fn start(run: &str, watchdog: Option<&Arc<Watchdog>>) -> io::Result<Arc<Self>> {
        nix::sys::prctl::set_child_subreaper(true)?;
        Ok(Arc::new(Self {
            run: run.to_string(),
            watchdog: watchdog.map(Arc::downgrade),
            state: Mutex::default(),
        }))
    }

    fn watchdog(&self) -> Option<Arc<Watchdog>> {
        self.watchdog.as_ref().and_then(Weak::upgrade)
    }

    fn state(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Looks for escapees now and returns the new ones. `exited` is the
    /// process group of a service whose main process just exited: new
    /// escapees nothing else attributes are its.
    pub fn scan(&self, exited: Option<i32>) -> Vec<Adopted> {
        self.scan_listing(exited, || super::children(std::process::id()))
    }

    /// [`Subreaper::scan`], with bringup's children listed by `list`.
    fn scan_listing(&self, exited: Option<i32>, list: impl FnOnce() -> Vec<u32>) -> Vec<Adopted> {
        child::reap_abandoned();
        self.reap_exited();
        let own_group = nix::unistd::getpgrp().as_raw();
        let own_session = nix::unistd::getsid(None).map_or(-1, Pid::as_raw);
        // Locked while the children are listed and classified: a spawn
        // notes its child in the table before anyone can see it here.
        let table = child::table();
        if table.settling() {
            // A child of ours may be running but not noted yet; look again
            // at the next turn.
            return Vec::new();
        }
        let mut state = self.state();
        let mut found = Vec::new();
        let children = list();
        for pid in children
            .into_iter()
            .filter_map(|pid| i32::try_from(pid).ok())
        {
            if table.contains(pid)
                || state.let_go.contains(&pid)
                || state.adopted.iter().any(|a| a.process.pid == pid)
            {
                continue;
            }
            let process = match Process::new(pid) {
                Ok(process) => process,
                Err(_) => continue,
            };
            let Ok(stat) = process.stat() else { continue };
            if stat.pgrp == own_group {
                // Something bringup ran for itself, never a service's.
                continue;
            }
            if table.is_own_group(stat.pgrp) {
                // Orphaned but still in its service's (or check's) group:
                // the group's signals reach it; only its corpse is ours.
                if matches!(stat.state, 'Z' | 'X') {
                    reap(pid);
                }
                continue;
            }
            if matches!(stat.state, 'Z' | 'X') {
                // Escaped and already dead: only the corpse to clear.
                let _ = waitpid(Pid::from_raw(pid), Some(WaitPidFlag::WNOHANG));
                continue;
            }
            let environment = process.environ().ok();
            let verdict = self.judge(
                &table,
                &state,
                environment.as_ref(),
                (stat.pgrp, stat.session),
                own_session,
                exited,
            );
            let (group, service) = match verdict {
                Verdict::LetGo => {
                    tracing::debug!(target: "bringup::process", pid, "letting go of an unmarked escapee");
                    state.let_go.push(pid);
                    continue;
                }
                Verdict::Service { group, name } => (Some(group), Some(name)),
                Verdict::Run => (None, None),
            };
            if state.adopted.len() >= MAX_ADOPTED {
                continue;
            }
            let command = process
                .cmdline()
                .ok()
                .map(|argv| argv.join(" "))
                .filter(|line| !line.trim().is_empty())
                .unwrap_or_else(|| stat.comm.clone());
            let adopted = Adopted {
                process: Marked::identified(pid, stat.starttime, command),
                service,
                group,
                pgid: stat.pgrp,
                sid: stat.session,
            };
            if let Some(watchdog) = self.watchdog() {
                watchdog.adopt(pid, stat.starttime);
            }
            state.adopted.push(adopted.clone());
            found.push(adopted);
        }
        found
    }

    fn judge(
        &self,
        table: &Table,
        state: &State,
        environment: Option<&HashMap<OsString, OsString>>,
        (pgid, sid): (i32, i32),
        own_session: i32,
        exited: Option<i32>,
    ) -> Verdict {
        let name_of = |group: i32| {
            table
                .owner_of_group(group)
                .filter(|owner| owner.run == self.run)
                .map(|owner| owner.service.clone())
        };
        if let Some(environment) = environment {
            match environment.get(OsStr::new(RUN_VARIABLE)) {
                Some(run) if run == OsStr::new(&self.run) => {
                    let service = environment
                        .get(OsStr::new("BRINGUP_SERVICE"))
                        .and_then(|name| name.to_str());
                    if let Some(name) = service
                        && let Some(group) = table.service_group(&self.run, name)
                    {
                        return Verdict::Service {
                            group,
                            name: name.to_string(),
                        };
                    }
                }
                Some(_) => {}
                None if intact(environment) => return Verdict::LetGo,
                None => {}
            }
        }
        let related = state.adopted.iter().find(|a| {
            let theirs = [a.process.pid, a.pgid, a.sid];
            theirs.contains(&pgid) || (sid != own_session && theirs.contains(&sid))
        });
        if let Some(relative) = related {
            return match (relative.group, &relative.service) {
                (Some(group), Some(name)) => Verdict::Service {
                    group,
                    name: name.clone(),
                },
                _ => Verdict::Run,
            };
        }
        if let Some(group) = exited
            && let Some(name) = name_of(group)
        {
            return Verdict::Service { group, name };
        }
        Verdict::Run
    }

    /// Clears the corpses of escapees that have exited.
    fn reap_exited(&self) {
        let mut state = self.state();
        let mut gone = Vec::new();
        state.adopted.retain(|a| {
            let alive = a.process.alive();
            if !alive {
                reap(a.process.pid);
                gone.push(a.process.pid);
            }
            alive
        });
        state.let_go.retain(|&pid| {
            matches!(
                waitpid(Pid::from_raw(pid), Some(WaitPidFlag::WNOHANG)),
                Ok(WaitStatus::StillAlive)
            )
        });
        drop(state);
        if let Some(watchdog) = self.watchdog() {
            for pid in gone {
                watchdog.disown(pid);
            }
        }
    }

    /// The escapees attributed to the service leading group `pgid`.
    pub fn of_service(&self, pgid: i32) -> Vec<Adopted> {
        self.state()
            .adopted
            .iter()
            .filter(|a| a.group == Some(pgid))
            .cloned()
            .collect()
    }

    /// Sends `signal` to the escapees of the service leading group `pgid`.
    pub fn signal(&self, pgid: i32, signal: Signal) {
        for adopted in self.of_service(pgid) {
            adopted.process.signal(signal);
        }
    }

    /// Forgets `stopped` (the caller made sure they are gone), reaping them.
    pub fn release(&self, stopped: &[Adopted]) {
        let pids: Vec<i32> = stopped.iter().map(|a| a.process.pid).collect();
        self.state()
            .adopted
            .retain(|a| !pids.contains(&a.process.pid));
        let watchdog = self.watchdog();
        for &pid in &pids {
            reap(pid);
            if let Some(watchdog) = &watchdog {
                watchdog.disown(pid);
            }
        }
    }

    /// At shutdown: stops every escapee still running and every process
    /// that carries the run's marker, as [`leftovers::stop`] does (SIGTERM,
    /// up to `grace`, SIGKILL), reaps the escapees and returns all it
    /// stopped. Blocks meanwhile, which only happens when there are some.
    pub fn stop_all(&self, grace: Duration) -> io::Result<Vec<Marked>> {
        self.scan(None);
        let mut targets = leftovers::find(&self.run)?;
        let adopted: Vec<Adopted> = self.state().adopted.clone();
        for a in &adopted {
            if a.process.alive() && !targets.iter().any(|t| t.pid == a.process.pid) {
                targets.push(a.process.clone());
            }
        }
        if targets.is_empty() {
            return Ok(targets);
        }
        for process in &targets {
            process.signal(Signal::SIGTERM);
        }
        leftovers::wait_gone(&targets, grace);
        for process in targets.iter().chain(leftovers::find(&self.run)?.iter()) {
            process.signal(Signal::SIGKILL);
        }
        let killed: Vec<Marked> = adopted.iter().map(|a| a.process.clone()).collect();
        leftovers::wait_gone(&killed, REAP_LIMIT);
        self.release(&adopted);
        Ok(targets)
    }

    /// Looks for escapees until the task is dropped: soon after a [`poke`],
    /// then less and less often, down to every five seconds (on a thread of its
    /// own: see [`looker`]). Each new one is passed to `announce`.
    pub async fn watch(self: Arc<Self>, announce: impl Fn(&Adopted)) {
        let (found, mut news) = tokio::sync::mpsc::channel(64);
        let _looker = match looker::Looker::start(self, found) {
            Ok(looker) => looker,
            Err(e) => {
                tracing::warn!(target: "bringup", "cannot start the thread that looks for daemons escaping their services ({e}); they are found only when their service stops");
                return;
            }
        };
        while let Some(adopted) = news.recv().await {
            announce(&adopted);
        }
    }
}

/// Stops what is left of a service whose main process exited: the rest of
/// its process group and its escapees, together (SIGTERM, up to `grace`,
/// SIGKILL). Returns the escapees that were still running.
pub(crate) async fn stop_remains(
    subreaper: Option<&Subreaper>,
    pgid: u32,
    grace: Duration,
) -> Vec<Adopted> {
    let group = i32::try_from(pgid).unwrap_or(i32::MAX);
    let escaped: Vec<Adopted> = match subreaper {
        Some(subreaper) => {
            subreaper.scan(Some(group));
            subreaper
                .of_service(group)
                .into_iter()
                .filter(|a| a.process.alive())
                .collect()
        }
        None => Vec::new(),
    };
    let all_gone = || !super::group_alive(pgid) && !escaped.iter().any(|a| a.process.alive());
    if !all_gone() {
        let _ = super::signal_group(pgid, Signal::SIGTERM);
        for adopted in &escaped {
            adopted.process.signal(Signal::SIGTERM);
        }
        if !super::poll_until(grace, all_gone).await {
            let _ = super::signal_group(pgid, Signal::SIGKILL);
            for adopted in &escaped {
                adopted.process.signal(Signal::SIGKILL);
            }
            super::poll_until(REAP_LIMIT, all_gone).await;
        }
    }
    if let Some(subreaper) = subreaper {
        let all = subreaper.of_service(group);
        subreaper.release(&all);
    }
    escaped
}

/// Reaps `pid` if it is a zombie child of ours; nothing otherwise.
fn reap(pid: i32) {
    let _ = waitpid(Pid::from_raw(pid), Some(WaitPidFlag::WNOHANG));
}

/// An environment that is still one: at least one `NAME=value` with a
/// name a shell would accept. A rewritten process title leaves NULs or
/// words without a valid name.
fn intact(environment: &HashMap<OsString, OsString>) -> bool {
    environment.keys().any(|key| {
        let bytes = key.as_encoded_bytes();
        bytes
            .first()
            .is_some_and(|b| b.is_ascii_alphabetic() || *b == b'_')
            && bytes
                .iter()
                .all(|b| b.is_ascii_alphanumeric() || *b == b'_')
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_environment_is_intact_when_it_still_has_names() {
        let env = |pairs: &[(&str, &str)]| {
            pairs
                .iter()
                .map(|(k, v)| (OsString::from(k), OsString::from(v)))
                .collect::<HashMap<_, _>>()
        };
        assert!(intact(&env(&[("PATH", "/bin"), ("HOME", "/root")])));
        assert!(!intact(&env(&[])));
        assert!(!intact(&env(&[("redis-server *:6379 --x", "1")])));
    }
}
