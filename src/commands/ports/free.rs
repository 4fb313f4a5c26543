//! `bringup ports free`: the first ports from a starting point (the
//! project's range by default) that nothing holds and no bringup has
//! handed out.

use std::path::Path;
use std::process::ExitCode;

use bringup::ports::free;

use super::print_json;
use super::state::{LOCALHOST, Locks};

/// `bringup ports free`: the first free ports from a starting point.
pub(super) fn free_ports(
    explicit: Option<&Path>,
    from: Option<u16>,
    count: usize,
    json: bool,
) -> ExitCode {
    let start = from.unwrap_or_else(|| {
        // The project's range when there is a config to read, quietly.
        let cwd = std::env::current_dir().unwrap_or_default();
        bringup::config::discover(explicit, &cwd)
            .and_then(|path| bringup::formats::load_file(&path))
            .map(|plan| *plan.project.port_range.start())
            .unwrap_or(*bringup::config::DEFAULT_PORT_RANGE.start())
    });
    let locks = Locks::now();
    let found: Vec<u16> = (start..=u16::MAX)
        .filter(|port| !locks.held(*port) && free::check(LOCALHOST, *port).is_ok())
        .take(count)
        .collect();
    if json {
        print_json(&found);
    } else {
        for port in &found {
            println!("{port}");
        }
    }
    if found.len() == count {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    }
}
