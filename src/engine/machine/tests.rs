//! Transition-by-transition tests of the state machine: no processes, no
//! sleeps, time is whatever the test says it is.

use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use nix::sys::signal::Signal;

use super::*;
use crate::api::SignalName;
use crate::config::validate::Context;

fn plan(text: &str) -> Arc<Plan> {
    let cx = Context::without_env(Path::new("t.toml"), Path::new("/"), "bringup");
    match crate::config::load_with(text, &cx) {
        Ok(plan) => Arc::new(plan),
        Err(e) => panic!("test config is invalid: {e}"),
    }
}

/// A machine plus the bookkeeping a runtime would do: time, generations.
struct Rig {
    machine: Machine,
    now: Duration,
    generation: Vec<u64>,
    pid: u32,
}

impl Rig {
    fn new(text: &str) -> Self {
        let plan = plan(text);
        let n = plan.services.len();
        Self {
            machine: Machine::new(plan, 7),
            now: Duration::ZERO,
            generation: vec![0; n],
            pid: 1000,
        }
    }

    /// The number of `name` (also of one removed from the config).
    fn id(&self, name: &str) -> ServiceId {
        let plan = self.machine.plan();
        plan.all_ids()
            .find(|&id| plan.service(id).name == name)
            .unwrap_or_else(|| panic!("no service {name}"))
    }

    fn name(&self, id: ServiceId) -> String {
        self.machine.plan().service(id).name.clone()
    }

    fn at(&mut self, ms: u64) -> &mut Self {
        self.now = Duration::from_millis(ms);
        self
    }

    /// Feeds `input`; a sweep for leftovers it asks for finds none, as
    /// the runtime's would on a stack that leaves nothing behind.
    fn feed(&mut self, input: Input) -> Vec<Effect> {
        let mut effects = self.machine.handle(self.now, input);
        for effect in &effects {
            if let Effect::Spawn { id, generation, .. } = effect {
                if id.0 >= self.generation.len() {
                    self.generation.resize(id.0 + 1, 0);
                }
                self.generation[id.0] = *generation;
            }
        }
        if effects.contains(&Effect::SweepLeftovers) {
            let swept = Input::Swept {
                result: Ok(Vec::new()),
            };
            effects.extend(self.machine.handle(self.now, swept));
        }
        effects
    }

    fn begin(&mut self) -> Vec<Effect> {
        self.feed(Input::Begin)
    }

    fn spawned(&mut self, name: &str) -> Vec<Effect> {
        let id = self.id(name);
        self.pid += 1;
        let (generation, pid) = (self.generation[id.0], self.pid);
        self.feed(Input::Process {
            id,
            generation,
            news: News::Spawned { pid },
        })
    }

    fn ready(&mut self, name: &str) -> Vec<Effect> {
        let id = self.id(name);
        let generation = self.generation[id.0];
        self.feed(Input::Process {
            id,
            generation,
            news: News::Readiness {
                ok: true,
                detail: String::new(),
            },
        })
    }

    fn not_ready(&mut self, name: &str) -> Vec<Effect> {
        let id = self.id(name);
        let generation = self.generation[id.0];
        self.feed(Input::Process {
            id,
            generation,
            news: News::Readiness {
                ok: false,
                detail: "connection refused".into(),
            },
        })
    }

    fn live(&mut self, name: &str, ok: bool) -> Vec<Effect> {
        let id = self.id(name);
        let generation = self.generation[id.0];
        self.feed(Input::Process {
            id,
            generation,
            news: News::Liveness {
                ok,
                detail: "HTTP 500".into(),
            },
        })
    }

    fn exit(&mut self, name: &str, code: i32) -> Vec<Effect> {
        let id = self.id(name);
        let generation = self.generation[id.0];
        self.feed(Input::Process {
            id,
            generation,
            news: News::Exited {
                exit: Exit::Code(code),
            },
        })
    }

    fn fire(&mut self, name: &str, timer: Timer) -> Vec<Effect> {
        let id = self.id(name);
        let generation = self.generation[id.0];
        self.feed(Input::Process {
            id,
            generation,
            news: News::Timer { timer },
        })
    }

    fn command(&mut self, command: Command) -> Vec<Effect> {
        self.feed(Input::Command {
            ticket: Ticket(0),
            command,
        })
    }

    /// Spawn, report spawned, report ready.
    fn up(&mut self, name: &str) {
        self.spawned(name);
        self.ready(name);
    }

    fn state(&self, name: &str) -> State {
        self.machine.status(self.id(name)).state
    }

    fn status(&self, name: &str) -> ServiceStatus {
        self.machine.status(self.id(name))
    }

    /// What a user reads about why `name` is in its state: the reason in
    /// words, or while it starts, the last check's answer.
    fn note(&self, name: &str) -> String {
        let status = self.status(name);
        match (&status.last_check, status.state) {
            (Some(check), State::Starting) => check.clone(),
            _ => crate::api::describe::reason(&status.reason),
        }
    }

    fn spawns(&self, effects: &[Effect]) -> Vec<String> {
        effects
            .iter()
            .filter_map(|e| match e {
                Effect::Spawn { id, .. } => Some(self.name(*id)),
                _ => None,
            })
            .collect()
    }

    fn signals(&self, effects: &[Effect]) -> Vec<(String, Signal)> {
        effects
            .iter()
            .filter_map(|e| match e {
                Effect::Signal { id, signal, .. } => Some((self.name(*id), *signal)),
                Effect::Kill { id, .. } => Some((self.name(*id), Signal::SIGKILL)),
                _ => None,
            })
            .collect()
    }

    fn timers(&self, effects: &[Effect], which: Timer) -> Vec<(String, Duration)> {
        effects
            .iter()
            .filter_map(|e| match e {
                Effect::Arm {
                    id, timer, after, ..
                } if *timer == which => Some((self.name(*id), *after)),
                _ => None,
            })
            .collect()
    }
}

const STACK: &str = r#"
[services.db]
port = 101
command = "true"
[services.cache]
port = 102
command = "true"
optional = true
[services.api]
port = 103
command = "true"
depends_on = { db = "required", cache = "optional" }
dependency_timeout = "5s"
[services.web]
port = 104
command = "true"
depends_on = { api = "required" }
"#;

