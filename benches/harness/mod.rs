//! Shared by the benchmarks: run a real stack through the library API and
//! read back when bringup decided things, on the same clock
//! (CLOCK_MONOTONIC) the fixtures record their own moments with.

#![allow(dead_code)] // each benchmark uses a part of this

use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};

use bringup::config::{self, Plan, validate::Context};
use bringup::engine::{Command, Engine, EngineOptions, EventKind, State, Summary};
use bringup::fixture::monotonic_nanos;

pub const BIN: &str = env!("CARGO_BIN_EXE_bringup");

/// Loads `text` with `${bringup}` pointing at the real binary.
pub fn plan(text: &str, dir: &Path) -> Plan {
    let env = |var: &str| std::env::var(var).ok();
    let cx = Context {
        file: Path::new("bench.toml"),
        base_dir: dir,
        env: &env,
        bringup: BIN,
    };
    match config::load_with(text, &cx) {
        Ok(plan) => plan,
        Err(e) => panic!("benchmark config is invalid: {e}"),
    }
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

/// Brings `plan` up, waits for the cold-start summary, stops it again.
pub fn bring_up(plan: Plan) -> Run {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("tokio runtime");
    let n = plan.services.len();
    let options = EngineOptions {
        watchdog_exe: Some(BIN.into()),
        only: None,
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
    engine.join();
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

/// (median, p90, max) of `values`.
pub fn stats(values: &mut [f64]) -> (f64, f64, f64) {
    values.sort_by(|a, b| a.total_cmp(b));
    let at = |q: f64| values[((values.len() - 1) as f64 * q).round() as usize];
    (at(0.5), at(0.9), at(1.0))
}
