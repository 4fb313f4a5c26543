//! The control plane's costs, measured on real stacks over their real
//! control socket, each figure printed next to its limit and next to a
//! floor measured in the same run (the machine is shared and noisy: a
//! figure means something only against what the machine did meanwhile).
//!
//! 1. `bringup status --json` on a 20-service stack (all ready), whole
//!    process wall time, spawn to exit, output read; the floor is
//!    `bringup --version` (spawning our binary at all), run alternately.
//! 2. A restart request (a raw HTTP POST on the socket) → the service's
//!    SIGTERM. Both ends on CLOCK_MONOTONIC: the bench reads it just before
//!    writing the request, the fixture when its signal handler runs
//!    (`--record`). So the figure also holds the request's trip through
//!    the socket and the signal's delivery and handling; the floor is that
//!    last part alone, the bench itself sending SIGTERM to a fixture.
//! 3. `logs -f` of a service printing 500,000 lines: the writer's time
//!    (from its own record) with `bringup logs -f writer > /dev/null`
//!    attached, against the same without a follower and against the same
//!    writer piped into `cat > /dev/null` (the limit); then once more with
//!    the follower writing to a file, to count the lines it showed.
//! 4. Idle: a detached stack (`up -d`) of 10 services printing a line a
//!    second, 20 s: CPU of bringup's own processes (the background bringup
//!    and its watchdog); beside it, over the same 20 s, the same stack with
//!    silent services, which separates the cost of a line from the rest.
//!
//! Goals (issue 10): status median ≤ 10 ms; SIGTERM ≤ 2 ms after the
//! request; the writer within 1.5× of `cat`; idle ≤ 0.03 CPU-s per 20 s.
//! Every process started here is stopped by a guard ([`Stack`] kills its
//! run by marker, [`Reaped`] its process group), also on a panic.

// A benchmark fails by panicking; `expect` says why.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod harness;

use std::io::{Read, Write};
use std::os::unix::net::UnixStream;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use bringup::fixture::monotonic_nanos;
use harness::support::stack::Stack;
use harness::support::tmux::Tmux;
use harness::support::{DEADLINE, command_line, fixture, poll, processes_with_marker};
use harness::{BIN, Reaped, cpu_time, recorded, stats, wall_ms};
use nix::sys::signal::{Signal, kill};
use nix::unistd::Pid;
use serde_json::Value;

/// Runs of `status --json` (and of the floor).
const STATUS_RUNS: usize = 40;
/// Restarts timed.
const RESTARTS: usize = 30;
/// Lines the writer prints, and runs of each reader.
const LINES: u64 = 500_000;
const FLOOD_RUNS: usize = 5;
/// How long the idle stack is watched.
const IDLE: Duration = Duration::from_secs(20);

fn main() {
    // `cargo bench --bench control -- attach` runs only the figures whose
    // name holds "attach" (likewise status, restart, logs, idle).
    let only: Vec<String> = std::env::args()
        .skip(1)
        .filter(|a| !a.starts_with('-'))
        .collect();
    let run = |name: &str| only.is_empty() || only.iter().any(|o| name.contains(o.as_str()));
    if run("status") {
        status_json();
    }
    if run("restart") {
        restart_to_sigterm();
    }
    if run("logs") {
        follow_flood();
    }
    if run("idle") {
        idle_detached();
    }
    if run("attach idle") {
        attach_figures();
    }
}

fn ms(nanos: u64) -> f64 {
    nanos as f64 / 1e6
}

/// A stack brought up in the background (`up -d`), every service ready.
fn detached(config: &str) -> Stack {
    let mut stack = Stack::start(config, &["up", "-d"]);
    let status = stack.wait_exit();
    assert!(
        status.success(),
        "up -d failed\n{}{}",
        stack.stdout(),
        stack.stderr()
    );
    stack
}

/// `bringup down`, and nothing of the run is left.
fn down(stack: &Stack) {
    let (code, out, err) = stack.ctl(&["down"]);
    assert!(code.success(), "down: {out}{err}");
    stack.assert_no_survivors();
}

