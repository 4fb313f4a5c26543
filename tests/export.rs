//! `bringup export compose|k8s`, run as users run it, its output checked
//! by the validators the platforms' own tooling uses (the compose
//! specification's JSON Schema through check-jsonschema, and
//! `kubernetes-validate --strict`), then read back to check that the
//! dependency conditions, probes and rewritten hosts are the ones the
//! config means. Also `${services.NAME.host}` in a real local run.

// A test fails by panicking; `expect` says why.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod support;

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use serde_json::Value;
use support::tools;

/// A stack with every kind of dependency and probe, an env file, a
/// build context, a `$` that must survive and hosts that must move.
const SHOP: &str = r#"
[project]
name = "Shop"

[services.db]
image = "postgres:16"
command = ["postgres", "-p", "${port}"]
port = 5432
readiness = { exec = "pg_isready -h 127.0.0.1 -p ${port}", period = "1s" }
env = { POSTGRES_PASSWORD = "dev" }

[services.migrate]
kind = "task"
image = "ghcr.io/acme/shop:1.0"
command = "shop migrate --db postgres://${services.db.host}:${services.db.port}/shop"
depends_on = { db = "required" }
max_restarts = 2
restart = "on-failure"

[services.cache]
image = "redis:7"
command = "redis-server --port ${port}"
port = "auto"
optional = true

[services.api]
build = "app"
image = "ghcr.io/acme/shop:1.0"
command = "shop serve --bind ${services.api.host}:${port} --cost '$5'"
port = 8000
env_file = ".env"
env = { DATABASE_URL = "postgres://${services.db.host}:${services.db.port}/shop", CACHE = "${services.cache.host}:${services.cache.port}" }
depends_on = { db = "required", migrate = "completed", cache = "optional" }
readiness = { http = "/health" }
liveness = { tcp = true }
stop_signal = "SIGINT"
stop_grace = "20s"

[services.worker]
image = "ghcr.io/acme/shop:1.0"
command = "shop work"
depends_on = { api = "soft" }
readiness = { log = "worker ready" }
"#;

/// The shop stack in a fresh directory, with its env file and build context.
fn shop_dir() -> tempfile::TempDir {
    let dir = tempfile::tempdir().expect("temp dir");
    std::fs::write(dir.path().join("bringup.toml"), SHOP).expect("write config");
    std::fs::write(dir.path().join(".env"), "SECRET_KEY=from-file\n").expect("write .env");
    std::fs::create_dir(dir.path().join("app")).expect("build context");
    dir
}

fn venv() -> PathBuf {
    tools::python_with(&["kubernetes-validate", "check-jsonschema"])
}

fn bin(python: &Path, name: &str) -> PathBuf {
    python.with_file_name(name)
}

/// A YAML file (one document, or a stream) read back as JSON documents.
fn documents(python: &Path, file: &Path) -> Vec<Value> {
    let output = Command::new(python)
        .args([
            "-c",
            "import json, sys, yaml; print(json.dumps(list(yaml.safe_load_all(open(sys.argv[1])))))",
        ])
        .arg(file)
        .output()
        .expect("run python");
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    serde_json::from_slice(&output.stdout).expect("json")
}

fn export(dir: &Path, args: &[&str]) -> (bool, String, String) {
    let (status, stdout, stderr) = support::run(args, dir);
    (status.success(), stdout, stderr)
}

fn validate_compose(venv: &Path, file: &Path) -> (bool, String) {
    let output = Command::new(bin(venv, "check-jsonschema"))
        .args(["--builtin-schema", "vendor.compose-spec"])
        .arg(file)
        .output()
        .expect("run check-jsonschema");
    (
        output.status.success(),
        String::from_utf8_lossy(&output.stdout).into_owned()
            + &String::from_utf8_lossy(&output.stderr),
    )
}

fn validate_k8s(venv: &Path, file: &Path) -> (bool, String) {
    let output = Command::new(bin(venv, "kubernetes-validate"))
        .args(["--strict", "--quiet"])
        .arg(file)
        .output()
        .expect("run kubernetes-validate");
    let text = String::from_utf8_lossy(&output.stdout).into_owned()
        + &String::from_utf8_lossy(&output.stderr);
    (output.status.success() && !text.contains("ERROR"), text)
}

