//! Integration tests for `bringup fixture`: they run the real binary on real ports.
//!
//! Every process a test starts is owned by a [`Running`] guard whose `Drop`
//! SIGKILLs it and all its descendants, so a failed assertion leaks nothing.
//! Waiting is always a bounded poll (every 10 ms, up to [`DEADLINE`]).

// A test fails by panicking; `expect` says why.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::os::fd::{AsRawFd, BorrowedFd, FromRawFd, OwnedFd};
use std::os::unix::net::UnixDatagram;
use std::os::unix::process::{CommandExt, ExitStatusExt};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::mpsc::{self, Receiver, RecvTimeoutError};
use std::time::{Duration, Instant};

mod support;

use bringup::fixture::monotonic_nanos;
use nix::sys::signal::{Signal, kill};
use nix::unistd::Pid;
use support::{BIN, DEADLINE, POLL, free_port, poll};

/// `bringup fixture ARGS`, with an environment scrubbed of variables it reads.
fn fixture(args: &[&str]) -> Command {
    let mut cmd = Command::new(BIN);
    cmd.arg("fixture").args(args);
    for var in [
        "PORT",
        "LISTEN_FDS",
        "LISTEN_PID",
        "LISTEN_FDNAMES",
        "NOTIFY_SOCKET",
    ] {
        cmd.env_remove(var);
    }
    cmd
}

/// Sends lines read from `stream` into a channel, from a background thread.
fn lines_of(stream: Option<impl Read + Send + 'static>) -> Receiver<String> {
    let (tx, rx) = mpsc::channel();
    let Some(stream) = stream else { return rx };
    std::thread::spawn(move || {
        for line in BufReader::new(stream).lines().map_while(Result::ok) {
            if tx.send(line).is_err() {
                break;
            }
        }
    });
    rx
}

/// `(state, ppid, pgrp)` from /proc/PID/stat.
fn proc_stat(pid: i32) -> Option<(char, i32, i32)> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // The command name may contain spaces and parentheses: parse after the last ')'.
    let mut fields = stat.get(stat.rfind(')')? + 1..)?.split_whitespace();
    let state = fields.next()?.chars().next()?;
    Some((
        state,
        fields.next()?.parse().ok()?,
        fields.next()?.parse().ok()?,
    ))
}

/// Every live descendant of `root`, found by scanning parent pids in /proc.
fn descendants(root: i32) -> Vec<i32> {
    let pairs: Vec<(i32, i32)> = std::fs::read_dir("/proc")
        .map(|dir| {
            let pids = dir.filter_map(|e| e.ok()?.file_name().to_str()?.parse().ok());
            pids.filter_map(|pid| Some((pid, proc_stat(pid)?.1)))
                .collect()
        })
        .unwrap_or_default();
    let mut found = vec![root];
    let mut i = 0;
    while i < found.len() {
        let parent = found[i];
        found.extend(
            pairs
                .iter()
                .filter(|(_, ppid)| *ppid == parent)
                .map(|(pid, _)| *pid),
        );
        i += 1;
    }
    found.remove(0);
    found
}

fn cmdline(pid: i32) -> String {
    std::fs::read(format!("/proc/{pid}/cmdline"))
        .map(|raw| String::from_utf8_lossy(&raw).replace('\0', " "))
        .unwrap_or_default()
}

/// A started fixture. Dropping it SIGKILLs the process, its descendants and any
/// pid added to `extra` (after checking it is still a fixture), then reaps it.
struct Running {
    child: Child,
    stdout: Receiver<String>,
    stderr: Receiver<String>,
    seen: Vec<String>,
    extra: Vec<i32>,
}

impl Running {
    fn start(args: &[&str]) -> Running {
        Running::spawn(fixture(args))
    }

    fn spawn(mut cmd: Command) -> Running {
        cmd.stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        let mut child = cmd.spawn().expect("spawn fixture");
        Running {
            stdout: lines_of(child.stdout.take()),
            stderr: lines_of(child.stderr.take()),
            child,
            seen: Vec::new(),
            extra: Vec::new(),
        }
    }

