//! The dashboard's building blocks: a titled pane, a framed popup, and the
//! colour of each service.
//!
//! Every view draws with these, so they take a [`Theme`], never the app:
//! this file is a leaf the views import, and it imports no view back.

use ratatui::Frame;
use ratatui::layout::Alignment;
use ratatui::style::Color;
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Borders, Clear, Paragraph, Wrap};

use crate::colours::Colour;
use crate::tui::layout::centered;
use crate::tui::logview;
use crate::tui::theme::Theme;

/// A pane with a title line, highlighted when it has the focus.
pub fn pane<'a>(theme: &Theme, title: Vec<Span<'a>>, focused: bool) -> Block<'a> {
    let border = if focused {
        theme.border_focused
    } else {
        theme.border
    };
    Block::default()
        .borders(Borders::TOP)
        .border_style(border)
        .title(Line::from(title))
}

/// Draws a framed popup with `lines`, centred, at most `width` wide;
/// clears beneath it. Nothing is drawn where it would not fit.
pub fn popup(frame: &mut Frame<'_>, theme: &Theme, title: &str, lines: Vec<Line<'_>>, width: u16) {
    // Wrapped lines take more than one row; count them so nothing is cut.
    let inner_width = width.min(frame.area().width).saturating_sub(2);
    let rows: usize = lines
        .iter()
        .map(|line| logview::rows(line, inner_width))
        .sum();
    let height = u16::try_from(rows).unwrap_or(u16::MAX).saturating_add(2);
    let area = centered(frame.area(), width, height);
    if area.width < 4 || area.height < 3 {
        return;
    }
    let block = Block::default()
        .borders(Borders::ALL)
        .border_style(theme.popup_border)
        .title(
            Line::from(Span::styled(format!(" {title} "), theme.popup_border))
                .alignment(Alignment::Center),
        )
        .style(theme.popup);
    frame.render_widget(Clear, area);
    frame.render_widget(
        Paragraph::new(lines)
            .block(block)
            .wrap(Wrap { trim: false }),
        area,
    );
}

/// The colour of the service at `index`, as in every front end.
pub fn palette(index: usize) -> Color {
    match crate::colours::of_service(index) {
        Colour::Cyan => Color::Cyan,
        Colour::Yellow => Color::Yellow,
        Colour::Green => Color::Green,
        Colour::Magenta => Color::Magenta,
        Colour::Blue => Color::Blue,
        Colour::LightCyan => Color::LightCyan,
        Colour::LightYellow => Color::LightYellow,
        Colour::LightGreen => Color::LightGreen,
        Colour::LightMagenta => Color::LightMagenta,
        Colour::LightBlue => Color::LightBlue,
        Colour::Red => Color::Red,
        Colour::LightRed => Color::LightRed,
    }
}
