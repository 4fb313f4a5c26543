//! Restart cascades and restarts asked for from outside (a watched file):
//! who restarts, when, how often, and what they do to `max_restarts`.

use super::*;

/// db ← api (follows it), db ← worker (short form: does not), api ← web
/// (follows api).
const FOLLOWERS: &str = r#"
[services.db]
command = "x"
port = 201
backoff = { initial = "100ms", max = "1s" }
[services.api]
command = "x"
port = 202
depends_on = { db = { kind = "required", restart = true } }
[services.worker]
command = "x"
port = 203
depends_on = ["db"]
[services.web]
command = "x"
port = 204
depends_on = { api = { restart = true } }
"#;

fn all_up(rig: &mut Rig) {
    rig.begin();
    for name in ["db", "api", "worker", "web"] {
        rig.up(name);
    }
}

fn signalled(rig: &Rig, effects: &[Effect]) -> Vec<String> {
    rig.signals(effects)
        .into_iter()
        .map(|(name, _)| name)
        .collect()
}

#[test]
fn the_long_form_parses_and_defaults_to_required() {
    let rig = Rig::new(FOLLOWERS);
    let graph = &rig.machine.plan().graph;
    let api = graph.dependencies(rig.id("api"));
    assert_eq!((api[0].kind, api[0].restart), (DepKind::Required, true));
    let worker = graph.dependencies(rig.id("worker"));
    assert_eq!(
        (worker[0].kind, worker[0].restart),
        (DepKind::Required, false)
    );
    let web = graph.dependencies(rig.id("web"));
    assert_eq!((web[0].kind, web[0].restart), (DepKind::Required, true));
}

#[test]
fn a_crashed_dependency_restarts_its_followers_once_it_is_ready_again() {
    let mut rig = Rig::new(FOLLOWERS);
    all_up(&mut rig);
    rig.exit("db", 1);
    // While db is down (and starting again) nobody is restarted.
    let effects = rig.fire("db", Timer::Restart);
    assert_eq!(rig.spawns(&effects), ["db"]);
    let effects = rig.spawned("db");
    assert!(signalled(&rig, &effects).is_empty(), "{effects:?}");
    let effects = rig.ready("db");
    assert_eq!(
        signalled(&rig, &effects),
        ["api"],
        "not worker (short form)"
    );
    assert_eq!(rig.note("api"), "restarting: db restarted");
    let effects = rig.exit("api", 0);
    assert_eq!(rig.spawns(&effects), ["api"]);
    assert!(signalled(&rig, &effects).is_empty());
    // The chain goes on when api is ready again: web follows api.
    let effects = rig.spawned("api");
    assert!(signalled(&rig, &effects).is_empty());
    let effects = rig.ready("api");
    assert_eq!(signalled(&rig, &effects), ["web"]);
    assert_eq!(rig.note("web"), "restarting: api restarted");
    rig.exit("web", 0);
    rig.up("web");
    assert_eq!(rig.status("web").spawns, 2, "web restarted once");
    assert_eq!(rig.status("api").spawns, 2, "api restarted once");
    assert_eq!(rig.status("worker").spawns, 1, "worker kept its process");
    assert_eq!(rig.status("api").restarts, 0, "a cascade is not a crash");
}

#[test]
fn a_users_restart_of_the_dependency_cascades_too() {
    let mut rig = Rig::new(FOLLOWERS);
    all_up(&mut rig);
    rig.command(Command::Restart(rig.id("db")));
    let effects = rig.exit("db", 0);
    assert_eq!(rig.spawns(&effects), ["db"]);
    rig.spawned("db");
    let effects = rig.ready("db");
    assert_eq!(signalled(&rig, &effects), ["api"]);
}

#[test]
fn readiness_coming_back_on_the_same_process_restarts_nobody() {
    let mut rig = Rig::new(FOLLOWERS);
    all_up(&mut rig);
    for _ in 0..3 {
        rig.not_ready("db");
    }
    assert_eq!(rig.state("db"), State::NotReady);
    let effects = rig.ready("db");
    assert!(signalled(&rig, &effects).is_empty(), "{effects:?}");
}

#[test]
fn a_cold_start_and_a_restart_of_everything_cascade_nothing() {
    let mut rig = Rig::new(
        r#"
[services.db]
command = "x"
port = 205
[services.api]
command = "x"
port = 206
depends_on = { db = { kind = "soft", restart = true } }
"#,
    );
    rig.begin();
    rig.spawned("db");
    rig.up("api");
    let effects = rig.ready("db");
    assert!(signalled(&rig, &effects).is_empty(), "api started after db");
    rig.command(Command::RestartAll);
    rig.exit("api", 0);
    rig.exit("db", 0);
    rig.spawned("db");
    rig.up("api");
    let effects = rig.ready("db");
    assert!(signalled(&rig, &effects).is_empty(), "{effects:?}");
}

