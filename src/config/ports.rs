//! Validation of the port keys: `port`, `fallback_ports`, `host`,
//! `on_conflict`, `listen`, `check_port_owner` and `[project] port_range`,
//! and of the ports services want together.
//!
//! Keys that only mean something with a port are errors without one, and
//! combinations that cannot work are refused before anything runs (`adopt`
//! with `listen`, `fallback` with nothing to fall back on). Two services
//! that insist on the same port without a fallback could never both start,
//! so that is an error too (`check_contested`).

use std::collections::BTreeMap;
use std::net::{IpAddr, Ipv4Addr};
use std::ops::RangeInclusive;

use toml::Spanned;

use crate::config::error::Collector;
use crate::config::load::RawServiceEntry;
use crate::config::names::shown;
use crate::config::plan::{OnConflict, PortSpec, ServiceSpec};
use crate::config::raw::{RawOnConflict, RawPort, RawService};

/// Where `port = "auto"` takes ports from unless `port_range` says
/// otherwise: below the kernel's ephemeral range (32768 and up, where
/// outgoing connections take their local ports) and clear of the usual
/// development ports (3000, 5000, 5432, 6379, 8000, 8080, 9000, 27017…).
pub const DEFAULT_PORT_RANGE: RangeInclusive<u16> = 24000..=24999;

/// The port spec of a service, if it has a port.
pub(crate) fn port_spec(
    path: &str,
    raw: &RawService,
    errors: &mut Collector<'_>,
) -> Option<PortSpec> {
    let Some(port) = &raw.port else {
        for (key, present) in [
            ("fallback_ports", raw.fallback_ports.is_some()),
            ("host", raw.host.is_some()),
            ("on_conflict", raw.on_conflict.is_some()),
            ("listen", raw.listen.is_some()),
            ("check_port_owner", raw.check_port_owner.is_some()),
        ] {
            if present {
                errors.push(
                    None,
                    format!("{path}.{key}"),
                    format!("`{key}` needs a `port`"),
                    Some("add `port = 8000` (or `port = \"auto\"`)".into()),
                );
            }
        }
        return None;
    };
    let preferred = match port.get_ref() {
        RawPort::Number(0) => {
            errors.push(
                Some(port.span()),
                format!("{path}.port"),
                "port 0 is not a port a service can be reached on",
                Some("use a port between 1 and 65535, or \"auto\" to get a free one".into()),
            );
            None
        }
        RawPort::Number(n) => Some(*n),
        RawPort::Word(word) if word == "auto" => None,
        RawPort::Word(word) => {
            errors.push(
                Some(port.span()),
                format!("{path}.port"),
                format!("{word:?} is not a port"),
                Some("write a number such as 8000, or \"auto\" to get a free port".into()),
            );
            None
        }
    };
    let auto = matches!(port.get_ref(), RawPort::Word(w) if w == "auto");

    let fallbacks = match &raw.fallback_ports {
        Some(list) if auto => {
            errors.push(
                Some(list.span()),
                format!("{path}.fallback_ports"),
                "`port = \"auto\"` already takes any free port of `[project] port_range`",
                Some("remove `fallback_ports`, or give a preferred `port`".into()),
            );
            Vec::new()
        }
        Some(list) => {
            if list.get_ref().contains(&0) {
                errors.push(
                    Some(list.span()),
                    format!("{path}.fallback_ports"),
                    "port 0 is not a port a service can be reached on",
                    None,
                );
            }
            list.get_ref().clone()
        }
        None => Vec::new(),
    };

    let host = match &raw.host {
        None => IpAddr::V4(Ipv4Addr::LOCALHOST),
        Some(text) => parse_host(text, path, errors),
    };

    let listen = raw.listen.as_ref().is_some_and(|l| *l.get_ref());
    let on_conflict = match raw.on_conflict {
        None if fallbacks.is_empty() => OnConflict::Fail,
        None => OnConflict::Fallback,
        Some(RawOnConflict::Fallback) => {
            if fallbacks.is_empty() && !auto {
                errors.push(
                    None,
                    format!("{path}.on_conflict"),
                    "`on_conflict = \"fallback\"` has no `fallback_ports` to fall back on",
                    Some("add `fallback_ports = [8001, 8002]`, or use `port = \"auto\"`".into()),
                );
            }
            OnConflict::Fallback
        }
        Some(RawOnConflict::Fail) => OnConflict::Fail,
        Some(RawOnConflict::Adopt) => {
            if listen {
                errors.push(
                    raw.listen.as_ref().map(Spanned::span),
                    format!("{path}.on_conflict"),
                    "`adopt` cannot go with `listen = true`: bringup cannot hand over a socket someone else holds",
                    Some("use `on_conflict = \"fail\"` or `\"fallback\"`".into()),
                );
            }
            if auto {
                errors.push(
                    None,
                    format!("{path}.on_conflict"),
                    "`adopt` needs a fixed port to look for a running service on",
                    Some("give a `port = …` number".into()),
                );
            }
            OnConflict::Adopt
        }
    };

    Some(PortSpec {
        preferred,
        fallbacks,
        host,
        on_conflict,
        listen,
        check_owner: raw.check_port_owner.as_ref().is_none_or(|c| *c.get_ref()),
    })
}

