//! The docker compose target: one compose service per bringup service,
//! following the current compose specification.
//!
//! Mapping: `depends_on` with conditions (required → `service_healthy`
//! when the dependency has a healthcheck, else `service_started`;
//! completed → `service_completed_successfully`; soft → `service_started`;
//! optional → as required, with `required: false`); readiness →
//! `healthcheck` (`interval` = period, `timeout`, `retries` = failure
//! threshold, `start_period` = `ready_timeout`); `restart`; `stop_signal`,
//! `stop_grace_period`; fixed ports published on the address the service
//! binds locally; env files by path, `env` values inline.
//!
//! Compose reads `$VAR` and `${VAR}` in every value as its own
//! interpolation, so each `$` bringup writes is doubled: the container
//! gets exactly the text bringup would have run.

use serde::Serialize;

use super::{ExportError, Exported, Options, Prepared, ProbeTarget, Target, Warning, escape};
use crate::config::{DepKind, Kind, Plan, RestartPolicy};

/// Writes `plan` as a compose file.
pub fn export(plan: &Plan, options: &Options) -> Result<Exported, ExportError> {
    let mut warnings = Vec::new();
    let prepared = super::prepare(
        plan,
        options,
        str::to_string,
        |spec| spec.container.image.is_some() || spec.container.build.is_some(),
        (
            "image` or `build",
            "image = \"NAME:TAG\" (or build = \"DIR\")",
        ),
        &mut warnings,
    )?;
    let services = prepared
        .iter()
        .map(|p| {
            (
                p.name.clone(),
                service(plan, options, p, &prepared, &mut warnings),
            )
        })
        .collect();
    let file = File {
        name: project_name(&plan.project.name),
        services: Ordered(services),
    };
    Ok(Exported {
        text: format!("{}\n", super::yaml(&file)?.trim_end()),
        warnings,
    })
}

#[derive(Serialize)]
struct File {
    name: String,
    services: Ordered<Service>,
}

#[derive(Serialize)]
struct Service {
    #[serde(skip_serializing_if = "Option::is_none")]
    image: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    build: Option<Build>,
    command: Vec<String>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    env_file: Vec<String>,
    environment: Ordered<String>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    ports: Vec<Port>,
    #[serde(skip_serializing_if = "Ordered::is_empty")]
    depends_on: Ordered<Dependency>,
    #[serde(skip_serializing_if = "Option::is_none")]
    healthcheck: Option<Healthcheck>,
    restart: String,
    stop_signal: String,
    stop_grace_period: String,
}

#[derive(Serialize)]
struct Build {
    context: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    dockerfile: Option<String>,
}

#[derive(Serialize)]
struct Port {
    target: u16,
    published: String,
    host_ip: String,
    protocol: &'static str,
}

#[derive(Serialize)]
struct Dependency {
    condition: &'static str,
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    restart: bool,
    #[serde(skip_serializing_if = "Clone::clone")]
    required: bool,
}

#[derive(Serialize)]
struct Healthcheck {
    test: Vec<String>,
    interval: String,
    timeout: String,
    retries: u32,
    start_period: String,
}

/// A map that keeps the order it was built in (services in the file's
/// order, environment in bringup's).
struct Ordered<T>(Vec<(String, T)>);

impl<T> Ordered<T> {
    fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

impl<T: Serialize> Serialize for Ordered<T> {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        use serde::ser::SerializeMap;
        let mut map = serializer.serialize_map(Some(self.0.len()))?;
        for (key, value) in &self.0 {
            map.serialize_entry(key, value)?;
        }
        map.end()
    }
}

