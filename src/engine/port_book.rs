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
//! fallback or auto port, or a failure that names the holder. A failure is
//! kept as [`Trouble`], which the dashboard's conflict popup offers to
//! resolve (another port from the range, or adopting the holder).

use std::os::fd::{AsRawFd, RawFd};

use crate::api::PortHow;
use crate::config::plan::{OnConflict, Plan, PortSpec, ServiceId};
use crate::ports::allocate::WayOut;
use crate::ports::{
    Allocation, Allocator, Assignment, Conflict, Holder, Identity, PortOrigin, Reason, Tried,
};

/// Why a service cannot have its port: what to show, and to whom it is lost.
#[derive(Debug, Clone)]
pub struct Trouble {
    /// The port it wanted, when there was one in particular.
    pub port: Option<u16>,
    /// Who holds that port.
    pub holders: Vec<Holder>,
    pub message: String,
}

impl Trouble {
    fn of(conflict: &Conflict) -> Self {
        let first = conflict.tried.first();
        let holders = match first.map(|t| &t.reason) {
            Some(Reason::Held(holders)) => holders.clone(),
            _ => Vec::new(),
        };
        Self {
            port: if conflict.range.is_some() {
                None
            } else {
                first.map(|t| t.port)
            },
            holders,
            message: conflict.to_string(),
        }
    }

    fn plain(message: String) -> Self {
        Self {
            port: None,
            holders: Vec::new(),
            message,
        }
    }
}

/// What the runtime knows about one service's port.
#[derive(Debug)]
enum Slot {
    /// The service has no port.
    Unused,
    Assigned(Assignment),
    /// A process bringup adopted holds it.
    External(u16),
    /// None could be had, and why (when known).
    Missing(Option<Trouble>),
}

/// The outcome of allocating a service's port at the start of a run.
#[derive(Debug)]
pub enum Start {
    Assigned {
        id: ServiceId,
        port: u16,
        how: Option<PortHow>,
    },
    /// The preferred port is held and the service may adopt the holder.
    Adoptable {
        id: ServiceId,
        port: u16,
        holders: Vec<Holder>,
    },
    /// No port could be had; the service fails with this when its turn
    /// comes, unless it is resolved (or the port freed) before.
    Conflict { id: ServiceId, trouble: Trouble },
}

