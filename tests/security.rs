//! The security promises, tested by performing the attacks: a symlink or a
//! directory planted where bringup keeps its runtime directory, escape
//! sequences in a port holder's command line, two users racing for an auto
//! port, a stranger answering a service's readiness check, a process that
//! bound a port as root and switched user, and a stray `READY=1`.
//!
//! The other users are real: created with `useradd` for one test (a
//! unique name each), acting through `runuser`, and removed again with
//! everything they ran and left in /tmp by a guard, also when the test
//! fails. Creating users needs root; without it these tests say so and
//! pass.

// A test fails by panicking; `expect` says why.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod support;

use std::fs;
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::sync::Mutex;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{Duration, Instant};

use nix::sys::signal::{Signal, kill};
use nix::unistd::Pid;
use support::stack::Stack;
use support::{BIN, DEADLINE, POLL, free_port, poll};

/// OSC 0 (window title), OSC 52 (clipboard) and CSI 2J (clear screen).
const HOSTILE: &str = "\x1b]0;pwned-title\x07\x1b]52;c;cHduZWQ=\x07\x1b[2J";

fn root(test: &str) -> bool {
    let root = nix::unistd::getuid().is_root();
    if !root {
        eprintln!("{test}: not root, cannot create the other user; skipped");
    }
    root
}

/// Asserts that `text` carries no escape or control byte a terminal acts on.
fn assert_no_controls(what: &str, text: &[u8]) {
    let shown = String::from_utf8_lossy(text);
    assert!(
        !text.iter().any(|&b| b == 0x1b || b == 0x07) && !shown.contains('\u{9b}'),
        "{what} printed terminal control bytes: {shown:?}"
    );
}

/// [`assert_no_controls`], and not even the text of the sequences is left.
fn assert_inert(what: &str, text: &[u8]) {
    assert_no_controls(what, text);
    let shown = String::from_utf8_lossy(text);
    assert!(
        !shown.contains("]0;") && !shown.contains("]52;") && !shown.contains("[2J"),
        "{what} printed the remains of an escape sequence: {shown:?}"
    );
}

// ----- other users ------------------------------------------------------------

/// useradd and userdel take a lock on /etc/passwd: one at a time here, and
/// retried when another program holds it.
static PASSWD: Mutex<()> = Mutex::new(());

/// Runs a passwd tool until it does not fail for the lock (exit 10 for
/// useradd/userdel: "cannot lock"), within the deadline.
fn passwd_tool(program: &str, args: &[&str]) -> Output {
    let _one = PASSWD.lock().unwrap_or_else(|e| e.into_inner());
    let deadline = Instant::now() + DEADLINE;
    loop {
        let output = Command::new(program)
            .args(args)
            .output()
            .unwrap_or_else(|e| panic!("run {program}: {e}"));
        if output.status.code() != Some(10) || Instant::now() > deadline {
            return output;
        }
        std::thread::sleep(POLL);
    }
}

/// A user that exists for one test; dropping it ends everything it runs,
/// removes what it left in /tmp and deletes it.
struct TestUser {
    name: String,
    uid: u32,
    gid: u32,
    /// Its home, when it has one (otherwise /nonexistent).
    home: Option<PathBuf>,
    _home_parent: Option<tempfile::TempDir>,
}

impl TestUser {
    fn new(with_home: bool) -> Self {
        static COUNTER: AtomicU32 = AtomicU32::new(0);
        let name = format!(
            "bt{:x}x{}",
            std::process::id(),
            COUNTER.fetch_add(1, Ordering::Relaxed)
        );
        let home_parent = with_home.then(|| {
            let parent = tempfile::tempdir().expect("temp dir");
            fs::set_permissions(parent.path(), fs::Permissions::from_mode(0o755)).expect("chmod");
            parent
        });
        let home = home_parent.as_ref().map(|p| p.path().join("home"));
        let home_arg = home
            .as_ref()
            .map_or_else(|| "/nonexistent".to_string(), |h| h.display().to_string());
        let made = passwd_tool(
            "useradd",
            &[
                "-M",
                "-U",
                "-d",
                &home_arg,
                "-s",
                "/usr/sbin/nologin",
                &name,
            ],
        );
        assert!(
            made.status.success(),
            "useradd {name}: {}",
            String::from_utf8_lossy(&made.stderr)
        );
        let user = nix::unistd::User::from_name(&name)
            .ok()
            .flatten()
            .expect("the new user");
        let made = Self {
            name,
            uid: user.uid.as_raw(),
            gid: user.gid.as_raw(),
            home,
            _home_parent: home_parent,
        };
        if let Some(home) = &made.home {
            fs::create_dir(home).expect("home");
            made.give(home);
        }
        made
    }

    /// Makes `path` this user's.
    fn give(&self, path: &Path) {
        std::os::unix::fs::chown(path, Some(self.uid), Some(self.gid)).expect("chown");
    }

