//! Config fuzzing: random text and mutations of real configs (the demo,
//! the README's example) must never panic, and every rejection must say
//! where: a line and column inside the file. Service names and durations
//! get their own generators (huge, empty, colliding, absurd), and what
//! passes must be within the limits the engine relies on.

// A test fails by panicking; `expect` says why.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::path::Path;

mod support;

use bringup::config;
use proptest::prelude::*;

/// The README's example config.
const README_EXAMPLE: &str = r#"
[project]
name = "card-grader"
max_parallel_starts = 4
env = { RUST_LOG = "info" }
ready_timeout = "60s"
stop_grace = "5s"

[services.database]
command = "postgres -D ./data -p ${port}"
port = 5432
readiness = { exec = "pg_isready -p ${port}" }

[services.migrate]
kind = "task"
command = "./migrate up"
depends_on = { database = "required" }

[services.api]
command = ["uvicorn", "api:app", "--port", "${port}"]
port = 8000
depends_on = { database = "required", migrate = "completed", cache = "optional" }
readiness = { http = "/health/ready", status = "200-299", json = { "/status" = "ready" } }
liveness = { http = "/health/live", period = "5s", failure_threshold = 3 }
restart = "on-failure"
max_restarts = 5
backoff = { initial = "250ms", max = "30s" }
env = { DATABASE_URL = "postgres://127.0.0.1:${services.database.port}/app" }

[services.cache]
command = "redis-server --port ${port}"
port = "auto"
optional = true

[ui]
theme = "light"
keys = { restart = "f5" }
"#;

fn check(text: &str) -> Result<(), TestCaseError> {
    let env = |var: &str| (var == "HOME").then(|| "/home/x".to_string());
    let lines = text.lines().count().max(1);
    match support::config::check(text, Path::new("fuzz.toml"), &env) {
        Ok(plan) => prop_assert!(!plan.services.is_empty()),
        Err(errors) => {
            prop_assert!(!errors.errors.is_empty(), "rejected without a reason");
            for error in &errors.errors {
                prop_assert!(
                    error.line >= 1 && error.line <= lines + 1,
                    "line {} of {lines}: {error}",
                    error.line
                );
                prop_assert!(error.column >= 1, "{error}");
                prop_assert!(!error.message.is_empty(), "{error}");
                prop_assert!(error.to_string().starts_with("fuzz.toml:"), "{error}");
            }
        }
    }
    Ok(())
}

/// Mutations a hand editing a config (or a bad merge) could make.
#[derive(Debug, Clone)]
enum Mutation {
    Delete { at: usize, len: usize },
    Insert { at: usize, text: String },
    DuplicateLine(usize),
    SwapLines(usize, usize),
    DropLine(usize),
}

fn mutation() -> impl Strategy<Value = Mutation> {
    let token = prop_oneof![
        Just("=".to_string()),
        Just("[".to_string()),
        Just("]".to_string()),
        Just("{".to_string()),
        Just("}".to_string()),
        Just("\"".to_string()),
        Just(",".to_string()),
        Just("\n".to_string()),
        Just("#".to_string()),
        Just("${".to_string()),
        Just("[services.x]\n".to_string()),
        Just("depends_on = [\"api\"]\n".to_string()),
        Just("port = 0\n".to_string()),
        Just("readiness = { tcp = true, http = \"/\" }\n".to_string()),
        Just(format!(
            "[services.{}]\ncommand = \"x\"\n",
            "n".repeat(70_000)
        )),
        Just("[services.API]\nport = 1\n[services.api]\nport = 2\n".to_string()),
        Just("[services.a-b]\nport = 3\n[services.a_b]\nport = 4\n".to_string()),
        Just("stop_grace = \"100000000y\"\n".to_string()),
        Just("ready_timeout = \"0s\"\n".to_string()),
        Just("dependency_timeout = \"18446744073709551615s\"\n".to_string()),
        Just("backoff = { initial = \"584542046090y\", max = \"1ns\" }\n".to_string()),
        Just("\\u0000".to_string()),
        "[a-z_]{1,12}",
        "[0-9]{1,7}",
        "\\PC{1,4}",
    ];
    prop_oneof![
        (any::<usize>(), 1usize..40).prop_map(|(at, len)| Mutation::Delete { at, len }),
        (any::<usize>(), token).prop_map(|(at, text)| Mutation::Insert { at, text }),
        any::<usize>().prop_map(Mutation::DuplicateLine),
        (any::<usize>(), any::<usize>()).prop_map(|(a, b)| Mutation::SwapLines(a, b)),
        any::<usize>().prop_map(Mutation::DropLine),
    ]
}

