//! `bringup export compose|k8s`: the stack for another platform, to
//! standard output or a file; what does not carry over goes to stderr.
//!
//! An existing output file is replaced (exporting again after an edit is
//! the normal use), except the config being exported: `-o bringup.toml`
//! would swap the stack's only description for YAML bringup cannot read.

use std::os::unix::fs::MetadataExt;
use std::path::Path;
use std::process::ExitCode;

use bringup::cli::{ExportArgs, ExportTarget};
use bringup::export::{self, Options};

use super::INVALID;

pub fn run(config: Option<&Path>, color: bool, args: &ExportArgs) -> ExitCode {
    let plan = match super::load(config, color) {
        Ok(plan) => plan,
        Err(code) => return code,
    };
    // `-o -` is standard output, as for `bringup import`.
    let output = args
        .output
        .as_deref()
        .filter(|file| *file != Path::new("-"));
    let output_dir = output.map(|file| {
        file.parent()
            .filter(|dir| !dir.as_os_str().is_empty())
            .unwrap_or(Path::new("."))
            .to_path_buf()
    });
    let options = Options {
        skip: args.skip.clone(),
        output_dir,
        namespace: Some(args.namespace.clone()),
    };
    let exported = match args.target {
        ExportTarget::Compose => export::compose::export(&plan, &options),
        ExportTarget::K8s => export::k8s::export(&plan, &options),
    };
    let exported = match exported {
        Ok(exported) => exported,
        Err(error) => {
            eprintln!("error: {error}");
            return ExitCode::from(INVALID);
        }
    };
    for warning in &exported.warnings {
        eprintln!("warning: {warning}");
    }
    match output {
        Some(file) => {
            if is_same_file(file, &plan.source) {
                eprintln!(
                    "error: {} is the config this export reads; writing the export there would replace it",
                    file.display()
                );
                eprintln!("  help: write the export to another file, e.g. -o compose.yaml");
                return ExitCode::from(INVALID);
            }
            if let Err(error) = std::fs::write(file, &exported.text) {
                eprintln!("error: cannot write {}: {error}", file.display());
                return ExitCode::FAILURE;
            }
        }
        None => print!("{}", exported.text),
    }
    ExitCode::SUCCESS
}

/// Whether `a` and `b` are one file (any spelling, hard or symbolic link).
/// A path that cannot be looked at is another file: writing it then says why.
fn is_same_file(a: &Path, b: &Path) -> bool {
    match (std::fs::metadata(a), std::fs::metadata(b)) {
        (Ok(a), Ok(b)) => a.dev() == b.dev() && a.ino() == b.ino(),
        _ => false,
    }
}
