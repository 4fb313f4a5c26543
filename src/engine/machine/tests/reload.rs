//! An edited config, as the machine sees it: what restarts, what keeps
//! its process, and what an invalid edit does (nothing, said).

use super::*;
use crate::engine::machine::Reload;

const BEFORE: &str = r#"
[services.db]
command = "db"
port = 301
[services.api]
command = "api"
port = 302
depends_on = ["db"]
[services.web]
command = "web"
port = 303
"#;

fn up(rig: &mut Rig) {
    rig.begin();
    for name in ["db", "api", "web"] {
        rig.up(name);
    }
}

/// What the runtime would feed the machine for an edit to `text`.
fn reload_with(
    rig: &mut Rig,
    text: &str,
    ticket: Option<Ticket>,
    ports: Vec<Input>,
) -> Vec<Effect> {
    let edited = Arc::try_unwrap(plan(text)).expect("a fresh plan");
    let merged = crate::config::diff::merge(rig.machine.plan(), edited);
    let outcome = match merged.diff.not_applicable.clone() {
        Some(why) => Reload::NotApplicable { why },
        None => Reload::Applied {
            plan: Arc::new(merged.plan),
            diff: merged.diff,
            ports,
        },
    };
    rig.feed(Input::Reload { ticket, outcome })
}

fn reload(rig: &mut Rig, text: &str, ticket: Option<Ticket>) -> Vec<Effect> {
    reload_with(rig, text, ticket, Vec::new())
}

/// The services signalled by `effects`.
fn signalled_by(rig: &Rig, effects: &[Effect]) -> Vec<String> {
    rig.signals(effects).into_iter().map(|(n, _)| n).collect()
}

/// The services the snapshot shows.
fn shown(rig: &Rig) -> Vec<String> {
    let snapshot = rig.machine.snapshot();
    snapshot.services.iter().map(|s| s.name.clone()).collect()
}

/// The services whose state events say they stopped, removed.
fn stopped_removed(rig: &Rig, effects: &[Effect]) -> Vec<String> {
    effects
        .iter()
        .filter_map(|e| match e {
            Effect::Publish(EventKind::State {
                service,
                to: State::Stopped,
                reason: Reason::Removed { .. },
                ..
            }) => Some(rig.name(*service)),
            _ => None,
        })
        .collect()
}

#[test]
fn an_added_service_starts_once_what_it_depends_on_is_ready() {
    let mut rig = Rig::new(BEFORE);
    up(&mut rig);
    let after = format!(
        "{BEFORE}[services.cache]\ncommand = \"cache\"\nport = 304\n\
         [services.worker]\ncommand = \"worker\"\ndepends_on = [\"cache\", \"api\"]\n"
    );
    let cache = ServiceId(3);
    let port = Input::PortAssigned {
        id: cache,
        port: 40004,
        how: None,
    };
    let effects = reload_with(&mut rig, &after, Some(Ticket(1)), vec![port]);
    assert_eq!(rig.spawns(&effects), ["cache"], "worker waits for cache");
    assert!(rig.signals(&effects).is_empty(), "nothing else restarts");
    assert_eq!(
        rig.status("cache").port,
        Some(40004),
        "its port before its spawn"
    );
    assert_eq!(rig.state("worker"), State::Pending);
    assert!(effects.iter().any(|e| matches!(
        e,
        Effect::Publish(EventKind::Reloaded { added, .. }) if added == &["cache", "worker"]
    )));
    rig.spawned("cache");
    let effects = rig.ready("cache");
    assert_eq!(rig.spawns(&effects), ["worker"]);
    rig.up("worker");
    let names = shown(&rig);
    assert_eq!(names.len(), 5, "{names:?}");
}

#[test]
fn removed_services_stop_dependents_first_and_leave_the_snapshot() {
    let mut rig = Rig::new(BEFORE);
    up(&mut rig);
    // api (which depends on db) and db both go; web stays.
    let after = "[services.web]\ncommand = \"web\"\nport = 303\n";
    let effects = reload(&mut rig, after, None);
    let signalled = signalled_by(&rig, &effects);
    assert_eq!(signalled, ["api"], "db waits for api to be down");
    let effects = rig.exit("api", 0);
    assert_eq!(stopped_removed(&rig, &effects), ["api"]);
    let signalled = signalled_by(&rig, &effects);
    assert_eq!(signalled, ["db"]);
    let effects = rig.exit("db", 0);
    assert_eq!(stopped_removed(&rig, &effects), ["db"]);
    assert!(rig.spawns(&effects).is_empty(), "never started again");
    let names = shown(&rig);
    assert_eq!(names, ["web"]);
    assert!(rig.status("web").pid.is_some(), "web kept its process");
    assert_eq!(rig.machine.plan().find("api"), None);
    // A command for a removed service's number finds no such service.
    let effects = rig.command(Command::Start(ServiceId(1)));
    assert!(rig.spawns(&effects).is_empty());
    assert!(effects.contains(&Effect::Reply {
        ticket: Ticket(0),
        outcome: Outcome::NotFound
    }));
}

