//! bringup's private runtime directory: port lock files, and each running
//! bringup's sockets.
//!
//! # Where
//!
//! The first usable of:
//!
//! 1. `$XDG_RUNTIME_DIR/bringup`: the per-user tmpfs of the login session;
//! 2. `/run/user/<uid>/bringup`: the same place when the variable is not
//!    set (`su`, cron, ssh without pam_systemd), if that directory exists;
//! 3. `$XDG_CACHE_HOME/bringup`, else `~/.cache/bringup`;
//! 4. `bringup-<uid>` in the temp directory (`/tmp`): the last resort, for
//!    users without a home.
//!
//! A place is usable when its parent is ours and closed to others (for the
//! temp directory: owned by root and sticky, so nobody else can rename or
//! replace what we made there), and when the whole path is short enough
//! for the Unix sockets that live in it (108 bytes with the socket's own
//! name, see [`MAX_BASE_LEN`]). The order is fixed, so every bringup of a
//! user started the same way finds the same directory: that is where the
//! port locks of [`crate::ports::lock`] meet.
//!
//! # How, and why so carefully
//!
//! A shared directory such as `/tmp` lets another user create
//! `/tmp/bringup-<uid>` first: as a symlink into the victim's files (which
//! bringup would then chmod, write into and delete from), or as a
//! directory of their own (to plant sockets). So no path bringup creates or
//! removes is ever resolved through a symlink: the parent is opened as a
//! directory, the entry is made with `mkdirat` and opened with `openat(…,
//! O_NOFOLLOW | O_DIRECTORY)`, and the checks run on what was opened
//! (`fstat`, `fchmod`), never on a path that could have changed in between.
//! Anything but a directory of ours is refused with a message that says
//! what it is and what to do; a directory of ours that others may enter is
//! closed (0700) through its descriptor.
//!
//! # One directory per bringup, and the ones dead bringups left
//!
//! Each running bringup works in `<base>/<pid>`, which it holds an
//! exclusive `flock` on for its whole life and removes when it ends. A
//! bringup killed with SIGKILL cannot remove it, so every start sweeps the
//! base: a numbered directory whose lock is free (its holder is gone,
//! however it died) and whose pid no longer runs is removed. Entries that
//! are not real directories are left alone, and the removal itself
//! (`std::fs::remove_dir_all`) never follows a link.

use std::fs::{self, File};
use std::io;
use std::os::fd::{AsFd, OwnedFd};
use std::path::{Path, PathBuf};

use nix::errno::Errno;
use nix::fcntl::{Flock, FlockArg, OFlag, openat};
use nix::sys::stat::{Mode, fchmod, fstat, mkdirat};

use crate::ansi::plain;

/// The longest name a socket in a per-process directory may have
/// (`n<service>-<generation>.sock` and the like).
pub const MAX_SOCKET_NAME: usize = 32;
/// The longest base path that leaves room for `/<pid>/<socket name>` in a
/// Unix socket address (107 bytes and a NUL; pids have at most 7 digits,
/// `pid_max` being at most 2^22).
pub const MAX_BASE_LEN: usize = 107 - 1 - 7 - 1 - MAX_SOCKET_NAME;
/// Entries of the base looked at per sweep, so a start stays quick however
/// much piled up.
const SWEEP_LIMIT: usize = 4096;

/// Why bringup has no runtime directory.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// Something other than a private directory of ours is in the way.
    #[error("{path} {what}; bringup will not use it. {todo}", path = .path.display())]
    Unsafe {
        path: PathBuf,
        what: String,
        todo: String,
    },
    #[error("cannot create {path}: {source}", path = .path.display())]
    Io { path: PathBuf, source: io::Error },
    /// No candidate place could be used; each says why.
    #[error("no place for bringup's runtime directory: {}. Set XDG_RUNTIME_DIR to a private directory of yours with a short path (`mkdir -m 700 ~/.run; export XDG_RUNTIME_DIR=~/.run`)", list(.0))]
    Nowhere(Vec<(PathBuf, String)>),
}

fn list(tried: &[(PathBuf, String)]) -> String {
    tried
        .iter()
        .map(|(path, why)| format!("{} ({why})", path.display()))
        .collect::<Vec<_>>()
        .join("; ")
}

/// The per-user base directory, created if needed.
pub fn base() -> Result<PathBuf, Error> {
    open_base().map(|(path, _)| path)
}

