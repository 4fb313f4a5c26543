//! process-compose (`process-compose.yaml`, `.yml`, `.json`): `processes`.
//!
//! What each key becomes (the rest is a warning at its line):
//!
//! | process-compose | bringup |
//! |---|---|
//! | `command`; `entrypoint` + `command`; `executable` + `args` | `command` (shell string; argument array) |
//! | `working_dir`, `environment` (`K=V` list), `env_file` | `cwd`, `env`, `env_file` |
//! | `depends_on` `process_started` / `process_healthy` / `process_log_ready` | `soft` / `required` / `required` |
//! | `process_completed_successfully` | `completed` (the dependency becomes a task) |
//! | `process_completed` (any exit), or no condition (which process-compose reads as `process_completed`) | `completed`, with a warning: bringup's needs exit 0 |
//! | `readiness_probe` / `liveness_probe` `http_get`, `exec`, timings | `readiness` / `liveness` `http` (full URL), `exec`, `period`, `timeout`, `failure_threshold` |
//! | `ready_log_line` | `readiness = { log = ... }` |
//! | `availability` `restart` (`always`, `on_failure`, `no`), `backoff_seconds`, `max_restarts` | `restart`, `backoff.initial`, `max_restarts` |
//! | `shutdown` `signal` (a number), `timeout_seconds` | `stop_signal`, `stop_grace` (`command` is a warning) |
//! | `disabled: true` | `autostart = false` |
//! | `is_daemon: true` | a task (the launcher exits 0 and leaves the daemon), with a warning |
//! | `replicas: N` | services `NAME-0` … `NAME-(N-1)`; depending on NAME depends on each |
//! | `namespace` | a warning (bringup has no groups) |
//! | `extends` (file and process), `vars`, `$VAR`, `{{.VAR}}` | resolved (see `process_compose_vars`) |

use std::collections::BTreeMap;
use std::path::Path;

use crate::config::ConfigErrors;
use crate::formats::model::{Backoff, Command, Imported, Probe, Service, placeholder, seconds};
use crate::formats::mprocs::strings;
use crate::formats::process_compose_vars::{self as vars, Expand};
use crate::formats::yaml::{Entry, Node};
use crate::formats::{Names, error, load_yaml, section};

/// How deep file-level `extends` may chain.
const MAX_EXTENDS: usize = 8;

