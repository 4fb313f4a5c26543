//! The dev loop with real processes and real files: restart cascades
//! (`depends_on = { db = { restart = true } }`), watched files, config
//! reload.

// A test fails by panicking; `expect` says why.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod support;

use nix::sys::signal::Signal;
use support::stack::Stack;
use support::{all, first};

fn pid_of(stack: &Stack, name: &str) -> i32 {
    stack
        .records()
        .iter()
        .rev()
        .find(|r| r.name == name && r.event == "start")
        .map(|r| r.pid)
        .unwrap_or_else(|| panic!("{name} never started"))
}

/// The services `bringup status --json` lists.
fn listed(stack: &Stack) -> Vec<serde_json::Value> {
    let (status, out, err) = stack.ctl(&["status", "--json"]);
    assert!(status.success(), "{out}{err}");
    let status: serde_json::Value = serde_json::from_str(&out).unwrap();
    status["services"].as_array().cloned().unwrap_or_default()
}

/// What `bringup status --json` says of `name`.
fn listed_as(stack: &Stack, name: &str) -> serde_json::Value {
    let services = listed(stack);
    services
        .iter()
        .find(|s| s["name"] == name)
        .cloned()
        .unwrap_or_else(|| panic!("{name} is not listed: {services:?}"))
}

#[test]
fn killing_a_dependency_restarts_only_the_dependents_that_follow_it_once_it_is_ready() {
    let config = format!(
        r#"
[services.db]
command = "{}"
readiness = {{ log = "db is up" }}
backoff = {{ initial = "100ms", max = "100ms" }}
[services.api]
command = "{}"
depends_on = {{ db = {{ kind = "required", restart = true }} }}
readiness = {{ log = "api is up" }}
[services.worker]
command = "{}"
depends_on = ["db"]
readiness = {{ log = "worker is up" }}
"#,
        // db takes a while to be ready again, so a restart of api before
        // that would show.
        support::recorded("db", "--ready-after 300ms --ready-line 'db is up'"),
        support::recorded("api", "--ready-line 'api is up'"),
        support::recorded("worker", "--ready-line 'worker is up'"),
    );
    let mut stack = Stack::up(&config);
    stack.wait_for("every required service is ready");
    let db = pid_of(&stack, "db");
    let _ = nix::sys::signal::kill(nix::unistd::Pid::from_raw(db), Signal::SIGKILL);
    stack.wait_for("api: restarting: db restarted");
    stack.wait_records("api started again and is ready", |records| {
        all(records, "api", "ready").len() == 2
    });
    let records = stack.records();
    let db_ready_again = all(&records, "db", "ready")[1];
    let api_starts = all(&records, "api", "start");
    assert_eq!(api_starts.len(), 2, "api restarted once: {records:#?}");
    assert!(
        first(&records, "api", "sigterm").expect("api was asked to stop") > db_ready_again,
        "api was restarted before db was ready again: {records:#?}"
    );
    assert_eq!(
        all(&records, "worker", "start").len(),
        1,
        "the short form keeps its process: {records:#?}"
    );
    stack.stop_expecting(0);
}

#[test]
fn a_misspelt_key_of_the_long_form_is_located() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("bringup.toml");
    let text = "[services.db]\ncommand = \"x\"\n[services.api]\ncommand = \"x\"\ndepends_on = { db = { kidn = \"required\", restart = true } }\n";
    let errors = support::config::load_in(text, &file, dir.path()).expect_err("invalid");
    let shown = errors.to_string();
    assert!(shown.contains("5:23"), "{shown}");
    assert!(shown.contains("unknown key `kidn`"), "{shown}");
}

/// A service that watches `src/**` but not `src/gen/**`, in a directory
/// whose `.gitignore` leaves out `*.log`.
fn watching_stack() -> Stack {
    let config = format!(
        r#"
[services.api]
command = "{}"
readiness = {{ log = "api is up" }}
watch = ["src/**"]
watch_ignore = ["src/gen/**"]
"#,
        support::recorded("api", "--ready-line 'api is up'"),
    );
    let stack = Stack::start_prepared(&config, &["up", "--no-tui"], |dir| {
        std::fs::create_dir_all(dir.join("src/gen")).unwrap();
        std::fs::create_dir_all(dir.join("src/.cache")).unwrap();
        std::fs::write(dir.join(".gitignore"), "*.log\n").unwrap();
    });
    stack.wait_for("every required service is ready");
    stack
}

