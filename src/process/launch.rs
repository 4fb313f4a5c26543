//! Starting a process the way glibc's `posix_spawn` does, plus the few
//! steps `posix_spawn` cannot do: a parent-death signal and a socket handed
//! over as fd 3 with `LISTEN_PID` set to the child's own pid.
//!
//! # Why not fork, and why not a trampoline
//!
//! The parent-death signal needs code between the child's creation and its
//! `execve`. A `fork` copies bringup's page tables, so it costs time in
//! proportion to bringup's memory (0.6 ms at start, 9 ms with 64 MiB of
//! logs held, measured here), during which the engine is blocked. Until
//! now services therefore started through util-linux's `setpriv
//! --pdeathsig`, a tiny program that sets the signal and execs the service:
//! cheap for bringup, but one more exec per service, and launching 20
//! services took twice as long as a shell loop.
//!
//! # How
//!
//! [`spawn`] builds everything the child needs before it exists — argv,
//! envp, the working directory, pipe and socket descriptors, all as plain C
//! data — then calls `clone(CLONE_VM | CLONE_VFORK | CLONE_PIDFD)`. The
//! child shares bringup's memory instead of copying it (so its cost does
//! not grow with bringup's size; this is how glibc implements
//! `posix_spawn`), runs `child_main` on a small stack of its own, and the
//! calling thread sleeps until the child has called `execve` or exited.
//! `child_main` only makes async-signal-safe system calls, in this order:
//!
//! 1. every signal's disposition back to the default (bringup's handlers
//!    live in shared memory and must never run in the child; Rust's
//!    ignored SIGPIPE must not be inherited, since a service writing to a
//!    closed pipe should die of it as under a shell; and whatever bringup
//!    inherited ignored is not passed on either, as under systemd); all
//!    signals stay blocked meanwhile, as the parent blocked them before
//!    `clone`;
//! 2. `setpgid(0, 0)`: the service leads a process group of its own;
//! 3. `prctl(PR_SET_PDEATHSIG, SIGTERM)`, then `getppid()` to catch a
//!    parent that died before the signal was armed;
//! 4. `dup2` of /dev/null, the stdout and stderr pipes onto 0, 1, 2 and of
//!    the handed-over socket onto 3, and `LISTEN_PID` written into its
//!    reserved slot in envp (the child's pid is only known here);
//! 5. `chdir`, the open-file limit bringup raised put back (see
//!    [`super::limits`]), an empty signal mask, and `execve`.
//!
//! A failing step records (step, errno) in memory the parent reads after
//! `clone` returns, and the child exits with 127; the parent reaps it and
//! returns an error that names the step.
//!
//! The child shares the parent's memory *and thread-local storage*, so it
//! must not allocate, lock, unwind or call anything that caches thread
//! state (glibc's `raise` would signal the parent thread): only raw system
//! call wrappers appear in `child_main`.
//!
//! `CLONE_PIDFD` hands the parent a pidfd, which becomes readable when the
//! child exits (Linux ≥ 5.3); see [`super::child`] for waiting on it.
//!
//! # What it still costs
//!
//! The calling thread sleeps from the clone until the child's `execve` has
//! replaced its memory: 0.1–0.2 ms with a core free (measured here), more
//! when every core is busy, as with `posix_spawn`. A shell's `fork` does
//! not wait for that (but see [`super::launcher`] for why services are
//! still started from the engine's thread). Not waiting (no `CLONE_VFORK`) would let the child
//! run beside the engine in shared memory, where even a failed system
//! call's `errno` (thread-local, so the engine thread's) would race; that
//! needs raw system calls in the child and is not done.

use std::ffi::{CString, OsStr, OsString};
use std::io;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd, RawFd};
use std::os::unix::ffi::OsStrExt;
use std::path::Path;
use std::sync::OnceLock;

use nix::libc::{self, c_char, c_int, c_void};

/// The child's stack. It runs a handful of system call wrappers; glibc's
/// `posix_spawn` uses 32 KiB plus the size of argv.
const STACK: usize = 64 * 1024;
/// Room for a pid in decimal (and then some).
const PID_DIGITS: usize = 20;

/// Everything about the process to start, as the launcher needs it.
pub struct Launch<'a> {
    /// The executable, already resolved (a path containing a `/`).
    pub path: &'a Path,
    pub argv: &'a [String],
    pub cwd: &'a Path,
    /// The complete environment (nothing is inherited besides this).
    pub env: &'a [(OsString, OsString)],
    /// Reserve `LISTEN_PID=<child pid>` in the environment.
    pub listen_pid: bool,
    /// Becomes fd 3 in the child.
    pub handoff: Option<RawFd>,
    /// The open-file limit to put back in the child (soft, hard).
    pub nofile: Option<(u64, u64)>,
}

