//! The tools an agent calls: each a thin function from typed input to a
//! typed answer ([`super::report`], [`super::logs`], [`super::act`]),
//! with its description and annotations (read-only, destructive) in one
//! place. A tool that cannot do what it was asked (no stack, no such
//! service, a bad regex) answers with an error result whose text says why
//! and what to do: the agent reads it; the server never fails for it.

use std::time::Duration;

use rmcp::handler::server::router::tool::ToolRouter;
use rmcp::handler::server::wrapper::Parameters;
use rmcp::{Json, tool, tool_handler, tool_router};
use schemars::JsonSchema;
use serde::Deserialize;

use super::act::{self, ActReport};
use super::link::{LinkError, Target};
use super::logs::{self, Ask, LogsReport};
use super::report::DownReport;
use super::report::{self, Filter, PortsReport, StatusReport, WhyReport};
use crate::api::Command;
use crate::api::goal::Goal;
use crate::control::client::Client;
use crate::control::wire::{self, Hello};

/// How long the acting tools and `wait_ready` wait when not told.
const DEFAULT_WAIT: Duration = Duration::from_secs(60);
/// How long `up` waits for the stack when not told.
const DEFAULT_UP: Duration = Duration::from_secs(120);
/// The longest any tool waits (an MCP call should not hang for hours).
const MAX_WAIT: Duration = Duration::from_secs(600);
/// Lines of history and of output `why` returns.
const WHY_LINES: usize = 20;

/// The MCP server: the tools, for one config's stack.
#[derive(Clone)]
pub struct Bringup {
    target: Target,
    tool_router: ToolRouter<Self>,
}

/// A tool's failure, in words for the agent.
type Failed = String;

#[derive(Debug, Default, Deserialize, JsonSchema)]
pub struct StatusParams {
    /// Only these services (by name); all when empty.
    #[serde(default)]
    pub services: Vec<String>,
    /// Only services in these states (pending, starting, ready,
    /// not_ready, failed, stopped, skipped, completed); all when empty.
    #[serde(default)]
    pub states: Vec<String>,
}

#[derive(Debug, Deserialize, JsonSchema)]
pub struct WhyParams {
    /// The service to explain.
    pub service: String,
}

#[derive(Debug, Default, Deserialize, JsonSchema)]
pub struct LogsParams {
    /// The services whose lines to read (`bringup` for bringup's own log:
    /// what it did and why); every service when empty.
    #[serde(default)]
    pub services: Vec<String>,
    /// At most this many lines, the newest (default 100, at most 1000).
    pub tail: Option<usize>,
    /// Only lines newer than this: a duration such as "30s", "5m", "1h".
    pub since: Option<String>,
    /// Only lines matching this regular expression (Rust regex syntax).
    pub grep: Option<String>,
    /// At most this many bytes of text (default 32768, at most 262144).
    pub max_bytes: Option<usize>,
}

#[derive(Debug, Deserialize, JsonSchema)]
pub struct ActParams {
    /// The services to act on, by name.
    pub services: Vec<String>,
    /// How long to wait for the effect: a duration such as "30s" or "2m"
    /// (default 60s, at most 10m).
    pub timeout: Option<String>,
}

#[derive(Debug, Default, Deserialize, JsonSchema)]
pub struct WaitParams {
    /// The services to wait for; every required service when empty.
    #[serde(default)]
    pub services: Vec<String>,
    /// How long to wait: a duration such as "30s" or "2m" (default 60s,
    /// at most 10m).
    pub timeout: Option<String>,
}

#[derive(Debug, Default, Deserialize, JsonSchema)]
pub struct UpParams {
    /// Bring up only these services and what they depend on; all when
    /// empty.
    #[serde(default)]
    pub services: Vec<String>,
    /// How long the stack may take to come up (default 120s, at most 10m).
    pub timeout: Option<String>,
}