#[test]
fn a_watched_file_restarts_the_service_and_ignored_ones_do_not() {
    let mut stack = watching_stack();
    let dir = stack.dir.path().to_path_buf();
    // In one burst: first what must not count, then the file that does.
    std::fs::write(dir.join("src/gen/models.py"), "generated").unwrap();
    std::fs::write(dir.join("src/debug.log"), "ignored by .gitignore").unwrap();
    std::fs::write(dir.join("src/.cache/x.py"), "hidden").unwrap();
    std::fs::write(dir.join("notes.txt"), "not watched").unwrap();
    std::fs::write(dir.join("src/app.py"), "print('hi')").unwrap();
    stack.wait_for("api: restarting: src/app.py changed");
    stack.wait_records("api ready again", |r| all(r, "api", "ready").len() == 2);
    let out = stack.stdout();
    assert!(
        !out.contains("other file"),
        "an ignored file counted: {out}"
    );
    // Only ignored or unwatched files change: no restart. The watched one
    // written after them is the next restart's first file.
    std::fs::write(dir.join("src/gen/models.py"), "again").unwrap();
    std::fs::write(dir.join("notes.txt"), "again").unwrap();
    std::fs::write(dir.join("src/main.py"), "x").unwrap();
    stack.wait_for("api: restarting: src/main.py changed");
    stack.wait_records("api ready a third time", |r| {
        all(r, "api", "ready").len() == 3
    });
    assert_eq!(all(&stack.records(), "api", "start").len(), 3);
    stack.stop_expecting(0);
}

#[test]
fn a_burst_of_changes_is_one_restart() {
    let mut stack = watching_stack();
    let dir = stack.dir.path().to_path_buf();
    std::fs::create_dir_all(dir.join("src/pkg")).unwrap();
    for i in 0..50 {
        std::fs::write(dir.join(format!("src/pkg/m{i}.py")), "x").unwrap();
    }
    stack.wait_until("the restart", |out| out.contains("api: restarting: src/"));
    stack.wait_records("api ready again", |r| all(r, "api", "ready").len() == 2);
    let out = stack.stdout();
    let line = stack.line("api: restarting: src/");
    assert!(
        line.contains("and 49 other files changed") || line.contains("and 50 other files changed"),
        "{line}\n{out}"
    );
    assert_eq!(
        out.matches("api: restarting:").count(),
        1,
        "one restart for the burst: {out}"
    );
    stack.stop_expecting(0);
}

/// Code generators and `git checkout` delete a directory and make it
/// again: the new directory is watched like the old one was.
#[test]
fn a_directory_deleted_and_made_again_is_still_watched() {
    let mut stack = watching_stack();
    let dir = stack.dir.path().to_path_buf();
    std::fs::create_dir_all(dir.join("src/pkg")).unwrap();
    std::fs::write(dir.join("src/pkg/a.py"), "x").unwrap();
    stack.wait_for("api: restarting: src/pkg/a.py changed");
    stack.wait_records("api ready again", |r| all(r, "api", "ready").len() == 2);
    std::fs::remove_dir_all(dir.join("src/pkg")).unwrap();
    std::fs::create_dir_all(dir.join("src/pkg")).unwrap();
    std::fs::write(dir.join("src/pkg/b.py"), "x").unwrap();
    stack.wait_records("api ready a third time", |r| {
        all(r, "api", "ready").len() >= 3
    });
    // A file made later in the new directory is seen.
    std::fs::write(dir.join("src/pkg/c.py"), "x").unwrap();
    stack.wait_for("api: restarting: src/pkg/c.py changed");
    // So is one made in a directory renamed into place.
    std::fs::rename(dir.join("src/pkg"), dir.join("src/old")).unwrap();
    std::fs::create_dir_all(dir.join("src/pkg")).unwrap();
    stack.wait_records("api ready after the rename", |r| {
        all(r, "api", "ready").len() >= 5
    });
    std::fs::write(dir.join("src/pkg/d.py"), "x").unwrap();
    stack.wait_for("api: restarting: src/pkg/d.py changed");
    stack.stop_expecting(0);
}

