//! bringup brings a local multi-service stack up in dependency order, tells
//! "started" from "ready", restarts what dies, and stops it all cleanly.
//!
//! # Theory of operation
//!
//! A run goes config → plan → engine → front end.
//!
//! 1. [`config`] reads `bringup.toml` into a raw serde model and validates
//!    it into a [`config::Plan`]: every name resolved, every duration
//!    parsed, `${...}` templates checked. Problems are collected, not
//!    thrown, so a broken file is reported in full, each at file:line:col.
//!    [`graph`] orders the services, groups them into waves and reports
//!    cycles with their whole path.
//! 2. The [`engine`] owns all run-time state in one task on its own thread.
//!    Its [`engine::machine`] is a pure function of (state, input) →
//!    effects: it decides when a service may start (the dependency rules),
//!    what a probe result or an exit means, when to restart and how to shut
//!    down. Its runtime carries the effects out — spawning with
//!    [`process`] (own process group, parent-death signal, a [`process::watchdog`]
//!    for `kill -9`), checking with [`probe`], arming timers — and feeds
//!    the outcomes back in as inputs.
//! 3. Service output goes line by line into bounded [`logs`] stores that
//!    front ends read at their own pace; the engine publishes
//!    [`engine::Event`]s and [`engine::Snapshot`]s, and takes
//!    [`engine::Command`]s — plain data, the same a control socket would
//!    carry.
//! 4. A front end observes and commands: [`headless`] prints
//!    `name | line` output, state changes and a cold-start summary; [`tui`]
//!    is the dashboard, redrawn only when something it shows changed.
//!    Both describe events with the same words
//!    ([`engine::describe`]) and judge a run the same way
//!    ([`engine::Verdict`]).
//!
//! [`ports`] hands out ports without races (locks shared by every bringup
//! of the user, the holder of a taken port named from /proc); [`keys`]
//! names the dashboard's actions and their keys, so the config can check
//! `[ui.keys]` without knowing about terminals.
//!
//! [`fixture`] is a small real HTTP service used by the demo stack and the
//! tests, so that everything here is exercised with real processes on real
//! ports.

pub mod ansi;
pub mod cli;
pub mod colours;
pub mod config;
pub mod engine;
pub mod fixture;
pub mod graph;
pub mod headless;
pub mod ids;
pub mod keys;
pub mod logs;
pub mod millis;
pub mod ports;
pub mod probe;
pub mod process;
pub mod rundir;
pub mod session;
pub mod text;
pub mod tui;
