//! Events in words: one sentence per event, the same for every front end.
//!
//! The headless output prints these after the service's name; the
//! dashboard's orchestrator log shows them as bringup's own account of what
//! it decided and why ("api: waiting for auth (ready)", "cache: failed ·
//! exited with code 1", "api: port 8001 (fallback: 8000 is held by …)").

use crate::api::{
    Cause, EventKind, Outcome, PortHolder, PortHow, Reason, Refusal, State, Summary, Then,
    WaitReason, WantedPort,
};
use crate::ids::ServiceId;

mod devloop;
mod notices;
pub use devloop::{Reloaded, reloaded, restart_why};
pub use notices::notice;

/// How much an event matters.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Weight {
    /// Routine progress.
    Info,
    /// Something went wrong or needs a look.
    Warn,
}

/// An event in words.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Described {
    pub weight: Weight,
    /// The service it is about (id and name), if any.
    pub service: Option<(ServiceId, String)>,
    pub message: String,
}

impl std::fmt::Display for Described {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match &self.service {
            Some((_, name)) => write!(f, "{name}: {}", self.message),
            None => f.write_str(&self.message),
        }
    }
}

/// The sentence for an event and how much it matters; `None` for events
/// that the next state change says better (a process exited).
pub fn describe(kind: &EventKind) -> Option<Described> {
    let about = |service: &ServiceId, name: &String| Some((*service, name.clone()));
    let (weight, service, message) = match kind {
        EventKind::State {
            service,
            name,
            to,
            reason,
            ..
        } => {
            let weight = if matches!(to, State::Failed | State::NotReady) {
                Weight::Warn
            } else {
                Weight::Info
            };
            (weight, about(service, name), state_line(*to, reason))
        }
        EventKind::Waiting {
            service,
            name,
            reason,
        } => (Weight::Info, about(service, name), waiting(reason)),
        EventKind::Spawned {
            service,
            name,
            pid,
            attempt,
        } => (
            Weight::Info,
            about(service, name),
            format!("started {}", process_and_attempt(*pid, *attempt)),
        ),
        EventKind::Exited { .. }
        | EventKind::ShutdownStarted { .. }
        | EventKind::Probe { ok: true, .. } => {
            return None;
        }
        EventKind::DependencyLost {
            service,
            name,
            on,
            state,
        } => (
            Weight::Warn,
            about(service, name),
            format!(
                "⚠ lost its required dependency {on} ({}); it keeps running",
                lost_state(*state)
            ),
        ),
        EventKind::DependencyBack { service, name, on } => {
            (Weight::Info, about(service, name), format!("{on} is back"))
        }
        EventKind::Signalled {
            service,
            name,
            signal,
        } => (
            Weight::Info,
            about(service, name),
            format!("sending {signal} to its process group"),
        ),
        EventKind::Probe {
            service,
            name,
            liveness: true,
            detail,
            ..
        } => (
            Weight::Warn,
            about(service, name),
            format!("liveness check failed: {detail}"),
        ),
        EventKind::Probe {
            service,
            name,
            detail,
            ..
        } => (
            Weight::Info,
            about(service, name),
            format!("not ready yet: {detail}"),
        ),
        EventKind::Port {
            service,
            name,
            port,
            how,
        } => {
            let how = how
                .as_ref()
                .map_or_else(String::new, |how| format!(" ({})", port_how(how)));
            (
                Weight::Info,
                about(service, name),
                format!("port {port}{how}"),
            )
        }
        EventKind::Notice { name, notice, .. } => {
            (Weight::Warn, None, self::notice(name.as_deref(), notice))
        }
        EventKind::Refused { service, name, why } => {
            (Weight::Warn, service.zip(name.clone()), refusal(why))
        }
        EventKind::PortConflict {
            service,
            name,
            message,
            ahead: true,
            ..
        } => (
            Weight::Warn,
            about(service, name),
            format!("will not be able to start when its turn comes: {message}"),
        ),
        // Found at its turn: the failure that follows says the same.
        EventKind::PortConflict { .. } => return None,
        EventKind::ColdStart(summary) => {
            let weight = if summary.all_required_ready {
                Weight::Info
            } else {
                Weight::Warn
            };
            (weight, None, summary_line(summary))
        }
        EventKind::ShutdownComplete => (Weight::Info, None, "every service has stopped".into()),
        EventKind::Reloaded {
            changed,
            ui,
            added,
            removed,
        } => (
            Weight::Info,
            None,
            reloaded(&Reloaded {
                changed,
                added,
                removed,
                ui: *ui,
            }),
        ),
        // Said by the `Reloaded` that follows it.
        EventKind::StackChanged { .. } => return None,
        EventKind::RestartingAll => (Weight::Info, None, "restarting everything".into()),
        EventKind::Watching { paused: true } => (
            Weight::Info,
            None,
            "watching files paused: changes restart nothing".into(),
        ),
        EventKind::Watching { paused: false } => {
            (Weight::Info, None, "watching files again".into())
        }
    };
    Some(Described {
        weight,
        service,
        message,
    })
}

