//! Bounded per-service output stores, shared by the engine and front ends.
//!
//! Each service has a [`LogStore`]: a ring of [`Line`]s capped both by count
//! and by bytes, so a service that prints without end costs a fixed amount
//! of memory and the oldest lines fall off. Every line gets a sequence
//! number from one counter across all services, which gives front ends a
//! cursor ("everything after 1234") and a global order for a merged view.
//!
//! Writers (the output readers in `process`) append whole batches under one
//! short lock and then bump the [`LogHub`]'s watch channel; readers wait on
//! that channel, so a flood of lines wakes a front end once per batch, not
//! once per line, and a slow front end never slows a service down.

use std::collections::VecDeque;
use std::sync::{Arc, Mutex, MutexGuard, RwLock};
use std::time::{Duration, Instant, SystemTime};

use serde::{Deserialize, Serialize};
use tokio::sync::watch;

/// Lines longer than this are cut (with a marker) when they are read.
pub const MAX_LINE_BYTES: usize = 64 * 1024;
/// Bytes of text kept per service, whatever its line count.
pub const STORE_BYTES: usize = 4 * 1024 * 1024;
/// What a cut line ends with.
pub const CUT_MARKER: &str = " [… line cut at 64 KiB]";
/// Lines of bringup's own log kept (a few per service event).
const OWN_LINES: usize = 10_000;
/// The most stores a hub grows to (a mirror grows when it sees a line of
/// a service it did not know of; a bound keeps a bad number harmless).
pub const MAX_STORES: usize = 100_000;

/// Which pipe a line came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Stream {
    Stdout,
    Stderr,
}

/// One line of a service's output.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Line {
    /// Position in the hub-wide order.
    pub seq: u64,
    /// When it was read, since the hub's epoch (the engine's too).
    #[serde(with = "crate::millis")]
    pub at: Duration,
    pub stream: Stream,
    /// The text, without its newline; invalid UTF-8 replaced; ANSI kept.
    pub text: Box<str>,
}

/// How long [`LogHub::settled`] waits after a line for the lines that
/// come with it: lines written together (services ticking on the same
/// clock, a message written in pieces) then go out together, as one write
/// and one wake of a follower instead of a lone line and the rest later.
/// (Ten services started together tick within some 50 ms of each other;
/// under 64 ms, tokio's timer mostly wakes once for it.)
pub const SETTLE: Duration = Duration::from_millis(50);

/// A ring of lines, bounded by count and bytes.
#[derive(Debug, Default)]
pub struct Ring {
    lines: VecDeque<Line>,
    bytes: usize,
    evicted: u64,
}

impl Ring {
    /// Lines in order, oldest first.
    pub fn lines(&self) -> &VecDeque<Line> {
        &self.lines
    }

    /// How many lines have fallen off the front so far.
    pub fn evicted(&self) -> u64 {
        self.evicted
    }

    /// How many lines were ever appended: the store-local index of the
    /// next line.
    pub fn total(&self) -> u64 {
        self.evicted + self.lines.len() as u64
    }

    /// Index of the first line with `seq` greater than `after`.
    pub fn position_after(&self, after: u64) -> usize {
        self.lines.partition_point(|line| line.seq <= after)
    }
}

/// A slice of a store, for readers that follow it with a cursor.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Page {
    pub lines: Vec<Line>,
    /// Lines the reader wanted but that were already evicted.
    pub missed: u64,
    /// The cursor to pass next time.
    pub next: u64,
}

/// One service's output.
#[derive(Debug)]
pub struct LogStore {
    ring: Mutex<Ring>,
    max_lines: usize,
    max_bytes: usize,
}

impl LogStore {
    fn new(max_lines: usize, max_bytes: usize) -> Self {
        Self {
            ring: Mutex::new(Ring::default()),
            max_lines: max_lines.max(1),
            max_bytes: max_bytes.max(1),
        }
    }