/// `<base>/<name>`, a private directory of ours, created if needed (the
/// port locks' `ports`).
pub fn subdir(name: &str) -> Result<PathBuf, Error> {
    let (base, fd) = open_base()?;
    let path = base.join(name);
    private_entry(&fd, &path, name, Parent::Ours)?;
    Ok(path)
}

/// A directory for one bringup process: locked while it lives, removed on
/// drop.
#[derive(Debug)]
pub struct RunDir {
    path: PathBuf,
    _lock: Flock<OwnedFd>,
}

impl RunDir {
    /// `<base>/<pid>`, after removing what dead bringups left in the base.
    pub fn create() -> Result<Self, Error> {
        let (base, base_fd) = open_base()?;
        sweep(&base);
        let name = std::process::id().to_string();
        let path = base.join(&name);
        let fd = private_entry(&base_fd, &path, &name, Parent::Ours)?;
        match Flock::lock(fd, FlockArg::LockExclusiveNonblock) {
            Ok(lock) => {
                // A dead bringup that had our pid may have left sockets (the
                // sweep leaves the directory of a running pid: ours).
                empty(&path).map_err(|source| Error::Io {
                    path: path.clone(),
                    source,
                })?;
                Ok(Self { path, _lock: lock })
            }
            Err((_, Errno::EWOULDBLOCK)) => Err(Error::Unsafe {
                path,
                what: "is in use by another bringup with the same pid (in another pid namespace?)"
                    .into(),
                todo: "Give each container its own XDG_RUNTIME_DIR.".into(),
            }),
            Err((_, errno)) => Err(Error::Io {
                path,
                source: errno.into(),
            }),
        }
    }

    pub fn path(&self) -> &Path {
        &self.path
    }
}

impl Drop for RunDir {
    fn drop(&mut self) {
        // Still locked here, so no sweep of another bringup can be inside.
        let _ = fs::remove_dir_all(&self.path);
    }
}

/// Removes everything inside `dir` (a directory of ours), following no link.
fn empty(dir: &Path) -> io::Result<()> {
    for entry in fs::read_dir(dir)?.take(SWEEP_LIMIT) {
        let entry = entry?;
        if entry.file_type()?.is_dir() {
            fs::remove_dir_all(entry.path())?;
        } else {
            fs::remove_file(entry.path())?;
        }
    }
    Ok(())
}

/// Removes the per-process directories of bringups that are gone.
fn sweep(base: &Path) {
    let Ok(entries) = fs::read_dir(base) else {
        return;
    };
    let own = std::process::id();
    for entry in entries.take(SWEEP_LIMIT).flatten() {
        let Some(pid) = entry
            .file_name()
            .to_str()
            .and_then(|name| name.parse::<u32>().ok())
            .filter(|pid| *pid != own)
        else {
            continue;
        };
        // `file_type` does not follow links: a link is not a run directory.
        if !entry.file_type().is_ok_and(|t| t.is_dir()) {
            continue;
        }
        let path = entry.path();
        let Ok(fd) = nix::fcntl::open(
            &path,
            OFlag::O_RDONLY | OFlag::O_DIRECTORY | OFlag::O_NOFOLLOW | OFlag::O_CLOEXEC,
            Mode::empty(),
        ) else {
            continue;
        };
        // Its bringup holds the lock for as long as it lives, whatever pid
        // namespace it is in; a free lock and a pid that does not run is a
        // directory nobody will clean up but us. (A bringup that has just
        // made its directory has not locked it yet, but its pid runs.)
        let Ok(lock) = Flock::lock(fd, FlockArg::LockExclusiveNonblock) else {
            continue;
        };
        if !runs(pid) {
            let _ = fs::remove_dir_all(&path);
        }
        drop(lock);
    }
}

/// Whether a process with this pid exists (another user's counts).
fn runs(pid: u32) -> bool {
    let Ok(raw) = i32::try_from(pid) else {
        return false;
    };
    !matches!(
        nix::sys::signal::kill(nix::unistd::Pid::from_raw(raw), None),
        Err(Errno::ESRCH)
    )
}

/// How far a candidate's parent may be trusted.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Parent {
    /// Ours and closed to others.
    Ours,
    /// Shared but sticky and root's, like /tmp: others cannot touch our entry.
    Sticky,
}

/// A place the base directory could be: `parent/name`.
#[derive(Debug, Clone)]
struct Candidate {
    parent: PathBuf,
    name: String,
    trust: Parent,
}

/// The base directory: its path and an open descriptor of it.
fn open_base() -> Result<(PathBuf, OwnedFd), Error> {
    let uid = nix::unistd::getuid().as_raw();
    choose(candidates(uid), uid)
}

