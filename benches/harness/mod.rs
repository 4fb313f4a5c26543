//! Shared by the benchmarks: run a real stack through the library API and
//! read back when bringup decided things, on the same clock
//! (CLOCK_MONOTONIC) the fixtures record their own moments with.

#![allow(dead_code)] // each benchmark uses a part of this

use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};

use bringup::api::{Command, EventKind, State, Summary};
use bringup::config::Plan;
use bringup::engine::{Engine, EngineOptions};
use bringup::fixture::monotonic_nanos;

pub use support::BIN;

/// The tests' rig: configs load hermetically, and the dashboard runs in a
/// private tmux server ([`support::tmux::Tmux`]) that leaves nothing behind.
#[path = "../../tests/support/mod.rs"]
pub mod support;

/// `text` as `bringup.toml` in `dir`, loaded as the tests load theirs.
pub fn plan(text: &str, dir: &Path) -> Plan {
    support::config::plan_in(text, dir)
}

/// What one bring-up produced.
pub struct Run {
    pub summary: Summary,
    /// Per service (plan index): CLOCK_MONOTONIC ns when bringup marked it
    /// ready, first time.
    pub ready_mono: Vec<Option<u64>>,
    /// Per service: CLOCK_MONOTONIC ns when bringup spawned it, first time.
    pub spawned_mono: Vec<Option<u64>>,
}

/// Brings `plan` up, waits for the cold-start summary, stops it again;
/// with `history`, the engine reads and writes cold-start history there.
pub fn bring_up(plan: Plan, history: Option<&Path>) -> Run {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("tokio runtime");
    let n = plan.services.len();
    let options = EngineOptions {
        watchdog_exe: Some(BIN.into()),
        only: None,
        history_dir: history.map(Path::to_path_buf),
    };
    let (engine, mut events) = Engine::start(Arc::new(plan), options).expect("engine");
    // Engine times are offsets from its epoch (an Instant); map them onto
    // CLOCK_MONOTONIC, which Instant reads on Linux.
    let (mono_now, instant_now) = (monotonic_nanos(), Instant::now());
    let epoch_mono = mono_now - instant_now.duration_since(engine.epoch()).as_nanos() as u64;
    let mono = |at: Duration| epoch_mono + at.as_nanos() as u64;

    let mut ready_mono = vec![None; n];
    let mut spawned_mono = vec![None; n];
    let summary = runtime.block_on(async {
        let deadline = tokio::time::Instant::now() + Duration::from_secs(60);
        loop {
            let event = tokio::time::timeout_at(deadline, events.recv())
                .await
                .expect("the cold start finished within a minute")
                .expect("engine events");
            match event.kind {
                EventKind::State {
                    service,
                    to: State::Ready | State::Completed,
                    ..
                } => {
                    ready_mono[service.0].get_or_insert(mono(event.at));
                }
                EventKind::Spawned { service, .. } => {
                    spawned_mono[service.0].get_or_insert(mono(event.at));
                }
                EventKind::ColdStart(summary) => break summary,
                _ => {}
            }
        }
    });
    runtime.block_on(async {
        engine.send(Command::Shutdown { force: false }).await;
        loop {
            match events.recv().await {
                Ok(e) if matches!(e.kind, EventKind::ShutdownComplete) => break,
                Err(tokio::sync::broadcast::error::RecvError::Closed) => break,
                _ => {}
            }
        }
    });
    engine.join().expect("the engine ended without crashing");
    Run {
        summary,
        ready_mono,
        spawned_mono,
    }
}

/// The first `event` a fixture called `name` recorded.
pub fn recorded(path: &Path, name: &str, event: &str) -> Option<u64> {
    let text = std::fs::read_to_string(path).ok()?;
    text.lines().find_map(|line| {
        let mut parts = line.split_whitespace();
        let nanos = parts.next()?.parse().ok()?;
        (parts.next()? == name && parts.next()? == event).then_some(nanos)
    })
}

pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("a free port")
}

