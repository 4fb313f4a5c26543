//! The dashboard in a real terminal: a private tmux server (its own `-L`
//! socket) runs bringup in one pane; the test reads the screen
//! (`capture-pane`) and types (`send-keys`).
//!
//! bringup runs with the run's marker in its environment (and not the pane's
//! shell, which outlives it), so [`Tmux::survivors`] are exactly the
//! processes of the run, and dropping a `Tmux` — also when a test or a
//! benchmark panics — kills the server and then every process of the run.
//! When bringup exits, the pane shows `BRINGUP-EXITED <status>` and stays
//! readable. tmux must be installed (`.ci/run` installs it).

use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::time::{Duration, Instant};

use super::{BIN, DEADLINE, POLL, kill_marked, processes_with_marker, unique_marker};

/// A tmux server with one session (`main`) running bringup.
pub struct Tmux {
    socket: String,
    pub marker: String,
    pub dir: PathBuf,
    _owned: Option<tempfile::TempDir>,
}

impl Tmux {
    /// `bringup up` on `config`, in a directory of its own.
    pub fn start(config: &str, width: u16, height: u16) -> Self {
        Self::start_with_env(config, width, height, "")
    }

    /// As [`Tmux::start`], with extra `VAR=value` words for bringup's env.
    pub fn start_with_env(config: &str, width: u16, height: u16, env: &str) -> Self {
        let dir = tempfile::tempdir().expect("temp dir");
        std::fs::write(dir.path().join("bringup.toml"), config).expect("config");
        let command = format!("{env} '{BIN}' up -c bringup.toml");
        let mut tmux = Self::run_in(dir.path(), &command, width, height);
        tmux._owned = Some(dir);
        tmux
    }

    /// Runs `command` (a bringup command line: `'BIN' demo`, …) in `dir`,
    /// which keeps bringup's history (`dir/state`).
    pub fn run_in(dir: &Path, command: &str, width: u16, height: u16) -> Self {
        let marker = unique_marker();
        let socket = format!("bringup-{marker}");
        let script = script(dir, &marker, command);
        let status = Command::new("tmux")
            .args([
                "-L",
                &socket,
                "-f",
                "/dev/null",
                "new-session",
                "-d",
                "-s",
                "main",
            ])
            .args(["-x", &width.to_string(), "-y", &height.to_string()])
            .arg(script)
            .env_remove("TMUX")
            .status()
            .expect("tmux must be installed (.ci/run installs it)");
        assert!(status.success(), "tmux new-session failed");
        Self {
            socket,
            marker,
            dir: dir.to_path_buf(),
            _owned: None,
        }
    }

    /// Replaces what the pane runs with `command` (killing what ran), in
    /// the same server: a new terminal program without a new tmux.
    pub fn respawn(&self, command: &str) {
        let script = script(&self.dir, &self.marker, command);
        let out = self.tmux(&["respawn-pane", "-k", "-t", "main", &script]);
        assert!(out.status.success(), "tmux respawn-pane failed");
    }

    pub fn tmux(&self, args: &[&str]) -> Output {
        Command::new("tmux")
            .arg("-L")
            .arg(&self.socket)
            .args(args)
            .output()
            .expect("tmux")
    }

    pub fn screen(&self) -> String {
        String::from_utf8_lossy(&self.tmux(&["capture-pane", "-p", "-t", "main"]).stdout)
            .into_owned()
    }

    /// Keys by tmux name ("Enter", "Escape", "r").
    pub fn keys(&self, keys: &[&str]) {
        let mut args = vec!["send-keys", "-t", "main"];
        args.extend_from_slice(keys);
        self.tmux(&args);
    }

    /// Text typed as is.
    pub fn type_text(&self, text: &str) {
        self.tmux(&["send-keys", "-t", "main", "-l", text]);
    }

    /// Waits until the screen satisfies `check`; returns that screen.
    pub fn wait(&self, what: &str, check: impl Fn(&str) -> bool) -> String {
        self.wait_up_to(DEADLINE, what, check)
    }

    /// [`Tmux::wait`] with a deadline of `limit`.
    pub fn wait_up_to(&self, limit: Duration, what: &str, check: impl Fn(&str) -> bool) -> String {
        self.wait_every(POLL * 5, limit, what, check)
    }

    /// [`Tmux::wait_up_to`], looking at the screen every `every` (a
    /// benchmark timing a frame wants a fine grain; tests spare the CPU).
    pub fn wait_every(
        &self,
        every: Duration,
        limit: Duration,
        what: &str,
        check: impl Fn(&str) -> bool,
    ) -> String {
        let deadline = Instant::now() + limit;
        loop {
            let screen = self.screen();
            if check(&screen) {
                return screen;
            }
            assert!(
                Instant::now() < deadline,
                "timed out waiting for {what}; the screen:\n{screen}"
            );
            std::thread::sleep(every);
        }
    }

