//! The plain-text front end: for CI, pipes and `--no-tui`.
//!
//! Prints every output line as `name | line` (foreman style, a colour per
//! service unless colour is off), one `bringup | …` line per thing the
//! engine did (a state change, a signal, a notice), and when the cold start
//! is over a summary: time to all-ready, the critical path and each
//! service's time to ready. It runs until the stack has stopped; what
//! stops it (a signal, another client) is not its business.
//!
//! Output lines are read from the log stores rather than pushed to this
//! front end, so a slow terminal or a full pipe never slows a service down;
//! if it falls behind by more than a store holds, it says how many lines it
//! skipped. Before each event it prints the lines that came before it, so a
//! log-readiness match appears after the line that caused it. Writing is
//! left to a thread of its own ([`outbox`]), so a pipe nobody reads never
//! holds up anything: Ctrl-C acts at once whatever stdout does.

pub mod outbox;

use std::time::Duration;

use tokio::sync::broadcast;

use crate::ansi::terminal_safe;
use crate::api::describe;
use crate::api::describe::fmt_duration;
use crate::api::describe::{describe, headline};
use crate::api::{Event, EventKind, Reason, StackInfo, State, Summary, Verdict};
use crate::colours;
use crate::headless::outbox::Outbox;
use crate::ids::ServiceId;
use crate::logs::LogHub;
use crate::session::Session;

/// Lines read from one store per wake-up, so one flood cannot starve others.
const BATCH: usize = 4096;
/// How long output still waiting may take to be written when bringup exits.
const LAST_WORDS: Duration = Duration::from_secs(2);

/// How to print.
#[derive(Debug, Clone, Copy)]
pub struct HeadlessOptions {
    /// ANSI colours (service names, and the services' own colours kept).
    pub color: bool,
}

/// Prints the stack's output and what bringup does until the stack has
/// stopped (or the engine ended). Signals, the engine's lifetime and the
/// verdict are the caller's; the returned [`Farewell`] says the last words.
pub async fn run(session: &Session, options: HeadlessOptions) -> Farewell {
    let mut printer = Printer::new(&session.info(), options);
    let mut events = session.events();
    let mut logs = session.logs().subscribe();
    let mut snapshot = session.snapshot();
    let hub = session.logs();
    loop {
        tokio::select! {
            // Events before the engine's end, so its last words are never
            // lost to a race.
            biased;
            event = events.recv() => match event {
                Ok(event) => {
                    printer.lines(hub);
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
                printer.lines(hub);
            }
            // The writer made room: catch up with what was held back.
            () = printer.outbox.drained(), if printer.behind => printer.lines(hub),
            // The engine ended (its snapshot sender is gone) without a
            // clean shutdown event, e.g. it could not start its runtime.
            changed = snapshot.changed() => if changed.is_err() {
                break;
            },
        }
    }
    printer.lines(hub);
    Farewell { printer }
}

/// The headless output's last words, once the engine has ended.
pub struct Farewell {
    printer: Printer,
}

impl Farewell {
    /// A line of bringup's own.
    pub fn note(&mut self, message: &str) {
        self.printer.note(message);
    }

    /// Says why an unhealthy run was one, then waits (a little) for the
    /// output to be written.
    pub fn say(mut self, verdict: &Verdict) {
        for complaint in verdict.complaints() {
            self.printer.note(&complaint);
        }
        self.printer.outbox.finish(LAST_WORDS);
    }
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
    fn new(info: &StackInfo, options: HeadlessOptions) -> Self {
        let mut printer = Self {
            color: options.color,
            cursors: Vec::new(),
            starting_notes: Vec::new(),
            names: Vec::new(),
            width: 7,
            outbox: Outbox::stdout(),
            behind: false,
        };
        printer.learn(info);
        printer
    }

    /// Takes the stack's services (again, when an edit of the config added
    /// some): names by number.
    fn learn(&mut self, info: &StackInfo) {
        // Numbers come from the stack (over a socket, perhaps): sized by
        // the largest, within the bound a mirror of logs keeps too.
        let count = info
            .services
            .iter()
            .map(|s| s.id.0.saturating_add(1))
            .max()
            .unwrap_or(0)
            .min(crate::logs::MAX_STORES);
        if count > self.names.len() {
            self.names.resize(count, "?".to_string());
            self.cursors.resize(count, 0);
            self.starting_notes.resize(count, None);
        }
        for service in &info.services {
            if let Some(name) = self.names.get_mut(service.id.0) {
                *name = service.name.clone();
            }
        }
        self.width = self
            .names
            .iter()
            .map(|n| crate::text::width(n))
            .chain([self.width])
            .max()
            .unwrap_or(7);
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
                if let Some(note) = self.starting_notes.get_mut(service.0) {
                    *note = (!degraded.is_empty()).then(|| describe::degraded_line(degraded));
                }
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
                let more = self
                    .starting_notes
                    .get_mut(service.0)
                    .and_then(Option::take)
                    .map_or_else(String::new, |m| format!("; {m}"));
                let process = describe::process_and_attempt(*pid, *attempt);
                self.say(Some(*service), &format!("starting {process}{more}"));
            }
            EventKind::ColdStart(summary) => self.summary(summary),
            EventKind::StackChanged { info } => self.learn(info),
            // However it was asked for: a signal, or another client.
            EventKind::ShutdownStarted { force: false } => {
                self.note("stopping (press Ctrl-C again to kill instead)");
            }
            EventKind::ShutdownStarted { force: true } => {
                self.note("stopping now: killing what is left");
            }
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
