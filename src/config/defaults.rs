//! The keys a service shares with `[project]`: `ready_timeout`,
//! `dependency_timeout`, `stop_grace`, `restart`, `max_restarts` and
//! `backoff`.
//!
//! `[project]` sets them for every service ([`Defaults::project`]); a
//! service's own value wins ([`Defaults::service`]). Both places are read by
//! the same functions, so a key means the same and is checked the same
//! (range, backoff order) wherever it is written, and a bad value falls
//! back on the default it would have had.

use std::time::Duration;

use toml::Spanned;

use crate::config::durations::{self, duration};
use crate::config::error::Collector;
use crate::config::plan::{Backoff, Kind, RestartPolicy};
use crate::config::raw::{RawBackoff, RawProject, RawRestart, RawService};

const DEFAULT_TIMING: Timing = Timing {
    ready_timeout: Duration::from_secs(60),
    dependency_timeout: Duration::from_secs(30),
    stop_grace: Duration::from_secs(5),
};
const DEFAULT_MAX_RESTARTS: u32 = 5;
const DEFAULT_BACKOFF: Backoff = Backoff {
    initial: Duration::from_millis(250),
    max: Duration::from_secs(30),
};

/// Project-wide defaults a service falls back on.
pub(crate) struct Defaults {
    timing: Timing,
    restart: Option<RestartPolicy>,
    max_restarts: u32,
    backoff: Backoff,
}

/// The shared keys of one service, resolved.
pub(crate) struct Lifecycle {
    pub timing: Timing,
    pub restart: RestartPolicy,
    pub max_restarts: u32,
    pub backoff: Backoff,
}

/// The timing keys a service shares with `[project]`.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Timing {
    pub ready_timeout: Duration,
    pub dependency_timeout: Duration,
    pub stop_grace: Duration,
}

impl Defaults {
    /// What `[project]` sets, over bringup's own defaults.
    pub fn project(raw: &RawProject, errors: &mut Collector<'_>) -> Self {
        Self {
            timing: timing(
                "project",
                [
                    raw.ready_timeout.as_ref(),
                    raw.dependency_timeout.as_ref(),
                    raw.stop_grace.as_ref(),
                ],
                DEFAULT_TIMING,
                errors,
            ),
            restart: raw.restart.map(restart_policy),
            max_restarts: raw.max_restarts.unwrap_or(DEFAULT_MAX_RESTARTS),
            backoff: backoff("project", raw.backoff.as_ref(), DEFAULT_BACKOFF, errors),
        }
    }

    /// The shared keys of the service at `path`, each falling back on
    /// these defaults. Without a `restart` anywhere, a service restarts on
    /// failure and a task never does.
    pub fn service(
        &self,
        path: &str,
        raw: &RawService,
        kind: Kind,
        errors: &mut Collector<'_>,
    ) -> Lifecycle {
        let timing = timing(
            path,
            [
                raw.ready_timeout.as_ref(),
                raw.dependency_timeout.as_ref(),
                raw.stop_grace.as_ref(),
            ],
            self.timing,
            errors,
        );
        let restart = raw
            .restart
            .map(restart_policy)
            .or(self.restart)
            .unwrap_or(match kind {
                Kind::Service => RestartPolicy::OnFailure,
                Kind::Task => RestartPolicy::Never,
            });
        let backoff = backoff(path, raw.backoff.as_ref(), self.backoff, errors);
        Lifecycle {
            timing,
            restart,
            max_restarts: raw.max_restarts.unwrap_or(self.max_restarts),
            backoff,
        }
    }
}

/// `ready_timeout`, `dependency_timeout` and `stop_grace` at `path`, each
/// falling back on `fallback`'s.
fn timing(
    path: &str,
    [ready, dependency, stop]: [Option<&Spanned<String>>; 3],
    fallback: Timing,
    errors: &mut Collector<'_>,
) -> Timing {
    let mut key =
        |name, raw, limits, default| duration(path, name, raw, limits, errors).unwrap_or(default);
    Timing {
        ready_timeout: key(
            "ready_timeout",
            ready,
            durations::READY_TIMEOUT,
            fallback.ready_timeout,
        ),
        dependency_timeout: key(
            "dependency_timeout",
            dependency,
            durations::DEPENDENCY_TIMEOUT,
            fallback.dependency_timeout,
        ),
        stop_grace: key(
            "stop_grace",
            stop,
            durations::STOP_GRACE,
            fallback.stop_grace,
        ),
    }
}

/// `backoff = { initial, max }` at `path`; `max` may not be below `initial`.
fn backoff(
    path: &str,
    raw: Option<&RawBackoff>,
    fallback: Backoff,
    errors: &mut Collector<'_>,
) -> Backoff {
    let Some(raw) = raw else {
        return fallback;
    };
    let path = format!("{path}.backoff");
    let initial = duration(
        &path,
        "initial",
        raw.initial.as_ref(),
        durations::BACKOFF,
        errors,
    )
    .unwrap_or(fallback.initial);
    let max = duration(&path, "max", raw.max.as_ref(), durations::BACKOFF, errors)
        .unwrap_or(fallback.max);
    if max < initial {
        let initial_text = humantime::format_duration(initial);
        let max_text = humantime::format_duration(max);
        match &raw.max {
            Some(written) => errors.push(
                Some(written.span()),
                format!("{path}.max"),
                format!("the maximum backoff ({max_text}) is shorter than the initial one ({initial_text})"),
                None,
            ),
            None => errors.push(
                raw.initial.as_ref().map(|i| i.span()),
                format!("{path}.initial"),
                format!("the initial backoff ({initial_text}) is longer than the maximum ({max_text}, the default)"),
                Some(format!("set `max` too, e.g. `backoff = {{ initial = \"{initial_text}\", max = \"{initial_text}\" }}`")),
            ),
        }
    }
    Backoff { initial, max }
}

fn restart_policy(raw: RawRestart) -> RestartPolicy {
    match raw {
        RawRestart::Always => RestartPolicy::Always,
        RawRestart::OnFailure => RestartPolicy::OnFailure,
        RawRestart::Never => RestartPolicy::Never,
    }
}
