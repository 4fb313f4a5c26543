//! The verbs that change a stack and wait for it to get there
//! (`restart`, `stop`, `start`, `kill`, `skip`), and `wait`, which only
//! waits: both read the stack's stream of snapshots until each service is
//! where it was sent, cannot get there any more, or the time is up.

use std::path::Path;
use std::process::ExitCode;
use std::time::{Duration, Instant};

use bringup::api::describe;
use bringup::api::{Command, Outcome, ServiceStatus, Snapshot};
use bringup::config::ServiceId;
use bringup::control::client::Lines;
use bringup::control::wire::StreamItem;

use super::{FAILED, on_stack, resolve, unreachable};

pub use bringup::api::goal::Goal;
use bringup::api::goal::{down_for_good, reached};

/// `bringup restart|stop|start|kill|skip SERVICE…`: sends the command for
/// each, then (unless `no_wait`) waits until each got where it was sent.
pub fn act(
    explicit: Option<&Path>,
    color: bool,
    names: &[String],
    make: fn(ServiceId) -> Command,
    goal: Goal,
    timeout: Duration,
    no_wait: bool,
) -> ExitCode {
    on_stack(explicit, color, |client, _| async move {
        let hello = match client.hello().await {
            Ok(hello) => hello,
            Err(e) => return unreachable(&e),
        };
        let ids = match resolve(&hello.info, names) {
            Ok(ids) => ids,
            Err(code) => return code,
        };
        // The stream first: nothing that follows a command can be missed.
        let mut stream = match client.stream().await {
            Ok(stream) => stream,
            Err(e) => return unreachable(&e),
        };
        let before = match client.snapshot().await {
            Ok(snapshot) => snapshot,
            Err(e) => return unreachable(&e),
        };
        let mut failed = false;
        for &id in &ids {
            let name = &hello.info.services[id.0].name;
            match client.command(make(id)).await {
                Ok(Outcome::Done) => {}
                Ok(outcome) => {
                    let said = describe::outcome(Some(name), &outcome)
                        .unwrap_or_else(|| format!("{name}: not done"));
                    eprintln!("{}", bringup::ansi::plain(&said));
                    failed = true;
                }
                Err(e) => return unreachable(&e),
            }
        }
        if failed {
            return ExitCode::from(FAILED);
        }
        if no_wait {
            return ExitCode::SUCCESS;
        }
        let spawns: Vec<u32> = ids
            .iter()
            .map(|id| status_of(&before, *id).map_or(0, |s| s.spawns))
            .collect();
        let deadline = Instant::now() + timeout;
        let mut latest = before;
        loop {
            let verdicts: Vec<Option<Result<(), String>>> = ids
                .iter()
                .zip(&spawns)
                .map(|(id, spawns)| status_of(&latest, *id).and_then(|s| reached(s, goal, *spawns)))
                .collect();
            if verdicts.iter().all(Option::is_some) {
                let mut code = ExitCode::SUCCESS;
                for (id, verdict) in ids.iter().zip(verdicts) {
                    let name = &hello.info.services[id.0].name;
                    match verdict {
                        Some(Ok(())) => println!("{name}: {}", goal.word()),
                        Some(Err(why)) => {
                            eprintln!("{name}: {}", bringup::ansi::plain(&why));
                            code = ExitCode::from(FAILED);
                        }
                        None => {}
                    }
                }
                return code;
            }
            match next_snapshot(&mut stream, deadline).await {
                Next::Snapshot(snapshot) => latest = snapshot,
                Next::Nothing => {}
                Next::Over(code) => return code,
                Next::TimedOut => {
                    for (id, spawns) in ids.iter().zip(&spawns) {
                        if let Some(s) = status_of(&latest, *id)
                            && reached(s, goal, *spawns).is_none()
                        {
                            eprintln!(
                                "{}: not {} after {}: {} ({})",
                                s.name,
                                goal.word(),
                                describe::fmt_duration(timeout),
                                s.state.as_str(),
                                bringup::ansi::plain(&describe::reason(&s.reason))
                            );
                        }
                    }
                    return ExitCode::from(FAILED);
                }
            }
        }
    })
}

/// What the stack's stream gave before the deadline.
enum Next {
    Snapshot(Snapshot),
    /// An event: the snapshot after it says what changed.
    Nothing,
    TimedOut,
    /// The stream broke or ended: said, with this exit code.
    Over(ExitCode),
}

async fn next_snapshot(stream: &mut Lines<StreamItem>, deadline: Instant) -> Next {
    let left = deadline.saturating_duration_since(Instant::now());
    match tokio::time::timeout(left, stream.next()).await {
        Ok(Some(Ok(StreamItem::Snapshot(snapshot)))) => Next::Snapshot(*snapshot),
        Ok(Some(Ok(StreamItem::Event(_)))) => Next::Nothing,
        Ok(Some(Err(e))) => Next::Over(unreachable(&e)),
        Ok(None) => {
            eprintln!("error: the stack ended while waiting");
            Next::Over(ExitCode::from(FAILED))
        }
        Err(_) => Next::TimedOut,
    }
}

fn status_of(snapshot: &Snapshot, id: ServiceId) -> Option<&ServiceStatus> {
    snapshot.services.iter().find(|s| s.id == id)
}

/// `bringup wait SERVICE… [--timeout D]`: exit 0 once every named service
/// (every selected one, when none is named) is ready; 1 with the reason
/// when one cannot become ready or the time is up.
pub fn wait(explicit: Option<&Path>, color: bool, names: &[String], timeout: Duration) -> ExitCode {
    on_stack(explicit, color, |client, _| async move {
        let hello = match client.hello().await {
            Ok(hello) => hello,
            Err(e) => return unreachable(&e),
        };
        let mut stream = match client.stream().await {
            Ok(stream) => stream,
            Err(e) => return unreachable(&e),
        };
        let named = match resolve(&hello.info, names) {
            Ok(ids) => ids,
            Err(code) => return code,
        };
        let deadline = Instant::now() + timeout;
        let mut latest: Option<Snapshot> = None;
        loop {
            if let Some(snapshot) = &latest {
                let watched: Vec<&ServiceStatus> = snapshot
                    .services
                    .iter()
                    .filter(|s| {
                        if named.is_empty() {
                            s.selected && !s.optional
                        } else {
                            named.contains(&s.id)
                        }
                    })
                    .collect();
                if watched.iter().all(|s| s.state.is_ready() && !s.stopping) {
                    return ExitCode::SUCCESS;
                }
                let lost: Vec<&&ServiceStatus> =
                    watched.iter().filter(|s| down_for_good(s)).collect();
                if !lost.is_empty() {
                    for s in lost {
                        eprintln!(
                            "{}: {}",
                            s.name,
                            bringup::ansi::plain(&describe::state_line(s.state, &s.reason))
                        );
                    }
                    return ExitCode::from(FAILED);
                }
            }
            match next_snapshot(&mut stream, deadline).await {
                Next::Snapshot(snapshot) => latest = Some(snapshot),
                Next::Nothing => {}
                Next::Over(code) => return code,
                Next::TimedOut => {
                    for s in latest.iter().flat_map(|s| &s.services) {
                        let watched = if named.is_empty() {
                            s.selected && !s.optional
                        } else {
                            named.contains(&s.id)
                        };
                        if watched && !s.state.is_ready() {
                            eprintln!(
                                "{}: not ready after {}: {}",
                                s.name,
                                describe::fmt_duration(timeout),
                                bringup::ansi::plain(&describe::state_line(s.state, &s.reason))
                            );
                        }
                    }
                    return ExitCode::from(FAILED);
                }
            }
        }
    })
}
