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

use tokio::io::{AsyncRead, AsyncReadExt};

use crate::config::plan::StatusRange;
use crate::probe::Failure;
use crate::process::{self, SpawnRequest};

/// At most this much of an HTTP body is read to compare JSON.
const MAX_BODY: usize = 1024 * 1024;
/// At most this much of the end of an exec check's stdout, and of its
/// stderr, is kept for the message.
const OUTPUT_TAIL: usize = 4096;
/// At most this many characters of what a check printed go into its detail.
const MAX_DETAIL: usize = 300;
/// How long output still in the pipes may take to arrive once the check
/// has exited (a process that escaped its group can hold them open).
const DRAIN_AFTER_EXIT: Duration = Duration::from_millis(200);

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
///
/// Its stdout and stderr are read until the check ends (a client that
/// prints, like `redis-cli ping` or `pg_isready`, must not die of SIGPIPE),
/// keeping the last `OUTPUT_TAIL` bytes of each; when the check fails,
/// the last line it printed (stderr first) is the detail.
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
        owner: None,
    };
    let mut spawned =
        process::spawn(&request).map_err(|e| Failure::answered(format!("exec: {e}")))?;
    let pgid = spawned.pid;
    let mut guard = GroupGuard { pgid, armed: true };
    let (mut stdout, mut stderr) = (Tail::default(), Tail::default());
    let waited = {
        let reading = async {
            tokio::join!(
                stdout.read_from(spawned.stdout.take()),
                stderr.read_from(spawned.stderr.take())
            )
        };
        let waiting = process::wait(&mut spawned.child, timeout, None);
        tokio::pin!(reading, waiting);
        let mut drained = false;
        let waited = loop {
            tokio::select! {
                waited = &mut waiting => break waited,
                _ = &mut reading, if !drained => drained = true,
            }
        };
        if !drained {
            // A process that left the group may still hold a pipe open.
            let _ = tokio::time::timeout(DRAIN_AFTER_EXIT, reading).await;
        }
        waited
    };
    guard.armed = false;
    let exit = waited.exit;
    if exit.success() {
        return Ok(format!("`{command}` exited 0"));
    }
    let said = stderr.last_line().or_else(|| stdout.last_line());
    Err(Failure::answered(match said {
        Some(line) => format!("`{command}` {exit}: {line:?}"),
        None => format!("`{command}` {exit}"),
    }))
}

/// The end of what a check printed on one stream.
#[derive(Default)]
struct Tail {
    bytes: Vec<u8>,
}

impl Tail {
    /// Reads `pipe` to its end, keeping the last [`OUTPUT_TAIL`] bytes.
    async fn read_from(&mut self, pipe: Option<impl AsyncRead + Unpin>) {
        let Some(mut pipe) = pipe else { return };
        let mut chunk = [0u8; 8192];
        loop {
            match pipe.read(&mut chunk).await {
                Ok(0) | Err(_) => return,
                Ok(read) => self.bytes.extend_from_slice(&chunk[..read]),
            }
            if self.bytes.len() > 2 * OUTPUT_TAIL {
                self.bytes.drain(..self.bytes.len() - OUTPUT_TAIL);
            }
        }
    }

    /// The last non-empty line, made safe for a terminal and cut to
    /// [`MAX_DETAIL`] characters (its end kept).
    fn last_line(&self) -> Option<String> {
        let start = self.bytes.len().saturating_sub(OUTPUT_TAIL);
        let text = String::from_utf8_lossy(&self.bytes[start..]);
        let line = text.lines().map(str::trim).rfind(|l| !l.is_empty())?;
        let line = crate::ansi::terminal_safe(line, false);
        let count = line.chars().count();
        Some(if count > MAX_DETAIL {
            let kept: String = line.chars().skip(count - MAX_DETAIL).collect();
            format!("…{kept}")
        } else {
            line.into_owned()
        })
    }
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
    async fn exec_checks_may_print_more_than_a_pipe_holds() {
        // 100,000 lines (589 KiB) through a 64 KiB pipe: a check whose
        // output is not read to the end dies of SIGPIPE (exit 141).
        let run =
            |command: &'static str| exec(command, Path::new("/"), &[], Duration::from_secs(20));
        let passed = run("seq 1 100000").await;
        assert_eq!(passed, Ok("`seq 1 100000` exited 0".to_string()));
        // The detail is the end of what it said: stderr first, else stdout.
        let failed = [
            (
                "seq 1 100000; echo 'Could not connect: refused' >&2; exit 1",
                "exited with code 1: \"Could not connect: refused\"",
            ),
            ("seq 1 100000; exit 2", "exited with code 2: \"100000\""),
            // Escape sequences do not reach the terminal; a long line keeps its end.
            (
                "printf '\\033]0;title\\007%0500d end\\n' 0; exit 1",
                "0 end\"",
            ),
        ];
        for (command, detail) in failed {
            let err = run(command).await.unwrap_err();
            assert!(err.why.ends_with(detail), "{err:?}");
            assert!(!err.why.contains('\x1b') && err.why.len() < 400, "{err:?}");
        }
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
            err.why.contains("exited with code 3: \"nope\"") && err.answered,
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
