//! `bringup fixture`: a small, real HTTP service that stands in for "a service" in
//! the demo stack and in the integration tests.
//!
//! Every awkward behaviour a supervisor has to cope with can be dialled in from the
//! command line: binding late, becoming ready late, announcing readiness by log line
//! or by `sd_notify`, chatty or flooding output, exiting by itself with a chosen
//! code, ignoring or slowly honouring SIGTERM, leaving a grandchild behind, failing
//! its liveness probe, serving on a socket handed over by `LISTEN_FDS`, and
//! leaving a daemon behind that wiped its environment (`daemon`).
//!
//! How it works: [`run`] records `start`, does the synchronous start-up work
//! (adopting an inherited socket, the flood, the grandchild), then drives the rest
//! on a current-thread tokio runtime. hyper serves the listener, if there is one;
//! readiness is one flag, flipped by a task at max(`--ready-after`, bind time); the
//! main loop waits for the first of a signal, `--exit-after`, the end of a
//! `--term-delay`, or a fatal server error. With `--record`, each lifecycle event is
//! appended to a file that several fixtures can share, stamped with
//! CLOCK_MONOTONIC so that a test can order events across processes. The events
//! are `start`, `flooded` (after `--flood`), `bound`, `ready`, `sigterm` (or
//! `sigint`) and `exit`.

mod daemon;

use std::convert::Infallible;
use std::fmt::Display;
use std::fs::{File, OpenOptions};
use std::io::{self, BufWriter, Write};
use std::net::TcpListener as StdListener;
use std::os::fd::FromRawFd;
use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use http_body_util::Full;
use hyper::body::{Bytes, Incoming};
use hyper::header::{CONTENT_TYPE, HeaderValue};
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper::{Method, Request, Response, StatusCode};
use hyper_util::rt::TokioIo;
use serde_json::json;
use tokio::net::TcpListener;
use tokio::signal::unix::{SignalKind, signal};
use tokio::time::{Instant as TokioInstant, MissedTickBehavior, sleep, sleep_until};

/// Options of `bringup fixture` (a hidden subcommand). Durations are humantime
/// strings such as `300ms` or `2s`.
#[derive(Debug, clap::Args)]
pub struct FixtureArgs {
    /// Name used in log lines and records.
    #[arg(long, default_value = "fixture")]
    pub name: String,
    /// Port to serve HTTP on [default: $PORT; with neither, no HTTP server].
    #[arg(long)]
    pub port: Option<u16>,
    /// Address to bind.
    #[arg(long, default_value = "127.0.0.1")]
    pub host: String,
    /// Wait this long after start before binding (or, with an inherited socket, accepting).
    #[arg(long, value_name = "DUR", value_parser = parse_duration)]
    pub bind_after: Option<Duration>,
    /// /health/ready answers 503 until this long after start (and until bound).
    #[arg(long, value_name = "DUR", value_parser = parse_duration, default_value = "0s")]
    pub ready_after: Duration,
    /// Print this line on stdout on becoming ready; `{port}` and `{name}` are replaced.
    #[arg(long, value_name = "TEXT")]
    pub ready_line: Option<String>,
    /// Send READY=1 to $NOTIFY_SOCKET on becoming ready (skipped if unset).
    #[arg(long)]
    pub notify: bool,
    /// Create FILE on becoming ready (for exec probes such as `test -e FILE`).
    #[arg(long, value_name = "FILE")]
    pub ready_file: Option<PathBuf>,
    /// Append `<monotonic ns> <name> <event> <pid>` for each lifecycle event to FILE.
    #[arg(long, value_name = "FILE")]
    pub record: Option<PathBuf>,
    /// Print `NAME tick N` every DUR.
    #[arg(long, value_name = "DUR", value_parser = parse_period)]
    pub log_every: Option<Duration>,
    /// Send the ticks to stderr instead of stdout.
    #[arg(long)]
    pub log_stderr: bool,
    /// Right after start, print N lines of about 80 bytes as fast as possible.
    #[arg(long, value_name = "N")]
    pub flood: Option<u64>,
    /// Exit by itself this long after start, with --exit-code.
    #[arg(long, value_name = "DUR", value_parser = parse_duration)]
    pub exit_after: Option<Duration>,
    /// Exit code used by --exit-after.
    #[arg(long, value_name = "N", default_value_t = 0)]
    pub exit_code: u8,
    /// Log and ignore SIGTERM and SIGINT: only SIGKILL stops the process.
    #[arg(long)]
    pub ignore_sigterm: bool,
    /// On SIGTERM or SIGINT, wait this long before exiting 0 [default: exit at once].
    #[arg(long, value_name = "DUR", value_parser = parse_duration)]
    pub term_delay: Option<Duration>,
    /// Spawn `NAME-grandchild` (an --idle fixture) and leave it running.
    #[arg(long)]
    pub grandchild: bool,
    /// First of all, start `NAME-daemon`: it forks twice, calls setsid,
    /// wipes its environment (as a rewritten process title does), records
    /// `daemon` with its pid and waits for a signal.
    #[arg(long)]
    pub daemon: bool,
    /// No server and no ticks: just wait for a signal.
    #[arg(long)]
    pub idle: bool,
    /// /health/live answers 200 until this long after start, then 500.
    #[arg(long, value_name = "DUR", value_parser = parse_duration)]
    pub live_fail_after: Option<Duration>,
}