    /// `program args…` run as this user (in `dir`).
    fn command(&self, program: &str, args: &[&str], dir: &Path) -> Command {
        let mut command = Command::new("/usr/sbin/runuser");
        command
            .args(["-u", &self.name, "--"])
            .arg(program)
            .args(args)
            .current_dir(dir)
            .env_clear()
            .env("PATH", "/usr/local/bin:/usr/bin:/bin")
            .env("NO_COLOR", "1");
        command
    }

    /// `program args…` as this user, to completion (bounded by `timeout`).
    fn run(&self, program: &str, args: &[&str], dir: &Path) -> Output {
        let runuser = self.command(program, args, dir);
        Command::new("/usr/bin/timeout")
            .args(["-k", "5", "120"])
            .arg(runuser.get_program())
            .args(runuser.get_args())
            .current_dir(dir)
            .env_clear()
            .envs(runuser.get_envs().filter_map(|(k, v)| Some((k, v?))))
            .stdin(Stdio::null())
            .output()
            .expect("runuser")
    }

    /// `bringup args…` as this user, to completion.
    fn bringup(&self, args: &[&str], dir: &Path) -> Output {
        self.run(BIN, args, dir)
    }

    /// `bringup args…` as this user, running on; output goes to files.
    fn start(&self, args: &[&str], dir: &Path) -> UserRun {
        let logs = tempfile::tempdir().expect("temp dir");
        let (out, err) = (logs.path().join("out"), logs.path().join("err"));
        let child = self
            .command(BIN, args, dir)
            .stdin(Stdio::null())
            .stdout(fs::File::create(&out).expect("out file"))
            .stderr(fs::File::create(&err).expect("err file"))
            .spawn()
            .expect("runuser");
        UserRun {
            child,
            out,
            err,
            _logs: logs,
        }
    }

    /// Pids of this user's live processes (by real or effective uid).
    fn processes(&self) -> Vec<i32> {
        let Ok(entries) = fs::read_dir("/proc") else {
            return Vec::new();
        };
        entries
            .filter_map(|e| e.ok()?.file_name().to_str()?.parse::<i32>().ok())
            .filter(|pid| {
                let Ok(status) = fs::read_to_string(format!("/proc/{pid}/status")) else {
                    return false;
                };
                let zombie = status
                    .lines()
                    .any(|l| l.starts_with("State:") && l.contains('Z'));
                let uids: Vec<u32> = status
                    .lines()
                    .find(|l| l.starts_with("Uid:"))
                    .map(|l| {
                        l.split_whitespace()
                            .skip(1)
                            .filter_map(|u| u.parse().ok())
                            .collect()
                    })
                    .unwrap_or_default();
                !zombie && uids.iter().take(2).any(|u| *u == self.uid)
            })
            .collect()
    }
}

impl Drop for TestUser {
    fn drop(&mut self) {
        let deadline = Instant::now() + DEADLINE;
        loop {
            let left = self.processes();
            if left.is_empty() || Instant::now() > deadline {
                break;
            }
            for pid in left {
                let _ = kill(Pid::from_raw(pid), Signal::SIGKILL);
            }
            std::thread::sleep(POLL);
        }
        // Its runtime directory, if bringup had to make it in /tmp.
        let fallback = std::env::temp_dir().join(format!("bringup-{}", self.uid));
        if let Ok(meta) = fs::symlink_metadata(&fallback)
            && meta.uid() == self.uid
        {
            let _ = if meta.is_dir() {
                fs::remove_dir_all(&fallback)
            } else {
                fs::remove_file(&fallback)
            };
        }
        if let Some(home) = &self.home {
            let _ = fs::remove_dir_all(home);
        }
        let removed = passwd_tool("userdel", &[&self.name]);
        if !removed.status.success() {
            eprintln!(
                "userdel {}: {}",
                self.name,
                String::from_utf8_lossy(&removed.stderr)
            );
        }
    }
}

/// A bringup running as another user; killed when dropped (and whatever it
/// started goes with its user).
struct UserRun {
    child: Child,
    out: PathBuf,
    err: PathBuf,
    _logs: tempfile::TempDir,
}

impl UserRun {
    fn stdout(&self) -> String {
        fs::read_to_string(&self.out).unwrap_or_default()
    }

    fn stderr(&self) -> String {
        fs::read_to_string(&self.err).unwrap_or_default()
    }

    fn wait_for(&self, text: &str) {
        let deadline = Instant::now() + DEADLINE;
        while !self.stdout().contains(text) {
            assert!(
                Instant::now() < deadline,
                "timed out waiting for {text:?}\n--- stdout ---\n{}\n--- stderr ---\n{}",
                self.stdout(),
                self.stderr()
            );
            std::thread::sleep(POLL);
        }
    }

    /// bringup itself: runuser's child.
    fn bringup_pid(&self) -> Option<i32> {
        let runuser = self.child.id();
        let children =
            fs::read_to_string(format!("/proc/{runuser}/task/{runuser}/children")).ok()?;
        children.split_whitespace().next()?.parse().ok()
    }

