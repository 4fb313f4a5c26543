use bringup::cli::{Cli, Command};
use clap::Parser;

fn main() {
    let cli = Cli::parse();
    let code = match cli.command {
        Command::Fixture(args) => match bringup::fixture::run(args) {
            Ok(code) => code,
            Err(err) => {
                eprintln!("fixture: {err}");
                1
            }
        },
    };
    std::process::exit(code);
}
