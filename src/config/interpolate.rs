//! `${...}` interpolation in commands, env values and probe targets.
//!
//! Names are resolved when the config is loaded, so an unknown name is a
//! config error and not a surprise at spawn time. What cannot change during
//! a run (`${env.VAR}`, `${bringup}`) is looked up right away; what is only
//! known when a service starts (its port, other services' ports, which the
//! port allocator may move) stays a placeholder until [`Template::render`].
//!
//! Syntax: `${port}`, `${services.NAME.port}`, `${services.NAME.host}`,
//! `${env.VAR}`, `${env.VAR:-default}`, `${bringup}`. `$${` writes a literal `${`; a `$`
//! not followed by `{` is left alone, so shell variables such as `$HOME`
//! pass through to `sh -c` untouched.
//!
//! `${services.NAME.host}` is where NAME is reached: locally its loopback
//! address (its `host`, or the loopback of its family when it listens on
//! a wildcard), known at load time; in an export, its DNS name on the
//! container network ([`Template::render_for`] with [`Targets`]), so one
//! config works in both places.
//!
//! Values are data, never code. `${env.VAR}` and `${bringup}` come from
//! outside the file, so where a shell parses the text (a shell-string
//! `command`, an `exec` check) [`Template::render_shell`] quotes them for
//! the place they land in ([`crate::config::quoting`]): the program gets
//! exactly the value, as one word, whatever `$(…)`, backticks, `;`, quotes
//! or newlines it holds. Where no shell parses the text (argument arrays,
//! env values, http and tcp targets) [`Template::render`] inserts them as
//! they are. A default (`${env.VAR:-default}`) is a value like any other:
//! quoted the same way, so `${env.DIR:-$HOME}` gives the text `$HOME`, not
//! the home directory; a shell variable written in the config itself
//! (`$HOME`, `$PORT`) is shell and expands as usual.

use crate::config::plan::ServiceId;
use crate::config::quoting::{Quoting, Scanner, quote};

/// A string with port placeholders, ready to render at spawn time.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Template {
    parts: Vec<Part>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum Part {
    /// Text written in the config.
    Literal(String),
    /// A value from outside the config (`${env.VAR}`, `${bringup}`).
    Data {
        /// What was written between `${` and `}`, for messages.
        name: String,
        value: String,
        /// How it is quoted when a shell parses the text.
        quoting: Quoting,
        /// It lands in the script given to `-c` (see [`Template::script_problem`]).
        script: bool,
    },
    OwnPort,
    PortOf(ServiceId),
    /// `${services.NAME.host}`, with the address it has when bringup runs
    /// the stack here.
    HostOf {
        id: ServiceId,
        local: String,
    },
}

/// Where ports and hosts point when a template is rendered for another
/// platform (an export) instead of this machine.
pub struct Targets<'a> {
    /// `${port}`.
    pub own_port: Option<u16>,
    /// `${services.NAME.port}`.
    pub port_of: &'a dyn Fn(ServiceId) -> Option<u16>,
    /// `${services.NAME.host}`.
    pub host_of: &'a dyn Fn(ServiceId) -> String,
}

/// Everything a template may refer to while it is being resolved.
pub struct Scope<'a> {
    /// Service names in declaration order (index = `ServiceId`).
    pub services: &'a [String],
    /// Which services have a port.
    pub has_port: &'a [bool],
    /// Where each service is reached on this machine (`${services.NAME.host}`).
    pub hosts: &'a [String],
    /// The service the template belongs to, if any (`${port}`).
    pub own: Option<ServiceId>,
    /// Looks up `${env.VAR}`.
    pub env: &'a dyn Fn(&str) -> Option<String>,
    /// What `${bringup}` stands for.
    pub bringup: &'a str,
}

/// Why a template could not be resolved.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TemplateError {
    pub message: String,
    pub help: Option<String>,
}

impl Template {
    /// A template that is plain text.
    pub fn literal(text: impl Into<String>) -> Self {
        Self {
            parts: vec![Part::Literal(text.into())],
        }
    }

