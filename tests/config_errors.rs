//! `bringup check` on broken and valid configs: every problem reported at
//! once, each at file:line:col with its key and a hint; exit 2.

// A test fails by panicking; `expect` says why.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod support;

use support::run;

/// Writes `text` as bringup.toml in a temp dir and runs `bringup check`.
fn check(text: &str) -> (Option<i32>, String, String) {
    let dir = tempfile::tempdir().expect("temp dir");
    std::fs::write(dir.path().join("bringup.toml"), text).expect("write");
    let (status, stdout, stderr) = run(&["check"], dir.path());
    (status.code(), stdout, stderr)
}

#[test]
fn a_typo_names_the_place_and_the_key_it_meant() {
    let (code, _, err) = check(
        r#"[services.api]
command = "server"
port = 8000
readyness = { tcp = true }
"#,
    );
    assert_eq!(code, Some(2));
    assert!(
        err.contains("bringup.toml:4:1: `services.api.readyness`: unknown key `readyness`"),
        "{err}"
    );
    assert!(err.contains("did you mean `readiness`?"), "{err}");
    // The offending line is shown.
    assert!(err.contains("readyness = { tcp = true }"), "{err}");
}

#[test]
fn a_cycle_is_reported_with_its_whole_path() {
    let (code, _, err) = check(
        r#"[services.api]
command = "a"
depends_on = ["auth"]

[services.auth]
command = "b"
depends_on = ["users"]

[services.users]
command = "c"
depends_on = ["api"]
"#,
    );
    assert_eq!(code, Some(2));
    assert!(err.contains("bringup.toml:3:15: `services.api.depends_on`: dependency cycle: api → auth → users → api"), "{err}");
}

#[test]
fn an_unknown_dependency_suggests_the_nearest_service() {
    let (code, _, err) = check(
        r#"[services.database]
command = "db"

[services.api]
command = "server"
depends_on = { databse = "required" }
"#,
    );
    assert_eq!(code, Some(2));
    assert!(
        err.contains("bringup.toml:6:16: `services.api.depends_on`: unknown service `databse`"),
        "{err}"
    );
    assert!(err.contains("did you mean `database`?"), "{err}");
}

#[test]
fn a_bad_duration_says_what_a_good_one_looks_like() {
    let (code, _, err) = check(
        r#"[services.api]
command = "server"
ready_timeout = "5 secnds"
"#,
    );
    assert_eq!(code, Some(2));
    assert!(
        err.contains(
            "bringup.toml:3:17: `services.api.ready_timeout`: invalid duration \"5 secnds\""
        ),
        "{err}"
    );
    assert!(err.contains("\"500ms\", \"30s\" or \"1m30s\""), "{err}");
}

#[test]
fn every_problem_of_a_file_is_reported_together() {
    let (code, _, err) = check(
        r#"[project]
stop_grace = "forever"

[services.api]
comand = "server"
depends_on = { db = "requird" }

[services.web]
command = "web --api ${services.apii.port}"
readiness = { http = "/health", tcp = true }
kind = "deamon"
"#,
    );
    assert_eq!(code, Some(2));
    assert!(err.contains("has 6 problems"), "{err}");
    for expected in [
        "bringup.toml:2:14: `project.stop_grace`: invalid duration",
        "bringup.toml:5:1: `services.api.comand`: unknown key `comand`",
        "did you mean `command`?",
        "`services.api.depends_on.db`: unknown value `requird`",
        "did you mean `required`?",
        "bringup.toml:9:11: `services.web.command`: `${services.apii.port}` names no service `apii`",
        "did you mean `${services.api.port}`?",
        "bringup.toml:10:13: `services.web.readiness`: a probe needs exactly one of",
        "`services.web.kind`: unknown value `deamon`",
    ] {
        assert!(err.contains(expected), "missing {expected:?} in:\n{err}");
    }
}

#[test]
fn toml_syntax_errors_have_a_place_too() {
    let (code, _, err) = check("[services.api\ncommand = \"x\"\n");
    assert_eq!(code, Some(2));
    assert!(err.contains("bringup.toml:1:"), "{err}");
    assert!(err.contains("TOML syntax"), "{err}");
}

#[test]
fn a_missing_config_says_where_it_looked() {
    let dir = tempfile::tempdir().expect("temp dir");
    let (status, _, err) = run(&["check"], dir.path());
    assert_eq!(status.code(), Some(2));
    assert!(
        err.contains("bringup.toml") && err.contains("config/bringup.toml"),
        "{err}"
    );
    assert!(
        err.contains("bringup demo"),
        "points at a working example: {err}"
    );
    let (status, _, err) = run(&["check", "-c", "nope.toml"], dir.path());
    assert_eq!(status.code(), Some(2));
    assert!(err.contains("nope.toml"), "{err}");
}

