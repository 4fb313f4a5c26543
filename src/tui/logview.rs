//! The log pane: which lines are on screen, scrolling, searching, and how
//! a line is drawn.
//!
//! A scrolled view is anchored to a line (its sequence number), not to an
//! offset from the newest line: while a user reads back, new lines keep
//! arriving without moving what they read. Following means "anchored to the
//! newest". Only the lines on screen are read and formatted, however long
//! the store, so a service printing a million lines costs the same frame as
//! one printing ten. The merged view takes each store's tail and merges by
//! sequence number, the order lines were read in.

use std::time::SystemTime;

use ansi_to_tui::IntoText;
use ratatui::style::Style;
use ratatui::text::{Line as TextLine, Span};
use unicode_width::UnicodeWidthStr;

use crate::ids::ServiceId;
use crate::logs::{Line, LogHub, Stream};

/// Whose lines the pane shows.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LogSource {
    Service(ServiceId),
    All,
    /// bringup's own log: what it decided and why.
    Orchestrator,
}

/// Which line is at the bottom of the pane.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LogPosition {
    /// The newest, whatever arrives.
    Follow,
    /// The line with this sequence number (or the newest before it).
    At(u64),
}

impl LogPosition {
    /// The newest sequence number on screen, or `None` when following.
    pub fn upto(&self) -> Option<u64> {
        match self {
            LogPosition::Follow => None,
            LogPosition::At(seq) => Some(*seq),
        }
    }
}

/// Up to `count` lines with sequence number ≤ `upto` (all when `None`),
/// oldest first, each with the index of its service.
pub fn tail(
    hub: &LogHub,
    source: LogSource,
    upto: Option<u64>,
    count: usize,
) -> Vec<(usize, Line)> {
    let mut lines: Vec<(usize, Line)> = Vec::new();
    for index in stores(hub, source) {
        let Some(store) = hub.store(index) else {
            continue;
        };
        let ring = store.read();
        let end = upto.map_or(ring.lines().len(), |seq| ring.position_after(seq));
        let start = end.saturating_sub(count);
        lines.extend(
            ring.lines()
                .range(start..end)
                .map(|line| (index, line.clone())),
        );
    }
    lines.sort_by_key(|(_, line)| line.seq);
    let skip = lines.len().saturating_sub(count);
    lines.drain(..skip);
    lines
}

/// Up to `count` lines newer than `after`, oldest first.
fn head_after(hub: &LogHub, source: LogSource, after: u64, count: usize) -> Vec<(usize, Line)> {
    let mut lines: Vec<(usize, Line)> = Vec::new();
    for index in stores(hub, source) {
        let Some(store) = hub.store(index) else {
            continue;
        };
        let ring = store.read();
        let start = ring.position_after(after);
        lines.extend(
            ring.lines()
                .range(start..)
                .take(count)
                .map(|line| (index, line.clone())),
        );
    }
    lines.sort_by_key(|(_, line)| line.seq);
    lines.truncate(count);
    lines
}

fn stores(hub: &LogHub, source: LogSource) -> Vec<usize> {
    match source {
        LogSource::Service(id) => vec![id.0],
        LogSource::All => (0..hub.len()).collect(),
        LogSource::Orchestrator => vec![LogHub::OWN],
    }
}

/// The position `lines` further back (positive) or forward (negative).
pub fn scroll(hub: &LogHub, source: LogSource, position: &LogPosition, lines: i64) -> LogPosition {
    let bottom = tail(hub, source, position.upto(), 1)
        .first()
        .map(|(_, l)| l.seq);
    let Some(bottom) = bottom else {
        return LogPosition::Follow;
    };
    if lines > 0 {
        let back = tail(hub, source, Some(bottom), lines as usize + 1);
        back.first()
            .map_or(LogPosition::Follow, |(_, line)| LogPosition::At(line.seq))
    } else {
        let ahead = head_after(hub, source, bottom, lines.unsigned_abs() as usize);
        match ahead.last() {
            Some(_) if ahead.len() < lines.unsigned_abs() as usize => LogPosition::Follow,
            Some((_, line)) => {
                // Reaching the newest line means following again.
                let newest = tail(hub, source, None, 1).first().map(|(_, l)| l.seq);
                if Some(line.seq) == newest {
                    LogPosition::Follow
                } else {
                    LogPosition::At(line.seq)
                }
            }
            None => LogPosition::Follow,
        }
    }
}

