//! Which service: [`ServiceId`], the one name every layer shares.
//!
//! A service is known by its index in the config's declaration order. The
//! config layer hands the ids out, the dependency graph links them, and the
//! engine and front ends key their state by them. This module is a leaf —
//! it imports nothing of the crate — so that `config` and `graph` can both
//! use ids without importing each other in a circle. `config::plan`
//! re-exports it, which is where most callers find it.

use serde::{Deserialize, Serialize};

/// Index of a service in `Plan::services` (declaration order).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub struct ServiceId(pub usize);
