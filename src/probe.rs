//! Readiness and liveness checks, and when to run them.
//!
//! A [`Prober`] runs one check of a rendered [`Target`] ([`checks`]): a TCP
//! connect, an HTTP GET (status range, optional JSON-pointer equality on the
//! body), or a shell command that must exit 0. `log` and `notify` readiness
//! are not polled; the output reader and the [`notify`] socket report those.
//!
//! Fast until ready, calm after: readiness runs right after spawn and then
//! at an interval that grows with the time since spawn (never under a
//! floor, never over `period`), so the delay between a service becoming
//! ready and bringup noticing stays a small fraction of its start time
//! while a slow starter is not hammered. How fast depends on what a check
//! costs the service: a refused connection costs it nothing (every
//! `elapsed / 500`, from 1 ms); an HTTP answer costs it a request, and an
//! app that already answers "not yet" gets at least [`ANSWERED_GAP`]
//! between requests (a uvicorn answering 503s at full speed received
//! 130–270 readiness requests in a 1.5 s start, each one a line in its
//! access log; now about 30); an exec check costs a process (every
//! `elapsed / 50`, from 10 ms). Once ready, the check repeats every
//! `period` so a service that stops answering turns `not_ready`. Liveness
//! runs every `period` from the moment of readiness.
//!
//! A passing check of a service with a port counts only if the listener on
//! that port is the service's own ([`ownership`]): otherwise a stranger
//! answered, and that is a conflict, not readiness.

pub mod checks;
pub mod notify;
pub mod ownership;

use std::future::Future;
use std::path::PathBuf;
use std::time::{Duration, Instant};

use tokio::sync::mpsc;

use crate::config::plan::StatusRange;

/// The least time between two checks of a service that answered the last
/// one with "not ready" (an HTTP status or body that does not match).
pub const ANSWERED_GAP: Duration = Duration::from_millis(50);

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

/// Why a check failed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Failure {
    pub why: String,
    /// The service did work to answer (an HTTP response, a process run), so
    /// checking again costs it something.
    pub answered: bool,
}

impl Failure {
    pub(crate) fn silent(why: String) -> Self {
        Self {
            why,
            answered: false,
        }
    }

    pub(crate) fn answered(why: String) -> Self {
        Self {
            why,
            answered: true,
        }
    }
}

/// Runs checks of one target.
#[derive(Debug, Clone)]
pub struct Prober {
    target: Target,
    timeout: Duration,
    owner: Option<std::sync::Arc<ownership::Owner>>,
}

impl Prober {
    pub fn new(target: Target, timeout: Duration) -> Self {
        Self {
            target,
            timeout,
            owner: None,
        }
    }

    /// Passes only when, besides the check, the listener on the service's
    /// port is the service's own.
    pub fn owned_by(mut self, owner: ownership::Owner) -> Self {
        self.owner = Some(std::sync::Arc::new(owner));
        self
    }

    /// One check, bounded by the probe's timeout: `Ok(detail)` when it
    /// passes.
    pub async fn check(&self) -> Result<String, Failure> {
        let check = async {
            let passed = match &self.target {
                Target::Tcp { address } => checks::tcp(address).await,
                Target::Http { url, status, json } => checks::http(url, *status, json).await,
                Target::Exec { command, cwd, env } => {
                    checks::exec(command, cwd, env, self.timeout).await
                }
            }?;
            match &self.owner {
                Some(owner) => owner.confirm(passed).await,
                None => Ok(passed),
            }
        };
        match tokio::time::timeout(self.timeout, check).await {
            Ok(result) => result,
            Err(_) => Err(Failure::silent(format!(
                "no answer within {}",
                crate::text::fmt_duration(self.timeout)
            ))),
        }
    }

    /// The gap before the next readiness check, given how long the service
    /// has been starting and whether it answered the last check.
    fn pace(&self, elapsed: Duration, answered: bool, period: Duration) -> Duration {
        let (floor, slowdown) = match (&self.target, answered) {
            (Target::Exec { .. }, _) => (Duration::from_millis(10), 50),
            (_, false) => (Duration::from_millis(1), 500),
            (_, true) => (ANSWERED_GAP, 300),
        };
        (elapsed / slowdown).clamp(floor, period.max(floor))
    }
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
    let mut passed = false;
    let mut last_failure: Option<String> = None;
    loop {
        let (ok, detail, answered) = match prober.check().await {
            Ok(detail) => (true, detail, true),
            Err(failure) => (false, failure.why, failure.answered),
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
            prober.pace(started.elapsed(), answered, period)
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
            Err(failure) => (false, failure.why),
        };
        if tx.send(report(ok, detail)).await.is_err() {
            return;
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
        let period = Duration::from_secs(2);
        let tcp = Prober::new(
            Target::Tcp {
                address: "127.0.0.1:1".into(),
            },
            period,
        );
        let ms = Duration::from_millis;
        // Nothing answers yet: checks cost the service nothing, go fast.
        assert_eq!(tcp.pace(Duration::ZERO, false, period), ms(1));
        assert_eq!(
            tcp.pace(ms(800), false, period),
            Duration::from_micros(1600)
        );
        assert_eq!(tcp.pace(ms(2000), false, period), ms(4));
        // The service answers (503s): gentler, it does work for each check.
        assert_eq!(tcp.pace(ms(300), true, period), ANSWERED_GAP);
        assert_eq!(tcp.pace(ms(1500), true, period), ANSWERED_GAP);
        assert_eq!(tcp.pace(Duration::from_secs(60), true, period), ms(200));
        assert_eq!(tcp.pace(Duration::from_secs(3600), true, period), period);
        let exec = Prober::new(
            Target::Exec {
                command: "true".into(),
                cwd: "/".into(),
                env: vec![],
            },
            period,
        );
        assert_eq!(exec.pace(Duration::ZERO, false, period), ms(10));
    }
}
