//! Reading a child's stdout or stderr into its log store, line by line.
//!
//! The pipe is read in 64 KiB chunks and split on `\n` (memchr), so a
//! chatty service costs one lock and one wake-up per chunk rather than per
//! line. A line longer than [`MAX_LINE_BYTES`] is cut there with a marker
//! and the rest of it, up to its newline, is dropped: memory stays bounded
//! however a service writes. Invalid UTF-8 is replaced; `\r\n` endings
//! lose their `\r`. A `log` readiness check watches the lines as they pass.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use regex::Regex;
use tokio::io::{AsyncRead, AsyncReadExt};

use crate::logs::{CUT_MARKER, LogHub, MAX_LINE_BYTES, Stream};

const CHUNK: usize = 64 * 1024;

/// A `log` readiness check: the first line matching `pattern` calls
/// `on_match`, once.
pub struct LogWatch {
    pattern: Regex,
    armed: AtomicBool,
    on_match: Box<dyn Fn(String) + Send + Sync>,
}

impl LogWatch {
    pub fn new(pattern: Regex, on_match: impl Fn(String) + Send + Sync + 'static) -> Arc<Self> {
        Arc::new(Self {
            pattern,
            armed: AtomicBool::new(true),
            on_match: Box::new(on_match),
        })
    }

    /// Stops watching (the service stopped or is being stopped).
    pub fn disarm(&self) {
        self.armed.store(false, Ordering::Relaxed);
    }

    /// The first line in `lines` that matches, disarming the watch.
    fn find(&self, lines: &[String]) -> Option<String> {
        if !self.armed.load(Ordering::Relaxed) {
            return None;
        }
        for line in lines {
            // Colour codes may sit in the middle of the words a pattern looks for.
            let text = crate::ansi::terminal_safe(line, false);
            if self.pattern.is_match(&text) && self.armed.swap(false, Ordering::Relaxed) {
                return Some(text.into_owned());
            }
        }
        None
    }
}

/// Copies `pipe` into service `index`'s store until end of file.
pub async fn pump(
    mut pipe: impl AsyncRead + Unpin,
    hub: Arc<LogHub>,
    index: usize,
    stream: Stream,
    watch: Option<Arc<LogWatch>>,
    spoke: Option<Arc<tokio::sync::Notify>>,
) {
    let mut splitter = Splitter::default();
    let mut buffer = vec![0u8; CHUNK];
    loop {
        let read = match pipe.read(&mut buffer).await {
            Ok(0) | Err(_) => break,
            Ok(read) => read,
        };
        let lines = splitter.feed(&buffer[..read]);
        let said = !lines.is_empty();
        deliver(&hub, index, stream, watch.as_deref(), lines);
        // Whoever checks its readiness may want to ask again now.
        if let (true, Some(spoke)) = (said, &spoke) {
            spoke.notify_one();
        }
    }
    deliver(&hub, index, stream, watch.as_deref(), splitter.finish());
}

fn deliver(
    hub: &LogHub,
    index: usize,
    stream: Stream,
    watch: Option<&LogWatch>,
    lines: Vec<String>,
) {
    let matched = watch.and_then(|w| w.find(&lines).map(|line| (w, line)));
    // Store first, then report: whoever learns "ready" can already read
    // the line that made it so.
    hub.append(index, stream, lines);
    if let Some((watch, line)) = matched {
        (watch.on_match)(line);
    }
}

/// Splits a byte stream into bounded lines.
#[derive(Debug, Default)]
pub struct Splitter {
    partial: Vec<u8>,
    /// The current line was already cut; drop bytes until its newline.
    discarding: bool,
}

impl Splitter {
    /// Complete lines in `bytes` (plus what was left over before).
    pub fn feed(&mut self, mut bytes: &[u8]) -> Vec<String> {
        let mut lines = Vec::new();
        while let Some(newline) = memchr::memchr(b'\n', bytes) {
            let piece = &bytes[..newline];
            bytes = &bytes[newline + 1..];
            if std::mem::take(&mut self.discarding) {
                continue;
            }
            if self.partial.is_empty() {
                lines.push(decode(piece));
            } else {
                self.partial.extend_from_slice(piece);
                lines.push(decode(&self.partial));
                self.partial.clear();
            }
        }
        if !self.discarding {
            self.partial.extend_from_slice(bytes);
            if self.partial.len() > MAX_LINE_BYTES {
                lines.push(decode(&self.partial));
                self.partial.clear();
                self.discarding = true;
            }
        }
        lines
    }

