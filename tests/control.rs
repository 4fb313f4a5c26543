//! The control verbs from a second process against a running stack:
//! `status`, `restart`, `stop`, `start`, `kill`, `skip`, `wait`, `down`,
//! `ls`, a second `up` of the same config, and what the socket does with
//! malformed, oversized, unknown and flooding requests. Real bringups,
//! real services, a real Unix socket.

// A test fails by panicking; `expect` says why.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod support;

use std::io::{Read, Write};
use std::os::unix::net::UnixStream;
use std::path::PathBuf;
use std::time::{Duration, Instant};

use nix::sys::signal::Signal;
use serde_json::Value;
use support::stack::Stack;
use support::{DEADLINE, fixture};

/// db (http readiness) ← api (http readiness) ← an optional cache.
fn config() -> String {
    format!(
        r#"
[services.db]
command = "{db}"
port = "auto"
readiness = {{ http = "http://127.0.0.1:${{port}}/health/ready" }}

[services.api]
command = "{api}"
port = "auto"
depends_on = ["db"]
readiness = {{ http = "http://127.0.0.1:${{port}}/health/ready" }}

[services.cache]
command = "{cache}"
optional = true
"#,
        db = fixture("db", "--port ${port} --ready-after 100ms --log-every 100ms"),
        api = fixture("api", "--port ${port} --ready-after 100ms"),
        cache = fixture("cache", "--ready-after 50ms"),
    )
}

fn started() -> Stack {
    let stack = Stack::up(&config());
    stack.wait_for("cold start done");
    stack
}

fn status(stack: &Stack) -> Value {
    let (code, out, err) = stack.ctl(&["status", "--json"]);
    assert!(code.success(), "status failed: {err}");
    serde_json::from_str(&out).unwrap_or_else(|e| panic!("status --json is JSON ({e}): {out}"))
}

fn service<'a>(status: &'a Value, name: &str) -> &'a Value {
    status["services"]
        .as_array()
        .expect("services")
        .iter()
        .find(|s| s["name"] == name)
        .unwrap_or_else(|| panic!("no {name} in {status}"))
}

#[test]
fn every_verb_reaches_a_running_stack_from_another_process() {
    let mut stack = started();
    let before = status(&stack);
    assert_eq!(before["project"].as_str().map(str::is_empty), Some(false));
    assert_eq!(service(&before, "api")["state"], "ready", "{before}");
    let api_pid = service(&before, "api")["pid"].clone();
    assert!(api_pid.is_u64());

    // The text status names every service with its state.
    let (code, text, _) = stack.ctl(&["status"]);
    assert!(code.success());
    for name in ["db", "api", "cache"] {
        assert!(
            text.lines()
                .any(|l| l.starts_with(name) && l.contains("ready")),
            "{text}"
        );
    }

    // restart returns once api is ready again, with a new process.
    let (code, out, err) = stack.ctl(&["restart", "api"]);
    assert!(code.success(), "restart: {out}{err}");
    assert!(out.contains("api: ready"), "{out}");
    let after = status(&stack);
    assert_eq!(service(&after, "api")["state"], "ready");
    assert_ne!(service(&after, "api")["pid"], api_pid, "a new process");

    // stop, then start.
    let (code, out, err) = stack.ctl(&["stop", "api"]);
    assert!(code.success(), "stop: {out}{err}");
    assert_eq!(service(&status(&stack), "api")["state"], "stopped");
    let (code, out, err) = stack.ctl(&["start", "api"]);
    assert!(code.success(), "start: {out}{err}");
    assert_eq!(service(&status(&stack), "api")["state"], "ready");

    // wait: everything named is ready.
    let (code, _, err) = stack.ctl(&["wait", "db", "api", "--timeout", "30s"]);
    assert!(code.success(), "wait: {err}");

    // skip an optional service; a required one is refused with why.
    let (code, out, err) = stack.ctl(&["skip", "cache"]);
    assert!(code.success(), "skip: {out}{err}");
    assert_eq!(service(&status(&stack), "cache")["state"], "skipped");
    let (code, _, err) = stack.ctl(&["skip", "db"]);
    assert_eq!(code.code(), Some(1), "{err}");
    assert!(err.contains("db"), "{err}");

    // wait for a service that cannot come up says why, exit 1.
    let (code, _, err) = stack.ctl(&["wait", "cache", "--timeout", "10s"]);
    assert_eq!(code.code(), Some(1), "{err}");
    assert!(err.contains("cache"), "{err}");

    // kill: SIGKILL, it stays stopped.
    let (code, out, err) = stack.ctl(&["kill", "api"]);
    assert!(code.success(), "kill: {out}{err}");
    assert_eq!(service(&status(&stack), "api")["state"], "stopped");

    // An unknown service is a usage error that lists the real ones.
    let (code, _, err) = stack.ctl(&["restart", "nope"]);
    assert_eq!(code.code(), Some(2));
    assert!(err.contains("db") && err.contains("api"), "{err}");

    // down: returns once bringup has ended, leaving nothing behind.
    let (code, out, err) = stack.ctl(&["down"]);
    assert!(code.success(), "down: {out}{err}");
    let ended = stack.wait_exit();
    assert!(ended.code().is_some(), "bringup exited");
    stack.assert_no_survivors();
    let (code, _, err) = stack.ctl(&["status"]);
    assert_eq!(code.code(), Some(2), "no stack now: {err}");
    assert!(err.contains("bringup up"), "says how to start one: {err}");
}