fn parse_duration(s: &str) -> Result<Duration, String> {
    humantime::parse_duration(s).map_err(|e| e.to_string())
}

/// Like `parse_duration`, but rejects zero: a zero period would be a busy loop.
fn parse_period(s: &str) -> Result<Duration, String> {
    match parse_duration(s)? {
        d if d.is_zero() => Err("must be greater than zero".into()),
        d => Ok(d),
    }
}

/// Nanoseconds on CLOCK_MONOTONIC: comparable between processes on this machine,
/// unlike [`Instant`]. Returns 0 in the (theoretical) case the clock is unavailable.
pub fn monotonic_nanos() -> u64 {
    nix::time::clock_gettime(nix::time::ClockId::CLOCK_MONOTONIC)
        .map(|ts| (ts.tv_sec() as u64).saturating_mul(1_000_000_000) + ts.tv_nsec() as u64)
        .unwrap_or(0)
}

/// Start-up failures: reported on stderr, and the fixture exits with code 2.
#[derive(Debug, thiserror::Error)]
enum Fatal {
    #[error("cannot open record file {}: {source}", path.display())]
    Record { path: PathBuf, source: io::Error },
    #[error("invalid $PORT {0:?}: expected a port number")]
    PortEnv(String),
    #[error("cannot use the inherited socket (LISTEN_FDS): {0}")]
    Inherited(io::Error),
    #[error("cannot listen on {addr}: {source}")]
    Bind { addr: String, source: io::Error },
    #[error("cannot start the daemon: {0}")]
    Daemon(io::Error),
    #[error("cannot spawn the grandchild: {0}")]
    Grandchild(io::Error),
    /// Not a start-up problem but the runtime failing; `run` returns it as `Err`.
    #[error(transparent)]
    Io(#[from] io::Error),
}

/// What the request handlers and the background tasks share.
struct Shared {
    args: FixtureArgs,
    pid: u32,
    start: Instant,
    ready: AtomicBool,
    /// Requests to /health/ready so far (`/status` says), so tests can see
    /// how hard a readiness check leans on a starting service.
    ready_requests: AtomicU64,
    record: Option<File>,
}

impl Shared {
    /// Appends one `--record` line. It goes out in a single write(): with O_APPEND
    /// the kernel appends it whole, so fixtures sharing a file never interleave.
    fn record(&self, event: &str) {
        self.record_at(event, monotonic_nanos());
    }

    /// Records `event` as having happened at `nanos` (CLOCK_MONOTONIC).
    fn record_at(&self, event: &str, nanos: u64) {
        let Some(mut file) = self.record.as_ref() else {
            return;
        };
        let (name, pid) = (&self.args.name, self.pid);
        let line = format!("{nanos} {name} {event} {pid}\n");
        match file.write(line.as_bytes()) {
            Ok(n) if n == line.len() => {}
            Ok(n) => warn(format_args!("{name}: short record write ({n} bytes)")),
            Err(e) => warn(format_args!("{name}: cannot write record file: {e}")),
        }
    }