fn mutate(text: &str, mutations: &[Mutation]) -> String {
    let mut text = text.to_string();
    for mutation in mutations {
        let boundary = |text: &str, at: usize| {
            let mut at = at % (text.len() + 1);
            while !text.is_char_boundary(at) {
                at -= 1;
            }
            at
        };
        match mutation {
            Mutation::Delete { at, len } => {
                let start = boundary(&text, *at);
                let end = boundary(&text, (start + len).min(text.len()));
                text.replace_range(start..end.max(start), "");
            }
            Mutation::Insert { at, text: insert } => {
                let at = boundary(&text, *at);
                text.insert_str(at, insert);
            }
            Mutation::DuplicateLine(n) | Mutation::DropLine(n) => {
                let mut lines: Vec<String> = text.lines().map(str::to_string).collect();
                if !lines.is_empty() {
                    let i = n % lines.len();
                    if matches!(mutation, Mutation::DuplicateLine(_)) {
                        lines.insert(i, lines[i].clone());
                    } else {
                        lines.remove(i);
                    }
                }
                text = lines.join("\n");
            }
            Mutation::SwapLines(a, b) => {
                let mut lines: Vec<String> = text.lines().map(str::to_string).collect();
                if !lines.is_empty() {
                    let (a, b) = (a % lines.len(), b % lines.len());
                    lines.swap(a, b);
                }
                text = lines.join("\n");
            }
        }
    }
    text
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 600, failure_persistence: None, ..ProptestConfig::default() })]

    #[test]
    fn mutated_demo_configs_never_panic(mutations in prop::collection::vec(mutation(), 1..6)) {
        check(&mutate(config::DEMO, &mutations))?;
    }

    #[test]
    fn mutated_readme_configs_never_panic(mutations in prop::collection::vec(mutation(), 1..6)) {
        check(&mutate(README_EXAMPLE, &mutations))?;
    }

    #[test]
    fn random_text_never_panics(text in "\\PC{0,400}") {
        check(&text)?;
    }

    #[test]
    fn random_toml_shaped_text_never_panics(text in "(\\[[a-z.]{1,12}\\]\n|[a-z_]{1,10} = (\"[^\"\n]{0,12}\"|[0-9]{1,6}|true|\\[[0-9, ]{0,12}\\]|\\{ [a-z]{1,6} = \"[a-z]{0,6}\" \\})\n){0,30}") {
        check(&text)?;
    }
}

/// A service name: mostly plain, else odd, long, or 70,000 characters.
fn name() -> impl Strategy<Value = String> {
    prop_oneof![
        12 => "[a-z][a-z0-9_-]{0,20}",
        1 => "[a-zA-Z0-9_-]{1,70}",
        1 => "[a-z]{60,66}",
        1 => "\\PC{0,12}",
        1 => Just(String::new()),
        1 => Just("n".repeat(70_000)),
        1 => prop_oneof![Just("API"), Just("api"), Just("a-b"), Just("a_b")].prop_map(String::from),
    ]
}

/// A duration as someone might write it, mostly sensible, or absent.
fn duration() -> impl Strategy<Value = Option<String>> {
    let written = prop_oneof![
        12 => "[1-9][0-9]{0,2} ?(ms|s|m)",
        1 => "[0-9]{1,22} ?(ns|us|ms|s|m|min|h|d|w|M|y)",
        1 => "[0-9]{1,3}(h|m|s) ?[0-9]{1,3}(ms|s)",
        1 => "[ -~]{0,12}",
        1 => prop_oneof![
            Just("0s"),
            Just("100000000y"),
            Just("584542046090y"),
            Just("18446744073709551615s 999ms"),
        ]
        .prop_map(String::from),
    ];
    prop::option::weighted(0.3, written)
}