#[test]
fn a_second_up_of_a_running_config_is_refused_and_says_how_to_reach_it() {
    let stack = started();
    let (code, _, err) = stack.ctl(&["up", "--no-tui"]);
    assert_eq!(code.code(), Some(2), "{err}");
    assert!(err.contains("already running"), "{err}");
    assert!(
        err.contains(&stack.pid().to_string()),
        "names the bringup: {err}"
    );
    // The running one is untouched.
    assert_eq!(service(&status(&stack), "db")["state"], "ready");
}

fn listed(stack: &Stack) -> Vec<Value> {
    let (code, out, err) = stack.ctl(&["ls", "--json"]);
    assert!(code.success(), "ls: {err}");
    serde_json::from_str::<Vec<Value>>(&out).unwrap_or_else(|e| panic!("ls --json ({e}): {out}"))
}

#[test]
fn ls_lists_running_stacks_and_forgets_a_killed_one() {
    let mut first = started();
    let second = started();
    let pids: Vec<u64> = listed(&first)
        .iter()
        .filter_map(|r| r["pid"].as_u64())
        .collect();
    for stack in [&first, &second] {
        assert!(
            pids.contains(&(stack.pid() as u64)),
            "{pids:?} lists {}",
            stack.pid()
        );
    }
    // SIGKILL: no chance to remove its record; ls must not list it.
    first.kill_with_watchdog();
    first.assert_no_survivors();
    let pids: Vec<u64> = listed(&second)
        .iter()
        .filter_map(|r| r["pid"].as_u64())
        .collect();
    assert!(!pids.contains(&(first.pid() as u64)), "{pids:?}");
    assert!(pids.contains(&(second.pid() as u64)), "{pids:?}");
    // And its config can be brought up again.
    let (code, _, err) = first.ctl(&["status"]);
    assert_eq!(code.code(), Some(2), "{err}");
}

/// The control socket of `stack`, from `ls --json`.
fn socket(stack: &Stack) -> PathBuf {
    listed(stack)
        .iter()
        .find(|r| r["pid"].as_u64() == Some(stack.pid() as u64))
        .and_then(|r| r["socket"].as_str().map(PathBuf::from))
        .expect("the stack is listed with its socket")
}

/// Sends `request` raw and reads until the server closes (or 10 s).
fn raw(socket: &PathBuf, request: &[u8]) -> String {
    let mut stream = UnixStream::connect(socket).expect("connect");
    stream
        .set_read_timeout(Some(Duration::from_secs(10)))
        .unwrap();
    let _ = stream.write_all(request);
    let mut answer = Vec::new();
    let _ = stream.read_to_end(&mut answer);
    String::from_utf8_lossy(&answer).into_owned()
}

fn get(socket: &PathBuf, path: &str) -> String {
    raw(
        socket,
        format!("GET {path} HTTP/1.1\r\nHost: bringup\r\nConnection: close\r\n\r\n").as_bytes(),
    )
}

fn post(socket: &PathBuf, path: &str, body: &str) -> String {
    raw(
        socket,
        format!(
            "POST {path} HTTP/1.1\r\nHost: bringup\r\nConnection: close\r\nContent-Length: {}\r\n\r\n{body}",
            body.len()
        )
        .as_bytes(),
    )
}

