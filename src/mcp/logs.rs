//! The `logs` tool's reading: pages of each asked log from the control
//! socket, filtered by age and a regex, the newest kept, and the whole
//! answer cut to a number of lines and of bytes so that an agent never
//! receives megabytes; the answer says when and how it was cut.

use std::collections::VecDeque;
use std::time::Duration;

use regex::Regex;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use super::report::{LogLine, log_line};
use crate::control::client::{Client, ClientError};
use crate::control::wire::{self, Hello};

/// Lines returned when the caller does not say.
pub const DEFAULT_LINES: usize = 100;
/// The most lines one answer carries.
pub const MAX_LINES: usize = 1_000;
/// Bytes of text returned when the caller does not say.
pub const DEFAULT_BYTES: usize = 32 * 1024;
/// The most bytes of text one answer carries.
pub const MAX_BYTES: usize = 256 * 1024;
/// The largest compiled regex (a pattern is the agent's input).
const REGEX_SIZE: usize = 1024 * 1024;
/// Pages read of one log at most: a log is bounded by the stack's
/// `log_lines`; this bounds a stack that keeps appending while we read.
const MAX_PAGES: usize = 64;

/// What to read.
#[derive(Debug, Default)]
pub struct Ask<'a> {
    /// Services by name (`bringup` for bringup's own log); none: every
    /// service.
    pub services: &'a [String],
    pub lines: Option<usize>,
    pub bytes: Option<usize>,
    pub since: Option<Duration>,
    pub grep: Option<&'a str>,
}

/// The answer of `logs`.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
pub struct LogsReport {
    /// The lines, oldest first, services merged in the order they printed.
    pub lines: Vec<LogLine>,
    /// Lines that matched (age and grep) before the answer was cut.
    pub matched: usize,
    /// Some matching lines were left out (older ones: the newest are kept).
    pub cut: bool,
    /// How and why it was cut, when it was.
    pub note: Option<String>,
}

/// Why the logs could not be read.
#[derive(Debug, thiserror::Error)]
pub enum LogsError {
    #[error("grep is not a valid regular expression: {0}")]
    BadRegex(String),
    #[error("the stack has no service `{name}`; it has: {known}")]
    UnknownService { name: String, known: String },
    #[error(transparent)]
    Client(#[from] ClientError),
}

/// Reads what `ask` asks of the stack behind `client`.
pub async fn read(client: &Client, hello: &Hello, ask: &Ask<'_>) -> Result<LogsReport, LogsError> {
    let grep = ask
        .grep
        .filter(|g| !g.is_empty())
        .map(|g| {
            regex::RegexBuilder::new(g)
                .size_limit(REGEX_SIZE)
                .build()
                .map_err(|e| LogsError::BadRegex(e.to_string()))
        })
        .transpose()?;
    let names: Vec<String> = if ask.services.is_empty() {
        hello.info.current().map(|s| s.name.clone()).collect()
    } else {
        for name in ask.services {
            if name != wire::OWN_LOG && hello.info.find(name).is_none() {
                return Err(LogsError::UnknownService {
                    name: name.clone(),
                    known: known(hello),
                });
            }
        }
        ask.services.to_vec()
    };
    let want = ask.lines.unwrap_or(DEFAULT_LINES).clamp(1, MAX_LINES);
    let budget = ask.bytes.unwrap_or(DEFAULT_BYTES).clamp(1, MAX_BYTES);
    let now = Duration::from_millis(hello.uptime_ms);
    let oldest = ask.since.map(|since| now.saturating_sub(since));
    let mut matched = 0;
    // (seq, line): the newest `want` of each log, merged below.
    let mut kept: Vec<(u64, LogLine)> = Vec::new();
    for name in &names {
        let mut newest: VecDeque<(u64, LogLine)> = VecDeque::new();
        let mut from = 0;
        for _ in 0..MAX_PAGES {
            let page = client.logs(name, from, wire::MAX_PAGE).await?;
            let full = page.lines.len() == wire::MAX_PAGE;
            for line in &page.lines {
                if oldest.is_some_and(|oldest| line.at < oldest) {
                    continue;
                }
                let text = crate::ansi::plain(&line.text);
                if grep.as_ref().is_some_and(|re: &Regex| !re.is_match(&text)) {
                    continue;
                }
                matched += 1;
                newest.push_back((line.seq, log_line(name, line)));
                if newest.len() > want {
                    newest.pop_front();
                }
            }
            if !full || page.next == from {
                break;
            }
            from = page.next;
        }
        kept.extend(newest);
    }
    kept.sort_by_key(|(seq, _)| *seq);
    Ok(bound(
        kept.into_iter().map(|(_, l)| l).collect(),
        matched,
        want,
        budget,
    ))
}

/// The newest lines of `lines` (oldest first) within `want` lines and
/// `budget` bytes of text, saying what was left out.
fn bound(lines: Vec<LogLine>, matched: usize, want: usize, budget: usize) -> LogsReport {
    let mut out: VecDeque<LogLine> = VecDeque::new();
    let mut bytes = 0;
    let mut by_bytes = false;
    for line in lines.into_iter().rev() {
        if out.len() == want {
            break;
        }
        if bytes + line.text.len() > budget {
            by_bytes = true;
            break;
        }
        bytes += line.text.len();
        out.push_front(line);
    }
    let cut = out.len() < matched;
    let note = cut.then(|| {
        let limit = if by_bytes {
            format!("{budget} bytes")
        } else {
            format!("{want} lines")
        };
        format!(
            "{} of {matched} matching lines left out (the oldest) to stay within {limit}; ask for fewer services, a grep, a since, or more lines/bytes (at most {MAX_LINES} lines, {MAX_BYTES} bytes)",
            matched - out.len()
        )
    });
    LogsReport {
        lines: out.into(),
        matched,
        cut,
        note,
    }
}

fn known(hello: &Hello) -> String {
    let mut names: Vec<&str> = hello.info.current().map(|s| s.name.as_str()).collect();
    names.push(wire::OWN_LOG);
    names.join(", ")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn line(n: usize, text: &str) -> LogLine {
        LogLine {
            service: "api".into(),
            at_ms: n as u64,
            stream: "stdout".into(),
            text: text.into(),
        }
    }

    #[test]
    fn the_newest_lines_are_kept_within_the_line_bound_and_the_cut_is_said() {
        let lines: Vec<LogLine> = (0..10).map(|n| line(n, &format!("line {n}"))).collect();
        let report = bound(lines, 10, 3, MAX_BYTES);
        let texts: Vec<&str> = report.lines.iter().map(|l| l.text.as_str()).collect();
        assert_eq!(texts, ["line 7", "line 8", "line 9"]);
        assert!(report.cut);
        assert!(report.note.unwrap().contains("7 of 10"));
    }

    #[test]
    fn the_byte_bound_cuts_too_and_says_so() {
        let lines: Vec<LogLine> = (0..10).map(|n| line(n, &"x".repeat(100))).collect();
        let report = bound(lines, 10, 100, 250);
        assert_eq!(report.lines.len(), 2);
        assert!(report.note.unwrap().contains("250 bytes"));
        let all = bound(vec![line(0, "a")], 1, 100, 250);
        assert!(!all.cut && all.note.is_none());
    }
}
