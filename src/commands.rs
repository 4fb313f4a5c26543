//! The subcommands, at the binary's edge: they turn library results into
//! output and exit codes, and report errors with context (anyhow, miette).

pub mod check;
pub mod completions;
pub mod ctl;
pub mod detach;
pub mod export;
pub mod import;
pub mod mcp;
pub mod ports;
pub mod report;
pub mod run;
pub mod schema;
pub mod signals;
pub mod waiter;
pub mod with;

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use bringup::config::{self, LoadError, Plan};

/// Exit code for an invalid config or bad usage.
pub const INVALID: u8 = 2;

/// Finds and loads the config, printing every problem when it fails.
pub fn load(explicit: Option<&Path>, color: bool) -> Result<Plan, ExitCode> {
    let cwd = std::env::current_dir().unwrap_or_else(|_| PathBuf::from("."));
    let loaded =
        config::discover(explicit, &cwd).and_then(|path| bringup::formats::load_file(&path));
    if let Ok(plan) = &loaded {
        report::config_warnings(&plan.warnings);
    }
    loaded.map_err(|error| {
        match error {
            LoadError::Invalid(errors) => report::config_errors(&errors, color),
            LoadError::NotFound { .. } => {
                eprintln!("error: {error}");
                eprintln!("  help: pass a file with -c FILE, or try `bringup demo` to see an example stack");
            }
            LoadError::Read { .. } => eprintln!("error: {error}"),
        }
        ExitCode::from(INVALID)
    })
}

/// The single-threaded async runtime a command runs on, or exit 1 saying
/// why there is none.
pub fn runtime() -> Result<tokio::runtime::Runtime, ExitCode> {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| {
            eprintln!("error: cannot start the async runtime: {e}");
            ExitCode::FAILURE
        })
}
