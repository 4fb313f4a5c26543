//! The engine's protocol is plain data that survives the wire: every
//! event, snapshot, stack description and command answer a real run
//! produces is serialized to JSON and read back to the same value. A
//! control socket (and its clients) will carry exactly these types, so a
//! field that serializes but cannot be read back, or reads back different,
//! is a broken protocol.

// A test fails by panicking; `expect` says why.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod support;

use std::net::TcpListener;
use std::path::Path;
use std::sync::Arc;

use bringup::api::{Command, Event, EventKind, Outcome, Phase, Snapshot, StackInfo, State};
use bringup::engine::{Engine, EngineOptions};
use bringup::session::Session;
use serde::Serialize;
use serde::de::DeserializeOwned;
use support::{BIN, DEADLINE, fixture};

/// Serializes `value`, reads it back and serializes that: both texts must
/// be the same (durations travel as float milliseconds, so comparing the
/// text is what "the same" means for every type).
fn round_trip<T: Serialize + DeserializeOwned>(what: &str, value: &T) -> T {
    let text = serde_json::to_string(value).unwrap_or_else(|e| panic!("{what}: serialize: {e}"));
    let back: T =
        serde_json::from_str(&text).unwrap_or_else(|e| panic!("{what}: read back {text}: {e}"));
    let again = serde_json::to_string(&back).expect("serialize again");
    assert_eq!(text, again, "{what} changed on the way through JSON");
    back
}

#[test]
fn every_event_snapshot_and_answer_of_a_real_run_reads_back_unchanged() {
    // A port someone else holds, so that the stack has a fallback to tell.
    let taken = TcpListener::bind("127.0.0.1:0").expect("bind");
    let taken_port = taken.local_addr().expect("addr").port();
    let text = format!(
        r#"
[project]
name = "protocol"
[services.db]
command = "{db}"
port = {taken_port}
fallback_ports = [{fallback}]
[services.api]
command = "{api}"
port = "auto"
depends_on = ["db"]
readiness = {{ http = "/health/ready" }}
[services.flaky]
command = "exit 3"
optional = true
restart = "on-failure"
max_restarts = 1
backoff = {{ initial = "10ms", max = "10ms" }}
"#,
        fallback = support::free_port(),
        db = fixture("db", "--port ${port}"),
        api = fixture("api", "--port ${port} --ready-after 100ms"),
    );
    let dir = tempfile::tempdir().expect("tempdir");
    let plan = support::config::plan_in(&text, dir.path());
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime");
    let options = EngineOptions {
        watchdog_exe: Some(Path::new(BIN).to_path_buf()),
        only: None,
        history_dir: None,
    };
    let (engine, events) = Engine::start(Arc::new(plan), options).expect("engine");
    let session = Session::local(&engine, events);

    let info: StackInfo = round_trip("stack info", session.info().as_ref());
    assert_eq!(&info, session.info().as_ref());
    let api = info.find("api").expect("api in the stack info");

    let (events, snapshots, outcomes) = runtime.block_on(async {
        let mut events = session.events();
        let mut snapshot = session.snapshot();
        let mut seen_events = Vec::new();
        let mut seen_snapshots = Vec::new();
        let mut outcomes = Vec::new();
        let ready = tokio::time::timeout(DEADLINE, async {
            loop {
                let now = snapshot.borrow_and_update().clone();
                let done = now.summary.is_some()
                    && now
                        .services
                        .iter()
                        .any(|s| s.name == "flaky" && s.state == State::Failed);
                seen_snapshots.push(now);
                if done {
                    break;
                }
                if snapshot.changed().await.is_err() {
                    break;
                }
            }
        })
        .await;
        assert!(
            ready.is_ok(),
            "the stack did not come up: {seen_snapshots:#?}"
        );
        outcomes.push(session.send(Command::Restart(api)).await);
        outcomes.push(session.send(Command::Skip(api)).await);
        outcomes.push(session.send(Command::Shutdown { force: false }).await);
        let ended = tokio::time::timeout(DEADLINE, async {
            loop {
                match events.recv().await {
                    Ok(event) => {
                        let last = event.kind == EventKind::ShutdownComplete;
                        seen_events.push(event);
                        if last {
                            break;
                        }
                    }
                    Err(tokio::sync::broadcast::error::RecvError::Lagged(n)) => {
                        panic!("missed {n} events")
                    }
                    Err(_) => break,
                }
            }
        })
        .await;
        assert!(ended.is_ok(), "the engine did not end: {seen_events:#?}");
        // The snapshot watch closes once the engine has ended.
        while snapshot.changed().await.is_ok() {}
        seen_snapshots.push(snapshot.borrow().clone());
        (seen_events, seen_snapshots, outcomes)
    });
    // Log lines are read by cursor, and timed on the events' clock.
    assert_eq!(session.epoch(), session.logs().epoch(), "one epoch");
    let db = info.find("db").expect("db");
    let page = session.logs().store(db.0).expect("db's store").page(0, 100);
    assert!(!page.lines.is_empty(), "db printed nothing");
    let back = round_trip("log page", &page);
    assert_eq!(back.next, page.next);
    assert_eq!(back.lines.len(), page.lines.len());
    let spawned = events
        .iter()
        .find(|e| matches!(e.kind, EventKind::Spawned { service, .. } if service == db))
        .expect("db spawned");
    assert!(
        page.lines[0].at >= spawned.at,
        "db printed ({:?}) before it was spawned ({:?})",
        page.lines[0].at,
        spawned.at
    );
    drop(session);
    engine.join().expect("engine ended cleanly");

    // The run said what the protocol must carry: a fallback port, a
    // restart, a give-up, an answer of each kind.
    let described = format!("{events:#?}");
    for kind in ["Port", "Spawned", "Exited", "ColdStart", "ShutdownComplete"] {
        assert!(described.contains(kind), "no {kind} event in {described}");
    }
    assert_eq!(outcomes[0], Some(Outcome::Done), "restart api");
    assert!(
        matches!(outcomes[1], Some(Outcome::Refused { .. })),
        "skipping a required service is refused: {:?}",
        outcomes[1]
    );
    assert_eq!(outcomes[2], Some(Outcome::Done), "shutdown");

    for (i, event) in events.iter().enumerate() {
        let back: Event = round_trip(&format!("event {i}"), event);
        assert_eq!(back.kind, event.kind);
    }
    for (i, snapshot) in snapshots.iter().enumerate() {
        let back: Snapshot = round_trip(&format!("snapshot {i}"), snapshot);
        assert_eq!(back.services.len(), snapshot.services.len());
    }
    assert_eq!(snapshots.last().map(|s| s.phase), Some(Phase::Done));
    for outcome in outcomes.iter().flatten() {
        assert_eq!(&round_trip("outcome", outcome), outcome);
    }
    // Commands travel the other way.
    for command in [
        Command::Restart(api),
        Command::Shutdown { force: true },
        Command::RestartAll,
    ] {
        assert_eq!(round_trip("command", &command), command);
    }
    drop(taken);
}
