//! The Kubernetes target: a Deployment and a Service per long-running
//! service (the Service only when it has a port), a Job per task, as one
//! YAML stream for `kubectl apply -f`.
//!
//! Mapping: readiness and liveness → `readinessProbe` / `livenessProbe`
//! (tcp → `tcpSocket`, http on the container itself → `httpGet`, anything
//! else → `exec`); `stop_grace` → `terminationGracePeriodSeconds`; a task's
//! `max_restarts` → the Job's `backoffLimit` (restart policy `OnFailure`,
//! or `Never` with no retries for `restart = "never"`).
//!
//! Dependencies become init containers, since pods of a stack start
//! together. A required or optional dependency with a port is waited for
//! by connecting to its Service until it accepts: a Service routes only to
//! ready pods, so this waits for the dependency's readiness, not merely
//! its start (an optional one only up to `dependency_timeout`, as
//! locally). A completed dependency (a task, so a Job) is waited for with
//! `kubectl wait --for=condition=complete job/NAME`, run as a service
//! account that may read Jobs (a ServiceAccount, Role and RoleBinding are
//! written once when any pod needs them). A soft dependency orders nothing
//! in Kubernetes, where every pod starts at once, and is left out.
//!
//! Kubernetes expands `$(VAR)` in commands, arguments and env values, and
//! reads `$$` as `$`; each `$` bringup writes there is doubled so the
//! container gets the text bringup would have run.

use std::collections::BTreeMap;

use serde::Serialize;

use super::{ExportError, Exported, Options, Prepared, ProbeTarget, Target, Warning, escape};
use crate::config::{DepKind, Kind, Plan, RestartPolicy};

/// The image of the init containers that wait for a Service.
pub const WAIT_IMAGE: &str = "busybox:1.37";
/// The image of the init containers that wait for a Job.
pub const KUBECTL_IMAGE: &str = "registry.k8s.io/kubectl:v1.33.0";

/// Writes `plan` as Kubernetes objects.
pub fn export(plan: &Plan, options: &Options) -> Result<Exported, ExportError> {
    let mut warnings = Vec::new();
    let prepared = super::prepare(
        plan,
        options,
        dns_name,
        |spec| spec.container.image.is_some(),
        (
            "image",
            "image = \"NAME:TAG\" (Kubernetes cannot build; push the image `build` makes)",
        ),
        &mut warnings,
    )?;
    let project = label_value(&plan.project.name);
    let waiter = format!("{}-job-waiter", dns_name(&plan.project.name));
    let mut documents = Vec::new();
    let mut needs_waiter = false;
    for p in &prepared {
        let spec = plan.service(p.id);
        let mut warn = |message: String| {
            warnings.push(Warning {
                service: spec.name.clone(),
                message,
            })
        };
        if !spec.container.env_files.is_empty() {
            warn("env_file: its variables are written into the Deployment or Job as values (move secrets to a Kubernetes Secret)".into());
        }
        let (init, waits_for_job) = init_containers(plan, p, &prepared, &mut warn);
        needs_waiter |= waits_for_job;
        let labels = labels(&p.name, &project);
        let meta = Meta {
            name: p.name.clone(),
            labels: labels.clone(),
        };
        if spec.stop_signal != nix::sys::signal::Signal::SIGTERM {
            warn(format!(
                "stop_signal: Kubernetes stops a container with SIGTERM; {} is not carried over (set STOPSIGNAL in the image)",
                spec.stop_signal.as_str()
            ));
        }
        let pod = |restart_policy: Option<&'static str>| PodSpec {
            service_account_name: waits_for_job.then(|| waiter.clone()),
            init_containers: init.clone(),
            containers: vec![container(p)],
            restart_policy,
            termination_grace_period_seconds: super::seconds(spec.stop_grace, 0),
        };
        let template = PodTemplate {
            metadata: Labels {
                labels: labels.clone(),
            },
            spec: pod(None),
        };
        match p.kind {
            Kind::Service => {
                if spec.restart == RestartPolicy::Never {
                    warn("restart: a Deployment restarts its container whenever it exits; `restart = \"never\"` is not carried over (make it a task to run it once)".into());
                }
                documents.push(super::yaml(&Object {
                    api_version: "apps/v1",
                    kind: "Deployment",
                    metadata: meta.clone(),
                    spec: DeploymentSpec {
                        replicas: 1,
                        selector: Selector {
                            match_labels: selector(&p.name),
                        },
                        template,
                    },
                })?);
                if let Some(port) = p.port {
                    documents.push(super::yaml(&Object {
                        api_version: "v1",
                        kind: "Service",
                        metadata: meta,
                        spec: ServiceSpec {
                            selector: selector(&p.name),
                            ports: vec![ServicePort {
                                name: "main",
                                port,
                                target_port: port,
                                protocol: "TCP",
                            }],
                        },
                    })?);
                }
            }
            Kind::Task => {
                let (policy, backoff_limit) = match spec.restart {
                    RestartPolicy::Never => ("Never", 0),
                    RestartPolicy::OnFailure => ("OnFailure", spec.max_restarts),
                    RestartPolicy::Always => {
                        warn("restart: a Job restarts a task only when it fails; `restart = \"always\"` is carried over as on-failure".into());
                        ("OnFailure", spec.max_restarts)
                    }
                };
                documents.push(super::yaml(&Object {
                    api_version: "batch/v1",
                    kind: "Job",
                    metadata: meta,
                    spec: JobSpec {
                        backoff_limit,
                        template: PodTemplate {
                            metadata: Labels { labels },
                            spec: pod(Some(policy)),
                        },
                    },
                })?);
            }
        }
    }
    if needs_waiter {
        let namespace = options.namespace.as_deref().unwrap_or("default");
        documents.extend(job_waiter(&waiter, &project, namespace)?);
    }
    Ok(Exported {
        text: documents
            .iter()
            .map(|doc| format!("---\n{}\n", doc.trim_end()))
            .collect(),
        warnings,
    })
}

