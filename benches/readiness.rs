//! Readiness detection latency per probe kind: from the moment a service
//! becomes ready (the fixture records it: bound for tcp, /health/ready
//! answering 200 for http, the ready line printed for log, READY=1 sent for
//! notify, the ready file created for exec) to the moment bringup marks it
//! ready.
//!
//! Each round starts ten services that become ready 100 ms … 1 s after they
//! start, so the fast-then-calm polling schedule is measured across the
//! range a real stack spans. Goals (issue 5): median under 2 ms for tcp, log
//! and notify, under 5 ms for http. exec has no goal: each check starts a
//! process, so bringup deliberately checks less often (every elapsed/50,
//! at least 10 ms apart) and the figure shows what that costs.

mod harness;

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
            "[services.{name}]\ncommand = \"{base} --port ${{port}} --ready-after {delay}\"\nport = {}\nreadiness = {{ http = \"/health/ready\" }}\n",
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
        "{:<8} {:>8} {:>10} {:>10} {:>10}  goal (median)",
        "probe", "samples", "median", "p90", "max"
    );
    for (kind, goal) in [
        ("tcp", "< 2 ms"),
        ("http", "< 5 ms"),
        ("log", "< 2 ms"),
        ("notify", "< 2 ms"),
        ("exec", "none (a process per check)"),
    ] {
        let mut latencies = Vec::new();
        for _ in 0..ROUNDS {
            let dir = tempfile::tempdir().expect("temp dir");
            let record = dir.path().join("record");
            let record_text = record.display().to_string();
            let config: String = (0..PER_ROUND)
                .map(|i| service(kind, i, &record_text))
                .collect();
            let run = bring_up(plan(&config, dir.path()), None);
            let event = if kind == "tcp" { "bound" } else { "ready" };
            for (index, marked) in run.ready_mono.iter().enumerate() {
                let name = format!("{kind}{index}");
                let (Some(marked), Some(ready)) = (marked, recorded(&record, &name, event)) else {
                    panic!("{name}: no ready time (bringup {marked:?})");
                };
                latencies.push((*marked as f64 - ready as f64) / 1e6);
            }
        }
        let (median, p90, max) = stats(&mut latencies);
        println!(
            "{kind:<8} {:>8} {:>8.2}ms {:>8.2}ms {:>8.2}ms  {goal}",
            latencies.len(),
            median,
            p90,
            max
        );
    }
}
