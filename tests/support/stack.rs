//! The headless rig: a real `bringup` process on a config in a temp dir
//! of its own, its stdout and stderr collected as they come, every process
//! of its run found by the run's marker (and [`Stack::track`]ed daemons
//! that wiped it), and everything killed when the `Stack` is dropped —
//! also when a test panics.

use std::io::Read;
use std::os::unix::process::ExitStatusExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::{Arc, Mutex, mpsc};
use std::time::Instant;

use nix::sys::signal::{Signal, kill};
use nix::unistd::Pid;

use super::{
    BIN, DEADLINE, POLL, Record, command_line, kill_marked, poll, processes_with_marker, records,
    start_time, unique_marker,
};

/// A `bringup` process on a config in its own temp dir.
pub struct Stack {
    pub dir: tempfile::TempDir,
    pub marker: String,
    child: Option<Child>,
    stdout: Arc<Mutex<String>>,
    stderr: Arc<Mutex<String>>,
    /// Hear when bringup's stdout and stderr have closed.
    closed: Vec<mpsc::Receiver<()>>,
    /// Processes of the run without the marker: (pid, start time).
    tracked: Mutex<Vec<(i32, u64)>>,
    /// The config's file name in `dir` (`bringup.toml`, or a `Procfile`).
    config_file: String,
}

impl Stack {
    /// Writes `config` (with `{record}` replaced by the record file's path,
    /// `{dir}` by the stack's directory) and runs
    /// `bringup <args> -c bringup.toml`.
    pub fn start(config: &str, args: &[&str]) -> Self {
        Self::start_with(Path::new(BIN), config, args)
    }

    /// As [`Stack::start`], running the bringup binary at `bin`.
    pub fn start_with(bin: &Path, config: &str, args: &[&str]) -> Self {
        Self::start_setup(bin, config, args, |_| {})
    }

    /// As [`Stack::start`], with `env` set for bringup.
    pub fn start_with_env(config: &str, args: &[&str], env: &[(&str, &str)]) -> Self {
        let env: Vec<(String, String)> = env
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        Self::start_setup(Path::new(BIN), config, args, move |command| {
            command.envs(env.iter().map(|(k, v)| (k, v)));
        })
    }

    /// As [`Stack::relaunch`], with `env` set for bringup.
    pub fn relaunch_with_env(&mut self, args: &[&str], env: &[(&str, &str)]) {
        let ended = self
            .child
            .as_mut()
            .is_none_or(|c| matches!(c.try_wait(), Ok(Some(_))));
        assert!(ended, "the previous run is still going");
        self.launch(Path::new(BIN), args, |command| {
            command.envs(env.iter().copied());
        });
    }

    /// As [`Stack::start`], with bringup's soft open-file limit lowered to
    /// `soft` (the hard limit stays).
    pub fn start_with_open_files(config: &str, args: &[&str], soft: u64) -> Self {
        use std::os::unix::process::CommandExt;
        Self::start_setup(Path::new(BIN), config, args, move |command| {
            // SAFETY: between fork and exec, only getrlimit/setrlimit.
            unsafe {
                command.pre_exec(move || {
                    let (_, hard) =
                        nix::sys::resource::getrlimit(nix::sys::resource::Resource::RLIMIT_NOFILE)?;
                    nix::sys::resource::setrlimit(
                        nix::sys::resource::Resource::RLIMIT_NOFILE,
                        soft,
                        hard,
                    )?;
                    Ok(())
                });
            }
        })
    }

    /// As [`Stack::start`], with the config in a file named `file`
    /// (another tool's: `up -c Procfile`).
    pub fn start_named(file: &str, config: &str, args: &[&str]) -> Self {
        Self::start_file(Path::new(BIN), file, config, args, |_| {})
    }