/// The first usable candidate. One that cannot be used (its parent is
/// missing or not ours, its path too long) is passed over; one whose entry
/// is hostile is an error, since it is where this user's bringups meet.
fn choose(candidates: Vec<Candidate>, uid: u32) -> Result<(PathBuf, OwnedFd), Error> {
    let mut tried = Vec::new();
    for Candidate {
        parent,
        name,
        trust,
    } in candidates
    {
        let path = parent.join(&name);
        if path.as_os_str().len() > MAX_BASE_LEN {
            tried.push((
                path.clone(),
                format!(
                    "{} bytes long; sockets in it need it to be at most {MAX_BASE_LEN}",
                    path.as_os_str().len()
                ),
            ));
            continue;
        }
        let parent_fd = match open_parent(&parent, trust, uid) {
            Ok(fd) => fd,
            Err(why) => {
                tried.push((parent, why));
                continue;
            }
        };
        let fd = private_entry(&parent_fd, &path, &name, trust)?;
        return Ok((path, fd));
    }
    Err(Error::Nowhere(tried))
}

/// The candidates, in order of preference.
fn candidates(uid: u32) -> Vec<Candidate> {
    let ours = |parent: PathBuf| Candidate {
        parent,
        name: "bringup".into(),
        trust: Parent::Ours,
    };
    let mut found = Vec::new();
    if let Some(runtime) = std::env::var_os("XDG_RUNTIME_DIR")
        .map(PathBuf::from)
        .filter(|path| path.is_absolute())
    {
        found.push(ours(runtime));
    }
    let run_user = PathBuf::from(format!("/run/user/{uid}"));
    if !found.iter().any(|c| c.parent == run_user) {
        found.push(ours(run_user));
    }
    if let Some(cache) = cache_dir(uid) {
        found.push(ours(cache));
    }
    found.push(Candidate {
        parent: std::env::temp_dir(),
        name: format!("bringup-{uid}"),
        trust: Parent::Sticky,
    });
    found
}

/// `$XDG_CACHE_HOME`, else `~/.cache`, created (0700) if missing when the
/// directory above it is ours.
fn cache_dir(uid: u32) -> Option<PathBuf> {
    let cache = match std::env::var_os("XDG_CACHE_HOME").map(PathBuf::from) {
        Some(cache) if cache.is_absolute() => cache,
        _ => PathBuf::from(std::env::var_os("HOME")?).join(".cache"),
    };
    if !cache.is_absolute() {
        return None;
    }
    if !cache.exists() {
        // Never create a home (root with HOME=/nonexistent would).
        let above = cache.parent()?;
        let (name, fd) = (
            cache.file_name()?,
            open_parent(above, Parent::Ours, uid).ok()?,
        );
        let _ = mkdirat(&fd, name, Mode::S_IRWXU);
    }
    Some(cache)
}

/// Opens `parent` as a directory and checks it may hold our directory.
fn open_parent(parent: &Path, trust: Parent, uid: u32) -> Result<OwnedFd, String> {
    let fd = nix::fcntl::open(
        parent,
        OFlag::O_RDONLY | OFlag::O_DIRECTORY | OFlag::O_CLOEXEC,
        Mode::empty(),
    )
    .map_err(|e| match e {
        Errno::ENOENT => "does not exist".to_string(),
        e => e.desc().to_string(),
    })?;
    let stat = fstat(&fd).map_err(|e| e.desc().to_string())?;
    let others_write = stat.st_mode & 0o022 != 0;
    match trust {
        Parent::Ours if stat.st_uid != uid => Err(format!(
            "belongs to {}, not to you",
            plain(&user_name(stat.st_uid))
        )),
        Parent::Ours if others_write => Err("others may write in it".into()),
        Parent::Sticky if stat.st_uid != 0 && stat.st_uid != uid => {
            Err(format!("belongs to {}", plain(&user_name(stat.st_uid))))
        }
        Parent::Sticky if others_write && stat.st_mode & 0o1000 == 0 => {
            Err("others may write in it and it is not sticky".into())
        }
        _ => Ok(fd),
    }
}

