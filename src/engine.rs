//! The coordinator: one state machine, one runtime that carries out its effects.
//!
//! [`machine`] decides (pure, unit-tested), [`runtime`] acts (processes,
//! probes, timers) and [`api`] is the plain data front ends exchange with
//! it. [`summary`] explains a cold start after the fact; [`history`]
//! remembers it, so the next one starts the critical path first.

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