    /// Read access to the ring; hold it briefly, writers wait meanwhile.
    pub fn read(&self) -> MutexGuard<'_, Ring> {
        // A writer that panicked mid-push leaves a ring that is still
        // consistent enough to read, so poisoning is not worth propagating.
        self.ring
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// Copies of at most `max` lines starting at store-local index `from`
    /// (0 is the first line the service ever printed).
    pub fn page(&self, from: u64, max: usize) -> Page {
        let ring = self.read();
        // Lines before `evicted` are gone; a reader that wanted them missed them.
        let missed = ring.evicted.saturating_sub(from);
        let start = from.saturating_sub(ring.evicted) as usize;
        let lines: Vec<Line> = ring.lines.iter().skip(start).take(max).cloned().collect();
        let next = from + missed + lines.len() as u64;
        Page {
            lines,
            missed,
            next,
        }
    }

    fn push(&self, hub: &LogHub, stream: Stream, texts: Vec<String>) -> u64 {
        let at = hub.epoch.elapsed();
        let mut ring = self.read();
        // Numbers are taken under the store's lock so each store's lines
        // stay in sequence order even with two pipes writing at once.
        let count = texts.len() as u64;
        let first = hub
            .next_seq
            .fetch_add(count, std::sync::atomic::Ordering::Relaxed);
        for (offset, text) in texts.into_iter().enumerate() {
            ring.bytes += text.len();
            ring.lines.push_back(Line {
                seq: first + offset as u64,
                at,
                stream,
                text: text.into_boxed_str(),
            });
        }
        self.trim(&mut ring);
        first + count
    }

    /// Keeps a line as it is (its number and time come from elsewhere).
    fn push_line(&self, line: Line) {
        let mut ring = self.read();
        ring.bytes += line.text.len();
        ring.lines.push_back(line);
        self.trim(&mut ring);
    }

    fn trim(&self, ring: &mut Ring) {
        while ring.lines.len() > self.max_lines
            || (ring.bytes > self.max_bytes && ring.lines.len() > 1)
        {
            if let Some(old) = ring.lines.pop_front() {
                ring.bytes -= old.text.len();
                ring.evicted += 1;
            }
        }
    }
}

/// All services' stores, bringup's own, and the "something new" signal.
///
/// Stores are numbered like services ([`crate::ids::ServiceId`]); the
/// hub grows when a service is added while the stack runs (a number never
/// goes to another service), so a store is handed out as an `Arc`.
#[derive(Debug)]
pub struct LogHub {
    stores: RwLock<Vec<Arc<LogStore>>>,
    /// bringup's own account of what it decided and why (the dashboard's
    /// orchestrator log), read like a service's: at [`LogHub::OWN`].
    own: Arc<LogStore>,
    max_lines: usize,
    max_bytes: usize,
    next_seq: std::sync::atomic::AtomicU64,
    changed: watch::Sender<u64>,
    /// `changed`, a settle later: see [`LogHub::pace`].
    settled: watch::Sender<u64>,
    epoch: Instant,
    epoch_wall: SystemTime,
}

impl LogHub {
    /// A hub with one store per service, each keeping `max_lines` lines.
    pub fn new(services: usize, max_lines: usize) -> Arc<Self> {
        Self::with_limits(services, max_lines, STORE_BYTES)
    }

    /// As [`LogHub::new`] with an explicit byte cap per store.
    pub fn with_limits(services: usize, max_lines: usize, max_bytes: usize) -> Arc<Self> {
        Self::build(
            services,
            max_lines,
            max_bytes,
            Instant::now(),
            SystemTime::now(),
        )
    }

    /// A hub that mirrors another one (a stack's, read over its control
    /// socket): line times are measured from that hub's start, `epoch`
    /// here and `epoch_wall` on the wall clock. Fill it with
    /// [`LogHub::append_line`].
    pub fn mirror(
        services: usize,
        max_lines: usize,
        epoch: Instant,
        epoch_wall: SystemTime,
    ) -> Arc<Self> {
        Self::build(services, max_lines, STORE_BYTES, epoch, epoch_wall)
    }

