//! Port locks shared by every bringup of a user: the reason two instances
//! started at the same moment never hand out the same port.
//!
//! Each port a bringup hands out is held by an exclusive `flock` on
//! `<ports dir>/<port>.lock` for as long as the service has it. The kernel
//! drops the lock when the holder dies, however it dies, so a killed
//! bringup releases its ports without cleanup. The file also says who holds
//! it (bringup's pid, the project, the service) for `bringup ports` and for
//! conflict messages.
//!
//! A holder that lets go removes the file while it still holds the lock,
//! so the directory does not fill up. Someone else may have opened the old
//! file just before and be waiting to lock it; after locking, a locker
//! therefore checks that the path still names the file it locked and
//! starts over if not, so two lockers can never each hold "the" lock of a
//! port through two different files.

use std::fs::{File, OpenOptions};
use std::io::{self, Read, Seek, Write};
use std::os::unix::fs::{MetadataExt, OpenOptionsExt};
use std::path::{Path, PathBuf};

use nix::errno::Errno;
use nix::fcntl::{Flock, FlockArg};
use serde::{Deserialize, Serialize};

/// What a lock file says about its holder.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LockInfo {
    /// The bringup process holding the port.
    pub pid: u32,
    pub port: u16,
    pub project: String,
    pub service: String,
    /// The config file the bringup runs.
    pub config: String,
    /// The service's current process, once it runs.
    #[serde(default)]
    pub service_pid: Option<u32>,
}

/// An exclusive lock on one port, released (and its file removed) on drop.
#[derive(Debug)]
pub struct PortLock {
    lock: Option<Flock<File>>,
    path: PathBuf,
    port: u16,
}

/// Why a port could not be locked.
#[derive(Debug)]
pub enum LockError {
    /// Another bringup holds it (what its lock file says, if readable).
    Held(Option<LockInfo>),
    Io(io::Error),
}

/// The directory of port locks, created if needed.
pub fn dir() -> io::Result<PathBuf> {
    let dir = crate::rundir::base()?.join("ports");
    crate::rundir::private_dir(&dir)?;
    Ok(dir)
}

impl PortLock {
    /// Takes the lock of `port` in `dir` without waiting.
    pub fn acquire(dir: &Path, port: u16) -> Result<Self, LockError> {
        let path = dir.join(format!("{port}.lock"));
        // Each round either wins, loses to a live holder, or found the file
        // replaced under it (a holder let go); the latter cannot repeat
        // more often than ports are released, but bound it anyway.
        for _ in 0..16 {
            let file = OpenOptions::new()
                .read(true)
                .write(true)
                .create(true)
                .truncate(false)
                .mode(0o600)
                .open(&path)
                .map_err(LockError::Io)?;
            let lock = match Flock::lock(file, FlockArg::LockExclusiveNonblock) {
                Ok(lock) => lock,
                Err((_, Errno::EWOULDBLOCK)) => return Err(LockError::Held(read_info(&path))),
                Err((_, errno)) => return Err(LockError::Io(errno.into())),
            };
            let still_there = std::fs::metadata(&path)
                .and_then(|on_disk| Ok((on_disk, lock.metadata()?)))
                .is_ok_and(|(on_disk, ours)| {
                    on_disk.ino() == ours.ino() && on_disk.dev() == ours.dev()
                });
            if still_there {
                return Ok(Self {
                    lock: Some(lock),
                    path,
                    port,
                });
            }
        }
        Err(LockError::Io(io::Error::other(format!(
            "{} keeps being replaced; is another program cleaning that directory?",
            path.display()
        ))))
    }

    pub fn port(&self) -> u16 {
        self.port
    }

    /// Records who holds the port, for `bringup ports` and conflict messages.
    pub fn describe(&mut self, info: &LockInfo) -> io::Result<()> {
        let Some(lock) = self.lock.as_mut() else {
            return Ok(());
        };
        let text = serde_json::to_string(info).map_err(io::Error::other)?;
        let file: &mut File = lock;
        file.set_len(0)?;
        file.rewind()?;
        file.write_all(text.as_bytes())
    }
}

