//! The dashboard's state, and what keys, mouse and engine events do to it.
//!
//! `App` is everything a frame is drawn from; drawing only reads it (the
//! views are functions of `&App`). Input goes through [`App::on_key`] and
//! friends, which change the state and return what the loop must do
//! ([`Do`]: send a command, quit, refresh the port holders). Keeping the
//! two apart is what lets the views be tested as snapshots of a state
//! built by hand, with no terminal and no engine.

use std::sync::Arc;
use std::time::Duration;

use ratatui::layout::Rect;

use crate::config::plan::ServiceId;
use crate::engine::{
    Command, Event, EventKind, Phase, PortChoice, PortHolder, ServiceStatus, Snapshot, StackInfo,
    State,
};
use crate::keys::{Action, Code, Key, Keymap};
use crate::logs::LogHub;
use crate::tui::layout::{self, Areas};
use crate::tui::logview::{self, LogSource, Position};
use crate::tui::theme::Theme;

/// What the loop must do after an input.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Do {
    Send(Command),
    /// Stop the stack; `force` kills what is left at once.
    Quit {
        force: bool,
    },
    /// Look up who holds each port (the ports view is showing).
    RefreshHolders,
}

/// Which half has the keyboard.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Pane {
    Services,
    Bottom,
}

/// What the lower half shows.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Bottom {
    /// The selected service's output.
    Logs,
    /// Every service's output, merged.
    AllLogs,
    /// bringup's own log, scrolled and searched like a service's.
    Orchestrator,
    Timeline,
    Ports,
}

/// Something drawn over everything else.
#[derive(Debug, Clone, PartialEq)]
pub enum Overlay {
    Help,
    ConfirmKill(ServiceId),
    ConfirmQuit,
    /// A port conflict: who holds the port and what can be done.
    Conflict {
        service: ServiceId,
        port: Option<u16>,
        holders: Vec<crate::ports::Holder>,
        message: String,
    },
}

/// Text being typed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Typing {
    Filter,
    Search,
}

/// How the log pane shows lines.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LogState {
    pub position: Position,
    pub wrap: bool,
    pub timestamps: bool,
    /// What to highlight and jump between (case-insensitive).
    pub search: String,
}

/// Where quitting has got to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Quitting {
    No,
    Stopping,
    Killing,
}

/// The whole state of the dashboard.
pub struct App {
    pub info: Arc<StackInfo>,
    pub snapshot: Snapshot,
    pub logs: Arc<LogHub>,
    pub theme: Theme,
    pub keys: Keymap,
    /// Time of the frame, since the engine's epoch.
    pub clock: Duration,
    /// Terminal size, for page sizes and mouse hits.
    pub size: (u16, u16),
    pub focus: Pane,
    pub bottom: Bottom,
    pub zoomed: bool,
    pub selected: Option<ServiceId>,
    pub filter: String,
    pub typing: Option<Typing>,
    pub log: LogState,
    pub overlay: Option<Overlay>,
    /// A message in the status line until `until`.
    pub flash: Option<(String, Duration)>,
    pub quitting: Quitting,
    /// Who holds each service's port, as last looked up (the ports view).
    pub holders: Vec<Option<PortHolder>>,
    /// Port conflicts waiting for the popup: shown one after the other.
    pub conflicts: std::collections::VecDeque<Overlay>,
}

impl App {
    pub fn new(
        info: Arc<StackInfo>,
        snapshot: Snapshot,
        logs: Arc<LogHub>,
        theme: Theme,
        keys: Keymap,
    ) -> Self {
        let selected = snapshot.services.first().map(|s| s.id);
        let holders = vec![None; info.services.len()];
        Self {
            info,
            snapshot,
            logs,
            theme,
            keys,
            clock: Duration::ZERO,
            size: (80, 24),
            focus: Pane::Services,
            bottom: Bottom::Logs,
            zoomed: false,
            selected,
            filter: String::new(),
            typing: None,
            log: LogState {
                position: Position::Follow,
                wrap: false,
                timestamps: false,
                search: String::new(),
            },
            overlay: None,
            flash: None,
            quitting: Quitting::No,
            holders,
            conflicts: std::collections::VecDeque::new(),
        }
    }

