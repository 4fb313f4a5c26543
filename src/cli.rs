//! Command-line definitions (clap derive). Parsing only; `main` dispatches.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand, ValueEnum};

const AFTER_HELP: &str = "\
Config: -c FILE, else ./bringup.toml, else ./config/bringup.toml.

Examples:
  bringup demo                 bring up the embedded demo stack
  bringup check                validate bringup.toml and print the start plan
  bringup up                   bring the whole stack up; Ctrl-C stops it
  bringup up api               only api and what it depends on
  bringup up --no-tui | tee log    plain output for CI and pipes
  bringup ports who 8000       who holds port 8000, and since when
  bringup ports kill 8000      stop a stale server on 8000 (asks first)";

/// Bring a local multi-service stack up in dependency order and keep it running.
#[derive(Debug, Parser)]
#[command(name = "bringup", version, about, after_help = AFTER_HELP)]
pub struct Cli {
    /// Config file to use.
    #[arg(short, long, global = true, value_name = "FILE")]
    pub config: Option<PathBuf>,

    /// When to use colours.
    #[arg(long, global = true, value_enum, default_value_t = ColorChoice::Auto)]
    pub color: ColorChoice,

    /// Dashboard theme: dark, light, high-contrast, or one of yours
    /// ($XDG_CONFIG_HOME/bringup/themes/NAME.toml) [default: `[ui] theme`, else dark].
    #[arg(long, global = true, value_name = "NAME")]
    pub theme: Option<String>,

    #[command(subcommand)]
    pub verb: Verb,
}

/// What bringup is asked to do: `bringup <verb>`.
#[derive(Debug, Subcommand)]
pub enum Verb {
    /// Bring the stack up in dependency order and keep it running until
    /// Ctrl-C, SIGTERM or SIGHUP; then stop it in reverse order.
    ///
    /// Exits 0 when every required service became ready, 1 when not, and 2
    /// when the config is invalid.
    Up(UpArgs),

    /// Validate the config and print the start plan: waves of services that
    /// start together, their dependencies and ports.
    ///
    /// Exits 0 when the config is valid, 2 when not.
    Check,

    /// Bring up the embedded demo stack (a database, an optional cache that
    /// crashes, auth, api, workers, a frontend) made of real processes.
    Demo(DemoArgs),

    /// Ports: what the config's services want and have, who holds a port,
    /// which ports are free, and stopping a stale holder.
    ///
    /// Without a subcommand: the config's services with their wanted port,
    /// the one a running bringup gave them, and who holds it now.
    Ports(PortsArgs),

    /// Run a small real HTTP service used by the demo stack and the tests.
    #[command(hide = true)]
    Fixture(Box<crate::fixture::FixtureArgs>),

    /// Internal: the helper that cleans up if bringup is killed.
    #[command(name = "__watchdog", hide = true)]
    Watchdog,
}

#[derive(Debug, Args)]
pub struct UpArgs {
    /// Bring up only these services and what they depend on.
    #[arg(value_name = "SERVICE")]
    pub services: Vec<String>,

    /// Plain line output instead of the dashboard (the default when stdout
    /// is not a terminal).
    #[arg(long)]
    pub no_tui: bool,
}

#[derive(Debug, Args)]
pub struct DemoArgs {
    /// Plain line output instead of the dashboard (the default when stdout
    /// is not a terminal).
    #[arg(long)]
    pub no_tui: bool,
}

/// Whether to open the dashboard: asked for, and stdout is a terminal.
pub fn wants_dashboard(no_tui: bool) -> bool {
    use std::io::IsTerminal;
    !no_tui && std::io::stdout().is_terminal()
}

#[derive(Debug, Args)]
pub struct PortsArgs {
    /// Print JSON instead of text.
    #[arg(long, global = true)]
    pub json: bool,

    #[command(subcommand)]
    pub action: Option<PortsAction>,
}

#[derive(Debug, Subcommand)]
pub enum PortsAction {
    /// Whether each port is free; exits 0 when all are, 1 when any is held.
    Check {
        #[arg(required = true, value_name = "PORT")]
        ports: Vec<u16>,
    },
    /// Who holds a port: pid, command, user, how long it has run.
    Who {
        #[arg(value_name = "PORT")]
        port: u16,
    },
    /// Ports that are free now and not handed out by another bringup.
    Free {
        /// Where to start looking [default: the config's port_range, else 24000].
        #[arg(long, value_name = "N")]
        from: Option<u16>,
        /// How many to list.
        #[arg(long, value_name = "K", default_value_t = 5)]
        count: usize,
    },
    /// Stop the process holding a port: SIGTERM, then SIGKILL after a grace.
    ///
    /// Shows the holder and asks first. Never stops pid 1, a running bringup
    /// or another user's process.
    Kill {
        #[arg(value_name = "PORT")]
        port: u16,
        /// Do not ask.
        #[arg(long, short = 'y')]
        yes: bool,
        /// How long to wait after SIGTERM before SIGKILL.
        #[arg(long, default_value = "5s", value_parser = humantime::parse_duration)]
        grace: std::time::Duration,
    },
}

/// `--color`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum ColorChoice {
    /// Colour when writing to a terminal and `NO_COLOR` is not set.
    Auto,
    Always,
    Never,
}

impl ColorChoice {
    /// Whether to colour output going to stdout.
    pub fn enabled(self) -> bool {
        use std::io::IsTerminal;
        match self {
            ColorChoice::Always => true,
            ColorChoice::Never => false,
            ColorChoice::Auto => {
                let no_color = std::env::var_os("NO_COLOR").is_some_and(|v| !v.is_empty());
                !no_color && std::io::stdout().is_terminal()
            }
        }
    }
}
