//! `bringup attach` end to end: a stack runs in the background (`up -d`)
//! or in the foreground (`up --no-tui`); dashboards attach to it in real
//! terminals (tmux), act on it, detach, get killed, and the stack is
//! checked from a third process (`bringup status --json`).
//!
//! Each stack is a [`Stack`] (its processes killed by marker when the test
//! ends, however it ends), each attached dashboard a [`Tmux`] of its own
//! (its server and the client killed the same way).

// A test fails by panicking; `expect` says why.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod support;

use nix::sys::signal::{Signal, kill};
use nix::unistd::Pid;
use serde_json::Value;
use support::stack::Stack;
use support::tmux::Tmux;
use support::{BIN, fixture, processes_with_marker};

/// db (ticking) ← api (http readiness), and an optional cache.
fn config() -> String {
    format!(
        r#"
[project]
name = "attached"
[services.db]
command = "{db}"
port = "auto"
readiness = {{ tcp = true }}
[services.api]
command = "{api}"
port = "auto"
depends_on = ["db"]
readiness = {{ http = "/health/ready" }}
[services.cache]
command = "{cache}"
optional = true
"#,
        db = fixture("db", "--port ${port} --log-every 200ms"),
        api = fixture("api", "--port ${port} --ready-after 100ms"),
        cache = fixture("cache", "--ready-after 50ms"),
    )
}

/// The stack of [`config`], in the background.
fn background() -> Stack {
    let mut stack = Stack::start(&config(), &["up", "-d"]);
    let status = stack.wait_exit();
    assert!(
        status.success(),
        "up -d: {}{}",
        stack.stdout(),
        stack.stderr()
    );
    stack
}

/// A dashboard attached to `stack`, in a terminal of its own.
fn attach(stack: &Stack) -> Tmux {
    let tmux = Tmux::run_in(
        stack.dir.path(),
        &format!("'{BIN}' attach -c bringup.toml"),
        110,
        30,
    );
    tmux.wait("the attached dashboard's grid", |s| {
        s.contains("up in") && Tmux::row(s, "api").is_some_and(|row| row.contains("ready"))
    });
    tmux
}

fn status(stack: &Stack) -> Value {
    let (code, out, err) = stack.ctl(&["status", "--json"]);
    assert!(code.success(), "status: {err}");
    serde_json::from_str(&out).expect("status --json is JSON")
}

/// (state, pid) of `name`, as the stack says.
fn service(stack: &Stack, name: &str) -> (String, Option<u64>) {
    let status = status(stack);
    let service = status["services"]
        .as_array()
        .expect("services")
        .iter()
        .find(|s| s["name"] == name)
        .unwrap_or_else(|| panic!("no {name} in {status}"))
        .clone();
    (
        service["state"].as_str().unwrap_or("?").to_string(),
        service["pid"].as_u64(),
    )
}

/// Stops the stack as a user would and checks nothing of it is left.
fn down(stack: &Stack) {
    let (code, out, err) = stack.ctl(&["down"]);
    assert!(code.success(), "down: {out}{err}");
    stack.assert_no_survivors();
}

#[test]
fn an_attached_dashboard_shows_the_stack_acts_on_it_and_q_leaves_it_running() {
    let stack = background();
    let tmux = attach(&stack);
    // The logs come along: db's ticks, from before the attach and new ones.
    tmux.select("db");
    tmux.wait("db's ticks in the log pane", |s| s.contains("db tick"));

    // r restarts api in the stack; the dashboard shows it back, ready.
    let (_, before) = service(&stack, "api");
    tmux.select("api");
    tmux.keys(&["r"]);
    let after = tmux.poll("api to run again", || match service(&stack, "api") {
        (state, Some(pid)) if state == "ready" && Some(pid) != before => Some(pid),
        _ => None,
    });
    tmux.wait("api's new pid on screen", |s| {
        Tmux::row(s, "api").is_some_and(|row| row.contains(&after.to_string()))
    });

    // q detaches: the terminal is given back with how to stop the stack,
    // and the stack runs on untouched.
    tmux.keys(&["q"]);
    let screen = tmux.wait("the client to exit", |s| s.contains("BRINGUP-EXITED"));
    assert!(screen.contains("BRINGUP-EXITED 0"), "{screen}");
    assert!(screen.contains("`bringup down` stops it"), "{screen}");
    assert!(
        !screen.contains("SERVICE"),
        "the dashboard is gone: {screen}"
    );
    assert_eq!(service(&stack, "api"), ("ready".to_string(), Some(after)));
    assert_eq!(service(&stack, "db").0, "ready");
    down(&stack);
}