    /// As [`Stack::start`], with `prepare` laying out files in the
    /// stack's directory before bringup starts.
    pub fn start_prepared(config: &str, args: &[&str], prepare: impl FnOnce(&Path)) -> Self {
        let dir = tempfile::tempdir().expect("temp dir");
        prepare(dir.path());
        Self::start_in(dir, Path::new(BIN), "bringup.toml", config, args, |_| {})
    }

    fn start_setup(bin: &Path, config: &str, args: &[&str], setup: impl Fn(&mut Command)) -> Self {
        Self::start_file(bin, "bringup.toml", config, args, setup)
    }

    fn start_file(
        bin: &Path,
        file: &str,
        config: &str,
        args: &[&str],
        setup: impl Fn(&mut Command),
    ) -> Self {
        let dir = tempfile::tempdir().expect("temp dir");
        Self::start_in(dir, bin, file, config, args, setup)
    }

    fn start_in(
        dir: tempfile::TempDir,
        bin: &Path,
        file: &str,
        config: &str,
        args: &[&str],
        setup: impl Fn(&mut Command),
    ) -> Self {
        let config = config
            .replace("{record}", &dir.path().join("record").display().to_string())
            .replace("{dir}", &dir.path().display().to_string());
        std::fs::write(dir.path().join(file), config).expect("write config");
        let mut stack = Self {
            dir,
            marker: unique_marker(),
            child: None,
            stdout: Arc::default(),
            stderr: Arc::default(),
            closed: Vec::new(),
            tracked: Mutex::default(),
            config_file: file.to_string(),
        };
        stack.launch(bin, args, setup);
        stack
    }

    /// Counts `pid` (alive now) as a process of the run from now on:
    /// [`Stack::assert_no_survivors`] waits for it too, and the clean-up
    /// kills it.
    pub fn track(&self, pid: i32) {
        if let (Some(started), Ok(mut tracked)) = (start_time(pid), self.tracked.lock()) {
            tracked.push((pid, started));
        }
    }

    /// Tracked processes still alive (the same process: pid and start time).
    pub fn tracked_alive(&self) -> Vec<i32> {
        let Ok(tracked) = self.tracked.lock() else {
            return Vec::new();
        };
        tracked
            .iter()
            .filter(|&&(pid, started)| start_time(pid) == Some(started))
            .map(|&(pid, _)| pid)
            .collect()
    }

    /// Runs bringup again on the same config, in the same directory (the
    /// run before must have ended); its output replaces the old.
    pub fn relaunch(&mut self, args: &[&str]) {
        let ended = self
            .child
            .as_mut()
            .is_none_or(|c| matches!(c.try_wait(), Ok(Some(_))));
        assert!(ended, "the previous run is still going");
        self.launch(Path::new(BIN), args, |_| {});
    }

    fn launch(&mut self, bin: &Path, args: &[&str], setup: impl Fn(&mut Command)) {
        let dir = self.dir.path();
        let mut command = Command::new(bin);
        // The config after the arguments (they may start with a wrapper
        // such as `timeout … bringup up`), but before a `--`: what follows
        // that is a command of its own (`bringup run -- CMD`).
        let end = args.iter().position(|a| *a == "--").unwrap_or(args.len());
        command
            .args(&args[..end])
            .arg("-c")
            .arg(dir.join(&self.config_file))
            .args(&args[end..])
            .current_dir(dir)
            .env("BRINGUP_TEST_MARKER", &self.marker)
            .env("NO_COLOR", "1")
            // Cold-start history stays with the test.
            .env("XDG_STATE_HOME", dir.join("state"))
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        setup(&mut command);
        let mut child = command.spawn().expect("spawn bringup");
        let (stdout, stdout_closed) = collect(child.stdout.take());
        let (stderr, stderr_closed) = collect(child.stderr.take());
        self.stdout = stdout;
        self.stderr = stderr;
        self.closed = vec![stdout_closed, stderr_closed];
        self.child = Some(child);
    }

    /// `bringup up --no-tui` on `config`.
    pub fn up(config: &str) -> Self {
        Self::start(config, &["up", "--no-tui"])
    }