/// What a required dependency that went down from under a running
/// service is doing: it was up, so pending or starting means it is on its
/// way back.
pub fn lost_state(state: State) -> &'static str {
    match state {
        State::Pending | State::Starting => "restarting",
        State::NotReady => "not ready",
        other => other.as_str(),
    }
}

/// "ready in 412ms (HTTP 200)" or "failed · exited with code 1": why a
/// service is in its state, led by the state unless the reason names it.
pub fn state_line(state: State, reason: &Reason) -> String {
    let label = state.as_str().replace('_', " ");
    let why = self::reason(reason);
    if why.is_empty() {
        label
    } else if names_its_state(reason) {
        why
    } else {
        format!("{label} · {why}")
    }
}

/// Whether the words for `reason` already say the state ("ready in …",
/// "stopped (…)"), so the state is not said twice.
fn names_its_state(reason: &Reason) -> bool {
    matches!(
        reason,
        Reason::Starting { .. }
            | Reason::ReadyIn { .. }
            | Reason::CompletedIn { .. }
            | Reason::Adopted { .. }
            | Reason::AdoptedAnswersAgain
            | Reason::NotReadyAfter { .. }
            | Reason::StoppedOnRequest
            | Reason::Stopped { .. }
            | Reason::Removed { .. }
            | Reason::SkippedOnRequest
            | Reason::Skipped
            | Reason::RestartingBecause { .. }
    )
}

/// Why a service is in its state, in words.
pub fn reason(reason: &Reason) -> String {
    match reason {
        Reason::WaitingToStart => "waiting to start".into(),
        Reason::Restarting => "restarting".into(),
        Reason::StartingOnRequest => "starting on request".into(),
        Reason::NotSelected => "not selected".into(),
        Reason::NotStarted => "not started".into(),
        Reason::AwaitingStart => {
            "waiting to be started (autostart = false): S or `bringup start`".into()
        }
        Reason::Starting { attempt, degraded } => {
            let mut line = if *attempt > 1 {
                format!("starting (attempt {attempt})")
            } else {
                "starting".to_string()
            };
            if !degraded.is_empty() {
                line.push_str(&format!("; {}", degraded_line(degraded)));
            }
            line
        }
        Reason::ReadyIn { took, detail } if detail.is_empty() => {
            format!("ready in {}", fmt_duration(*took))
        }
        Reason::ReadyIn { took, detail } => format!("ready in {} ({detail})", fmt_duration(*took)),
        Reason::CompletedIn { took } => format!("completed in {}", fmt_duration(*took)),
        Reason::Adopted { holder } => format!("ready: adopted {holder}"),
        Reason::AdoptedAnswersAgain => "ready: the adopted process answers again".into(),
        Reason::AdoptedNotAnswering { detail } => {
            format!("the adopted process stopped answering: {detail}")
        }
        Reason::ReadinessFailing { detail } => format!("readiness failing: {detail}"),
        Reason::NotReadyAfter {
            timeout,
            last_check,
        } => {
            let last = last_check
                .as_ref()
                .map_or_else(String::new, |check| format!(" (last check: {check})"));
            format!(
                "not ready after {}; still checking{last}",
                fmt_duration(*timeout)
            )
        }
        Reason::LivenessFailing {
            failures,
            detail,
            restart: false,
        } => format!(
            "liveness failed {failures} times ({detail}); restart = \"never\" keeps it running"
        ),
        Reason::LivenessFailing {
            failures, detail, ..
        } => cause(&Cause::Liveness {
            failures: *failures,
            detail: detail.clone(),
        }),
        Reason::Blocked { on, state } => format!("blocked: required dependency {on} is {state}"),
        Reason::CouldNotStart { why } => format!("could not start: {why}"),
        Reason::StoppedOnRequest => "stopped on request".into(),
        Reason::SkippedOnRequest => "skipped on request".into(),
        Reason::Skipped => "skipped".into(),
        Reason::Stopped { exit } => format!("stopped ({exit})"),
        Reason::Removed { exit: Some(exit) } => {
            format!("stopped: removed from the config ({exit})")
        }
        Reason::Removed { exit: None } => "removed from the config".into(),
        Reason::Exited { exit, cause, then } => {
            let why = match cause {
                Some(c) => format!("{}; {exit}", self::cause(c)),
                None => exit.to_string(),
            };
            match then {
                Then::StaysDown => why,
                Then::GaveUp { restarts } => format!(
                    "{why}; gave up after {restarts} restart{}",
                    if *restarts == 1 { "" } else { "s" }
                ),
                Then::RestartIn { attempt, of, delay } => format!(
                    "{why}; restart {attempt} of {of} in {}",
                    fmt_duration(*delay)
                ),
            }
        }
        Reason::KillingAfter { grace } => {
            format!("did not stop within {}; killing", fmt_duration(*grace))
        }
        Reason::RestartingBecause { why } => format!("restarting: {}", restart_why(why)),
    }
}

