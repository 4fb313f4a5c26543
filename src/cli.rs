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
  bringup up -d                background; returns once everything is ready
  bringup status               from another terminal: every service's state
  bringup restart api          returns once api is ready again
  bringup logs -f api          follow api's output
  bringup attach               the live dashboard of the running stack; q detaches
  bringup down                 stop the running stack
  bringup run -- pytest -x     up, run the tests against it, down; exit with their status
  bringup import Procfile      write bringup.toml from a Procfile, mprocs, process-compose or compose file
  bringup up -c Procfile       bring up another tool's file directly
  bringup ports who 8000       who holds port 8000, and since when
  bringup ports kill 8000      stop a stale server on 8000 (asks first)
  bringup mcp -c FILE          an MCP server (stdio) for coding agents";

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
    /// In a terminal it shows the dashboard, whose `d` key detaches: the
    /// stack keeps running in the background and `bringup attach` comes back.
    /// `-d` starts it in the background from the start.
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

    /// The running stack's services: state, port, pid and why (the
    /// dashboard's grid as text). Exits 2 when no stack of the config runs.
    #[command(visible_alias = "ps")]
    Status(StatusArgs),

    /// Restart services and wait until they are ready again (exit 0) or
    /// have failed (exit 1, with why).
    Restart(ActArgs),

    /// Stop services gracefully; they stay stopped until started.
    Stop(ActArgs),

    /// Start stopped, skipped, failed or completed services and wait until
    /// they are ready.
    Start(ActArgs),

    /// SIGKILL services' process groups; they stay stopped.
    Kill(ActArgs),

    /// Stop optional services and let their dependents run degraded.
    Skip(ActArgs),

    /// Wait until services are ready (all required ones when none is
    /// named): exit 0 when they are, 1 with the reason when not.
    Wait(WaitArgs),

    /// The running stack's logs: the lines kept (several services merged,
    /// each line prefixed with its service), and with -f new ones as they
    /// come.
    Logs(LogsArgs),

    /// The live dashboard of the running stack (started with `up -d`, or
    /// by `up` in another terminal).
    ///
    /// `q` detaches: the dashboard closes and the stack keeps running
    /// (`bringup down` stops it). `Q` stops the whole stack, after asking.
    /// Several dashboards may be attached at once; closing or killing one
    /// never affects the stack. Exits 2 when no stack of the config runs.
    Attach,

    /// Bring the stack up (headless), wait until it is ready, run CMD with
    /// the stack's ports in its environment (`BRINGUP_PORT_<NAME>`), stop the
    /// stack however CMD ends, and exit with CMD's status.
    ///
    /// When the stack does not come up, CMD does not run: the failure
    /// summary names each service that did not, why, and its last lines,
    /// and the exit status is 125. 127: CMD could not be started; 130:
    /// bringup was stopped (Ctrl-C, SIGTERM) before the stack was up.
    #[command(
        after_help = "Example:\n  bringup run -- pytest -x\n  bringup run api --timeout 2m -- ./e2e.sh"
    )]
    Run(RunArgs),

    /// Stop the running stack, dependents first; returns once everything
    /// is gone.
    Down(DownArgs),

    /// Read the running stack's config again and apply what changed:
    /// changed services restart, the others keep their processes.
    ///
    /// A running stack does this by itself when its config or an env file
    /// it reads is saved, unless `[project] reload = false`. An edit that
    /// does not validate changes nothing: its errors are printed and the
    /// exit status is 1. Adding or removing services, or changing a port,
    /// needs a restart of the stack (`bringup down`, then `up`).
    #[command(after_help = "Example:\n  bringup reload")]
    Reload,

    /// Every running bringup stack of this user: project, pid, uptime,
    /// config.
    Ls(LsArgs),

    /// Serve the running stack to coding agents: a Model Context Protocol
    /// server on stdin/stdout (status, why, logs, restart, wait_ready, up,
    /// down, … as tools). Register it with an agent as `bringup mcp -c FILE`.
    Mcp,
    /// Write a bringup.toml from a Procfile, mprocs.yaml, process-compose.yaml
    /// or docker compose file.
    ///
    /// Every entry becomes a service; every key that cannot be carried over
    /// is printed as a warning with its line and left as a comment in the
    /// written file. The format is told by the file's name and content
    /// unless --from says it. `bringup up -c FILE` imports the same way in
    /// memory, without writing anything.
    #[command(
        after_help = "Examples:\n  bringup import Procfile\n  bringup import process-compose.yaml -o bringup.toml --force\n  bringup import docker-compose.yml -o -        print instead of writing\n  bringup up -c mprocs.yaml                    no file written"
    )]
    Import(ImportArgs),

    /// Write the stack as a docker compose file or Kubernetes objects, with
    /// the same dependencies and readiness checks.
    ///
    /// Every service needs `image = "NAME:TAG"` (for compose, or `build =
    /// "DIR"`); leave one out with --skip NAME. What the target cannot
    /// express is printed as a warning. Exits 2 when the config is invalid
    /// or a service has no image.
    #[command(
        after_help = "Examples:\n  bringup export compose -o compose.yaml && docker compose up\n  bringup export k8s -o stack.yaml && kubectl apply -f stack.yaml"
    )]
    Export(ExportArgs),

    /// Print the JSON Schema of bringup.toml, for editors (taplo, Even
    /// Better TOML) and validators.
    Schema,

    /// Print a shell completion script: bash, zsh or fish.
    #[command(
        after_help = "Examples:\n  bringup completions bash > ~/.local/share/bash-completion/completions/bringup\n  bringup completions zsh > ~/.zfunc/_bringup\n  bringup completions fish > ~/.config/fish/completions/bringup.fish"
    )]
    Completions(CompletionsArgs),

    /// Print the man page (roff): `bringup man | man -l -`.
    Man,

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

    /// Run the stack in the background: return once every required
    /// service is ready (exit 0), or with what did not come up (exit 1; the
    /// stack keeps running so you can look).
    #[arg(short, long, conflicts_with = "no_tui")]
    pub detach: bool,

    /// With -d: how long to wait for the stack to come up.
    #[arg(long, value_name = "DURATION", default_value = "120s", value_parser = parse_duration)]
    pub timeout: std::time::Duration,

    /// With -d: when the stack does not come up, stop it (instead of
    /// leaving it running for a look) before exiting 1.
    #[arg(long, requires = "detach")]
    pub down_on_failure: bool,

    /// Internal: this is the background bringup of `up -d`.
    #[arg(long, hide = true, conflicts_with = "detach")]
    pub detached: bool,
}

