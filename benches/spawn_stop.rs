//! Spawn and stop, against the limits, both measured in the same run:
//!
//! 1. Spawn: 20 trivial services (idle fixtures, no dependencies, no
//!    readiness check). The time from launching bringup until the last of
//!    them is running its main (each fixture records that moment), against
//!    the same 20 started by a shell loop (`for …; do … & done`). Goal
//!    (issue 8): within 1.3× of the shell loop.
//! 2. Stop: 20 services that take 100 ms to exit after SIGTERM
//!    (`--term-delay 100ms`). The time from SIGTERM to bringup until
//!    bringup has exited, every service stopped, against SIGTERM to the 20
//!    started by a shell until the last has exited (its own record). Goal
//!    (issue 5): their 100 ms + 50 ms.

// A benchmark fails by panicking; `expect` says why.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod harness;

use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use bringup::fixture::monotonic_nanos;
use harness::{BIN, Reaped, headless, stats};
use nix::sys::signal::Signal;

const SERVICES: usize = 20;
const RUNS: usize = 5;
const TERM_DELAY: &str = "--term-delay 100ms";

fn main() {
    println!("spawn and stop, {SERVICES} services, {RUNS} runs each (medians)\n");
    let (mut shell, mut bringup) = (Vec::new(), Vec::new());
    for _ in 0..RUNS {
        shell.push(shell_spawn());
        bringup.push(bringup_spawn());
    }
    let (shell, _, _) = stats(&mut shell);
    let (bringup, _, bringup_max) = stats(&mut bringup);
    println!("launch → all {SERVICES} running");
    println!("  shell loop (the limit)    {shell:>7.1} ms");
    println!(
        "  bringup up --no-tui       {bringup:>7.1} ms  ({:.2}× the limit, {:+.1} ms; max {bringup_max:.1} ms; goal ≤ 1.3×)",
        bringup / shell,
        bringup - shell
    );

    let (mut shell, mut bringup) = (Vec::new(), Vec::new());
    for _ in 0..RUNS {
        shell.push(shell_stop());
        bringup.push(bringup_stop());
    }
    let (shell, _, _) = stats(&mut shell);
    let (bringup, _, bringup_max) = stats(&mut bringup);
    println!("\nSIGTERM → all stopped, {SERVICES} services that take 100 ms to exit");
    println!("  kill -TERM to each (the limit) {shell:>7.1} ms  (last one's own exit record)");
    println!(
        "  bringup, until it exited       {bringup:>7.1} ms  (max {bringup_max:.1} ms; goal < 150 ms)"
    );
}

fn fixture_args(record: &Path, name: &str, extra: &str) -> String {
    format!(
        "{BIN} fixture --name {name} --idle --record {} {extra}",
        record.display()
    )
}

/// Every time `event` was recorded, once `count` processes recorded it
/// (panics after 30 s).
fn all_recorded(record: &Path, event: &str, count: usize) -> Vec<u64> {
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let text = std::fs::read_to_string(record).unwrap_or_default();
        let times: Vec<u64> = text
            .lines()
            .filter(|l| l.split(' ').nth(2) == Some(event))
            .filter_map(|l| l.split(' ').next()?.parse().ok())
            .collect();
        if times.len() >= count {
            return times;
        }
        assert!(
            Instant::now() < deadline,
            "only {} of {count} recorded {event}",
            times.len()
        );
        std::thread::sleep(Duration::from_millis(2));
    }
}

fn last_recorded(record: &Path, event: &str) -> u64 {
    all_recorded(record, event, SERVICES)
        .into_iter()
        .max()
        .unwrap_or(0)
}

fn ms_since(start: u64, end: u64) -> f64 {
    end.saturating_sub(start) as f64 / 1e6
}

/// The 20 fixtures started by `sh`, in a group of their own.
fn start_shell(record: &Path, extra: &str) -> Reaped {
    let script: String = (0..SERVICES)
        .map(|i| format!("{} & ", fixture_args(record, &format!("s{i}"), extra)))
        .collect::<String>()
        + "wait";
    Reaped::spawn(
        Command::new("sh")
            .args(["-c", &script])
            .stdout(Stdio::null()),
    )
}

/// `bringup up --no-tui` on the 20 fixtures.
fn start_bringup(dir: &Path, extra: &str) -> Reaped {
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
    headless(dir)
}

fn shell_spawn() -> f64 {
    let dir = tempfile::tempdir().expect("temp dir");
    let record = dir.path().join("record");
    let launched = monotonic_nanos();
    let _shell = start_shell(&record, "");
    ms_since(launched, last_recorded(&record, "start"))
}

fn bringup_spawn() -> f64 {
    let dir = tempfile::tempdir().expect("temp dir");
    let launched = monotonic_nanos();
    let _bringup = start_bringup(dir.path(), "");
    ms_since(launched, last_recorded(&dir.path().join("record"), "start"))
}

fn shell_stop() -> f64 {
    let dir = tempfile::tempdir().expect("temp dir");
    let record = dir.path().join("record");
    let shell = start_shell(&record, TERM_DELAY);
    // "ready" comes after a fixture's SIGTERM handler is in place.
    all_recorded(&record, "ready", SERVICES);
    let signalled = monotonic_nanos();
    shell.signal(Signal::SIGTERM);
    ms_since(signalled, last_recorded(&record, "exit"))
}

fn bringup_stop() -> f64 {
    let dir = tempfile::tempdir().expect("temp dir");
    let record = dir.path().join("record");
    let mut bringup = start_bringup(dir.path(), TERM_DELAY);
    // bringup counts them ready at spawn (no readiness check); wait until
    // every fixture has its SIGTERM handler in place.
    all_recorded(&record, "ready", SERVICES);
    let signalled = Instant::now();
    bringup.signal(Signal::SIGTERM);
    let status = bringup
        .wait(Duration::from_secs(30))
        .expect("bringup exits within 30 s of SIGTERM");
    let took = signalled.elapsed();
    assert!(status.success(), "bringup stopped cleanly: {status}");
    let exits = all_recorded(&record, "exit", SERVICES).len();
    assert_eq!(exits, SERVICES, "every service exited by itself");
    took.as_secs_f64() * 1e3
}