#[test]
fn compose_export_passes_the_compose_schema_and_keeps_the_dependencies() {
    let venv = venv();
    let dir = shop_dir();
    let (ok, _, stderr) = export(dir.path(), &["export", "compose", "-o", "compose.yaml"]);
    assert!(ok, "{stderr}");
    let file = dir.path().join("compose.yaml");
    let (valid, report) = validate_compose(&venv, &file);
    assert!(
        valid,
        "{report}\n{}",
        std::fs::read_to_string(&file).unwrap()
    );

    let doc = &documents(&venv, &file)[0];
    assert_eq!(doc["name"], "shop");
    let s = &doc["services"];
    // Dependency conditions, as the issue maps them.
    let api = &s["api"];
    assert_eq!(api["depends_on"]["db"]["condition"], "service_healthy");
    assert_eq!(
        api["depends_on"]["migrate"]["condition"],
        "service_completed_successfully"
    );
    assert_eq!(api["depends_on"]["cache"]["condition"], "service_healthy");
    assert_eq!(api["depends_on"]["cache"]["required"], false);
    assert_eq!(
        s["worker"]["depends_on"]["api"]["condition"],
        "service_started"
    );
    // Readiness → healthcheck; the db's own exec check, the cache's
    // default tcp check, the api's http check, on container ports.
    assert_eq!(
        s["db"]["healthcheck"]["test"],
        serde_json::json!(["CMD-SHELL", "pg_isready -h 127.0.0.1 -p 5432"])
    );
    assert_eq!(s["db"]["healthcheck"]["interval"], "1s");
    assert!(
        s["cache"]["healthcheck"]["test"][1]
            .as_str()
            .unwrap()
            .contains("nc -z 127.0.0.1 24000")
    );
    assert!(
        api["healthcheck"]["test"][1]
            .as_str()
            .unwrap()
            .contains("http://127.0.0.1:8000/health")
    );
    assert!(s["worker"].get("healthcheck").is_none());
    // Hosts and ports rewritten for the compose network; the service's
    // own host is where it listens; `$` survives compose's interpolation.
    assert_eq!(
        api["environment"]["DATABASE_URL"],
        "postgres://db:5432/shop"
    );
    assert_eq!(api["environment"]["CACHE"], "cache:24000");
    assert_eq!(api["environment"]["BRINGUP_PORT_DB"], "5432");
    assert_eq!(
        api["command"],
        serde_json::json!(["sh", "-c", "shop serve --bind 0.0.0.0:8000 --cost '$$5'"])
    );
    assert_eq!(
        s["migrate"]["command"][2],
        "shop migrate --db postgres://db:5432/shop"
    );
    // Env files by path (their variables not copied in), build, ports,
    // restart and stopping.
    assert_eq!(api["env_file"], serde_json::json!(["./.env"]));
    assert!(api["environment"].get("SECRET_KEY").is_none());
    assert_eq!(api["build"]["context"], "./app");
    assert_eq!(api["ports"][0]["published"], "8000");
    assert_eq!(api["ports"][0]["host_ip"], "127.0.0.1");
    assert!(
        s["cache"].get("ports").is_none(),
        "an auto port is not published"
    );
    assert_eq!(s["migrate"]["restart"], "on-failure:2");
    assert_eq!(api["restart"], "on-failure:5");
    assert_eq!(api["stop_signal"], "SIGINT");
    assert_eq!(api["stop_grace_period"], "20s");
    // What compose cannot express is said.
    assert!(
        stderr.contains("services.worker: readiness: a `log` check has no equivalent"),
        "{stderr}"
    );
    assert!(stderr.contains("services.api: liveness:"), "{stderr}");

    // The validator is real: a wrong condition is refused.
    let broken = std::fs::read_to_string(&file)
        .unwrap()
        .replace("service_healthy", "service_ready");
    let bad = dir.path().join("bad.yaml");
    std::fs::write(&bad, broken).unwrap();
    assert!(!validate_compose(&venv, &bad).0);
}