    /// Services shown in the grid: start order, narrowed by the filter.
    pub fn visible(&self) -> Vec<&ServiceStatus> {
        let filter = self.filter.to_lowercase();
        self.snapshot
            .services
            .iter()
            .filter(|s| s.selected || s.state != State::Stopped)
            .filter(|s| filter.is_empty() || s.name.to_lowercase().contains(&filter))
            .collect()
    }

    pub fn status(&self, id: ServiceId) -> Option<&ServiceStatus> {
        self.snapshot.services.iter().find(|s| s.id == id)
    }

    pub fn selected_status(&self) -> Option<&ServiceStatus> {
        self.selected.and_then(|id| self.status(id))
    }

    /// Where the lower half's lines come from.
    pub fn log_source(&self) -> LogSource {
        match (self.bottom, self.selected) {
            (Bottom::AllLogs, _) => LogSource::All,
            (Bottom::Orchestrator, _) => LogSource::Orchestrator,
            (_, Some(id)) => LogSource::Service(id),
            (_, None) => LogSource::All,
        }
    }

    /// Where the parts of a screen of `size` are in this state; the same
    /// for drawing and for mouse hits.
    pub fn areas(&self, size: Rect) -> Areas {
        layout::areas(size, self.zoomed, self.visible().len())
    }

    /// The first grid row shown when `rows` rows are available, so the
    /// selection stays on screen.
    pub fn first_row(&self, rows: u16) -> usize {
        let at = self
            .selected
            .and_then(|id| self.visible().iter().position(|s| s.id == id))
            .unwrap_or(0);
        layout::first_row(at, rows)
    }

    /// Whether the cold start is still going (quitting then asks first).
    pub fn starting(&self) -> bool {
        self.snapshot.phase == Phase::Running && self.snapshot.summary.is_none()
    }

    fn say(&mut self, message: impl Into<String>) {
        self.flash = Some((message.into(), self.clock + Duration::from_secs(4)));
    }

    /// The flash message, if it is still due.
    pub fn flash_now(&self) -> Option<&str> {
        self.flash
            .as_ref()
            .filter(|(_, until)| *until > self.clock)
            .map(|(m, _)| m.as_str())
    }

    // ----- engine -------------------------------------------------------------

    /// A new snapshot: keep the selection on the same service if it is still shown.
    pub fn on_snapshot(&mut self, snapshot: Snapshot) {
        self.snapshot = snapshot;
        self.fix_selection();
    }

    /// An engine event the dashboard reacts to (beyond redrawing).
    pub fn on_event(&mut self, event: &Event) {
        match &event.kind {
            EventKind::PortConflict {
                service,
                port,
                holders,
                message,
                ..
            } => {
                // A newer conflict of the same service replaces one waiting.
                self.conflicts.retain(
                    |waiting| !matches!(waiting, Overlay::Conflict { service: s, .. } if s == service),
                );
                self.conflicts.push_back(Overlay::Conflict {
                    service: *service,
                    port: *port,
                    holders: holders.clone(),
                    message: message.clone(),
                });
                self.show_next_conflict();
            }
            // (Notices quote command lines and what services sent.)
            EventKind::Notice { message, .. } => {
                self.say(crate::ansi::plain(message).into_owned());
            }
            // A command that was not carried out (whoever sent it).
            EventKind::Refused { name, why, .. } => {
                let said = crate::engine::describe::refusal(why);
                let said = match name {
                    Some(name) => format!("{name}: {said}"),
                    None => said,
                };
                self.say(crate::ansi::plain(&said).into_owned());
            }
            // However it was asked for (a key, a signal, another client).
            EventKind::ShutdownStarted { force } => {
                self.quitting = if *force {
                    Quitting::Killing
                } else {
                    Quitting::Stopping
                };
            }
            _ => {}
        }
    }

    /// Who holds which service's port, as just looked up.
    pub fn set_holders(&mut self, found: Vec<(ServiceId, PortHolder)>) {
        self.holders = vec![None; self.info.services.len()];
        for (id, holder) in found {
            if let Some(slot) = self.holders.get_mut(id.0) {
                *slot = Some(holder);
            }
        }
    }