#[test]
fn bad_requests_get_an_error_and_leave_the_stack_undisturbed() {
    let stack = started();
    let socket = socket(&stack);
    let hello = get(&socket, "/v1/hello");
    assert!(hello.starts_with("HTTP/1.1 200"), "{hello}");
    assert!(hello.contains("\"protocol\":1"), "{hello}");
    // How many lines it keeps, for a mirror of its logs.
    assert!(hello.contains("\"log_lines\":"), "{hello}");

    let answer = get(&socket, "/v2/hello");
    assert!(
        answer.starts_with("HTTP/1.1 404") && answer.contains("unsupported_version"),
        "{answer}"
    );
    let answer = get(&socket, "/v1/nothing");
    assert!(answer.contains("no_such_route"), "{answer}");
    let answer = post(
        &socket,
        "/v1/command",
        r#"{"command":"restart","service":999}"#,
    );
    assert!(answer.contains("unknown_service"), "{answer}");
    let answer = post(&socket, "/v1/command", "{not json");
    assert!(
        answer.starts_with("HTTP/1.1 400") && answer.contains("bad_request"),
        "{answer}"
    );
    let answer = get(&socket, "/v1/logs/nope");
    assert!(answer.contains("unknown_service"), "{answer}");
    let answer = get(&socket, "/v1/logs/db?from=x");
    assert!(answer.contains("bad_request"), "{answer}");
    // Who holds a port: a port, or a bad request; db's port is db's.
    let answer = get(&socket, "/v1/ports/70000");
    assert!(answer.contains("bad_request"), "{answer}");
    let db = service(&status(&stack), "db").clone();
    let answer = get(&socket, &format!("/v1/ports/{}", db["port"]));
    assert!(
        answer.starts_with("HTTP/1.1 200") && answer.contains(r#""service":"db""#),
        "{answer}"
    );
    assert!(
        answer.contains(&format!(r#""pid":{}"#, db["pid"])),
        "{answer}"
    );
    let big = "x".repeat(200 * 1024);
    let answer = post(&socket, "/v1/command", &big);
    assert!(
        answer.contains("too_large"),
        "{}",
        &answer[..answer.len().min(300)]
    );

    // Random bytes: an HTTP error or a closed connection, quickly.
    let noise: Vec<u8> = (0..4096u32)
        .map(|i| (i.wrapping_mul(2_654_435_761) >> 13) as u8)
        .collect();
    let answer = raw(&socket, &noise);
    assert!(
        answer.is_empty() || answer.starts_with("HTTP/1.1 4"),
        "{answer}"
    );

    // A 100 MiB request line: refused long before it ends, no hang.
    let started = Instant::now();
    let mut stream = UnixStream::connect(&socket).expect("connect");
    stream
        .set_write_timeout(Some(Duration::from_secs(10)))
        .unwrap();
    let _ = stream.write_all(b"GET /v1/");
    let chunk = vec![b'a'; 1024 * 1024];
    for _ in 0..100 {
        if stream.write_all(&chunk).is_err() {
            break;
        }
    }
    assert!(started.elapsed() < DEADLINE, "the server kept reading");
    drop(stream);

    // A flood of connections: the stack still answers, and keeps running.
    let flood: Vec<UnixStream> = (0..300)
        .filter_map(|_| UnixStream::connect(&socket).ok())
        .collect();
    // (Beyond 64 at once, connections are hung up on: this one may be.)
    let _ = get(&socket, "/v1/snapshot");
    drop(flood);
    // Once the flood is gone, the socket answers again.
    support::poll("the socket to answer after the flood", || {
        get(&socket, "/v1/snapshot")
            .starts_with("HTTP/1.1 200")
            .then_some(())
    });
    assert_eq!(service(&status(&stack), "db")["state"], "ready");
    assert_eq!(service(&status(&stack), "api")["state"], "ready");
}

#[test]
fn the_stream_and_logs_speak_json_lines() {
    let stack = started();
    let socket = socket(&stack);
    let page = get(&socket, "/v1/logs/db?from=0&max=10");
    assert!(page.starts_with("HTTP/1.1 200"), "{page}");
    let body = page.split("\r\n\r\n").nth(1).expect("a body");
    let page: Value = serde_json::from_str(body).expect("a JSON page");
    assert!(
        page["lines"].as_array().is_some_and(|l| !l.is_empty()),
        "{page}"
    );
    let own = get(&socket, "/v1/logs/bringup?max=5");
    assert!(own.starts_with("HTTP/1.1 200"), "{own}");
    // All logs come only as one stream, each line saying whose it is.
    let all = get(&socket, "/v1/logs");
    assert!(all.contains("bad_request"), "{all}");
    let mut all = UnixStream::connect(&socket).expect("connect");
    all.write_all(b"GET /v1/logs?follow=1 HTTP/1.1\r\nHost: bringup\r\n\r\n")
        .unwrap();
    all.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
    let mut text = String::new();
    let deadline = Instant::now() + DEADLINE;
    let mut buffer = vec![0u8; 65536];
    while !(text.contains("\"log\":0") && text.contains("db ")) && Instant::now() < deadline {
        if let Ok(n) = all.read(&mut buffer) {
            text.push_str(&String::from_utf8_lossy(&buffer[..n]));
        }
    }
    assert!(text.contains("\"log\":0") && text.contains("db "), "{text}");
    drop(all);

    // The stream starts with the snapshot; a restart's events follow.
    let mut stream = UnixStream::connect(&socket).expect("connect");
    stream
        .write_all(b"GET /v1/stream HTTP/1.1\r\nHost: bringup\r\n\r\n")
        .unwrap();
    stream
        .set_read_timeout(Some(Duration::from_secs(1)))
        .unwrap();
    let (code, _, err) = stack.ctl(&["restart", "api", "--no-wait"]);
    assert!(code.success(), "{err}");
    let deadline = Instant::now() + DEADLINE;
    let mut seen = Vec::new();
    let mut buffer = [0u8; 65536];
    while Instant::now() < deadline {
        if let Ok(n) = stream.read(&mut buffer) {
            seen.extend_from_slice(&buffer[..n]);
        }
        let text = String::from_utf8_lossy(&seen);
        if text.contains("\"snapshot\"") && text.contains("\"event\":\"spawned\"") {
            return;
        }
    }
    panic!(
        "no snapshot and spawn event in the stream: {}",
        String::from_utf8_lossy(&seen)
    );
}

#[test]
fn logs_show_what_services_printed_and_follow_new_lines() {
    let stack = started();
    let (code, out, err) = stack.ctl(&["logs", "db", "-n", "3"]);
    assert!(code.success(), "{err}");
    let lines: Vec<&str> = out.lines().collect();
    assert!(!lines.is_empty() && lines.len() <= 3, "{out}");
    assert!(
        lines
            .iter()
            .all(|l| l.starts_with("db ") && !l.contains(" | ")),
        "one service: its lines, no prefix: {out}"
    );

    // Several services: merged, each line prefixed with its service.
    let (code, out, _) = stack.ctl(&["logs"]);
    assert!(code.success());
    assert!(
        out.lines()
            .any(|l| l.starts_with("db ") && l.contains(" | db tick")),
        "{out}"
    );

    // bringup's own log says what it did.
    let (code, out, _) = stack.ctl(&["logs", "--bringup"]);
    assert!(code.success());
    assert!(out.contains("api"), "{out}");

    // -f: the ticks keep coming, and it ends when the stack does.
    let config = stack.dir.path().join("bringup.toml");
    let mut follower = std::process::Command::new(support::BIN)
        .args([
            "-c",
            &config.to_string_lossy(),
            "logs",
            "-f",
            "-n",
            "0",
            "db",
        ])
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::null())
        .spawn()
        .expect("logs -f");
    let stdout = follower.stdout.take().expect("stdout");
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        use std::io::BufRead;
        for line in std::io::BufReader::new(stdout)
            .lines()
            .map_while(Result::ok)
        {
            let _ = tx.send(line);
        }
    });
    let first = rx
        .recv_timeout(DEADLINE)
        .expect("a new line within the deadline");
    assert!(first.starts_with("db tick"), "{first}");
    let (code, _, err) = stack.ctl(&["down"]);
    assert!(code.success(), "{err}");
    let deadline = Instant::now() + DEADLINE;
    let status = loop {
        if let Some(status) = follower.try_wait().expect("wait") {
            break status;
        }
        if Instant::now() > deadline {
            let _ = follower.kill();
            panic!("logs -f did not end with the stack");
        }
        std::thread::sleep(Duration::from_millis(20));
    };
    assert!(status.success());
}