/// Why bringup ended a process whose checks failed.
fn cause(cause: &Cause) -> String {
    match cause {
        Cause::Liveness { failures, detail } => {
            format!("liveness failed {failures} times: {detail}")
        }
        Cause::AdoptedSilent { failures, detail } => {
            let checks = if *failures == 1 { "check" } else { "checks" };
            format!("no answer to {failures} {checks} in a row ({detail})")
        }
    }
}

/// "8000 (fallbacks 8001, 8002, adopts a healthy holder)": the port a
/// service asks for.
pub fn wanted_port(port: &WantedPort) -> String {
    let mut line = match port.preferred {
        Some(port) => port.to_string(),
        None => "auto".to_string(),
    };
    let mut extras = Vec::new();
    if !port.fallbacks.is_empty() {
        let list: Vec<String> = port.fallbacks.iter().map(u16::to_string).collect();
        extras.push(format!("fallbacks {}", list.join(", ")));
    }
    if port.adopts {
        extras.push("adopts a healthy holder".into());
    }
    if let Some(host) = &port.host {
        extras.push(format!("on {host}"));
    }
    if port.listen {
        extras.push("socket handed over".into());
    }
    if !extras.is_empty() {
        line.push_str(&format!(" ({})", extras.join(", ")));
    }
    line
}

/// Why a command was not carried out, in words (the service, if any, is
/// named by whoever shows it).
pub fn refusal(why: &Refusal) -> String {
    match why {
        Refusal::ShuttingDown => "shutting down; commands are ignored".into(),
        Refusal::Adopted => {
            "it is a process bringup adopted, not one it started; it leaves it alone".into()
        }
        Refusal::NotOptional => {
            "it is not optional, so it cannot be skipped; stop it instead".into()
        }
        Refusal::NothingToDo { state, stopping } => {
            let doing = if *stopping { ", and being stopped" } else { "" };
            format!("nothing to do; it is {state}{doing}")
        }
        Refusal::AlreadyStarted { state } => format!("it is already {state}"),
        Refusal::NotRunning => "it is not running".into(),
        Refusal::AlreadyRestartingAll => "already restarting everything".into(),
        Refusal::AlreadyStopping => "already stopping everything".into(),
        Refusal::NoOtherPort { why } => format!("no other port to use: {why}"),
        Refusal::NoFixedPort => "it has no fixed port to adopt a server on".into(),
        Refusal::NothingHoldsPort { port } => {
            format!("nothing holds port {port} any more; restart it instead")
        }
        Refusal::HolderFailsCheck { holder, why } => format!(
            "not adopted: the holder does not pass the readiness check ({why}); it is {holder}"
        ),
        Refusal::ConfigInvalid { errors } => {
            format!("the config is not valid; nothing changed:\n{errors}")
        }
        Refusal::ReloadNotApplicable { why } => reload_not_applicable(why),
        Refusal::ReloadWhileStopping => reload_while_stopping().to_string(),
    }
}

/// What to tell the user about the answer to a command about `name` (if
/// any): nothing when it was done (what happens shows by itself).
pub fn outcome(name: Option<&str>, outcome: &Outcome) -> Option<String> {
    let said = match outcome {
        Outcome::Done => return None,
        Outcome::Refused { why } => refusal(why),
        Outcome::NotFound => "no such service".to_string(),
    };
    Some(match name {
        Some(name) => format!("{name}: {said}"),
        None => said,
    })
}

/// "(pid 4242)", or "(pid 4242, attempt 3)" once it is not the first.
pub fn process_and_attempt(pid: u32, attempt: u32) -> String {
    if attempt > 1 {
        format!("(pid {pid}, attempt {attempt})")
    } else {
        format!("(pid {pid})")
    }
}

