//! Template-valued keys (commands, env values, probe targets): their
//! `${...}` resolved against the file's names, problems recorded at the
//! value's place.
//!
//! [`crate::config::interpolate`] knows templates and nothing of files;
//! this is the thin layer that turns its errors into located config errors
//! and adds what only matters for a config value: a NUL byte is refused
//! here, and text `sh -c` will run must be quotable ([`shell_template`]).

use toml::Spanned;

use crate::config::error::Collector;
use crate::config::interpolate::{Scope, Template, TemplateError};

/// Parses a template, recording a failure at the value's place. A NUL
/// byte (TOML's `\u0000`, or one inside a value it refers to) is refused
/// here: it would pass every other check and then fail at each spawn or
/// probe, since no argument, environment value or address can hold one.
pub(crate) fn template(
    path: &str,
    key: &str,
    text: &Spanned<String>,
    scope: &Scope<'_>,
    errors: &mut Collector<'_>,
) -> Option<Template> {
    match Template::parse(text.get_ref(), scope) {
        Ok(t) if t.contains_nul() => {
            let problem = TemplateError {
                message: "contains a NUL character (\\0), which no command, argument or environment value can hold".into(),
                help: Some("remove it (look for `\\u0000` in the string, or in the variables it uses)".into()),
            };
            push(errors, text, path, key, problem);
            None
        }
        Ok(t) => Some(t),
        Err(e) => {
            push(errors, text, path, key, e);
            None
        }
    }
}

/// [`template`] for text `sh -c` will run (a shell-string `command`, an
/// `exec` check): every value in it must be where it can be quoted.
pub(crate) fn shell_template(
    path: &str,
    key: &str,
    text: &Spanned<String>,
    scope: &Scope<'_>,
    errors: &mut Collector<'_>,
) -> Option<Template> {
    let template = template(path, key, text, scope, errors)?;
    if let Some(problem) = template.shell_problem() {
        push(errors, text, path, key, problem);
        return None;
    }
    if let Some(warning) = template.script_problem(false) {
        errors.warn(
            Some(text.span()),
            format!("{path}.{key}"),
            warning.message,
            warning.help,
        );
    }
    Some(template)
}

/// Records a template problem at the value's place.
fn push(
    errors: &mut Collector<'_>,
    text: &Spanned<String>,
    path: &str,
    key: &str,
    problem: TemplateError,
) {
    errors.push(
        Some(text.span()),
        format!("{path}.{key}"),
        problem.message,
        problem.help,
    );
}
