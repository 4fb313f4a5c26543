//! `bringup completions SHELL` and `bringup man`: generated from the same
//! clap definitions that parse the command line, so they list exactly the
//! verbs and flags there are.

use std::process::ExitCode;

use bringup::cli::Cli;
use clap::{Command, CommandFactory};

/// The command line as users see it: without the hidden verbs (the
/// fixture, the watchdog), which clap_complete would otherwise offer.
fn visible() -> Command {
    let full = Cli::command();
    let verbs: Vec<Command> = full
        .get_subcommands()
        .filter(|verb| !verb.is_hide_set())
        .cloned()
        .collect();
    let mut command = Command::new("bringup")
        .version(env!("CARGO_PKG_VERSION"))
        .args(full.get_arguments().cloned())
        .subcommands(verbs)
        .subcommand_required(true);
    if let Some(about) = full.get_about() {
        command = command.about(about.clone());
    }
    if let Some(after) = full.get_after_help() {
        command = command.after_help(after.clone());
    }
    command
}

pub fn completions(shell: clap_complete::Shell) -> ExitCode {
    let mut command = visible();
    clap_complete::generate(shell, &mut command, "bringup", &mut std::io::stdout());
    ExitCode::SUCCESS
}

pub fn man() -> ExitCode {
    let page = clap_mangen::Man::new(visible());
    let mut out = Vec::new();
    if let Err(error) = page.render(&mut out) {
        eprintln!("error: cannot write the man page: {error}");
        return ExitCode::FAILURE;
    }
    use std::io::Write;
    match std::io::stdout().write_all(&out) {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("error: {error}");
            ExitCode::FAILURE
        }
    }
}
