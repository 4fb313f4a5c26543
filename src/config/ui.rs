//! `[ui]`: the dashboard's theme and key bindings.
//!
//! Action names and key syntax come from [`crate::keys`], the table the
//! dashboard itself uses, so the config accepts exactly what the dashboard
//! can do and a typo gets the nearest action name. A key given to two
//! actions is an error: one of them could never be reached. Whether a
//! theme name exists is checked when the dashboard loads it, since themes
//! may live in the user's theme directory.

use crate::config::error::{Collector, nearest};
use crate::config::plan::Ui;
use crate::config::raw::RawUi;
use crate::keys::{Action, Key};

/// `[ui]`: the theme name and `[ui.keys]` remappings.
pub(crate) fn ui(raw: &RawUi, errors: &mut Collector<'_>) -> Ui {
    let mut keys: Vec<(Action, Vec<Key>)> = Vec::new();
    let mut taken: Vec<(Key, Action)> = Vec::new();
    for (name, value) in raw.keys.iter().flatten() {
        let Some(action) = Action::from_name(name.get_ref()) else {
            let names = Action::ALL.iter().map(|a| a.name());
            errors.push(
                Some(name.span()),
                format!("ui.keys.{}", name.get_ref()),
                format!("unknown action `{}`", name.get_ref()),
                nearest(name.get_ref(), names)
                    .map(|n| format!("did you mean `{n}`?"))
                    .or_else(|| {
                        Some(format!(
                            "actions: {}",
                            Action::ALL
                                .iter()
                                .map(|a| a.name())
                                .collect::<Vec<_>>()
                                .join(", ")
                        ))
                    }),
            );
            continue;
        };
        let mut parsed = Vec::new();
        for text in value.get_ref().to_vec() {
            match Key::parse(&text) {
                Ok(key) => {
                    if let Some((_, other)) = taken.iter().find(|(k, a)| *k == key && *a != action)
                    {
                        errors.push(
                            Some(value.span()),
                            format!("ui.keys.{}", name.get_ref()),
                            format!("key {key} is given to `{}` too", other.name()),
                            Some("give each action its own keys".into()),
                        );
                    }
                    taken.push((key, action));
                    parsed.push(key);
                }
                Err(why) => errors.push(
                    Some(value.span()),
                    format!("ui.keys.{}", name.get_ref()),
                    why,
                    None,
                ),
            }
        }
        keys.push((action, parsed));
    }
    Ui {
        theme: raw.theme.as_ref().map(|t| t.get_ref().clone()),
        keys,
    }
}