    /// Pops up the next waiting conflict if nothing else is shown, skipping
    /// those settled meanwhile (the service runs, or was resolved).
    fn show_next_conflict(&mut self) {
        while self.overlay.is_none() {
            let Some(next) = self.conflicts.pop_front() else {
                return;
            };
            let settled = match &next {
                Overlay::Conflict { service, .. } => self
                    .status(*service)
                    .is_some_and(|s| s.pid.is_some() || s.external || s.state.is_ready()),
                _ => false,
            };
            if !settled {
                self.overlay = Some(next);
            }
        }
    }

    fn fix_selection(&mut self) {
        let visible: Vec<ServiceId> = self.visible().iter().map(|s| s.id).collect();
        if !self.selected.is_some_and(|id| visible.contains(&id)) {
            self.selected = visible.first().copied();
        }
    }

    // ----- input --------------------------------------------------------------

    /// A key press.
    pub fn on_key(&mut self, key: Key) -> Vec<Do> {
        if self.overlay.is_some() {
            let done = self.on_overlay_key(key);
            self.show_next_conflict();
            return done;
        }
        if let Some(typing) = self.typing {
            self.on_typing(typing, key);
            return Vec::new();
        }
        match self.keys.action(key) {
            Some(action) => self.act(action),
            None => Vec::new(),
        }
    }

    fn on_overlay_key(&mut self, key: Key) -> Vec<Do> {
        let yes = matches!(key.code, Code::Char('y' | 'Y') | Code::Enter) && !key.ctrl;
        let overlay = self.overlay.take();
        // Quit from a popup that only informs (help, a port conflict) means
        // quit, not just "close": nobody should need to press it twice.
        let informs = matches!(overlay, Some(Overlay::Help | Overlay::Conflict { .. }));
        if informs && self.keys.action(key) == Some(Action::Quit) {
            return self.act(Action::Quit);
        }
        match overlay {
            Some(Overlay::ConfirmKill(id)) if yes => vec![Do::Send(Command::Kill(id))],
            Some(Overlay::ConfirmQuit) if yes => self.quit(),
            Some(Overlay::Conflict { service, .. }) => match key.code {
                Code::Char('f') => vec![Do::Send(Command::ResolvePort {
                    service,
                    choice: PortChoice::Fallback,
                })],
                Code::Char('a') => vec![Do::Send(Command::ResolvePort {
                    service,
                    choice: PortChoice::Adopt,
                })],
                // "leave it failed", or any other key, closes the popup.
                _ => Vec::new(),
            },
            // Help closes on any key; a confirmation on anything but yes.
            _ => Vec::new(),
        }
    }

    fn on_typing(&mut self, typing: Typing, key: Key) {
        let text = match typing {
            Typing::Filter => &mut self.filter,
            Typing::Search => &mut self.log.search,
        };
        match key.code {
            Code::Enter => self.typing = None,
            Code::Esc => {
                text.clear();
                self.typing = None;
            }
            Code::Backspace => {
                text.pop();
            }
            Code::Char(c) if !key.ctrl && !key.alt => text.push(c),
            _ => {}
        }
        match typing {
            Typing::Filter => self.fix_selection(),
            Typing::Search if !self.log.search.is_empty() => self.jump_to_match(true, true),
            Typing::Search => {}
        }
    }

