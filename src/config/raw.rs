//! The raw serde model of `bringup.toml`: what the file says, before any
//! meaning is checked.
//!
//! Every field is optional here, even `command`: the loader deserializes a
//! table, and when one key is wrong it records the error, drops that key and
//! tries again, so that one file reports all of its problems at once. A field
//! that were required would turn "`command` has the wrong type" into a second,
//! misleading "missing `command`". Presence is checked in `validate`.
//!
//! Values whose meaning is checked later (durations, names, templates) keep
//! their source span (`Spanned`) so those errors point at the right place.
//!
//! The same types give `bringup schema` its JSON Schema (schemars), so the
//! schema editors see cannot drift from what the loader accepts: a
//! `Spanned<T>` field says `#[schemars(with = "T")]`, and `deny_unknown_fields`
//! becomes `additionalProperties: false`. [`RawConfig`] is the whole file as
//! the schema sees it (the loader reads the top level by hand).

use std::collections::BTreeMap;

use schemars::JsonSchema;
use serde::Deserialize;
use toml::Spanned;

/// `[project]`: settings and defaults for every service.
#[derive(Debug, Default, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RawProject {
    pub name: Option<String>,
    pub max_parallel_starts: Option<usize>,
    #[schemars(with = "Option<BTreeMap<String, String>>")]
    pub env: Option<BTreeMap<String, Spanned<String>>>,
    #[schemars(with = "Option<OneOrMany>")]
    pub env_file: Option<Spanned<OneOrMany>>,
    #[schemars(with = "Option<String>")]
    pub ready_timeout: Option<Spanned<String>>,
    #[schemars(with = "Option<String>")]
    pub dependency_timeout: Option<Spanned<String>>,
    #[schemars(with = "Option<String>")]
    pub stop_grace: Option<Spanned<String>>,
    pub restart: Option<RawRestart>,
    pub max_restarts: Option<u32>,
    pub backoff: Option<RawBackoff>,
    pub log_lines: Option<usize>,
    #[schemars(with = "Option<String>")]
    pub port_range: Option<Spanned<String>>,
    /// Apply edits of the config while the stack runs (default true).
    pub reload: Option<bool>,
}

/// `[services.NAME]`.
#[derive(Debug, Default, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RawService {
    #[schemars(with = "Option<RawCommand>")]
    pub command: Option<Spanned<RawCommand>>,
    #[schemars(with = "Option<String>")]
    pub cwd: Option<Spanned<String>>,
    #[schemars(with = "Option<BTreeMap<String, String>>")]
    pub env: Option<BTreeMap<String, Spanned<String>>>,
    #[schemars(with = "Option<OneOrMany>")]
    pub env_file: Option<Spanned<OneOrMany>>,
    pub kind: Option<RawKind>,
    pub optional: Option<bool>,
    /// `false`: defined but not started with the stack (`bringup start NAME`).
    pub autostart: Option<bool>,
    pub depends_on: Option<DependsOn>,
    #[schemars(with = "Option<RawProbe>")]
    pub readiness: Option<Spanned<RawProbe>>,
    #[schemars(with = "Option<RawProbe>")]
    pub liveness: Option<Spanned<RawProbe>>,
    #[schemars(with = "Option<String>")]
    pub ready_timeout: Option<Spanned<String>>,
    #[schemars(with = "Option<String>")]
    pub dependency_timeout: Option<Spanned<String>>,
    pub restart: Option<RawRestart>,
    pub max_restarts: Option<u32>,
    pub backoff: Option<RawBackoff>,
    #[schemars(with = "Option<String>")]
    pub stop_signal: Option<Spanned<String>>,
    #[schemars(with = "Option<String>")]
    pub stop_grace: Option<Spanned<String>>,
    #[schemars(with = "Option<RawPort>")]
    pub port: Option<Spanned<RawPort>>,
    #[schemars(with = "Option<Vec<u16>>")]
    pub fallback_ports: Option<Spanned<Vec<u16>>>,
    #[schemars(with = "Option<String>")]
    pub host: Option<Spanned<String>>,
    pub on_conflict: Option<RawOnConflict>,
    #[schemars(with = "Option<bool>")]
    pub listen: Option<Spanned<bool>>,
    #[schemars(with = "Option<bool>")]
    pub check_port_owner: Option<Spanned<bool>>,
    /// Globs (relative to `cwd`) whose changes restart the service.
    #[schemars(with = "Option<Vec<String>>")]
    pub watch: Option<Spanned<Vec<Spanned<String>>>>,
    /// Globs (relative to `cwd`) whose changes never restart it.
    #[schemars(with = "Option<Vec<String>>")]
    pub watch_ignore: Option<Spanned<Vec<Spanned<String>>>>,
    /// The container image `bringup export` runs the service in (e.g.
    /// "postgres:16"); ignored when bringup runs the service itself.
    #[schemars(with = "Option<String>")]
    pub image: Option<Spanned<String>>,
    /// How `bringup export compose` builds the image: a directory, or
    /// `{ context = "dir", dockerfile = "Dockerfile.dev" }`; ignored locally.
    #[schemars(with = "Option<RawBuild>")]
    pub build: Option<Spanned<RawBuild>>,
}

