//! Validation of probe tables (`readiness`, `liveness`) into [`Probe`]s,
//! and the probes a service gets when it writes none.
//!
//! A probe table names exactly one check (`tcp`, `http`, `exec`, `log`,
//! `notify`, `none`) plus optional timing. Targets are templates, so
//! `http = "/health"` becomes `http://127.0.0.1:${port}/health` and picks up
//! the port the service really got. A service without a readiness table
//! is checked by a tcp connect to its port (the least a dependent needs),
//! or not at all when there is no port to check or bringup holds the
//! socket itself (`listen = true`); a task is never probed: it is
//! complete when it exits 0.

use std::time::Duration;

use regex::Regex;
use toml::Spanned;

use crate::config::durations::{self, duration};
use crate::config::error::Collector;
use crate::config::interpolate::{Scope, Template};
use crate::config::plan::{Check, Kind, PortSpec, Probe, StatusRange};
use crate::config::raw::{RawProbe, TcpTarget};
use crate::config::templates::{shell_template, template};

/// Defaults that differ between readiness and liveness.
struct ProbeDefaults {
    period: Duration,
}

const READINESS_DEFAULTS: ProbeDefaults = ProbeDefaults {
    period: Duration::from_secs(2),
};
const LIVENESS_DEFAULTS: ProbeDefaults = ProbeDefaults {
    period: Duration::from_secs(5),
};

const DEFAULT_TIMEOUT: Duration = Duration::from_secs(1);
const DEFAULT_EXEC_TIMEOUT: Duration = Duration::from_secs(5);
const DEFAULT_FAILURE_THRESHOLD: u32 = 3;

/// The service a probe belongs to.
pub(crate) struct Owner<'a, 's> {
    /// Where the service is in the file: `services.NAME`.
    pub path: &'a str,
    pub kind: Kind,
    pub port: Option<&'a PortSpec>,
    /// Resolves the probe's templates (`${port}` is the service's own).
    pub scope: &'a Scope<'s>,
}

/// The readiness probe of `owner`: its `readiness` table, or else the
/// default. A task has none (it is complete when it exits 0).
pub(crate) fn readiness(
    owner: &Owner<'_, '_>,
    raw: Option<&Spanned<RawProbe>>,
    errors: &mut Collector<'_>,
) -> Option<Probe> {
    let Owner {
        path,
        kind,
        port,
        scope,
    } = *owner;
    let probe_host = port.map(PortSpec::probe_host);
    let listen = port.is_some_and(|p| p.listen);
    match (raw, kind) {
        (Some(r), Kind::Task) => {
            errors.push(
                Some(r.span()),
                format!("{path}.readiness"),
                "a task has no readiness: it is complete when it exits 0",
                Some("remove `readiness`, or make it `kind = \"service\"`".into()),
            );
            None
        }
        (Some(r), Kind::Service) => {
            let probe = probe(
                &format!("{path}.readiness"),
                r,
                scope,
                probe_host,
                &READINESS_DEFAULTS,
                errors,
            );
            if listen && matches!(probe.as_ref().map(|p| &p.check), Some(Check::Tcp { .. })) {
                errors.warn(
                    Some(r.span()),
                    format!("{path}.readiness"),
                    "with `listen = true` a tcp check passes at once: bringup's socket accepts connections before the service does",
                    Some("check readiness with `http`, `log` or `notify` instead".into()),
                );
            }
            probe
        }
        // With `listen = true` the port accepts connections (they queue)
        // from the start, which is what dependents need; without a port,
        // there is nothing to check.
        (None, _) if listen || probe_host.is_none() || kind == Kind::Task => {
            Some(default_readiness(Check::None))
        }
        (None, _) => Some(default_readiness(Check::Tcp {
            address: probe_host
                .and_then(|host| own_address(host, scope))
                .unwrap_or_default(),
        })),
    }
}

/// What a service without a `readiness` table is checked with.
fn default_readiness(check: Check) -> Probe {
    Probe {
        check,
        period: READINESS_DEFAULTS.period,
        timeout: DEFAULT_TIMEOUT,
        failure_threshold: DEFAULT_FAILURE_THRESHOLD,
    }
}