    /// SIGTERM to bringup (runuser would give it only two seconds before
    /// SIGKILL) and its exit code, once it stopped everything.
    fn stop(&mut self) -> Option<i32> {
        let pid = self.bringup_pid().expect("bringup runs");
        let _ = kill(Pid::from_raw(pid), Signal::SIGTERM);
        let deadline = Instant::now() + DEADLINE;
        loop {
            if let Ok(Some(status)) = self.child.try_wait() {
                assert!(
                    self.stdout().contains("every service has stopped"),
                    "{}\n{}",
                    self.stdout(),
                    self.stderr()
                );
                return status.code();
            }
            assert!(
                Instant::now() < deadline,
                "bringup did not stop\n{}",
                self.stdout()
            );
            std::thread::sleep(POLL);
        }
    }
}

impl Drop for UserRun {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A directory every user can read, with `config` as bringup.toml.
fn shared_config(config: &str) -> tempfile::TempDir {
    let dir = tempfile::tempdir().expect("temp dir");
    fs::set_permissions(dir.path(), fs::Permissions::from_mode(0o755)).expect("chmod");
    fs::write(dir.path().join("bringup.toml"), config).expect("write config");
    dir
}

/// Removes a path planted in /tmp when dropped (a link itself, not its target).
struct Planted(PathBuf);

impl Drop for Planted {
    fn drop(&mut self) {
        match fs::symlink_metadata(&self.0) {
            Ok(meta) if meta.is_dir() => {
                let _ = fs::remove_dir_all(&self.0);
            }
            Ok(_) => {
                let _ = fs::remove_file(&self.0);
            }
            Err(_) => {}
        }
    }
}

/// A child process (any user's), killed and reaped when dropped.
struct Process(Child);

impl Drop for Process {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

impl Process {
    fn alive(&mut self) -> bool {
        matches!(self.0.try_wait(), Ok(None))
    }
}

/// `bringup fixture --name NAME --port PORT`, started by `command` (which
/// may run it as another user), once it listens.
fn listening(mut command: Command, port: u16) -> Process {
    let process = Process(
        command
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("start the listener"),
    );
    poll("the listener to listen", || {
        std::net::TcpStream::connect(("127.0.0.1", port)).ok()
    });
    process
}

fn fixture_args(name: &str, port: u16) -> Vec<String> {
    ["fixture", "--name", name, "--port", &port.to_string()]
        .map(String::from)
        .to_vec()
}

/// A snapshot of a directory: every entry with its mode, owner and content.
fn inventory(dir: &Path) -> Vec<(String, u32, u32, Vec<u8>)> {
    let mut found: Vec<_> = fs::read_dir(dir)
        .expect("read dir")
        .flatten()
        .map(|entry| {
            let meta = fs::symlink_metadata(entry.path()).expect("stat");
            let content = if meta.is_file() {
                fs::read(entry.path()).expect("read")
            } else {
                Vec::new()
            };
            (
                entry.file_name().to_string_lossy().into_owned(),
                meta.mode(),
                meta.uid(),
                content,
            )
        })
        .collect();
    found.sort();
    let meta = fs::metadata(dir).expect("stat");
    found.push((".".into(), meta.mode(), meta.uid(), Vec::new()));
    found
}

/// Files of `user` that a planted link or directory could be aimed at.
fn victims_files(user: &TestUser) -> (tempfile::TempDir, PathBuf) {
    let parent = tempfile::tempdir().expect("temp dir");
    fs::set_permissions(parent.path(), fs::Permissions::from_mode(0o755)).expect("chmod");
    let files = parent.path().join("files");
    fs::create_dir(&files).expect("mkdir");
    fs::set_permissions(&files, fs::Permissions::from_mode(0o755)).expect("chmod");
    fs::write(files.join("thesis.tex"), "four years of work").expect("write");
    fs::create_dir(files.join("1")).expect("mkdir");
    for path in [files.clone(), files.join("thesis.tex"), files.join("1")] {
        user.give(&path);
    }
    (parent, files)
}

const ONE_SERVICE: &str = r#"
[services.web]
command = "${bringup} fixture --name web --port ${port}"
port = "auto"
"#;

// ----- item 2: the runtime directory ------------------------------------------

/// Mallory's link, where the victim's bringup would make its runtime
/// directory in /tmp, aimed at the victim's files.
struct LinkAttack {
    _parent: tempfile::TempDir,
    files: PathBuf,
    before: Vec<(String, u32, u32, Vec<u8>)>,
    link: Planted,
}

impl LinkAttack {
    fn plant(victim: &TestUser, mallory: &TestUser) -> Self {
        let (parent, files) = victims_files(victim);
        let before = inventory(&files);
        let link = Planted(std::env::temp_dir().join(format!("bringup-{}", victim.uid)));
        let made = mallory.run(
            "ln",
            &[
                "-s",
                &files.display().to_string(),
                &link.0.display().to_string(),
            ],
            Path::new("/"),
        );
        assert!(made.status.success(), "{made:?}");
        Self {
            _parent: parent,
            files,
            before,
            link,
        }
    }

