//! docker compose (`compose.yaml`, `docker-compose.yml`, …): `services`.
//!
//! A compose service is a container, so each becomes a bringup service that
//! runs it through the user's compose: `docker compose -f FILE up --no-deps
//! --no-log-prefix NAME` (`--no-deps`: bringup starts the dependencies
//! itself, in its order), stopped with SIGINT, which `compose up` answers
//! as it answers Ctrl-C, by stopping the container (within
//! `stop_grace_period`, plus 5 s for compose itself). The container's own
//! settings (image, build, environment, volumes, networks, `x-` fields…)
//! stay compose's business and are not warned about; what bringup takes
//! over is the orchestration:
//!
//! - `depends_on`: `service_started` (and the list form) → `soft`,
//!   `service_healthy` → `required`, `service_completed_successfully` →
//!   `completed` (the dependency becomes a task), `required: false` →
//!   `optional`.
//! - readiness: a published TCP port → `tcp` on it (with the healthcheck's
//!   `interval`, `timeout` and `retries` when there is one); a healthcheck
//!   without a published port → `exec` of the same test through `docker
//!   compose exec -T`. `start_period` and `disable` are warned about.
//! - `restart` → `restart`; `profiles` → `autostart = false` (compose
//!   leaves such services out unless asked; `bringup start NAME` asks).
//! - `${VAR}` in ports is read from the environment now, as compose would.
//!
//! The FILE in the commands is the compose file's name: bringup.toml is
//! meant to sit beside it (it does for `up -c compose.yaml`).

use std::path::Path;

use crate::config::ConfigErrors;
use crate::formats::model::{Command, Imported, Probe, Service, Tcp, placeholder, seconds};
use crate::formats::mprocs::strings;
use crate::formats::process_compose_vars::{Expand, expand_env};
use crate::formats::yaml::{Entry, Node};
use crate::formats::{Names, load_yaml, section};

pub fn import(path: &Path, text: &str) -> Result<Imported, ConfigErrors> {
    let root = load_yaml(path, text)?;
    let mut out = Imported::new(path, "docker compose");
    let services = section(path, text, &root, "services", "service")?;
    for entry in root.as_map().unwrap_or_default() {
        match entry.key.as_str() {
            "name" => out.project.name = entry.value.as_str().map(str::to_string),
            "include" => out.warn(
                "include",
                entry.key_at.line,
                entry.key_at.column,
                "`include`d files are not imported; import each one too".into(),
            ),
            _ => {}
        }
    }
    let file = path.file_name().map_or_else(
        || path.display().to_string(),
        |n| n.to_string_lossy().into_owned(),
    );
    let mut names = Names::default();
    let mut renamed = Vec::new();
    for entry in services {
        let name = names.claim_for(&mut out, &entry.key, entry.key_at.line, entry.key_at.column);
        renamed.push((entry.key.clone(), name));
    }
    let mut tasks = Vec::new();
    for (entry, (_, name)) in services.iter().zip(&renamed) {
        let service = service(&mut out, &file, name, entry, &renamed, &mut tasks);
        out.services.push((name.clone(), service));
    }
    for (name, service) in &mut out.services {
        if tasks.contains(name) {
            service.kind = Some("task");
            service.readiness = None;
            if service.restart == Some("always") {
                service.restart = Some("on-failure");
            }
        }
    }
    Ok(out)
}

fn service(
    out: &mut Imported,
    file: &str,
    name: &str,
    entry: &Entry,
    renamed: &[(String, String)],
    tasks: &mut Vec<String>,
) -> Service {
    let prefix = format!("services.{name}");
    let node = &entry.value;
    if node.as_map().is_none() {
        out.warn(
            prefix,
            node.at.line,
            node.at.column,
            format!(
                "expected a mapping, found {}; kept as a service that is not started",
                node.kind()
            ),
        );
        return placeholder(name);
    }
    let compose = |args: &[&str]| -> Vec<String> {
        ["docker", "compose", "-f", file]
            .iter()
            .chain(args)
            .map(|s| s.to_string())
            .collect()
    };
    let original = entry.key.as_str();
    let mut service = Service {
        command: Some(Command::argv(&compose(&[
            "up",
            "--no-deps",
            "--no-log-prefix",
            original,
        ]))),
        stop_signal: Some("SIGINT".into()),
        restart: Some("never"),
        ..Service::default()
    };
    let mut warn = |key: &str, at: &Node, message: String| {
        out.warn(format!("{prefix}.{key}"), at.at.line, at.at.column, message);
    };
    if let Some(deps) = node.get("depends_on") {
        depends_on(&mut service, deps, renamed, tasks, &mut warn);
    }
    if let Some(restart) = node.get("restart") {
        service.restart = match restart.as_str() {
            Some("always" | "unless-stopped") => Some("always"),
            Some(p) if p.starts_with("on-failure") => Some("on-failure"),
            _ => Some("never"),
        };
    }
    if let Some(grace) = node.get("stop_grace_period").and_then(Node::as_str) {
        match humantime::parse_duration(grace) {
            Ok(d) => service.stop_grace = Some(seconds(d.as_secs_f64() + 5.0)),
            Err(_) => warn(
                "stop_grace_period",
                node,
                format!("`{grace}` is not a duration; not carried over"),
            ),
        }
    }
    if node
        .get("profiles")
        .is_some_and(|p| p.as_seq().is_some_and(|s| !s.is_empty()))
    {
        service.autostart = Some(false);
    }
    if let Some(ext) = node.get("extends") {
        warn("extends", ext, "the extended service's ports, healthcheck and depends_on are not read (compose still applies them when it runs the container)".into());
    }
    if let Some(deploy) = node.get("deploy").and_then(|d| d.get("replicas")) {
        warn(
            "deploy.replicas",
            deploy,
            "replicas run inside one `compose up`; bringup sees them as one service".into(),
        );
    }
    let published = node
        .get("ports")
        .and_then(Node::as_seq)
        .and_then(|ports| ports.iter().find_map(published_port));
    let health = node.get("healthcheck");
    let mut probe = match (published, health) {
        (Some(port), _) => Some(Probe {
            tcp: Some(Tcp::Address(format!("127.0.0.1:{port}"))),
            ..Probe::default()
        }),
        (None, Some(h)) => health_test(h).map(|test| Probe {
            exec: Some(
                Command::argv(
                    &compose(&["exec", "-T", original])
                        .into_iter()
                        .chain(test)
                        .collect::<Vec<_>>(),
                )
                .into_shell(),
            ),
            ..Probe::default()
        }),
        (None, None) => None,
    };
    if let (Some(h), Some(p)) = (health, probe.as_mut()) {
        health_timings(h, p, &mut warn);
    }
    if let Some(h) = health
        && h.get("disable").and_then(Node::as_bool) == Some(true)
    {
        probe = published.map(|port| Probe {
            tcp: Some(Tcp::Address(format!("127.0.0.1:{port}"))),
            ..Probe::default()
        });
    }
    service.readiness = probe;
    service
}

