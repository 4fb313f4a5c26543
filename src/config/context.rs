//! What validation needs from the world outside the file: where the file
//! is, bringup's environment and its own path.
//!
//! Passed in rather than read from the process, so tests and benchmarks
//! validate with a fake environment ([`Context::without_env`]) and get the
//! same plan in any shell.

use std::path::Path;

/// What validation needs from the world outside the file.
pub struct Context<'a> {
    /// The config file (for messages) and the directory paths are relative to.
    pub file: &'a Path,
    pub base_dir: &'a Path,
    /// bringup's own environment, for `${env.VAR}`.
    pub env: &'a dyn Fn(&str) -> Option<String>,
    /// What `${bringup}` stands for.
    pub bringup: &'a str,
}

impl<'a> Context<'a> {
    /// A context in which no environment variable is set: for tests and
    /// benchmarks, whose plans must not depend on the shell they run in.
    pub fn without_env(file: &'a Path, base_dir: &'a Path, bringup: &'a str) -> Self {
        fn unset(_: &str) -> Option<String> {
            None
        }
        Self {
            file,
            base_dir,
            env: &unset,
            bringup,
        }
    }
}
