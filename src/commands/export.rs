//! `bringup export compose|k8s`: the stack for another platform, to
//! standard output or a file; what does not carry over goes to stderr.

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
            if let Err(error) = std::fs::write(file, &exported.text) {
                eprintln!("error: cannot write {}: {error}", file.display());
                return ExitCode::FAILURE;
            }
        }
        None => print!("{}", exported.text),
    }
    ExitCode::SUCCESS
}