/// A started child: its pid, its pidfd (None on kernels without
/// `CLONE_PIDFD`), and the read ends of its stdout and stderr.
pub struct Launched {
    pub pid: i32,
    pub pidfd: Option<OwnedFd>,
    pub stdout: OwnedFd,
    pub stderr: OwnedFd,
}

/// The steps of [`child_main`] that can fail, for the parent's message.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[repr(i32)]
enum Step {
    None = 0,
    ProcessGroup,
    DeathSignal,
    ParentGone,
    Descriptors,
    WorkingDirectory,
    OpenFileLimit,
    Exec,
}

/// What the child reads (raw pointers into data the parent keeps alive
/// until `clone` returns) and writes back on failure.
#[repr(C)]
struct ChildArgs {
    path: *const c_char,
    argv: *const *const c_char,
    envp: *const *const c_char,
    cwd: *const c_char,
    /// Sources of fds 0, 1, 2; all ≥ 3, so no `dup2` clobbers another.
    stdio: [RawFd; 3],
    /// Source of fd 3, or -1.
    handoff: RawFd,
    /// PID_DIGITS bytes to write the child's pid into, or null.
    listen_pid: *mut u8,
    parent: libc::pid_t,
    restore_nofile: bool,
    nofile: libc::rlimit,
    /// Written by the child when a step fails.
    failed_step: i32,
    failed_errno: i32,
}

/// Starts `launch` with stdin from /dev/null and stdout/stderr piped, as
/// the leader of a new process group, with SIGTERM as its parent-death
/// signal (tied to the calling thread, as with fork).
pub fn spawn(launch: &Launch<'_>) -> io::Result<Launched> {
    let path = cstring(launch.path.as_os_str(), "the program's path")?;
    let argv = launch
        .argv
        .iter()
        .map(|arg| cstring(OsStr::new(arg), "an argument"))
        .collect::<io::Result<Vec<_>>>()?;
    let envp = launch
        .env
        .iter()
        .map(|(key, value)| {
            let mut entry = Vec::with_capacity(key.len() + value.len() + 1);
            entry.extend_from_slice(key.as_bytes());
            entry.push(b'=');
            entry.extend_from_slice(value.as_bytes());
            CString::new(entry).map_err(|_| {
                invalid(format!(
                    "the environment variable {} contains a NUL byte",
                    key.to_string_lossy()
                ))
            })
        })
        .collect::<io::Result<Vec<_>>>()?;
    let cwd = cstring(launch.cwd.as_os_str(), "the working directory")?;

    let mut argv_ptrs: Vec<*const c_char> = argv.iter().map(|a| a.as_ptr()).collect();
    argv_ptrs.push(std::ptr::null());
    let mut envp_ptrs: Vec<*const c_char> = envp.iter().map(|e| e.as_ptr()).collect();
    // `LISTEN_PID=` and room for the digits, which the child writes (its
    // pid is only known there); the NULs after the digits end the string.
    // The buffer does not move until it is dropped, after the exec.
    let mut listen_slot = Vec::new();
    let mut listen_pid_digits = std::ptr::null_mut();
    if launch.listen_pid {
        const PREFIX: &[u8] = b"LISTEN_PID=";
        listen_slot.extend_from_slice(PREFIX);
        listen_slot.resize(PREFIX.len() + PID_DIGITS + 1, 0);
        let base = listen_slot.as_mut_ptr();
        envp_ptrs.push(base.cast_const().cast::<c_char>());
        listen_pid_digits = base.wrapping_add(PREFIX.len());
    }
    envp_ptrs.push(std::ptr::null());

    let (stdout_read, stdout_write) = pipe()?;
    let (stderr_read, stderr_write) = pipe()?;
    let stdin = dev_null()?;
    let handoff = launch.handoff.unwrap_or(-1);
    // A handed-over socket below 3 would be overwritten by the stdio dup2s.
    let handoff_copy = match handoff {
        fd @ 0..=2 => Some(above_stdio_raw(fd)?),
        _ => None,
    };
    let handoff = handoff_copy.as_ref().map_or(handoff, AsRawFd::as_raw_fd);

    let nofile = launch.nofile.map(|(soft, hard)| libc::rlimit {
        rlim_cur: soft as libc::rlim_t,
        rlim_max: hard as libc::rlim_t,
    });
    let mut args = ChildArgs {
        path: path.as_ptr(),
        argv: argv_ptrs.as_ptr(),
        envp: envp_ptrs.as_ptr(),
        cwd: cwd.as_ptr(),
        stdio: [
            stdin.as_raw_fd(),
            stdout_write.as_raw_fd(),
            stderr_write.as_raw_fd(),
        ],
        handoff,
        listen_pid: listen_pid_digits,
        parent: nix::unistd::getpid().as_raw(),
        restore_nofile: nofile.is_some(),
        nofile: nofile.unwrap_or(libc::rlimit {
            rlim_cur: 0,
            rlim_max: 0,
        }),
        failed_step: Step::None as i32,
        failed_errno: 0,
    };
    let stack = Stack::new()?;
    let (pid, pidfd) = clone_child(&mut args, &stack)?;
    drop(stack);
    drop((stdout_write, stderr_write, stdin, handoff_copy));

    // SAFETY: the child has exec'd or exited (CLONE_VFORK), so nothing
    // writes these fields any more.
    let (step, errno) = unsafe {
        (
            std::ptr::read_volatile(&args.failed_step),
            std::ptr::read_volatile(&args.failed_errno),
        )
    };
    if step != Step::None as i32 {
        // It exited with 127; reap it by its own pid.
        let _ = nix::sys::wait::waitpid(nix::unistd::Pid::from_raw(pid), None);
        return Err(describe_failure(step, errno, launch));
    }
    Ok(Launched {
        pid,
        pidfd,
        stdout: stdout_read,
        stderr: stderr_read,
    })
}

