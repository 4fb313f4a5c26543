//! The coordinator: one state machine, one runtime that carries out its effects.
//!
//! [`machine`] decides (pure, unit-tested), [`runtime`] acts (processes,
//! probes, timers) and [`api`] is the plain data front ends exchange with
//! it; [`describe`] puts that data into the words users read. [`summary`]
//! explains a cold start after the fact; [`history`] remembers it, so the
//! next one starts the critical path first. [`port_book`] keeps each
//! service's port for the run, [`info`] derives the [`StackInfo`] front
//! ends are told, and [`crash`] records an engine panic for the verdict.

pub mod api;
pub mod crash;
pub mod describe;
pub mod history;
pub mod info;
pub mod machine;
pub mod port_book;
pub mod runtime;
pub mod summary;

pub use api::*;
pub use crash::CrashReport;
pub use runtime::{Engine, EngineError, EngineOptions, Request};
