//! Noticing edits of the config: its file and the env files it reads are
//! watched (their directories, non-recursively, through `notify`: editors
//! save by writing a new file and renaming it over the old one), and a
//! burst of changes becomes one [`Input::ConfigTouched`]. Whether the
//! config is then read (`[project] reload`), and what applying it does,
//! is the machine's to decide.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use notify::{EventKind as FsEvent, RecursiveMode, Watcher};
use tokio::sync::mpsc;
use tokio::time::Instant;

use crate::engine::machine::Input;
use crate::engine::watch::QUIET;

/// Starts watching the config at `source`; `None` when it is no file (the
/// embedded demo) or cannot be watched.
pub(crate) fn start(
    source: &Path,
    inputs: mpsc::Sender<Input>,
) -> Option<crate::probe::AbortOnDrop> {
    let source = std::fs::canonicalize(source).ok()?;
    if !source.is_file() {
        return None;
    }
    Some(crate::probe::spawn_abortable(run(source, inputs)))
}

/// The files a change of which is a change of the config: the file and
/// the env files it names (`env_file`, in `[project]` and in services,
/// relative to the file's directory). Read from the text as it is now;
/// a file that does not parse names none.
fn inputs_of(source: &Path) -> BTreeSet<PathBuf> {
    let mut files = BTreeSet::from([source.to_path_buf()]);
    let Some(dir) = source.parent() else {
        return files;
    };
    let Ok(text) = std::fs::read_to_string(source) else {
        return files;
    };
    let Ok(table) = text.parse::<toml::Table>() else {
        return files;
    };
    let mut add = |value: Option<&toml::Value>| match value {
        Some(toml::Value::String(one)) => {
            files.insert(dir.join(one));
        }
        Some(toml::Value::Array(many)) => {
            files.extend(many.iter().filter_map(|v| v.as_str()).map(|f| dir.join(f)));
        }
        _ => {}
    };
    add(table.get("project").and_then(|p| p.get("env_file")));
    if let Some(services) = table.get("services").and_then(|s| s.as_table()) {
        for service in services.values() {
            add(service.get("env_file"));
        }
    }
    files
}

async fn run(source: PathBuf, inputs: mpsc::Sender<Input>) {
    let (events_tx, mut events) = mpsc::unbounded_channel();
    let Ok(mut watcher) = notify::recommended_watcher(move |event| {
        let _ = events_tx.send(event);
    }) else {
        return;
    };
    let mut files = BTreeSet::new();
    let mut dirs = BTreeSet::new();
    let mut watch = |files: &mut BTreeSet<PathBuf>, watcher: &mut notify::RecommendedWatcher| {
        *files = inputs_of(&source);
        for dir in files.iter().filter_map(|f| f.parent()) {
            if dirs.insert(dir.to_path_buf()) {
                let _ = watcher.watch(dir, RecursiveMode::NonRecursive);
            }
        }
    };
    watch(&mut files, &mut watcher);
    let mut deadline: Option<Instant> = None;
    loop {
        let event = match deadline {
            Some(at) => tokio::select! {
                event = events.recv() => event,
                () = tokio::time::sleep_until(at) => {
                    deadline = None;
                    watch(&mut files, &mut watcher);
                    if inputs.send(Input::ConfigTouched).await.is_err() {
                        return;
                    }
                    continue;
                }
            },
            None => events.recv().await,
        };
        let Some(event) = event else { return };
        let Ok(event): notify::Result<notify::Event> = event else {
            continue;
        };
        if matches!(event.kind, FsEvent::Access(_)) {
            continue;
        }
        if event.paths.iter().any(|p| files.contains(p)) {
            deadline = Some(Instant::now() + QUIET);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_env_files_a_config_names_are_its_inputs() {
        let dir = tempfile::tempdir().unwrap();
        let source = dir.path().join("bringup.toml");
        std::fs::write(
            &source,
            "[project]\nenv_file = \".env\"\n[services.a]\ncommand = \"x\"\nenv_file = [\"a.env\", \"conf/b.env\"]\n",
        )
        .unwrap();
        let files = inputs_of(&source);
        let expected: BTreeSet<PathBuf> = [
            source.clone(),
            dir.path().join(".env"),
            dir.path().join("a.env"),
            dir.path().join("conf/b.env"),
        ]
        .into();
        assert_eq!(files, expected);
    }
}