/// A Kubernetes object name (an RFC 1035 label, as a Service needs):
/// lower case letters, digits and `-`, starting with a letter.
pub fn dns_name(name: &str) -> String {
    let cleaned: String = name
        .chars()
        .map(|c| match c.to_ascii_lowercase() {
            c @ ('a'..='z' | '0'..='9') => c,
            _ => '-',
        })
        .collect();
    let trimmed = cleaned.trim_matches('-');
    match trimmed.chars().next() {
        None => "service".into(),
        Some(c) if c.is_ascii_digit() => format!("s-{trimmed}"),
        Some(_) => trimmed.into(),
    }
}

/// A label value: at most 63 characters, alphanumeric at both ends.
fn label_value(text: &str) -> String {
    let cleaned: String = text
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.') {
                c
            } else {
                '-'
            }
        })
        .take(63)
        .collect();
    let trimmed = cleaned.trim_matches(|c: char| !c.is_ascii_alphanumeric());
    if trimmed.is_empty() {
        "bringup".into()
    } else {
        trimmed.into()
    }
}

fn selector(name: &str) -> BTreeMap<String, String> {
    BTreeMap::from([("app.kubernetes.io/name".to_string(), name.to_string())])
}

fn labels(name: &str, project: &str) -> BTreeMap<String, String> {
    let mut labels = selector(name);
    labels.insert("app.kubernetes.io/part-of".into(), project.into());
    labels.insert("app.kubernetes.io/managed-by".into(), "bringup".into());
    labels
}

/// The init containers that hold `p` back until its dependencies are
/// there, and whether one of them waits for a Job.
fn init_containers(
    plan: &Plan,
    p: &Prepared,
    all: &[Prepared],
    warn: &mut dyn FnMut(String),
) -> (Vec<Container>, bool) {
    let mut init = Vec::new();
    let mut waits_for_job = false;
    for dep in plan.graph.dependencies(p.id) {
        let dep_name = &plan.service(dep.on).name;
        let Some(on) = all.iter().find(|other| other.id == dep.on) else {
            warn(format!(
                "depends on `{dep_name}`, which is skipped: nothing waits for it"
            ));
            continue;
        };
        let name = format!("wait-for-{}", on.name);
        match (dep.kind, on.port) {
            (DepKind::Soft, _) => {}
            (DepKind::Completed, _) => {
                waits_for_job = true;
                init.push(Container {
                    name,
                    image: KUBECTL_IMAGE.into(),
                    command: Some(vec![
                        "kubectl".into(),
                        "wait".into(),
                        "--for=condition=complete".into(),
                        format!("job/{}", on.name),
                        "--timeout=-1s".into(),
                    ]),
                    ..Container::default()
                });
            }
            (DepKind::Required | DepKind::Optional, None) => warn(format!(
                "depends on `{dep_name}`, which has no port and so no Service to wait on: it is not waited for"
            )),
            (DepKind::Required, Some(port)) => init.push(wait_container(
                name,
                format!(
                    "until nc -z -w 2 {host} {port}; do echo waiting for {host}; sleep 1; done",
                    host = on.name
                ),
            )),
            (DepKind::Optional, Some(port)) => {
                let limit = super::seconds(plan.service(p.id).dependency_timeout, 1);
                init.push(wait_container(
                    name,
                    format!(
                        "end=$(( $(date +%s) + {limit} )); until nc -z -w 2 {host} {port} || [ $(date +%s) -ge $end ]; do sleep 1; done",
                        host = on.name
                    ),
                ));
            }
        }
    }
    (init, waits_for_job)
}

