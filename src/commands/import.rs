//! `bringup import FILE`: another tool's config → bringup.toml.
//!
//! The import itself is `formats`; this verb reads the file, prints the
//! warnings (as `up -c FILE` does), checks that the result loads, and
//! writes it without ever overwriting a file unless `--force` says so.

use std::io::Write;
use std::path::Path;
use std::process::ExitCode;

use bringup::cli::ImportArgs;
use bringup::formats;

use super::{INVALID, report};

pub fn run(args: &ImportArgs, color: bool) -> ExitCode {
    let text = match std::fs::read_to_string(&args.file) {
        Ok(text) => text,
        Err(e) => {
            eprintln!("error: cannot read {}: {e}", args.file.display());
            return ExitCode::from(INVALID);
        }
    };
    let Some(format) = args.from.or_else(|| formats::detect(&args.file, &text)) else {
        eprintln!(
            "error: cannot tell what kind of file {} is",
            args.file.display()
        );
        eprintln!("  help: say it with --from procfile|mprocs|process-compose|compose");
        return ExitCode::from(INVALID);
    };
    let imported = match formats::import(&args.file, &text, format) {
        Ok(imported) => imported,
        Err(errors) => {
            report::config_errors(&errors, color);
            return ExitCode::from(INVALID);
        }
    };
    report::config_warnings(&imported.warnings);
    let toml = match imported.to_toml() {
        Ok(toml) => toml,
        Err(e) => {
            eprintln!("error: cannot write the config: {e}");
            return ExitCode::FAILURE;
        }
    };
    // The result must load as it will when used: validated beside the source.
    let base = args
        .file
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    if let Err(errors) =
        bringup::config::load_str(&toml, Path::new("bringup.toml (imported)"), base)
    {
        report::config_errors(&errors, color);
        eprintln!("  help: this is a bug in the importer; please report it with the file");
        return ExitCode::FAILURE;
    }
    if args.output == Path::new("-") {
        let mut out = std::io::stdout().lock();
        return match out.write_all(toml.as_bytes()).and_then(|()| out.flush()) {
            Ok(()) => ExitCode::SUCCESS,
            Err(_) => ExitCode::FAILURE,
        };
    }
    write(
        &args.output,
        &toml,
        args.force,
        imported.services.len(),
        format,
    )
}

fn write(
    output: &Path,
    toml: &str,
    force: bool,
    count: usize,
    format: formats::Format,
) -> ExitCode {
    let mut options = std::fs::OpenOptions::new();
    options.write(true);
    if force {
        options.create(true).truncate(true);
    } else {
        // create_new: no window between "does it exist" and writing.
        options.create_new(true);
    }
    let written = options
        .open(output)
        .and_then(|mut file| file.write_all(toml.as_bytes()));
    match written {
        Ok(()) => {
            eprintln!(
                "wrote {} ({count} service{} from {}); check it with `bringup check -c {}`",
                output.display(),
                if count == 1 { "" } else { "s" },
                format.name(),
                output.display()
            );
            ExitCode::SUCCESS
        }
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {
            eprintln!("error: {} exists; not overwritten", output.display());
            eprintln!("  help: pass --force to replace it, or -o OTHER to write elsewhere");
            ExitCode::from(INVALID)
        }
        Err(e) => {
            eprintln!("error: cannot write {}: {e}", output.display());
            ExitCode::FAILURE
        }
    }
}
