//! `bringup schema`, `bringup completions` and `bringup man`, as a user
//! (or an editor, or a shell) consumes them: the schema through a real
//! JSON Schema validator on real configs, the bash script through
//! `bash -n`, the man page through groff.

// A test fails by panicking; `expect` says why.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod support;

use std::path::Path;
use std::process::{Command, Stdio};

use support::tools;

/// `bringup schema` into `dir/schema.json`.
fn schema_in(dir: &Path) -> std::path::PathBuf {
    let (status, stdout, stderr) = support::run(&["schema"], dir);
    assert!(status.success(), "{stderr}");
    let file = dir.join("schema.json");
    std::fs::write(&file, stdout).unwrap();
    file
}

/// check-jsonschema with `schema` on `configs` (TOML files): passed, report.
fn validate(schema: &Path, configs: &[&Path]) -> (bool, String) {
    let python = tools::python_with(&["check-jsonschema"]);
    let output = Command::new(python.with_file_name("check-jsonschema"))
        .arg("--schemafile")
        .arg(schema)
        .args(configs)
        .output()
        .expect("run check-jsonschema");
    (
        output.status.success(),
        String::from_utf8_lossy(&output.stdout).into_owned()
            + &String::from_utf8_lossy(&output.stderr),
    )
}

#[test]
fn the_schema_accepts_real_configs_and_rejects_a_misspelt_key() {
    let dir = tempfile::tempdir().unwrap();
    let schema = schema_in(dir.path());
    let demo = Path::new(env!("CARGO_MANIFEST_DIR")).join("config/demo.toml");
    // Every form the loader accepts: both command forms, both depends_on
    // forms, every probe, ports, image and build, [ui] keys.
    let full = dir.path().join("full.toml");
    std::fs::write(
        &full,
        r#"
[project]
name = "x"
max_parallel_starts = 4
env = { A = "1" }
env_file = [".env"]
ready_timeout = "30s"
stop_grace = "5s"
restart = "on-failure"
max_restarts = 3
backoff = { initial = "100ms", max = "5s" }
port_range = "24000-24100"

[services.db]
command = ["postgres", "-p", "${port}"]
port = 5432
fallback_ports = [5433]
on_conflict = "fallback"
host = "0.0.0.0"
image = "postgres:16"
readiness = { exec = "pg_isready", period = "1s", timeout = "2s", failure_threshold = 5 }

[services.api]
command = "serve"
port = "auto"
build = { context = ".", dockerfile = "Dockerfile" }
depends_on = { db = "required" }
readiness = { http = "/health", status = "2xx", json = { "/status" = "ok" } }
liveness = { tcp = true }
stop_signal = "SIGINT"

[services.job]
kind = "task"
command = "true"
depends_on = ["db"]
optional = true
cwd = "."

[ui]
theme = "dark"
keys = { restart = "r", quit = ["q", "ctrl-c"] }
"#,
    )
    .unwrap();
    let (ok, report) = validate(&schema, &[&demo, &full]);
    assert!(ok, "{report}");

    // Misspelt keys are refused, at every level.
    for (text, wrong) in [
        (
            "[services.a]\ncommand = 'x'\nreadyness = { tcp = true }\n",
            "readyness",
        ),
        (
            "[services.a]\ncommand = 'x'\nreadiness = { tcp = true, perod = '1s' }\n",
            "perod",
        ),
        ("[projct]\nname = 'x'\n", "projct"),
        (
            "[services.a]\ncommand = 'x'\nimage_name = 'x'\n",
            "image_name",
        ),
    ] {
        let bad = dir.path().join("bad.toml");
        std::fs::write(&bad, text).unwrap();
        let (ok, report) = validate(&schema, &[&bad]);
        assert!(!ok, "{text} passed");
        assert!(
            report.contains(&format!("'{wrong}' was unexpected")),
            "{report}"
        );
    }
    // Wrong values too: a kind that does not exist.
    let bad = dir.path().join("bad.toml");
    std::fs::write(&bad, "[services.a]\ncommand = 'x'\nkind = 'daemon'\n").unwrap();
    assert!(!validate(&schema, &[&bad]).0);
}

