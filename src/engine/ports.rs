//! The runtime's ports: every service's port, from the start of a run to
//! its end.
//!
//! All ports are handed out before the first service starts, so every
//! `${services.NAME.port}` and `BRINGUP_PORT_<NAME>` names the port that
//! service will really get, whatever the order services start in. A port is
//! held (its lock, and for `listen = true` its socket) for the whole run,
//! so a restarted service gets the same one. Right before each spawn the
//! port is checked again — some other program may have taken it since — and
//! a taken port is handled as the service's `on_conflict` says: another
//! fallback or auto port, or a failure that names the holder.

use std::os::fd::{AsRawFd, RawFd};

use crate::config::plan::{OnConflict, Plan, PortSpec, ServiceId};
use crate::ports::{
    Allocation, Allocator, Assignment, Conflict, Holder, How, Identity, Reason, Tried,
};

/// What the runtime knows about one service's port.
#[derive(Debug)]
enum Slot {
    /// The service has no port.
    Unused,
    Assigned(Assignment),
    /// A process bringup adopted holds it.
    External(u16),
    /// None could be had; why, for the message when it tries to start.
    Missing(String),
}

/// The outcome of allocating a service's port at the start of a run.
#[derive(Debug)]
pub enum Start {
    Assigned {
        id: ServiceId,
        port: u16,
        note: Option<String>,
    },
    /// The preferred port is held and the service may adopt the holder.
    Adoptable {
        id: ServiceId,
        port: u16,
        holders: Vec<Holder>,
    },
}

/// Every service's port for one run.
#[derive(Debug)]
pub struct PortBook {
    slots: Vec<Slot>,
    allocator: Result<Allocator, String>,
}

impl PortBook {
    /// An empty book; nothing is allocated until [`PortBook::allocate_all`].
    pub fn new(plan: &Plan) -> Self {
        // The canonical path, so `bringup ports` can match a config however
        // it was named on the command line.
        let config = std::fs::canonicalize(&plan.source).unwrap_or_else(|_| plan.source.clone());
        let identity = Identity {
            project: plan.project.name.clone(),
            config: config.display().to_string(),
        };
        let allocator = Allocator::new(plan.project.port_range.clone(), identity)
            .map_err(|e| format!("cannot use the port lock directory: {e}"));
        Self {
            slots: plan.services.iter().map(|_| Slot::Unused).collect(),
            allocator,
        }
    }

    /// The port of `id`, if it has one now.
    pub fn port_of(&self, id: ServiceId) -> Option<u16> {
        match &self.slots[id.0] {
            Slot::Assigned(assignment) => Some(assignment.port),
            Slot::External(port) => Some(*port),
            Slot::Unused | Slot::Missing(_) => None,
        }
    }

    /// The socket to hand over to a `listen = true` service.
    pub fn listener_fd(&self, id: ServiceId) -> Option<RawFd> {
        match &self.slots[id.0] {
            Slot::Assigned(assignment) => assignment.listener.as_ref().map(AsRawFd::as_raw_fd),
            _ => None,
        }
    }

    /// Allocates every selected service's port, in start order.
    pub fn allocate_all(&mut self, plan: &Plan, selected: &[bool]) -> Vec<Start> {
        let mut started = Vec::new();
        for &id in plan.graph.order() {
            let Some(spec) = &plan.service(id).port else {
                continue;
            };
            if !selected[id.0] {
                continue;
            }
            match self.allocate(plan, id, spec) {
                Ok(Some((port, note))) => started.push(Start::Assigned { id, port, note }),
                Ok(None) => {}
                Err(Some((port, holders))) => started.push(Start::Adoptable { id, port, holders }),
                Err(None) => {}
            }
        }
        started
    }

    /// Allocates one service's port into its slot. `Ok(Some)` is a new
    /// assignment, `Err(Some)` a holder to consider adopting, `Err(None)`
    /// a conflict (kept in the slot).
    #[allow(clippy::type_complexity)]
    fn allocate(
        &mut self,
        plan: &Plan,
        id: ServiceId,
        spec: &PortSpec,
    ) -> Result<Option<(u16, Option<String>)>, Option<(u16, Vec<Holder>)>> {
        let allocator = match &self.allocator {
            Ok(allocator) => allocator,
            Err(why) => {
                self.slots[id.0] = Slot::Missing(why.clone());
                return Err(None);
            }
        };
        match allocator.allocate(&plan.service(id).name, spec) {
            Allocation::Assigned(assignment) => {
                let port = assignment.port;
                let note = describe(&assignment.how);
                self.slots[id.0] = Slot::Assigned(assignment);
                Ok(Some((port, note)))
            }
            Allocation::Held { port, holders } => Err(Some((port, holders))),
            Allocation::Conflict(conflict) => {
                self.slots[id.0] = Slot::Missing(conflict.to_string());
                Err(None)
            }
        }
    }

