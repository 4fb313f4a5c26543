//! Popups drawn over the dashboard: help (every key, as currently bound),
//! the confirmations for kill, for quitting during a cold start and for
//! stopping the stack (its own key; attached, quitting detaches), and the
//! port-conflict popup with the holder and the ways out. The holder's
//! command line and user are someone else's words: shown through
//! [`plain`], without the escape sequences they may carry.

use ratatui::Frame;
use ratatui::text::{Line, Span};

use crate::ansi::plain;
use crate::keys::{Action, Mode};
use crate::tui::app::{App, Overlay};
use crate::tui::theme::Theme;
use crate::tui::widgets::popup;

pub fn draw(frame: &mut Frame<'_>, app: &App, overlay: &Overlay) {
    let theme = &app.theme;
    match overlay {
        Overlay::Help => {
            let area = frame.area();
            let fits = Action::ALL.len() as u16 + 4 <= area.height;
            let lines = if fits {
                help_long(app)
            } else {
                help_short(app)
            };
            let width = if fits { 96 } else { 78 };
            popup(frame, theme, "keys", lines, width);
        }
        Overlay::ConfirmKill(id) => {
            let Some(status) = app.status(*id) else {
                return;
            };
            let pid = status
                .pid
                .map_or_else(String::new, |p| format!(" (pid {p})"));
            let lines = vec![
                Line::from(format!(
                    " Kill {}{pid} and its whole process group with SIGKILL?",
                    status.name
                )),
                Line::from(Span::styled(
                    " It gets no chance to clean up, and stays stopped.",
                    theme.dim,
                )),
                Line::from(""),
                confirm_keys(theme, "kill", "keep it"),
            ];
            popup(frame, theme, "kill", lines, 64);
        }
        Overlay::ConfirmQuit => {
            let starting: Vec<&str> = app
                .snapshot
                .services
                .iter()
                .filter(|s| s.selected && !s.state.is_ready() && s.pid.is_some())
                .map(|s| s.name.as_str())
                .collect();
            let lines = vec![
                Line::from(" The stack is still coming up."),
                Line::from(Span::styled(
                    format!(
                        " Still starting: {}",
                        if starting.is_empty() {
                            "—".to_string()
                        } else {
                            starting.join(", ")
                        }
                    ),
                    theme.dim,
                )),
                Line::from(" Quit and stop everything (dependents first)?"),
                Line::from(""),
                confirm_keys(theme, "quit", "stay"),
            ];
            popup(frame, theme, "quit", lines, 64);
        }
        Overlay::ConfirmStop => {
            let running = app
                .snapshot
                .services
                .iter()
                .filter(|s| s.pid.is_some())
                .count();
            let mut lines = vec![
                Line::from(" Stop the whole stack, dependents first?"),
                Line::from(Span::styled(
                    format!(" {running} running now; every one is stopped."),
                    theme.dim,
                )),
            ];
            if app.mode == Mode::Attached {
                let quit = app.keys.first(Action::Quit);
                lines.push(Line::from(Span::styled(
                    format!(" ({quit} detaches instead: the stack keeps running.)"),
                    theme.dim,
                )));
            }
            lines.push(Line::from(""));
            lines.push(confirm_keys(theme, "stop it", "keep it running"));
            popup(frame, theme, "stop the stack", lines, 64);
        }
        Overlay::Conflict {
            service,
            port,
            holders,
            message,
        } => {
            let name = app.status(*service).map_or("?", |s| s.name.as_str());
            let mut lines = vec![Line::from(vec![
                Span::raw(format!(" {name} cannot start: ")),
                Span::styled(
                    port.map_or_else(
                        || "no free port".to_string(),
                        |p| format!("port {p} is taken"),
                    ),
                    theme.error,
                ),
            ])];
            for holder in holders {
                lines.push(Line::from(""));
                match (holder.pid, &holder.command) {
                    (Some(pid), Some(command)) => {
                        lines.push(Line::from(format!("   pid      {pid}")));
                        let inner =
                            usize::from(CONFLICT_WIDTH.min(frame.area().width)).saturating_sub(2);
                        lines.extend(hanging("   command  ", &plain(command), inner));
                        lines.push(Line::from(format!("   user     {}", plain(&holder.user))));
                        if let Some(running) = holder.running_for {
                            lines.push(Line::from(format!(
                                "   running  {}",
                                crate::api::describe::uptime(running)
                            )));
                        }
                    }
                    _ => lines.push(Line::from(format!("   {holder}"))),
                }
            }
            if holders.is_empty() {
                lines.push(Line::from(Span::styled(
                    format!(" {}", plain(message)),
                    theme.dim,
                )));
            }
            lines.push(Line::from(""));
            lines.push(Line::from(vec![
                Span::styled(" f    ", theme.key),
                Span::raw("use another port: any free one of the range"),
            ]));
            lines.push(Line::from(vec![
                Span::styled(" a    ", theme.key),
                Span::raw(format!(
                    "adopt it as {name}, if it passes {name}'s readiness check"
                )),
            ]));
            lines.push(Line::from(vec![
                Span::styled(" esc  ", theme.key),
                Span::raw(format!("leave {name} failed")),
            ]));
            if let Some(port) = port {
                lines.push(Line::from(Span::styled(
                    format!(" (or stop it: `bringup ports kill {port}`, then r)"),
                    theme.dim,
                )));
            }
            popup(frame, theme, "port conflict", lines, CONFLICT_WIDTH);
        }
    }
}