#[derive(Debug, Default, Deserialize, JsonSchema)]
pub struct DownParams {
    /// SIGKILL everything now instead of stopping it gracefully.
    #[serde(default)]
    pub force: bool,
    /// How long to wait for the stack to stop (default 120s, at most 10m).
    pub timeout: Option<String>,
}

#[derive(Debug, Deserialize, JsonSchema)]
pub struct PortParams {
    /// The TCP port.
    pub port: u16,
}

/// The answer of `up`.
#[derive(Debug, Clone, serde::Serialize, Deserialize, JsonSchema)]
pub struct UpReport {
    /// Every required service is ready.
    pub ok: bool,
    /// It was running already; nothing was started.
    pub already_running: bool,
    /// What `bringup up -d` said (what did not come up and why, when not
    /// ok).
    pub output: String,
    /// The stack's status afterwards, when it runs.
    pub status: Option<StatusReport>,
}

fn duration(text: Option<&str>, default: Duration) -> Result<Duration, Failed> {
    let Some(text) = text.map(str::trim).filter(|t| !t.is_empty()) else {
        return Ok(default);
    };
    let parsed = humantime::parse_duration(text).map_err(|e| {
        format!("{text:?} is not a duration ({e}); write one such as \"500ms\", \"30s\" or \"2m\"")
    })?;
    Ok(parsed.min(MAX_WAIT))
}

fn failed(e: impl std::fmt::Display) -> Failed {
    e.to_string()
}

#[tool_router]
impl Bringup {
    pub fn new(target: Target) -> Self {
        Self {
            target,
            tool_router: Self::tool_router(),
        }
    }

    /// A client of the running stack and its hello.
    async fn stack(&self) -> Result<(Client, Hello), Failed> {
        let client = self.target.connect().await.map_err(failed)?;
        let hello = client
            .hello()
            .await
            .map_err(|e| failed(LinkError::Unreachable(e)))?;
        Ok((client, hello))
    }

    async fn act(
        &self,
        params: ActParams,
        make: fn(crate::ids::ServiceId) -> Command,
        goal: Goal,
    ) -> Result<Json<ActReport>, Failed> {
        let timeout = duration(params.timeout.as_deref(), DEFAULT_WAIT)?;
        if params.services.is_empty() {
            return Err("name at least one service".into());
        }
        let (client, hello) = self.stack().await?;
        let ids = act::resolve(&hello.info, &params.services).map_err(failed)?;
        let report = act::act(&client, &hello.info, &ids, make, goal, timeout)
            .await
            .map_err(failed)?;
        Ok(Json(report))
    }

