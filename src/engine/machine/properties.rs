//! Property tests: random sequences of process events, probe results, timer
//! firings and user commands, with the machine's invariants checked after
//! every step.
//!
//! A small model runtime stands in for the OS: it remembers which spawns are
//! in flight, which processes run, which timers are armed, and draws the
//! next input from what could really happen now (plus the occasional stale
//! one from an earlier process). The invariants:
//!
//! - no service is spawned while a required (or completed) dependency is
//!   not up;
//! - a pid is only ever shown for a service that is starting, ready or not
//!   ready;
//! - restarts never exceed `max_restarts`;
//! - every command gets an answer (an event);
//! - however the sequence went, a shutdown always finishes: `Done`, with
//!   no process left.

use std::sync::Arc;
use std::time::Duration;

use proptest::prelude::*;

use super::*;
use crate::api::{Command, SignalName, State};
use crate::config::plan::{DepKind, Plan};

const CONFIG: &str = r#"
[services.db]
command = "x"
port = 1
max_restarts = 2
backoff = { initial = "10ms", max = "40ms" }
[services.cache]
command = "x"
port = 2
optional = true
restart = "always"
max_restarts = 3
[services.migrate]
command = "x"
kind = "task"
depends_on = ["db"]
[services.api]
command = "x"
port = 3
depends_on = { db = "required", cache = "optional", migrate = "completed" }
liveness = { tcp = true, failure_threshold = 2 }
dependency_timeout = "50ms"
max_restarts = 2
[services.worker]
command = "x"
depends_on = { api = "soft" }
[services.web]
command = "x"
port = 4
depends_on = { api = "required" }
optional = true
stop_grace = "20ms"
"#;

fn plan() -> Arc<Plan> {
    let (file, base) = (std::path::Path::new("p.toml"), std::path::Path::new("/"));
    let cx = crate::config::validate::Context::without_env(file, base, "bringup");
    Arc::new(crate::config::load_with(CONFIG, &cx).expect("valid"))
}

/// One random thing that can happen.
#[derive(Debug, Clone)]
enum Step {
    /// Time passes.
    Wait(u16),
    /// A spawn in flight succeeds (or fails).
    Spawned {
        pick: u8,
        fails: bool,
    },
    /// A running process exits with this code.
    Exits {
        pick: u8,
        code: i32,
    },
    Readiness {
        pick: u8,
        ok: bool,
        stale: bool,
    },
    Liveness {
        pick: u8,
        ok: bool,
    },
    /// An armed timer fires.
    Fire(u8),
    Command(u8, u8),
}

fn step() -> impl Strategy<Value = Step> {
    prop_oneof![
        (1u16..200).prop_map(Step::Wait),
        (any::<u8>(), prop::bool::weighted(0.1))
            .prop_map(|(pick, fails)| Step::Spawned { pick, fails }),
        (any::<u8>(), prop_oneof![Just(0), Just(1), Just(137)])
            .prop_map(|(pick, code)| Step::Exits { pick, code }),
        (
            any::<u8>(),
            prop::bool::weighted(0.6),
            prop::bool::weighted(0.1)
        )
            .prop_map(|(pick, ok, stale)| Step::Readiness { pick, ok, stale }),
        (any::<u8>(), prop::bool::weighted(0.6)).prop_map(|(pick, ok)| Step::Liveness { pick, ok }),
        any::<u8>().prop_map(Step::Fire),
        (any::<u8>(), any::<u8>()).prop_map(|(what, who)| Step::Command(what, who)),
    ]
}

/// The model runtime.
struct World {
    machine: Machine,
    plan: Arc<Plan>,
    now: Duration,
    /// Spawns asked for and not yet answered: (service, generation).
    spawning: Vec<(ServiceId, u64)>,
    /// Running processes: (service, generation).
    running: Vec<(ServiceId, u64)>,
    timers: Vec<(ServiceId, u64, Timer)>,
    next_pid: u32,
    /// The machine asked for the sweep for leftovers (once per run at
    /// most), and it was not answered yet.
    sweep_asked: bool,
    sweep_pending: bool,
}

