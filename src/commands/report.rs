//! Config errors as miette diagnostics: the offending line, underlined,
//! with the hint below it.
//!
//! The quoted line is the file's own text, and a file may carry raw escape
//! sequences (that is one of the errors it gets): every line printed goes
//! through [`bringup::ansi::terminal_safe`], keeping only miette's colours.

use bringup::config::{ConfigError, ConfigErrors};
use miette::{Diagnostic, GraphicalReportHandler, GraphicalTheme, NamedSource, SourceSpan};

#[derive(Debug, thiserror::Error)]
#[error("{message}")]
struct Located {
    message: String,
    src: NamedSource<String>,
    span: Option<SourceSpan>,
    help: Option<String>,
}

impl Diagnostic for Located {
    fn source_code(&self) -> Option<&dyn miette::SourceCode> {
        Some(&self.src)
    }

    fn labels(&self) -> Option<Box<dyn Iterator<Item = miette::LabeledSpan> + '_>> {
        let span = self.span?;
        Some(Box::new(std::iter::once(
            miette::LabeledSpan::new_with_span(None, span),
        )))
    }

    fn help<'a>(&'a self) -> Option<Box<dyn std::fmt::Display + 'a>> {
        self.help
            .as_ref()
            .map(|h| Box::new(h) as Box<dyn std::fmt::Display>)
    }
}

/// Prints every error of a config file to stderr.
pub fn config_errors(errors: &ConfigErrors, color: bool) {
    let count = errors.errors.len();
    eprintln!(
        "error: {} has {count} problem{}",
        bringup::ansi::plain(&errors.file.display().to_string()),
        if count == 1 { "" } else { "s" }
    );
    let theme = if color {
        GraphicalTheme::unicode()
    } else {
        GraphicalTheme::unicode_nocolor()
    };
    let handler = GraphicalReportHandler::new_themed(theme).with_context_lines(1);
    for error in &errors.errors {
        let mut out = String::new();
        let diagnostic = located(errors, error);
        if handler.render_report(&mut out, &diagnostic).is_err() {
            out = format!("{error}\n");
        }
        let safe: Vec<_> = out
            .lines()
            .map(|line| bringup::ansi::terminal_safe(line, color))
            .collect();
        eprintln!("{}", safe.join("\n"));
    }
}

/// Prints what is allowed but probably not meant.
pub fn config_warnings(warnings: &[ConfigError]) {
    for warning in warnings {
        eprintln!("warning: {}", bringup::ansi::plain(&warning.to_string()));
    }
}

/// Lines longer than this are not shown under an error (the message still
/// has the line and column): a 70,000-character line would fill the screen.
const LONGEST_SHOWN_LINE: usize = 400;

/// The length in bytes of the line that contains byte `offset` of `text`.
fn line_length(text: &str, offset: usize) -> usize {
    let offset = offset.min(text.len());
    let bytes = text.as_bytes();
    let start = bytes[..offset]
        .iter()
        .rposition(|&b| b == b'\n')
        .map_or(0, |i| i + 1);
    let end = bytes[offset..]
        .iter()
        .position(|&b| b == b'\n')
        .map_or(text.len(), |i| offset + i);
    end - start
}

fn located(errors: &ConfigErrors, error: &ConfigError) -> Located {
    // The place goes in the message too, so it survives any rendering
    // (and grep): "bringup.toml:12:1: `services.api.readyness`: ...".
    let key = if error.key.is_empty() {
        String::new()
    } else {
        format!("`{}`: ", error.key)
    };
    Located {
        message: format!(
            "{}:{}:{}: {key}{}",
            error.file.display(),
            error.line,
            error.column,
            error.message
        ),
        src: NamedSource::new(
            errors.file.display().to_string(),
            errors.source_text.clone(),
        ),
        span: error
            .span
            .clone()
            .filter(|s| line_length(&errors.source_text, s.start) <= LONGEST_SHOWN_LINE)
            .map(|s| SourceSpan::from(s.start..s.end.max(s.start))),
        help: error.help.clone(),
    }
}