/// A config of `n` fixtures serving HTTP on auto ports, each ready when
/// its /health/ready answers (the stack the status benches ask about).
pub fn http_services(n: usize) -> String {
    (0..n)
        .map(|i| {
            format!(
                "[services.s{i:02}]\ncommand = \"{}\"\nport = \"auto\"\nreadiness = {{ http = \"http://127.0.0.1:${{port}}/health/ready\" }}\n",
                support::fixture(&format!("s{i:02}"), "--port ${port}")
            )
        })
        .collect()
}

/// (median, p90, max) of `values`.
pub fn stats(values: &mut [f64]) -> (f64, f64, f64) {
    values.sort_by(|a, b| a.total_cmp(b));
    let at = |q: f64| values[((values.len() - 1) as f64 * q).round() as usize];
    (at(0.5), at(0.9), at(1.0))
}

/// CPU time of a process over a window, to the nanosecond, threads that
/// end meanwhile included: [`cpu_time`] sums the threads alive when it
/// looks, so a thread that ends (tokio's idle blocking threads end after
/// 10 s) would take its time with it. The meter remembers each thread's
/// last figure; look often ([`CpuMeter::look`]) and little is lost.
pub struct CpuMeter {
    pid: u32,
    /// Per thread: (CPU ns, times it went to sleep and was woken).
    threads: std::collections::HashMap<String, (u64, u64)>,
}

impl CpuMeter {
    pub fn new(pid: u32) -> Self {
        let mut meter = Self {
            pid,
            threads: std::collections::HashMap::new(),
        };
        meter.look();
        meter
    }

    /// Reads every thread's figure now.
    pub fn look(&mut self) {
        let Ok(tasks) = std::fs::read_dir(format!("/proc/{}/task", self.pid)) else {
            return;
        };
        for task in tasks.flatten() {
            let nanos = std::fs::read_to_string(task.path().join("schedstat"))
                .ok()
                .and_then(|stat| stat.split_whitespace().next()?.parse::<u64>().ok());
            let status = std::fs::read_to_string(task.path().join("status")).unwrap_or_default();
            let wakes = status
                .lines()
                .find_map(|l| l.strip_prefix("voluntary_ctxt_switches:"))
                .and_then(|n| n.trim().parse::<u64>().ok())
                .unwrap_or(0);
            if let Some(nanos) = nanos {
                let tid = task.file_name().to_string_lossy().into_owned();
                self.threads.insert(tid, (nanos, wakes));
            }
        }
    }

    /// CPU time used so far, as of the last look.
    pub fn total(&self) -> Duration {
        Duration::from_nanos(self.threads.values().map(|t| t.0).sum())
    }

    /// How many times its threads slept and were woken so far.
    pub fn wakes(&self) -> u64 {
        self.threads.values().map(|t| t.1).sum()
    }
}

/// Sleeps `window`, looking at each meter every 250 ms; returns the CPU
/// time each used meanwhile, scaled to exactly `window` of wall time.
pub fn cpu_over(meters: &mut [CpuMeter], window: Duration) -> Vec<f64> {
    cpu_and_wakes_over(meters, window)
        .into_iter()
        .map(|(cpu, _)| cpu)
        .collect()
}

/// [`cpu_over`], with how many times each process was woken meanwhile.
pub fn cpu_and_wakes_over(meters: &mut [CpuMeter], window: Duration) -> Vec<(f64, u64)> {
    for meter in meters.iter_mut() {
        meter.look();
    }
    let before: Vec<(Duration, u64)> = meters.iter().map(|m| (m.total(), m.wakes())).collect();
    let started = std::time::Instant::now();
    while started.elapsed() < window {
        std::thread::sleep(
            Duration::from_millis(250).min(window.saturating_sub(started.elapsed())),
        );
        for meter in meters.iter_mut() {
            meter.look();
        }
    }
    let scale = window.as_secs_f64() / started.elapsed().as_secs_f64();
    meters
        .iter()
        .zip(before)
        .map(|(meter, (cpu, wakes))| {
            let used = meter.total().saturating_sub(cpu).as_secs_f64() * scale;
            (used, meter.wakes().saturating_sub(wakes))
        })
        .collect()
}

