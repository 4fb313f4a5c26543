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