#[test]
fn begin_spawns_only_services_without_dependencies() {
    let mut rig = Rig::new(STACK);
    let effects = rig.begin();
    assert_eq!(rig.spawns(&effects), ["db", "cache"]);
    assert_eq!(rig.state("api"), State::Pending);
    assert_eq!(
        rig.status("api").waiting,
        Some(WaitReason::Dependency {
            on: "db".into(),
            need: Need::Ready
        })
    );
    assert_eq!(
        rig.status("web")
            .waiting
            .map(|w| crate::api::describe::waiting(&w))
            .unwrap(),
        "waiting for api (ready)"
    );
}

#[test]
fn what_took_longest_last_time_is_spawned_first() {
    let ms = |v: u64| Some(Duration::from_millis(v));
    let order = |db, cache| {
        let mut rig = Rig::new(STACK);
        let mut expected = vec![None; rig.machine.plan().services.len()];
        expected[rig.id("db").0] = db;
        expected[rig.id("cache").0] = cache;
        expected[rig.id("api").0] = ms(700);
        rig.machine.order_by_expected(&expected);
        let effects = rig.begin();
        rig.spawns(&effects)
    };
    // Nothing known: declaration order.
    assert_eq!(order(None, None), ["db", "cache"]);
    // api waits for both: cache's way to the end (900 + 700) is longer.
    assert_eq!(order(ms(400), ms(900)), ["cache", "db"]);
    assert_eq!(order(ms(2000), ms(900)), ["db", "cache"]);
}

#[test]
fn a_dependent_spawns_only_once_its_required_dependency_is_ready() {
    let mut rig = Rig::new(STACK);
    rig.begin();
    let effects = rig.spawned("db");
    assert!(rig.spawns(&effects).is_empty());
    rig.up("cache");
    // db spawned but not ready: api still waits.
    assert_eq!(rig.state("api"), State::Pending);
    let effects = rig.at(300).ready("db");
    assert_eq!(rig.spawns(&effects), ["api"]);
    assert_eq!(rig.state("api"), State::Starting);
    assert!(rig.status("api").degraded.is_empty());
}

#[test]
fn a_failed_required_dependency_blocks_and_its_recovery_unblocks() {
    let mut rig = Rig::new(
        r#"
[services.db]
port = 101
command = "false"
restart = "never"
[services.api]
port = 102
command = "true"
depends_on = ["db"]
[services.web]
port = 103
command = "true"
depends_on = ["api"]
"#,
    );
    rig.begin();
    rig.spawned("db");
    rig.at(50).exit("db", 1);
    assert_eq!(rig.state("db"), State::Failed);
    assert_eq!(rig.note("db"), "exited with code 1");
    // Blocked dependents show why, the whole chain down.
    assert_eq!(rig.state("api"), State::Failed);
    assert_eq!(rig.note("api"), "blocked: required dependency db is failed");
    assert_eq!(rig.state("web"), State::Failed);
    assert!(rig.note("web").contains("api"));
    // The user starts db again; once it is ready, the chain comes up.
    let db = rig.id("db");
    let effects = rig.at(1000).command(Command::Start(db));
    assert_eq!(rig.spawns(&effects), ["db"]);
    assert_eq!(rig.state("api"), State::Pending);
    let effects = {
        rig.spawned("db");
        rig.ready("db")
    };
    assert_eq!(rig.spawns(&effects), ["api"]);
    rig.up("api");
    assert_eq!(rig.state("web"), State::Starting);
}

#[test]
fn a_failed_optional_dependency_degrades_instead_of_blocking() {
    let mut rig = Rig::new(STACK);
    rig.begin();
    rig.up("db");
    assert_eq!(
        rig.state("api"),
        State::Pending,
        "still waiting for the optional cache"
    );
    rig.spawned("cache");
    let effects = rig.exit("cache", 1);
    // cache restarts (on-failure) — a restarting optional dependency is still awaited.
    assert_eq!(rig.state("cache"), State::Pending);
    assert!(rig.spawns(&effects).is_empty());
    rig.command(Command::Stop(rig.id("cache")));
    assert_eq!(rig.state("cache"), State::Stopped);
    assert_eq!(rig.state("api"), State::Starting);
    assert_eq!(rig.status("api").degraded, ["cache"]);
    assert!(rig.note("api").contains("degraded: without cache"));
}

#[test]
fn an_optional_dependency_that_takes_too_long_is_given_up_on() {
    let mut rig = Rig::new(STACK);
    let effects = rig.begin();
    assert_eq!(
        rig.timers(&effects, Timer::DependencyTimeout),
        [("api".to_string(), Duration::from_secs(5))]
    );
    rig.up("db");
    rig.spawned("cache");
    assert_eq!(rig.state("api"), State::Pending);
    let effects = rig.at(5000).fire("api", Timer::DependencyTimeout);
    assert_eq!(rig.spawns(&effects), ["api"]);
    assert_eq!(rig.status("api").degraded, ["cache"]);
}

#[test]
fn soft_waits_for_spawn_and_completed_waits_for_exit_zero() {
    let mut rig = Rig::new(
        r#"
[services.db]
port = 101
command = "true"
[services.migrate]
command = "true"
kind = "task"
depends_on = { db = "soft" }
[services.api]
port = 102
command = "true"
depends_on = { migrate = "completed" }
"#,
    );
    rig.begin();
    assert_eq!(rig.state("migrate"), State::Pending);
    let effects = rig.spawned("db");
    assert_eq!(rig.spawns(&effects), ["migrate"], "soft: spawned is enough");
    rig.spawned("migrate");
    assert_eq!(
        rig.status("api")
            .waiting
            .map(|w| crate::api::describe::waiting(&w))
            .unwrap(),
        "waiting for migrate (completed)"
    );
    let effects = rig.at(200).exit("migrate", 0);
    assert_eq!(rig.state("migrate"), State::Completed);
    assert_eq!(rig.spawns(&effects), ["api"]);
}

#[test]
fn a_failed_task_blocks_what_waits_for_its_completion() {
    let mut rig = Rig::new(
        r#"
[services.migrate]
command = "false"
kind = "task"
[services.api]
port = 101
command = "true"
depends_on = { migrate = "completed" }
"#,
    );
    rig.begin();
    rig.spawned("migrate");
    rig.exit("migrate", 2);
    assert_eq!(
        rig.state("migrate"),
        State::Failed,
        "tasks default to restart = never"
    );
    assert_eq!(rig.state("api"), State::Failed);
    assert!(rig.note("api").contains("migrate"));
}

