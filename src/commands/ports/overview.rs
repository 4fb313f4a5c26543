//! `bringup ports` with no subcommand: the config's services, the port
//! each wants, the one a running bringup allocated it, and what holds that
//! port now (the service itself shows as "ours").

use std::path::Path;
use std::process::ExitCode;

use bringup::ansi::plain;
use bringup::ports::lock::LockInfo;
use bringup::ports::owner::{self, Holder};
use serde::Serialize;

use super::print_json;
use super::state::Locks;

/// `bringup ports`: the config's services, wanted vs allocated vs holder.
pub(super) fn overview(explicit: Option<&Path>, json: bool, color: bool) -> ExitCode {
    let plan = match crate::commands::load(explicit, color) {
        Ok(plan) => plan,
        Err(code) => return code,
    };
    let config = std::fs::canonicalize(&plan.source).unwrap_or_else(|_| plan.source.clone());
    let locks = Locks::now();
    #[derive(Serialize)]
    struct Row {
        service: String,
        wanted: String,
        allocated: Option<u16>,
        bringup_pid: Option<u32>,
        holder: String,
        holders: Vec<Holder>,
    }
    let mut rows = Vec::new();
    for spec in &plan.services {
        let Some(port) = &spec.port else { continue };
        let lock = locks.ours.iter().find_map(|(p, info)| {
            info.as_ref()
                .filter(|i| i.service == spec.name && Path::new(&i.config) == config)
                .map(|i| (*p, i.clone()))
        });
        let look_at = lock.as_ref().map(|(p, _)| *p).or(port.preferred);
        let holders = look_at.map(owner::holders).unwrap_or_default();
        let holder = match (look_at, holders.first()) {
            (None, _) => "-".to_string(),
            (Some(_), None) => "free".to_string(),
            (Some(_), Some(h)) if is_ours(h, lock.as_ref().map(|(_, i)| i)) => {
                format!("ours (pid {})", h.pid.unwrap_or(0))
            }
            (Some(_), Some(h)) => h.to_string(),
        };
        rows.push(Row {
            service: spec.name.clone(),
            wanted: port.to_string(),
            allocated: lock.as_ref().map(|(p, _)| *p),
            bringup_pid: lock.as_ref().map(|(_, i)| i.pid),
            holder,
            holders,
        });
    }
    if json {
        print_json(&rows);
        return ExitCode::SUCCESS;
    }
    if rows.is_empty() {
        println!(
            "no service in {} has a port",
            plain(&plan.source.display().to_string())
        );
        return ExitCode::SUCCESS;
    }
    let width = rows
        .iter()
        .map(|r| r.service.chars().count())
        .max()
        .unwrap_or(7)
        .max(7);
    let wanted_width = rows
        .iter()
        .map(|r| r.wanted.chars().count())
        .max()
        .unwrap_or(6)
        .max(6);
    println!(
        "{:<width$}  {:<wanted_width$}  {:<9}  holder now",
        "service", "wanted", "allocated"
    );
    for row in &rows {
        let allocated = row
            .allocated
            .map_or_else(|| "-".to_string(), |p| p.to_string());
        println!(
            "{:<width$}  {:<wanted_width$}  {allocated:<9}  {}",
            row.service, row.wanted, row.holder
        );
    }
    if rows.iter().all(|r| r.allocated.is_none()) {
        println!("\n(no bringup runs this config now; `allocated` fills in while one does)");
    }
    ExitCode::SUCCESS
}

/// The holder is the service bringup started (or one of its children).
fn is_ours(holder: &Holder, lock: Option<&LockInfo>) -> bool {
    let (Some(pid), Some(service_pid)) = (holder.pid, lock.and_then(|l| l.service_pid)) else {
        return lock.is_some_and(|l| holder.pid == Some(l.pid));
    };
    pid == service_pid || owner::process_group(pid).is_some_and(|group| group == service_pid)
}
