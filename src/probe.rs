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
//! Two hints make the gentle pace fast again where it matters: the time
//! the service took to become ready last time (checks come quickly again
//! around it), and its output (a service that has just said something may
//! have become ready: it is checked at once, at most every
//! [`NUDGE_GAP`]). Apps tend to say when their startup is done.
//!
//! A passing readiness check of a service with a port counts only if the
//! listener on that port is the service's own ([`ownership`]): otherwise
//! a stranger answered, and that is a conflict, not readiness. Once that
//! is confirmed, the repeated checks of a ready service skip it (until a
//! check fails), and so do liveness checks: the listener of a service
//! that is up and answering does not change hands while its process
//! lives.

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
/// The least time between two checks when the service's output asks for
/// one.
pub const NUDGE_GAP: Duration = Duration::from_millis(10);

/// What bringup knows that tells it when a starting service is worth
/// checking.
#[derive(Debug, Clone, Default)]
pub struct Hints {
    /// How long it took to become ready last time (cold-start history).
    pub expected: Option<Duration>,
    /// Notified when the service prints something.
    pub output: Option<std::sync::Arc<tokio::sync::Notify>>,
}

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

    /// The same check without the listener's owner confirmed.
    fn unowned(&self) -> Self {
        Self {
            owner: None,
            ..self.clone()
        }
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
    /// has been starting, whether it answered the last check, and how long
    /// it took last time.
    fn pace(
        &self,
        elapsed: Duration,
        answered: bool,
        period: Duration,
        expected: Option<Duration>,
    ) -> Duration {
        // Around the moment it became ready last time, an answer of "not
        // yet" is worth asking again soon.
        let due = expected.is_some_and(|t| {
            elapsed + ANSWERED_GAP >= t.mul_f64(0.8) && elapsed <= t.mul_f64(1.5) + ANSWERED_GAP
        });
        let (floor, slowdown) = match (&self.target, answered) {
            (Target::Exec { .. }, _) => (Duration::from_millis(10), 50),
            (_, false) => (Duration::from_millis(1), 500),
            (_, true) if due => (Duration::from_millis(1), 300),
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
    hints: Hints,
    tx: mpsc::Sender<T>,
    report: impl Fn(bool, String) -> T,
) {
    let started = Instant::now();
    let plain = prober.unowned();
    let mut passed = false;
    // The listener was found to be the service's own, and no check failed
    // since.
    let mut confirmed = false;
    let mut last_failure: Option<String> = None;
    // The check about to run was asked for by the service's output.
    let mut nudged = false;
    loop {
        let checked_at = Instant::now();
        let this = if confirmed { &plain } else { &prober };
        let (ok, detail, answered) = match this.check().await {
            Ok(detail) => (true, detail, true),
            Err(failure) => (false, failure.why, failure.answered),
        };
        confirmed = ok;
        let news = passed || ok || last_failure.as_deref() != Some(detail.as_str());
        if !ok {
            last_failure = Some(detail.clone());
        }
        if news && tx.send(report(ok, detail)).await.is_err() {
            return;
        }
        passed |= ok;
        if passed {
            tokio::time::sleep(period).await;
            continue;
        }
        let wait = prober.pace(started.elapsed(), answered, period, hints.expected);
        let output = hints.output.as_ref().filter(|_| !nudged);
        nudged = false;
        let Some(output) = output else {
            tokio::time::sleep(wait).await;
            continue;
        };
        // Whichever comes first: the pace, or the service saying something
        // (then not sooner than NUDGE_GAP after the last check). A check
        // the output asked for is followed by one at the pace, so a chatty
        // service is not asked more than twice per pace.
        tokio::select! {
            () = tokio::time::sleep(wait) => {}
            () = output.notified() => {
                nudged = true;
                tokio::time::sleep_until((checked_at + NUDGE_GAP.min(wait)).into()).await;
            }
        }
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
        assert_eq!(tcp.pace(Duration::ZERO, false, period, None), ms(1));
        assert_eq!(
            tcp.pace(ms(800), false, period, None),
            Duration::from_micros(1600)
        );
        assert_eq!(tcp.pace(ms(2000), false, period, None), ms(4));
        // The service answers (503s): gentler, it does work for each check.
        assert_eq!(tcp.pace(ms(300), true, period, None), ANSWERED_GAP);
        assert_eq!(tcp.pace(ms(1500), true, period, None), ANSWERED_GAP);
        assert_eq!(
            tcp.pace(Duration::from_secs(60), true, period, None),
            ms(200)
        );
        assert_eq!(
            tcp.pace(Duration::from_secs(3600), true, period, None),
            period
        );
        // It took 1 s last time: around then, "not yet" is asked again soon.
        let last_time = Some(Duration::from_secs(1));
        assert_eq!(tcp.pace(ms(300), true, period, last_time), ANSWERED_GAP);
        assert_eq!(tcp.pace(ms(900), true, period, last_time), ms(3));
        assert_eq!(tcp.pace(ms(1500), true, period, last_time), ms(5));
        assert_eq!(tcp.pace(ms(1700), true, period, last_time), ANSWERED_GAP);
        let exec = Prober::new(
            Target::Exec {
                command: "true".into(),
                cwd: "/".into(),
                env: vec![],
            },
            period,
        );
        assert_eq!(exec.pace(Duration::ZERO, false, period, None), ms(10));
    }
}