/// The position that shows the oldest line at the top of a pane of `rows`.
pub fn oldest(hub: &LogHub, source: LogSource, rows: usize) -> LogPosition {
    let first = stores(hub, source)
        .into_iter()
        .filter_map(|index| hub.store(index)?.read().lines().front().map(|l| l.seq))
        .min();
    match first {
        Some(seq) => scroll(
            hub,
            source,
            &LogPosition::At(seq),
            -(rows.saturating_sub(1) as i64),
        ),
        None => LogPosition::Follow,
    }
}

/// The next line containing `query` (case-insensitive) before (`older`) or
/// after the bottom line of `from`.
pub fn find(
    hub: &LogHub,
    source: LogSource,
    from: &LogPosition,
    query: &str,
    older: bool,
) -> Option<LogPosition> {
    let query = query.to_lowercase();
    let matches = |line: &Line| plain(&line.text).to_lowercase().contains(&query);
    let bottom = tail(hub, source, from.upto(), 1)
        .first()
        .map(|(_, l)| l.seq);
    let bottom = bottom?;
    // Scan in chunks so a long store is not copied whole.
    const CHUNK: usize = 2000;
    if older {
        let mut upto = if matches!(from, LogPosition::Follow) {
            bottom
        } else {
            bottom.saturating_sub(1)
        };
        loop {
            let chunk = tail(hub, source, Some(upto), CHUNK);
            if let Some((_, line)) = chunk.iter().rev().find(|(_, l)| matches(l)) {
                return Some(LogPosition::At(line.seq));
            }
            let first = chunk.first()?.1.seq;
            if chunk.len() < CHUNK || first == 0 {
                return None;
            }
            upto = first - 1;
        }
    } else {
        let mut after = bottom;
        loop {
            let chunk = head_after(hub, source, after, CHUNK);
            if let Some((_, line)) = chunk.iter().find(|(_, l)| matches(l)) {
                return Some(LogPosition::At(line.seq));
            }
            after = chunk.last()?.1.seq;
        }
    }
}

/// Text as the log views show it without colour: no escape sequences or
/// control characters, tabs expanded.
pub fn plain(text: &str) -> std::borrow::Cow<'_, str> {
    crate::ansi::for_cells(text, false)
}

/// How to draw lines.
pub struct LineFormat<'a> {
    pub timestamps: bool,
    pub search: &'a str,
    /// Keep the services' own colours (not with `NO_COLOR`).
    pub colors: bool,
    pub timestamp_style: Style,
    pub stderr_style: Style,
    pub match_style: Style,
    /// In the merged view: each line's service name and its style.
    pub prefix: Option<&'a dyn Fn(usize) -> (String, Style)>,
    /// For timestamps: the hub's clock.
    pub hub: &'a LogHub,
}

/// One output line as styled text.
pub fn render(index: usize, line: &Line, format: &LineFormat<'_>) -> TextLine<'static> {
    let mut spans: Vec<Span<'static>> = Vec::new();
    if format.timestamps {
        spans.push(Span::styled(
            format!("{} ", clock(format.hub.wall_time(line.at))),
            format.timestamp_style,
        ));
    }
    if let Some(prefix) = format.prefix {
        let (name, style) = prefix(index);
        spans.push(Span::styled(format!("{name} │ "), style));
    }
    let text = &line.text;
    let base = if line.stream == Stream::Stderr {
        format.stderr_style
    } else {
        Style::default()
    };
    if !format.search.is_empty()
        && plain(text)
            .to_lowercase()
            .contains(&format.search.to_lowercase())
    {
        spans.extend(highlight(
            &plain(text),
            format.search,
            base,
            format.match_style,
        ));
    } else if format.colors && text.contains('\x1b') {
        // Only colours are left for ansi-to-tui to read (it would show the
        // body of a DCS string, say), and cells hold no tabs.
        match crate::ansi::for_cells(text, true).as_bytes().into_text() {
            Ok(parsed) => {
                for parsed_line in parsed.lines {
                    spans.extend(
                        parsed_line
                            .spans
                            .into_iter()
                            .map(|s| Span::styled(s.content.into_owned(), base.patch(s.style))),
                    );
                }
            }
            Err(_) => spans.push(Span::styled(plain(text).into_owned(), base)),
        }
    } else {
        spans.push(Span::styled(plain(text).into_owned(), base));
    }
    TextLine::from(spans)
}

/// `text` with every case-insensitive occurrence of `query` in `hit`.
fn highlight(text: &str, query: &str, base: Style, hit: Style) -> Vec<Span<'static>> {
    let lower = text.to_lowercase();
    let needle = query.to_lowercase();
    // Lowercasing can change byte lengths for some scripts; then just mark
    // the whole line rather than risk slicing mid-character.
    if lower.len() != text.len() || needle.is_empty() {
        return vec![Span::styled(text.to_string(), hit)];
    }
    let mut spans = Vec::new();
    let mut at = 0;
    while let Some(found) = lower[at..].find(&needle) {
        let start = at + found;
        if start > at {
            spans.push(Span::styled(text[at..start].to_string(), base));
        }
        spans.push(Span::styled(
            text[start..start + needle.len()].to_string(),
            hit,
        ));
        at = start + needle.len();
    }
    if at < text.len() {
        spans.push(Span::styled(text[at..].to_string(), base));
    }
    spans
}

