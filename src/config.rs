//! Configuration: `bringup.toml` → a validated [`Plan`].
//!
//! Low → high, as ripgrep does with its flags: [`load`] finds and parses the
//! file into a raw serde model ([`raw`]), where every key is optional and
//! unknown keys are errors; [`validate`] then turns it into a [`Plan`] where
//! every name resolves, every duration is parsed and every default is
//! filled in, each part of the file (project, services, ports, probes,
//! dependencies, env, ui) checked by its own module, listed in
//! [`validate`]. Both steps record problems instead of stopping at the first,
//! so a broken file is reported in full, each problem at file:line:col with
//! a hint ([`error`]). `${...}` templates are resolved here too
//! ([`interpolate`]), leaving only ports open until spawn time; values from
//! outside the file stay data, quoted for the shell where one parses the
//! text ([`quoting`]).
//!
//! Validation also guarantees what the engine and the front ends rely on
//! without checking again: names are short and give distinct port
//! variables ([`names`]), every duration is within its key's range
//! (`durations`), and nothing that reaches a spawn holds a NUL byte.

mod container;
mod context;
mod defaults;
mod deps;
pub mod diff;
mod durations;
mod env;
pub mod error;
pub mod interpolate;
pub mod load;
pub mod names;
pub mod plan;
pub mod ports;
mod probe;
mod project;
pub mod quoting;
pub mod raw;
pub mod schema;
mod service;
mod templates;
mod ui;
pub mod validate;
pub mod watch;

use std::path::{Path, PathBuf};

pub use error::{ConfigError, ConfigErrors, LoadError};
pub use load::discover;
pub use names::{MAX_NAME_LEN, port_variable};
pub use plan::*;
pub use ports::DEFAULT_PORT_RANGE;

/// The embedded demo stack (`bringup demo`).
pub const DEMO: &str = include_str!("../config/demo.toml");

/// Reads and validates the config at `path`.
pub fn load_file(path: &Path) -> Result<Plan, LoadError> {
    load_file_with(path, &|_, _| Ok(None))
}

/// Turns another tool's file into bringup.toml text and warnings, or
/// `Ok(None)` for a bringup file (`formats::load_foreign`; passed in, as
/// `formats` builds on `config`).
pub type Translate =
    dyn Fn(&Path, &str) -> Result<Option<(String, Vec<ConfigError>)>, ConfigErrors>;

/// Reads the config at `path`, translating it first when `translate` says
/// it is another tool's file, and validates it; the translation's
/// warnings come first in the plan's.
pub fn load_file_with(path: &Path, translate: &Translate) -> Result<Plan, LoadError> {
    let text = std::fs::read_to_string(path).map_err(|source| LoadError::Read {
        path: path.to_path_buf(),
        source,
    })?;
    let (text, mut warnings) = match translate(path, &text)? {
        Some((toml, warnings)) => (toml, warnings),
        None => (text, Vec::new()),
    };
    let base_dir = path
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .map_or_else(|| PathBuf::from("."), Path::to_path_buf);
    let base_dir = base_dir.canonicalize().unwrap_or(base_dir);
    let mut plan = load_str(&text, path, &base_dir)?;
    warnings.append(&mut plan.warnings);
    plan.warnings = warnings;
    Ok(plan)
}

/// Validates config `text` as if it were the file `file` in `base_dir`,
/// with bringup's real environment and executable path.
pub fn load_str(text: &str, file: &Path, base_dir: &Path) -> Result<Plan, ConfigErrors> {
    let env = |var: &str| std::env::var(var).ok();
    let bringup = std::env::current_exe()
        .map(|p| p.display().to_string())
        .unwrap_or_else(|_| "bringup".to_string());
    let cx = validate::Context {
        file,
        base_dir,
        env: &env,
        bringup: &bringup,
    };
    load_with(text, &cx)
}

/// Validates config `text` in an explicit context (tests use a fake env).
pub fn load_with(text: &str, cx: &validate::Context<'_>) -> Result<Plan, ConfigErrors> {
    let mut errors = error::Collector::new(cx.file, text);
    let document = load::parse_document(text, &mut errors);
    let plan = validate::validate(document, cx, &mut errors);
    let warnings = errors.finish()?;
    let mut plan = plan.ok_or_else(|| ConfigErrors {
        file: cx.file.to_path_buf(),
        source_text: text.to_string(),
        errors: Vec::new(),
    })?;
    plan.warnings = warnings;
    Ok(plan)
}