    /// The victim's files and the link are as they were.
    fn assert_untouched(&self) {
        assert_eq!(
            inventory(&self.files),
            self.before,
            "the victim's files are untouched"
        );
        assert!(fs::symlink_metadata(&self.link.0).is_ok_and(|m| m.file_type().is_symlink()));
    }
}

#[test]
fn a_symlink_planted_for_the_runtime_directory_is_refused_and_its_target_left_alone() {
    if !root("symlink attack") {
        return;
    }
    // The victim has no home, so /tmp is its last resort.
    let victim = TestUser::new(false);
    let mallory = TestUser::new(false);
    let attack = LinkAttack::plant(&victim, &mallory);

    let config = shared_config(ONE_SERVICE);
    let out = victim.bringup(&["up", "--no-tui", "-c", "bringup.toml"], config.path());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success(), "bringup must refuse: {stderr}");
    assert!(
        stderr.contains(&format!("{} is a symbolic link", attack.link.0.display()))
            && stderr.contains("bringup will not use it")
            && stderr.contains("XDG_RUNTIME_DIR"),
        "{stderr}"
    );
    attack.assert_untouched();
}

#[test]
fn with_a_private_place_a_planted_symlink_in_tmp_does_not_matter() {
    if !root("symlink attack, with a home") {
        return;
    }
    let victim = TestUser::new(true);
    let mallory = TestUser::new(false);
    let attack = LinkAttack::plant(&victim, &mallory);

    let config = shared_config(ONE_SERVICE);
    let mut run = victim.start(&["up", "--no-tui", "-c", "bringup.toml"], config.path());
    run.wait_for("every required service is ready");
    // Its runtime directory is in its own cache directory, private.
    let home = victim.home.clone().expect("a home");
    let base = home.join(".cache/bringup");
    let meta = fs::symlink_metadata(&base).expect("the runtime directory");
    assert!(meta.is_dir() && meta.uid() == victim.uid && meta.mode() & 0o777 == 0o700);
    assert_eq!(run.stop(), Some(0), "{}", run.stdout());
    attack.assert_untouched();
}

#[test]
fn a_runtime_directory_another_user_made_first_is_refused() {
    if !root("pre-created directory") {
        return;
    }
    let victim = TestUser::new(false);
    let mallory = TestUser::new(false);
    let planted = std::env::temp_dir().join(format!("bringup-{}", victim.uid));
    let _cleanup = Planted(planted.clone());
    let made = mallory.run(
        "mkdir",
        &["-m", "777", &planted.display().to_string()],
        Path::new("/"),
    );
    assert!(made.status.success(), "{made:?}");
    let before = inventory(&planted);

    let config = shared_config(ONE_SERVICE);
    let out = victim.bringup(&["up", "--no-tui", "-c", "bringup.toml"], config.path());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success(), "{stderr}");
    assert!(
        stderr.contains(&format!(
            "{} belongs to {}, not to you",
            planted.display(),
            mallory.name
        )) && stderr.contains("bringup will not use it"),
        "{stderr}"
    );
    assert_eq!(
        inventory(&planted),
        before,
        "nothing was made or changed in it"
    );
}

/// A script that runs bringup with `XDG_RUNTIME_DIR` set to `runtime`.
fn with_runtime_dir(runtime: &Path, dir: &Path) -> PathBuf {
    let script = dir.join("bringup-in-runtime");
    fs::write(
        &script,
        format!(
            "#!/bin/sh\nXDG_RUNTIME_DIR='{}' exec '{BIN}' \"$@\"\n",
            runtime.display()
        ),
    )
    .expect("write script");
    fs::set_permissions(&script, fs::Permissions::from_mode(0o755)).expect("chmod");
    script
}

#[test]
fn run_directories_of_killed_bringups_are_swept_and_links_not_followed() {
    let runtime = tempfile::tempdir().expect("temp dir");
    let scripts = tempfile::tempdir().expect("temp dir");
    let bin = with_runtime_dir(runtime.path(), scripts.path());
    let base = runtime.path().join("bringup");

    // A bringup killed with SIGKILL leaves its directory behind.
    let mut killed = Stack::start_with(&bin, ONE_SERVICE, &["up", "--no-tui"]);
    killed.wait_for("every required service is ready");
    let left = base.join(killed.pid().to_string());
    assert!(left.is_dir());
    killed.signal(Signal::SIGKILL);
    killed.wait_exit();
    killed.assert_no_survivors();
    assert!(left.is_dir(), "SIGKILL leaves it");

    // A link with a pid's name, aimed at files that are not bringup's.
    let victim = tempfile::tempdir().expect("temp dir");
    fs::write(victim.path().join("keep"), "mine").expect("write");
    let mut gone = Command::new("true").spawn().expect("true");
    let dead_pid = gone.id();
    gone.wait().expect("wait");
    let link = base.join(dead_pid.to_string());
    std::os::unix::fs::symlink(victim.path(), &link).expect("symlink");

    let mut next = Stack::start_with(&bin, ONE_SERVICE, &["up", "--no-tui"]);
    next.wait_for("every required service is ready");
    assert!(!left.exists(), "the dead bringup's directory was swept");
    assert!(base.join(next.pid().to_string()).is_dir());
    assert!(fs::symlink_metadata(&link).is_ok(), "links are left alone");
    assert_eq!(
        fs::read_to_string(victim.path().join("keep"))
            .ok()
            .as_deref(),
        Some("mine")
    );
    next.stop_expecting(0);
    assert!(
        !base.join(next.pid().to_string()).exists(),
        "a bringup removes its own directory"
    );
}

