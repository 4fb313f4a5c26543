//! `bringup import` and `bringup up -c FILE` on other tools' files: the
//! real binary on the inputs in tests/import/, asserting the services,
//! kinds, probes, commands and warnings that come out, that every written
//! bringup.toml passes `bringup check`, and that a Procfile and a
//! process-compose file bring real processes up (and an `autostart =
//! false` service starts only when asked).

// A test fails by panicking; `expect` says why.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod support;

use std::path::{Path, PathBuf};
use std::time::Instant;

use serde_json::Value;
use support::stack::Stack;
use support::{BIN, run};

fn input(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/import")
        .join(name)
}

/// Copies `name` (and the files it refers to) into a temp dir, imports it
/// there and checks the result: (dir, parsed TOML, stderr).
fn import(name: &str, extra: &[&str]) -> (tempfile::TempDir, toml::Table, String) {
    let dir = tempfile::tempdir().unwrap();
    for file in [name, ".env.api"] {
        if input(file).exists() {
            std::fs::copy(input(file), dir.path().join(file)).unwrap();
        }
    }
    std::fs::create_dir(dir.path().join("logs")).unwrap();
    let mut args = vec!["import", name, "-o", "bringup.toml"];
    args.extend_from_slice(extra);
    let (code, out, err) = run(&args, dir.path());
    assert!(code.success(), "import {name}: {out}{err}");
    assert!(err.contains("wrote bringup.toml"), "{err}");
    let text = std::fs::read_to_string(dir.path().join("bringup.toml")).unwrap();
    let (code, out, check_err) = run(&["check", "-c", "bringup.toml"], dir.path());
    assert!(
        code.success(),
        "check of the import of {name}:\n{text}\n{out}{check_err}"
    );
    (dir, toml::from_str(&text).unwrap(), err)
}

fn services(config: &toml::Table) -> &toml::Table {
    config["services"].as_table().unwrap()
}

fn get<'a>(config: &'a toml::Table, path: &str) -> Option<&'a toml::Value> {
    let mut parts = path.split('.');
    let mut value = config.get(parts.next()?)?;
    for part in parts {
        value = value.get(part)?;
    }
    Some(value)
}

fn s<'a>(config: &'a toml::Table, path: &str) -> &'a str {
    get(config, path)
        .and_then(toml::Value::as_str)
        .unwrap_or_else(|| panic!("no string at {path}"))
}

#[test]
fn procfile_entries_ports_env_prefixes_release_and_odd_whitespace() {
    let (dir, config, err) = import("Procfile", &[]);
    let names: Vec<&String> = services(&config).keys().collect();
    assert_eq!(
        names,
        ["web", "worker", "api", "release", "clock", "web-2", "bad"]
    );
    // $PORT: a port from bringup, checked by tcp.
    assert_eq!(s(&config, "services.web.port"), "auto");
    assert_eq!(
        get(&config, "services.web.readiness.tcp"),
        Some(&toml::Value::Boolean(true))
    );
    assert_eq!(s(&config, "services.api.port"), "auto");
    // `${PORT:-1}` stays the shell's, escaped from bringup's templates.
    assert_eq!(s(&config, "services.api.command"), "sleep $${PORT:-1}");
    // KEY=value prefixes (after a tab) become env.
    assert_eq!(s(&config, "services.worker.command"), "sleep 1000");
    assert_eq!(s(&config, "services.worker.env.RUST_LOG"), "debug");
    assert_eq!(s(&config, "services.worker.env.QUEUE"), "a");
    // release: a task the others wait for.
    assert_eq!(s(&config, "services.release.kind"), "task");
    assert_eq!(s(&config, "services.web.depends_on.release"), "completed");
    assert!(get(&config, "services.release.depends_on").is_none());
    // Leading spaces and a CR line end are trimmed.
    assert_eq!(s(&config, "services.clock.command"), "echo tick");
    // Nothing silently dropped: each is a located warning and a comment.
    for warning in [
        "Procfile:8:1: `services.web-2`: `web` is taken",
        "Procfile:9:1: not a `name: command` entry",
        "Procfile:10:1: not a `name: command` entry",
        "Procfile:11:12: `services.bad`: a non-breaking space",
    ] {
        assert!(err.contains(warning), "missing {warning:?} in {err}");
    }
    let text = std::fs::read_to_string(dir.path().join("bringup.toml")).unwrap();
    assert!(text.contains("# NOT CARRIED OVER: line 9: not a `name: command` entry"));
}