const RELOADING: &str = r#"
[services.db]
command = "DB"
readiness = { log = "db is up" }
[services.api]
command = "API"
depends_on = ["db"]
readiness = { log = "api is up" }
[services.web]
command = "WEB"
env = { GREETING = "hello" }
readiness = { log = "web is up" }
"#;

fn reloading_config(extra: &str) -> String {
    format!("{extra}{RELOADING}")
        .replace("DB", &support::recorded("db", "--ready-line 'db is up'"))
        .replace("API", &support::recorded("api", "--ready-line 'api is up'"))
        .replace("WEB", &support::recorded("web", "--ready-line 'web is up'"))
}

fn starts(stack: &Stack, name: &str) -> usize {
    all(&stack.records(), name, "start").len()
}

#[test]
fn an_edit_restarts_what_changed_and_a_broken_one_changes_nothing() {
    let config = reloading_config("");
    let mut stack = Stack::up(&config);
    stack.wait_for("every required service is ready");
    let file = stack.dir.path().join("bringup.toml");
    let text = std::fs::read_to_string(&file).unwrap();

    // A broken edit: nothing changes, the error is shown where it is.
    let broken = text.replace("env = { GREETING", "evn = { GREETING");
    std::fs::write(&file, &broken).unwrap();
    stack.wait_for("the edited config is not valid");
    let out = stack.stdout();
    assert!(out.contains("bringup.toml:11:1"), "{out}");

    // Fixed and changed: only web restarts.
    std::fs::write(&file, text.replace("\"hello\"", "\"hi\"")).unwrap();
    stack.wait_for("config reloaded: web restarts; the rest keep running");
    stack.wait_for("web: restarting: its config changed");
    stack.wait_records("web ready again", |r| all(r, "web", "ready").len() == 2);
    assert_eq!(starts(&stack, "db"), 1, "db kept its process");
    assert_eq!(starts(&stack, "api"), 1, "api kept its process");
    assert_eq!(starts(&stack, "web"), 2);
    stack.stop_expecting(0);
}

#[test]
fn an_edit_saved_by_renaming_a_new_file_over_the_config_is_applied() {
    // How most editors (and `sed -i`) save: a new file, renamed over the
    // old one.
    let mut stack = Stack::up(&reloading_config(""));
    stack.wait_for("every required service is ready");
    let file = stack.dir.path().join("bringup.toml");
    let text = std::fs::read_to_string(&file).unwrap();
    let saved = stack.dir.path().join(".bringup.toml.swp");
    std::fs::write(&saved, text.replace("\"hello\"", "\"hi\"")).unwrap();
    std::fs::rename(&saved, &file).unwrap();
    stack.wait_for("config reloaded: web restarts; the rest keep running");
    stack.wait_records("web ready again", |r| all(r, "web", "ready").len() == 2);
    assert_eq!(starts(&stack, "db"), 1, "db kept its process");
    stack.stop_expecting(0);
    stack.assert_no_survivors();
}

#[test]
fn a_removed_service_that_ignores_sigterm_is_killed_after_its_grace() {
    // A service deaf to SIGTERM (the signal's disposition survives exec).
    let config = format!(
        "{}[services.deaf]\ncommand = \"sh -c 'trap \\\"\\\" TERM; echo deaf is up; exec sleep 600'\"\nreadiness = {{ log = \"deaf is up\" }}\nstop_grace = \"1s\"\n",
        reloading_config("")
    );
    let mut stack = Stack::up(&config);
    stack.wait_for("every required service is ready");
    let pid = listed_as(&stack, "deaf")["pid"]
        .as_i64()
        .expect("deaf's pid") as i32;
    let file = stack.dir.path().join("bringup.toml");
    let text = std::fs::read_to_string(&file).unwrap();
    let removed = std::time::Instant::now();
    std::fs::write(&file, &text[..text.find("[services.deaf]").unwrap()]).unwrap();
    stack.wait_for("config reloaded: deaf removed");
    support::poll("deaf's process to be gone", || {
        support::start_time(pid).is_none().then_some(())
    });
    assert!(
        removed.elapsed() >= std::time::Duration::from_secs(1),
        "it had its grace"
    );
    stack.wait_for("deaf: stopped: removed from the config");
    stack.stop_expecting(0);
    stack.assert_no_survivors();
}