#[test]
fn two_dashboards_see_the_same_change_and_killing_one_leaves_the_stack_alone() {
    let stack = background();
    let first = attach(&stack);
    let second = attach(&stack);

    // A stop from the first shows in both.
    first.select("api");
    first.keys(&["S"]);
    for tmux in [&first, &second] {
        tmux.wait("api stopped", |s| {
            Tmux::row(s, "api").is_some_and(|row| row.contains("stopped"))
        });
    }
    assert_eq!(service(&stack, "api").0, "stopped");

    // kill -9 of the first client: the stack does not notice.
    let db = service(&stack, "db");
    let client = first.poll("the first client", || {
        processes_with_marker(&first.marker).into_iter().next()
    });
    kill(Pid::from_raw(client), Signal::SIGKILL).expect("kill -9 the client");
    first.wait("the client to be gone", |s| s.contains("BRINGUP-EXITED"));
    assert_eq!(service(&stack, "db"), db, "db runs on, the same process");
    assert_eq!(service(&stack, "api").0, "stopped", "nothing was undone");

    // The second still follows the stack live.
    let (code, out, err) = stack.ctl(&["start", "api"]);
    assert!(code.success(), "start: {out}{err}");
    second.wait("api ready again", |s| {
        Tmux::row(s, "api").is_some_and(|row| row.contains("ready"))
    });

    // Stopping the stack from a dashboard is its own key, and asks first.
    second.keys(&["Q"]);
    second.wait("the stop confirmation", |s| {
        s.contains("Stop the whole stack") && s.contains("q detaches instead")
    });
    second.keys(&["n"]);
    second.wait("the confirmation to close", |s| {
        !s.contains("Stop the whole stack")
    });
    assert_eq!(service(&stack, "db"), db, "no is no");
    second.keys(&["Q"]);
    second.wait("the stop confirmation", |s| {
        s.contains("Stop the whole stack")
    });
    second.keys(&["y"]);
    let screen = second.wait("the client to exit", |s| s.contains("BRINGUP-EXITED"));
    assert!(screen.contains("BRINGUP-EXITED 0"), "{screen}");
    assert!(screen.contains("every service has stopped"), "{screen}");
    stack.assert_no_survivors();
    let (code, _, _) = stack.ctl(&["status"]);
    assert_eq!(code.code(), Some(2), "the stack is gone");
}

#[test]
fn a_dashboard_attached_to_a_stack_that_dies_ends_and_gives_the_terminal_back() {
    let stack = background();
    let tmux = attach(&stack);
    let pid = status(&stack)["pid"].as_i64().expect("the stack's pid") as i32;
    // No shutdown, no last event: the stream just ends.
    kill(Pid::from_raw(pid), Signal::SIGKILL).expect("kill -9 the stack");
    let screen = tmux.wait("the client to exit", |s| s.contains("BRINGUP-EXITED"));
    assert!(screen.contains("BRINGUP-EXITED 0"), "{screen}");
    assert!(
        !screen.contains("SERVICE"),
        "the dashboard is gone: {screen}"
    );
    // Its watchdog stops the rest, as without a dashboard.
    stack.assert_no_survivors();
}

#[test]
fn attach_reaches_a_foreground_stack_too() {
    let mut stack = Stack::up(&config());
    stack.wait_for("cold start done");
    let tmux = attach(&stack);
    tmux.select("db");
    tmux.wait("db's ticks in the log pane", |s| s.contains("db tick"));
    tmux.keys(&["q"]);
    let screen = tmux.wait("the client to exit", |s| s.contains("BRINGUP-EXITED 0"));
    assert!(screen.contains("keeps running"), "{screen}");
    assert_eq!(service(&stack, "api").0, "ready");
    assert!(
        !stack.stdout().contains("stopping"),
        "the foreground stack was not asked to stop:\n{}",
        stack.stdout()
    );
    stack.stop();
}

#[test]
fn a_running_stack_offers_its_dashboard() {
    let stack = background();
    assert!(
        stack.stdout().contains("`bringup attach`"),
        "{}",
        stack.stdout()
    );
    for up in [&["up", "--no-tui"][..], &["up", "-d"]] {
        let (code, _, err) = stack.ctl(up);
        assert_eq!(code.code(), Some(2), "{err}");
        assert!(
            err.contains("already running") && err.contains("`bringup attach`"),
            "{err}"
        );
    }
    down(&stack);
}