#[test]
fn max_parallel_starts_limits_services_in_starting() {
    let mut rig = Rig::new(
        r#"
[project]
max_parallel_starts = 1
[services.a]
port = 101
command = "true"
[services.b]
port = 102
command = "true"
[services.c]
port = 103
command = "true"
depends_on = ["a"]
"#,
    );
    let effects = rig.begin();
    assert_eq!(rig.spawns(&effects), ["a"]);
    assert_eq!(
        rig.status("b").waiting,
        Some(WaitReason::StartSlot { limit: 1 })
    );
    rig.spawned("a");
    let effects = rig.ready("a");
    // a left `starting`; b takes the slot first (start order), c waits for it.
    assert_eq!(rig.spawns(&effects), ["b"]);
    assert_eq!(
        rig.status("c").waiting,
        Some(WaitReason::StartSlot { limit: 1 })
    );
    let effects = rig.up_and_effects("b");
    assert_eq!(rig.spawns(&effects), ["c"]);
}

impl Rig {
    fn up_and_effects(&mut self, name: &str) -> Vec<Effect> {
        self.spawned(name);
        self.ready(name)
    }
}

#[test]
fn crash_loops_back_off_exponentially_and_stop_at_max_restarts() {
    let mut rig = Rig::new(
        r#"
[services.flaky]
port = 101
command = "false"
max_restarts = 3
backoff = { initial = "100ms", max = "10s" }
"#,
    );
    rig.begin();
    let mut delays = Vec::new();
    for attempt in 1..=3u32 {
        rig.spawned("flaky");
        let effects = rig.exit("flaky", 1);
        let timers = rig.timers(&effects, Timer::Restart);
        assert_eq!(timers.len(), 1, "attempt {attempt}: {effects:?}");
        delays.push(timers[0].1);
        let status = rig.status("flaky");
        assert_eq!(status.state, State::Pending);
        assert_eq!(status.restarts, attempt);
        assert!(
            matches!(status.waiting, Some(WaitReason::Restart { attempt: a, of: 3, .. }) if a == attempt)
        );
        // Nothing spawns before the backoff timer fires.
        assert!(rig.spawns(&effects).is_empty());
        let effects = rig.fire("flaky", Timer::Restart);
        assert_eq!(rig.spawns(&effects), ["flaky"]);
    }
    // 100ms, 200ms, 400ms, each ±20%: strictly growing.
    assert!(delays.windows(2).all(|w| w[1] > w[0]), "{delays:?}");
    assert!(delays[0] >= Duration::from_millis(80) && delays[0] <= Duration::from_millis(120));
    rig.spawned("flaky");
    let effects = rig.exit("flaky", 1);
    assert!(rig.timers(&effects, Timer::Restart).is_empty());
    assert_eq!(rig.state("flaky"), State::Failed);
    assert_eq!(
        rig.note("flaky"),
        "exited with code 1; gave up after 3 restarts"
    );
}

#[test]
fn backoff_is_capped() {
    let mut rig = Rig::new("[services.a]\ncommand = \"x\"\n");
    for attempt in 1..40 {
        let delay =
            rig.machine
                .backoff_delay(Duration::from_millis(100), Duration::from_secs(2), attempt);
        assert!(delay <= Duration::from_secs(2));
    }
}

#[test]
fn ready_timeout_makes_a_service_not_ready_and_it_can_still_become_ready() {
    let mut rig = Rig::new("[services.a]\ncommand = \"x\"\nport = 9\nready_timeout = \"2s\"\n");
    let effects = rig.begin();
    assert_eq!(
        rig.timers(&effects, Timer::ReadyTimeout),
        [("a".to_string(), Duration::from_secs(2))]
    );
    rig.spawned("a");
    rig.not_ready("a");
    rig.at(2000).fire("a", Timer::ReadyTimeout);
    assert_eq!(rig.state("a"), State::NotReady);
    assert!(
        rig.note("a").contains("connection refused"),
        "{}",
        rig.note("a")
    );
    rig.at(2500).ready("a");
    assert_eq!(rig.state("a"), State::Ready);
}

#[test]
fn readiness_failures_after_ready_count_up_to_the_threshold() {
    let mut rig = Rig::new(
        "[services.a]\ncommand = \"x\"\nport = 9\nreadiness = { tcp = true, failure_threshold = 2 }\n",
    );
    rig.begin();
    rig.up("a");
    rig.not_ready("a");
    assert_eq!(rig.state("a"), State::Ready);
    rig.not_ready("a");
    assert_eq!(rig.state("a"), State::NotReady);
    rig.ready("a");
    assert_eq!(rig.state("a"), State::Ready);
}

#[test]
fn failing_liveness_restarts_the_service() {
    let mut rig = Rig::new(
        r#"
[services.a]
command = "x"
port = 9
liveness = { tcp = true, failure_threshold = 2 }
stop_grace = "1s"
"#,
    );
    rig.begin();
    rig.spawned("a");
    let effects = rig.ready("a");
    assert!(
        effects
            .iter()
            .any(|e| matches!(e, Effect::StartLiveness { .. }))
    );
    rig.live("a", false);
    let effects = rig.live("a", false);
    assert_eq!(rig.signals(&effects), [("a".to_string(), Signal::SIGTERM)]);
    let effects = rig.exit("a", 143);
    assert_eq!(rig.status("a").restarts, 1);
    assert!(rig.note("a").starts_with("liveness failed 2 times"));
    assert_eq!(rig.timers(&effects, Timer::Restart).len(), 1);
}

#[test]
fn shutdown_stops_dependents_first_and_kills_after_grace() {
    let mut rig = Rig::new(
        r#"
[services.db]
port = 101
command = "x"
stop_grace = "3s"
[services.api]
port = 102
command = "x"
depends_on = ["db"]
stop_signal = "SIGINT"
[services.worker]
port = 103
command = "x"
depends_on = ["db"]
"#,
    );
    rig.begin();
    rig.up("db");
    rig.up("api");
    rig.up("worker");
    let effects = rig.at(10_000).command(Command::Shutdown { force: false });
    // Both dependents at once, each with its own stop signal; db waits.
    assert_eq!(
        rig.signals(&effects),
        [
            ("api".to_string(), Signal::SIGINT),
            ("worker".to_string(), Signal::SIGTERM)
        ]
    );
    let effects = rig.exit("api", 0);
    assert!(
        rig.signals(&effects).is_empty(),
        "db still has a running dependent"
    );
    let effects = rig.exit("worker", 0);
    assert_eq!(rig.signals(&effects), [("db".to_string(), Signal::SIGTERM)]);
    assert_eq!(
        rig.timers(&effects, Timer::StopGrace),
        [("db".to_string(), Duration::from_secs(3))]
    );
    // db ignores SIGTERM: the grace timer kills it.
    let effects = rig.at(13_000).fire("db", Timer::StopGrace);
    assert_eq!(rig.signals(&effects), [("db".to_string(), Signal::SIGKILL)]);
    let effects = rig.feed(Input::Process {
        id: rig.id("db"),
        generation: rig.generation[0],
        news: News::Exited {
            exit: Exit::Signal(SignalName::of(9)),
        },
    });
    assert_eq!(rig.machine.phase(), Phase::Done);
    assert!(
        effects
            .iter()
            .any(|e| matches!(e, Effect::Publish(EventKind::ShutdownComplete)))
    );
    for name in ["db", "api", "worker"] {
        assert_eq!(rig.state(name), State::Stopped);
    }
}