/// A config with every duration key (each maybe left out) and names in
/// the places names go.
fn named_and_timed(names: &[String], durations: &[Option<String>]) -> String {
    let q = |text: &str| toml::Value::String(text.to_string()).to_string();
    let (a, b, c) = (q(&names[0]), q(&names[1]), q(&names[2]));
    // `key = "value"` entries, joined for a table or an inline table.
    let keys = |entries: &[(&str, usize)], separator: &str| {
        entries
            .iter()
            .filter_map(|(key, i)| durations[*i].as_ref().map(|d| format!("{key} = {}", q(d))))
            .collect::<Vec<_>>()
            .join(separator)
    };
    let with = |entries: &[(&str, usize)], first: &str| {
        std::iter::once(first.to_string())
            .chain(std::iter::once(keys(entries, ", ")).filter(|k| !k.is_empty()))
            .collect::<Vec<_>>()
            .join(", ")
    };
    format!(
        r#"[project]
{}

[services.{a}]
command = "x --port ${{port}}"
port = "auto"
{}
backoff = {{ {} }}
readiness = {{ {} }}
liveness = {{ {} }}
depends_on = {{ {b} = "optional", {c} = "required" }}

[services.{b}]
command = "y"
port = 8000

[services.{c}]
command = ["z"]
"#,
        keys(
            &[
                ("stop_grace", 0),
                ("ready_timeout", 1),
                ("dependency_timeout", 2)
            ],
            "\n"
        ),
        keys(
            &[
                ("ready_timeout", 3),
                ("dependency_timeout", 4),
                ("stop_grace", 5)
            ],
            "\n"
        ),
        keys(&[("initial", 6), ("max", 7)], ", "),
        with(&[("period", 8), ("timeout", 9)], "exec = \"true\""),
        with(&[("period", 10), ("timeout", 11)], "tcp = true"),
    )
}

/// What the engine relies on in a plan that passed.
fn within_limits(plan: &config::Plan) -> Result<(), TestCaseError> {
    let day = std::time::Duration::from_secs(24 * 60 * 60);
    let mut variables = std::collections::BTreeSet::new();
    for spec in &plan.services {
        prop_assert!(!spec.name.is_empty() && spec.name.chars().count() <= config::MAX_NAME_LEN);
        if spec.port.is_some() {
            prop_assert!(
                variables.insert(config::port_variable(&spec.name)),
                "{} shares its port variable",
                spec.name
            );
        }
        let probes = std::iter::once(&spec.readiness).chain(spec.liveness.as_ref());
        let mut durations = vec![
            spec.ready_timeout,
            spec.dependency_timeout,
            spec.stop_grace,
            spec.backoff.initial,
            spec.backoff.max,
        ];
        for probe in probes {
            prop_assert!(!probe.period.is_zero() && !probe.timeout.is_zero());
            durations.extend([probe.period, probe.timeout]);
        }
        for d in durations {
            prop_assert!(d <= day, "{} has {d:?}", spec.name);
        }
        prop_assert!(!spec.ready_timeout.is_zero() && !spec.backoff.initial.is_zero());
    }
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 300, failure_persistence: None, ..ProptestConfig::default() })]

    #[test]
    fn names_and_durations_are_checked_never_a_panic(
        names in prop::collection::vec(name(), 3),
        durations in prop::collection::vec(duration(), 12),
    ) {
        let text = named_and_timed(&names, &durations);
        check(&text)?;
        if let Ok(plan) = support::config::check(&text, Path::new("fuzz.toml"), &|_| None) {
            within_limits(&plan)?;
        }
    }
}

#[test]
fn the_unmutated_examples_are_valid() {
    for (name, text) in [("demo", config::DEMO), ("README example", README_EXAMPLE)] {
        if let Err(errors) = support::config::check(text, Path::new("example.toml"), &|_| None) {
            panic!("the {name} must load: {errors}");
        }
    }
}
