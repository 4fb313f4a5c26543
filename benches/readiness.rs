//! Readiness detection latency per probe kind: from the moment a service
//! becomes ready (the fixture records it: bound for tcp, /health/ready
//! answering 200 for http, the ready line printed for log, READY=1 sent for
//! notify, the ready file created for exec) to the moment bringup marks it
//! ready.
//!
//! Each round starts ten services that become ready 100 ms … 1 s after they
//! start, so the fast-then-calm polling schedule is measured across the
//! range a real stack spans. Goals (issue 5): median under 2 ms for tcp, log
//! and notify, under 5 ms for http while the port is still closed. An app
//! that already answers "not yet" (http-503: it binds at once and answers
//! 503 until ready) is asked at most every 50 ms (issue 8, item 17), so its
//! detection costs up to that; the bench prints how many readiness requests
//! such a service received, next to how many the old schedule (every
//! elapsed/300, from 1 ms) would have sent in the same time. exec has no
//! goal: each check starts a process, so bringup deliberately checks less
//! often (every elapsed/50, at least 10 ms apart).

// A benchmark fails by panicking; `expect` says why.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod harness;

use std::time::Duration;

use harness::{bring_up, free_port, plan, recorded, stats};

const ROUNDS: usize = 3;
const PER_ROUND: usize = 10;

fn service(kind: &str, index: usize, record: &str) -> String {
    let delay = format!("{}ms", 100 * (index + 1));
    let name = format!("{kind}{index}");
    let base = format!("${{bringup}} fixture --name {name} --record {record}");
    match kind {
        "tcp" => format!(
            "[services.{name}]\ncommand = \"{base} --port ${{port}} --bind-after {delay}\"\nport = {}\nreadiness = {{ tcp = true }}\n",
            free_port()
        ),
        "http" => format!(
            "[services.{name}]\ncommand = \"{base} --port ${{port}} --bind-after {delay}\"\nport = {}\nreadiness = {{ http = \"/health/ready\" }}\n",
            free_port()
        ),
        "http-503" | "http-503-again" => format!(
            "[services.{name}]\ncommand = \"{base} --port ${{port}} --ready-after {delay}\"\nport = {}\nreadiness = {{ http = \"/health/ready\" }}\n",
            free_port()
        ),
        "http-503-says" => format!(
            "[services.{name}]\ncommand = \"{base} --port ${{port}} --ready-after {delay} --ready-line 'startup complete'\"\nport = {}\nreadiness = {{ http = \"/health/ready\" }}\n",
            free_port()
        ),
        "log" => format!(
            "[services.{name}]\ncommand = \"{base} --ready-after {delay} --ready-line 'accepting work'\"\nreadiness = {{ log = \"accepting work\" }}\n"
        ),
        "exec" => format!(
            "[services.{name}]\ncommand = \"{base} --ready-after {delay} --ready-file {record}.{name}\"\nreadiness = {{ exec = \"test -e {record}.{name}\" }}\n"
        ),
        "notify" => format!(
            "[services.{name}]\ncommand = \"{base} --ready-after {delay} --notify\"\nreadiness = {{ notify = true }}\n"
        ),
        _ => unreachable!("unknown probe kind {kind}"),
    }
}

fn main() {
    println!(
        "readiness detection latency: service ready (fixture's record) → bringup marks it ready"
    );
    println!("{ROUNDS} rounds × {PER_ROUND} services ready after 100ms..1s\n");
    println!(
        "{:<15} {:>8} {:>10} {:>10} {:>10}  goal (median)",
        "probe", "samples", "median", "p90", "max"
    );
    for (kind, goal) in [
        ("tcp", "< 2 ms"),
        ("http", "< 5 ms"),
        ("http-503", "≤ 50 ms gap, by design"),
        ("http-503-says", "< 10 ms (its output asks)"),
        ("http-503-again", "< 5 ms (history: asked quickly when due)"),
        ("log", "< 2 ms"),
        ("notify", "< 2 ms"),
        ("exec", "none (a process per check)"),
    ] {
        let mut latencies = Vec::new();
        let mut requests = Vec::new();
        for _ in 0..ROUNDS {
            let dir = tempfile::tempdir().expect("temp dir");
            let record = dir.path().join("record");
            let record_text = record.display().to_string();
            let config: String = (0..PER_ROUND)
                .map(|i| service(kind, i, &record_text))
                .collect();
            // "again": a run before this one left its times in the history.
            let history = dir.path().join("history");
            let history = (kind == "http-503-again").then(|| {
                bring_up(plan(&config, dir.path()), Some(&history));
                let _ = std::fs::remove_file(&record);
                history.as_path()
            });
            let run = bring_up(plan(&config, dir.path()), history);
            let event = if matches!(kind, "tcp" | "http") {
                "bound"
            } else {
                "ready"
            };
            for (index, marked) in run.ready_mono.iter().enumerate() {
                let name = format!("{kind}{index}");
                let (Some(marked), Some(ready)) = (marked, recorded(&record, &name, event)) else {
                    panic!("{name}: no ready time (bringup {marked:?})");
                };
                latencies.push((*marked as f64 - ready as f64) / 1e6);
                if kind == "http-503" {
                    requests.push((index, ready_requests(&record, &name)));
                }
            }
        }
        let (median, p90, max) = stats(&mut latencies);
        println!(
            "{kind:<15} {:>8} {:>8.2}ms {:>8.2}ms {:>8.2}ms  {goal}",
            latencies.len(),
            median,
            p90,
            max
        );
        if !requests.is_empty() {
            println!("{:<8} readiness requests received while answering 503:", "");
            for index in [0, PER_ROUND / 2 - 1, PER_ROUND - 1] {
                let start = Duration::from_millis(100 * (index as u64 + 1));
                let got: Vec<u64> = requests
                    .iter()
                    .filter(|(i, _)| *i == index)
                    .map(|(_, n)| *n)
                    .collect();
                println!(
                    "{:<10} ready after {:>6}: {:?} (the old schedule: about {})",
                    "",
                    format!("{start:?}"),
                    got,
                    old_schedule(start)
                );
            }
        }
    }
    let start = Duration::from_millis(1500);
    println!(
        "\na 1.5 s start answering 503 throughout: about {} requests now, {} with the old schedule",
        now_schedule(start),
        old_schedule(start)
    );
}

/// How many requests the fixture called `name` said it answered on /health/ready.
fn ready_requests(record: &std::path::Path, name: &str) -> u64 {
    let text = std::fs::read_to_string(record).unwrap_or_default();
    text.lines()
        .find_map(|line| {
            let mut parts = line.split_whitespace().skip(1);
            (parts.next()? == name)
                .then(|| parts.next()?.strip_prefix("ready-requests=")?.parse().ok())
                .flatten()
        })
        .unwrap_or(0)
}

/// Checks in `start` with gaps of `gap(elapsed)`, not counting the time a
/// check itself takes (so an upper bound).
fn checks(start: Duration, gap: impl Fn(Duration) -> Duration) -> u64 {
    let (mut at, mut count) = (Duration::ZERO, 0);
    while at < start {
        count += 1;
        at += gap(at);
    }
    count
}

/// Before issue 8: every elapsed/300, from 1 ms.
fn old_schedule(start: Duration) -> u64 {
    checks(start, |at| (at / 300).max(Duration::from_millis(1)))
}

fn now_schedule(start: Duration) -> u64 {
    checks(start, |at| (at / 300).max(bringup::probe::ANSWERED_GAP))
}