#[test]
fn forced_shutdown_kills_everything_at_once() {
    let mut rig = Rig::new(STACK);
    rig.begin();
    rig.up("db");
    rig.up("cache");
    rig.command(Command::Shutdown { force: false });
    let effects = rig.command(Command::Shutdown { force: true });
    let mut killed: Vec<String> = rig.signals(&effects).into_iter().map(|(n, _)| n).collect();
    killed.sort();
    assert_eq!(killed, ["cache", "db"]);
    // api's spawn was in flight: it is killed the moment its pid is known.
    let effects = rig.spawned("api");
    assert_eq!(
        rig.signals(&effects),
        [("api".to_string(), Signal::SIGKILL)]
    );
    rig.exit("api", 137);
    // Nothing is killed twice.
    let effects = rig.exit("cache", 137);
    assert!(rig.signals(&effects).is_empty());
    rig.exit("db", 137);
    assert_eq!(rig.machine.phase(), Phase::Done);
    assert_eq!(rig.state("api"), State::Stopped);
}

#[test]
fn stale_inputs_from_an_earlier_process_are_ignored() {
    let mut rig = Rig::new("[services.a]\ncommand = \"x\"\nport = 9\n");
    rig.begin();
    rig.spawned("a");
    let old = rig.generation[0];
    rig.exit("a", 1);
    rig.fire("a", Timer::Restart);
    rig.spawned("a");
    assert_ne!(rig.generation[0], old);
    rig.feed(Input::Process {
        id: ServiceId(0),
        generation: old,
        news: News::Readiness {
            ok: true,
            detail: String::new(),
        },
    });
    assert_eq!(
        rig.state("a"),
        State::Starting,
        "a readiness pass from the dead process counts for nothing"
    );
    rig.feed(Input::Process {
        id: ServiceId(0),
        generation: old,
        news: News::Exited {
            exit: Exit::Code(1),
        },
    });
    assert!(rig.status("a").pid.is_some());
}

#[test]
fn skip_stops_an_optional_service_and_dependents_degrade() {
    let mut rig = Rig::new(STACK);
    rig.begin();
    rig.up("db");
    rig.spawned("cache");
    let effects = rig.command(Command::Skip(rig.id("cache")));
    assert_eq!(
        rig.signals(&effects),
        [("cache".to_string(), Signal::SIGTERM)]
    );
    assert!(rig.status("cache").stopping);
    let effects = rig.exit("cache", 0);
    assert_eq!(rig.state("cache"), State::Skipped);
    assert_eq!(rig.spawns(&effects), ["api"]);
    assert_eq!(rig.status("api").degraded, ["cache"]);
    // Skipping a required service is refused with a reason.
    let effects = rig.command(Command::Skip(rig.id("db")));
    assert!(effects.iter().any(|e| matches!(
        e,
        Effect::Reply {
            outcome: Outcome::Refused {
                why: Refusal::NotOptional
            },
            ..
        }
    )));
    assert_eq!(rig.state("db"), State::Ready);
    // Start brings the skipped service back.
    let effects = rig.command(Command::Start(rig.id("cache")));
    assert_eq!(rig.spawns(&effects), ["cache"]);
}

#[test]
fn kill_and_restart_commands() {
    let mut rig = Rig::new(STACK);
    rig.begin();
    rig.up("db");
    let effects = rig.command(Command::Kill(rig.id("db")));
    assert_eq!(rig.signals(&effects), [("db".to_string(), Signal::SIGKILL)]);
    rig.feed(Input::Process {
        id: rig.id("db"),
        generation: rig.generation[0],
        news: News::Exited {
            exit: Exit::Signal(SignalName::of(9)),
        },
    });
    assert_eq!(
        rig.state("db"),
        State::Stopped,
        "a killed service stays down"
    );
    assert_eq!(rig.note("db"), "stopped (killed by SIGKILL)");

    let effects = rig.command(Command::Restart(rig.id("db")));
    assert_eq!(rig.spawns(&effects), ["db"]);
    rig.up("db");
    let before = rig.generation[0];
    let effects = rig.command(Command::Restart(rig.id("db")));
    assert_eq!(rig.signals(&effects), [("db".to_string(), Signal::SIGTERM)]);
    let effects = rig.exit("db", 0);
    assert_eq!(rig.spawns(&effects), ["db"]);
    assert_eq!(rig.generation[0], before + 1);
    assert_eq!(
        rig.status("db").restarts,
        0,
        "a manual restart is not a crash"
    );
}

#[test]
fn a_spawn_failure_follows_the_restart_policy() {
    let mut rig = Rig::new("[services.a]\ncommand = [\"/nonexistent\"]\nrestart = \"never\"\n");
    rig.begin();
    let generation = rig.generation[0];
    rig.feed(Input::Process {
        id: ServiceId(0),
        generation,
        news: News::SpawnFailed {
            error: "No such file or directory".into(),
        },
    });
    assert_eq!(rig.state("a"), State::Failed);
    assert_eq!(rig.note("a"), "could not start: No such file or directory");
}

#[test]
fn the_cold_start_summary_names_the_critical_path() {
    let mut rig = Rig::new(STACK);
    rig.begin();
    rig.spawned("db");
    rig.spawned("cache");
    rig.at(100).ready("cache");
    rig.at(300).ready("db");
    rig.spawned("api");
    rig.at(500).ready("api");
    rig.spawned("web");
    let effects = rig.at(700).ready("web");
    let summary = effects
        .iter()
        .find_map(|e| match e {
            Effect::Publish(EventKind::ColdStart(s)) => Some(s.clone()),
            _ => None,
        })
        .expect("the cold start is over");
    assert!(summary.all_required_ready);
    assert_eq!(summary.time_to_ready, Duration::from_millis(700));
    let path: Vec<&str> = summary
        .critical_path
        .iter()
        .map(|t| t.name.as_str())
        .collect();
    assert_eq!(path, ["db", "api", "web"]);
    assert_eq!(
        summary.services[2].time_to_ready(),
        Some(Duration::from_millis(200))
    );
}