fn depends_on(
    service: &mut Service,
    deps: &Node,
    renamed: &[(String, String)],
    tasks: &mut Vec<String>,
    warn: &mut dyn FnMut(&str, &Node, String),
) {
    let lookup = |original: &str| {
        renamed
            .iter()
            .find(|(o, _)| o == original)
            .map(|(_, n)| n.clone())
    };
    let mut add = |dep: &str,
                   at: &Node,
                   kind: &'static str,
                   warn: &mut dyn FnMut(&str, &Node, String)| match lookup(dep) {
        Some(target) => {
            if kind == "completed" && !tasks.contains(&target) {
                tasks.push(target.clone());
            }
            service.depends_on.insert(target, kind);
        }
        None => warn(
            "depends_on",
            at,
            format!("`{dep}` is not a service in this file; dropped"),
        ),
    };
    if let Some(list) = deps.as_seq() {
        for item in list {
            if let Some(dep) = item.as_str() {
                add(dep, item, "soft", warn);
            }
        }
        return;
    }
    for dep in deps.as_map().unwrap_or_default() {
        let condition = dep
            .value
            .get("condition")
            .and_then(Node::as_str)
            .unwrap_or("service_started");
        let optional = dep.value.get("required").and_then(Node::as_bool) == Some(false);
        let kind = match condition {
            _ if optional => "optional",
            "service_healthy" => "required",
            "service_completed_successfully" => "completed",
            "service_started" => "soft",
            other => {
                warn(
                    "depends_on",
                    &dep.value,
                    format!("unknown condition `{other}`; imported as soft"),
                );
                "soft"
            }
        };
        if let Some(r) = dep.value.get("restart") {
            warn(
                "depends_on",
                r,
                format!(
                    "`restart` of the dependency on `{}` (restart this one when it restarts) is not carried over",
                    dep.key
                ),
            );
        }
        add(&dep.key, &dep.value, kind, warn);
    }
}

/// The host port of a `ports` entry published on TCP, if it has one.
fn published_port(entry: &Node) -> Option<u16> {
    if let Some(text) = entry.as_str() {
        let text = expand_env(text, Expand::Now, &|n| std::env::var(n).ok());
        let (spec, protocol) = text.split_once('/').unwrap_or((&text, "tcp"));
        if protocol != "tcp" {
            return None;
        }
        let parts: Vec<&str> = spec.rsplitn(3, ':').collect();
        // "80" publishes on a random port; "8080:80" and "ip:8080:80" name it.
        let host = parts.get(1)?;
        return host.parse().ok();
    }
    if entry
        .get("protocol")
        .and_then(Node::as_str)
        .is_some_and(|p| p != "tcp")
    {
        return None;
    }
    entry.get("published")?.as_str()?.parse().ok()
}

/// A healthcheck's test as an argument list.
fn health_test(health: &Node) -> Option<Vec<String>> {
    if let Some(text) = health.get("test")?.as_str() {
        return Some(vec!["sh".into(), "-c".into(), text.to_string()]);
    }
    let test = strings(health.get("test")?)?;
    match test.first().map(String::as_str) {
        Some("CMD") => Some(test[1..].to_vec()),
        Some("CMD-SHELL") => Some(vec!["sh".into(), "-c".into(), test[1..].join(" ")]),
        _ => None,
    }
}

fn health_timings(health: &Node, probe: &mut Probe, warn: &mut dyn FnMut(&str, &Node, String)) {
    let duration = |key: &str| {
        health
            .get(key)
            .and_then(Node::as_str)
            .and_then(|d| humantime::parse_duration(d).ok())
    };
    probe.period = duration("interval").map(|d| seconds(d.as_secs_f64()));
    probe.timeout = duration("timeout").map(|d| seconds(d.as_secs_f64()));
    probe.failure_threshold = health
        .get("retries")
        .and_then(Node::as_u64)
        .and_then(|n| u32::try_from(n).ok())
        .filter(|n| *n > 0);
    for key in ["start_period", "start_interval"] {
        if let Some(v) = health.get(key) {
            warn(
                &format!("healthcheck.{key}"),
                v,
                format!(
                    "healthcheck `{key}` is not carried over (bringup checks from the start, until ready_timeout)"
                ),
            );
        }
    }
}
