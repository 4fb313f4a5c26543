//! `bringup mcp`: a Model Context Protocol server over stdio, so that a
//! coding agent can ask a running stack what a developer would (is it
//! ready, why not, what did the failing service print) and act on it.
//!
//! It is one more client of the control socket ([`crate::control`]), built
//! on the official Rust SDK (`rmcp`): nothing new listens, so the socket's
//! same-user rule is the whole of its safety story. The server is started
//! for one config ([`Target`]: its identity, its path, and the bringup
//! executable); every tool call finds that config's stack in the registry
//! afresh, so a stack started or stopped after the server started (by the
//! `up` and `down` tools, or in a terminal) is seen, and with none running
//! a tool says so and how to start one.
//!
//! - [`tools`]: the tools, each with a description, typed input and
//!   output schemas (schemars) and read-only or destructive annotations.
//! - [`report`]: what the tools return, built from the socket's hello,
//!   snapshot and log pages (`status`, `why`, `ports_who`).
//! - [`logs`]: the `logs` tool's reading, bounded in lines and bytes.
//! - [`act`]: sending a command and waiting until it took effect.
//! - [`link`]: finding the stack and starting one (`up`).

use crate::control::act;
mod link;
mod logs;
mod report;
mod tools;

pub use link::Target;
pub use tools::Bringup;

/// Why the server could not run.
#[derive(Debug, thiserror::Error)]
pub enum McpError {
    #[error("cannot start the MCP session on stdin/stdout: {0}")]
    Start(String),
    #[error("the MCP session ended with an error: {0}")]
    Run(String),
}

/// Serves the tools for `target` on stdin/stdout until the client hangs
/// up. Call from within a tokio runtime.
pub async fn serve_stdio(target: Target) -> Result<(), McpError> {
    use rmcp::ServiceExt;
    let running = Bringup::new(target)
        .serve(rmcp::transport::stdio())
        .await
        .map_err(|e| McpError::Start(e.to_string()))?;
    running
        .waiting()
        .await
        .map(|_| ())
        .map_err(|e| McpError::Run(e.to_string()))
}