/// What one bare wake-up costs on this machine now: a thread that only
/// sleeps 20 ms at a time, for `window`; its CPU time per wake, in µs.
/// (On a virtual machine this swings several-fold with the host's load:
/// idle figures are only comparable with one measured beside them.)
pub fn bare_wake_us(window: Duration) -> std::thread::JoinHandle<f64> {
    std::thread::spawn(move || {
        let own = || {
            std::fs::read_to_string("/proc/thread-self/schedstat")
                .ok()
                .and_then(|s| s.split_whitespace().next()?.parse::<u64>().ok())
                .unwrap_or(0)
        };
        let started = std::time::Instant::now();
        let before = own();
        let mut wakes = 0u64;
        while started.elapsed() < window {
            std::thread::sleep(Duration::from_millis(20));
            wakes += 1;
        }
        (own() - before) as f64 / 1e3 / wakes.max(1) as f64
    })
}

/// CPU time of this thread so far (from schedstat: ns).
fn own_thread_nanos() -> u64 {
    std::fs::read_to_string("/proc/thread-self/schedstat")
        .ok()
        .and_then(|s| s.split_whitespace().next()?.parse::<u64>().ok())
        .unwrap_or(0)
}

/// What the least a dashboard and a stack of ten services printing a
/// line a second could cost on this machine, measured over `window` on
/// threads of this process: (a) a plain ratatui frame of
/// `width`×`height` (a paragraph filling it, its lines changed each time)
/// drawn once a second into a crossterm backend that writes nowhere: the
/// floor under any ratatui dashboard that shows a ticking log; (b) a
/// tokio runtime on one thread reading ten pipes, a line written to each
/// once a second, the ten a millisecond apart (as ten services started
/// together tick): the floor under a supervisor that reads its services'
/// output as it comes. Both in CPU-s per window. On a virtual
/// machine whose caches other guests fill while a thread sleeps, work done
/// once a second costs many times the same work done hot; the figures say
/// how much, beside bringup's own.
pub fn once_a_second_floors(
    window: Duration,
    (width, height): (u16, u16),
) -> std::thread::JoinHandle<(f64, f64)> {
    std::thread::spawn(move || {
        use std::io::Write;
        let rounds = window.as_secs().max(1);
        let (mut writers, receivers): (Vec<_>, Vec<_>) = (0..10)
            .map(|_| {
                let (reader, writer) = std::io::pipe().expect("pipe");
                (writer, std::os::fd::OwnedFd::from(reader))
            })
            .unzip();
        // One thread, one current-thread runtime, a task per pipe: how
        // bringup reads its services, with nothing done with the lines.
        let reading = std::thread::spawn(move || {
            let runtime = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .expect("runtime");
            let before = own_thread_nanos();
            runtime.block_on(async move {
                let tasks: Vec<_> = receivers
                    .into_iter()
                    .map(|fd| {
                        tokio::spawn(async move {
                            use tokio::io::AsyncBufReadExt;
                            let pipe = tokio::net::unix::pipe::Receiver::from_owned_fd(fd)
                                .expect("pipe receiver");
                            let mut lines = tokio::io::BufReader::new(pipe).lines();
                            while let Ok(Some(line)) = lines.next_line().await {
                                std::hint::black_box(line);
                            }
                        })
                    })
                    .collect();
                for task in tasks {
                    let _ = task.await;
                }
            });
            own_thread_nanos() - before
        });
        let mut terminal =
            ratatui::Terminal::new(ratatui::backend::CrosstermBackend::new(std::io::sink()))
                .expect("terminal");
        let area = ratatui::layout::Rect::new(0, 0, width, height);
        terminal.resize(area).expect("size");
        let mut frames = 0u64;
        for round in 0..rounds {
            std::thread::sleep(Duration::from_millis(990));
            for (i, writer) in writers.iter_mut().enumerate() {
                std::thread::sleep(Duration::from_millis(1));
                let _ = writeln!(writer, "s{i} tick {round}");
            }
            let before = own_thread_nanos();
            let lines: Vec<ratatui::text::Line> = (0..u64::from(height))
                .map(|row| format!("row {row} of the screen, round {}", round + row).into())
                .collect();
            terminal
                .draw(|frame| {
                    frame.render_widget(ratatui::widgets::Paragraph::new(lines), frame.area())
                })
                .expect("draw");
            frames += own_thread_nanos() - before;
        }
        drop(writers);
        let reads = reading.join().unwrap_or(0);
        (frames as f64 / 1e9, reads as f64 / 1e9)
    })
}