    /// The tokio instant `offset` after process start.
    fn at(&self, offset: Duration) -> TokioInstant {
        TokioInstant::from_std(self.start + offset)
    }
}

/// Prints one line on stdout. Rust's stdout is line-buffered even on a pipe, so a
/// parent waiting for a log line sees it at once; unlike `println!`, a closed pipe
/// does not panic.
fn say(line: impl Display) {
    let _ = writeln!(io::stdout().lock(), "{line}");
}

/// Prints one line on stderr, ignoring errors for the same reason as [`say`].
fn warn(line: impl Display) {
    let _ = writeln!(io::stderr().lock(), "{line}");
}

/// Runs the fixture until it exits by itself or is signalled; returns the exit code.
/// Start-up failures (port in use, bad `$PORT`, ...) are printed on stderr and give
/// `Ok(2)`; `Err` means the async runtime itself could not be set up.
pub fn run(args: FixtureArgs) -> io::Result<i32> {
    // The `start` record carries this moment, not the moment it is
    // written (opening the record file can take milliseconds on a busy
    // machine): `--ready-after` and `--exit-after` count from it. Read
    // before `start`, so `start` is never earlier than what is recorded.
    let started_nanos = monotonic_nanos();
    let start = Instant::now();
    let record = args.record.as_ref().map(|path| {
        let file = OpenOptions::new().append(true).create(true).open(path);
        file.map_err(|source| Fatal::Record {
            path: path.clone(),
            source,
        })
    });
    let record = match record.transpose() {
        Ok(record) => record,
        Err(fatal) => {
            warn(format_args!("{}: {fatal}", args.name));
            return Ok(2);
        }
    };
    let shared = Arc::new(Shared {
        args,
        pid: std::process::id(),
        start,
        ready: AtomicBool::new(false),
        ready_requests: AtomicU64::new(0),
        record,
    });
    shared.record_at("start", started_nanos);
    let result = match run_inner(&shared) {
        Ok(code) => Ok(code),
        Err(Fatal::Io(e)) => Err(e),
        Err(fatal) => {
            warn(format_args!("{}: {fatal}", shared.args.name));
            Ok(2)
        }
    };
    let requests = shared.ready_requests.load(Ordering::Relaxed);
    if requests > 0 {
        shared.record(&format!("ready-requests={requests}"));
    }
    shared.record("exit");
    result
}

fn run_inner(shared: &Arc<Shared>) -> Result<i32, Fatal> {
    let args = &shared.args;
    // Before anything else: forking is only safe while we have one thread.
    if args.daemon {
        let pid = daemon::start(&args.name, shared.record.as_ref()).map_err(Fatal::Daemon)?;
        say(format_args!("{} started daemon {pid}", args.name));
    }
    // Adopt the inherited socket first: listen_fds() marks it close-on-exec, so
    // the grandchild spawned below does not inherit (and keep open) our listener.
    let inherited = inherited_listener()?;
    let port = match (args.port, std::env::var("PORT")) {
        (Some(port), _) => Some(port),
        (None, Ok(v)) if !v.trim().is_empty() => {
            Some(v.trim().parse().map_err(|_| Fatal::PortEnv(v))?)
        }
        (None, _) => None,
    };
    if let Some(lines) = args.flood {
        flood(&args.name, lines);
        shared.record("flooded");
    }
    if args.grandchild {
        let pid = spawn_grandchild(&args.name).map_err(Fatal::Grandchild)?;
        say(format_args!("{} spawned grandchild {pid}", args.name));
    }
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    runtime.block_on(supervise(Arc::clone(shared), inherited, port))
}

/// The listening socket passed by socket activation, if `LISTEN_PID` names us.
fn inherited_listener() -> Result<Option<StdListener>, Fatal> {
    // The protocol allows several sockets; a fixture only ever needs the first.
    let Some(fd) = sd_notify::listen_fds().map_err(Fatal::Inherited)?.next() else {
        return Ok(None);
    };
    // SAFETY: LISTEN_PID is our pid, so by the socket-activation protocol `fd` is
    // an open socket handed to this process, and nothing else in it owns the fd.
    let listener = unsafe { StdListener::from_raw_fd(fd) };
    listener.set_nonblocking(true).map_err(Fatal::Inherited)?;
    // Fails unless the fd really is a socket: better now than at the first accept.
    listener.local_addr().map_err(Fatal::Inherited)?;
    Ok(Some(listener))
}

/// Writes `lines` lines of about 80 bytes through one buffer, so the flood is as
/// fast as the reader allows. A write error (reader gone) just ends it.
fn flood(name: &str, lines: u64) {
    let mut out = BufWriter::new(io::stdout().lock());
    let pad = 79usize.saturating_sub(name.len() + 18);
    for i in 0..lines {
        if writeln!(out, "{name} flood {i:010} {:-<pad$}", "").is_err() {
            return;
        }
    }
    let _ = out.flush();
}

/// Starts `NAME-grandchild` in our process group and does not wait for it: it is
/// there to be orphaned, so tests can check that bringup kills whole groups.
fn spawn_grandchild(name: &str) -> io::Result<u32> {
    let child = Command::new(std::env::current_exe()?)
        .args(["fixture", "--name", &format!("{name}-grandchild"), "--idle"])
        .stdin(Stdio::null())
        // These describe our fds, not the grandchild's.
        .env_remove("LISTEN_FDS")
        .env_remove("LISTEN_PID")
        .env_remove("LISTEN_FDNAMES")
        .spawn()?;
    Ok(child.id())
}

/// Waits for `--ready-after`, then flips the flag and announces readiness. With a
/// port it is started only once the listener is bound, hence max(ready-after, bind).
async fn become_ready(shared: Arc<Shared>, port: Option<u16>) {
    let args = &shared.args;
    sleep_precisely(shared.start + args.ready_after).await;
    shared.ready.store(true, Ordering::SeqCst);
    shared.record("ready");
    if let Some(path) = &args.ready_file
        && let Err(e) = File::create(path)
    {
        warn(format_args!(
            "{}: cannot create {}: {e}",
            args.name,
            path.display()
        ));
    }
    if let Some(line) = &args.ready_line {
        let port = port.map(|p| p.to_string()).unwrap_or_default();
        say(line.replace("{name}", &args.name).replace("{port}", &port));
    }
    // notify() itself does nothing when $NOTIFY_SOCKET is unset.
    let notified = if args.notify {
        sd_notify::notify(&[sd_notify::NotifyState::Ready])
    } else {
        Ok(())
    };
    if let Err(e) = notified {
        warn(format_args!("{}: cannot notify READY=1: {e}", args.name));
    }
}

/// Drives the fixture on the runtime: returns the exit code.
async fn supervise(
    shared: Arc<Shared>,
    inherited: Option<StdListener>,
    port: Option<u16>,
) -> Result<i32, Fatal> {
    let args = &shared.args;
    // Handlers first, so that a signal arriving during a slow start is handled too.
    let mut sigterm = signal(SignalKind::terminate())?;
    let mut sigint = signal(SignalKind::interrupt())?;

    let serving = !args.idle && (inherited.is_some() || port.is_some());
    let server_shared = Arc::clone(&shared);
    // Not spawned but polled by the select! below: it returns only on a fatal
    // error, and the select arms never await, so it is never starved.
    let server = async move {
        if serving {
            serve(server_shared, inherited, port.unwrap_or(0)).await
        } else {
            tokio::spawn(become_ready(server_shared, None));
            std::future::pending().await
        }
    };
    tokio::pin!(server);
    if let (Some(every), false) = (args.log_every, args.idle) {
        tokio::spawn(tick(Arc::clone(&shared), every));
    }

    let exit_at = args.exit_after.map(|d| shared.at(d));
    let mut shutdown_at = None;
    loop {
        tokio::select! {
            result = &mut server => return result,
            () = sleep_until_opt(exit_at) => {
                say(format_args!("{} exiting with code {}", args.name, args.exit_code));
                return Ok(i32::from(args.exit_code));
            }
            () = sleep_until_opt(shutdown_at) => return Ok(0),
            _ = sigterm.recv() => on_signal(&shared, "SIGTERM", &mut shutdown_at),
            _ = sigint.recv() => on_signal(&shared, "SIGINT", &mut shutdown_at),
        }
    }
}

/// Records the signal and, unless told to ignore it, schedules the exit (after
/// `--term-delay`). A second signal does not move an exit already scheduled.
fn on_signal(shared: &Shared, sig: &str, shutdown_at: &mut Option<TokioInstant>) {
    let args = &shared.args;
    shared.record(&sig.to_ascii_lowercase());
    if args.ignore_sigterm {
        say(format_args!("{} ignoring {sig}", args.name));
    } else if shutdown_at.is_none() {
        say(format_args!("{} received {sig}, exiting", args.name));
        *shutdown_at = Some(TokioInstant::now() + args.term_delay.unwrap_or_default());
    }
}

/// Sleeps until `deadline` to within a fraction of a millisecond. tokio's
/// timers tick in whole milliseconds, which would add up to 1 ms to every
/// delay a benchmark asks for; so tokio sleeps until just before the
/// deadline and a blocking thread's nanosleep does the last stretch. (Only
/// a few milliseconds: a runtime that shuts down waits for blocking tasks.)
async fn sleep_precisely(deadline: Instant) {
    let coarse = deadline
        .checked_sub(Duration::from_millis(3))
        .unwrap_or(deadline);
    sleep_until(TokioInstant::from_std(coarse)).await;
    let Some(wait) = deadline.checked_duration_since(Instant::now()) else {
        return;
    };
    if tokio::task::spawn_blocking(move || std::thread::sleep(wait))
        .await
        .is_err()
    {
        sleep_until(TokioInstant::from_std(deadline)).await;
    }
}

async fn sleep_until_opt(at: Option<TokioInstant>) {
    match at {
        Some(at) => sleep_until(at).await,
        None => std::future::pending().await,
    }
}

/// Prints `NAME tick N` every `every`, counting from 1.
async fn tick(shared: Arc<Shared>, every: Duration) {
    let mut interval = tokio::time::interval_at(shared.at(every), every);
    // After a stall (e.g. a blocked stdout), carry on; don't fire a burst of ticks.
    interval.set_missed_tick_behavior(MissedTickBehavior::Delay);
    let print: fn(String) = if shared.args.log_stderr { warn } else { say };
    for n in 1u64.. {
        interval.tick().await;
        print(format!("{} tick {n}", shared.args.name));
    }
}

/// Binds (or adopts) the listener, starts readiness, and serves HTTP/1.1 until
/// the process ends. Returns only on a start-up failure.
async fn serve(
    shared: Arc<Shared>,
    inherited: Option<StdListener>,
    port: u16,
) -> Result<i32, Fatal> {
    let args = &shared.args;
    if let Some(delay) = args.bind_after {
        sleep_precisely(shared.start + delay).await;
    }
    let handed_over = inherited.is_some();
    let listener = match inherited {
        Some(listener) => TcpListener::from_std(listener).map_err(Fatal::Inherited)?,
        None => TcpListener::bind((args.host.as_str(), port))
            .await
            .map_err(|source| {
                let addr = format!("{}:{port}", args.host);
                Fatal::Bind { addr, source }
            })?,
    };
    let addr = listener.local_addr()?;
    shared.record("bound");
    let how = if handed_over {
        " (socket handed over)"
    } else {
        ""
    };
    say(format_args!("{} listening on {addr}{how}", args.name));
    tokio::spawn(become_ready(Arc::clone(&shared), Some(addr.port())));

    loop {
        let stream = match listener.accept().await {
            Ok((stream, _)) => stream,
            Err(e) => {
                // E.g. EMFILE: back off instead of spinning, and keep serving.
                warn(format_args!("{}: accept failed: {e}", args.name));
                sleep(Duration::from_millis(50)).await;
                continue;
            }
        };
        let shared = Arc::clone(&shared);
        let service = service_fn(move |req: Request<Incoming>| {
            let response = respond(&shared, &req);
            async move { Ok::<_, Infallible>(response) }
        });
        // A failed connection (client gone mid-request) concerns only that client.
        let connection = http1::Builder::new().serve_connection(TokioIo::new(stream), service);
        tokio::spawn(async move { connection.await.ok() });
    }
}

fn respond(shared: &Shared, req: &Request<Incoming>) -> Response<Full<Bytes>> {
    let uptime = shared.start.elapsed();
    let ready = shared.ready.load(Ordering::SeqCst);
    let (args, name) = (&shared.args, &shared.args.name);
    let live = args.live_fail_after.is_none_or(|after| uptime < after);
    let text = |status, body: &str| (status, "text/plain", body.to_owned());
    let json = |status, body: serde_json::Value| (status, "application/json", body.to_string());
    if req.uri().path() == "/health/ready" {
        shared.ready_requests.fetch_add(1, Ordering::Relaxed);
    }
    let (status, content_type, body) = match req.uri().path() {
        _ if req.method() != Method::GET => text(StatusCode::NOT_FOUND, "not found\n"),
        "/" => text(StatusCode::OK, &format!("{name}\n")),
        "/health/live" if live => text(StatusCode::OK, "ok"),
        "/health/live" => text(StatusCode::INTERNAL_SERVER_ERROR, "failing"),
        "/health/ready" if ready => json(StatusCode::OK, json!({"status": "ready", "name": name})),
        "/health/ready" => json(
            StatusCode::SERVICE_UNAVAILABLE,
            json!({"status": "starting"}),
        ),
        "/status" => {
            let uptime_ms = u64::try_from(uptime.as_millis()).unwrap_or(u64::MAX);
            let requests = shared.ready_requests.load(Ordering::Relaxed);
            let status = json!({"name": name, "pid": shared.pid, "ready": ready,
                "uptime_ms": uptime_ms, "ready_requests": requests});
            json(StatusCode::OK, status)
        }
        _ => text(StatusCode::NOT_FOUND, "not found\n"),
    };
    let mut response = Response::new(Full::new(Bytes::from(body)));
    *response.status_mut() = status;
    let content_type = HeaderValue::from_static(content_type);
    response.headers_mut().insert(CONTENT_TYPE, content_type);
    response
}
