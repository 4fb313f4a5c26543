//! bringup brings a local multi-service stack up in dependency order.
//!
//! (Theory of operation: written as the modules land.)

pub mod cli;
pub mod config;
pub mod engine;
pub mod fixture;
pub mod graph;
pub mod headless;
pub mod logs;
pub mod probe;
pub mod process;
pub mod rundir;
