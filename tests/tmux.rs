//! The dashboard end to end, in a real terminal: tmux runs `bringup up`,
//! the test reads the screen (`capture-pane`) and types (`send-keys`), and
//! checks what really happened to the processes.
//!
//! Each test has its own tmux server (`-L` socket), killed when the test
//! ends however it ends, and its own marker to find every process of its
//! run. tmux must be installed (`.ci/run` installs it).

// A test fails by panicking; `expect` says why.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod support;

use std::process::Command;
use std::time::Instant;

use support::{BIN, DEADLINE, POLL, processes_with_marker, unique_marker};

/// A tmux server with one session running bringup.
struct Tmux {
    socket: String,
    marker: String,
    _dir: tempfile::TempDir,
}

impl Tmux {
    fn start(config: &str, width: u16, height: u16) -> Self {
        Self::start_with_env(config, width, height, "")
    }

    /// As [`Tmux::start`], with extra `VAR=value` words for bringup's env.
    fn start_with_env(config: &str, width: u16, height: u16, env: &str) -> Self {
        let dir = tempfile::tempdir().expect("temp dir");
        std::fs::write(dir.path().join("bringup.toml"), config).expect("config");
        let marker = unique_marker();
        let socket = format!("bringup-{marker}");
        // bringup's exit status stays on screen; the shell then waits so the
        // pane (and the status) stay readable.
        let script = format!(
            "cd '{}' && env BRINGUP_TEST_MARKER={marker} XDG_STATE_HOME='{}' {env} '{BIN}' up -c bringup.toml; echo BRINGUP-EXITED $?; sleep 600",
            dir.path().display(),
            dir.path().join("state").display()
        );
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
            _dir: dir,
        }
    }

    fn tmux(&self, args: &[&str]) -> std::process::Output {
        Command::new("tmux")
            .arg("-L")
            .arg(&self.socket)
            .args(args)
            .output()
            .expect("tmux")
    }

    fn screen(&self) -> String {
        String::from_utf8_lossy(&self.tmux(&["capture-pane", "-p", "-t", "main"]).stdout)
            .into_owned()
    }

    /// Keys by tmux name ("Enter", "Escape", "r").
    fn keys(&self, keys: &[&str]) {
        let mut args = vec!["send-keys", "-t", "main"];
        args.extend_from_slice(keys);
        self.tmux(&args);
    }

    /// Text typed as is.
    fn type_text(&self, text: &str) {
        self.tmux(&["send-keys", "-t", "main", "-l", text]);
    }

    /// Waits until the screen satisfies `check`; returns that screen.
    fn wait(&self, what: &str, check: impl Fn(&str) -> bool) -> String {
        let deadline = Instant::now() + DEADLINE;
        loop {
            let screen = self.screen();
            if check(&screen) {
                return screen;
            }
            assert!(
                Instant::now() < deadline,
                "timed out waiting for {what}; the screen:\n{screen}"
            );
            std::thread::sleep(POLL * 5);
        }
    }

    /// Polls `f` until it gives a value; on timeout the panic shows the screen.
    fn poll<T>(&self, what: &str, mut f: impl FnMut() -> Option<T>) -> T {
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

    /// The grid row of `service`.
    fn row(screen: &str, service: &str) -> Option<String> {
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
    fn select(&self, service: &str) {
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

    /// The pid of the fixture called `name`, from /proc.
    fn pid_of(&self, name: &str) -> Option<i32> {
        processes_with_marker(&self.marker).into_iter().find(|pid| {
            std::fs::read_to_string(format!("/proc/{pid}/cmdline"))
                .unwrap_or_default()
                .split('\0')
                .collect::<Vec<_>>()
                .windows(2)
                .any(|w| w[0] == "--name" && w[1] == name)
        })
    }

    fn survivors(&self) -> Vec<i32> {
        processes_with_marker(&self.marker)
    }
}

impl Drop for Tmux {
    fn drop(&mut self) {
        self.tmux(&["kill-server"]);
        support::kill_marked(&self.marker);
    }
}

fn config() -> String {
    let fixture = |name: &str, extra: &str| {
        format!("${{bringup}} fixture --name {name} --log-every 1s {extra}")
    };
    format!(
        r#"
[project]
name = "e2e"
[services.db]
command = "{}"
port = "auto"
[services.cache]
command = "{}"
port = "auto"
optional = true
[services.api]
command = "{}"
port = "auto"
depends_on = {{ db = "required", cache = "optional" }}
readiness = {{ http = "/health/ready" }}
[services.worker]
command = "{}"
depends_on = ["api"]
readiness = {{ log = "worker up" }}
"#,
        fixture("db", "--port ${port} --grandchild"),
        fixture("cache", "--port ${port}"),
        fixture("api", "--port ${port} --ready-after 200ms"),
        fixture("worker", "--ready-line 'worker up' --grandchild"),
    )
}

#[test]
fn restart_skip_kill_and_quit_from_the_keyboard() {
    let tmux = Tmux::start(&config(), 120, 34);
    tmux.wait("the cold start to finish", |s| s.contains("up in"));

    // r: restart api, and see its new pid on screen.
    let before = tmux.pid_of("api").expect("api runs");
    tmux.select("api");
    tmux.keys(&["r"]);
    let after = tmux.poll("api to run again", || {
        tmux.pid_of("api").filter(|pid| *pid != before)
    });
    tmux.wait("the new pid in api's row", |s| {
        Tmux::row(s, "api")
            .is_some_and(|row| row.contains(&after.to_string()) && row.contains("ready"))
    });

    // s: skip the optional cache; api runs on, degraded.
    tmux.select("cache");
    tmux.keys(&["s"]);
    tmux.wait("cache skipped and api degraded", |s| {
        Tmux::row(s, "cache").is_some_and(|row| row.contains("skipped"))
            && Tmux::row(s, "api").is_some_and(|row| row.contains("degraded: without cache"))
    });
    assert!(
        tmux.pid_of("cache").is_none(),
        "a skipped service is stopped"
    );

    // x, y: kill the worker (asked first).
    let worker = tmux.pid_of("worker").expect("worker runs");
    tmux.select("worker");
    tmux.keys(&["x"]);
    tmux.wait("the kill confirmation", |s| s.contains("Kill worker"));
    tmux.keys(&["y"]);
    tmux.wait("worker stopped", |s| {
        Tmux::row(s, "worker").is_some_and(|row| row.contains("stopped"))
    });
    assert!(
        !std::path::Path::new(&format!("/proc/{worker}/cmdline")).exists()
            || tmux.pid_of("worker").is_none()
    );

    // q: everything stops, the terminal is given back, nothing survives.
    tmux.keys(&["q"]);
    let screen = tmux.wait("bringup to exit", |s| s.contains("BRINGUP-EXITED"));
    assert!(
        screen.contains("bringup: every service has stopped"),
        "{screen}"
    );
    assert!(
        !screen.contains("SERVICE"),
        "the dashboard's screen is gone: {screen}"
    );
    tmux.poll("every process of the run to be gone", || {
        tmux.survivors().is_empty().then_some(())
    });
}

#[test]
fn closing_the_pane_stops_everything() {
    let tmux = Tmux::start(&config(), 100, 30);
    tmux.wait("the cold start to finish", |s| s.contains("up in"));
    assert!(
        tmux.survivors().len() >= 6,
        "services and grandchildren run"
    );
    // The pane closes: bringup gets SIGHUP, with no terminal left to draw on.
    tmux.tmux(&["kill-server"]);
    tmux.poll("every process of the run to be gone", || {
        tmux.survivors().is_empty().then_some(())
    });
}

#[test]
fn it_survives_shrinking_to_a_tiny_pane() {
    let tmux = Tmux::start(&config(), 100, 30);
    tmux.wait("the cold start to finish", |s| s.contains("up in"));
    for (width, height) in [("40", "12"), ("20", "5"), ("12", "3"), ("100", "30")] {
        tmux.tmux(&["resize-window", "-t", "main", "-x", width, "-y", height]);
        // Still drawing and still answering: the header shows again.
        tmux.keys(&["t"]);
        tmux.wait("a redraw after the resize", |s| {
            !s.trim().is_empty() && !s.contains("BRINGUP-EXITED")
        });
    }
    tmux.wait("the full dashboard again", |s| {
        s.contains("e2e") && s.contains("SERVICE")
    });
    tmux.keys(&["q"]);
    tmux.wait("bringup to exit", |s| s.contains("BRINGUP-EXITED 0"));
}

/// The terminal is in its normal state: the alternate screen is gone (the
/// shell's line is visible) and the keyboard echoes again (raw mode is off).
fn assert_terminal_restored(tmux: &Tmux) {
    tmux.type_text("echo typed-after");
    tmux.keys(&["Enter"]);
    let screen = tmux.wait("the shell to echo what is typed", |s| {
        s.contains("typed-after")
    });
    assert!(
        !screen.contains("SERVICE"),
        "the dashboard's screen is gone: {screen}"
    );
}

#[test]
fn sigterm_restores_the_terminal_and_stops_everything() {
    let tmux = Tmux::start(&config(), 100, 30);
    tmux.wait("the cold start to finish", |s| s.contains("up in"));
    let bringup = processes_with_marker(&tmux.marker)
        .into_iter()
        .find(|pid| {
            std::fs::read_to_string(format!("/proc/{pid}/cmdline"))
                .unwrap_or_default()
                .contains("\0up\0")
        })
        .expect("bringup itself");
    let _ = nix::sys::signal::kill(
        nix::unistd::Pid::from_raw(bringup),
        nix::sys::signal::Signal::SIGTERM,
    );
    let screen = tmux.wait("bringup to exit", |s| s.contains("BRINGUP-EXITED"));
    assert!(screen.contains("BRINGUP-EXITED 0"), "{screen}");
    assert_terminal_restored(&tmux);
    tmux.poll("every process of the run to be gone", || {
        tmux.survivors().is_empty().then_some(())
    });
}

#[test]
fn a_panic_restores_the_terminal_and_leaves_nothing_behind() {
    let tmux = Tmux::start_with_env(&config(), 100, 30, "BRINGUP_TEST_PANIC=1 RUST_BACKTRACE=0");
    let screen = tmux.wait("bringup to panic", |s| s.contains("BRINGUP-EXITED"));
    assert!(
        screen.contains("panicking on purpose"),
        "the message is readable: {screen}"
    );
    assert!(screen.contains("BRINGUP-EXITED 101"), "{screen}");
    assert_terminal_restored(&tmux);
    // The engine thread dies with the process: its children get their
    // parent-death signal and the watchdog ends the rest.
    tmux.poll("every process of the run to be gone", || {
        tmux.survivors().is_empty().then_some(())
    });
}

/// The pid of bringup itself (the process running `bringup up`).
fn bringup_pid(tmux: &Tmux) -> Option<i32> {
    processes_with_marker(&tmux.marker).into_iter().find(|pid| {
        std::fs::read_to_string(format!("/proc/{pid}/cmdline"))
            .unwrap_or_default()
            .contains("\0up\0")
    })
}

/// A field of /proc/PID/status or /proc/PID/io, as a number.
fn proc_field(pid: i32, file: &str, field: &str) -> Option<u64> {
    std::fs::read_to_string(format!("/proc/{pid}/{file}"))
        .ok()?
        .lines()
        .find(|l| l.starts_with(field))?
        .split_whitespace()
        .nth(1)?
        .parse()
        .ok()
}

#[test]
fn hostile_output_and_a_million_lines_leave_the_dashboard_live() {
    // Escape sequences that would wreck a terminal if passed on — a window
    // title, a clear screen, a full reset, the alternate screen, a bell, a
    // sequence cut off — and a service printing 80-byte lines without end.
    let config = r#"
[project]
name = "hostile-stack"
[services.hostile]
command = ["sh", "-c", "printf 'title\\033]0;evil\\nclear\\033[2J\\033[Hscreen\\nreset\\033c-done\\nalt\\033[?1049h-done\\nbell\\007-done\\ncut\\033[31'; echo; echo 'hostile done'; exec sleep 600"]
[services.flood]
command = ["sh", "-c", "exec yes 'flood line ..................................................................'"]
"#;
    let tmux = Tmux::start(config, 100, 30);
    tmux.wait("the cold start to finish", |s| s.contains("up in"));
    let bringup = bringup_pid(&tmux).expect("bringup itself");

    // Keys keep working while the flood goes on: switch to the timeline and
    // back, and show the hostile service's log.
    let mut lines_read = 0;
    while lines_read < 1_000_000 {
        tmux.keys(&["t"]);
        tmux.wait("the timeline", |s| s.contains("cold start done"));
        tmux.keys(&["t"]);
        tmux.wait("the grid", |s| s.contains("SERVICE"));
        let bytes = proc_field(bringup, "io", "rchar:").expect("bringup's io");
        lines_read = bytes / 80;
    }
    tmux.select("hostile");
    let screen = tmux.wait("the hostile service's log", |s| s.contains("hostile done"));
    for text in [
        "title",
        "clearscreen",
        "reset-done",
        "alt-done",
        "bell-done",
        "cut",
    ] {
        assert!(
            screen.lines().any(|l| l.trim() == text),
            "{text:?} is shown as plain text:\n{screen}"
        );
    }
    assert!(
        screen
            .lines()
            .next()
            .is_some_and(|l| l.contains("hostile-stack")),
        "the header is still at the top:\n{screen}"
    );
    // Nothing on screen is flooding, yet the clocks go on: the flood does
    // not starve the dashboard's timer.
    let clock = |s: &str| {
        s.lines()
            .next()
            .and_then(|l| l.split("running").nth(1))
            .map(str::to_string)
    };
    // Twice: the first change may still be the redraw after the last key.
    let mut before = clock(&screen);
    for _ in 0..2 {
        let now = tmux.wait("the header's clock to move on", |s| clock(s) != before);
        before = clock(&now);
    }
    let title = tmux.tmux(&["display-message", "-p", "-t", "main", "#{pane_title}"]);
    assert!(
        !String::from_utf8_lossy(&title.stdout).contains("evil"),
        "the service did not set the window title"
    );

    let peak_kib = proc_field(bringup, "status", "VmHWM:").expect("bringup's memory");
    eprintln!("bringup read {lines_read} lines; peak resident size {peak_kib} KiB");
    assert!(peak_kib < 48 * 1024, "memory stays bounded: {peak_kib} KiB");

    tmux.keys(&["q"]);
    let screen = tmux.wait("bringup to exit", |s| s.contains("BRINGUP-EXITED"));
    assert!(screen.contains("BRINGUP-EXITED 0"), "{screen}");
    tmux.poll("every process of the run to be gone", || {
        tmux.survivors().is_empty().then_some(())
    });
}
