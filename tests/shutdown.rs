//! Stopping: reverse dependency order, stop grace, and no survivors —
//! grandchildren included — whichever way bringup ends.

// A test fails by panicking; `expect` says why.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod support;

use std::path::Path;
use std::time::{Duration, Instant};

use nix::sys::signal::Signal;
use support::stack::Stack;
use support::{first, free_port};

/// db ← api ← web, plus worker ← db, each fixture with a grandchild in its
/// process group.
fn chain() -> String {
    let [db, api, web] = [free_port(), free_port(), free_port()];
    format!(
        r#"
[services.db]
command = "{}"
port = {db}
[services.api]
command = "{}"
port = {api}
depends_on = ["db"]
[services.web]
command = "{}"
port = {web}
depends_on = ["api"]
[services.worker]
command = "{}"
depends_on = ["db"]
readiness = {{ log = "worker up" }}
"#,
        support::recorded("db", "--port ${port} --grandchild"),
        support::recorded("api", "--port ${port} --grandchild"),
        support::recorded("web", "--port ${port} --grandchild"),
        // Ready once it says so, which it does after its signal handlers
        // are in place: the test stops it right after and reads its record.
        support::recorded("worker", "--grandchild --ready-line 'worker up'"),
    )
}

#[test]
fn shutdown_stops_dependents_before_their_dependencies() {
    let mut stack = Stack::up(&chain());
    stack.wait_for("cold start done");
    stack.signal(Signal::SIGTERM);
    assert_eq!(stack.wait_exit().code(), Some(0));
    let records = stack.records();
    let at = |name, event| {
        first(&records, name, event).unwrap_or_else(|| panic!("no {event} of {name}: {records:#?}"))
    };
    // Each service is asked to stop only once everything that depends on it
    // has exited.
    assert!(
        at("web", "exit") < at("api", "sigterm"),
        "web must be gone before api is stopped"
    );
    assert!(
        at("api", "exit") < at("db", "sigterm"),
        "api must be gone before db is stopped"
    );
    assert!(
        at("worker", "exit") < at("db", "sigterm"),
        "worker must be gone before db is stopped"
    );
    // Independent branches stop in parallel: worker, a leaf like web, is
    // asked at once, not after the web → api branch has gone down.
    assert!(
        at("worker", "sigterm") < at("api", "sigterm"),
        "worker and web stop together"
    );
    stack.assert_no_survivors();
}

#[test]
fn a_service_that_ignores_sigterm_is_killed_after_its_stop_grace() {
    let config = format!(
        r#"
[services.stubborn]
command = "{}"
stop_grace = "700ms"
readiness = {{ log = "stubborn is up" }}
"#,
        support::recorded(
            "stubborn",
            "--ignore-sigterm --grandchild --ready-line 'stubborn is up'"
        ),
    );
    let mut stack = Stack::up(&config);
    stack.wait_for("cold start done");
    stack.wait_records("stubborn to run", |r| {
        first(r, "stubborn", "start").is_some()
    });
    let asked = Instant::now();
    stack.signal(Signal::SIGTERM);
    stack.wait_exit();
    let took = asked.elapsed();
    assert!(
        took >= Duration::from_millis(700),
        "killed before its grace ran out: {took:?}"
    );
    assert!(
        took < Duration::from_secs(10),
        "not killed after its grace: {took:?}"
    );
    let records = stack.records();
    assert!(
        first(&records, "stubborn", "sigterm").is_some(),
        "it was asked first: {records:#?}"
    );
    let out = stack.stdout();
    assert!(out.contains("stubborn: sending SIGTERM"), "{out}");
    assert!(out.contains("stubborn: sending SIGKILL"), "{out}");
    assert!(
        out.contains("stubborn: stopped (killed by SIGKILL)"),
        "{out}"
    );
    stack.assert_no_survivors();
}

/// Ends bringup with `signal` once the stack is up; nothing may survive.
/// A service that leaves a daemon behind: `setsid` puts it in a session
/// and process group of its own, out of reach of group signals. The daemon
/// itself says it started, so it has left the group when the service is
/// ready.
const DAEMONIZER: &str = r#"
[services.daemonizer]
command = ["sh", "-c", "setsid sh -c 'echo daemon started; exec sleep 600 </dev/null >/dev/null 2>&1' & exec sleep 600"]
readiness = { log = "daemon started" }
"#;

fn nothing_survives(signal: Signal) {
    let mut stack = Stack::up(&(chain() + DAEMONIZER));
    stack.wait_for("cold start done");
    // Five services, four grandchildren and a daemon (plus the watchdog).
    support::poll("the grandchildren to exist", || {
        (stack.survivors().len() >= 10).then_some(())
    });
    stack.signal(signal);
    let status = stack.wait_exit();
    if signal != Signal::SIGKILL {
        assert_eq!(status.code(), Some(0), "{}", Stack::describe(status));
        let out = stack.stdout();
        // It is stopped with its service (bringup, a subreaper, adopts it
        // when the service's process exits), and named.
        assert!(
            out.contains("daemonizer: stopped 1 process(es) it left behind")
                && out.contains("sleep 600"),
            "the user hears about the daemon: {out}"
        );
    }
    stack.assert_no_survivors();
}