/// `bringup ls --json`'s record of `stack`'s bringup: the foreground one,
/// or (for `up -d`) the one running its config.
fn registered(stack: &Stack) -> Value {
    let (code, out, err) = stack.ctl(&["ls", "--json"]);
    assert!(code.success(), "ls: {err}");
    let listed: Vec<Value> = serde_json::from_str(&out).expect("ls --json is JSON");
    let config = std::fs::canonicalize(stack.dir.path().join("bringup.toml")).expect("config");
    listed
        .into_iter()
        .find(|r| {
            r["pid"].as_i64() == Some(i64::from(stack.pid()))
                || r["config"].as_str() == config.to_str()
        })
        .unwrap_or_else(|| panic!("the stack is listed: {out}"))
}

fn status_json() {
    let config = harness::http_services(20);
    let stack = detached(&config);
    let file = stack.dir.path().join("bringup.toml");
    let file = file.to_str().expect("a UTF-8 temp path");
    let status = ["-c", file, "status", "--json"];

    let (code, out, err) = stack.ctl(&status[2..]);
    assert!(code.success(), "status: {err}");
    let snapshot: Value = serde_json::from_str(&out).expect("status --json is JSON");
    let ready = snapshot["services"]
        .as_array()
        .expect("services")
        .iter()
        .filter(|s| s["state"] == "ready")
        .count();
    assert_eq!(ready, 20, "every service ready: {out}");

    // Warm the page cache and the stack's first-connection paths.
    for _ in 0..3 {
        wall_ms(&status);
        wall_ms(&["--version"]);
    }
    // Alternately, so both see the same machine.
    let (mut times, mut floor) = (Vec::new(), Vec::new());
    for _ in 0..STATUS_RUNS {
        times.push(wall_ms(&status));
        floor.push(wall_ms(&["--version"]));
    }
    let (median, p90, max) = stats(&mut times);
    let (f_median, f_p90, _) = stats(&mut floor);
    println!(
        "status --json, 20 services ready ({STATUS_RUNS} runs): median {median:.2} ms, p90 {p90:.2} ms, max {max:.2} ms (limit: median ≤ 10 ms)"
    );
    println!(
        "  floor, bringup --version in the same run: median {f_median:.2} ms, p90 {f_p90:.2} ms; status above it: {:.2} ms",
        median - f_median
    );
    println!("  ({} bytes of JSON)\n", out.len());
    down(&stack);
}

/// Sends `request` on a fresh connection to `socket`; the answer (the
/// server closes: every request says `Connection: close`) and the
/// CLOCK_MONOTONIC reading taken just before the request was written.
fn exchange(socket: &Path, request: &str) -> (u64, String) {
    let mut stream = UnixStream::connect(socket).expect("connect to the control socket");
    stream.set_read_timeout(Some(DEADLINE)).expect("timeout");
    let sent = monotonic_nanos();
    stream.write_all(request.as_bytes()).expect("send");
    let mut answer = Vec::new();
    stream.read_to_end(&mut answer).expect("an answer");
    (sent, String::from_utf8_lossy(&answer).into_owned())
}

/// The JSON body of a `GET` on `socket`.
fn get_json(socket: &Path, route: &str) -> Value {
    let request = format!("GET {route} HTTP/1.1\r\nHost: bringup\r\nConnection: close\r\n\r\n");
    let (_, answer) = exchange(socket, &request);
    let body = answer
        .split_once("\r\n\r\n")
        .map(|(_, body)| body)
        .unwrap_or_else(|| panic!("no body: {answer}"));
    serde_json::from_str(body).unwrap_or_else(|e| panic!("{route}: {e}: {answer}"))
}

/// The pid of service `id` once it is ready in a process other than `not`.
fn ready_pid(socket: &Path, id: u64, not: Option<u64>) -> u64 {
    poll("the service to be ready (again)", || {
        let snapshot = get_json(socket, "/v1/snapshot");
        let service = snapshot["services"]
            .as_array()?
            .iter()
            .find(|s| s["id"].as_u64() == Some(id))?
            .clone();
        let pid = service["pid"].as_u64()?;
        (service["state"] == "ready" && Some(pid) != not).then_some(pid)
    })
}

/// When the fixture process `pid` recorded its SIGTERM, once it has.
fn sigterm_of(record: &Path, pid: u64) -> u64 {
    poll("the service's SIGTERM record", || {
        harness::support::records(record)
            .into_iter()
            .find(|r| r.event == "sigterm" && r.pid as u64 == pid)
            .map(|r| r.nanos)
    })
}

