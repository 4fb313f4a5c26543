//! The control client: asks a running bringup over its socket (HTTP/1.1
//! over the Unix socket, with reqwest), and reads its streams line by line.

use std::marker::PhantomData;
use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::de::DeserializeOwned;

use crate::api::{Command, Outcome, Snapshot};
use crate::control::wire::{self, CommandReply, ErrorBody, Hello, LogItem, PortReport, StreamItem};
use crate::logs::Page;

/// How long connecting may take: the socket is local, so a stack that
/// does not answer at once is gone or wedged.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(2);
/// How long a request (not a stream) may take: the engine answers at once,
/// so a stack that takes longer is wedged, and the verb says so.
const REQUEST_TIMEOUT: Duration = Duration::from_secs(15);
/// The longest line a stream may send (a snapshot of a big stack).
const MAX_LINE: usize = 16 * 1024 * 1024;

/// Why a request to a running stack failed.
#[derive(Debug, thiserror::Error)]
pub enum ClientError {
    #[error("cannot reach the stack at {socket}: {source}")]
    Unreachable {
        socket: PathBuf,
        source: reqwest::Error,
    },
    #[error("the stack answered: {message} ({code:?})")]
    Refused {
        code: wire::ErrorCode,
        message: String,
    },
    #[error("the stack's answer makes no sense to this bringup ({0}); are both the same version?")]
    Protocol(String),
}

/// A connection to one running stack.
#[derive(Debug, Clone)]
pub struct Client {
    http: reqwest::Client,
    socket: PathBuf,
}

impl Client {
    /// A client for the stack serving on `socket`.
    pub fn new(socket: &Path) -> Result<Self, ClientError> {
        // reqwest wants a TLS provider even for plain HTTP on a socket.
        let _ = rustls::crypto::ring::default_provider().install_default();
        let http = reqwest::Client::builder()
            .unix_socket(socket)
            .no_proxy()
            .connect_timeout(CONNECT_TIMEOUT)
            .build()
            .map_err(|e| ClientError::Protocol(format!("cannot set up the HTTP client: {e}")))?;
        Ok(Self {
            http,
            socket: socket.to_path_buf(),
        })
    }

    pub fn socket(&self) -> &Path {
        &self.socket
    }

    fn url(route: &str) -> String {
        // The host is ignored on a Unix socket; it names what answers.
        format!("http://bringup{}{route}", wire::PREFIX)
    }

    pub async fn hello(&self) -> Result<Hello, ClientError> {
        self.get("/hello").await
    }

    pub async fn snapshot(&self) -> Result<Snapshot, ClientError> {
        self.get("/snapshot").await
    }

    /// Sends `command`; the engine's answer.
    pub async fn command(&self, command: Command) -> Result<Outcome, ClientError> {
        let body =
            serde_json::to_vec(&command).map_err(|e| ClientError::Protocol(e.to_string()))?;
        let response = self
            .http
            .post(Self::url("/command"))
            .timeout(REQUEST_TIMEOUT)
            .body(body)
            .send()
            .await
            .map_err(|e| self.unreachable(e))?;
        let reply: CommandReply = read(response).await?;
        Ok(reply.outcome)
    }

    /// A page of `service`'s log (or bringup's own: [`wire::OWN_LOG`]).
    pub async fn logs(&self, service: &str, from: u64, max: usize) -> Result<Page, ClientError> {
        self.get(&format!("/logs/{service}?from={from}&max={max}"))
            .await
    }

    /// Who listens on `port`, and which service of the stack has it.
    pub async fn port(&self, port: u16) -> Result<PortReport, ClientError> {
        self.get(&format!("/ports/{port}")).await
    }

    /// `service`'s log lines from `from` on, as they come.
    pub async fn follow(&self, service: &str, from: u64) -> Result<Lines<LogItem>, ClientError> {
        self.lines(&format!("/logs/{service}?from={from}&follow=1"))
            .await
    }

    /// Every log's lines (each tagged with its log) from the first kept
    /// ones on, as they come, over one connection.
    pub async fn follow_all(&self) -> Result<Lines<LogItem>, ClientError> {
        self.lines("/logs?follow=1").await
    }

    /// The snapshot, then events and snapshots as they come.
    pub async fn stream(&self) -> Result<Lines<StreamItem>, ClientError> {
        self.lines("/stream").await
    }

    async fn get<T: DeserializeOwned>(&self, route: &str) -> Result<T, ClientError> {
        let response = self
            .http
            .get(Self::url(route))
            .timeout(REQUEST_TIMEOUT)
            .send()
            .await
            .map_err(|e| self.unreachable(e))?;
        read(response).await
    }

    async fn lines<T: DeserializeOwned>(&self, route: &str) -> Result<Lines<T>, ClientError> {
        let response = self
            .http
            .get(Self::url(route))
            .send()
            .await
            .map_err(|e| self.unreachable(e))?;
        let response = refused(response).await?;
        Ok(Lines {
            response,
            buffer: Vec::new(),
            ended: false,
            item: PhantomData,
        })
    }

    fn unreachable(&self, source: reqwest::Error) -> ClientError {
        ClientError::Unreachable {
            socket: self.socket.clone(),
            source,
        }
    }
}

/// An error status becomes [`ClientError::Refused`] with the server's code.
async fn refused(response: reqwest::Response) -> Result<reqwest::Response, ClientError> {
    if response.status().is_success() {
        return Ok(response);
    }
    let status = response.status();
    let body = response
        .bytes()
        .await
        .map_err(|e| ClientError::Protocol(e.to_string()))?;
    match serde_json::from_slice::<ErrorBody>(&body) {
        Ok(ErrorBody { error }) => Err(ClientError::Refused {
            code: error.code,
            message: error.message,
        }),
        Err(_) => Err(ClientError::Protocol(format!("HTTP {status}"))),
    }
}

async fn read<T: DeserializeOwned>(response: reqwest::Response) -> Result<T, ClientError> {
    let response = refused(response).await?;
    let body = response
        .bytes()
        .await
        .map_err(|e| ClientError::Protocol(e.to_string()))?;
    serde_json::from_slice(&body).map_err(|e| ClientError::Protocol(e.to_string()))
}

/// A stream of JSON lines.
pub struct Lines<T> {
    response: reqwest::Response,
    buffer: Vec<u8>,
    ended: bool,
    item: PhantomData<T>,
}

impl<T: DeserializeOwned> Lines<T> {
    /// The next item; `None` once the stream has ended (the stack ended,
    /// or it hung up).
    pub async fn next(&mut self) -> Option<Result<T, ClientError>> {
        loop {
            if let Some(end) = self.buffer.iter().position(|&b| b == b'\n') {
                let line: Vec<u8> = self.buffer.drain(..=end).collect();
                return Some(
                    serde_json::from_slice(&line[..end])
                        .map_err(|e| ClientError::Protocol(e.to_string())),
                );
            }
            if self.ended {
                return None;
            }
            if self.buffer.len() > MAX_LINE {
                self.ended = true;
                return Some(Err(ClientError::Protocol(format!(
                    "a line longer than {MAX_LINE} bytes"
                ))));
            }
            match self.response.chunk().await {
                Ok(Some(chunk)) => self.buffer.extend_from_slice(&chunk),
                Ok(None) | Err(_) => self.ended = true,
            }
        }
    }
}