    /// Parses `text` and resolves every `${...}` against `scope`.
    pub fn parse(text: &str, scope: &Scope<'_>) -> Result<Self, TemplateError> {
        let mut parts = Vec::new();
        let mut literal = String::new();
        let mut rest = text;
        while let Some(dollar) = rest.find('$') {
            literal.push_str(&rest[..dollar]);
            let after = &rest[dollar + 1..];
            if let Some(escaped) = after.strip_prefix("${") {
                literal.push_str("${");
                rest = escaped;
            } else if let Some(open) = after.strip_prefix('{') {
                let Some(close) = open.find('}') else {
                    return Err(TemplateError {
                        message: format!("unterminated `${{` in {text:?}"),
                        help: Some("close it with `}`, or write `$${` for a literal `${`".into()),
                    });
                };
                let placeholder = resolve(open[..close].trim(), scope)?;
                if !literal.is_empty() {
                    parts.push(Part::Literal(std::mem::take(&mut literal)));
                }
                parts.push(placeholder);
                rest = &open[close + 1..];
            } else {
                literal.push('$');
                rest = after;
            }
        }
        literal.push_str(rest);
        if !literal.is_empty() {
            parts.push(Part::Literal(literal));
        }
        // Where each value lands, should a shell parse this text.
        let mut scanner = Scanner::default();
        for part in &mut parts {
            match part {
                Part::Literal(text) => scanner.feed(text),
                Part::Data {
                    quoting, script, ..
                } => {
                    *quoting = scanner.quoting();
                    *script = scanner.in_script();
                    scanner.value();
                }
                Part::OwnPort | Part::PortOf(_) | Part::HostOf { .. } => scanner.value(),
            }
        }
        Ok(Self { parts })
    }

    /// Why this template cannot be given to a shell, if it cannot: a value
    /// sits where bringup cannot quote it reliably (see
    /// [`crate::config::quoting`]). Checked for shell commands and `exec`
    /// checks when the config is loaded.
    pub fn shell_problem(&self) -> Option<TemplateError> {
        self.parts.iter().find_map(|part| match part {
            Part::Data {
                name,
                quoting: Quoting::Unsure(place),
                ..
            } => Some(TemplateError {
                message: format!(
                    "`${{{name}}}` is {place}, where bringup cannot quote its value safely for the shell"
                ),
                help: Some(format!(
                    "put it outside that construct, bare or in quotes; or pass it in the environment, e.g. `env = {{ VALUE = \"${{{name}}}\" }}`, and write \"$VALUE\" in the command"
                )),
            }),
            _ => None,
        })
    }

    /// A warning when an environment value becomes part of a script that
    /// another program runs: the word after `-c` in shell text (`bash -c
    /// 'echo ${env.X}'`), or, with `whole`, anywhere in this text (an
    /// argument after `"-c"` in an argument array). bringup's quoting keeps
    /// its own shell from running the value; that program gets it inside
    /// its code.
    pub fn script_problem(&self, whole: bool) -> Option<TemplateError> {
        self.parts.iter().find_map(|part| match part {
            Part::Data { name, script, .. } if name.starts_with("env.") && (whole || *script) => {
                let var = name
                    .trim_start_matches("env.")
                    .split(":-")
                    .next()
                    .unwrap_or_default();
                Some(TemplateError {
                    message: format!(
                        "`${{{name}}}` goes into the script given to `-c`: the program that runs it reads the value as code"
                    ),
                    help: Some(format!(
                        "pass it in the environment instead: `env = {{ {var} = \"${{{name}}}\" }}`, and write \"${var}\" in the script"
                    )),
                })
            }
            _ => None,
        })
    }