/// The clone itself, with every signal blocked around it so that no
/// handler of bringup's can run on the child's side of shared memory.
fn clone_child(args: &mut ChildArgs, stack: &Stack) -> io::Result<(i32, Option<OwnedFd>)> {
    let mut pidfd: c_int = -1;
    let all: u64 = !0;
    let mut old: u64 = 0;
    // SAFETY: rt_sigprocmask on local sets (the raw call, which unlike
    // glibc's wrapper also blocks glibc's internal signals); clone is given
    // a valid stack top, a child function that only makes async-signal-safe
    // system calls and never returns, and `args`, which outlives the call
    // (with CLONE_VFORK this thread sleeps until the child has exec'd or
    // exited). CLONE_PIDFD makes the kernel store the pidfd in `pidfd`.
    let (pid, error) = unsafe {
        sigprocmask(libc::SIG_BLOCK, &all, &mut old);
        let pid = libc::clone(
            child_main,
            stack.top(),
            libc::CLONE_VM | libc::CLONE_VFORK | libc::CLONE_PIDFD | libc::SIGCHLD,
            std::ptr::from_mut(args).cast::<c_void>(),
            &mut pidfd as *mut c_int,
        );
        let error = io::Error::last_os_error();
        sigprocmask(libc::SIG_SETMASK, &old, std::ptr::null_mut());
        (pid, error)
    };
    if pid < 0 {
        return Err(error);
    }
    // SAFETY: the kernel just created this descriptor for us (or left -1
    // where CLONE_PIDFD is unknown: before Linux 5.2 the flag is ignored).
    let pidfd = (pidfd >= 0).then(|| unsafe { OwnedFd::from_raw_fd(pidfd) });
    Ok((pid, pidfd))
}

/// The raw `rt_sigprocmask` on a 64-signal set.
///
/// # Safety
/// `set` must be valid; `old` null or valid for writing.
unsafe fn sigprocmask(how: c_int, set: *const u64, old: *mut u64) {
    // SAFETY: as the caller promised.
    unsafe {
        libc::syscall(
            libc::SYS_rt_sigprocmask,
            how,
            set,
            old,
            std::mem::size_of::<u64>(),
        );
    }
}

