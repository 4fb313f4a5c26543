//! `bringup ports who PORT`: everything known about a port's holder — pid,
//! command, user (and the user it runs as, when that differs), how long it
//! has run — and which bringup handed the port out.

use std::process::ExitCode;

use bringup::ansi::plain;
use bringup::ports::owner;

use super::print_json;
use super::state::{Locks, state_of};

/// `bringup ports who PORT`: exit 0 when something holds it, 1 when not.
pub(super) fn who(port: u16, json: bool) -> ExitCode {
    let state = state_of(port, &Locks::now());
    if json {
        print_json(&state);
    } else if state.free {
        println!("nothing holds port {port}");
    } else {
        for holder in &state.holders {
            println!("port {port} ({}):", holder.address);
            match (holder.pid, &holder.command) {
                (Some(pid), Some(command)) => {
                    println!("  pid      {pid}");
                    println!("  command  {}", plain(command));
                    println!("  user     {}", plain(&holder.user));
                    if let Some(euid) = holder.euid.filter(|euid| *euid != holder.uid) {
                        println!("  as user  {}", plain(&owner::user_name(euid)));
                    }
                    if let Some(running) = holder.running_for {
                        println!("  running  {}", bringup::text::uptime(running));
                    }
                }
                _ => println!("  {holder}"),
            }
        }
        if let Some(info) = &state.bringup {
            println!(
                "  handed out by bringup pid {} to service `{}` of project {:?} ({})",
                info.pid,
                plain(&info.service),
                info.project,
                plain(&info.config)
            );
        } else if state.handed_out {
            println!("port {port}: handed out by another user's bringup");
        }
    }
    if state.free {
        ExitCode::FAILURE
    } else {
        ExitCode::SUCCESS
    }
}
