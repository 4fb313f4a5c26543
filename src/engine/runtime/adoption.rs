//! Ports and their holders: ports handed out before anything starts,
//! conflicts told once, a holder checked off the loop when the machine
//! asks whether to adopt it, and an adopted process watched.

use super::*;

impl Runtime {
    /// Tells the front ends about a port conflict, once: the same trouble
    /// found again when the service's turn comes is not news.
    pub(super) fn report_conflict(&mut self, id: ServiceId, trouble: &Trouble, ahead: bool) {
        let reported = &mut self.services[id.0].conflict_reported;
        if reported.as_deref() == Some(trouble.message.as_str()) {
            return;
        }
        *reported = Some(trouble.message.clone());
        self.publish(
            self.epoch.elapsed(),
            EventKind::PortConflict {
                service: id,
                name: self.plan.service(id).name.clone(),
                port: trouble.port,
                holders: trouble.holders.clone(),
                message: trouble.message.clone(),
                ahead,
            },
        );
    }

    pub(super) fn port_of(&self, id: ServiceId) -> Option<u16> {
        self.ports.port_of(id)
    }

    /// Hands out every port before anything starts; returns what the
    /// machine must hear (a held port it may adopt the holder of is the
    /// machine's to decide).
    pub(super) fn allocate_ports(&mut self) -> VecDeque<Input> {
        let plan = self.plan.clone();
        let mut inputs = VecDeque::new();
        for start in self.ports.allocate_all(&plan, &self.selected) {
            self.port_start(start, &mut inputs);
        }
        inputs
    }

    /// What the machine hears of a port handed out: the port, or that its
    /// holder may be adopted; a conflict is said at once.
    pub(super) fn port_start(&mut self, start: Start, inputs: &mut VecDeque<Input>) {
        match start {
            Start::Assigned { id, port, how } => {
                inputs.push_back(Input::PortAssigned { id, port, how })
            }
            // Said now, not when the service's turn comes: the user can
            // act while the rest of the stack starts.
            Start::Conflict { id, trouble } => self.report_conflict(id, &trouble, true),
            Start::Adoptable { id, port, .. } => inputs.push_back(Input::PortHeld { id, port }),
        }
    }

    /// Checks whether the holder of `port` passes `id`'s readiness check,
    /// off the loop (the check may take up to its timeout).
    pub(super) fn check_holder(&self, id: ServiceId, port: u16, ticket: Option<Ticket>) {
        let spec = self.plan.service(id);
        let target = self.target_with_port(id, &spec.readiness.check, port);
        let timeout = spec.readiness.timeout;
        let inputs = self.inputs.clone();
        tokio::spawn(async move {
            let holders = tokio::task::spawn_blocking(move || crate::ports::owner::holders(port))
                .await
                .unwrap_or_default();
            let who = holders
                .first()
                .map_or_else(|| "the holder".to_string(), ToString::to_string);
            let verdict = match target {
                Some(target) => Prober::new(target, timeout)
                    .check()
                    .await
                    .map_err(|f| f.why),
                // Nothing to check a running process by: take it as it is.
                None => Ok("no readiness check".to_string()),
            };
            let verdict = match verdict {
                Ok(detail) if !holders.is_empty() => HolderVerdict::Passes {
                    detail: format!("{who} on port {port} ({detail})"),
                },
                Ok(_) => HolderVerdict::Gone,
                Err(why) => HolderVerdict::Fails {
                    holder: who,
                    holders,
                    why,
                },
            };
            let _ = inputs
                .send(Input::HolderChecked {
                    id,
                    port,
                    ticket,
                    verdict,
                })
                .await;
        });
    }

    /// Checks an adopted process every `period` for as long as it stays
    /// adopted: its liveness check, else its readiness check, else (log,
    /// notify and none cannot be asked of a process bringup did not start)
    /// a TCP connect to its port.
    pub(super) fn watch_adopted(&mut self, id: ServiceId, generation: u64) {
        let plan = self.plan.clone();
        let spec = plan.service(id);
        let Some(port) = self.port_of(id) else {
            return;
        };
        let probe = spec.liveness.as_ref().unwrap_or(&spec.readiness);
        let host = spec
            .port
            .as_ref()
            .map_or_else(|| std::net::IpAddr::from([127, 0, 0, 1]), |p| p.host);
        let target = self
            .target_with_port(id, &probe.check, port)
            .unwrap_or_else(|| Target::Tcp {
                address: std::net::SocketAddr::new(host, port).to_string(),
            });
        let prober = Prober::new(target, probe.timeout);
        let task = self.liveness_task(id, generation, prober, probe.period);
        let service = &mut self.services[id.0];
        service.generation = generation;
        service.probes.clear();
        service.probes.push(task);
    }
}
