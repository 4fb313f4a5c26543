//! The polled checks of a service, rendered against the ports of this run:
//! readiness (owner-checked when the config asks), liveness, and the
//! checks of a process bringup adopted.

use super::*;

impl Runtime {
    pub(super) fn start_liveness(&mut self, id: ServiceId, generation: u64) {
        let plan = self.plan.clone();
        let Some(liveness) = &plan.service(id).liveness else {
            return;
        };
        if self.services[id.0].generation != generation {
            return;
        }
        let env = self.services[id.0].env.clone();
        let Some(target) = self.target(id, &liveness.check, &env) else {
            return;
        };
        // Not owner-checked: readiness confirmed whose listener this is,
        // and it does not change hands while the process lives.
        let prober = Prober::new(target, liveness.timeout);
        let task = self.liveness_task(id, generation, prober, liveness.period);
        self.services[id.0].probes.push(task);
    }

    /// Checks with `prober` every `period`, reporting each result as the
    /// liveness of `id`'s process `generation`.
    pub(super) fn liveness_task(
        &self,
        id: ServiceId,
        generation: u64,
        prober: Prober,
        period: Duration,
    ) -> AbortOnDrop {
        probe::spawn_abortable(probe::liveness_loop(
            prober,
            period,
            self.inputs.clone(),
            move |ok, detail| Input::Process {
                id,
                generation,
                news: News::Liveness { ok, detail },
            },
        ))
    }

    /// `prober`, passing only when the listener on the service's port is
    /// process `pid`'s (see [`crate::probe::ownership`]); a stranger there
    /// is reported as a port conflict.
    pub(super) fn owned(&self, id: ServiceId, pid: u32, prober: Prober) -> Prober {
        let spec = self.plan.service(id);
        let (Some(port_spec), Some(port)) = (&spec.port, self.port_of(id)) else {
            return prober;
        };
        if !port_spec.check_owner || port_spec.listen {
            return prober;
        }
        let service = crate::probe::ownership::Service {
            pid,
            run: self.run_id.clone(),
            name: spec.name.clone(),
        };
        let (events, logs, epoch) = (self.events.clone(), self.logs.clone(), self.epoch);
        let name = spec.name.clone();
        let report: crate::probe::ownership::Report = Arc::new(move |holder, message| {
            let kind = EventKind::PortConflict {
                service: id,
                name: name.clone(),
                port: Some(port),
                holders: vec![holder],
                message,
                // (Found by a readiness check: the "not ready yet" that
                // follows says it in words.)
                ahead: false,
            };
            announce(&events, &logs, epoch.elapsed(), kind);
        });
        prober.owned_by(crate::probe::ownership::Owner::new(port, service, report))
    }

    /// The polled check of a service, rendered; `None` for log, notify and none.
    pub(super) fn target(
        &self,
        id: ServiceId,
        check: &Check,
        env: &[(String, String)],
    ) -> Option<Target> {
        self.target_rendered(id, check, env, self.port_of(id))
    }

    /// The check of `id` against `port` (a holder it might adopt).
    pub(super) fn target_with_port(
        &self,
        id: ServiceId,
        check: &Check,
        port: u16,
    ) -> Option<Target> {
        self.target_rendered(id, check, &[], Some(port))
    }

    pub(super) fn target_rendered(
        &self,
        id: ServiceId,
        check: &Check,
        env: &[(String, String)],
        own: Option<u16>,
    ) -> Option<Target> {
        let render =
            |t: &crate::config::interpolate::Template| t.render(own, |other| self.port_of(other));
        match check {
            Check::Tcp { address } => Some(Target::Tcp {
                address: render(address),
            }),
            Check::Http { url, status, json } => Some(Target::Http {
                url: render(url),
                status: *status,
                json: json.clone(),
            }),
            Check::Exec { command } => Some(Target::Exec {
                command: command.render_shell(own, |other| self.port_of(other)),
                cwd: self.plan.service(id).cwd.clone(),
                env: env.to_vec(),
            }),
            Check::Log { .. } | Check::Notify | Check::None => None,
        }
    }
}