#[test]
fn mprocs_strings_maps_env_unset_autostart_and_unknown_keys() {
    let (_dir, config, err) = import("mprocs.yaml", &[]);
    assert_eq!(
        s(&config, "services.server.command"),
        "python3 -m http.server"
    );
    assert_eq!(s(&config, "services.server.restart"), "never");
    let tail = &services(&config)["tail"];
    // env null unsets; cmd (an array) becomes a shell command around it.
    assert_eq!(
        tail["command"].as_str(),
        Some("unset DEBUG; tail -f /dev/null")
    );
    assert_eq!(tail["cwd"].as_str(), Some("./logs"));
    assert_eq!(tail["env"]["PORT"].as_str(), Some("8080"));
    assert_eq!(tail["autostart"].as_bool(), Some(false));
    assert_eq!(tail["restart"].as_str(), Some("always"));
    assert_eq!(tail["stop_signal"].as_str(), Some("SIGINT"));
    assert_eq!(s(&config, "services.web.command"), "echo one\necho two\n");
    // An entry without a command is kept, not started.
    assert_eq!(
        get(&config, "services.broken.autostart").and_then(toml::Value::as_bool),
        Some(false)
    );
    assert!(
        err.contains("mprocs.yaml:1:1: `hide_keymap_window`"),
        "{err}"
    );
    assert!(
        err.contains("mprocs.yaml:14:15: `services.tail.add_path`"),
        "{err}"
    );
    assert!(err.contains("mprocs.yaml:19:3: `services.broken`"), "{err}");
}

#[test]
fn mprocs_json_and_every_yaml_scalar_style() {
    let (_dir, config, _) = import("mprocs.json", &[]);
    assert_eq!(s(&config, "services.a.command"), "echo a");
    // `null` unsets Y: the shell does that, around the argument array.
    assert_eq!(s(&config, "services.b.command"), "unset Y; echo b");
    assert_eq!(s(&config, "services.b.env.X"), "1");
    let (_dir, config, _) = import("mprocs-styles.yml", &[]);
    let expect = [
        ("literal", "echo one\necho two\n"),
        ("literal_strip", "echo one\necho two"),
        ("literal_keep", "echo kept\n\n"),
        ("folded", "echo folded line\n"),
        ("single", "echo 'it''s' $HOME"),
        ("double", "echo \"tab\there\""),
        ("plain_multi", "echo plain continued"),
        ("quoted_no", "no"),
    ];
    for (name, command) in expect {
        assert_eq!(
            s(&config, &format!("services.{name}.command")),
            command,
            "{name}"
        );
    }
    // YAML 1.1: an unquoted `no` is false, so autostart is off.
    assert_eq!(
        get(&config, "services.quoted_no.autostart").and_then(toml::Value::as_bool),
        Some(false)
    );
}

