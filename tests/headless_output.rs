//! Headless output when nobody keeps up with it: a pipe that is never
//! read must not hold up Ctrl-C, and a slow reader is told what it missed.

// A test fails by panicking; `expect` says why.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod support;

use std::io::Read;
use std::os::fd::AsRawFd;
use std::process::{Child, ChildStdout, Command, Stdio};
use std::time::{Duration, Instant};

use nix::sys::signal::{Signal, kill};
use nix::unistd::Pid;

/// A flooding stack whose stdout the test holds but reads only when it
/// wants to; every process of the run is killed on drop.
struct Flood {
    child: Child,
    stdout: ChildStdout,
    marker: String,
    _dir: tempfile::TempDir,
}

impl Flood {
    fn start() -> Self {
        let dir = tempfile::tempdir().expect("temp dir");
        let config = "[services.flood]\ncommand = \"yes flood\"\n";
        std::fs::write(dir.path().join("bringup.toml"), config).expect("config");
        let marker = support::unique_marker();
        let mut child = Command::new(support::BIN)
            .args(["up", "--no-tui", "-c", "bringup.toml"])
            .current_dir(dir.path())
            .env("BRINGUP_TEST_MARKER", &marker)
            .env("XDG_STATE_HOME", dir.path().join("state"))
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .expect("spawn bringup");
        let stdout = child.stdout.take().expect("stdout");
        Self {
            child,
            stdout,
            marker,
            _dir: dir,
        }
    }

    /// Bytes waiting in the pipe (FIONREAD).
    fn unread(&self) -> usize {
        let mut count: nix::libc::c_int = 0;
        // SAFETY: FIONREAD writes one int through a valid pointer.
        let rc = unsafe {
            nix::libc::ioctl(
                self.stdout.as_raw_fd(),
                nix::libc::FIONREAD,
                &mut count as *mut nix::libc::c_int,
            )
        };
        if rc < 0 { 0 } else { count as usize }
    }

    /// Waits until the pipe holds as much as it can: bringup's next write
    /// would block.
    fn wait_until_the_pipe_is_full(&self) {
        // The default pipe capacity is 64 KiB; a write blocks well before
        // the last byte is taken, so "nearly full and not moving" is full.
        support::poll("a full pipe", || {
            let before = self.unread();
            std::thread::sleep(Duration::from_millis(50));
            (before >= 32 * 1024 && self.unread() == before).then_some(())
        });
    }

    fn signal(&self, signal: Signal) {
        let _ = kill(Pid::from_raw(self.child.id() as i32), signal);
    }
}

impl Drop for Flood {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        support::kill_marked(&self.marker);
    }
}

#[test]
fn ctrl_c_stops_the_stack_at_once_though_nobody_reads_the_output() {
    let mut flood = Flood::start();
    flood.wait_until_the_pipe_is_full();
    let asked = Instant::now();
    flood.signal(Signal::SIGINT);
    let status = support::poll("bringup to exit", || flood.child.try_wait().ok().flatten());
    // The promise is "within a second"; the bound is for a loaded CI box.
    assert!(
        asked.elapsed() < Duration::from_secs(10),
        "took {:?}",
        asked.elapsed()
    );
    assert_eq!(
        status.code(),
        Some(0),
        "the flood was ready, stopped cleanly"
    );
    let survivors = support::processes_with_marker(&flood.marker);
    assert!(survivors.is_empty(), "left behind: {survivors:?}");
}

#[test]
fn a_reader_that_falls_behind_is_told_how_much_it_missed() {
    let mut flood = Flood::start();
    flood.wait_until_the_pipe_is_full();
    // Now read: bringup catches up from its stores, which kept only the
    // newest lines of a flood that never stopped.
    let mut seen = Vec::new();
    let mut buffer = vec![0u8; 1 << 16];
    let deadline = Instant::now() + support::DEADLINE;
    let needle = b"lines not shown (output faster than it is read)";
    while !seen.windows(needle.len()).any(|w| w == needle) {
        assert!(Instant::now() < deadline, "no note of missed lines");
        let read = flood.stdout.read(&mut buffer).expect("read");
        assert!(read > 0, "bringup closed its output");
        seen.extend_from_slice(&buffer[..read]);
        // Only the tail can hold the note; keep memory bounded.
        if seen.len() > 1 << 20 {
            seen.drain(..seen.len() - 4096);
        }
    }
    flood.signal(Signal::SIGTERM);
    // Keep reading so the last words can be written, up to the end.
    let mut rest = Vec::new();
    let _ = flood.stdout.read_to_end(&mut rest);
    let status = flood.child.wait().expect("wait");
    assert_eq!(status.code(), Some(0));
    let tail = String::from_utf8_lossy(&rest[rest.len().saturating_sub(4096)..]).into_owned();
    assert!(tail.contains("every service has stopped"), "{tail}");
}
