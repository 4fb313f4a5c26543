//! Duration keys: parsing (`"500ms"`, `"30s"`, `"1m30s"`) and the range
//! each key accepts.
//!
//! humantime reads anything up to about 584 billion years, and the engine
//! adds durations to clocks and multiplies backoffs: a value near that
//! limit overflowed and crashed the engine, and a merely absurd one
//! (`stop_grace = "100000000y"`) made a stop wait forever. So every key has
//! a range, checked here with the value's place: an upper bound that is
//! generous for any real stack and some nine orders of magnitude below
//! overflow, and zero only where zero means something ("no grace: kill at
//! once", "do not wait for optional dependencies").

use std::time::Duration;

use toml::Spanned;

use crate::config::error::Collector;

const HOUR: Duration = Duration::from_secs(60 * 60);
const DAY: Duration = Duration::from_secs(24 * 60 * 60);

/// The range one duration key accepts.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Limits {
    /// Whether zero means something for this key.
    pub zero: bool,
    pub max: Duration,
    /// `max` as written in messages.
    pub max_text: &'static str,
}

/// How long a service may take to become ready before it is `not_ready`.
pub(crate) const READY_TIMEOUT: Limits = Limits {
    zero: false,
    max: DAY,
    max_text: "24h",
};
/// How long an optional dependency may hold a service back; zero: not at all.
pub(crate) const DEPENDENCY_TIMEOUT: Limits = Limits {
    zero: true,
    max: DAY,
    max_text: "24h",
};
/// Between the stop signal and SIGKILL; zero: SIGKILL at once. An hour
/// bounds how long a stop (and so `q` or Ctrl-C) can take.
pub(crate) const STOP_GRACE: Limits = Limits {
    zero: true,
    max: HOUR,
    max_text: "1h",
};
/// Restart delays. The first must be longer than zero: it doubles from
/// there, and zero would double to zero forever.
pub(crate) const BACKOFF: Limits = Limits {
    zero: false,
    max: HOUR,
    max_text: "1h",
};
/// How often a probe runs.
pub(crate) const PERIOD: Limits = Limits {
    zero: false,
    max: DAY,
    max_text: "24h",
};
/// How long one check may take.
pub(crate) const TIMEOUT: Limits = Limits {
    zero: false,
    max: HOUR,
    max_text: "1h",
};

/// Parses the duration at `path.key`, recording a bad or out-of-range one.
pub(crate) fn duration(
    path: &str,
    key: &str,
    raw: Option<&Spanned<String>>,
    limits: Limits,
    errors: &mut Collector<'_>,
) -> Option<Duration> {
    let raw = raw?;
    let key_path = format!("{path}.{key}");
    let parsed = match humantime::parse_duration(raw.get_ref().trim()) {
        Ok(d) => d,
        Err(e) => {
            errors.push(
                Some(raw.span()),
                key_path,
                format!("invalid duration {:?}: {e}", raw.get_ref()),
                Some("write a duration such as \"500ms\", \"30s\" or \"1m30s\"".into()),
            );
            return None;
        }
    };
    if parsed.is_zero() && !limits.zero {
        errors.push(
            Some(raw.span()),
            key_path,
            format!("`{key}` must be longer than zero"),
            Some("write a duration such as \"500ms\" or \"30s\"".into()),
        );
        return None;
    }
    if parsed > limits.max {
        errors.push(
            Some(raw.span()),
            key_path,
            format!(
                "{:?} is too long for `{key}`: at most {} is allowed",
                raw.get_ref(),
                limits.max_text
            ),
            Some(format!("write {} or less", limits.max_text)),
        );
        return None;
    }
    Some(parsed)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::Path;

    fn parse(text: &str, limits: Limits) -> Result<Duration, String> {
        let source = format!("x = {text:?}");
        let mut errors = Collector::new(Path::new("t.toml"), &source);
        let raw = Spanned::new(4..source.len(), text.to_string());
        match duration("p", "k", Some(&raw), limits, &mut errors) {
            Some(d) => Ok(d),
            None => Err(errors
                .finish()
                .err()
                .map(|e| e.errors[0].to_string())
                .unwrap_or_default()),
        }
    }

    #[test]
    fn limits_are_enforced_with_a_place() {
        assert_eq!(parse("1m30s", READY_TIMEOUT), Ok(Duration::from_secs(90)));
        assert_eq!(parse("0s", STOP_GRACE), Ok(Duration::ZERO));
        assert_eq!(parse("24h", PERIOD), Ok(DAY));
        let zero = parse("0s", READY_TIMEOUT).unwrap_err();
        assert!(
            zero.starts_with("t.toml:1:5: `p.k`: `k` must be longer than zero"),
            "{zero}"
        );
        let long = parse("100000000y", STOP_GRACE).unwrap_err();
        assert!(
            long.contains("\"100000000y\" is too long for `k`: at most 1h is allowed"),
            "{long}"
        );
        assert!(parse("18446744073709551615s", BACKOFF).is_err());
        assert!(
            parse("forever", TIMEOUT)
                .unwrap_err()
                .contains("invalid duration")
        );
    }
}
