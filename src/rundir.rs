//! bringup's private runtime directory.
//!
//! `$XDG_RUNTIME_DIR/bringup` when the session has one (tmpfs, per user,
//! cleaned at logout), else `bringup-<uid>` under the temp directory. Either
//! way it is created 0700 and must be owned by us: a directory in /tmp that
//! another user created first could otherwise be used to plant sockets.
//! Each running bringup works in a subdirectory named after its pid, which
//! it removes when it ends.

use std::fs;
use std::io;
use std::os::unix::fs::{DirBuilderExt, MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};

/// The per-user base directory, created if needed.
pub fn base() -> io::Result<PathBuf> {
    let dir = match std::env::var_os("XDG_RUNTIME_DIR").filter(|d| Path::new(d).is_dir()) {
        Some(runtime) => PathBuf::from(runtime).join("bringup"),
        None => std::env::temp_dir().join(format!("bringup-{}", nix::unistd::getuid())),
    };
    private_dir(&dir)?;
    Ok(dir)
}

/// Creates `dir` (and parents) as 0700 and checks it is ours and private.
pub fn private_dir(dir: &Path) -> io::Result<()> {
    fs::DirBuilder::new()
        .recursive(true)
        .mode(0o700)
        .create(dir)?;
    let meta = fs::metadata(dir)?;
    if meta.uid() != nix::unistd::getuid().as_raw() {
        return Err(io::Error::new(
            io::ErrorKind::PermissionDenied,
            format!(
                "{} belongs to another user; remove it or set XDG_RUNTIME_DIR",
                dir.display()
            ),
        ));
    }
    if meta.mode() & 0o077 != 0 {
        fs::set_permissions(dir, fs::Permissions::from_mode(0o700))?;
    }
    Ok(())
}

/// A directory for one bringup process, removed on drop.
#[derive(Debug)]
pub struct RunDir {
    path: PathBuf,
}

impl RunDir {
    /// `<base>/<pid>`, emptied if a dead bringup with the same pid left it.
    pub fn create() -> io::Result<Self> {
        let path = base()?.join(std::process::id().to_string());
        let _ = fs::remove_dir_all(&path);
        private_dir(&path)?;
        Ok(Self { path })
    }

    pub fn path(&self) -> &Path {
        &self.path
    }
}

impl Drop for RunDir {
    fn drop(&mut self) {
        let _ = fs::remove_dir_all(&self.path);
    }
}
