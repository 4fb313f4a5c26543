//! mprocs (`mprocs.yaml`, `.yml`, `.json`): the `procs` table.
//!
//! An entry is a string (a shell command) or a mapping with `shell` (a
//! shell string) or `cmd` (an argument array), `cwd` (`<CONFIG_DIR>` is
//! the config's directory, which is where bringup resolves `cwd` from
//! too), `env` (a `null` value unsets the variable: the command is
//! prefixed with `unset NAME;`, since bringup's `env` can only set),
//! `autostart` (→ `autostart`), `autorestart` (→ `restart = "always"`,
//! else `"never"`: mprocs leaves an exited process down) and `stop`
//! (a signal → `stop_signal`; `hard-kill` → `SIGKILL`). Everything else,
//! and mprocs' own settings beside `procs` (keymaps, scrollback, the
//! server), is a warning at its line.

use std::path::Path;

use crate::config::ConfigErrors;
use crate::formats::model::{Command, Imported, Service, placeholder};
use crate::formats::yaml::{Entry, Node, Value};
use crate::formats::{Names, load_yaml, section};

pub fn import(path: &Path, text: &str) -> Result<Imported, ConfigErrors> {
    let root = load_yaml(path, text)?;
    let mut out = Imported::new(path, "mprocs");
    let entries = section(path, text, &root, "procs", "process")?;
    for entry in root.as_map().unwrap_or_default() {
        if entry.key != "procs" {
            out.warn(
                entry.key.clone(),
                entry.key_at.line,
                entry.key_at.column,
                format!("mprocs setting `{}` has no bringup equivalent", entry.key),
            );
        }
    }
    let mut names = Names::default();
    for entry in entries {
        let name = names.claim_for(&mut out, &entry.key, entry.key_at.line, entry.key_at.column);
        let service = proc(&mut out, &name, entry);
        out.services.push((name, service));
    }
    Ok(out)
}

fn proc(out: &mut Imported, name: &str, entry: &Entry) -> Service {
    let prefix = format!("services.{name}");
    let node = &entry.value;
    if let Value::Scalar { text, .. } = &node.value
        && !node.is_null()
    {
        return Service {
            command: Some(Command::shell(text)),
            restart: Some("never"),
            ..Service::default()
        };
    }
    let Some(keys) = node.as_map() else {
        out.warn(
            prefix,
            node.at.line,
            node.at.column,
            format!(
                "expected a command or a mapping, found {}; kept as a service that is not started",
                node.kind()
            ),
        );
        return placeholder(name);
    };
    let mut service = Service {
        restart: Some("never"),
        ..Service::default()
    };
    let mut unset = Vec::new();
    for key in keys {
        let value = &key.value;
        let bad = |out: &mut Imported, what: &str| {
            out.warn(
                format!("{prefix}.{}", key.key),
                value.at.line,
                value.at.column,
                format!("`{}` {what}; not carried over", key.key),
            );
        };
        match key.key.as_str() {
            "shell" => match value.as_str() {
                Some(text) => service.command = Some(Command::shell(text)),
                None => bad(out, "is not a string (per-OS `$select` is not imported)"),
            },
            "cmd" => match strings(value) {
                Some(args) if !args.is_empty() => service.command = Some(Command::argv(&args)),
                _ => bad(out, "is not a list of strings"),
            },
            "cwd" => match value.as_str() {
                Some(text) => {
                    let text = text.replace("<CONFIG_DIR>", ".");
                    service.cwd = Some(crate::formats::escape_templates(&text));
                }
                None => bad(out, "is not a string"),
            },
            "env" => match value.as_map() {
                Some(vars) => {
                    for var in vars {
                        match var.value.as_str() {
                            Some(v) => {
                                let v = crate::formats::escape_templates(v);
                                service.env.insert(var.key.clone(), v);
                            }
                            None if var.value.is_null() => unset.push(var.key.clone()),
                            None => bad(out, "has a value that is not a string"),
                        }
                    }
                }
                None => bad(out, "is not a mapping"),
            },
            "autostart" => match value.as_bool() {
                Some(false) => service.autostart = Some(false),
                Some(true) => {}
                None => bad(out, "is not true or false"),
            },
            "autorestart" => match value.as_bool() {
                Some(true) => service.restart = Some("always"),
                Some(false) => {}
                None => bad(out, "is not true or false"),
            },
            "stop" => match value.as_str() {
                Some("hard-kill") => service.stop_signal = Some("SIGKILL".into()),
                Some(signal @ ("SIGINT" | "SIGTERM" | "SIGKILL")) => {
                    service.stop_signal = Some(signal.into());
                }
                _ => bad(out, "(sending keys to stop) has no bringup equivalent"),
            },
            other => {
                let other = other.to_string();
                bad(
                    out,
                    &format!("(unknown to the importer: `{other}`) is not a bringup key"),
                );
            }
        }
    }
    let Some(command) = service.command.take() else {
        out.warn(
            prefix,
            entry.key_at.line,
            entry.key_at.column,
            "has no `shell` or `cmd`; kept as a service that is not started".into(),
        );
        return placeholder(name);
    };
    service.command = Some(if unset.is_empty() {
        command
    } else {
        // bringup's `env` only sets variables; the shell unsets them.
        let names: Vec<String> = unset
            .iter()
            .map(|n| shell_words::quote(n).into_owned())
            .collect();
        Command::Shell(format!(
            "unset {}; {}",
            names.join(" "),
            command.into_shell()
        ))
    });
    service
}

/// A list of scalars as strings.
pub(crate) fn strings(node: &Node) -> Option<Vec<String>> {
    node.as_seq()?
        .iter()
        .map(|item| item.as_str().map(str::to_string))
        .collect()
}
