//! Themes: every colour and style the dashboard uses, from a TOML file.
//!
//! Three themes are built in (`themes/dark.toml`, the default, `light.toml`
//! and `high-contrast.toml`, embedded in the binary); a user's own live in
//! `$XDG_CONFIG_HOME/bringup/themes/NAME.toml` (or `~/.config/…`), or can be
//! named by path. A theme file only needs the styles it changes: it is laid
//! over the dark theme. With `NO_COLOR` the dashboard uses a monochrome
//! theme that still tells states apart by symbol, word and weight.

use std::path::{Path, PathBuf};
use std::str::FromStr;

use ratatui::style::{Color, Modifier, Style};
use serde::Deserialize;

use crate::api::State;

const DARK: &str = include_str!("../../themes/dark.toml");
const LIGHT: &str = include_str!("../../themes/light.toml");
const HIGH_CONTRAST: &str = include_str!("../../themes/high-contrast.toml");

/// The built-in themes by name.
pub const BUILT_IN: &[(&str, &str)] = &[
    ("dark", DARK),
    ("light", LIGHT),
    ("high-contrast", HIGH_CONTRAST),
];

/// Every style of the dashboard.
#[derive(Debug, Clone, PartialEq)]
pub struct Theme {
    pub name: String,
    states: [Style; 8],
    pub header: Style,
    pub progress: Style,
    pub border: Style,
    pub border_focused: Style,
    pub title: Style,
    pub column: Style,
    pub selected: Style,
    pub dim: Style,
    pub optional: Style,
    pub external: Style,
    pub fallback: Style,
    pub timestamp: Style,
    pub stderr: Style,
    pub search_match: Style,
    pub critical: Style,
    pub bar_waiting: Style,
    pub bar_starting: Style,
    pub bar_ready: Style,
    pub popup: Style,
    pub popup_border: Style,
    pub key: Style,
    pub status: Style,
    pub warn: Style,
    pub error: Style,
}

/// Why a theme could not be used.
#[derive(Debug, thiserror::Error)]
pub enum ThemeError {
    #[error("no theme named {name:?}; built in: dark, light, high-contrast; yours go in {}", dir.display())]
    Unknown { name: String, dir: PathBuf },
    #[error("cannot read theme {}: {source}", path.display())]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("theme {name}: {message}")]
    Invalid { name: String, message: String },
}

impl Theme {
    /// The theme called `name` (built in, in the user's theme directory, or
    /// a path to a `.toml` file); the default when `None`.
    pub fn load(name: Option<&str>) -> Result<Self, ThemeError> {
        let name = name.unwrap_or("dark");
        let (label, text) = if let Some((_, text)) = BUILT_IN.iter().find(|(n, _)| *n == name) {
            (name.to_string(), (*text).to_string())
        } else {
            let path = if name.ends_with(".toml") || name.contains('/') {
                PathBuf::from(name)
            } else {
                user_dir().join(format!("{name}.toml"))
            };
            if !path.is_file() {
                return Err(ThemeError::Unknown {
                    name: name.to_string(),
                    dir: user_dir(),
                });
            }
            let text = std::fs::read_to_string(&path).map_err(|source| ThemeError::Read {
                path: path.clone(),
                source,
            })?;
            (name.to_string(), text)
        };
        let mut theme = parse("dark", DARK)?;
        theme.name = label.clone();
        if label != "dark" {
            overlay(&mut theme, &label, &text)?;
        }
        Ok(theme)
    }

    /// No colours at all: weight and inversion only (`NO_COLOR`).
    pub fn monochrome() -> Self {
        let plain = Style::default();
        let bold = plain.add_modifier(Modifier::BOLD);
        let dim = plain.add_modifier(Modifier::DIM);
        let reversed = plain.add_modifier(Modifier::REVERSED);
        Self {
            name: "monochrome".into(),
            states: [
                plain,
                plain,
                bold,
                bold,
                bold.add_modifier(Modifier::REVERSED),
                dim,
                dim,
                plain,
            ],
            header: reversed,
            progress: bold,
            border: plain,
            border_focused: bold,
            title: bold,
            column: bold,
            selected: reversed,
            dim,
            optional: plain.add_modifier(Modifier::ITALIC),
            external: plain.add_modifier(Modifier::ITALIC),
            fallback: plain.add_modifier(Modifier::ITALIC),
            timestamp: dim,
            stderr: plain,
            search_match: reversed,
            critical: bold.add_modifier(Modifier::UNDERLINED),
            bar_waiting: dim,
            bar_starting: plain,
            bar_ready: bold,
            popup: plain,
            popup_border: bold,
            key: bold,
            status: reversed,
            warn: bold,
            error: bold,
        }
    }