/// Makes `name` in `parent` a private directory of ours (creating it if
/// needed) and opens it, refusing anything else; `path` is for messages.
fn private_entry(
    parent: &impl AsFd,
    path: &Path,
    name: &str,
    trust: Parent,
) -> Result<OwnedFd, Error> {
    let io = |errno: Errno| Error::Io {
        path: path.to_path_buf(),
        source: errno.into(),
    };
    match mkdirat(parent, name, Mode::S_IRWXU) {
        Ok(()) | Err(Errno::EEXIST) => {}
        Err(errno) => return Err(io(errno)),
    }
    let todo = |what: &str| -> String {
        match trust {
            Parent::Sticky => format!(
                "{what}, or set XDG_RUNTIME_DIR to a private directory of yours (`mkdir -m 700 ~/.run; export XDG_RUNTIME_DIR=~/.run`)"
            ),
            Parent::Ours => what.to_string(),
        }
    };
    let fd = match openat(
        parent,
        name,
        OFlag::O_RDONLY | OFlag::O_DIRECTORY | OFlag::O_NOFOLLOW | OFlag::O_CLOEXEC,
        Mode::empty(),
    ) {
        Ok(fd) => fd,
        // O_NOFOLLOW | O_DIRECTORY on a link fails with ENOTDIR (or ELOOP).
        Err(Errno::ELOOP | Errno::ENOTDIR) => {
            let link = fs::symlink_metadata(path).is_ok_and(|m| m.file_type().is_symlink());
            let (what, remove) = if link {
                // (The link's text is whoever planted it's words.)
                let target = fs::read_link(path)
                    .map(|t| format!(" (to {})", plain(&t.display().to_string())))
                    .unwrap_or_default();
                (
                    format!(
                        "is a symbolic link{target}, not a directory: bringup never follows links where it keeps sockets and locks"
                    ),
                    "If you did not make it, someone may be trying to get at your files: remove the link (`rm` removes the link, not its target)",
                )
            } else {
                ("is not a directory".to_string(), "Remove it")
            };
            return Err(Error::Unsafe {
                path: path.to_path_buf(),
                what,
                todo: todo(remove),
            });
        }
        Err(errno) => return Err(io(errno)),
    };
    let stat = fstat(&fd).map_err(io)?;
    let uid = nix::unistd::getuid().as_raw();
    if stat.st_uid != uid {
        return Err(Error::Unsafe {
            path: path.to_path_buf(),
            what: format!(
                "belongs to {}, not to you (someone may be trying to intercept bringup's sockets)",
                plain(&user_name(stat.st_uid))
            ),
            todo: todo("Ask its owner or an administrator to remove it"),
        });
    }
    if stat.st_mode & 0o077 != 0 {
        // Through the descriptor: the directory checked is the one closed.
        fchmod(&fd, Mode::S_IRWXU).map_err(io)?;
    }
    Ok(fd)
}

/// The name of `uid`, or the number when it has none.
fn user_name(uid: u32) -> String {
    nix::unistd::User::from_uid(nix::unistd::Uid::from_raw(uid))
        .ok()
        .flatten()
        .map_or_else(|| uid.to_string(), |user| user.name)
}

/// Opens an existing file for reading or writing without following a link
/// at its last component (the directories above are bringup's own).
pub fn open_nofollow(path: &Path, options: &mut fs::OpenOptions) -> io::Result<File> {
    use std::os::unix::fs::OpenOptionsExt;
    options
        .custom_flags(nix::libc::O_NOFOLLOW | nix::libc::O_CLOEXEC)
        .open(path)
}

#[cfg(test)]
mod tests {
    use std::os::unix::fs::{MetadataExt, PermissionsExt};

    use super::*;

    fn entry(parent: &Path, name: &str, trust: Parent) -> Result<OwnedFd, Error> {
        let fd =
            nix::fcntl::open(parent, OFlag::O_RDONLY | OFlag::O_DIRECTORY, Mode::empty()).unwrap();
        private_entry(&fd, &parent.join(name), name, trust)
    }

    #[test]
    fn a_new_directory_is_private_and_an_open_one_is_closed() {
        let parent = tempfile::tempdir().unwrap();
        entry(parent.path(), "fresh", Parent::Ours).unwrap();
        let made = parent.path().join("fresh");
        assert_eq!(fs::metadata(&made).unwrap().mode() & 0o777, 0o700);
        let open = parent.path().join("open");
        fs::create_dir(&open).unwrap();
        fs::set_permissions(&open, fs::Permissions::from_mode(0o755)).unwrap();
        entry(parent.path(), "open", Parent::Ours).unwrap();
        assert_eq!(fs::metadata(&open).unwrap().mode() & 0o777, 0o700);
    }