    fn pid(&self) -> i32 {
        self.child.id() as i32
    }

    fn signal(&self, signal: Signal) {
        kill(Pid::from_raw(self.pid()), signal).expect("kill");
    }

    /// Waits for a stdout line satisfying `pred` and returns it.
    fn wait_line(&mut self, pred: impl Fn(&str) -> bool) -> String {
        let deadline = Instant::now() + DEADLINE;
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            match self.stdout.recv_timeout(left) {
                Ok(line) if pred(&line) => return line,
                Ok(line) => self.seen.push(line),
                Err(RecvTimeoutError::Timeout) => panic!("no such line; saw {:?}", self.seen),
                Err(RecvTimeoutError::Disconnected) => panic!("stdout closed; saw {:?}", self.seen),
            }
        }
    }

    /// Waits for the process to exit by itself.
    fn wait_exit(&mut self) -> ExitStatus {
        poll("the fixture to exit", || {
            self.child.try_wait().expect("try_wait")
        })
    }

    /// All of stdout, once the process has exited and closed it.
    fn rest_of_stdout(&mut self) -> Vec<String> {
        let mut lines = std::mem::take(&mut self.seen);
        drain(&self.stdout, &mut lines);
        lines
    }

    /// All of stderr, once the process has exited and closed it.
    fn stderr_text(&mut self) -> String {
        let mut lines = Vec::new();
        drain(&self.stderr, &mut lines);
        lines.join("\n")
    }
}

/// Moves lines from `rx` into `into` until the writer is gone.
fn drain(rx: &Receiver<String>, into: &mut Vec<String>) {
    poll("the output to close", || {
        loop {
            match rx.recv_timeout(POLL) {
                Ok(line) => into.push(line),
                Err(RecvTimeoutError::Timeout) => return None,
                Err(RecvTimeoutError::Disconnected) => return Some(()),
            }
        }
    });
}

impl Drop for Running {
    fn drop(&mut self) {
        let mut victims = descendants(self.pid());
        victims.extend(
            self.extra
                .iter()
                .filter(|&&pid| cmdline(pid).contains("fixture")),
        );
        let _ = self.child.kill();
        for pid in victims {
            let _ = kill(Pid::from_raw(pid), Signal::SIGKILL);
        }
        let _ = self.child.wait();
    }
}

/// A minimal HTTP/1.1 GET: `(status, body)`, or `None` if the connection fails.
fn get(port: u16, path: &str) -> Option<(u16, String)> {
    let mut stream = TcpStream::connect(("127.0.0.1", port)).ok()?;
    stream.set_read_timeout(Some(DEADLINE)).ok()?;
    let request = format!("GET {path} HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n");
    stream.write_all(request.as_bytes()).ok()?;
    let mut response = String::new();
    stream.read_to_string(&mut response).ok()?;
    let status = response.split(' ').nth(1)?.parse().ok()?;
    let (_, body) = response.split_once("\r\n\r\n")?;
    Some((status, body.to_owned()))
}

fn json(body: &str) -> serde_json::Value {
    serde_json::from_str(body).unwrap_or_else(|e| panic!("bad JSON {body:?}: {e}"))
}

#[test]
fn ready_after_gives_503_then_200_and_endpoints_answer() {
    let port = free_port();
    let started = Instant::now();
    let mut f = Running::start(&[
        "--name",
        "web",
        "--port",
        &port.to_string(),
        "--ready-after",
        "2s",
    ]);
    f.wait_line(|l| l == format!("web listening on 127.0.0.1:{port}"));
    assert_eq!(get(port, "/health/live"), Some((200, "ok".into())));

    let (status, body) = get(port, "/health/ready").expect("GET /health/ready");
    assert_eq!(
        (status, json(&body)),
        (503, serde_json::json!({"status": "starting"}))
    );
    let body = poll("readiness", || match get(port, "/health/ready") {
        Some((200, body)) => Some(body),
        _ => None,
    });
    assert!(
        started.elapsed() >= Duration::from_secs(2),
        "ready too early"
    );
    assert_eq!(
        json(&body),
        serde_json::json!({"status": "ready", "name": "web"})
    );

    assert_eq!(get(port, "/"), Some((200, "web\n".into())));
    let (status, body) = get(port, "/status").expect("GET /status");
    let status_json = json(&body);
    assert_eq!(status, 200);
    assert_eq!(status_json["name"], "web");
    assert_eq!(status_json["pid"], f.pid());
    assert_eq!(status_json["ready"], true);
    assert!(status_json["uptime_ms"].as_u64().expect("uptime_ms") >= 2000);
    assert_eq!(get(port, "/nope").map(|r| r.0), Some(404));
}

