//! The plain-text front end: for CI, pipes and `--no-tui`.
//!
//! Prints every output line as `name | line` (foreman style, a colour per
//! service unless colour is off), one `bringup | …` line per thing the
//! engine did (a state change, a signal, a notice), and when the cold start
//! is over a summary: time to all-ready, the critical path and each
//! service's time to ready. It runs until SIGINT, SIGTERM or SIGHUP, then
//! stops the stack (a second SIGINT or SIGTERM kills what is left).
//!
//! Output lines are read from the log stores rather than pushed to this
//! front end, so a slow terminal or a full pipe never slows a service down;
//! if it falls behind by more than a store holds, it says how many lines it
//! skipped. Before each event it prints the lines that came before it, so a
//! log-readiness match appears after the line that caused it. Writing is
//! left to a thread of its own ([`outbox`]), so a pipe nobody reads never
//! holds up a signal: Ctrl-C acts at once whatever stdout does.
//!
//! A second stop signal within [`SAME_REQUEST`] of the first is the same
//! request, not "stop harder": `timeout -s INT` signals both the process
//! and its group, so bringup hears one Ctrl-C twice.

pub mod outbox;

use std::time::{Duration, Instant};

use tokio::signal::unix::{SignalKind, signal};
use tokio::sync::broadcast;

use crate::ansi::terminal_safe;
use crate::colours;
use crate::config::plan::ServiceId;
use crate::engine::describe;
use crate::engine::describe::fmt_duration;
use crate::engine::describe::{describe, headline};
use crate::engine::{Command, Engine, Event, EventKind, Reason, State, Summary, Verdict};
use crate::headless::outbox::Outbox;
use crate::logs::LogHub;

/// Lines read from one store per wake-up, so one flood cannot starve others.
const BATCH: usize = 4096;
/// Stop signals this close together are one request.
pub const SAME_REQUEST: Duration = Duration::from_millis(250);
/// How long output still waiting may take to be written when bringup exits.
const LAST_WORDS: Duration = Duration::from_secs(2);

/// How to print.
#[derive(Debug, Clone, Copy)]
pub struct HeadlessOptions {
    /// ANSI colours (service names, and the services' own colours kept).
    pub color: bool,
}

/// Runs until the stack has been brought up and (on a signal) down again.
pub async fn run(
    engine: Engine,
    mut events: broadcast::Receiver<Event>,
    options: HeadlessOptions,
) -> Verdict {
    let mut printer = Printer::new(&engine, options);
    let mut logs = engine.logs().subscribe();
    let mut snapshot = engine.snapshot();
    let (Ok(mut interrupt), Ok(mut terminate), Ok(mut hangup)) = (
        signal(SignalKind::interrupt()),
        signal(SignalKind::terminate()),
        signal(SignalKind::hangup()),
    ) else {
        printer.note("cannot listen for signals; stopping");
        engine.send(Command::Shutdown { force: false }).await;
        let _ = tokio::task::spawn_blocking(move || engine.join()).await;
        return Verdict::of(&snapshot.borrow());
    };
    let mut stop = StopRequests::default();
    loop {
        tokio::select! {
            // Signals first: nothing may hold up a stop. Then events before
            // the engine's end, so its last words are never lost to a race.
            biased;
            _ = interrupt.recv() => stop.request(&engine, &mut printer, true).await,
            _ = terminate.recv() => stop.request(&engine, &mut printer, true).await,
            _ = hangup.recv() => stop.request(&engine, &mut printer, false).await,
            event = events.recv() => match event {
                Ok(event) => {
                    printer.lines(engine.logs());
                    let done = matches!(event.kind, EventKind::ShutdownComplete);
                    printer.event(&event);
                    if done {
                        break;
                    }
                }
                Err(broadcast::error::RecvError::Lagged(missed)) => {
                    printer.note(&format!("… {missed} events not shown (the terminal is too slow)"));
                }
                Err(broadcast::error::RecvError::Closed) => break,
            },
            changed = logs.changed() => {
                if changed.is_err() {
                    break;
                }
                printer.lines(engine.logs());
            }
            // The writer made room: catch up with what was held back.
            () = printer.outbox.drained(), if printer.behind => printer.lines(engine.logs()),
            // The engine ended (its snapshot sender is gone) without a
            // clean shutdown event, e.g. it could not start its runtime.
            changed = snapshot.changed() => if changed.is_err() {
                break;
            },
        }
    }
    printer.lines(engine.logs());
    // The engine thread ends after its last snapshot: judge by that one.
    let _ = tokio::task::spawn_blocking(move || engine.join()).await;
    let verdict = Verdict::of(&snapshot.borrow());
    for complaint in verdict.complaints() {
        printer.note(&complaint);
    }
    printer.outbox.finish(LAST_WORDS);
    verdict
}

