//! Misbehaving services through the real engine (real processes): crash
//! loops and flapping liveness follow the restart policy with growing
//! delays, the stack keeps answering commands meanwhile, and afterwards
//! every service still responds to stop, start and restart.

// A test fails by panicking; `expect` says why.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod support;

use std::sync::Arc;
use std::time::Duration;

use bringup::api::{Command, Event, EventKind, Reason, State, Then};
use bringup::config::ServiceId;
use bringup::engine::{Engine, EngineOptions, Request};
use tokio::sync::broadcast;

/// Receives events until `pick` returns something, within `limit`.
async fn until<T>(
    events: &mut broadcast::Receiver<Event>,
    limit: Duration,
    mut pick: impl FnMut(&Event) -> Option<T>,
) -> T {
    let deadline = tokio::time::Instant::now() + limit;
    loop {
        match tokio::time::timeout_at(deadline, events.recv()).await {
            Ok(Ok(event)) => {
                if let Some(found) = pick(&event) {
                    return found;
                }
            }
            Ok(Err(broadcast::error::RecvError::Lagged(_))) => {}
            Ok(Err(broadcast::error::RecvError::Closed)) => panic!("the engine ended"),
            Err(_) => panic!("timed out after {limit:?}"),
        }
    }
}

/// Waits until the snapshot shows `service` in one of `states`.
async fn wait_state(engine: &Engine, service: ServiceId, states: &[State], name: &str) {
    let mut snapshot = engine.snapshot();
    // The guard `wait_for` returns is dropped at once: holding it while
    // borrowing again deadlocks against the engine's next write.
    let reached = tokio::time::timeout(
        Duration::from_secs(10),
        snapshot.wait_for(|s| {
            s.services
                .iter()
                .any(|x| x.id == service && states.contains(&x.state))
        }),
    )
    .await
    .is_ok_and(|r| r.is_ok());
    let now = engine
        .snapshot()
        .borrow()
        .services
        .iter()
        .find(|x| x.id == service)
        .map(|x| x.state);
    assert!(
        reached,
        "{name} should reach one of {states:?}, but is {now:?}"
    );
}

#[test]
fn crash_loops_and_flapping_liveness_follow_the_policy_and_nothing_wedges() {
    let port = support::free_port();
    let config = format!(
        r#"
[services.crasher]
command = "${{bringup}} fixture --name crasher --exit-after 60ms --exit-code 3"
max_restarts = 4
backoff = {{ initial = "80ms", max = "2s" }}
[services.flapper]
command = "${{bringup}} fixture --name flapper --port ${{port}} --live-fail-after 150ms"
port = {port}
liveness = {{ http = "/health/live", period = "60ms", failure_threshold = 1 }}
restart = "always"
max_restarts = 3
backoff = {{ initial = "80ms", max = "2s" }}
stop_grace = "1s"
[services.steady]
command = "${{bringup}} fixture --name steady"
"#
    );
    let plan = Arc::new(support::config::plan(&config));
    let id = |name: &str| plan.find(name).expect("service");
    let (crasher, flapper, steady) = (id("crasher"), id("flapper"), id("steady"));
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime");
    let (engine, mut events) =
        Engine::start(plan.clone(), EngineOptions::default()).expect("engine");
    runtime.block_on(async {
        // Spawn times per service, and when each gave up.
        let mut spawns: Vec<Vec<Duration>> = vec![Vec::new(); plan.services.len()];
        let mut gave_up = Vec::new();
        let mut answered_while_looping = false;
        until(&mut events, Duration::from_secs(30), |event| {
            match &event.kind {
                EventKind::Spawned { service, .. } => spawns[service.0].push(event.at),
                EventKind::State {
                    service,
                    to: State::Failed,
                    reason:
                        Reason::Exited {
                            then: Then::GaveUp { .. },
                            ..
                        },
                    ..
                } => {
                    gave_up.push(*service);
                }
                EventKind::Refused {
                    service: Some(s), ..
                } if *s == steady => answered_while_looping = true,
                _ => {}
            }
            // Mid-loop, ask the steady service for something: the engine
            // must answer at once, whatever the others are doing.
            if spawns[crasher.0].len() == 2 && !answered_while_looping {
                let commands = engine.commands();
                let _ = commands.try_send(Request {
                    command: Command::Start(steady),
                    reply: None,
                });
            }
            (gave_up.contains(&crasher) && gave_up.contains(&flapper)).then_some(())
        })
        .await;
        assert!(
            answered_while_looping,
            "a command during the crash loop was answered"
        );
        for (service, limit) in [(crasher, 4), (flapper, 3)] {
            let times = &spawns[service.0];
            assert_eq!(
                times.len(),
                limit + 1,
                "{}: one start plus {limit} restarts: {times:?}",
                plan.service(service).name
            );
            let gaps: Vec<Duration> = times.windows(2).map(|w| w[1] - w[0]).collect();
            assert!(
                gaps.windows(2).all(|w| w[1] > w[0]),
                "{}: delays grow: {gaps:?}",
                plan.service(service).name
            );
        }

        // Nothing wedged: each service still stops, restarts and starts,
        // and each command visibly takes effect. Every spawn awaited comes
        // after the command and from the stopped state, where no restart
        // policy spawns anything: only the command can have done it.
        for service in [crasher, flapper, steady] {
            let name = &plan.service(service).name;
            for command in [Command::Restart(service), Command::Start(service)] {
                engine.send(Command::Stop(service)).await;
                wait_state(&engine, service, &[State::Stopped], name).await;
                let sent = engine.epoch().elapsed();
                engine.send(command).await;
                until(&mut events, Duration::from_secs(10), |event| {
                    let spawned = matches!(&event.kind, EventKind::Spawned { service: s, .. } if *s == service);
                    (spawned && event.at >= sent).then_some(())
                })
                .await;
            }
        }
        wait_state(&engine, steady, &[State::Ready], "steady").await;

        engine.send(Command::Shutdown { force: false }).await;
        until(&mut events, Duration::from_secs(20), |event| {
            matches!(event.kind, EventKind::ShutdownComplete).then_some(())
        })
        .await;
    });
    // The last snapshot is sent after the ShutdownComplete event: read it
    // once the engine has finished.
    let last = engine.snapshot();
    engine.join().expect("the engine ended without crashing");
    let snapshot = last.borrow().clone();
    for status in snapshot.services {
        assert!(status.pid.is_none(), "{} still runs", status.name);
    }
}
