//! `[project]` itself: the stack's name, how many services may start at
//! once, how much output is kept, and where automatic ports come from.
//!
//! Every key is optional and has a default that works for a small stack,
//! so an empty `[project]` (or none) is fine. The keys `[project]` sets for
//! its services are read in [`crate::config::defaults`], its environment in
//! [`crate::config::env`].

use std::path::Path;

use crate::config::error::Collector;
use crate::config::plan::Project;
use crate::config::raw::RawProject;

/// Lines of output kept per service unless `log_lines` says otherwise.
const DEFAULT_LOG_LINES: usize = 10_000;

/// `[project]` after validation; the name defaults to the config's directory.
pub(crate) fn project(raw: &RawProject, base_dir: &Path, errors: &mut Collector<'_>) -> Project {
    // 0 would let nothing start; it is read as "no limit", like leaving it out.
    let max_parallel_starts = match raw.max_parallel_starts {
        None | Some(0) => None,
        Some(n) => Some(n),
    };
    // A store of 0 lines would drop every line, even the one that says why
    // a service failed.
    let log_lines = raw.log_lines.unwrap_or(DEFAULT_LOG_LINES).max(1);
    let port_range = crate::config::ports::port_range(raw.port_range.as_ref(), errors);
    Project {
        name: raw
            .name
            .clone()
            .unwrap_or_else(|| default_project_name(base_dir)),
        max_parallel_starts,
        log_lines,
        port_range,
        reload: raw.reload.unwrap_or(true),
    }
}

fn default_project_name(base_dir: &Path) -> String {
    base_dir
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .filter(|n| !n.is_empty())
        .unwrap_or_else(|| "bringup".to_string())
}