/// The liveness probe of `owner`, if it has one: only a long-running
/// service can have one, and only with a check that can see a running
/// service die (`tcp`, `http`, `exec`).
pub(crate) fn liveness(
    owner: &Owner<'_, '_>,
    raw: Option<&Spanned<RawProbe>>,
    errors: &mut Collector<'_>,
) -> Option<Probe> {
    let path = owner.path;
    let table = raw?;
    if owner.kind == Kind::Task {
        errors.push(
            Some(table.span()),
            format!("{path}.liveness"),
            "a task has no liveness check",
            Some("remove `liveness`".into()),
        );
        return None;
    }
    let probe = probe(
        &format!("{path}.liveness"),
        table,
        owner.scope,
        owner.port.map(PortSpec::probe_host),
        &LIVENESS_DEFAULTS,
        errors,
    );
    if let Some(Probe {
        check: check @ (Check::Log { .. } | Check::Notify | Check::None),
        ..
    }) = &probe
    {
        errors.push(
            Some(table.span()),
            format!("{path}.liveness"),
            format!(
                "a `{}` check cannot tell whether a running service is alive",
                check.kind_name()
            ),
            Some("use `tcp`, `http` or `exec` for liveness".into()),
        );
    }
    probe
}

/// Validates one probe table at `path` (e.g. `services.api.readiness`).
fn probe(
    path: &str,
    raw: &Spanned<RawProbe>,
    scope: &Scope<'_>,
    probe_host: Option<std::net::IpAddr>,
    defaults: &ProbeDefaults,
    errors: &mut Collector<'_>,
) -> Option<Probe> {
    let table_span = raw.span();
    let raw = raw.get_ref();
    let set: Vec<&str> = [
        ("tcp", raw.tcp.is_some()),
        ("http", raw.http.is_some()),
        ("exec", raw.exec.is_some()),
        ("log", raw.log.is_some()),
        ("notify", raw.notify.is_some()),
        ("none", raw.none.is_some()),
    ]
    .into_iter()
    .filter_map(|(name, present)| present.then_some(name))
    .collect();
    if set.len() != 1 {
        let found = if set.is_empty() {
            "none of them".to_string()
        } else {
            set.iter()
                .map(|s| format!("`{s}`"))
                .collect::<Vec<_>>()
                .join(" and ")
        };
        errors.push(
            Some(table_span),
            path,
            format!("a probe needs exactly one of `tcp`, `http`, `exec`, `log`, `notify`, `none`; found {found}"),
            Some("for example `{ tcp = true }` or `{ http = \"/health\" }`".into()),
        );
        return None;
    }
    if raw.http.is_none() {
        for (key, present) in [
            ("status", raw.status.is_some()),
            ("json", raw.json.is_some()),
        ] {
            if present {
                errors.push(
                    Some(table_span.clone()),
                    format!("{path}.{key}"),
                    format!("`{key}` only applies to `http` probes"),
                    None,
                );
            }
        }
    }

    let check = if let Some(tcp) = &raw.tcp {
        match tcp.get_ref() {
            TcpTarget::Own(true) if probe_host.is_some() => Check::Tcp {
                address: own_address(probe_host?, scope)?,
            },
            TcpTarget::Own(true) => {
                errors.push(
                    Some(tcp.span()),
                    format!("{path}.tcp"),
                    "`tcp = true` checks the service's port, but it has none",
                    Some("set `port = ...` on the service, or write `tcp = \"host:port\"`".into()),
                );
                return None;
            }
            TcpTarget::Own(false) => {
                errors.push(
                    Some(tcp.span()),
                    format!("{path}.tcp"),
                    "`tcp = false` turns nothing on",
                    Some("write `tcp = true`, or pick another check".into()),
                );
                return None;
            }
            TcpTarget::Address(address) => {
                let spanned = Spanned::new(tcp.span(), address.clone());
                let address = template(path, "tcp", &spanned, scope, errors)?;
                Check::Tcp { address }
            }
        }
    } else if let Some(http) = &raw.http {
        let target = http.get_ref();
        let url = if target.starts_with('/') {
            let Some(host) = probe_host else {
                errors.push(
                    Some(http.span()),
                    format!("{path}.http"),
                    "an http path needs the service's port, but it has none",
                    Some("set `port = ...`, or give a full URL such as \"http://127.0.0.1:8080/health\"".into()),
                );
                return None;
            };
            Spanned::new(http.span(), format!("http://{}{target}", host_port(host)))
        } else if target.starts_with("http://") || target.starts_with("https://") {
            http.clone()
        } else {
            errors.push(
                Some(http.span()),
                format!("{path}.http"),
                format!("expected a path such as \"/health\" or a URL, found {target:?}"),
                None,
            );
            return None;
        };
        let url = template(path, "http", &url, scope, errors)?;
        let status = match &raw.status {
            Some(status) => match parse_status(status.get_ref()) {
                Some(range) => range,
                None => {
                    errors.push(
                        Some(status.span()),
                        format!("{path}.status"),
                        format!("invalid status range {:?}", status.get_ref()),
                        Some("write \"200\", \"200-299\" or \"2xx\"".into()),
                    );
                    return None;
                }
            },
            None => StatusRange {
                low: 200,
                high: 299,
            },
        };
        let mut json = Vec::new();
        for (pointer, expected) in raw.json.iter().flatten() {
            if !pointer.is_empty() && !pointer.starts_with('/') {
                errors.push(
                    Some(expected.span()),
                    format!("{path}.json"),
                    format!("{pointer:?} is not a JSON pointer"),
                    Some(format!("JSON pointers start with `/`, e.g. \"/{pointer}\"")),
                );
                continue;
            }
            match serde_json::to_value(expected.get_ref()) {
                Ok(value) => json.push((pointer.clone(), value)),
                Err(e) => errors.push(
                    Some(expected.span()),
                    format!("{path}.json"),
                    format!("cannot compare with this value: {e}"),
                    None,
                ),
            }
        }
        Check::Http { url, status, json }
    } else if let Some(exec) = &raw.exec {
        Check::Exec {
            command: shell_template(path, "exec", exec, scope, errors)?,
        }
    } else if let Some(log) = &raw.log {
        match Regex::new(log.get_ref()) {
            Ok(pattern) => Check::Log { pattern },
            Err(e) => {
                errors.push(
                    Some(log.span()),
                    format!("{path}.log"),
                    format!("invalid regular expression: {e}"),
                    None,
                );
                return None;
            }
        }
    } else if let Some(flag) = raw.notify.as_ref().or(raw.none.as_ref()) {
        let key = if raw.notify.is_some() {
            "notify"
        } else {
            "none"
        };
        if !*flag.get_ref() {
            errors.push(
                Some(flag.span()),
                format!("{path}.{key}"),
                format!("`{key} = false` turns nothing on"),
                Some(format!("write `{key} = true`")),
            );
            return None;
        }
        if key == "notify" {
            Check::Notify
        } else {
            Check::None
        }
    } else {
        return None;
    };

    let period = duration(
        path,
        "period",
        raw.period.as_ref(),
        durations::PERIOD,
        errors,
    )
    .unwrap_or(defaults.period);
    let default_timeout = if matches!(check, Check::Exec { .. }) {
        DEFAULT_EXEC_TIMEOUT
    } else {
        DEFAULT_TIMEOUT
    };
    let timeout = duration(
        path,
        "timeout",
        raw.timeout.as_ref(),
        durations::TIMEOUT,
        errors,
    )
    .unwrap_or(default_timeout);
    let failure_threshold = match &raw.failure_threshold {
        Some(t) if *t.get_ref() == 0 => {
            errors.push(
                Some(t.span()),
                format!("{path}.failure_threshold"),
                "must be at least 1",
                None,
            );
            DEFAULT_FAILURE_THRESHOLD
        }
        Some(t) => *t.get_ref(),
        None => DEFAULT_FAILURE_THRESHOLD,
    };
    Some(Probe {
        check,
        period,
        timeout,
        failure_threshold,
    })
}

