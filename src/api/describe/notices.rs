//! Notices in words: what bringup tells about itself and the system
//! (no watchdog, the open-file limit, adopted and escaped processes, an
//! edited config it could not apply), the same for every front end.

use crate::api::{Notice, Stray};

/// A notice, about the service `name` when it is about one.
pub fn notice(name: Option<&str>, notice: &Notice) -> String {
    let said = match notice {
        Notice::EngineFailed { error } => format!("cannot start the engine: {error}"),
        Notice::WatchTrouble { why } => why.clone(),
        Notice::ConfigInvalid { errors } => {
            format!("the edited config is not valid; nothing changed until it is:\n{errors}")
        }
        Notice::ReloadNotApplicable { why } => super::reload_not_applicable(why),
        Notice::ReloadWhileStopping => super::reload_while_stopping().to_string(),
        Notice::NoWatchdog { error } => format!(
            "could not start the watchdog ({error}); if bringup is killed with SIGKILL, grandchildren of services may survive"
        ),
        Notice::OpenFileLimit { limit, services } => format!(
            "the open-file limit is {limit} (bringup raised it to the hard limit), which {services} services may exhaust; the hard limit is raised in /etc/security/limits.conf or with `ulimit -Hn` as root"
        ),
        Notice::NoSubreaper { error } => format!(
            "cannot become a child subreaper ({error}): daemons that leave their service's process group may outlive the stack"
        ),
        Notice::Adopted {
            process,
            service: Some(service),
        } => format!(
            "{service}: adopted {}, which left the service's process group (a daemon?); it stops with {service}",
            stray(process)
        ),
        Notice::Adopted {
            process,
            service: None,
        } => format!(
            "adopted {}, a process that left its service's process group (a daemon?); it stops with the stack",
            stray(process)
        ),
        Notice::Escaped { service, stopped } => format!(
            "{service}: stopped {} process(es) it left behind outside its process group (daemonized?): {}",
            stopped.len(),
            strays(stopped)
        ),
        Notice::LeftBehind { stopped } => format!(
            "stopped {} process(es) the services left behind outside their process groups (daemonized?): {}",
            stopped.len(),
            strays(stopped)
        ),
        Notice::SweepFailed { error } => {
            format!("could not look for processes the services left behind (/proc: {error})")
        }
        Notice::SignalFailed { signal, error } => {
            let whom = name.unwrap_or("the service");
            return format!("cannot send {signal} to {whom}: {error}");
        }
        Notice::NotifyRejected { why } => why.clone(),
    };
    match (name, notice) {
        (Some(name), Notice::NotifyRejected { .. }) => format!("{name}: {said}"),
        _ => said,
    }
}

fn stray(process: &Stray) -> String {
    format!("{} `{}`", process.pid, process.command)
}

fn strays(processes: &[Stray]) -> String {
    processes.iter().map(stray).collect::<Vec<_>>().join(", ")
}
