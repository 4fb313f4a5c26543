//! Service names: what a name may be, and the environment variable that
//! carries its port.
//!
//! A name turns up in many places besides the config: `BRINGUP_PORT_<NAME>`
//! in every service's environment, `${services.NAME.port}`, columns of the
//! dashboard and of `bringup check`, and (for exporters) DNS labels. So a
//! name is short and plain: letters, digits, `-` and `_`, at most
//! [`MAX_NAME_LEN`] characters. Two names that give the same port variable
//! (`a-b` and `a_b`, `API` and `api`) would hand a service the wrong port,
//! so that is an error too, naming both.

use std::collections::BTreeMap;

use crate::config::error::Collector;
use crate::config::load::RawServiceEntry;

/// The longest service name. 63 is the longest DNS label (RFC 1035), which
/// is what a name becomes when a stack is exported to compose or
/// Kubernetes; it is also short enough for an environment variable name
/// and a dashboard column, and far below the width at which Rust's
/// formatting gives up (65,535), which is what used to crash `check`.
pub const MAX_NAME_LEN: usize = 63;

/// `BRINGUP_PORT_<NAME>`: upper case, anything but letters and digits as `_`.
pub fn port_variable(name: &str) -> String {
    let name: String = name
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() {
                c.to_ascii_uppercase()
            } else {
                '_'
            }
        })
        .collect();
    format!("BRINGUP_PORT_{name}")
}

/// A name as messages show it: whole if short, else its start and its
/// length, so a 70,000-character name does not flood the terminal.
pub fn shown(name: &str) -> String {
    const SHOWN: usize = 24;
    if name.chars().count() <= MAX_NAME_LEN {
        return name.to_string();
    }
    let start: String = name.chars().take(SHOWN).collect();
    format!("{start}… ({} characters)", name.chars().count())
}

/// Checks every service name, and that no two services with a port get the
/// same `BRINGUP_PORT_<NAME>`.
pub(crate) fn check(services: &[RawServiceEntry], errors: &mut Collector<'_>) {
    for entry in services {
        let name = entry.name.get_ref();
        let key = format!("services.{}", shown(name));
        let length = name.chars().count();
        if name.is_empty() {
            errors.push(
                Some(entry.name.span()),
                key,
                "a service needs a name",
                Some("write a name such as [services.api]".into()),
            );
        } else if length > MAX_NAME_LEN {
            errors.push(
                Some(entry.name.span()),
                key,
                format!(
                    "the service name is {length} characters long; at most {MAX_NAME_LEN} are allowed"
                ),
                Some(
                    "a name becomes an environment variable, a dashboard column and a DNS label; shorten it"
                        .into(),
                ),
            );
        } else if !name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
        {
            errors.push(
                Some(entry.name.span()),
                key,
                format!("invalid service name {name:?}"),
                Some("use letters, digits, `-` and `_`".into()),
            );
        }
    }

    // Only services with a port get a variable, so only they can collide.
    let mut taken: BTreeMap<String, &str> = BTreeMap::new();
    for entry in services.iter().filter(|s| s.raw.port.is_some()) {
        let name = entry.name.get_ref();
        let variable = port_variable(name);
        match taken.get(&variable) {
            Some(first) => errors.push(
                Some(entry.name.span()),
                format!("services.{}", shown(name)),
                format!(
                    "`{}` and `{}` would both get their port as ${variable}, so one of them would see the other's port",
                    shown(first),
                    shown(name)
                ),
                Some(
                    "rename one of them: names that differ only in case or in `-` versus `_` cannot both have a port"
                        .into(),
                ),
            ),
            None => {
                taken.insert(variable, name);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn port_variables_are_upper_case_with_underscores() {
        assert_eq!(port_variable("api"), "BRINGUP_PORT_API");
        assert_eq!(port_variable("auth-db"), "BRINGUP_PORT_AUTH_DB");
        assert_eq!(port_variable("a_b"), port_variable("a-b"));
    }

    #[test]
    fn long_names_are_shown_shortened() {
        assert_eq!(shown("api"), "api");
        let long = "x".repeat(70_000);
        assert_eq!(
            shown(&long),
            format!("{}… (70000 characters)", "x".repeat(24))
        );
    }
}
