//! What the read-only tools return (`status`, `why`, `ports_who`), built
//! from what the control socket gives: the hello (the stack and "now" on
//! its clock), the snapshot, log pages and the port route.
//!
//! Every state comes twice: as data an agent can branch on (`state`, the
//! typed `reason` exactly as the protocol carries it) and as the sentence
//! a person would read (`why`, made by [`crate::api::describe`]).

use std::collections::HashSet;
use std::time::Duration;

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::api::{ServiceStatus, Snapshot, WaitReason, describe};
use crate::control::wire::{Hello, PortReport};
use crate::logs::Line;

/// The most services a `why` chain follows (a chain cannot be longer than
/// the stack; this bounds a malformed one).
const MAX_CHAIN: usize = 64;

/// One service, as `status` shows it.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
pub struct ServiceReport {
    pub name: String,
    /// pending, starting, ready, not_ready, failed, stopped, skipped or
    /// completed.
    pub state: String,
    /// Why it is in its state, in words.
    pub why: String,
    /// Why it is in its state, as data (the protocol's `Reason`: a
    /// `reason` tag and its fields).
    pub reason: serde_json::Value,
    /// What a pending service waits for, as data (`waiting_for`:
    /// dependency, start_slot, restart or blocked), if it waits.
    pub waiting: Option<serde_json::Value>,
    pub port: Option<u16>,
    pub pid: Option<u32>,
    /// Processes spawned so far (the current one's attempt number).
    pub attempt: u32,
    /// Restarts in the current streak, and the most allowed.
    pub restarts: u32,
    pub max_restarts: u32,
    /// How long its current process has run, in ms.
    pub uptime_ms: Option<u64>,
    /// From spawn to first ready in this bring-up, in ms.
    pub time_to_ready_ms: Option<u64>,
    pub optional: bool,
    /// Brought up by this run (`bringup up api` leaves the rest out).
    pub selected: bool,
    /// A process bringup did not start stands in for it (adopted).
    pub external: bool,
}

/// The whole stack, as `status` shows it.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
pub struct StatusReport {
    pub project: String,
    pub config: String,
    /// The pid of the bringup running the stack.
    pub bringup_pid: u32,
    /// running, restarting, shutting_down or done.
    pub phase: String,
    /// Selected services that are ready (or completed), and how many are
    /// selected.
    pub ready: usize,
    pub total: usize,
    /// Every selected required service is ready.
    pub all_required_ready: bool,
    /// The services (those asked for, when filtered), in start order.
    pub services: Vec<ServiceReport>,
}

/// A link of a `why` chain: a service and what holds it up.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
pub struct Link {
    pub name: String,
    pub state: String,
    pub why: String,
}

/// One line of a log, as the tools return it.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
pub struct LogLine {
    /// Whose line it is (a service, or `bringup` for its own log).
    pub service: String,
    /// When it was read, in ms since the stack started.
    pub at_ms: u64,
    /// stdout or stderr.
    pub stream: String,
    /// The text, colours removed.
    pub text: String,
}

/// Everything about one service: `why`.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
pub struct WhyReport {
    pub service: ServiceReport,
    /// What it waits for, link by link, down to the root cause (the last
    /// link: a service that waits for nothing else). Empty when it waits
    /// for no other service.
    pub chain: Vec<Link>,
    /// The last readiness check that failed for the current process, and
    /// what it said ("HTTP 503 (expected 200-299)").
    pub last_check: Option<String>,
    /// How its last process ended ("exited with code 1", "killed by
    /// SIGKILL"), if one has.
    pub last_exit: Option<String>,
    /// Optional dependencies it started without.
    pub degraded: Vec<String>,
    /// Required dependencies that are down while it runs.
    pub lost: Vec<Link>,
    /// What bringup said about it lately (state changes, checks, exits,
    /// restarts), oldest first.
    pub history: Vec<LogLine>,
    /// Its own last output lines, oldest first.
    pub output: Vec<LogLine>,
}

