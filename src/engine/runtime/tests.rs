//! The runtime without processes: a recording [`Launcher`] takes every
//! start the runtime asks for, and the test answers it (the way watchexec's
//! supervisor is tested with a `TestChild`). What is checked is what the
//! runtime itself decides: what a start is asked with (its ports, its
//! environment, what it must not inherit), that a start that cannot be
//! made is told to the machine and retried by its policy, that a
//! dependent is not started meanwhile, and that shutdown completes. The
//! real-process suites (tests/process.rs, tests/lifecycle.rs, ...) keep
//! checking what only real processes show.

use std::path::Path;
use std::sync::mpsc as std_mpsc;

use super::*;
use crate::api::{Exit, Reason, State, Then};
use crate::config::validate::Context;
use crate::process::launcher::Done;

/// Far longer than anything here takes; only a broken runtime waits it out.
const DEADLINE: Duration = Duration::from_secs(20);

/// A start the runtime asked for, with the way to answer it. One left
/// unanswered is answered "not started" when dropped, as a launcher always
/// answers (the runtime waits for it, also to shut down).
struct Asked {
    request: SpawnRequest,
    done: Option<Done>,
}

impl Drop for Asked {
    fn drop(&mut self) {
        if let Some(done) = self.done.take() {
            done(Err(std::io::Error::other("not answered by the test")));
        }
    }
}

impl Asked {
    fn service(&self) -> &str {
        self.request
            .owner
            .as_ref()
            .map_or("", |owner| owner.service.as_str())
    }

    fn env(&self, key: &str) -> Option<&str> {
        self.request
            .env
            .iter()
            .rev()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v.as_str())
    }

    /// Answers that the process could not be started.
    fn fail(mut self, why: &str) {
        if let Some(done) = self.done.take() {
            done(Err(std::io::Error::other(why.to_string())));
        }
    }
}

/// Records every start instead of making it.
struct Recording {
    asked: std_mpsc::Sender<Asked>,
}

impl Launcher for Recording {
    fn launch(&self, request: SpawnRequest, done: Done) {
        let _ = self.asked.send(Asked {
            request,
            done: Some(done),
        });
    }
}

/// One engine at a time in this process: a run's directory is named after
/// the process.
static ONE_ENGINE: std::sync::Mutex<()> = std::sync::Mutex::new(());

/// A running engine whose starts come to the test.
struct Rig {
    engine: Option<Engine>,
    asked: std_mpsc::Receiver<Asked>,
    /// Held until the engine has ended (fields drop after `Drop::drop`).
    _alone: std::sync::MutexGuard<'static, ()>,
}

impl Rig {
    fn start(config: &str) -> Self {
        // A test that failed while holding it leaves nothing behind: the
        // engine it ran was joined by its rig's drop.
        let alone = ONE_ENGINE.lock().unwrap_or_else(|e| e.into_inner());
        let cx = Context::without_env(Path::new("/t/bringup.toml"), Path::new("/"), "bringup");
        let plan = match crate::config::load_with(config, &cx) {
            Ok(plan) => Arc::new(plan),
            Err(e) => panic!("test config is invalid: {e}"),
        };
        let (tx, asked) = std_mpsc::channel();
        let launcher = Box::new(Recording { asked: tx });
        let (engine, _events) = match Engine::start_with(plan, EngineOptions::default(), launcher) {
            Ok(started) => started,
            Err(e) => panic!("the engine did not start: {e}"),
        };
        Self {
            engine: Some(engine),
            asked,
            _alone: alone,
        }
    }

    fn engine(&self) -> &Engine {
        self.engine
            .as_ref()
            .expect("the engine runs until the rig is dropped")
    }

    /// The next start the runtime asks for.
    fn next_start(&self) -> Asked {
        match self.asked.recv_timeout(DEADLINE) {
            Ok(asked) => asked,
            Err(e) => panic!("no start was asked for within {DEADLINE:?} ({e})"),
        }
    }

    /// Whether the runtime asks for another start within `within`.
    fn another_start(&self, within: Duration) -> Option<Asked> {
        self.asked.recv_timeout(within).ok()
    }

    /// Waits until the snapshot shows what `check` wants, and returns it.
    fn wait_for(&self, what: &str, check: impl Fn(&Snapshot) -> bool) -> Snapshot {
        let snapshots = self.engine().snapshot();
        let deadline = Instant::now() + DEADLINE;
        loop {
            let snapshot = snapshots.borrow().clone();
            if check(&snapshot) {
                return snapshot;
            }
            let left = deadline.saturating_duration_since(Instant::now());
            assert!(
                !left.is_zero(),
                "timed out waiting for {what}: {snapshot:#?}"
            );
            // (A plain thread cannot await the watch: it polls it.)
            std::thread::sleep(Duration::from_millis(5));
        }
    }

    fn send(&self, command: Command) -> Outcome {
        let (reply, answer) = oneshot::channel();
        let request = Request {
            command,
            reply: Some(reply),
        };
        if self.engine().commands().blocking_send(request).is_err() {
            panic!("the engine stopped taking commands");
        }
        match answer.blocking_recv() {
            Ok(outcome) => outcome,
            Err(e) => panic!("the command was not answered: {e}"),
        }
    }
}

