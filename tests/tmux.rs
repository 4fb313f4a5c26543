//! The dashboard end to end, in a real terminal: tmux runs `bringup up`,
//! the test reads the screen (`capture-pane`) and types (`send-keys`), and
//! checks what really happened to the processes.
//!
//! The rig is [`support::tmux::Tmux`]: each test has its own tmux server,
//! killed when the test ends however it ends, and its own marker to find
//! every process of its run. tmux must be installed (`.ci/run` installs it).

// A test fails by panicking; `expect` says why.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod support;

use support::tmux::Tmux;

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
    tmux.assert_no_survivors();
}

#[test]
fn closing_the_pane_stops_everything() {
    let dir = tempfile::tempdir().expect("temp dir");
    std::fs::write(dir.path().join("bringup.toml"), config()).expect("config");
    let command = format!("'{}' up -c bringup.toml 2>stderr.txt", support::BIN);
    let tmux = Tmux::run_in(dir.path(), &command, 100, 30);
    tmux.wait("the cold start to finish", |s| s.contains("up in"));
    assert!(
        tmux.survivors().len() >= 6,
        "services and grandchildren run"
    );
    // The pane closes: bringup gets SIGHUP, with no terminal left to draw on.
    tmux.tmux(&["kill-server"]);
    tmux.assert_no_survivors();
    // Its last words go nowhere, quietly: no panic for a vanished terminal.
    let stderr = std::fs::read_to_string(dir.path().join("stderr.txt")).unwrap_or_default();
    assert!(!stderr.contains("panicked"), "{stderr}");
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
    let bringup = tmux.bringup_pid().expect("bringup itself");
    let _ = nix::sys::signal::kill(
        nix::unistd::Pid::from_raw(bringup),
        nix::sys::signal::Signal::SIGTERM,
    );
    let screen = tmux.wait("bringup to exit", |s| s.contains("BRINGUP-EXITED"));
    assert!(screen.contains("BRINGUP-EXITED 0"), "{screen}");
    assert_terminal_restored(&tmux);
    tmux.assert_no_survivors();
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
    tmux.assert_no_survivors();
}

/// Bytes process `pid` has read so far (bringup: the services' output).
fn bytes_read(pid: i32) -> Option<u64> {
    Some(procfs::process::Process::new(pid).ok()?.io().ok()?.rchar)
}

/// The peak resident size of process `pid`, in KiB.
fn peak_kib(pid: i32) -> Option<u64> {
    procfs::process::Process::new(pid)
        .ok()?
        .status()
        .ok()?
        .vmhwm
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
    let bringup = tmux.bringup_pid().expect("bringup itself");

    // Keys keep working while the flood goes on: switch to the timeline and
    // back, and show the hostile service's log.
    let mut lines_read = 0;
    while lines_read < 1_000_000 {
        tmux.keys(&["t"]);
        tmux.wait("the timeline", |s| s.contains("cold start done"));
        tmux.keys(&["t"]);
        tmux.wait("the grid", |s| s.contains("SERVICE"));
        let bytes = bytes_read(bringup).expect("bringup's io");
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

    let peak_kib = peak_kib(bringup).expect("bringup's memory");
    eprintln!("bringup read {lines_read} lines; peak resident size {peak_kib} KiB");
    assert!(peak_kib < 48 * 1024, "memory stays bounded: {peak_kib} KiB");

    tmux.keys(&["q"]);
    let screen = tmux.wait("bringup to exit", |s| s.contains("BRINGUP-EXITED"));
    assert!(screen.contains("BRINGUP-EXITED 0"), "{screen}");
    tmux.assert_no_survivors();
}
