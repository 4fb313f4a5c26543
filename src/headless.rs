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
//! log-readiness match appears after the line that caused it.

use std::io::Write;
use std::time::Duration;

use tokio::signal::unix::{SignalKind, signal};
use tokio::sync::broadcast;

use crate::ansi::terminal_safe;
use crate::config::plan::ServiceId;
use crate::engine::describe::{describe, headline};
use crate::engine::machine::fmt_duration;
use crate::engine::{Command, Engine, Event, EventKind, State, Summary, Verdict};

/// Colours for service names (ANSI SGR codes), assigned in declaration order.
const PALETTE: &[&str] = &[
    "36", "33", "32", "35", "34", "96", "93", "92", "95", "94", "31", "91",
];
/// Lines read from one store per wake-up, so one flood cannot starve others.
const BATCH: usize = 4096;

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
    let mut stop_requests = 0;
    loop {
        tokio::select! {
            event = events.recv() => match event {
                Ok(event) => {
                    printer.lines(&engine);
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
                printer.lines(&engine);
            }
            // The engine ended (its snapshot sender is gone) without a
            // clean shutdown event, e.g. it could not start its runtime.
            changed = snapshot.changed() => if changed.is_err() {
                break;
            },
            _ = interrupt.recv() => stop_requests = request_stop(&engine, &mut printer, stop_requests).await,
            _ = terminate.recv() => stop_requests = request_stop(&engine, &mut printer, stop_requests).await,
            _ = hangup.recv() => stop_requests = request_stop(&engine, &mut printer, stop_requests.min(1)).await,
        }
    }
    printer.lines(&engine);
    // The engine thread ends after its last snapshot: judge by that one.
    let _ = tokio::task::spawn_blocking(move || engine.join()).await;
    let verdict = Verdict::of(&snapshot.borrow());
    for complaint in verdict.complaints() {
        printer.note(&complaint);
    }
    verdict
}

async fn request_stop(engine: &Engine, printer: &mut Printer, requests: u32) -> u32 {
    let force = requests > 0;
    if force {
        printer.note("stopping now: killing what is left");
    } else {
        printer.note("stopping (press Ctrl-C again to kill instead)");
    }
    engine.send(Command::Shutdown { force }).await;
    requests + 1
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
            .map(|n| n.chars().count())
            .chain([7])
            .max()
            .unwrap_or(7);
        Self {
            color: options.color,
            cursors: vec![0; names.len()],
            starting_notes: vec![None; names.len()],
            names,
            width,
        }
    }

    fn tag(&self, name: &str, index: Option<usize>) -> String {
        let padded = format!("{name:>width$}", width = self.width);
        match (self.color, index) {
            (true, Some(i)) => format!("\x1b[{}m{padded}\x1b[0m", PALETTE[i % PALETTE.len()]),
            (true, None) => format!("\x1b[1m{padded}\x1b[0m"),
            (false, _) => padded,
        }
    }

    /// Prints every output line not printed yet, in arrival order.
    fn lines(&mut self, engine: &Engine) {
        let mut batch = Vec::new();
        let mut skipped = Vec::new();
        for (index, cursor) in self.cursors.iter_mut().enumerate() {
            let Some(store) = engine.logs().store(index) else {
                continue;
            };
            let page = store.page(*cursor, BATCH);
            if page.missed > 0 {
                skipped.push((index, page.missed));
            }
            *cursor = page.next;
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
                "{tag} | … {missed} lines not shown (output faster than this terminal)\n"
            ));
        }
        for (index, line) in batch {
            let tag = self.tag(&self.names[index], Some(index));
            let text = terminal_safe(&line.text, self.color);
            out.push_str(&format!("{tag} | {text}\n"));
        }
        write_out(&out);
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
                    format!("\x1b[{}m{name}\x1b[0m", PALETTE[id.0 % PALETTE.len()])
                } else {
                    name.to_string()
                };
                format!("{tag} | {name}: {message}\n")
            }
            None => format!("{tag} | {message}\n"),
        };
        write_out(&line);
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
                note,
                ..
            } => {
                self.starting_notes[service.0] =
                    note.split_once("; ").map(|(_, more)| more.to_string());
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
        if summary.critical_path.len() > 1 || summary.all_required_ready {
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
            .map(|t| t.name.chars().count())
            .max()
            .unwrap_or(4)
            .max(7);
        lines.push(format!(
            "{:<name_width$}  {:>9}  {:>9}  {:>11}",
            "service", "spawned", "ready", "took"
        ));
        for t in &summary.services {
            let took = t
                .time_to_ready()
                .map_or_else(|| t.state.to_string(), fmt_duration);
            lines.push(format!(
                "{:<name_width$}  {:>9}  {:>9}  {:>11}",
                t.name,
                ms(t.spawned_at),
                ms(t.ready_at),
                took
            ));
        }
        for line in lines {
            self.note(&line);
        }
    }
}

fn ms(at: Option<Duration>) -> String {
    at.map_or_else(|| "-".to_string(), fmt_duration)
}

/// Writes to stdout, ignoring a closed pipe (`bringup up | head` must not
/// kill the stack mid-flight; the services keep running until stopped).
fn write_out(text: &str) {
    let mut stdout = std::io::stdout().lock();
    let _ = stdout.write_all(text.as_bytes());
    let _ = stdout.flush();
}