#[test]
fn a_valid_config_prints_its_start_plan() {
    let (code, out, err) = check(
        r#"[project]
max_parallel_starts = 2

[services.db]
command = "db"
port = 5432

[services.migrate]
command = "migrate"
kind = "task"
depends_on = ["db"]

[services.api]
command = "server"
port = 8000
depends_on = { db = "required", migrate = "completed", cache = "optional" }
readiness = { http = "/health" }

[services.cache]
command = "cache"
optional = true
"#,
    );
    assert_eq!(code, Some(0), "{err}");
    assert!(out.contains("4 services in 3 waves"), "{out}");
    assert!(out.contains("At most 2 start at once."), "{out}");
    let wave = |n: usize| {
        out.split(&format!("wave {n}\n"))
            .nth(1)
            .and_then(|rest| rest.split("\n\n").next())
            .unwrap_or("")
    };
    assert!(
        wave(1).contains("db")
            && wave(1).contains("port 5432")
            && wave(1).contains("cache")
            && wave(1).contains("optional"),
        "{out}"
    );
    assert!(
        wave(2).contains("migrate") && wave(2).contains("task  after db (required)"),
        "{out}"
    );
    assert!(
        wave(3).contains("api")
            && wave(3).contains(
                "ready: http, port 8000  after db (required), migrate (completed), cache (optional)"
            ),
        "{out}"
    );
}

#[test]
fn the_embedded_demo_is_a_valid_config() {
    let dir = tempfile::tempdir().expect("temp dir");
    std::fs::write(dir.path().join("bringup.toml"), bringup::config::DEMO).expect("write");
    let (status, out, err) = run(&["check"], dir.path());
    assert_eq!(status.code(), Some(0), "{err}");
    assert!(out.contains("10 services"), "{out}");
}

#[test]
fn cross_service_mistakes_are_caught() {
    let (code, _, err) = check(
        r#"[services.a]
command = "a"
port = 8000

[services.b]
command = "b"
port = 8000

[services.migrate]
command = "m"
kind = "task"
restart = "always"

[services.api]
command = "api"
depends_on = { migrate = "completed" }
backoff = { initial = "60s" }
"#,
    );
    assert_eq!(code, Some(2));
    assert!(
        err.contains("bringup.toml:7:8: `services.b.port`: `a` wants port 8000 too"),
        "{err}"
    );
    assert!(
        err.contains("`api` waits for `migrate` to complete, but its `restart = \"always\"`"),
        "{err}"
    );
    assert!(
        err.contains("bringup.toml:17:23: `services.api.backoff.initial`: the initial backoff (1m) is longer than the maximum (30s, the default)"),
        "{err}"
    );
}

#[test]
fn a_name_too_long_for_a_column_is_refused_not_a_panic() {
    let long = "a".repeat(70_000);
    let (code, out, err) = check(&format!(
        "[services.{long}]\ncommand = \"server\"\nport = 8000\n\n[services.b]\ncommand = \"b\"\ndepends_on = [\"{long}b\"]\n"
    ));
    assert_eq!(code, Some(2), "{out}{err}");
    assert!(!err.contains("panicked"), "{err}");
    assert!(
        err.contains(&format!(
            "bringup.toml:1:11: `services.{}… (70000 characters)`: the service name is 70000 characters long; at most 63 are allowed",
            "a".repeat(24)
        )),
        "{}",
        &err[..err.len().min(2000)]
    );
    // Messages stay readable: the name is never printed whole.
    assert!(err.len() < 2_000, "{} bytes of errors", err.len());
    let (code, _, err) = check(&format!("[services.{}]\ncommand = \"x\"\n", "b".repeat(63)));
    assert_eq!(code, Some(0), "63 characters are allowed: {err}");
}

#[test]
fn absurd_durations_are_refused_key_by_key() {
    let (code, _, err) = check(
        r#"[project]
stop_grace = "100000000y"

[services.api]
command = "server"
ready_timeout = "0s"
dependency_timeout = "18446744073709551615s"
stop_grace = "0s"
backoff = { initial = "0ms", max = "2h" }
readiness = { exec = "true", period = "100000000y", timeout = "0s" }
liveness = { exec = "true", period = "25h", timeout = "2h" }
"#,
    );
    assert_eq!(code, Some(2));
    assert!(err.contains("has 9 problems"), "{err}");
    for expected in [
        "bringup.toml:2:14: `project.stop_grace`: \"100000000y\" is too long for `stop_grace`: at most 1h is allowed",
        "bringup.toml:6:17: `services.api.ready_timeout`: `ready_timeout` must be longer than zero",
        "bringup.toml:7:22: `services.api.dependency_timeout`: \"18446744073709551615s\" is too long for `dependency_timeout`: at most 24h is allowed",
        "bringup.toml:9:23: `services.api.backoff.initial`: `initial` must be longer than zero",
        "bringup.toml:9:36: `services.api.backoff.max`: \"2h\" is too long for `max`: at most 1h is allowed",
        "bringup.toml:10:39: `services.api.readiness.period`: \"100000000y\" is too long for `period`: at most 24h is allowed",
        "bringup.toml:10:63: `services.api.readiness.timeout`: `timeout` must be longer than zero",
        "bringup.toml:11:38: `services.api.liveness.period`: \"25h\" is too long for `period`",
        "bringup.toml:11:55: `services.api.liveness.timeout`: \"2h\" is too long for `timeout`: at most 1h is allowed",
    ] {
        assert!(err.contains(expected), "missing {expected:?} in:\n{err}");
    }
    // Zero grace means "SIGKILL at once", which is allowed.
    assert!(!err.contains("services.api.stop_grace"), "{err}");
}

