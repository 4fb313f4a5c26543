//! Config errors that point at the exact place in the file.
//!
//! Every problem found while loading is a [`ConfigError`]: the file, the
//! line and column, the dotted key (`services.api.readiness`), what was
//! wrong, and a hint when one helps (the nearest known key for a typo).
//! Loading collects them all into [`ConfigErrors`] instead of stopping at
//! the first, so a user fixes a file in one pass.

use std::fmt;
use std::ops::Range;
use std::path::{Path, PathBuf};

/// One problem in a config file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConfigError {
    /// The file the problem is in.
    pub file: PathBuf,
    /// Byte range in the file, when the problem has a place.
    pub span: Option<Range<usize>>,
    /// 1-based line and column of the span's start (1:1 when it has none).
    pub line: usize,
    pub column: usize,
    /// Dotted key path, e.g. `services.api.readiness`; empty for the file itself.
    pub key: String,
    /// What is wrong and what was expected.
    pub message: String,
    /// What to do about it, e.g. "did you mean `readiness`?".
    pub help: Option<String>,
}

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}:{}: ", self.file.display(), self.line, self.column)?;
        if !self.key.is_empty() {
            write!(f, "`{}`: ", self.key)?;
        }
        f.write_str(&self.message)?;
        if let Some(help) = &self.help {
            write!(f, " (help: {help})")?;
        }
        Ok(())
    }
}

/// Every problem found in one config file, in file order.
#[derive(Debug, Clone, thiserror::Error)]
pub struct ConfigErrors {
    pub file: PathBuf,
    /// The file's text, so a front end can show the offending lines.
    pub source_text: String,
    pub errors: Vec<ConfigError>,
}

impl fmt::Display for ConfigErrors {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let count = self.errors.len();
        writeln!(
            f,
            "{} has {count} problem{}:",
            self.file.display(),
            if count == 1 { "" } else { "s" }
        )?;
        for error in &self.errors {
            writeln!(f, "  {error}")?;
        }
        Ok(())
    }
}

/// Why a config could not be loaded at all.
#[derive(Debug, thiserror::Error)]
pub enum LoadError {
    #[error("no config file found; looked for {}", looked.iter().map(|p| p.display().to_string()).collect::<Vec<_>>().join(", "))]
    NotFound { looked: Vec<PathBuf> },
    #[error("cannot read {}: {source}", path.display())]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error(transparent)]
    Invalid(#[from] ConfigErrors),
}

/// Collects errors for one file while it is being checked.
#[derive(Debug)]
pub(crate) struct Collector<'a> {
    file: &'a Path,
    source_text: &'a str,
    errors: Vec<ConfigError>,
    warnings: Vec<ConfigError>,
}

impl<'a> Collector<'a> {
    pub fn new(file: &'a Path, source_text: &'a str) -> Self {
        Self {
            file,
            source_text,
            errors: Vec::new(),
            warnings: Vec::new(),
        }
    }

    /// Records a problem at `span` under the dotted `key`.
    pub fn push(
        &mut self,
        span: Option<Range<usize>>,
        key: impl Into<String>,
        message: impl Into<String>,
        help: Option<String>,
    ) {
        let error = self.located(span, key.into(), message.into(), help);
        self.errors.push(error);
    }

    /// Records something allowed but probably not meant.
    pub fn warn(
        &mut self,
        span: Option<Range<usize>>,
        key: impl Into<String>,
        message: impl Into<String>,
        help: Option<String>,
    ) {
        let warning = self.located(span, key.into(), message.into(), help);
        self.warnings.push(warning);
    }

    fn located(
        &self,
        span: Option<Range<usize>>,
        key: String,
        message: String,
        help: Option<String>,
    ) -> ConfigError {
        let (line, column) = span
            .as_ref()
            .map_or((1, 1), |span| line_column(self.source_text, span.start));
        ConfigError {
            file: self.file.to_path_buf(),
            span,
            line,
            column,
            key,
            message,
            help,
        }
    }

    pub fn is_empty(&self) -> bool {
        self.errors.is_empty()
    }

    /// Whether a typo under `path` was already pointed at `key` ("did you
    /// mean `command`?"), so that "missing `command`" would only repeat it.
    pub fn suggested(&self, path: &str, key: &str) -> bool {
        let hint = format!("did you mean `{key}`?");
        self.errors
            .iter()
            .any(|e| e.key.starts_with(path) && e.help.as_deref() == Some(hint.as_str()))
    }