impl World {
    /// `expected`: remembered times to ready (ms; 0 = unknown), which
    /// reorder each wave's spawns.
    fn new(expected: &[u64]) -> Self {
        let plan = plan();
        let mut machine = Machine::new(plan.clone(), 42);
        let expected: Vec<Option<Duration>> = expected
            .iter()
            .map(|&ms| (ms > 0).then(|| Duration::from_millis(ms)))
            .collect();
        machine.order_by_expected(&expected);
        Self {
            machine,
            plan,
            now: Duration::ZERO,
            spawning: Vec::new(),
            running: Vec::new(),
            timers: Vec::new(),
            next_pid: 100,
            sweep_asked: false,
            sweep_pending: false,
        }
    }

    /// Feeds one input and checks every invariant on the outcome.
    fn feed(&mut self, input: Input) -> Result<(), TestCaseError> {
        let ticket = match &input {
            Input::Command { ticket, .. } => Some(*ticket),
            _ => None,
        };
        let effects = self.machine.handle(self.now, input.clone());
        if let Some(ticket) = ticket {
            let answers = effects
                .iter()
                .filter(|e| matches!(e, Effect::Reply { ticket: t, .. } if *t == ticket))
                .count();
            prop_assert_eq!(
                answers,
                1,
                "the command {:?} got {} answers",
                input,
                answers
            );
        }
        for effect in &effects {
            match effect {
                Effect::Spawn { id, generation, .. } => {
                    prop_assert!(
                        !self.spawning.iter().any(|(s, _)| s == id)
                            && !self.running.iter().any(|(s, _)| s == id),
                        "{} spawned twice",
                        self.plan.service(*id).name
                    );
                    self.check_dependencies_up(*id)?;
                    self.spawning.push((*id, *generation));
                }
                Effect::Arm {
                    id,
                    generation,
                    timer,
                    ..
                } => self.timers.push((*id, *generation, *timer)),
                Effect::SweepLeftovers => {
                    prop_assert!(!self.sweep_asked, "the leftovers were swept twice");
                    self.sweep_asked = true;
                    self.sweep_pending = true;
                }
                _ => {}
            }
        }
        for status in self.machine.snapshot().services {
            if status.pid.is_some() {
                prop_assert!(
                    matches!(
                        status.state,
                        State::Starting | State::Ready | State::NotReady
                    ),
                    "{} has a pid while {}",
                    status.name,
                    status.state
                );
            }
            prop_assert!(
                status.restarts <= status.max_restarts,
                "{} restarted {} times",
                status.name,
                status.restarts
            );
        }
        Ok(())
    }

    fn check_dependencies_up(&self, id: ServiceId) -> Result<(), TestCaseError> {
        for dep in self.plan.graph.dependencies(id) {
            let d = self.machine.status(dep.on);
            let ok = match dep.kind {
                DepKind::Required => d.state.is_ready() && !d.stopping,
                DepKind::Completed => d.state == State::Completed,
                DepKind::Soft | DepKind::Optional => true,
            };
            prop_assert!(
                ok,
                "{} spawned while its {} dependency {} is {}{}",
                self.plan.service(id).name,
                dep.kind.as_str(),
                d.name,
                d.state,
                if d.stopping { " and being stopped" } else { "" }
            );
        }
        Ok(())
    }

