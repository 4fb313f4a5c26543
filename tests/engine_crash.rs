//! An engine that panics says so: `Engine::join` returns the panic, and
//! the crash report a front end's caller keeps has the message, so
//! `bringup up` exits non-zero with it instead of judging the run by a
//! last snapshot that may say "all ready".
//!
//! The panic here is a real one: a plan that validation would refuse (a
//! `dependency_timeout` near `Duration::MAX`, built by hand through the
//! library) overflows the machine's clock arithmetic, as absurd durations
//! in a config did before they were range-checked.

// A test fails by panicking; `expect` says why.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod support;

use std::sync::Arc;
use std::time::Duration;

use bringup::api::{Command, EventKind};
use bringup::engine::{Engine, EngineError, EngineOptions, Request};

#[test]
fn a_panicking_engine_reports_its_panic_and_leaves_no_process() {
    let marker = support::unique_marker();
    // Only `first` is brought up; `waiter` is started by hand once
    // `first` runs, and its optional wait overflows then, so there is a
    // real process for the crash to leave behind.
    let text = format!(
        r#"
[services.first]
command = "sleep 60"
env = {{ BRINGUP_TEST_MARKER = "{marker}" }}
[services.slow]
command = "sleep 60"
readiness = {{ exec = "false" }}
env = {{ BRINGUP_TEST_MARKER = "{marker}" }}
[services.waiter]
command = "sleep 60"
depends_on = {{ first = "required", slow = "optional" }}
env = {{ BRINGUP_TEST_MARKER = "{marker}" }}
"#
    );
    let mut plan = support::config::plan(&text);
    let waiter = plan.find("waiter").expect("waiter");
    plan.services[waiter.0].dependency_timeout = Duration::MAX;

    // Whatever happens below, nothing of this test outlives it.
    struct Cleanup(String);
    impl Drop for Cleanup {
        fn drop(&mut self) {
            support::kill_marked(&self.0);
        }
    }
    let _cleanup = Cleanup(marker.clone());

    let first = plan.find("first").expect("first");
    let options = EngineOptions {
        only: Some(vec![first]),
        ..EngineOptions::default()
    };
    let (engine, mut events) = Engine::start(Arc::new(plan), options).expect("engine starts");
    loop {
        match events.blocking_recv() {
            Ok(event) if matches!(event.kind, EventKind::Spawned { .. }) => break,
            Ok(_) => {}
            Err(e) => panic!("the engine ended before `first` ran: {e}"),
        }
    }
    assert_eq!(support::processes_with_marker(&marker).len(), 1);
    engine
        .commands()
        .blocking_send(Request {
            command: Command::Start(waiter),
            reply: None,
        })
        .expect("send");
    let crash = engine.crash_report();
    // Bounded: should the engine not crash, it would run until stopped.
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let _ = tx.send(engine.join());
    });
    let joined = rx
        .recv_timeout(support::DEADLINE)
        .expect("the engine ended (in a panic)");
    let message = match joined {
        Err(EngineError::Panicked(message)) => message,
        other => panic!("expected the panic to be reported, got {other:?}"),
    };
    assert!(message.contains("overflow"), "{message}");
    assert_eq!(crash.message(), Some(message.as_str()));
    assert!(
        EngineError::Panicked(message)
            .to_string()
            .starts_with("the engine stopped on an internal error (a bug in bringup): "),
    );
    support::poll("the services of the crashed engine to be gone", || {
        support::processes_with_marker(&marker)
            .is_empty()
            .then_some(())
    });
}
