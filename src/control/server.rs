//! The control server: one more front end over a [`Session`], serving it
//! on a Unix socket in the run's private directory.
//!
//! Who may connect: the socket is 0600 in a 0700 directory, and every
//! connection's peer credentials (`SO_PEERCRED`) are checked before a byte
//! is read or written: a process of another user (root included, whom
//! file modes do not stop) is hung up on. What a connection may cost: at
//! most [`MAX_CONNECTIONS`] at once (more are hung up on), headers within
//! [`HEADER_TIMEOUT`] and 64 KiB, bodies within [`wire::MAX_BODY`]; a slow
//! reader of a stream only slows its own stream, never the stack (events
//! it cannot take are replaced by a fresh snapshot).
//!
//! The routes and bodies are in [`wire`]; what each asks of the session
//! is below. Nothing here decides anything about the stack: commands go
//! to the engine, which answers them.

use std::convert::Infallible;
use std::io;
use std::path::{Path, PathBuf};
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use http_body_util::BodyExt;
use hyper::body::{Bytes, Frame, Incoming};
use hyper::header::{CONTENT_TYPE, HeaderValue};
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper::{Method, Request, Response, StatusCode};
use hyper_util::rt::{TokioIo, TokioTimer};
use serde::Serialize;
use tokio::net::UnixListener;
use tokio::sync::{Semaphore, broadcast, mpsc};

use crate::api::{Command, Phase};
use crate::control::wire::{
    self, CommandReply, Error, ErrorBody, ErrorCode, Hello, LogItem, StreamItem,
};
use crate::logs::LogHub;
use crate::session::Session;

/// Connections served at once; more are hung up on.
pub const MAX_CONNECTIONS: usize = 64;
/// How long a client may take to send a request's headers.
pub const HEADER_TIMEOUT: Duration = Duration::from_secs(10);
/// Lines of a stream that may wait for a slow reader.
const STREAM_BACKLOG: usize = 256;
/// A log stream sends its lines in chunks of about this many bytes (one
/// write, one wake of the client, for all the lines of a round) …
const LOG_CHUNK: usize = 64 * 1024;
/// … of which this many may wait to be written to a slow client (then the
/// stream waits, and the store's ring tells it what it missed).
const LOG_BACKLOG: usize = 16;
/// Rounds of a log stream are at least this far apart: lines that come
/// closer together (ten services ticking, a burst) go out together, at the
/// cost of this much delay at most.
const LOG_ROUND_GAP: Duration = Duration::from_millis(100);
/// The same for the stream of every log at once, which only an attached
/// dashboard reads: it wakes (and may draw) once per round, and ten
/// services ticking out of step would otherwise cost it ten wakes a
/// second. A line still reaches its screen within a quarter of a second.
const ALL_LOGS_ROUND_GAP: Duration = Duration::from_millis(200);

/// A serving control socket; dropping it stops serving and removes it.
pub struct ControlSocket {
    path: PathBuf,
    task: tokio::task::JoinHandle<()>,
}

impl ControlSocket {
    pub fn path(&self) -> &Path {
        &self.path
    }
}

impl Drop for ControlSocket {
    fn drop(&mut self) {
        self.task.abort();
        let _ = std::fs::remove_file(&self.path);
    }
}

/// Serves `session` on `dir/control.sock` (`dir`: the run's private
/// directory). Call from within the front end's tokio runtime.
pub fn serve(session: Session, dir: &Path) -> io::Result<ControlSocket> {
    use std::os::unix::fs::PermissionsExt;
    let path = dir.join(wire::SOCKET_NAME);
    // A socket a dead bringup with our pid left (the directory is ours).
    let _ = std::fs::remove_file(&path);
    let listener = UnixListener::bind(&path)?;
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o600))?;
    let task = tokio::spawn(accept(listener, Arc::new(session)));
    Ok(ControlSocket { path, task })
}

async fn accept(listener: UnixListener, session: Arc<Session>) {
    let me = nix::unistd::geteuid().as_raw();
    let slots = Arc::new(Semaphore::new(MAX_CONNECTIONS));
    loop {
        let Ok((stream, _)) = listener.accept().await else {
            // Out of descriptors, say: let the moment pass.
            tokio::time::sleep(Duration::from_millis(50)).await;
            continue;
        };
        if stream.peer_cred().map(|c| c.uid()).ok() != Some(me) {
            tracing::warn!(target: "bringup::control", "refused a connection from another user");
            continue;
        }
        let Ok(permit) = slots.clone().try_acquire_owned() else {
            continue;
        };
        let session = session.clone();
        let connection = http1::Builder::new()
            .timer(TokioTimer::new())
            .header_read_timeout(HEADER_TIMEOUT)
            .max_buf_size(64 * 1024)
            .serve_connection(
                TokioIo::new(stream),
                service_fn(move |request| {
                    let session = session.clone();
                    async move { Ok::<_, Infallible>(route(request, &session).await) }
                }),
            );
        tokio::spawn(async move {
            let _permit = permit;
            let _ = connection.await;
        });
    }
}

