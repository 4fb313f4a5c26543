//! The `bringup` binary: parse the command line, dispatch, exit.

mod commands;

use std::process::ExitCode;

use bringup::cli::{Cli, Command};
use clap::Parser;

fn main() -> ExitCode {
    let cli = Cli::parse();
    if std::env::var_os("BRINGUP_LOG").is_some() {
        tracing_subscriber::fmt()
            .with_env_filter(tracing_subscriber::EnvFilter::from_env("BRINGUP_LOG"))
            .with_writer(std::io::stderr)
            .init();
    }
    let color = cli.color.enabled();
    let config = cli.config.as_deref();
    match cli.command {
        Command::Up(args) => commands::run::up(config, &args.services, color),
        Command::Demo(_) => commands::run::demo(color),
        Command::Check => commands::check::run(config, color),
        Command::Ports(args) => commands::ports::run(config, &args, color),
        Command::Watchdog => ExitCode::from(exit_byte(bringup::process::watchdog::run())),
        Command::Fixture(args) => match bringup::fixture::run(args) {
            Ok(code) => ExitCode::from(exit_byte(code)),
            Err(err) => {
                eprintln!("fixture: {err}");
                ExitCode::FAILURE
            }
        },
    }
}

fn exit_byte(code: i32) -> u8 {
    u8::try_from(code).unwrap_or(1)
}