#[test]
fn process_compose_conditions_probes_availability_replicas_vars_extends() {
    let (_dir, config, err) = import("process-compose.yaml", &[]);
    let svc = services(&config);
    assert_eq!(s(&config, "project.name"), "shop");
    assert_eq!(s(&config, "project.env.GLOBAL"), "1");
    // Merge keys: availability and shutdown from the anchor.
    assert_eq!(s(&config, "services.db.restart"), "on-failure");
    assert_eq!(svc["db"]["max_restarts"].as_integer(), Some(5));
    assert_eq!(s(&config, "services.db.backoff.initial"), "2s");
    assert_eq!(s(&config, "services.db.stop_signal"), "SIGINT");
    assert_eq!(s(&config, "services.db.stop_grace"), "7s");
    assert_eq!(s(&config, "services.db.cwd"), "./logs");
    assert_eq!(s(&config, "services.db.readiness.exec"), "test -d .");
    assert_eq!(s(&config, "services.db.readiness.period"), "3s");
    assert_eq!(
        svc["db"]["readiness"]["failure_threshold"].as_integer(),
        Some(4)
    );
    // Conditions.
    assert_eq!(s(&config, "services.migrate.depends_on.db"), "required");
    assert_eq!(s(&config, "services.migrate.kind"), "task");
    assert_eq!(s(&config, "services.api.depends_on.migrate"), "completed");
    assert_eq!(s(&config, "services.api.depends_on.db"), "soft");
    assert_eq!(s(&config, "services.api.depends_on.logger"), "required");
    assert_eq!(s(&config, "services.logger.readiness.log"), "ready");
    assert_eq!(s(&config, "services.logger.restart"), "never");
    // vars and templates; $VAR as bringup's ${env.VAR}; $$ literal.
    assert_eq!(
        s(&config, "services.api.command"),
        "echo \"hello on 8080\"\nexec sleep 1000\n"
    );
    assert_eq!(s(&config, "services.api.env.API_PORT"), "8080");
    assert_eq!(s(&config, "services.api.env.HOME_DIR"), "${env.HOME:-}");
    assert_eq!(s(&config, "services.api.env.LITERAL"), "$${NOT_EXPANDED}");
    assert_eq!(
        s(&config, "services.api.readiness.http"),
        "http://127.0.0.1:8080/health"
    );
    assert_eq!(
        s(&config, "services.api.liveness.http"),
        "http://127.0.0.1:8081/live"
    );
    // replicas + process extends: three workers with api's settings and
    // their own vars; depending on `worker` depends on each.
    for n in 0..3 {
        let name = format!("worker-{n}");
        assert_eq!(
            s(&config, &format!("services.{name}.env.API_PORT")),
            "override"
        );
        assert_eq!(
            s(&config, &format!("services.{name}.depends_on.migrate")),
            "completed"
        );
        assert_eq!(
            s(&config, &format!("services.after.depends_on.{name}")),
            "completed"
        );
    }
    // disabled → autostart = false; is_daemon → a task.
    assert_eq!(svc["seed"]["autostart"].as_bool(), Some(false));
    assert_eq!(s(&config, "services.daemon.kind"), "task");
    for warning in [
        "process-compose.yaml:3:1: `log_level`",
        "process-compose.yaml:25:30: `services.db.readiness_probe.initial_delay_seconds`",
        "process-compose.yaml:65:16: `services.api.shutdown.command`",
        "process-compose.yaml:66:16: `services.api.namespace`",
        "`services.daemon.is_daemon`",
        "`daemon` has no condition, which process-compose reads as process_completed",
        "`services.untemplated.command`: template `{{if .X}}`",
    ] {
        assert!(err.contains(warning), "missing {warning:?} in {err}");
    }
}

#[test]
fn compose_services_run_through_compose_with_conditions_and_readiness() {
    let (_dir, config, err) = import("docker-compose.yml", &[]);
    let up = |name: &str| -> Vec<String> {
        get(&config, &format!("services.{name}.command"))
            .unwrap()
            .as_array()
            .unwrap()
            .iter()
            .map(|a| a.as_str().unwrap().to_string())
            .collect()
    };
    assert_eq!(
        up("api").join(" "),
        "docker compose -f docker-compose.yml up --no-deps --no-log-prefix api"
    );
    assert_eq!(s(&config, "services.api.stop_signal"), "SIGINT");
    assert_eq!(s(&config, "services.api.depends_on.db"), "required");
    assert_eq!(s(&config, "services.api.depends_on.migrate"), "completed");
    assert_eq!(s(&config, "services.api.depends_on.cache"), "optional");
    assert_eq!(s(&config, "services.web.depends_on.api"), "soft");
    assert_eq!(s(&config, "services.migrate.kind"), "task");
    // Published ports → tcp readiness, with the (merged) healthcheck timings.
    assert_eq!(s(&config, "services.db.readiness.tcp"), "127.0.0.1:5433");
    assert_eq!(s(&config, "services.db.readiness.period"), "5s");
    assert_eq!(s(&config, "services.db.restart"), "always");
    assert_eq!(s(&config, "services.db.stop_grace"), "95s");
    assert_eq!(s(&config, "services.api.readiness.tcp"), "127.0.0.1:8080");
    assert_eq!(s(&config, "services.web.readiness.tcp"), "127.0.0.1:8081");
    // No published port: the healthcheck through compose exec.
    assert_eq!(
        s(&config, "services.cache.readiness.exec"),
        "docker compose -f docker-compose.yml exec -T cache redis-cli ping"
    );
    // A profile: not started with the stack.
    assert_eq!(
        get(&config, "services.debug.autostart").and_then(toml::Value::as_bool),
        Some(false)
    );
    assert!(
        err.contains("docker-compose.yml:6:17: `services.db.healthcheck.start_period`"),
        "{err}"
    );
    assert!(
        err.contains("docker-compose.yml:58:17: `services.debug.deploy.replicas`"),
        "{err}"
    );
}