    /// The services whose port or host the text names
    /// (`${services.NAME.port}`, `${services.NAME.host}`).
    pub fn services(&self) -> impl Iterator<Item = ServiceId> + '_ {
        self.parts.iter().filter_map(|part| match part {
            Part::PortOf(id) | Part::HostOf { id, .. } => Some(*id),
            _ => None,
        })
    }

    /// The same text with every service it names renumbered by `map`
    /// (a plan merged into a running one keeps the running one's numbers).
    pub fn renumber(&mut self, map: &dyn Fn(ServiceId) -> ServiceId) {
        for part in &mut self.parts {
            match part {
                Part::PortOf(id) | Part::HostOf { id, .. } => *id = map(*id),
                _ => {}
            }
        }
    }

    /// Whether the text holds a NUL byte, which no argument, environment
    /// value or path can carry.
    pub fn contains_nul(&self) -> bool {
        self.parts.iter().any(|part| match part {
            Part::Literal(text) | Part::Data { value: text, .. } => text.contains('\0'),
            Part::OwnPort | Part::PortOf(_) => false,
            Part::HostOf { local, .. } => local.contains('\0'),
        })
    }

    /// The `${env.VAR}` names whose values were filled in from bringup's
    /// environment when the config loaded (an export writes the values).
    pub fn env_names(&self) -> impl Iterator<Item = &str> {
        self.parts.iter().filter_map(|part| match part {
            Part::Data { name, .. } if name.starts_with("env.") => Some(name.as_str()),
            _ => None,
        })
    }

    /// The text as it reads on another platform: ports and hosts from
    /// `targets`; with `shell`, values quoted as in [`Template::render_shell`].
    pub fn render_for(&self, targets: &Targets<'_>, shell: bool) -> String {
        self.render_with(
            targets.own_port,
            targets.port_of,
            Some(targets.host_of),
            shell,
        )
    }

    /// The text with ports filled in. A port that is not known renders as
    /// an empty string; validation guarantees every referenced service has
    /// a port, so this only happens if a caller passes incomplete ports.
    pub fn render(&self, own: Option<u16>, port_of: impl Fn(ServiceId) -> Option<u16>) -> String {
        self.render_with(own, &port_of, None, false)
    }

    /// As [`Template::render`], for text a shell will parse: values from
    /// outside the config are quoted, so the shell reads each as one word
    /// holding exactly the value, never as code.
    pub fn render_shell(
        &self,
        own: Option<u16>,
        port_of: impl Fn(ServiceId) -> Option<u16>,
    ) -> String {
        self.render_with(own, &port_of, None, true)
    }

    fn render_with(
        &self,
        own: Option<u16>,
        port_of: &dyn Fn(ServiceId) -> Option<u16>,
        host_of: Option<&dyn Fn(ServiceId) -> String>,
        shell: bool,
    ) -> String {
        let mut out = String::new();
        for part in &self.parts {
            match part {
                Part::Literal(text) => out.push_str(text),
                Part::Data { value, quoting, .. } if shell => {
                    out.push_str(&quote(value, *quoting));
                }
                Part::Data { value, .. } => out.push_str(value),
                Part::OwnPort => {
                    if let Some(port) = own {
                        out.push_str(&port.to_string());
                    }
                }
                Part::PortOf(id) => {
                    if let Some(port) = port_of(*id) {
                        out.push_str(&port.to_string());
                    }
                }
                Part::HostOf { id, local } => match host_of {
                    Some(host_of) => out.push_str(&host_of(*id)),
                    None => out.push_str(local),
                },
            }
        }
        out
    }
}