    /// What an action does where the focus is.
    pub fn act(&mut self, action: Action) -> Vec<Do> {
        let in_logs = self.focus == Pane::Bottom || self.zoomed;
        match action {
            Action::Down if in_logs => self.scroll_log(-1),
            Action::Up if in_logs => self.scroll_log(1),
            Action::Down => self.move_selection(1),
            Action::Up => self.move_selection(-1),
            Action::Top if in_logs => {
                self.log.position = logview::oldest(&self.logs, self.log_source(), self.log_rows())
            }
            Action::Bottom if in_logs => self.log.position = Position::Follow,
            Action::Top => self.move_selection(i32::MIN / 2),
            Action::Bottom => self.move_selection(i32::MAX / 2),
            Action::PageUp if in_logs => self.scroll_log(self.page() as i64),
            Action::PageDown if in_logs => self.scroll_log(-(self.page() as i64)),
            Action::PageUp => self.move_selection(-(self.page() as i32)),
            Action::PageDown => self.move_selection(self.page() as i32),
            Action::NextPane => {
                self.focus = if self.focus == Pane::Services {
                    Pane::Bottom
                } else {
                    Pane::Services
                };
            }
            Action::Zoom => {
                self.zoomed = !self.zoomed;
                if self.zoomed {
                    self.focus = Pane::Bottom;
                }
            }
            Action::Back => {
                if self.zoomed {
                    self.zoomed = false;
                } else if self.bottom != Bottom::Logs {
                    self.bottom = Bottom::Logs;
                } else if !self.filter.is_empty() || !self.log.search.is_empty() {
                    self.filter.clear();
                    self.log.search.clear();
                    self.fix_selection();
                } else {
                    self.focus = Pane::Services;
                }
            }
            Action::Restart => {
                return self.on_selected(|app, s| {
                    app.say(format!("restarting {}", s.name));
                    Some(Command::Restart(s.id))
                });
            }
            Action::Kill => {
                if let Some(s) = self.selected_status() {
                    if s.pid.is_some() {
                        self.overlay = Some(Overlay::ConfirmKill(s.id));
                    } else {
                        let text = format!("{} is not running", s.name);
                        self.say(text);
                    }
                }
            }
            Action::Skip => {
                return self.on_selected(|app, s| {
                    if !s.optional {
                        let stop = app.keys.first(Action::StopStart);
                        app.say(format!(
                            "{} is not optional, so it cannot be skipped ({stop} stops it)",
                            s.name
                        ));
                        None
                    } else if s.state == State::Skipped {
                        app.say(format!("bringing {} back", s.name));
                        Some(Command::Start(s.id))
                    } else {
                        app.say(format!(
                            "skipping {}; what depends on it runs degraded",
                            s.name
                        ));
                        Some(Command::Skip(s.id))
                    }
                });
            }
            Action::StopStart => {
                return self.on_selected(|app, s| {
                    let running =
                        s.pid.is_some() || matches!(s.state, State::Pending | State::Starting);
                    if running && !s.external {
                        app.say(format!("stopping {}", s.name));
                        Some(Command::Stop(s.id))
                    } else {
                        app.say(format!("starting {}", s.name));
                        Some(Command::Start(s.id))
                    }
                });
            }
            Action::RestartAll => {
                self.say("restarting everything: dependents stop first, then all start in order");
                return vec![Do::Send(Command::RestartAll)];
            }
            Action::Timeline => self.toggle_bottom(Bottom::Timeline),
            Action::Ports => {
                self.toggle_bottom(Bottom::Ports);
                if self.bottom == Bottom::Ports {
                    return vec![Do::RefreshHolders];
                }
            }
            Action::OrchestratorLog => {
                self.toggle_bottom(Bottom::Orchestrator);
                self.log.position = Position::Follow;
            }
            Action::AllLogs => {
                self.toggle_bottom(Bottom::AllLogs);
                self.log.position = Position::Follow;
            }
            Action::Help => self.overlay = Some(Overlay::Help),
            Action::Quit => {
                return match self.quitting {
                    Quitting::No if self.starting() => {
                        self.overlay = Some(Overlay::ConfirmQuit);
                        Vec::new()
                    }
                    Quitting::No => self.quit(),
                    Quitting::Stopping | Quitting::Killing => {
                        self.quitting = Quitting::Killing;
                        vec![Do::Quit { force: true }]
                    }
                };
            }
            Action::Find => {
                self.typing = Some(if in_logs {
                    Typing::Search
                } else {
                    Typing::Filter
                });
            }
            Action::NextMatch => self.jump_to_match(false, false),
            Action::PreviousMatch => self.jump_to_match(true, false),
            Action::Follow => self.log.position = Position::Follow,
            Action::Wrap => self.log.wrap = !self.log.wrap,
            Action::Timestamps => self.log.timestamps = !self.log.timestamps,
        }
        Vec::new()
    }