#[test]
fn port_from_env_and_ready_line() {
    let port = free_port();
    let mut cmd = fixture(&["--name", "envy", "--ready-line", "up {name} on {port}"]);
    cmd.env("PORT", port.to_string());
    let mut f = Running::spawn(cmd);
    f.wait_line(|l| l == format!("up envy on {port}"));
    assert_eq!(get(port, "/health/ready").map(|r| r.0), Some(200));
}

#[test]
fn record_lists_lifecycle_events_in_order() {
    let dir = tempfile::tempdir().expect("tempdir");
    let record = dir.path().join("events");
    let port = free_port().to_string();
    let before = monotonic_nanos();
    let record_arg = record.to_str().expect("utf-8 path");
    let mut f = Running::start(&[
        "--name",
        "rec",
        "--port",
        &port,
        "--ready-after",
        "100ms",
        "--term-delay",
        "100ms",
        "--record",
        record_arg,
    ]);
    poll("the ready record", || {
        let text = std::fs::read_to_string(&record).ok()?;
        text.contains(" rec ready ").then_some(())
    });
    f.signal(Signal::SIGTERM);
    assert_eq!(f.wait_exit().code(), Some(0));
    let after = monotonic_nanos();

    let text = std::fs::read_to_string(&record).expect("read record");
    let rows: Vec<Vec<&str>> = text.lines().map(|l| l.split(' ').collect()).collect();
    let events: Vec<&str> = rows.iter().map(|r| r[2]).collect();
    assert_eq!(
        events,
        ["start", "bound", "ready", "sigterm", "exit"],
        "{text}"
    );
    let times: Vec<u64> = rows
        .iter()
        .map(|r| r[0].parse().expect("nanoseconds"))
        .collect();
    for row in &rows {
        assert_eq!(
            (row.len(), row[1], row[3]),
            (4, "rec", f.pid().to_string().as_str())
        );
    }
    assert!(times.windows(2).all(|w| w[0] <= w[1]), "{text}");
    assert!(before <= times[0] && times[4] <= after, "{text}");
    assert!(
        times[2] - times[0] >= 100_000_000,
        "ready before --ready-after: {text}"
    );
    assert!(
        times[4] - times[3] >= 100_000_000,
        "exit before --term-delay: {text}"
    );
}

#[test]
fn exit_after_exits_with_the_code() {
    let started = Instant::now();
    let mut f = Running::start(&[
        "--name",
        "quitter",
        "--exit-after",
        "200ms",
        "--exit-code",
        "3",
    ]);
    assert_eq!(f.wait_exit().code(), Some(3));
    assert!(started.elapsed() >= Duration::from_millis(200));
    assert!(
        f.rest_of_stdout()
            .contains(&"quitter exiting with code 3".to_string())
    );
}

#[test]
fn ignore_sigterm_survives_until_sigkill() {
    let mut f = Running::start(&[
        "--name",
        "stubborn",
        "--ignore-sigterm",
        "--ready-line",
        "go",
    ]);
    f.wait_line(|l| l == "go");
    f.signal(Signal::SIGTERM);
    f.wait_line(|l| l == "stubborn ignoring SIGTERM");
    let until = Instant::now() + Duration::from_millis(300);
    while Instant::now() < until {
        assert!(
            f.child.try_wait().expect("try_wait").is_none(),
            "died of SIGTERM"
        );
        std::thread::sleep(POLL);
    }
    f.signal(Signal::SIGKILL);
    assert_eq!(f.wait_exit().signal(), Some(Signal::SIGKILL as i32));
}

