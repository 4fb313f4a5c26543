//! Watching files: changes of a service's `watch` globs become
//! [`Input::Restart`]s, one per service per burst.
//!
//! How it works. At start, off the engine's loop (a blocking task), each
//! watched service's `cwd` is walked with the `ignore` crate, which leaves
//! out what `.gitignore` and `.ignore` files (there and in the directories
//! above, up to the repository's root) ignore, and hidden directories; each
//! directory that is left gets a non-recursive inotify watch through
//! `notify`. So `node_modules`, `target` or `.git` cost no watch at all,
//! and an idle tree costs no CPU: nothing polls, the kernel wakes the
//! watcher thread only when something changes. A directory created later
//! is walked and watched when its creation is seen, also one deleted (or
//! renamed away) and made again under the same name, as code generators
//! and `git checkout` do.
//!
//! Each changed path is matched against the `.gitignore`/`.ignore` rules
//! of its directories and against every service whose `cwd` holds it
//! (hidden paths never count; then `watch` must match and `watch_ignore`
//! must not). Matches wait in [`Burst`], the debouncer: a service's
//! restart goes out once no matching change came for [`QUIET`] (or
//! [`LONGEST`] after the first, so a file rewritten forever still
//! restarts it), and it names the first file and how many more there
//! were. A `git checkout` of a hundred files is one restart. Whether the
//! restart happens (watching paused, the service stopped by the user, a
//! restart already under way) is the machine's to decide.

