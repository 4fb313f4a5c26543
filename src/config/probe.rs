//! Validation of probe tables (`readiness`, `liveness`) into [`Probe`]s.
//!
//! A probe table names exactly one check (`tcp`, `http`, `exec`, `log`,
//! `notify`, `none`) plus optional timing. Targets are templates, so
//! `http = "/health"` becomes `http://127.0.0.1:${port}/health` and picks up
//! the port the service really got.

use std::time::Duration;

use regex::Regex;
use toml::Spanned;

use crate::config::durations::{self, duration};
use crate::config::error::Collector;
use crate::config::interpolate::{Scope, Template, TemplateError};
use crate::config::plan::{Check, Probe, StatusRange};
use crate::config::raw::{RawProbe, TcpTarget};

/// Defaults that differ between readiness and liveness.
pub(crate) struct ProbeDefaults {
    pub period: Duration,
}

pub(crate) const READINESS_DEFAULTS: ProbeDefaults = ProbeDefaults {
    period: Duration::from_secs(2),
};
pub(crate) const LIVENESS_DEFAULTS: ProbeDefaults = ProbeDefaults {
    period: Duration::from_secs(5),
};

const DEFAULT_TIMEOUT: Duration = Duration::from_secs(1);
const DEFAULT_EXEC_TIMEOUT: Duration = Duration::from_secs(5);
const DEFAULT_FAILURE_THRESHOLD: u32 = 3;

/// Validates one probe table at `path` (e.g. `services.api.readiness`).
pub(crate) fn probe(
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
pub(crate) fn own_address(host: std::net::IpAddr, scope: &Scope<'_>) -> Option<Template> {
    Template::parse(&host_port(host), scope).ok()
}

/// Parses a template, recording a failure at the value's place. A NUL
/// byte (TOML's `\u0000`, or one inside a value it refers to) is refused
/// here: it would pass every other check and then fail at each spawn or
/// probe, since no argument, environment value or address can hold one.
pub(crate) fn template(
    path: &str,
    key: &str,
    text: &Spanned<String>,
    scope: &Scope<'_>,
    errors: &mut Collector<'_>,
) -> Option<Template> {
    match Template::parse(text.get_ref(), scope) {
        Ok(t) if t.contains_nul() => {
            let problem = TemplateError {
                message: "contains a NUL character (\\0), which no command, argument or environment value can hold".into(),
                help: Some("remove it (look for `\\u0000` in the string, or in the variables it uses)".into()),
            };
            push(errors, text, path, key, problem);
            None
        }
        Ok(t) => Some(t),
        Err(e) => {
            push(errors, text, path, key, e);
            None
        }
    }
}

/// Records a template problem at the value's place.
fn push(
    errors: &mut Collector<'_>,
    text: &Spanned<String>,
    path: &str,
    key: &str,
    problem: TemplateError,
) {
    errors.push(
        Some(text.span()),
        format!("{path}.{key}"),
        problem.message,
        problem.help,
    );
}

/// [`template`] for text `sh -c` will run (a shell-string `command`, an
/// `exec` check): every value in it must be where it can be quoted.
pub(crate) fn shell_template(
    path: &str,
    key: &str,
    text: &Spanned<String>,
    scope: &Scope<'_>,
    errors: &mut Collector<'_>,
) -> Option<Template> {
    let template = template(path, key, text, scope, errors)?;
    if let Some(problem) = template.shell_problem() {
        push(errors, text, path, key, problem);
        return None;
    }
    if let Some(warning) = template.script_problem(false) {
        errors.warn(
            Some(text.span()),
            format!("{path}.{key}"),
            warning.message,
            warning.help,
        );
    }
    Some(template)
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