#[test]
fn a_cold_start_with_a_stuck_service_still_ends() {
    let mut rig = Rig::new(
        "[services.db]\ncommand = \"x\"\nport = 9\nready_timeout = \"1s\"\n[services.api]\ncommand = \"x\"\ndepends_on = [\"db\"]\n",
    );
    rig.begin();
    rig.spawned("db");
    let effects = rig.at(1000).fire("db", Timer::ReadyTimeout);
    let summary = effects.iter().find_map(|e| match e {
        Effect::Publish(EventKind::ColdStart(s)) => Some(s.clone()),
        _ => None,
    });
    assert!(
        !summary
            .expect("settled: db is stuck, api waits on it")
            .all_required_ready
    );
}

#[test]
fn restart_all_stops_in_reverse_order_then_starts_in_order() {
    let mut rig = Rig::new(STACK);
    rig.begin();
    for name in ["db", "cache", "api", "web"] {
        rig.up(name);
    }
    let effects = rig.command(Command::RestartAll);
    // Only what no running service depends on stops first.
    assert_eq!(
        rig.signals(&effects),
        [("web".to_string(), Signal::SIGTERM)]
    );
    let effects = rig.exit("web", 0);
    assert_eq!(
        rig.signals(&effects),
        [("api".to_string(), Signal::SIGTERM)]
    );
    let effects = rig.exit("api", 0);
    assert_eq!(
        rig.signals(&effects),
        [
            ("db".to_string(), Signal::SIGTERM),
            ("cache".to_string(), Signal::SIGTERM)
        ]
    );
    rig.exit("db", 0);
    let effects = rig.exit("cache", 0);
    assert_eq!(rig.machine.phase(), Phase::Running);
    assert_eq!(rig.spawns(&effects), ["db", "cache"]);
    assert_eq!(rig.state("api"), State::Pending);
}

// ----- found in review ------------------------------------------------------

/// F1: a dependency that is being stopped (restart/skip/liveness-failure)
/// still counts as `ready` until its process exits, so a pending dependent
/// is spawned against a dying dependency.
#[test]
fn a_dependency_being_stopped_does_not_count_as_ready() {
    let mut rig = Rig::new(STACK);
    rig.begin();
    rig.up("db");
    rig.spawned("cache"); // api waits on the optional cache
    assert_eq!(rig.state("api"), State::Pending);
    // User restarts db: SIGTERM goes out, db's state stays Ready.
    let effects = {
        let id = rig.id("db");
        rig.at(100).command(Command::Restart(id))
    };
    assert_eq!(rig.signals(&effects), [("db".to_string(), Signal::SIGTERM)]);
    // cache becomes ready while db is still shutting down.
    let effects = rig.at(150).ready("cache");
    assert!(
        rig.spawns(&effects).is_empty(),
        "api spawned while its required dependency db is being stopped: {:?}",
        rig.spawns(&effects)
    );
}

/// F2: every not_ready → ready transition emits another StartLiveness while
/// the previous liveness loop keeps running (runtime pushes, never replaces).
#[test]
fn liveness_starts_once_per_process() {
    let mut rig = Rig::new(
        r#"
[services.a]
port = 101
command = "x"
restart = "never"
liveness = { tcp = true, failure_threshold = 1 }
"#,
    );
    rig.begin();
    rig.spawned("a");
    let mut starts = 0;
    let mut stops = 0;
    let mut count = |effects: &[Effect]| {
        for e in effects {
            match e {
                Effect::StartLiveness { .. } => starts += 1,
                Effect::StopProbes { .. } => stops += 1,
                _ => {}
            }
        }
    };
    count(&rig.ready("a"));
    for _ in 0..3 {
        count(&rig.live("a", false)); // restart = never → not_ready
        assert_eq!(rig.state("a"), State::NotReady);
        count(&rig.ready("a")); // readiness loop still passes → ready again
        assert_eq!(rig.state("a"), State::Ready);
    }
    assert_eq!(stops, 0);
    assert_eq!(starts, 1, "liveness started {starts} times for one process");
}

/// F3a: a DependencyTimeout armed for an earlier pending period fires into a
/// later one (same generation), cutting the new wait short.
#[test]
fn a_stale_dependency_timeout_does_not_cut_a_later_wait_short() {
    let mut rig = Rig::new(STACK); // api: dependency_timeout = 5s, cache optional
    rig.begin(); // arms api's DependencyTimeout for t=5s
    rig.up("db");
    rig.spawned("cache");
    {
        let id = rig.id("api");
        rig.at(4000).command(Command::Stop(id))
    };
    {
        let id = rig.id("api");
        rig.at(4500).command(Command::Start(id))
    }; // arms a new one for t=9.5s
    let effects = rig.at(5000).fire("api", Timer::DependencyTimeout); // the old one
    assert!(
        rig.spawns(&effects).is_empty(),
        "api gave up on cache after 0.5s instead of 5s"
    );
}

/// F3b: a dependent that was blocked when its dependency_timeout fired never
/// gets another one; once unblocked it waits on a stuck optional dependency
/// forever.
#[test]
fn a_dependency_timeout_is_armed_again_when_unblocked() {
    let mut rig = Rig::new(
        r#"
[services.db]
port = 101
command = "x"
restart = "never"
[services.cache]
port = 102
command = "x"
optional = true
[services.api]
port = 103
command = "x"
depends_on = { db = "required", cache = "optional" }
dependency_timeout = "5s"
"#,
    );
    rig.begin();
    rig.spawned("cache"); // cache never becomes ready
    rig.spawned("db");
    rig.at(1000).exit("db", 1);
    assert_eq!(rig.state("api"), State::Failed); // blocked
    rig.at(5000).fire("api", Timer::DependencyTimeout); // ignored: not Pending
    let effects = {
        let id = rig.id("db");
        rig.at(10_000).command(Command::Start(id))
    };
    assert_eq!(rig.spawns(&effects), ["db"]);
    rig.spawned("db");
    rig.at(11_000).ready("db");
    assert_eq!(rig.state("api"), State::Pending);
    // api started waiting again at 10s (unblocked): cache gets 5s from then.
    let effects = rig.at(14_000).fire("api", Timer::DependencyTimeout);
    assert!(rig.spawns(&effects).is_empty(), "too early");
    let effects = rig.at(15_000).fire("api", Timer::DependencyTimeout);
    assert_eq!(
        rig.spawns(&effects),
        ["api"],
        "api waits for cache with no timeout"
    );
    assert_eq!(rig.status("api").degraded, ["cache"]);
}