use std::collections::{BTreeMap, HashSet};
use std::path::{Component, Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use ignore::gitignore::{Gitignore, GitignoreBuilder};
use notify::{EventKind as FsEvent, RecommendedWatcher, RecursiveMode, Watcher};
use tokio::sync::mpsc;
use tokio::time::Instant;

use crate::api::RestartWhy;
use crate::config::plan::{Plan, ServiceId};
use crate::config::watch::WatchSpec;
use crate::engine::machine::Input;

/// A burst ends after this long without a matching change.
pub const QUIET: Duration = Duration::from_millis(80);
/// A burst that goes on is cut after this long.
pub const LONGEST: Duration = Duration::from_secs(2);
/// At most this many directories are watched; the rest are said to be
/// left out (inotify watches are a per-user resource).
const MAX_DIRS: usize = 100_000;

/// One service's watch: where its globs are relative to, and them.
struct Watched {
    id: ServiceId,
    cwd: PathBuf,
    spec: WatchSpec,
}

/// Which paths matter: the services' globs and the ignore files found.
struct Filter {
    services: Vec<Watched>,
    /// `.gitignore`/`.ignore` rules by the directory they are in.
    ignores: Vec<(PathBuf, Gitignore)>,
}

impl Filter {
    fn new(plan: &Plan) -> Self {
        let services = plan
            .ids()
            .filter_map(|id| {
                let spec = plan.service(id);
                Some(Watched {
                    id,
                    cwd: spec.cwd.clone(),
                    spec: spec.watch.clone()?,
                })
            })
            .collect();
        Self {
            services,
            ignores: Vec::new(),
        }
    }

    fn roots(&self) -> Vec<PathBuf> {
        let mut roots: Vec<PathBuf> = self.services.iter().map(|w| w.cwd.clone()).collect();
        roots.sort();
        roots.dedup();
        roots
    }

    /// Reads the ignore files of `dir`, if it has any.
    fn learn_ignores(&mut self, dir: &Path) {
        if self.ignores.iter().any(|(d, _)| d == dir) {
            return;
        }
        let mut builder = GitignoreBuilder::new(dir);
        let mut any = false;
        for name in [".gitignore", ".ignore"] {
            let file = dir.join(name);
            if file.is_file() {
                any = true;
                // A bad line is skipped; the rest still applies.
                let _ = builder.add(file);
            }
        }
        if any && let Ok(matcher) = builder.build() {
            self.ignores.push((dir.to_path_buf(), matcher));
        }
    }

    /// The ignore files of `root`'s parents, up to the repository's root
    /// (the first with a `.git`), as git would read them.
    fn learn_parent_ignores(&mut self, root: &Path) {
        let mut dir = root.to_path_buf();
        loop {
            self.learn_ignores(&dir);
            if dir.join(".git").exists() || !dir.pop() {
                break;
            }
        }
    }

    fn ignored(&self, path: &Path, is_dir: bool) -> bool {
        self.ignores.iter().any(|(dir, matcher)| {
            path.starts_with(dir)
                && matcher
                    .matched_path_or_any_parents(path, is_dir)
                    .is_ignore()
        })
    }

    /// The services a change of `path` concerns, with the path as they
    /// see it (relative to their `cwd`).
    fn concerned(&self, path: &Path) -> Vec<(ServiceId, PathBuf)> {
        let mut out = Vec::new();
        for watched in &self.services {
            let Ok(relative) = path.strip_prefix(&watched.cwd) else {
                continue;
            };
            if hidden(relative) || !watched.spec.matches(relative) {
                continue;
            }
            if out.is_empty() && self.ignored(path, false) {
                return Vec::new();
            }
            out.push((watched.id, relative.to_path_buf()));
        }
        out
    }
}

fn hidden(relative: &Path) -> bool {
    relative.components().any(|c| match c {
        Component::Normal(part) => part.as_encoded_bytes().first() == Some(&b'.'),
        _ => false,
    })
}

/// The debouncer: matching changes per service, until the burst ends.
#[derive(Debug, Default)]
pub struct Burst {
    /// Per service: the first file, how many others, when the burst began.
    pending: BTreeMap<ServiceId, (PathBuf, HashSet<PathBuf>, Instant)>,
    last: Option<Instant>,
}

impl Burst {
    /// `path` changed for `id` at `now`.
    pub fn add(&mut self, now: Instant, id: ServiceId, path: PathBuf) {
        let entry = self
            .pending
            .entry(id)
            .or_insert_with(|| (path.clone(), HashSet::new(), now));
        if entry.0 != path {
            entry.1.insert(path);
        }
        self.last = Some(self.last.map_or(now, |last| last.max(now)));
    }

    /// When the burst ends, if one is going on.
    pub fn deadline(&self) -> Option<Instant> {
        let last = self.last?;
        let first = self.pending.values().map(|(_, _, at)| *at).min()?;
        Some((last + QUIET).min(first + LONGEST))
    }

    /// The restarts of a burst that has ended by `now`.
    pub fn take(&mut self, now: Instant) -> Vec<(ServiceId, RestartWhy)> {
        if self.deadline().is_none_or(|deadline| deadline > now) {
            return Vec::new();
        }
        self.last = None;
        std::mem::take(&mut self.pending)
            .into_iter()
            .map(|(id, (first, others, _))| {
                let why = RestartWhy::FileChanged {
                    path: first.display().to_string(),
                    more: others.len(),
                };
                (id, why)
            })
            .collect()
    }
}

/// What the watch reports besides restarts: why it watches less than asked.
pub type Complaint = String;

/// Starts watching for `plan`'s services that have `watch`; `None` when
/// none has. Restarts go into `inputs`; what cannot be watched is told to
/// `complain`. The watch ends when the returned task is dropped.
pub(crate) fn start(
    plan: &Arc<Plan>,
    inputs: mpsc::Sender<Input>,
    complain: impl Fn(Complaint) + Send + 'static,
) -> Option<crate::probe::AbortOnDrop> {
    let filter = Filter::new(plan);
    if filter.services.is_empty() {
        return None;
    }
    Some(crate::probe::spawn_abortable(run(filter, inputs, complain)))
}

async fn run(
    mut filter: Filter,
    inputs: mpsc::Sender<Input>,
    complain: impl Fn(Complaint) + Send + 'static,
) {
    let (events_tx, mut events) = mpsc::unbounded_channel();
    let watcher = notify::recommended_watcher(move |event: notify::Result<notify::Event>| {
        let _ = events_tx.send(event);
    });
    let mut watcher = match watcher {
        Ok(watcher) => watcher,
        Err(e) => {
            complain(format!("cannot watch files: {e}"));
            return;
        }
    };
    // The walk of a big tree takes a while: not on the engine's loop.
    let set_up = tokio::task::spawn_blocking(move || {
        let mut watching = Watching::default();
        for root in filter.roots() {
            filter.learn_parent_ignores(&root);
            watching.add_tree(&mut watcher, &mut filter, &root);
        }
        (watcher, filter, watching)
    })
    .await;
    let Ok((mut watcher, mut filter, mut watching)) = set_up else {
        return;
    };
    if let Some(complaint) = watching.complaint.take() {
        complain(complaint);
    }
    let mut burst = Burst::default();
    loop {
        let event = match burst.deadline() {
            Some(deadline) => tokio::select! {
                event = events.recv() => event,
                () = tokio::time::sleep_until(deadline) => {
                    for (id, why) in burst.take(Instant::now()) {
                        if inputs.send(Input::Restart { id, why }).await.is_err() {
                            return;
                        }
                    }
                    continue;
                }
            },
            None => events.recv().await,
        };
        let Some(event) = event else { return };
        let event = match event {
            Ok(event) => event,
            Err(e) => {
                complain(format!("watching files: {e}"));
                continue;
            }
        };
        if matches!(event.kind, FsEvent::Access(_)) {
            continue;
        }
        let now = Instant::now();
        for path in &event.paths {
            // A directory created (or renamed into place) is a new inode:
            // whatever was watched under that name is gone or elsewhere.
            // A name that no longer exists is forgotten too, so the
            // directory made again under it is watched.
            let created = matches!(event.kind, FsEvent::Create(_));
            if created || std::fs::symlink_metadata(path).is_err() {
                watching.forget(&mut watcher, path);
            }
            if matches!(event.kind, FsEvent::Create(_) | FsEvent::Modify(_)) && path.is_dir() {
                // A new directory (a checkout, a rename): watch it, and what
                // it holds already changed.
                for file in watching.add_tree(&mut watcher, &mut filter, path) {
                    for (id, relative) in filter.concerned(&file) {
                        burst.add(now, id, relative);
                    }
                }
                if let Some(complaint) = watching.complaint.take() {
                    complain(complaint);
                }
                continue;
            }
            for (id, relative) in filter.concerned(path) {
                burst.add(now, id, relative);
            }
        }
    }
}

/// The directories watched so far.
#[derive(Default)]
struct Watching {
    dirs: HashSet<PathBuf>,
    complaint: Option<Complaint>,
}

impl Watching {
    /// Stops watching `top` and the directories under it (a watch on a
    /// deleted directory is already gone; one renamed away is removed).
    fn forget(&mut self, watcher: &mut RecommendedWatcher, top: &Path) {
        // Nothing under `top` is watched unless `top` is (the walk goes
        // down from watched directories): a file's event costs a lookup.
        if !self.dirs.contains(top) {
            return;
        }
        self.dirs.retain(|dir| {
            if !dir.starts_with(top) {
                return true;
            }
            let _ = watcher.unwatch(dir);
            false
        });
    }

    /// Watches `top` and every directory under it that is not ignored;
    /// returns the files found in directories it had not watched yet.
    fn add_tree(
        &mut self,
        watcher: &mut RecommendedWatcher,
        filter: &mut Filter,
        top: &Path,
    ) -> Vec<PathBuf> {
        let mut files = Vec::new();
        if !top.is_dir() || filter.ignored(top, true) {
            return files;
        }
        let walk = ignore::WalkBuilder::new(top)
            .hidden(true)
            .parents(false)
            .ignore(true)
            .git_ignore(true)
            .git_exclude(false)
            .git_global(false)
            .require_git(false)
            .build();
        for entry in walk.flatten() {
            let path = entry.path();
            if !entry.file_type().is_some_and(|t| t.is_dir()) {
                if entry.depth() > 0 {
                    files.push(path.to_path_buf());
                }
                continue;
            }
            if self.dirs.contains(path) {
                continue;
            }
            if self.dirs.len() >= MAX_DIRS {
                self.complaint.get_or_insert_with(|| {
                    format!("watching the first {MAX_DIRS} directories only")
                });
                break;
            }
            filter.learn_ignores(path);
            match watcher.watch(path, RecursiveMode::NonRecursive) {
                Ok(()) => {
                    self.dirs.insert(path.to_path_buf());
                }
                Err(e) => {
                    self.complaint.get_or_insert_with(|| {
                        format!(
                            "cannot watch {}: {e} (on Linux, `sysctl fs.inotify.max_user_watches` \
                             says how many directories one user may watch)",
                            path.display()
                        )
                    });
                }
            }
        }
        files
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_burst_is_one_restart_naming_the_first_file() {
        let start = Instant::now();
        let mut burst = Burst::default();
        let (a, b) = (ServiceId(0), ServiceId(1));
        for i in 0..100u64 {
            let at = start + Duration::from_millis(i);
            burst.add(at, a, PathBuf::from(format!("src/{i}.py")));
        }
        burst.add(start, b, PathBuf::from("x.py"));
        burst.add(start, b, PathBuf::from("x.py"));
        let last = start + Duration::from_millis(99);
        assert!(burst.take(last + QUIET / 2).is_empty(), "still going");
        let restarts = burst.take(last + QUIET);
        assert_eq!(
            restarts,
            [
                (
                    a,
                    RestartWhy::FileChanged {
                        path: "src/0.py".into(),
                        more: 99
                    }
                ),
                (
                    b,
                    RestartWhy::FileChanged {
                        path: "x.py".into(),
                        more: 0
                    }
                ),
            ]
        );
        assert!(burst.deadline().is_none());
    }

    #[test]
    fn a_burst_that_goes_on_is_cut() {
        let start = Instant::now();
        let mut burst = Burst::default();
        let mut at = start;
        while at < start + LONGEST {
            burst.add(at, ServiceId(0), PathBuf::from("log.txt"));
            at += QUIET / 2;
        }
        assert_eq!(burst.take(at).len(), 1);
    }

    #[test]
    fn hidden_paths_are_hidden() {
        assert!(hidden(Path::new(".venv/lib/x.py")));
        assert!(hidden(Path::new("src/.cache/x")));
        assert!(!hidden(Path::new("src/app.py")));
    }
}
