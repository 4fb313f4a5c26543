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

fn reload(rig: &mut Rig, text: &str, ticket: Option<Ticket>) -> Vec<Effect> {
    let new = plan(text);
    let diff = crate::config::diff::diff(rig.machine.plan(), &new);
    let outcome = match diff.not_applicable.clone() {
        Some(why) => Reload::NotApplicable { why },
        None => Reload::Applied { plan: new, diff },
    };
    rig.feed(Input::Reload { ticket, outcome })
}

#[test]
fn changed_services_restart_in_start_order_and_the_rest_keep_running() {
    let mut rig = Rig::new(BEFORE);
    up(&mut rig);
    let after = BEFORE
        .replace("command = \"db\"", "command = \"db2\"")
        .replace("command = \"web\"", "command = \"web2\"");
    let effects = reload(&mut rig, &after, Some(Ticket(9)));
    let signalled: Vec<String> = rig.signals(&effects).into_iter().map(|(n, _)| n).collect();
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
    let added = format!("{BEFORE}[services.cache]\ncommand = \"c\"\n");
    let effects = reload(&mut rig, &added, Some(Ticket(3)));
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
