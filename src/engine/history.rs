//! What each service took to become ready the last time this config was
//! brought up, so the next cold start can spawn the critical path first
//! (see [`crate::engine::machine::Machine::order_by_expected`]).
//!
//! One small JSON file per config (`{"ready_ms": {"api": 350, …}}`) in
//! `$XDG_STATE_HOME/bringup/history/` (else `~/.local/state/…`), named by a
//! hash of the config's path and project name. It is a cache: written
//! after every cold-start summary (to a temporary file, then renamed, so a
//! reader never sees half of one), and a file that is missing, unreadable
//! or from another version simply means "nothing known".

use std::collections::BTreeMap;
use std::io;
use std::path::{Path, PathBuf};
use std::time::Duration;

use crate::api::Summary;
use crate::config::Plan;

#[derive(Debug, Default, serde::Serialize, serde::Deserialize)]
struct Record {
    /// Service name → milliseconds from spawn to ready.
    ready_ms: BTreeMap<String, u64>,
}

/// The history file of one config.
#[derive(Debug, Clone)]
pub struct History {
    path: PathBuf,
}

/// Where history files go by default, if there is a home for them.
pub fn default_dir() -> Option<PathBuf> {
    let state = std::env::var_os("XDG_STATE_HOME")
        .map(PathBuf::from)
        .filter(|p| p.is_absolute())
        .or_else(|| std::env::var_os("HOME").map(|home| Path::new(&home).join(".local/state")))?;
    Some(state.join("bringup").join("history"))
}

impl History {
    /// The history of `plan`'s config, kept in `dir`.
    pub fn of(dir: &Path, plan: &Plan) -> Self {
        Self {
            path: dir.join(format!("{}.json", plan.identity())),
        }
    }

    /// Per service (plan index): its time to ready last time, if known.
    pub fn load(&self, plan: &Plan) -> Vec<Option<Duration>> {
        let record: Record = std::fs::read(&self.path)
            .ok()
            .and_then(|bytes| serde_json::from_slice(&bytes).ok())
            .unwrap_or_default();
        plan.services
            .iter()
            .map(|s| {
                record
                    .ready_ms
                    .get(&s.name)
                    .map(|&ms| Duration::from_millis(ms))
            })
            .collect()
    }

    /// Remembers the times to ready of `summary`, keeping what was known
    /// of services that did not become ready this time.
    pub fn save(&self, plan: &Plan, summary: &Summary) -> io::Result<()> {
        let mut record = Record::default();
        for (service, known) in plan.services.iter().zip(self.load(plan)) {
            if let Some(known) = known {
                record.ready_ms.insert(service.name.clone(), millis(known));
            }
        }
        for timing in &summary.services {
            if let (Some(spawned), Some(ready)) = (timing.spawned_at, timing.ready_at) {
                record
                    .ready_ms
                    .insert(timing.name.clone(), millis(ready.saturating_sub(spawned)));
            }
        }
        let dir = self.path.parent().unwrap_or(Path::new("."));
        std::fs::create_dir_all(dir)?;
        let temporary = self
            .path
            .with_extension(format!("json.{}", std::process::id()));
        std::fs::write(
            &temporary,
            serde_json::to_vec(&record).map_err(io::Error::other)?,
        )?;
        std::fs::rename(&temporary, &self.path)
    }
}

fn millis(d: Duration) -> u64 {
    u64::try_from(d.as_millis()).unwrap_or(u64::MAX)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::api::{State, Timing};
    use crate::config::plan::ServiceId;

    fn plan() -> Plan {
        let (file, base) = (Path::new("history.toml"), Path::new("/tmp"));
        let cx = crate::config::validate::Context::without_env(file, base, "bringup");
        let text = "[services.db]\ncommand = \"true\"\n[services.api]\ncommand = \"true\"\ndepends_on = [\"db\"]\n";
        crate::config::load_with(text, &cx).expect("valid")
    }

    fn timing(id: usize, name: &str, spawned: u64, ready: Option<u64>) -> Timing {
        Timing {
            service: ServiceId(id),
            name: name.into(),
            state: State::Ready,
            spawned_at: Some(Duration::from_millis(spawned)),
            ready_at: ready.map(Duration::from_millis),
        }
    }

    #[test]
    fn times_to_ready_come_back_and_survive_a_failed_run() {
        let dir = tempfile::tempdir().expect("temp dir");
        let plan = plan();
        let history = History::of(dir.path(), &plan);
        assert_eq!(history.load(&plan), [None, None], "nothing known yet");
        let summary = |services| Summary {
            all_required_ready: true,
            time_to_ready: Duration::ZERO,
            critical_path: Vec::new(),
            services,
        };
        let first = summary(vec![
            timing(0, "db", 0, Some(400)),
            timing(1, "api", 400, Some(750)),
        ]);
        history.save(&plan, &first).expect("save");
        let ms = |v| Some(Duration::from_millis(v));
        assert_eq!(history.load(&plan), [ms(400), ms(350)]);
        // api failed this time: what was known of it stays.
        let second = summary(vec![
            timing(0, "db", 0, Some(300)),
            timing(1, "api", 300, None),
        ]);
        history.save(&plan, &second).expect("save");
        assert_eq!(history.load(&plan), [ms(300), ms(350)]);
        // A broken file means nothing known, not an error.
        std::fs::write(&history.path, "{ not json").expect("write");
        assert_eq!(history.load(&plan), [None, None]);
    }
}
