//! Output that never holds up the headless front end.
//!
//! A write to a pipe that nobody reads blocks until someone does, possibly
//! forever. If the headless loop wrote itself, a full pipe would stall it,
//! and with it Ctrl-C, SIGTERM and the engine's events. So one thread owns
//! stdout and writes whatever it is handed, and the loop hands text over
//! without waiting.
//!
//! What waits to be written is bounded ([`BUDGET`] bytes). The loop asks
//! [`Outbox::room`] before it takes service lines from the log stores, so a
//! slow reader leaves them in the stores, which drop their oldest lines and
//! let the loop say how many were not shown. bringup's own lines (state
//! changes, notices) are always offered, up to a small reserve beyond the
//! budget; past that they are dropped and counted, and the count is said
//! as soon as there is room again. Each chunk written wakes the loop
//! ([`Outbox::drained`]), so it catches up without polling.

use std::collections::VecDeque;
use std::io::Write;
use std::sync::{Arc, Condvar, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use tokio::sync::Notify;

/// Bytes that may wait to be written before service lines are held back.
pub const BUDGET: usize = 1 << 20;
/// Beyond the budget, room kept for bringup's own lines.
const RESERVE: usize = 256 << 10;

/// The loop's end of the writer thread.
pub struct Outbox {
    shared: Arc<Shared>,
}

struct Shared {
    queue: Mutex<Queue>,
    /// Signals the writer that there is something to write (or to stop),
    /// and waiters of [`Outbox::finish`] that the queue emptied.
    changed: Condvar,
    /// Signals the loop that a chunk was written.
    drained: Notify,
}

#[derive(Default)]
struct Queue {
    chunks: VecDeque<String>,
    bytes: usize,
    /// bringup's own lines dropped since the last time that was said.
    dropped: u64,
    /// The writer is writing a chunk it has taken from the queue.
    writing: bool,
    /// The reader is gone (EPIPE): everything is discarded from now on.
    broken: bool,
}

impl Outbox {
    /// Starts the thread that writes to stdout.
    pub fn stdout() -> Self {
        Self::start(std::io::stdout())
    }

    /// Starts a thread that writes to `sink`.
    pub fn start(sink: impl Write + Send + 'static) -> Self {
        let shared = Arc::new(Shared {
            queue: Mutex::new(Queue::default()),
            changed: Condvar::new(),
            drained: Notify::new(),
        });
        let writer = shared.clone();
        // If the thread cannot start, nothing is printed; the stack still
        // runs and stops as it should.
        let _ = std::thread::Builder::new()
            .name("bringup-stdout".into())
            .spawn(move || write_loop(&writer, sink));
        Self { shared }
    }

    /// Bytes that may be handed over now without holding anything back.
    pub fn room(&self) -> usize {
        BUDGET.saturating_sub(self.lock().bytes)
    }

    /// Hands over service lines (taken within [`Outbox::room`]).
    pub fn push(&self, text: String) {
        if text.is_empty() {
            return;
        }
        let mut queue = self.lock();
        if queue.broken {
            return;
        }
        queue.bytes += text.len();
        queue.chunks.push_back(text);
        drop(queue);
        self.shared.changed.notify_all();
    }

    /// Hands over one of bringup's own lines; `note` makes the line that
    /// says how many were dropped.
    pub fn push_own(&self, line: String, note: impl Fn(u64) -> String) {
        let mut queue = self.lock();
        if queue.broken {
            return;
        }
        if queue.bytes + line.len() > BUDGET + RESERVE {
            queue.dropped += 1;
            return;
        }
        if queue.dropped > 0 {
            let said = note(std::mem::take(&mut queue.dropped));
            queue.bytes += said.len();
            queue.chunks.push_back(said);
        }
        queue.bytes += line.len();
        queue.chunks.push_back(line);
        drop(queue);
        self.shared.changed.notify_all();
    }

    /// Resolves when a chunk has been written since the last call.
    pub async fn drained(&self) {
        self.shared.drained.notified().await;
    }

    /// Waits up to `limit` for everything handed over to be written.
    /// Returns whether it was; a reader that never reads cannot keep
    /// bringup from exiting.
    pub fn finish(&self, limit: Duration) -> bool {
        let deadline = Instant::now() + limit;
        let mut queue = self.lock();
        loop {
            if queue.broken || (queue.chunks.is_empty() && !queue.writing) {
                return true;
            }
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                return false;
            }
            queue = match self.shared.changed.wait_timeout(queue, left) {
                Ok((queue, _)) => queue,
                Err(poisoned) => poisoned.into_inner().0,
            };
        }
    }

    fn lock(&self) -> MutexGuard<'_, Queue> {
        self.shared.lock()
    }
}