#[test]
fn run_gives_the_command_the_stacks_ports_and_exits_with_its_status() {
    let check = r#"import os, sys, urllib.request
port = os.environ["BRINGUP_PORT_API"]
print("api", urllib.request.urlopen(f"http://127.0.0.1:{port}/health/ready").status)
sys.exit(3)"#;
    let mut stack = Stack::start(&config(), &["run", "--", "python3", "-c", check]);
    let status = stack.wait_exit();
    assert_eq!(status.code(), Some(3), "CMD's status: {}", stack.stderr());
    assert!(
        stack.stdout().contains("api 200"),
        "CMD reached api: {}",
        stack.stdout()
    );
    stack.assert_no_survivors();

    let mut stack = Stack::start(&config(), &["run", "--", "true"]);
    assert_eq!(stack.wait_exit().code(), Some(0), "{}", stack.stderr());
    stack.assert_no_survivors();
}

#[test]
fn run_does_not_run_the_command_when_the_stack_fails_and_says_why() {
    let mut stack = Stack::start(FAILING, &["run", "--", "touch", "ran"]);
    let status = stack.wait_exit();
    assert_eq!(status.code(), Some(125), "{}", stack.stderr());
    let said = stack.stderr();
    assert!(said.contains("the command did not run"), "{said}");
    assert!(
        said.contains("db:") && said.contains("db cannot open its data directory"),
        "{said}"
    );
    assert!(
        said.contains("api:"),
        "the blocked dependent is named: {said}"
    );
    assert!(!stack.dir.path().join("ran").exists(), "CMD ran");
    stack.assert_no_survivors();
}

