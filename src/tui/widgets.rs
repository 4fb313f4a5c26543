//! The dashboard's building blocks: a titled pane, a framed popup, and the
//! colour of each service.
//!
//! Every view draws with these, so they take a [`Theme`], never the app:
//! this file is a leaf the views import, and it imports no view back.

use ratatui::Frame;
use ratatui::buffer::Buffer;
use ratatui::layout::{Alignment, Rect};
use ratatui::style::{Color, Style};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Borders, Clear, Paragraph, Wrap};

use crate::colours::Colour;
use crate::tui::layout::centered;
use crate::tui::logview;
use crate::tui::theme::Theme;

/// Draws a pane's title line (its top border, highlighted when it has the
/// focus) over the top row of `area`; returns the area under it.
pub fn pane(
    frame: &mut Frame<'_>,
    theme: &Theme,
    title: Vec<Span<'_>>,
    focused: bool,
    area: Rect,
) -> Rect {
    let border = if focused {
        theme.border_focused
    } else {
        theme.border
    };
    let block = Block::default()
        .borders(Borders::TOP)
        .border_style(border)
        .title(Line::from(title));
    let inner = block.inner(area);
    // Over its one row only: a block styles every cell of the area it is
    // given, and this one draws nothing below its top border.
    frame.render_widget(
        block,
        Rect {
            height: area.height.min(1),
            ..area
        },
    );
    inner
}

/// Draws `lines` one a row from the top of `area`, each cut at its width:
/// what an unwrapped, left-aligned [`Paragraph`] draws, without its passes
/// over the whole area (styling every cell, composing each line grapheme
/// by grapheme). A dashboard left open draws a frame a second, and on a
/// machine whose caches went cold in between, each pass costs.
pub fn draw_rows(buf: &mut Buffer, area: Rect, lines: &[Line<'_>]) {
    for (line, y) in lines.iter().zip(area.top()..area.bottom()) {
        buf.set_line(area.x, y, line, area.width);
    }
}

/// A bar: `area` styled with `style` (its background, say), and `line`
/// drawn over its top row, as [`draw_rows`] draws.
pub fn draw_bar(buf: &mut Buffer, area: Rect, line: &Line<'_>, style: Style) {
    buf.set_style(area, style);
    draw_rows(buf, area, std::slice::from_ref(line));
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

#[cfg(test)]
mod tests {
    use super::*;
    use ratatui::style::Modifier;
    use ratatui::widgets::Widget;

    /// Lines a frame shows: styled spans, a line with a style of its own,
    /// wide characters (one cut at the edge), a combining accent, text
    /// longer than the row, an empty line.
    fn lines() -> Vec<Line<'static>> {
        vec![
            Line::from(vec![
                Span::styled("api ", Style::default().fg(Color::Cyan)),
                Span::raw("GET /health 200 in 3ms and then some more text"),
            ]),
            Line::from("selected row").style(Style::default().add_modifier(Modifier::REVERSED)),
            Line::from("宽字符在边上被切断了吗"),
            Line::from("cafe\u{301} ok"),
            Line::from(""),
            Line::from(Span::styled(
                "stderr: boom",
                Style::default().fg(Color::Red),
            )),
        ]
    }

    #[test]
    fn rows_draw_what_an_unwrapped_paragraph_draws() {
        for width in [1, 7, 21, 40] {
            let area = Rect::new(2, 1, width, 5);
            let mut expected = Buffer::empty(Rect::new(0, 0, 50, 8));
            Paragraph::new(lines()).render(area, &mut expected);
            let mut drawn = Buffer::empty(Rect::new(0, 0, 50, 8));
            draw_rows(&mut drawn, area, &lines());
            assert_eq!(drawn, expected, "{width} columns");
        }
    }

    /// `buffer` as a terminal shows it: a cell behind a wide character is
    /// never drawn (ratatui skips it), whatever style it keeps.
    fn shown(mut buffer: Buffer) -> Buffer {
        let mut hidden = 0;
        for cell in &mut buffer.content {
            if hidden > 0 {
                hidden -= 1;
                cell.reset();
                continue;
            }
            hidden = Span::raw(cell.symbol()).width().saturating_sub(1);
        }
        buffer
    }

    #[test]
    fn a_bar_draws_what_a_styled_one_line_paragraph_draws() {
        let style = Style::default().bg(Color::Blue).fg(Color::White);
        for line in lines() {
            let area = Rect::new(0, 0, 30, 1);
            let mut expected = Buffer::empty(area);
            Paragraph::new(line.clone())
                .style(style)
                .render(area, &mut expected);
            let mut drawn = Buffer::empty(area);
            draw_bar(&mut drawn, area, &line, style);
            assert_eq!(shown(drawn), shown(expected), "{line:?}");
        }
    }
}
