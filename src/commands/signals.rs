//! Stop signals, for a command that runs a stack: SIGINT, SIGTERM and
//! SIGHUP become shutdown requests, whatever front end shows the stack.
//!
//! The first asks for a graceful stop (dependents first); one that comes
//! while the stack is already stopping (asked by a signal, the dashboard's
//! `q`, or another client) kills what is left, except SIGHUP: a closed
//! terminal says it once per process, and nobody is there to insist. A
//! signal within [`SAME_REQUEST`] of the one before is its echo, not a
//! second request: `timeout -s INT` signals bringup and then its whole
//! process group, so bringup hears one Ctrl-C twice.

use std::time::{Duration, Instant};

use bringup::api::{Command, EventKind, Phase};
use bringup::session::Session;
use tokio::signal::unix::{SignalKind, signal};

/// Signals this close together are one request.
pub const SAME_REQUEST: Duration = Duration::from_millis(250);

/// Turns stop signals into shutdown requests until the task is dropped.
pub async fn forward(session: Session) {
    forward_with(session, true).await;
}

/// As [`forward`]; `hangup_stops: false` ignores SIGHUP (a stack running
/// in the background has no terminal whose closing it must follow).
pub async fn forward_with(session: Session, hangup_stops: bool) {
    let (Ok(mut interrupt), Ok(mut terminate), Ok(mut hangup)) = (
        signal(SignalKind::interrupt()),
        signal(SignalKind::terminate()),
        signal(SignalKind::hangup()),
    ) else {
        eprintln!("bringup: cannot listen for signals; stopping the stack");
        session.send(Command::Shutdown { force: false }).await;
        return;
    };
    let mut last: Option<Instant> = None;
    loop {
        let may_force = tokio::select! {
            _ = interrupt.recv() => true,
            _ = terminate.recv() => true,
            _ = hangup.recv() => {
                if !hangup_stops {
                    continue;
                }
                false
            }
        };
        let now = Instant::now();
        if last.is_some_and(|at| now.duration_since(at) < SAME_REQUEST) {
            continue;
        }
        last = Some(now);
        let stopping = matches!(
            session.snapshot().borrow().phase,
            Phase::ShuttingDown { .. } | Phase::Done
        );
        if stopping && !may_force {
            continue;
        }
        session.send(Command::Shutdown { force: stopping }).await;
    }
}

/// Waits until the stack has stopped (or its engine has ended).
pub async fn wait_ended(session: &Session) {
    let mut events = session.events();
    let mut snapshot = session.snapshot();
    loop {
        tokio::select! {
            event = events.recv() => match event {
                Ok(event) if matches!(event.kind, EventKind::ShutdownComplete) => return,
                Ok(_) | Err(tokio::sync::broadcast::error::RecvError::Lagged(_)) => {}
                Err(tokio::sync::broadcast::error::RecvError::Closed) => return,
            },
            changed = snapshot.changed() => if changed.is_err() {
                return;
            },
        }
    }
}
