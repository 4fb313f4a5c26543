//! `bringup fixture`: a small real HTTP service for the demo and the tests.

/// Options of `bringup fixture`.
#[derive(Debug, clap::Args)]
pub struct FixtureArgs {}

/// Runs the fixture until it exits by itself or is signalled.
pub fn run(_args: FixtureArgs) -> std::io::Result<i32> {
    Ok(0)
}
