//! The test house: the one rig with which integration tests (and the
//! benchmarks, through a `#[path]` module) start bringup and watch it, and
//! clean up every process it (or anything it started) left, even when an
//! assertion fails.
//!
//! - [`config`]: loading a config through the library, hermetically.
//! - [`stack::Stack`]: the real `bringup` binary on a config, headless,
//!   its output collected.
//! - [`tmux::Tmux`]: the same in a real terminal, for the dashboard.
//! - [`tools`]: validators and clients from the package registries.
//! - here: markers, polling, fixture records, and one-shot runs ([`run`]).
//!
//! Every run gets a unique marker in its environment (`BRINGUP_TEST_MARKER`),
//! which every descendant inherits — services, grandchildren, the watchdog —
//! so "did anything of this run survive?" is a scan of `/proc/*/environ`.
//! A daemon that wiped its environment carries no marker: a test that
//! knows one's pid [`stack::Stack::track`]s it (pid and start time), and the same
//! checks and clean-up cover it.

#![allow(dead_code)] // each test crate uses a different part of this module

pub mod config;
pub mod stack;
pub mod tmux;
pub mod tools;

use std::path::Path;
use std::process::{Command, ExitStatus};
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use nix::sys::signal::{Signal, kill};
use nix::unistd::Pid;

pub const BIN: &str = env!("CARGO_BIN_EXE_bringup");
/// Generous: these are bounds for a loaded 2-core CI machine, not targets.
pub const DEADLINE: Duration = Duration::from_secs(20);
pub const POLL: Duration = Duration::from_millis(10);

/// `${bringup} fixture --name NAME EXTRA`, for a config's `command`.
pub fn fixture(name: &str, extra: &str) -> String {
    format!("${{bringup}} fixture --name {name} {extra}")
}

/// The same, recording its lifecycle into the stack's record file.
pub fn recorded(name: &str, extra: &str) -> String {
    fixture(name, &format!("--record {{record}} {extra}"))
}

/// A port that was free a moment ago (bind :0, read it, close), and that
/// no other test of this binary was given: the kernel may hand a port it
/// just got back to the next caller, and two tests running side by side
/// would then fight over it before either has bound it.
pub fn free_port() -> u16 {
    held_port().local_addr().expect("local addr").port()
}

/// A listener on a port no other test of this binary was given (see
/// [`free_port`]): a port "another program" holds, in a test.
pub fn held_port() -> std::net::TcpListener {
    static GIVEN: std::sync::Mutex<Vec<u16>> = std::sync::Mutex::new(Vec::new());
    loop {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind 127.0.0.1:0");
        let port = listener.local_addr().expect("local addr").port();
        let mut given = GIVEN.lock().unwrap_or_else(|p| p.into_inner());
        if !given.contains(&port) {
            given.push(port);
            return listener;
        }
    }
}

/// Polls `f` every 10 ms until it returns `Some`, or panics after `limit`.
pub fn poll_for<T>(what: &str, limit: Duration, mut f: impl FnMut() -> Option<T>) -> T {
    let deadline = Instant::now() + limit;
    loop {
        if let Some(value) = f() {
            return value;
        }
        if Instant::now() > deadline {
            panic!("timed out after {limit:?} waiting for {what}");
        }
        std::thread::sleep(POLL);
    }
}

/// [`poll_for`] with [`DEADLINE`].
pub fn poll<T>(what: &str, f: impl FnMut() -> Option<T>) -> T {
    poll_for(what, DEADLINE, f)
}

/// A marker no other test run shares.
pub fn unique_marker() -> String {
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos());
    format!(
        "bt-{}-{}-{nanos}",
        std::process::id(),
        COUNTER.fetch_add(1, Ordering::Relaxed)
    )
}