/// What a pending service is waiting for.
pub fn waiting(reason: &WaitReason) -> String {
    match reason {
        WaitReason::Dependency { on, need } => format!("waiting for {on} ({need})"),
        WaitReason::StartSlot { limit } => {
            format!("waiting for a start slot ({limit} may start at once)")
        }
        WaitReason::Restart { attempt, of, .. } => {
            format!("restart {attempt} of {of} after backoff")
        }
        WaitReason::Blocked { on, state } => format!("blocked: {on} is {state}"),
        WaitReason::PortOfRemoved { port, by } => {
            format!("waiting for port {port}: {by}, removed from the config, still holds it")
        }
    }
}

/// "free", "ours (pid 4242)" or the holder: who holds a service's port.
pub fn port_holder(holder: &PortHolder) -> String {
    match holder {
        PortHolder::Free => "free".into(),
        PortHolder::Ours { pid } => format!("ours (pid {pid})"),
        PortHolder::Foreign { holder } => holder.to_string(),
    }
}

/// How a service came by its port: "fallback: 8000 is held by …",
/// "moved from 8000, which is now …". (What holds a port is said by
/// [`crate::ports`], which also says it on the command line.)
pub fn port_how(how: &PortHow) -> String {
    match how {
        PortHow::Auto => "auto".into(),
        PortHow::Fallback { passed } => {
            let passed: Vec<String> = passed
                .iter()
                .map(|t| format!("{} is {}", t.port, t.reason))
                .collect();
            format!("fallback: {}", passed.join("; "))
        }
        PortHow::Moved { from, why } => format!("moved from {from}, which is now {why}"),
        PortHow::Instead { of: Some(port) } => format!("instead of {port}, which was taken"),
        PortHow::Instead { of: None } => "another of the range".into(),
        PortHow::External => "external".into(),
    }
}

/// "degraded: without cache, search".
pub fn degraded_line(without: &[String]) -> String {
    format!("degraded: without {}", without.join(", "))
}

/// The services that did not become ready in the cold start.
fn not_ready(summary: &Summary) -> Vec<&str> {
    summary
        .services
        .iter()
        .filter(|t| t.ready_at.is_none())
        .map(|t| t.name.as_str())
        .collect()
}

/// How the cold start ended: "cold start done in 2.1s: every required
/// service is ready, without the optional cache", or what is not ready.
pub fn headline(summary: &Summary) -> String {
    let missing = not_ready(summary);
    if !summary.all_required_ready {
        return format!(
            "cold start over, but not everything is ready: {}",
            missing.join(", ")
        );
    }
    // With every required service ready, whatever is missing is optional.
    let without = if missing.is_empty() {
        String::new()
    } else {
        format!(", without the optional {}", missing.join(", "))
    };
    format!(
        "cold start done in {}: every required service is ready{without}",
        fmt_duration(summary.time_to_ready)
    )
}

/// The cold start in one line.
pub fn summary_line(summary: &Summary) -> String {
    if !summary.all_required_ready {
        return headline(summary);
    }
    let path: Vec<&str> = summary
        .critical_path
        .iter()
        .map(|t| t.name.as_str())
        .collect();
    format!(
        "{} (critical path: {})",
        headline(summary),
        path.join(" → ")
    )
}

pub use crate::text::{fmt_duration, uptime};

/// An edit the running stack cannot take, and what does apply it.
pub(crate) fn reload_not_applicable(why: &str) -> String {
    format!(
        "the edited config cannot be applied to the running stack ({why}); nothing changed: `bringup down` and `bringup up` apply it"
    )
}

/// An edit read as the stack began to stop.
pub(crate) fn reload_while_stopping() -> &'static str {
    "the config was edited as the stack began to stop; the next `bringup up` starts it as edited"
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn state_lines_do_not_repeat_the_state() {
        let ms = std::time::Duration::from_millis;
        let ready = Reason::ReadyIn {
            took: ms(4),
            detail: "HTTP 200".into(),
        };
        assert_eq!(state_line(State::Ready, &ready), "ready in 4ms (HTTP 200)");
        let exited = Reason::Exited {
            exit: crate::api::Exit::Code(1),
            cause: None,
            then: Then::StaysDown,
        };
        assert_eq!(
            state_line(State::Failed, &exited),
            "failed · exited with code 1"
        );
        let late = Reason::NotReadyAfter {
            timeout: ms(1000),
            last_check: None,
        };
        assert_eq!(
            state_line(State::NotReady, &late),
            "not ready after 1.0s; still checking"
        );
        assert_eq!(
            state_line(State::Stopped, &Reason::StoppedOnRequest),
            "stopped on request"
        );
        assert_eq!(
            state_line(State::Pending, &Reason::WaitingToStart),
            "pending · waiting to start"
        );
    }
}
