//! Ports taken by something else, decided here and carried out by the
//! runtime (which owns the ports and reads /proc).
//!
//! A service whose port is held may adopt the holder (`on_conflict =
//! "adopt"`, when ports are handed out, or the dashboard's "adopt it"): the
//! machine asks for the holder to be checked ([`Effect::CheckHolder`]) and
//! keeps the service from starting until the answer
//! ([`Input::HolderChecked`]) says the holder passes its readiness check
//! (adopted: ready, external), is gone (the service starts on the port
//! now free), or fails (starting it fails with why). Or it may take any
//! other free port ([`Effect::MovePort`], [`Input::PortMoved`]), after
//! which a service that failed for its port starts again.

use super::*;

impl Machine {
    pub(super) fn port_assigned(&mut self, id: ServiceId, port: u16, how: Option<PortHow>) {
        let slot = &mut self.slots[id.0];
        slot.port = Some(port);
        slot.port_how = how.clone();
        let name = self.name(id).to_string();
        self.publish(EventKind::Port {
            service: id,
            name,
            port,
            how,
        });
    }

    /// The dashboard's way out of a port conflict; `None` when the answer
    /// comes later (a holder to check, a port to look for).
    pub(super) fn resolve_port(
        &mut self,
        id: ServiceId,
        choice: PortChoice,
        ticket: Ticket,
    ) -> Option<Outcome> {
        if self.slots[id.0].alive() || self.slots[id.0].holder_check {
            let slot = &self.slots[id.0];
            return Some(Outcome::Refused {
                why: Refusal::NothingToDo {
                    state: slot.state,
                    stopping: slot.stop.is_some() && slot.alive(),
                },
            });
        }
        match choice {
            PortChoice::Fallback => {
                self.out.push(Effect::MovePort { id, ticket });
                None
            }
            PortChoice::Adopt => {
                let wanted = self
                    .plan
                    .service(id)
                    .port
                    .as_ref()
                    .and_then(|p| p.preferred);
                let Some(port) = wanted else {
                    return Some(Outcome::Refused {
                        why: Refusal::NoFixedPort,
                    });
                };
                self.port_held(id, port, Some(ticket));
                None
            }
        }
    }

    /// `port` is held and its holder may stand in for `id`: check it, and
    /// hold the service back until the answer.
    pub(super) fn port_held(&mut self, id: ServiceId, port: u16, ticket: Option<Ticket>) {
        self.slots[id.0].holder_check = true;
        self.out.push(Effect::CheckHolder { id, port, ticket });
    }

    pub(super) fn holder_checked(
        &mut self,
        now: Duration,
        id: ServiceId,
        port: u16,
        ticket: Option<Ticket>,
        verdict: HolderVerdict,
    ) {
        self.slots[id.0].holder_check = false;
        if self.plan.is_removed(id) {
            // Removed from the config while its port's holder was checked.
            if let Some(ticket) = ticket {
                self.answer(Some(id), ticket, Outcome::NotFound);
            }
            return;
        }
        let outcome = match verdict {
            HolderVerdict::Passes { detail } if !self.slots[id.0].alive() => {
                self.out.push(Effect::TakeHolder { id, port });
                self.adopted(now, id, port, detail);
                Outcome::Done
            }
            // Started meanwhile (the port came free, and it took it).
            HolderVerdict::Passes { .. } => {
                let slot = &self.slots[id.0];
                Outcome::Refused {
                    why: Refusal::NothingToDo {
                        state: slot.state,
                        stopping: slot.stop.is_some(),
                    },
                }
            }
            // Its start will find the port free and take it.
            HolderVerdict::Gone => Outcome::Refused {
                why: Refusal::NothingHoldsPort { port },
            },
            HolderVerdict::Fails {
                holder,
                holders,
                why,
            } => {
                self.out.push(Effect::RefuseHolder {
                    id,
                    port,
                    holders,
                    why: why.clone(),
                });
                Outcome::Refused {
                    why: Refusal::HolderFailsCheck { holder, why },
                }
            }
        };
        if let Some(ticket) = ticket {
            self.answer(Some(id), ticket, outcome);
        }
    }

    pub(super) fn port_moved(
        &mut self,
        now: Duration,
        id: ServiceId,
        ticket: Ticket,
        result: Result<(u16, PortHow), String>,
    ) {
        let outcome = match result {
            Ok((port, how)) => {
                self.port_assigned(id, port, Some(how));
                // It failed for want of a port: with one, it starts again.
                let slot = &self.slots[id.0];
                if !slot.alive() && slot.state == State::Failed && self.phase == Phase::Running {
                    self.revive(now, id, Reason::StartingOnRequest);
                }
                Outcome::Done
            }
            Err(why) => Outcome::Refused {
                why: Refusal::NoOtherPort { why },
            },
        };
        self.answer(Some(id), ticket, outcome);
    }
}
