//! Spawn and stop, against the limits:
//!
//! 1. Spawn: 20 trivial services (idle fixtures, no dependencies, no
//!    readiness check). The time from launching bringup until the last of
//!    them is running its main (each fixture records that moment), against
//!    the same 20 started by a shell loop (`for …; do … & done`), the limit.
//! 2. Stop: 20 services that take 100 ms to exit after SIGTERM. The time
//!    from SIGTERM to bringup until bringup has exited, every service
//!    stopped. Goal (issue 5): their 100 ms grace + 50 ms.

mod harness;

use std::os::unix::process::CommandExt;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use bringup::fixture::monotonic_nanos;
use harness::{BIN, stats};
use nix::sys::signal::{Signal, kill};
use nix::unistd::Pid;

const SERVICES: usize = 20;
const RUNS: usize = 5;

fn main() {
    println!("spawn and stop, {SERVICES} services, {RUNS} runs each (medians)\n");
    let (mut shell, mut bringup) = (Vec::new(), Vec::new());
    for _ in 0..RUNS {
        shell.push(shell_loop());
        bringup.push(bringup_spawn());
    }
    let (shell, _, _) = stats(&mut shell);
    let (bringup, _, bringup_max) = stats(&mut bringup);
    println!("launch → all {SERVICES} running");
    println!("  shell loop (the limit)    {shell:>7.1} ms");
    println!(
        "  bringup up --no-tui       {bringup:>7.1} ms  ({:.2}× the limit, {:+.1} ms; max {bringup_max:.1} ms)",
        bringup / shell,
        bringup - shell
    );

    let mut stops = Vec::new();
    for _ in 0..RUNS {
        stops.push(bringup_stop());
    }
    let (median, _, max) = stats(&mut stops);
    println!("\nSIGTERM → bringup exited, {SERVICES} services that take 100 ms to exit");
    println!("  bringup                   {median:>7.1} ms  (max {max:.1} ms; goal < 150 ms)");
}

fn fixture_args(record: &Path, name: &str, extra: &str) -> String {
    format!(
        "{BIN} fixture --name {name} --idle --record {} {extra}",
        record.display()
    )
}

/// The latest `event` recorded, once `count` services recorded it.
fn all_recorded(record: &Path, event: &str, count: usize) -> u64 {
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let text = std::fs::read_to_string(record).unwrap_or_default();
        let times: Vec<u64> = text
            .lines()
            .filter(|l| l.split(' ').nth(2) == Some(event))
            .filter_map(|l| l.split(' ').next()?.parse().ok())
            .collect();
        if times.len() >= count {
            return times.into_iter().max().unwrap_or(0);
        }
        assert!(
            Instant::now() < deadline,
            "only {} of {count} recorded {event}",
            times.len()
        );
        std::thread::sleep(Duration::from_millis(2));
    }
}

fn ms_since(start: u64, end: u64) -> f64 {
    end.saturating_sub(start) as f64 / 1e6
}

fn shell_loop() -> f64 {
    let dir = tempfile::tempdir().expect("temp dir");
    let record = dir.path().join("record");
    let script: String = (0..SERVICES)
        .map(|i| format!("{} & ", fixture_args(&record, &format!("s{i}"), "")))
        .collect::<String>()
        + "wait";
    let launched = monotonic_nanos();
    let mut shell = Command::new("sh")
        .args(["-c", &script])
        .stdout(Stdio::null())
        .process_group(0)
        .spawn()
        .expect("sh");
    let last = all_recorded(&record, "start", SERVICES);
    let _ = kill(Pid::from_raw(-(shell.id() as i32)), Signal::SIGTERM);
    let _ = shell.wait();
    ms_since(launched, last)
}

/// Starts `bringup up --no-tui` on `SERVICES` fixtures.
fn start_bringup(dir: &Path, extra: &str) -> std::process::Child {
    let record = dir.join("record");
    let config: String = (0..SERVICES)
        .map(|i| {
            format!(
                "[services.s{i}]\ncommand = \"{}\"\n",
                fixture_args(&record, &format!("s{i}"), extra)
            )
        })
        .collect();
    std::fs::write(dir.join("bringup.toml"), config).expect("config");
    Command::new(BIN)
        .args(["up", "--no-tui"])
        .current_dir(dir)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("bringup")
}

fn bringup_spawn() -> f64 {
    let dir = tempfile::tempdir().expect("temp dir");
    let launched = monotonic_nanos();
    let mut child = start_bringup(dir.path(), "");
    let last = all_recorded(&dir.path().join("record"), "start", SERVICES);
    let _ = kill(Pid::from_raw(child.id() as i32), Signal::SIGTERM);
    let _ = child.wait();
    ms_since(launched, last)
}

fn bringup_stop() -> f64 {
    let dir = tempfile::tempdir().expect("temp dir");
    let mut child = start_bringup(dir.path(), "--term-delay 100ms");
    // Every fixture is past setting up its SIGTERM handler once it says ready
    // (bringup counts them ready at spawn: they have no readiness check).
    all_recorded(&dir.path().join("record"), "ready", SERVICES);
    let signalled = Instant::now();
    let _ = kill(Pid::from_raw(child.id() as i32), Signal::SIGTERM);
    let status = child.wait().expect("bringup exits");
    let took = signalled.elapsed();
    assert!(status.success(), "bringup stopped cleanly: {status}");
    let record = std::fs::read_to_string(dir.path().join("record")).unwrap_or_default();
    let exits = record.lines().filter(|l| l.contains(" exit ")).count();
    assert_eq!(exits, SERVICES, "every service exited by itself:\n{record}");
    took.as_secs_f64() * 1e3
}
