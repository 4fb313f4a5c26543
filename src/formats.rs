//! Other tools' config files, imported as bringup configs: a Procfile
//! (foreman, honcho, overmind), `mprocs.yaml`, `process-compose.yaml` and a
//! docker compose file.
//!
//! Each importer reads its format into the small typed model of
//! [`model`] — bringup services, plus a warning at its source line for
//! every key that cannot be carried over — and [`Imported::to_toml`]
//! writes that as `bringup.toml`, each warning also left as a comment
//! above its service. The written text then goes through the normal
//! loading and validation (`config::load_str`), both for `bringup import`
//! and for `bringup up -c Procfile`, which imports in memory
//! ([`load_foreign`]); so an import can never produce a config that the
//! rest of bringup would read differently.
//!
//! Rules every importer keeps: every entry of the source becomes a service
//! (names are made valid and unique, with a warning when changed);
//! nothing is dropped without a warning; `${` in imported text is escaped
//! as `$${`, since it means a bringup template but was a shell expansion
//! in the source; bad input is a located error (file:line:col), never a
//! panic. The YAML formats share one loader ([`yaml`]) that resolves
//! anchors, aliases and merge keys and keeps every key's place.

pub mod compose;
pub mod model;
pub mod mprocs;
pub mod process_compose;
mod process_compose_vars;
pub mod procfile;
pub mod yaml;

use std::path::Path;

pub use model::Imported;

use crate::config::{ConfigError, ConfigErrors, MAX_NAME_LEN, port_variable};

/// The formats bringup imports.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Format {
    Procfile,
    Mprocs,
    #[value(name = "process-compose")]
    ProcessCompose,
    Compose,
}

impl Format {
    pub fn name(self) -> &'static str {
        match self {
            Format::Procfile => "Procfile",
            Format::Mprocs => "mprocs",
            Format::ProcessCompose => "process-compose",
            Format::Compose => "docker compose",
        }
    }
}

/// Which format `path` holding `text` is, from its name and then its
/// content; `None` for a bringup TOML file (or anything else).
pub fn detect(path: &Path, text: &str) -> Option<Format> {
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().to_ascii_lowercase())
        .unwrap_or_default();
    if name.ends_with(".toml") {
        return None;
    }
    if name == "procfile" || name.starts_with("procfile.") || name.ends_with(".procfile") {
        return Some(Format::Procfile);
    }
    if name.starts_with("mprocs.") {
        return Some(Format::Mprocs);
    }
    if name.starts_with("process-compose") {
        return Some(Format::ProcessCompose);
    }
    let yamlish = [".yaml", ".yml", ".json"].iter().any(|e| name.ends_with(e));
    if !yamlish {
        return None;
    }
    // By content: the top-level key that each format is built around.
    let root = yaml::load(text).ok()?;
    if root.get("processes").is_some() {
        Some(Format::ProcessCompose)
    } else if root.get("procs").is_some() {
        Some(Format::Mprocs)
    } else if root.get("services").is_some() {
        Some(Format::Compose)
    } else {
        None
    }
}

/// Imports `text`, the contents of `path`, as `format`.
pub fn import(path: &Path, text: &str, format: Format) -> Result<Imported, ConfigErrors> {
    match format {
        Format::Procfile => procfile::import(path, text),
        Format::Mprocs => mprocs::import(path, text),
        Format::ProcessCompose => process_compose::import(path, text),
        Format::Compose => compose::import(path, text),
    }
}

/// Imports `path` when it is another tool's file: the bringup.toml text
/// and the warnings, or `Ok(None)` for a bringup file.
pub fn load_foreign(
    path: &Path,
    text: &str,
) -> Result<Option<(String, Vec<ConfigError>)>, ConfigErrors> {
    let Some(format) = detect(path, text) else {
        return Ok(None);
    };
    let imported = import(path, text, format)?;
    let toml = imported
        .to_toml()
        .map_err(|e| error(path, text, 1, 1, format!("cannot write the import: {e}")))?;
    Ok(Some((toml, imported.warnings)))
}

/// Reads and validates the config at `path`, importing it in memory first
/// when it is a Procfile, mprocs, process-compose or compose file
/// (`bringup up -c Procfile`); the import's warnings come with the plan's.
pub fn load_file(path: &Path) -> Result<crate::config::Plan, crate::config::LoadError> {
    crate::config::load_file_with(path, &load_foreign)
}

/// A located error in `path`, as the config loader reports them.
pub(crate) fn error(
    path: &Path,
    text: &str,
    line: usize,
    column: usize,
    message: String,
) -> ConfigErrors {
    ConfigErrors {
        file: path.to_path_buf(),
        source_text: text.to_string(),
        errors: vec![ConfigError {
            file: path.to_path_buf(),
            span: None,
            line,
            column,
            key: String::new(),
            message,
            help: None,
        }],
    }
}

