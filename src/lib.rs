//! bringup brings a local multi-service stack up in dependency order, tells
//! "started" from "ready", restarts what dies, and stops it all cleanly.
//!
//! # Theory of operation
//!
//! A run goes config → plan → engine → session → front end.
//!
//! 1. [`config`] reads `bringup.toml` into a raw serde model and validates
//!    it into a [`config::Plan`]: every name resolved, every duration
//!    parsed, `${...}` templates checked. Problems are collected, not
//!    thrown, so a broken file is reported in full, each at file:line:col.
//!    [`graph`] orders the services, groups them into waves and reports
//!    cycles with their whole path.
//! 2. The [`engine`] owns all run-time state in one task on its own thread.
//!    Its [`engine::machine`] is a pure function of (state, input) →
//!    effects: it makes every decision — when a service may start (the
//!    dependency rules), what a probe result or an exit means, when to
//!    restart, whether to adopt a port's holder, how to shut down, when to
//!    sweep for leftovers. Its [`engine::runtime`] carries the effects out
//!    — starting processes through a [`process::launcher::Launcher`] (own
//!    process group, parent-death signal, a [`process::watchdog`] for
//!    `kill -9`), checking with [`probe`], arming timers, anything that may
//!    block handed to a task — and feeds the outcomes back in as inputs.
//! 3. The engine speaks a protocol, [`api`]: [`api::Command`]s
//!    in, each answered with an [`api::Outcome`]; [`api::Event`]s and
//!    [`api::Snapshot`]s out; a [`api::StackInfo`] describing the
//!    stack. It is plain data (serde both ways, reasons and notices as
//!    enums, times on one epoch with the log lines), and every sentence a
//!    user reads about it is made in one place, [`api::describe`].
//!    Service output goes line by line into bounded [`logs`] stores.
//! 4. A front end holds a [`session::Session`]: the stack info, commands
//!    and their answers, the events, the snapshot watch, log lines by
//!    service and cursor, and questions such as who holds a port. It never
//!    imports the machine, the plan or `/proc`. [`headless`] prints
//!    `name | line` output, state changes and a cold-start summary; [`tui`]
//!    is the dashboard, redrawn only when something it shows changed. The
//!    command that runs them (the binary's `commands/`) owns the engine's
//!    lifetime, the signals and the exit verdict ([`api::Verdict`]); a
//!    front end only says "quit".
//!
//! The control plane ([`control`]: a socket per running stack, the CLI
//! verbs such as `bringup status`, later `attach` and an MCP server) is one
//! more front end beside the dashboard and headless, and depends only on
//! [`api`] and [`session`]; a session filled from the socket instead of a
//! local engine lets those front ends run over it unchanged.
//!
//! # Module map
//!
//! | Module | Job |
//! |---|---|
//! | [`cli`] | the command line (clap), parsing only |
//! | [`config`] | `bringup.toml` → [`config::Plan`], every error located |
//! | [`graph`] | dependency order, waves, cycles, critical paths |
//! | [`api`] | the protocol: plain data both ways; describe (the words), summary (the cold start) |
//! | [`engine`] | machine (decides), runtime (acts) |
//! | [`session`] | what every front end holds |
//! | [`control`] | the control plane: a socket per running stack, its client, the registry of running stacks |
//! | [`headless`], [`tui`] | the front ends |
//! | [`process`] | starting, signalling, waiting for and cleaning up processes |
//! | [`probe`] | readiness and liveness checks (tcp, http, exec, log, notify) |
//! | [`ports`] | race-free port allocation, holders, `bringup ports` data |
//! | [`logs`] | bounded per-service line stores, read by cursor |
//! | [`mcp`] | `bringup mcp`: a Model Context Protocol server (stdio), a client of the control plane |
//! | [`rundir`] | the run's private directory (sockets), safe against other users |
//! | [`keys`] | the dashboard's actions and their keys, one table |
//! | leaves | [`ids`] (service ids), [`millis`] (durations on the wire), [`text`] (display-width fitting), [`colours`] (one palette), [`ansi`] (making output inert) |
//! | [`fixture`] | a small real HTTP service for the demo and the tests |
//!
//! Front ends import [`api`] and [`session`], never [`engine`]'s insides
//! (only the command that runs a stack starts an [`engine::Engine`]). No
//! top-level module imports one that imports it back
//! (`tests/module_cycles.rs` keeps it so); leaves import nothing of the
//! crate.

pub mod ansi;
pub mod api;
pub mod cli;
pub mod colours;
pub mod config;
pub mod control;
pub mod engine;
pub mod export;
pub mod fixture;
pub mod formats;
pub mod graph;
pub mod headless;
pub mod ids;
pub mod keys;
pub mod logs;
pub mod mcp;
pub mod millis;
pub mod ports;
pub mod probe;
pub mod process;
pub mod rundir;
pub mod session;
pub mod text;
pub mod tui;
