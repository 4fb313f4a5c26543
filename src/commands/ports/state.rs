//! What is known about one port right now: who holds it, whether a
//! bringup (this user's or another's) handed it out, whether it is free;
//! and the sentence that says so, shared by `check`, `who` and `kill`.

use bringup::ansi::plain;
use bringup::ports::free;
use bringup::ports::lock::{self, LockInfo};
use bringup::ports::owner::{self, Holder};
use serde::Serialize;

pub(super) const LOCALHOST: std::net::IpAddr = std::net::IpAddr::V4(std::net::Ipv4Addr::LOCALHOST);

/// What is known about one port right now.
#[derive(Debug, Serialize)]
pub(super) struct PortState {
    pub(super) port: u16,
    pub(super) free: bool,
    pub(super) holders: Vec<Holder>,
    /// The bringup that handed it out, if one of this user's did.
    pub(super) bringup: Option<LockInfo>,
    /// Some bringup on the machine has handed it out (maybe another user's).
    pub(super) handed_out: bool,
}

/// The ports bringups hold: this user's, with what their lock files say,
/// and every bringup's on the machine.
pub(super) struct Locks {
    pub(super) ours: Vec<(u16, Option<LockInfo>)>,
    pub(super) claimed: Vec<u16>,
}

impl Locks {
    pub(super) fn now() -> Self {
        Self {
            ours: lock::dir().map(|dir| lock::held(&dir)).unwrap_or_default(),
            claimed: lock::claimed(),
        }
    }

    pub(super) fn held(&self, port: u16) -> bool {
        self.claimed.contains(&port) || self.ours.iter().any(|(p, _)| *p == port)
    }

    pub(super) fn infos(&self) -> impl Iterator<Item = &LockInfo> {
        self.ours.iter().filter_map(|(_, info)| info.as_ref())
    }
}

pub(super) fn state_of(port: u16, locks: &Locks) -> PortState {
    let holders = owner::holders(port);
    let bringup = locks
        .ours
        .iter()
        .find(|(p, _)| *p == port)
        .and_then(|(_, info)| info.clone());
    let handed_out = locks.held(port);
    let free = holders.is_empty() && !handed_out && free::check(LOCALHOST, port).is_ok();
    PortState {
        port,
        free,
        holders,
        bringup,
        handed_out,
    }
}

pub(super) fn describe(state: &PortState) -> String {
    if state.free {
        return "free".into();
    }
    let mut parts: Vec<String> = state
        .holders
        .iter()
        .map(|h| format!("held by {h}"))
        .collect();
    if let Some(info) = &state.bringup {
        parts.push(format!(
            "handed out by bringup (pid {}) to service `{}` of project {:?}",
            info.pid,
            plain(&info.service),
            info.project
        ));
    } else if state.handed_out {
        parts.push("handed out by another user's bringup".into());
    }
    if parts.is_empty() {
        parts.push("in use (the holder is not visible here)".into());
    }
    parts.join("; ")
}
