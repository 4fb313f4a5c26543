//! How a process ended, and signals by name: plain data that the engine's
//! protocol carries as it is, kept here (a leaf) because the process layer
//! is where exits are observed.

use std::fmt;

use serde::{Deserialize, Serialize};

/// How a process ended.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Exit {
    Code(i32),
    /// Killed by a signal.
    Signal(SignalName),
    /// It could not be started at all.
    NotStarted(String),
    /// An adopted process (one bringup did not start) stopped answering
    /// its checks and is taken to be gone.
    AdoptedGone,
}

impl Exit {
    pub fn success(&self) -> bool {
        matches!(self, Exit::Code(0))
    }
}

impl fmt::Display for Exit {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Exit::Code(code) => write!(f, "exited with code {code}"),
            Exit::Signal(signal) => write!(f, "killed by {signal}"),
            Exit::NotStarted(why) => write!(f, "could not start: {why}"),
            Exit::AdoptedGone => write!(f, "the adopted process is gone"),
        }
    }
}

/// A signal as users know it: `SIGTERM`, or `signal 40` for one without
/// a name (real-time signals). The protocol carries the name, never the
/// number, which differs between platforms.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(transparent)]
pub struct SignalName(String);

impl SignalName {
    /// The name of signal `number`.
    pub fn of(number: i32) -> Self {
        match nix::sys::signal::Signal::try_from(number) {
            Ok(signal) => Self::from(signal),
            Err(_) => Self(format!("signal {number}")),
        }
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl From<nix::sys::signal::Signal> for SignalName {
    fn from(signal: nix::sys::signal::Signal) -> Self {
        Self(signal.as_str().to_string())
    }
}

impl fmt::Display for SignalName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn signals_are_named_and_unnamed_ones_numbered() {
        assert_eq!(SignalName::of(15).as_str(), "SIGTERM");
        assert_eq!(
            Exit::Signal(SignalName::of(9)).to_string(),
            "killed by SIGKILL"
        );
        assert_eq!(SignalName::of(40).as_str(), "signal 40");
        assert_eq!(
            serde_json::to_string(&SignalName::of(2)).unwrap(),
            "\"SIGINT\""
        );
    }
}
