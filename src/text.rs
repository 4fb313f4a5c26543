//! Text for terminals: fitting it into columns by display width (a CJK
//! character takes two columns, a combining mark none), and durations
//! written short, for every front end and every message.

use std::time::Duration;

use unicode_width::{UnicodeWidthChar, UnicodeWidthStr};

/// The columns `text` takes on a terminal.
pub fn width(text: &str) -> usize {
    text.width()
}

/// `text` cut to at most `width` columns, ending in "…" when cut.
pub fn ellipsize(text: &str, width: usize) -> String {
    if text.width() <= width {
        return text.to_string();
    }
    if width == 0 {
        return String::new();
    }
    let mut out = String::new();
    let mut used = 0;
    for c in text.chars() {
        let w = c.width().unwrap_or(0);
        if used + w + 1 > width {
            break;
        }
        out.push(c);
        used += w;
    }
    out.push('…');
    out
}

/// `text` padded with spaces, or cut (ending in "…" and a space, so the
/// next column stays apart), to exactly `width` columns.
pub fn fit(text: &str, width: usize) -> String {
    let shown = text.width();
    if shown < width {
        return format!("{text}{}", " ".repeat(width - shown));
    }
    let mut out = ellipsize(text, width.saturating_sub(1));
    let used = out.width();
    out.push_str(&" ".repeat(width.saturating_sub(used)));
    out
}

/// `text` padded with spaces on the left to `width` columns (never cut).
pub fn pad_left(text: &str, width: usize) -> String {
    format!("{}{text}", " ".repeat(width.saturating_sub(text.width())))
}

/// `text` padded with spaces on the right to `width` columns (never cut).
pub fn pad_right(text: &str, width: usize) -> String {
    format!("{text}{}", " ".repeat(width.saturating_sub(text.width())))
}

/// "412ms", "1.2s", "1m05s": short and readable.
pub fn fmt_duration(d: Duration) -> String {
    let ms = d.as_millis();
    if ms < 1000 {
        format!("{ms}ms")
    } else if ms < 60_000 {
        format!("{:.1}s", d.as_secs_f64())
    } else {
        let secs = d.as_secs();
        format!("{}m{:02}s", secs / 60, secs % 60)
    }
}

/// How long something has run, coarsely: "3s", "5m", "2h 10m", "3d 4h".
pub fn uptime(d: Duration) -> String {
    let s = d.as_secs();
    match s {
        0..60 => format!("{s}s"),
        60..3600 => format!("{}m", s / 60),
        3600..86_400 => format!("{}h {}m", s / 3600, s % 3600 / 60),
        _ => format!("{}d {}h", s / 86_400, s % 86_400 / 3600),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn text_is_fitted_by_the_columns_it_takes() {
        assert_eq!(fit("api", 6), "api   ");
        assert_eq!(fit("authentication", 8), "authen… ");
        assert_eq!(fit("ab", 2).width(), 2);
        assert_eq!(ellipsize("exited with code 1", 10), "exited wi…");
        assert_eq!(ellipsize("short", 10), "short");
        assert_eq!(ellipsize("anything", 0), "");
        // Wide characters count twice: never past the edge.
        assert_eq!(ellipsize("日本語のサービス", 7), "日本語…");
        assert_eq!(fit("日本語のサービス", 8).width(), 8);
        assert_eq!(pad_left("日本", 6), "  日本");
        assert_eq!(pad_right("api", 5), "api  ");
        assert_eq!(pad_right("toolong", 3), "toolong");
    }

    #[test]
    fn uptimes_read_like_a_person_would_say_them() {
        assert_eq!(uptime(Duration::from_secs(42)), "42s");
        assert_eq!(uptime(Duration::from_secs(600)), "10m");
        assert_eq!(uptime(Duration::from_secs(7800)), "2h 10m");
        assert_eq!(uptime(Duration::from_secs(90_000)), "1d 1h");
    }
}