/// The stop signals heard so far: the first stops gracefully, a later one
/// (not an echo of the first, see the module docs) kills what is left.
#[derive(Debug, Default)]
struct StopRequests {
    first: Option<Instant>,
    forced: bool,
}

impl StopRequests {
    /// `may_force`: SIGHUP never escalates (a closed terminal says it
    /// once per process, and nobody is there to insist).
    async fn request(&mut self, engine: &Engine, printer: &mut Printer, may_force: bool) {
        let now = Instant::now();
        let force = match self.first {
            None => false,
            Some(first) if now.duration_since(first) < SAME_REQUEST => return,
            Some(_) => may_force,
        };
        if self.first.is_some() && (!force || self.forced) {
            return;
        }
        self.first.get_or_insert(now);
        self.forced |= force;
        request_stop(engine, printer, force).await;
    }
}

async fn request_stop(engine: &Engine, printer: &mut Printer, force: bool) {
    if force {
        printer.note("stopping now: killing what is left");
    } else {
        printer.note("stopping (press Ctrl-C again to kill instead)");
    }
    engine.send(Command::Shutdown { force }).await;
}

/// Formats and writes output lines and engine events.
struct Printer {
    color: bool,
    names: Vec<String>,
    width: usize,
    /// Per store: the store-local index of the next line to print.
    cursors: Vec<u64>,
    /// "degraded: without cache", said together with the pid that follows.
    starting_notes: Vec<Option<String>>,
    outbox: Outbox,
    /// Lines were held back (no room, or more than a batch waiting).
    behind: bool,
}

impl Printer {
    fn new(engine: &Engine, options: HeadlessOptions) -> Self {
        let names: Vec<String> = engine
            .plan()
            .services
            .iter()
            .map(|s| s.name.clone())
            .collect();
        let width = names
            .iter()
            .map(|n| crate::text::width(n))
            .chain([7])
            .max()
            .unwrap_or(7);
        Self {
            color: options.color,
            cursors: vec![0; names.len()],
            starting_notes: vec![None; names.len()],
            names,
            width,
            outbox: Outbox::stdout(),
            behind: false,
        }
    }

    fn tag(&self, name: &str, index: Option<usize>) -> String {
        let padded = crate::text::pad_left(name, self.width);
        match (self.color, index) {
            (true, Some(i)) => format!("\x1b[{}m{padded}\x1b[0m", colours::of_service(i).sgr()),
            (true, None) => format!("\x1b[1m{padded}\x1b[0m"),
            (false, _) => padded,
        }
    }

    /// Prints the output lines not printed yet, in arrival order, as many
    /// as the writer has room for.
    fn lines(&mut self, hub: &LogHub) {
        self.behind = false;
        let room = self.outbox.room();
        if room == 0 {
            self.behind = true;
            return;
        }
        let mut batch = Vec::new();
        let mut skipped = Vec::new();
        // Per store: where the lines read now begin (past what was missed).
        let mut starts = self.cursors.clone();
        for (index, start) in starts.iter_mut().enumerate() {
            let Some(store) = hub.store(index) else {
                continue;
            };
            let page = store.page(*start, BATCH);
            if page.missed > 0 {
                skipped.push((index, page.missed));
            }
            *start += page.missed;
            self.behind |= page.lines.len() == BATCH;
            batch.extend(page.lines.into_iter().map(|line| (index, line)));
        }
        if batch.is_empty() && skipped.is_empty() {
            return;
        }
        batch.sort_by_key(|(_, line)| line.seq);
        let mut out = String::new();
        for (index, missed) in skipped {
            let tag = self.tag(&self.names[index], Some(index));
            out.push_str(&format!(
                "{tag} | … {missed} lines not shown (output faster than it is read)\n"
            ));
        }
        let mut taken = vec![0u64; self.cursors.len()];
        for (index, line) in batch {
            let tag = self.tag(&self.names[index], Some(index));
            let text = terminal_safe(&line.text, self.color);
            let formatted = format!("{tag} | {text}\n");
            if out.len() + formatted.len() > room && !out.is_empty() {
                // The rest stays in the stores until the writer has room.
                self.behind = true;
                break;
            }
            out.push_str(&formatted);
            taken[index] += 1;
        }
        for ((cursor, start), taken) in self.cursors.iter_mut().zip(starts).zip(taken) {
            *cursor = start + taken;
        }
        self.outbox.push(out);
    }