/// F4: a user restart in flight when shutdown begins leaves the service
/// `pending` after ShutdownComplete.
#[test]
fn a_restart_in_flight_at_shutdown_ends_stopped() {
    let mut rig = Rig::new("[services.a]\ncommand = \"x\"\nport = 9\n");
    rig.begin();
    rig.up("a");
    let a = rig.id("a");
    rig.command(Command::Restart(a));
    rig.command(Command::Shutdown { force: false });
    rig.exit("a", 0);
    assert_eq!(rig.machine.phase(), Phase::Done);
    assert_eq!(rig.state("a"), State::Stopped, "left {:?}", rig.state("a"));
}

/// F5: the cold-start summary is taken once, when everything is "settled";
/// not_ready counts as settled, so a service that needs longer than
/// ready_timeout is reported (and exits 1) even though it became ready.
#[test]
fn the_summary_is_updated_when_a_late_service_becomes_ready() {
    let mut rig = Rig::new("[services.db]\ncommand = \"x\"\nport = 9\nready_timeout = \"1s\"\n");
    rig.begin();
    rig.spawned("db");
    rig.at(1000).fire("db", Timer::ReadyTimeout);
    rig.at(1500).ready("db");
    assert_eq!(rig.state("db"), State::Ready);
    assert!(
        rig.machine.snapshot().summary.unwrap().all_required_ready,
        "db became ready but the summary (and the exit status) says it did not"
    );
}

/// F6: Kill during a spawn in flight sends the graceful stop signal instead
/// of SIGKILL once the pid is known.
#[test]
fn kill_while_spawning_sends_sigkill() {
    let mut rig = Rig::new("[services.a]\ncommand = \"x\"\nport = 9\n");
    rig.begin();
    let a = rig.id("a");
    rig.command(Command::Kill(a));
    let effects = rig.spawned("a");
    assert_eq!(rig.signals(&effects), [("a".to_string(), Signal::SIGKILL)]);
}

/// F3c: after a crash, the restarting dependent waits on a not_ready
/// optional dependency with no dependency_timeout at all.
#[test]
fn a_dependency_timeout_is_armed_again_after_a_crash() {
    let mut rig = Rig::new(STACK);
    rig.begin();
    rig.up("db");
    rig.up("cache");
    rig.up("api");
    for _ in 0..3 {
        rig.not_ready("cache");
    }
    assert_eq!(rig.state("cache"), State::NotReady);
    rig.at(1000).exit("api", 1);
    let effects = rig.at(1300).fire("api", Timer::Restart);
    assert_eq!(rig.state("api"), State::Pending);
    assert!(rig.spawns(&effects).is_empty(), "cache is not ready");
    // The wait began with the crash at 1s: cache gets 5s from then.
    let effects = rig.at(6000).fire("api", Timer::DependencyTimeout);
    assert_eq!(
        rig.spawns(&effects),
        ["api"],
        "api waits on not_ready cache forever"
    );
    assert_eq!(rig.status("api").degraded, ["cache"]);
}

/// F5b: an optional service still starting keeps the cold start open, so
/// stopping then reports "not healthy" although every required service is ready.
#[test]
fn stopping_before_the_cold_start_settles_still_gives_a_summary() {
    let mut rig = Rig::new(
        "[services.db]\ncommand = \"x\"\nport = 9\n[services.extra]\ncommand = \"x\"\nport = 10\noptional = true\n",
    );
    rig.begin();
    rig.up("db");
    rig.spawned("extra");
    rig.command(Command::Shutdown { force: false });
    assert!(
        rig.machine.snapshot().summary.is_some(),
        "no summary → headless Outcome::healthy() is false → exit 1"
    );
}

#[test]
fn a_running_dependent_is_degraded_while_its_optional_dependency_is_down() {
    let mut rig = Rig::new(STACK);
    rig.begin();
    rig.up("db");
    rig.up("cache");
    rig.up("api");
    assert!(rig.status("api").degraded.is_empty());
    let cache = rig.id("cache");
    rig.command(Command::Skip(cache));
    assert_eq!(
        rig.status("api").degraded,
        ["cache"],
        "cache is being stopped"
    );
    rig.exit("cache", 0);
    assert_eq!(rig.status("api").degraded, ["cache"]);
    rig.command(Command::Start(cache));
    rig.up("cache");
    assert!(rig.status("api").degraded.is_empty(), "cache is back");
}

#[test]
fn time_to_ready_counts_from_the_attempt_that_became_ready() {
    let mut rig = Rig::new(
        r#"
[services.db]
command = "db"
[services.api]
command = "api"
port = 8000
"#,
    );
    rig.begin();
    rig.up("db");
    // api's port was taken: its first attempt never got a process.
    let api = rig.id("api");
    let generation = rig.generation[api.0];
    rig.at(10).feed(Input::Process {
        id: api,
        generation,
        news: News::Unavailable {
            reason: "port 8000 is held".into(),
        },
    });
    assert_eq!(rig.state("api"), State::Failed);
    // The user answers the conflict a minute later; it is ready 900 ms after.
    rig.at(60_000).command(Command::Start(api));
    rig.spawned("api");
    rig.at(60_900).ready("api");
    let status = rig.status("api");
    assert_eq!(
        status.ready_attempt_spawned_at,
        Some(Duration::from_millis(60_000))
    );
    let summary = rig.machine.snapshot().summary.expect("a summary");
    let timing = summary
        .services
        .iter()
        .find(|t| t.name == "api")
        .expect("api");
    assert_eq!(timing.time_to_ready(), Some(Duration::from_millis(900)));
}

#[test]
fn a_crash_before_ready_does_not_count_towards_time_to_ready() {
    let mut rig = Rig::new(
        r#"
[services.api]
command = "api"
readiness = { log = "up" }
restart = "on-failure"
backoff = { initial = "1s", max = "1s" }
"#,
    );
    rig.begin();
    rig.spawned("api");
    rig.at(300).exit("api", 1);
    rig.at(1_300).fire("api", Timer::Restart);
    rig.spawned("api");
    rig.at(1_500).ready("api");
    let status = rig.status("api");
    assert_eq!(
        status.ready_attempt_spawned_at,
        Some(Duration::from_millis(1_300))
    );
    assert_eq!(status.first_ready_at, Some(Duration::from_millis(1_500)));
}

