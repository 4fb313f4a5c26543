//! Procfile (foreman, honcho, overmind): `name: command` lines.
//!
//! The rules those tools share: a line is `NAME: COMMAND` with a name of
//! letters, digits, `_` and `-`; blank lines and `#` comments are skipped;
//! the command is a shell string run with `$PORT` set. Here:
//!
//! - Each entry becomes a service running its command through `sh -c`, as
//!   the Procfile tools do. An entry that uses `$PORT` (or `${PORT}`) gets
//!   `port = "auto"` — bringup sets `PORT` to a free port, as foreman does
//!   from 5000 — and `readiness = { tcp = true }`, since a process given a
//!   port is there to listen on it.
//! - Leading `KEY=value` words (`RUST_LOG=debug cargo run`) move to the
//!   service's `env` when the value is plain; a value with quotes or `$`
//!   stays in the command, where the shell handles it as before.
//! - `release:` (Heroku's release phase, run before a release's processes
//!   start) becomes a task that every other entry waits for to complete.
//! - Tabs, other spaces, a non-breaking space, CR line ends and a BOM
//!   around names and commands are trimmed; a non-breaking space inside a
//!   command is warned about, since the shell would take it as part of a
//!   word. A line that is not an entry is warned about, never dropped
//!   silently (foreman ignores it without a word).

use std::path::Path;

use crate::config::ConfigErrors;
use crate::formats::model::{Command, Imported, Port, Probe, Service, Tcp};
use crate::formats::{Names, error};

const NBSP: char = '\u{a0}';

pub fn import(path: &Path, text: &str) -> Result<Imported, ConfigErrors> {
    // No command, argument or environment value can hold a NUL byte: say
    // where it is, as the YAML formats do.
    if let Some((index, line)) = text.lines().enumerate().find(|(_, l)| l.contains('\0')) {
        let column = line
            .find('\0')
            .map_or(0, |byte| line[..byte].chars().count())
            + 1;
        return Err(error(
            path,
            text,
            index + 1,
            column,
            "contains a NUL byte (\\0), which no command or value can hold".into(),
        ));
    }
    let mut out = Imported::new(path, "Procfile");
    let mut names = Names::default();
    let mut release: Option<String> = None;
    for (index, raw_line) in text.lines().enumerate() {
        let line_no = index + 1;
        let line = raw_line.trim_start_matches('\u{feff}');
        let trimmed = line.trim();
        if trimmed.is_empty() || trimmed.starts_with('#') {
            continue;
        }
        let Some((name, command)) = split_entry(trimmed) else {
            out.warn(
                "",
                line_no,
                1,
                format!("not a `name: command` entry, skipped: {}", shorten(trimmed)),
            );
            continue;
        };
        if command.is_empty() {
            out.warn("", line_no, 1, format!("`{name}` has no command, skipped"));
            continue;
        }
        let service_name = names.claim_for(&mut out, name, line_no, 1);
        if let Some(column) = command.find(NBSP) {
            let column = line.find(command).unwrap_or(0) + command[..column].chars().count() + 1;
            out.warn(
                format!("services.{service_name}"),
                line_no,
                column,
                "a non-breaking space (U+00A0) inside the command is not a space to the shell; kept as written".into(),
            );
        }
        let (env, command) = env_prefix(command);
        let uses_port = uses_port(command);
        let mut service = Service {
            command: Some(Command::shell(command)),
            env,
            ..Service::default()
        };
        if uses_port {
            service.port = Some(Port::Word("auto"));
            service.readiness = Some(Probe {
                tcp: Some(Tcp::Own(true)),
                ..Probe::default()
            });
        }
        if name == "release" {
            service.kind = Some("task");
            release = Some(service_name.clone());
        }
        out.services.push((service_name, service));
    }
    if out.services.is_empty() {
        return Err(error(
            path,
            text,
            1,
            1,
            "no entries found; a Procfile line is `name: command`".into(),
        ));
    }
    if let Some(release) = release {
        for (name, service) in &mut out.services {
            if *name != release {
                service.depends_on.insert(release.clone(), "completed");
            }
        }
    }
    Ok(out)
}

/// `NAME: COMMAND` → (name, command), both trimmed.
fn split_entry(line: &str) -> Option<(&str, &str)> {
    let (name, command) = line.split_once(':')?;
    let name = name.trim();
    let valid = !name.is_empty()
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-');
    valid.then(|| (name, command.trim()))
}

/// Leading plain `KEY=value` words, and the rest of the command.
fn env_prefix(command: &str) -> (std::collections::BTreeMap<String, String>, &str) {
    let mut env = std::collections::BTreeMap::new();
    let mut rest = command;
    loop {
        let word_end = rest.find(char::is_whitespace).unwrap_or(rest.len());
        let word = &rest[..word_end];
        let Some((key, value)) = word.split_once('=') else {
            break;
        };
        let key_ok = !key.is_empty()
            && !key.starts_with(|c: char| c.is_ascii_digit())
            && key.chars().all(|c| c.is_ascii_alphanumeric() || c == '_');
        let value_ok = value
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "_-./:@%+,=".contains(c));
        let after = rest[word_end..].trim_start();
        if !key_ok || !value_ok || after.is_empty() {
            break;
        }
        env.insert(key.to_string(), value.to_string());
        rest = after;
    }
    (env, rest)
}

/// `$PORT`, `${PORT}` or `${PORT:-5000}`, but not `$PORTS`.
fn uses_port(command: &str) -> bool {
    command.match_indices('$').any(|(at, _)| {
        let rest = &command[at + 1..];
        let rest = rest.strip_prefix('{').unwrap_or(rest);
        rest.strip_prefix("PORT").is_some_and(|after| {
            !after.starts_with(|c: char| c.is_ascii_alphanumeric() || c == '_')
        })
    })
}

fn shorten(text: &str) -> String {
    let short: String = text.chars().take(60).collect();
    if short.len() < text.len() {
        format!("{short}…")
    } else {
        short
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn port_uses() {
        assert!(uses_port("x -p $PORT") && uses_port("x ${PORT:-5000}") && uses_port("${PORT}"));
        assert!(!uses_port("x $PORTS") && !uses_port("PORT=1 x"));
    }

    #[test]
    fn env_prefixes_move_only_when_plain() {
        let (env, rest) = env_prefix("RUST_LOG=debug A=1 cargo run");
        assert_eq!(env.len(), 2);
        assert_eq!(rest, "cargo run");
        let (env, rest) = env_prefix("A=\"x y\" run");
        assert!(env.is_empty());
        assert_eq!(rest, "A=\"x y\" run");
        let (env, rest) = env_prefix("A=1");
        assert!(env.is_empty() && rest == "A=1");
    }
}
