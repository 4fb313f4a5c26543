//! Ports without races: allocation, cross-instance locks, who holds a
//! port, and the sockets bringup hands to services.
//!
//! [`allocate`] decides which port a service gets (preferred, fallbacks,
//! or any free one of the project's range), holding each with a
//! [`lock`] that every bringup of the user respects; [`free`] says whether
//! a server could bind a port; [`owner`] finds and describes the process
//! that holds one.

pub mod allocate;
pub mod diag;
pub mod free;
pub mod lock;
pub mod owner;

pub use allocate::{
    Allocation, Allocator, Assignment, Conflict, Identity, PortOrigin, Reason, Tried,
};
pub use owner::Holder;