    /// Finishes: the warnings, or `Err` with every problem in file order.
    pub fn finish(mut self) -> Result<Vec<ConfigError>, ConfigErrors> {
        if self.errors.is_empty() {
            return Ok(self.warnings);
        }
        self.errors
            .sort_by_key(|e| (e.span.as_ref().map_or(0, |s| s.start), e.key.clone()));
        self.errors.dedup();
        Err(ConfigErrors {
            file: self.file.to_path_buf(),
            source_text: self.source_text.to_string(),
            errors: self.errors,
        })
    }
}

/// 1-based line and column (in characters) of a byte offset.
pub fn line_column(text: &str, offset: usize) -> (usize, usize) {
    let offset = floor_char_boundary(text, offset.min(text.len()));
    let before = &text[..offset];
    let line = before.matches('\n').count() + 1;
    let line_start = before.rfind('\n').map_or(0, |i| i + 1);
    let column = before[line_start..].chars().count() + 1;
    (line, column)
}

fn floor_char_boundary(text: &str, mut offset: usize) -> usize {
    while !text.is_char_boundary(offset) {
        offset -= 1;
    }
    offset
}

/// The candidate closest to `word`, if it is close enough to be a likely typo.
pub fn nearest<'c>(word: &str, candidates: impl IntoIterator<Item = &'c str>) -> Option<&'c str> {
    // The distance costs time and memory in proportion to the product of
    // the lengths: two 70,000-character names would take gigabytes. Typos
    // worth a hint are in short words (keys, service names).
    const LONGEST: usize = 64;
    if word.len() > LONGEST {
        return None;
    }
    let word = word.to_ascii_lowercase();
    candidates
        .into_iter()
        .filter(|candidate| candidate.len() <= LONGEST)
        .map(|candidate| (strsim::damerau_levenshtein(&word, candidate), candidate))
        .filter(|(distance, candidate)| {
            // Short names tolerate one edit, longer ones a third of their length.
            let allowed = (candidate.len().max(word.len()) / 3).max(1);
            *distance <= allowed
        })
        .min_by_key(|(distance, _)| *distance)
        .map(|(_, candidate)| candidate)
}

/// Turns serde's "unknown field `x`, expected one of `a`, `b`" (or the same
/// for enum variants) into a friendlier message and a "did you mean" hint.
pub fn explain_serde_message(message: &str) -> (String, Option<String>) {
    for (prefix, what) in [
        ("unknown field `", "unknown key"),
        ("unknown variant `", "unknown value"),
    ] {
        let Some(rest) = message.strip_prefix(prefix) else {
            continue;
        };
        let Some((word, tail)) = rest.split_once('`') else {
            continue;
        };
        let expected: Vec<&str> = tail.split('`').skip(1).step_by(2).collect();
        let listing = expected
            .iter()
            .map(|e| format!("`{e}`"))
            .collect::<Vec<_>>()
            .join(", ");
        let text = if expected.is_empty() {
            format!("{what} `{word}`; nothing is allowed here")
        } else {
            format!("{what} `{word}`; expected one of {listing}")
        };
        let help = nearest(word, expected.iter().copied()).map(|n| format!("did you mean `{n}`?"));
        return (text, help);
    }
    (message.to_string(), None)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn line_and_column_are_one_based() {
        let text = "a = 1\nbb = 2\n";
        assert_eq!(line_column(text, 0), (1, 1));
        assert_eq!(line_column(text, 6), (2, 1));
        assert_eq!(line_column(text, 8), (2, 3));
    }

    #[test]
    fn nearest_finds_typos_but_not_strangers() {
        let keys = ["readiness", "liveness", "command"];
        assert_eq!(nearest("readyness", keys), Some("readiness"));
        assert_eq!(nearest("comand", keys), Some("command"));
        assert_eq!(nearest("banana", keys), None);
        let long = "x".repeat(100_000);
        assert_eq!(nearest(&long, [long.as_str()]), None);
    }

    #[test]
    fn serde_unknown_field_gets_a_hint() {
        let (text, help) =
            explain_serde_message("unknown field `perod`, expected `tcp` or `period`");
        assert_eq!(text, "unknown key `perod`; expected one of `tcp`, `period`");
        assert_eq!(help.as_deref(), Some("did you mean `period`?"));
        let (_, help) = explain_serde_message(
            "unknown variant `requred`, expected one of `required`, `optional`",
        );
        assert_eq!(help.as_deref(), Some("did you mean `required`?"));
    }
}