/// CPU time a process has used so far, all threads (from schedstat: ns).
pub fn cpu_time(pid: u32) -> Duration {
    let Ok(tasks) = std::fs::read_dir(format!("/proc/{pid}/task")) else {
        return Duration::ZERO;
    };
    let nanos: u64 = tasks
        .flatten()
        .filter_map(|task| std::fs::read_to_string(task.path().join("schedstat")).ok())
        .filter_map(|stat| stat.split_whitespace().next()?.parse::<u64>().ok())
        .sum();
    Duration::from_nanos(nanos)
}

/// Resident and peak resident memory of a process, in KiB.
pub fn memory_kib(pid: u32) -> (u64, u64) {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
    let field = |name: &str| {
        status
            .lines()
            .find(|l| l.starts_with(name))
            .and_then(|l| l.split_whitespace().nth(1)?.parse().ok())
            .unwrap_or(0)
    };
    (field("VmRSS:"), field("VmHWM:"))
}

/// A child in a process group of its own, stopped when dropped — also when
/// a benchmark panics — so no run leaves processes behind: SIGTERM to the
/// group, up to 10 s to exit, then SIGKILL. (bringup stops its services on
/// SIGTERM; its services are in groups of their own.)
pub struct Reaped {
    pub child: std::process::Child,
}

impl Reaped {
    /// Spawns `command` in a new process group.
    pub fn spawn(command: &mut std::process::Command) -> Self {
        use std::os::unix::process::CommandExt;
        let child = command.process_group(0).spawn().expect("spawn");
        Self { child }
    }

    pub fn id(&self) -> u32 {
        self.child.id()
    }

    /// Signals the whole group.
    pub fn signal(&self, signal: nix::sys::signal::Signal) {
        let _ = nix::sys::signal::kill(
            nix::unistd::Pid::from_raw(-(self.child.id() as i32)),
            signal,
        );
    }

    /// Waits up to `limit` for the child to exit.
    pub fn wait(&mut self, limit: Duration) -> Option<std::process::ExitStatus> {
        let deadline = Instant::now() + limit;
        loop {
            if let Ok(Some(status)) = self.child.try_wait() {
                return Some(status);
            }
            if Instant::now() >= deadline {
                return None;
            }
            std::thread::sleep(Duration::from_millis(1));
        }
    }
}

/// `bringup up --no-tui` on `dir`/bringup.toml, output to /dev/null, its
/// history kept in `dir`; stopped when dropped.
pub fn headless(dir: &Path) -> Reaped {
    Reaped::spawn(
        std::process::Command::new(BIN)
            .args(["up", "--no-tui"])
            .current_dir(dir)
            .env("XDG_STATE_HOME", dir.join("state"))
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null()),
    )
}

impl Drop for Reaped {
    fn drop(&mut self) {
        // The group may outlive its leader (a pipeline's other half).
        self.signal(nix::sys::signal::Signal::SIGTERM);
        if self.wait(Duration::from_secs(10)).is_none() {
            self.signal(nix::sys::signal::Signal::SIGKILL);
            let _ = self.child.wait();
        }
    }
}

/// Whole-process wall time of `bringup <args>`, spawn to exit, its output
/// read (as `$(bringup status --json)` in a script would); milliseconds.
pub fn wall_ms(args: &[&str]) -> f64 {
    let started = std::time::Instant::now();
    let output = std::process::Command::new(BIN)
        .args(args)
        .env("NO_COLOR", "1")
        .stdin(std::process::Stdio::null())
        .output()
        .expect("run bringup");
    let took = started.elapsed();
    assert!(
        output.status.success(),
        "bringup {args:?}: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    took.as_secs_f64() * 1e3
}
