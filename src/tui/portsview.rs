//! The ports view: every service's wanted port, the one it got and how,
//! and who holds it right now (looked up from /proc when the view opens
//! and every few seconds while it shows, off the drawing path).

use ratatui::Frame;
use ratatui::layout::Rect;
use ratatui::text::{Line, Span};
use ratatui::widgets::Paragraph;
use unicode_width::UnicodeWidthStr;

use crate::api::{PortHolder, describe};
use crate::tui::app::{App, Pane};
use crate::tui::widgets::pane;

pub fn draw(frame: &mut Frame<'_>, app: &App, area: Rect) {
    let theme = &app.theme;
    let inner = pane(
        frame,
        theme,
        vec![Span::styled(" ports ", theme.title)],
        app.focus == Pane::Lower || app.zoomed,
        area,
    );
    if inner.height == 0 {
        return;
    }
    let rows: Vec<_> = app
        .snapshot
        .services
        .iter()
        .filter_map(|s| {
            let wanted = app.info.service(s.id)?.port.as_ref()?;
            Some((s, describe::wanted_port(wanted)))
        })
        .collect();
    if rows.is_empty() {
        frame.render_widget(
            Paragraph::new(Span::styled(" no service has a port", theme.dim)),
            inner,
        );
        return;
    }
    let name_width = rows
        .iter()
        .map(|(s, _)| s.name.width())
        .max()
        .unwrap_or(7)
        .max(7)
        + 2;
    let wanted_width = rows
        .iter()
        .map(|(_, wanted)| wanted.width())
        .max()
        .unwrap_or(6)
        .clamp(6, 28)
        + 2;
    let mut lines = vec![Line::from(vec![
        Span::styled(format!(" {:<name_width$}", "SERVICE"), theme.column),
        Span::styled(format!("{:<wanted_width$}", "WANTED"), theme.column),
        Span::styled(format!("{:<14}", "GOT"), theme.column),
        Span::styled("HELD BY NOW", theme.column),
    ])];
    for (status, wanted) in rows {
        let (got, got_style) = match (status.port, &status.port_how) {
            (Some(port), _) if status.external => (format!("{port} (external)"), theme.external),
            (Some(port), Some(how)) if how.elsewhere() => {
                (format!("{port} (fallback)"), theme.fallback)
            }
            (Some(port), _) => (port.to_string(), ratatui::style::Style::default()),
            (None, _) => ("-".to_string(), theme.dim),
        };
        let (holder, holder_style) = match app.holders.get(status.id.0).and_then(Option::as_ref) {
            None => ("…".to_string(), theme.dim),
            Some(holder @ (PortHolder::Free | PortHolder::Ours { .. })) => {
                (describe::port_holder(holder), theme.dim)
            }
            Some(holder) => (describe::port_holder(holder), theme.warn),
        };
        lines.push(Line::from(vec![
            Span::raw(format!(" {:<name_width$}", status.name)),
            Span::styled(
                crate::text::pad_right(
                    &crate::text::ellipsize(&wanted, wanted_width - 2),
                    wanted_width,
                ),
                theme.dim,
            ),
            Span::styled(format!("{got:<14}"), got_style),
            Span::styled(holder, holder_style),
        ]));
        if let Some(how) = status.port_how.as_ref().filter(|how| how.elsewhere()) {
            let note = describe::port_how(how);
            lines.push(Line::from(Span::styled(format!("   {note}"), theme.dim)));
        }
    }
    frame.render_widget(Paragraph::new(lines), inner);
}
