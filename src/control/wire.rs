//! What travels on the control socket: the routes, the bodies and the
//! error codes (see `docs/protocol.md`, which lists them for users).
//!
//! The protocol is HTTP/1.1 with JSON bodies over a Unix socket, so
//! `curl --unix-socket` works for people and any HTTP client for tools;
//! the live parts (the event stream, a followed log) are chunked responses
//! of JSON lines. The version is the path's first segment (`/v1/…`); a
//! route is never removed or changed within a version, only added, and an
//! error code, once published, is never renamed or reused.

use serde::{Deserialize, Serialize};

use crate::api::{Event, Holder, Outcome, Snapshot, StackInfo};
use crate::logs::Line;

/// The protocol version this build speaks.
pub const VERSION: u32 = 1;
/// The prefix of every route of [`VERSION`].
pub const PREFIX: &str = "/v1";
/// The socket's name in the run's private directory.
pub const SOCKET_NAME: &str = "control.sock";
/// The largest request body the server reads (a command is ~100 bytes).
pub const MAX_BODY: usize = 64 * 1024;
/// The most lines one log page carries.
pub const MAX_PAGE: usize = 5_000;
/// The name under which bringup's own log is asked for.
pub const OWN_LOG: &str = "bringup";

/// `GET /v1/hello`: who answers, and the stack it runs.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Hello {
    /// The protocol version the server speaks.
    pub protocol: u32,
    /// bringup's version.
    pub version: String,
    /// The pid of the bringup running the stack.
    pub pid: u32,
    /// How long the stack has run, in ms (times in events and snapshots
    /// are ms since its start too).
    pub uptime_ms: u64,
    /// How many lines the stack keeps per service (its `log_lines`).
    #[serde(default)]
    pub log_lines: Option<usize>,
    pub info: StackInfo,
}

/// `POST /v1/command`'s answer.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CommandReply {
    pub outcome: Outcome,
}

/// `GET /v1/ports/{port}`: who listens on a port now, and which of the
/// stack's services has it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PortReport {
    pub port: u16,
    /// The stack's service that was given the port, if one was.
    pub service: Option<String>,
    /// Every process listening on it (none: it is free).
    pub holders: Vec<Holder>,
}

/// One line of `GET /v1/stream`: the snapshot (first, and again after
/// every change) or an event.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum StreamItem {
    Snapshot(Box<Snapshot>),
    Event(Event),
}

/// One line of `GET /v1/logs/{service}?follow=1` (and of `GET
/// /v1/logs?follow=1`, which tags each with its log).
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(from = "FlatLogItem")]
pub struct LogItem {
    /// Whose line it is, in a stream of all logs (`GET /v1/logs?follow=1`):
    /// the service's number; for bringup's own log, one past the last
    /// service the stack had when the stream began (with `own`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub log: Option<usize>,
    /// The line is bringup's own, in a stream of all logs. (A stack whose
    /// config gained services while it ran numbers them past `log` of its
    /// own lines: read this, not the number.)
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub own: bool,
    /// Lines that were evicted before the follower got them.
    #[serde(default, skip_serializing_if = "is_zero")]
    pub missed: u64,
    #[serde(flatten)]
    pub line: Line,
}

fn is_zero(n: &u64) -> bool {
    *n == 0
}

/// A [`LogItem`] as it is read: the same fields, flat. (Reading through
/// `flatten` buffers every field of every line before reading it again,
/// and an attached dashboard reads every line of every service.)
#[derive(Deserialize)]
struct FlatLogItem {
    #[serde(default)]
    log: Option<usize>,
    #[serde(default)]
    own: bool,
    #[serde(default)]
    missed: u64,
    seq: u64,
    #[serde(with = "crate::millis")]
    at: std::time::Duration,
    stream: crate::logs::Stream,
    text: Box<str>,
}

impl From<FlatLogItem> for LogItem {
    fn from(flat: FlatLogItem) -> Self {
        let FlatLogItem {
            log,
            own,
            missed,
            seq,
            at,
            stream,
            text,
        } = flat;
        Self {
            log,
            own,
            missed,
            line: Line {
                seq,
                at,
                stream,
                text,
            },
        }
    }
}

/// Every error's body: `{"error": {"code": …, "message": …}}`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ErrorBody {
    pub error: Error,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Error {
    pub code: ErrorCode,
    /// For people; programs read `code`.
    pub message: String,
}

/// What went wrong with a request. Codes are never renamed or reused.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ErrorCode {
    /// The path's version is not one this server speaks.
    UnsupportedVersion,
    /// No such route (or not with this method).
    NoSuchRoute,
    /// The body or the query is not what the route takes.
    BadRequest,
    /// The body is larger than [`MAX_BODY`].
    TooLarge,
    /// The request names a service the stack does not have.
    UnknownService,
    /// The stack has ended; it takes no more commands.
    StackEnded,
}

impl ErrorCode {
    /// The HTTP status that goes with the code.
    pub fn status(self) -> u16 {
        match self {
            ErrorCode::UnsupportedVersion | ErrorCode::NoSuchRoute | ErrorCode::UnknownService => {
                404
            }
            ErrorCode::BadRequest => 400,
            ErrorCode::TooLarge => 413,
            ErrorCode::StackEnded => 503,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::logs::Stream;
    use std::time::Duration;

    #[test]
    fn a_log_item_reads_back_what_was_written_and_skips_fields_it_does_not_know() {
        let item = LogItem {
            log: Some(3),
            own: true,
            missed: 7,
            line: Line {
                seq: 42,
                at: Duration::from_micros(1_500),
                stream: Stream::Stderr,
                text: "api \u{1b}[31mfailed\u{1b}[0m".into(),
            },
        };
        let written = serde_json::to_string(&item).expect("written");
        // Flat on the wire, as the protocol page says.
        assert!(written.contains(r#""seq":42"#), "{written}");
        let read: LogItem = serde_json::from_str(&written).expect("read");
        assert_eq!(
            (read.log, read.own, read.missed),
            (item.log, item.own, item.missed)
        );
        assert_eq!(read.line, item.line);

        // A line of a single service's log leaves out the optional fields;
        // one from a newer bringup may carry fields this one does not know.
        let plain: LogItem = serde_json::from_str(
            r#"{"seq":1,"at":2.5,"stream":"stdout","text":"hi","colour":"red"}"#,
        )
        .expect("read");
        assert_eq!((plain.log, plain.own, plain.missed), (None, false, 0));
        assert_eq!(plain.line.text.as_ref(), "hi");
        assert_eq!(plain.line.at, Duration::from_micros(2_500));
    }
}
