//! A front end's hold on a running stack: what every front end (the
//! dashboard, headless output, and later the control socket's clients)
//! works with, so that none of them reaches into the engine.
//!
//! A [`Session`] carries the stack's description ([`StackInfo`], told
//! at the start and again when an edit of the config adds or removes
//! services), a way to send [`Command`]s, the stream of [`Event`]s, the latest
//! [`Snapshot`] (a watch), read access to the log stores (lines by service
//! and cursor), and questions the engine does not decide but a front end
//! may ask, such as who holds a port. [`Session::local`] wraps an engine
//! running in this process; [`Session::assemble`] puts one together from
//! parts filled elsewhere (`control::remote` fills them from a control
//! socket), so front ends run unchanged over either.

use std::future::Future;
use std::sync::{Arc, Mutex};
use std::time::Instant;

use tokio::sync::{broadcast, mpsc, watch};

use crate::api::{Command, Event, Outcome, PortHolder, Snapshot, StackInfo};
use crate::config::plan::ServiceId;
use crate::engine::{Engine, Request};
use crate::logs::LogHub;

/// Commands that may wait for an assembled session's answerer.
const QUEUED_COMMANDS: usize = 64;

/// What a session filled from elsewhere is made of (see
/// [`Session::assemble`]).
pub struct Parts {
    /// The stack; it changes when an edit of its config adds or removes
    /// services (an [`crate::api::EventKind::StackChanged`] says so too).
    pub info: watch::Receiver<Arc<StackInfo>>,
    /// Where the events are published.
    pub events: broadcast::Sender<Event>,
    /// A receiver of `events` made before anything was published, for the
    /// first front end that asks.
    pub first_events: broadcast::Receiver<Event>,
    /// The latest snapshot; its sender is dropped when the stack has ended.
    pub snapshot: watch::Receiver<Snapshot>,
    pub logs: Arc<LogHub>,
    pub epoch: Instant,
}

/// A front end's view of, and line to, one running stack. Clones share it.
#[derive(Clone)]
pub struct Session {
    info: watch::Receiver<Arc<StackInfo>>,
    commands: mpsc::Sender<Request>,
    events: broadcast::Sender<Event>,
    /// The receiver that has seen every event since the stack started,
    /// for the first front end that asks.
    first_events: Arc<Mutex<Option<broadcast::Receiver<Event>>>>,
    snapshot: watch::Receiver<Snapshot>,
    logs: Arc<LogHub>,
    epoch: Instant,
}

impl Session {
    /// A session on `engine`, running in this process; `events` is the
    /// receiver [`Engine::start`] returned, which has seen every event.
    pub fn local(engine: &Engine, events: broadcast::Receiver<Event>) -> Self {
        Self {
            info: engine.info_watch(),
            commands: engine.commands(),
            events: engine.event_sender(),
            first_events: Arc::new(Mutex::new(Some(events))),
            snapshot: engine.snapshot(),
            logs: engine.logs().clone(),
            epoch: engine.epoch(),
        }
    }

    /// A session made of `parts` whose commands `answer` carries out, one
    /// at a time in the order they were sent (as the engine takes them);
    /// `None` from it means the stack takes no more commands. Call from
    /// within a tokio runtime: a task runs `answer` until every clone of
    /// the session is gone.
    pub fn assemble<F, Fut>(parts: Parts, mut answer: F) -> Self
    where
        F: FnMut(Command) -> Fut + Send + 'static,
        Fut: Future<Output = Option<Outcome>> + Send + 'static,
    {
        let (commands, mut requests) = mpsc::channel::<Request>(QUEUED_COMMANDS);
        tokio::spawn(async move {
            while let Some(request) = requests.recv().await {
                let outcome = answer(request.command).await;
                // No answer drops the reply: the asker hears "ended".
                if let (Some(reply), Some(outcome)) = (request.reply, outcome) {
                    let _ = reply.send(outcome);
                }
            }
        });
        Self {
            info: parts.info,
            commands,
            events: parts.events,
            first_events: Arc::new(Mutex::new(Some(parts.first_events))),
            snapshot: parts.snapshot,
            logs: parts.logs,
            epoch: parts.epoch,
        }
    }

    /// The stack as it is now: its project, config and services. A
    /// front end that keeps it takes the new one from the
    /// [`crate::api::EventKind::StackChanged`] event.
    pub fn info(&self) -> Arc<StackInfo> {
        self.info.borrow().clone()
    }

    /// Asks the engine to do something and waits for its answer: done,
    /// refused (and why), or no such service. A stack that has ended takes
    /// no more commands and answers `None`; that is not an error.
    pub async fn send(&self, command: Command) -> Option<Outcome> {
        Request::ask(&self.commands, command).await
    }

    /// The events: the first call gets every event since the stack
    /// started, later calls those from now on.
    pub fn events(&self) -> broadcast::Receiver<Event> {
        self.first_events
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .take()
            .unwrap_or_else(|| self.events.subscribe())
    }

    /// The events from now on (never the first receiver's backlog, which
    /// belongs to the front end that asks [`Session::events`] first).
    pub fn events_from_now(&self) -> broadcast::Receiver<Event> {
        self.events.subscribe()
    }

    /// The latest snapshot, updated after every change; it closes when
    /// the stack has ended.
    pub fn snapshot(&self) -> watch::Receiver<Snapshot> {
        self.snapshot.clone()
    }

    /// The services' output and bringup's own log.
    pub fn logs(&self) -> &Arc<LogHub> {
        &self.logs
    }

    /// The moment event, snapshot and log times are measured from.
    pub fn epoch(&self) -> Instant {
        self.epoch
    }

    /// Who holds each of `ports` right now (service, port, the service's
    /// pid), looked up off the caller's thread: it reads /proc.
    pub async fn who_holds(
        &self,
        ports: Vec<(ServiceId, u16, Option<u32>)>,
    ) -> Vec<(ServiceId, PortHolder)> {
        tokio::task::spawn_blocking(move || {
            ports
                .into_iter()
                .map(|(id, port, pid)| (id, crate::ports::owner::classify(port, pid)))
                .collect()
        })
        .await
        .unwrap_or_default()
    }

    /// Every process listening on `port` (any address), looked up off the
    /// caller's thread: it reads /proc.
    pub async fn port_holders(&self, port: u16) -> Vec<crate::api::Holder> {
        tokio::task::spawn_blocking(move || crate::ports::owner::holders(port))
            .await
            .unwrap_or_default()
    }
}