/// A process listening on a port.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
pub struct PortHolder {
    /// The address it listens on.
    pub address: String,
    /// None when it cannot be seen (another user's process).
    pub pid: Option<u32>,
    pub command: Option<String>,
    pub user: String,
    /// How long it has run, in seconds.
    pub running_for_s: Option<u64>,
}

/// Who holds a port: `ports_who`.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
pub struct PortsReport {
    pub port: u16,
    /// Nothing listens on it.
    pub free: bool,
    /// The stack's service that was given the port, if one was.
    pub service: Option<String>,
    pub holders: Vec<PortHolder>,
    /// The answer in words.
    pub summary: String,
}

fn ms(d: Duration) -> u64 {
    u64::try_from(d.as_millis()).unwrap_or(u64::MAX)
}

fn value<T: Serialize>(data: &T) -> serde_json::Value {
    serde_json::to_value(data).unwrap_or(serde_json::Value::Null)
}

fn plain(text: &str) -> String {
    crate::ansi::plain(text).into_owned()
}

/// The sentence for where `s` is: what it waits for, else its reason.
fn why(s: &ServiceStatus) -> String {
    plain(&match &s.waiting {
        Some(waiting) => describe::waiting(waiting),
        None => describe::state_line(s.state, &s.reason),
    })
}

/// `s` at `now` (ms since the stack started, on its clock).
pub fn service(s: &ServiceStatus, now: Duration) -> ServiceReport {
    let running = s.pid.is_some();
    ServiceReport {
        name: s.name.clone(),
        state: s.state.as_str().to_string(),
        why: why(s),
        reason: value(&s.reason),
        waiting: s.waiting.as_ref().map(value),
        port: s.port,
        pid: s.pid,
        attempt: s.spawns,
        restarts: s.restarts,
        max_restarts: s.max_restarts,
        uptime_ms: s
            .spawned_at
            .filter(|_| running)
            .map(|at| ms(now.saturating_sub(at))),
        time_to_ready_ms: s
            .first_ready_at
            .zip(s.ready_attempt_spawned_at)
            .map(|(ready, spawned)| ms(ready.saturating_sub(spawned))),
        optional: s.optional,
        selected: s.selected,
        external: s.external,
    }
}

/// What `status` filters by.
#[derive(Debug, Default)]
pub struct Filter<'a> {
    pub names: &'a [String],
    pub states: &'a [String],
}

/// The stack, its services filtered.
pub fn status(hello: &Hello, snapshot: &Snapshot, filter: &Filter<'_>) -> StatusReport {
    let now = Duration::from_millis(hello.uptime_ms);
    let (ready, total) = snapshot.ready_of_selected();
    let all_required_ready = snapshot
        .services
        .iter()
        .filter(|s| s.selected && !s.optional)
        .all(|s| s.state.is_ready());
    let services = snapshot
        .services
        .iter()
        .filter(|s| filter.names.is_empty() || filter.names.contains(&s.name))
        .filter(|s| {
            filter.states.is_empty() || filter.states.iter().any(|st| st == s.state.as_str())
        })
        .map(|s| service(s, now))
        .collect();
    let phase = value(&snapshot.phase);
    StatusReport {
        project: hello.info.project.clone(),
        config: hello.info.config.clone(),
        bringup_pid: hello.pid,
        phase: match &phase {
            serde_json::Value::String(name) => name.clone(),
            serde_json::Value::Object(map) => map.keys().next().cloned().unwrap_or_default(),
            _ => String::new(),
        },
        ready,
        total,
        all_required_ready,
        services,
    }
}

/// The service `s` waits for or is blocked by, if another service.
fn held_up_by(s: &ServiceStatus) -> Option<&str> {
    match &s.waiting {
        Some(WaitReason::Dependency { on, .. } | WaitReason::Blocked { on, .. }) => Some(on),
        _ => match &s.reason {
            crate::api::Reason::Blocked { on, .. } => Some(on),
            _ => s.lost.first().map(|l| l.name.as_str()),
        },
    }
}

