//! Acting on a stack and waiting for the effect, for every client that
//! does (the CLI verbs `restart`, `wait`, `down`…, and the MCP tools):
//! the stack's stream is opened first, so nothing that follows a command
//! is missed; the command is sent; then snapshots are read until each
//! service got where it was sent ([`crate::api::goal`]), cannot get there
//! any more, or the time is up. Every answer says, per service, where it
//! ended and why; each front end puts it in its own words.

use std::time::Duration;

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use tokio::time::Instant;

use crate::api::goal::{Goal, down_for_good, reached};
use crate::api::{Command, Outcome, ServiceStatus, Snapshot, StackInfo, describe};
use crate::control::client::{Client, ClientError, Lines};
use crate::control::wire::StreamItem;
use crate::ids::ServiceId;

/// Where one service ended.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
pub struct Reached {
    pub service: String,
    /// It got where it was sent.
    pub ok: bool,
    pub state: String,
    pub pid: Option<u32>,
    /// Where it is and why, in words (why not, when not `ok`).
    pub why: String,
}

/// The answer of the tools that act and of `wait_ready`.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
pub struct ActReport {
    /// Every service got where it was sent.
    pub ok: bool,
    pub services: Vec<Reached>,
}

/// Why a command could not be carried out at all.
#[derive(Debug, thiserror::Error)]
pub enum ActError {
    #[error("the stack has no service `{name}`; it has: {known}")]
    UnknownService { name: String, known: String },
    #[error("the stack ended while waiting")]
    Ended,
    #[error(transparent)]
    Client(#[from] ClientError),
}

/// Names → ids, or which names the stack has.
pub fn resolve(info: &StackInfo, names: &[String]) -> Result<Vec<ServiceId>, ActError> {
    names
        .iter()
        .map(|name| {
            info.find(name).ok_or_else(|| ActError::UnknownService {
                name: name.clone(),
                known: info
                    .current()
                    .map(|s| s.name.as_str())
                    .collect::<Vec<_>>()
                    .join(", "),
            })
        })
        .collect()
}

fn status_of(snapshot: &Snapshot, id: ServiceId) -> Option<&ServiceStatus> {
    snapshot.services.iter().find(|s| s.id == id)
}

fn plain(text: &str) -> String {
    crate::ansi::plain(text).into_owned()
}

fn at(s: &ServiceStatus, ok: bool, why: String) -> Reached {
    Reached {
        service: s.name.clone(),
        ok,
        state: s.state.as_str().to_string(),
        pid: s.pid,
        why: plain(&why),
    }
}

fn where_it_is(s: &ServiceStatus) -> String {
    match &s.waiting {
        Some(waiting) => describe::waiting(waiting),
        None => describe::state_line(s.state, &s.reason),
    }
}

/// The next snapshot of `stream`, or `None` when the time is up.
async fn next_snapshot(
    stream: &mut Lines<StreamItem>,
    deadline: Instant,
) -> Result<Option<Snapshot>, ActError> {
    loop {
        match tokio::time::timeout_at(deadline, stream.next()).await {
            Ok(Some(Ok(StreamItem::Snapshot(snapshot)))) => return Ok(Some(*snapshot)),
            Ok(Some(Ok(StreamItem::Event(_)))) => {}
            Ok(Some(Err(e))) => return Err(e.into()),
            Ok(None) => return Err(ActError::Ended),
            Err(_) => return Ok(None),
        }
    }
}

/// Sends `make(id)` for each of `ids` (services of `info`) and waits
/// until each reached `goal` (or cannot, or `timeout` passed).
pub async fn act(
    client: &Client,
    info: &StackInfo,
    ids: &[ServiceId],
    make: fn(ServiceId) -> Command,
    goal: Goal,
    timeout: Duration,
) -> Result<ActReport, ActError> {
    let mut stream = client.stream().await?;
    let before = client.snapshot().await?;
    let mut refused: Vec<Reached> = Vec::new();
    let mut sent: Vec<(ServiceId, u32)> = Vec::new();
    for &id in ids {
        let Some(s) = status_of(&before, id) else {
            // Named a moment ago, gone since (removed from the config).
            refused.push(Reached {
                service: info.name(id).to_string(),
                ok: false,
                state: "removed".to_string(),
                pid: None,
                why: "no longer in the stack: removed from the config".to_string(),
            });
            continue;
        };
        match client.command(make(id)).await? {
            Outcome::Done => sent.push((id, s.spawns)),
            outcome => {
                let said =
                    describe::outcome(None, &outcome).unwrap_or_else(|| "not done".to_string());
                refused.push(at(s, false, said));
            }
        }
    }
    let deadline = Instant::now() + timeout;
    let mut latest = before;
    let mut services = loop {
        let verdicts: Vec<(&ServiceStatus, Option<Result<(), String>>)> = sent
            .iter()
            .filter_map(|(id, spawns)| {
                let s = status_of(&latest, *id)?;
                Some((s, reached(s, goal, *spawns)))
            })
            .collect();
        if verdicts.iter().all(|(_, v)| v.is_some()) {
            break verdicts
                .into_iter()
                .map(|(s, v)| match v {
                    Some(Err(why)) => at(s, false, why),
                    _ => at(s, true, goal.word().to_string()),
                })
                .collect::<Vec<_>>();
        }
        match next_snapshot(&mut stream, deadline).await? {
            Some(snapshot) => latest = snapshot,
            None => {
                break verdicts
                    .into_iter()
                    .map(|(s, v)| match v {
                        Some(Ok(())) => at(s, true, goal.word().to_string()),
                        Some(Err(why)) => at(s, false, why),
                        None => at(
                            s,
                            false,
                            format!(
                                "not {} after {}: {}",
                                goal.word(),
                                describe::fmt_duration(timeout),
                                where_it_is(s)
                            ),
                        ),
                    })
                    .collect();
            }
        }
    };
    services.extend(refused);
    Ok(ActReport {
        ok: services.iter().all(|r| r.ok),
        services,
    })
}

/// Waits until every one of `ids` (every selected required service, when
/// none) is ready, one cannot become ready, or `timeout` passed.
pub async fn wait_ready(
    client: &Client,
    ids: &[ServiceId],
    timeout: Duration,
) -> Result<ActReport, ActError> {
    let mut stream = client.stream().await?;
    let deadline = Instant::now() + timeout;
    let watched = |s: &ServiceStatus| {
        if ids.is_empty() {
            s.selected && !s.optional
        } else {
            ids.contains(&s.id)
        }
    };
    let mut timed_out = false;
    let mut latest = match next_snapshot(&mut stream, deadline).await? {
        Some(snapshot) => snapshot,
        None => client.snapshot().await?,
    };
    loop {
        let mine: Vec<&ServiceStatus> = latest.services.iter().filter(|s| watched(s)).collect();
        let ready = |s: &ServiceStatus| s.state.is_ready() && !s.stopping;
        let settled =
            mine.iter().all(|s| ready(s)) || mine.iter().any(|s| down_for_good(s)) || timed_out;
        if settled {
            let services: Vec<Reached> = mine
                .iter()
                .map(|s| {
                    if ready(s) {
                        at(s, true, "ready".into())
                    } else if timed_out && !down_for_good(s) {
                        let why = format!(
                            "not ready after {}: {}",
                            describe::fmt_duration(timeout),
                            where_it_is(s)
                        );
                        at(s, false, why)
                    } else {
                        at(s, false, where_it_is(s))
                    }
                })
                .collect();
            return Ok(ActReport {
                ok: services.iter().all(|r| r.ok),
                services,
            });
        }
        match next_snapshot(&mut stream, deadline).await? {
            Some(snapshot) => latest = snapshot,
            None => timed_out = true,
        }
    }
}

/// How `down` ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Down {
    /// Every service is down and the stack's bringup has ended.
    Stopped,
    /// The stack would not stop: why, in words.
    Refused(String),
    /// Still stopping when the time was up.
    TimedOut,
    /// The services are down but the stack's bringup has not ended yet.
    Lingering,
}

