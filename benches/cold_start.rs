//! Cold-start overhead on the demo stack: time to all-ready minus the
//! critical path implied by the readiness delays the demo configures.
//!
//! The demo's services are fixtures told how long to take (`--ready-after`,
//! `--bind-after`, `--exit-after`); from those and the dependency graph this
//! computes when each service would be ready if starting a process and
//! noticing readiness cost nothing. What bringup (and the OS) add on top —
//! spawning, probing, scheduling — is the overhead, broken down per
//! dependency level from the fixtures' own records. Goal (issue 2): under
//! 30 ms in total.

mod harness;

use std::time::Duration;

use bringup::config::{Check, CommandSpec, DepKind, Kind, Plan};
use harness::{bring_up, plan, recorded, stats};

const RUNS: usize = 5;

/// The delay a fixture command asks for with `flag`.
fn flag(command: &str, flag: &str) -> Option<Duration> {
    let rest = command.split(&format!("{flag} ")).nth(1)?;
    humantime::parse_duration(rest.split_whitespace().next()?).ok()
}

/// The cold start as the configured delays imply it.
struct Implied {
    /// Time to all-ready.
    total: Duration,
    /// The services that decide it, first to last (plan indices).
    path: Vec<usize>,
    /// Per service: its configured delay, and what released it (its gate).
    delay: Vec<Duration>,
    gate: Vec<Option<usize>>,
}

fn implied(plan: &Plan) -> Implied {
    let n = plan.services.len();
    let mut start = vec![Duration::ZERO; n];
    // When a service releases its dependents (ready, completed or failed),
    // and whether it counts as ready.
    let mut release = vec![Duration::ZERO; n];
    let mut ready = vec![false; n];
    let mut delay = vec![Duration::ZERO; n];
    let mut gate = vec![None; n];
    for &id in plan.graph.order() {
        let spec = plan.service(id);
        let command = match &spec.command {
            CommandSpec::Shell(t) => t.render(None, |_| None),
            CommandSpec::Argv(parts) => parts
                .iter()
                .map(|p| p.render(None, |_| None))
                .collect::<Vec<_>>()
                .join(" "),
        };
        for dep in &spec.depends_on {
            let at = if dep.kind == DepKind::Soft {
                start[dep.on.0]
            } else {
                release[dep.on.0]
            };
            if at >= start[id.0] {
                start[id.0] = at;
                gate[id.0] = Some(dep.on.0);
            }
        }
        let exit_after = flag(&command, "--exit-after");
        let crashes = exit_after.is_some()
            && command.contains("--exit-code")
            && !command.contains("--exit-code 0");
        delay[id.0] = match (spec.kind, exit_after) {
            (Kind::Task, Some(exit)) => exit,
            (_, Some(exit)) if crashes => exit,
            _ => flag(&command, "--ready-after")
                .unwrap_or_default()
                .max(flag(&command, "--bind-after").unwrap_or_default()),
        };
        release[id.0] = start[id.0] + delay[id.0];
        ready[id.0] = !crashes;
    }
    let last = (0..n)
        .filter(|&i| ready[i])
        .max_by_key(|&i| release[i])
        .unwrap_or(0);
    let mut path = vec![last];
    while let Some(previous) = path.last().and_then(|&i| gate[i]) {
        path.push(previous);
    }
    path.reverse();
    Implied {
        total: release[last],
        path,
        delay,
        gate,
    }
}

/// The record that marks a service as ready, by how it is checked.
fn ready_event(plan: &Plan, index: usize) -> &'static str {
    let spec = &plan.services[index];
    match (spec.kind, &spec.readiness.check) {
        (Kind::Task, _) => "exit",
        (_, Check::Tcp { .. }) => "bound",
        _ => "ready",
    }
}

fn main() {
    let dir = tempfile::tempdir().expect("temp dir");
    let record = dir.path().join("record");
    // The demo as shipped, plus --record so each fixture notes when it
    // really started and became ready.
    let demo = bringup::config::DEMO.replace(
        "fixture --name",
        &format!("fixture --record {} --name", record.display()),
    );
    let shape = plan(&demo, dir.path());
    let ideal = implied(&shape);
    let names: Vec<&str> = ideal
        .path
        .iter()
        .map(|&i| shape.services[i].name.as_str())
        .collect();
    println!("cold-start overhead on the demo stack ({RUNS} runs)");
    println!(
        "implied by the configured delays: {:.1} ms via {}",
        ms(ideal.total),
        names.join(" → ")
    );
    println!("goal: overhead under 30 ms\n");

    let mut overheads = Vec::new();
    // Per critical-path level: [scheduling, process start, fixture slop, detection].
    let mut levels: Vec<[f64; 4]> = Vec::new();
    for run in 1..=RUNS {
        let _ = std::fs::remove_file(&record);
        let result = bring_up(plan(&demo, dir.path()));
        let took = result.summary.time_to_ready;
        let overhead = ms(took) - ms(ideal.total);
        let measured: Vec<&str> = result
            .summary
            .critical_path
            .iter()
            .map(|t| t.name.as_str())
            .collect();
        println!(
            "run {run}: all ready after {:.1} ms, overhead {overhead:.1} ms over {} levels, critical path {}",
            ms(took),
            measured.len(),
            measured.join(" → ")
        );
        overheads.push(overhead);
        for &i in &ideal.path {
            let name = shape.services[i].name.as_str();
            let at = |event| recorded(&record, name, event).map(|ns| ns as f64 / 1e6);
            let mono = |ns: Option<u64>| ns.map(|ns| ns as f64 / 1e6);
            let (Some(spawned), Some(marked), Some(started), Some(ready)) = (
                mono(result.spawned_mono[i]),
                mono(result.ready_mono[i]),
                at("start"),
                at(ready_event(&shape, i)),
            ) else {
                continue;
            };
            let released = ideal.gate[i].and_then(|g| mono(result.ready_mono[g]));
            levels.push([
                released.map_or(0.0, |r| spawned - r),
                started - spawned,
                ready - started - ms(ideal.delay[i]),
                marked - ready,
            ]);
        }
    }
    let column = |k: usize| {
        let mut values: Vec<f64> = levels.iter().map(|row| row[k]).collect();
        stats(&mut values).0
    };
    println!("\nper level on the critical path (median over runs and levels):");
    println!(
        "  dependency ready → dependent spawned   {:>6.2} ms  (bringup: scheduling and spawn)",
        column(0)
    );
    println!(
        "  spawned → process running its main    {:>6.2} ms  (exec, dynamic loading)",
        column(1)
    );
    println!(
        "  service's own delay beyond configured {:>6.2} ms  (the fixture's timer)",
        column(2)
    );
    println!(
        "  service ready → bringup notices       {:>6.2} ms  (bringup: readiness detection)",
        column(3)
    );
    let (median, _, max) = stats(&mut overheads);
    println!("\noverhead: median {median:.1} ms, max {max:.1} ms (goal < 30 ms)");
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1e3
}
