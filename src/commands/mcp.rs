//! `bringup mcp`: the MCP server for the config found the way `up` finds
//! it, on stdin/stdout. stdout belongs to the protocol: nothing else may
//! be printed there; what goes wrong before the session starts goes to
//! stderr (which MCP clients show in their server logs).

use std::path::Path;
use std::process::ExitCode;

use bringup::mcp::{self, Target};

use super::{INVALID, runtime};

/// `bringup mcp [-c FILE]`.
pub fn run(explicit: Option<&Path>, color: bool) -> ExitCode {
    let plan = match super::load(explicit, color) {
        Ok(plan) => plan,
        Err(code) => return code,
    };
    let exe = match std::env::current_exe() {
        Ok(exe) => exe,
        Err(e) => {
            eprintln!("error: cannot find bringup's own executable: {e}");
            return ExitCode::FAILURE;
        }
    };
    let target = Target {
        identity: plan.identity(),
        config: std::fs::canonicalize(&plan.source).unwrap_or_else(|_| plan.source.clone()),
        exe,
    };
    let runtime = match runtime() {
        Ok(runtime) => runtime,
        Err(code) => return code,
    };
    match runtime.block_on(mcp::serve_stdio(target)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::from(INVALID)
        }
    }
}
