//! The dashboard's costs, measured:
//!
//! 1. Frame render time with 200 services (ratatui TestBackend: the whole
//!    frame built, diffing included, without terminal I/O).
//! 2. CPU and memory of `bringup demo` sitting idle in a real terminal
//!    (tmux) for 20 s, and of 10 services printing a line a second.
//! 3. Key latency during a log flood: a service writes as fast as `yes`
//!    can while the dashboard follows it; how long from a key press in tmux
//!    until the screen shows its effect (tmux's own round trip included).
//!
//! Goals: issue 4 asks for the figures; issue 5 sets idle under 0.05
//! CPU-seconds per 20 s and key latency under 50 ms.

// A benchmark fails by panicking; `expect` says why.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod harness;

use std::sync::Arc;
use std::time::{Duration, Instant};

use bringup::engine::machine::{Input, Machine, News};
use bringup::keys::Keymap;
use bringup::logs::{LogHub, Stream};
use bringup::tui::app::App;
use bringup::tui::theme::Theme;
use harness::support::tmux::Tmux;
use harness::{BIN, cpu_time, memory_kib, plan, stats};
use ratatui::Terminal;
use ratatui::backend::TestBackend;

fn main() {
    frames();
    idle("the demo stack, idle", None);
    let chatty: String = (0..10)
        .map(|i| {
            format!(
                "[services.s{i}]\ncommand = \"${{bringup}} fixture --name s{i} --log-every 1s\"\n"
            )
        })
        .collect();
    idle("10 services printing a line a second", Some(&chatty));
    flood();
}

/// 200 services in 10 levels of 20, every one up, with output.
fn frames() {
    let dir = tempfile::tempdir().expect("temp dir");
    let mut text = String::new();
    for level in 0..10 {
        for i in 0..20 {
            let deps = if level == 0 {
                String::new()
            } else {
                format!("depends_on = [\"s{}_{i}\"]\n", level - 1)
            };
            text.push_str(&format!(
                "[services.s{level}_{i}]\ncommand = \"true\"\n{deps}"
            ));
        }
    }
    let plan = Arc::new(plan(&text, dir.path()));
    let planned = Instant::now();
    let _ = harness::plan(&text, dir.path());
    let plan_time = planned.elapsed();
    let mut machine = Machine::new(plan.clone(), 1);
    machine.handle(Duration::ZERO, Input::Begin);
    // Bring every service up, wave by wave (readiness "none": ready on spawn).
    for round in 0..10u64 {
        for id in plan.ids() {
            let status = machine.status(id);
            if status.state == bringup::api::State::Starting && status.pid.is_none() {
                let generation = u64::from(status.spawns);
                machine.handle(
                    Duration::from_millis(round * 10),
                    Input::Process {
                        id,
                        generation,
                        news: News::Spawned {
                            pid: 10_000 + id.0 as u32,
                        },
                    },
                );
            }
        }
    }
    let logs = LogHub::new(plan.services.len(), 1000);
    for id in plan.ids() {
        let lines = (0..50)
            .map(|n| {
                format!(
                    "\x1b[32mINFO\x1b[0m {} handled request {n} in 3ms",
                    plan.service(id).name
                )
            })
            .collect();
        logs.append(id.0, Stream::Stdout, lines);
    }
    let mut app = App::new(
        Arc::new(bringup::engine::info::stack_info(&plan)),
        machine.snapshot(),
        logs,
        Theme::load(None).expect("theme"),
        Keymap::default(),
    );
    app.clock = Duration::from_secs(65);
    println!(
        "200 services: plan (load + validate + graph) {:.2} ms",
        plan_time.as_secs_f64() * 1e3
    );
    for (label, key, width, height) in [
        ("main view 200×60", None, 200, 60),
        ("main view 80×24", None, 80, 24),
        ("timeline 200×60", Some("t"), 200, 60),
        ("all logs merged 200×60", Some("a"), 200, 60),
    ] {
        if let Some(key) = key {
            app.on_key(bringup::keys::Key::parse(key).expect("key"));
        }
        app.size = (width, height);
        let mut terminal = Terminal::new(TestBackend::new(width, height)).expect("terminal");
        let mut times: Vec<f64> = (0..200)
            .map(|frame| {
                app.clock = Duration::from_secs(65) + Duration::from_millis(frame);
                let started = Instant::now();
                terminal
                    .draw(|f| bringup::tui::view::draw(f, &app))
                    .expect("draw");
                started.elapsed().as_secs_f64() * 1e6
            })
            .collect();
        let (median, p90, max) = stats(&mut times);
        println!(
            "frame, {label:<24} median {median:>7.0} µs  p90 {p90:>7.0} µs  max {max:>7.0} µs"
        );
        if let Some(key) = key {
            app.on_key(bringup::keys::Key::parse(key).expect("key"));
        }
    }
    println!();
}

