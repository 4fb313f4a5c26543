//! `bringup ports check PORT…`: whether ports are free, for scripts that
//! want to know before they start something.

use std::process::ExitCode;

use super::print_json;
use super::state::{Locks, PortState, describe, state_of};

/// `bringup ports check PORT…`: exit 0 when every port is free.
pub(super) fn check(ports: &[u16], json: bool) -> ExitCode {
    let locks = Locks::now();
    let states: Vec<PortState> = ports.iter().map(|&p| state_of(p, &locks)).collect();
    if json {
        print_json(&states);
    } else {
        for state in &states {
            println!("{}: {}", state.port, describe(state));
        }
    }
    if states.iter().all(|s| s.free) {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    }
}