fn wait_container(name: String, script: String) -> Container {
    Container {
        name,
        image: WAIT_IMAGE.into(),
        command: Some(vec!["sh".into(), "-c".into(), escape(&script)]),
        ..Container::default()
    }
}

/// The service's own container.
fn container(p: &Prepared) -> Container {
    Container {
        name: p.name.clone(),
        image: p.image.clone().unwrap_or_default(),
        command: None,
        args: Some(p.command.iter().map(|a| escape(a)).collect()),
        env: p
            .env
            .iter()
            .map(|(name, value)| EnvVar {
                name: name.clone(),
                value: escape(value),
            })
            .collect(),
        ports: p
            .port
            .map(|port| ContainerPort {
                name: "main",
                container_port: port,
                protocol: "TCP",
            })
            .into_iter()
            .collect(),
        readiness_probe: p.readiness.as_ref().map(probe),
        liveness_probe: p.liveness.as_ref().map(probe),
    }
}

fn probe(target: &ProbeTarget) -> K8sProbe {
    let mut out = K8sProbe {
        period_seconds: super::seconds(target.period, 1),
        timeout_seconds: super::seconds(target.timeout, 1),
        failure_threshold: target.failure_threshold.max(1),
        ..K8sProbe::default()
    };
    let exec = |script: String| {
        Some(ExecAction {
            command: vec!["sh".into(), "-c".into(), script],
        })
    };
    match &target.check {
        Target::Tcp { host: None, port } => out.tcp_socket = Some(TcpSocket { port: *port }),
        Target::Tcp {
            host: Some(host),
            port,
        } => out.exec = exec(format!("nc -z -w 1 {host} {port}")),
        Target::Http {
            own: Some((port, path, scheme)),
            ..
        } => {
            out.http_get = Some(HttpGet {
                path: path.clone(),
                port: *port,
                scheme: scheme.clone(),
            })
        }
        Target::Http { url, own: None } => {
            let url = crate::config::quoting::quote(url, crate::config::quoting::Quoting::Bare);
            out.exec = exec(format!("wget -q -O /dev/null {url}"));
        }
        Target::Exec { script } => out.exec = exec(script.clone()),
    }
    out
}

