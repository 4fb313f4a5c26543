//! The terminal: raw mode and the alternate screen while the dashboard
//! runs, restored however it ends; keys read on their own thread; and the
//! translation of terminal key events into [`Key`]s.

use std::io::Write;

use ratatui::crossterm::event::{
    self, DisableMouseCapture, EnableMouseCapture, KeyCode, KeyEvent, KeyModifiers,
};
use ratatui::crossterm::execute;
use ratatui::crossterm::terminal::EnterAlternateScreen;
use ratatui::layout::Rect;
use ratatui::{DefaultTerminal, TerminalOptions, Viewport};
use tokio::sync::mpsc;

use crate::keys::{Code, Key};
use crate::tui::app::App;

/// The dashboard's hold on the terminal; dropping it gives the terminal back.
///
/// Its size is read once, then told by resize events ([`Screen::resize`]):
/// asking the terminal costs three system calls (crossterm opens
/// /dev/tty each time), and a frame used to ask twice.
pub struct Screen {
    terminal: DefaultTerminal,
    /// The terminal is still there to draw on (not after SIGHUP or EIO).
    alive: bool,
    size: (u16, u16),
}

impl Screen {
    /// Raw mode, alternate screen, mouse capture; a panic hook that undoes
    /// them before the panic message is printed.
    pub fn open() -> std::io::Result<Self> {
        // ratatui's init installs a hook that restores raw mode and the
        // screen; ours, called first, also releases the mouse.
        let size = ratatui::crossterm::terminal::size().unwrap_or((80, 24));
        // A fixed viewport: a fullscreen one asks the terminal its size at
        // every frame.
        let terminal = ratatui::try_init_with_options(TerminalOptions {
            viewport: Viewport::Fixed(area(size)),
        })?;
        // (Which `ratatui::init` does, and this way of starting does not.)
        if let Err(e) = execute!(std::io::stdout(), EnterAlternateScreen) {
            ratatui::restore();
            return Err(e);
        }
        let previous = std::panic::take_hook();
        std::panic::set_hook(Box::new(move |info| {
            let _ = execute!(std::io::stdout(), DisableMouseCapture);
            previous(info);
        }));
        let _ = execute!(std::io::stdout(), EnableMouseCapture);
        Ok(Self {
            terminal,
            alive: true,
            size,
        })
    }

    pub fn size(&self) -> (u16, u16) {
        self.size
    }

    /// The terminal has a new size (a resize event says so): the next
    /// frame is drawn whole, at that size.
    pub fn resize(&mut self, size: (u16, u16)) {
        if size == self.size {
            return;
        }
        self.size = size;
        if self.alive && self.terminal.resize(area(size)).is_err() {
            self.alive = false;
        }
    }

    /// Draws a frame; a terminal that went away just stops being drawn on.
    pub fn draw(&mut self, app: &App) {
        if !self.alive {
            return;
        }
        if self
            .terminal
            .draw(|frame| crate::tui::view::draw(frame, app))
            .is_err()
        {
            self.alive = false;
        }
    }
}

impl Drop for Screen {
    fn drop(&mut self) {
        if self.alive {
            let _ = execute!(std::io::stdout(), DisableMouseCapture);
        }
        ratatui::restore();
        let _ = std::io::stdout().flush();
    }
}

fn area((width, height): (u16, u16)) -> Rect {
    Rect::new(0, 0, width, height)
}

/// Reads terminal events on a thread of their own (blocking, so an idle
/// dashboard does not poll) and hands them to the loop.
pub fn read_input(tx: mpsc::Sender<event::Event>) {
    let reader = std::thread::Builder::new()
        .name("bringup-keys".into())
        .spawn(move || {
            while let Ok(event) = event::read() {
                if tx.blocking_send(event).is_err() {
                    return;
                }
            }
        });
    // Without the thread there are no keys, but signals still stop the
    // stack; nothing better to do than carry on.
    drop(reader);
}

/// A terminal key event as a [`Key`] (letters keep their case).
pub fn key(event: &KeyEvent) -> Option<Key> {
    let code = match event.code {
        KeyCode::Char(c) => Code::Char(c),
        KeyCode::Enter => Code::Enter,
        KeyCode::Esc => Code::Esc,
        KeyCode::Tab => Code::Tab,
        KeyCode::BackTab => Code::BackTab,
        KeyCode::Backspace => Code::Backspace,
        KeyCode::Up => Code::Up,
        KeyCode::Down => Code::Down,
        KeyCode::Left => Code::Left,
        KeyCode::Right => Code::Right,
        KeyCode::Home => Code::Home,
        KeyCode::End => Code::End,
        KeyCode::PageUp => Code::PageUp,
        KeyCode::PageDown => Code::PageDown,
        KeyCode::Delete => Code::Delete,
        KeyCode::F(n) => Code::F(n),
        _ => return None,
    };
    let ctrl = event.modifiers.contains(KeyModifiers::CONTROL);
    let code = match code {
        Code::Char(c) if ctrl => Code::Char(c.to_ascii_lowercase()),
        other => other,
    };
    Some(Key {
        code,
        ctrl,
        alt: event.modifiers.contains(KeyModifiers::ALT),
    })
}
