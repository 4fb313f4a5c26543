//! A [`Session`] filled from a running stack's control socket, so the
//! dashboard (and any front end) runs over it unchanged: `bringup attach`.
//!
//! How each part is filled:
//! - the stack's description from `GET /v1/hello` (and anew from each
//!   `stack_changed` event of the stream, which also opens it), and the epoch event,
//!   snapshot and log times are measured from: now minus its uptime;
//! - the snapshot (a watch) and the events (a broadcast) from one
//!   `GET /v1/stream`, read by a feeder task; when the stream ends (the
//!   stack has ended, or its bringup is gone) the feeder drops the watch's
//!   sender, so the snapshot closes as a local one does and front ends end;
//! - the logs: a local [`LogHub`] mirror, fed by following every service's
//!   log and bringup's own from their first kept line — one stream for all
//!   of them (`GET /v1/logs?follow=1`), so a dashboard holds two
//!   connections whatever the stack's size — each line keeping its number
//!   and time (so the merged view orders them as the stack does);
//! - commands: each is posted to `/v1/command`, one at a time, and the
//!   engine's answer goes back to the sender; an unreachable stack answers
//!   nothing, as an ended local one does;
//! - who holds a port: asked locally (the same user, on the same machine).
//!
//! Nothing here can disturb the stack: a client that goes away (even by
//! SIGKILL) only closes its connections. The feeder and the followers stop
//! when every clone of the session is gone or the stream ends.

use std::time::{Duration, Instant, SystemTime};

use tokio::sync::{broadcast, watch};
use tokio::task::JoinSet;

use crate::api::{EventKind, Snapshot, StackInfo};
use crate::control::client::{Client, ClientError, Lines};
use crate::control::wire::{self, StreamItem};
use crate::logs::{LogHub, Stream};
use crate::session::{Parts, Session};

/// Lines the mirror keeps per service when the stack does not say how many
/// it keeps (an older bringup); the mirror's byte cap bounds it too.
const MIRROR_LINES: usize = 10_000;
/// Events that may wait for a slow front end before it lags (and then
/// catches up from the snapshot, as over a local session).
const EVENT_BACKLOG: usize = 1_024;

/// A session on the stack that `client` reaches.
pub async fn session(client: Client) -> Result<Session, ClientError> {
    let hello = client.hello().await?;
    if hello.protocol != wire::VERSION {
        return Err(ClientError::Protocol(format!(
            "it speaks protocol version {}, this bringup {}",
            hello.protocol,
            wire::VERSION
        )));
    }
    let uptime = Duration::from_millis(hello.uptime_ms);
    let epoch = Instant::now()
        .checked_sub(uptime)
        .unwrap_or_else(Instant::now);
    let epoch_wall = SystemTime::now()
        .checked_sub(uptime)
        .unwrap_or_else(SystemTime::now);
    let mut stream = client.stream().await?;
    let first = match stream.next().await {
        Some(Ok(StreamItem::Snapshot(snapshot))) => *snapshot,
        Some(Ok(StreamItem::Event(_))) => {
            return Err(ClientError::Protocol(
                "its stream did not start with a snapshot".into(),
            ));
        }
        Some(Err(e)) => return Err(e),
        None => {
            return Err(ClientError::Protocol(
                "its stream ended before it said anything (has the stack just stopped?)".into(),
            ));
        }
    };
    let services = hello.info.services.len();
    let kept = hello.log_lines.unwrap_or(MIRROR_LINES);
    let logs = LogHub::mirror(services, kept, epoch, epoch_wall);
    let (infos, info) = watch::channel(std::sync::Arc::new(hello.info));
    let (snapshots, snapshot) = watch::channel(first);
    let (events, first_events) = broadcast::channel(EVENT_BACKLOG);
    let mut followers = JoinSet::new();
    followers.spawn(follow(client.clone(), logs.clone()));
    tokio::spawn(feed(stream, snapshots, infos, events.clone(), followers));
    let parts = Parts {
        info,
        events,
        first_events,
        snapshot,
        logs,
        epoch,
    };
    Ok(Session::assemble(parts, move |command| {
        let client = client.clone();
        async move { client.command(command).await.ok() }
    }))
}

/// Reads the stream into the watch and the broadcast until it ends or
/// nobody holds the session any more; then the followers stop too.
async fn feed(
    mut stream: Lines<StreamItem>,
    snapshots: watch::Sender<Snapshot>,
    infos: watch::Sender<std::sync::Arc<StackInfo>>,
    events: broadcast::Sender<crate::api::Event>,
    followers: JoinSet<()>,
) {
    loop {
        let item = tokio::select! {
            item = stream.next() => item,
            () = snapshots.closed() => break,
        };
        match item {
            Some(Ok(StreamItem::Snapshot(snapshot))) => {
                snapshots.send_replace(*snapshot);
            }
            Some(Ok(StreamItem::Event(event))) => {
                if let EventKind::StackChanged { info } = &event.kind {
                    infos.send_replace(std::sync::Arc::new((**info).clone()));
                }
                // Nobody listening is fine: the snapshot carries the state.
                let _ = events.send(event);
            }
            // A line this bringup cannot read (a newer server's event,
            // say): the next snapshot still tells where things are.
            Some(Err(e)) => {
                tracing::debug!(target: "bringup::control", "skipped a stream line: {e}")
            }
            None => break,
        }
    }
    // Dropping the sender closes the snapshot: front ends end as they do
    // when a local stack has ended. The followers go with it.
    drop(snapshots);
    drop(followers);
}

/// Mirrors every log from its first kept line on, over one connection
/// (a dashboard must not take a connection per service: the server serves
/// a bounded number at once).
async fn follow(client: Client, hub: std::sync::Arc<LogHub>) {
    let mut lines = match client.follow_all().await {
        Ok(lines) => lines,
        Err(e) => {
            // Said where the user looks for bringup's own account.
            hub.append_own(
                Stream::Stderr,
                format!("bringup attach: cannot follow the logs: {e}"),
            );
            return;
        }
    };
    while let Some(item) = lines.next().await {
        if let Ok(item) = item
            && let Some(index) = item.log
        {
            let index = if item.own { LogHub::OWN } else { index };
            hub.append_line(index, item.line);
        }
    }
}