/// The child's side: see the module docs. Never returns.
extern "C" fn child_main(arg: *mut c_void) -> c_int {
    // SAFETY: `arg` is the `ChildArgs` the parent passed to clone; the
    // parent sleeps until this process execs or exits, so nothing else
    // touches it meanwhile. Every call below is a plain system call
    // wrapper that is async-signal-safe.
    unsafe {
        let args = &mut *arg.cast::<ChildArgs>();
        // 1. Default dispositions for every signal, through the system call
        // itself: glibc's wrapper refuses its internal signals (32, 33),
        // which a parent's posix_spawn may have left ignored. An all-zero
        // kernel sigaction is SIG_DFL, no flags, empty mask, whatever the
        // architecture's field order. SIGKILL and SIGSTOP fail, harmlessly.
        let default = [0u64; 4];
        for signal in 1..65 {
            libc::syscall(
                libc::SYS_rt_sigaction,
                signal,
                default.as_ptr(),
                std::ptr::null_mut::<u64>(),
                std::mem::size_of::<u64>(),
            );
        }

        // 2. A process group of its own.
        if libc::setpgid(0, 0) != 0 {
            fail(args, Step::ProcessGroup);
        }

        // 3. Die with the thread that started us (SIGTERM, not SIGKILL: the
        // watchdog escalates, and a database gets to shut down cleanly).
        if libc::prctl(
            libc::PR_SET_PDEATHSIG,
            libc::SIGTERM as libc::c_ulong,
            0,
            0,
            0,
        ) != 0
        {
            fail(args, Step::DeathSignal);
        }
        if libc::getppid() != args.parent {
            fail(args, Step::ParentGone);
        }

        // 4. Descriptors: all sources are ≥ 3 and close-on-exec; dup2 gives
        // the copies without that flag.
        for (target, source) in [(0, args.stdio[0]), (1, args.stdio[1]), (2, args.stdio[2])] {
            if libc::dup2(source, target) < 0 {
                fail(args, Step::Descriptors);
            }
        }
        if args.handoff == 3 {
            if libc::fcntl(3, libc::F_SETFD, 0) < 0 {
                fail(args, Step::Descriptors);
            }
        } else if args.handoff >= 0 && libc::dup2(args.handoff, 3) < 0 {
            fail(args, Step::Descriptors);
        }
        if !args.listen_pid.is_null() {
            write_decimal(args.listen_pid, libc::getpid());
        }

        // 5. Working directory, limits, mask, exec.
        if libc::chdir(args.cwd) != 0 {
            fail(args, Step::WorkingDirectory);
        }
        if args.restore_nofile && libc::setrlimit(libc::RLIMIT_NOFILE, &args.nofile) != 0 {
            fail(args, Step::OpenFileLimit);
        }
        // The raw system call: glibc's wrapper would leave its internal
        // signals as they are, and the mask survives exec.
        let empty: u64 = 0;
        sigprocmask(libc::SIG_SETMASK, &empty, std::ptr::null_mut());
        libc::execve(args.path, args.argv, args.envp);
        fail(args, Step::Exec)
    }
}

/// Records the failed step and its errno for the parent, and exits.
///
/// # Safety
/// Only in the child, with `args` the parent's `ChildArgs`.
unsafe fn fail(args: &mut ChildArgs, step: Step) -> ! {
    // SAFETY: see child_main; errno is read right after the failing call.
    unsafe {
        std::ptr::write_volatile(&mut args.failed_errno, *libc::__errno_location());
        std::ptr::write_volatile(&mut args.failed_step, step as i32);
        libc::_exit(127)
    }
}

/// Writes `value` in decimal at `out` (PID_DIGITS bytes, NUL-filled), with
/// no allocation and no panic.
///
/// # Safety
/// `out` must point to PID_DIGITS writable bytes.
unsafe fn write_decimal(out: *mut u8, value: libc::pid_t) {
    let mut len = 0;
    let mut rest = value.unsigned_abs();
    while len < PID_DIGITS {
        len += 1;
        rest /= 10;
        if rest == 0 {
            break;
        }
    }
    let mut rest = value.unsigned_abs();
    for i in (0..len).rev() {
        // SAFETY: i < len ≤ PID_DIGITS, inside the caller's buffer.
        unsafe { *out.add(i) = b'0' + (rest % 10) as u8 };
        rest /= 10;
    }
}

fn describe_failure(step: i32, errno: i32, launch: &Launch<'_>) -> io::Error {
    let cause = io::Error::from_raw_os_error(errno);
    let program = launch
        .argv
        .first()
        .map_or_else(|| launch.path.display().to_string(), Clone::clone);
    let message = match step {
        s if s == Step::ProcessGroup as i32 => {
            format!("{program}: cannot give it a process group of its own: {cause}")
        }
        s if s == Step::DeathSignal as i32 => {
            format!("{program}: cannot set its parent-death signal: {cause}")
        }
        s if s == Step::ParentGone as i32 => {
            return io::Error::other("bringup exited while starting the service");
        }
        s if s == Step::Descriptors as i32 => {
            format!("{program}: cannot set up its output pipes: {cause}")
        }
        s if s == Step::WorkingDirectory as i32 => format!(
            "{program}: cannot change to the working directory {}: {cause}",
            launch.cwd.display()
        ),
        s if s == Step::OpenFileLimit as i32 => {
            format!("{program}: cannot restore the open-file limit: {cause}")
        }
        _ if errno == libc::ENOEXEC => {
            format!("{program}: {cause} (a script needs a `#!` line naming its interpreter)")
        }
        _ => format!("{program}: {cause}"),
    };
    io::Error::new(cause.kind(), message)
}