#[test]
fn k8s_export_passes_kubernetes_validate_strict_with_probes_and_waits() {
    let venv = venv();
    let dir = shop_dir();
    let (ok, stdout, stderr) = export(dir.path(), &["export", "k8s"]);
    assert!(ok, "{stderr}");
    let file = dir.path().join("stack.yaml");
    std::fs::write(&file, &stdout).unwrap();
    let (valid, report) = validate_k8s(&venv, &file);
    assert!(valid, "{report}\n{stdout}");

    let docs = documents(&venv, &file);
    let find = |kind: &str, name: &str| -> &Value {
        docs.iter()
            .find(|d| d["kind"] == kind && d["metadata"]["name"] == name)
            .unwrap_or_else(|| panic!("no {kind} {name} in\n{stdout}"))
    };
    let kinds: Vec<String> = docs
        .iter()
        .map(|d| {
            format!(
                "{}/{}",
                d["kind"].as_str().unwrap(),
                d["metadata"]["name"].as_str().unwrap()
            )
        })
        .collect();
    assert_eq!(
        kinds,
        [
            "Deployment/db",
            "Service/db",
            "Job/migrate",
            "Deployment/cache",
            "Service/cache",
            "Deployment/api",
            "Service/api",
            "Deployment/worker",
            "ServiceAccount/shop-job-waiter",
            "Role/shop-job-waiter",
            "RoleBinding/shop-job-waiter",
        ]
    );
    let pod = |kind: &str, name: &str| find(kind, name)["spec"]["template"]["spec"].clone();
    let db = pod("Deployment", "db")["containers"][0].clone();
    assert_eq!(
        db["readinessProbe"]["exec"]["command"],
        serde_json::json!(["sh", "-c", "pg_isready -h 127.0.0.1 -p 5432"])
    );
    assert_eq!(db["readinessProbe"]["periodSeconds"], 1);
    let api_pod = pod("Deployment", "api");
    let api = &api_pod["containers"][0];
    assert_eq!(
        api["readinessProbe"]["httpGet"],
        serde_json::json!({"path": "/health", "port": 8000, "scheme": "HTTP"})
    );
    assert_eq!(api["livenessProbe"]["tcpSocket"]["port"], 8000);
    assert_eq!(api_pod["terminationGracePeriodSeconds"], 20);
    let env = |name: &str| {
        api["env"]
            .as_array()
            .unwrap()
            .iter()
            .find(|e| e["name"] == name)
            .map(|e| e["value"].clone())
    };
    assert_eq!(env("DATABASE_URL").unwrap(), "postgres://db:5432/shop");
    assert_eq!(env("CACHE").unwrap(), "cache:24000");
    assert_eq!(env("SECRET_KEY").unwrap(), "from-file");
    assert_eq!(
        api["args"][2], "shop serve --bind 0.0.0.0:8000 --cost '$$5'",
        "`$` is doubled so Kubernetes passes it on"
    );
    // Dependencies: the Service (ready pods only) for db; the Job for
    // migrate, through kubectl wait as the job-waiter account; cache only
    // up to the dependency timeout; nothing for a soft dependency.
    let init = api_pod["initContainers"].as_array().unwrap();
    let names: Vec<&str> = init.iter().map(|c| c["name"].as_str().unwrap()).collect();
    assert_eq!(names, ["wait-for-db", "wait-for-migrate", "wait-for-cache"]);
    assert!(
        init[0]["command"][2]
            .as_str()
            .unwrap()
            .contains("until nc -z -w 2 db 5432")
    );
    assert_eq!(init[1]["command"][3], "job/migrate");
    assert_eq!(api_pod["serviceAccountName"], "shop-job-waiter");
    assert!(init[2]["command"][2].as_str().unwrap().contains("+ 30 ))"));
    assert!(pod("Deployment", "worker").get("initContainers").is_none());
    // A task is a Job with its retries as backoffLimit.
    let job = find("Job", "migrate");
    assert_eq!(job["spec"]["backoffLimit"], 2);
    assert_eq!(
        job["spec"]["template"]["spec"]["restartPolicy"],
        "OnFailure"
    );
    assert_eq!(
        find("RoleBinding", "shop-job-waiter")["subjects"][0]["namespace"],
        "default"
    );
    assert!(stderr.contains("services.api: stop_signal:"), "{stderr}");
    assert!(
        stderr.contains("services.worker: readiness: a `log` check"),
        "{stderr}"
    );

    // The validator is strict: an unknown field is refused.
    let bad = dir.path().join("bad.yaml");
    std::fs::write(&bad, stdout.replace("periodSeconds", "periodSecs")).unwrap();
    assert!(!validate_k8s(&venv, &bad).0);
}

#[test]
fn services_without_an_image_are_all_named_and_can_be_skipped() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("bringup.toml"),
        "[services.a]\ncommand = 'x'\n[services.b]\ncommand = 'y'\nimage = 'busybox'\n[services.c]\ncommand = 'z'\nbuild = '.'\n",
    )
    .unwrap();
    let (ok, stdout, stderr) = export(dir.path(), &["export", "k8s"]);
    assert!(!ok && stdout.is_empty());
    assert!(
        stderr.contains("services without an `image`: a, c"),
        "{stderr}"
    );
    assert!(stderr.contains("--skip NAME"), "{stderr}");
    let (ok, _, stderr) = export(dir.path(), &["export", "compose"]);
    assert!(!ok);
    assert!(
        stderr.contains("a service without an `image` or `build`: a"),
        "{stderr}"
    );
    let (ok, stdout, stderr) = export(dir.path(), &["export", "compose", "--skip", "a"]);
    assert!(ok, "{stderr}");
    assert!(
        stdout.contains("  c:\n") && !stdout.contains("  a:\n"),
        "{stdout}"
    );
    let (ok, _, stderr) = export(dir.path(), &["export", "compose", "--skip", "bb"]);
    assert!(!ok);
    assert!(stderr.contains("did you mean `b`?"), "{stderr}");
    // Nothing near: the names there are.
    let (ok, _, stderr) = export(dir.path(), &["export", "compose", "--skip", "database"]);
    assert!(!ok);
    assert!(stderr.contains("services: a, b, c"), "{stderr}");
    // A bad image name is a config error, found by `check` too.
    std::fs::write(
        dir.path().join("bringup.toml"),
        "[services.a]\ncommand = 'x'\nimage = 'my image'\n",
    )
    .unwrap();
    let (status, _, stderr) = support::run(&["check"], dir.path());
    assert_eq!(status.code(), Some(2));
    assert!(
        stderr.contains("\"my image\" is not an image name"),
        "{stderr}"
    );
}