#[test]
fn with_reload_off_only_bringup_reload_applies_an_edit() {
    let config = reloading_config("[project]\nreload = false\n");
    let mut stack = Stack::up(&config);
    stack.wait_for("every required service is ready");
    let file = stack.dir.path().join("bringup.toml");
    let text = std::fs::read_to_string(&file).unwrap();
    std::fs::write(&file, text.replace("\"hello\"", "\"hi\"")).unwrap();
    let (status, out, err) = stack.ctl(&["reload"]);
    assert!(status.success(), "{out}{err}");
    assert_eq!(
        out.trim(),
        "config reloaded: web restarts; the rest keep running",
        "bringup reload says what it did"
    );
    stack.wait_for("config reloaded: web restarts");
    stack.wait_records("web ready again", |r| all(r, "web", "ready").len() == 2);
    assert!(
        !stack
            .stdout()
            .contains("config reloaded: no service changed"),
        "the edit was not applied by itself before `bringup reload`"
    );
    assert_eq!(starts(&stack, "api"), 1);

    // A broken file: `bringup reload` says where and fails (the config is
    // read by the command itself first, to find its stack).
    std::fs::write(
        &file,
        text.replace("depends_on = [\"db\"]", "depends_on = [\"dbb\"]"),
    )
    .unwrap();
    let (status, _, err) = stack.ctl(&["reload"]);
    assert!(!status.success(), "{err}");
    assert!(err.contains("bringup.toml:9:15"), "{err}");
    assert!(err.contains("unknown service `dbb`"), "{err}");
    assert_eq!(starts(&stack, "api"), 1, "nothing changed");
    stack.stop_expecting(0);
}

/// The `exit` record of `name`'s latest process.
fn exited_at(stack: &Stack, name: &str) -> u64 {
    *all(&stack.records(), name, "exit")
        .last()
        .unwrap_or_else(|| panic!("{name} never exited"))
}

#[test]
fn an_added_service_starts_after_its_dependencies_and_the_others_keep_their_processes() {
    let config = reloading_config("");
    let mut stack = Stack::up(&config);
    stack.wait_for("every required service is ready");
    let file = stack.dir.path().join("bringup.toml");
    let text = std::fs::read_to_string(&file).unwrap();
    // worker needs cache (new too, on a port of its own) and api.
    let added = format!(
        "{text}\n[services.worker]\ncommand = \"{}\"\ndepends_on = [\"cache\", \"api\"]\nreadiness = {{ log = \"worker is up\" }}\n\
         [services.cache]\ncommand = \"{}\"\nport = \"auto\"\nreadiness = {{ http = \"/health/ready\" }}\n",
        support::recorded("worker", "--ready-line 'worker is up'"),
        support::recorded("cache", "--port ${port} --ready-after 300ms"),
    )
    .replace("{record}", &stack.record_path().to_string_lossy());
    std::fs::write(&file, added).unwrap();
    stack.wait_for("config reloaded: cache and worker added; the rest keep running");
    stack.wait_records("worker ready", |r| first(r, "worker", "ready").is_some());
    let records = stack.records();
    let cache_ready = first(&records, "cache", "ready").expect("cache ready");
    let worker_start = first(&records, "worker", "start").expect("worker started");
    assert!(
        cache_ready < worker_start,
        "worker started before cache was ready"
    );
    for name in ["db", "api", "web"] {
        assert_eq!(starts(&stack, name), 1, "{name} kept its process");
    }
    // The stack's verbs know the new services: by name, with their port.
    let cache = listed_as(&stack, "cache");
    assert_eq!(cache["state"], "ready", "{cache}");
    let port = cache["port"].as_u64().expect("cache has a port");
    std::net::TcpStream::connect(("127.0.0.1", port as u16)).expect("cache listens on its port");
    let (status, out, err) = stack.ctl(&["logs", "worker", "-n", "5"]);
    assert!(
        status.success() && out.contains("worker is up"),
        "{out}{err}"
    );
    // The headless output names the new service's lines too.
    stack.wait_until("worker's tagged line", |out| {
        out.lines()
            .any(|l| l.trim_start().starts_with("worker | worker is up"))
    });
    stack.stop_expecting(0);
    stack.assert_no_survivors();
}

