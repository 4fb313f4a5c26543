//! Readiness and liveness checks, and when to run them.
//!
//! A [`Prober`] runs one check of a rendered [`Target`]: a TCP connect, an
//! HTTP GET (status range, optional JSON-pointer equality on the body), or a
//! shell command that must exit 0. `log` and `notify` readiness are not
//! polled; the output reader and the [`notify`] socket report those.
//!
//! Fast until ready, calm after: readiness runs right after spawn and then
//! every `elapsed / 200` (never under a floor, never over `period`), so the
//! time between a service becoming ready and bringup noticing stays about
//! half a percent of its start time — a millisecond for a service that
//! takes 200 ms — while a slow starter is not hammered. Once ready, the
//! check repeats every `period` so a service that stops answering turns
//! `not_ready`. Liveness runs every `period` from the moment of readiness.

pub mod notify;

use std::future::Future;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::OnceLock;
use std::time::{Duration, Instant};

use tokio::io::AsyncReadExt;
use tokio::sync::mpsc;

use crate::config::plan::StatusRange;
use crate::process::{self, SpawnRequest};

/// Readiness is polled at `elapsed / SLOWDOWN`.
const SLOWDOWN: u32 = 200;
/// At most this much of an HTTP body is read to compare JSON.
const MAX_BODY: usize = 1024 * 1024;

/// A check with every template rendered.
#[derive(Debug, Clone)]
pub enum Target {
    Tcp {
        address: String,
    },
    Http {
        url: String,
        status: StatusRange,
        json: Vec<(String, serde_json::Value)>,
    },
    Exec {
        command: String,
        cwd: PathBuf,
        env: Vec<(String, String)>,
    },
}

/// Runs checks of one target.
#[derive(Debug, Clone)]
pub struct Prober {
    target: Target,
    timeout: Duration,
}

impl Prober {
    pub fn new(target: Target, timeout: Duration) -> Self {
        Self { target, timeout }
    }

    /// The shortest gap between two readiness checks. Spawning a process
    /// per check costs far more than a connect, so exec checks go slower.
    fn floor(&self) -> Duration {
        match self.target {
            Target::Exec { .. } => Duration::from_millis(10),
            _ => Duration::from_millis(1),
        }
    }

    /// One check: `Ok(detail)` when it passes, `Err(why)` when not.
    pub async fn check(&self) -> Result<String, String> {
        match tokio::time::timeout(self.timeout, self.check_unbounded()).await {
            Ok(result) => result,
            Err(_) => Err(format!(
                "no answer within {}",
                crate::engine::machine::fmt_duration(self.timeout)
            )),
        }
    }

    async fn check_unbounded(&self) -> Result<String, String> {
        match &self.target {
            Target::Tcp { address } => tcp(address).await,
            Target::Http { url, status, json } => http(url, *status, json).await,
            Target::Exec { command, cwd, env } => exec(command, cwd, env, self.timeout).await,
        }
    }
}

/// The gap before the next readiness check.
pub fn readiness_interval(elapsed: Duration, floor: Duration, period: Duration) -> Duration {
    (elapsed / SLOWDOWN).clamp(floor, period.max(floor))
}

/// Polls readiness until the task is aborted. Before the first pass it
/// reports each *new* failure reason (so the UI can say why it waits) and
/// the pass; afterwards every result, so the state machine can count
/// consecutive failures.
pub async fn readiness_loop<T>(
    prober: Prober,
    period: Duration,
    tx: mpsc::Sender<T>,
    report: impl Fn(bool, String) -> T,
) {
    let started = Instant::now();
    let floor = prober.floor();
    let mut passed = false;
    let mut last_failure: Option<String> = None;
    loop {
        let (ok, detail) = match prober.check().await {
            Ok(detail) => (true, detail),
            Err(why) => (false, why),
        };
        let news = passed || ok || last_failure.as_deref() != Some(detail.as_str());
        if !ok {
            last_failure = Some(detail.clone());
        }
        if news && tx.send(report(ok, detail)).await.is_err() {
            return;
        }
        passed |= ok;
        let wait = if passed {
            period
        } else {
            readiness_interval(started.elapsed(), floor, period)
        };
        tokio::time::sleep(wait).await;
    }
}