/// The chain of services that hold `s` up, down to one that waits for no
/// other service (the root cause).
pub fn chain(snapshot: &Snapshot, s: &ServiceStatus) -> Vec<Link> {
    let mut links = Vec::new();
    let mut seen = HashSet::from([s.name.as_str()]);
    let mut next = held_up_by(s);
    while let Some(name) = next {
        let Some(on) = snapshot.services.iter().find(|o| o.name == name) else {
            break;
        };
        links.push(Link {
            name: on.name.clone(),
            state: on.state.as_str().to_string(),
            why: why(on),
        });
        if !seen.insert(on.name.as_str()) || links.len() >= MAX_CHAIN {
            break;
        }
        next = held_up_by(on);
    }
    links
}

/// A log line of `service`.
pub fn log_line(service: &str, line: &Line) -> LogLine {
    LogLine {
        service: service.to_string(),
        at_ms: ms(line.at),
        stream: value(&line.stream).as_str().unwrap_or_default().to_string(),
        text: plain(&line.text),
    }
}

/// Everything about `s`: `history` is bringup's own lines about it,
/// `output` its own last lines.
pub fn why_report(
    hello: &Hello,
    snapshot: &Snapshot,
    s: &ServiceStatus,
    history: Vec<LogLine>,
    output: Vec<LogLine>,
) -> WhyReport {
    let now = Duration::from_millis(hello.uptime_ms);
    WhyReport {
        service: service(s, now),
        chain: chain(snapshot, s),
        last_check: s.last_check.as_deref().map(plain),
        last_exit: s.last_exit.as_ref().map(|e| plain(&e.to_string())),
        degraded: s.degraded.clone(),
        lost: s
            .lost
            .iter()
            .map(|l| Link {
                name: l.name.clone(),
                state: l.state.as_str().to_string(),
                why: describe::lost_state(l.state).to_string(),
            })
            .collect(),
        history,
        output,
    }
}

/// Who holds a port, with the answer in words.
pub fn ports(report: PortReport) -> PortsReport {
    let holders: Vec<PortHolder> = report
        .holders
        .iter()
        .map(|h| PortHolder {
            address: h.address.clone(),
            pid: h.pid,
            command: h.command.as_deref().map(plain),
            user: h.user.clone(),
            running_for_s: h.running_for.map(|d| d.as_secs()),
        })
        .collect();
    let whose = report
        .service
        .as_deref()
        .map(|s| format!(" (the stack gave it to {s})"))
        .unwrap_or_default();
    let summary = match report.holders.first() {
        None => format!("nothing listens on port {}{whose}", report.port),
        Some(h) => format!("port {}{whose}: {}", report.port, plain(&h.to_string())),
    };
    PortsReport {
        port: report.port,
        free: holders.is_empty(),
        service: report.service,
        holders,
        summary,
    }
}

/// The answer of `down`.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
pub struct DownReport {
    /// The stack has stopped and its bringup has ended.
    pub stopped: bool,
    /// What happened, in words.
    pub summary: String,
}

