//! The cold-start summary: how long the stack took to come up and why.
//!
//! While bringing services up, the state machine notes for each one which
//! dependency (or which service freeing a start slot) released it last: its
//! gate. The critical path is the chain of gates that ends at the service
//! that became ready last; shortening anything else would not have made the
//! stack ready sooner.

use std::time::Duration;

use crate::api::{State, Summary, Timing};
use crate::ids::ServiceId;

/// What the machine knows about one service at the end of a cold start.
/// Times are relative to the start of the bring-up.
#[derive(Debug, Clone)]
pub struct Record {
    pub id: ServiceId,
    pub name: String,
    pub optional: bool,
    pub state: State,
    pub spawned_at: Option<Duration>,
    pub ready_at: Option<Duration>,
    pub gated_by: Option<ServiceId>,
}

/// The critical path that ends at `last`: the chain of gates followed
/// back from it, first to last. A gate that never ran (an optional
/// dependency that was skipped, or blocked) took no time, so the path ends
/// at what it released. The summary and the dashboard's live timeline both
/// ask this.
pub fn critical_path(
    last: Option<ServiceId>,
    gate_of: impl Fn(ServiceId) -> Option<ServiceId>,
    ran: impl Fn(ServiceId) -> bool,
) -> Vec<ServiceId> {
    let mut path: Vec<ServiceId> = Vec::new();
    let mut at = last;
    while let Some(id) = at {
        // A gate always became useful before its dependent started, so the
        // chain cannot loop; the check is belt and braces.
        if path.contains(&id) || (!path.is_empty() && !ran(id)) {
            break;
        }
        path.push(id);
        at = gate_of(id);
    }
    path.reverse();
    path
}

/// Builds the summary from records in start order.
pub fn summarize(records: &[Record]) -> Summary {
    let timing = |r: &Record| Timing {
        service: r.id,
        name: r.name.clone(),
        state: r.state,
        spawned_at: r.spawned_at,
        ready_at: r.ready_at,
    };
    let all_required_ready = records
        .iter()
        .filter(|r| !r.optional)
        .all(|r| r.ready_at.is_some());
    let last = records
        .iter()
        .filter(|r| r.ready_at.is_some())
        .max_by_key(|r| r.ready_at);
    let time_to_ready = last.and_then(|r| r.ready_at).unwrap_or_default();

    let record = |id: ServiceId| records.iter().find(|r| r.id == id);
    let critical_path = critical_path(
        last.map(|r| r.id),
        |id| record(id).and_then(|r| r.gated_by),
        |id| record(id).is_some_and(|r| r.spawned_at.is_some()),
    )
    .into_iter()
    .filter_map(record)
    .map(timing)
    .collect();

    Summary {
        all_required_ready,
        time_to_ready,
        critical_path,
        services: records.iter().map(timing).collect(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn record(id: usize, ready_ms: Option<u64>, gated_by: Option<usize>, optional: bool) -> Record {
        Record {
            id: ServiceId(id),
            name: format!("s{id}"),
            optional,
            state: if ready_ms.is_some() {
                State::Ready
            } else {
                State::Failed
            },
            spawned_at: Some(Duration::ZERO),
            ready_at: ready_ms.map(Duration::from_millis),
            gated_by: gated_by.map(ServiceId),
        }
    }

    #[test]
    fn critical_path_follows_gates_back_from_the_last_ready() {
        // s0 (100) → s2 (300) → s3 (450); s1 (350) is a side branch.
        let records = vec![
            record(0, Some(100), None, false),
            record(1, Some(350), None, false),
            record(2, Some(300), Some(0), false),
            record(3, Some(450), Some(2), false),
            record(4, None, None, true),
        ];
        let summary = summarize(&records);
        assert!(summary.all_required_ready);
        assert_eq!(summary.time_to_ready, Duration::from_millis(450));
        let path: Vec<&str> = summary
            .critical_path
            .iter()
            .map(|t| t.name.as_str())
            .collect();
        assert_eq!(path, ["s0", "s2", "s3"]);
    }

    #[test]
    fn the_critical_path_never_runs_through_a_service_that_never_started() {
        // s1 waited for the optional s0, which never started (skipped);
        // s2 never came up, so the cold start failed.
        let mut skipped = record(0, None, None, true);
        skipped.spawned_at = None;
        skipped.state = State::Skipped;
        let summary = summarize(&[
            skipped,
            record(1, Some(200), Some(0), false),
            record(2, None, Some(1), false),
        ]);
        assert!(!summary.all_required_ready);
        let path: Vec<&str> = summary
            .critical_path
            .iter()
            .map(|t| t.name.as_str())
            .collect();
        assert_eq!(path, ["s1"]);
    }

    #[test]
    fn a_required_service_that_never_got_ready_is_reported() {
        let summary = summarize(&[
            record(0, Some(10), None, false),
            record(1, None, None, false),
        ]);
        assert!(!summary.all_required_ready);
    }
}
