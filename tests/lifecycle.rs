//! Bringing stacks up: order, failures, degradation, restarts — with real
//! processes (`bringup fixture`) on real ports, timed by the services' own
//! records (CLOCK_MONOTONIC, comparable across processes).

// A test fails by panicking; `expect` says why.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod support;

use nix::sys::signal::Signal;
use support::stack::Stack;
use support::{all, first, free_port};

#[test]
fn dependents_start_only_after_their_dependencies_are_ready_and_independents_start_together() {
    let [db, cache, api, web] = [free_port(), free_port(), free_port(), free_port()];
    let config = format!(
        r#"
[services.db]
command = "{}"
port = {db}
[services.cache]
command = "{}"
port = {cache}
[services.api]
command = "{}"
port = {api}
depends_on = ["db"]
readiness = {{ http = "/health/ready" }}
[services.web]
command = "{}"
port = {web}
depends_on = {{ api = "required", cache = "required" }}
"#,
        support::recorded("db", "--port ${port} --bind-after 400ms"),
        support::recorded("cache", "--port ${port} --bind-after 600ms"),
        support::recorded("api", "--port ${port} --ready-after 300ms"),
        support::recorded("web", "--port ${port}"),
    );
    let mut stack = Stack::up(&config);
    stack.wait_for("cold start done");
    let records = stack.records();
    let at = |name, event| {
        first(&records, name, event).unwrap_or_else(|| panic!("no {event} of {name}: {records:#?}"))
    };

    // A dependent never spawns before its required dependency is ready
    // (tcp readiness: ready = bound; http: ready = /health/ready is 200).
    assert!(
        at("api", "start") > at("db", "bound"),
        "api started before db was ready"
    );
    assert!(
        at("web", "start") > at("api", "ready"),
        "web started before api was ready"
    );
    assert!(
        at("web", "start") > at("cache", "bound"),
        "web started before cache was ready"
    );
    // Independent services start in parallel: each started while the other
    // was still coming up.
    assert!(at("cache", "start") < at("db", "bound") && at("db", "start") < at("cache", "bound"));

    // db (400ms) then api (300ms) take longer than cache (600ms) alone.
    let out = stack.stdout();
    assert!(out.contains("critical path: db ("), "{out}");
    assert!(
        out.contains(") → api (") && out.contains(") → web ("),
        "{out}"
    );
    stack.stop_expecting(0);
}

#[test]
fn a_required_dependency_that_fails_blocks_its_dependents_visibly() {
    let db = free_port();
    let config = format!(
        r#"
[services.db]
command = "{}"
port = {db}
restart = "never"
[services.api]
command = "{}"
depends_on = ["db"]
[services.web]
command = "{}"
depends_on = ["api"]
"#,
        // db has a port (so tcp readiness) that it never binds (--idle).
        support::recorded("db", "--idle --exit-after 100ms --exit-code 1"),
        support::recorded("api", ""),
        support::recorded("web", ""),
    );
    let mut stack = Stack::up(&config);
    stack.wait_for("cold start over, but not everything is ready");
    let out = stack.stdout();
    assert!(out.contains("db: failed · exited with code 1"), "{out}");
    assert!(
        out.contains("api: failed · blocked: required dependency db is failed"),
        "{out}"
    );
    assert!(
        out.contains("web: failed · blocked: required dependency api is failed"),
        "{out}"
    );
    let records = stack.records();
    assert!(
        first(&records, "api", "start").is_none(),
        "api must not start: {records:#?}"
    );
    stack.signal(Signal::SIGINT);
    assert_eq!(
        stack.wait_exit().code(),
        Some(1),
        "a required service never became ready"
    );
    stack.assert_no_survivors();
}

#[test]
fn an_optional_dependency_that_fails_degrades_its_dependents_instead() {
    let [port, cache] = [free_port(), free_port()];
    let config = format!(
        r#"
[services.cache]
command = "{}"
port = {cache}
optional = true
restart = "never"
[services.api]
command = "{}"
port = {port}
depends_on = {{ cache = "optional" }}
"#,
        support::recorded("cache", "--idle --exit-after 100ms --exit-code 1"),
        support::recorded("api", "--port ${port}"),
    );
    let mut stack = Stack::up(&config);
    stack.wait_for("every required service is ready");
    let out = stack.stdout();
    assert!(out.contains("cache: failed · exited with code 1"), "{out}");
    assert!(out.contains("degraded: without cache"), "{out}");
    let records = stack.records();
    assert!(first(&records, "api", "start") > first(&records, "cache", "exit"));
    stack.stop_expecting(0);
}

