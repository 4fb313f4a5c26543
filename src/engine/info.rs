//! The stack as front ends know it ([`StackInfo`]), made from the config's
//! plan once per session.

use std::net::{IpAddr, Ipv4Addr};

use crate::api::{DependsOn, ServiceInfo, StackInfo, WantedPort};
use crate::config::plan::{OnConflict, Plan};

/// What front ends are told about `plan`.
pub fn stack_info(plan: &Plan) -> StackInfo {
    StackInfo {
        project: plan.project.name.clone(),
        config: plan.source.display().to_string(),
        services: plan
            .all_ids()
            .map(|id| {
                let spec = plan.service(id);
                ServiceInfo {
                    id,
                    name: spec.name.clone(),
                    kind: spec.kind,
                    optional: spec.optional,
                    port: spec.port.as_ref().map(|port| WantedPort {
                        preferred: port.preferred,
                        fallbacks: port.fallbacks.clone(),
                        adopts: port.on_conflict == OnConflict::Adopt,
                        host: (port.host != IpAddr::V4(Ipv4Addr::LOCALHOST))
                            .then(|| port.host.to_string()),
                        listen: port.listen,
                    }),
                    depends_on: plan
                        .graph
                        .dependencies(id)
                        .iter()
                        .map(|d| DependsOn {
                            on: d.on,
                            kind: d.kind,
                        })
                        .collect(),
                    removed: plan.is_removed(id),
                }
            })
            .collect(),
    }
}
