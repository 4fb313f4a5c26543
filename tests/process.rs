//! How services and exec checks are started: what a started process finds
//! (signals, limits), exec checks that print, and the open-file limit.

// A test fails by panicking; `expect` says why.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod support;

use support::free_port;
use support::stack::Stack;

#[test]
fn a_service_starts_with_default_signals_and_the_limits_bringup_was_given() {
    // bringup ignores SIGPIPE (Rust does) and blocks every signal while it
    // starts a child; none of that may reach the service. Nor may its own
    // raised open-file limit: services get the one bringup was started
    // with (select()-based programs break above 1,024).
    let config = r#"
[services.probe]
command = ["sh", "-c", "grep -E '^Sig(Blk|Ign)' /proc/self/status; echo \"files $(ulimit -n)\"; exec sleep 600"]
readiness = { log = "^files" }
"#;
    let mut stack = Stack::start_with_open_files(config, &["up", "--no-tui"], 256);
    stack.wait_for("cold start done");
    let out = stack.stdout();
    let field = |name: &str| {
        out.lines()
            .find_map(|l| l.split_once(&format!("probe | {name}:"))?.1.trim().into())
            .unwrap_or_else(|| panic!("no {name} line: {out}"))
    };
    assert_eq!(field("SigBlk"), "0000000000000000", "no signal blocked");
    assert_eq!(field("SigIgn"), "0000000000000000", "no signal ignored");
    assert!(out.contains("probe | files 256"), "{out}");
    stack.stop_expecting(0);
}

#[test]
fn many_services_fit_in_a_low_open_file_limit() {
    // bringup holds a few descriptors per service; it raises its soft limit
    // to the hard one, so 40 services start under a soft limit of 64.
    let config: String = (0..40)
        .map(|i| format!("[services.s{i}]\ncommand = \"sleep 600\"\n"))
        .collect();
    let mut stack = Stack::start_with_open_files(&config, &["up", "--no-tui"], 64);
    stack.wait_for("cold start done");
    let out = stack.stdout();
    assert!(
        out.contains("every required service is ready") && !out.contains("open files"),
        "{out}"
    );
    stack.stop_expecting(0);
}

/// A foreground redis on `port`, keeping nothing on disk.
fn redis(port: u16) -> String {
    format!("redis-server --port {port} --bind 127.0.0.1 --save '' --appendonly no --dir {{dir}}")
}

#[test]
fn an_exec_check_whose_client_prints_passes() {
    // `redis-cli ping` prints PONG: with its stdout closed it died of
    // SIGPIPE and never passed, and as a liveness check it restarted a
    // healthy redis over and over.
    let port = free_port();
    let config = format!(
        r#"
[services.cache]
command = "{}"
port = {port}
readiness = {{ exec = "redis-cli -p ${{port}} ping" }}
"#,
        redis(port)
    );
    let mut stack = Stack::up(&config);
    stack.wait_for("cold start done");
    let line = stack.line("cache: ready");
    assert!(line.contains("`redis-cli -p"), "{line}");
    assert!(line.contains("ping` exited 0"), "{line}");
    stack.stop_expecting(0);
}

#[test]
fn a_failing_exec_check_says_what_the_client_printed() {
    let port = free_port();
    let config = format!(
        r#"
[services.app]
command = "sleep 600"
readiness = {{ exec = "redis-cli -p {port} ping" }}
"#
    );
    let mut stack = Stack::up(&config);
    stack.wait_for("app: not ready yet");
    let line = stack.line("app: not ready yet");
    assert!(
        line.ends_with(&format!(
            "`redis-cli -p {port} ping` exited with code 1: \"Could not connect to Redis at 127.0.0.1:{port}: Connection refused\""
        )),
        "{line}"
    );
    stack.stop_expecting(1);
}