/// The account `kubectl wait` runs as: it may read Jobs, nothing else.
fn job_waiter(name: &str, project: &str, namespace: &str) -> Result<Vec<String>, ExportError> {
    let meta = Meta {
        name: name.into(),
        labels: BTreeMap::from([
            ("app.kubernetes.io/part-of".to_string(), project.to_string()),
            ("app.kubernetes.io/managed-by".to_string(), "bringup".into()),
        ]),
    };
    Ok(vec![
        super::yaml(&Bare {
            api_version: "v1",
            kind: "ServiceAccount",
            metadata: meta.clone(),
        })?,
        super::yaml(&Role {
            api_version: "rbac.authorization.k8s.io/v1",
            kind: "Role",
            metadata: meta.clone(),
            rules: vec![Rule {
                api_groups: vec!["batch"],
                resources: vec!["jobs"],
                verbs: vec!["get", "list", "watch"],
            }],
        })?,
        super::yaml(&RoleBinding {
            api_version: "rbac.authorization.k8s.io/v1",
            kind: "RoleBinding",
            metadata: meta,
            role_ref: RoleRef {
                api_group: "rbac.authorization.k8s.io",
                kind: "Role",
                name: name.into(),
            },
            subjects: vec![Subject {
                kind: "ServiceAccount",
                name: name.into(),
                namespace: namespace.into(),
            }],
        })?,
    ])
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct Object<S> {
    api_version: &'static str,
    kind: &'static str,
    metadata: Meta,
    spec: S,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct Bare {
    api_version: &'static str,
    kind: &'static str,
    metadata: Meta,
}

#[derive(Serialize, Clone)]
struct Meta {
    name: String,
    labels: BTreeMap<String, String>,
}

#[derive(Serialize)]
struct Labels {
    labels: BTreeMap<String, String>,
}

#[derive(Serialize)]
struct DeploymentSpec {
    replicas: u32,
    selector: Selector,
    template: PodTemplate,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct Selector {
    match_labels: BTreeMap<String, String>,
}

#[derive(Serialize)]
struct PodTemplate {
    metadata: Labels,
    spec: PodSpec,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct PodSpec {
    #[serde(skip_serializing_if = "Option::is_none")]
    service_account_name: Option<String>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    init_containers: Vec<Container>,
    containers: Vec<Container>,
    #[serde(skip_serializing_if = "Option::is_none")]
    restart_policy: Option<&'static str>,
    termination_grace_period_seconds: i64,
}

#[derive(Serialize, Clone, Default)]
#[serde(rename_all = "camelCase")]
struct Container {
    name: String,
    image: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    command: Option<Vec<String>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    args: Option<Vec<String>>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    env: Vec<EnvVar>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    ports: Vec<ContainerPort>,
    #[serde(skip_serializing_if = "Option::is_none")]
    readiness_probe: Option<K8sProbe>,
    #[serde(skip_serializing_if = "Option::is_none")]
    liveness_probe: Option<K8sProbe>,
}

#[derive(Serialize, Clone)]
struct EnvVar {
    name: String,
    value: String,
}

#[derive(Serialize, Clone)]
#[serde(rename_all = "camelCase")]
struct ContainerPort {
    name: &'static str,
    container_port: u16,
    protocol: &'static str,
}

#[derive(Serialize, Clone, Default)]
#[serde(rename_all = "camelCase")]
struct K8sProbe {
    #[serde(skip_serializing_if = "Option::is_none")]
    tcp_socket: Option<TcpSocket>,
    #[serde(skip_serializing_if = "Option::is_none")]
    http_get: Option<HttpGet>,
    #[serde(skip_serializing_if = "Option::is_none")]
    exec: Option<ExecAction>,
    period_seconds: i64,
    timeout_seconds: i64,
    failure_threshold: u32,
}

#[derive(Serialize, Clone)]
struct TcpSocket {
    port: u16,
}

#[derive(Serialize, Clone)]
struct HttpGet {
    path: String,
    port: u16,
    scheme: String,
}

#[derive(Serialize, Clone)]
struct ExecAction {
    command: Vec<String>,
}

#[derive(Serialize)]
struct ServiceSpec {
    selector: BTreeMap<String, String>,
    ports: Vec<ServicePort>,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct ServicePort {
    name: &'static str,
    port: u16,
    target_port: u16,
    protocol: &'static str,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct JobSpec {
    backoff_limit: u32,
    template: PodTemplate,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct Role {
    api_version: &'static str,
    kind: &'static str,
    metadata: Meta,
    rules: Vec<Rule>,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct Rule {
    api_groups: Vec<&'static str>,
    resources: Vec<&'static str>,
    verbs: Vec<&'static str>,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct RoleBinding {
    api_version: &'static str,
    kind: &'static str,
    metadata: Meta,
    role_ref: RoleRef,
    subjects: Vec<Subject>,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct RoleRef {
    api_group: &'static str,
    kind: &'static str,
    name: String,
}

#[derive(Serialize)]
struct Subject {
    kind: &'static str,
    name: String,
    namespace: String,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_dns_labels() {
        assert_eq!(dns_name("Api_Gateway"), "api-gateway");
        assert_eq!(dns_name("-x-"), "x");
        assert_eq!(dns_name("9lives"), "s-9lives");
        assert_eq!(dns_name("__"), "service");
        assert_eq!(label_value("my app!"), "my-app");
        assert_eq!(escape("$(id) $$"), "$$(id) $$$$");
    }
}
