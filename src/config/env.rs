//! The environment a service gets on top of bringup's own: `env_file`s and
//! `env` tables, of `[project]` and of the service.
//!
//! Order is the override order, later wins: project env_file, project env,
//! service env_file, service env. `env` values are templates; in
//! `[project]` their `${env.VAR}` sees bringup's environment and the
//! project's env files, in a service it also sees the project's `env`
//! ([`values`]). Files are read here, once, so a missing or malformed file
//! is a config error with a place, not a failure at spawn. A name holding
//! `=` or NUL, or a value holding NUL, is refused: the OS would cut it and
//! hand the service another variable than the one written.

use std::collections::BTreeMap;
use std::path::PathBuf;

use toml::Spanned;

use crate::config::context::Context;
use crate::config::error::Collector;
use crate::config::interpolate::{Scope, Template};
use crate::config::raw::{OneOrMany, RawProject, RawService};
use crate::config::templates::template;

/// The services a template may name, as [`Scope`] wants them.
pub(crate) struct Names<'a> {
    pub services: &'a [String],
    pub has_port: &'a [bool],
    pub hosts: &'a [String],
}

/// `[project]`'s env files and `env` table, in that order.
pub(crate) fn project(
    raw: &RawProject,
    cx: &Context<'_>,
    names: &Names<'_>,
    errors: &mut Collector<'_>,
) -> Vec<(String, Template)> {
    let mut env: Vec<(String, Template)> = Vec::new();
    if let Some(files) = &raw.env_file {
        env.extend(env_files("project", files, cx, errors));
    }
    let file_values = values(&env);
    let lookup = |var: &str| file_values.get(var).cloned().or_else(|| (cx.env)(var));
    let scope = Scope {
        services: names.services,
        has_port: names.has_port,
        hosts: names.hosts,
        own: None,
        env: &lookup,
        bringup: cx.bringup,
    };
    for (key, value) in raw.env.iter().flatten() {
        env.extend(env_entry("project.env", key, value, &scope, errors));
    }
    env
}

/// The environment of the service at `path`: the project's, then its own
/// env files and `env` table.
pub(crate) fn service(
    path: &str,
    raw: &RawService,
    project: &[(String, Template)],
    scope: &Scope<'_>,
    cx: &Context<'_>,
    errors: &mut Collector<'_>,
) -> Vec<(String, Template)> {
    let mut env = project.to_vec();
    if let Some(files) = &raw.env_file {
        env.extend(env_files(path, files, cx, errors));
    }
    for (key, value) in raw.env.iter().flatten() {
        env.extend(env_entry(&format!("{path}.env"), key, value, scope, errors));
    }
    env
}

/// Variables as a later `${env.VAR}` sees them: rendered now, so a port
/// in them (known only at spawn) reads as empty.
pub(crate) fn values(env: &[(String, Template)]) -> BTreeMap<String, String> {
    env.iter()
        .map(|(k, v)| (k.clone(), v.render(None, |_| None)))
        .collect()
}

/// One `env` entry: a name the OS can carry, and a value template.
fn env_entry(
    path: &str,
    key: &str,
    value: &Spanned<String>,
    scope: &Scope<'_>,
    errors: &mut Collector<'_>,
) -> Option<(String, Template)> {
    // `=` ends a name in the environment block, and a NUL ends the entry:
    // either would give the service another variable than the one written.
    if key.is_empty() || key.contains(['=', '\0']) {
        errors.push(
            Some(value.span()),
            path,
            format!("{:?} cannot be the name of an environment variable", key),
            Some("use letters, digits and `_`, e.g. `DATABASE_URL`".into()),
        );
        return None;
    }
    let template = template(path, key, value, scope, errors)?;
    Some((key.to_string(), template))
}

/// The variables of `env_file` (one file or a list), read with dotenvy.
fn env_files(
    path: &str,
    files: &Spanned<OneOrMany>,
    cx: &Context<'_>,
    errors: &mut Collector<'_>,
) -> Vec<(String, Template)> {
    let mut vars = Vec::new();
    for file in files.get_ref().to_vec() {
        let full: PathBuf = cx.base_dir.join(&file);
        match dotenvy::from_path_iter(&full) {
            Ok(iter) => {
                for item in iter {
                    match item {
                        Ok((key, value)) if key.contains('\0') || value.contains('\0') => {
                            errors.push(
                                Some(files.span()),
                                format!("{path}.env_file"),
                                format!(
                                    "{}: `{}` contains a NUL character, which no environment variable can hold",
                                    full.display(),
                                    key.replace('\0', "\\0")
                                ),
                                None,
                            );
                        }
                        Ok((key, value)) => vars.push((key, Template::literal(value))),
                        Err(e) => {
                            errors.push(
                                Some(files.span()),
                                format!("{path}.env_file"),
                                format!("{}: {e}", full.display()),
                                None,
                            );
                            break;
                        }
                    }
                }
            }
            Err(e) => errors.push(
                Some(files.span()),
                format!("{path}.env_file"),
                format!("cannot read {}: {e}", full.display()),
                Some("paths are relative to the config file's directory".into()),
            ),
        }
    }
    vars
}