    fn apply(&mut self, step: Step) -> Result<(), TestCaseError> {
        let n = self.plan.services.len();
        match step {
            Step::Wait(ms) => self.now += Duration::from_millis(u64::from(ms)),
            Step::Spawned { pick, fails } => {
                if self.spawning.is_empty() {
                    return Ok(());
                }
                let (id, generation) = self
                    .spawning
                    .remove(usize::from(pick) % self.spawning.len());
                if fails {
                    self.feed(Input::Process {
                        id,
                        generation,
                        news: News::SpawnFailed {
                            error: "no such file".into(),
                        },
                    })?;
                } else {
                    self.next_pid += 1;
                    self.running.push((id, generation));
                    self.feed(Input::Process {
                        id,
                        generation,
                        news: News::Spawned { pid: self.next_pid },
                    })?;
                }
            }
            Step::Exits { pick, code } => {
                if self.running.is_empty() {
                    return Ok(());
                }
                let (id, generation) = self.running.remove(usize::from(pick) % self.running.len());
                self.feed(Input::Process {
                    id,
                    generation,
                    news: News::Exited {
                        exit: Exit::Code(code),
                    },
                })?;
            }
            Step::Readiness { pick, ok, stale } => {
                if self.running.is_empty() {
                    return Ok(());
                }
                let (id, generation) = self.running[usize::from(pick) % self.running.len()];
                let generation = if stale {
                    generation.saturating_sub(1)
                } else {
                    generation
                };
                self.feed(Input::Process {
                    id,
                    generation,
                    news: News::Readiness {
                        ok,
                        detail: "check".into(),
                    },
                })?;
            }
            Step::Liveness { pick, ok } => {
                if self.running.is_empty() {
                    return Ok(());
                }
                let (id, generation) = self.running[usize::from(pick) % self.running.len()];
                self.feed(Input::Process {
                    id,
                    generation,
                    news: News::Liveness {
                        ok,
                        detail: "check".into(),
                    },
                })?;
            }
            Step::Fire(pick) => {
                if self.timers.is_empty() {
                    return Ok(());
                }
                let (id, generation, timer) =
                    self.timers.remove(usize::from(pick) % self.timers.len());
                self.feed(Input::Process {
                    id,
                    generation,
                    news: News::Timer { timer },
                })?;
            }
            Step::Command(what, who) => {
                let id = ServiceId(usize::from(who) % n);
                let command = match what % 8 {
                    0 => Command::Restart(id),
                    1 => Command::Kill(id),
                    2 => Command::Stop(id),
                    3 => Command::Start(id),
                    4 => Command::Skip(id),
                    5 => Command::RestartAll,
                    6 => Command::Shutdown { force: false },
                    _ => Command::Restart(id),
                };
                self.feed(Input::Command {
                    ticket: Ticket(0),
                    command,
                })?;
            }
        }
        Ok(())
    }

    /// Shuts down, answering every spawn and delivering every exit the
    /// machine's signals would cause; it must reach `Done`.
    fn shut_down(&mut self) -> Result<(), TestCaseError> {
        self.feed(Input::Command {
            ticket: Ticket(0),
            command: Command::Shutdown { force: false },
        })?;
        for _ in 0..200 {
            if self.machine.phase() == Phase::Done {
                break;
            }
            self.now += Duration::from_millis(50);
            if std::mem::take(&mut self.sweep_pending) {
                self.feed(Input::Swept {
                    result: Ok(Vec::new()),
                })?;
            } else if let Some((id, generation)) = self.spawning.pop() {
                self.next_pid += 1;
                self.running.push((id, generation));
                self.feed(Input::Process {
                    id,
                    generation,
                    news: News::Spawned { pid: self.next_pid },
                })?;
            } else if let Some((id, generation)) = self.running.pop() {
                self.feed(Input::Process {
                    id,
                    generation,
                    news: News::Exited {
                        exit: Exit::Signal(SignalName::of(15)),
                    },
                })?;
            } else if let Some((id, generation, timer)) = self.timers.pop() {
                self.feed(Input::Process {
                    id,
                    generation,
                    news: News::Timer { timer },
                })?;
            } else {
                break;
            }
        }
        prop_assert_eq!(self.machine.phase(), Phase::Done, "shutdown did not finish");
        for status in self.machine.snapshot().services {
            prop_assert!(
                status.pid.is_none(),
                "{} still has a pid after shutdown",
                status.name
            );
        }
        Ok(())
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 400, failure_persistence: None, ..ProptestConfig::default() })]

    #[test]
    fn invariants_hold_under_any_sequence(
        steps in prop::collection::vec(step(), 1..120),
        expected in prop::collection::vec(0u64..2000, 6),
    ) {
        let mut world = World::new(&expected);
        world.feed(Input::Begin)?;
        for step in steps {
            world.apply(step)?;
        }
        world.shut_down()?;
    }

    #[test]
    fn a_service_never_wedges(steps in prop::collection::vec(step(), 1..80), who in 0usize..6) {
        // Whatever happened, restart, stop and start still work on it.
        let mut world = World::new(&[]);
        world.feed(Input::Begin)?;
        for step in steps {
            world.apply(step)?;
        }
        if world.machine.phase() != Phase::Running {
            return Ok(());
        }
        let id = ServiceId(who);
        for command in [Command::Stop(id), Command::Start(id), Command::Restart(id)] {
            world.feed(Input::Command { ticket: Ticket(0), command })?;
        }
    }
}