#[test]
fn attach_without_a_running_stack_says_how_to_start_one() {
    let stack = background();
    // Not a terminal: nothing to draw on, said plainly.
    let (code, _, err) = stack.ctl(&["attach"]);
    assert_eq!(code.code(), Some(2), "{err}");
    assert!(err.contains("needs a terminal"), "{err}");
    down(&stack);
    let (code, _, err) = stack.ctl(&["attach"]);
    assert_eq!(code.code(), Some(2), "{err}");
    assert!(
        err.contains("no stack") && err.contains("bringup up"),
        "{err}"
    );
}

/// `bringup status --json` of the stack a terminal started, from outside.
fn status_in(tmux: &Tmux) -> Value {
    let (code, out, err) = support::run(&["-c", "bringup.toml", "status", "--json"], &tmux.dir);
    assert!(code.success(), "status: {err}");
    serde_json::from_str(&out).expect("status --json is JSON")
}

fn pid_in(status: &Value, name: &str) -> Option<u64> {
    status["services"]
        .as_array()?
        .iter()
        .find(|s| s["name"] == name)?["pid"]
        .as_u64()
}

#[test]
fn the_foreground_dashboard_detaches_with_d_and_the_stack_outlives_its_terminal() {
    let tmux = Tmux::start(&config(), 110, 30);
    tmux.wait("the cold start to finish", |s| s.contains("up in"));
    let engine = tmux.bringup_pid().expect("the stack's bringup");
    assert_ne!(
        Some(engine),
        tmux.job_pid(),
        "the terminal's job waits for it"
    );
    let before = status_in(&tmux);
    tmux.keys(&["d"]);
    let screen = tmux.wait("the terminal's job to end", |s| {
        s.contains("BRINGUP-EXITED")
    });
    assert!(screen.contains("BRINGUP-EXITED 0"), "{screen}");
    assert!(
        screen.contains("keeps running in the background") && screen.contains("bringup attach"),
        "says how to come back: {screen}"
    );
    assert!(
        !screen.contains("SERVICE"),
        "the dashboard is gone: {screen}"
    );

    // The terminal closes, and a hangup comes anyway: the stack does not
    // notice, like one started with `up -d`.
    tmux.tmux(&["kill-server"]);
    kill(Pid::from_raw(engine), Signal::SIGHUP).expect("SIGHUP the stack");
    let after = status_in(&tmux);
    assert_eq!(after["pid"].as_i64(), Some(i64::from(engine)));
    for name in ["db", "api"] {
        assert_eq!(
            pid_in(&after, name),
            pid_in(&before, name),
            "{name} untouched"
        );
    }

    // `attach` brings the dashboard back; `down` then leaves nothing.
    let again = Tmux::run_in(
        &tmux.dir,
        &format!("'{BIN}' attach -c bringup.toml"),
        110,
        30,
    );
    again.wait("the attached dashboard's grid", |s| {
        Tmux::row(s, "api").is_some_and(|row| row.contains("ready"))
    });
    let (code, out, err) = support::run(&["-c", "bringup.toml", "down"], &tmux.dir);
    assert!(code.success(), "down: {out}{err}");
    again.wait("the attached client to end", |s| {
        s.contains("BRINGUP-EXITED 0")
    });
    tmux.assert_no_survivors();
}

#[test]
fn the_foreground_dashboards_terminal_job_stops_the_stack_when_signalled_or_killed() {
    // SIGINT from a process (not the terminal's Ctrl-C, which the child
    // hears itself) is passed on like SIGTERM.
    for signal in [Signal::SIGTERM, Signal::SIGINT, Signal::SIGKILL] {
        let tmux = Tmux::start(&config(), 110, 30);
        tmux.wait("the cold start to finish", |s| s.contains("up in"));
        let job = tmux.job_pid().expect("the terminal's job");
        kill(Pid::from_raw(job), signal).expect("signal the terminal's job");
        if signal != Signal::SIGKILL {
            // Passed on: the stack stops as if it had been signalled.
            let screen = tmux.wait("the terminal's job to end", |s| {
                s.contains("BRINGUP-EXITED")
            });
            assert!(screen.contains("BRINGUP-EXITED 0"), "{screen}");
            assert!(screen.contains("every service has stopped"), "{screen}");
        }
        // As before the split: the job's end is the stack's end (a killed
        // job: its child hears SIGTERM, its parent-death signal).
        tmux.assert_no_survivors();
    }

    // The stack's own bringup killed: the job says so and gives the
    // terminal back as it was (the child could not).
    let tmux = Tmux::start(&config(), 110, 30);
    tmux.wait("the cold start to finish", |s| s.contains("up in"));
    let engine = tmux.bringup_pid().expect("the stack's bringup");
    kill(Pid::from_raw(engine), Signal::SIGKILL).expect("kill -9 the stack's bringup");
    let screen = tmux.wait("the terminal's job to end", |s| {
        s.contains("BRINGUP-EXITED")
    });
    assert!(screen.contains("BRINGUP-EXITED 137"), "{screen}");
    tmux.type_text("echo typed-after");
    tmux.keys(&["Enter"]);
    let screen = tmux.wait("the terminal to echo what is typed", |s| {
        s.contains("typed-after")
    });
    assert!(
        !screen.contains("SERVICE"),
        "the dashboard is gone: {screen}"
    );
    tmux.assert_no_survivors();
}

