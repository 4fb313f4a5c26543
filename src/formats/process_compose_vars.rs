//! process-compose's text substitutions and `extends`, as it performs them.
//!
//! process-compose runs `envsubst` over the whole file before parsing it
//! (`$VAR`, `${VAR}`, `${VAR:-default}`; `$$` is a literal `$`; off with
//! `disable_env_expansion: true`), then renders Go templates (`{{.VAR}}`)
//! with the file's `vars` overlaid by the process's own `vars` (and
//! `PC_REPLICA_NUM`) in the command, `working_dir`, `environment` and the
//! probes.
//!
//! Here an environment variable in a command or env value becomes
//! bringup's `${env.VAR:-default}`, so the written bringup.toml still
//! reads the environment when it is loaded, as process-compose does at its
//! start, instead of freezing the value the importer saw; anywhere else
//! (ports, directories, timings) the value is read now. Templates other than
//! `{{.NAME}}` (pipelines, conditions) are kept as written with a warning.
//!
//! `extends` merges like process-compose's mergo-based merger: the
//! extending side wins key by key, mappings merge recursively, and
//! `environment` lists merge by variable name.

use std::collections::BTreeMap;
use std::sync::LazyLock;

use regex::Regex;

use crate::formats::yaml::{Entry, Node, Value};

/// Whether a substituted value stays a bringup template or is read now.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Expand {
    /// `${env.VAR:-default}`: for text bringup interpolates.
    Template,
    /// The variable's value now.
    Now,
    /// No expansion (`disable_env_expansion`); only `${` is escaped.
    Off,
}

/// `text` with environment variables substituted as `mode` says; the
/// result is bringup config text (a literal `${` escaped).
pub fn expand_env(text: &str, mode: Expand, env: &dyn Fn(&str) -> Option<String>) -> String {
    if mode == Expand::Off {
        return crate::formats::escape_templates(text);
    }
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(at) = rest.find('$') {
        out.push_str(&rest[..at]);
        let after = &rest[at + 1..];
        if let Some(tail) = after.strip_prefix('$') {
            literal_dollar(&mut out, tail, mode);
            rest = tail;
            continue;
        }
        let (name, default, used) = if let Some(inner) = after.strip_prefix('{') {
            match inner.find('}') {
                Some(end) => {
                    let body = &inner[..end];
                    let (name, default) =
                        match body.split_once(":-").or_else(|| body.split_once('-')) {
                            Some((n, d)) => (n, Some(d)),
                            None => (body, None),
                        };
                    (name, default, end + 2)
                }
                None => ("", None, 0),
            }
        } else {
            let len = after
                .find(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
                .unwrap_or(after.len());
            (&after[..len], None, len)
        };
        let valid = !name.is_empty()
            && !name.starts_with(|c: char| c.is_ascii_digit())
            && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_');
        if !valid {
            literal_dollar(&mut out, after, mode);
            rest = after;
            continue;
        }
        match mode {
            Expand::Template => {
                let default =
                    crate::formats::escape_templates(default.unwrap_or("")).replace('}', "");
                out.push_str(&format!("${{env.{name}:-{default}}}"));
            }
            _ => {
                let value = env(name)
                    .filter(|v| !v.is_empty() || default.is_none())
                    .or(default.map(str::to_string))
                    .unwrap_or_default();
                out.push_str(&value);
            }
        }
        rest = &after[used..];
    }
    out.push_str(rest);
    out
}

fn literal_dollar(out: &mut String, next: &str, mode: Expand) {
    out.push('$');
    if mode == Expand::Template && next.starts_with('{') {
        out.push('$');
    }
}

static TEMPLATE: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r"\{\{-?\s*([^{}]*?)\s*-?\}\}").unwrap_or_else(|_| unreachable!()));