#[test]
fn bad_input_is_a_located_error_and_output_is_never_overwritten() {
    let dir = tempfile::tempdir().unwrap();
    let cases = [
        (
            "mprocs.yaml",
            "procs:\n  a: echo\n  a: echo again\n",
            "mprocs.yaml:3:3:",
        ),
        (
            "process-compose.yml",
            "processes:\n\tapi:\n",
            "process-compose.yml:2:",
        ),
        (
            "mprocs.json",
            "{\"procs\": {\"a\": \"x\",}",
            "mprocs.json:2:1:",
        ),
        ("compose.yaml", "services: [a, b]\n", "compose.yaml:1:"),
        ("Procfile", "# only comments\n", "Procfile:1:1:"),
        (
            "Procfile",
            "web: echo ok\napi: echo a\0b\n",
            "Procfile:2:12:",
        ),
    ];
    for (name, text, place) in cases {
        std::fs::write(dir.path().join(name), text).unwrap();
        let (code, out, err) = run(&["import", name, "-o", "-"], dir.path());
        assert_eq!(code.code(), Some(2), "{name}: {out}{err}");
        assert!(err.contains(place), "{name}: want {place} in {err}");
        let (code, _, err) = run(&["up", "--no-tui", "-c", name], dir.path());
        assert_eq!(code.code(), Some(2), "up -c {name}: {err}");
        assert!(err.contains(place), "up -c {name}: want {place} in {err}");
    }
    std::fs::write(dir.path().join("Procfile"), "web: echo hi\n").unwrap();
    std::fs::write(dir.path().join("bringup.toml"), "keep me").unwrap();
    let (code, _, err) = run(&["import", "Procfile"], dir.path());
    assert_eq!(code.code(), Some(2));
    assert!(
        err.contains("exists; not overwritten") && err.contains("--force"),
        "{err}"
    );
    let kept = std::fs::read_to_string(dir.path().join("bringup.toml")).unwrap();
    assert_eq!(kept, "keep me");
    let (code, out, _) = run(&["import", "Procfile", "-o", "-"], dir.path());
    assert!(code.success() && out.contains("[services.web]"), "{out}");
    let (code, _, err) = run(&["import", "Procfile", "--force"], dir.path());
    assert!(code.success(), "{err}");
    let (code, _, err) = run(
        &["import", "Procfile", "--from", "compose", "-o", "-"],
        dir.path(),
    );
    assert_eq!(code.code(), Some(2), "a Procfile is no compose file: {err}");
}

fn status(stack: &Stack) -> Value {
    let (code, out, err) = stack.ctl(&["status", "--json"]);
    assert!(code.success(), "status failed: {err}");
    serde_json::from_str(&out).unwrap()
}

fn state(stack: &Stack, name: &str) -> String {
    let status = status(stack);
    let service = status["services"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["name"] == name)
        .unwrap_or_else(|| panic!("no {name} in {status}"))
        .clone();
    service["state"].as_str().unwrap().to_string()
}

#[test]
fn up_c_procfile_brings_real_processes_up() {
    let procfile = format!(
        "# real processes\nweb: {BIN} fixture --name web --port $PORT --ready-after 50ms\nrelease: echo migrated\nworker: RUST_LOG=info sleep 30\noops\n"
    );
    let mut stack = Stack::start_named("Procfile", &procfile, &["up", "--no-tui"]);
    stack.wait_for("cold start done");
    // The same warnings as `bringup import`, at their place.
    assert!(
        stack
            .stderr()
            .contains("Procfile:5:1: not a `name: command` entry"),
        "{}",
        stack.stderr()
    );
    assert_eq!(state(&stack, "web"), "ready");
    assert_eq!(state(&stack, "release"), "completed");
    assert_eq!(state(&stack, "worker"), "ready");
    stack.stop();
    stack.assert_no_survivors();
}