/// Checks liveness every `period` until the task is aborted, reporting
/// every result.
pub async fn liveness_loop<T>(
    prober: Prober,
    period: Duration,
    tx: mpsc::Sender<T>,
    report: impl Fn(bool, String) -> T,
) {
    loop {
        tokio::time::sleep(period).await;
        let (ok, detail) = match prober.check().await {
            Ok(detail) => (true, detail),
            Err(why) => (false, why),
        };
        if tx.send(report(ok, detail)).await.is_err() {
            return;
        }
    }
}

async fn tcp(address: &str) -> Result<String, String> {
    let addr = resolve(address).await?;
    match tokio::net::TcpStream::connect(addr).await {
        Ok(_) => Ok(format!("tcp {addr} accepts")),
        Err(e) => Err(format!("tcp {addr}: {}", io_reason(&e))),
    }
}

async fn resolve(address: &str) -> Result<SocketAddr, String> {
    if let Ok(addr) = address.parse() {
        return Ok(addr);
    }
    let mut found = tokio::net::lookup_host(address)
        .await
        .map_err(|e| format!("cannot resolve {address}: {e}"))?;
    found
        .next()
        .ok_or_else(|| format!("{address} resolves to nothing"))
}

fn io_reason(e: &std::io::Error) -> String {
    match e.kind() {
        std::io::ErrorKind::ConnectionRefused => "connection refused".into(),
        std::io::ErrorKind::TimedOut => "timed out".into(),
        _ => e.to_string(),
    }
}

/// The HTTP client shared by all probes: no proxy (probes target local
/// services), rustls with the ring provider for `https://` URLs.
fn client() -> Result<&'static reqwest::Client, String> {
    static CLIENT: OnceLock<Result<reqwest::Client, String>> = OnceLock::new();
    CLIENT
        .get_or_init(|| {
            let _ = rustls::crypto::ring::default_provider().install_default();
            reqwest::Client::builder()
                .no_proxy()
                .pool_max_idle_per_host(2)
                .build()
                .map_err(|e| format!("cannot set up the HTTP client: {e}"))
        })
        .as_ref()
        .map_err(Clone::clone)
}

async fn http(
    url: &str,
    status: StatusRange,
    json: &[(String, serde_json::Value)],
) -> Result<String, String> {
    let response = client()?
        .get(url)
        .send()
        .await
        .map_err(|e| describe_http_error(url, &e))?;
    let code = response.status().as_u16();
    if !status.contains(code) {
        return Err(format!("HTTP {code} (expected {status})"));
    }
    if json.is_empty() {
        return Ok(format!("HTTP {code}"));
    }
    let body = read_limited(response).await?;
    let value: serde_json::Value = serde_json::from_slice(&body)
        .map_err(|e| format!("HTTP {code} but the body is not JSON: {e}"))?;
    for (pointer, expected) in json {
        match value.pointer(pointer) {
            Some(found) if found == expected => {}
            Some(found) => {
                return Err(format!(
                    "HTTP {code}, {pointer} is {found}, expected {expected}"
                ));
            }
            None => {
                return Err(format!(
                    "HTTP {code}, {pointer} is missing, expected {expected}"
                ));
            }
        }
    }
    Ok(format!("HTTP {code}, JSON matches"))
}

async fn read_limited(mut response: reqwest::Response) -> Result<Vec<u8>, String> {
    let mut body = Vec::new();
    while let Some(chunk) = response
        .chunk()
        .await
        .map_err(|e| format!("reading the body: {e}"))?
    {
        body.extend_from_slice(&chunk);
        if body.len() > MAX_BODY {
            return Err("the body is over 1 MiB".into());
        }
    }
    Ok(body)
}