pub fn import(path: &Path, text: &str) -> Result<Imported, ConfigErrors> {
    let root = load_with_extends(path, text, 0)?;
    let mut out = Imported::new(path, "process-compose");
    let env_now = |name: &str| std::env::var(name).ok();
    let off = root.get("disable_env_expansion").and_then(Node::as_bool) == Some(true);
    let mode = |m: Expand| if off { Expand::Off } else { m };
    let global_vars = vars::vars(root.get("vars"));
    let processes = section(path, text, &root, "processes", "process")?;
    for entry in root.as_map().unwrap_or_default() {
        match entry.key.as_str() {
            "processes" | "vars" | "version" | "disable_env_expansion" | "extends" => {}
            // Extension fields hold anchors for the rest of the file.
            other if other.starts_with("x-") => {}
            "name" => out.project.name = entry.value.as_str().map(str::to_string),
            "environment" => {
                for (k, v) in env_list(&entry.value, &BTreeMap::new(), &mut Vec::new()) {
                    out.project
                        .env
                        .insert(k, vars::expand_env(&v, mode(Expand::Template), &env_now));
                }
            }
            other => {
                let message =
                    format!("process-compose setting `{other}` has no bringup equivalent");
                out.warn(other, entry.key_at.line, entry.key_at.column, message);
            }
        }
    }
    // process-compose reads ./.env into the variables it substitutes;
    // bringup's `${env.VAR}` reads the project's env_file first.
    if !off
        && path
            .parent()
            .unwrap_or(Path::new("."))
            .join(".env")
            .is_file()
    {
        out.project.env_file = Some(vec![".env".into()]);
    }

    let resolved = resolve_extends(processes);
    // First every name, so dependencies can point forward.
    let mut names = Names::default();
    let mut instances: BTreeMap<String, Vec<String>> = BTreeMap::new();
    let mut plan = Vec::new();
    for (entry, node) in processes.iter().zip(&resolved) {
        let replicas = node
            .get("replicas")
            .and_then(Node::as_u64)
            .unwrap_or(1)
            .clamp(1, 100);
        let width = replicas.to_string().len();
        for replica in 0..replicas {
            let wanted = if replicas > 1 {
                format!("{}-{replica:0width$}", entry.key)
            } else {
                entry.key.clone()
            };
            let name = names.claim_for(&mut out, &wanted, entry.key_at.line, entry.key_at.column);
            instances
                .entry(entry.key.clone())
                .or_default()
                .push(name.clone());
            plan.push((name, entry, node, replica));
        }
    }
    let mut tasks = Vec::new();
    let lines: BTreeMap<String, usize> = plan
        .iter()
        .map(|(n, e, _, _)| (n.clone(), e.key_at.line))
        .collect();
    for (name, entry, node, replica) in plan {
        let mut process_vars = global_vars.clone();
        process_vars.extend(vars::vars(node.get("vars")));
        process_vars.insert("PC_REPLICA_NUM".into(), replica.to_string());
        let mut cx = Process {
            out: &mut out,
            prefix: format!("services.{name}"),
            vars: process_vars,
            mode: mode(Expand::Template),
            now: mode(Expand::Now),
            instances: &instances,
            tasks: &mut tasks,
        };
        let service = cx.process(&name, entry, node);
        out.services.push((name, service));
    }
    let mut dropped = Vec::new();
    for (name, service) in &mut out.services {
        if tasks.contains(name) {
            service.kind = Some("task");
            if service.restart == Some("always") {
                service.restart = Some("on-failure");
            }
            // A task is done when it exits 0; it has no readiness of its own.
            if service.readiness.take().is_some() | service.liveness.take().is_some() {
                dropped.push(name.clone());
            }
        }
    }
    for name in dropped {
        let message = "its probes are not carried over: others wait for it to complete, so it is a task, and a task is done when it exits 0".to_string();
        let line = lines.get(&name).copied().unwrap_or(1);
        out.warn(format!("services.{name}"), line, 1, message);
    }
    Ok(out)
}

/// The file, with a file-level `extends: base.yaml` merged under it.
fn load_with_extends(path: &Path, text: &str, depth: usize) -> Result<Node, ConfigErrors> {
    let root = load_yaml(path, text)?;
    let Some(base) = root.get("extends").and_then(Node::as_str) else {
        return Ok(root);
    };
    let at = root.get("extends").map(|n| n.at).unwrap_or_default();
    if depth >= MAX_EXTENDS {
        return Err(error(
            path,
            text,
            at.line,
            at.column,
            format!("`extends` chains deeper than {MAX_EXTENDS} files (a loop?)"),
        ));
    }
    let base_path = path.parent().unwrap_or(Path::new(".")).join(base);
    let base_text = std::fs::read_to_string(&base_path).map_err(|e| {
        error(
            path,
            text,
            at.line,
            at.column,
            format!("cannot read {}: {e}", base_path.display()),
        )
    })?;
    let base_root = load_with_extends(&base_path, &base_text, depth + 1)?;
    Ok(vars::merge(&base_root, &root))
}

/// Each process with its process-level `extends` merged in (a loop or an
/// unknown parent leaves it as written; the key is then warned about).
fn resolve_extends(processes: &[Entry]) -> Vec<Node> {
    processes
        .iter()
        .map(|entry| {
            let mut node = entry.value.clone();
            let mut seen = vec![entry.key.as_str()];
            let mut parent = entry.value.get("extends").and_then(Node::as_str);
            while let Some(name) = parent {
                if seen.contains(&name) || seen.len() > processes.len() {
                    break;
                }
                let Some(base) = processes.iter().find(|p| p.key == name) else {
                    break;
                };
                seen.push(name);
                node = vars::merge(&base.value, &node);
                parent = base.value.get("extends").and_then(Node::as_str);
            }
            node
        })
        .collect()
}

