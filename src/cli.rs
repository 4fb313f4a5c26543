//! Command-line definitions (clap derive). Parsing only; `main` dispatches.

use clap::{Parser, Subcommand};

/// Bring a local multi-service stack up in dependency order and keep it running.
#[derive(Debug, Parser)]
#[command(name = "bringup", version, about)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run a small real HTTP service used by the demo stack and the tests.
    #[command(hide = true)]
    Fixture(crate::fixture::FixtureArgs),
}
