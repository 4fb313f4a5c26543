//! The service grid: one row per service in start order, with its state
//! (colour and symbol, so it reads without colour too), port, pid, uptime,
//! restarts, time to ready and what it is waiting for or why it failed.
//!
//! Columns give way as the terminal narrows: first time-to-ready and
//! restarts, then pid and uptime, then the port; the name, state and
//! explanation stay. The rows scroll to keep the selected service visible.

use crate::tui::widgets::draw_rows;
use ratatui::Frame;
use ratatui::layout::Rect;
use ratatui::style::Style;
use ratatui::text::{Line, Span};
use unicode_width::UnicodeWidthStr;

use crate::api::describe;
use crate::api::describe::fmt_duration;
use crate::api::{Reason, ServiceStatus, State};
use crate::text::{ellipsize, fit};
use crate::tui::app::{App, Pane, Typing};

/// Which columns fit in `width`.
struct Columns {
    name: usize,
    port: bool,
    pid: bool,
    uptime: bool,
    restarts: bool,
    ready: bool,
}

impl Columns {
    fn for_width(app: &App, width: u16) -> Self {
        // Room for the name, the optional mark " ◇" and a space.
        let longest = app
            .snapshot
            .services
            .iter()
            .map(|s| s.name.width() + if s.optional { 3 } else { 1 } + 1)
            .max()
            .unwrap_or(8);
        let width = usize::from(width);
        Self {
            name: longest.clamp(9, 20).min(width / 3),
            port: width >= 44,
            pid: width >= 60,
            uptime: width >= 60,
            restarts: width >= 72,
            ready: width >= 72,
        }
    }
}

pub fn draw(frame: &mut Frame<'_>, app: &App, area: Rect) {
    let theme = &app.theme;
    let columns = Columns::for_width(app, area.width);
    let focused = app.focus == Pane::Services && !app.zoomed;
    let mut lines = Vec::new();

    let mut heading = vec![Span::styled(
        format!(" {:<w$}", "SERVICE", w = columns.name),
        theme.column,
    )];
    heading.push(Span::styled(format!("{:<12}", "STATE"), theme.column));
    if columns.port {
        heading.push(Span::styled(format!("{:<11}", "PORT"), theme.column));
    }
    if columns.pid {
        heading.push(Span::styled(format!("{:<8}", "PID"), theme.column));
    }
    if columns.uptime {
        heading.push(Span::styled(format!("{:<7}", "UP"), theme.column));
    }
    if columns.restarts {
        heading.push(Span::styled(format!("{:<4}", "↻"), theme.column));
    }
    if columns.ready {
        heading.push(Span::styled(format!("{:<8}", "READY"), theme.column));
    }
    let filter = match (app.typing, app.filter.is_empty()) {
        (Some(Typing::Filter), _) | (_, false) => format!("filter: {}", app.filter),
        _ => String::new(),
    };
    heading.push(Span::styled(filter, theme.search_match));
    let border = if focused {
        theme.border_focused
    } else {
        theme.border
    };
    lines.push(Line::from(heading).style(border));

    let visible = app.visible();
    let rows = area.height.saturating_sub(1);
    let skip = app.first_row(rows);
    for status in visible.iter().skip(skip).take(usize::from(rows)) {
        let selected = app.selected == Some(status.id);
        let mut line = row(app, status, &columns, usize::from(area.width));
        if selected {
            let marker = if focused { "▶" } else { "▷" };
            line.spans[0] = Span::styled(marker, theme.key);
            // Fill the row, so the highlight spans the whole width.
            let used: usize = line.spans.iter().map(|s| s.content.width()).sum();
            line.spans.push(Span::raw(
                " ".repeat(usize::from(area.width).saturating_sub(used)),
            ));
            line = line.style(theme.selected);
        }
        lines.push(line);
    }
    if visible.is_empty() {
        lines.push(Line::from(Span::styled(
            format!(" no service matches {:?}", app.filter),
            theme.dim,
        )));
    }
    draw_rows(frame.buffer_mut(), area, &lines);
}