/// CPU and memory of the dashboard over 20 s in tmux, after the cold start.
fn idle(label: &str, config: Option<&str>) {
    let dir = tempfile::tempdir().expect("temp dir");
    let command = match config {
        Some(text) => {
            std::fs::write(dir.path().join("bringup.toml"), text).expect("config");
            format!("'{BIN}' up -c '{}/bringup.toml'", dir.path().display())
        }
        None => format!("'{BIN}' demo"),
    };
    let tmux = Tmux::run_in(dir.path(), &command, 120, 34);
    tmux.wait_up_to(Duration::from_secs(60), "the cold start", |s| {
        s.contains("up in") || s.contains("not everything")
    });
    let pid = tmux.bringup_pid().expect("the bringup process") as u32;
    std::thread::sleep(Duration::from_secs(2));
    let (cpu0, wall0) = (cpu_time(pid), Instant::now());
    std::thread::sleep(Duration::from_secs(20));
    let cpu = cpu_time(pid) - cpu0;
    let wall = wall0.elapsed();
    let (rss, peak) = memory_kib(pid);
    println!(
        "{label}, dashboard open 20 s: {:.3} CPU-s per 20 s ({:.2}% of a core), RSS {:.1} MiB (peak {:.1} MiB); goal < 0.05 CPU-s",
        cpu.as_secs_f64() * 20.0 / wall.as_secs_f64(),
        cpu.as_secs_f64() / wall.as_secs_f64() * 100.0,
        rss as f64 / 1024.0,
        peak as f64 / 1024.0
    );
    tmux.keys(&["q"]);
    std::thread::sleep(Duration::from_millis(500));
}

/// Key latency while a service floods the log pane.
fn flood() {
    let dir = tempfile::tempdir().expect("temp dir");
    std::fs::write(
        dir.path().join("bringup.toml"),
        "[services.flood]\ncommand = [\"sh\", \"-c\", \"exec yes 'a line of about eighty bytes, printed as fast as the pipe takes it ......'\"]\n[services.calm]\ncommand = \"${bringup} fixture --name calm --log-every 1s\"\n",
    )
    .expect("config");
    let command = format!("'{BIN}' up -c '{}/bringup.toml'", dir.path().display());
    let tmux = Tmux::run_in(dir.path(), &command, 120, 34);
    tmux.wait_up_to(Duration::from_secs(60), "the cold start", |s| {
        s.contains("up in")
    });
    let pid = tmux.bringup_pid().expect("bringup") as u32;
    std::thread::sleep(Duration::from_secs(1));
    let selected = |screen: &str, name: &str| {
        screen
            .lines()
            .any(|l| l.starts_with('▶') && l[3..].trim_start().starts_with(name))
    };
    let mut latencies = Vec::new();
    let cpu0 = cpu_time(pid);
    let wall0 = Instant::now();
    for round in 0..30 {
        let (key, target) = if round % 2 == 0 {
            ("j", "calm")
        } else {
            ("k", "flood")
        };
        let sent = Instant::now();
        tmux.keys(&[key]);
        while !selected(&tmux.screen(), target) {
            assert!(
                sent.elapsed() < Duration::from_secs(5),
                "no answer to {key}:\n{}",
                tmux.screen()
            );
        }
        latencies.push(sent.elapsed().as_secs_f64() * 1e3);
        std::thread::sleep(Duration::from_millis(50));
    }
    let cpu = (cpu_time(pid) - cpu0).as_secs_f64() / wall0.elapsed().as_secs_f64();
    let (rss, peak) = memory_kib(pid);
    let (median, p90, max) = stats(&mut latencies);
    println!(
        "key latency during a log flood (`yes` into the visible pane): median {median:.1} ms, p90 {p90:.1} ms, max {max:.1} ms (goal < 50 ms; tmux round trip included)"
    );
    println!(
        "  meanwhile bringup used {:.0}% of a core reading the flood; RSS {:.1} MiB (peak {:.1} MiB)",
        cpu * 100.0,
        rss as f64 / 1024.0,
        peak as f64 / 1024.0
    );
    tmux.keys(&["q"]);
    std::thread::sleep(Duration::from_millis(800));
}
