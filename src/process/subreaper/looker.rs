//! The subreaper's looks for escapees, taken on a thread of their own.
//!
//! A look is due soon after a spawn or an exit (a [`poke`]: 10 ms after
//! it, then twice as long after each look) and every five seconds once
//! nothing has happened for a while, for as long as a stack runs. Daemons
//! escape as their service starts or stops, which pokes; one that a
//! service starts later is found within five seconds. (On an idle virtual
//! machine a look costs about a millisecond of CPU, mostly the wake-up:
//! once a second, it was half of what an idle stack spent.) Timed on the engine's runtime, each of
//! those idle looks woke its thread two or three times (tokio's timer
//! wheel wakes at the start of a coarse slot, then again at the deadline),
//! and on a virtual machine a wake-up costs more than the look itself. A
//! thread waiting on a condition variable with a timeout wakes once per
//! look. What it finds goes to the engine's task through a channel, which
//! wakes that task only when there is news.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Condvar, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use tokio::sync::mpsc;

use super::{Adopted, Subreaper};

/// The first look after a spawn or an exit.
const FAST: Duration = Duration::from_millis(10);
/// Looks when nothing happens.
const SLOW: Duration = Duration::from_secs(5);

/// Pokes so far (a count, so a poke during a look is not lost), and the
/// bell that wakes the lookers.
static POKES: Mutex<u64> = Mutex::new(0);
static BELL: Condvar = Condvar::new();

fn pokes() -> MutexGuard<'static, u64> {
    POKES.lock().unwrap_or_else(|p| p.into_inner())
}

/// Something happened (a spawn, an exit): look for escapees soon.
pub fn poke() {
    let mut pokes = pokes();
    *pokes = pokes.wrapping_add(1);
    BELL.notify_all();
}

/// A thread looking for escapees; dropping this stops it.
pub(super) struct Looker {
    stop: Arc<AtomicBool>,
}

impl Looker {
    /// Starts looking for `subreaper`'s escapees; each new one is sent to
    /// `found`.
    pub(super) fn start(
        subreaper: Arc<Subreaper>,
        found: mpsc::Sender<Adopted>,
    ) -> std::io::Result<Self> {
        let stop = Arc::new(AtomicBool::new(false));
        let stopped = stop.clone();
        std::thread::Builder::new()
            .name("bringup-reaper".into())
            .spawn(move || look(&subreaper, &found, &stopped))?;
        Ok(Self { stop })
    }
}

impl Drop for Looker {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        // Rung under the lock, so a looker about to wait sees the flag.
        let _pokes = pokes();
        BELL.notify_all();
    }
}

/// Looks soon after a poke, then twice as long after each look, up to
/// [`SLOW`]; until `stop` or nobody takes what is found.
fn look(subreaper: &Subreaper, found: &mpsc::Sender<Adopted>, stop: &AtomicBool) {
    let mut interval = FAST;
    let mut next = Instant::now() + interval;
    let mut seen = *pokes();
    let mut threads = Threads::default();
    loop {
        let mut pokes = pokes();
        loop {
            if stop.load(Ordering::Relaxed) {
                return;
            }
            if *pokes != seen {
                seen = *pokes;
                threads.stale();
                interval = FAST;
                next = next.min(Instant::now() + FAST);
            }
            let now = Instant::now();
            if now >= next {
                break;
            }
            pokes = match BELL.wait_timeout(pokes, next - now) {
                Ok((pokes, _)) => pokes,
                Err(poisoned) => poisoned.into_inner().0,
            };
        }
        drop(pokes);
        for adopted in subreaper.scan_listing(None, || threads.children()) {
            if found.blocking_send(adopted).is_err() {
                return;
            }
        }
        interval = (interval * 2).min(SLOW);
        next = Instant::now() + interval;
    }
}

/// Looks before bringup's threads are listed again (they are also listed
/// again after a poke, and when one of them is gone).
const RELIST_EVERY: u32 = 10;

/// bringup's threads, as last listed. Listing them (`/proc/PID/task`) is
/// most of what a look costs on an idle machine (the kernel builds an
/// entry for each thread, each time); reading each one's children is
/// cheap. A child is listed under the thread that started it, and an
/// orphan under the thread that started its ancestor, so threads that
/// came since the last listing matter only once they start something:
/// a spawn pokes, which lists them again. (An orphan whose ancestor's
/// thread has ended goes to another thread, perhaps a newer one: it is
/// found at the next listing, at most [`RELIST_EVERY`] looks later.)
#[derive(Default)]
struct Threads {
    tids: Vec<u32>,
    /// Looks since they were listed; `None`: list them at the next look.
    age: Option<u32>,
}

impl Threads {
    fn stale(&mut self) {
        self.age = None;
    }

    /// bringup's children, across its threads.
    fn children(&mut self) -> Vec<u32> {
        let pid = std::process::id();
        if let Some(age) = self.age.filter(|&age| age < RELIST_EVERY) {
            let (children, all_there) = crate::process::children_of(pid, &self.tids);
            if all_there {
                self.age = Some(age + 1);
                return children;
            }
        }
        self.tids = crate::process::threads(pid);
        self.age = Some(0);
        crate::process::children_of(pid, &self.tids).0
    }
}