/// Renders `{{.NAME}}` from `vars`; returns the text and the problems
/// (templates not rendered, names not defined).
pub fn render(text: &str, vars: &BTreeMap<String, String>) -> (String, Vec<String>) {
    let mut problems = Vec::new();
    let rendered = TEMPLATE.replace_all(text, |caps: &regex::Captures<'_>| {
        let inner = &caps[1];
        let simple = inner
            .strip_prefix('.')
            .filter(|n| !n.is_empty() && n.chars().all(|c| c.is_ascii_alphanumeric() || c == '_'));
        match simple.map(|n| (n, vars.get(n))) {
            Some((_, Some(value))) => value.clone(),
            Some((name, None)) => {
                problems.push(format!("template variable `{name}` is not defined in `vars`; rendered as `<no value>` as process-compose does"));
                "<no value>".to_string()
            }
            None => {
                problems.push(format!("template `{}` is more than `{{{{.NAME}}}}`; kept as written", &caps[0]));
                caps[0].to_string()
            }
        }
    });
    (rendered.into_owned(), problems)
}

/// `vars` of a mapping, as strings.
pub fn vars(node: Option<&Node>) -> BTreeMap<String, String> {
    node.and_then(Node::as_map)
        .map(|entries| {
            entries
                .iter()
                .map(|e| {
                    (
                        e.key.clone(),
                        e.value.as_str().unwrap_or_default().to_string(),
                    )
                })
                .collect()
        })
        .unwrap_or_default()
}

/// `base` overlaid with `over`, as process-compose's `extends` merges.
pub fn merge(base: &Node, over: &Node) -> Node {
    let (Some(base_map), Some(over_map)) = (base.as_map(), over.as_map()) else {
        return over.clone();
    };
    let mut entries: Vec<Entry> = base_map.to_vec();
    for entry in over_map {
        match entries.iter_mut().find(|e| e.key == entry.key) {
            Some(existing) if entry.key == "environment" => {
                existing.value = merge_env(&existing.value, &entry.value);
                existing.key_at = entry.key_at;
            }
            Some(existing) => {
                existing.value = merge(&existing.value, &entry.value);
                existing.key_at = entry.key_at;
            }
            None => entries.push(entry.clone()),
        }
    }
    Node {
        at: over.at,
        value: Value::Map(entries),
    }
}

/// Two `environment` lists merged by variable name, `over` winning.
fn merge_env(base: &Node, over: &Node) -> Node {
    let key = |n: &Node| {
        n.as_str()
            .map(|s| s.split('=').next().unwrap_or(s).to_string())
    };
    let mut items: Vec<Node> = base.as_seq().map(<[Node]>::to_vec).unwrap_or_default();
    for item in over.as_seq().unwrap_or_default() {
        match items.iter_mut().find(|i| key(i) == key(item)) {
            Some(existing) => *existing = item.clone(),
            None => items.push(item.clone()),
        }
    }
    Node {
        at: over.at,
        value: Value::Seq(items),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn env_expansion_as_templates_or_values() {
        let env = |n: &str| (n == "HOME").then(|| "/home/u".to_string());
        let t = |s| expand_env(s, Expand::Template, &env);
        assert_eq!(
            t("echo $HOME ${X:-a} $$HOME $${Y} 5$"),
            "echo ${env.HOME:-} ${env.X:-a} $HOME $${Y} 5$"
        );
        let n = |s| expand_env(s, Expand::Now, &env);
        assert_eq!(n("$HOME/x ${NOPE:-d} $$"), "/home/u/x d $");
        assert_eq!(expand_env("${A}", Expand::Off, &env), "$${A}");
    }

    #[test]
    fn templates_render_simple_names_only() {
        let vars = BTreeMap::from([("PORT".to_string(), "80".to_string())]);
        let (text, problems) = render("x {{.PORT}} {{ .PORT }} {{.NO}} {{if .A}}", &vars);
        assert_eq!(text, "x 80 80 <no value> {{if .A}}");
        assert_eq!(problems.len(), 2);
    }
}
