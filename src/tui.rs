//! The dashboard: a live ratatui TUI over the engine.
//!
//! One loop on the main thread owns the [`app::App`] and the terminal. It
//! wakes for a key (read by a small thread blocked on the terminal), an
//! engine event, a new snapshot, new log lines that are on screen, a
//! signal, or a visible clock changing, and redraws only then — at most
//! about sixty times a second, so a flood of log lines costs at most that
//! many frames, and an idle stack costs nothing but the second hand of the
//! uptime column. Keys become engine [`Command`]s; the engine runs on its
//! own thread, so the dashboard stays responsive whatever the services do.
//!
//! The same loop runs attached to a stack that runs elsewhere (`bringup
//! attach`, over a session filled from its control socket): then quitting
//! detaches and leaves the stack as it is; stopping it is its own,
//! confirmed key (see [`crate::keys::Mode`]).
//!
//! The terminal is restored on every way out: quitting, a panic (the hook
//! restores it before the message is printed), SIGTERM, and SIGHUP (a
//! closed tmux pane: then there is no terminal to draw on, but the stack is
//! still stopped cleanly).

pub mod app;
pub mod grid;
pub mod layout;
pub mod logview;
pub mod overlay;
pub mod portsview;
mod terminal;
pub mod theme;
pub mod timeline;
pub mod view;
pub mod widgets;

use std::time::{Duration, Instant};

use ratatui::crossterm::event::{Event as TermEvent, KeyEventKind, MouseEventKind};
use tokio::sync::{broadcast, mpsc};

use crate::api::{Command, EventKind, PortHolder, Snapshot, Verdict};
use crate::ids::ServiceId;
use crate::keys::{Keymap, Mode};
use crate::session::Session;
use crate::tui::app::{App, AppRequest, LowerView};
use crate::tui::theme::Theme;

/// At most this many frames a second.
const FRAME_GAP: Duration = Duration::from_millis(16);
/// How often "who holds this port" is looked up while the ports view shows.
const HOLDERS_EVERY: Duration = Duration::from_secs(3);

/// How to run the dashboard.
#[derive(Debug, Clone)]
pub struct TuiOptions {
    /// `--theme`, else `[ui] theme`, else the default.
    pub theme: Option<String>,
    /// `false` with `NO_COLOR` (or `--color never`): a monochrome theme.
    pub color: bool,
}

/// Why the dashboard could not run.
#[derive(Debug, thiserror::Error)]
pub enum TuiError {
    #[error("cannot use the terminal: {0}")]
    Terminal(std::io::Error),
    #[error(transparent)]
    Theme(#[from] theme::ThemeError),
    #[error("[ui.keys]: {0}")]
    Keys(String),
}

/// Resolves the theme and keys before the engine starts, so a bad theme
/// is reported on a normal terminal and nothing has been started yet:
/// `theme` and `keys` are the config's `[ui]` (the command line's
/// `--theme` in `options` wins).
pub fn prepare(
    theme: Option<&str>,
    keys: &[(crate::keys::Action, Vec<crate::keys::Key>)],
    options: &TuiOptions,
) -> Result<(Theme, Keymap), TuiError> {
    let theme = if options.color {
        Theme::load(options.theme.as_deref().or(theme))?
    } else {
        Theme::monochrome()
    };
    let keys = Keymap::with(keys).map_err(TuiError::Keys)?;
    Ok((theme, keys))
}

/// How a dashboard ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Ending {
    /// The stack has stopped (or its bringup is gone).
    Ended,
    /// The user detached; the stack runs on.
    Detached,
}

/// Runs the dashboard until the stack has stopped (or the engine ended).
/// Signals, the engine's lifetime and the verdict are the caller's: this
/// only shows and asks.
/// `detachable`: the caller can keep the stack running without the
/// terminal; then the detach key ends the dashboard with
/// [`Ending::Detached`].
pub async fn run(
    session: &Session,
    theme: Theme,
    keys: Keymap,
    detachable: bool,
) -> Result<Ending, TuiError> {
    drive(session, theme, keys, Mode::Foreground, detachable).await
}