/// `127.0.0.1:${port}` or `[::1]:${port}`, as a template.
fn host_port(host: std::net::IpAddr) -> String {
    match host {
        std::net::IpAddr::V4(v4) => format!("{v4}:${{port}}"),
        std::net::IpAddr::V6(v6) => format!("[{v6}]:${{port}}"),
    }
}

/// The service's own address for tcp checks.
fn own_address(host: std::net::IpAddr, scope: &Scope<'_>) -> Option<Template> {
    Template::parse(&host_port(host), scope).ok()
}

/// "200", "200-299" or "2xx".
fn parse_status(text: &str) -> Option<StatusRange> {
    let text = text.trim();
    let valid = |code: u16| (100..=599).contains(&code);
    if let Some(class) = text.strip_suffix("xx").or_else(|| text.strip_suffix("XX")) {
        let digit: u16 = class.parse().ok()?;
        let low = digit * 100;
        return valid(low).then_some(StatusRange {
            low,
            high: low + 99,
        });
    }
    let (low, high) = match text.split_once('-') {
        Some((low, high)) => (low.trim().parse().ok()?, high.trim().parse().ok()?),
        None => {
            let code = text.parse().ok()?;
            (code, code)
        }
    };
    (valid(low) && valid(high) && low <= high).then_some(StatusRange { low, high })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn status_ranges() {
        assert_eq!(
            parse_status("200"),
            Some(StatusRange {
                low: 200,
                high: 200
            })
        );
        assert_eq!(
            parse_status("200-299"),
            Some(StatusRange {
                low: 200,
                high: 299
            })
        );
        assert_eq!(
            parse_status("3xx"),
            Some(StatusRange {
                low: 300,
                high: 399
            })
        );
        assert_eq!(parse_status("299-200"), None);
        assert_eq!(parse_status("abc"), None);
        assert_eq!(parse_status("9xx"), None);
    }
}
