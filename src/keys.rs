//! The dashboard's key bindings: what each action is called, its default
//! keys, and how a key is written in `[ui.keys]`.
//!
//! Kept apart from the terminal library so the config can validate
//! `[ui.keys]` (an unknown action or an unreadable key is a config error
//! with its place) without knowing about terminals; the TUI translates its
//! terminal's key events into [`Key`]s.

use std::fmt;

/// Something a key can do in the dashboard.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Action {
    Down,
    Up,
    Top,
    Bottom,
    PageUp,
    PageDown,
    NextPane,
    Zoom,
    Back,
    Restart,
    Kill,
    Skip,
    StopStart,
    RestartAll,
    Timeline,
    Ports,
    OrchestratorLog,
    AllLogs,
    Help,
    Quit,
    Find,
    NextMatch,
    PreviousMatch,
    Follow,
    Wrap,
    Timestamps,
}

impl Action {
    /// Every action, in the order help lists them.
    pub const ALL: &'static [Action] = &[
        Action::Down,
        Action::Up,
        Action::Top,
        Action::Bottom,
        Action::PageUp,
        Action::PageDown,
        Action::NextPane,
        Action::Zoom,
        Action::Back,
        Action::Restart,
        Action::Kill,
        Action::Skip,
        Action::StopStart,
        Action::RestartAll,
        Action::Timeline,
        Action::Ports,
        Action::OrchestratorLog,
        Action::AllLogs,
        Action::Find,
        Action::NextMatch,
        Action::PreviousMatch,
        Action::Follow,
        Action::Wrap,
        Action::Timestamps,
        Action::Help,
        Action::Quit,
    ];

    /// The name used in `[ui.keys]`.
    pub fn name(self) -> &'static str {
        match self {
            Action::Down => "down",
            Action::Up => "up",
            Action::Top => "top",
            Action::Bottom => "bottom",
            Action::PageUp => "page_up",
            Action::PageDown => "page_down",
            Action::NextPane => "next_pane",
            Action::Zoom => "zoom",
            Action::Back => "back",
            Action::Restart => "restart",
            Action::Kill => "kill",
            Action::Skip => "skip",
            Action::StopStart => "stop_start",
            Action::RestartAll => "restart_all",
            Action::Timeline => "timeline",
            Action::Ports => "ports",
            Action::OrchestratorLog => "orchestrator_log",
            Action::AllLogs => "all_logs",
            Action::Help => "help",
            Action::Quit => "quit",
            Action::Find => "find",
            Action::NextMatch => "next_match",
            Action::PreviousMatch => "previous_match",
            Action::Follow => "follow",
            Action::Wrap => "wrap",
            Action::Timestamps => "timestamps",
        }
    }

    /// What it does, for the help overlay.
    pub fn describe(self) -> &'static str {
        match self {
            Action::Down => "move down",
            Action::Up => "move up",
            Action::Top => "first service / oldest line",
            Action::Bottom => "last service / newest line (follow)",
            Action::PageUp => "page up",
            Action::PageDown => "page down",
            Action::NextPane => "switch between services and logs",
            Action::Zoom => "logs of the selected service, full size (again to go back)",
            Action::Back => "close, clear, go back",
            Action::Restart => "restart the selected service",
            Action::Kill => "kill the selected service (SIGKILL to its group; asks first)",
            Action::Skip => {
                "skip an optional service (its dependents run degraded); again to bring it back"
            }
            Action::StopStart => "stop the selected service, or start it again",
            Action::RestartAll => "restart everything, in order",
            Action::Timeline => "cold-start timeline and critical path",
            Action::Ports => "ports: wanted, allocated, held by",
            Action::OrchestratorLog => "bringup's own log: why things waited, started, restarted",
            Action::AllLogs => "all services' logs, merged",
            Action::Find => "filter services / search the log",
            Action::NextMatch => "next match",
            Action::PreviousMatch => "previous match",
            Action::Follow => "follow new log lines",
            Action::Wrap => "wrap long log lines",
            Action::Timestamps => "show log timestamps",
            Action::Help => "this help",
            Action::Quit => "quit: stop everything (again while stopping: kill it all)",
        }
    }

    /// What it does in a few words, for help on a small screen.
    pub fn short(self) -> &'static str {
        match self {
            Action::Down => "down",
            Action::Up => "up",
            Action::Top => "top / oldest",
            Action::Bottom => "bottom / follow",
            Action::PageUp => "page up",
            Action::PageDown => "page down",
            Action::NextPane => "services ⇄ logs",
            Action::Zoom => "full-size logs",
            Action::Back => "close / back",
            Action::Restart => "restart",
            Action::Kill => "kill (asks)",
            Action::Skip => "skip optional",
            Action::StopStart => "stop / start",
            Action::RestartAll => "restart all",
            Action::Timeline => "timeline",
            Action::Ports => "ports",
            Action::OrchestratorLog => "bringup's log",
            Action::AllLogs => "all logs",
            Action::Find => "filter / search",
            Action::NextMatch => "next match",
            Action::PreviousMatch => "previous match",
            Action::Follow => "follow",
            Action::Wrap => "wrap",
            Action::Timestamps => "timestamps",
            Action::Help => "help",
            Action::Quit => "quit",
        }
    }

    pub fn from_name(name: &str) -> Option<Self> {
        Self::ALL.iter().copied().find(|a| a.name() == name)
    }

    /// The keys an action has unless `[ui.keys]` says otherwise.
    pub fn default_keys(self) -> Vec<Key> {
        let keys: &[&str] = match self {
            Action::Down => &["j", "down"],
            Action::Up => &["k", "up"],
            Action::Top => &["g", "home"],
            Action::Bottom => &["G", "end"],
            Action::PageUp => &["pageup", "ctrl-b"],
            Action::PageDown => &["pagedown", "ctrl-f"],
            Action::NextPane => &["tab"],
            Action::Zoom => &["enter"],
            Action::Back => &["esc"],
            Action::Restart => &["r"],
            Action::Kill => &["x"],
            Action::Skip => &["s"],
            Action::StopStart => &["S"],
            Action::RestartAll => &["R"],
            Action::Timeline => &["t"],
            Action::Ports => &["p"],
            Action::OrchestratorLog => &["l"],
            Action::AllLogs => &["a"],
            Action::Help => &["?"],
            Action::Quit => &["q", "ctrl-c"],
            Action::Find => &["/"],
            Action::NextMatch => &["n"],
            Action::PreviousMatch => &["N"],
            Action::Follow => &["f"],
            Action::Wrap => &["w"],
            Action::Timestamps => &["T"],
        };
        keys.iter().filter_map(|k| Key::parse(k).ok()).collect()
    }
}

