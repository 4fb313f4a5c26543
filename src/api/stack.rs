//! What a front end knows about the stack it shows ([`StackInfo`]): told
//! at the start of a session and again when an edit of the config adds or
//! removes services, so that no front end reads the config's `Plan`.

use serde::{Deserialize, Serialize};

use crate::config::plan::{DepKind, Kind};
use crate::ids::ServiceId;

/// What a front end knows about the stack it shows: told once per
/// session (the names, kinds, ports and dependencies it draws), so that no
/// front end reads the config's `Plan`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct StackInfo {
    pub project: String,
    /// The config file, as the user named it.
    pub config: String,
    /// Every service, by number (index = [`ServiceId`]): in declaration
    /// order, then those added while the stack ran. Services removed from
    /// the config while it ran keep their place, marked `removed`.
    pub services: Vec<ServiceInfo>,
}

/// One service as the config declares it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ServiceInfo {
    pub id: ServiceId,
    pub name: String,
    pub kind: Kind,
    pub optional: bool,
    pub port: Option<WantedPort>,
    pub depends_on: Vec<DependsOn>,
    /// Removed from the config while the stack ran: stopped for good, no
    /// longer one of the stack's services (its number never goes to
    /// another service; the same name brought back gets it again).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub removed: bool,
}

/// The port a service asks for.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct WantedPort {
    /// `None`: any free port of the project's range (`port = "auto"`).
    pub preferred: Option<u16>,
    pub fallbacks: Vec<u16>,
    /// `on_conflict = "adopt"`.
    pub adopts: bool,
    /// The address it binds, when not 127.0.0.1.
    pub host: Option<String>,
    /// `listen = true`: bringup hands the socket over.
    pub listen: bool,
}

/// A dependency as the config declares it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct DependsOn {
    pub on: ServiceId,
    pub kind: DepKind,
}

impl StackInfo {
    /// The service `id`, if there is one.
    pub fn service(&self, id: ServiceId) -> Option<&ServiceInfo> {
        self.services.get(id.0)
    }

    /// The service called `name` (never a removed one).
    pub fn find(&self, name: &str) -> Option<ServiceId> {
        self.current().find(|s| s.name == name).map(|s| s.id)
    }

    /// The stack's services now: all but those removed from the config.
    pub fn current(&self) -> impl Iterator<Item = &ServiceInfo> {
        self.services.iter().filter(|s| !s.removed)
    }

    /// The name of service `id` ("?" for an id it does not know).
    pub fn name(&self, id: ServiceId) -> &str {
        self.service(id).map_or("?", |s| s.name.as_str())
    }
}