#[test]
fn completions_are_scripts_each_shell_reads_and_name_every_verb() {
    let dir = tempfile::tempdir().unwrap();
    for shell in ["bash", "zsh", "fish"] {
        let (status, stdout, stderr) = support::run(&["completions", shell], dir.path());
        assert!(status.success(), "{shell}: {stderr}");
        for verb in ["up", "status", "export", "schema", "completions", "man"] {
            assert!(stdout.contains(verb), "{shell} completion lacks {verb}");
        }
        assert!(
            !stdout.contains("__watchdog"),
            "{shell}: a hidden verb is offered"
        );
    }
    let (_, script, _) = support::run(&["completions", "bash"], dir.path());
    let file = dir.path().join("bringup.bash");
    std::fs::write(&file, &script).unwrap();
    let syntax = Command::new("bash").arg("-n").arg(&file).output().unwrap();
    assert!(
        syntax.status.success(),
        "{}",
        String::from_utf8_lossy(&syntax.stderr)
    );
    // And bash completes with it: `bringup exp<TAB>` offers `export`.
    let probe = format!(
        "source {}; COMP_WORDS=(bringup exp); COMP_CWORD=1; COMP_LINE='bringup exp'; COMP_POINT=11; _bringup bringup exp bringup; echo \"${{COMPREPLY[@]}}\"",
        file.display()
    );
    let out = Command::new("bash").args(["-c", &probe]).output().unwrap();
    assert_eq!(String::from_utf8_lossy(&out.stdout).trim(), "export");
}

#[test]
fn the_man_page_is_roff_that_groff_renders() {
    let dir = tempfile::tempdir().unwrap();
    let (status, page, stderr) = support::run(&["man"], dir.path());
    assert!(status.success(), "{stderr}");
    assert!(
        page.starts_with(".ie") || page.contains(".TH bringup"),
        "{page}"
    );
    // -k: UTF-8 input through preconv, as `man` reads a page (help text
    // has "…" and "→").
    let mut groff = Command::new("groff")
        .args(["-k", "-man", "-Tutf8", "-ww"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("groff (installed by .ci/run)");
    use std::io::Write;
    groff
        .stdin
        .take()
        .unwrap()
        .write_all(page.as_bytes())
        .unwrap();
    let out = groff.wait_with_output().unwrap();
    assert!(out.status.success());
    let warnings = String::from_utf8_lossy(&out.stderr);
    assert!(warnings.is_empty(), "groff warned: {warnings}");
    // Rendered text, without the overstrike bold/underline sequences.
    let mut text = String::new();
    for c in String::from_utf8_lossy(&out.stdout).chars() {
        if c == '\u{8}' {
            text.pop();
        } else {
            text.push(c);
        }
    }
    for heading in ["NAME", "SYNOPSIS", "DESCRIPTION", "SUBCOMMANDS"] {
        assert!(text.contains(heading), "no {heading} in\n{text}");
    }
    assert!(text.contains("bringup-export"), "{text}");
}

#[test]
fn every_config_import_writes_passes_the_schema() {
    let dir = tempfile::tempdir().unwrap();
    let schema = schema_in(dir.path());
    let sources = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/import");
    // The sources and what they refer to (an env file, a directory).
    let mut names = Vec::new();
    for entry in std::fs::read_dir(&sources).unwrap() {
        let source = entry.unwrap().path();
        let name = source.file_name().unwrap().to_string_lossy().into_owned();
        std::fs::copy(&source, dir.path().join(&name)).unwrap();
        if !name.starts_with('.') {
            names.push(name);
        }
    }
    std::fs::create_dir(dir.path().join("logs")).unwrap();
    let mut written = Vec::new();
    for name in names {
        let out = dir.path().join(format!("{name}.bringup.toml"));
        let (status, _, stderr) =
            support::run(&["import", &name, "-o", out.to_str().unwrap()], dir.path());
        assert!(status.success(), "import {name}: {stderr}");
        written.push(out);
    }
    assert!(written.len() >= 6, "one TOML per importer fixture");
    let paths: Vec<&Path> = written.iter().map(|p| p.as_path()).collect();
    let (passed, report) = validate(&schema, &paths);
    assert!(passed, "{report}");
}
