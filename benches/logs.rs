//! Log ingestion: one service writes 500,000 lines of 80 bytes as fast as
//! it can. How long the writer takes (the fixture records when it started
//! and when its last line was written) under bringup, headless and with the
//! dashboard open in a real terminal (tmux), against the same writer piped
//! into `cat > /dev/null`, the limit: a reader that does nothing with the
//! bytes. Also bringup's CPU seconds and peak resident memory, and the peak
//! again for a ten-times bigger flood, to show memory does not follow volume.
//!
//! Goal (issue 5): the writer within 2.5× of the limit, bringup's peak RSS
//! under 32 MiB whatever the volume.

// A benchmark fails by panicking; `expect` says why.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod harness;

use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

use harness::support::tmux::Tmux;
use harness::{BIN, Reaped, cpu_time, headless, memory_kib, recorded, stats};
use nix::sys::signal::{Signal, kill};
use nix::unistd::Pid;

const LINES: u64 = 500_000;
const RUNS: usize = 3;

fn main() {
    println!("log ingestion: one writer, {LINES} lines of 80 bytes, {RUNS} runs each");
    println!("goal: writer within 2.5× of the limit, bringup's peak RSS < 32 MiB\n");
    println!(
        "{:<34} {:>10} {:>8} {:>14} {:>10}",
        "reader", "writer", "× limit", "bringup CPU", "peak RSS"
    );
    let limit = report("cat > /dev/null (the limit)", None, |dir| {
        (limit_run(dir, LINES), None)
    });
    report("bringup up --no-tui", Some(limit), |dir| {
        let (writer, usage) = headless_run(dir, LINES);
        (writer, Some(usage))
    });
    report("bringup up (dashboard in tmux)", Some(limit), |dir| {
        let (writer, usage) = dashboard_run(dir, LINES);
        (writer, Some(usage))
    });
    let dir = tempfile::tempdir().expect("temp dir");
    let big = LINES * 10;
    let (writer, (_, peak)) = headless_run(dir.path(), big);
    println!(
        "\n{big} lines (400 MB) through bringup --no-tui: writer {:.2} s, bringup peak RSS {:.1} MiB",
        writer.as_secs_f64(),
        peak as f64 / 1024.0
    );
}

/// Runs `measure` RUNS times and prints the medians; returns the writer's.
fn report(
    label: &str,
    limit: Option<f64>,
    measure: impl Fn(&Path) -> (Duration, Option<(Duration, u64)>),
) -> f64 {
    let (mut writer, mut cpu, mut peak) = (Vec::new(), Vec::new(), Vec::new());
    for _ in 0..RUNS {
        let dir = tempfile::tempdir().expect("temp dir");
        let (took, usage) = measure(dir.path());
        writer.push(took.as_secs_f64() * 1e3);
        if let Some((used, kib)) = usage {
            cpu.push(used.as_secs_f64());
            peak.push(kib as f64 / 1024.0);
        }
    }
    let (writer, _, _) = stats(&mut writer);
    let times = limit.map_or("1.00".to_string(), |l| format!("{:.2}", writer / l));
    let (cpu, peak) = if cpu.is_empty() {
        ("-".to_string(), "-".to_string())
    } else {
        (
            format!("{:.2} s", stats(&mut cpu).0),
            format!("{:.1} MiB", stats(&mut peak).2),
        )
    };
    println!("{label:<34} {writer:>8.0}ms {times:>8} {cpu:>14} {peak:>10}");
    writer
}

fn flood_command(record: &Path, lines: u64) -> String {
    format!(
        "{BIN} fixture --name writer --flood {lines} --idle --record {}",
        record.display()
    )
}

/// The writer's start → last line written, from its own record.
fn writer_time(record: &Path) -> Option<Duration> {
    let start = recorded(record, "writer", "start")?;
    let done = recorded(record, "writer", "flooded")?;
    Some(Duration::from_nanos(done.saturating_sub(start)))
}

/// Waits (up to two minutes) until the writer recorded its last line.
fn wait_writer(record: &Path) -> Duration {
    let deadline = Instant::now() + Duration::from_secs(120);
    loop {
        if let Some(took) = writer_time(record) {
            return took;
        }
        assert!(Instant::now() < deadline, "the writer never finished");
        std::thread::sleep(Duration::from_millis(5));
    }
}

fn limit_run(dir: &Path, lines: u64) -> Duration {
    let record = dir.join("record");
    // --idle keeps the writer alive after its flood, as under bringup; the
    // pipeline ends when the writer is killed.
    let _pipeline = Reaped::spawn(Command::new("sh").arg("-c").arg(format!(
        "{} | cat > /dev/null",
        flood_command(&record, lines)
    )));
    wait_writer(&record)
}

fn write_config(dir: &Path, lines: u64) -> std::path::PathBuf {
    let record = dir.join("record");
    let config = format!(
        "[services.writer]\ncommand = \"{}\"\n",
        flood_command(&record, lines)
    );
    std::fs::write(dir.join("bringup.toml"), config).expect("config");
    record
}

/// (writer time, (bringup CPU, bringup peak RSS KiB)) with output to /dev/null.
fn headless_run(dir: &Path, lines: u64) -> (Duration, (Duration, u64)) {
    let record = write_config(dir, lines);
    // Dropped at the end (or on a panic): SIGTERM stops bringup and the writer.
    let bringup = headless(dir);
    let took = wait_writer(&record);
    (took, settled_usage(bringup.id()))
}

fn dashboard_run(dir: &Path, lines: u64) -> (Duration, (Duration, u64)) {
    let record = write_config(dir, lines);
    let tmux = Tmux::run_in(dir, &format!("{BIN} up"), 120, 34);
    let took = wait_writer(&record);
    let pid = tmux.bringup_pid().expect("bringup runs in the pane") as u32;
    let usage = settled_usage(pid);
    // Stop bringup (and so the writer) and wait, so the next run starts on
    // a quiet machine. Dropping the tmux server, on a panic too, closes the
    // pane: that stops bringup as well.
    let _ = kill(Pid::from_raw(pid as i32), Signal::SIGTERM);
    let deadline = Instant::now() + Duration::from_secs(10);
    while Path::new(&format!("/proc/{pid}")).exists() && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(10));
    }
    (took, usage)
}

/// bringup's CPU time and peak RSS once it has caught up with what the
/// writer wrote (its CPU time stops growing).
fn settled_usage(pid: u32) -> (Duration, u64) {
    let deadline = Instant::now() + Duration::from_secs(60);
    let mut last = cpu_time(pid);
    loop {
        std::thread::sleep(Duration::from_millis(50));
        let now = cpu_time(pid);
        if now.saturating_sub(last) < Duration::from_millis(5) {
            return (now, memory_kib(pid).1);
        }
        assert!(Instant::now() < deadline, "bringup never settled");
        last = now;
    }
}
