//! `bringup export compose|k8s`: a validated [`Plan`] as docker compose or
//! Kubernetes objects, with the same dependency and readiness semantics.
//!
//! How it works: [`prepare`] turns each exported service into a
//! [`Prepared`] entry that both targets share: the name it has on the
//! container network, the port it listens on in its container, its
//! command and environment rendered for that network (`${port}` and
//! `${services.NAME.port}` become container ports, `${services.NAME.host}`
//! becomes NAME's DNS name, and the service's own host becomes `0.0.0.0`
//! so it listens where its peers can reach it), and its probes as
//! [`ProbeTarget`]s (tcp, http or exec; a `log` or `notify` probe, which
//! no container platform has, becomes a warning and a tcp probe when
//! there is a port). [`compose`] and [`k8s`] then only map those entries
//! onto their own serde types (typed output, no string templates; the
//! crates that have such types cost far more build time, see the
//! report in the merge notes) and write YAML.
//!
//! Nothing is dropped silently: what a target cannot express is a
//! [`Warning`] naming the service and what to do. A service without an
//! `image` (or, for compose, a `build`) is an error listing every such
//! service at once, unless it is left out with `--skip`.
//!
//! In a container a service has its own network namespace, so a service
//! with `port = "auto"` gets a fixed container port: the first port of
//! `[project] port_range`, which is what it gets locally when nothing
//! holds it.

pub mod compose;
pub mod k8s;

use std::collections::BTreeSet;
use std::net::IpAddr;
use std::time::Duration;

use crate::config::interpolate::Targets;
use crate::config::{Check, CommandSpec, Kind, Plan, Probe, ServiceId};

/// What to export.
#[derive(Debug, Clone, Default)]
pub struct Options {
    /// Services left out (`--skip NAME`).
    pub skip: Vec<String>,
    /// The directory the output is written to: env files below it are
    /// named relative to it, the others by their absolute path.
    pub output_dir: Option<std::path::PathBuf>,
    /// The Kubernetes namespace the objects go to (a RoleBinding must name
    /// its service account's namespace); `default` when not given.
    pub namespace: Option<String>,
}

/// The exported text and what could not be carried over.
#[derive(Debug, Clone)]
pub struct Exported {
    pub text: String,
    pub warnings: Vec<Warning>,
}

/// Something the target cannot express as bringup does.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Warning {
    /// The service it is about.
    pub service: String,
    pub message: String,
}

impl std::fmt::Display for Warning {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "services.{}: {}", self.service, self.message)
    }
}

/// Why there is no export.
#[derive(Debug, thiserror::Error)]
pub enum ExportError {
    #[error(
        "{} without an `{}`: {}\n  help: add `{}` to each (or leave it out with --skip NAME)",
        if .services.len() == 1 { "a service" } else { "services" },
        .wanted,
        .services.join(", "),
        .example
    )]
    NoImage {
        services: Vec<String>,
        /// `image` or `image` or `build`.
        wanted: &'static str,
        example: &'static str,
    },
    #[error("--skip {name}: no service has that name; {}", match .near { Some(n) => format!("did you mean `{n}`?"), None => format!("services: {}", .known.join(", ")) })]
    UnknownSkip {
        name: String,
        near: Option<String>,
        known: Vec<String>,
    },
    #[error(
        "these names give the same Kubernetes name ({0}); rename one of them (Kubernetes names are lower case, with `-` for `_`)"
    )]
    NameClash(String),
    #[error("cannot write YAML: {0}")]
    Yaml(String),
}

/// One service as it runs in a container.
#[derive(Debug, Clone)]
pub(crate) struct Prepared {
    pub id: ServiceId,
    /// Its name on the container network (compose service, k8s object).
    pub name: String,
    pub kind: Kind,
    pub image: Option<String>,
    /// The port it listens on in its container.
    pub port: Option<u16>,
    /// The host port compose publishes it on (fixed ports only) and the
    /// address it binds there.
    pub published: Option<(u16, IpAddr)>,
    /// Replaces the image's CMD (the ENTRYPOINT still runs).
    pub command: Vec<String>,
    /// The final environment, in the order bringup builds it.
    pub env: Vec<(String, String)>,
    pub readiness: Option<ProbeTarget>,
    pub liveness: Option<ProbeTarget>,
}

/// A probe as a container platform can run it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct ProbeTarget {
    pub check: Target,
    pub period: Duration,
    pub timeout: Duration,
    pub failure_threshold: u32,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Target {
    /// Connect to `host` (the container itself when `None`) on `port`.
    Tcp { host: Option<String>, port: u16 },
    /// GET `url`; `port`, `path` and `scheme` when it is the container's own.
    Http {
        url: String,
        own: Option<(u16, String, String)>,
    },
    /// Run with `sh -c` in the container.
    Exec { script: String },
}

/// How a target names services on its network.
pub(crate) type Naming = fn(&str) -> String;