#[test]
fn a_changed_service_restarts_after_a_removed_dependent_has_stopped() {
    let mut rig = Rig::new(BEFORE);
    up(&mut rig);
    let after = "[services.db]\ncommand = \"db2\"\nport = 301\n[services.web]\ncommand = \"web\"\nport = 303\n";
    let effects = reload(&mut rig, after, None);
    let signalled = signalled_by(&rig, &effects);
    assert_eq!(signalled, ["api"], "db's restart waits for api to stop");
    let effects = rig.exit("api", 0);
    let signalled = signalled_by(&rig, &effects);
    assert_eq!(signalled, ["db"]);
    assert_eq!(rig.note("db"), "restarting: its config changed");
    let effects = rig.exit("db", 0);
    assert_eq!(rig.spawns(&effects), ["db"]);
}

#[test]
fn a_service_removed_and_added_again_comes_back_under_its_number() {
    let mut rig = Rig::new(BEFORE);
    up(&mut rig);
    let without_web = BEFORE.replace("[services.web]\ncommand = \"web\"\nport = 303\n", "");
    let web = rig.id("web");
    let effects = reload(&mut rig, &without_web, None);
    let signalled = signalled_by(&rig, &effects);
    assert_eq!(signalled, ["web"]);
    // Back before it has even stopped: it starts again once it has.
    let effects = reload(&mut rig, BEFORE, None);
    assert!(rig.signals(&effects).is_empty());
    assert_eq!(rig.machine.plan().find("web"), Some(web));
    let effects = rig.exit("web", 0);
    assert_eq!(rig.spawns(&effects), ["web"]);
    assert!(stopped_removed(&rig, &effects).is_empty());
}

#[test]
fn a_service_brought_back_before_its_stop_began_is_never_stuck_stopping() {
    let mut rig = Rig::new(BEFORE);
    up(&mut rig);
    // api and db go: api is signalled, db waits for it.
    let web_only = "[services.web]\ncommand = \"web\"\nport = 303\n";
    let effects = reload(&mut rig, web_only, None);
    assert_eq!(signalled_by(&rig, &effects), ["api"]);
    // db comes back while it still waits: it is not stopped, and (its
    // config may differ from what its process runs) it restarts once api,
    // which still talked to it, is down.
    let db_back = "[services.db]\ncommand = \"db\"\nport = 301\n[services.web]\ncommand = \"web\"\nport = 303\n";
    let effects = reload(&mut rig, db_back, None);
    assert!(rig.signals(&effects).is_empty());
    assert!(!rig.status("db").stopping, "db is not stopping");
    let effects = rig.exit("api", 0);
    assert_eq!(
        stopped_removed(&rig, &effects),
        ["api"],
        "db stays in the stack"
    );
    assert_eq!(signalled_by(&rig, &effects), ["db"]);
    let effects = rig.exit("db", 0);
    assert_eq!(rig.spawns(&effects), ["db"]);
    rig.up("db");
    let effects = rig.command(Command::Restart(rig.id("db")));
    assert_eq!(
        signalled_by(&rig, &effects),
        ["db"],
        "db answers commands again"
    );
}

#[test]
fn changed_services_restart_in_start_order_and_the_rest_keep_running() {
    let mut rig = Rig::new(BEFORE);
    up(&mut rig);
    let after = BEFORE
        .replace("command = \"db\"", "command = \"db2\"")
        .replace("command = \"web\"", "command = \"web2\"");
    let effects = reload(&mut rig, &after, Some(Ticket(9)));
    let signalled = signalled_by(&rig, &effects);
    assert_eq!(signalled, ["db", "web"]);
    assert!(effects.contains(&Effect::Reply {
        ticket: Ticket(9),
        outcome: Outcome::Done
    }));
    assert_eq!(rig.note("web"), "restarting: its config changed");
    assert!(rig.status("api").pid.is_some() && !rig.status("api").stopping);
    let mut effects = rig.exit("db", 0);
    effects.extend(rig.exit("web", 0));
    assert_eq!(rig.spawns(&effects), ["db", "web"], "no backoff");
    assert_eq!(rig.status("db").restarts, 0);
}