impl Shared {
    fn lock(&self) -> MutexGuard<'_, Queue> {
        // The queue stays consistent whatever panicked while holding it.
        self.queue.lock().unwrap_or_else(|p| p.into_inner())
    }
}

fn write_loop(shared: &Shared, mut sink: impl Write) {
    loop {
        let chunk = {
            let mut queue = shared.lock();
            while queue.chunks.is_empty() {
                queue = match shared.changed.wait(queue) {
                    Ok(queue) => queue,
                    Err(poisoned) => poisoned.into_inner(),
                };
            }
            let Some(chunk) = queue.chunks.pop_front() else {
                continue;
            };
            queue.writing = true;
            chunk
        };
        let written = sink.write_all(chunk.as_bytes()).and_then(|()| sink.flush());
        let mut queue = shared.lock();
        queue.writing = false;
        // The chunk counted against the budget until it was out: it was
        // memory held for a reader that may never read.
        queue.bytes -= chunk.len();
        if written.is_err() {
            // The reader closed its end (`bringup up | head`): the stack
            // keeps running until it is stopped; its output goes nowhere.
            queue.broken = true;
            queue.chunks.clear();
            queue.bytes = 0;
        }
        let broken = queue.broken;
        drop(queue);
        shared.changed.notify_all();
        shared.drained.notify_one();
        if broken {
            return;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io;
    use std::sync::mpsc;

    /// A sink that blocks every write until the test lets it through.
    struct Gate {
        open: mpsc::Receiver<()>,
        seen: Arc<Mutex<String>>,
    }

    impl Write for Gate {
        fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
            self.open
                .recv()
                .map_err(|_| io::Error::from(io::ErrorKind::BrokenPipe))?;
            self.seen
                .lock()
                .unwrap()
                .push_str(&String::from_utf8_lossy(buf));
            Ok(buf.len())
        }

        fn flush(&mut self) -> io::Result<()> {
            Ok(())
        }
    }

    #[test]
    fn a_reader_that_does_not_read_never_blocks_the_caller() {
        let (open, gate) = mpsc::channel();
        let seen = Arc::new(Mutex::new(String::new()));
        let outbox = Outbox::start(Gate {
            open: gate,
            seen: seen.clone(),
        });
        let started = Instant::now();
        let line = "x".repeat(1000) + "\n";
        // Far more than the budget: none of it may wait for the reader.
        while outbox.room() > 0 {
            outbox.push(line.clone());
        }
        for _ in 0..2000 {
            outbox.push_own(line.clone(), |n| format!("dropped {n}\n"));
        }
        assert!(started.elapsed() < Duration::from_secs(5));
        assert!(
            !outbox.finish(Duration::from_millis(50)),
            "nothing was read"
        );
        // The reader goes away: what waits is discarded, nothing hangs.
        drop(open);
        assert!(outbox.finish(Duration::from_secs(10)));
        outbox.push("after\n".into());
        assert!(!seen.lock().unwrap().contains("after"));
    }

    #[test]
    fn dropped_own_lines_are_counted_and_said_when_there_is_room() {
        let (open, gate) = mpsc::channel();
        let seen = Arc::new(Mutex::new(String::new()));
        let outbox = Outbox::start(Gate {
            open: gate,
            seen: seen.clone(),
        });
        let big = "y".repeat(BUDGET + RESERVE - 10);
        outbox.push_own(big.clone(), |n| format!("[{n} dropped]\n"));
        for _ in 0..3 {
            outbox.push_own("lost\n".repeat(5), |n| format!("[{n} dropped]\n"));
        }
        // Let the writer through until it has written everything.
        std::thread::spawn(move || while open.send(()).is_ok() {});
        assert!(outbox.finish(Duration::from_secs(10)));
        outbox.push_own("back\n".into(), |n| format!("[{n} dropped]\n"));
        assert!(outbox.finish(Duration::from_secs(10)));
        let seen = seen.lock().unwrap().clone();
        assert!(seen.starts_with(&big), "what was kept is written first");
        assert!(
            seen.ends_with("[3 dropped]\nback\n"),
            "{:?}",
            &seen[seen.len() - 40..]
        );
        assert!(!seen.contains("lost"));
    }
}