/// `build = "dir"` or `build = { context = "dir", dockerfile = "file" }`.
#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(
    untagged,
    expecting = "a directory, or a table such as { context = \"api\", dockerfile = \"Dockerfile\" }"
)]
pub enum RawBuild {
    Context(String),
    Table(RawBuildTable),
}

/// The table form of `build`.
#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RawBuildTable {
    /// The build context, relative to the config file's directory.
    pub context: String,
    /// The Dockerfile, relative to the context.
    pub dockerfile: Option<String>,
}

/// `port = 8000` or `port = "auto"`.
#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(untagged, expecting = "a port number (1-65535) or \"auto\"")]
pub enum RawPort {
    Number(u16),
    Word(String),
}

#[derive(Debug, Clone, Copy, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum RawOnConflict {
    Fallback,
    Fail,
    Adopt,
}

/// `command = "shell string"` or `command = ["argv", "array"]`.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(
    untagged,
    expecting = "a shell command string or an array of arguments"
)]
pub enum RawCommand {
    Shell(String),
    Argv(Vec<String>),
}

/// A single string or a list of strings (`env_file`).
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(untagged, expecting = "a file name or an array of file names")]
pub enum OneOrMany {
    One(String),
    Many(Vec<String>),
}

impl OneOrMany {
    pub fn to_vec(&self) -> Vec<String> {
        match self {
            OneOrMany::One(one) => vec![one.clone()],
            OneOrMany::Many(many) => many.clone(),
        }
    }
}

/// `depends_on = { db = "required" }`, or the short list form
/// `depends_on = ["db", "cache"]` meaning all required. An entry of the
/// table may also be long: `db = { kind = "required", restart = true }`.
///
/// Deserialized by hand: serde's untagged enums buffer their input, which
/// loses the spans the names need for error messages.
#[derive(Debug)]
pub enum DependsOn {
    Table(Vec<(Spanned<String>, Spanned<RawDep>)>),
    List(Vec<Spanned<String>>),
}

impl<'de> Deserialize<'de> for DependsOn {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct Visitor;
        impl<'de> serde::de::Visitor<'de> for Visitor {
            type Value = DependsOn;

            fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str(
                    "a table such as { database = \"required\" } or a list of service names",
                )
            }

            fn visit_map<A: serde::de::MapAccess<'de>>(
                self,
                mut map: A,
            ) -> Result<DependsOn, A::Error> {
                let mut entries = Vec::new();
                while let Some(entry) = map.next_entry()? {
                    entries.push(entry);
                }
                Ok(DependsOn::Table(entries))
            }

            fn visit_seq<A: serde::de::SeqAccess<'de>>(
                self,
                mut seq: A,
            ) -> Result<DependsOn, A::Error> {
                let mut names = Vec::new();
                while let Some(name) = seq.next_element()? {
                    names.push(name);
                }
                Ok(DependsOn::List(names))
            }
        }
        deserializer.deserialize_any(Visitor)
    }
}

/// The schema of `depends_on`: a table of service names to kinds, or a
/// list of names (written by hand, as the deserializer is).
impl JsonSchema for DependsOn {
    fn schema_name() -> std::borrow::Cow<'static, str> {
        "DependsOn".into()
    }

    fn json_schema(generator: &mut schemars::SchemaGenerator) -> schemars::Schema {
        let kind = generator.subschema_for::<RawDep>();
        schemars::json_schema!({
            "description": "The services this one waits for: { db = \"required\" }, or a list of names (all required).",
            "anyOf": [
                { "type": "object", "additionalProperties": kind },
                { "type": "array", "items": { "type": "string" } }
            ]
        })
    }
}

/// One entry of the `depends_on` table: `"required"`, or the long form
/// `{ kind = "required", restart = true }` (`restart`: restart the
/// dependent once this dependency restarted and is ready again).
#[derive(Debug, Clone, Copy)]
pub struct RawDep {
    pub kind: RawDepKind,
    pub restart: bool,
}

/// The long form of a `depends_on` entry, as written.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawDepLong {
    kind: Option<RawDepKind>,
    restart: Option<bool>,
}

impl<'de> Deserialize<'de> for RawDep {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct Visitor;
        impl<'de> serde::de::Visitor<'de> for Visitor {
            type Value = RawDep;

            fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str(
                    "one of \"required\", \"optional\", \"soft\", \"completed\", or a table such as { kind = \"required\", restart = true }",
                )
            }

            fn visit_str<E: serde::de::Error>(self, word: &str) -> Result<RawDep, E> {
                let kind = RawDepKind::deserialize(serde::de::value::StrDeserializer::new(word))?;
                Ok(RawDep {
                    kind,
                    restart: false,
                })
            }

            fn visit_map<A: serde::de::MapAccess<'de>>(self, map: A) -> Result<RawDep, A::Error> {
                let long =
                    RawDepLong::deserialize(serde::de::value::MapAccessDeserializer::new(map))?;
                Ok(RawDep {
                    kind: long.kind.unwrap_or(RawDepKind::Required),
                    restart: long.restart.unwrap_or(false),
                })
            }
        }
        deserializer.deserialize_any(Visitor)
    }
}

/// The schema of one `depends_on` entry: a kind, or the long form.
impl JsonSchema for RawDep {
    fn schema_name() -> std::borrow::Cow<'static, str> {
        "RawDep".into()
    }

    fn json_schema(generator: &mut schemars::SchemaGenerator) -> schemars::Schema {
        let kind = generator.subschema_for::<RawDepKind>();
        schemars::json_schema!({
            "anyOf": [
                kind,
                {
                    "type": "object",
                    "properties": {
                        "kind": kind,
                        "restart": {
                            "type": "boolean",
                            "description": "Restart this service after the dependency restarted and is ready again."
                        }
                    },
                    "additionalProperties": false
                }
            ]
        })
    }
}

#[derive(Debug, Clone, Copy, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum RawDepKind {
    Required,
    Optional,
    Soft,
    Completed,
}

#[derive(Debug, Clone, Copy, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum RawKind {
    Service,
    Task,
}

#[derive(Debug, Clone, Copy, Deserialize, JsonSchema)]
#[serde(rename_all = "kebab-case")]
pub enum RawRestart {
    Always,
    OnFailure,
    Never,
}

/// `backoff = { initial = "250ms", max = "30s" }`.
#[derive(Debug, Default, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RawBackoff {
    #[schemars(with = "Option<String>")]
    pub initial: Option<Spanned<String>>,
    #[schemars(with = "Option<String>")]
    pub max: Option<Spanned<String>>,
}

/// A probe table: exactly one of the check keys plus timing keys.
#[derive(Debug, Default, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RawProbe {
    #[schemars(with = "Option<TcpTarget>")]
    pub tcp: Option<Spanned<TcpTarget>>,
    #[schemars(with = "Option<String>")]
    pub http: Option<Spanned<String>>,
    #[schemars(with = "Option<String>")]
    pub status: Option<Spanned<String>>,
    #[schemars(with = "Option<BTreeMap<String, serde_json::Value>>")]
    pub json: Option<BTreeMap<String, Spanned<toml::Value>>>,
    #[schemars(with = "Option<String>")]
    pub exec: Option<Spanned<String>>,
    #[schemars(with = "Option<String>")]
    pub log: Option<Spanned<String>>,
    #[schemars(with = "Option<bool>")]
    pub notify: Option<Spanned<bool>>,
    #[schemars(with = "Option<bool>")]
    pub none: Option<Spanned<bool>>,
    #[schemars(with = "Option<String>")]
    pub period: Option<Spanned<String>>,
    #[schemars(with = "Option<String>")]
    pub timeout: Option<Spanned<String>>,
    #[schemars(with = "Option<u32>")]
    pub failure_threshold: Option<Spanned<u32>>,
}

/// `tcp = true` (the service's own port) or `tcp = "host:port"`.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(untagged, expecting = "true or an address such as \"127.0.0.1:5432\"")]
pub enum TcpTarget {
    Own(bool),
    Address(String),
}

/// `[ui]`: the dashboard.
#[derive(Debug, Default, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RawUi {
    #[schemars(with = "Option<String>")]
    pub theme: Option<Spanned<String>>,
    #[schemars(with = "Option<BTreeMap<String, OneOrMany>>")]
    pub keys: Option<BTreeMap<Spanned<String>, Spanned<OneOrMany>>>,
}

/// The whole file as `bringup schema` describes it. The loader reads the
/// top level by hand (to keep going past a bad table); this mirrors it.
#[derive(Debug, Default, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
#[schemars(title = "bringup.toml")]
pub struct RawConfig {
    /// Settings and defaults for every service.
    pub project: Option<RawProject>,
    /// The services and tasks, by name.
    pub services: Option<BTreeMap<String, RawService>>,
    /// The dashboard's theme and keys.
    pub ui: Option<RawUi>,
}

/// The top-level tables, for "did you mean" hints.
pub const TOP_LEVEL_KEYS: &[&str] = &["project", "services", "ui"];