/// Loads a YAML/JSON source, its errors located in `path`.
pub(crate) fn load_yaml(path: &Path, text: &str) -> Result<yaml::Node, ConfigErrors> {
    yaml::load(text).map_err(|e| error(path, text, e.at.line, e.at.column, e.message))
}

/// `${` means a bringup template; in imported text it was the shell's.
pub fn escape_templates(text: &str) -> String {
    text.replace("${", "$${")
}

/// Hands out valid, distinct service names.
#[derive(Debug, Default)]
pub struct Names {
    /// The port variables of the names handed out (two names clash when
    /// theirs do).
    taken: std::collections::HashSet<String>,
}

impl Names {
    /// A bringup name for `wanted`: letters, digits, `-` and `_` only, at
    /// most [`MAX_NAME_LEN`] long, and not clashing with one handed out
    /// before (not even by its port variable). `Err` holds the name and
    /// why it differs from `wanted`.
    pub fn claim(&mut self, wanted: &str) -> Result<String, (String, String)> {
        let mut base: String = wanted
            .chars()
            .map(|c| {
                if c.is_ascii_alphanumeric() || c == '-' || c == '_' {
                    c
                } else {
                    '-'
                }
            })
            .take(MAX_NAME_LEN - 4)
            .collect::<String>()
            // A name that starts with `-` reads as an option on the
            // command line (`bringup restart -n-`).
            .trim_start_matches('-')
            .to_string();
        if base.is_empty() {
            base = "service".into();
        }
        let mut name = base.clone();
        let mut n = 2;
        while self.taken.contains(&port_variable(&name)) {
            name = format!("{base}-{n}");
            n += 1;
        }
        self.taken.insert(port_variable(&name));
        if name == wanted {
            Ok(name)
        } else if name.len() < wanted.len() || base != wanted {
            let why =
                format!("`{wanted}` is not a valid bringup service name; imported as `{name}`");
            Err((name, why))
        } else {
            let why = format!("`{wanted}` is taken by another entry; imported as `{name}`");
            Err((name, why))
        }
    }
}

impl Names {
    /// [`Names::claim`], warning in `out` at `line:column` when the name
    /// had to change.
    pub fn claim_for(
        &mut self,
        out: &mut Imported,
        wanted: &str,
        line: usize,
        column: usize,
    ) -> String {
        match self.claim(wanted) {
            Ok(name) => name,
            Err((name, why)) => {
                out.warn(format!("services.{name}"), line, column, why);
                name
            }
        }
    }
}

/// The mapping under `key` of a YAML file's root (`services`, `procs`,
/// `processes`), or a located error saying what was expected.
pub(crate) fn section<'a>(
    path: &Path,
    text: &str,
    root: &'a yaml::Node,
    key: &str,
    what: &str,
) -> Result<&'a [yaml::Entry], ConfigErrors> {
    let node = root.get(key);
    node.and_then(yaml::Node::as_map).ok_or_else(|| {
        let at = node.map_or(root.at, |n| n.at);
        error(
            path,
            text,
            at.line,
            at.column,
            format!("expected `{key}:` with one entry per {what}"),
        )
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_made_valid_and_unique() {
        let mut names = Names::default();
        assert_eq!(names.claim("web"), Ok("web".into()));
        assert_eq!(names.claim("web").unwrap_err().0, "web-2");
        assert_eq!(names.claim("my app.v1").unwrap_err().0, "my-app-v1");
        // `WEB-2` would share `web-2`'s port variable.
        assert_eq!(names.claim("WEB").unwrap_err().0, "WEB-3");
        // Never a name that reads as an option.
        assert_eq!(names.claim("ünï").unwrap_err().0, "n-");
        assert_eq!(names.claim("--").unwrap_err().0, "service");
    }

    #[test]
    fn detection_by_name_then_content() {
        let d = |n: &str, t: &str| detect(Path::new(n), t);
        assert_eq!(d("Procfile", ""), Some(Format::Procfile));
        assert_eq!(d("Procfile.dev", ""), Some(Format::Procfile));
        assert_eq!(d("mprocs.json", "{}"), Some(Format::Mprocs));
        assert_eq!(
            d("process-compose.override.yml", ""),
            Some(Format::ProcessCompose)
        );
        assert_eq!(
            d("compose.yaml", "processes: {}\n"),
            Some(Format::ProcessCompose)
        );
        assert_eq!(d("compose.yaml", "services: {}\n"), Some(Format::Compose));
        assert_eq!(
            d("docker-compose.yml", "services:\n  a: {}\n"),
            Some(Format::Compose)
        );
        assert_eq!(d("bringup.toml", "[services.a]\n"), None);
        assert_eq!(d("stack.yaml", "other: 1\n"), None);
    }
}