#[test]
fn up_c_process_compose_with_a_disabled_process_started_by_hand() {
    let file = format!(
        r#"
processes:
  seed:
    command: "echo seeded"
    disabled: true
  api:
    command: "{BIN} fixture --name api --port 0 --ready-after 50ms --ready-line 'api up'"
    ready_log_line: "api up"
    depends_on:
      seed:
        condition: process_completed_successfully
  side:
    command: "sleep 30"
"#
    );
    let mut stack = Stack::start_named("process-compose.yaml", &file, &["up", "--no-tui"]);
    // api waits for a task nobody started: the cold start says so.
    stack.wait_for("cold start over, but not everything is ready: api");
    // Not started with the stack; its required dependent waits for it.
    assert_eq!(state(&stack, "seed"), "stopped");
    assert_eq!(state(&stack, "api"), "pending");
    assert_eq!(state(&stack, "side"), "ready");
    let (_, text, _) = stack.ctl(&["status"]);
    assert!(text.contains("waiting to be started"), "{text}");
    let (code, out, err) = stack.ctl(&["start", "seed"]);
    assert!(code.success(), "start seed: {out}{err}");
    let (code, _, err) = stack.ctl(&["wait", "api", "--timeout", "20s"]);
    assert!(code.success(), "api follows the seed: {err}");
    assert_eq!(state(&stack, "seed"), "completed");
    stack.stop();
    stack.assert_no_survivors();
}

#[test]
fn process_compose_file_extends_and_detection_by_content() {
    let dir = tempfile::tempdir().unwrap();
    let base = "processes:\n  db:\n    command: sleep 1\n    availability:\n      restart: always\n  api:\n    command: old\n    environment: [\"A=1\", \"B=2\"]\n";
    std::fs::write(dir.path().join("base.yaml"), base).unwrap();
    let top =
        "extends: base.yaml\nprocesses:\n  api:\n    command: new\n    environment: [\"B=3\"]\n";
    // A compose.yaml with `processes:` is process-compose's.
    std::fs::write(dir.path().join("compose.yaml"), top).unwrap();
    let (code, out, err) = run(&["import", "compose.yaml", "-o", "-"], dir.path());
    assert!(code.success(), "{err}");
    assert!(err.is_empty(), "no warnings: {err}");
    let config: toml::Table = toml::from_str(&out).unwrap();
    assert_eq!(s(&config, "services.db.restart"), "always");
    assert_eq!(s(&config, "services.api.command"), "new");
    assert_eq!(s(&config, "services.api.env.A"), "1");
    assert_eq!(s(&config, "services.api.env.B"), "3");
}

/// The figure for the notes: how long importing the largest input takes.
/// `cargo test --release --test import -- import_time --nocapture`.
#[test]
fn import_time_of_the_largest_input() {
    let path = input("process-compose.yaml");
    let text = std::fs::read_to_string(&path).unwrap();
    let rounds = 200u32;
    let began = Instant::now();
    for _ in 0..rounds {
        let imported =
            bringup::formats::import(&path, &text, bringup::formats::Format::ProcessCompose)
                .unwrap();
        assert!(imported.to_toml().unwrap().len() > 100);
    }
    let each = began.elapsed() / rounds;
    println!(
        "import of {} ({} bytes): {each:?} each (import + TOML)",
        path.display(),
        text.len()
    );
    assert!(each.as_millis() < 100, "{each:?}");

    // And a generated file of 500 processes, each depending on the last.
    let mut big = String::from("processes:\n");
    for i in 0..500 {
        big.push_str(&format!("  p{i}:\n    command: \"sleep {i}\"\n    readiness_probe:\n      http_get: {{port: {}, path: /h}}\n", 20000 + i));
        if i > 0 {
            big.push_str(&format!(
                "    depends_on:\n      p{}:\n        condition: process_healthy\n",
                i - 1
            ));
        }
    }
    let began = Instant::now();
    let imported =
        bringup::formats::import(&path, &big, bringup::formats::Format::ProcessCompose).unwrap();
    let toml = imported.to_toml().unwrap();
    println!(
        "import of 500 processes ({} bytes): {:?}",
        big.len(),
        began.elapsed()
    );
    assert_eq!(imported.services.len(), 500);
    assert!(toml.contains("[services.p499.depends_on]"));
}