fn row(app: &App, s: &ServiceStatus, columns: &Columns, width: usize) -> Line<'static> {
    let theme = &app.theme;
    let mut spans = vec![Span::raw(" ")];
    let mut name = s.name.clone();
    let mut name_style = Style::default();
    if s.optional {
        name.push_str(" ◇");
        name_style = name_style.patch(theme.optional);
    }
    spans.push(Span::styled(fit(&name, columns.name), name_style));
    let state = if s.stopping {
        format!("{} stopping", s.state.symbol())
    } else {
        format!("{} {}", s.state.symbol(), label(s.state))
    };
    spans.push(Span::styled(fit(&state, 12), theme.state(s.state)));
    if columns.port {
        let (port, style) = match (s.port, &s.port_how) {
            (Some(port), _) if s.external => (format!("{port} ext"), theme.external),
            (Some(port), Some(how)) if how.elsewhere() => (format!("{port} fb"), theme.fallback),
            (Some(port), _) => (port.to_string(), Style::default()),
            // It never got the port it wants (taken, say): show which.
            (None, _) => match wanted_port(app, s) {
                Some(port) if s.state == State::Failed => (format!("{port} ✗"), theme.error),
                _ => ("-".to_string(), theme.dim),
            },
        };
        spans.push(Span::styled(fit(&port, 11), style));
    }
    if columns.pid {
        let pid = s.pid.map_or("-".to_string(), |p| p.to_string());
        spans.push(Span::styled(fit(&pid, 8), theme.dim));
    }
    if columns.uptime {
        let up = match (s.pid, s.spawned_at) {
            (Some(_), Some(at)) => compact(app.clock.saturating_sub(at)),
            _ => "-".to_string(),
        };
        spans.push(Span::styled(fit(&up, 7), theme.dim));
    }
    if columns.restarts {
        let restarts = if s.restarts > 0 {
            s.restarts.to_string()
        } else {
            "0".to_string()
        };
        let style = if s.restarts > 0 {
            theme.warn
        } else {
            theme.dim
        };
        spans.push(Span::styled(fit(&restarts, 4), style));
    }
    if columns.ready {
        let ready = match (s.ready_attempt_spawned_at, s.first_ready_at) {
            (Some(spawned), Some(ready)) => fmt_duration(ready.saturating_sub(spawned)),
            _ => "-".to_string(),
        };
        spans.push(Span::styled(fit(&ready, 8), theme.dim));
    }
    let (info, style) = explain(app, s);
    // Notes quote probe output and port holders' command lines.
    let info = crate::ansi::plain(&info).into_owned();
    // Cut a long reason at the edge with a visible "…", not mid-word silently.
    let used: usize = spans.iter().map(|span| span.content.width()).sum();
    let room = width.saturating_sub(used);
    let info = ellipsize(&info, room);
    spans.push(Span::styled(info, style));
    Line::from(spans)
}

/// The fixed port a service asks for first, if it asks for one.
fn wanted_port(app: &App, s: &ServiceStatus) -> Option<u16> {
    app.info.service(s.id)?.port.as_ref()?.preferred
}

/// What a row says after its numbers: what it waits for, why it failed,
/// what it runs without.
fn explain(app: &App, s: &ServiceStatus) -> (String, Style) {
    let theme = &app.theme;
    let why = || describe::reason(&s.reason);
    match s.state {
        State::Pending => (
            s.waiting.as_ref().map_or_else(why, describe::waiting),
            theme.dim,
        ),
        State::Failed => (why(), theme.error),
        State::NotReady => (why(), theme.warn),
        // The last check's answer says more than "starting" (the state
        // column says that); else what it starts without.
        State::Starting => {
            let degraded = match &s.reason {
                Reason::Starting { degraded, .. } if !degraded.is_empty() => {
                    describe::degraded_line(degraded)
                }
                _ => String::new(),
            };
            (s.last_check.clone().unwrap_or(degraded), theme.dim)
        }
        State::Stopped | State::Skipped if s.selected => (why(), theme.dim),
        State::Ready if s.external => (
            "adopted; bringup leaves it alone".to_string(),
            theme.external,
        ),
        _ if !s.lost.is_empty() => (lost(s), theme.warn),
        _ if !s.degraded.is_empty() => (
            format!("degraded: without {}", s.degraded.join(", ")),
            theme.warn,
        ),
        _ => (String::new(), theme.dim),
    }
}

/// "⚠ postgres failed": the required dependencies a running service lost.
pub fn lost(s: &ServiceStatus) -> String {
    let lost: Vec<String> = s
        .lost
        .iter()
        .map(|l| format!("{} {}", l.name, crate::api::describe::lost_state(l.state)))
        .collect();
    format!("⚠ {}", lost.join(", "))
}

/// A state as a word that fits its column.
fn label(state: State) -> &'static str {
    match state {
        State::NotReady => "not ready",
        other => other.as_str(),
    }
}

/// "12s", "5m", "2h", "3d".
fn compact(d: std::time::Duration) -> String {
    let s = d.as_secs();
    match s {
        0..60 => format!("{s}s"),
        60..3600 => format!("{}m", s / 60),
        3600..86_400 => format!("{}h", s / 3600),
        _ => format!("{}d", s / 86_400),
    }
}