#[test]
fn a_detached_demo_is_reached_from_the_directory_it_was_started_in() {
    let dir = tempfile::tempdir().expect("temp dir");
    let tmux = Tmux::run_in(dir.path(), &format!("'{BIN}' demo"), 110, 30);
    tmux.wait("the demo's cold start", |s| s.contains("up in"));
    tmux.keys(&["d"]);
    tmux.wait("the terminal's job to end", |s| {
        s.contains("BRINGUP-EXITED 0")
    });
    // No config file here: the verbs find the demo started here.
    let (code, out, err) = support::run(&["status"], dir.path());
    assert!(code.success(), "status: {out}{err}");
    assert!(out.contains("frontend"), "{out}");
    let (code, out, err) = support::run(&["down"], dir.path());
    assert!(code.success(), "down: {out}{err}");
    tmux.assert_no_survivors();
    // Elsewhere, no stack is found.
    let elsewhere = tempfile::tempdir().expect("temp dir");
    let (code, _, err) = support::run(&["status"], elsewhere.path());
    assert_eq!(code.code(), Some(2), "{err}");
}

#[test]
fn a_stack_detached_with_d_and_then_killed_leaves_nothing_behind() {
    let tmux = Tmux::start(&config(), 110, 30);
    tmux.wait("the cold start to finish", |s| s.contains("up in"));
    let engine = tmux.bringup_pid().expect("the stack's bringup");
    tmux.keys(&["d"]);
    tmux.wait("the terminal's job to end", |s| {
        s.contains("BRINGUP-EXITED 0")
    });
    assert!(
        tmux.survivors().len() >= 4,
        "the stack runs on: {:?}",
        tmux.survivors()
    );
    // No terminal, no parent to follow: its watchdog is what is left.
    kill(Pid::from_raw(engine), Signal::SIGKILL).expect("kill -9 the detached stack");
    tmux.assert_no_survivors();
    let (code, _, err) = support::run(&["-c", "bringup.toml", "status"], &tmux.dir);
    assert_eq!(code.code(), Some(2), "no stack is listed any more: {err}");
}

#[test]
fn an_attached_dashboard_follows_services_added_and_removed_by_an_edit() {
    let stack = background();
    let tmux = attach(&stack);
    let file = stack.dir.path().join("bringup.toml");
    let text = std::fs::read_to_string(&file).expect("the config");
    let queue = format!(
        "[services.queue]\ncommand = \"{}\"\ndepends_on = [\"db\"]\n",
        fixture("queue", "--log-every 200ms")
    );
    std::fs::write(&file, format!("{text}{queue}")).expect("edit");
    tmux.wait("the added service's row", |s| {
        Tmux::row(s, "queue").is_some_and(|row| row.contains("ready"))
    });
    // Its output reaches this dashboard too (over the socket, a log the
    // dashboard did not know of when it attached).
    tmux.select("queue");
    tmux.wait("queue's ticks in the log pane", |s| {
        s.contains("queue tick")
    });
    assert_eq!(service(&stack, "queue").0, "ready");
    // All logs merged: its lines carry its name (the dashboard learnt it
    // from the stack), not "?".
    tmux.keys(&["a"]);
    tmux.wait("queue's name before its lines", |s| {
        s.lines()
            .any(|line| line.contains("queue tick") && line.matches("queue").count() == 2)
    });

    // Removed again: its row goes; the others stay as they were.
    let (_, api) = service(&stack, "api");
    std::fs::write(&file, &text).expect("edit");
    tmux.wait("the removed service's row to go", |s| {
        Tmux::row(s, "queue").is_none() && Tmux::row(s, "api").is_some()
    });
    assert_eq!(service(&stack, "api"), ("ready".to_string(), api));
    let names: Vec<String> = status(&stack)["services"]
        .as_array()
        .expect("services")
        .iter()
        .filter_map(|s| s["name"].as_str().map(str::to_string))
        .collect();
    assert!(!names.contains(&"queue".to_string()), "{names:?}");
    drop(tmux);
    down(&stack);
}