/// The conflict popup's widest.
const CONFLICT_WIDTH: u16 = 84;

/// `label` then `text`, wrapped at spaces to `width` columns with every
/// continuation lined up under the start of `text` (a long command stays
/// readable); a word longer than a whole line is split.
fn hanging(label: &str, text: &str, width: usize) -> Vec<Line<'static>> {
    use unicode_width::{UnicodeWidthChar, UnicodeWidthStr};
    let indent = label.width();
    let room = width.saturating_sub(indent).max(8);
    let mut rows: Vec<String> = Vec::new();
    let mut row = String::new();
    for word in text.split(' ') {
        let gap = usize::from(!row.is_empty());
        if row.width() + gap + word.width() <= room {
            if gap == 1 {
                row.push(' ');
            }
            row.push_str(word);
            continue;
        }
        if !row.is_empty() {
            rows.push(std::mem::take(&mut row));
        }
        for c in word.chars() {
            if row.width() + c.width().unwrap_or(0) > room {
                rows.push(std::mem::take(&mut row));
            }
            row.push(c);
        }
    }
    rows.push(row);
    rows.into_iter()
        .enumerate()
        .map(|(i, row)| {
            let lead = if i == 0 {
                label.to_string()
            } else {
                " ".repeat(indent)
            };
            Line::from(format!("{lead}{row}"))
        })
        .collect()
}

/// Every action with its keys and what it does, one a line.
fn help_long(app: &App) -> Vec<Line<'static>> {
    let theme = &app.theme;
    let width = Action::ALL
        .iter()
        .map(|a| crate::text::width(&keys(app, *a)))
        .max()
        .unwrap_or(8)
        + 2;
    let mut lines: Vec<Line<'static>> = Action::ALL
        .iter()
        .map(|&action| {
            Line::from(vec![
                Span::styled(
                    format!(" {}", crate::text::pad_right(&keys(app, action), width)),
                    theme.key,
                ),
                Span::raw(action.describe(app.mode)),
            ])
        })
        .collect();
    lines.push(Line::from(""));
    lines.push(Line::from(Span::styled(
        " Mouse: wheel scrolls, click selects. Keys can be changed in [ui.keys]. Any key closes this.",
        theme.dim,
    )));
    lines
}

/// The same in two columns of short words, for small screens.
fn help_short(app: &App) -> Vec<Line<'static>> {
    let theme = &app.theme;
    let half = Action::ALL.len().div_ceil(2);
    let cell = |action: Option<&Action>| -> Vec<Span<'static>> {
        match action {
            Some(&action) => {
                // Cut visibly, and by columns: a key may be two wide.
                vec![
                    Span::styled(
                        format!(" {}", crate::text::fit(&keys(app, action), 13)),
                        theme.key,
                    ),
                    Span::raw(format!("{:<23}", action.short(app.mode))),
                ]
            }
            None => vec![Span::raw(" ".repeat(37))],
        }
    };
    let mut lines: Vec<Line<'static>> = (0..half)
        .map(|row| {
            let mut spans = cell(Action::ALL.get(row));
            spans.extend(cell(Action::ALL.get(row + half)));
            Line::from(spans)
        })
        .collect();
    lines.push(Line::from(Span::styled(
        " any key closes; [ui.keys] changes them",
        theme.dim,
    )));
    lines
}

/// The keys of an action as help lists them: "j ↓".
fn keys(app: &App, action: Action) -> String {
    app.keys
        .keys_of(action)
        .iter()
        .map(ToString::to_string)
        .collect::<Vec<_>>()
        .join(" ")
}

/// The last line of a confirmation: `y` does it, any other key does not.
fn confirm_keys(theme: &Theme, yes: &str, no: &str) -> Line<'static> {
    Line::from(vec![
        Span::styled(" y", theme.key),
        Span::raw(format!(" {yes}   ")),
        Span::styled("any other key", theme.key),
        Span::raw(format!(" {no}")),
    ])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_long_value_wraps_under_itself() {
        let wrap = |text| -> Vec<String> {
            hanging("  cmd ", text, 16)
                .iter()
                .map(ToString::to_string)
                .collect()
        };
        assert_eq!(
            wrap("abcdefghijklmnopqrstuvwxyz"),
            ["  cmd abcdefghij", "      klmnopqrst", "      uvwxyz"]
        );
        assert_eq!(
            wrap("python -m http.sv 80"),
            ["  cmd python -m", "      http.sv 80"]
        );
        assert_eq!(wrap("short"), ["  cmd short"]);
    }
}