fn service(
    plan: &Plan,
    options: &Options,
    p: &Prepared,
    all: &[Prepared],
    warnings: &mut Vec<Warning>,
) -> Service {
    let spec = plan.service(p.id);
    let mut warn = |message: String| {
        warnings.push(Warning {
            service: spec.name.clone(),
            message,
        })
    };
    // Variables only env files set are left to `env_file`: compose lets
    // `environment` win over `env_file`, so anything a table sets (even
    // when a later file overrides it) is written inline with its final value.
    let from_files =
        |key: &str| !spec.container.env_set.contains(key) && spec.env.iter().any(|(k, _)| k == key);
    let environment = p
        .env
        .iter()
        .filter(|(key, _)| !from_files(key))
        .map(|(key, value)| (key.clone(), escape(value)))
        .collect();
    let env_file = spec
        .container
        .env_files
        .iter()
        .map(|file| relative(file, options.output_dir.as_deref()))
        .collect();
    let ports = p
        .published
        .iter()
        .map(|(port, host)| Port {
            target: p.port.unwrap_or(*port),
            published: port.to_string(),
            host_ip: host.to_string(),
            protocol: "tcp",
        })
        .collect();
    let mut depends_on = Vec::new();
    for dep in plan.graph.dependencies(p.id) {
        let Some(on) = all.iter().find(|other| other.id == dep.on) else {
            warn(format!(
                "depends on `{}`, which is skipped: compose does not wait for it",
                plan.service(dep.on).name
            ));
            continue;
        };
        let ready = if on.readiness.is_some() {
            "service_healthy"
        } else {
            "service_started"
        };
        let (condition, required) = match dep.kind {
            DepKind::Required => (ready, true),
            DepKind::Optional => (ready, false),
            DepKind::Soft => ("service_started", true),
            DepKind::Completed => ("service_completed_successfully", true),
        };
        depends_on.push((
            on.name.clone(),
            Dependency {
                condition,
                restart: false,
                required,
            },
        ));
    }
    if p.liveness.is_some() {
        warn("liveness: compose has no liveness check (docker does not restart an unhealthy container); it is left out".into());
    }
    let healthcheck = p.readiness.as_ref().map(|probe| Healthcheck {
        test: test(probe),
        interval: super::duration_text(probe.period),
        timeout: super::duration_text(probe.timeout),
        retries: probe.failure_threshold,
        start_period: super::duration_text(spec.ready_timeout),
    });
    let restart = match (spec.restart, spec.max_restarts) {
        (RestartPolicy::Never, _) | (RestartPolicy::OnFailure, 0) => "no".to_string(),
        (RestartPolicy::OnFailure, n) => format!("on-failure:{n}"),
        (RestartPolicy::Always, _) => {
            if spec.kind == Kind::Service {
                warn(format!(
                    "restart: compose restarts it without limit; `max_restarts = {}` is not carried over",
                    spec.max_restarts
                ));
            }
            "always".to_string()
        }
    };
    let build = spec.container.build.as_ref().map(|b| Build {
        context: relative(&b.context, options.output_dir.as_deref()),
        dockerfile: b.dockerfile.clone(),
    });
    Service {
        image: p.image.clone(),
        build,
        command: p.command.iter().map(|arg| escape(arg)).collect(),
        env_file,
        environment: Ordered(environment),
        ports,
        depends_on: Ordered(depends_on),
        healthcheck,
        restart,
        stop_signal: spec.stop_signal.as_str().to_string(),
        stop_grace_period: super::duration_text(spec.stop_grace),
    }
}

/// A healthcheck `test` for `probe`. It runs inside the container, so it
/// uses what images usually have: `nc` or bash's `/dev/tcp` for tcp,
/// `curl` or `wget` for http.
fn test(probe: &ProbeTarget) -> Vec<String> {
    let script = match &probe.check {
        Target::Tcp { host, port } => {
            let host = host.as_deref().unwrap_or("127.0.0.1");
            format!("nc -z {host} {port} || bash -c ': </dev/tcp/{host}/{port}'")
        }
        Target::Http { url, .. } => {
            let url = crate::config::quoting::quote(url, crate::config::quoting::Quoting::Bare);
            format!("curl -fsS -o /dev/null {url} || wget -q -O /dev/null {url}")
        }
        Target::Exec { script } => script.clone(),
    };
    vec!["CMD-SHELL".to_string(), escape(&script)]
}

/// A compose project name: lower case letters, digits, `-` and `_`,
/// starting with a letter or digit.
fn project_name(name: &str) -> String {
    let cleaned: String = name
        .chars()
        .map(|c| match c.to_ascii_lowercase() {
            c @ ('a'..='z' | '0'..='9' | '-' | '_') => c,
            _ => '-',
        })
        .collect();
    let trimmed = cleaned.trim_start_matches(['-', '_']);
    if trimmed.is_empty() {
        "bringup".into()
    } else {
        trimmed.into()
    }
}

/// A path as the compose file names it: relative to the directory the
/// file is written to when below it, else absolute.
fn relative(path: &std::path::Path, dir: Option<&std::path::Path>) -> String {
    let dir = dir
        .map(std::path::Path::to_path_buf)
        .or_else(|| std::env::current_dir().ok());
    let path = path.canonicalize().unwrap_or_else(|_| path.to_path_buf());
    let dir = dir.map(|d| d.canonicalize().unwrap_or(d));
    match dir.as_deref().and_then(|d| path.strip_prefix(d).ok()) {
        Some(rel) if rel.as_os_str().is_empty() => ".".into(),
        Some(rel) => format!("./{}", rel.display()),
        None => path.display().to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_and_text_are_what_compose_expects() {
        assert_eq!(project_name("My App"), "my-app");
        assert_eq!(project_name("__"), "bringup");
        assert_eq!(escape("echo $HOME ${X}"), "echo $$HOME $${X}");
        let dir = std::env::temp_dir();
        assert_eq!(relative(&dir.join("a/.env"), Some(&dir)), "./a/.env");
        assert_eq!(relative(&dir, Some(&dir)), ".");
    }
}
