//! The plain data that crosses between the engine and its front ends:
//! [`Command`]s in, [`Event`]s and [`Snapshot`]s out.
//!
//! Everything here is serde-serializable and free of handles, so the same
//! types could travel over a control socket. Times are durations since the
//! engine started (its epoch), which keeps the state machine free of clocks.
//!
//! One file per concept (states, reasons, commands and their answers,
//! events, snapshots, the stack's description); everything is re-exported
//! here, so users write `api::Event`.

mod command;
mod event;
mod notice;
mod reason;
mod stack;
mod state;
mod status;

pub use crate::ports::owner::PortHolder;
pub use crate::process::exit::{Exit, SignalName};
pub use command::*;
pub use event::*;
pub use notice::*;
pub use reason::*;
pub use stack::*;
pub use state::*;
pub use status::*;