fn restart_to_sigterm() {
    let config = format!(
        "[services.target]\ncommand = \"{}\"\nreadiness = {{ log = \"target-up\" }}\n",
        harness::support::recorded("target", "--idle --ready-line target-up")
    );
    let stack = detached(&config);
    let socket = PathBuf::from(
        registered(&stack)["socket"]
            .as_str()
            .expect("the record names its socket"),
    );
    let hello = get_json(&socket, "/v1/hello");
    let id = hello["info"]["services"]
        .as_array()
        .expect("hello lists the services")
        .iter()
        .find(|s| s["name"] == "target")
        .and_then(|s| s["id"].as_u64())
        .expect("target's id");
    let body = format!(r#"{{"command":"restart","service":{id}}}"#);
    let request = format!(
        "POST /v1/command HTTP/1.1\r\nHost: bringup\r\nConnection: close\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n{body}",
        body.len()
    );
    let record = stack.record_path();
    let mut pid = ready_pid(&socket, id, None);
    let (mut to_signal, mut to_answer, mut floor) = (Vec::new(), Vec::new(), Vec::new());
    let floor_dir = tempfile::tempdir().expect("temp dir");
    // Two warm-up restarts, not counted.
    for round in 0..RESTARTS + 2 {
        let (sent, answer) = exchange(&socket, &request);
        let answered = monotonic_nanos();
        assert!(
            answer.starts_with("HTTP/1.1 200") && answer.contains("done"),
            "{answer}"
        );
        let signalled = sigterm_of(&record, pid);
        if round >= 2 {
            to_signal.push(ms(signalled.saturating_sub(sent)));
            to_answer.push(ms(answered.saturating_sub(sent)));
            floor.push(direct_sigterm(&floor_dir.path().join("record")));
        }
        pid = ready_pid(&socket, id, Some(pid));
    }
    let (median, p90, max) = stats(&mut to_signal);
    let (a_median, a_p90, _) = stats(&mut to_answer);
    let floor = stats(&mut floor);
    println!(
        "restart request → SIGTERM handled by the service ({RESTARTS} restarts): median {median:.3} ms, p90 {p90:.3} ms, max {max:.3} ms (limit ≤ 2 ms)"
    );
    println!(
        "  from just before the POST is written to the fixture's record of SIGTERM (both CLOCK_MONOTONIC):"
    );
    println!(
        "  socket trip + HTTP + engine + kill() + delivery + the fixture's handler; the answer (\"done\") came after median {a_median:.3} ms, p90 {a_p90:.3} ms"
    );
    println!(
        "  floor, the bench's own kill(SIGTERM) → a fixture's record, interleaved with the restarts: median {:.3} ms, p90 {:.3} ms; bringup's share ≈ {:.3} ms\n",
        floor.0,
        floor.1,
        median - floor.0
    );
    down(&stack);
}

/// kill(SIGTERM) → a fixture's record of it (in `record`), with no
/// bringup in between: ms.
fn direct_sigterm(record: &Path) -> f64 {
    let mut child = Reaped::spawn(
        Command::new(BIN)
            .args(["fixture", "--name", "floor", "--idle", "--record"])
            .arg(record)
            .stdout(Stdio::null()),
    );
    let pid = child.id();
    // "ready" comes after the signal handlers are in place.
    poll("the floor fixture to be ready", || {
        harness::support::records(record)
            .iter()
            .any(|r| r.pid as u32 == pid && r.event == "ready")
            .then_some(())
    });
    let sent = monotonic_nanos();
    kill(Pid::from_raw(pid as i32), Signal::SIGTERM).expect("signal the fixture");
    let took = ms(sigterm_of(record, u64::from(pid)).saturating_sub(sent));
    child.wait(DEADLINE).expect("the fixture exits on SIGTERM");
    took
}

/// The writer: waits for `{dir}/go`, so that a follower can be attached
/// first, then becomes the fixture that prints [`LINES`] lines and records
/// when it started and when its last line was written.
fn writer_command(record: &str, go: &str) -> String {
    format!(
        "while [ ! -e '{go}' ]; do sleep 0.01; done; exec '{BIN}' fixture --name writer --flood {LINES} --idle --record '{record}'"
    )
}

/// The writer's start → last line written, once it is done.
fn writer_ms(record: &Path) -> f64 {
    let deadline = Instant::now() + Duration::from_secs(120);
    loop {
        if let (Some(start), Some(done)) = (
            recorded(record, "writer", "start"),
            recorded(record, "writer", "flooded"),
        ) {
            return ms(done.saturating_sub(start));
        }
        assert!(Instant::now() < deadline, "the writer never finished");
        std::thread::sleep(Duration::from_millis(5));
    }
}

/// CPU time of `pids` together once they have caught up (it stopped growing).
fn settled_cpu(pids: &[u32]) -> Duration {
    let total = || pids.iter().map(|&p| cpu_time(p)).sum::<Duration>();
    let deadline = Instant::now() + Duration::from_secs(60);
    let mut last = total();
    loop {
        std::thread::sleep(Duration::from_millis(100));
        let now = total();
        if now.saturating_sub(last) < Duration::from_millis(5) {
            return now;
        }
        assert!(Instant::now() < deadline, "never settled");
        last = now;
    }
}

/// Waits until `pid` (a `logs -f` just started) sits in its follow loop:
/// it has a socket open and has used no CPU for 300 ms. (Its output goes
/// to /dev/null, so nothing it prints can say so.)
fn wait_following(pid: u32) {
    let has_socket = || {
        std::fs::read_dir(format!("/proc/{pid}/fd"))
            .map(|fds| {
                fds.flatten().any(|fd| {
                    std::fs::read_link(fd.path())
                        .is_ok_and(|to| to.to_string_lossy().starts_with("socket:"))
                })
            })
            .unwrap_or(false)
    };
    let mut last = cpu_time(pid);
    let mut quiet_since = Instant::now();
    poll("logs -f to follow", || {
        let now = cpu_time(pid);
        if now != last || !has_socket() {
            last = now;
            quiet_since = Instant::now();
        }
        (quiet_since.elapsed() >= Duration::from_millis(300)).then_some(())
    });
}

/// Who reads the flood besides bringup.
#[derive(Clone, Copy, PartialEq)]
enum Follower {
    None,
    /// `bringup logs -f writer > /dev/null`: the figure.
    DevNull,
    /// The same into a file, to count what it showed.
    File,
}

/// What one flood through a detached stack gave.
struct Flood {
    writer_ms: f64,
    /// bringup's CPU seconds, start of the flood until it settled.
    bringup_cpu: f64,
    follower_cpu: Option<f64>,
    /// With [`Follower::File`]: (lines shown, lines it said it skipped).
    shown: Option<(u64, u64)>,
}

/// One flood through a detached stack, with or without a follower.
fn flood_run(follow: Follower) -> Flood {
    let config = format!(
        "[services.writer]\ncommand = [\"sh\", \"-c\", \"{}\"]\n",
        writer_command("{record}", "{dir}/go")
    );
    let stack = detached(&config);
    let bringup = registered(&stack)["pid"].as_u64().expect("pid") as u32;
    let file = stack.dir.path().join("bringup.toml");
    let shown = stack.dir.path().join("shown");
    let follower = (follow != Follower::None).then(|| {
        let stdout = match follow {
            Follower::File => Stdio::from(std::fs::File::create(&shown).expect("output file")),
            _ => Stdio::null(),
        };
        let follower = Reaped::spawn(
            Command::new(BIN)
                .arg("-c")
                .arg(&file)
                .args(["logs", "-f", "writer"])
                .env("BRINGUP_TEST_MARKER", &stack.marker)
                .env("NO_COLOR", "1")
                .stdin(Stdio::null())
                .stdout(stdout)
                .stderr(Stdio::null()),
        );
        wait_following(follower.id());
        follower
    });
    let (cpu0, follower_cpu0) = (
        cpu_time(bringup),
        follower.as_ref().map(|f| cpu_time(f.id())),
    );
    std::fs::write(stack.dir.path().join("go"), "").expect("start the writer");
    let writer = writer_ms(&stack.record_path());
    let mut pids = vec![bringup];
    pids.extend(follower.as_ref().map(Reaped::id));
    settled_cpu(&pids);
    let used = (cpu_time(bringup) - cpu0).as_secs_f64();
    let follower_used = follower
        .as_ref()
        .zip(follower_cpu0)
        .map(|(f, before)| (cpu_time(f.id()) - before).as_secs_f64());
    down(&stack);
    if let Some(mut follower) = follower {
        assert!(
            follower.wait(DEADLINE).is_some_and(|s| s.success()),
            "logs -f ends with the stack"
        );
    }
    Flood {
        writer_ms: writer,
        bringup_cpu: used,
        follower_cpu: follower_used,
        shown: (follow == Follower::File).then(|| count_shown(&shown)),
    }
}

/// (flood lines, lines reported skipped) in what `logs -f` printed.
fn count_shown(path: &Path) -> (u64, u64) {
    let text = std::fs::read_to_string(path).expect("the follower's output");
    text.lines().fold((0, 0), |(shown, skipped), line| {
        if line.starts_with("writer flood ") {
            (shown + 1, skipped)
        } else if let Some(n) = line
            .strip_prefix("… ")
            .and_then(|rest| rest.split_whitespace().next())
            .and_then(|n| n.parse::<u64>().ok())
        {
            (shown, skipped + n)
        } else {
            (shown, skipped)
        }
    })
}

/// The same writer piped into `cat > /dev/null`: ms.
fn cat_run() -> f64 {
    let dir = tempfile::tempdir().expect("temp dir");
    let (record, go) = (dir.path().join("record"), dir.path().join("go"));
    std::fs::write(&go, "").expect("go");
    let _pipeline = Reaped::spawn(Command::new("sh").arg("-c").arg(format!(
        "{} | cat > /dev/null",
        writer_command(&record.to_string_lossy(), &go.to_string_lossy())
    )));
    writer_ms(&record)
}

fn median_of(runs: impl Iterator<Item = f64>) -> f64 {
    stats(&mut runs.collect::<Vec<_>>()).0
}

fn follow_flood() {
    println!("logs -f: one writer, {LINES} lines of 80 bytes, medians of {FLOOD_RUNS} runs each");
    let (mut cat, mut alone, mut followed) = (Vec::new(), Vec::new(), Vec::new());
    // Interleaved, so that each reader sees the same machine.
    for _ in 0..FLOOD_RUNS {
        cat.push(cat_run());
        alone.push(flood_run(Follower::None));
        followed.push(flood_run(Follower::DevNull));
    }
    let limit = median_of(cat.iter().copied());
    let spread = |runs: &[f64]| {
        let (lo, hi) = runs
            .iter()
            .fold((f64::MAX, 0.0f64), |(lo, hi), &r| (lo.min(r), hi.max(r)));
        format!("{lo:.0}–{hi:.0} ms")
    };
    let row = |label: &str, runs: &[Flood]| {
        let writers: Vec<f64> = runs.iter().map(|r| r.writer_ms).collect();
        let writer = median_of(writers.iter().copied());
        let bringup = median_of(runs.iter().map(|r| r.bringup_cpu));
        let follower = runs
            .iter()
            .map(|r| r.follower_cpu)
            .collect::<Option<Vec<_>>>()
            .map_or("-".to_string(), |v| {
                format!("{:.2} s", median_of(v.into_iter()))
            });
        println!(
            "  {label:<44} writer {writer:>6.0} ms {:>5.2}× cat ({})  CPU: bringup {bringup:.2} s, logs -f {follower}",
            writer / limit,
            spread(&writers)
        );
        writer
    };
    println!(
        "  {:<44} writer {limit:>6.0} ms {:>5.2}× cat ({})",
        "cat > /dev/null (the limit)",
        1.0,
        spread(&cat)
    );
    row("up -d, no follower", &alone);
    let with = row("up -d + bringup logs -f writer > /dev/null", &followed);
    println!(
        "  with the follower: {:.2}× cat (limit ≤ 1.5×)",
        with / limit
    );
    // Once more into a file: did the follower show every line?
    let check = flood_run(Follower::File);
    let (shown, skipped) = check.shown.unwrap_or_default();
    println!(
        "  logs -f into a file (once, writer {:.0} ms): showed {shown} of {LINES} lines, said it skipped {skipped}\n",
        check.writer_ms
    );
}

fn idle_detached() {
    // The figure, and beside it, over the same 20 s (CPU time swells when
    // the machine is busy), the same stack with silent services: what
    // bringup costs doing nothing, apart from what each line costs.
    let ticking = Idle::start("--log-every 1s");
    let silent = Idle::start("--idle");
    std::thread::sleep(Duration::from_secs(2));
    let roles: Vec<(&str, &'static str)> = [("ticking", &ticking), ("silent", &silent)]
        .iter()
        .flat_map(|(which, idle)| idle.ours.iter().map(move |&(_, role)| (*which, role)))
        .collect();
    let pids: Vec<u32> = [&ticking, &silent]
        .iter()
        .flat_map(|idle| idle.ours.iter().map(|&(p, _)| p))
        .collect();
    let Watched {
        used,
        bare,
        read_floor,
        ..
    } = watch_idle(&pids);
    for (label, which) in [
        ("10 services printing a line a second", "ticking"),
        ("10 silent services (reference)", "silent"),
    ] {
        let mine: Vec<(&str, f64, u64)> = roles
            .iter()
            .zip(&used)
            .filter(|((w, _), _)| *w == which)
            .map(|((_, role), &(cpu, wakes))| (*role, cpu, wakes))
            .collect();
        println!(
            "idle, up -d, {label}, no client attached: {:.4} CPU-s per {} s (limit ≤ 0.03); {}",
            mine.iter().map(|(_, cpu, _)| cpu).sum::<f64>(),
            IDLE.as_secs(),
            mine.iter()
                .map(|(role, cpu, wakes)| format!("{role} {cpu:.4} ({wakes} wake-ups)"))
                .collect::<Vec<_>>()
                .join(", ")
        );
    }
    println!(
        "  the machine meanwhile: a bare wake-up costs {bare:.0} µs of CPU; the floor under reading ten services that print a line a second (one thread reading ten pipes) {read_floor:.4} CPU-s"
    );
    down(&ticking.stack);
    down(&silent.stack);
}

/// How often the screen is looked at while a first frame is timed (each
/// look is a `tmux capture-pane`, itself a few ms), and for how long.
const FINE: Duration = Duration::from_millis(1);
const LIMIT: Duration = Duration::from_secs(20);

/// How many times the first frame of `bringup attach` is timed.
const ATTACHES: usize = 10;

/// `bringup attach` → its first full frame, tmux round trip included (the
/// floor: tmux showing an `echo`, in turns with it); then a detached stack
/// of 10 ticking services with one dashboard attached, idle for 20 s.
fn attach_figures() {
    let idle = Idle::start("--log-every 1s");
    let dir = idle.stack.dir.path();
    let attach = format!("'{BIN}' attach -c bringup.toml");
    let framed = |screen: &str| Tmux::row(screen, "s9").is_some_and(|row| row.contains("ready"));
    let (mut first, mut floor) = (Vec::new(), Vec::new());
    let (mut fresh, mut fresh_floor) = (Vec::new(), Vec::new());
    // In a running tmux (a pane respawned with the command: what a user
    // typing `bringup attach` in a pane sees), and in a tmux server
    // started for it (which costs tmux ~60 ms of its own).
    let pane = Tmux::run_in(dir, "sleep 600", 120, 34);
    for _ in 0..ATTACHES {
        let started = Instant::now();
        pane.respawn("echo shown; sleep 60");
        pane.wait_every(FINE, LIMIT, "the echo", |s| s.contains("shown"));
        floor.push(started.elapsed().as_secs_f64() * 1e3);
        let started = Instant::now();
        pane.respawn(&attach);
        pane.wait_every(FINE, LIMIT, "the first frame", framed);
        first.push(started.elapsed().as_secs_f64() * 1e3);

        let started = Instant::now();
        let echo = Tmux::run_in(dir, "echo shown; sleep 60", 120, 34);
        echo.wait_every(FINE, LIMIT, "the echo", |s| s.contains("shown"));
        fresh_floor.push(started.elapsed().as_secs_f64() * 1e3);
        drop(echo);
        let started = Instant::now();
        let tmux = Tmux::run_in(dir, &attach, 120, 34);
        tmux.wait_every(FINE, LIMIT, "the first frame", framed);
        fresh.push(started.elapsed().as_secs_f64() * 1e3);
        drop(tmux);
    }
    drop(pane);
    let (median, p90, _) = stats(&mut first);
    let (floor_median, floor_p90, _) = stats(&mut floor);
    let (fresh_median, fresh_p90, _) = stats(&mut fresh);
    let (fresh_floor_median, _, _) = stats(&mut fresh_floor);
    println!(
        "\nattach → first full frame ({ATTACHES} runs, in a running tmux, its round trip included): median {median:.1} ms, p90 {p90:.1} ms (limit ≤ 50 ms)"
    );
    println!(
        "  floor, the same pane showing an echo: median {floor_median:.1} ms, p90 {floor_p90:.1} ms"
    );
    println!(
        "  in a tmux server started for it: median {fresh_median:.1} ms, p90 {fresh_p90:.1} ms (a server showing an echo: {fresh_floor_median:.1} ms)"
    );

    let tmux = Tmux::run_in(dir, &attach, 120, 34);
    tmux.wait("the first frame", framed);
    std::thread::sleep(Duration::from_secs(2));
    let client = tmux
        .bringup_pid()
        .map(|p| p as u32)
        .expect("the attached bringup");
    let mut ours = idle.ours.clone();
    ours.push((client, "attached dashboard"));
    let pids: Vec<u32> = ours.iter().map(|&(p, _)| p).collect();
    let Watched {
        used,
        bare,
        frame_floor,
        read_floor,
    } = watch_idle(&pids);
    println!(
        "idle, up -d, 10 services printing a line a second, one dashboard attached: {:.4} CPU-s per {} s (limit ≤ 0.03); {}",
        used.iter().map(|(cpu, _)| cpu).sum::<f64>(),
        IDLE.as_secs(),
        ours.iter()
            .zip(&used)
            .map(|(&(_, role), (cpu, wakes))| format!("{role} {cpu:.4} ({wakes} wake-ups)"))
            .collect::<Vec<_>>()
            .join(", ")
    );
    println!(
        "  the machine meanwhile: a bare wake-up costs {bare:.0} µs of CPU (a thread that only sleeps; on this VM it swings 30–120 µs with the host)"
    );
    println!(
        "  floors in the same {} s, on this machine: a plain ratatui frame of 120×34 (the dashboard's size here) drawn once a second {frame_floor:.4} CPU-s; one thread reading ten pipes a line a second each {read_floor:.4} CPU-s; together {:.4}",
        IDLE.as_secs(),
        frame_floor + read_floor
    );
    drop(tmux);
    down(&idle.stack);
}

/// What [`watch_idle`] saw over [`IDLE`].
struct Watched {
    /// CPU-s and wake-ups of each process watched, in order.
    used: Vec<(f64, u64)>,
    /// What a bare wake-up cost meanwhile, µs.
    bare: f64,
    /// The machine's floors meanwhile ([`harness::once_a_second_floors`]).
    frame_floor: f64,
    read_floor: f64,
}

/// Watches the processes `pids` for [`IDLE`], measuring the machine's
/// bare wake-up and floors in the same window.
fn watch_idle(pids: &[u32]) -> Watched {
    let mut meters: Vec<harness::CpuMeter> =
        pids.iter().map(|&p| harness::CpuMeter::new(p)).collect();
    let bare = harness::bare_wake_us(IDLE);
    let floors = harness::once_a_second_floors(IDLE, (120, 34));
    let used = harness::cpu_and_wakes_over(&mut meters, IDLE);
    let (frame_floor, read_floor) = floors.join().unwrap_or((f64::NAN, f64::NAN));
    Watched {
        used,
        bare: bare.join().unwrap_or(f64::NAN),
        frame_floor,
        read_floor,
    }
}

/// A detached stack of 10 fixtures, and bringup's own processes in it.
struct Idle {
    stack: Stack,
    /// (pid, "bringup" or "watchdog").
    ours: Vec<(u32, &'static str)>,
}

impl Idle {
    /// `up -d` of 10 fixtures run with `args`.
    fn start(args: &str) -> Self {
        let config: String = (0..10)
            .map(|i| {
                format!(
                    "[services.s{i}]\ncommand = \"{}\"\n",
                    fixture(&format!("s{i}"), args)
                )
            })
            .collect();
        let stack = detached(&config);
        let bringup = registered(&stack)["pid"].as_u64().expect("pid") as u32;
        // bringup's own processes: those of the run that execute our
        // binary and are not services (fixtures): the background bringup
        // and its watchdog.
        let exe = std::fs::canonicalize(BIN).expect("the bringup binary");
        let ours: Vec<(u32, &'static str)> = processes_with_marker(&stack.marker)
            .into_iter()
            .filter(|&p| {
                std::fs::read_link(format!("/proc/{p}/exe")).is_ok_and(|e| e == exe)
                    && command_line(p).split_whitespace().nth(1) != Some("fixture")
            })
            .map(|p| {
                let role = if command_line(p).contains("__watchdog") {
                    "watchdog"
                } else {
                    "bringup"
                };
                (p as u32, role)
            })
            .collect();
        assert!(
            ours.iter().any(|&(p, _)| p == bringup),
            "{ours:?} includes {bringup}"
        );
        Self { stack, ours }
    }
}