#[test]
fn term_delay_and_sigint() {
    let mut f = Running::start(&[
        "--name",
        "slow",
        "--term-delay",
        "300ms",
        "--ready-line",
        "go",
    ]);
    f.wait_line(|l| l == "go");
    let signalled = Instant::now();
    f.signal(Signal::SIGTERM);
    assert_eq!(f.wait_exit().code(), Some(0));
    assert!(signalled.elapsed() >= Duration::from_millis(300));

    let mut f = Running::start(&["--name", "int", "--ready-line", "go"]);
    f.wait_line(|l| l == "go");
    f.signal(Signal::SIGINT);
    assert_eq!(f.wait_exit().code(), Some(0));
}

#[test]
fn grandchild_is_spawned_in_the_group_and_outlives_the_fixture() {
    let mut f = Running::start(&["--name", "gp", "--grandchild", "--ready-line", "go"]);
    let line = f.wait_line(|l| l.starts_with("gp spawned grandchild "));
    let grandchild: i32 = line
        .rsplit(' ')
        .next()
        .and_then(|p| p.parse().ok())
        .expect("pid");
    f.extra.push(grandchild);
    f.wait_line(|l| l == "go");

    let (_, ppid, pgrp) = proc_stat(grandchild).expect("grandchild is alive");
    assert_eq!(ppid, f.pid());
    assert_eq!(
        pgrp,
        proc_stat(f.pid()).expect("fixture stat").2,
        "same process group"
    );
    assert!(descendants(f.pid()).contains(&grandchild));
    assert!(cmdline(grandchild).contains("fixture --name gp-grandchild --idle"));

    // A normal exit leaves the grandchild running (the Drop guard kills it).
    f.signal(Signal::SIGTERM);
    assert_eq!(f.wait_exit().code(), Some(0));
    let (state, ppid, _) = proc_stat(grandchild).expect("grandchild still alive");
    assert!(
        state != 'Z' && ppid != f.pid(),
        "state {state}, ppid {ppid}"
    );
}

#[test]
fn port_in_use_exits_2_with_a_message() {
    let taken = TcpListener::bind("127.0.0.1:0").expect("bind");
    let port = taken.local_addr().expect("local_addr").port().to_string();
    let mut f = Running::start(&["--name", "clash", "--port", &port]);
    assert_eq!(f.wait_exit().code(), Some(2));
    let stderr = f.stderr_text();
    assert!(
        stderr.contains(&format!("clash: cannot listen on 127.0.0.1:{port}")),
        "{stderr}"
    );
}

#[test]
fn bad_duration_is_a_usage_error() {
    let mut f = Running::start(&["--ready-after", "soon"]);
    assert_eq!(f.wait_exit().code(), Some(2));
    assert!(f.stderr_text().contains("invalid value 'soon'"));
}

#[test]
fn flood_prints_n_lines_then_carries_on() {
    let mut f = Running::start(&["--name", "fl", "--flood", "5000", "--exit-after", "300ms"]);
    assert_eq!(f.wait_exit().code(), Some(0));
    let lines = f.rest_of_stdout();
    let flood: Vec<&String> = lines
        .iter()
        .filter(|l| l.starts_with("fl flood "))
        .collect();
    assert_eq!(flood.len(), 5000);
    assert!(
        flood.iter().all(|l| l.len() == 79),
        "lines of 80 bytes with the newline"
    );
    assert_eq!(
        lines.last().map(String::as_str),
        Some("fl exiting with code 0")
    );
}

#[test]
fn ticks_go_to_stdout_or_stderr() {
    let mut f = Running::start(&["--name", "t", "--log-every", "20ms"]);
    f.wait_line(|l| l == "t tick 1");
    f.wait_line(|l| l == "t tick 2");

    let f = Running::start(&["--name", "e", "--log-every", "20ms", "--log-stderr"]);
    let line = f.stderr.recv_timeout(DEADLINE).expect("a tick on stderr");
    assert_eq!(line, "e tick 1");
}