/// Runs the dashboard attached to a stack that runs elsewhere, until the
/// user detaches or the stack has stopped.
pub async fn attach(session: &Session, theme: Theme, keys: Keymap) -> Result<Ending, TuiError> {
    drive(session, theme, keys, Mode::Attached, true).await
}

async fn drive(
    session: &Session,
    theme: Theme,
    keys: Keymap,
    mode: Mode,
    detachable: bool,
) -> Result<Ending, TuiError> {
    let mut screen = terminal::Screen::open().map_err(TuiError::Terminal)?;
    let mut events = session.events();
    let mut snapshot = session.snapshot();
    let mut logs = session.logs().subscribe();
    let mut app = App::new(
        session.info().clone(),
        snapshot.borrow().clone(),
        session.logs().clone(),
        theme,
        keys,
    );
    app.size = screen.size();
    app.mode = mode;
    app.detachable = detachable;
    let epoch = session.epoch();

    let (keys_tx, mut keys_rx) = mpsc::channel(256);
    terminal::read_input(keys_tx);
    let mut holders_lookup: Option<tokio::task::JoinHandle<Vec<(ServiceId, PortHolder)>>> = None;

    let mut dirty = true;
    let mut last_draw = Instant::now()
        .checked_sub(FRAME_GAP)
        .unwrap_or_else(Instant::now);
    let mut seen_lines = 0u64;
    let mut holders_due: Option<Instant> = None;
    let mut keys_open = true;
    let ending = 'frames: loop {
        let wake = if dirty {
            last_draw + FRAME_GAP
        } else {
            next_tick(&app, epoch)
        };
        let refresh_holders = holders_lookup.is_none()
            && holders_due
                .is_some_and(|due| due <= Instant::now() && app.lower == LowerView::Ports);
        if refresh_holders {
            holders_due = Some(Instant::now() + HOLDERS_EVERY);
            holders_lookup = Some(lookup_holders(session, &app));
        }
        tokio::select! {
            biased;
            input = keys_rx.recv(), if keys_open => {
                // The key reader ends only if the terminal is gone; a closed
                // channel would otherwise win every (biased) select.
                let Some(input) = input else {
                    keys_open = false;
                    continue;
                };
                for action in on_input(&mut app, input) {
                    match action {
                        // A refusal comes back as an event too, which
                        // says it (whoever sent the command).
                        AppRequest::Send(command) => {
                            let _ = session.send(command).await;
                        }
                        AppRequest::Quit { force } => {
                            let _ = session.send(Command::Shutdown { force }).await;
                        }
                        AppRequest::RefreshHolders => holders_due = Some(Instant::now()),
                        AppRequest::Detach => break 'frames Ending::Detached,
                    }
                }
                dirty = true;
            }
            event = events.recv() => match event {
                Ok(event) => {
                    let done = matches!(event.kind, EventKind::ShutdownComplete);
                    app.on_event(&event);
                    dirty = true;
                    if done {
                        break 'frames Ending::Ended;
                    }
                }
                Err(broadcast::error::RecvError::Lagged(_)) => dirty = true,
                Err(broadcast::error::RecvError::Closed) => break 'frames Ending::Ended,
            },
            changed = snapshot.changed() => {
                if changed.is_err() {
                    break 'frames Ending::Ended;
                }
                app.on_snapshot(snapshot.borrow_and_update().clone());
                dirty = true;
            }
            changed = logs.changed() => {
                if changed.is_err() {
                    break 'frames Ending::Ended;
                }
                // A flood on a service nobody is looking at wakes the loop,
                // but costs no frame.
                let shown = shown_lines(&app);
                if shown != seen_lines {
                    seen_lines = shown;
                    dirty = true;
                }
            }
            // The guard keeps this arm off while there is no lookup.
            found = async {
                match holders_lookup.as_mut() {
                    Some(lookup) => lookup.await,
                    None => std::future::pending().await,
                }
            }, if holders_lookup.is_some() => {
                holders_lookup = None;
                app.set_holders(found.unwrap_or_default());
                dirty = true;
            }
            () = tokio::time::sleep_until(wake.into()) => {
                if !dirty {
                    dirty = true;
                }
            }
        }
        // The timer arm comes last in the biased select, so a flood of log
        // lines on a service not on screen would starve it: a clock on
        // screen is due whichever arm woke the loop.
        if Instant::now() >= wake {
            dirty = true;
        }
        if dirty && Instant::now() >= last_draw + FRAME_GAP {
            app.clock = epoch.elapsed();
            screen.resize(app.size);
            screen.draw(&app);
            last_draw = Instant::now();
            dirty = false;
            // Fault injection for the tests that prove a panic gives the
            // terminal back and leaves no process behind.
            if std::env::var_os("BRINGUP_TEST_PANIC").is_some() {
                panic!("BRINGUP_TEST_PANIC is set: panicking on purpose after the first frame");
            }
        }
    };
    Ok(ending)
}