// ----- item 6: escape sequences from port holders -----------------------------

#[test]
fn escape_sequences_in_a_holders_command_line_never_reach_the_terminal() {
    let name = format!("evil{HOSTILE}");
    let dir = tempfile::tempdir().expect("temp dir");
    // One of our own processes…
    let ours_port = free_port();
    let mut command = Command::new(BIN);
    command.args(fixture_args(&name, ours_port));
    let _ours = listening(command, ours_port);
    let mut ports = vec![ours_port];
    // …and another user's.
    let other = root("hostile listener of another user").then(|| TestUser::new(false));
    let _theirs = other.as_ref().map(|user| {
        let port = free_port();
        ports.push(port);
        let args = fixture_args(&name, port);
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        listening(user.command(BIN, &args, Path::new("/")), port)
    });

    for &port in &ports {
        let port_text = port.to_string();
        let config = format!(
            "[services.api]\ncommand = \"{}\"\nport = {port}\n",
            support::fixture("api", "--port ${port}")
        );
        fs::write(dir.path().join("bringup.toml"), &config).expect("write");
        let runs: Vec<(&str, Vec<&str>)> = vec![
            ("ports who", vec!["ports", "who", &port_text]),
            ("ports check", vec!["ports", "check", &port_text]),
            ("ports", vec!["ports", "-c", "bringup.toml"]),
            ("check", vec!["check", "-c", "bringup.toml"]),
        ];
        for (what, args) in runs {
            let (_, out, err) = support::run(&args, dir.path());
            assert_inert(what, out.as_bytes());
            assert_inert(what, err.as_bytes());
        }
        // `ports kill`, answering no at the prompt that names the holder.
        let mut kill = Command::new(BIN)
            .args(["ports", "kill", &port_text])
            .current_dir(dir.path())
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("ports kill");
        if let Some(mut stdin) = kill.stdin.take() {
            use std::io::Write;
            let _ = stdin.write_all(b"n\n");
        }
        let killed = kill.wait_with_output().expect("output");
        let said = String::from_utf8_lossy(&killed.stderr);
        assert!(said.contains("evil"), "the holder is named: {said}");
        assert_inert("ports kill", &killed.stdout);
        assert_inert("ports kill", &killed.stderr);
        // The conflict at start names the holder, inertly.
        let mut stack = Stack::up(&config);
        stack.wait_for("could not start");
        assert_inert("up --no-tui", stack.stdout().as_bytes());
        stack.stop();
        // JSON stays exact: serde escapes the control characters.
        let (_, json, _) = support::run(&["ports", "who", &port_text, "--json"], dir.path());
        assert_no_controls("ports who --json", json.as_bytes());
        let parsed: serde_json::Value = serde_json::from_str(&json).expect("JSON");
        let command = parsed["holders"][0]["command"].as_str().unwrap_or_default();
        assert!(command.contains(HOSTILE), "{json}");
    }
}

