//! The dashboard's state, and what engine events do to it.
//!
//! `App` is everything a frame is drawn from; drawing only reads it (the
//! views are functions of `&App`). Engine events and snapshots change it
//! here; keys, the mouse and typing change it in `app/input.rs`
//! ([`App::on_key`] and friends), which returns what the loop must do
//! ([`AppRequest`]: send a command, quit, refresh the port holders).
//! Keeping state and drawing apart is what lets the views be tested as
//! snapshots of a state built by hand, with no terminal and no engine.

mod input;

pub use input::AppRequest;

use std::sync::Arc;
use std::time::Duration;

use ratatui::layout::Rect;

use crate::api::{Event, EventKind, Phase, PortHolder, ServiceStatus, Snapshot, StackInfo, State};
use crate::ids::ServiceId;
use crate::keys::{Keymap, Mode};
use crate::logs::LogHub;
use crate::tui::layout::{self, Areas};
use crate::tui::logview::{LogPosition, LogSource};
use crate::tui::theme::Theme;

/// How late a clock that counts seconds or more may be redrawn: it then
/// shares a frame with whatever else changes meanwhile (a service's line,
/// a state). Nobody sees the second hand a fifth of a second late, but an
/// idle dashboard whose services print in step with their uptimes draws
/// half as often. The cold start's tenths are drawn on time.
pub const CLOCK_SLACK: Duration = Duration::from_millis(200);

/// Which half has the keyboard.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Pane {
    Services,
    /// The lower view (see [`LowerView`]).
    Lower,
}

/// What the lower half shows.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LowerView {
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
    /// Stop the whole stack (asked for with its own key; attached, the
    /// only way to stop it from the dashboard).
    ConfirmStop,
    /// A port conflict: who holds the port and what can be done.
    Conflict {
        service: ServiceId,
        port: Option<u16>,
        holders: Vec<crate::api::Holder>,
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
    pub position: LogPosition,
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
    /// Whether this dashboard runs the stack or is attached to it (then
    /// quitting detaches, and only [`Overlay::ConfirmStop`] stops it).
    pub mode: Mode,
    /// Whether the detach key may close the dashboard and leave the stack
    /// running: always when attached; in the foreground, when the stack's
    /// bringup can go on without the terminal (see `commands::waiter`).
    pub detachable: bool,
    /// Time of the frame, since the engine's epoch.
    pub clock: Duration,
    /// Terminal size, for page sizes and mouse hits.
    pub size: (u16, u16),
    pub focus: Pane,
    pub lower: LowerView,
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
            mode: Mode::Foreground,
            detachable: false,
            clock: Duration::ZERO,
            size: (80, 24),
            focus: Pane::Services,
            lower: LowerView::Logs,
            zoomed: false,
            selected,
            filter: String::new(),
            typing: None,
            log: LogState {
                position: LogPosition::Follow,
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
        match (self.lower, self.selected) {
            (LowerView::AllLogs, _) => LogSource::All,
            (LowerView::Orchestrator, _) => LogSource::Orchestrator,
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

    /// When (since the epoch) a frame is due for the clocks: their next
    /// change after what the last frame showed ([`App::clock`]; not after
    /// now, or a loop woken often, by a flood on a service not shown, would
    /// skip past a change it never drew), and after the cold start up to
    /// [`CLOCK_SLACK`] later, to share a frame with whatever else changes
    /// meanwhile.
    pub fn clock_frame_due(&self) -> Duration {
        let change = self.next_clock_change(self.clock);
        if self.starting() {
            change
        } else {
            change + CLOCK_SLACK
        }
    }

    /// When (since the epoch, at or after `now`) a clock on screen next
    /// changes its text: tenths while the cold start runs (its elapsed
    /// time and growing timeline); after it, the soonest of the header's
    /// running time, the grid's uptimes and the end of a passing message.
    /// Those show seconds only in their first minute, so a stack that has
    /// run a while costs a frame a minute, not a second, when nothing else
    /// changes (an idle attached dashboard is meant to cost almost
    /// nothing).
    pub fn next_clock_change(&self, now: Duration) -> Duration {
        if self.snapshot.summary.is_none() && self.snapshot.phase == Phase::Running {
            return next_multiple(now, Duration::from_millis(100));
        }
        let uptimes = self
            .snapshot
            .services
            .iter()
            .filter(|s| s.pid.is_some())
            .filter_map(|s| s.spawned_at);
        let soonest_clock = std::iter::once(self.snapshot.began_at)
            .chain(uptimes)
            .map(|since| {
                let age = now.saturating_sub(since);
                since + next_multiple(age, coarse_step(age))
            })
            .min();
        let flash_ends = self
            .flash
            .as_ref()
            .map(|(_, until)| *until)
            .filter(|until| *until > now);
        [soonest_clock, flash_ends]
            .into_iter()
            .flatten()
            .min()
            .unwrap_or(now + Duration::from_secs(60))
            .max(now)
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
            EventKind::Notice { name, notice, .. } => {
                let said = crate::api::describe::notice(name.as_deref(), notice);
                self.say(crate::ansi::plain(&said).into_owned());
            }
            // A command that was not carried out (whoever sent it).
            EventKind::Refused { name, why, .. } => {
                let said = crate::api::describe::refusal(why);
                let said = match name {
                    Some(name) => format!("{name}: {said}"),
                    None => said,
                };
                self.say(crate::ansi::plain(&said).into_owned());
            }
            // However it was asked for (a key, a signal, another client).
            // An edit of the config added or removed services.
            EventKind::StackChanged { info } => {
                self.info = Arc::new((**info).clone());
                self.holders.resize(self.info.services.len(), None);
                // A question about a service that is gone is moot.
                let gone = |id: &ServiceId| info.service(*id).is_none_or(|s| s.removed);
                let moot = |overlay: &Overlay| match overlay {
                    Overlay::Conflict { service, .. } | Overlay::ConfirmKill(service) => {
                        gone(service)
                    }
                    _ => false,
                };
                self.conflicts.retain(|waiting| !moot(waiting));
                if self.overlay.as_ref().is_some_and(moot) {
                    self.overlay = None;
                    self.show_next_conflict();
                }
            }
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
}

/// How often a coarse clock ("12s", "5m", "2h 10m", "3d") of this age
/// changes its text (never less often than this).
fn coarse_step(age: Duration) -> Duration {
    match age.as_secs() {
        0..60 => Duration::from_secs(1),
        60..86_400 => Duration::from_secs(60),
        _ => Duration::from_secs(3600),
    }
}

/// The first multiple of `step` after `d`.
fn next_multiple(d: Duration, step: Duration) -> Duration {
    let step_ns = step.as_nanos().max(1);
    let next = (d.as_nanos() / step_ns + 1) * step_ns;
    Duration::from_nanos(u64::try_from(next).unwrap_or(u64::MAX))
}
