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

/// Whether `event` (in a watched directory) touches one of `files`: what
/// services write next to the config (a log file, a database) does not,
/// and never wakes the engine.
fn concerns(event: &notify::Result<notify::Event>, files: &BTreeSet<PathBuf>) -> bool {
    match event {
        Ok(event) => {
            !matches!(event.kind, FsEvent::Access(_))
                && event.paths.iter().any(|p| files.contains(p))
        }
        // Said by the loop (and harmless): the watch itself had trouble.
        Err(_) => true,
    }
}

async fn run(source: PathBuf, inputs: mpsc::Sender<Input>) {
    let (events_tx, mut events) = mpsc::unbounded_channel();
    // Filtered on notify's own thread, so that only what concerns the
    // config reaches the engine's.
    let wanted = std::sync::Arc::new(std::sync::RwLock::new(BTreeSet::new()));
    let filter = wanted.clone();
    let Ok(mut watcher) = notify::recommended_watcher(move |event| {
        let files = filter.read().unwrap_or_else(|p| p.into_inner());
        if concerns(&event, &files) {
            let _ = events_tx.send(event);
        }
    }) else {
        return;
    };
    let mut files = BTreeSet::new();
    let mut dirs = BTreeSet::new();
    let mut watch = |files: &mut BTreeSet<PathBuf>, watcher: &mut notify::RecommendedWatcher| {
        *files = inputs_of(&source);
        *wanted.write().unwrap_or_else(|p| p.into_inner()) = files.clone();
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
        if concerns(&Ok(event), &files) {
            deadline = Some(Instant::now() + QUIET);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_changes_of_the_config_and_its_env_files_concern_it() {
        let files = BTreeSet::from([PathBuf::from("/p/bringup.toml"), PathBuf::from("/p/.env")]);
        let event = |kind, path: &str| Ok(notify::Event::new(kind).add_path(PathBuf::from(path)));
        let modify = FsEvent::Modify(notify::event::ModifyKind::Any);
        assert!(concerns(&event(modify, "/p/bringup.toml"), &files));
        assert!(concerns(&event(modify, "/p/.env"), &files));
        // A service's database or log next to the config.
        assert!(!concerns(&event(modify, "/p/app.sqlite3"), &files));
        let read = FsEvent::Access(notify::event::AccessKind::Any);
        assert!(!concerns(&event(read, "/p/bringup.toml"), &files));
    }

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