impl Drop for PortLock {
    fn drop(&mut self) {
        // Remove the file while still holding the lock (see the module docs).
        let _ = std::fs::remove_file(&self.path);
        drop(self.lock.take());
    }
}

/// What the lock file of a port says, if it says anything readable.
pub fn read_info(path: &Path) -> Option<LockInfo> {
    let mut text = String::new();
    File::open(path).ok()?.read_to_string(&mut text).ok()?;
    serde_json::from_str(&text).ok()
}

/// Every port that some bringup holds right now, with what its file says.
pub fn held(dir: &Path) -> Vec<(u16, Option<LockInfo>)> {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return Vec::new();
    };
    let mut held: Vec<(u16, Option<LockInfo>)> = entries
        .flatten()
        .filter_map(|entry| {
            let name = entry.file_name();
            let port: u16 = name.to_str()?.strip_suffix(".lock")?.parse().ok()?;
            // A file nobody holds locked is a leftover, not a holder.
            let file = File::open(entry.path()).ok()?;
            match Flock::lock(file, FlockArg::LockSharedNonblock) {
                Ok(_) => None,
                Err(_) => Some((port, read_info(&entry.path()))),
            }
        })
        .collect();
    held.sort_by_key(|(port, _)| *port);
    held
}

#[cfg(test)]
mod tests {
    use super::*;

    fn info(port: u16) -> LockInfo {
        LockInfo {
            pid: std::process::id(),
            port,
            project: "p".into(),
            service: "api".into(),
            config: "/x/bringup.toml".into(),
            service_pid: None,
        }
    }

    #[test]
    fn a_port_is_held_once_and_released_on_drop() {
        let dir = tempfile::tempdir().unwrap();
        let mut first = PortLock::acquire(dir.path(), 9100).unwrap();
        first.describe(&info(9100)).unwrap();
        match PortLock::acquire(dir.path(), 9100) {
            Err(LockError::Held(Some(holder))) => assert_eq!(holder, info(9100)),
            other => panic!("expected the port to be held: {other:?}"),
        }
        assert_eq!(held(dir.path()), vec![(9100, Some(info(9100)))]);
        drop(first);
        assert!(
            !dir.path().join("9100.lock").exists(),
            "released locks leave no file"
        );
        assert!(held(dir.path()).is_empty());
        assert!(PortLock::acquire(dir.path(), 9100).is_ok());
    }

    #[test]
    fn a_leftover_file_is_not_a_holder() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("9200.lock"), "{}").unwrap();
        assert!(held(dir.path()).is_empty());
        assert!(PortLock::acquire(dir.path(), 9200).is_ok());
    }

    #[test]
    fn threads_racing_for_ports_never_share_one() {
        // Eight threads lock and let go of ports 9300..9310 over and over;
        // then, all holding their last locks at the same moment (a
        // barrier), no port may be held by two of them.
        let dir = tempfile::tempdir().unwrap();
        let barrier = std::sync::Barrier::new(8);
        let held: Vec<Vec<u16>> = std::thread::scope(|scope| {
            let handles: Vec<_> = (0..8)
                .map(|_| {
                    scope.spawn(|| {
                        let mut mine = Vec::new();
                        for _ in 0..50 {
                            mine.clear();
                            for port in 9300..9310 {
                                if let Ok(lock) = PortLock::acquire(dir.path(), port) {
                                    mine.push(lock);
                                }
                            }
                        }
                        barrier.wait();
                        let ports: Vec<u16> = mine.iter().map(PortLock::port).collect();
                        // Nobody lets go before everyone has looked.
                        barrier.wait();
                        ports
                    })
                })
                .collect();
            handles.into_iter().map(|h| h.join().unwrap()).collect()
        });
        let mut all: Vec<u16> = held.into_iter().flatten().collect();
        let total = all.len();
        all.sort_unstable();
        all.dedup();
        assert_eq!(all.len(), total, "a port was held twice at once");
        assert!(total > 0);
    }
}
