//! Finding, reading and deserializing a config file, collecting every error.
//!
//! The file is parsed with toml's recoverable parser, which keeps going past
//! syntax errors and keeps a span on every key and value. Each table is then
//! deserialized into its raw serde struct; when that fails, the error's span
//! says which key was at fault, so the loader records the error, removes the
//! key and tries again. A file therefore reports all of its problems, each
//! at its own line and column, while the types stay plain serde derives.

use std::path::{Path, PathBuf};

use serde::de::DeserializeOwned;
use toml::Spanned;
use toml::de::{DeTable, DeValue, ValueDeserializer};

use crate::config::error::{Collector, LoadError, explain_serde_message, nearest};
use crate::config::raw::{RawProject, RawService, RawUi, TOP_LEVEL_KEYS};

/// Where `bringup` looks when no `-c FILE` is given, in order.
pub const DEFAULT_LOCATIONS: &[&str] = &["bringup.toml", "config/bringup.toml"];

/// Finds the config file: `explicit` if given, else the default locations
/// relative to `dir`.
pub fn discover(explicit: Option<&Path>, dir: &Path) -> Result<PathBuf, LoadError> {
    if let Some(path) = explicit {
        if path.is_file() {
            return Ok(path.to_path_buf());
        }
        return Err(LoadError::NotFound {
            looked: vec![path.to_path_buf()],
        });
    }
    let candidates: Vec<PathBuf> = DEFAULT_LOCATIONS.iter().map(|p| dir.join(p)).collect();
    candidates
        .iter()
        .find(|p| p.is_file())
        .cloned()
        .ok_or(LoadError::NotFound { looked: candidates })
}

/// The raw contents of a file: `[project]` and each `[services.NAME]`.
#[derive(Debug, Default)]
pub(crate) struct RawDocument {
    pub project: RawProject,
    pub services: Vec<RawServiceEntry>,
    pub ui: RawUi,
}

/// One `[services.NAME]` table with its spans.
#[derive(Debug)]
pub(crate) struct RawServiceEntry {
    pub name: Spanned<String>,
    /// The span of the table (its `[services.NAME]` header).
    pub span: std::ops::Range<usize>,
    pub raw: RawService,
}

/// Parses `text` into raw tables, recording every problem in `errors`.
pub(crate) fn parse_document(text: &str, errors: &mut Collector<'_>) -> RawDocument {
    let (document, syntax_errors) = DeTable::parse_recoverable(text);
    for error in syntax_errors {
        errors.push(
            error.span(),
            "",
            format!("TOML syntax: {}", error.message()),
            None,
        );
    }
    let mut raw = RawDocument::default();
    for (key, value) in document.into_inner() {
        match key.get_ref().as_ref() {
            "project" => raw.project = deserialize_table("project", value, errors),
            "services" => raw.services = services(value, errors),
            "ui" => raw.ui = deserialize_table("ui", value, errors),
            other => {
                let help = nearest(other, TOP_LEVEL_KEYS.iter().copied())
                    .map(|n| format!("did you mean `[{n}]`?"));
                errors.push(
                    Some(key.span()),
                    other,
                    "unknown top-level table; expected `[project]`, `[services.NAME]` or `[ui]`",
                    help,
                );
            }
        }
    }
    raw
}

fn services(value: Spanned<DeValue<'_>>, errors: &mut Collector<'_>) -> Vec<RawServiceEntry> {
    let span = value.span();
    let DeValue::Table(table) = value.into_inner() else {
        errors.push(
            Some(span),
            "services",
            "expected tables such as `[services.api]`",
            None,
        );
        return Vec::new();
    };
    table
        .into_iter()
        .map(|(name, value)| {
            let span = value.span();
            let name = Spanned::new(name.span(), name.get_ref().to_string());
            let path = format!("services.{}", name.get_ref());
            let raw = deserialize_table(&path, value, errors);
            RawServiceEntry { name, span, raw }
        })
        .collect()
}

