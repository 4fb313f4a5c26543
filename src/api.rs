//! The plain data that crosses between the engine and its front ends:
//! [`Command`]s in, [`Event`]s and [`Snapshot`]s out.
//!
//! Everything here is serde-serializable and free of handles, so the same
//! types could travel over a control socket. Times are durations since the
//! engine started (its epoch), which keeps the state machine free of clocks.
//!
//! One file per concept (states, reasons, commands and their answers,
//! events, notices, snapshots, the stack's description); everything is
//! re-exported here, so users write `api::Event`. Two modules work on the
//! data and nothing else: [`describe`] makes every sentence a user reads
//! about the engine, and [`summary`] explains a cold start (its critical
//! path, for the summary and the dashboard's timeline alike).
//!
//! It is the one door between the engine and its front ends: the
//! dashboard, headless output and the control plane import this and
//! [`crate::session`], never the engine's insides.

mod command;
pub mod describe;
mod event;
pub mod goal;
mod notice;
mod reason;
mod stack;
mod state;
mod status;
pub mod summary;

pub use crate::ports::owner::{Holder, PortHolder};
pub use crate::process::exit::{Exit, SignalName};
pub use command::*;
pub use event::*;
pub use notice::*;
pub use reason::*;
pub use stack::*;
pub use state::*;
pub use status::*;