#[test]
fn a_host_is_the_loopback_address_when_bringup_runs_the_stack() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("bringup.toml"),
        r#"
[services.db]
command = "sleep 60"
host = "0.0.0.0"
port = "auto"
readiness = { none = true }

[services.worker]
command = "sleep 60"

[services.probe]
kind = "task"
command = "echo ${services.db.host} ${services.worker.host} $DB > hosts.txt"
env = { DB = "${services.db.host}:${services.db.port}" }
depends_on = ["db", "worker"]
"#,
    )
    .unwrap();
    let (status, stdout, stderr) =
        support::run(&["run", "probe", "--", "cat", "hosts.txt"], dir.path());
    assert!(status.success(), "{stdout}\n{stderr}");
    let line = stdout.lines().last().unwrap_or_default();
    let words: Vec<&str> = line.split_whitespace().collect();
    assert_eq!(words[..2], ["127.0.0.1", "127.0.0.1"], "{stdout}");
    assert!(words[2].starts_with("127.0.0.1:24"), "{stdout}");
}

#[test]
fn exporting_200_services_is_fast() {
    let mut text = String::from("[project]\nname = \"big\"\n");
    for i in 0..200_u32 {
        text.push_str(&format!(
            "[services.s{i}]\nimage = \"app:1\"\ncommand = \"serve --port ${{port}} --up http://${{services.s{up}.host}}:${{services.s{up}.port}}\"\nport = {port}\nreadiness = {{ http = \"/health\" }}\n{deps}",
            up = i.saturating_sub(1),
            port = 10000 + i,
            deps = if i > 0 {
                format!("depends_on = {{ s{} = \"required\" }}\n", i - 1)
            } else {
                String::new()
            }
        ));
    }
    let plan = support::config::plan(&text);
    let options = bringup::export::Options::default();
    for (what, run) in [
        (
            "compose",
            bringup::export::compose::export as fn(&_, &_) -> Result<_, _>,
        ),
        ("k8s", bringup::export::k8s::export),
    ] {
        let started = Instant::now();
        let exported = run(&plan, &options).expect("export");
        let took = started.elapsed();
        eprintln!(
            "export {what} of 200 services: {took:?} ({} bytes)",
            exported.text.len()
        );
        assert!(exported.text.contains("s199"));
        assert!(took < Duration::from_secs(2), "{what} took {took:?}");
    }
}

#[test]
fn dash_as_the_output_is_standard_output() {
    let dir = shop_dir();
    let (ok, stdout, stderr) = export(dir.path(), &["export", "compose", "-o", "-"]);
    assert!(ok, "{stderr}");
    assert!(stdout.contains("services:"), "{stdout}");
    assert!(!dir.path().join("-").exists(), "no file named `-`");
}

/// `-o` naming the very config being exported (by any spelling of its
/// path, or a link to it) would replace the stack's only description with
/// YAML bringup cannot read: refused, the config left as it was.
#[test]
fn exporting_over_the_config_it_reads_is_refused_and_the_config_is_kept() {
    let dir = shop_dir();
    std::fs::create_dir(dir.path().join("out")).expect("out dir");
    std::os::unix::fs::symlink("../bringup.toml", dir.path().join("out/link.yaml"))
        .expect("plant symlink");
    for target in ["bringup.toml", "./out/../bringup.toml", "out/link.yaml"] {
        for what in ["compose", "k8s"] {
            let (ok, stdout, stderr) = export(dir.path(), &["export", what, "-o", target]);
            assert!(!ok, "export {what} -o {target} succeeded: {stdout}");
            assert!(
                stderr.contains("is the config this export reads") && stderr.contains("help:"),
                "export {what} -o {target}: {stderr}"
            );
            let kept = std::fs::read_to_string(dir.path().join("bringup.toml")).expect("read");
            assert_eq!(kept, SHOP, "export {what} -o {target} changed the config");
        }
    }
    // Another file is still written, and overwritten on the next export.
    for _ in 0..2 {
        let (ok, _, stderr) = export(dir.path(), &["export", "compose", "-o", "compose.yaml"]);
        assert!(ok, "{stderr}");
    }
    let written = std::fs::read_to_string(dir.path().join("compose.yaml")).expect("read");
    assert!(written.contains("services:"), "{written}");
}
