//! The coordinator: one state machine, one runtime that carries out its effects.
//!
//! [`machine`] decides (pure, unit-tested) and [`runtime`] acts (processes,
//! probes, timers); they speak [`crate::api`], the plain data front ends
//! exchange with the engine. [`history`] remembers what a cold start took,
//! so the next one starts the critical path first. [`port_book`] keeps
//! each service's port for the run, [`info`] derives the
//! [`crate::api::StackInfo`] front ends are told, and [`crash`] records an
//! engine panic for the verdict. [`watch`] turns changes of watched files
//! into restarts, and [`config_watch`] edits of the config into reloads.

pub mod config_watch;
pub mod crash;
pub mod history;
pub mod info;
pub mod machine;
pub mod port_book;
pub mod runtime;
pub mod watch;

pub use crash::CrashReport;
pub use runtime::{Engine, EngineError, EngineOptions, Request};