/// The services to export, in the plan's order, with the names `naming`
/// gives them; checks `--skip` and that each has what `needs` wants.
pub(crate) fn prepare(
    plan: &Plan,
    options: &Options,
    naming: Naming,
    needs_image: impl Fn(&crate::config::ServiceSpec) -> bool,
    missing: (&'static str, &'static str),
    warnings: &mut Vec<Warning>,
) -> Result<Vec<Prepared>, ExportError> {
    for name in &options.skip {
        if plan.find(name).is_none() {
            let near =
                crate::config::error::nearest(name, plan.services.iter().map(|s| s.name.as_str()));
            return Err(ExportError::UnknownSkip {
                name: name.clone(),
                near: near.map(str::to_string),
                known: plan.services.iter().map(|s| s.name.clone()).collect(),
            });
        }
    }
    let exported: Vec<ServiceId> = plan
        .ids()
        .filter(|id| !options.skip.contains(&plan.service(*id).name))
        .collect();
    let without: Vec<String> = exported
        .iter()
        .map(|id| plan.service(*id))
        .filter(|spec| !needs_image(spec))
        .map(|spec| spec.name.clone())
        .collect();
    if !without.is_empty() {
        return Err(ExportError::NoImage {
            services: without,
            wanted: missing.0,
            example: missing.1,
        });
    }
    let mut seen: std::collections::BTreeMap<String, &str> = Default::default();
    for spec in &plan.services {
        let name = naming(&spec.name);
        if let Some(first) = seen.insert(name.clone(), &spec.name) {
            return Err(ExportError::NameClash(format!(
                "`{first}` and `{}` are both `{name}`",
                spec.name
            )));
        }
    }
    Ok(exported
        .into_iter()
        .map(|id| prepare_one(plan, id, naming, warnings))
        .collect())
}

fn prepare_one(
    plan: &Plan,
    id: ServiceId,
    naming: Naming,
    warnings: &mut Vec<Warning>,
) -> Prepared {
    let spec = plan.service(id);
    let warn = |warnings: &mut Vec<Warning>, message: String| {
        warnings.push(Warning {
            service: spec.name.clone(),
            message,
        })
    };
    let port_of = |other: ServiceId| container_port(plan, other);
    let host_of = |other: ServiceId| {
        if other == id {
            // Its own address is the one it listens on: everywhere, so
            // that its peers on the container network reach it.
            "0.0.0.0".to_string()
        } else {
            naming(&plan.service(other).name)
        }
    };
    let targets = Targets {
        own_port: container_port(plan, id),
        port_of: &port_of,
        host_of: &host_of,
    };
    let command = match &spec.command {
        CommandSpec::Shell(text) => vec![
            "sh".to_string(),
            "-c".to_string(),
            text.render_for(&targets, true),
        ],
        CommandSpec::Argv(args) => args.iter().map(|a| a.render_for(&targets, false)).collect(),
    };
    let mut env: Vec<(String, String)> = vec![("BRINGUP_SERVICE".into(), spec.name.clone())];
    if let Some(port) = targets.own_port {
        env.push(("PORT".into(), port.to_string()));
    }
    for other in plan.ids() {
        if let Some(port) = container_port(plan, other) {
            env.push((
                crate::config::port_variable(&plan.service(other).name),
                port.to_string(),
            ));
        }
    }
    let mut baked = BTreeSet::new();
    for (key, value) in &spec.env {
        baked.extend(value.env_names().map(str::to_string));
        let value = value.render_for(&targets, false);
        match env.iter_mut().find(|(k, _)| k == key) {
            Some(slot) => slot.1 = value,
            None => env.push((key.clone(), value)),
        }
    }
    if let CommandSpec::Shell(t) = &spec.command {
        baked.extend(t.env_names().map(str::to_string));
    }
    if let CommandSpec::Argv(args) = &spec.command {
        for arg in args {
            baked.extend(arg.env_names().map(str::to_string));
        }
    }
    if !baked.is_empty() {
        let names: Vec<String> = baked.iter().map(|n| format!("${{{n}}}")).collect();
        warn(
            warnings,
            format!(
                "{} filled in from this machine's environment; the export holds the value (keep secrets out of it)",
                names.join(", ")
            ),
        );
    }
    if spec.container.cwd_given {
        warn(
            warnings,
            "`cwd` is a directory of this machine; the container starts in its image's WORKDIR"
                .into(),
        );
    }
    let published = spec
        .port
        .as_ref()
        .and_then(|p| p.preferred.map(|port| (port, p.host)));
    let readiness = match (spec.kind, &spec.readiness.check) {
        (Kind::Task, _) | (_, Check::None) => None,
        _ => probe(&spec.readiness, "readiness", &targets, &mut |m| {
            warn(warnings, m)
        }),
    };
    let liveness = spec
        .liveness
        .as_ref()
        .and_then(|live| probe(live, "liveness", &targets, &mut |m| warn(warnings, m)));
    Prepared {
        id,
        name: naming(&spec.name),
        kind: spec.kind,
        image: spec.container.image.clone(),
        port: targets.own_port,
        published,
        command,
        env,
        readiness,
        liveness,
    }
}

/// The port a service listens on in its container: its fixed port, or
/// the first of `port_range` for `port = "auto"`.
pub(crate) fn container_port(plan: &Plan, id: ServiceId) -> Option<u16> {
    let port = plan.service(id).port.as_ref()?;
    Some(port.preferred.unwrap_or(*plan.project.port_range.start()))
}