#[test]
fn a_crash_looping_service_restarts_with_growing_delays_until_max_restarts() {
    let config = format!(
        r#"
[services.flaky]
command = "{}"
max_restarts = 3
backoff = {{ initial = "200ms", max = "10s" }}
"#,
        support::recorded("flaky", "--exit-after 50ms --exit-code 3"),
    );
    let mut stack = Stack::up(&config);
    stack.wait_for("gave up after 3 restarts");
    stack.wait_records("the fourth exit", |r| all(r, "flaky", "exit").len() == 4);
    let records = stack.records();
    let starts = all(&records, "flaky", "start");
    let exits = all(&records, "flaky", "exit");
    assert_eq!(
        starts.len(),
        4,
        "one start plus three restarts: {records:#?}"
    );
    // The delay between an exit and the next start doubles (±20% jitter).
    let delays: Vec<u64> = exits
        .iter()
        .zip(&starts[1..])
        .map(|(exit, start)| start - exit)
        .collect();
    assert!(
        delays.windows(2).all(|w| w[1] > w[0]),
        "delays must grow: {delays:?}"
    );
    assert!(
        delays[0] >= 150_000_000,
        "first delay is about 200ms: {delays:?}"
    );
    let out = stack.stdout();
    assert!(out.contains("restart 1 of 3"), "{out}");
    assert!(
        out.contains("starting (pid") && out.contains("attempt 4"),
        "{out}"
    );
    stack.stop_expecting(1);
}

#[test]
fn every_kind_of_readiness_check_sees_a_real_service_become_ready() {
    let [http, tcp, exec] = [free_port(), free_port(), free_port()];
    let config = format!(
        r#"
[services.http]
command = "{}"
port = {http}
readiness = {{ http = "/health/ready", status = "200", json = {{ "/status" = "ready" }} }}
[services.tcp]
command = "{}"
port = {tcp}
readiness = {{ tcp = true }}
[services.log]
command = "{}"
readiness = {{ log = "^log is up$" }}
[services.notify]
command = "{}"
readiness = {{ notify = true }}
[services.exec]
command = "{}"
port = {exec}
readiness = {{ exec = "test -e exec-ok || {{ touch exec-ok; false; }}" }}
[services.none]
command = "{}"
readiness = {{ none = true }}
"#,
        support::recorded("http", "--port ${port} --ready-after 200ms"),
        support::recorded("tcp", "--port ${port} --bind-after 200ms"),
        support::recorded("log", "--ready-after 200ms --ready-line 'log is up'"),
        support::recorded("notify", "--ready-after 200ms --notify"),
        support::recorded("exec", "--port ${port}"),
        support::recorded("none", ""),
    );
    let mut stack = Stack::up(&config);
    stack.wait_for("every required service is ready");
    let out = stack.stdout();
    assert!(
        out.contains("http: ready in") && out.contains("JSON matches"),
        "{out}"
    );
    assert!(
        out.contains("http: not ready yet: HTTP 503"),
        "the 503 phase is visible: {out}"
    );
    assert!(out.contains("tcp: ready in"), "{out}");
    assert!(
        out.contains("log: ready in") && out.contains("(log: log is up)"),
        "{out}"
    );
    assert!(
        out.contains("notify: ready in") && out.contains("READY=1"),
        "{out}"
    );
    assert!(
        out.contains("exec: ready in") && out.contains("exited 0"),
        "{out}"
    );
    assert!(out.contains("none: ready in"), "{out}");
    stack.stop_expecting(0);
}

#[test]
fn failing_liveness_restarts_a_ready_service() {
    let port = free_port();
    let config = format!(
        r#"
[services.api]
command = "{}"
port = {port}
liveness = {{ http = "/health/live", period = "100ms", failure_threshold = 2 }}
max_restarts = 1
backoff = {{ initial = "100ms", max = "1s" }}
stop_grace = "2s"
"#,
        support::recorded("api", "--port ${port} --live-fail-after 300ms"),
    );
    let mut stack = Stack::up(&config);
    stack.wait_for("liveness failed 2 times");
    let records = stack.wait_records("api to start again", |r| all(r, "api", "start").len() >= 2);
    assert!(
        first(&records, "api", "sigterm").is_some(),
        "the failing service was stopped: {records:#?}"
    );
    stack.stop();
}