    /// A line from bringup itself, about `service` if given.
    fn say(&self, service: Option<ServiceId>, message: &str) {
        // Messages quote what services and port holders call themselves
        // (command lines): those must not reach the terminal raw either.
        let message = terminal_safe(message, false);
        let tag = self.tag("bringup", None);
        let line = match service {
            Some(id) => {
                let name = self.names.get(id.0).map_or("?", String::as_str);
                let name = if self.color {
                    format!("\x1b[{}m{name}\x1b[0m", colours::of_service(id.0).sgr())
                } else {
                    name.to_string()
                };
                format!("{tag} | {name}: {message}\n")
            }
            None => format!("{tag} | {message}\n"),
        };
        let tag = self.tag("bringup", None);
        self.outbox.push_own(line, |dropped| {
            format!(
                "{tag} | … {dropped} of bringup's own lines not shown (output is read too slowly)\n"
            )
        });
    }

    fn note(&mut self, message: &str) {
        self.say(None, message);
    }

    fn event(&mut self, event: &Event) {
        match &event.kind {
            // "starting" is said by the spawn line that follows, which also
            // carries anything more ("degraded: without cache").
            EventKind::State {
                service,
                to: State::Starting,
                reason: Reason::Starting { degraded, .. },
                ..
            } => {
                self.starting_notes[service.0] =
                    (!degraded.is_empty()).then(|| describe::degraded_line(degraded));
            }
            EventKind::State {
                from: State::Pending,
                to: State::Pending,
                ..
            } => {}
            EventKind::Spawned {
                service,
                pid,
                attempt,
                ..
            } => {
                let attempt = if *attempt > 1 {
                    format!(", attempt {attempt}")
                } else {
                    String::new()
                };
                let more = self.starting_notes[service.0]
                    .take()
                    .map_or_else(String::new, |m| format!("; {m}"));
                self.say(
                    Some(*service),
                    &format!("starting (pid {pid}{attempt}){more}"),
                );
            }
            EventKind::ColdStart(summary) => self.summary(summary),
            kind => {
                if let Some(described) = describe(kind) {
                    self.say(described.service.map(|(id, _)| id), &described.message);
                }
            }
        }
    }

    fn summary(&mut self, summary: &Summary) {
        let mut lines = Vec::new();
        lines.push(headline(summary));
        // A cold start that failed has no path worth timing: what did not
        // come up, and why, was said as it happened.
        if summary.all_required_ready {
            let path: Vec<String> = summary
                .critical_path
                .iter()
                .map(|t| format!("{} ({}→{})", t.name, ms(t.spawned_at), ms(t.ready_at)))
                .collect();
            lines.push(format!("critical path: {}", path.join(" → ")));
        }
        let name_width = summary
            .services
            .iter()
            .map(|t| crate::text::width(&t.name))
            .max()
            .unwrap_or(4)
            .max(7);
        let row = |name: &str, spawned: &str, ready: &str, took: &str| {
            format!(
                "{}  {spawned:>9}  {ready:>9}  {took:>11}",
                crate::text::pad_right(name, name_width)
            )
        };
        lines.push(row("service", "spawned", "ready", "took"));
        for t in &summary.services {
            let took = t
                .time_to_ready()
                .map_or_else(|| t.state.to_string(), fmt_duration);
            lines.push(row(&t.name, &ms(t.spawned_at), &ms(t.ready_at), &took));
        }
        for line in lines {
            self.note(&line);
        }
    }
}

fn ms(at: Option<Duration>) -> String {
    at.map_or_else(|| "-".to_string(), fmt_duration)
}
