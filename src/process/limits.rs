//! The open-file limit: raised for bringup, put back for its services.
//!
//! bringup holds a few descriptors per service (two output pipes, a pidfd,
//! a port lock, maybe a listening socket or a notify socket), so at the
//! usual soft limit of 1,024 a stack of a few hundred services ran out
//! ("too many open files" at about the 335th). The hard limit is what the
//! administrator allows; raising the soft limit to it needs no privilege,
//! and [`raise`] does so once, at engine start.
//!
//! The services get the original soft limit back (the launcher restores it
//! between clone and exec): a program that uses `select()` breaks on
//! descriptors above 1,023, which is why systemd, too, raises its own
//! limit but starts services with a soft limit of 1,024.

use std::sync::OnceLock;

use nix::sys::resource::{Resource, getrlimit, setrlimit};

/// The limit bringup was started with, once [`raise`] has raised it.
static ORIGINAL: OnceLock<Option<(u64, u64)>> = OnceLock::new();

/// Raises the soft open-file limit to the hard one (the first call does;
/// later ones change nothing) and returns the soft limit now in force.
pub fn raise() -> std::io::Result<u64> {
    ORIGINAL.get_or_init(|| {
        let (soft, hard) = get().ok()?;
        // A hard limit the kernel will not grant as a soft one (unlimited,
        // above fs.nr_open) leaves things as they are.
        (soft < hard && set(hard, hard).is_ok()).then_some((soft, hard))
    });
    get().map(|(soft, _)| soft)
}

/// The (soft, hard) limit to give a child, if bringup changed its own.
pub fn for_children() -> Option<(u64, u64)> {
    ORIGINAL.get().copied().flatten()
}

fn get() -> std::io::Result<(u64, u64)> {
    Ok(getrlimit(Resource::RLIMIT_NOFILE)?)
}

fn set(soft: u64, hard: u64) -> std::io::Result<()> {
    Ok(setrlimit(Resource::RLIMIT_NOFILE, soft, hard)?)
}