/// Where a service is reached on this machine (`${services.NAME.host}`):
/// its `host`, or the loopback address of its family when that is a
/// wildcard. A `host` that is no address is reported by [`port_spec`];
/// the loopback address stands in for it.
pub(crate) fn reach_address(raw: &RawService) -> String {
    let host = raw
        .host
        .as_ref()
        .and_then(|text| {
            let value = text.get_ref().trim();
            value
                .trim_start_matches('[')
                .trim_end_matches(']')
                .parse::<IpAddr>()
                .ok()
        })
        .unwrap_or(IpAddr::V4(Ipv4Addr::LOCALHOST));
    match host {
        IpAddr::V4(v4) if v4.is_unspecified() => Ipv4Addr::LOCALHOST.to_string(),
        IpAddr::V6(v6) if v6.is_unspecified() => std::net::Ipv6Addr::LOCALHOST.to_string(),
        host => host.to_string(),
    }
}

fn parse_host(text: &Spanned<String>, path: &str, errors: &mut Collector<'_>) -> IpAddr {
    let value = text.get_ref().trim();
    if value == "localhost" {
        return IpAddr::V4(Ipv4Addr::LOCALHOST);
    }
    value.trim_start_matches('[').trim_end_matches(']').parse().unwrap_or_else(|_| {
        errors.push(
            Some(text.span()),
            format!("{path}.host"),
            format!("{value:?} is not an IP address"),
            Some("write \"127.0.0.1\" (this machine only), \"0.0.0.0\" (every interface) or an IPv6 address such as \"::1\"".into()),
        );
        IpAddr::V4(Ipv4Addr::LOCALHOST)
    })
}

/// `[project] port_range = "24000-24999"`.
pub(crate) fn port_range(
    raw: Option<&Spanned<String>>,
    errors: &mut Collector<'_>,
) -> RangeInclusive<u16> {
    let Some(raw) = raw else {
        return DEFAULT_PORT_RANGE;
    };
    let parsed = raw
        .get_ref()
        .split_once('-')
        .and_then(|(low, high)| {
            Some((
                low.trim().parse::<u16>().ok()?,
                high.trim().parse::<u16>().ok()?,
            ))
        })
        .filter(|(low, high)| *low > 0 && low <= high);
    match parsed {
        Some((low, high)) => low..=high,
        None => {
            errors.push(
                Some(raw.span()),
                "project.port_range",
                format!("invalid port range {:?}", raw.get_ref()),
                Some("write it as \"LOW-HIGH\", for example \"24000-24999\"".into()),
            );
            DEFAULT_PORT_RANGE
        }
    }
}

/// Ports two services both insist on: the second one without a fallback
/// could never start while the first runs. Services that did not validate
/// are skipped (their problems are reported already).
pub(crate) fn check_contested(
    entries: &[RawServiceEntry],
    services: &[Option<ServiceSpec>],
    errors: &mut Collector<'_>,
) {
    let mut wanted: BTreeMap<u16, &str> = BTreeMap::new();
    for (entry, service) in entries.iter().zip(services) {
        let Some(service) = service else { continue };
        let Some(spec) = &service.port else { continue };
        let Some(port) = spec.preferred else { continue };
        let has_fallback = spec.on_conflict == OnConflict::Fallback;
        match wanted.get(&port) {
            Some(first) if !has_fallback => errors.push(
                entry.raw.port.as_ref().map(Spanned::span),
                format!("services.{}.port", shown(&service.name)),
                format!("`{first}` wants port {port} too, so only one of them could ever start"),
                Some(
                    "give one of them another port, `fallback_ports`, or `port = \"auto\"`".into(),
                ),
            ),
            Some(_) => {}
            None => {
                wanted.insert(port, entry.name.get_ref());
            }
        }
    }
}