    /// The style of a service state.
    pub fn state(&self, state: State) -> Style {
        self.states[state_index(state)]
    }
}

/// `$XDG_CONFIG_HOME/bringup/themes`, else `~/.config/bringup/themes`.
pub fn user_dir() -> PathBuf {
    let config = std::env::var_os("XDG_CONFIG_HOME")
        .filter(|v| !v.is_empty())
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|home| Path::new(&home).join(".config")))
        .unwrap_or_else(|| PathBuf::from(".config"));
    config.join("bringup").join("themes")
}

fn state_index(state: State) -> usize {
    match state {
        State::Pending => 0,
        State::Starting => 1,
        State::Ready => 2,
        State::NotReady => 3,
        State::Failed => 4,
        State::Stopped => 5,
        State::Skipped => 6,
        State::Completed => 7,
    }
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawTheme {
    #[serde(default)]
    state: RawStates,
    #[serde(default)]
    style: RawStyles,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawStates {
    pending: Option<RawStyle>,
    starting: Option<RawStyle>,
    ready: Option<RawStyle>,
    not_ready: Option<RawStyle>,
    failed: Option<RawStyle>,
    stopped: Option<RawStyle>,
    skipped: Option<RawStyle>,
    completed: Option<RawStyle>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawStyles {
    header: Option<RawStyle>,
    progress: Option<RawStyle>,
    border: Option<RawStyle>,
    border_focused: Option<RawStyle>,
    title: Option<RawStyle>,
    column: Option<RawStyle>,
    selected: Option<RawStyle>,
    dim: Option<RawStyle>,
    optional: Option<RawStyle>,
    external: Option<RawStyle>,
    fallback: Option<RawStyle>,
    timestamp: Option<RawStyle>,
    stderr: Option<RawStyle>,
    #[serde(rename = "match")]
    search_match: Option<RawStyle>,
    critical: Option<RawStyle>,
    bar_waiting: Option<RawStyle>,
    bar_starting: Option<RawStyle>,
    bar_ready: Option<RawStyle>,
    popup: Option<RawStyle>,
    popup_border: Option<RawStyle>,
    key: Option<RawStyle>,
    status: Option<RawStyle>,
    warn: Option<RawStyle>,
    error: Option<RawStyle>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawStyle {
    fg: Option<String>,
    bg: Option<String>,
    bold: Option<bool>,
    dim: Option<bool>,
    italic: Option<bool>,
    underline: Option<bool>,
    reversed: Option<bool>,
}

fn parse(name: &str, text: &str) -> Result<Theme, ThemeError> {
    let mut theme = Theme::monochrome();
    theme.name = name.to_string();
    // Start from nothing so the built-in dark theme defines every style.
    overlay(&mut theme, name, text)?;
    Ok(theme)
}

/// Lays the styles `text` defines over `theme`.
fn overlay(theme: &mut Theme, name: &str, text: &str) -> Result<(), ThemeError> {
    let invalid = |message: String| ThemeError::Invalid {
        name: name.to_string(),
        message,
    };
    let raw: RawTheme = toml::from_str(text).map_err(|e| invalid(e.to_string()))?;
    let style = |raw: &RawStyle| -> Result<Style, ThemeError> {
        let mut style = Style::default();
        if let Some(fg) = &raw.fg {
            style = style.fg(color(fg).map_err(invalid)?);
        }
        if let Some(bg) = &raw.bg {
            style = style.bg(color(bg).map_err(invalid)?);
        }
        for (flag, modifier) in [
            (raw.bold, Modifier::BOLD),
            (raw.dim, Modifier::DIM),
            (raw.italic, Modifier::ITALIC),
            (raw.underline, Modifier::UNDERLINED),
            (raw.reversed, Modifier::REVERSED),
        ] {
            if flag == Some(true) {
                style = style.add_modifier(modifier);
            }
        }
        Ok(style)
    };
    let states = [
        &raw.state.pending,
        &raw.state.starting,
        &raw.state.ready,
        &raw.state.not_ready,
        &raw.state.failed,
        &raw.state.stopped,
        &raw.state.skipped,
        &raw.state.completed,
    ];
    for (index, raw_style) in states.into_iter().enumerate() {
        if let Some(raw_style) = raw_style {
            theme.states[index] = style(raw_style)?;
        }
    }
    let s = &raw.style;
    let slots: [(&Option<RawStyle>, &mut Style); 24] = [
        (&s.header, &mut theme.header),
        (&s.progress, &mut theme.progress),
        (&s.border, &mut theme.border),
        (&s.border_focused, &mut theme.border_focused),
        (&s.title, &mut theme.title),
        (&s.column, &mut theme.column),
        (&s.selected, &mut theme.selected),
        (&s.dim, &mut theme.dim),
        (&s.optional, &mut theme.optional),
        (&s.external, &mut theme.external),
        (&s.fallback, &mut theme.fallback),
        (&s.timestamp, &mut theme.timestamp),
        (&s.stderr, &mut theme.stderr),
        (&s.search_match, &mut theme.search_match),
        (&s.critical, &mut theme.critical),
        (&s.bar_waiting, &mut theme.bar_waiting),
        (&s.bar_starting, &mut theme.bar_starting),
        (&s.bar_ready, &mut theme.bar_ready),
        (&s.popup, &mut theme.popup),
        (&s.popup_border, &mut theme.popup_border),
        (&s.key, &mut theme.key),
        (&s.status, &mut theme.status),
        (&s.warn, &mut theme.warn),
        (&s.error, &mut theme.error),
    ];
    for (raw_style, slot) in slots {
        if let Some(raw_style) = raw_style {
            *slot = style(raw_style)?;
        }
    }
    Ok(())
}

fn color(text: &str) -> Result<Color, String> {
    Color::from_str(text.trim()).map_err(|_| {
        format!("{text:?} is not a colour; write a name (\"red\", \"lightblue\"), \"#rrggbb\" or a number 0-255")
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_built_in_theme_loads_and_defines_distinct_states() {
        for (name, _) in BUILT_IN {
            let theme = Theme::load(Some(name)).unwrap_or_else(|e| panic!("{name}: {e}"));
            assert_eq!(theme.name, *name);
            assert_ne!(
                theme.state(State::Ready),
                theme.state(State::Failed),
                "{name}"
            );
            assert_ne!(
                theme.state(State::Starting),
                theme.state(State::Ready),
                "{name}"
            );
        }
        assert_eq!(Theme::load(None).unwrap().name, "dark");
    }

    #[test]
    fn a_user_theme_overrides_only_what_it_says() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("mine.toml");
        std::fs::write(&path, "[state]\nready = { fg = \"#ff00ff\" }\n").unwrap();
        let theme = Theme::load(Some(path.to_str().unwrap())).unwrap();
        assert_eq!(
            theme.state(State::Ready),
            Style::default().fg(Color::Rgb(255, 0, 255))
        );
        let dark = Theme::load(None).unwrap();
        assert_eq!(theme.state(State::Failed), dark.state(State::Failed));
    }

    #[test]
    fn bad_themes_say_what_is_wrong() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("bad.toml");
        std::fs::write(&path, "[state]\nready = { fg = \"chartreuse-ish\" }\n").unwrap();
        let err = Theme::load(Some(path.to_str().unwrap()))
            .unwrap_err()
            .to_string();
        assert!(err.contains("is not a colour"), "{err}");
        std::fs::write(&path, "[stat]\n").unwrap();
        let err = Theme::load(Some(path.to_str().unwrap()))
            .unwrap_err()
            .to_string();
        assert!(err.contains("stat"), "{err}");
        let err = Theme::load(Some("no-such-theme")).unwrap_err().to_string();
        assert!(
            err.contains("built in: dark, light, high-contrast"),
            "{err}"
        );
    }
}