    /// Polls `f` until it gives a value; on timeout the panic shows the screen.
    pub fn poll<T>(&self, what: &str, mut f: impl FnMut() -> Option<T>) -> T {
        let deadline = Instant::now() + DEADLINE;
        loop {
            if let Some(value) = f() {
                return value;
            }
            assert!(
                Instant::now() < deadline,
                "timed out waiting for {what}; the screen:\n{}",
                self.screen()
            );
            std::thread::sleep(POLL);
        }
    }

    /// Waits until every process of the run is gone; on timeout the panic
    /// names each survivor (pid, state, command line) and shows the screen.
    pub fn assert_no_survivors(&self) {
        let deadline = Instant::now() + DEADLINE;
        loop {
            let left = self.survivors();
            if left.is_empty() {
                return;
            }
            if Instant::now() > deadline {
                let described: Vec<String> = left
                    .iter()
                    .map(|&pid| {
                        let state = procfs::process::Process::new(pid)
                            .and_then(|p| p.stat())
                            .map_or('?', |stat| stat.state);
                        format!("{pid} ({state}): {}", super::command_line(pid))
                    })
                    .collect();
                panic!(
                    "processes of the run survived: {described:#?}\n--- screen ---\n{}",
                    self.screen()
                );
            }
            std::thread::sleep(POLL);
        }
    }

    /// The grid row of `service`.
    pub fn row(screen: &str, service: &str) -> Option<String> {
        screen
            .lines()
            .find(|line| {
                line.trim_start_matches(['▶', '▷', ' '])
                    .split_whitespace()
                    .next()
                    == Some(service)
            })
            .map(str::to_string)
    }

    /// Selects `service` in the grid by filtering for it.
    pub fn select(&self, service: &str) {
        self.keys(&["/"]);
        self.type_text(service);
        self.keys(&["Enter"]);
        self.wait("the filter to select it", |s| {
            Self::row(s, service).is_some_and(|row| row.contains('▶'))
        });
        self.keys(&["Escape"]);
        // Until Escape has been read on its own, a key sent after it would
        // arrive glued to it, and the terminal would read Alt+key.
        self.wait("the filter to be cleared", |s| !s.contains("filter: "));
    }

    /// The pid of the fixture called `name`.
    pub fn pid_of(&self, name: &str) -> Option<i32> {
        processes_with_marker(&self.marker)
            .into_iter()
            .find(|&pid| {
                procfs::process::Process::new(pid)
                    .and_then(|process| process.cmdline())
                    .is_ok_and(|argv| argv.windows(2).any(|w| w[0] == "--name" && w[1] == name))
            })
    }

    /// The process the pane's shell started: bringup, or the waiter of
    /// a foreground dashboard (which runs the stack in its child).
    pub fn job_pid(&self) -> Option<i32> {
        let pane = self.tmux(&["list-panes", "-t", "main", "-F", "#{pane_pid}"]);
        let shell: i32 = String::from_utf8_lossy(&pane.stdout).trim().parse().ok()?;
        self.child_of(shell)
    }

    /// bringup itself, the process that runs the stack (its services and
    /// its watchdog are its children): the job, or the child of a waiter.
    pub fn bringup_pid(&self) -> Option<i32> {
        let job = self.job_pid()?;
        let engine = self.child_of(job).filter(|&child| {
            procfs::process::Process::new(child)
                .and_then(|process| process.cmdline())
                .is_ok_and(|argv| {
                    argv.get(1)
                        .is_some_and(|verb| verb == "up" || verb == "demo")
                })
        });
        Some(engine.unwrap_or(job))
    }

    fn child_of(&self, parent: i32) -> Option<i32> {
        processes_with_marker(&self.marker)
            .into_iter()
            .find(|&pid| {
                procfs::process::Process::new(pid)
                    .and_then(|process| process.stat())
                    .is_ok_and(|stat| stat.ppid == parent)
            })
    }

    /// Live processes of the run, bringup included.
    pub fn survivors(&self) -> Vec<i32> {
        processes_with_marker(&self.marker)
    }
}

impl Drop for Tmux {
    fn drop(&mut self) {
        self.tmux(&["kill-server"]);
        kill_marked(&self.marker);
        // Entries of stacks killed here (see the Stack rig's drop).
        let _ = bringup::control::registry::list();
        // A server that is killed leaves its socket file behind.
        let dir = std::env::var_os("TMUX_TMPDIR").unwrap_or_else(|| "/tmp".into());
        let uid = nix::unistd::getuid().as_raw();
        let _ = std::fs::remove_file(
            Path::new(&dir)
                .join(format!("tmux-{uid}"))
                .join(&self.socket),
        );
    }
}

/// The pane's shell script: `command` in `dir`, marked; the shell waits
/// after it so the pane (and the exit status) stay.
fn script(dir: &Path, marker: &str, command: &str) -> String {
    format!(
        "cd '{}' && env BRINGUP_TEST_MARKER={marker} XDG_STATE_HOME='{}' {command}; echo BRINGUP-EXITED $?; sleep 600",
        dir.display(),
        dir.join("state").display()
    )
}
