//! Port locks shared by every bringup on the machine: the reason two
//! instances started at the same moment never hand out the same port,
//! whichever users run them.
//!
//! Each port a bringup hands out is held, for as long as the service has
//! it, by two things the kernel lets go of when the holder dies, however it
//! dies, so a killed bringup releases its ports without cleanup:
//!
//! - a datagram socket bound to the abstract Unix name
//!   `bringup/port/<port>`. Abstract names are one namespace for every
//!   user (of a network namespace, like ports), cannot be planted as files,
//!   and a second bind fails: this is what makes a port handed out to
//!   user A unavailable to user B's bringup while A's service has not
//!   bound it yet;
//! - an exclusive `flock` on `<ports dir>/<port>.lock` in the user's
//!   private runtime directory ([`crate::rundir`]). The file says who holds
//!   the port (bringup's pid, the project, the service) for `bringup ports`
//!   and conflict messages, which another user's bringup cannot read; it is
//!   also what older bringups of the same user respect.
//!
//! A holder that lets go removes the file while it still holds the lock,
//! so the directory does not fill up. Someone else may have opened the old
//! file just before and be waiting to lock it; after locking, a locker
//! therefore checks that the path still names the file it locked and
//! starts over if not, so two lockers can never each hold "the" lock of a
//! port through two different files. Files are opened without following
//! links.

use std::fs::{File, OpenOptions};
use std::io::{self, Read, Seek, Write};
use std::os::linux::net::SocketAddrExt;
use std::os::unix::fs::{MetadataExt, OpenOptionsExt};
use std::os::unix::net::{SocketAddr, UnixDatagram};
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
    /// The abstract socket that holds the port machine-wide.
    _claim: UnixDatagram,
    path: PathBuf,
    port: u16,
}

/// Why a port could not be locked.
#[derive(Debug)]
pub enum LockError {
    /// Another bringup holds it: what its lock file says when it is one of
    /// ours, `None` when it is another user's (or unreadable).
    Held(Option<LockInfo>),
    Io(io::Error),
}

/// The directory of port locks, created if needed.
pub fn dir() -> Result<PathBuf, crate::rundir::Error> {
    crate::rundir::subdir("ports")
}

/// The machine-wide name of a port's claim.
fn claim_name(port: u16) -> String {
    format!("bringup/port/{port}")
}

/// Binds the abstract socket of `port`: `Ok(None)` when some other bringup
/// has it.
fn claim(port: u16) -> io::Result<Option<UnixDatagram>> {
    let address = SocketAddr::from_abstract_name(claim_name(port))?;
    match UnixDatagram::bind_addr(&address) {
        Ok(socket) => Ok(Some(socket)),
        Err(e) if e.kind() == io::ErrorKind::AddrInUse => Ok(None),
        Err(e) => Err(e),
    }
}

