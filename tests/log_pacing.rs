//! How a followed log travels to an attached dashboard (the control
//! socket's stream of every log, `GET /v1/logs?follow=1`): each line soon
//! after the service wrote it, and lines written together in one piece —
//! one write for the stack, one wake-up for the dashboard, which is what
//! an idle stack with a dashboard attached mostly costs.

// A test fails by panicking; `expect` says why.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod support;

use std::io::{BufRead, BufReader, Read, Write};
use std::os::unix::net::UnixStream;
use std::path::PathBuf;
use std::time::{Duration, Instant};

use serde_json::Value;
use support::DEADLINE;
use support::stack::Stack;

/// Bursts watched.
const BURSTS: usize = 6;

/// A service that says two lines 5 ms apart (two writes), then nothing
/// for 400 ms: longer than a round of the stream ever waits.
const CONFIG: &str = r#"
[services.pair]
command = ["sh", "-c", "while :; do echo first; sleep 0.005; echo second; sleep 0.4; done"]
"#;

fn socket(stack: &Stack) -> PathBuf {
    let (code, out, err) = stack.ctl(&["ls", "--json"]);
    assert!(code.success(), "ls: {err}");
    let listed: Vec<Value> = serde_json::from_str(&out).expect("ls --json is JSON");
    listed
        .iter()
        .find(|r| r["pid"].as_u64() == Some(stack.pid() as u64))
        .and_then(|r| r["socket"].as_str().map(PathBuf::from))
        .expect("the stack is listed with its socket")
}

/// The stack's log epoch (what a line's `at` counts from), on this
/// process's clock: now minus the uptime its hello tells.
fn epoch(socket: &PathBuf) -> Instant {
    let mut stream = UnixStream::connect(socket).expect("connect");
    stream
        .write_all(b"GET /v1/hello HTTP/1.1\r\nHost: bringup\r\nConnection: close\r\n\r\n")
        .unwrap();
    let mut answer = String::new();
    stream.read_to_string(&mut answer).expect("a hello");
    let asked = Instant::now();
    let body = answer.split("\r\n\r\n").nth(1).expect("a body");
    let hello: Value = serde_json::from_str(body).expect("JSON");
    let uptime = Duration::from_millis(hello["uptime_ms"].as_u64().expect("uptime_ms"));
    asked.checked_sub(uptime).expect("an epoch")
}

/// The next chunk of a chunked HTTP body: its lines, and when it came.
fn chunk(reader: &mut impl BufRead) -> (Vec<Value>, Instant) {
    let mut size = String::new();
    while size.trim().is_empty() {
        size.clear();
        reader.read_line(&mut size).expect("a chunk's size");
    }
    let came = Instant::now();
    let size = usize::from_str_radix(size.trim(), 16).expect("a hexadecimal size");
    let mut data = vec![0u8; size];
    reader.read_exact(&mut data).expect("the chunk");
    let lines = String::from_utf8_lossy(&data)
        .lines()
        .map(|l| serde_json::from_str(l).expect("a JSON line"))
        .collect();
    (lines, came)
}

#[test]
fn lines_written_together_reach_an_attached_dashboard_together_and_soon() {
    let stack = Stack::up(CONFIG);
    stack.wait_for("cold start done");
    let socket = socket(&stack);
    let epoch = epoch(&socket);
    let mut stream = UnixStream::connect(&socket).expect("connect");
    stream
        .write_all(b"GET /v1/logs?follow=1 HTTP/1.1\r\nHost: bringup\r\n\r\n")
        .unwrap();
    stream.set_read_timeout(Some(DEADLINE)).unwrap();
    let mut reader = BufReader::new(stream);
    let mut header = String::new();
    while header != "\r\n" {
        header.clear();
        reader.read_line(&mut header).expect("the response's head");
    }

    // Per burst: whether its two lines came in one chunk; per line: how
    // long after it was read from the service it reached us.
    let (mut whole, mut bursts) = (0, 0);
    let mut delays = Vec::new();
    let mut first_seen = false;
    let deadline = Instant::now() + DEADLINE;
    while bursts < BURSTS {
        assert!(Instant::now() < deadline, "only {bursts} bursts came");
        let (lines, came) = chunk(&mut reader);
        let texts: Vec<&str> = lines
            .iter()
            .filter(|l| l["log"] == 0)
            .filter_map(|l| l["text"].as_str())
            .collect();
        for line in lines.iter().filter(|l| l["log"] == 0) {
            let at = Duration::from_secs_f64(line["at"].as_f64().expect("at") / 1e3);
            delays.push(came.saturating_duration_since(epoch + at));
        }
        // Lines from before the stream began come in its first chunks.
        if !first_seen {
            first_seen = texts.last() == Some(&"second");
            continue;
        }
        if texts.contains(&"second") {
            bursts += 1;
            whole += usize::from(texts.contains(&"first"));
        }
    }
    // Written 5 ms apart after a quiet spell: the round waits a little for
    // the second line (it used to send the first alone, the second a round
    // gap later). A loaded machine may split one now and then.
    assert!(
        whole * 2 >= bursts,
        "{whole} of {bursts} bursts came in one piece"
    );
    // The newest delays (the first chunks held old lines).
    let mut recent: Vec<Duration> = delays.iter().rev().take(2 * BURSTS).copied().collect();
    recent.sort();
    let median = recent[recent.len() / 2];
    let worst = recent[recent.len() - 1];
    assert!(
        median <= Duration::from_millis(250) && worst <= Duration::from_secs(1),
        "a line reaches the dashboard's stream promptly: median {median:?}, worst {worst:?}"
    );
}