/// `down`'s answer, in words for an agent.
pub fn down(down: &crate::control::act::Down, timeout: std::time::Duration) -> DownReport {
    use crate::control::act::Down;
    let summary = match down {
        Down::Stopped => "stopped: every service is down and the stack's bringup has ended".into(),
        Down::Refused(why) => why.clone(),
        Down::TimedOut => format!(
            "the stack did not stop within {}; call down with force=true to kill what is left",
            crate::api::describe::fmt_duration(timeout)
        ),
        Down::Lingering => "the services are down but the stack's bringup has not ended yet".into(),
    };
    DownReport {
        stopped: *down == Down::Stopped,
        summary,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::{Value, json};

    /// A status as the protocol carries it.
    fn service_status(
        id: usize,
        name: &str,
        state: &str,
        waiting: Value,
        reason: Value,
    ) -> ServiceStatus {
        serde_json::from_value(json!({
            "id": id, "name": name, "kind": "service", "optional": false,
            "state": state, "since": 0.0, "pid": null, "port": null, "port_how": null,
            "external": false, "ever_ready": false, "ready_attempt_spawned_at": null,
            "first_ready_at": null, "gated_by": null, "selected": true, "spawns": 1,
            "restarts": 0, "max_restarts": 3, "waiting": waiting, "degraded": [],
            "lost": [], "last_exit": null, "reason": reason, "last_check": null,
            "spawned_at": null, "ready_at": null, "stopping": false
        }))
        .expect("a status")
    }

    fn snapshot(services: Vec<ServiceStatus>) -> Snapshot {
        Snapshot {
            phase: crate::api::Phase::Running,
            began_at: Duration::ZERO,
            services,
            summary: None,
            watch_paused: false,
        }
    }

    #[test]
    fn why_follows_what_a_service_waits_for_down_to_the_root_cause() {
        let failed = json!({"reason": "could_not_start", "why": "no port"});
        let snapshot = snapshot(vec![
            service_status(0, "db", "failed", Value::Null, failed),
            service_status(
                1,
                "auth",
                "failed",
                json!({"waiting_for": "blocked", "on": "db", "state": "failed"}),
                json!({"reason": "blocked", "on": "db", "state": "failed"}),
            ),
            service_status(
                2,
                "api",
                "pending",
                json!({"waiting_for": "dependency", "on": "auth", "need": "ready"}),
                json!({"reason": "waiting_to_start"}),
            ),
        ]);
        let links = chain(&snapshot, &snapshot.services[2]);
        let names: Vec<&str> = links.iter().map(|l| l.name.as_str()).collect();
        assert_eq!(names, ["auth", "db"]);
        assert_eq!(links[1].state, "failed");
        assert!(links[1].why.contains("no port"), "{}", links[1].why);
        assert!(chain(&snapshot, &snapshot.services[0]).is_empty());
    }

    #[test]
    fn a_chain_that_loops_ends() {
        let wait_on = |on: &str| json!({"waiting_for": "dependency", "on": on, "need": "ready"});
        let reason = || json!({"reason": "waiting_to_start"});
        let snapshot = snapshot(vec![
            service_status(0, "a", "pending", wait_on("b"), reason()),
            service_status(1, "b", "pending", wait_on("a"), reason()),
        ]);
        let links = chain(&snapshot, &snapshot.services[0]);
        assert!(links.len() <= 2, "{}", links.len());
    }

    #[test]
    fn status_filters_by_name_and_state_and_counts_the_ready() {
        let ready = json!({"reason": "ready_in", "took": 12.0, "detail": "HTTP 200"});
        let snapshot = snapshot(vec![
            service_status(0, "db", "ready", Value::Null, ready),
            service_status(
                1,
                "api",
                "starting",
                Value::Null,
                json!({"reason": "starting", "attempt": 1, "degraded": []}),
            ),
        ]);
        let hello: Hello = serde_json::from_value(json!({
            "protocol": 1, "version": "0", "pid": 7, "uptime_ms": 1000,
            "info": {"project": "p", "config": "c", "services": []}
        }))
        .expect("a hello");
        let all = status(&hello, &snapshot, &Filter::default());
        assert_eq!(
            (all.ready, all.total, all.all_required_ready),
            (1, 2, false)
        );
        assert_eq!(all.phase, "running");
        let starting = [String::from("starting")];
        let some = status(
            &hello,
            &snapshot,
            &Filter {
                names: &[],
                states: &starting,
            },
        );
        let names: Vec<&str> = some.services.iter().map(|s| s.name.as_str()).collect();
        assert_eq!(names, ["api"]);
        assert_eq!(all.services[0].why, "ready in 12ms (HTTP 200)");
    }
}