    #[test]
    fn a_symlink_is_refused_and_its_target_left_alone() {
        let parent = tempfile::tempdir().unwrap();
        let victim = tempfile::tempdir().unwrap();
        fs::set_permissions(victim.path(), fs::Permissions::from_mode(0o755)).unwrap();
        fs::write(victim.path().join("precious"), "data").unwrap();
        std::os::unix::fs::symlink(victim.path(), parent.path().join("bringup")).unwrap();
        let error = entry(parent.path(), "bringup", Parent::Sticky).unwrap_err();
        let text = error.to_string();
        assert!(text.contains("is a symbolic link"), "{text}");
        assert!(text.contains("XDG_RUNTIME_DIR"), "{text}");
        assert_eq!(
            fs::metadata(victim.path()).unwrap().mode() & 0o777,
            0o755,
            "the target's mode is untouched"
        );
        assert!(victim.path().join("precious").exists());
    }

    #[test]
    fn a_file_in_the_way_is_refused() {
        let parent = tempfile::tempdir().unwrap();
        fs::write(parent.path().join("bringup"), "").unwrap();
        let text = entry(parent.path(), "bringup", Parent::Ours)
            .unwrap_err()
            .to_string();
        assert!(text.contains("is not a directory"), "{text}");
    }

    #[test]
    fn places_that_cannot_be_used_are_passed_over_with_the_reason() {
        let uid = nix::unistd::getuid().as_raw();
        let root = tempfile::tempdir().unwrap();
        let long = root.path().join("x".repeat(MAX_BASE_LEN));
        fs::create_dir(&long).unwrap();
        let open = root.path().join("open");
        fs::create_dir(&open).unwrap();
        fs::set_permissions(&open, fs::Permissions::from_mode(0o777)).unwrap();
        let good = root.path().join("good");
        fs::create_dir(&good).unwrap();
        let ours = |parent: &Path| Candidate {
            parent: parent.to_path_buf(),
            name: "bringup".into(),
            trust: Parent::Ours,
        };
        let missing = root.path().join("missing");
        let (path, _) = choose(
            vec![ours(&long), ours(&missing), ours(&open), ours(&good)],
            uid,
        )
        .unwrap();
        assert_eq!(path, good.join("bringup"));
        assert!(
            !long.join("bringup").exists(),
            "a too long place is not made"
        );
        assert!(
            !open.join("bringup").exists(),
            "nor one others can write to"
        );

        let text = choose(vec![ours(&long), ours(&missing)], uid)
            .unwrap_err()
            .to_string();
        assert!(text.contains("bytes long; sockets in it need it"), "{text}");
        assert!(text.contains("missing (does not exist)"), "{text}");
        assert!(text.contains("export XDG_RUNTIME_DIR"), "{text}");
    }

    #[test]
    fn leftovers_of_dead_bringups_are_swept_and_live_ones_kept() {
        let base = tempfile::tempdir().unwrap();
        // A pid that certainly ran and is gone: a child we reaped.
        let mut child = std::process::Command::new("true").spawn().unwrap();
        let dead = child.id();
        child.wait().unwrap();
        fs::create_dir(base.path().join(dead.to_string())).unwrap();
        fs::write(base.path().join(dead.to_string()).join("n0-1.sock"), "").unwrap();
        // A live pid (this test), and a locked directory of a pid that is
        // not running here (another pid namespace): both stay.
        let live = base.path().join("1");
        fs::create_dir(&live).unwrap();
        let mut other = std::process::Command::new("true").spawn().unwrap();
        let elsewhere_pid = other.id();
        other.wait().unwrap();
        let elsewhere = base.path().join(elsewhere_pid.to_string());
        fs::create_dir(&elsewhere).unwrap();
        let held = Flock::lock(File::open(&elsewhere).unwrap(), FlockArg::LockExclusive).unwrap();
        // A link with a pid's name must not be followed, nor its target touched.
        let victim = tempfile::tempdir().unwrap();
        fs::write(victim.path().join("precious"), "data").unwrap();
        let mut third = std::process::Command::new("true").spawn().unwrap();
        let link_pid = third.id();
        third.wait().unwrap();
        std::os::unix::fs::symlink(victim.path(), base.path().join(link_pid.to_string())).unwrap();

        sweep(base.path());
        assert!(
            !base.path().join(dead.to_string()).exists(),
            "dead one swept"
        );
        assert!(live.exists(), "pid 1 runs");
        assert!(elsewhere.exists(), "a locked directory is a live bringup's");
        assert!(victim.path().join("precious").exists());
        assert!(
            fs::symlink_metadata(base.path().join(link_pid.to_string())).is_ok(),
            "links are left alone"
        );
        drop(held);
    }
}