/// A probe for a container platform, or a warning saying why there is none.
fn probe(
    probe: &Probe,
    what: &str,
    targets: &Targets<'_>,
    warn: &mut dyn FnMut(String),
) -> Option<ProbeTarget> {
    let own_tcp = || {
        targets
            .own_port
            .map(|port| Target::Tcp { host: None, port })
    };
    let check = match &probe.check {
        Check::Tcp { address } => {
            let address = address.render_for(targets, false);
            match split_address(&address) {
                Some((host, port)) => Some(Target::Tcp {
                    host: (!is_own(&host)).then_some(host),
                    port,
                }),
                None => {
                    warn(format!("{what}: cannot read the tcp address {address:?}"));
                    own_tcp()
                }
            }
        }
        Check::Http { url, status, json } => {
            let url = url.render_for(targets, false);
            if (status.low, status.high) != (200, 299) {
                warn(format!(
                    "{what}: the status range {status} is not carried over; a container platform passes any 2xx or 3xx answer"
                ));
            }
            if !json.is_empty() {
                warn(format!(
                    "{what}: the JSON body match is not carried over; only the status is checked"
                ));
            }
            let own = reqwest::Url::parse(&url).ok().and_then(|parsed| {
                let host = parsed.host_str()?.trim_matches(['[', ']']).to_string();
                let port = parsed.port_or_known_default()?;
                let mut path = parsed.path().to_string();
                if let Some(query) = parsed.query() {
                    path = format!("{path}?{query}");
                }
                is_own(&host).then(|| (port, path, parsed.scheme().to_ascii_uppercase()))
            });
            Some(Target::Http { url, own })
        }
        Check::Exec { command } => Some(Target::Exec {
            script: command.render_for(targets, true),
        }),
        Check::Log { .. } | Check::Notify => {
            let fallback = own_tcp();
            warn(format!(
                "{what}: a `{}` check has no equivalent in a container platform; {}",
                probe.check.kind_name(),
                if fallback.is_some() {
                    "checked with a tcp connect to its port instead"
                } else {
                    "it is not checked (give the service a `port`, or an `http` or `exec` check)"
                }
            ));
            fallback
        }
        Check::None => None,
    }?;
    Some(ProbeTarget {
        check,
        period: probe.period,
        timeout: probe.timeout,
        failure_threshold: probe.failure_threshold,
    })
}

/// "host:port" or "[v6]:port".
fn split_address(address: &str) -> Option<(String, u16)> {
    let (host, port) = address.rsplit_once(':')?;
    Some((
        host.trim_matches(['[', ']']).to_string(),
        port.parse().ok()?,
    ))
}

/// Whether a probe address means the container itself.
fn is_own(host: &str) -> bool {
    host == "localhost"
        || host
            .parse::<IpAddr>()
            .is_ok_and(|ip| ip.is_loopback() || ip.is_unspecified())
}

/// A duration as compose and `kubectl` read it: "2s", "1500ms", "1m30s".
pub(crate) fn duration_text(duration: Duration) -> String {
    let millis = duration.as_millis();
    if !millis.is_multiple_of(1000) {
        return format!("{millis}ms");
    }
    let secs = duration.as_secs();
    match (secs / 60, secs % 60) {
        (0, s) => format!("{s}s"),
        (m, 0) => format!("{m}m"),
        (m, s) => format!("{m}m{s}s"),
    }
}

/// Whole seconds, at least `min` (Kubernetes counts probes in seconds).
pub(crate) fn seconds(duration: Duration, min: u64) -> i64 {
    let secs = duration.as_secs() + u64::from(duration.subsec_nanos() > 0);
    i64::try_from(secs.max(min)).unwrap_or(i64::MAX)
}

/// Text as compose and Kubernetes pass it on: both read `$` as the start
/// of their own interpolation (`${VAR}`, `$(VAR)`) and `$$` as one `$`,
/// so every `$` is doubled and the container gets exactly this text.
pub(crate) fn escape(text: &str) -> String {
    text.replace('$', "$$")
}

/// Serializes `value` as YAML.
pub(crate) fn yaml<T: serde::Serialize>(value: &T) -> Result<String, ExportError> {
    serde_saphyr::to_string(value).map_err(|e| ExportError::Yaml(e.to_string()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_read_as_compose_and_kubernetes_write_them() {
        assert_eq!(duration_text(Duration::from_millis(1500)), "1500ms");
        assert_eq!(duration_text(Duration::from_secs(2)), "2s");
        assert_eq!(duration_text(Duration::from_secs(120)), "2m");
        assert_eq!(duration_text(Duration::from_secs(90)), "1m30s");
        assert_eq!(seconds(Duration::from_millis(200), 1), 1);
        assert_eq!(seconds(Duration::from_millis(2500), 1), 3);
        assert_eq!(split_address("[::1]:80"), Some(("::1".into(), 80)));
        assert!(is_own("0.0.0.0") && is_own("127.0.0.1") && !is_own("db"));
    }
}
