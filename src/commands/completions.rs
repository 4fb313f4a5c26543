//! `bringup completions SHELL` and `bringup man`: generated from the same
//! clap definitions that parse the command line, so they list exactly the
//! verbs and flags there are.

use std::process::ExitCode;

use bringup::cli::Cli;
use clap::CommandFactory;

pub fn completions(shell: clap_complete::Shell) -> ExitCode {
    let mut command = Cli::command();
    clap_complete::generate(shell, &mut command, "bringup", &mut std::io::stdout());
    ExitCode::SUCCESS
}

pub fn man() -> ExitCode {
    let page = clap_mangen::Man::new(Cli::command());
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
