//! The cold-start timeline: a bar per service — waiting for its
//! dependencies, then starting, then ready — on one time axis, with the
//! critical path (the chain of services that decided how long it all took)
//! highlighted. It is drawn live during the cold start and stays afterwards,
//! so a user sees *why* the stack took as long as it did.

use std::collections::BTreeSet;
use std::time::Duration;

use ratatui::Frame;
use ratatui::layout::Rect;
use ratatui::text::{Line, Span};
use ratatui::widgets::Paragraph;
use unicode_width::UnicodeWidthStr;

use crate::api::describe::fmt_duration;
use crate::api::{ServiceStatus, State};
use crate::ids::ServiceId;
use crate::tui::app::{App, Pane};
use crate::tui::widgets::pane;

/// The services on the critical path so far: from the one that became
/// ready last (see [`crate::api::summary::critical_path`]).
pub fn critical_path(services: &[ServiceStatus]) -> Vec<ServiceId> {
    let last = services
        .iter()
        .filter(|s| s.selected)
        .filter_map(|s| s.first_ready_at.map(|at| (at, s.id)))
        .max_by_key(|(at, _)| *at)
        .map(|(_, id)| id);
    let status = |id: ServiceId| services.iter().find(|s| s.id == id);
    crate::api::summary::critical_path(
        last,
        |id| status(id).and_then(|s| s.gated_by),
        |id| status(id).is_some_and(|s| s.ready_attempt_spawned_at.is_some()),
    )
}

pub fn draw(frame: &mut Frame<'_>, app: &App, area: Rect) {
    let theme = &app.theme;
    let began = app.snapshot.began_at;
    let services: Vec<&ServiceStatus> = app
        .snapshot
        .services
        .iter()
        .filter(|s| s.selected)
        .collect();
    let path = critical_path(&app.snapshot.services);
    let on_path: BTreeSet<ServiceId> = path.iter().copied().collect();
    // The axis spans the cold start (or, while it runs, until now).
    let end = match &app.snapshot.summary {
        Some(summary) => summary.time_to_ready,
        None => app.clock.saturating_sub(began),
    }
    .max(Duration::from_millis(1));

    let title = match &app.snapshot.summary {
        Some(s) if s.all_required_ready => format!(
            " cold start done in {}: every required service ready ",
            fmt_duration(s.time_to_ready)
        ),
        Some(_) => " cold start: not everything came up ".to_string(),
        None => format!(" cold start: {} so far ", fmt_duration(end)),
    };
    let inner = pane(
        frame,
        theme,
        vec![Span::styled(title, theme.title)],
        app.focus == Pane::Lower || app.zoomed,
        area,
    );
    if inner.height == 0 || inner.width < 10 {
        return;
    }

    let names: Vec<&str> = path
        .iter()
        .filter_map(|id| app.status(*id))
        .map(|s| s.name.as_str())
        .collect();
    let mut lines = vec![Line::from(vec![
        Span::styled(" critical path: ", theme.dim),
        Span::styled(
            if names.is_empty() {
                "—".to_string()
            } else {
                names.join(" → ")
            },
            theme.critical,
        ),
    ])];
    let name_width = services
        .iter()
        .map(|s| s.name.width())
        .max()
        .unwrap_or(4)
        .min(18)
        + 1;
    let time_width = 8;
    let bar_width = usize::from(inner.width)
        .saturating_sub(name_width + time_width + 3)
        .max(1);
    let column = |at: Duration| -> usize {
        let fraction = at.saturating_sub(began).as_secs_f64() / end.as_secs_f64();
        ((fraction * bar_width as f64).round() as usize).min(bar_width)
    };
    for s in services
        .iter()
        .take(usize::from(inner.height).saturating_sub(2))
    {
        let critical = on_path.contains(&s.id);
        let name_style = if critical {
            theme.critical
        } else {
            ratatui::style::Style::default()
        };
        let mut spans = vec![Span::styled(
            format!(
                " {}",
                crate::text::pad_right(
                    &crate::text::ellipsize(&s.name, name_width - 1),
                    name_width
                )
            ),
            name_style,
        )];
        let spawned = s.ready_attempt_spawned_at.map(column);
        let ready = s.first_ready_at.map(column);
        let now = column(app.clock.max(began));
        // A service that gave up (failed, stopped, skipped) ends where it did.
        let gave_up = matches!(s.state, State::Failed | State::Stopped | State::Skipped);
        let end_of_try = if gave_up { column(s.since) } else { now };
        let (wait_end, start_end) = match (spawned, ready) {
            (Some(spawn), Some(ready)) => (spawn, ready.max(spawn)),
            (Some(spawn), None) => (spawn, end_of_try.max(spawn)),
            (None, _) => (end_of_try, end_of_try),
        };
        let bar_style = |style: ratatui::style::Style| {
            if critical {
                style.patch(theme.critical)
            } else {
                style
            }
        };
        spans.push(Span::styled("·".repeat(wait_end), theme.bar_waiting));
        spans.push(Span::styled(
            "▒".repeat(start_end - wait_end),
            bar_style(theme.bar_starting),
        ));
        if ready.is_some() {
            spans.push(Span::styled(
                "█".repeat(bar_width - start_end),
                bar_style(theme.bar_ready),
            ));
        } else if gave_up {
            spans.push(Span::styled("✗", theme.state(s.state)));
            spans.push(Span::raw(
                " ".repeat((bar_width - start_end).saturating_sub(1)),
            ));
        } else {
            spans.push(Span::raw(" ".repeat(bar_width - start_end)));
        }
        let took = match (s.ready_attempt_spawned_at, s.first_ready_at) {
            (Some(spawn), Some(ready)) => fmt_duration(ready.saturating_sub(spawn)),
            _ => s.state.as_str().replace('_', " "),
        };
        spans.push(Span::styled(format!("  {took:>time_width$}"), theme.dim));
        lines.push(Line::from(spans));
    }
    lines.push(Line::from(vec![
        Span::styled(" · waiting  ", theme.bar_waiting),
        Span::styled("▒ starting  ", theme.bar_starting),
        Span::styled("█ ready  ", theme.bar_ready),
        Span::styled(format!("0 ─ {} ", fmt_duration(end)), theme.dim),
    ]));
    frame.render_widget(Paragraph::new(lines), inner);
}