fn describe_http_error(url: &str, error: &reqwest::Error) -> String {
    // The innermost cause says what really happened ("connection refused").
    let mut innermost: Option<&(dyn std::error::Error + 'static)> = None;
    let mut source = std::error::Error::source(error);
    while let Some(cause) = source {
        if let Some(io) = cause.downcast_ref::<std::io::Error>() {
            return format!("GET {url}: {}", io_reason(io));
        }
        innermost = Some(cause);
        source = cause.source();
    }
    match innermost {
        Some(cause) => format!("GET {url}: {cause}"),
        None => format!("GET {url}: {error}"),
    }
}

async fn exec(
    command: &str,
    cwd: &std::path::Path,
    env: &[(String, String)],
    timeout: Duration,
) -> Result<String, String> {
    let request = SpawnRequest {
        argv: vec!["sh".into(), "-c".into(), command.to_string()],
        cwd: cwd.to_path_buf(),
        env: env.to_vec(),
        env_remove: Vec::new(),
    };
    let mut spawned = process::spawn(&request).map_err(|e| format!("exec: {e}"))?;
    let pgid = spawned.pid;
    // Kill the whole check (it may have started children) if it is dropped
    // by the timeout, and always reap it.
    let mut guard = GroupGuard { pgid, armed: true };
    let stderr = spawned.child.stderr.take();
    let read_stderr = async move {
        let mut text = Vec::new();
        if let Some(pipe) = stderr {
            let _ = pipe.take(4096).read_to_end(&mut text).await;
        }
        text
    };
    drop(spawned.child.stdout.take());
    let (exit, stderr) = tokio::join!(
        process::wait(&mut spawned.child, pgid, timeout),
        read_stderr
    );
    guard.armed = false;
    if exit.success() {
        return Ok(format!("`{command}` exited 0"));
    }
    let first_line = String::from_utf8_lossy(&stderr)
        .lines()
        .next()
        .unwrap_or("")
        .trim()
        .to_string();
    if first_line.is_empty() {
        Err(format!("`{command}` {exit}"))
    } else {
        Err(format!("`{command}` {exit}: {first_line}"))
    }
}

/// SIGKILLs a process group when dropped while armed (an exec check that
/// timed out is dropped mid-wait).
struct GroupGuard {
    pgid: u32,
    armed: bool,
}

impl Drop for GroupGuard {
    fn drop(&mut self) {
        if self.armed {
            let _ = process::signal_group(self.pgid, nix::sys::signal::Signal::SIGKILL);
        }
    }
}

/// Runs `future` as a task that is aborted when the handle is dropped.
pub fn spawn_abortable(future: impl Future<Output = ()> + Send + 'static) -> AbortOnDrop {
    AbortOnDrop(tokio::spawn(future))
}

/// A task handle that aborts its task when dropped.
#[derive(Debug)]
pub struct AbortOnDrop(tokio::task::JoinHandle<()>);

impl Drop for AbortOnDrop {
    fn drop(&mut self) {
        self.0.abort();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn readiness_starts_fast_and_calms_down() {
        let floor = Duration::from_millis(1);
        let period = Duration::from_secs(2);
        assert_eq!(readiness_interval(Duration::ZERO, floor, period), floor);
        assert_eq!(
            readiness_interval(Duration::from_millis(800), floor, period),
            Duration::from_millis(4)
        );
        assert_eq!(
            readiness_interval(Duration::from_secs(60), floor, period),
            Duration::from_millis(300)
        );
        assert_eq!(
            readiness_interval(Duration::from_secs(3600), floor, period),
            period
        );
    }

    #[tokio::test]
    async fn tcp_checks_tell_open_from_closed() {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let address = listener.local_addr().unwrap().to_string();
        let prober = Prober::new(
            Target::Tcp {
                address: address.clone(),
            },
            Duration::from_secs(1),
        );
        assert!(prober.check().await.is_ok());
        drop(listener);
        let err = prober.check().await.unwrap_err();
        assert!(err.contains("connection refused"), "{err}");
    }

    #[tokio::test]
    async fn exec_checks_report_the_exit_and_stderr() {
        let run = |command: &str| {
            Prober::new(
                Target::Exec {
                    command: command.into(),
                    cwd: "/".into(),
                    env: vec![("X".into(), "42".into())],
                },
                Duration::from_secs(5),
            )
        };
        assert!(run("test \"$X\" = 42").check().await.is_ok());
        let err = run("echo nope >&2; exit 3").check().await.unwrap_err();
        assert!(err.contains("exited with code 3: nope"), "{err}");
        let started = Instant::now();
        let err = Prober::new(
            Target::Exec {
                command: "sleep 30".into(),
                cwd: "/".into(),
                env: vec![],
            },
            Duration::from_millis(200),
        )
        .check()
        .await
        .unwrap_err();
        assert!(err.contains("no answer within 200ms"), "{err}");
        assert!(started.elapsed() < Duration::from_secs(5));
    }
}
