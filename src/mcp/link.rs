//! Finding the stack of the server's config, and starting one.
//!
//! The config's identity (from its canonical path and project name) names
//! its record in the registry of running stacks; each tool call looks it
//! up again, so the server follows stacks that come and go. Starting one
//! runs this bringup binary as a user would (`bringup -c FILE up -d`): the
//! stack then lives in a bringup of its own, not in the MCP server, and
//! outlives it.

use std::path::PathBuf;
use std::time::Duration;

use crate::control::client::{Client, ClientError};
use crate::control::registry::{self, Record};

/// How long a stack that is registered but has not opened its socket yet
/// (it has just started) is waited for.
const STARTING: Duration = Duration::from_secs(5);
/// The most output of `up -d` a tool result carries.
const MAX_UP_OUTPUT: usize = 16 * 1024;

/// The config the server is for.
#[derive(Debug, Clone)]
pub struct Target {
    /// Its identity ([`crate::config::Plan::identity`]).
    pub identity: String,
    /// Its file (canonical).
    pub config: PathBuf,
    /// The bringup executable that starts a stack of it.
    pub exe: PathBuf,
}

/// Why a tool could not reach the stack: said to the agent as it is.
#[derive(Debug, thiserror::Error)]
pub enum LinkError {
    #[error(
        "no stack of {config} is running; call the `up` tool to start it in the background (or run `bringup up -d` in a terminal)"
    )]
    NoStack { config: String },
    #[error("cannot look for running stacks: {0}")]
    Registry(String),
    #[error(
        "{0}; `bringup ls` lists what runs; if the stack's bringup is wedged, stop it with `kill` on its pid (its watchdog stops the services)"
    )]
    Unreachable(ClientError),
}

impl Target {
    /// The running stack's record, if one runs.
    pub fn running(&self) -> Result<Option<Record>, LinkError> {
        registry::find(&self.identity).map_err(|e| LinkError::Registry(e.to_string()))
    }

    /// A client of the running stack.
    pub async fn connect(&self) -> Result<Client, LinkError> {
        let record = self.running()?.ok_or_else(|| LinkError::NoStack {
            config: self.config.display().to_string(),
        })?;
        // A stack registers before it opens its socket.
        let deadline = tokio::time::Instant::now() + STARTING;
        while !record.socket.exists() && tokio::time::Instant::now() < deadline {
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        Client::new(&record.socket).map_err(LinkError::Unreachable)
    }

    /// Runs `bringup -c CONFIG up -d [SERVICE…] --timeout T` to its end:
    /// its exit code and what it printed (stdout then stderr, bounded).
    pub async fn up_detached(
        &self,
        services: &[String],
        timeout: Duration,
    ) -> std::io::Result<(Option<i32>, String)> {
        let output = tokio::process::Command::new(&self.exe)
            .arg("-c")
            .arg(&self.config)
            .args(["--color", "never", "up", "-d", "--timeout"])
            .arg(format!("{}ms", timeout.as_millis()))
            // Names only: a "service" such as `-c OTHER.toml` must not
            // become an option (it would start another config).
            .arg("--")
            .args(services)
            .stdin(std::process::Stdio::null())
            .kill_on_drop(true)
            .output()
            .await?;
        let mut text = String::from_utf8_lossy(&output.stdout).into_owned();
        text.push_str(&String::from_utf8_lossy(&output.stderr));
        Ok((output.status.code(), bounded_tail(&text, MAX_UP_OUTPUT)))
    }
}

/// The last `max` bytes of `text` (cut at a character boundary), marked
/// when cut.
pub fn bounded_tail(text: &str, max: usize) -> String {
    if text.len() <= max {
        return text.to_string();
    }
    let mut start = text.len() - max;
    while !text.is_char_boundary(start) {
        start += 1;
    }
    format!("[… {start} bytes cut]\n{}", &text[start..])
}

#[cfg(test)]
mod tests {
    use super::bounded_tail;

    #[test]
    fn a_long_text_keeps_its_end_and_says_it_was_cut() {
        assert_eq!(bounded_tail("short", 10), "short");
        let cut = bounded_tail("ééééé-end", 5);
        assert!(cut.ends_with("é-end") || cut.ends_with("-end"), "{cut}");
        assert!(cut.starts_with("[… "), "{cut}");
    }
}