/// Deserializes one table into `T`, dropping each key that fails and
/// recording why, until what is left deserializes.
fn deserialize_table<T: DeserializeOwned + Default>(
    path: &str,
    mut value: Spanned<DeValue<'_>>,
    errors: &mut Collector<'_>,
) -> T {
    if !value.get_ref().is_table() {
        errors.push(
            Some(value.span()),
            path,
            format!("expected a table, found {}", value.get_ref().type_str()),
            None,
        );
        return T::default();
    }
    // Each round removes one key, so this ends after at most len + 1 rounds.
    loop {
        let error = match T::deserialize(ValueDeserializer::from(value.clone())) {
            Ok(parsed) => return parsed,
            Err(error) => error,
        };
        let (message, help) = explain_serde_message(error.message());
        let Some(span) = error.span() else {
            errors.push(Some(value.span()), path, message, help);
            return T::default();
        };
        let mut keys = Vec::new();
        key_path_at(value.get_ref(), &span, &mut keys);
        let key = keys.first().cloned();
        let full_path = std::iter::once(path.to_string())
            .chain(keys)
            .collect::<Vec<_>>()
            .join(".");
        errors.push(Some(span), full_path, message, help);
        let (Some(key), DeValue::Table(table)) = (key, value.get_mut()) else {
            return T::default();
        };
        if table.remove(key.as_str()).is_none() {
            return T::default();
        }
    }
}

/// The chain of keys, outermost first, whose key or value contains `span`.
fn key_path_at(value: &DeValue<'_>, span: &std::ops::Range<usize>, path: &mut Vec<String>) {
    let DeValue::Table(table) = value else {
        return;
    };
    let within = |outer: std::ops::Range<usize>| outer.start <= span.start && span.end <= outer.end;
    for (key, child) in table.iter() {
        if within(key.span()) {
            path.push(key.get_ref().to_string());
            return;
        }
        if within(child.span()) {
            path.push(key.get_ref().to_string());
            key_path_at(child.get_ref(), span, path);
            return;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn problems(text: &str) -> Vec<String> {
        let path = PathBuf::from("t.toml");
        let mut errors = Collector::new(&path, text);
        parse_document(text, &mut errors);
        match errors.finish() {
            Ok(_) => Vec::new(),
            Err(e) => e.errors.iter().map(|e| e.to_string()).collect(),
        }
    }

    #[test]
    fn every_bad_key_is_reported_with_its_place() {
        let text = "[services.api]\ncommand = 'x'\nreadiness = { tcp = true, perod = '1s' }\nport = 70000\nreadyness = 1\n[services.b]\ncommand = 3\n[servics.c]\n";
        let found = problems(text);
        assert_eq!(found.len(), 5, "{found:#?}");
        assert!(
            found[0]
                .starts_with("t.toml:3:27: `services.api.readiness.perod`: unknown key `perod`")
        );
        assert!(found[0].contains("did you mean `period`?"));
        assert!(found[1].starts_with("t.toml:4:8: `services.api.port`"));
        assert!(found[2].contains("`services.api.readyness`: unknown key"));
        assert!(found[2].contains("did you mean `readiness`?"));
        assert!(found[3].starts_with("t.toml:7:11: `services.b.command`"));
        assert!(found[4].contains("did you mean `[services]`?"));
    }

    #[test]
    fn syntax_errors_are_all_reported() {
        let found = problems("a = \n[x\n");
        let syntax: Vec<_> = found.iter().filter(|f| f.contains("TOML syntax")).collect();
        assert_eq!(syntax.len(), 2, "{found:#?}");
        assert!(syntax[0].starts_with("t.toml:1:5:") && syntax[1].starts_with("t.toml:2:3:"));
    }

    #[test]
    fn discovery_names_where_it_looked() {
        let dir = tempfile::tempdir().unwrap();
        let err = discover(None, dir.path()).unwrap_err().to_string();
        assert!(
            err.contains("bringup.toml") && err.contains("config/bringup.toml"),
            "{err}"
        );
        std::fs::create_dir(dir.path().join("config")).unwrap();
        std::fs::write(dir.path().join("config/bringup.toml"), "").unwrap();
        assert_eq!(
            discover(None, dir.path()).unwrap(),
            dir.path().join("config/bringup.toml")
        );
        std::fs::write(dir.path().join("bringup.toml"), "").unwrap();
        assert_eq!(
            discover(None, dir.path()).unwrap(),
            dir.path().join("bringup.toml")
        );
    }
}
