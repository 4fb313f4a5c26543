//! A foreground stack that can be detached: the terminal's job is a small
//! waiter process, and the stack runs in its child.
//!
//! The bringup that runs a stack must stay the services' parent (their
//! parent-death signal and the subreaper are tied to it), so it cannot
//! hand them to another process when the user detaches. Instead `bringup
//! up` with a dashboard splits in two before any thread exists: the parent
//! is what the shell waits for, and does nothing but wait; the child runs
//! the stack and the dashboard on the same terminal. Until the user
//! detaches, the pair behaves as one process: the child's exit status is
//! the parent's, SIGTERM and SIGHUP sent to the parent are passed on, and
//! if the parent dies (even by SIGKILL) the child gets SIGTERM and stops
//! the stack. On detach the child gives the terminal back, leaves the
//! terminal's session and tells the parent, which exits 0: the shell gets
//! its prompt back and the stack runs on, reachable with `bringup attach`.
//!
//! A child killed by a signal cannot give the terminal back; the parent
//! saved the terminal's modes before the split and restores them (and the
//! normal screen) before it exits. A parent killed with SIGKILL cannot:
//! the shell gets its terminal back while the child still shows the
//! stopping stack's dashboard, and the child, now in an orphaned process
//! group, is refused the terminal's modes (EIO) — the stack stops cleanly,
//! but the terminal may need a `reset`.
//!
//! The parent reads its signals from a signalfd, which says who sent each:
//! only the child may say "detached", and a SIGINT or SIGQUIT is passed on
//! only when a process sent it (the terminal already sent the child its
//! own copy of a Ctrl-C).

use std::process::exit;

use std::io::Write as _;

use nix::sys::signal::{SigSet, SigmaskHow, Signal, kill, raise};
use nix::sys::signalfd::{SfdFlags, SignalFd};
use nix::sys::termios::{SetArg, Termios, tcgetattr, tcsetattr};
use nix::sys::wait::{WaitPidFlag, WaitStatus, waitpid};
use nix::unistd::{
    ForkResult, Pid, dup2_stderr, dup2_stdin, dup2_stdout, fork, getpid, getppid, setsid,
};
use ratatui::crossterm::event::DisableMouseCapture;
use ratatui::crossterm::terminal::LeaveAlternateScreen;

/// The signals the parent handles; blocked from before the fork, so none
/// is lost between the fork and the parent's first read.
const HANDLED: [Signal; 6] = [
    Signal::SIGCHLD,
    Signal::SIGTERM,
    Signal::SIGHUP,
    Signal::SIGINT,
    Signal::SIGQUIT,
    Signal::SIGUSR1,
];

/// `si_code` of a signal sent by a process with kill(2).
const SI_USER: i32 = 0;

/// The child's end: how to tell the waiting parent that the stack now
/// runs on its own.
#[derive(Debug)]
pub struct Detachable {
    parent: Pid,
}

/// Splits the process; returns only in the child, which runs the stack.
/// The parent waits and exits with the child's status (or 0 once the child
/// detached). Must be called while the process has one thread.
pub fn split() -> nix::Result<Detachable> {
    let handled: SigSet = HANDLED.into_iter().collect();
    // The terminal as it is before the dashboard takes it: a child that
    // dies without giving it back (killed) leaves it to the parent.
    let terminal = tcgetattr(std::io::stdin()).ok();
    let previous = handled.thread_swap_mask(SigmaskHow::SIG_BLOCK)?;
    let parent = getpid();
    // SAFETY: the caller guarantees one thread (no runtime, no engine yet),
    // so the child has everything a fresh process would.
    match unsafe { fork() } {
        Err(errno) => {
            let _ = previous.thread_set_mask();
            Err(errno)
        }
        Ok(ForkResult::Parent { child }) => wait_for(child, &handled, terminal.as_ref()),
        Ok(ForkResult::Child) => {
            nix::sys::prctl::set_pdeathsig(Signal::SIGTERM)?;
            previous.thread_set_mask()?;
            if getppid() != parent {
                // The parent died before the death signal was armed.
                let _ = raise(Signal::SIGTERM);
            }
            Ok(Detachable { parent })
        }
    }
}