/// `environment` as (name, value) pairs, templates rendered.
fn env_list(
    node: &Node,
    vars: &BTreeMap<String, String>,
    problems: &mut Vec<String>,
) -> Vec<(String, String)> {
    let mut pairs = Vec::new();
    for item in node.as_seq().unwrap_or_default() {
        match item.as_str().and_then(|s| s.split_once('=')) {
            Some((k, v)) => {
                let (v, p) = vars::render(v, vars);
                problems.extend(p);
                pairs.push((k.to_string(), v));
            }
            None => problems.push(format!(
                "environment entry at line {} is not `NAME=value`",
                item.at.line
            )),
        }
    }
    pairs
}

struct Process<'a> {
    out: &'a mut Imported,
    prefix: String,
    vars: BTreeMap<String, String>,
    mode: Expand,
    now: Expand,
    instances: &'a BTreeMap<String, Vec<String>>,
    tasks: &'a mut Vec<String>,
}

impl Process<'_> {
    fn warn(&mut self, key: &str, node: &Node, message: String) {
        let key = if key.is_empty() {
            self.prefix.clone()
        } else {
            format!("{}.{key}", self.prefix)
        };
        self.out.warn(key, node.at.line, node.at.column, message);
    }

    /// Env expansion then templates, as process-compose orders them.
    fn text(&mut self, key: &str, node: &Node, mode: Expand) -> Option<String> {
        let raw = node.as_str()?;
        let env_now = |name: &str| std::env::var(name).ok();
        let expanded = vars::expand_env(raw, mode, &env_now);
        let (rendered, problems) = vars::render(&expanded, &self.vars);
        for problem in problems {
            self.warn(key, node, problem);
        }
        Some(rendered)
    }

    fn process(&mut self, name: &str, entry: &Entry, node: &Node) -> Service {
        let Some(keys) = node.as_map() else {
            self.warn(
                "",
                &entry.value,
                format!(
                    "expected a mapping, found {}; kept as a service that is not started",
                    node.kind()
                ),
            );
            return placeholder(name);
        };
        let mut service = Service {
            restart: Some("never"),
            ..Service::default()
        };
        let mut entrypoint = None;
        let mut executable = None;
        let mut command = None;
        for key in keys {
            let v = &key.value;
            let k = key.key.as_str();
            match k {
                "command" => command = self.text(k, v, self.mode),
                "entrypoint" => entrypoint = strings(v),
                "executable" => executable = self.text(k, v, self.mode),
                "args" => {}
                "working_dir" => {
                    service.cwd = self
                        .text(k, v, self.now)
                        .map(|s| crate::formats::escape_templates(&s))
                }
                "environment" => {
                    let mut problems = Vec::new();
                    let env_now = |n: &str| std::env::var(n).ok();
                    for (name, value) in env_list(v, &self.vars, &mut problems) {
                        service
                            .env
                            .insert(name, vars::expand_env(&value, self.mode, &env_now));
                    }
                    for p in problems {
                        self.warn(k, v, p);
                    }
                }
                "env_file" => match v.as_str() {
                    Some(file) => service
                        .env_file
                        .push(crate::formats::escape_templates(file)),
                    None => self.warn(
                        k,
                        v,
                        "`env_file` is not a file name; not carried over".into(),
                    ),
                },
                "depends_on" => self.depends_on(&mut service, v),
                "readiness_probe" => service.readiness = self.probe(k, v),
                "liveness_probe" => service.liveness = self.probe(k, v),
                "ready_log_line" => {
                    if node.get("readiness_probe").is_some() {
                        self.warn(k, v, "`ready_log_line` beside `readiness_probe`: bringup has one readiness check; the probe is kept".into());
                    } else {
                        service.readiness = self.text(k, v, Expand::Off).map(|line| Probe {
                            log: Some(line),
                            ..Probe::default()
                        });
                    }
                }
                "availability" => self.availability(&mut service, v),
                "shutdown" => self.shutdown(&mut service, v),
                "disabled" => {
                    if v.as_bool() == Some(true) {
                        service.autostart = Some(false);
                    }
                }
                "is_daemon" => {
                    if v.as_bool() == Some(true) {
                        self.tasks.push(name.to_string());
                        self.warn(k, v, "`is_daemon`: imported as a task (its launcher's exit 0 completes it); bringup does not track or stop the daemon it leaves behind".into());
                    }
                }
                "namespace" => self.warn(
                    k,
                    v,
                    "`namespace` has no bringup equivalent (no groups); not carried over".into(),
                ),
                "replicas" | "vars" | "extends" => {}
                other => self.warn(
                    k,
                    v,
                    format!("`{other}` has no bringup equivalent; not carried over"),
                ),
            }
        }
        let command = match (executable, entrypoint, command) {
            (Some(exe), _, _) => {
                let mut argv = vec![exe];
                argv.extend(
                    node.get("args")
                        .and_then(strings)
                        .unwrap_or_default()
                        .iter()
                        .map(|a| {
                            let (text, _) = vars::render(
                                &vars::expand_env(a, self.mode, &|n| std::env::var(n).ok()),
                                &self.vars,
                            );
                            text
                        }),
                );
                Some(Command::Argv(argv))
            }
            (None, Some(mut entry), command) if !entry.is_empty() => {
                entry = entry
                    .iter()
                    .map(|a| crate::formats::escape_templates(a))
                    .collect();
                entry.extend(command);
                Some(Command::Argv(entry))
            }
            (None, _, Some(command)) => Some(Command::Shell(command)),
            _ => None,
        };
        match command {
            Some(c) => service.command = Some(c),
            None => {
                self.warn(
                    "",
                    &entry.value,
                    "no `command`; kept as a service that is not started".into(),
                );
                let keep = service.autostart;
                service = placeholder(name);
                service.autostart = keep.or(Some(false));
            }
        }
        service
    }

    fn depends_on(&mut self, service: &mut Service, node: &Node) {
        for dep in node.as_map().unwrap_or_default() {
            let Some(targets) = self.instances.get(&dep.key).cloned() else {
                self.warn(
                    "depends_on",
                    &dep.value,
                    format!(
                        "depends on `{}`, which is not a process in this file; dropped",
                        dep.key
                    ),
                );
                continue;
            };
            let condition = dep.value.get("condition").and_then(Node::as_str);
            let kind = match condition {
                Some("process_started") => "soft",
                Some("process_healthy" | "process_log_ready") => "required",
                Some("process_completed_successfully") => "completed",
                Some("process_completed") => {
                    self.warn("depends_on", &dep.value, format!("`{}`: process_completed (any exit code) imported as completed, which needs exit 0", dep.key));
                    "completed"
                }
                None => {
                    self.warn("depends_on", &dep.value, format!("`{}` has no condition, which process-compose reads as process_completed (any exit); imported as completed, which needs exit 0", dep.key));
                    "completed"
                }
                Some(other) => {
                    self.warn(
                        "depends_on",
                        &dep.value,
                        format!("unknown condition `{other}`; imported as required"),
                    );
                    "required"
                }
            };
            for target in targets {
                if kind == "completed" && !self.tasks.contains(&target) {
                    self.tasks.push(target.clone());
                }
                service.depends_on.insert(target, kind);
            }
        }
    }

    fn probe(&mut self, key: &str, node: &Node) -> Option<Probe> {
        let mut probe = Probe::default();
        for field in node.as_map().unwrap_or_default() {
            let v = &field.value;
            let k = format!("{key}.{}", field.key);
            match field.key.as_str() {
                "exec" => probe.exec = v.get("command").and_then(|c| self.text(&k, c, self.mode)),
                "http_get" => probe.http = Some(self.http(&k, v)),
                "period_seconds" => probe.period = v.as_f64().filter(|s| *s >= 1.0).map(seconds),
                "timeout_seconds" => probe.timeout = v.as_f64().filter(|s| *s >= 1.0).map(seconds),
                "failure_threshold" => probe.failure_threshold = v.as_u64().and_then(|n| u32::try_from(n).ok()).filter(|n| *n >= 1),
                "success_threshold" if v.as_u64() == Some(1) => {}
                other => self.warn(&k, v, format!("probe key `{other}` has no bringup equivalent (bringup probes from the spawn, one success is ready)")),
            }
        }
        if probe.exec.is_none() && probe.http.is_none() {
            self.warn(
                key,
                node,
                "a probe without `exec` or `http_get`; not carried over".into(),
            );
            return None;
        }
        Some(probe)
    }

    fn http(&mut self, key: &str, node: &Node) -> String {
        let field = |this: &mut Self, name: &str, default: &str| {
            node.get(name)
                .and_then(|v| this.text(key, v, this.now))
                .filter(|s| !s.is_empty())
                .unwrap_or_else(|| default.to_string())
        };
        let scheme = field(self, "scheme", "http");
        let host = field(self, "host", "127.0.0.1");
        let port = field(self, "port", "");
        let port = if port.is_empty() {
            field(self, "num_port", "80")
        } else {
            port
        };
        let path = field(self, "path", "/");
        for extra in ["headers", "status_code"] {
            if let Some(v) = node.get(extra) {
                self.warn(key, v, format!("http_get `{extra}` is not carried over"));
            }
        }
        let path = if path.starts_with('/') {
            path
        } else {
            format!("/{path}")
        };
        format!("{scheme}://{host}:{port}{path}")
    }

    fn availability(&mut self, service: &mut Service, node: &Node) {
        for field in node.as_map().unwrap_or_default() {
            let v = &field.value;
            let k = format!("availability.{}", field.key);
            match field.key.as_str() {
                "restart" => match v.as_str() {
                    Some("always") => service.restart = Some("always"),
                    Some("on_failure") => service.restart = Some("on-failure"),
                    Some("exit_on_failure") => {
                        service.restart = Some("never");
                        self.warn(&k, v, "`exit_on_failure` (stop everything when it fails) has no bringup equivalent; imported as restart = \"never\"".into());
                    }
                    _ if v.as_bool() == Some(false) => service.restart = Some("never"),
                    _ => self.warn(&k, v, "unknown restart policy; not carried over".into()),
                },
                "backoff_seconds" => {
                    service.backoff = v.as_f64().filter(|s| *s > 0.0).map(|s| Backoff {
                        initial: seconds(s),
                    });
                }
                "max_restarts" => {
                    service.max_restarts = v
                        .as_u64()
                        .and_then(|n| u32::try_from(n).ok())
                        .filter(|n| *n > 0);
                }
                other => self.warn(
                    &k,
                    v,
                    format!("availability `{other}` has no bringup equivalent"),
                ),
            }
        }
    }

    fn shutdown(&mut self, service: &mut Service, node: &Node) {
        for field in node.as_map().unwrap_or_default() {
            let v = &field.value;
            let k = format!("shutdown.{}", field.key);
            match field.key.as_str() {
                "signal" => {
                    let signal = v.as_u64().and_then(|n| i32::try_from(n).ok()).and_then(|n| nix::sys::signal::Signal::try_from(n).ok());
                    match signal {
                        Some(s) => service.stop_signal = Some(s.as_str().to_string()),
                        None => self.warn(&k, v, "not a signal number; not carried over".into()),
                    }
                }
                "timeout_seconds" => service.stop_grace = v.as_f64().filter(|s| *s > 0.0).map(seconds),
                "command" => self.warn(&k, v, "a shutdown command cannot be expressed in bringup (it signals the process group); not carried over".into()),
                other => self.warn(&k, v, format!("shutdown `{other}` has no bringup equivalent")),
            }
        }
    }
}
