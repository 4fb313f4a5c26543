//! The `bringup` binary: parse the command line, dispatch, exit.

mod commands;

use std::process::ExitCode;

use bringup::api::Command;
use bringup::cli::{Cli, Verb};
use clap::Parser;
use commands::ctl::Goal;

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
    if prints_and_ends(&cli.verb) {
        end_quietly_on_closed_output();
    }
    match cli.verb {
        Verb::Up(ref args) if args.detach => {
            let failure = if args.down_on_failure {
                commands::detach::OnFailure::Down
            } else {
                commands::detach::OnFailure::KeepRunning
            };
            commands::detach::up_detached(config, color, &args.services, args.timeout, failure)
        }
        Verb::Up(ref args) => {
            let mut show = show(&cli, color, args.no_tui || args.detached);
            show.detached = args.detached;
            commands::run::up(config, &args.services, show)
        }
        Verb::Demo(ref args) => commands::run::demo(show(&cli, color, args.no_tui)),
        Verb::Check => commands::check::run(config, color),
        Verb::Ports(args) => commands::ports::run(config, &args, color),
        Verb::Status(args) => commands::ctl::status(config, color, args.json),
        Verb::Restart(args) => act(config, color, &args, Command::Restart, Goal::Up),
        Verb::Start(args) => act(config, color, &args, Command::Start, Goal::Up),
        Verb::Stop(args) => act(config, color, &args, Command::Stop, Goal::Stopped),
        Verb::Kill(args) => act(config, color, &args, Command::Kill, Goal::Stopped),
        Verb::Skip(args) => act(config, color, &args, Command::Skip, Goal::Skipped),
        Verb::Wait(args) => commands::ctl::wait(config, color, &args.services, args.timeout),
        Verb::Logs(args) => {
            let request = commands::ctl::LogsRequest {
                services: &args.services,
                own: args.own,
                lines: args.lines,
                since: args.since,
                follow: args.follow,
                color,
            };
            commands::ctl::logs(config, color, &request)
        }
        Verb::Attach => {
            let dashboard = show(&cli, color, false).dashboard;
            commands::ctl::attach(config, color, dashboard)
        }
        Verb::Run(args) => {
            commands::with::run_command(config, color, &args.services, args.timeout, &args.command)
        }
        Verb::Down(args) => commands::ctl::down(config, color, args.force, args.timeout),
        Verb::Reload => commands::ctl::reload(config, color),
        Verb::Ls(args) => commands::ctl::ls(args.json),
        Verb::Mcp => commands::mcp::run(config, color),
        Verb::Import(args) => commands::import::run(&args, color),
        Verb::Export(args) => commands::export::run(config, color, &args),
        Verb::Schema => commands::schema::run(),
        Verb::Completions(args) => commands::completions::completions(args.shell),
        Verb::Man => commands::completions::man(),
        Verb::Watchdog => ExitCode::from(exit_byte(bringup::process::watchdog::run())),
        Verb::Fixture(args) => match bringup::fixture::run(*args) {
            Ok(code) => ExitCode::from(exit_byte(code)),
            Err(err) => {
                eprintln!("fixture: {err}");
                ExitCode::FAILURE
            }
        },
    }
}

/// A verb that sends `make(service)` for each service and waits for `goal`.
fn act(
    config: Option<&std::path::Path>,
    color: bool,
    args: &bringup::cli::ActArgs,
    make: fn(bringup::config::ServiceId) -> Command,
    goal: Goal,
) -> ExitCode {
    commands::ctl::act(
        config,
        color,
        &args.services,
        make,
        goal,
        args.timeout,
        args.no_wait,
    )
}

/// The dashboard when wanted and possible, else plain lines.
fn show(cli: &Cli, color: bool, no_tui: bool) -> commands::run::Show {
    let dashboard = bringup::cli::wants_dashboard(no_tui).then(|| bringup::tui::TuiOptions {
        theme: cli.theme.clone(),
        // The dashboard draws its own colours; NO_COLOR or --color never turn them off.
        color: cli.color != bringup::cli::ColorChoice::Never
            && std::env::var_os("NO_COLOR").is_none_or(|v| v.is_empty()),
    });
    commands::run::Show {
        color,
        detached: false,
        dashboard,
    }
}

/// Whether `verb` only prints and ends (`check`, `status`, `restart`,
/// `up -d`, …), holding nothing that must be cleaned up: then it ends
/// quietly when the reader of its output goes away. Not the verbs that
/// run or show a stack here (`up`, `demo`, `attach`, `run`, `mcp`) or
/// bringup's own helpers: those must end cleanly whatever happens to
/// stdout. (`up -d`'s stack is another program, which ignores SIGPIPE
/// again at its start as every Rust program does.) Every verb is named,
/// so a new one has to choose.
fn prints_and_ends(verb: &Verb) -> bool {
    match verb {
        Verb::Up(args) => args.detach,
        Verb::Demo(_)
        | Verb::Attach
        | Verb::Run(_)
        | Verb::Mcp
        | Verb::Watchdog
        | Verb::Fixture(_) => false,
        Verb::Check
        | Verb::Ports(_)
        | Verb::Status(_)
        | Verb::Restart(_)
        | Verb::Start(_)
        | Verb::Stop(_)
        | Verb::Kill(_)
        | Verb::Skip(_)
        | Verb::Wait(_)
        | Verb::Logs(_)
        | Verb::Down(_)
        | Verb::Reload
        | Verb::Ls(_)
        | Verb::Import(_)
        | Verb::Export(_)
        | Verb::Schema
        | Verb::Completions(_)
        | Verb::Man => true,
    }
}

/// When the reader of the output goes away (`bringup check | head -1`),
/// end too, quietly, as other Unix tools do. Rust ignores SIGPIPE, which
/// turns a closed pipe into a write error that `print!` panics on; the
/// signal's default action ends the process without a word instead.
fn end_quietly_on_closed_output() {
    use nix::sys::signal::{SigHandler, Signal, signal};
    // SAFETY: the default action runs no handler code in this process, and
    // nothing here relies on SIGPIPE being ignored: these commands hold
    // nothing that needs cleaning up, and the one child any of them starts
    // (`up -d`'s background stack) is a new program, which ignores SIGPIPE
    // again as every Rust program does at its start.
    let _ = unsafe { signal(Signal::SIGPIPE, SigHandler::SigDfl) };
}

fn exit_byte(code: i32) -> u8 {
    u8::try_from(code).unwrap_or(1)
}
