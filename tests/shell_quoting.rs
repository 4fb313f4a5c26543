//! `${env.VAR}` values in shell text are data: whatever a value holds, the
//! shells bringup may run (`sh`, which is dash here, and bash, which is
//! `sh` elsewhere) read exactly that value, in every place a config can put
//! it (bare, in double quotes, in single quotes, next to `$(…)`, after a
//! comment with a quote in it). Checked by running the real shells on the
//! rendered text, with random values full of shell syntax, in a scratch
//! directory that must stay empty (nothing a value says may run).

// A test fails by panicking; `expect` says why.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::path::Path;
use std::process::Command;

use bringup::config::interpolate::{Scope, Template};
use proptest::prelude::*;

/// Where a value can be placed, and what the shell must then print for `v`.
const PLACES: &[(&str, &str, &str)] = &[
    ("printf '%s' ${env.V}", "", ""),
    ("printf '%s' \"${env.V}\"", "", ""),
    ("printf '%s' '${env.V}'", "", ""),
    ("printf '%s' x${env.V}y", "x", "y"),
    ("printf '%s' \"a$(printf b)c${env.V}\"", "abc", ""),
    ("printf '%s' $(printf '%s' done) \"${env.V}\"", "done", ""),
    (
        "# it's a comment, \"with quotes\"\nprintf '%s' ${env.V}",
        "",
        "",
    ),
    ("X=${env.V}; printf '%s' \"$X\"", "", ""),
    ("( printf '%s' \"<${env.V}>\" )", "<", ">"),
    ("printf '%s' '[${env.V}]'", "[", "]"),
    ("printf '%s' 'a'\"b\"${env.V}'c'", "ab", "c"),
];

/// The shells to try: each that exists here.
fn shells() -> Vec<Vec<&'static str>> {
    [
        vec!["/bin/sh"],
        vec!["dash"],
        vec!["bash"],
        vec!["bash", "--posix"],
    ]
    .into_iter()
    .filter(|argv| {
        Command::new(argv[0])
            .args(&argv[1..])
            .args(["-c", "true"])
            .output()
            .is_ok_and(|o| o.status.success())
    })
    .collect()
}

fn render(place: &str, value: &str) -> String {
    let services: Vec<String> = Vec::new();
    let env = |var: &str| (var == "V").then(|| value.to_string());
    let scope = Scope {
        services: &services,
        has_port: &[],
        hosts: &[],
        own: None,
        env: &env,
        bringup: "/usr/bin/bringup",
    };
    let template = Template::parse(place, &scope).expect("template");
    assert!(template.shell_problem().is_none(), "{place}");
    template.render_shell(None, |_| None)
}

fn run(shell: &[&str], script: &str, dir: &Path) -> String {
    let output = Command::new(shell[0])
        .args(&shell[1..])
        .arg("-c")
        .arg(script)
        .current_dir(dir)
        .env_clear()
        .env("PATH", "/usr/bin:/bin")
        .output()
        .expect("run the shell");
    String::from_utf8_lossy(&output.stdout).into_owned()
}

fn check(value: &str) -> Result<(), TestCaseError> {
    let dir = tempfile::tempdir().expect("temp dir");
    for shell in shells() {
        for (place, before, after) in PLACES {
            let script = render(place, value);
            let printed = run(&shell, &script, dir.path());
            prop_assert_eq!(
                &printed,
                &format!("{before}{value}{after}"),
                "{:?} read {:?} from {:?}",
                shell,
                printed,
                script
            );
        }
    }
    let left: Vec<_> = std::fs::read_dir(dir.path())
        .expect("read dir")
        .filter_map(|e| e.ok().map(|e| e.file_name()))
        .collect();
    prop_assert!(left.is_empty(), "a value ran as code and made {left:?}");
    Ok(())
}

/// Characters with a meaning to some shell, and a few plain ones.
fn hostile() -> impl Strategy<Value = String> {
    let piece = prop_oneof![
        Just("$(touch a)".to_string()),
        Just("`touch b`".to_string()),
        Just("; touch c".to_string()),
        Just("' ; touch d ; '".to_string()),
        Just("\" ; touch e ; \"".to_string()),
        Just("\n touch f".to_string()),
        Just("\\".to_string()),
        Just("${HOME}".to_string()),
        Just("$HOME".to_string()),
        Just("{x,y}".to_string()),
        Just("*".to_string()),
        Just("~".to_string()),
        Just("#".to_string()),
        Just("!".to_string()),
        Just("%s".to_string()),
        Just("-n".to_string()),
        Just("é😀".to_string()),
        "[ -~\t\n]{1,6}",
    ];
    prop::collection::vec(piece, 0..6).prop_map(|pieces| pieces.concat())
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 48, failure_persistence: None, ..ProptestConfig::default() })]

    #[test]
    fn every_shell_reads_exactly_the_value(value in hostile()) {
        check(&value)?;
    }
}

#[test]
fn the_classic_attacks_are_data() {
    for value in [
        "",
        " ",
        "$(touch pwned)",
        "`touch pwned`",
        "; touch pwned",
        "a' ; touch pwned ; echo 'b",
        "a\" ; touch pwned ; echo \"b",
        "line\n touch pwned",
        "trailing backslash\\",
        "'",
        "\"",
        "''\"\"",
    ] {
        check(value).unwrap_or_else(|e| panic!("{value:?}: {e}"));
    }
}