/// How many rows a line takes when wrapped to `width`.
pub fn rows(line: &TextLine<'_>, width: u16) -> usize {
    let width = usize::from(width.max(1));
    let chars: usize = line.spans.iter().map(|s| s.content.width()).sum();
    chars.div_ceil(width).max(1)
}

/// Local wall-clock time as HH:MM:SS.mmm.
fn clock(at: SystemTime) -> String {
    let since_epoch = at
        .duration_since(SystemTime::UNIX_EPOCH)
        .unwrap_or_default();
    let seconds = since_epoch.as_secs() as nix::libc::time_t;
    // SAFETY: localtime_r only writes the struct it is given.
    let mut tm: nix::libc::tm = unsafe { std::mem::zeroed() };
    let ok = unsafe { !nix::libc::localtime_r(&seconds, &mut tm).is_null() };
    let millis = since_epoch.subsec_millis();
    if ok {
        format!(
            "{:02}:{:02}:{:02}.{millis:03}",
            tm.tm_hour, tm.tm_min, tm.tm_sec
        )
    } else {
        let day = since_epoch.as_secs() % 86_400;
        format!(
            "{:02}:{:02}:{:02}.{millis:03}",
            day / 3600,
            day % 3600 / 60,
            day % 60
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hub() -> std::sync::Arc<LogHub> {
        let hub = LogHub::new(2, 1000);
        for i in 0..10 {
            hub.append(0, Stream::Stdout, vec![format!("a{i}")]);
            hub.append(1, Stream::Stdout, vec![format!("b{i}")]);
        }
        hub
    }

    fn texts(lines: &[(usize, Line)]) -> Vec<String> {
        lines.iter().map(|(_, l)| l.text.to_string()).collect()
    }

    #[test]
    fn the_tail_of_one_service_or_all_merged() {
        let hub = hub();
        assert_eq!(
            texts(&tail(&hub, LogSource::Service(ServiceId(0)), None, 3)),
            ["a7", "a8", "a9"]
        );
        assert_eq!(
            texts(&tail(&hub, LogSource::All, None, 3)),
            ["b8", "a9", "b9"]
        );
    }

    #[test]
    fn a_scrolled_view_stays_put_while_lines_arrive() {
        let hub = hub();
        let source = LogSource::Service(ServiceId(0));
        let up = scroll(&hub, source, &LogPosition::Follow, 4);
        assert_eq!(
            texts(&tail(&hub, source, up.clone().upto(), 2)),
            ["a4", "a5"]
        );
        hub.append(0, Stream::Stdout, vec!["new".into()]);
        assert_eq!(
            texts(&tail(&hub, source, up.clone().upto(), 2)),
            ["a4", "a5"]
        );
        assert_eq!(scroll(&hub, source, &up, -100), LogPosition::Follow);
        let back = scroll(&hub, source, &up, -2);
        assert_eq!(texts(&tail(&hub, source, back.upto(), 1)), ["a7"]);
    }

    #[test]
    fn search_finds_older_and_newer_matches() {
        let hub = hub();
        let source = LogSource::All;
        let found = find(&hub, source, &LogPosition::Follow, "A3", true).unwrap();
        assert_eq!(texts(&tail(&hub, source, found.upto(), 1)), ["a3"]);
        let newer = find(&hub, source, &found, "b", false).unwrap();
        assert_eq!(texts(&tail(&hub, source, newer.upto(), 1)), ["b3"]);
        assert_eq!(find(&hub, source, &LogPosition::Follow, "zzz", true), None);
    }

    #[test]
    fn matches_are_highlighted_case_insensitively() {
        let base = Style::default();
        let hit = Style::default().add_modifier(ratatui::style::Modifier::REVERSED);
        let spans = highlight("Error: an ERROR", "error", base, hit);
        let hits: Vec<&str> = spans
            .iter()
            .filter(|s| s.style == hit)
            .map(|s| s.content.as_ref())
            .collect();
        assert_eq!(hits, ["Error", "ERROR"]);
    }
}
