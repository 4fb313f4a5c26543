//! The validated model: a [`Plan`] where every name resolves, every duration
//! is parsed and every default is filled in. The engine reads only this.

use std::net::IpAddr;
use std::ops::RangeInclusive;
use std::path::PathBuf;
use std::time::Duration;

use regex::Regex;
use serde::{Deserialize, Serialize};

use crate::config::interpolate::Template;
use crate::graph::Graph;
pub use crate::graph::{DepKind, Dependency};
pub use crate::ids::ServiceId;

/// A config that is ready to run.
#[derive(Debug)]
pub struct Plan {
    pub project: Project,
    pub services: Vec<ServiceSpec>,
    pub graph: Graph,
    /// The file the plan came from (`<demo>` for the embedded demo).
    pub source: PathBuf,
    /// Things that are allowed but probably not what was meant.
    pub warnings: Vec<crate::config::ConfigError>,
    /// `[ui]`: the dashboard's theme and key bindings.
    pub ui: Ui,
    /// By [`ServiceId`]: the service was removed from the config while
    /// the stack ran. Its number stays taken (every front end and log
    /// holds services by number), so it stays here, stopped for good; see
    /// `config::diff::merge`. All `false` in a plan read from a file.
    pub removed: Vec<bool>,
}

/// `[ui]` after validation.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Ui {
    /// A theme name (built in, or a file in the user's theme directory).
    pub theme: Option<String>,
    /// Actions whose keys `[ui.keys]` replaces.
    pub keys: Vec<(crate::keys::Action, Vec<crate::keys::Key>)>,
}

/// The identity of the config at `source` with project `project` (see
/// [`Plan::identity`]).
pub fn identity_of(source: &std::path::Path, project: &str) -> String {
    let source = std::fs::canonicalize(source).unwrap_or_else(|_| source.to_path_buf());
    let key = format!("{}\0{project}", source.display());
    let hash = key.bytes().fold(0xcbf2_9ce4_8422_2325_u64, |h, b| {
        (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3)
    });
    format!("{hash:016x}")
}

impl Plan {
    /// A stable name for this config: a hash of its canonical path and
    /// project name (FNV-1a, the same across builds). Its cold-start
    /// history and its entry among the running stacks go by it.
    pub fn identity(&self) -> String {
        identity_of(&self.source, &self.project.name)
    }

    pub fn service(&self, id: ServiceId) -> &ServiceSpec {
        &self.services[id.0]
    }

    /// The service called `name` (never one removed from the config).
    pub fn find(&self, name: &str) -> Option<ServiceId> {
        self.ids().find(|&id| self.services[id.0].name == name)
    }

    /// Every service of the config (not those removed from it while the
    /// stack ran).
    pub fn ids(&self) -> impl Iterator<Item = ServiceId> + use<'_> {
        (0..self.services.len())
            .filter(|&i| !self.is_removed(ServiceId(i)))
            .map(ServiceId)
    }

    /// Every number a service has had, removed ones included.
    pub fn all_ids(&self) -> impl Iterator<Item = ServiceId> + use<> {
        (0..self.services.len()).map(ServiceId)
    }

    /// `id` was removed from the config while the stack ran.
    pub fn is_removed(&self, id: ServiceId) -> bool {
        self.removed.get(id.0).copied().unwrap_or(false)
    }
}

/// `[project]` after validation.
#[derive(Debug, Clone)]
pub struct Project {
    pub name: String,
    /// How many services may be `starting` at once; `None` means no limit.
    pub max_parallel_starts: Option<usize>,
    /// Lines of output kept per service.
    pub log_lines: usize,
    /// Where `port = "auto"` takes ports from.
    pub port_range: RangeInclusive<u16>,
    /// Edits of the config (and its env files) are applied while the
    /// stack runs (`reload = false` leaves that to `bringup reload`).
    pub reload: bool,
}