#[derive(Debug, Args)]
pub struct ImportArgs {
    /// The file to import.
    #[arg(value_name = "FILE")]
    pub file: PathBuf,
    /// Where to write the config; `-` prints it.
    #[arg(short, long, value_name = "FILE", default_value = "bringup.toml")]
    pub output: PathBuf,
    /// The format of FILE [default: told by its name and content].
    #[arg(long, value_enum, value_name = "FORMAT")]
    pub from: Option<crate::formats::Format>,
    /// Overwrite the output file if it exists.
    #[arg(long)]
    pub force: bool,
}

#[derive(Debug, Args)]
pub struct StatusArgs {
    /// Print JSON (protocol version, pid, project, config, phase, every
    /// service's status, the cold-start summary) instead of text.
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, Args)]
pub struct ActArgs {
    /// The services to act on.
    #[arg(required = true, value_name = "SERVICE")]
    pub services: Vec<String>,
    /// How long to wait for them to get there (e.g. 30s, 2m).
    #[arg(long, value_name = "DURATION", default_value = "60s", value_parser = parse_duration)]
    pub timeout: std::time::Duration,
    /// Return once the command is taken, without waiting.
    #[arg(long)]
    pub no_wait: bool,
}

#[derive(Debug, Args)]
pub struct WaitArgs {
    /// The services to wait for [default: every required one].
    #[arg(value_name = "SERVICE")]
    pub services: Vec<String>,
    /// How long to wait (e.g. 30s, 2m).
    #[arg(long, value_name = "DURATION", default_value = "60s", value_parser = parse_duration)]
    pub timeout: std::time::Duration,
}

#[derive(Debug, Args)]
pub struct LogsArgs {
    /// The services [default: all of them].
    #[arg(value_name = "SERVICE")]
    pub services: Vec<String>,
    /// Keep printing new lines as they come, until the stack ends or Ctrl-C.
    #[arg(short, long)]
    pub follow: bool,
    /// Only the last N lines of each service.
    #[arg(short = 'n', long = "lines", value_name = "N")]
    pub lines: Option<usize>,
    /// Only lines newer than this (e.g. 5m, 30s).
    #[arg(long, value_name = "DURATION", value_parser = parse_duration)]
    pub since: Option<std::time::Duration>,
    /// bringup's own log (what it did and why) instead.
    #[arg(long = "bringup", conflicts_with = "services")]
    pub own: bool,
}

#[derive(Debug, Args)]
pub struct RunArgs {
    /// Bring up only these services and what they depend on.
    #[arg(value_name = "SERVICE")]
    pub services: Vec<String>,
    /// How long the stack may take to come up.
    #[arg(long, value_name = "DURATION", default_value = "120s", value_parser = parse_duration)]
    pub timeout: std::time::Duration,
    /// The command and its arguments, after `--`.
    #[arg(last = true, required = true, value_name = "CMD")]
    pub command: Vec<String>,
}

#[derive(Debug, Args)]
pub struct DownArgs {
    /// SIGKILL everything now instead of stopping it gracefully.
    #[arg(long)]
    pub force: bool,
    /// How long to wait for the stack to stop.
    #[arg(long, value_name = "DURATION", default_value = "120s", value_parser = parse_duration)]
    pub timeout: std::time::Duration,
}

#[derive(Debug, Args)]
pub struct LsArgs {
    /// Print JSON instead of text.
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, Args)]
pub struct ExportArgs {
    /// What to write.
    #[arg(value_enum)]
    pub target: ExportTarget,
    /// Write to FILE instead of standard output.
    #[arg(short, long, value_name = "FILE")]
    pub output: Option<PathBuf>,
    /// Leave this service out (repeatable).
    #[arg(long, value_name = "NAME")]
    pub skip: Vec<String>,
    /// k8s: the namespace the objects are applied in (named by the
    /// RoleBinding that lets pods wait for Jobs).
    #[arg(long, value_name = "NS", default_value = "default")]
    pub namespace: String,
}

/// What `bringup export` writes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum ExportTarget {
    /// A docker compose file (the compose specification).
    Compose,
    /// Kubernetes Deployments, Services and Jobs.
    K8s,
}

#[derive(Debug, Args)]
pub struct CompletionsArgs {
    /// The shell.
    #[arg(value_enum)]
    pub shell: clap_complete::Shell,
}

/// "30s", "2m", "1500ms": the config's duration syntax, up to a day.
fn parse_duration(text: &str) -> Result<std::time::Duration, String> {
    let parsed = humantime::parse_duration(text.trim())
        .map_err(|e| format!("{e}; write a duration such as \"500ms\", \"30s\" or \"2m\""))?;
    if parsed > std::time::Duration::from_secs(86_400) {
        return Err("at most 24h".into());
    }
    Ok(parsed)
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