#[test]
fn run_passes_sigterm_to_the_command_and_still_tears_the_stack_down() {
    let mut stack = Stack::start(&config(), &["run", "--", "sleep", "600"]);
    stack.wait_until("the command to start", |_| {
        // (Not bringup, whose own command line ends with "sleep 600".)
        support::processes_with_command("sleep 600")
            .iter()
            .any(|&p| {
                support::command_line(p).starts_with("sleep 600")
                    && std::fs::read_to_string(format!("/proc/{p}/environ"))
                        .is_ok_and(|env| env.contains(&stack.marker))
            })
    });
    stack.signal(nix::sys::signal::Signal::SIGTERM);
    let status = stack.wait_exit();
    assert_eq!(
        status.code(),
        Some(128 + 15),
        "{status:?} {}",
        stack.stderr()
    );
    stack.assert_no_survivors();
}

/// The background bringup of `up -d`, from `ls`.
fn background_pid(stack: &Stack) -> i32 {
    let listed = listed(stack);
    let config = std::fs::canonicalize(stack.dir.path().join("bringup.toml")).unwrap();
    listed
        .iter()
        .find(|r| r["config"].as_str() == config.to_str())
        .and_then(|r| r["pid"].as_i64())
        .map(|p| p as i32)
        .unwrap_or_else(|| panic!("the stack is listed: {listed:?}"))
}

#[test]
fn up_d_returns_once_ready_and_the_stack_runs_on_in_its_own_session() {
    let mut stack = Stack::start(&config(), &["up", "-d"]);
    let status_code = stack.wait_exit();
    assert!(
        status_code.success(),
        "{}{}",
        stack.stdout(),
        stack.stderr()
    );
    assert!(
        stack.stdout().contains("running in the background"),
        "{}",
        stack.stdout()
    );
    let pid = background_pid(&stack);
    // No terminal: a session of its own.
    assert_eq!(
        nix::unistd::getsid(Some(nix::unistd::Pid::from_raw(pid))).map(|p| p.as_raw()),
        Ok(pid)
    );
    assert_eq!(service(&status(&stack), "api")["state"], "ready");
    // What it says about itself is kept in a file.
    let logs = stack.dir.path().join("state/bringup/logs");
    let kept: String = std::fs::read_dir(&logs)
        .expect("the log directory")
        .flatten()
        .map(|e| std::fs::read_to_string(e.path()).unwrap_or_default())
        .collect();
    assert!(kept.contains("api"), "{kept}");
    // The verbs work on it as on a foreground stack.
    let (code, out, err) = stack.ctl(&["restart", "api"]);
    assert!(code.success() && out.contains("api: ready"), "{out}{err}");
    let (code, out, _) = stack.ctl(&["logs", "db", "-n", "1"]);
    assert!(code.success() && out.starts_with("db "), "{out}");
    let (code, _, err) = stack.ctl(&["wait", "--timeout", "30s"]);
    assert!(code.success(), "{err}");
    // A second up -d of the same config is refused.
    let (code, _, err) = stack.ctl(&["up", "-d"]);
    assert_eq!(code.code(), Some(2), "{err}");
    // down stops it all.
    let (code, out, err) = stack.ctl(&["down"]);
    assert!(code.success(), "{out}{err}");
    stack.assert_no_survivors();
}