#[test]
fn the_dashboard_shows_a_hostile_holder_and_notice_inertly() {
    use bringup::api::{Event, EventKind};
    let plan = support::config::demo();
    let machine = bringup::engine::machine::Machine::with_selection(
        plan.clone(),
        1,
        vec![true; plan.services.len()],
    );
    let mut app = bringup::tui::app::App::new(
        std::sync::Arc::new(bringup::engine::info::stack_info(&plan)),
        machine.snapshot(),
        bringup::logs::LogHub::new(plan.services.len(), 100),
        bringup::tui::theme::Theme::load(None).expect("theme"),
        bringup::keys::Keymap::default(),
    );
    let holder = bringup::ports::Holder {
        address: "127.0.0.1:8000".into(),
        uid: 1000,
        user: format!("ada{HOSTILE}"),
        euid: Some(1000),
        socket_uid: 1000,
        pid: Some(4242),
        command: Some(format!("python3 -m http.server {HOSTILE}")),
        running_for: None,
        started: None,
    };
    let service = plan.find("api").expect("api");
    let draw = |app: &mut bringup::tui::app::App| {
        app.size = (100, 30);
        let mut terminal =
            ratatui::Terminal::new(ratatui::backend::TestBackend::new(100, 30)).expect("terminal");
        terminal
            .draw(|frame| bringup::tui::view::draw(frame, app))
            .expect("draw");
        let buffer = terminal.backend().buffer().clone();
        buffer
            .content()
            .iter()
            .map(|cell| cell.symbol().to_string())
            .collect::<String>()
    };
    app.on_event(&Event {
        at: Duration::from_millis(10),
        kind: EventKind::Notice {
            service: None,
            name: None,
            notice: bringup::api::Notice::NotifyRejected {
                why: format!("a notice {HOSTILE}"),
            },
        },
    });
    let screen = draw(&mut app);
    assert!(screen.contains("a notice"), "{screen}");
    assert_inert("the status line", screen.as_bytes());
    app.on_event(&Event {
        at: Duration::from_millis(20),
        kind: EventKind::PortConflict {
            service,
            name: "api".into(),
            port: Some(8000),
            holders: vec![holder],
            message: format!("held {HOSTILE}"),
            ahead: true,
        },
    });
    let screen = draw(&mut app);
    assert!(screen.contains("python3 -m http.server"), "{screen}");
    assert_inert("the conflict popup", screen.as_bytes());
}

// ----- item 8a: one port, two users -------------------------------------------

/// A port nothing listens on and no bringup has handed out.
fn unclaimed_port() -> u16 {
    loop {
        let port = free_port();
        if !bringup::ports::lock::claimed().contains(&port) {
            return port;
        }
    }
}

#[test]
fn a_port_handed_out_to_one_user_is_never_handed_to_another() {
    if !root("two users, one port") {
        return;
    }
    let port = unclaimed_port();
    // Root's api is handed the only port of the range, but does not bind
    // it yet: it waits for a slow dependency.
    let first = Stack::up(&format!(
        r#"
[project]
name = "shared"
port_range = "{port}-{port}"

[services.slow]
command = "{}"
readiness = {{ exec = "false" }}

[services.api]
command = "{}"
port = "auto"
depends_on = ["slow"]
"#,
        support::fixture("slow", "--idle"),
        support::fixture("api", "--port ${port}"),
    ));
    first.wait_for(&format!("api: port {port}"));
    assert!(
        bringup::ports::free::check(std::net::Ipv4Addr::LOCALHOST.into(), port).is_ok(),
        "nothing has bound it yet"
    );
    // Another user's bringup asks for a port from the same range.
    let bob = TestUser::new(false);
    let config = shared_config(&format!(
        r#"
[project]
name = "shared"
port_range = "{port}-{port}"

[services.api]
command = "${{bringup}} fixture --name bobs-api --port ${{port}}"
port = "auto"
"#
    ));
    let mut run = bob.start(&["up", "--no-tui", "-c", "bringup.toml"], config.path());
    run.wait_for("could not start");
    let out = run.stdout();
    assert!(
        out.contains(&format!("no free port in {port}-{port}"))
            && out.contains("handed out by another bringup on this machine"),
        "{out}"
    );
    assert!(!out.contains(&format!("api: port {port}")), "{out}");
    let check = bob.bringup(&["ports", "check", &port.to_string()], config.path());
    assert_eq!(check.status.code(), Some(1));
    assert!(
        String::from_utf8_lossy(&check.stdout).contains("handed out by another user's bringup"),
        "{check:?}"
    );
    run.stop();
    let mut first = first;
    first.stop();
}

// ----- item 8b: who answers the readiness check --------------------------------

fn waiting_service(port: u16, extra: &str) -> String {
    format!(
        r#"
[services.api]
command = "{}"
port = {port}
readiness = {{ tcp = true }}
ready_timeout = "60s"
{extra}
"#,
        support::fixture("api", "--idle"),
    )
}

#[test]
fn a_stranger_answering_on_the_services_port_is_a_conflict_not_readiness() {
    let port = unclaimed_port();
    let mut stack = Stack::up(&waiting_service(port, ""));
    stack.wait_for("api: starting (pid");
    // Another process of the same user takes the port the service was given.
    let stranger = std::net::TcpListener::bind(("127.0.0.1", port)).expect("bind");
    stack.wait_for(&format!(
        "not ready yet: port {port} is answered by pid {}",
        std::process::id()
    ));
    let line = stack.line("is answered by");
    assert!(
        line.contains("not by api's own processes") && line.contains("check_port_owner = false"),
        "{line}"
    );
    assert!(!stack.stdout().contains("api: ready"), "{}", stack.stdout());
    drop(stranger);
    stack.stop();
}

#[test]
fn check_port_owner_false_lets_another_process_answer() {
    let port = unclaimed_port();
    let mut stack = Stack::up(&waiting_service(port, "check_port_owner = false"));
    stack.wait_for("api: starting (pid");
    let proxy = std::net::TcpListener::bind(("127.0.0.1", port)).expect("bind");
    stack.wait_for("every required service is ready");
    drop(proxy);
    stack.stop();
}