#[test]
fn interpolation_reaches_the_service() {
    let [db, api] = [free_port(), free_port()];
    let config = format!(
        r#"
[project]
env = {{ GREETING = "hello" }}
[services.db]
command = "{}"
port = {db}
[services.api]
command = "echo port=$PORT db=${{services.db.port}} url=$DATABASE_URL greet=${{env.GREETING}} other=$BRINGUP_PORT_DB; exec {}"
port = {api}
depends_on = ["db"]
env = {{ DATABASE_URL = "postgres://127.0.0.1:${{services.db.port}}/app" }}
"#,
        support::recorded("db", "--port ${port}"),
        support::recorded("api", "--port ${port}"),
    );
    let mut stack = Stack::up(&config);
    stack.wait_for("cold start done");
    let expected =
        format!("port={api} db={db} url=postgres://127.0.0.1:{db}/app greet=hello other={db}");
    stack.wait_for(&expected);
    stack.stop();
}

#[test]
fn up_with_service_names_brings_up_only_those_and_their_dependencies() {
    let config = format!(
        r#"
[services.db]
command = "{}"
[services.api]
command = "{}"
depends_on = ["db"]
[services.web]
command = "{}"
depends_on = ["api"]
[services.unrelated]
command = "{}"
"#,
        support::recorded("db", ""),
        support::recorded("api", ""),
        support::recorded("web", ""),
        support::recorded("unrelated", ""),
    );
    let mut stack = Stack::start(&config, &["up", "--no-tui", "api"]);
    stack.wait_for("cold start done");
    let records = stack.wait_records("db and api to run", |r| {
        first(r, "db", "start").is_some() && first(r, "api", "start").is_some()
    });
    assert!(
        first(&records, "web", "start").is_none()
            && first(&records, "unrelated", "start").is_none()
    );
    stack.stop_expecting(0);

    let (status, _, stderr) = support::run(
        &["up", "--no-tui", "-c", "bringup.toml", "apu"],
        stack.dir.path(),
    );
    assert_eq!(status.code(), Some(2));
    assert!(
        stderr.contains("no service named `apu`; did you mean `api`?"),
        "{stderr}"
    );
}

#[test]
fn a_service_ready_after_its_ready_timeout_still_counts() {
    let port = free_port();
    let config = format!(
        r#"
[services.slow]
command = "{}"
port = {port}
readiness = {{ http = "/health/ready" }}
ready_timeout = "300ms"
"#,
        support::recorded("slow", "--port ${port} --ready-after 900ms"),
    );
    let mut stack = Stack::up(&config);
    stack.wait_for("slow: not ready after 300ms");
    stack.wait_for("every required service is ready");
    stack.stop_expecting(0);
}

#[test]
fn a_bringup_installed_under_a_path_with_spaces_still_runs_its_fixtures() {
    // `${bringup}` goes into shell commands quoted.
    let dir = tempfile::tempdir().expect("temp dir");
    let spaced = dir.path().join("my tools");
    std::fs::create_dir(&spaced).expect("dir");
    let copy = spaced.join("bringup");
    std::fs::copy(support::BIN, &copy).expect("copy the binary");
    let config = r#"
[services.a]
command = "${bringup} fixture --name a --ready-line 'a is up'"
readiness = { log = "a is up" }
"#;
    let mut stack = Stack::start_with(&copy, config, &["up", "--no-tui"]);
    stack.wait_for("every required service is ready");
    stack.stop_expecting(0);
}