#[test]
fn an_invalid_or_inapplicable_edit_changes_nothing_and_says_why() {
    let mut rig = Rig::new(BEFORE);
    up(&mut rig);
    let effects = rig.feed(Input::Reload {
        ticket: None,
        outcome: Reload::Invalid {
            errors: "t.toml:3:1: unknown key `comand`".into(),
        },
    });
    assert!(rig.signals(&effects).is_empty());
    assert!(effects.iter().any(|e| matches!(
        e,
        Effect::Publish(EventKind::Notice { notice: Notice::ConfigInvalid { errors }, .. })
            if errors.contains("3:1")
    )));
    let renamed = format!("[project]\nname = \"another\"\n{BEFORE}");
    let effects = reload(&mut rig, &renamed, Some(Ticket(3)));
    assert!(rig.signals(&effects).is_empty());
    assert!(effects.iter().any(|e| matches!(
        e,
        Effect::Reply {
            outcome: Outcome::Refused {
                why: Refusal::ReloadNotApplicable { .. }
            },
            ..
        }
    )));
}

#[test]
fn a_changed_file_is_read_only_when_reload_is_on() {
    let mut rig = Rig::new(BEFORE);
    up(&mut rig);
    let effects = rig.feed(Input::ConfigTouched);
    assert!(effects.contains(&Effect::LoadConfig { ticket: None }));
    let mut off = Rig::new(&format!("[project]\nreload = false\n{BEFORE}"));
    up(&mut off);
    let effects = off.feed(Input::ConfigTouched);
    assert!(!effects.contains(&Effect::LoadConfig { ticket: None }));
    let effects = off.command(Command::Reload);
    assert!(effects.contains(&Effect::LoadConfig {
        ticket: Some(Ticket(0))
    }));
}

#[test]
fn a_service_moved_to_a_new_dependency_stops_before_the_removed_one_it_used() {
    let mut rig = Rig::new(BEFORE);
    up(&mut rig);
    // db is renamed db2: api (which used db) restarts against db2, and db
    // stops only once api's old process is gone.
    let after = BEFORE
        .replace("[services.db]", "[services.db2]")
        .replace("depends_on = [\"db\"]", "depends_on = [\"db2\"]");
    let effects = reload(&mut rig, &after, None);
    let signalled = signalled_by(&rig, &effects);
    assert_eq!(signalled, ["api"], "db waits for api's old process");
    assert_eq!(rig.spawns(&effects), ["db2"]);
    let effects = rig.exit("api", 0);
    let signalled = signalled_by(&rig, &effects);
    assert_eq!(signalled, ["db"]);
    assert!(
        rig.spawns(&effects).is_empty(),
        "api waits for db2 to be ready"
    );
    rig.spawned("db2");
    let effects = rig.ready("db2");
    assert_eq!(rig.spawns(&effects), ["api"]);
    let effects = rig.exit("db", 0);
    assert_eq!(stopped_removed(&rig, &effects), ["db"]);
}

fn without(text: &str, name: &str) -> String {
    let start = text
        .find(&format!("[services.{name}]"))
        .unwrap_or_else(|| panic!("no {name}"));
    let end = text[start + 1..]
        .find("[services.")
        .map_or(text.len(), |i| start + 1 + i);
    format!("{}{}", &text[..start], &text[end..])
}

#[test]
fn restarting_everything_leaves_removed_services_stopped() {
    let mut rig = Rig::new(BEFORE);
    up(&mut rig);
    reload(&mut rig, &without(BEFORE, "web"), None);
    rig.exit("web", 0);
    rig.command(Command::RestartAll);
    let mut spawned = Vec::new();
    for name in ["api", "db"] {
        let effects = rig.exit(name, 0);
        spawned.extend(rig.spawns(&effects));
    }
    assert_eq!(spawned, ["db"], "web is not the stack's any more");
    assert_eq!(rig.state("web"), State::Stopped);
    assert_eq!(
        rig.note("web"),
        "stopped: removed from the config (exited with code 0)"
    );
}

#[test]
fn a_service_removed_before_it_was_ready_does_not_spoil_the_cold_start() {
    let mut rig = Rig::new(BEFORE);
    rig.begin();
    rig.up("db");
    rig.up("web");
    rig.spawned("api");
    let mut effects = reload(&mut rig, &without(BEFORE, "api"), None);
    effects.extend(rig.exit("api", 143));
    let summaries: Vec<&Summary> = effects
        .iter()
        .filter_map(|e| match e {
            Effect::Publish(EventKind::ColdStart(summary)) => Some(summary),
            _ => None,
        })
        .collect();
    assert_eq!(summaries.len(), 1, "{effects:#?}");
    assert!(summaries[0].all_required_ready, "{:?}", summaries[0]);
    assert!(summaries[0].services.iter().all(|t| t.name != "api"));
}

