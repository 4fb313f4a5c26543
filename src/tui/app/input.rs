//! What keys, the mouse and typing do to the dashboard's state.
//!
//! Each handler changes the [`App`] and returns what the loop must do
//! about it ([`AppRequest`]: send the engine a command, quit, look up the
//! port holders); none of them does I/O, so a test drives them with key
//! presses and checks the state and the requests. Mouse hits ask the same
//! [`layout`](crate::tui::layout) the frame was drawn with.

use ratatui::layout::Rect;

use crate::api::{Command, Phase, PortChoice, ServiceStatus, State};
use crate::ids::ServiceId;
use crate::keys::{Action, Code, Key, Mode};
use crate::tui::app::{App, LowerView, Overlay, Pane, Quitting, Typing};
use crate::tui::logview::{self, LogPosition};

/// What the loop must do after an input.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AppRequest {
    Send(Command),
    /// Stop the stack; `force` kills what is left at once.
    Quit {
        force: bool,
    },
    /// Leave the stack running and close the dashboard (attached only).
    Detach,
    /// Look up who holds each port (the ports view is showing).
    RefreshHolders,
}

impl App {
    /// A key press.
    pub fn on_key(&mut self, key: Key) -> Vec<AppRequest> {
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

    fn on_overlay_key(&mut self, key: Key) -> Vec<AppRequest> {
        let yes = matches!(key.code, Code::Char('y' | 'Y') | Code::Enter) && !key.ctrl;
        let overlay = self.overlay.take();
        // Quit from a popup that only informs (help, a port conflict) means
        // quit, not just "close": nobody should need to press it twice.
        let informs = matches!(overlay, Some(Overlay::Help | Overlay::Conflict { .. }));
        if informs && self.keys.action(key) == Some(Action::Quit) {
            return self.act(Action::Quit);
        }
        match overlay {
            Some(Overlay::ConfirmKill(id)) if yes => vec![AppRequest::Send(Command::Kill(id))],
            Some(Overlay::ConfirmQuit | Overlay::ConfirmStop) if yes => self.quit(),
            Some(Overlay::Conflict { service, .. }) => match key.code {
                Code::Char('f') => vec![AppRequest::Send(Command::ResolvePort {
                    service,
                    choice: PortChoice::Fallback,
                })],
                Code::Char('a') => vec![AppRequest::Send(Command::ResolvePort {
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
    pub fn act(&mut self, action: Action) -> Vec<AppRequest> {
        let in_logs = self.focus == Pane::Lower || self.zoomed;
        match action {
            Action::Down if in_logs => self.scroll_log(-1),
            Action::Up if in_logs => self.scroll_log(1),
            Action::Down => self.move_selection(1),
            Action::Up => self.move_selection(-1),
            Action::Top if in_logs => {
                self.log.position = logview::oldest(&self.logs, self.log_source(), self.log_rows())
            }
            Action::Bottom if in_logs => self.log.position = LogPosition::Follow,
            Action::Top => self.move_selection(i32::MIN / 2),
            Action::Bottom => self.move_selection(i32::MAX / 2),
            Action::PageUp if in_logs => self.scroll_log(self.page() as i64),
            Action::PageDown if in_logs => self.scroll_log(-(self.page() as i64)),
            Action::PageUp => self.move_selection(-(self.page() as i32)),
            Action::PageDown => self.move_selection(self.page() as i32),
            Action::NextPane => {
                self.focus = if self.focus == Pane::Services {
                    Pane::Lower
                } else {
                    Pane::Services
                };
            }
            Action::Zoom => {
                self.zoomed = !self.zoomed;
                if self.zoomed {
                    self.focus = Pane::Lower;
                }
            }
            Action::Back => {
                if self.zoomed {
                    self.zoomed = false;
                } else if self.lower != LowerView::Logs {
                    self.lower = LowerView::Logs;
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
                return vec![AppRequest::Send(Command::RestartAll)];
            }
            Action::PauseWatch => {
                let paused = !self.snapshot.watch_paused;
                if !self.snapshot.services.iter().any(|s| s.watching) {
                    self.say("no service watches files (`watch = [\"src/**\"]` in its table)");
                    return Vec::new();
                }
                self.say(if paused {
                    "watching files paused: changes restart nothing"
                } else {
                    "watching files again"
                });
                return vec![AppRequest::Send(Command::Watching { paused })];
            }
            Action::Reload => {
                self.say("reading the config again");
                return vec![AppRequest::Send(Command::Reload)];
            }
            Action::Timeline => self.toggle_lower(LowerView::Timeline),
            Action::Ports => {
                self.toggle_lower(LowerView::Ports);
                if self.lower == LowerView::Ports {
                    return vec![AppRequest::RefreshHolders];
                }
            }
            Action::OrchestratorLog => {
                self.toggle_lower(LowerView::Orchestrator);
                self.log.position = LogPosition::Follow;
            }
            Action::AllLogs => {
                self.toggle_lower(LowerView::AllLogs);
                self.log.position = LogPosition::Follow;
            }
            Action::Help => self.overlay = Some(Overlay::Help),
            // Attached, quitting leaves the stack as it is, whatever it does.
            Action::Quit if self.mode == Mode::Attached => return vec![AppRequest::Detach],
            Action::Detach
                if self.quitting != Quitting::No
                    || matches!(
                        self.snapshot.phase,
                        Phase::ShuttingDown { .. } | Phase::Done
                    ) =>
            {
                self.say("the stack is stopping: there is nothing left to detach from");
            }
            Action::Detach if self.detachable => return vec![AppRequest::Detach],
            Action::Detach => {
                self.say(
                    "this dashboard cannot detach (its stack runs in this process); q stops the stack",
                );
            }
            Action::StopStack => {
                return match self.quitting {
                    Quitting::No => {
                        self.overlay = Some(Overlay::ConfirmStop);
                        Vec::new()
                    }
                    Quitting::Stopping | Quitting::Killing => {
                        self.quitting = Quitting::Killing;
                        vec![AppRequest::Quit { force: true }]
                    }
                };
            }
            Action::Quit => {
                return match self.quitting {
                    Quitting::No if self.starting() => {
                        self.overlay = Some(Overlay::ConfirmQuit);
                        Vec::new()
                    }
                    Quitting::No => self.quit(),
                    Quitting::Stopping | Quitting::Killing => {
                        self.quitting = Quitting::Killing;
                        vec![AppRequest::Quit { force: true }]
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
            Action::Follow => self.log.position = LogPosition::Follow,
            Action::Wrap => self.log.wrap = !self.log.wrap,
            Action::Timestamps => self.log.timestamps = !self.log.timestamps,
        }
        Vec::new()
    }

    fn quit(&mut self) -> Vec<AppRequest> {
        self.quitting = Quitting::Stopping;
        // Attached, the quit key detaches: insisting is the stop key's.
        let again = match self.mode {
            Mode::Foreground => self.keys.first(Action::Quit),
            Mode::Attached => self.keys.first(Action::StopStack),
        };
        self.say(format!(
            "stopping everything, dependents first ({again} again to kill it all)"
        ));
        vec![AppRequest::Quit { force: false }]
    }

    fn on_selected(
        &mut self,
        f: impl FnOnce(&mut Self, ServiceStatus) -> Option<Command>,
    ) -> Vec<AppRequest> {
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
        f(self, status).map(AppRequest::Send).into_iter().collect()
    }

    fn toggle_lower(&mut self, view: LowerView) {
        self.lower = if self.lower == view {
            LowerView::Logs
        } else {
            view
        };
    }

    /// Rows of the log pane as drawn now (its title line aside).
    fn log_rows(&self) -> usize {
        let areas = self.areas(self.screen());
        areas
            .lower
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
            self.log.position = LogPosition::Follow;
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
            LogPosition::Follow
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
                self.log.position = LogPosition::Follow;
            }
            self.selected = Some(id);
            self.focus = Pane::Services;
        }
    }
}