#[test]
fn a_listener_in_a_child_of_the_service_is_the_service() {
    // `sh -c` stays the service's process; the fixture listening is its child.
    let port = unclaimed_port();
    let mut stack = Stack::up(&format!(
        r#"
[services.api]
command = "{} ; exit 3"
port = {port}
"#,
        support::fixture("api", "--port ${port}")
    ));
    stack.wait_for("every required service is ready");
    stack.stop();
}

#[test]
fn another_users_listener_is_a_stranger_too_and_unseen_ones_are_said_to_be() {
    if !root("another user's listener") {
        return;
    }
    let port = unclaimed_port();
    let eve = TestUser::new(false);
    // Root's bringup sees eve's listener and names it.
    let mut stack = Stack::up(&waiting_service(port, ""));
    stack.wait_for("api: starting (pid");
    let args = fixture_args("eves", port);
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let eves = listening(eve.command(BIN, &args, Path::new("/")), port);
    stack.wait_for(&format!("not ready yet: port {port} is answered by pid"));
    assert!(
        stack
            .line("is answered by")
            .contains(&format!("(user {}", eve.name)),
        "{}",
        stack.stdout()
    );
    stack.stop();
    drop(eves);

    // Eve's bringup cannot look into root's listener: it says so.
    let port = unclaimed_port();
    let config = shared_config(&waiting_service(port, ""));
    let run = eve.start(&["up", "--no-tui", "-c", "bringup.toml"], config.path());
    run.wait_for("api: starting (pid");
    let roots = std::net::TcpListener::bind(("127.0.0.1", port)).expect("bind");
    run.wait_for("a process of user root (uid 0) that cannot be inspected");
    assert!(!run.stdout().contains("api: ready"), "{}", run.stdout());
    drop(roots);
}

// ----- item 10: judged by the process's users ----------------------------------

#[test]
fn ports_kill_judges_by_the_processes_user_not_the_sockets() {
    if !root("bind as root, then switch user") {
        return;
    }
    let user = TestUser::new(false);
    let port = free_port();
    // Binds as root, then becomes `user` for good (the socket stays root's).
    let script = format!(
        "import os, socket, sys, time\n\
         s = socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)\n\
         s.bind(('127.0.0.1', {port})); s.listen()\n\
         os.setgroups([]); os.setgid({gid}); os.setuid({uid})\n\
         time.sleep(120)\n",
        gid = user.gid,
        uid = user.uid
    );
    let mut command = Command::new("/usr/bin/python3");
    command.args(["-c", &script]);
    let mut server = listening(command, port);
    let dir = tempfile::tempdir().expect("temp dir");
    let (status, out, _) = support::run(&["ports", "who", &port.to_string()], dir.path());
    assert_eq!(status.code(), Some(0));
    assert!(out.contains(&format!("user     {}", user.name)), "{out}");
    let (status, _, err) = support::run(&["ports", "kill", &port.to_string(), "--yes"], dir.path());
    assert_eq!(status.code(), Some(1), "{err}");
    assert!(
        err.contains(&format!(
            "it belongs to user {}; bringup stops only your own processes",
            user.name
        )),
        "{err}"
    );
    assert!(server.alive(), "left running");
}

// ----- item 12: who may say READY=1 --------------------------------------------

/// The `NOTIFY_SOCKET` in the environment of a service's process.
fn notify_socket_of(pid: u32) -> PathBuf {
    let environ = fs::read(format!("/proc/{pid}/environ")).expect("environ");
    environ
        .split(|&b| b == 0)
        .find_map(|var| var.strip_prefix(b"NOTIFY_SOCKET="))
        .map(|path| PathBuf::from(String::from_utf8_lossy(path).into_owned()))
        .expect("NOTIFY_SOCKET")
}

#[test]
fn ready_from_outside_the_service_is_ignored_and_from_its_child_believed() {
    let go = tempfile::tempdir().expect("temp dir");
    let go_file = go.path().join("go");
    // The service's child waits for the cue, then says READY=1 and stays.
    let sender = "import os, socket, time\n\
                  s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)\n\
                  s.sendto(b'READY=1', os.environ['NOTIFY_SOCKET'])\n\
                  time.sleep(120)";
    let config = format!(
        r#"
[services.api]
command = "while [ ! -e '{go}' ]; do sleep 0.01; done; /usr/bin/python3 -c \"{sender}\"; exit 1"
readiness = {{ notify = true }}
ready_timeout = "60s"
"#,
        go = go_file.display(),
        sender = sender.replace('\n', "\\n"),
    );
    let mut stack = Stack::up(&config);
    stack.wait_for("api: starting (pid");
    let line = stack.line("api: starting (pid");
    let pid: u32 = line
        .split("(pid ")
        .nth(1)
        .and_then(|rest| rest.split(|c: char| !c.is_ascii_digit()).next())
        .and_then(|p| p.parse().ok())
        .expect("the service's pid");
    // This test process is not the service's: its READY=1 is not believed.
    let client = std::os::unix::net::UnixDatagram::unbound().expect("socket");
    client
        .send_to(b"READY=1", notify_socket_of(pid))
        .expect("send");
    stack.wait_for(&format!(
        "api: ignored \"READY=1\" on its NOTIFY_SOCKET: pid {}",
        std::process::id()
    ));
    assert!(!stack.stdout().contains("api: ready"), "{}", stack.stdout());
    // The service's own child is.
    fs::write(&go_file, "").expect("cue");
    stack.wait_for("every required service is ready");
    stack.stop();
}