/// One service or task, fully resolved. What it depends on is not here
/// but in the graph: `plan.graph.dependencies(id)`.
#[derive(Debug, Clone)]
pub struct ServiceSpec {
    pub name: String,
    pub command: CommandSpec,
    /// Working directory (relative paths in the file are resolved against
    /// the config file's directory).
    pub cwd: PathBuf,
    /// Environment on top of bringup's own, in order: project env_file,
    /// project env, service env_file, service env (later wins).
    pub env: Vec<(String, Template)>,
    pub kind: Kind,
    pub optional: bool,
    /// Started with the stack (`autostart = true`, the default), or only
    /// when asked (`bringup start NAME`, the start key).
    pub autostart: bool,
    pub readiness: Probe,
    pub liveness: Option<Probe>,
    /// After this long in `starting` the service is `not_ready` (still probed).
    pub ready_timeout: Duration,
    /// How long an optional dependency may keep this service waiting.
    pub dependency_timeout: Duration,
    pub restart: RestartPolicy,
    pub max_restarts: u32,
    pub backoff: Backoff,
    pub stop_signal: nix::sys::signal::Signal,
    pub stop_grace: Duration,
    pub port: Option<PortSpec>,
    /// The files whose changes restart it (`watch`), if any.
    pub watch: Option<crate::config::watch::WatchSpec>,
    /// How the service runs in a container: read by `bringup export` only.
    pub container: ContainerSpec,
}

impl ServiceSpec {
    /// Every text of the service that may name other services: its
    /// command, environment and probes.
    pub fn templates(&self) -> Vec<&Template> {
        let mut all: Vec<&Template> = match &self.command {
            CommandSpec::Shell(t) => vec![t],
            CommandSpec::Argv(args) => args.iter().collect(),
        };
        all.extend(self.env.iter().map(|(_, t)| t));
        for probe in std::iter::once(&self.readiness).chain(&self.liveness) {
            all.extend(probe.check.template());
        }
        all
    }

    /// The services its command, environment or probes name.
    pub fn names_services(&self) -> impl Iterator<Item = ServiceId> + '_ {
        self.templates().into_iter().flat_map(Template::services)
    }

    /// Renumbers the services its texts name (see [`Template::renumber`]).
    pub fn renumber(&mut self, map: &dyn Fn(ServiceId) -> ServiceId) {
        match &mut self.command {
            CommandSpec::Shell(t) => t.renumber(map),
            CommandSpec::Argv(args) => args.iter_mut().for_each(|t| t.renumber(map)),
        }
        self.env.iter_mut().for_each(|(_, t)| t.renumber(map));
        for probe in std::iter::once(&mut self.readiness).chain(self.liveness.as_mut()) {
            match &mut probe.check {
                Check::Tcp { address: t }
                | Check::Http { url: t, .. }
                | Check::Exec { command: t } => t.renumber(map),
                Check::Log { .. } | Check::Notify | Check::None => {}
            }
        }
    }
}

/// What `bringup export` needs besides what bringup runs: the image, and
/// where the environment came from (compose reads env files itself).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ContainerSpec {
    /// `image`.
    pub image: Option<String>,
    /// `build` (compose only).
    pub build: Option<BuildSpec>,
    /// Every `env_file`, the project's then the service's, resolved
    /// against the config file's directory.
    pub env_files: Vec<PathBuf>,
    /// Variables an `env` table sets (the project's or the service's);
    /// the others in [`ServiceSpec::env`] come from env files only.
    pub env_set: std::collections::BTreeSet<String>,
    /// The service has its own `cwd`, which a container does not have.
    pub cwd_given: bool,
}

/// `build`: a context directory and, optionally, its Dockerfile.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BuildSpec {
    /// The directory, resolved against the config file's directory.
    pub context: PathBuf,
    /// As written in the file.
    pub written: String,
    pub dockerfile: Option<String>,
}

/// Which port a service wants and what to do when it is taken.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PortSpec {
    /// The port wanted first; `None` for `port = "auto"`.
    pub preferred: Option<u16>,
    /// Tried in order when the preferred port is taken.
    pub fallbacks: Vec<u16>,
    /// The address the service binds; probes connect to its loopback.
    pub host: IpAddr,
    pub on_conflict: OnConflict,
    /// bringup binds the socket itself and hands it over as fd 3.
    pub listen: bool,
    /// A passing check counts only when the port's listener is the
    /// service's own process (`check_port_owner`, on unless turned off).
    pub check_owner: bool,
}

impl PortSpec {
    /// Where bringup's own probes connect: the service's address, or the
    /// loopback address of its family when it listens on a wildcard.
    pub fn probe_host(&self) -> IpAddr {
        match self.host {
            IpAddr::V4(v4) if v4.is_unspecified() => IpAddr::V4(std::net::Ipv4Addr::LOCALHOST),
            IpAddr::V6(v6) if v6.is_unspecified() => IpAddr::V6(std::net::Ipv6Addr::LOCALHOST),
            host => host,
        }
    }
}