    /// The unterminated last line, if any.
    pub fn finish(&mut self) -> Vec<String> {
        let rest = std::mem::take(&mut self.partial);
        if rest.is_empty() || std::mem::take(&mut self.discarding) {
            return Vec::new();
        }
        vec![decode(&rest)]
    }
}

/// Bytes → text: `\r` trimmed, invalid UTF-8 replaced, over-long lines cut.
fn decode(bytes: &[u8]) -> String {
    let bytes = bytes.strip_suffix(b"\r").unwrap_or(bytes);
    if bytes.len() <= MAX_LINE_BYTES {
        return String::from_utf8_lossy(bytes).into_owned();
    }
    let mut text = String::from_utf8_lossy(&bytes[..MAX_LINE_BYTES]).into_owned();
    // The cut may have split a character; lossy decoding turned its first
    // bytes into U+FFFD, which is fine for a line that is cut anyway.
    text.push_str(CUT_MARKER);
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lines_split_across_reads_are_joined() {
        let mut s = Splitter::default();
        assert_eq!(s.feed(b"one\ntw"), ["one"]);
        assert_eq!(s.feed(b"o\r\nthree"), ["two"]);
        assert_eq!(s.finish(), ["three"]);
        assert!(s.finish().is_empty());
    }

    #[test]
    fn invalid_utf8_is_replaced() {
        let mut s = Splitter::default();
        assert_eq!(s.feed(b"caf\xe9 \xff\n"), ["caf\u{fffd} \u{fffd}"]);
    }

    #[test]
    fn a_huge_line_is_cut_and_its_tail_dropped() {
        let mut s = Splitter::default();
        let mut lines = Vec::new();
        let chunk = vec![b'x'; 50_000];
        // 10 MiB without a newline, then a newline and a normal line.
        for _ in 0..200 {
            lines.extend(s.feed(&chunk));
            assert!(s.partial.len() <= MAX_LINE_BYTES + chunk.len());
        }
        lines.extend(s.feed(b"tail\nnext\n"));
        assert_eq!(lines.len(), 2);
        assert!(lines[0].ends_with(CUT_MARKER));
        assert_eq!(lines[0].len(), MAX_LINE_BYTES + CUT_MARKER.len());
        assert_eq!(lines[1], "next");
    }

    #[test]
    fn a_log_watch_fires_once_and_sees_through_colour() {
        let hits = Arc::new(std::sync::Mutex::new(Vec::new()));
        let sink = hits.clone();
        let watch = LogWatch::new(Regex::new("listening on").unwrap(), move |line| {
            sink.lock().unwrap().push(line);
        });
        let hub = LogHub::new(1, 10);
        let lines = |texts: &[&str]| texts.iter().map(|t| t.to_string()).collect::<Vec<_>>();
        deliver(&hub, 0, Stream::Stdout, Some(&watch), lines(&["starting"]));
        deliver(
            &hub,
            0,
            Stream::Stdout,
            Some(&watch),
            lines(&["\x1b[32mlistening\x1b[0m on :80", "listening on :81"]),
        );
        deliver(
            &hub,
            0,
            Stream::Stdout,
            Some(&watch),
            lines(&["listening on :82"]),
        );
        assert_eq!(*hits.lock().unwrap(), ["listening on :80"]);
        assert_eq!(hub.store(0).unwrap().read().lines().len(), 4);
    }

    #[tokio::test]
    async fn pump_fills_the_store() {
        let hub = LogHub::new(1, 100);
        let input: &[u8] = b"a\nb\nc";
        pump(input, hub.clone(), 0, Stream::Stderr, None, None).await;
        let page = hub.store(0).unwrap().page(0, 10);
        let texts: Vec<&str> = page.lines.iter().map(|l| &*l.text).collect();
        assert_eq!(texts, ["a", "b", "c"]);
    }
}