#[test]
fn a_background_stack_killed_with_sigkill_leaves_nothing_behind() {
    let mut stack = Stack::start(&config(), &["up", "-d"]);
    assert!(stack.wait_exit().success(), "{}", stack.stderr());
    let pid = background_pid(&stack);
    nix::sys::signal::kill(
        nix::unistd::Pid::from_raw(pid),
        nix::sys::signal::Signal::SIGKILL,
    )
    .expect("kill");
    stack.assert_no_survivors();
    let (code, _, err) = stack.ctl(&["status"]);
    assert_eq!(code.code(), Some(2), "no stack: {err}");
}

/// db fails for good before it is ready; api needs it.
const FAILING: &str = r#"
[services.db]
command = "sh -c 'echo db cannot open its data directory; exit 1'"
restart = "never"
readiness = { log = "db is ready" }

[services.api]
command = "sleep 600"
depends_on = ["db"]
"#;

#[test]
fn up_d_of_a_stack_that_fails_says_why_and_leaves_it_running_unless_told() {
    let mut stack = Stack::start(FAILING, &["up", "-d"]);
    let code = stack.wait_exit();
    assert_eq!(code.code(), Some(1), "{}", stack.stderr());
    let said = stack.stderr();
    assert!(
        said.contains("did not come up") && said.contains("db cannot open its data directory"),
        "{said}"
    );
    // Still running, for a look.
    assert_eq!(service(&status(&stack), "db")["state"], "failed");
    let (code, _, err) = stack.ctl(&["down"]);
    assert!(code.success(), "{err}");
    stack.assert_no_survivors();

    let mut stack = Stack::start(FAILING, &["up", "-d", "--down-on-failure"]);
    assert_eq!(stack.wait_exit().code(), Some(1), "{}", stack.stderr());
    stack.assert_no_survivors();
    let (code, _, _) = stack.ctl(&["status"]);
    assert_eq!(code.code(), Some(2), "stopped: no stack");
}

/// A stack registers before it opens its socket: a verb that finds the
/// record but no socket waits for it a moment (a script asking right after
/// `bringup up` began), and if it never comes says what to do. Here the
/// record is planted by the test and no bringup ever opens the socket.
#[test]
fn a_registered_stack_without_a_socket_is_waited_for_then_explained() {
    let dir = tempfile::tempdir().expect("temp dir");
    let file = dir.path().join("bringup.toml");
    std::fs::write(
        &file,
        "[project]\nname = \"planted\"\n\n[services.a]\ncommand = \"true\"\n",
    )
    .unwrap();
    let identity = bringup::config::plan::identity_of(&file, "planted");
    let record = bringup::control::registry::Record {
        pid: std::process::id(),
        socket: dir.path().join("no.sock"),
        project: "planted".into(),
        config: std::fs::canonicalize(&file).unwrap(),
        started_unix_ms: 0,
        version: "test".into(),
    };
    // Held (and removed when dropped) as a starting bringup holds it.
    let _claim = bringup::control::registry::claim(&identity, &record).expect("claim");
    let started = Instant::now();
    let (code, _, err) = support::run(&["-c", &file.to_string_lossy(), "status"], dir.path());
    assert_eq!(code.code(), Some(2), "{err}");
    assert!(
        started.elapsed() >= Duration::from_secs(4),
        "it waited for the socket"
    );
    assert!(
        err.contains("does not answer") && err.contains("bringup ls"),
        "{err}"
    );
}

