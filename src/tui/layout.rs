//! Where things are on screen: the split into header, grid, lower view and
//! status line, the grid's first shown row, and centred popups.
//!
//! Drawing and mouse hits both ask here, so a click lands on the row that
//! was drawn there. The functions take plain numbers, not the app: this is
//! a leaf that every other file of the dashboard may use without importing
//! anything back. The layout degrades by dropping pieces, never by
//! panicking: below a few rows the status line goes, then the header, then
//! the grid shrinks to what fits.

use ratatui::layout::{Constraint, Layout, Rect};

/// Where each part of the screen is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Areas {
    pub header: Option<Rect>,
    pub grid: Option<Rect>,
    /// The lower view: logs, all logs, bringup's own log, timeline or ports.
    pub lower: Option<Rect>,
    pub status: Option<Rect>,
}

/// The layout for a screen of `size` showing `services` grid rows, or
/// only the lower view when `zoomed`.
pub fn areas(size: Rect, zoomed: bool, services: usize) -> Areas {
    let mut rest = size;
    let take_top = |rest: &mut Rect| {
        let line = Rect { height: 1, ..*rest };
        rest.y += 1;
        rest.height -= 1;
        line
    };
    let header = (rest.height >= 3).then(|| take_top(&mut rest));
    let status = (rest.height >= 3).then(|| {
        let line = Rect {
            y: rest.y + rest.height - 1,
            height: 1,
            ..rest
        };
        rest.height -= 1;
        line
    });
    if rest.height == 0 || rest.width == 0 {
        return Areas {
            header,
            grid: None,
            lower: None,
            status,
        };
    }
    if zoomed {
        return Areas {
            header,
            grid: None,
            lower: Some(rest),
            status,
        };
    }
    // The grid gets its rows (plus the column line), up to about half;
    // the logs get the rest, but never less than three rows if it can be helped.
    let wanted = u16::try_from(services)
        .unwrap_or(u16::MAX)
        .saturating_add(1);
    let cap = (rest.height / 2)
        .max(rest.height.saturating_sub(6))
        .min(rest.height);
    let grid_height = wanted.min(cap.max(2)).min(rest.height);
    let [grid_area, lower_area] =
        Layout::vertical([Constraint::Length(grid_height), Constraint::Min(0)]).areas(rest);
    Areas {
        header,
        grid: Some(grid_area),
        lower: (lower_area.height > 0).then_some(lower_area),
        status,
    }
}

/// The first grid row shown when `rows` rows are available and the
/// selection is the `selected`-th shown service, so the selection stays on
/// screen.
pub fn first_row(selected: usize, rows: u16) -> usize {
    let rows = usize::from(rows).max(1);
    (selected + 1).saturating_sub(rows)
}

/// A centred rectangle of at most `width` × `height` inside `area`.
pub fn centered(area: Rect, width: u16, height: u16) -> Rect {
    let width = width.min(area.width);
    let height = height.min(area.height);
    Rect {
        x: area.x + (area.width - width) / 2,
        y: area.y + (area.height - height) / 2,
        width,
        height,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn small_screens_drop_pieces_instead_of_panicking() {
        for height in 0..8 {
            for width in [0, 1, 20] {
                let size = Rect::new(0, 0, width, height);
                for zoomed in [false, true] {
                    let areas = areas(size, zoomed, 200);
                    let parts = [areas.header, areas.grid, areas.lower, areas.status];
                    let rows: u16 = parts.iter().flatten().map(|r| r.height).sum();
                    assert!(rows <= height, "{width}×{height}: {areas:?}");
                }
            }
        }
    }

    #[test]
    fn the_selection_stays_on_screen() {
        assert_eq!(first_row(0, 5), 0);
        assert_eq!(first_row(4, 5), 0);
        assert_eq!(first_row(5, 5), 1);
        assert_eq!(first_row(9, 0), 9);
    }
}