#[test]
fn a_running_dependent_hears_that_it_lost_a_required_dependency_and_got_it_back() {
    let mut rig = Rig::new(
        r#"
[services.db]
command = "db"
readiness = { log = "up" }
restart = "never"
[services.api]
command = "api"
depends_on = ["db"]
readiness = { log = "up" }
"#,
    );
    rig.begin();
    rig.up("db");
    rig.up("api");
    assert!(rig.status("api").lost.is_empty());
    let effects = rig.at(1000).exit("db", 1);
    let lost: Vec<_> = effects
        .iter()
        .filter_map(|e| match e {
            Effect::Publish(EventKind::DependencyLost {
                name, on, state, ..
            }) => Some((name.clone(), on.clone(), *state)),
            _ => None,
        })
        .collect();
    assert_eq!(lost, [("api".to_string(), "db".to_string(), State::Failed)]);
    let status = rig.status("api");
    assert_eq!(status.state, State::Ready, "it keeps running");
    assert_eq!(
        status.lost,
        [Lost {
            name: "db".into(),
            state: State::Failed
        }]
    );
    // Started again by hand, db comes back; api hears it once.
    let db = rig.id("db");
    rig.at(2000).command(Command::Start(db));
    let effects = [rig.spawned("db"), rig.at(2100).ready("db")].concat();
    let back = effects
        .iter()
        .filter(|e| matches!(e, Effect::Publish(EventKind::DependencyBack { .. })))
        .count();
    assert_eq!(back, 1);
    assert!(rig.status("api").lost.is_empty());
    // At shutdown, dependencies go down after their dependents: no news.
    let effects = rig.command(Command::Shutdown { force: false });
    assert!(
        !effects
            .iter()
            .any(|e| matches!(e, Effect::Publish(EventKind::DependencyLost { .. })))
    );
}

/// The answer to the command fed with `ticket`, if the effects hold one.
fn answer(effects: &[Effect], ticket: Ticket) -> Option<Outcome> {
    effects.iter().find_map(|e| match e {
        Effect::Reply { ticket: t, outcome } if *t == ticket => Some(outcome.clone()),
        _ => None,
    })
}

#[test]
fn every_command_is_answered_with_its_ticket() {
    let mut rig = Rig::new(
        r#"
[services.db]
command = "db"
readiness = { log = "up" }
"#,
    );
    rig.begin();
    rig.up("db");
    let db = rig.id("db");
    let ask = |rig: &mut Rig, n: u64, command: Command| {
        let effects = rig.feed(Input::Command {
            ticket: Ticket(n),
            command,
        });
        answer(&effects, Ticket(n)).expect("an answer")
    };
    assert_eq!(
        ask(&mut rig, 1, Command::Start(db)),
        Outcome::Refused {
            why: Refusal::AlreadyStarted {
                state: State::Ready
            }
        }
    );
    assert_eq!(
        ask(&mut rig, 2, Command::Restart(ServiceId(9))),
        Outcome::NotFound
    );
    assert_eq!(ask(&mut rig, 3, Command::Stop(db)), Outcome::Done);
    // Asked again while it stops: already under way.
    assert_eq!(
        ask(&mut rig, 4, Command::Stop(db)),
        Outcome::Refused {
            why: Refusal::NothingToDo {
                state: State::Ready,
                stopping: true
            }
        }
    );
    // Killing it now is a harder stop: done.
    assert_eq!(ask(&mut rig, 5, Command::Kill(db)), Outcome::Done);
}

#[test]
fn a_conflict_is_resolved_by_the_machine_through_the_runtime() {
    let mut rig = Rig::new(
        r#"
[services.api]
command = "api"
port = 8000
readiness = { log = "up" }
"#,
    );
    let api = rig.id("api");
    // When ports are handed out, 8000 is held and api may adopt the
    // holder: it waits for the check before it could start.
    let effects = rig.feed(Input::PortHeld {
        id: api,
        port: 8000,
    });
    assert!(effects.iter().any(|e| matches!(
        e,
        Effect::CheckHolder {
            port: 8000,
            ticket: None,
            ..
        }
    )));
    let effects = rig.begin();
    assert!(
        !effects.iter().any(|e| matches!(e, Effect::Spawn { .. })),
        "not started while its holder is checked"
    );
    let effects = rig.feed(Input::HolderChecked {
        id: api,
        port: 8000,
        ticket: None,
        verdict: HolderVerdict::Fails {
            holder: "pid 7".into(),
            holders: Vec::new(),
            why: "HTTP 404".into(),
        },
    });
    assert!(
        effects
            .iter()
            .any(|e| matches!(e, Effect::RefuseHolder { port: 8000, .. }))
    );
    // Its start fails for want of the port (the runtime says so) ...
    let generation = rig.generation[api.0];
    rig.at(5).feed(Input::Process {
        id: api,
        generation,
        news: News::Unavailable {
            reason: "port 8000 is held".into(),
        },
    });
    assert_eq!(rig.state("api"), State::Failed);
    // ... then the user takes another port: the runtime finds one, the
    // machine starts the service again and answers.
    let effects = rig.feed(Input::Command {
        ticket: Ticket(7),
        command: Command::ResolvePort {
            service: api,
            choice: PortChoice::Fallback,
        },
    });
    assert!(effects.iter().any(|e| matches!(
        e,
        Effect::MovePort {
            ticket: Ticket(7),
            ..
        }
    )));
    assert_eq!(
        answer(&effects, Ticket(7)),
        None,
        "answered once the port is found"
    );
    let effects = rig.at(10).feed(Input::PortMoved {
        id: api,
        ticket: Ticket(7),
        result: Ok((24001, PortHow::Instead { of: Some(8000) })),
    });
    assert_eq!(answer(&effects, Ticket(7)), Some(Outcome::Done));
    assert!(effects.iter().any(|e| matches!(e, Effect::Spawn { .. })));
    assert_eq!(rig.status("api").port, Some(24001));
}