/// What one allocation allotted a service.
enum Allotment {
    Assigned { port: u16, how: Option<PortHow> },
    Adoptable { port: u16, holders: Vec<Holder> },
    Conflict(Trouble),
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
            if selected[id.0]
                && let Some(start) = self.allocate_one(plan, id)
            {
                started.push(start);
            }
        }
        started
    }

    /// Allocates `id`'s port (a service added while the stack runs, or one
    /// whose port setting changed), if it has one.
    pub fn allocate_one(&mut self, plan: &Plan, id: ServiceId) -> Option<Start> {
        let spec = plan.service(id).port.as_ref()?;
        Some(match self.allocate(plan, id, spec) {
            Allotment::Assigned { port, how } => Start::Assigned { id, port, how },
            Allotment::Adoptable { port, holders } => Start::Adoptable { id, port, holders },
            // Also kept in the slot: the service fails with it when it
            // would start, unless the port is free again by then.
            Allotment::Conflict(trouble) => Start::Conflict { id, trouble },
        })
    }

    /// Makes room for `services` services; never shrinks.
    pub fn grow(&mut self, services: usize) {
        while self.slots.len() < services {
            self.slots.push(Slot::Unused);
        }
    }

    /// `id`'s port is handed out right before it spawns, not now (a
    /// process of ours that is stopping still holds the one it wants).
    pub fn defer(&mut self, id: ServiceId) {
        if let Some(slot) = self.slots.get_mut(id.0) {
            *slot = Slot::Missing(None);
        }
    }

    /// Gives `id`'s port back (its lock, and a handed-over socket): the
    /// service was removed, or wants another port.
    pub fn release(&mut self, id: ServiceId) {
        if let Some(slot) = self.slots.get_mut(id.0) {
            *slot = Slot::Unused;
        }
    }

    /// Allocates one service's port into its slot.
    fn allocate(&mut self, plan: &Plan, id: ServiceId, spec: &PortSpec) -> Allotment {
        let allocator = match &self.allocator {
            Ok(allocator) => allocator,
            Err(why) => {
                let trouble = Trouble::plain(why.clone());
                self.slots[id.0] = Slot::Missing(Some(trouble.clone()));
                return Allotment::Conflict(trouble);
            }
        };
        match allocator.allocate(&plan.service(id).name, spec) {
            Allocation::Assigned(assignment) => {
                let (port, how) = (assignment.port, port_how(&assignment.how));
                self.slots[id.0] = Slot::Assigned(assignment);
                Allotment::Assigned { port, how }
            }
            Allocation::Held { port, holders } => Allotment::Adoptable { port, holders },
            Allocation::Conflict(conflict) => {
                let trouble = Trouble::of(&conflict);
                self.slots[id.0] = Slot::Missing(Some(trouble.clone()));
                Allotment::Conflict(trouble)
            }
        }
    }

    /// Records that `id` adopted the holder of `port`.
    pub fn adopt(&mut self, id: ServiceId, port: u16) {
        self.slots[id.0] = Slot::External(port);
    }

    /// The process `id` adopted is gone: the next start allocates its port
    /// afresh (the wanted one, now free, or per `on_conflict`).
    pub fn disown(&mut self, id: ServiceId) {
        if matches!(self.slots[id.0], Slot::External(_)) {
            self.slots[id.0] = Slot::Missing(None);
        }
    }

    /// Records that `id` could not have `port`: its holder would not do.
    pub fn refuse(
        &mut self,
        plan: &Plan,
        id: ServiceId,
        port: u16,
        holders: Vec<Holder>,
        why: &str,
    ) {
        let spec = plan.service(id);
        let name = &spec.name;
        let conflict = Conflict {
            service: name.clone(),
            tried: vec![Tried {
                port,
                reason: Reason::Held(holders.clone()),
            }],
            range: None,
            way_out: spec
                .port
                .as_ref()
                .map_or(WayOut::AddFallbacks, WayOut::for_spec),
        };
        self.slots[id.0] = Slot::Missing(Some(Trouble {
            port: Some(port),
            holders,
            message: format!("{conflict} (it does not pass {name}'s readiness check: {why})"),
        }));
    }

    /// Makes sure `id` has a usable port right before it spawns. `Ok(Some)`
    /// when the port changed (with how), `Ok(None)` when it kept its port
    /// or has none, `Err` with why it cannot start.
    pub fn prepare(
        &mut self,
        plan: &Plan,
        id: ServiceId,
    ) -> Result<Option<(u16, Option<PortHow>)>, Trouble> {
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
            && spec.on_conflict != OnConflict::Fallback
            && spec.preferred.is_some()
        {
            let conflict = Conflict {
                service: plan.service(id).name.clone(),
                tried: vec![Tried {
                    port: *port,
                    reason: reason.clone(),
                }],
                range: None,
                way_out: WayOut::for_spec(spec),
            };
            let mut trouble = Trouble::of(&conflict);
            trouble
                .message
                .push_str(" (it was free when bringup started)");
            self.slots[id.0] = Slot::Missing(Some(trouble.clone()));
            return Err(trouble);
        }
        // What was said about this service before (its holder failed the
        // readiness check, say) says more than a bare "taken" would.
        let earlier = match &self.slots[id.0] {
            Slot::Missing(Some(trouble)) => Some(trouble.clone()),
            _ => None,
        };
        match self.allocate(plan, id, spec) {
            Allotment::Assigned { port, how } => {
                let how = match taken {
                    Some((from, why)) => Some(PortHow::Moved { from, why }),
                    None => how,
                };
                Ok(Some((port, how)))
            }
            // Adopting is decided when the run starts (or from the
            // dashboard); when the service is due to start, it is a conflict.
            Allotment::Adoptable { port, holders } => {
                let trouble = earlier.unwrap_or_else(|| {
                    Trouble::of(&Conflict {
                        service: plan.service(id).name.clone(),
                        tried: vec![Tried {
                            port,
                            reason: Reason::Held(holders),
                        }],
                        range: None,
                        way_out: WayOut::for_spec(spec),
                    })
                });
                self.slots[id.0] = Slot::Missing(Some(trouble.clone()));
                Err(trouble)
            }
            Allotment::Conflict(trouble) => Err(trouble),
        }
    }

    /// Gives `id` any free port of the project's range instead of the one
    /// it wanted (the dashboard's "use another port").
    pub fn fallback(&mut self, plan: &Plan, id: ServiceId) -> Result<(u16, PortHow), Trouble> {
        let Some(spec) = &plan.service(id).port else {
            return Err(Trouble::plain(format!(
                "{} has no port",
                plan.service(id).name
            )));
        };
        let wanted = spec.preferred;
        let mut anywhere = spec.clone();
        anywhere.preferred = None;
        anywhere.fallbacks.clear();
        anywhere.on_conflict = OnConflict::Fallback;
        match self.allocate(plan, id, &anywhere) {
            Allotment::Assigned { port, .. } => Ok((port, PortHow::Instead { of: wanted })),
            Allotment::Adoptable { .. } => Err(Trouble::plain("no free port".into())),
            Allotment::Conflict(trouble) => Err(trouble),
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
fn port_how(how: &PortOrigin) -> Option<PortHow> {
    match how {
        PortOrigin::Preferred => None,
        PortOrigin::Auto => Some(PortHow::Auto),
        PortOrigin::Fallback(tried) => Some(PortHow::Fallback {
            passed: tried.clone(),
        }),
    }
}