impl PortLock {
    /// Takes the lock of `port` in `dir` without waiting.
    pub fn acquire(dir: &Path, port: u16) -> Result<Self, LockError> {
        let path = dir.join(format!("{port}.lock"));
        let Some(claim) = claim(port).map_err(LockError::Io)? else {
            return Err(LockError::Held(read_info(&path)));
        };
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
                .custom_flags(nix::libc::O_NOFOLLOW)
                .open(&path)
                .map_err(LockError::Io)?;
            let lock = match Flock::lock(file, FlockArg::LockExclusiveNonblock) {
                Ok(lock) => lock,
                Err((_, Errno::EWOULDBLOCK)) => return Err(LockError::Held(read_info(&path))),
                Err((_, errno)) => return Err(LockError::Io(errno.into())),
            };
            let still_there = std::fs::symlink_metadata(&path)
                .and_then(|on_disk| Ok((on_disk, lock.metadata()?)))
                .is_ok_and(|(on_disk, ours)| {
                    on_disk.ino() == ours.ino() && on_disk.dev() == ours.dev()
                });
            if still_there {
                return Ok(Self {
                    lock: Some(lock),
                    _claim: claim,
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
    crate::rundir::open_nofollow(path, OpenOptions::new().read(true))
        .ok()?
        .take(64 * 1024)
        .read_to_string(&mut text)
        .ok()?;
    serde_json::from_str(&text).ok()
}

/// Every port that some bringup of this user holds right now, with what
/// its file says.
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
            let file =
                crate::rundir::open_nofollow(&entry.path(), OpenOptions::new().read(true)).ok()?;
            match Flock::lock(file, FlockArg::LockSharedNonblock) {
                Ok(_) => None,
                Err(_) => Some((port, read_info(&entry.path()))),
            }
        })
        .collect();
    held.sort_by_key(|(port, _)| *port);
    held
}

/// Every port that any bringup on the machine holds right now, whoever
/// runs it (from the kernel's table of Unix sockets).
pub fn claimed() -> Vec<u16> {
    let mut ports: Vec<u16> = procfs::net::unix()
        .into_iter()
        .flatten()
        .filter_map(|entry| {
            let path = entry.path?;
            path.to_str()?.strip_prefix("@bringup/port/")?.parse().ok()
        })
        .collect();
    ports.sort_unstable();
    ports.dedup();
    ports
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

    /// `count` consecutive ports no bringup on the machine claims now (the
    /// claims are machine-wide, so fixed numbers could meet another test run).
    fn unclaimed(count: u16) -> u16 {
        // Tests of this process run at once: each call its own block.
        static NEXT: std::sync::atomic::AtomicU16 = std::sync::atomic::AtomicU16::new(0);
        let taken = claimed();
        loop {
            let block = u32::from(NEXT.fetch_add(1, std::sync::atomic::Ordering::Relaxed));
            let start = 40_000 + ((std::process::id() % 500) * 40 + block * 16) % 20_000;
            let start = start as u16;
            if !(start..start + count).any(|p| taken.contains(&p)) {
                return start;
            }
        }
    }

    #[test]
    fn a_port_is_held_once_and_released_on_drop() {
        let dir = tempfile::tempdir().unwrap();
        let port = unclaimed(1);
        let mut first = PortLock::acquire(dir.path(), port).unwrap();
        first.describe(&info(port)).unwrap();
        match PortLock::acquire(dir.path(), port) {
            Err(LockError::Held(Some(holder))) => assert_eq!(holder, info(port)),
            other => panic!("expected the port to be held: {other:?}"),
        }
        assert_eq!(held(dir.path()), vec![(port, Some(info(port)))]);
        assert!(claimed().contains(&port));
        drop(first);
        assert!(
            !dir.path().join(format!("{port}.lock")).exists(),
            "released locks leave no file"
        );
        assert!(held(dir.path()).is_empty());
        assert!(!claimed().contains(&port));
        assert!(PortLock::acquire(dir.path(), port).is_ok());
    }

    #[test]
    fn a_claim_holds_across_lock_directories() {
        // Two users have two runtime directories; the claim is what they share.
        let (mine, theirs) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
        let port = unclaimed(1);
        let held = PortLock::acquire(mine.path(), port).unwrap();
        assert!(matches!(
            PortLock::acquire(theirs.path(), port),
            Err(LockError::Held(None))
        ));
        drop(held);
        assert!(PortLock::acquire(theirs.path(), port).is_ok());
    }

    #[test]
    fn a_leftover_file_is_not_a_holder() {
        let dir = tempfile::tempdir().unwrap();
        let port = unclaimed(1);
        std::fs::write(dir.path().join(format!("{port}.lock")), "{}").unwrap();
        assert!(held(dir.path()).is_empty());
        assert!(PortLock::acquire(dir.path(), port).is_ok());
    }

    #[test]
    fn a_planted_link_is_not_followed() {
        let dir = tempfile::tempdir().unwrap();
        let victim = tempfile::NamedTempFile::new().unwrap();
        std::fs::write(victim.path(), "precious").unwrap();
        let port = unclaimed(1);
        std::os::unix::fs::symlink(victim.path(), dir.path().join(format!("{port}.lock"))).unwrap();
        assert!(matches!(
            PortLock::acquire(dir.path(), port),
            Err(LockError::Io(_))
        ));
        assert_eq!(std::fs::read_to_string(victim.path()).unwrap(), "precious");
    }

    #[test]
    fn threads_racing_for_ports_never_share_one() {
        // Eight threads lock and let go of ten ports over and over; then,
        // all holding their last locks at the same moment (a barrier), no
        // port may be held by two of them.
        let dir = tempfile::tempdir().unwrap();
        let first = unclaimed(10);
        let barrier = std::sync::Barrier::new(8);
        let held: Vec<Vec<u16>> = std::thread::scope(|scope| {
            let handles: Vec<_> = (0..8)
                .map(|_| {
                    scope.spawn(|| {
                        let mut mine = Vec::new();
                        for _ in 0..50 {
                            mine.clear();
                            for port in first..first + 10 {
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