/// Pids of live (non-zombie) processes whose environment contains
/// `BRINGUP_TEST_MARKER=<marker>`.
pub fn processes_with_marker(marker: &str) -> Vec<i32> {
    let needle = format!("BRINGUP_TEST_MARKER={marker}");
    let Ok(entries) = std::fs::read_dir("/proc") else {
        return Vec::new();
    };
    entries
        .filter_map(|e| e.ok()?.file_name().to_str()?.parse::<i32>().ok())
        .filter(|pid| {
            let Ok(environ) = std::fs::read(format!("/proc/{pid}/environ")) else {
                return false;
            };
            environ
                .split(|&b| b == 0)
                .any(|var| var == needle.as_bytes())
                && !is_zombie(*pid)
        })
        .collect()
}

/// The start time (clock ticks since boot) of `pid`, if it is alive and
/// not a zombie: with the pid, a process's identity.
pub fn start_time(pid: i32) -> Option<u64> {
    let stat = procfs::process::Process::new(pid).ok()?.stat().ok()?;
    (!matches!(stat.state, 'Z' | 'X')).then_some(stat.starttime)
}

/// The command line of `pid`, its arguments joined by spaces (empty when
/// it is gone or a zombie).
pub fn command_line(pid: i32) -> String {
    std::fs::read(format!("/proc/{pid}/cmdline"))
        .map(|line| String::from_utf8_lossy(&line).replace('\0', " "))
        .unwrap_or_default()
}

/// Pids of live processes whose command line contains `needle` (for a
/// daemon that wiped its environment and whose pid is not known).
pub fn processes_with_command(needle: &str) -> Vec<i32> {
    let Ok(entries) = std::fs::read_dir("/proc") else {
        return Vec::new();
    };
    entries
        .filter_map(|e| e.ok()?.file_name().to_str()?.parse::<i32>().ok())
        .filter(|&pid| command_line(pid).contains(needle) && !is_zombie(pid))
        .collect()
}

/// Zombies (and processes gone since they were listed) count as dead.
fn is_zombie(pid: i32) -> bool {
    procfs::process::Process::new(pid)
        .and_then(|process| process.stat())
        .map_or(true, |stat| stat.state == 'Z')
}

/// SIGKILLs every process of the run and waits until they are gone.
pub fn kill_marked(marker: &str) {
    for _ in 0..100 {
        let pids = processes_with_marker(marker);
        if pids.is_empty() {
            return;
        }
        for pid in pids {
            let _ = kill(Pid::from_raw(pid), Signal::SIGKILL);
        }
        std::thread::sleep(POLL);
    }
}

/// One lifecycle event a fixture wrote with `--record`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Record {
    pub nanos: u64,
    pub name: String,
    pub event: String,
    pub pid: i32,
}

/// Reads a `--record` file (missing file = no events yet).
pub fn records(path: &Path) -> Vec<Record> {
    let text = std::fs::read_to_string(path).unwrap_or_default();
    text.lines()
        .filter_map(|line| {
            let mut parts = line.split_whitespace();
            Some(Record {
                nanos: parts.next()?.parse().ok()?,
                name: parts.next()?.to_string(),
                event: parts.next()?.to_string(),
                pid: parts.next()?.parse().ok()?,
            })
        })
        .collect()
}

/// The time of the first `event` of `name`, if it happened.
pub fn first(records: &[Record], name: &str, event: &str) -> Option<u64> {
    records
        .iter()
        .find(|r| r.name == name && r.event == event)
        .map(|r| r.nanos)
}

/// All times of `event` of `name`.
pub fn all(records: &[Record], name: &str, event: &str) -> Vec<u64> {
    records
        .iter()
        .filter(|r| r.name == name && r.event == event)
        .map(|r| r.nanos)
        .collect()
}

/// Runs `bringup <args>` to completion and returns (status, stdout, stderr).
pub fn run(args: &[&str], dir: &Path) -> (ExitStatus, String, String) {
    let output = Command::new(BIN)
        .args(args)
        .current_dir(dir)
        .env("NO_COLOR", "1")
        // Cold-start history and logs stay with the test (as a Stack's).
        .env("XDG_STATE_HOME", dir.join("state"))
        .output()
        .expect("run bringup");
    (
        output.status,
        String::from_utf8_lossy(&output.stdout).into_owned(),
        String::from_utf8_lossy(&output.stderr).into_owned(),
    )
}