/// A key as the dashboard sees it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Key {
    pub code: Code,
    pub ctrl: bool,
    pub alt: bool,
}

/// The key itself, without modifiers. Letters keep their case (`G` is
/// shift-g).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Code {
    Char(char),
    Enter,
    Esc,
    Tab,
    BackTab,
    Backspace,
    Up,
    Down,
    Left,
    Right,
    Home,
    End,
    PageUp,
    PageDown,
    Delete,
    F(u8),
}

impl Key {
    pub const fn plain(code: Code) -> Self {
        Self {
            code,
            ctrl: false,
            alt: false,
        }
    }

    /// Parses "q", "G", "ctrl-c", "alt-x", "enter", "pageup", "f5", "?".
    pub fn parse(text: &str) -> Result<Self, String> {
        let mut key = Key::plain(Code::Esc);
        let mut rest = text.trim();
        loop {
            let lower = rest.to_ascii_lowercase();
            if let Some(after) = lower
                .strip_prefix("ctrl-")
                .or_else(|| lower.strip_prefix("ctrl+"))
            {
                key.ctrl = true;
                rest = &rest[rest.len() - after.len()..];
            } else if let Some(after) = lower
                .strip_prefix("alt-")
                .or_else(|| lower.strip_prefix("alt+"))
            {
                key.alt = true;
                rest = &rest[rest.len() - after.len()..];
            } else {
                break;
            }
        }
        let mut chars = rest.chars();
        key.code = match (chars.next(), chars.next()) {
            (Some(c), None) => Code::Char(if key.ctrl { c.to_ascii_lowercase() } else { c }),
            _ => match rest.to_ascii_lowercase().as_str() {
                "enter" | "return" => Code::Enter,
                "esc" | "escape" => Code::Esc,
                "tab" => Code::Tab,
                "backtab" | "shift-tab" => Code::BackTab,
                "backspace" => Code::Backspace,
                "up" => Code::Up,
                "down" => Code::Down,
                "left" => Code::Left,
                "right" => Code::Right,
                "home" => Code::Home,
                "end" => Code::End,
                "pageup" | "pgup" => Code::PageUp,
                "pagedown" | "pgdn" => Code::PageDown,
                "delete" | "del" => Code::Delete,
                "space" => Code::Char(' '),
                f if f.starts_with('f')
                    && f[1..].parse::<u8>().is_ok_and(|n| (1..=12).contains(&n)) =>
                {
                    Code::F(f[1..].parse().unwrap_or(1))
                }
                _ => {
                    return Err(format!(
                        "cannot read key {text:?}; write a character (\"r\", \"G\", \"?\"), a name (\"enter\", \"pageup\", \"f5\") or a combination (\"ctrl-c\", \"alt-x\")"
                    ));
                }
            },
        };
        Ok(key)
    }
}