    fn quit(&mut self) -> Vec<Do> {
        self.quitting = Quitting::Stopping;
        let again = self.keys.first(Action::Quit);
        self.say(format!(
            "stopping everything, dependents first ({again} again to kill it all)"
        ));
        vec![Do::Quit { force: false }]
    }

    fn on_selected(
        &mut self,
        f: impl FnOnce(&mut Self, ServiceStatus) -> Option<Command>,
    ) -> Vec<Do> {
        let Some(status) = self.selected_status().cloned() else {
            return Vec::new();
        };
        if status.external {
            self.say(format!(
                "{} is a process bringup adopted; it leaves it alone",
                status.name
            ));
            return Vec::new();
        }
        f(self, status).map(Do::Send).into_iter().collect()
    }

    fn toggle_bottom(&mut self, view: Bottom) {
        self.bottom = if self.bottom == view {
            Bottom::Logs
        } else {
            view
        };
    }

    /// Rows of the log pane as drawn now (its title line aside).
    fn log_rows(&self) -> usize {
        let areas = self.areas(self.screen());
        areas
            .bottom
            .map_or(1, |area| usize::from(area.height.saturating_sub(1)).max(1))
    }

    /// The whole terminal, as the last frame was drawn on it.
    fn screen(&self) -> Rect {
        Rect::new(0, 0, self.size.0, self.size.1)
    }

    /// Lines a page moves: the log pane's height, roughly.
    fn page(&self) -> usize {
        usize::from(self.size.1.saturating_sub(6) / 2).max(1)
    }

    fn move_selection(&mut self, by: i32) {
        let visible: Vec<ServiceId> = self.visible().iter().map(|s| s.id).collect();
        if visible.is_empty() {
            return;
        }
        let at = self
            .selected
            .and_then(|id| visible.iter().position(|v| *v == id))
            .unwrap_or(0);
        let next = (at as i64 + i64::from(by)).clamp(0, visible.len() as i64 - 1) as usize;
        if Some(visible[next]) != self.selected {
            self.selected = Some(visible[next]);
            self.log.position = Position::Follow;
        }
    }

    /// Scrolls the log by `lines` (positive: towards older lines).
    fn scroll_log(&mut self, lines: i64) {
        self.log.position =
            logview::scroll(&self.logs, self.log_source(), &self.log.position, lines);
    }

    fn jump_to_match(&mut self, older: bool, from_newest: bool) {
        if self.log.search.is_empty() {
            let find = self.keys.first(Action::Find);
            self.say(format!("nothing to look for: {find} to search"));
            return;
        }
        let start = if from_newest {
            Position::Follow
        } else {
            self.log.position.clone()
        };
        match logview::find(
            &self.logs,
            self.log_source(),
            &start,
            &self.log.search,
            older,
        ) {
            Some(position) => self.log.position = position,
            None => {
                let text = format!(
                    "no {} match for {:?}",
                    if older { "older" } else { "newer" },
                    self.log.search
                );
                self.say(text);
            }
        }
    }

    /// A mouse wheel notch over row `row` (`up`: towards older lines / the top).
    pub fn on_wheel(&mut self, row: u16, up: bool) {
        let areas = self.areas(self.screen());
        let over_grid = areas
            .grid
            .is_some_and(|grid| row >= grid.y && row < grid.y + grid.height);
        if over_grid {
            self.move_selection(if up { -1 } else { 1 });
        } else {
            self.scroll_log(if up { 3 } else { -3 });
        }
    }

    /// A click at `row`: selects the service on that grid row.
    pub fn on_click(&mut self, row: u16) {
        let areas = self.areas(self.screen());
        let Some(grid) = areas.grid else { return };
        if row <= grid.y || row >= grid.y + grid.height {
            return;
        }
        let visible: Vec<ServiceId> = self.visible().iter().map(|s| s.id).collect();
        let skip = self.first_row(grid.height.saturating_sub(1));
        let index = skip + usize::from(row - grid.y - 1);
        if let Some(&id) = visible.get(index) {
            if self.selected != Some(id) {
                self.log.position = Position::Follow;
            }
            self.selected = Some(id);
            self.focus = Pane::Services;
        }
    }
}