    /// Runs `bringup -c <this stack's config> <args>` to completion, as
    /// another terminal would: (status, stdout, stderr).
    pub fn ctl(&self, args: &[&str]) -> (ExitStatus, String, String) {
        let output = self.command(args).output().expect("run bringup");
        (
            output.status,
            String::from_utf8_lossy(&output.stdout).into_owned(),
            String::from_utf8_lossy(&output.stderr).into_owned(),
        )
    }

    /// `bringup -c <this stack's config> <args>`, ready to run: marked
    /// as this stack's (whatever it starts, a second `up -d` say, is
    /// stopped with the rig), in its directory.
    pub fn command(&self, args: &[&str]) -> Command {
        let mut command = Command::new(BIN);
        command
            .arg("-c")
            .arg(self.dir.path().join(&self.config_file))
            .args(args)
            .current_dir(self.dir.path())
            .env("BRINGUP_TEST_MARKER", &self.marker)
            .env("NO_COLOR", "1")
            .env("XDG_STATE_HOME", self.dir.path().join("state"));
        command
    }

    pub fn pid(&self) -> i32 {
        self.child.as_ref().map_or(0, |c| c.id() as i32)
    }

    pub fn record_path(&self) -> PathBuf {
        self.dir.path().join("record")
    }

    pub fn records(&self) -> Vec<Record> {
        records(&self.record_path())
    }

    pub fn stdout(&self) -> String {
        self.stdout.lock().map(|s| s.clone()).unwrap_or_default()
    }

    pub fn stderr(&self) -> String {
        self.stderr.lock().map(|s| s.clone()).unwrap_or_default()
    }

    /// Waits until stdout contains `text`; panics with the output if not.
    pub fn wait_for(&self, text: &str) {
        self.wait_until(&format!("{text:?} in the output"), |out| out.contains(text));
    }

    /// Waits until `check(stdout)` holds.
    pub fn wait_until(&self, what: &str, mut check: impl FnMut(&str) -> bool) {
        let deadline = Instant::now() + DEADLINE;
        loop {
            if check(&self.stdout()) {
                return;
            }
            if Instant::now() > deadline {
                panic!(
                    "timed out waiting for {what}\n--- stdout ---\n{}\n--- stderr ---\n{}",
                    self.stdout(),
                    self.stderr()
                );
            }
            std::thread::sleep(POLL);
        }
    }

    /// Waits until the fixture records say `check` holds.
    pub fn wait_records(
        &self,
        what: &str,
        mut check: impl FnMut(&[Record]) -> bool,
    ) -> Vec<Record> {
        let deadline = Instant::now() + DEADLINE;
        loop {
            let records = self.records();
            if check(&records) {
                return records;
            }
            if Instant::now() > deadline {
                panic!(
                    "timed out waiting for {what}; records: {records:#?}\n--- stdout ---\n{}",
                    self.stdout()
                );
            }
            std::thread::sleep(POLL);
        }
    }

    pub fn signal(&self, signal: Signal) {
        let _ = kill(Pid::from_raw(self.pid()), signal);
    }

    /// SIGKILLs the watchdog, then bringup, as `killall -9 bringup` does,
    /// and waits for bringup to be gone: only the parent-death signal is
    /// left to stop the services.
    pub fn kill_with_watchdog(&mut self) {
        let watchdog = poll("the watchdog", || {
            self.survivors()
                .into_iter()
                .find(|&p| command_line(p).contains("__watchdog"))
        });
        let _ = kill(Pid::from_raw(watchdog), Signal::SIGKILL);
        self.signal(Signal::SIGKILL);
        self.wait_exit();
    }