impl fmt::Display for Key {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.ctrl {
            f.write_str("ctrl-")?;
        }
        if self.alt {
            f.write_str("alt-")?;
        }
        match self.code {
            Code::Char(' ') => f.write_str("space"),
            Code::Char(c) => write!(f, "{c}"),
            Code::Enter => f.write_str("enter"),
            Code::Esc => f.write_str("esc"),
            Code::Tab => f.write_str("tab"),
            Code::BackTab => f.write_str("shift-tab"),
            Code::Backspace => f.write_str("backspace"),
            Code::Up => f.write_str("↑"),
            Code::Down => f.write_str("↓"),
            Code::Left => f.write_str("←"),
            Code::Right => f.write_str("→"),
            Code::Home => f.write_str("home"),
            Code::End => f.write_str("end"),
            Code::PageUp => f.write_str("pgup"),
            Code::PageDown => f.write_str("pgdn"),
            Code::Delete => f.write_str("del"),
            Code::F(n) => write!(f, "f{n}"),
        }
    }
}

/// Which keys do what: the defaults, with `[ui.keys]` on top.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Keymap {
    bindings: Vec<(Key, Action)>,
}

impl Default for Keymap {
    fn default() -> Self {
        let bindings = Action::ALL
            .iter()
            .flat_map(|&action| {
                action
                    .default_keys()
                    .into_iter()
                    .map(move |key| (key, action))
            })
            .collect();
        Self { bindings }
    }
}

impl Keymap {
    /// The defaults with `overrides` replacing each named action's keys.
    /// Fails when two actions end up on one key.
    pub fn with(overrides: &[(Action, Vec<Key>)]) -> Result<Self, String> {
        let mut map = Self::default();
        for (action, keys) in overrides {
            map.bindings.retain(|(_, a)| a != action);
            // A key given to this action is taken from whatever had it by default.
            map.bindings.retain(|(k, _)| !keys.contains(k));
            map.bindings.extend(keys.iter().map(|&key| (key, *action)));
        }
        let mut seen: Vec<(Key, Action)> = Vec::new();
        for &(key, action) in &map.bindings {
            if let Some((_, other)) = seen.iter().find(|(k, a)| *k == key && *a != action) {
                return Err(format!(
                    "key {key} is bound to both `{}` and `{}`",
                    other.name(),
                    action.name()
                ));
            }
            seen.push((key, action));
        }
        Ok(map)
    }

    pub fn action(&self, key: Key) -> Option<Action> {
        self.bindings
            .iter()
            .find(|(k, _)| *k == key)
            .map(|(_, a)| *a)
    }

    /// The keys of `action`, as help shows them ("j ↓").
    pub fn keys_of(&self, action: Action) -> Vec<Key> {
        self.bindings
            .iter()
            .filter(|(_, a)| *a == action)
            .map(|(k, _)| *k)
            .collect()
    }

    /// The first key of `action` as text ("r"), for the status line.
    pub fn first(&self, action: Action) -> String {
        self.keys_of(action)
            .first()
            .map_or_else(|| "-".into(), ToString::to_string)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_are_read_as_written() {
        assert_eq!(Key::parse("G").unwrap(), Key::plain(Code::Char('G')));
        assert_eq!(
            Key::parse("ctrl-C").unwrap(),
            Key {
                code: Code::Char('c'),
                ctrl: true,
                alt: false
            }
        );
        assert_eq!(Key::parse("PageUp").unwrap(), Key::plain(Code::PageUp));
        assert_eq!(Key::parse("f5").unwrap(), Key::plain(Code::F(5)));
        assert_eq!(Key::parse("?").unwrap().to_string(), "?");
        assert!(Key::parse("hyper-x").is_err());
    }

    #[test]
    fn defaults_cover_every_action_without_clashes() {
        let map = Keymap::with(&[]).unwrap();
        for &action in Action::ALL {
            assert!(!map.keys_of(action).is_empty(), "{action:?} has no key");
        }
        assert_eq!(map.action(Key::parse("r").unwrap()), Some(Action::Restart));
        assert_eq!(
            map.action(Key::parse("ctrl-c").unwrap()),
            Some(Action::Quit)
        );
    }

    #[test]
    fn remapping_moves_a_key_and_reports_clashes() {
        let restart_on_f5 = vec![(Action::Restart, vec![Key::parse("f5").unwrap()])];
        let map = Keymap::with(&restart_on_f5).unwrap();
        assert_eq!(map.action(Key::parse("f5").unwrap()), Some(Action::Restart));
        assert_eq!(map.action(Key::parse("r").unwrap()), None);
        // Taking another action's default key takes it from that action.
        let kill_on_r = vec![(Action::Kill, vec![Key::parse("r").unwrap()])];
        let map = Keymap::with(&kill_on_r).unwrap();
        assert_eq!(map.action(Key::parse("r").unwrap()), Some(Action::Kill));
        let clash = vec![
            (Action::Kill, vec![Key::parse("z").unwrap()]),
            (Action::Skip, vec![Key::parse("z").unwrap()]),
        ];
        // The later override takes the key from the earlier one.
        assert_eq!(
            Keymap::with(&clash)
                .unwrap()
                .action(Key::parse("z").unwrap()),
            Some(Action::Skip)
        );
    }
}