    #[tool(
        description = "Every service of the running stack: state (pending, starting, ready, not_ready, failed, stopped, skipped, completed), why (a sentence, and the typed reason), port, pid, attempt, uptime and time to ready. Filter by service names and/or states.",
        annotations(read_only_hint = true, open_world_hint = false)
    )]
    async fn status(
        &self,
        Parameters(params): Parameters<StatusParams>,
    ) -> Result<Json<StatusReport>, Failed> {
        let (client, hello) = self.stack().await?;
        let snapshot = client.snapshot().await.map_err(failed)?;
        if !params.services.is_empty() {
            act::resolve(&hello.info, &params.services).map_err(failed)?;
        }
        let filter = Filter {
            names: &params.services,
            states: &params.states,
        };
        Ok(Json(report::status(&hello, &snapshot, &filter)))
    }

    #[tool(
        description = "Why one service is where it is: its status, what it waits for link by link down to the root cause, its last failed readiness check, how its last process ended, what bringup said about it lately (state changes, checks, exits, restarts) and its last output lines.",
        annotations(read_only_hint = true, open_world_hint = false)
    )]
    async fn why(
        &self,
        Parameters(params): Parameters<WhyParams>,
    ) -> Result<Json<WhyReport>, Failed> {
        let (client, hello) = self.stack().await?;
        let ids =
            act::resolve(&hello.info, std::slice::from_ref(&params.service)).map_err(failed)?;
        let snapshot = client.snapshot().await.map_err(failed)?;
        let Some(s) = ids
            .first()
            .and_then(|id| snapshot.services.iter().find(|s| s.id == *id))
        else {
            return Err(format!("the stack has no service `{}`", params.service));
        };
        // bringup's own log names the service first in each line about it.
        let about = format!("^{}: ", regex::escape(&s.name));
        let own = [wire::OWN_LOG.to_string()];
        let history = logs::read(
            &client,
            &hello,
            &Ask {
                services: &own,
                lines: Some(WHY_LINES),
                grep: Some(&about),
                ..Ask::default()
            },
        )
        .await
        .map_err(failed)?;
        let mine = [s.name.clone()];
        let output = logs::read(
            &client,
            &hello,
            &Ask {
                services: &mine,
                lines: Some(WHY_LINES),
                bytes: Some(8 * 1024),
                ..Ask::default()
            },
        )
        .await
        .map_err(failed)?;
        Ok(Json(report::why_report(
            &hello,
            &snapshot,
            s,
            history.lines,
            output.lines,
        )))
    }

    #[tool(
        description = "Recent output lines of services (or of bringup itself: service `bringup`), merged in the order they were printed, newest kept. Bounded in lines (tail) and bytes (max_bytes); `cut` and `note` say when lines were left out. Filter by age (since) and a regular expression (grep).",
        annotations(read_only_hint = true, open_world_hint = false)
    )]
    async fn logs(
        &self,
        Parameters(params): Parameters<LogsParams>,
    ) -> Result<Json<LogsReport>, Failed> {
        let since = match params.since.as_deref() {
            Some(text) => Some(duration(Some(text), Duration::ZERO).map_err(failed)?),
            None => None,
        };
        let (client, hello) = self.stack().await?;
        let ask = Ask {
            services: &params.services,
            lines: params.tail,
            bytes: params.max_bytes,
            since,
            grep: params.grep.as_deref(),
        };
        let report = logs::read(&client, &hello, &ask).await.map_err(failed)?;
        Ok(Json(report))
    }

    #[tool(
        description = "Restart services (stop, start again, reset their restart count) and return once each is ready again, or with why it could not become ready.",
        annotations(
            read_only_hint = false,
            destructive_hint = false,
            open_world_hint = false
        )
    )]
    async fn restart(
        &self,
        Parameters(params): Parameters<ActParams>,
    ) -> Result<Json<ActReport>, Failed> {
        self.act(params, Command::Restart, Goal::Up).await
    }

    #[tool(
        description = "Stop services gracefully (their stop signal, then SIGKILL after their grace); they stay stopped until started. Returns once each has stopped.",
        annotations(
            read_only_hint = false,
            destructive_hint = false,
            open_world_hint = false
        )
    )]
    async fn stop(
        &self,
        Parameters(params): Parameters<ActParams>,
    ) -> Result<Json<ActReport>, Failed> {
        self.act(params, Command::Stop, Goal::Stopped).await
    }

    #[tool(
        description = "Start stopped, skipped, failed or completed services and return once each is ready, or with why it could not become ready.",
        annotations(
            read_only_hint = false,
            destructive_hint = false,
            open_world_hint = false
        )
    )]
    async fn start(
        &self,
        Parameters(params): Parameters<ActParams>,
    ) -> Result<Json<ActReport>, Failed> {
        self.act(params, Command::Start, Goal::Up).await
    }

    #[tool(
        description = "SIGKILL services' process groups at once (no graceful stop: work in flight is lost); they stay stopped until started. Returns once each is gone.",
        annotations(
            read_only_hint = false,
            destructive_hint = true,
            open_world_hint = false
        )
    )]
    async fn kill(
        &self,
        Parameters(params): Parameters<ActParams>,
    ) -> Result<Json<ActReport>, Failed> {
        self.act(params, Command::Kill, Goal::Stopped).await
    }

    #[tool(
        description = "Skip optional services: stop them and let their dependents run degraded. Refused (with why) for a required service.",
        annotations(
            read_only_hint = false,
            destructive_hint = false,
            open_world_hint = false
        )
    )]
    async fn skip(
        &self,
        Parameters(params): Parameters<ActParams>,
    ) -> Result<Json<ActReport>, Failed> {
        self.act(params, Command::Skip, Goal::Skipped).await
    }

    #[tool(
        description = "Wait until services are ready (every required one when none is named): returns when they are, when one cannot become ready any more, or at the timeout, with each service's state and why.",
        annotations(read_only_hint = true, open_world_hint = false)
    )]
    async fn wait_ready(
        &self,
        Parameters(params): Parameters<WaitParams>,
    ) -> Result<Json<ActReport>, Failed> {
        let timeout = duration(params.timeout.as_deref(), DEFAULT_WAIT)?;
        let (client, hello) = self.stack().await?;
        let ids = act::resolve(&hello.info, &params.services).map_err(failed)?;
        let report = act::wait_ready(&client, &ids, timeout)
            .await
            .map_err(failed)?;
        Ok(Json(report))
    }

    #[tool(
        description = "Start the stack of this config in the background (`bringup up -d`) and return once every required service is ready, or with what did not come up and why (the stack keeps running so it can be looked at). Does nothing when it runs already.",
        annotations(
            read_only_hint = false,
            destructive_hint = false,
            open_world_hint = false
        )
    )]
    async fn up(&self, Parameters(params): Parameters<UpParams>) -> Result<Json<UpReport>, Failed> {
        let timeout = duration(params.timeout.as_deref(), DEFAULT_UP)?;
        if self.target.running().map_err(failed)?.is_some() {
            let status = self.status(Parameters(StatusParams::default())).await?.0;
            return Ok(Json(UpReport {
                ok: status.all_required_ready,
                already_running: true,
                output: "the stack is running already".into(),
                status: Some(status),
            }));
        }
        let (code, output) = self
            .target
            .up_detached(&params.services, timeout)
            .await
            .map_err(|e| format!("cannot run `bringup up -d`: {e}"))?;
        let status = self
            .status(Parameters(StatusParams::default()))
            .await
            .ok()
            .map(|s| s.0);
        Ok(Json(UpReport {
            ok: code == Some(0),
            already_running: false,
            output,
            status,
        }))
    }

    #[tool(
        description = "Stop the whole stack, dependents first (force: SIGKILL everything now), and return once every service is down and the stack's bringup has ended.",
        annotations(
            read_only_hint = false,
            destructive_hint = true,
            open_world_hint = false
        )
    )]
    async fn down(
        &self,
        Parameters(params): Parameters<DownParams>,
    ) -> Result<Json<DownReport>, Failed> {
        let timeout = duration(params.timeout.as_deref(), DEFAULT_UP)?;
        let client = self.target.connect().await.map_err(failed)?;
        let target = self.target.clone();
        let gone = move || matches!(target.running(), Ok(None));
        let down = act::down(&client, params.force, timeout, gone)
            .await
            .map_err(failed)?;
        Ok(Json(report::down(&down, timeout)))
    }

    #[tool(
        description = "Who holds a TCP port now: every listening process (pid, command, user, address, how long it has run), and which of the stack's services was given the port.",
        annotations(read_only_hint = true, open_world_hint = false)
    )]
    async fn ports_who(
        &self,
        Parameters(params): Parameters<PortParams>,
    ) -> Result<Json<PortsReport>, Failed> {
        let (client, _) = self.stack().await?;
        let found = client.port(params.port).await.map_err(failed)?;
        Ok(Json(report::ports(found)))
    }
}

#[tool_handler(
    router = self.tool_router,
    name = "bringup",
    instructions = "Tools for the local multi-service stack that bringup runs for one config: status and why for what is (not) ready and the root cause, logs for what services printed, restart/stop/start/kill/skip and wait_ready to act and wait for the effect, up/down to start or stop the whole stack, ports_who for who holds a port."
)]
impl rmcp::ServerHandler for Bringup {}