impl Detachable {
    /// The stack now runs on its own: it leaves the terminal's session, its
    /// standard streams go to /dev/null, and the parent exits 0. Call after
    /// the dashboard gave the terminal back and said so.
    pub fn detach(self) -> nix::Result<()> {
        // A dead parent must not take the stack with it any more.
        nix::sys::prctl::set_pdeathsig(None)?;
        // Out of the terminal's session: closing the terminal now sends
        // its hangup to others. (The child never leads a process group,
        // so this cannot fail with EPERM.)
        setsid()?;
        let null = std::fs::OpenOptions::new()
            .read(true)
            .write(true)
            .open("/dev/null")
            .map_err(|e| {
                e.raw_os_error()
                    .map_or(nix::Error::EIO, nix::Error::from_raw)
            })?;
        dup2_stdin(&null)?;
        dup2_stdout(&null)?;
        dup2_stderr(&null)?;
        kill(self.parent, Signal::SIGUSR1)
    }
}

/// The parent: waits for the child and mirrors it, then exits.
fn wait_for(child: Pid, handled: &SigSet, terminal: Option<&Termios>) -> ! {
    let end = |code: i32| -> ! {
        // Killed by a signal, the child could not give the terminal back.
        if code > 128 {
            restore(terminal);
        }
        exit(code)
    };
    let signals = match SignalFd::with_flags(handled, SfdFlags::SFD_CLOEXEC) {
        Ok(fd) => fd,
        Err(errno) => {
            // Without a signalfd the parent cannot tell a detach from a
            // stop; it can still wait and mirror the exit status.
            eprintln!("bringup: cannot watch signals ({errno}); detaching will end the stack");
            loop {
                if let Some(code) = reap(child, WaitPidFlag::empty()) {
                    end(code);
                }
            }
        }
    };
    loop {
        let info = match signals.read_signal() {
            Ok(Some(info)) => info,
            Ok(None) | Err(nix::Error::EINTR) => continue,
            Err(_) => {
                if let Some(code) = reap(child, WaitPidFlag::empty()) {
                    end(code);
                }
                continue;
            }
        };
        let Ok(signal) = Signal::try_from(info.ssi_signo as i32) else {
            continue;
        };
        let from_child = info.ssi_pid == child.as_raw() as u32;
        match signal {
            Signal::SIGUSR1 if from_child => exit(0),
            Signal::SIGCHLD => {
                if let Some(code) = reap(child, WaitPidFlag::WNOHANG) {
                    end(code);
                }
            }
            Signal::SIGTERM | Signal::SIGHUP => {
                let _ = kill(child, signal);
            }
            Signal::SIGINT | Signal::SIGQUIT if info.ssi_code == SI_USER => {
                let _ = kill(child, signal);
            }
            _ => {}
        }
    }
}

/// The child's exit code once it ended (128 + N for signal N).
fn reap(child: Pid, flags: WaitPidFlag) -> Option<i32> {
    match waitpid(child, Some(flags)) {
        Ok(WaitStatus::Exited(_, code)) => Some(code),
        Ok(WaitStatus::Signaled(_, signal, _)) => Some(128 + signal as i32),
        Ok(_) => None,
        // No child left to wait for: nothing more will come.
        Err(nix::Error::ECHILD) => Some(1),
        Err(_) => None,
    }
}

/// Gives the terminal back as it was before the dashboard: its modes, the
/// normal screen, the cursor, no mouse reports.
fn restore(terminal: Option<&Termios>) {
    if let Some(saved) = terminal {
        let _ = tcsetattr(std::io::stdin(), SetArg::TCSANOW, saved);
    }
    // What the dashboard's own restore undoes (see `tui::terminal`), with
    // the same commands; raw mode is the saved modes above.
    let mut out = std::io::stdout();
    let _ = ratatui::crossterm::execute!(
        out,
        DisableMouseCapture,
        LeaveAlternateScreen,
        ratatui::crossterm::cursor::Show
    );
    let _ = out.flush();
}
