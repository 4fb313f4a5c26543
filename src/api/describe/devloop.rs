//! The dev loop in words: what an applied edit of the config did, and why
//! bringup restarts a service that did not fail.

use crate::api::RestartWhy;

/// What an applied edit of the config did, for [`reloaded`].
pub struct Reloaded<'a> {
    pub changed: &'a [String],
    pub added: &'a [String],
    pub removed: &'a [String],
    pub ui: bool,
}

/// "config reloaded: cache added; old removed; api and web restart; the
/// rest keep running".
pub fn reloaded(what: &Reloaded<'_>) -> String {
    let list = |names: &[String]| match names {
        [] => String::new(),
        [one] => one.clone(),
        [init @ .., last] => format!("{} and {last}", init.join(", ")),
    };
    let mut parts = Vec::new();
    if !what.added.is_empty() {
        parts.push(format!("{} added", list(what.added)));
    }
    if !what.removed.is_empty() {
        parts.push(format!("{} removed", list(what.removed)));
    }
    match what.changed {
        [] => {}
        [one] => parts.push(format!("{one} restarts")),
        many => parts.push(format!("{} restart", list(many))),
    }
    let ui = if what.ui { "; [ui] applied" } else { "" };
    if parts.is_empty() {
        return format!("config reloaded: no service changed{ui}");
    }
    format!(
        "config reloaded: {}; the rest keep running{ui}",
        parts.join("; ")
    )
}

/// "db restarted", "src/app.py changed": why bringup restarts a service.
pub fn restart_why(why: &RestartWhy) -> String {
    match why {
        RestartWhy::DependencyRestarted { on } => format!("{on} restarted"),
        RestartWhy::FileChanged { path, more: 0 } => format!("{path} changed"),
        RestartWhy::FileChanged { path, more } => format!(
            "{path} and {more} other file{} changed",
            if *more == 1 { "" } else { "s" }
        ),
        RestartWhy::ConfigChanged => "its config changed".into(),
    }
}