#[test]
fn in_a_diamond_the_dependent_restarts_once() {
    let mut rig = Rig::new(
        r#"
[services.db]
command = "x"
port = 207
[services.a]
command = "x"
port = 208
depends_on = { db = { restart = true } }
[services.b]
command = "x"
port = 209
depends_on = { db = { restart = true } }
[services.c]
command = "x"
port = 210
depends_on = { a = { restart = true }, b = { restart = true } }
"#,
    );
    rig.begin();
    for name in ["db", "a", "b", "c"] {
        rig.up(name);
    }
    rig.command(Command::Restart(rig.id("db")));
    rig.exit("db", 0);
    rig.spawned("db");
    let effects = rig.ready("db");
    assert_eq!(signalled(&rig, &effects), ["a", "b"]);
    rig.exit("a", 0);
    rig.exit("b", 0);
    rig.spawned("a");
    rig.spawned("b");
    let effects = rig.ready("a");
    assert_eq!(signalled(&rig, &effects), ["c"]);
    let effects = rig.exit("c", 0);
    assert!(rig.spawns(&effects).is_empty(), "c waits for b");
    let effects = rig.ready("b");
    assert_eq!(rig.spawns(&effects), ["c"]);
    assert!(signalled(&rig, &effects).is_empty());
    rig.up("c");
    assert_eq!(rig.status("c").spawns, 2);
}

fn file_changed(rig: &mut Rig, name: &str) -> Vec<Effect> {
    let id = rig.id(name);
    rig.feed(Input::Restart {
        id,
        why: RestartWhy::FileChanged {
            path: "src/app.py".into(),
            more: 0,
        },
    })
}

#[test]
fn a_changed_file_restarts_a_running_service_without_counting_it() {
    let mut rig = Rig::new(FOLLOWERS);
    all_up(&mut rig);
    let effects = file_changed(&mut rig, "worker");
    assert_eq!(signalled(&rig, &effects), ["worker"]);
    assert_eq!(rig.note("worker"), "restarting: src/app.py changed");
    let effects = rig.exit("worker", 0);
    assert_eq!(rig.spawns(&effects), ["worker"], "no backoff");
    assert_eq!(rig.status("worker").restarts, 0);
    // A burst that arrives while it is being stopped is the same restart.
    let effects = file_changed(&mut rig, "api");
    assert_eq!(signalled(&rig, &effects), ["api"]);
    let effects = file_changed(&mut rig, "api");
    assert!(signalled(&rig, &effects).is_empty());
}

#[test]
fn a_changed_file_starts_a_crashed_service_at_once() {
    let mut rig = Rig::new(
        "[services.a]\ncommand = \"x\"\nmax_restarts = 1\nbackoff = { initial = \"10s\", max = \"10s\" }\n",
    );
    rig.begin();
    rig.spawned("a");
    rig.exit("a", 1);
    assert_eq!(rig.state("a"), State::Pending);
    let effects = file_changed(&mut rig, "a");
    assert_eq!(rig.spawns(&effects), ["a"], "skips the backoff");
    rig.spawned("a");
    rig.exit("a", 1);
    rig.fire("a", Timer::Restart);
    rig.spawned("a");
    rig.exit("a", 1);
    assert_eq!(rig.state("a"), State::Failed, "gave up");
    let effects = file_changed(&mut rig, "a");
    assert_eq!(rig.spawns(&effects), ["a"], "a fix gets another go");
}

#[test]
fn a_changed_file_leaves_a_stopped_service_stopped() {
    let mut rig = Rig::new(FOLLOWERS);
    all_up(&mut rig);
    rig.command(Command::Stop(rig.id("worker")));
    rig.exit("worker", 0);
    let effects = file_changed(&mut rig, "worker");
    assert!(rig.spawns(&effects).is_empty());
    assert_eq!(rig.state("worker"), State::Stopped);
}

#[test]
fn paused_watching_restarts_nothing_until_resumed() {
    let mut rig = Rig::new(FOLLOWERS);
    all_up(&mut rig);
    let effects = rig.command(Command::Watching { paused: true });
    assert!(
        effects
            .iter()
            .any(|e| matches!(e, Effect::Publish(EventKind::Watching { paused: true })))
    );
    assert!(rig.machine.snapshot().watch_paused);
    let effects = file_changed(&mut rig, "worker");
    assert!(signalled(&rig, &effects).is_empty());
    // A cascade is not a watch: it still happens.
    rig.command(Command::Restart(rig.id("db")));
    rig.exit("db", 0);
    rig.spawned("db");
    let effects = rig.ready("db");
    assert_eq!(signalled(&rig, &effects), ["api"]);
    rig.command(Command::Watching { paused: false });
    let effects = file_changed(&mut rig, "worker");
    assert_eq!(signalled(&rig, &effects), ["worker"]);
}