#[test]
fn the_next_cold_start_spawns_what_took_longest_first() {
    // quick is declared first, but slow (and what waits for it) took
    // longer last time: the second run starts slow first.
    let config = format!(
        r#"
[services.quick]
command = "{}"
readiness = {{ log = "quick up" }}
[services.slow]
command = "{}"
readiness = {{ log = "slow up" }}
[services.after]
command = "{}"
depends_on = ["slow"]
"#,
        support::recorded("quick", "--ready-line 'quick up'"),
        support::recorded("slow", "--ready-after 300ms --ready-line 'slow up'"),
        support::recorded("after", ""),
    );
    // The order bringup decided to start them in, from its own log (the
    // processes themselves start side by side, in whatever order the
    // machine gets to them).
    let order = |stack: &Stack| -> Vec<String> {
        stack
            .stderr()
            .lines()
            .filter_map(|l| l.split(" bringup: ").nth(1))
            .filter_map(|l| l.strip_suffix(": starting"))
            .take(2)
            .map(str::to_string)
            .collect()
    };
    let log = [("BRINGUP_LOG", "bringup=info")];
    let mut stack = Stack::start_with_env(&config, &["up", "--no-tui"], &log);
    stack.wait_for("cold start done");
    assert_eq!(
        order(&stack),
        ["quick", "slow"],
        "first time: declaration order\n{}",
        stack.stderr()
    );
    stack.signal(Signal::SIGTERM);
    stack.wait_exit();

    stack.relaunch_with_env(&["up", "--no-tui"], &log);
    stack.wait_for("cold start done");
    assert_eq!(order(&stack), ["slow", "quick"], "{}", stack.stderr());
    stack.stop();
}

/// GET `path` from 127.0.0.1:`port` (HTTP/1.0, so the server closes): the body.
fn get(port: u16, path: &str) -> String {
    use std::io::{Read, Write};
    let mut stream = std::net::TcpStream::connect(("127.0.0.1", port)).expect("connect");
    write!(stream, "GET {path} HTTP/1.0\r\nHost: localhost\r\n\r\n").expect("send");
    let mut response = String::new();
    stream.read_to_string(&mut response).expect("read");
    response
        .split_once("\r\n\r\n")
        .map_or(response.clone(), |(_, body)| body.to_string())
}

#[test]
fn an_app_that_answers_not_yet_is_asked_gently() {
    // The fixture answers 503 for 1.5 s, as a FastAPI app does while its
    // startup work runs; each readiness request is a line in its access log.
    let port = free_port();
    let config = format!(
        r#"
[services.api]
command = "{}"
port = {port}
readiness = {{ http = "/health/ready" }}
"#,
        support::fixture("api", "--port ${port} --ready-after 1500ms"),
    );
    let mut stack = Stack::up(&config);
    stack.wait_for("every required service is ready");
    let status: serde_json::Value = serde_json::from_str(&get(port, "/status")).expect("JSON");
    let requests = status["ready_requests"].as_u64().expect("a count");
    // At least 50 ms apart once it answers: about 30 in 1.5 s (it was 130–270).
    assert!(
        (10..=45).contains(&requests),
        "{requests} readiness requests in a 1.5 s start"
    );
    let line = stack.line("api: ready in");
    assert!(line.contains("HTTP 200"), "{line}");
    stack.stop_expecting(0);
}

#[test]
fn a_dependent_says_when_its_database_fails_under_it() {
    let config = format!(
        r#"
[services.db]
command = "{}"
readiness = {{ log = "db is up" }}
restart = "never"
[services.api]
command = "{}"
depends_on = ["db"]
readiness = {{ log = "api is up" }}
"#,
        support::recorded("db", "--ready-line 'db is up'"),
        support::recorded("api", "--ready-line 'api is up'"),
    );
    let mut stack = Stack::up(&config);
    stack.wait_for("every required service is ready");
    let records = stack.records();
    let db = records
        .iter()
        .find(|r| r.name == "db" && r.event == "start")
        .map(|r| r.pid)
        .expect("db's pid");
    let _ = nix::sys::signal::kill(nix::unistd::Pid::from_raw(db), Signal::SIGKILL);
    stack.wait_for("api: ⚠ lost its required dependency db (failed); it keeps running");
    stack.stop_expecting(1);
}

#[test]
fn a_chatty_app_that_answers_not_yet_is_still_asked_gently() {
    // It prints every 20 ms while it answers 503: each line may hint that
    // it became ready, but it is not asked more than twice per 50 ms.
    let port = free_port();
    let config = format!(
        r#"
[services.api]
command = "{}"
port = {port}
readiness = {{ http = "/health/ready" }}
"#,
        support::fixture(
            "api",
            "--port ${port} --ready-after 1500ms --log-every 20ms"
        ),
    );
    let mut stack = Stack::up(&config);
    stack.wait_for("every required service is ready");
    let status: serde_json::Value = serde_json::from_str(&get(port, "/status")).expect("JSON");
    let requests = status["ready_requests"].as_u64().expect("a count");
    assert!(
        (10..=75).contains(&requests),
        "{requests} readiness requests in a 1.5 s start"
    );
    stack.stop_expecting(0);
}