#[test]
fn a_removed_service_is_never_adopted_and_an_adopted_one_is_let_go() {
    // web's port is held when the run starts: its holder is being checked
    // when web is removed, and passes after.
    let mut rig = Rig::new(BEFORE);
    let web = rig.id("web");
    rig.feed(Input::PortHeld { id: web, port: 303 });
    rig.begin();
    rig.up("db");
    rig.up("api");
    reload(&mut rig, &without(BEFORE, "web"), None);
    let effects = rig.feed(Input::HolderChecked {
        id: web,
        port: 303,
        ticket: None,
        verdict: HolderVerdict::Passes {
            detail: "pid 9".into(),
        },
    });
    assert!(
        !effects
            .iter()
            .any(|e| matches!(e, Effect::TakeHolder { .. } | Effect::WatchAdopted { .. })),
        "{effects:#?}"
    );
    assert_eq!(rig.state("web"), State::Stopped);

    // api is adopted, then removed: bringup stops watching its holder, and
    // brought back, it is bringup's to start again.
    let mut rig = Rig::new(BEFORE);
    let api = rig.id("api");
    rig.feed(Input::PortHeld { id: api, port: 302 });
    rig.begin();
    rig.up("db");
    rig.up("web");
    rig.feed(Input::HolderChecked {
        id: api,
        port: 302,
        ticket: None,
        verdict: HolderVerdict::Passes {
            detail: "pid 9".into(),
        },
    });
    assert!(rig.status("api").external);
    let effects = reload(&mut rig, &without(BEFORE, "api"), None);
    assert!(
        effects.contains(&Effect::StopProbes { id: api }),
        "{effects:#?}"
    );
    assert!(
        effects.contains(&Effect::Disown { id: api }),
        "{effects:#?}"
    );
    assert!(!rig.status("api").external);
    let effects = reload(&mut rig, BEFORE, None);
    assert_eq!(rig.spawns(&effects), ["api"]);
}

#[test]
fn an_edit_read_as_the_stack_began_to_stop_is_not_taken() {
    let mut rig = Rig::new(BEFORE);
    up(&mut rig);
    rig.command(Command::Shutdown { force: false });
    assert!(!rig.machine.takes_reload());
    let added = format!("{BEFORE}[services.cache]\ncommand = \"cache\"\n");
    let effects = reload(&mut rig, &added, Some(Ticket(4)));
    assert!(effects.contains(&Effect::Reply {
        ticket: Ticket(4),
        outcome: Outcome::Refused {
            why: Refusal::ReloadWhileStopping
        },
    }));
    assert_eq!(rig.machine.plan().find("cache"), None);
    for name in ["web", "api", "db"] {
        rig.exit(name, 0);
    }
    assert_eq!(rig.machine.phase(), Phase::Done);
    let snapshot = rig.machine.snapshot();
    assert!(
        crate::api::Verdict::of(&snapshot).healthy(),
        "nothing the edit added was left waiting: {snapshot:#?}"
    );
}

#[test]
fn a_renamed_service_starts_once_the_old_name_has_let_go_of_its_port() {
    let mut rig = Rig::new(BEFORE);
    let web = rig.id("web");
    rig.feed(Input::PortAssigned {
        id: web,
        port: 303,
        how: None,
    });
    up(&mut rig);
    let renamed = BEFORE.replace("[services.web]", "[services.site]");
    let effects = reload(&mut rig, &renamed, None);
    let signalled = signalled_by(&rig, &effects);
    assert_eq!(signalled, ["web"]);
    assert!(rig.spawns(&effects).is_empty(), "web still holds port 303");
    assert_eq!(
        rig.status("site").waiting,
        Some(WaitReason::PortOfRemoved {
            port: 303,
            by: "web".into()
        })
    );
    let effects = rig.exit("web", 0);
    assert_eq!(rig.spawns(&effects), ["site"]);
}

#[test]
fn a_run_of_some_services_starts_only_the_added_ones_they_need() {
    // `bringup up api`, where api needs every service there is.
    let two = "[services.db]\ncommand = \"db\"\n[services.api]\ncommand = \"api\"\ndepends_on = [\"db\"]\n";
    let mut rig = Rig::new(two);
    rig.machine = Machine::with_selection(plan(two), 7, vec![true, true]);
    rig.begin();
    rig.up("db");
    rig.up("api");
    let extra = format!("{two}[services.extra]\ncommand = \"x\"\n");
    let effects = reload(&mut rig, &extra, None);
    assert!(
        rig.spawns(&effects).is_empty(),
        "extra is not part of this run"
    );
    assert!(!rig.status("extra").selected);
    // api comes to need it: then it is.
    let needed = extra.replace("depends_on = [\"db\"]", "depends_on = [\"db\", \"extra\"]");
    let effects = reload(&mut rig, &needed, None);
    assert_eq!(rig.spawns(&effects), ["extra"]);
    assert_eq!(
        signalled_by(&rig, &effects),
        ["api"],
        "api's dependencies changed"
    );
}
