//! `bringup ports`: what the config's services want and have, who holds a
//! port, which ports are free, and stopping a stale holder — as text or,
//! with `--json`, for scripts.
//!
//! One file per subcommand (`overview`, `check`, `who`, `free`, `kill`);
//! [`state`] says what is known about a port, for all of them.
//!
//! Command lines, user names and lock files are other people's words: the
//! text output shows them through [`bringup::ansi::plain`], so an escape
//! sequence in a listener's command line cannot retitle the terminal,
//! write the clipboard or clear the screen. `--json` keeps them exact
//! (serde escapes control characters).

mod check;
mod free;
mod kill;
mod overview;
mod state;
mod who;

use std::path::Path;
use std::process::ExitCode;

use bringup::cli::{PortsAction, PortsArgs};
use serde::Serialize;

pub fn run(explicit: Option<&Path>, args: &PortsArgs, color: bool) -> ExitCode {
    match &args.action {
        None => overview::overview(explicit, args.json, color),
        Some(PortsAction::Check { ports }) => check::check(ports, args.json),
        Some(PortsAction::Who { port }) => who::who(*port, args.json),
        Some(PortsAction::Free { from, count }) => {
            free::free_ports(explicit, *from, *count, args.json)
        }
        Some(PortsAction::Kill { port, yes, grace }) => kill::kill(*port, *yes, *grace, args.json),
    }
}

/// `--json`: one pretty-printed document on stdout.
fn print_json(value: &impl Serialize) {
    match serde_json::to_string_pretty(value) {
        Ok(text) => println!("{text}"),
        Err(e) => eprintln!("error: cannot write JSON: {e}"),
    }
}