#[test]
fn nothing_survives_sigterm() {
    nothing_survives(Signal::SIGTERM);
}

#[test]
fn nothing_survives_sigint() {
    nothing_survives(Signal::SIGINT);
}

#[test]
fn nothing_survives_sighup_as_when_the_terminal_closes() {
    nothing_survives(Signal::SIGHUP);
}

#[test]
fn nothing_survives_kill_minus_nine() {
    nothing_survives(Signal::SIGKILL);
}

#[test]
fn a_second_interrupt_kills_at_once() {
    let config = format!(
        r#"
[services.slow]
command = "{}"
stop_grace = "30s"
readiness = {{ log = "slow is up" }}
"#,
        // Log readiness: the fixture says so once its signal handlers are in place.
        support::recorded("slow", "--ignore-sigterm --ready-line 'slow is up'"),
    );
    let mut stack = Stack::up(&config);
    stack.wait_for("cold start done");
    stack.signal(Signal::SIGINT);
    stack.wait_for("press Ctrl-C again");
    // A second Ctrl-C, not an echo of the first (those come within 250 ms).
    std::thread::sleep(Duration::from_millis(400));
    let asked = Instant::now();
    stack.signal(Signal::SIGINT);
    stack.wait_exit();
    assert!(
        asked.elapsed() < Duration::from_secs(10),
        "the 30s grace was not cut short"
    );
    assert!(
        stack
            .stdout()
            .contains("stopping now: killing what is left")
    );
    stack.assert_no_survivors();
}

#[test]
fn services_die_with_bringup_even_when_the_watchdog_is_killed_too() {
    // `killall -9 bringup` takes the watchdog down as well; then the
    // parent-death signal alone must stop the services themselves.
    let config = format!(
        r#"
[services.a]
command = "{}"
[services.b]
command = "{}"
readiness = {{ log = "b is up" }}
"#,
        support::recorded("a", "--ready-line 'a is up'"),
        support::recorded("b", "--ready-line 'b is up'"),
    );
    let mut stack = Stack::up(&config);
    stack.wait_for("cold start done");
    let services: Vec<i32> = stack
        .survivors()
        .into_iter()
        .filter(|&p| support::command_line(p).contains("fixture"))
        .collect();
    assert_eq!(services.len(), 2, "{services:?}");
    stack.kill_with_watchdog();
    stack.assert_no_survivors();
}

#[test]
fn a_quoted_semicolon_puts_no_shell_between_bringup_and_the_service() {
    // `python3 -c 'a; b'` is plain words once quotes are understood, so it
    // runs without `sh -c`: python itself gets the parent-death signal.
    // Behind a shell that forks, it outlived bringup and its watchdog,
    // both killed with SIGKILL.
    let config = r#"
[services.py]
command = "python3 -c 'import time; print(\"py is up\", flush=True); time.sleep(600)'"
readiness = { log = "py is up" }
"#;
    let mut stack = Stack::up(config);
    stack.wait_for("cold start done");
    let python: Vec<i32> = stack
        .survivors()
        .into_iter()
        .filter(|&p| support::command_line(p).contains("time.sleep"))
        .collect();
    assert!(!python.is_empty(), "{}", stack.stdout());
    stack.kill_with_watchdog();
    stack.assert_no_survivors();
}

/// A service that takes a moment to stop after SIGTERM, and records it.
fn graceful() -> String {
    format!(
        r#"
[services.graceful]
command = "{}"
readiness = {{ log = "graceful is up" }}
"#,
        support::recorded(
            "graceful",
            "--term-delay 200ms --ready-line 'graceful is up'"
        ),
    )
}

#[test]
fn timeout_minus_s_int_stops_the_stack_gracefully() {
    // `timeout -s INT` signals bringup, then its whole process group: one
    // Ctrl-C heard twice at once, which must not mean "kill it all".
    let mut stack = Stack::start_with(
        Path::new("timeout"),
        &graceful(),
        &[
            "--preserve-status",
            "-s",
            "INT",
            "2",
            support::BIN,
            "up",
            "--no-tui",
        ],
    );
    let status = stack.wait_exit();
    let out = stack.stdout();
    assert!(out.contains("cold start done"), "{out}");
    assert!(!out.contains("killing what is left"), "{out}");
    assert_eq!(status.code(), Some(0), "{out}");
    assert!(
        support::first(&stack.records(), "graceful", "sigterm").is_some(),
        "{:#?}",
        stack.records()
    );
    stack.assert_no_survivors();
}