#[test]
fn a_removed_service_stops_before_what_it_depended_on_and_leaves_the_stack() {
    // api takes a while to stop: db must still wait for it.
    let config = reloading_config("").replace(
        "--ready-line 'api is up'",
        "--ready-line 'api is up' --term-delay 400ms",
    );
    let mut stack = Stack::up(&config);
    stack.wait_for("every required service is ready");
    let file = stack.dir.path().join("bringup.toml");
    let text = std::fs::read_to_string(&file).unwrap();
    let web_only = &text[text.find("[services.web]").expect("web")..];
    std::fs::write(&file, web_only).unwrap();
    stack.wait_for("config reloaded: db and api removed; the rest keep running");
    stack.wait_records("db and api exited", |r| {
        first(r, "db", "exit").is_some() && first(r, "api", "exit").is_some()
    });
    assert!(
        exited_at(&stack, "api") < exited_at(&stack, "db"),
        "db stopped before api, which depended on it"
    );
    stack.wait_for("db: stopped: removed from the config");
    assert_eq!(starts(&stack, "web"), 1, "web kept its process");
    assert_eq!(starts(&stack, "db"), 1, "db is not started again");
    let names: Vec<String> = listed(&stack)
        .iter()
        .filter_map(|s| s["name"].as_str().map(String::from))
        .collect();
    assert_eq!(names, ["web"]);
    let (status, _, err) = stack.ctl(&["restart", "api"]);
    assert_eq!(status.code(), Some(2), "{err}");
    assert!(err.contains("api"), "{err}");
    // Brought back: it starts again, after its dependency.
    std::fs::write(&file, &text).unwrap();
    stack.wait_for("config reloaded: db and api added");
    stack.wait_records("api ready again", |r| all(r, "api", "ready").len() == 2);
    let records = stack.records();
    let db_ready = all(&records, "db", "ready")[1];
    let api_start = all(&records, "api", "start")[1];
    assert!(
        db_ready < api_start,
        "api started before db was ready again"
    );
    stack.stop_expecting(0);
    stack.assert_no_survivors();
}

#[test]
fn a_changed_port_restarts_the_service_on_its_new_port_and_who_names_it() {
    let (old, new) = (support::free_port(), support::free_port());
    let config = format!(
        r#"
[services.db]
command = "{db}"
port = {old}
readiness = {{ tcp = true }}
[services.api]
command = "{api}"
env = {{ DB_PORT = "${{services.db.port}}" }}
readiness = {{ log = "api is up" }}
[services.web]
command = "{web}"
readiness = {{ log = "web is up" }}
"#,
        db = support::recorded("db", "--port ${port}"),
        api = support::recorded("api", "--ready-line 'api is up'"),
        web = support::recorded("web", "--ready-line 'web is up'"),
    );
    let mut stack = Stack::up(&config);
    stack.wait_for("every required service is ready");
    let file = stack.dir.path().join("bringup.toml");
    let text = std::fs::read_to_string(&file).unwrap();
    std::fs::write(
        &file,
        text.replace(&format!("port = {old}"), &format!("port = {new}")),
    )
    .unwrap();
    stack.wait_for("config reloaded: db and api restart; the rest keep running");
    stack.wait_records("db and api started again", |r| {
        all(r, "db", "start").len() == 2 && all(r, "api", "ready").len() == 2
    });
    support::poll_for(
        "db on its new port",
        std::time::Duration::from_secs(20),
        || std::net::TcpStream::connect(("127.0.0.1", new)).ok(),
    );
    assert_eq!(starts(&stack, "web"), 1, "web kept its process");
    let db = listed_as(&stack, "db");
    assert_eq!(db["port"].as_u64(), Some(u64::from(new)), "{db}");
    stack.stop_expecting(0);
    stack.assert_no_survivors();
}

#[test]
fn a_port_setting_changed_around_the_same_port_keeps_that_port() {
    // Fallbacks added to a service on a fixed port: it restarts (its port
    // setting changed) on the same port, which its old process holds until
    // it is stopped; that is no conflict, and no reason to move.
    let (port, fallback) = (support::free_port(), support::free_port());
    let config = format!(
        r#"
[services.db]
command = "{db}"
port = {port}
readiness = {{ tcp = true }}
"#,
        db = support::recorded("db", "--port ${port}"),
    );
    let mut stack = Stack::up(&config);
    stack.wait_for("every required service is ready");
    let file = stack.dir.path().join("bringup.toml");
    let text = std::fs::read_to_string(&file).unwrap();
    std::fs::write(
        &file,
        text.replace(
            &format!("port = {port}\n"),
            &format!("port = {port}\nfallback_ports = [{fallback}]\n"),
        ),
    )
    .unwrap();
    stack.wait_for("config reloaded: db restarts");
    stack.wait_records("db ready again", |r| all(r, "db", "ready").len() == 2);
    let db = listed_as(&stack, "db");
    assert_eq!(db["port"].as_u64(), Some(u64::from(port)), "{db}");
    let said = stack.stdout();
    assert!(
        !said.contains("conflict") && !said.contains("held by"),
        "{said}"
    );
    stack.stop_expecting(0);
    stack.assert_no_survivors();
}