#[test]
fn check_port_owner_needs_a_port_and_shows_in_the_plan() {
    let dir = tempfile::tempdir().expect("temp dir");
    let write = |text: &str| fs::write(dir.path().join("bringup.toml"), text).expect("write");
    write("[services.api]\ncommand = \"server\"\ncheck_port_owner = false\n");
    let (status, _, err) = support::run(&["check"], dir.path());
    assert_eq!(status.code(), Some(2), "{err}");
    assert!(
        err.contains("`services.api.check_port_owner`: `check_port_owner` needs a `port`"),
        "{err}"
    );
    write("[services.api]\ncommand = \"server\"\nport = 8000\ncheck_port_owner = false\n");
    let (status, out, err) = support::run(&["check"], dir.path());
    assert_eq!(status.code(), Some(0), "{err}");
    assert!(out.contains("port 8000 (any listener)"), "{out}");
}

#[test]
fn a_config_error_quoting_raw_escape_sequences_prints_them_inertly() {
    // TOML forbids raw control characters: the error quotes the very line.
    let dir = tempfile::tempdir().expect("temp dir");
    fs::write(
        dir.path().join("bringup.toml"),
        format!("[services.api]\ncommand = \"server {HOSTILE}\"\n"),
    )
    .expect("write");
    let (status, out, err) = support::run(&["check"], dir.path());
    assert_eq!(status.code(), Some(2), "{err}");
    assert!(err.contains("bringup.toml"), "{err}");
    assert_no_controls("check", out.as_bytes());
    assert_no_controls("check", err.as_bytes());
}

// ----- issue 10: the control socket ---------------------------------------------

/// A stack's control socket answers its own user only: root gets through
/// the 0700 directory (file modes do not stop it) but not the peer
/// credential check, and another user cannot even reach the socket. The
/// stack does not notice either.
#[test]
fn only_the_stacks_own_user_may_use_its_control_socket_not_even_root() {
    if !root("control socket: another user connects") {
        return;
    }
    let owner = TestUser::new(true);
    let config = shared_config(ONE_SERVICE);
    let mut run = owner.start(&["up", "--no-tui", "-c", "bringup.toml"], config.path());
    run.wait_for("cold start done");
    let pid = run.bringup_pid().expect("bringup runs");
    let listed = owner.bringup(&["ls", "--json"], config.path());
    let records: Vec<serde_json::Value> =
        serde_json::from_slice(&listed.stdout).expect("ls --json is JSON");
    let socket = records
        .iter()
        .find(|r| r["pid"].as_i64() == Some(i64::from(pid)))
        .and_then(|r| r["socket"].as_str())
        .map(PathBuf::from)
        .unwrap_or_else(|| panic!("the owner's ls lists the stack: {records:?}"));

    // Root reaches the socket and is hung up on without a byte.
    use std::io::{Read, Write};
    let mut stream =
        std::os::unix::net::UnixStream::connect(&socket).expect("root reaches the socket");
    stream
        .set_read_timeout(Some(Duration::from_secs(5)))
        .expect("timeout");
    let _ = stream.write_all(b"GET /v1/snapshot HTTP/1.1\r\nHost: bringup\r\n\r\n");
    let mut answer = Vec::new();
    let _ = stream.read_to_end(&mut answer);
    assert!(
        answer.is_empty(),
        "root got an answer: {}",
        String::from_utf8_lossy(&answer)
    );

    // Another user cannot reach it at all.
    let eve = TestUser::new(false);
    let script = format!(
        "import socket\ns = socket.socket(socket.AF_UNIX)\ntry:\n    s.connect({:?})\n    print('connected')\nexcept OSError as e:\n    print('refused', e.errno)\n",
        socket.display().to_string()
    );
    let out = eve.run("/usr/bin/python3", &["-c", &script], Path::new("/"));
    let said = String::from_utf8_lossy(&out.stdout);
    assert!(said.starts_with("refused"), "{said}");

    // The owner's verbs still work, and the stack is undisturbed.
    let status = owner.bringup(&["status", "-c", "bringup.toml"], config.path());
    let text = String::from_utf8_lossy(&status.stdout);
    assert!(status.status.success(), "{text}");
    assert!(
        text.lines()
            .any(|l| l.starts_with("web") && l.contains("ready")),
        "{text}"
    );
    assert_eq!(run.stop(), Some(0));
}