#[test]
fn run_stopped_before_the_stack_is_up_says_so_and_exits_130() {
    let config = r#"
[services.slow]
command = "sleep 600"
readiness = { log = "never said" }
"#;
    let mut stack = Stack::start(config, &["run", "--", "touch", "ran"]);
    stack.wait_until("the service to start", |_| {
        support::processes_with_marker(&stack.marker)
            .iter()
            .any(|&p| support::command_line(p).starts_with("sleep 600"))
    });
    stack.signal(nix::sys::signal::Signal::SIGINT);
    let status = stack.wait_exit();
    assert_eq!(status.code(), Some(130), "{status:?} {}", stack.stderr());
    assert!(
        stack.stderr().contains("the command did not run"),
        "{}",
        stack.stderr()
    );
    assert!(!stack.dir.path().join("ran").exists(), "CMD ran");
    stack.assert_no_survivors();
}

/// Runs a verb on `stack` whose standard output is a pipe nobody reads
/// any more (`bringup status | head -0`): (status, stderr).
fn run_cut_short(stack: &Stack, args: &[&str]) -> (std::process::ExitStatus, String) {
    let (read, write) = nix::unistd::pipe().expect("a pipe");
    drop(read);
    let output = stack
        .command(args)
        .stdout(std::process::Stdio::from(write))
        .output()
        .expect("run bringup");
    (
        output.status,
        String::from_utf8_lossy(&output.stderr).into_owned(),
    )
}

#[test]
fn verbs_whose_output_is_cut_short_end_quietly() {
    use std::os::unix::process::ExitStatusExt;
    let mut stack = Stack::start(&config(), &["up", "-d"]);
    assert!(stack.wait_exit().success(), "{}", stack.stderr());
    let api_before = service(&status(&stack), "api")["pid"].as_u64();
    for args in [
        &["status"][..],
        &["restart", "api"],
        &["wait", "--timeout", "30s"],
        &["reload"],
        &["logs", "db", "-n", "5"],
        &["down"],
        &["up", "-d"],
        &["down"],
    ] {
        let (ended, err) = run_cut_short(&stack, args);
        // Ended by the closed pipe, or done before it wrote: either way
        // without a word and without a panic.
        assert!(
            (ended.signal() == Some(Signal::SIGPIPE as i32) || ended.success())
                && !err.contains("panicked"),
            "bringup {args:?} with its output cut short: {ended:?}\n{err}"
        );
        // And it did its job all the same.
        match args {
            ["restart", _] => {
                let after = service(&status(&stack), "api")["pid"].as_u64();
                assert!(after.is_some() && after != api_before, "api restarted");
            }
            ["down"] => {
                let (code, _, err) = stack.ctl(&["status"]);
                assert_eq!(code.code(), Some(2), "the stack is down: {err}");
            }
            _ => {}
        }
    }
    stack.assert_no_survivors();
}

#[test]
fn a_stack_whose_project_was_renamed_in_its_file_is_still_found_and_not_started_twice() {
    let config = format!("[project]\nname = \"first\"\n{}", config());
    let mut stack = Stack::start(&config, &["up", "-d"]);
    assert!(stack.wait_exit().success(), "{}", stack.stderr());
    let file = stack.dir.path().join("bringup.toml");
    let text = std::fs::read_to_string(&file).unwrap();
    std::fs::write(&file, text.replace("\"first\"", "\"second\"")).unwrap();
    // The verbs reach it, saying what happened and what to do.
    let (code, out, err) = stack.ctl(&["status"]);
    assert!(code.success(), "{out}{err}");
    assert!(out.contains("api"), "{out}");
    assert!(
        err.contains("runs as project `first`") && err.contains("`bringup down` and `bringup up`"),
        "{err}"
    );
    // The running stack cannot take the new name, and says how to.
    let (code, out, err) = stack.ctl(&["reload"]);
    assert_eq!(code.code(), Some(1), "{out}{err}");
    assert!(
        err.contains("the project's name changed")
            && err.contains("`bringup down` and `bringup up` apply it"),
        "{err}"
    );
    // A second stack of the same file would fight it for its ports.
    let (code, out, err) = stack.ctl(&["up", "-d"]);
    assert!(!code.success(), "{out}{err}");
    assert!(err.contains("already running as project `first`"), "{err}");
    let (code, out, err) = stack.ctl(&["down"]);
    assert!(code.success(), "{out}{err}");
    stack.assert_no_survivors();
}
