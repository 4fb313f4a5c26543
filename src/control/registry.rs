//! Where running stacks are found: one small record per running stack,
//! `<runtime dir>/stacks/<identity>.json`, named by the config's identity
//! (its canonical path and project name, [`crate::config::Plan::identity`]).
//!
//! The record is held with an exclusive `flock` for as long as its stack
//! runs, which makes it a claim too: a second `bringup up` of the same
//! config cannot take it and is told which bringup runs the stack. A
//! record whose lock is free belongs to a bringup that died (even by
//! SIGKILL, which releases the lock with the process): readers ignore it
//! and remove it. The directory is the runtime directory's own (private,
//! made without following links), and records are opened with
//! `O_NOFOLLOW`.

use std::fs::File;
use std::io::{self, Read, Seek, Write};
use std::os::unix::fs::{MetadataExt, OpenOptionsExt};
use std::path::{Path, PathBuf};

use nix::errno::Errno;
use nix::fcntl::{Flock, FlockArg};
use serde::{Deserialize, Serialize};

/// The largest record read (a record is a few hundred bytes).
const MAX_RECORD: u64 = 64 * 1024;
/// How many records `list` reads at most.
const MAX_RECORDS: usize = 1_000;

/// What a running stack says about itself.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Record {
    /// The bringup running it.
    pub pid: u32,
    /// Its control socket.
    pub socket: PathBuf,
    pub project: String,
    /// The config file (canonical path).
    pub config: PathBuf,
    /// When it started, in ms since the Unix epoch.
    pub started_unix_ms: u64,
    /// bringup's version.
    pub version: String,
}

/// Why a stack could not be registered.
#[derive(Debug, thiserror::Error)]
pub enum ClaimError {
    /// Another bringup holds the record; what it says about itself, unless
    /// it is so new it has not written it yet.
    #[error("this config is already running{}", .0.as_ref().map(|r| format!(" (bringup pid {})", r.pid)).unwrap_or_default())]
    AlreadyRunning(Option<Record>),
    #[error("the registry of running stacks ({path}): {source}")]
    Io { path: PathBuf, source: io::Error },
    #[error(transparent)]
    RunDir(#[from] crate::rundir::Error),
}

/// A registered stack; dropping it removes the record.
#[derive(Debug)]
pub struct Claim {
    path: PathBuf,
    _lock: Flock<File>,
}

impl Drop for Claim {
    fn drop(&mut self) {
        // Removed while still locked: whoever opens it meanwhile finds it
        // locked, then gone.
        let _ = std::fs::remove_file(&self.path);
    }
}

/// The directory of records.
pub fn dir() -> Result<PathBuf, crate::rundir::Error> {
    crate::rundir::subdir("stacks")
}

fn record_path(dir: &Path, identity: &str) -> PathBuf {
    dir.join(format!("{identity}.json"))
}

fn open(path: &Path, create: bool) -> io::Result<File> {
    let mut options = std::fs::OpenOptions::new();
    options.read(true);
    if create {
        options.write(true).create(true).mode(0o600);
    }
    options
        .custom_flags(nix::libc::O_NOFOLLOW | nix::libc::O_CLOEXEC)
        .open(path)
}

/// Registers the stack of config `identity`, unless it already runs.
pub fn claim(identity: &str, record: &Record) -> Result<Claim, ClaimError> {
    let dir = dir()?;
    let path = record_path(&dir, identity);
    let io = |source| ClaimError::Io {
        path: path.clone(),
        source,
    };
    // A few tries: a record removed between our open and our lock is not
    // the one at the path any more.
    for _ in 0..5 {
        let file = open(&path, true).map_err(io)?;
        let mut lock = match Flock::lock(file, FlockArg::LockExclusiveNonblock) {
            Ok(lock) => lock,
            Err((file, Errno::EWOULDBLOCK)) => {
                return Err(ClaimError::AlreadyRunning(read_record(file)));
            }
            Err((_, errno)) => return Err(io(errno.into())),
        };
        let same = match (lock.metadata(), std::fs::symlink_metadata(&path)) {
            (Ok(held), Ok(now)) => held.ino() == now.ino() && held.dev() == now.dev(),
            _ => false,
        };
        if !same {
            continue;
        }
        let text = serde_json::to_vec(record).map_err(|e| io(io::Error::other(e)))?;
        lock.set_len(0).map_err(io)?;
        lock.rewind().map_err(io)?;
        lock.write_all(&text).map_err(io)?;
        return Ok(Claim { path, _lock: lock });
    }
    Err(io(io::Error::other("the record kept changing under us")))
}

/// The record of `file`, read whole (bounded).
fn read_record(mut file: File) -> Option<Record> {
    let mut text = Vec::new();
    (&mut file).take(MAX_RECORD).read_to_end(&mut text).ok()?;
    serde_json::from_slice(&text).ok()
}

/// The record at `path` if its stack runs; a dead stack's record is
/// removed.
fn live(path: &Path) -> Option<Record> {
    let file = open(path, false).ok()?;
    match Flock::lock(file, FlockArg::LockSharedNonblock) {
        // Nobody holds it: its bringup is gone.
        Ok(lock) => {
            let same = match (lock.metadata(), std::fs::symlink_metadata(path)) {
                (Ok(held), Ok(now)) => held.ino() == now.ino(),
                _ => false,
            };
            if same {
                let _ = std::fs::remove_file(path);
            }
            None
        }
        Err((file, Errno::EWOULDBLOCK)) => read_record(file),
        Err(_) => None,
    }
}

/// The running stack of config `identity`, if there is one.
pub fn find(identity: &str) -> Result<Option<Record>, crate::rundir::Error> {
    Ok(live(&record_path(&dir()?, identity)))
}

/// The running stacks of the config file `config` (a canonical path),
/// whatever project name they run under: the file's `[project] name` may
/// have been edited since one started (its identity is of the old name).
pub fn of_config(config: &Path) -> Result<Vec<Record>, crate::rundir::Error> {
    Ok(list()?.into_iter().filter(|r| r.config == config).collect())
}

/// Every running stack of this user, oldest first.
pub fn list() -> Result<Vec<Record>, crate::rundir::Error> {
    let dir = dir()?;
    let mut records: Vec<Record> = std::fs::read_dir(&dir)
        .map(|entries| {
            entries
                .flatten()
                .take(MAX_RECORDS)
                .filter(|e| e.file_name().to_string_lossy().ends_with(".json"))
                .filter_map(|e| live(&e.path()))
                .collect()
        })
        .unwrap_or_default();
    records.sort_by_key(|r| r.started_unix_ms);
    Ok(records)
}