#[test]
fn live_fails_after_the_given_time() {
    let port = free_port();
    let mut f = Running::start(&["--port", &port.to_string(), "--live-fail-after", "300ms"]);
    f.wait_line(|l| l.contains(" listening on "));
    let started = Instant::now();
    assert_eq!(get(port, "/health/live").map(|r| r.0), Some(200));
    poll("liveness to fail", || {
        (get(port, "/health/live")?.0 == 500).then_some(())
    });
    assert!(started.elapsed() < DEADLINE);
}

#[test]
fn notify_sends_ready_to_notify_socket() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("notify");
    let socket = UnixDatagram::bind(&path).expect("bind notify socket");
    socket.set_read_timeout(Some(DEADLINE)).expect("timeout");
    let mut cmd = fixture(&["--name", "n", "--notify", "--ready-after", "50ms"]);
    cmd.env("NOTIFY_SOCKET", &path);
    let _f = Running::spawn(cmd);
    let mut buf = [0u8; 64];
    let n = socket.recv(&mut buf).expect("a notification");
    assert_eq!(&buf[..n], b"READY=1\n");
}

#[test]
fn serves_an_inherited_socket_after_bind_after() {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
    let port = listener.local_addr().expect("local_addr").port();
    let fd = listener.as_raw_fd();
    // sh learns its own pid ($$) and exec keeps it, so LISTEN_PID names the fixture.
    let mut cmd = Command::new("sh");
    cmd.args([
        "-c",
        r#"export LISTEN_PID=$$ LISTEN_FDS=1; exec "$0" "$@""#,
        BIN,
        "fixture",
    ]);
    cmd.args(["--name", "sock", "--bind-after", "300ms"])
        .env_remove("PORT");
    // SAFETY: only async-signal-safe calls (dup2, fcntl) between fork and exec.
    unsafe {
        cmd.pre_exec(move || {
            let listener = BorrowedFd::borrow_raw(fd);
            if fd == 3 {
                let no_cloexec = nix::fcntl::FcntlArg::F_SETFD(nix::fcntl::FdFlag::empty());
                nix::fcntl::fcntl(listener, no_cloexec)?;
            } else {
                // dup2 leaves the new fd 3 without close-on-exec; keep it open.
                std::mem::forget(nix::unistd::dup2_raw(listener, OwnedFd::from_raw_fd(3))?);
            }
            Ok(())
        });
    }
    let started = Instant::now();
    let mut f = Running::spawn(cmd);
    drop(listener);
    // The socket already listens, so this connects at once and waits in the backlog.
    assert_eq!(get(port, "/"), Some((200, "sock\n".into())));
    assert!(
        started.elapsed() >= Duration::from_millis(300),
        "accepted before --bind-after"
    );
    f.wait_line(|l| l == format!("sock listening on 127.0.0.1:{port} (socket handed over)"));
}

#[test]
fn ready_file_appears_on_becoming_ready_and_the_flood_end_is_recorded() {
    let dir = tempfile::tempdir().expect("tempdir");
    let (record, ready) = (dir.path().join("events"), dir.path().join("ready"));
    let mut f = Running::start(&[
        "--name",
        "rf",
        "--flood",
        "1000",
        "--ready-after",
        "500ms",
        "--ready-file",
        ready.to_str().expect("utf-8 path"),
        "--record",
        record.to_str().expect("utf-8 path"),
    ]);
    assert!(!ready.exists(), "no ready file before the fixture is ready");
    poll("the ready file", || ready.exists().then_some(()));
    f.signal(Signal::SIGTERM);
    assert_eq!(f.wait_exit().code(), Some(0));
    let text = std::fs::read_to_string(&record).expect("read record");
    let events: Vec<&str> = text.lines().filter_map(|l| l.split(' ').nth(2)).collect();
    assert_eq!(
        events,
        ["start", "flooded", "ready", "sigterm", "exit"],
        "{text}"
    );
}