    fn build(
        services: usize,
        max_lines: usize,
        max_bytes: usize,
        epoch: Instant,
        epoch_wall: SystemTime,
    ) -> Arc<Self> {
        let (changed, _) = watch::channel(0);
        let (settled, _) = watch::channel(0);
        Arc::new(Self {
            stores: RwLock::new(
                (0..services)
                    .map(|_| Arc::new(LogStore::new(max_lines, max_bytes)))
                    .collect(),
            ),
            own: Arc::new(LogStore::new(OWN_LINES, max_bytes)),
            max_lines,
            max_bytes,
            // Sequence numbers start at 1 so 0 can mean "before everything".
            next_seq: std::sync::atomic::AtomicU64::new(1),
            changed,
            settled,
            epoch,
            epoch_wall,
        })
    }

    /// The number of bringup's own log: never a service's.
    pub const OWN: usize = usize::MAX;

    /// How many lines each service's store keeps (the config's `log_lines`).
    pub fn max_lines(&self) -> usize {
        self.max_lines.max(1)
    }

    fn stores(&self) -> std::sync::RwLockReadGuard<'_, Vec<Arc<LogStore>>> {
        // Stores are only ever added: a writer that panicked left a
        // vector that is whole.
        self.stores.read().unwrap_or_else(|p| p.into_inner())
    }

    /// The store of service `index`, or bringup's own at [`LogHub::OWN`].
    pub fn store(&self, index: usize) -> Option<Arc<LogStore>> {
        if index == Self::OWN {
            return Some(self.own.clone());
        }
        self.stores().get(index).cloned()
    }

    /// Every store's number: the services' in order, then bringup's own.
    pub fn indices(&self) -> Vec<usize> {
        (0..self.len()).chain([Self::OWN]).collect()
    }

    /// Makes room for `services` services (a service added while the
    /// stack runs); never shrinks.
    pub fn grow(&self, services: usize) {
        let services = services.min(MAX_STORES);
        let mut stores = self.stores.write().unwrap_or_else(|p| p.into_inner());
        while stores.len() < services {
            stores.push(Arc::new(LogStore::new(self.max_lines, self.max_bytes)));
        }
    }

    /// Appends a line of bringup's own (stderr for warnings) and wakes the
    /// readers.
    pub fn append_own(&self, stream: Stream, text: String) {
        self.append(Self::OWN, stream, vec![text]);
    }

    /// How many services' stores there are.
    pub fn len(&self) -> usize {
        self.stores().len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Appends lines to service `index` and wakes the readers.
    pub fn append(&self, index: usize, stream: Stream, texts: Vec<String>) {
        if texts.is_empty() {
            return;
        }
        let Some(store) = self.store(index) else {
            return;
        };
        let next = store.push(self, stream, texts);
        self.wake(next);
    }

    /// Appends a line read from another hub to store `index`, keeping its
    /// number and time, and wakes the readers. Lines of one store must
    /// come in order (as a followed log sends them); numbers stay unique
    /// across stores because the other hub gave them.
    /// A line of a store the hub does not have yet (a service added to
    /// the stack, heard of on another connection) makes room for it.
    pub fn append_line(&self, index: usize, line: Line) {
        if index != Self::OWN && index >= self.len() {
            self.grow(index + 1);
        }
        let Some(store) = self.store(index) else {
            return;
        };
        let next = line.seq + 1;
        self.next_seq
            .fetch_max(next, std::sync::atomic::Ordering::Relaxed);
        store.push_line(line);
        self.wake(next);
    }

    /// Tells the readers that lines up to (not including) `next` are in.
    fn wake(&self, next: u64) {
        self.changed.send_if_modified(|latest| {
            if next > *latest {
                *latest = next;
                true
            } else {
                false
            }
        });
    }

    /// Tells [`LogHub::settled`] readers of the lines that came, [`SETTLE`]
    /// after the first of them (lines written together, like the ticks of
    /// services started together, then reach them together); until the
    /// task is dropped. Run where the lines are appended (the engine's
    /// thread): there a line wakes this task without waking any other
    /// thread, and a reader on another thread wakes once per settle
    /// instead of at the first line and again when its own timer ends.
    pub async fn pace(self: Arc<Self>) {
        let mut changed = self.subscribe();
        while changed.changed().await.is_ok() {
            if self.settled.receiver_count() == 0 {
                // Nobody follows: no settle to time. (A follower that
                // comes pages what is there when it starts.)
                continue;
            }
            tokio::time::sleep(SETTLE).await;
            let latest = *changed.borrow_and_update();
            self.settled.send_replace(latest);
        }
    }

    /// The readers' view of [`LogHub::subscribe`] when lines can wait a
    /// little: it changes a settle after lines come, while
    /// [`LogHub::pace`] runs (a hub in a stack's process, where the
    /// engine runs it).
    pub fn settled(&self) -> watch::Receiver<u64> {
        self.settled.subscribe()
    }

    /// How many lines were appended to all stores so far.
    pub fn total(&self) -> u64 {
        self.next_seq
            .load(std::sync::atomic::Ordering::Relaxed)
            .saturating_sub(1)
    }

    /// A receiver that changes whenever lines are appended.
    pub fn subscribe(&self) -> watch::Receiver<u64> {
        self.changed.subscribe()
    }

    /// The moment line times are measured from; the engine measures its
    /// events from it too.
    pub fn epoch(&self) -> Instant {
        self.epoch
    }

    /// Wall-clock time of a line's (or an event's) `at`.
    pub fn wall_time(&self, at: Duration) -> SystemTime {
        self.epoch_wall + at
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn texts(range: std::ops::Range<usize>) -> Vec<String> {
        range.map(|i| format!("line {i}")).collect()
    }

    #[tokio::test]
    async fn followers_hear_of_lines_written_together_once_a_settle_after_the_first() {
        let hub = LogHub::new(2, 100);
        let pacer = tokio::spawn(hub.clone().pace());
        let mut settled = hub.settled();
        // The pacer starts listening at its first turn.
        tokio::task::yield_now().await;
        let started = Instant::now();
        hub.append(0, Stream::Stdout, texts(0..1));
        hub.append(1, Stream::Stderr, texts(1..3));
        tokio::time::timeout(Duration::from_secs(10), settled.changed())
            .await
            .expect("settled in time")
            .expect("the hub is there");
        assert!(started.elapsed() >= SETTLE, "{:?}", started.elapsed());
        // All three lines (numbers 1 to 3), in one change.
        assert_eq!(*settled.borrow_and_update(), 4);
        pacer.abort();
    }

    #[tokio::test]
    async fn a_service_that_never_pauses_still_reaches_its_followers_every_settle() {
        // The settle counts from the first line of a burst, not from the
        // last: lines every 10 ms must not hold the stream back for good.
        let hub = LogHub::new(1, 1000);
        let pacer = tokio::spawn(hub.clone().pace());
        let mut settled = hub.settled();
        tokio::task::yield_now().await;
        let writer = {
            let hub = hub.clone();
            tokio::spawn(async move {
                for i in 0..100 {
                    hub.append(0, Stream::Stdout, texts(i..i + 1));
                    tokio::time::sleep(Duration::from_millis(10)).await;
                }
            })
        };
        let mut heard = 0;
        let window = tokio::time::sleep(Duration::from_millis(600));
        tokio::pin!(window);
        loop {
            tokio::select! {
                _ = settled.changed() => heard += 1,
                () = &mut window => break,
            }
        }
        // Some 11 a second at a 50 ms settle; none if the settle restarted
        // at every line.
        assert!(heard >= 3, "followers heard {heard} times in 600 ms");
        writer.abort();
        pacer.abort();
    }

    fn seqs(page: &Page) -> Vec<u64> {
        page.lines.iter().map(|l| l.seq).collect()
    }

    #[test]
    fn lines_get_global_sequence_numbers() {
        let hub = LogHub::new(2, 100);
        hub.append(0, Stream::Stdout, texts(0..2));
        hub.append(1, Stream::Stderr, texts(0..1));
        hub.append(0, Stream::Stdout, texts(2..3));
        let a = hub.store(0).unwrap().page(0, 10);
        let b = hub.store(1).unwrap().page(0, 10);
        assert_eq!(seqs(&a), [1, 2, 4]);
        assert_eq!(
            (a.missed, a.next),
            (0, 3),
            "gaps in seq are other services' lines, not losses"
        );
        assert_eq!(b.lines[0].seq, 3);
        assert_eq!(b.lines[0].stream, Stream::Stderr);
        assert_eq!(*hub.subscribe().borrow(), 5);
    }

    #[test]
    fn the_ring_is_bounded_by_lines_and_by_bytes() {
        let hub = LogHub::with_limits(1, 10, 1000);
        hub.append(0, Stream::Stdout, texts(0..25));
        let store = hub.store(0).unwrap();
        let ring = store.read();
        assert_eq!(ring.lines().len(), 10);
        assert_eq!(&*ring.lines()[0].text, "line 15");
        assert_eq!(ring.evicted(), 15);
        drop(ring);

        hub.append(0, Stream::Stdout, vec!["x".repeat(600), "y".repeat(600)]);
        let ring = store.read();
        assert_eq!(
            ring.lines().len(),
            1,
            "only the newest 600-byte line fits in 1000 bytes"
        );
        assert!(ring.lines()[0].text.starts_with('y'));
    }

    #[test]
    fn a_mirror_keeps_the_numbers_and_times_of_the_lines_it_is_given() {
        let source = LogHub::new(2, 100);
        source.append(1, Stream::Stdout, texts(0..2));
        source.append(0, Stream::Stderr, texts(0..1));
        let epoch = source.epoch();
        let mirror = LogHub::mirror(2, 2, epoch, SystemTime::UNIX_EPOCH);
        for index in 0..2 {
            for line in source.store(index).unwrap().page(0, 10).lines {
                mirror.append_line(index, line);
            }
        }
        for index in 0..2 {
            assert_eq!(
                mirror.store(index).unwrap().page(0, 10).lines,
                source.store(index).unwrap().page(0, 10).lines
            );
        }
        assert_eq!(mirror.total(), 3);
        assert_eq!(*mirror.subscribe().borrow(), 4);
        assert_eq!(mirror.epoch(), epoch);
        // Bounded like any store: the oldest lines fall off.
        mirror.append_line(
            1,
            Line {
                seq: 9,
                at: Duration::ZERO,
                stream: Stream::Stdout,
                text: "x".into(),
            },
        );
        let kept = mirror.store(1).unwrap().page(0, 10);
        assert_eq!((seqs(&kept), kept.missed), (vec![2, 9], 1));
        assert_eq!(
            mirror.wall_time(Duration::from_secs(1)),
            SystemTime::UNIX_EPOCH + Duration::from_secs(1)
        );
    }

    #[test]
    fn a_reader_that_fell_behind_learns_how_much_it_missed() {
        let hub = LogHub::with_limits(1, 5, 1 << 20);
        hub.append(0, Stream::Stdout, texts(0..20));
        let store = hub.store(0).unwrap();
        let page = store.page(0, 3);
        assert_eq!((page.lines.len(), page.missed, page.next), (3, 15, 18));
        assert_eq!(&*page.lines[0].text, "line 15");
        let page = store.page(page.next, 100);
        assert_eq!((page.lines.len(), page.missed, page.next), (2, 0, 20));
        let page = store.page(page.next, 100);
        assert_eq!((page.lines.len(), page.next), (0, 20));
    }
}
