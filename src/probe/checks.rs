//! The checks themselves: TCP connect, HTTP GET, and a shell command.
//!
//! Each returns `Ok(detail)` when it passes and a [`Failure`] saying why
//! not, in words a user can act on ("GET http://…/health: connection
//! refused", "HTTP 503 (expected 200-299)", "`pg_isready` exited with code
//! 2: no response"), and whether the service did work to answer.

use std::net::SocketAddr;
use std::path::Path;
use std::sync::OnceLock;
use std::time::Duration;

use tokio::io::AsyncReadExt;

use crate::config::plan::StatusRange;
use crate::probe::Failure;
use crate::process::{self, SpawnRequest};

/// At most this much of an HTTP body is read to compare JSON.
const MAX_BODY: usize = 1024 * 1024;
/// At most this much of an exec check's stderr is kept for the message.
const MAX_STDERR: u64 = 4096;

/// Passes when a TCP connection to `address` is accepted.
pub async fn tcp(address: &str) -> Result<String, Failure> {
    let addr = resolve(address).await.map_err(Failure::silent)?;
    match tokio::net::TcpStream::connect(addr).await {
        Ok(_) => Ok(format!("tcp {addr} accepts")),
        Err(e) => Err(Failure::silent(format!("tcp {addr}: {}", io_reason(&e)))),
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
/// services), rustls with the ring provider for `https://` URLs, and a
/// small keep-alive pool so repeated checks reuse their connection.
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

/// Passes when GET `url` answers with a status in `status` and, if `json`
/// is not empty, a JSON body where each pointer equals its value.
pub async fn http(
    url: &str,
    status: StatusRange,
    json: &[(String, serde_json::Value)],
) -> Result<String, Failure> {
    let response = client()
        .map_err(Failure::silent)?
        .get(url)
        .send()
        .await
        .map_err(|e| Failure::silent(describe_http_error(url, &e)))?;
    let code = response.status().as_u16();
    if !status.contains(code) {
        return Err(Failure::answered(format!(
            "HTTP {code} (expected {status})"
        )));
    }
    if json.is_empty() {
        return Ok(format!("HTTP {code}"));
    }
    let body = read_limited(response).await.map_err(Failure::answered)?;
    let value: serde_json::Value = serde_json::from_slice(&body)
        .map_err(|e| Failure::answered(format!("HTTP {code} but the body is not JSON: {e}")))?;
    for (pointer, expected) in json {
        let why = match value.pointer(pointer) {
            Some(found) if found == expected => continue,
            Some(found) => format!("HTTP {code}, {pointer} is {found}, expected {expected}"),
            None => format!("HTTP {code}, {pointer} is missing, expected {expected}"),
        };
        return Err(Failure::answered(why));
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

/// Passes when `sh -c command` exits 0 within `timeout`. The check runs in
/// its own process group, which is killed if the check is abandoned.
pub async fn exec(
    command: &str,
    cwd: &Path,
    env: &[(String, String)],
    timeout: Duration,
) -> Result<String, Failure> {
    let request = SpawnRequest {
        argv: vec!["sh".into(), "-c".into(), command.to_string()],
        cwd: cwd.to_path_buf(),
        env: env.to_vec(),
        env_remove: Vec::new(),
        handoff: None,
    };
    let mut spawned =
        process::spawn(&request).map_err(|e| Failure::answered(format!("exec: {e}")))?;
    let pgid = spawned.pid;
    let mut guard = GroupGuard { pgid, armed: true };
    let stderr = spawned.child.stderr.take();
    let read_stderr = async move {
        let mut text = Vec::new();
        if let Some(pipe) = stderr {
            let _ = pipe.take(MAX_STDERR).read_to_end(&mut text).await;
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
    let stderr = String::from_utf8_lossy(&stderr);
    let first_line = stderr.lines().next().unwrap_or("").trim();
    Err(Failure::answered(if first_line.is_empty() {
        format!("`{command}` {exit}")
    } else {
        format!("`{command}` {exit}: {first_line}")
    }))
}

/// SIGKILLs a process group when dropped while armed: an exec check that
/// timed out is dropped mid-wait, and its processes must not linger.
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

#[cfg(test)]
mod tests {
    use std::time::Instant;

    use super::*;
    use crate::probe::{Prober, Target};

    #[tokio::test]
    async fn tcp_checks_tell_open_from_closed() {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let address = listener.local_addr().unwrap().to_string();
        assert!(tcp(&address).await.is_ok());
        // Not a port just closed: a process spawned by a test running in
        // parallel can hold a copy of a closing socket until its exec.
        let err = tcp("127.0.0.1:1").await.unwrap_err();
        assert!(
            err.why.contains("connection refused") && !err.answered,
            "{err:?}"
        );
    }

    #[tokio::test]
    async fn exec_checks_report_the_exit_and_stderr() {
        let env = vec![("X".to_string(), "42".to_string())];
        let timeout = Duration::from_secs(5);
        assert!(
            exec("test \"$X\" = 42", Path::new("/"), &env, timeout)
                .await
                .is_ok()
        );
        let err = exec("echo nope >&2; exit 3", Path::new("/"), &env, timeout)
            .await
            .unwrap_err();
        assert!(
            err.why.contains("exited with code 3: nope") && err.answered,
            "{err:?}"
        );
        let started = Instant::now();
        let slow = Target::Exec {
            command: "sleep 30".into(),
            cwd: "/".into(),
            env: vec![],
        };
        let err = Prober::new(slow, Duration::from_millis(200))
            .check()
            .await
            .unwrap_err();
        assert!(err.why.contains("no answer within 200ms"), "{err:?}");
        assert!(started.elapsed() < Duration::from_secs(5));
    }
}