/// Stops the stack (dependents first; `force`: SIGKILL now) and waits
/// until its stream has ended and `gone` says its bringup is.
pub async fn down(
    client: &Client,
    force: bool,
    timeout: Duration,
    gone: impl Fn() -> bool,
) -> Result<Down, ActError> {
    let mut stream = client.stream().await?;
    match client.command(Command::Shutdown { force }).await? {
        Outcome::Done => {}
        outcome => {
            let why = describe::outcome(None, &outcome).unwrap_or_default();
            return Ok(Down::Refused(plain(&why)));
        }
    }
    // The stream ends when the stack has; then its bringup exits.
    let deadline = Instant::now() + timeout;
    loop {
        match tokio::time::timeout_at(deadline, stream.next()).await {
            Ok(Some(_)) => {}
            Ok(None) => break,
            Err(_) => return Ok(Down::TimedOut),
        }
    }
    while Instant::now() < deadline && !gone() {
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    Ok(if gone() {
        Down::Stopped
    } else {
        Down::Lingering
    })
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn a_service_removed_from_the_config_is_neither_found_nor_offered() {
        let service = |id: usize, name: &str, removed: bool| {
            json!({"id": id, "name": name, "kind": "service", "optional": false,
                   "port": null, "depends_on": [], "removed": removed})
        };
        let hello: crate::control::wire::Hello = serde_json::from_value(json!({
            "protocol": 1, "version": "0", "pid": 7, "uptime_ms": 1000,
            "info": {"project": "p", "config": "c",
                     "services": [service(0, "db", false), service(1, "old", true)]}
        }))
        .expect("a hello");
        let Err(ActError::UnknownService { known, .. }) = resolve(&hello.info, &["old".into()])
        else {
            panic!("a removed service was found");
        };
        assert_eq!(known, "db");
    }
}