/// What the dashboard says on the normal terminal once it is gone: how the
/// cold start went and, for an unhealthy run, why.
pub fn farewell(last: &Snapshot, verdict: &Verdict) {
    use std::io::Write as _;
    // The terminal may be gone (closed with the stack running): what
    // cannot be said is not a reason to fail.
    let mut out = std::io::stdout().lock();
    if let Some(summary) = &last.summary {
        let _ = writeln!(
            out,
            "bringup: {}",
            crate::api::describe::summary_line(summary)
        );
    }
    for complaint in verdict.complaints() {
        let _ = writeln!(out, "bringup: {complaint}");
    }
    let _ = writeln!(out, "bringup: every service has stopped");
}

/// A key, mouse or resize event.
fn on_input(app: &mut App, input: TermEvent) -> Vec<AppRequest> {
    match input {
        TermEvent::Key(key) if key.kind != KeyEventKind::Release => match terminal::key(&key) {
            Some(key) => app.on_key(key),
            None => Vec::new(),
        },
        TermEvent::Mouse(mouse) => {
            match mouse.kind {
                MouseEventKind::ScrollUp => app.on_wheel(mouse.row, true),
                MouseEventKind::ScrollDown => app.on_wheel(mouse.row, false),
                MouseEventKind::Down(_) => app.on_click(mouse.row),
                _ => {}
            }
            Vec::new()
        }
        TermEvent::Resize(width, height) => {
            app.size = (width, height);
            Vec::new()
        }
        _ => Vec::new(),
    }
}

/// When a frame is due for the clocks on screen (see
/// [`App::clock_frame_due`]).
fn next_tick(app: &App, epoch: Instant) -> Instant {
    epoch + app.clock_frame_due()
}

/// A number that changes when the lines on screen change.
fn shown_lines(app: &App) -> u64 {
    match (app.lower, app.selected) {
        (LowerView::AllLogs, _) => app.logs.total(),
        (LowerView::Orchestrator, _) => app
            .logs
            .store(crate::logs::LogHub::OWN)
            .map_or(0, |s| s.read().total()),
        (LowerView::Logs, Some(id)) => app.logs.store(id.0).map_or(0, |s| s.read().total()),
        _ => 0,
    }
}

/// Asks the session who holds every service's port (it reads /proc, off
/// this loop).
fn lookup_holders(
    session: &Session,
    app: &App,
) -> tokio::task::JoinHandle<Vec<(ServiceId, PortHolder)>> {
    let ports: Vec<(ServiceId, u16, Option<u32>)> = app
        .snapshot
        .services
        .iter()
        .filter_map(|s| Some((s.id, s.port?, s.pid)))
        .collect();
    let session = session.clone();
    tokio::spawn(async move { session.who_holds(ports).await })
}
