//! The one way tests and benchmarks load a config through the library:
//! hermetic. No variable of the shell the tests run in reaches the plan
//! (`${env.X}` is unset unless a test says otherwise), so a plan is the
//! same on every machine and in every CI job.
//!
//! `${bringup}` is the real binary where the plan is run (its fixtures
//! must start), and [`SHOWN_BRINGUP`] where a plan is only drawn or
//! validated, so snapshots do not depend on where cargo put the binary.

use std::path::Path;
use std::sync::Arc;

use bringup::config::validate::Context;
use bringup::config::{self, ConfigErrors, Plan};

use super::BIN;

/// `${bringup}` for plans that are never run.
pub const SHOWN_BRINGUP: &str = "/usr/bin/bringup";

/// The context of `file` (named in messages) in `dir`: no environment
/// variable set, `${bringup}` the real binary.
pub fn context<'a>(file: &'a Path, dir: &'a Path) -> Context<'a> {
    Context::without_env(file, dir, BIN)
}

/// Validates `text` as `file` in `dir` (see [`context`]).
pub fn load_in(text: &str, file: &Path, dir: &Path) -> Result<Plan, ConfigErrors> {
    config::load_with(text, &context(file, dir))
}

/// A plan to run: `text` as `bringup.toml` in `dir`; panics with the
/// errors when the config is invalid (a mistake in the test).
pub fn plan_in(text: &str, dir: &Path) -> Plan {
    load_in(text, &dir.join("bringup.toml"), dir)
        .unwrap_or_else(|errors| panic!("the test's config is invalid: {errors}"))
}

/// [`plan_in`] for a config whose paths do not matter (in `/tmp`).
pub fn plan(text: &str) -> Plan {
    plan_in(text, Path::new("/tmp"))
}

/// Validates `text` as `file` for a plan that is never run: `${bringup}`
/// is [`SHOWN_BRINGUP`], and `env` answers for `${env.X}` (`|_| None`
/// for none).
pub fn check(
    text: &str,
    file: &Path,
    env: &dyn Fn(&str) -> Option<String>,
) -> Result<Plan, ConfigErrors> {
    let cx = Context {
        env,
        ..Context::without_env(file, Path::new("/"), SHOWN_BRINGUP)
    };
    config::load_with(text, &cx)
}

/// The embedded demo stack as the dashboard draws it.
pub fn demo() -> Arc<Plan> {
    let plan = check(config::DEMO, Path::new("demo.toml"), &|_| None)
        .unwrap_or_else(|errors| panic!("the demo config is invalid: {errors}"));
    Arc::new(plan)
}
