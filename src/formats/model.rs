//! What an importer produces: bringup services as typed values, the
//! warnings about what could not be carried over, and the TOML writer.
//!
//! The model mirrors `bringup.toml`'s keys (see `config::raw`) but only
//! holds what importers write, as plain owned values that serialize with
//! the `toml` crate: no TOML is put together from strings, so quoting is
//! always right. Comments are the one thing TOML serializers do not write,
//! so [`Imported::to_toml`] serializes each service on its own and puts
//! the warnings about it as `#` lines above its table.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde::Serialize;

use crate::config::ConfigError;

/// An imported stack.
#[derive(Debug, Default)]
pub struct Imported {
    /// The source file, for messages and the header comment.
    pub source: PathBuf,
    pub format_name: &'static str,
    pub project: Project,
    /// In source order.
    pub services: Vec<(String, Service)>,
    /// What could not be carried over, each at its place in the source;
    /// `key` is `services.NAME...` when it belongs to one service.
    pub warnings: Vec<ConfigError>,
}

#[derive(Debug, Default, Serialize)]
pub struct Project {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub env_file: Option<Vec<String>>,
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub env: BTreeMap<String, String>,
}

/// One `[services.NAME]`.
#[derive(Debug, Default, Clone, Serialize)]
pub struct Service {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub kind: Option<&'static str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub command: Option<Command>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cwd: Option<String>,
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub env: BTreeMap<String, String>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub env_file: Vec<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub autostart: Option<bool>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub optional: Option<bool>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub port: Option<Port>,
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub depends_on: BTreeMap<String, &'static str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub readiness: Option<Probe>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub liveness: Option<Probe>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ready_timeout: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub restart: Option<&'static str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub max_restarts: Option<u32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub backoff: Option<Backoff>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub stop_signal: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub stop_grace: Option<String>,
}

/// `command = "shell string"` or `command = ["argv", "array"]`.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(untagged)]
pub enum Command {
    Shell(String),
    Argv(Vec<String>),
}

impl Command {
    /// A shell string with `${` escaped (see [`crate::formats::escape_templates`]).
    pub fn shell(text: &str) -> Command {
        Command::Shell(crate::formats::escape_templates(text))
    }

    /// An argument array, each with `${` escaped.
    pub fn argv(args: &[String]) -> Command {
        Command::Argv(
            args.iter()
                .map(|a| crate::formats::escape_templates(a))
                .collect(),
        )
    }

    /// The same command as a shell string, so more shell can go around it.
    pub fn into_shell(self) -> String {
        match self {
            Command::Shell(text) => text,
            Command::Argv(args) => shell_words::join(args),
        }
    }
}

/// A service whose command could not be imported: it is kept (nothing is
/// dropped) but not started, and says why when started by hand.
pub fn placeholder(name: &str) -> Service {
    let message =
        format!("{name}: no command could be imported; see the comments above it in bringup.toml");
    Service {
        command: Some(Command::Argv(vec![
            "sh".into(),
            "-c".into(),
            "echo \"$1\" >&2; exit 1".into(),
            "sh".into(),
            message,
        ])),
        autostart: Some(false),
        ..Service::default()
    }
}

#[derive(Debug, Clone, Serialize)]
#[serde(untagged)]
pub enum Port {
    Number(u16),
    /// `"auto"`.
    Word(&'static str),
}

/// `tcp = true` (the service's own port) or `tcp = "host:port"`.
#[derive(Debug, Clone, Serialize)]
#[serde(untagged)]
pub enum Tcp {
    Own(bool),
    Address(String),
}

#[derive(Debug, Default, Clone, Serialize)]
pub struct Backoff {
    pub initial: String,
}

/// A readiness or liveness check.
#[derive(Debug, Default, Clone, Serialize)]
pub struct Probe {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub tcp: Option<Tcp>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub http: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub status: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub exec: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub log: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub period: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub timeout: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub failure_threshold: Option<u32>,
}

/// Seconds as a bringup duration ("1500ms", "10s").
pub fn seconds(value: f64) -> String {
    let millis = (value * 1000.0).round().clamp(0.0, 86_400_000.0) as u64;
    if millis.is_multiple_of(1000) {
        format!("{}s", millis / 1000)
    } else {
        format!("{millis}ms")
    }
}

impl Imported {
    pub fn new(source: &Path, format_name: &'static str) -> Self {
        Imported {
            source: source.to_path_buf(),
            format_name,
            ..Imported::default()
        }
    }

    /// Records that something at `line:column` was not carried over.
    pub fn warn(&mut self, key: impl Into<String>, line: usize, column: usize, message: String) {
        self.warnings.push(ConfigError {
            file: self.source.clone(),
            span: None,
            line,
            column,
            key: key.into(),
            message,
            help: None,
        });
    }

    /// The bringup.toml text, with the warnings as comments.
    pub fn to_toml(&self) -> Result<String, toml::ser::Error> {
        let mut out = format!(
            "# Imported from {} ({}) by `bringup import`.\n",
            self.source.display(),
            self.format_name
        );
        let general: Vec<&ConfigError> = self
            .warnings
            .iter()
            .filter(|w| !w.key.starts_with("services."))
            .collect();
        comments(&mut out, &general);
        if self.project.name.is_some()
            || self.project.env_file.is_some()
            || !self.project.env.is_empty()
        {
            out.push('\n');
            out.push_str(&table("project", &self.project)?);
        }
        for (name, service) in &self.services {
            out.push('\n');
            let prefix = format!("services.{name}");
            let own: Vec<&ConfigError> = self
                .warnings
                .iter()
                .filter(|w| w.key == prefix || w.key.starts_with(&format!("{prefix}.")))
                .collect();
            comments(&mut out, &own);
            let mut services = toml::Table::new();
            services.insert(name.clone(), toml::Value::try_from(service)?);
            let mut root = toml::Table::new();
            root.insert("services".into(), toml::Value::Table(services));
            out.push_str(&toml::to_string(&root)?);
        }
        Ok(out)
    }
}

fn table<T: Serialize>(name: &str, value: &T) -> Result<String, toml::ser::Error> {
    let mut root = toml::Table::new();
    root.insert(name.into(), toml::Value::try_from(value)?);
    toml::to_string(&root)
}

fn comments(out: &mut String, warnings: &[&ConfigError]) {
    for warning in warnings {
        let text = format!("line {}: {}", warning.line, warning.message);
        // A warning quoting the source must not end the comment early.
        for line in text.lines() {
            out.push_str("# NOT CARRIED OVER: ");
            out.push_str(&crate::ansi::plain(line));
            out.push('\n');
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn warnings_become_comments_above_their_service() {
        let mut imported = Imported::new(Path::new("Procfile"), "Procfile");
        let service = Service {
            command: Some(Command::Shell("echo \"hi\"\nthere".into())),
            ..Service::default()
        };
        imported.services.push(("web".into(), service));
        imported.warn("services.web", 3, 1, "odd\nthing".into());
        let text = imported.to_toml().unwrap();
        assert!(
            text.contains(
                "# NOT CARRIED OVER: line 3: odd\n# NOT CARRIED OVER: thing\n[services.web]"
            ),
            "{text}"
        );
        let parsed: toml::Table = toml::from_str(&text).unwrap();
        assert_eq!(
            parsed["services"]["web"]["command"].as_str(),
            Some("echo \"hi\"\nthere")
        );
        assert_eq!(seconds(1.5), "1500ms");
        assert_eq!(seconds(10.0), "10s");
    }
}
