//! The control plane: a running stack reachable from other processes.
//!
//! Every running bringup serves its [`crate::session::Session`] on a Unix
//! socket in its private run directory ([`server`]): one more front end
//! beside the dashboard and headless, depending only on the protocol
//! ([`crate::api`]) and the session. The routes and bodies are in
//! [`wire`]; [`client`] asks them; [`registry`] is where a client finds
//! the socket of the stack of a config (and where `bringup ls` finds them
//! all); [`remote`] fills a session from the socket (`bringup attach`).

pub mod act;
pub mod client;
pub mod registry;
pub mod remote;
pub mod server;
pub mod wire;