/// A response body: whole, or lines as they come.
pub enum Body {
    Whole(Option<Bytes>),
    Lines(mpsc::Receiver<Bytes>),
}

impl hyper::body::Body for Body {
    type Data = Bytes;
    type Error = Infallible;

    fn poll_frame(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, Infallible>>> {
        match self.get_mut() {
            Body::Whole(bytes) => Poll::Ready(bytes.take().map(|b| Ok(Frame::data(b)))),
            Body::Lines(lines) => lines
                .poll_recv(cx)
                .map(|line| line.map(|b| Ok(Frame::data(b)))),
        }
    }

    fn is_end_stream(&self) -> bool {
        matches!(self, Body::Whole(None))
    }

    // A whole body's length goes in Content-Length, not chunks.
    fn size_hint(&self) -> hyper::body::SizeHint {
        match self {
            Body::Whole(bytes) => {
                hyper::body::SizeHint::with_exact(bytes.as_ref().map_or(0, |b| b.len() as u64))
            }
            Body::Lines(_) => hyper::body::SizeHint::default(),
        }
    }
}

async fn route(request: Request<Incoming>, session: &Session) -> Response<Body> {
    let path = request.uri().path().to_string();
    let query = request.uri().query().unwrap_or("").to_string();
    let Some(rest) = path
        .strip_prefix(wire::PREFIX)
        .filter(|r| r.is_empty() || r.starts_with('/'))
    else {
        return if path.starts_with("/v") {
            error(
                ErrorCode::UnsupportedVersion,
                format!(
                    "this bringup speaks protocol version {}: use {}/…",
                    wire::VERSION,
                    wire::PREFIX
                ),
            )
        } else {
            error(
                ErrorCode::NoSuchRoute,
                format!("no route {path}; routes start with {}/", wire::PREFIX),
            )
        };
    };
    let segments: Vec<&str> = rest.split('/').filter(|s| !s.is_empty()).collect();
    match (request.method(), segments.as_slice()) {
        (&Method::GET, ["hello"]) => json(&hello(session)),
        (&Method::GET, ["snapshot"]) => json(&*session.snapshot().borrow()),
        (&Method::POST, ["command"]) => command(request, session).await,
        (&Method::GET, ["stream"]) => stream(session),
        (&Method::GET, ["logs"]) => all_logs(session, &query),
        (&Method::GET, ["logs", service]) => logs(session, service, &query),
        (&Method::GET, ["ports", port]) => ports(session, port).await,
        _ => error(
            ErrorCode::NoSuchRoute,
            format!("no route {} {path}", request.method()),
        ),
    }
}

fn hello(session: &Session) -> Hello {
    Hello {
        protocol: wire::VERSION,
        version: env!("CARGO_PKG_VERSION").to_string(),
        pid: std::process::id(),
        uptime_ms: u64::try_from(session.epoch().elapsed().as_millis()).unwrap_or(u64::MAX),
        log_lines: Some(session.logs().max_lines()),
        info: (*session.info()).clone(),
    }
}

/// Who listens on `port`, and which service of the stack was given it.
async fn ports(session: &Session, port: &str) -> Response<Body> {
    let Ok(port) = port.parse::<u16>() else {
        return error(
            ErrorCode::BadRequest,
            format!("{port:?} is not a port (1-65535)"),
        );
    };
    let service = session
        .snapshot()
        .borrow()
        .services
        .iter()
        .find(|s| s.port == Some(port))
        .map(|s| s.name.clone());
    let holders = session.port_holders(port).await;
    json(&wire::PortReport {
        port,
        service,
        holders,
    })
}

async fn command(request: Request<Incoming>, session: &Session) -> Response<Body> {
    let body = match http_body_util::Limited::new(request.into_body(), wire::MAX_BODY)
        .collect()
        .await
    {
        Ok(body) => body.to_bytes(),
        Err(_) => {
            return error(
                ErrorCode::TooLarge,
                format!("a command body is at most {} bytes", wire::MAX_BODY),
            );
        }
    };
    let command: Command = match serde_json::from_slice(&body) {
        Ok(command) => command,
        Err(e) => return error(ErrorCode::BadRequest, format!("not a command: {e}")),
    };
    if let Some(id) = command.service()
        && session.info().service(id).is_none_or(|s| s.removed)
    {
        return error(
            ErrorCode::UnknownService,
            format!("the stack has no service number {}", id.0),
        );
    }
    match session.send(command).await {
        Some(outcome) => json(&CommandReply { outcome }),
        None => error(
            ErrorCode::StackEnded,
            "the stack has ended; it takes no more commands".into(),
        ),
    }
}

/// The snapshot, then events and new snapshots as they come, until the
/// stack has ended or the client is gone.
fn stream(session: &Session) -> Response<Body> {
    let (lines, body) = mpsc::channel(STREAM_BACKLOG);
    let mut events = session.events_from_now();
    let mut snapshots = session.snapshot();
    let (stack, session_epoch) = (session.info(), session.epoch());
    tokio::spawn(async move {
        let first = StreamItem::Snapshot(Box::new(snapshots.borrow_and_update().clone()));
        if lines.send(line(&first)).await.is_err() {
            return;
        }
        // The stack as it is now: its services may have changed since the
        // client's hello (later changes come as events of their own).
        let info = StreamItem::Event(crate::api::Event {
            at: session_epoch.elapsed(),
            kind: crate::api::EventKind::StackChanged {
                info: Box::new((*stack).clone()),
            },
        });
        if lines.send(line(&info)).await.is_err() {
            return;
        }
        loop {
            let item = tokio::select! {
                event = events.recv() => match event {
                    Ok(event) => StreamItem::Event(event),
                    // Too slow for the events: the snapshot says where
                    // things are now.
                    Err(broadcast::error::RecvError::Lagged(_)) => {
                        StreamItem::Snapshot(Box::new(snapshots.borrow_and_update().clone()))
                    }
                    Err(broadcast::error::RecvError::Closed) => break,
                },
                changed = snapshots.changed() => match changed {
                    Ok(()) => StreamItem::Snapshot(Box::new(snapshots.borrow_and_update().clone())),
                    Err(_) => break,
                },
            };
            if lines.send(line(&item)).await.is_err() {
                return;
            }
        }
        // The stack has ended: what is still queued goes out first.
        while let Ok(event) = events.try_recv() {
            if lines.send(line(&StreamItem::Event(event))).await.is_err() {
                return;
            }
        }
    });
    lines_response(body)
}

/// A page of a service's (or bringup's own) log, or with `follow=1` its
/// lines from `from` on as they come.
fn logs(session: &Session, service: &str, query: &str) -> Response<Body> {
    let hub = session.logs().clone();
    let index = if service == wire::OWN_LOG {
        Some(LogHub::OWN)
    } else {
        session.info().find(service).map(|id| id.0)
    };
    let Some(index) = index else {
        return error(
            ErrorCode::UnknownService,
            format!("the stack has no service {service:?}"),
        );
    };
    let mut from = 0;
    let mut max = wire::MAX_PAGE;
    let mut follow = false;
    for pair in query.split('&').filter(|p| !p.is_empty()) {
        let (key, value) = pair.split_once('=').unwrap_or((pair, ""));
        let parsed = match key {
            "from" => value.parse().map(|v| from = v).is_ok(),
            "max" => value
                .parse()
                .map(|v: usize| max = v.min(wire::MAX_PAGE))
                .is_ok(),
            "follow" => match value {
                "1" | "true" => {
                    follow = true;
                    true
                }
                "0" | "false" => true,
                _ => false,
            },
            _ => false,
        };
        if !parsed {
            return error(
                ErrorCode::BadRequest,
                format!("bad query {pair:?}: logs take from=N, max=N and follow=1"),
            );
        }
    }
    let Some(store) = hub.store(index) else {
        return error(ErrorCode::UnknownService, format!("no log {service:?}"));
    };
    if !follow {
        return json(&store.page(from, max));
    }
    follow_logs(session, vec![(index, from)], false, LOG_ROUND_GAP)
}

/// `GET /v1/logs?follow=1`: every service's log and bringup's own, from
/// their first kept lines, in one stream (each line says whose it is): a
/// dashboard attached over the socket needs one connection for them all.
fn all_logs(session: &Session, query: &str) -> Response<Body> {
    if !matches!(query, "follow=1" | "follow=true") {
        return error(
            ErrorCode::BadRequest,
            "all logs come only as a stream (follow=1); a page is asked of one log: /v1/logs/{service}".into(),
        );
    }
    let logs = session
        .logs()
        .indices()
        .into_iter()
        .map(|index| (index, 0))
        .collect();
    follow_logs(session, logs, true, ALL_LOGS_ROUND_GAP)
}

/// Streams the lines of each `(log, from)` as they come, until the stack
/// has ended or the client is gone; `tagged`: each line says its log, and
/// the logs of services added meanwhile are followed too. Rounds start
/// when the hub says lines have settled ([`LogHub::settled`]: a settle
/// after the first of them, timed on the engine's thread) and at least
/// `gap` after the previous one.
fn follow_logs(
    session: &Session,
    mut cursors: Vec<(usize, u64)>,
    tagged: bool,
    gap: Duration,
) -> Response<Body> {
    let hub = session.logs().clone();
    // bringup's own lines say `"own": true`, and (as the first clients
    // read them) the number one past the services there were at the start.
    let own_number = hub.len();
    let mut known = hub.len();
    let (lines, body) = mpsc::channel(LOG_BACKLOG);
    let mut changed = hub.settled();
    let mut snapshots = session.snapshot();
    tokio::spawn(async move {
        // What is there now, then whatever comes, until the stack is done
        // (after which one last round sends what came meanwhile).
        let mut last_round = false;
        let mut chunk = Vec::with_capacity(LOG_CHUNK);
        loop {
            let round = tokio::time::Instant::now();
            // What this round pages is seen: only lines that come after
            // it may wake the next one (else lines that came while it
            // waited would start an empty round a gap later).
            changed.borrow_and_update();
            let mut behind = false;
            if tagged && hub.len() > known {
                cursors.extend((known..hub.len()).map(|index| (index, 0)));
                known = hub.len();
            }
            for (index, cursor) in &mut cursors {
                let Some(store) = hub.store(*index) else {
                    continue;
                };
                let page = store.page(*cursor, wire::MAX_PAGE);
                *cursor = page.next;
                behind |= page.lines.len() == wire::MAX_PAGE;
                let mut missed = page.missed;
                for line in page.lines {
                    let own = *index == LogHub::OWN;
                    let item = LogItem {
                        log: tagged.then_some(if own { own_number } else { *index }),
                        own: tagged && own,
                        missed,
                        line,
                    };
                    missed = 0;
                    append_line(&mut chunk, &item);
                    if chunk.len() >= LOG_CHUNK {
                        let full = std::mem::replace(&mut chunk, Vec::with_capacity(LOG_CHUNK));
                        if lines.send(Bytes::from(full)).await.is_err() {
                            return;
                        }
                    }
                }
            }
            if !chunk.is_empty() {
                let rest = std::mem::replace(&mut chunk, Vec::with_capacity(LOG_CHUNK));
                if lines.send(Bytes::from(rest)).await.is_err() {
                    return;
                }
            }
            if behind {
                continue;
            }
            if last_round {
                return;
            }
            tokio::select! {
                result = changed.changed() => if result.is_err() { return },
                () = async {
                    // (The snapshot guard must not live across the sends above.)
                    let _ = snapshots.wait_for(|s| s.phase == Phase::Done).await.is_ok();
                } => last_round = true,
            }
            // Settled lines wait for the gap since the last round to pass
            // (no wait, no wake, when it has).
            tokio::time::sleep_until(round + gap).await;
        }
    });
    lines_response(body)
}

fn line<T: Serialize>(item: &T) -> Bytes {
    let mut text = Vec::new();
    append_line(&mut text, item);
    Bytes::from(text)
}

/// `item` as one JSON line at the end of `out` (nothing, if it cannot be
/// serialized, which plain protocol data always can).
fn append_line<T: Serialize>(out: &mut Vec<u8>, item: &T) {
    let start = out.len();
    if serde_json::to_writer(&mut *out, item).is_ok() {
        out.push(b'\n');
    } else {
        out.truncate(start);
    }
}

fn lines_response(body: mpsc::Receiver<Bytes>) -> Response<Body> {
    let mut response = Response::new(Body::Lines(body));
    response.headers_mut().insert(
        CONTENT_TYPE,
        HeaderValue::from_static("application/x-ndjson"),
    );
    response
}

fn json<T: Serialize + ?Sized>(value: &T) -> Response<Body> {
    respond(StatusCode::OK, value)
}

fn respond<T: Serialize + ?Sized>(status: StatusCode, value: &T) -> Response<Body> {
    let body = serde_json::to_vec(value).unwrap_or_default();
    let mut response = Response::new(Body::Whole(Some(Bytes::from(body))));
    *response.status_mut() = status;
    response
        .headers_mut()
        .insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
    response
}

fn error(code: ErrorCode, message: String) -> Response<Body> {
    let status = StatusCode::from_u16(code.status()).unwrap_or(StatusCode::BAD_REQUEST);
    respond(
        status,
        &ErrorBody {
            error: Error { code, message },
        },
    )
}
