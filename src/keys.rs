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
    PauseWatch,
    Reload,
    Timeline,
    Ports,
    OrchestratorLog,
    AllLogs,
    Help,
    Quit,
    Detach,
    StopStack,
    Find,
    NextMatch,
    PreviousMatch,
    Follow,
    Wrap,
    Timestamps,
}

/// Everything about one action, in one row: its `[ui.keys]` name, what
/// help says of it (long and short), its default keys, where and with
/// which word the status line offers it in the services pane and in the
/// log pane (when it is offered there at all), and what help and the hint
/// say instead in a dashboard attached to a stack running elsewhere
/// (`attached`: long, short, hint word), when that differs.
struct Row {
    action: Action,
    name: &'static str,
    describe: &'static str,
    short: &'static str,
    keys: &'static [&'static str],
    hint_services: Option<(u8, &'static str)>,
    hint_logs: Option<(u8, &'static str)>,
    attached: Option<(&'static str, &'static str, &'static str)>,
}

/// Where the dashboard runs: which words the table's rows use.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Mode {
    /// In the bringup that runs the stack (`bringup up`): quitting stops it.
    #[default]
    Foreground,
    /// Attached to a stack that runs elsewhere (`bringup attach`):
    /// quitting detaches, the stack keeps running.
    Attached,
}

/// The table, in the order help lists the actions (and hints show).
#[rustfmt::skip]
const TABLE: &[Row] = &[
    Row { action: Action::Down, name: "down", describe: "move down", short: "down", keys: &["j", "down"], hint_services: None, hint_logs: None, attached: None },
    Row { action: Action::Up, name: "up", describe: "move up", short: "up", keys: &["k", "up"], hint_services: None, hint_logs: None, attached: None },
    Row { action: Action::Top, name: "top", describe: "first service / oldest line", short: "top / oldest", keys: &["g", "home"], hint_services: None, hint_logs: None, attached: None },
    Row { action: Action::Bottom, name: "bottom", describe: "last service / newest line (follow)", short: "bottom / follow", keys: &["G", "end"], hint_services: None, hint_logs: None, attached: None },
    Row { action: Action::PageUp, name: "page_up", describe: "page up", short: "page up", keys: &["pageup", "ctrl-b"], hint_services: None, hint_logs: None, attached: None },
    Row { action: Action::PageDown, name: "page_down", describe: "page down", short: "page down", keys: &["pagedown", "ctrl-f"], hint_services: None, hint_logs: None, attached: None },
    Row { action: Action::NextPane, name: "next_pane", describe: "switch between services and logs", short: "services ⇄ logs", keys: &["tab"], hint_services: Some((6, "logs")), hint_logs: Some((5, "services")), attached: None },
    Row { action: Action::Zoom, name: "zoom", describe: "logs of the selected service, full size (again to go back)", short: "full-size logs", keys: &["enter"], hint_services: None, hint_logs: None, attached: None },
    Row { action: Action::Back, name: "back", describe: "close, clear, go back", short: "close / back", keys: &["esc"], hint_services: None, hint_logs: None, attached: None },
    Row { action: Action::Restart, name: "restart", describe: "restart the selected service", short: "restart", keys: &["r"], hint_services: Some((0, "restart")), hint_logs: None, attached: None },
    Row { action: Action::Kill, name: "kill", describe: "kill the selected service (SIGKILL to its group; asks first)", short: "kill (asks)", keys: &["x"], hint_services: Some((1, "kill")), hint_logs: None, attached: None },
    Row { action: Action::Skip, name: "skip", describe: "skip an optional service (its dependents run degraded); again to bring it back", short: "skip optional", keys: &["s"], hint_services: Some((2, "skip")), hint_logs: None, attached: None },
    Row { action: Action::StopStart, name: "stop_start", describe: "stop the selected service, or start it again", short: "stop / start", keys: &["S"], hint_services: Some((3, "stop/start")), hint_logs: None, attached: None },
    Row { action: Action::RestartAll, name: "restart_all", describe: "restart everything, in order", short: "restart all", keys: &["R"], hint_services: None, hint_logs: None, attached: None },
    Row { action: Action::PauseWatch, name: "pause_watch", describe: "pause watching files (changes restart nothing); again to resume", short: "pause / resume watch", keys: &["W"], hint_services: None, hint_logs: None, attached: None },
    Row { action: Action::Reload, name: "reload", describe: "read the config again and apply what changed", short: "reload config", keys: &["ctrl-r"], hint_services: None, hint_logs: None, attached: None },
    Row { action: Action::Timeline, name: "timeline", describe: "cold-start timeline and critical path", short: "timeline", keys: &["t"], hint_services: Some((5, "timeline")), hint_logs: None, attached: None },
    Row { action: Action::Ports, name: "ports", describe: "ports: wanted, allocated, held by", short: "ports", keys: &["p"], hint_services: None, hint_logs: None, attached: None },
    Row { action: Action::OrchestratorLog, name: "orchestrator_log", describe: "bringup's own log: why things waited, started, restarted", short: "bringup's log", keys: &["l"], hint_services: None, hint_logs: None, attached: None },
    Row { action: Action::AllLogs, name: "all_logs", describe: "all services' logs, merged", short: "all logs", keys: &["a"], hint_services: None, hint_logs: None, attached: None },
    Row { action: Action::Find, name: "find", describe: "filter services / search the log", short: "filter / search", keys: &["/"], hint_services: Some((4, "filter")), hint_logs: Some((0, "search")), attached: None },
    Row { action: Action::NextMatch, name: "next_match", describe: "next match", short: "next match", keys: &["n"], hint_services: None, hint_logs: Some((1, "next")), attached: None },
    Row { action: Action::PreviousMatch, name: "previous_match", describe: "previous match", short: "previous match", keys: &["N"], hint_services: None, hint_logs: None, attached: None },
    Row { action: Action::Follow, name: "follow", describe: "follow new log lines", short: "follow", keys: &["f"], hint_services: None, hint_logs: Some((2, "follow")), attached: None },
    Row { action: Action::Wrap, name: "wrap", describe: "wrap long log lines", short: "wrap", keys: &["w"], hint_services: None, hint_logs: Some((3, "wrap")), attached: None },
    Row { action: Action::Timestamps, name: "timestamps", describe: "show log timestamps", short: "timestamps", keys: &["T"], hint_services: None, hint_logs: Some((4, "time")), attached: None },
    Row { action: Action::Help, name: "help", describe: "this help", short: "help", keys: &["?"], hint_services: Some((7, "help")), hint_logs: Some((6, "help")), attached: None },
    Row { action: Action::Quit, name: "quit", describe: "quit: stop everything (again while stopping: kill it all)", short: "quit", keys: &["q", "ctrl-c"], hint_services: Some((8, "quit")), hint_logs: Some((7, "quit")), attached: Some(("detach: close this dashboard; the stack keeps running (`bringup attach` comes back)", "detach", "detach")) },
    Row { action: Action::Detach, name: "detach", describe: "detach: close this dashboard; the stack keeps running in the background (`bringup attach` comes back)", short: "detach", keys: &["d"], hint_services: None, hint_logs: None, attached: None },
    Row { action: Action::StopStack, name: "stop_stack", describe: "stop the whole stack, dependents first, and quit (asks first)", short: "stop the stack", keys: &["Q"], hint_services: None, hint_logs: None, attached: None },
];

impl Action {
    /// Every action, in the order help lists them.
    pub const ALL: &'static [Action] = &{
        let mut all = [Action::Down; TABLE.len()];
        let mut i = 0;
        while i < TABLE.len() {
            all[i] = TABLE[i].action;
            i += 1;
        }
        all
    };

    fn row(self) -> &'static Row {
        // Every action has a row: `every_action_has_one_row` checks it.
        TABLE
            .iter()
            .find(|row| row.action == self)
            .unwrap_or(&TABLE[0])
    }

    /// The name used in `[ui.keys]`.
    pub fn name(self) -> &'static str {
        self.row().name
    }

    /// What it does, for the help overlay of a dashboard in `mode`.
    pub fn describe(self, mode: Mode) -> &'static str {
        match (mode, self.row().attached) {
            (Mode::Attached, Some((describe, ..))) => describe,
            _ => self.row().describe,
        }
    }

    /// What it does in a few words, for help on a small screen.
    pub fn short(self, mode: Mode) -> &'static str {
        match (mode, self.row().attached) {
            (Mode::Attached, Some((_, short, _))) => short,
            _ => self.row().short,
        }
    }

    pub fn from_name(name: &str) -> Option<Self> {
        TABLE
            .iter()
            .find(|row| row.name == name)
            .map(|row| row.action)
    }

    /// The keys an action has unless `[ui.keys]` says otherwise.
    pub fn default_keys(self) -> Vec<Key> {
        self.row()
            .keys
            .iter()
            .filter_map(|k| Key::parse(k).ok())
            .collect()
    }

    /// The actions the status line offers, in its order, with their
    /// words: in the log pane (`logs`) or in the services pane, of a
    /// dashboard in `mode`.
    pub fn hints(logs: bool, mode: Mode) -> Vec<(Action, &'static str)> {
        let mut hints: Vec<(u8, Action, &'static str)> = TABLE
            .iter()
            .filter_map(|row| {
                let hint = if logs {
                    row.hint_logs
                } else {
                    row.hint_services
                };
                let label = |label| match (mode, row.attached) {
                    (Mode::Attached, Some((.., word))) => word,
                    _ => label,
                };
                hint.map(|(at, word)| (at, row.action, label(word)))
            })
            .collect();
        hints.sort_by_key(|(at, ..)| *at);
        hints
            .into_iter()
            .map(|(_, action, label)| (action, label))
            .collect()
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
    fn every_action_has_one_row() {
        let mut actions: Vec<Action> = TABLE.iter().map(|row| row.action).collect();
        actions.sort();
        actions.dedup();
        assert_eq!(actions.len(), TABLE.len(), "an action has two rows");
        for action in Action::ALL {
            assert!(TABLE.iter().any(|row| row.action == *action));
            assert!(!action.default_keys().is_empty(), "{action:?} has no key");
        }
        let mut names: Vec<&str> = TABLE.iter().map(|row| row.name).collect();
        names.sort_unstable();
        names.dedup();
        assert_eq!(names.len(), TABLE.len(), "two actions share a name");
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
    fn an_attached_dashboard_says_quit_detaches_and_offers_stopping_the_stack() {
        let word = |mode| {
            Action::hints(false, mode)
                .into_iter()
                .find(|(action, _)| *action == Action::Quit)
                .map(|(_, word)| word)
        };
        assert_eq!(word(Mode::Foreground), Some("quit"));
        assert_eq!(word(Mode::Attached), Some("detach"));
        assert!(
            Action::Quit
                .describe(Mode::Foreground)
                .contains("stop everything")
        );
        assert!(
            Action::Quit
                .describe(Mode::Attached)
                .contains("keeps running")
        );
        // Stopping the stack is one action in both, on its own key.
        assert_eq!(
            Action::StopStack.describe(Mode::Attached),
            Action::StopStack.describe(Mode::Foreground)
        );
        let map = Keymap::default();
        assert_eq!(
            map.action(Key::parse("Q").unwrap()),
            Some(Action::StopStack)
        );
        assert_eq!(map.action(Key::parse("q").unwrap()), Some(Action::Quit));
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