impl Drop for Rig {
    fn drop(&mut self) {
        if let Some(engine) = self.engine.take() {
            let _ = engine.commands().try_send(Request {
                command: Command::Shutdown { force: true },
                reply: None,
            });
            // Every start asked for is answered (by dropping it), so that
            // shutdown can end.
            let asked = std::mem::replace(&mut self.asked, std_mpsc::channel().1);
            let answering = std::thread::spawn(move || while asked.recv().is_ok() {});
            let _ = engine.join();
            let _ = answering.join();
        }
    }
}

fn status<'a>(snapshot: &'a Snapshot, name: &str) -> &'a crate::api::ServiceStatus {
    match snapshot.services.iter().find(|s| s.name == name) {
        Some(status) => status,
        None => panic!("no service {name} in {snapshot:#?}"),
    }
}

#[test]
fn a_start_is_asked_with_its_port_the_others_ports_and_a_clean_environment() {
    let rig = Rig::start(
        r#"
[services.db]
command = "postgres -p ${port}"
port = "auto"

[services.cache]
command = ["redis-server", "--port", "${port}"]
port = "auto"
env = { DB_URL = "postgres://127.0.0.1:${services.db.port}/app" }
"#,
    );
    let mut asked = [rig.next_start(), rig.next_start()];
    asked.sort_by(|a, b| a.service().cmp(b.service()));
    let [cache, db] = asked;
    assert_eq!((cache.service(), db.service()), ("cache", "db"));
    let snapshot = rig.wait_for("both ports", |s| {
        s.services.iter().all(|s| s.port.is_some())
    });
    let port = |name: &str| status(&snapshot, name).port.map(|p| p.to_string());
    let (db_port, cache_port) = (port("db").unwrap(), port("cache").unwrap());

    // Plain words: no shell between bringup and the service.
    assert_eq!(db.request.argv, ["postgres", "-p", db_port.as_str()]);
    assert_eq!(
        cache.request.argv,
        ["redis-server", "--port", cache_port.as_str()]
    );
    assert_eq!(cache.env("PORT"), Some(cache_port.as_str()));
    assert_eq!(cache.env("BRINGUP_PORT_DB"), Some(db_port.as_str()));
    assert_eq!(
        cache.env("DB_URL").map(String::from),
        Some(format!("postgres://127.0.0.1:{db_port}/app"))
    );
    assert_eq!(cache.env("BRINGUP_SERVICE"), Some("cache"));
    assert_eq!(cache.env("BRINGUP_ATTEMPT"), Some("1"));
    let run = cache.env(RUN_VARIABLE).map(String::from);
    assert!(
        run.is_some() && run.as_deref() == db.env(RUN_VARIABLE),
        "one run marker"
    );
    assert_eq!(
        cache.request.owner.as_ref().map(|o| Some(o.run.as_str())),
        Some(run.as_deref())
    );
    for inherited in [
        "LISTEN_FDS",
        "LISTEN_PID",
        "LISTEN_FDNAMES",
        "NOTIFY_SOCKET",
    ] {
        assert!(
            cache.request.env_remove.iter().any(|k| k == inherited),
            "{inherited} must not be inherited"
        );
    }
    assert_eq!(cache.request.cwd, Path::new("/"));
}

#[test]
fn a_start_that_cannot_be_made_is_retried_by_its_policy_then_given_up() {
    let rig = Rig::start(
        r#"
[services.api]
command = "api"
restart = "on-failure"
max_restarts = 2
backoff = { initial = "10ms", max = "20ms" }

[services.web]
command = "web"
depends_on = ["api"]
"#,
    );
    for attempt in 1..=3 {
        let asked = rig.next_start();
        assert_eq!(asked.service(), "api", "attempt {attempt}");
        // Each start says which it is, for the service's own log.
        assert_eq!(
            asked.env("BRINGUP_ATTEMPT"),
            Some(attempt.to_string().as_str())
        );
        asked.fail("no such file or directory");
    }
    let snapshot = rig.wait_for("api to give up", |s| {
        status(s, "api").state == State::Failed
    });
    let api = status(&snapshot, "api");
    assert_eq!(
        api.last_exit,
        Some(Exit::NotStarted("no such file or directory".into()))
    );
    assert!(
        matches!(
            &api.reason,
            Reason::Exited {
                then: Then::GaveUp { restarts: 2 },
                ..
            }
        ),
        "{:?}",
        api.reason
    );
    assert_eq!(api.spawns, 3);
    // web needs api ready: it is never started, and says why.
    let snapshot = rig.wait_for("web blocked", |s| status(s, "web").state == State::Failed);
    assert!(
        matches!(&status(&snapshot, "web").reason, Reason::Blocked { on, .. } if on == "api"),
        "{:?}",
        status(&snapshot, "web").reason
    );
    assert!(rig.another_start(Duration::from_millis(200)).is_none());
}

#[test]
fn a_restart_asks_for_a_new_start_and_shutdown_completes_with_nothing_running() {
    let rig = Rig::start("[services.api]\ncommand = \"api\"\nrestart = \"never\"\n");
    rig.next_start().fail("exec format error");
    let snapshot = rig.wait_for("api failed", |s| status(s, "api").state == State::Failed);
    let id = status(&snapshot, "api").id;
    assert_eq!(rig.send(Command::Restart(id)), Outcome::Done);
    let again = rig.next_start();
    assert_eq!(again.service(), "api");
    again.fail("exec format error");
    rig.wait_for("the second attempt", |s| status(s, "api").spawns == 2);
    assert_eq!(rig.send(Command::Shutdown { force: false }), Outcome::Done);
    let done = rig.wait_for("shutdown", |s| s.phase == Phase::Done);
    assert_eq!(status(&done, "api").pid, None);
}
