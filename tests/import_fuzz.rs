//! Importer fuzzing: the four foreign formats fed random text and random
//! mutations of real files (the test inputs under tests/import/) must
//! never panic; a rejection says where (a line and column of the source),
//! and what is accepted writes TOML that bringup's own loader reads.
//! The README promises bad input gets a message, never a panic: this is
//! the hostile-file side of that promise for `bringup import` and
//! `bringup up -c`.

// A test fails by panicking; `expect` says why.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::path::Path;

mod support;

use bringup::formats::{self, Format};
use proptest::prelude::*;

const FORMATS: [(Format, &str); 4] = [
    (Format::Procfile, "Procfile"),
    (Format::Mprocs, "mprocs.yaml"),
    (Format::ProcessCompose, "process-compose.yaml"),
    (Format::Compose, "docker-compose.yml"),
];

fn input(name: &str) -> String {
    std::fs::read_to_string(
        Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("tests/import")
            .join(name),
    )
    .expect("an importer's test input")
}

/// Imports `text` as `format`: never a panic; errors are located in the
/// source; what is imported is TOML bringup's loader reads.
fn check(format: Format, file: &str, text: &str) -> Result<(), TestCaseError> {
    let path = Path::new(file);
    match formats::import(path, text, format) {
        Ok(imported) => {
            let toml = imported.to_toml();
            prop_assert!(toml.is_ok(), "{format:?}: cannot write TOML: {toml:?}");
            let toml = toml.unwrap();
            prop_assert!(
                toml::from_str::<toml::Table>(&toml).is_ok(),
                "{format:?} wrote TOML that does not parse:\n{toml}"
            );
        }
        Err(errors) => {
            prop_assert!(!errors.errors.is_empty(), "rejected without a reason");
            let lines = text.lines().count().max(1);
            for error in &errors.errors {
                prop_assert!(
                    error.line >= 1 && error.line <= lines + 1,
                    "{format:?}: line {} of {lines}: {error}",
                    error.line
                );
                prop_assert!(error.column >= 1, "{error}");
                prop_assert!(!error.message.is_empty(), "{error}");
            }
        }
    }
    Ok(())
}

/// What a hand editing such a file (or a bad merge) could put in it.
fn token() -> impl Strategy<Value = String> {
    prop_oneof![
        Just(":".to_string()),
        Just(": ".to_string()),
        Just("- ".to_string()),
        Just("\n".to_string()),
        Just("\n  ".to_string()),
        Just("\t".to_string()),
        Just("{".to_string()),
        Just("}".to_string()),
        Just("[".to_string()),
        Just("]".to_string()),
        Just("\"".to_string()),
        Just("'".to_string()),
        Just("&a ".to_string()),
        Just("*a".to_string()),
        Just("<<: *a\n".to_string()),
        Just("!!str ".to_string()),
        Just("|\n  ".to_string()),
        Just(">-\n  ".to_string()),
        Just("$PORT".to_string()),
        Just("${".to_string()),
        Just("{{.X}}".to_string()),
        Just("\u{a0}".to_string()),
        Just("\0".to_string()),
        Just("depends_on:\n  x:\n    condition: process_healthy\n".to_string()),
        Just("replicas: 100000\n".to_string()),
        Just("extends: self\n".to_string()),
        Just("ports: [\"99999:1\"]\n".to_string()),
        Just("healthcheck: {interval: 1y}\n".to_string()),
        "[a-z_]{1,12}",
        "[0-9]{1,7}",
        "\\PC{1,4}",
    ]
}

fn mutated(base: &str) -> impl Strategy<Value = String> {
    let base = base.to_string();
    prop::collection::vec((any::<prop::sample::Index>(), 0usize..6, token()), 1..6).prop_map(
        move |edits| {
            let mut text = base.clone();
            for (at, delete, insert) in edits {
                let mut at = at.index(text.len() + 1);
                while !text.is_char_boundary(at) {
                    at -= 1;
                }
                let mut end = (at + delete).min(text.len());
                while !text.is_char_boundary(end) {
                    end -= 1;
                }
                text.replace_range(at..end, &insert);
            }
            text
        },
    )
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 64, ..ProptestConfig::default() })]

    #[test]
    fn random_text_never_panics_any_importer(text in "\\PC{0,300}") {
        for (format, file) in FORMATS {
            check(format, file, &text)?;
        }
    }

    #[test]
    fn random_tokens_never_panic_any_importer(parts in prop::collection::vec(token(), 0..40)) {
        let text = parts.concat();
        for (format, file) in FORMATS {
            check(format, file, &text)?;
        }
    }

    #[test]
    fn mutated_procfiles_never_panic(text in mutated(&input("Procfile"))) {
        check(Format::Procfile, "Procfile", &text)?;
    }

    #[test]
    fn mutated_mprocs_files_never_panic(text in mutated(&input("mprocs.yaml"))) {
        check(Format::Mprocs, "mprocs.yaml", &text)?;
    }

    #[test]
    fn mutated_process_compose_files_never_panic(text in mutated(&input("process-compose.yaml"))) {
        check(Format::ProcessCompose, "process-compose.yaml", &text)?;
    }

    #[test]
    fn mutated_compose_files_never_panic(text in mutated(&input("docker-compose.yml"))) {
        check(Format::Compose, "docker-compose.yml", &text)?;
    }
}
