//! `watch` and `watch_ignore`: which files restart a service when they
//! change, as globs relative to its `cwd`.
//!
//! The globs are compiled here (with globset, ripgrep's glob crate), so a
//! bad one is a located config error rather than a surprise at run time.
//! `*` stays within one directory and `**` crosses them, as in
//! `.gitignore`: `src/**/*.py`, `templates/**`. What `.gitignore`,
//! `.ignore` and hidden directories leave out is left out on top of
//! `watch_ignore`, by the watcher (see `crate::engine::watch`).

use globset::{Glob, GlobBuilder, GlobSet, GlobSetBuilder};
use toml::Spanned;

use crate::config::error::Collector;

/// At most this many globs per key: a config is written by hand.
const MAX_GLOBS: usize = 256;

/// What a service watches.
#[derive(Debug, Clone)]
pub struct WatchSpec {
    /// The globs as written, for `check` and the docs of a run.
    pub globs: Vec<String>,
    pub ignore: Vec<String>,
    matcher: GlobSet,
    ignore_matcher: GlobSet,
}

impl WatchSpec {
    /// Whether a change of `relative` (a path relative to the service's
    /// `cwd`) concerns the service, by its globs alone.
    pub fn matches(&self, relative: &std::path::Path) -> bool {
        self.matcher.is_match(relative) && !self.ignore_matcher.is_match(relative)
    }
}

/// `watch` and `watch_ignore` of the service at `path` (`services.api`).
pub(crate) fn watch_spec(
    path: &str,
    watch: Option<&Spanned<Vec<Spanned<String>>>>,
    ignore: Option<&Spanned<Vec<Spanned<String>>>>,
    errors: &mut Collector<'_>,
) -> Option<WatchSpec> {
    let (ignore_matcher, ignore) = globs(&format!("{path}.watch_ignore"), ignore, errors);
    let watch = watch?;
    let (matcher, globs) = self::globs(&format!("{path}.watch"), Some(watch), errors);
    if globs.is_empty() {
        return None;
    }
    Some(WatchSpec {
        globs,
        ignore,
        matcher,
        ignore_matcher,
    })
}

fn globs(
    key: &str,
    raw: Option<&Spanned<Vec<Spanned<String>>>>,
    errors: &mut Collector<'_>,
) -> (GlobSet, Vec<String>) {
    let mut set = GlobSetBuilder::new();
    let mut written = Vec::new();
    let Some(raw) = raw else {
        return (GlobSet::empty(), written);
    };
    if raw.get_ref().len() > MAX_GLOBS {
        errors.push(
            Some(raw.span()),
            key,
            format!("{} globs; at most {MAX_GLOBS}", raw.get_ref().len()),
            Some("a glob such as `src/**` covers a whole tree".into()),
        );
        return (GlobSet::empty(), written);
    }
    for glob in raw.get_ref() {
        match compile(glob.get_ref()) {
            Ok(compiled) => {
                set.add(compiled);
                written.push(glob.get_ref().clone());
            }
            Err(why) => errors.push(Some(glob.span()), key, why, Some(HELP.into())),
        }
    }
    let set = set.build().unwrap_or_else(|_| GlobSet::empty());
    (set, written)
}

const HELP: &str =
    "globs are relative to the service's `cwd`: `src/**/*.py`, `templates/**`, `*.toml`";

fn compile(text: &str) -> Result<Glob, String> {
    if text.is_empty() {
        return Err("an empty glob matches nothing".into());
    }
    if text.starts_with('/') || text.split('/').any(|part| part == "..") {
        return Err(format!(
            "`{text}` leaves the service's directory; globs are relative to its `cwd`"
        ));
    }
    let text = text.strip_prefix("./").unwrap_or(text);
    GlobBuilder::new(text)
        .literal_separator(true)
        .build()
        .map_err(|e| format!("`{text}` is not a glob: {}", e.kind()))
}

#[cfg(test)]
mod tests {
    use std::path::Path;

    use super::*;

    fn spec(globs: &[&str], ignore: &[&str]) -> WatchSpec {
        let set = |globs: &[&str]| {
            let mut b = GlobSetBuilder::new();
            for g in globs {
                b.add(compile(g).unwrap());
            }
            b.build().unwrap()
        };
        WatchSpec {
            globs: Vec::new(),
            ignore: Vec::new(),
            matcher: set(globs),
            ignore_matcher: set(ignore),
        }
    }

    #[test]
    fn a_star_stays_in_its_directory_and_two_cross_them() {
        let spec = spec(&["src/**/*.py", "*.toml"], &["src/gen/**"]);
        assert!(spec.matches(Path::new("src/app.py")));
        assert!(spec.matches(Path::new("src/a/b/app.py")));
        assert!(spec.matches(Path::new("pyproject.toml")));
        assert!(!spec.matches(Path::new("conf/x.toml")));
        assert!(!spec.matches(Path::new("src/gen/models.py")));
        assert!(!spec.matches(Path::new("README.md")));
    }

    #[test]
    fn globs_that_leave_the_directory_are_refused() {
        assert!(compile("/etc/**").is_err());
        assert!(compile("../other/**").is_err());
        assert!(compile("src/[").is_err());
        assert!(compile("./src/**").is_ok());
    }
}