#[test]
fn an_added_service_whose_port_another_program_holds_is_named_in_the_conflict() {
    let config = reloading_config("");
    let mut stack = Stack::up(&config);
    stack.wait_for("every required service is ready");
    let held = support::held_port();
    let port = held.local_addr().unwrap().port();
    let file = stack.dir.path().join("bringup.toml");
    let text = std::fs::read_to_string(&file).unwrap();
    let added = format!(
        "{text}\n[services.cache]\ncommand = \"{}\"\nport = {port}\n",
        support::recorded("cache", "--port ${port}"),
    )
    .replace("{record}", &stack.record_path().to_string_lossy());
    std::fs::write(&file, added).unwrap();
    stack.wait_for("config reloaded: cache added");
    stack.wait_for("cache: failed");
    let line = stack.line(&format!("port {port} is held by"));
    assert!(
        line.contains("cache: will not be able to start"),
        "the conflict names the service: {line}\n{}",
        stack.stdout()
    );
    drop(held);
    stack.stop_expecting(1);
    stack.assert_no_survivors();
}

#[test]
fn a_renamed_service_on_a_fixed_port_starts_once_the_old_name_let_go_of_it() {
    let port = support::free_port();
    let config = format!(
        "[services.web]\ncommand = \"{}\"\nport = {port}\nreadiness = {{ tcp = true }}\n",
        support::recorded("web", "--port ${port} --term-delay 500ms"),
    );
    let mut stack = Stack::up(&config);
    stack.wait_for("every required service is ready");
    let file = stack.dir.path().join("bringup.toml");
    let text = std::fs::read_to_string(&file).unwrap();
    std::fs::write(&file, text.replace("[services.web]", "[services.site]")).unwrap();
    stack.wait_for("config reloaded: site added; web removed");
    stack.wait_for("site: ready");
    let records = stack.records();
    let web_exit = first(&records, "web", "exit").expect("web stopped");
    // site runs the same command: its records say "web".
    let site_start = all(&records, "web", "start")[1];
    assert!(web_exit < site_start, "{records:#?}");
    let out = stack.stdout();
    assert!(!out.contains("will not be able to start"), "{out}");
    stack.stop_expecting(0);
    stack.assert_no_survivors();
}

#[test]
fn a_service_brought_back_while_it_stops_keeps_its_fixed_port_without_a_false_alarm() {
    let port = support::free_port();
    let config = format!(
        "[services.web]\ncommand = \"{}\"\nport = {port}\nreadiness = {{ tcp = true }}\n\
         [services.other]\ncommand = \"{}\"\n",
        support::recorded("web", "--port ${port} --term-delay 3s"),
        support::recorded("other", ""),
    );
    let mut stack = Stack::up(&config);
    stack.wait_for("every required service is ready");
    let file = stack.dir.path().join("bringup.toml");
    let text = std::fs::read_to_string(&file).unwrap();
    std::fs::write(&file, &text[text.find("[services.other]").unwrap()..]).unwrap();
    stack.wait_for("config reloaded: web removed");
    std::fs::write(&file, &text).unwrap();
    stack.wait_for("config reloaded: web added");
    // Brought back while its old process still stops (it takes 3 s).
    assert!(
        first(&stack.records(), "web", "exit").is_none(),
        "web had already stopped: the case is not the one named"
    );
    stack.wait_records("web ready again", |r| all(r, "web", "ready").len() == 2);
    let out = stack.stdout();
    assert!(!out.contains("will not be able to start"), "{out}");
    std::net::TcpStream::connect(("127.0.0.1", port)).expect("web on its port");
    stack.stop_expecting(0);
    stack.assert_no_survivors();
}
