//! Where a command sends a service, and whether it got there: the one
//! judgment every client that acts and waits makes (`bringup restart`,
//! `wait`, the MCP tools), read from a [`ServiceStatus`].

use super::{ServiceStatus, State, describe};

/// What a client waits for after its command is done.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Goal {
    /// Ready (or completed) by a start after the command.
    Up,
    Stopped,
    Skipped,
}

impl Goal {
    /// The word for having got there ("ready", "stopped", "skipped").
    pub fn word(self) -> &'static str {
        match self {
            Goal::Up => "ready",
            Goal::Stopped => "stopped",
            Goal::Skipped => "skipped",
        }
    }
}

/// Whether `s` got where `goal` says (`Some(Ok)`), cannot get there any
/// more (`Some(Err(why))`, in words), or may still (`None`). `spawns`: its
/// starts before the command, so that the old process's "ready" does not
/// count.
pub fn reached(s: &ServiceStatus, goal: Goal, spawns: u32) -> Option<Result<(), String>> {
    match goal {
        Goal::Up => {
            // The old process's "ready" does not count: a start must have
            // happened since (or a process of the user's was adopted).
            if s.spawns <= spawns && !s.external {
                return None;
            }
            match s.state {
                State::Ready | State::Completed if !s.stopping => Some(Ok(())),
                _ if down_for_good(s) => Some(Err(describe::state_line(s.state, &s.reason))),
                _ => None,
            }
        }
        Goal::Stopped => match s.state {
            State::Stopped | State::Failed | State::Completed if s.pid.is_none() => Some(Ok(())),
            _ => None,
        },
        Goal::Skipped => match s.state {
            State::Skipped if s.pid.is_none() => Some(Ok(())),
            _ => None,
        },
    }
}

/// Down and staying down: failed with no restart to come, skipped or
/// stopped.
pub fn down_for_good(s: &ServiceStatus) -> bool {
    match s.state {
        State::Failed => s.waiting.is_none() && s.pid.is_none(),
        State::Skipped | State::Stopped => true,
        _ => false,
    }
}