    /// Records that `id` adopted the holder of `port`.
    pub fn adopt(&mut self, id: ServiceId, port: u16) {
        self.slots[id.0] = Slot::External(port);
    }

    /// Records that `id` could not have `port` (its holder would not do).
    pub fn refuse(
        &mut self,
        plan: &Plan,
        id: ServiceId,
        port: u16,
        holders: Vec<Holder>,
        why: &str,
    ) {
        let conflict = Conflict {
            service: plan.service(id).name.clone(),
            tried: vec![Tried {
                port,
                reason: Reason::Held(holders),
            }],
            range: None,
        };
        self.slots[id.0] = Slot::Missing(format!(
            "{conflict} (it does not pass {}'s readiness check: {why})",
            plan.service(id).name
        ));
    }

    /// Makes sure `id` has a usable port right before it spawns. `Ok(Some)`
    /// when the port changed (with how), `Ok(None)` when it kept its port
    /// or has none, `Err` with the reason it cannot start.
    pub fn prepare(
        &mut self,
        plan: &Plan,
        id: ServiceId,
    ) -> Result<Option<(u16, Option<String>)>, String> {
        let Some(spec) = &plan.service(id).port else {
            return Ok(None);
        };
        let taken = match &self.slots[id.0] {
            Slot::Assigned(assignment) => match assignment.still_free(spec) {
                Ok(()) => return Ok(None),
                Err(reason) => Some((assignment.port, reason)),
            },
            Slot::External(_) | Slot::Unused => return Ok(None),
            Slot::Missing(_) => None,
        };
        if let Some((port, reason)) = &taken
            && !matches!(spec.on_conflict, OnConflict::Fallback)
            && spec.preferred.is_some()
        {
            let conflict = Conflict {
                service: plan.service(id).name.clone(),
                tried: vec![Tried {
                    port: *port,
                    reason: reason.clone(),
                }],
                range: None,
            };
            return Err(format!("{conflict} (it was free when bringup started)"));
        }
        // What was said about this service before (at the start of the run,
        // say: its holder failed the readiness check) says more than a
        // bare "taken" would.
        let earlier = match &self.slots[id.0] {
            Slot::Missing(why) if !why.is_empty() => Some(why.clone()),
            _ => None,
        };
        // Let go of the taken port first so a fallback search skips it on
        // its own (it is held by someone else now anyway).
        self.slots[id.0] = Slot::Missing(String::new());
        match self.allocate(plan, id, spec) {
            Ok(Some((port, note))) => {
                let note = match (taken, note) {
                    (Some((old, reason)), _) => {
                        Some(format!("moved from {old}, which is now {reason}"))
                    }
                    (None, note) => note,
                };
                Ok(Some((port, note)))
            }
            Ok(None) => Ok(None),
            // Adopting is decided when the run starts; later, a held port is a conflict.
            Err(Some((port, holders))) => {
                let why = earlier.unwrap_or_else(|| {
                    let conflict = Conflict {
                        service: plan.service(id).name.clone(),
                        tried: vec![Tried {
                            port,
                            reason: Reason::Held(holders),
                        }],
                        range: None,
                    };
                    conflict.to_string()
                });
                self.slots[id.0] = Slot::Missing(why.clone());
                Err(why)
            }
            Err(None) => match &self.slots[id.0] {
                Slot::Missing(why) if !why.is_empty() => Err(why.clone()),
                _ => Err(earlier.unwrap_or_else(|| {
                    format!("port {} is taken", spec.preferred.unwrap_or_default())
                })),
            },
        }
    }

    /// Notes the service's pid in its lock file (for `bringup ports`).
    pub fn record_pid(&mut self, plan: &Plan, id: ServiceId, pid: u32) {
        if let Slot::Assigned(assignment) = &mut self.slots[id.0] {
            let info = crate::ports::lock::LockInfo {
                pid: std::process::id(),
                port: assignment.port,
                project: plan.project.name.clone(),
                service: plan.service(id).name.clone(),
                config: std::fs::canonicalize(&plan.source)
                    .unwrap_or_else(|_| plan.source.clone())
                    .display()
                    .to_string(),
                service_pid: Some(pid),
            };
            assignment.set_service_pid(&info);
        }
    }
}

/// How a port came about, when it is worth saying.
fn describe(how: &How) -> Option<String> {
    match how {
        How::Preferred => None,
        How::Auto => Some("auto".into()),
        How::Fallback(tried) => {
            let passed: Vec<String> = tried
                .iter()
                .map(|t| format!("{} is {}", t.port, t.reason))
                .collect();
            Some(format!("fallback: {}", passed.join("; ")))
        }
    }
}
