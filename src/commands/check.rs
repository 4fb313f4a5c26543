//! `bringup check`: validate the config and print the start plan.

use std::fmt::Write as _;
use std::path::Path;
use std::process::ExitCode;

use bringup::config::{Kind, Plan};

pub fn run(explicit: Option<&Path>, color: bool) -> ExitCode {
    match super::load(explicit, color) {
        Ok(plan) => {
            print!("{}", describe(&plan));
            ExitCode::SUCCESS
        }
        Err(code) => code,
    }
}

/// The start plan as text: waves, and per service its kind, port,
/// readiness check and dependencies.
pub fn describe(plan: &Plan) -> String {
    let waves = plan.graph.waves();
    let mut out = String::new();
    let _ = writeln!(
        out,
        "{}: valid. Project {:?}: {} service{} in {} wave{}.",
        // A file name is anyone's words (a cloned repository's).
        bringup::ansi::plain(&plan.source.display().to_string()),
        plan.project.name,
        plan.services.len(),
        if plan.services.len() == 1 { "" } else { "s" },
        waves.len(),
        if waves.len() == 1 { "" } else { "s" },
    );
    if let Some(limit) = plan.project.max_parallel_starts {
        let _ = writeln!(out, "At most {limit} start at once.");
    }
    let width = plan
        .services
        .iter()
        .map(|s| s.name.chars().count())
        .max()
        .unwrap_or(4)
        // Validation keeps names this short; a wider pad would only be a
        // column of spaces (and past 65,535 a panic in `format!`).
        .min(bringup::config::MAX_NAME_LEN);
    for (index, wave) in waves.iter().enumerate() {
        let _ = writeln!(out, "\nwave {}", index + 1);
        for &id in wave {
            let spec = plan.service(id);
            let mut traits = Vec::new();
            match spec.kind {
                Kind::Task => traits.push("task".to_string()),
                Kind::Service => {
                    traits.push(format!("ready: {}", spec.readiness.check.kind_name()))
                }
            }
            if let Some(port) = &spec.port {
                traits.push(format!("port {port}"));
            }
            if spec.optional {
                traits.push("optional".into());
            }
            let deps: Vec<String> = plan
                .graph
                .dependencies(id)
                .iter()
                .map(|d| format!("{} ({})", plan.service(d.on).name, d.kind.as_str()))
                .collect();
            let after = if deps.is_empty() {
                String::new()
            } else {
                format!("  after {}", deps.join(", "))
            };
            let _ = writeln!(out, "  {:<width$}  {}{after}", spec.name, traits.join(", "));
        }
    }
    out
}