fn resolve(name: &str, scope: &Scope<'_>) -> Result<Part, TemplateError> {
    if name == "port" {
        return match scope.own {
            Some(own) if scope.has_port[own.0] => Ok(Part::OwnPort),
            Some(own) => Err(TemplateError {
                message: format!(
                    "`${{port}}` is used but service `{}` has no port",
                    scope.services[own.0]
                ),
                help: Some("give the service a `port = ...`".into()),
            }),
            None => Err(TemplateError {
                message: "`${port}` only means something inside a service".into(),
                help: Some("use `${services.NAME.port}`".into()),
            }),
        };
    }
    let data = |value: String| Part::Data {
        name: name.to_string(),
        value,
        quoting: Quoting::Bare,
        script: false,
    };
    if name == "bringup" {
        return Ok(data(scope.bringup.to_string()));
    }
    if let Some(var) = name.strip_prefix("env.") {
        let (var, default) = match var.split_once(":-") {
            Some((var, default)) => (var, Some(default)),
            None => (var, None),
        };
        return match ((scope.env)(var), default) {
            (Some(value), _) => Ok(data(value)),
            (None, Some(default)) => Ok(data(default.to_string())),
            (None, None) => Err(TemplateError {
                message: format!("environment variable `{var}` is not set"),
                help: Some(format!(
                    "set it, define it in [project] env, or give a default: `${{env.{var}:-value}}`"
                )),
            }),
        };
    }
    if let Some(rest) = name.strip_prefix("services.") {
        let (service, field) = rest.rsplit_once('.').unwrap_or((rest, ""));
        if field != "port" && field != "host" {
            return Err(TemplateError {
                message: format!(
                    "`${{{name}}}`: only `.port` and `.host` can be read from another service"
                ),
                help: Some(format!(
                    "write `${{services.{service}.port}}` or `${{services.{service}.host}}`"
                )),
            });
        }
        let Some(index) = scope.services.iter().position(|s| s == service) else {
            let known = scope.services.iter().map(String::as_str);
            return Err(TemplateError {
                message: format!("`${{{name}}}` names no service `{service}`"),
                help: crate::config::error::nearest(service, known)
                    .map(|n| format!("did you mean `${{services.{n}.{field}}}`?")),
            });
        };
        if field == "host" {
            let local = scope
                .hosts
                .get(index)
                .cloned()
                .unwrap_or_else(|| std::net::Ipv4Addr::LOCALHOST.to_string());
            return Ok(Part::HostOf {
                id: ServiceId(index),
                local,
            });
        }
        if !scope.has_port[index] {
            return Err(TemplateError {
                message: format!("`${{{name}}}`: service `{service}` has no port"),
                help: Some(format!("give `{service}` a `port = ...`")),
            });
        }
        return Ok(Part::PortOf(ServiceId(index)));
    }
    let hint = crate::config::error::nearest(name, ["port", "bringup"])
        .map(|n| format!("did you mean `${{{n}}}`?"))
        .unwrap_or_else(|| {
            format!(
                "known names: `${{port}}`, `${{services.NAME.port}}`, `${{services.NAME.host}}`, `${{env.VAR}}`, `${{bringup}}`; \
                 for a shell variable write `${name}` or `$${{{name}}}`"
            )
        });
    Err(TemplateError {
        message: format!("unknown name `${{{name}}}`"),
        help: Some(hint),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn scope_with<'a>(
        env: &'a dyn Fn(&str) -> Option<String>,
        services: &'a [String],
        has_port: &'a [bool],
    ) -> Scope<'a> {
        Scope {
            services,
            has_port,
            hosts: &[],
            own: Some(ServiceId(0)),
            env,
            bringup: "/bin/bringup",
        }
    }

    #[test]
    fn ports_stay_placeholders_and_the_rest_resolves() {
        let services = vec!["api".to_string(), "db".to_string()];
        let env = |var: &str| (var == "USER").then(|| "ada".to_string());
        let scope = scope_with(&env, &services, &[true, true]);
        let t = Template::parse(
            "${bringup} x --port ${port} --db ${services.db.port} --user ${env.USER} ${env.NOPE:-dflt} $HOME $${lit}",
            &scope,
        )
        .unwrap();
        let text = t.render(Some(8000), |id| (id.0 == 1).then_some(5432));
        assert_eq!(
            text,
            "/bin/bringup x --port 8000 --db 5432 --user ada dflt $HOME ${lit}"
        );
        // The ports are placeholders until render time: its own port, and
        // the port of service 1 (and no other) asked for when rendering.
        let asked = std::cell::RefCell::new(Vec::new());
        let text = t.render(Some(9000), |id| {
            asked.borrow_mut().push(id);
            Some(6000)
        });
        assert!(text.contains("--port 9000 --db 6000 "), "{text}");
        assert_eq!(asked.into_inner(), vec![ServiceId(1)]);
        let spaced = Scope {
            bringup: "/my dir/bringup",
            ..scope_with(&env, &services, &[true, true])
        };
        let t = Template::parse("${bringup} fixture", &spaced).unwrap();
        assert_eq!(t.render_shell(None, |_| None), "'/my dir/bringup' fixture");
        assert_eq!(t.render(None, |_| None), "/my dir/bringup fixture");
    }

    #[test]
    fn values_are_data_for_the_shell_and_as_is_elsewhere() {
        let services = vec!["api".to_string()];
        let hostile = "$(touch x); `id` 'q' \"d\"\nz";
        let env = |var: &str| (var == "V").then(|| hostile.to_string());
        let scope = scope_with(&env, &services, &[true]);
        let t = Template::parse(
            "a ${env.V} \"b ${env.V}\" 'c ${env.V}' $HOME ${port}",
            &scope,
        )
        .unwrap();
        assert_eq!(
            t.render(Some(1), |_| None),
            format!("a {hostile} \"b {hostile}\" 'c {hostile}' $HOME 1")
        );
        assert_eq!(
            t.render_shell(Some(1), |_| None),
            "a '$(touch x); `id` '\\''q'\\'' \"d\"\nz' \
             \"b \\$(touch x); \\`id\\` 'q' \\\"d\\\"\nz\" \
             'c $(touch x); `id` '\\''q'\\'' \"d\"\nz' $HOME 1"
        );
        // A default is a value too, not shell text.
        let t = Template::parse("echo ${env.UNSET:-$(id) x}", &scope).unwrap();
        assert_eq!(t.render_shell(None, |_| None), "echo '$(id) x'");
        assert!(t.shell_problem().is_none());
        // Where a value cannot be quoted reliably, the template says so.
        let t = Template::parse("echo $(cat ${env.V})", &scope).unwrap();
        let problem = t.shell_problem().unwrap();
        assert!(problem.message.contains("inside `$(…)`"), "{problem:?}");
        assert!(problem.help.unwrap().contains("\"$VALUE\""));
        assert!(!Template::parse("${env.V}", &scope).unwrap().contains_nul());
        // A value inside another program's script is noticed.
        let t = Template::parse("bash -c 'echo ${env.V}' ${bringup}", &scope).unwrap();
        let warning = t.script_problem(false).unwrap();
        assert!(
            warning
                .message
                .contains("`${env.V}` goes into the script given to `-c`")
        );
        assert!(
            warning
                .help
                .unwrap()
                .contains("`env = { V = \"${env.V}\" }`, and write \"$V\"")
        );
        let t = Template::parse("echo ${env.V}; sh -c '${bringup} x'", &scope).unwrap();
        assert!(t.script_problem(false).is_none());
        assert!(t.script_problem(true).is_some());
    }

    #[test]
    fn hosts_are_local_addresses_here_and_names_in_an_export() {
        let services = vec!["api".to_string(), "db".to_string()];
        let env = |_: &str| None;
        let hosts = ["127.0.0.1".to_string(), "::1".to_string()];
        let scope = Scope {
            hosts: &hosts,
            ..scope_with(&env, &services, &[true, true])
        };
        let t = Template::parse(
            "--bind ${services.api.host}:${port} --db ${services.db.host}:${services.db.port}",
            &scope,
        )
        .unwrap();
        assert_eq!(
            t.render(Some(8000), |_| Some(5432)),
            "--bind 127.0.0.1:8000 --db ::1:5432"
        );
        let port_of = |_: ServiceId| Some(5432);
        let host_of = |id: ServiceId| ["0.0.0.0", "db"][id.0].to_string();
        let targets = Targets {
            own_port: Some(80),
            port_of: &port_of,
            host_of: &host_of,
        };
        assert_eq!(
            t.render_for(&targets, true),
            "--bind 0.0.0.0:80 --db db:5432"
        );
        // A host needs no port; another field is refused with a hint.
        let scope = scope_with(&env, &services, &[true, false]);
        assert!(Template::parse("${services.db.host}", &scope).is_ok());
        let err = Template::parse("${services.db.url}", &scope).unwrap_err();
        assert!(err.help.unwrap().contains("${services.db.host}"));
        let err = Template::parse("${services.dv.host}", &scope).unwrap_err();
        assert_eq!(
            err.help.as_deref(),
            Some("did you mean `${services.db.host}`?")
        );
    }

    #[test]
    fn unknown_names_are_errors_with_hints() {
        let services = vec!["api".to_string(), "database".to_string()];
        let env = |_: &str| None;
        let scope = scope_with(&env, &services, &[true, false]);
        let err = Template::parse("${prot}", &scope).unwrap_err();
        assert_eq!(err.help.as_deref(), Some("did you mean `${port}`?"));
        let err = Template::parse("${services.databse.port}", &scope).unwrap_err();
        assert!(err.help.unwrap().contains("services.database.port"));
        let err = Template::parse("${services.database.port}", &scope).unwrap_err();
        assert!(err.message.contains("has no port"));
        let err = Template::parse("echo ${HOME}", &scope).unwrap_err();
        assert!(err.help.unwrap().contains("$HOME"));
        let err = Template::parse("${env.MISSING}", &scope).unwrap_err();
        assert!(err.message.contains("MISSING"));
        assert!(Template::parse("${port", &scope).is_err());
    }
}
