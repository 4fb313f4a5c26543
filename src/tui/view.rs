//! Drawing a frame: the header and status line, the log pane, and which
//! view goes where. Every function here only reads the [`App`].
//!
//! The frame is one header line, the service grid, the lower view (logs,
//! all logs, bringup's own log, the timeline or the ports) and a status
//! line with the keys that matter where the focus is; [`layout`] says where
//! each goes, and drops pieces on small screens.
//!
//! [`layout`]: crate::tui::layout

use ratatui::Frame;
use ratatui::layout::Rect;
use ratatui::style::{Modifier, Style};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Paragraph, Wrap};

use crate::api::describe::fmt_duration;
use crate::api::{Phase, State};
use crate::keys::Action;
use crate::tui::app::{App, LowerView, Pane, Quitting, Typing};
use crate::tui::logview::{self, LineFormat, LogPosition, LogSource};
use crate::tui::widgets::{draw_bar, draw_rows, palette, pane};
use crate::tui::{grid, overlay, portsview, timeline};

/// Draws the whole frame.
pub fn draw(frame: &mut Frame<'_>, app: &App) {
    let areas = app.areas(frame.area());
    if let Some(area) = areas.header {
        header(frame, app, area);
    }
    if let Some(area) = areas.grid {
        grid::draw(frame, app, area);
    }
    if let Some(area) = areas.lower {
        match app.lower {
            LowerView::Logs | LowerView::AllLogs => logs(frame, app, area),
            LowerView::Orchestrator => logs(frame, app, area),
            LowerView::Timeline => timeline::draw(frame, app, area),
            LowerView::Ports => portsview::draw(frame, app, area),
        }
    }
    if let Some(area) = areas.status {
        status(frame, app, area);
    }
    if let Some(shown) = &app.overlay {
        overlay::draw(frame, app, shown);
    }
}

/// "card-grader  7/10 ready  [█████░░░] 1.4s" while starting; then how long
/// it took and how long it has been up.
fn header(frame: &mut Frame<'_>, app: &App, area: Rect) {
    let theme = &app.theme;
    let selected: Vec<_> = app
        .snapshot
        .services
        .iter()
        .filter(|s| s.selected)
        .collect();
    let ready = selected.iter().filter(|s| s.state.is_ready()).count();
    // Ready, but without a required dependency: said apart from the rest.
    let impaired = selected
        .iter()
        .filter(|s| s.state.is_ready() && !s.lost.is_empty())
        .count();
    let required: Vec<_> = selected.iter().filter(|s| !s.optional).collect();
    let required_ready = required.iter().filter(|s| s.state.is_ready()).count();
    let elapsed = app.clock.saturating_sub(app.snapshot.began_at);
    let mut spans = vec![
        Span::styled(
            format!(" {} ", app.info.project),
            theme.header.add_modifier(Modifier::BOLD),
        ),
        Span::styled(
            format!(" {}/{} ready ", ready - impaired, selected.len()),
            theme.header,
        ),
    ];
    if impaired > 0 {
        spans.push(Span::styled(
            format!(" ⚠ {impaired} lost a dependency "),
            theme.warn,
        ));
    }
    match (&app.snapshot.summary, app.snapshot.phase, app.quitting) {
        (_, Phase::ShuttingDown { .. } | Phase::Done, _)
        | (_, _, Quitting::Stopping | Quitting::Killing) => {
            let left = selected.iter().filter(|s| s.pid.is_some()).count();
            let how = if app.quitting == Quitting::Killing {
                "killing"
            } else {
                "stopping"
            };
            spans.push(Span::styled(
                format!(" {how}… {left} still running "),
                theme.warn,
            ));
        }
        (Some(summary), _, _) => {
            let took = if summary.all_required_ready {
                format!(" up in {} ", fmt_duration(summary.time_to_ready))
            } else {
                " not everything came up ".to_string()
            };
            let style = if summary.all_required_ready {
                theme.header
            } else {
                theme.warn
            };
            spans.push(Span::styled(took, style));
            // Coarse, like the uptimes: seconds only in the first minute.
            spans.push(Span::styled(
                format!(" running {} ", crate::text::uptime(elapsed)),
                theme.header,
            ));
        }
        (None, Phase::Restarting, _) => {
            spans.push(Span::styled(" restarting everything… ", theme.warn))
        }
        (None, _, _) => {
            let width = usize::from(area.width.saturating_sub(40)).clamp(4, 30);
            let total = required.len().max(1);
            let filled = width * required_ready / total;
            let bar = format!("{}{}", "█".repeat(filled), "░".repeat(width - filled));
            spans.push(Span::styled(format!(" {bar} "), theme.progress));
            spans.push(Span::styled(
                format!(" {} ", fmt_duration(elapsed)),
                theme.header,
            ));
        }
    }
    draw_bar(frame.buffer_mut(), area, &Line::from(spans), theme.header);
}