/// "8000", "8000 (fallbacks 8001, 8002)", "auto on 0.0.0.0, handed over".
impl std::fmt::Display for PortSpec {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self.preferred {
            Some(port) => write!(f, "{port}")?,
            None => f.write_str("auto")?,
        }
        let mut extras = Vec::new();
        if !self.fallbacks.is_empty() {
            let list: Vec<String> = self.fallbacks.iter().map(u16::to_string).collect();
            extras.push(format!("fallbacks {}", list.join(", ")));
        }
        if self.on_conflict == OnConflict::Adopt {
            extras.push("adopts a healthy holder".into());
        }
        if self.host != IpAddr::V4(std::net::Ipv4Addr::LOCALHOST) {
            extras.push(format!("on {}", self.host));
        }
        if self.listen {
            extras.push("socket handed over".into());
        }
        if !self.check_owner {
            extras.push("any listener".into());
        }
        if !extras.is_empty() {
            write!(f, " ({})", extras.join(", "))?;
        }
        Ok(())
    }
}

/// What to do when the port a service wants is taken.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum OnConflict {
    /// Use the first free port of `fallback_ports`.
    Fallback,
    /// Fail, naming the holder.
    Fail,
    /// If the holder passes the service's readiness check, treat it as the
    /// service (ready, external: never signalled, left running).
    Adopt,
}

impl OnConflict {
    pub fn as_str(self) -> &'static str {
        match self {
            OnConflict::Fallback => "fallback",
            OnConflict::Fail => "fail",
            OnConflict::Adopt => "adopt",
        }
    }
}

/// What to run.
#[derive(Debug, Clone)]
pub enum CommandSpec {
    /// Run with `sh -c`.
    Shell(Template),
    /// Run directly; the first element is the program.
    Argv(Vec<Template>),
}

/// A long-running service or a task that runs to completion.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Kind {
    Service,
    Task,
}

/// When a process that exited is started again.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum RestartPolicy {
    Always,
    OnFailure,
    Never,
}

/// Exponential backoff between restarts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Backoff {
    pub initial: Duration,
    pub max: Duration,
}

/// A readiness or liveness probe.
#[derive(Debug, Clone)]
pub struct Probe {
    pub check: Check,
    /// Interval once the service is ready (readiness is polled faster before).
    pub period: Duration,
    /// Bound on one check.
    pub timeout: Duration,
    /// Consecutive failures that count as "down".
    pub failure_threshold: u32,
}

/// What a probe checks.
#[derive(Debug, Clone)]
pub enum Check {
    /// A TCP connect succeeds. The address renders to `host:port`.
    Tcp { address: Template },
    /// An HTTP GET answers with a status in range (and a JSON body match).
    Http {
        url: Template,
        status: StatusRange,
        json: Vec<(String, serde_json::Value)>,
    },
    /// A shell command exits 0.
    Exec { command: Template },
    /// An output line matches.
    Log { pattern: Regex },
    /// The service sends `READY=1` to `$NOTIFY_SOCKET`.
    Notify,
    /// Ready as soon as it is spawned.
    None,
}

impl Check {
    /// The text the check renders, if it has one.
    pub fn template(&self) -> Option<&Template> {
        match self {
            Check::Tcp { address: t } | Check::Http { url: t, .. } | Check::Exec { command: t } => {
                Some(t)
            }
            Check::Log { .. } | Check::Notify | Check::None => None,
        }
    }

    /// Short name for plans and summaries.
    pub fn kind_name(&self) -> &'static str {
        match self {
            Check::Tcp { .. } => "tcp",
            Check::Http { .. } => "http",
            Check::Exec { .. } => "exec",
            Check::Log { .. } => "log",
            Check::Notify => "notify",
            Check::None => "none",
        }
    }
}

/// An inclusive range of HTTP status codes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct StatusRange {
    pub low: u16,
    pub high: u16,
}

impl StatusRange {
    pub fn contains(&self, status: u16) -> bool {
        (self.low..=self.high).contains(&status)
    }
}

impl std::fmt::Display for StatusRange {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        if self.low == self.high {
            write!(f, "{}", self.low)
        } else {
            write!(f, "{}-{}", self.low, self.high)
        }
    }
}
