//! Service output made safe for a terminal.
//!
//! Services print whatever they like: colours, but also cursor movements,
//! screen clears, window-title changes, bells, and sequences cut off in the
//! middle (an OSC string without its terminator makes a real terminal
//! swallow everything after it). bringup shows those lines next to its own
//! output, so before a line reaches a terminal it goes through
//! [`terminal_safe`]: vte (the parser of Alacritty) reads it as a terminal
//! would, printable characters and tabs pass, colour (SGR) sequences pass if
//! wanted, and everything else is dropped. The same goes for every other
//! text bringup shows but did not write: port holders' command lines and
//! user names, another bringup's lock file, config strings quoted in
//! messages ([`plain`]). A line that set a colour ends with
//! a reset, so the colour cannot bleed into the next service's line. Lines
//! are parsed one at a time, so a sequence left open at the end of a line
//! ends with it.

use std::borrow::Cow;
use std::fmt::Write as _;

use vte::{Params, Parser, Perform};

/// `text` with every control character and escape sequence removed, except
/// tabs, and colour sequences when `keep_colour`.
pub fn terminal_safe(text: &str, keep_colour: bool) -> Cow<'_, str> {
    filter(text, keep_colour, false)
}

/// Text someone else wrote (a command line, a user name, a file name), as
/// plain text safe to print: every escape sequence and control character
/// removed, colours too, tabs kept.
pub fn plain(text: &str) -> Cow<'_, str> {
    terminal_safe(text, false)
}

/// [`terminal_safe`], with tabs expanded to spaces (stops every 8 columns,
/// counted on what is shown, not on the escape sequences): for views that
/// place characters in cells themselves.
pub fn for_cells(text: &str, keep_colour: bool) -> Cow<'_, str> {
    filter(text, keep_colour, true)
}

fn filter(text: &str, keep_colour: bool, expand_tabs: bool) -> Cow<'_, str> {
    let clean = !text.chars().any(|c| c.is_control() && c != '\t');
    if clean && !(expand_tabs && text.contains('\t')) {
        return Cow::Borrowed(text);
    }
    let mut filter = Filter {
        out: String::with_capacity(text.len() + 8),
        keep_colour,
        expand_tabs,
        column: 0,
        coloured: false,
    };
    Parser::new().advance(&mut filter, text.as_bytes());
    if filter.coloured {
        filter.out.push_str("\x1b[0m");
    }
    Cow::Owned(filter.out)
}

struct Filter {
    out: String,
    keep_colour: bool,
    expand_tabs: bool,
    /// Columns shown so far, for tab stops.
    column: usize,
    coloured: bool,
}

impl Perform for Filter {
    fn print(&mut self, c: char) {
        // C1 controls arrive here when UTF-8 encoded; some terminals act on them.
        if !c.is_control() {
            self.out.push(c);
            self.column += unicode_width::UnicodeWidthChar::width(c).unwrap_or(0);
        }
    }

    fn execute(&mut self, byte: u8) {
        if byte != b'\t' {
            return;
        }
        let spaces = 8 - self.column % 8;
        self.column += spaces;
        if self.expand_tabs {
            self.out.extend(std::iter::repeat_n(' ', spaces));
        } else {
            self.out.push('\t');
        }
    }

    fn csi_dispatch(&mut self, params: &Params, intermediates: &[u8], ignore: bool, action: char) {
        if !self.keep_colour || action != 'm' || ignore || !intermediates.is_empty() {
            return;
        }
        self.out.push_str("\x1b[");
        for (i, param) in params.iter().enumerate() {
            if i > 0 {
                self.out.push(';');
            }
            for (j, sub) in param.iter().enumerate() {
                if j > 0 {
                    self.out.push(':');
                }
                let _ = write!(self.out, "{sub}");
            }
        }
        self.out.push('m');
        self.coloured = true;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plain_text_is_borrowed_untouched() {
        assert!(matches!(
            terminal_safe("plain\ttext ✓", true),
            Cow::Borrowed(_)
        ));
    }

    #[test]
    fn colours_pass_or_go_and_end_with_a_reset() {
        let line = "\x1b[1;31mred\x1b[0m and \x1b[38:5:208morange";
        assert_eq!(
            terminal_safe(line, true),
            "\x1b[1;31mred\x1b[0m and \x1b[38:5:208morange\x1b[0m"
        );
        assert_eq!(terminal_safe(line, false), "red and orange");
    }

    #[test]
    fn everything_else_is_dropped_even_when_cut_off() {
        let hostile = [
            ("clear\x1b[2J\x1b[Hscreen", "clearscreen"),
            ("title\x1b]0;evil\x07done", "titledone"),
            ("bell\x07 back\x08 cr\r", "bell back cr"),
            ("alt\x1b[?1049hscreen", "altscreen"),
            ("dcs\x1bPq#0;2;0;0;0\x1b\\end", "dcsend"),
            ("cut\x1b[31", "cut"),
            ("cut osc\x1b]0;no end", "cut osc"),
            ("lone escape\x1b", "lone escape"),
            // UTF-8 encoded C1 controls are dropped (not read as CSI).
            ("c1\u{9b}31mcsi", "c131mcsi"),
        ];
        for (line, safe) in hostile {
            assert_eq!(terminal_safe(line, true), safe, "{line:?}");
            assert_eq!(terminal_safe(line, false), safe, "{line:?}");
        }
    }

    #[test]
    fn tabs_expand_to_the_next_stop_of_what_is_shown() {
        assert_eq!(for_cells("\tat Foo.bar", false), "        at Foo.bar");
        assert_eq!(for_cells("ab\tc", false), "ab      c");
        assert_eq!(for_cells("no tabs", false), "no tabs");
        // Colour sequences take no columns.
        assert_eq!(for_cells("\x1b[31mab\tc", true), "\x1b[31mab      c\x1b[0m");
        assert_eq!(for_cells("\x1b[31mab\tc", false), "ab      c");
        assert_eq!(terminal_safe("ab\tc", false), "ab\tc");
    }
}