    /// Waits for bringup to exit and returns its status.
    pub fn wait_exit(&mut self) -> ExitStatus {
        let child = self.child.as_mut().expect("still running");
        let deadline = Instant::now() + DEADLINE;
        loop {
            if let Ok(Some(status)) = child.try_wait() {
                // The reader threads have the last bytes once the pipes close.
                for closed in &self.closed {
                    let _ = closed.recv_timeout(DEADLINE);
                }
                return status;
            }
            if Instant::now() > deadline {
                panic!("bringup did not exit\n--- stdout ---\n{}", self.stdout());
            }
            std::thread::sleep(POLL);
        }
    }

    /// Live processes of this run, other than bringup itself.
    pub fn survivors(&self) -> Vec<i32> {
        let own = self.pid();
        processes_with_marker(&self.marker)
            .into_iter()
            .filter(|&p| p != own)
            .collect()
    }

    /// Waits until no process of the run is left; panics naming them if not.
    /// Stops the stack as a user would (SIGTERM), waits for bringup to
    /// exit and checks that nothing of the run is left; returns its status.
    pub fn stop(&mut self) -> ExitStatus {
        self.signal(Signal::SIGTERM);
        let status = self.wait_exit();
        self.assert_no_survivors();
        status
    }

    /// [`Stack::stop`], and bringup exited with `code`.
    pub fn stop_expecting(&mut self, code: i32) {
        let status = self.stop();
        assert_eq!(
            status.code(),
            Some(code),
            "bringup's exit status ({})\n--- stdout ---\n{}",
            Self::describe(status),
            self.stdout()
        );
    }

    /// The first line of bringup's output containing `text`.
    pub fn line(&self, text: &str) -> String {
        let out = self.stdout();
        match out.lines().find(|l| l.contains(text)) {
            Some(line) => line.to_string(),
            None => panic!("no line with {text:?}\n--- stdout ---\n{out}"),
        }
    }

    pub fn assert_no_survivors(&self) {
        let deadline = Instant::now() + DEADLINE;
        loop {
            let mut left = processes_with_marker(&self.marker);
            left.extend(self.tracked_alive());
            if left.is_empty() {
                return;
            }
            if Instant::now() > deadline {
                let described: Vec<String> = left
                    .iter()
                    .map(|p| {
                        format!(
                            "{p}: {}",
                            std::fs::read_to_string(format!("/proc/{p}/cmdline"))
                                .unwrap_or_default()
                                .replace('\0', " ")
                        )
                    })
                    .collect();
                panic!(
                    "processes of the run survived: {described:#?}\n--- stdout ---\n{}",
                    self.stdout()
                );
            }
            std::thread::sleep(POLL);
        }
    }

    /// How bringup exited, as a code or a signal description.
    pub fn describe(status: ExitStatus) -> String {
        match (status.code(), status.signal()) {
            (Some(code), _) => format!("code {code}"),
            (_, Some(signal)) => format!("signal {signal}"),
            _ => "unknown".into(),
        }
    }
}

impl Drop for Stack {
    fn drop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
        kill_marked(&self.marker);
        for pid in self.tracked_alive() {
            let _ = kill(Pid::from_raw(pid), Signal::SIGKILL);
        }
        // A bringup killed here cannot remove its entry among the running
        // stacks; listing them removes the entries of dead ones.
        let _ = bringup::control::registry::list();
    }
}

/// Collects what comes out of `pipe`; the receiver hears when it closed.
fn collect(pipe: Option<impl Read + Send + 'static>) -> (Arc<Mutex<String>>, mpsc::Receiver<()>) {
    let text = Arc::new(Mutex::new(String::new()));
    let (closed, on_close) = mpsc::channel();
    if let Some(mut pipe) = pipe {
        let sink = text.clone();
        std::thread::spawn(move || {
            let mut buffer = [0u8; 8192];
            while let Ok(read) = pipe.read(&mut buffer) {
                if read == 0 {
                    break;
                }
                if let Ok(mut text) = sink.lock() {
                    text.push_str(&String::from_utf8_lossy(&buffer[..read]));
                }
            }
            let _ = closed.send(());
        });
    }
    (text, on_close)
}
