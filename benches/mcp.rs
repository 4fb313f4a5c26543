//! What an agent waits for: a `status` tool call of `bringup mcp`, end to
//! end (the JSON-RPC request written to the server's stdin → the whole
//! answer read from its stdout, the server asking the stack over its
//! control socket in between), on a 20-service stack started with `up -d`.
//!
//! There is no limit for it in issue 13; it is printed next to `bringup
//! status --json`'s whole-process wall time (issue 10's limit: median ≤
//! 10 ms) measured alternately in the same run, since the machine is
//! shared and noisy. The server is spoken to by hand (newline-delimited
//! JSON-RPC, as MCP's stdio transport is), so the figure holds no client
//! library's overhead. Every process started here is stopped by a guard
//! ([`Stack`] kills its run by marker, [`Reaped`] the server's group).

// A benchmark fails by panicking; `expect` says why.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod harness;

use std::io::{BufRead, BufReader, Write};
use std::process::{ChildStdin, ChildStdout, Command, Stdio};
use std::time::Instant;

use harness::support::stack::Stack;
use harness::{BIN, Reaped, stats, wall_ms};
use serde_json::{Value, json};

/// Calls timed (and runs of `status --json`).
const RUNS: usize = 40;

/// One request, its answer (the line with the same id; notifications in
/// between are skipped).
fn ask(input: &mut ChildStdin, output: &mut BufReader<ChildStdout>, request: &Value) -> Value {
    let mut text = serde_json::to_vec(request).unwrap();
    text.push(b'\n');
    input.write_all(&text).expect("write to the server");
    input.flush().expect("flush");
    loop {
        let mut line = String::new();
        let read = output.read_line(&mut line).expect("read from the server");
        assert!(read > 0, "the server hung up");
        let answer: Value = serde_json::from_str(&line).expect("a JSON-RPC line");
        if answer.get("id") == request.get("id") {
            return answer;
        }
    }
}

fn main() {
    let config = harness::http_services(20);
    let mut stack = Stack::start(&config, &["up", "-d"]);
    assert!(
        stack.wait_exit().success(),
        "up -d failed\n{}{}",
        stack.stdout(),
        stack.stderr()
    );
    let file = stack.dir.path().join("bringup.toml");
    let file = file.to_str().expect("a UTF-8 temp path");

    let mut server = Reaped::spawn(
        Command::new(BIN)
            .args(["-c", file, "mcp"])
            .env("BRINGUP_TEST_MARKER", &stack.marker)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::null()),
    );
    let mut input = server.child.stdin.take().expect("stdin");
    let mut output = BufReader::new(server.child.stdout.take().expect("stdout"));
    let started = Instant::now();
    ask(
        &mut input,
        &mut output,
        &json!({"jsonrpc": "2.0", "id": 0, "method": "initialize", "params": {
            "protocolVersion": "2025-06-18", "capabilities": {},
            "clientInfo": {"name": "bench", "version": "1"}}}),
    );
    let handshake = started.elapsed().as_secs_f64() * 1e3;
    input
        .write_all(b"{\"jsonrpc\":\"2.0\",\"method\":\"notifications/initialized\"}\n")
        .expect("initialized");

    let call = |id: usize| {
        json!({"jsonrpc": "2.0", "id": id, "method": "tools/call",
               "params": {"name": "status", "arguments": {}}})
    };
    let answer = ask(&mut input, &mut output, &call(1));
    let ready = answer["result"]["structuredContent"]["ready"].as_u64();
    assert_eq!(ready, Some(20), "every service ready: {answer}");
    let bytes = serde_json::to_string(&answer).unwrap().len();
    let status = ["-c", file, "status", "--json"];
    for id in 2..5 {
        ask(&mut input, &mut output, &call(id));
        wall_ms(&status);
    }
    let (mut calls, mut cli) = (Vec::new(), Vec::new());
    for id in 0..RUNS {
        let started = Instant::now();
        let answer = ask(&mut input, &mut output, &call(100 + id));
        calls.push(started.elapsed().as_secs_f64() * 1e3);
        assert!(answer["result"]["isError"] != true, "{answer}");
        cli.push(wall_ms(&status));
    }
    let (median, p90, max) = stats(&mut calls);
    let (c_median, c_p90, _) = stats(&mut cli);
    println!(
        "mcp status tool call, 20 services ready ({RUNS} calls): median {median:.2} ms, p90 {p90:.2} ms, max {max:.2} ms (no limit in issue 13)"
    );
    println!(
        "  beside it, bringup status --json (whole process) in the same run: median {c_median:.2} ms, p90 {c_p90:.2} ms (issue 10's limit: median ≤ 10 ms)"
    );
    println!("  ({bytes} bytes per answer; server start to initialized: {handshake:.2} ms)");

    drop(input);
    let _ = server.wait(std::time::Duration::from_secs(10));
    let (code, out, err) = stack.ctl(&["down"]);
    assert!(code.success(), "down: {out}{err}");
    stack.assert_no_survivors();
}
