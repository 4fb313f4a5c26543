//! The coordinator: one state machine, one runtime that carries out its effects.

pub mod api;
pub mod machine;
pub mod summary;

pub use api::*;