/// Keys that matter here, or what is being typed, or a passing message.
fn status(frame: &mut Frame<'_>, app: &App, area: Rect) {
    let theme = &app.theme;
    let line = if let Some(typing) = app.typing {
        let (what, text) = match typing {
            Typing::Filter => ("filter services", &app.filter),
            Typing::Search => ("search the log", &app.log.search),
        };
        Line::from(vec![
            Span::styled(format!(" {what}: "), theme.key),
            Span::raw(format!("{text}▏")),
            Span::styled("   enter keeps it · esc clears it", theme.dim),
        ])
    } else if let Some(message) = app.flash_now() {
        // Cut visibly: a message that does not fit ends in "…".
        let width = usize::from(area.width.saturating_sub(1));
        let message = crate::text::ellipsize(message, width);
        Line::from(Span::styled(format!(" {message}"), theme.warn))
    } else {
        let hints = Action::hints(app.focus == Pane::Lower || app.zoomed, app.mode);
        let mut spans = vec![Span::raw(" ")];
        for (action, label) in hints {
            spans.push(Span::styled(app.keys.first(action), theme.key));
            spans.push(Span::raw(format!(" {label}  ")));
        }
        Line::from(spans)
    };
    draw_bar(frame.buffer_mut(), area, &line, theme.status);
}

/// The selected service's output, or everyone's.
fn logs(frame: &mut Frame<'_>, app: &App, area: Rect) {
    let theme = &app.theme;
    let source = app.log_source();
    let name = match source {
        LogSource::Service(id) => app.status(id).map_or("?".to_string(), |s| s.name.clone()),
        LogSource::All => "all services".to_string(),
        LogSource::Orchestrator => "bringup (what it decided, and why)".to_string(),
    };
    let mut title = vec![Span::styled(format!(" logs: {name} "), theme.title)];
    let mode = match &app.log.position {
        LogPosition::Follow => "following",
        LogPosition::At(_) => "scrolled (f follows)",
    };
    title.push(Span::styled(format!("{mode} "), theme.dim));
    if app.log.wrap {
        title.push(Span::styled("wrap ", theme.dim));
    }
    if !app.log.search.is_empty() {
        title.push(Span::styled(
            format!("/{} ", app.log.search),
            theme.search_match,
        ));
    }
    let inner = pane(
        frame,
        theme,
        title,
        app.focus == Pane::Lower || app.zoomed,
        area,
    );
    if inner.height == 0 || inner.width == 0 {
        return;
    }
    let colors = app.theme.name != "monochrome";
    let names: Vec<String> = app.info.services.iter().map(|s| s.name.clone()).collect();
    let width = names
        .iter()
        .map(|n| crate::text::width(n))
        .max()
        .unwrap_or(4);
    let prefix = move |index: usize| {
        let style = if colors {
            Style::default().fg(palette(index))
        } else {
            Style::default()
        };
        (
            crate::text::pad_left(names.get(index).map_or("?", String::as_str), width),
            style,
        )
    };
    let format = LineFormat {
        timestamps: app.log.timestamps,
        search: &app.log.search,
        colors,
        timestamp_style: theme.timestamp,
        stderr_style: theme.stderr,
        match_style: theme.search_match,
        prefix: if source == LogSource::All {
            Some(&prefix)
        } else {
            None
        },
        hub: &app.logs,
    };
    let height = usize::from(inner.height);
    let window = logview::tail(&app.logs, source, app.log.position.upto(), height);
    if window.is_empty() {
        let empty = match app.selected_status() {
            Some(s) if s.state == State::Pending => {
                format!("{} has not started yet: nothing printed", s.name)
            }
            _ => "no output yet".to_string(),
        };
        frame.render_widget(Paragraph::new(Span::styled(empty, theme.dim)), inner);
        return;
    }
    let rendered: Vec<Line<'static>> = window
        .iter()
        .map(|(index, line)| logview::render(*index, line, &format))
        .collect();
    if app.log.wrap {
        // Bottom-aligned: count rows from the newest line up, then cut the top.
        let mut rows = 0;
        let mut first = rendered.len();
        while first > 0 && rows < height {
            first -= 1;
            rows += logview::rows(&rendered[first], inner.width);
        }
        let cut = rows.saturating_sub(height) as u16;
        let paragraph = Paragraph::new(rendered[first..].to_vec())
            .wrap(Wrap { trim: false })
            .scroll((cut, 0));
        frame.render_widget(paragraph, inner);
    } else {
        // Fewer lines than rows: from the top, as a terminal fills.
        draw_rows(frame.buffer_mut(), inner, &rendered);
    }
}