#[test]
fn a_holder_that_passes_is_adopted_when_the_user_asks() {
    let mut rig = Rig::new(
        r#"
[services.api]
command = "api"
port = 8000
readiness = { log = "up" }
"#,
    );
    let api = rig.id("api");
    rig.begin();
    let effects = rig.feed(Input::Command {
        ticket: Ticket(3),
        command: Command::ResolvePort {
            service: api,
            choice: PortChoice::Adopt,
        },
    });
    // api was already spawned by begin: nothing to adopt for.
    assert!(matches!(
        answer(&effects, Ticket(3)),
        Some(Outcome::Refused { .. })
    ));
    rig.spawned("api");
    rig.exit("api", 1);
    let effects = rig.feed(Input::Command {
        ticket: Ticket(4),
        command: Command::ResolvePort {
            service: api,
            choice: PortChoice::Adopt,
        },
    });
    assert!(effects.iter().any(|e| matches!(
        e,
        Effect::CheckHolder {
            ticket: Some(Ticket(4)),
            ..
        }
    )));
    let effects = rig.feed(Input::HolderChecked {
        id: api,
        port: 8000,
        ticket: Some(Ticket(4)),
        verdict: HolderVerdict::Passes {
            detail: "pid 7 on port 8000 (log)".into(),
        },
    });
    assert_eq!(answer(&effects, Ticket(4)), Some(Outcome::Done));
    assert!(
        effects
            .iter()
            .any(|e| matches!(e, Effect::TakeHolder { port: 8000, .. }))
    );
    let status = rig.status("api");
    assert!(status.external && status.state == State::Ready);
}

/// Shutdown is complete only once what the services left behind was looked
/// for (off the loop: it waits out a grace period), and the user hears what
/// was found.
#[test]
fn shutdown_completes_after_the_sweep_and_says_what_it_stopped() {
    let mut rig = Rig::new("[services.a]\ncommand = \"x\"\n");
    rig.begin();
    rig.up("a");
    rig.command(Command::Shutdown { force: false });
    let a = rig.id("a");
    let exited = Input::Process {
        id: a,
        generation: rig.generation[a.0],
        news: News::Exited {
            exit: Exit::Code(0),
        },
    };
    // Not through the rig's feed, which answers sweeps itself.
    let effects = rig.machine.handle(rig.now, exited);
    assert_eq!(
        effects
            .iter()
            .filter(|e| **e == Effect::SweepLeftovers)
            .count(),
        1
    );
    assert!(!effects.contains(&Effect::Publish(EventKind::ShutdownComplete)));
    assert_ne!(rig.machine.phase(), Phase::Done);
    // A second Ctrl-C meanwhile does not ask for a second sweep.
    let effects = rig.machine.handle(
        rig.now,
        Input::Command {
            ticket: Ticket(9),
            command: Command::Shutdown { force: true },
        },
    );
    assert!(!effects.contains(&Effect::SweepLeftovers));
    let stray = Stray {
        pid: 4242,
        command: "redis-server *:6379".into(),
    };
    let effects = rig.machine.handle(
        rig.now,
        Input::Swept {
            result: Ok(vec![stray.clone()]),
        },
    );
    assert_eq!(rig.machine.phase(), Phase::Done);
    let notice = EventKind::Notice {
        service: None,
        name: None,
        notice: Notice::LeftBehind {
            stopped: vec![stray],
        },
    };
    let published: Vec<&EventKind> = effects
        .iter()
        .filter_map(|e| match e {
            Effect::Publish(kind) => Some(kind),
            _ => None,
        })
        .collect();
    assert_eq!(published, [&notice, &EventKind::ShutdownComplete]);
}

/// Every cold-start summary is kept for the next start's order, by an
/// effect the runtime carries out off its loop.
#[test]
fn the_cold_start_summary_is_saved_by_an_effect() {
    let mut rig = Rig::new("[services.a]\ncommand = \"x\"\n");
    rig.begin();
    let mut effects = rig.spawned("a");
    effects.extend(rig.ready("a"));
    let saved: Vec<&Summary> = effects
        .iter()
        .filter_map(|e| match e {
            Effect::SaveHistory(summary) => Some(summary),
            _ => None,
        })
        .collect();
    let published: Vec<&Summary> = effects
        .iter()
        .filter_map(|e| match e {
            Effect::Publish(EventKind::ColdStart(summary)) => Some(summary),
            _ => None,
        })
        .collect();
    assert_eq!(saved.len(), 1);
    assert_eq!(saved, published);
}

const MANUAL: &str = r#"
[services.seed]
kind = "task"
command = "seed"
autostart = false
[services.db]
command = "db"
autostart = false
[services.api]
command = "api"
depends_on = { db = "required" }
[services.worker]
command = "worker"
depends_on = { db = "optional", seed = "completed" }
[services.web]
command = "web"
depends_on = { db = "soft" }
"#;

#[test]
fn autostart_false_stays_stopped_and_required_dependents_wait() {
    let mut rig = Rig::new(MANUAL);
    let effects = rig.begin();
    let started = rig.spawns(&effects);
    // Soft dependents of a service nobody started go ahead; required and
    // completed ones wait instead of failing.
    assert_eq!(started, vec!["web".to_string()]);
    assert_eq!(rig.state("db"), State::Stopped);
    assert_eq!(rig.status("db").reason, Reason::AwaitingStart);
    assert!(
        rig.note("db").contains("bringup start"),
        "{}",
        rig.note("db")
    );
    assert_eq!(rig.state("api"), State::Pending);
    assert_eq!(rig.state("worker"), State::Pending);
    assert!(!rig.status("db").selected, "not counted against ready");
    rig.up("web");
    // The cold start is over: nothing else will happen by itself.
    assert!(rig.machine.summary.is_some());

    // Started by hand: its dependents follow once it is ready.
    let db = rig.id("db");
    let effects = rig.at(1000).command(Command::Start(db));
    assert_eq!(rig.spawns(&effects), vec!["db".to_string()]);
    assert_eq!(rig.state("api"), State::Pending);
    // db has no readiness check: spawned is ready.
    let effects = rig.spawned("db");
    assert_eq!(rig.spawns(&effects), vec!["api".to_string()]);
    assert_eq!(rig.state("worker"), State::Pending, "still waits for seed");
    let seed = rig.id("seed");
    let effects = rig.command(Command::Start(seed));
    assert_eq!(rig.spawns(&effects), vec!["seed".to_string()]);
}

#[test]
fn optional_dependents_of_a_manual_service_start_degraded() {
    let mut rig = Rig::new(
        r#"
[services.db]
command = "db"
autostart = false
[services.api]
command = "api"
depends_on = { db = "optional" }
"#,
    );
    let effects = rig.begin();
    let started = rig.spawns(&effects);
    assert_eq!(started, vec!["api".to_string()]);
    match rig.status("api").reason {
        Reason::Starting { degraded, .. } => assert_eq!(degraded, vec!["db".to_string()]),
        other => panic!("{other:?}"),
    }
}

mod cascade;
mod reload;