#[test]
fn a_nul_character_is_refused_where_it_is_written() {
    let (code, _, err) = check(
        r#"[project]
env = { GREETING = "hel\u0000lo" }

[services.api]
command = "server\u0000 --port 1"
cwd = "sub\u0000dir"
env = { "BAD\u0000NAME" = "x", "A=B" = "y" }
readiness = { exec = "test\u0000" }

[services.web]
command = ["web", "--name", "a\u0000b"]
"#,
    );
    assert_eq!(code, Some(2));
    assert!(err.contains("has 7 problems"), "{err}");
    for expected in [
        "bringup.toml:2:20: `project.env.GREETING`: contains a NUL character",
        "bringup.toml:5:11: `services.api.command`: contains a NUL character (\\0), which no command, argument or environment value can hold",
        "bringup.toml:6:7: `services.api.cwd`: contains a NUL character",
        "`services.api.env`: \"BAD\\0NAME\" cannot be the name of an environment variable",
        "`services.api.env`: \"A=B\" cannot be the name of an environment variable",
        "bringup.toml:8:22: `services.api.readiness.exec`: contains a NUL character",
        "bringup.toml:11:11: `services.web.command`: contains a NUL character",
    ] {
        assert!(err.contains(expected), "missing {expected:?} in:\n{err}");
    }
}

#[test]
fn names_that_share_a_port_variable_are_an_error_naming_both() {
    let (code, _, err) = check(
        r#"[services.a-b]
command = "x"
port = 8001

[services.a_b]
command = "x"
port = 8002

[services.API]
command = "x"
port = 8003

[services.api]
command = "x"
port = "auto"

[services.Web]
command = "x"

[services.web]
command = "x"
port = 8004
"#,
    );
    assert_eq!(code, Some(2));
    assert!(err.contains("has 2 problems"), "{err}");
    assert!(
        err.contains("bringup.toml:5:11: `services.a_b`: `a-b` and `a_b` would both get their port as $BRINGUP_PORT_A_B"),
        "{err}"
    );
    assert!(
        err.contains("bringup.toml:13:11: `services.api`: `API` and `api` would both get their port as $BRINGUP_PORT_API"),
        "{err}"
    );
    // `Web` has no port, so it has no variable to collide with.
    assert!(!err.contains("`Web`"), "{err}");
}

/// Runs `bringup ARGS` in `dir` with stdout a pipe nobody reads any more.
fn into_a_closed_pipe(args: &[&str], dir: &std::path::Path) -> (std::process::ExitStatus, String) {
    let (read, write) = nix::unistd::pipe().expect("pipe");
    drop(read);
    let output = std::process::Command::new(support::BIN)
        .args(args)
        .current_dir(dir)
        .env("NO_COLOR", "1")
        .stdout(std::process::Stdio::from(write))
        .stderr(std::process::Stdio::piped())
        .output()
        .expect("run bringup");
    (
        output.status,
        String::from_utf8_lossy(&output.stderr).into_owned(),
    )
}

#[test]
fn check_and_ports_end_quietly_when_their_reader_is_gone() {
    use std::os::unix::process::ExitStatusExt;
    let dir = tempfile::tempdir().expect("temp dir");
    // The pipe has no reader from the start, so the first write fails.
    std::fs::write(
        dir.path().join("bringup.toml"),
        "[services.api]\ncommand = \"x\"\nport = \"auto\"\n",
    )
    .expect("write");
    for args in [&["check"][..], &["ports"][..], &["ports", "free"][..]] {
        let (status, err) = into_a_closed_pipe(args, dir.path());
        assert!(
            status.signal() == Some(nix::libc::SIGPIPE) || status.success(),
            "{args:?}: {status:?}\n{err}"
        );
        assert!(err.is_empty(), "{args:?} said something: {err}");
    }
}