fn cstring(text: &OsStr, what: &str) -> io::Result<CString> {
    CString::new(text.as_bytes()).map_err(|_| invalid(format!("{what} contains a NUL byte")))
}

fn invalid(message: String) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidInput, message)
}

/// A close-on-exec pipe whose ends are both ≥ 3.
fn pipe() -> io::Result<(OwnedFd, OwnedFd)> {
    let (read, write) = nix::unistd::pipe2(nix::fcntl::OFlag::O_CLOEXEC)?;
    Ok((above_stdio(read)?, above_stdio(write)?))
}

/// /dev/null, opened once (close-on-exec, ≥ 3) and shared by every spawn.
fn dev_null() -> io::Result<&'static OwnedFd> {
    static DEV_NULL: OnceLock<OwnedFd> = OnceLock::new();
    if let Some(fd) = DEV_NULL.get() {
        return Ok(fd);
    }
    let file = std::fs::File::open("/dev/null")?;
    let fd = above_stdio(OwnedFd::from(file))?;
    Ok(DEV_NULL.get_or_init(|| fd))
}

/// `fd` itself if it is ≥ 3, else a close-on-exec copy that is. (With
/// bringup's own stdin, stdout or stderr closed, a new descriptor can be
/// 0, 1 or 2, and the child's dup2s onto those would clobber it.)
fn above_stdio(fd: OwnedFd) -> io::Result<OwnedFd> {
    if fd.as_raw_fd() >= 3 {
        return Ok(fd);
    }
    above_stdio_raw(fd.as_raw_fd())
}

fn above_stdio_raw(fd: RawFd) -> io::Result<OwnedFd> {
    // SAFETY: fcntl on a descriptor this process holds; the result is a new
    // descriptor we own.
    let copy = unsafe { libc::fcntl(fd, libc::F_DUPFD_CLOEXEC, 3) };
    if copy < 0 {
        return Err(io::Error::last_os_error());
    }
    // SAFETY: `copy` was just created and is owned by nobody else.
    Ok(unsafe { OwnedFd::from_raw_fd(copy) })
}

/// The child's stack: an anonymous mapping with a guard page below it, so
/// an overflow faults instead of writing over bringup's memory.
struct Stack {
    base: *mut c_void,
    len: usize,
}

impl Stack {
    fn new() -> io::Result<Self> {
        let page = 4096;
        let len = STACK + page;
        // SAFETY: a fresh private anonymous mapping; nothing else refers to it.
        let base = unsafe {
            libc::mmap(
                std::ptr::null_mut(),
                len,
                libc::PROT_READ | libc::PROT_WRITE,
                libc::MAP_PRIVATE | libc::MAP_ANONYMOUS | libc::MAP_STACK | libc::MAP_NORESERVE,
                -1,
                0,
            )
        };
        if base == libc::MAP_FAILED {
            return Err(io::Error::last_os_error());
        }
        let stack = Self { base, len };
        // SAFETY: the lowest page of the mapping we own.
        if unsafe { libc::mprotect(base, page, libc::PROT_NONE) } != 0 {
            return Err(io::Error::last_os_error());
        }
        Ok(stack)
    }

    /// The top of the stack (it grows down), 16-byte aligned.
    fn top(&self) -> *mut c_void {
        let top = self.base as usize + self.len;
        (top & !15) as *mut c_void
    }
}

impl Drop for Stack {
    fn drop(&mut self) {
        // SAFETY: unmapping exactly the mapping `new` made; the child has
        // exec'd or exited, so nothing runs on it any more.
        unsafe {
            libc::munmap(self.base, self.len);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decimal_pids_fit_their_slot() {
        for (value, text) in [(1, "1"), (4242, "4242"), (i32::MAX, "2147483647")] {
            let mut slot = [0u8; PID_DIGITS];
            // SAFETY: the slot has PID_DIGITS bytes.
            unsafe { write_decimal(slot.as_mut_ptr(), value) };
            let end = slot.iter().position(|&b| b == 0).unwrap_or(PID_DIGITS);
            assert_eq!(&slot[..end], text.as_bytes());
        }
    }
}
