//! `bringup mcp` driven by a real MCP client nobody here wrote: the
//! official Python SDK (`mcp` from PyPI, installed into the test venv on
//! first use), over stdio, against real stacks started with `bringup up
//! -d` (by the test, or by the server's own `up` tool). The client script
//! (tests/mcp/client.py) runs a scenario and prints every call's result;
//! the assertions are here. Every process (the client, the server, the
//! stack's bringup and services) carries the test's marker and is killed
//! with the rig when the test ends, also when it fails.

// A test fails by panicking; `expect` says why.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod support;

use std::path::Path;
use std::process::{Command, Stdio};

use serde_json::Value;
use support::stack::Stack;
use support::{BIN, fixture};

/// db (http readiness, chatty) ← api (http readiness).
fn config() -> String {
    format!(
        r#"
[services.db]
command = "{db}"
port = "auto"
readiness = {{ http = "http://127.0.0.1:${{port}}/health/ready" }}

[services.api]
command = "{api}"
port = "auto"
depends_on = ["db"]
readiness = {{ http = "http://127.0.0.1:${{port}}/health/ready" }}
"#,
        db = fixture("db", "--port ${port} --ready-after 100ms --log-every 20ms"),
        api = fixture("api", "--port ${port} --ready-after 100ms"),
    )
}

/// Runs the client script's `scenario` on the config of `stack`, with
/// its marker and state directory (so the script, the server it spawns
/// and any stack that starts are the rig's to clean up): its report.
fn client(stack: &Stack, scenario: &str) -> Value {
    let python = support::tools::python_with(&["mcp"]);
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/mcp/client.py");
    let config = stack.dir.path().join("bringup.toml");
    // `timeout`: a wedged client or server fails the test instead of hanging it.
    let output = Command::new("timeout")
        .arg("300")
        .arg(&python)
        .arg(&script)
        .args([BIN, scenario, "-c"])
        .arg(&config)
        .current_dir(stack.dir.path())
        .env("BRINGUP_TEST_MARKER", &stack.marker)
        .env("XDG_STATE_HOME", stack.dir.path().join("state"))
        .env("NO_COLOR", "1")
        .stdin(Stdio::null())
        .output()
        .expect("run the MCP client");
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        output.status.success(),
        "the MCP client failed ({}):\n{stdout}\n{stderr}",
        output.status
    );
    serde_json::from_str(stdout.trim())
        .unwrap_or_else(|e| panic!("the client's report is JSON ({e}): {stdout}\n{stderr}"))
}

/// The calls of `report` to `name`, in order.
fn calls<'a>(report: &'a Value, name: &str) -> Vec<&'a Value> {
    report["calls"]
        .as_array()
        .expect("calls")
        .iter()
        .filter(|c| c["name"] == name)
        .collect()
}

fn service<'a>(status: &'a Value, name: &str) -> &'a Value {
    status["services"]
        .as_array()
        .expect("services")
        .iter()
        .find(|s| s["name"] == name)
        .unwrap_or_else(|| panic!("no {name} in {status}"))
}

#[test]
fn an_mcp_client_reads_and_drives_a_running_stack() {
    let mut stack = Stack::start(&config(), &["up", "-d"]);
    let up = stack.wait_exit();
    assert!(up.success(), "{}{}", stack.stdout(), stack.stderr());
    let report = client(&stack, "stack");

    // Every tool is listed with a description, schemas and annotations;
    // kill and down are destructive, the readers read-only.
    let tools = report["tools"].as_array().expect("tools");
    let names: Vec<&str> = tools.iter().filter_map(|t| t["name"].as_str()).collect();
    for name in [
        "status",
        "why",
        "logs",
        "restart",
        "stop",
        "start",
        "kill",
        "skip",
        "wait_ready",
        "up",
        "down",
        "ports_who",
    ] {
        let tool = tools
            .iter()
            .find(|t| t["name"] == name)
            .unwrap_or_else(|| panic!("no tool {name}: {names:?}"));
        assert!(
            tool["description"].as_str().is_some_and(|d| d.len() > 30),
            "{tool}"
        );
        assert_eq!(tool["has_input_schema"], true, "{tool}");
        assert_eq!(tool["has_output_schema"], true, "{tool}");
        let destructive = matches!(name, "kill" | "down");
        let read_only = matches!(name, "status" | "why" | "logs" | "wait_ready" | "ports_who");
        assert_eq!(tool["read_only"], read_only, "{tool}");
        if !read_only {
            assert_eq!(tool["destructive"], destructive, "{tool}");
        }
    }

    // status: every service ready, with port, pid and time to ready.
    let statuses = calls(&report, "status");
    let first = &statuses[0]["structured"];
    assert_eq!(statuses[0]["is_error"], false, "{}", statuses[0]);
    assert_eq!(first["all_required_ready"], true, "{first}");
    let api = service(first, "api");
    assert_eq!(api["state"], "ready", "{api}");
    assert!(api["port"].is_u64() && api["pid"].is_u64(), "{api}");
    assert!(api["time_to_ready_ms"].is_u64(), "{api}");
    assert_eq!(api["reason"]["reason"], "ready_in", "{api}");
    assert!(
        api["why"].as_str().unwrap().starts_with("ready in"),
        "{api}"
    );
    let api_pid = api["pid"].clone();
    // Filtered by name and state: only api.
    let filtered = statuses[1]["structured"]["services"].as_array().unwrap();
    assert_eq!(filtered.len(), 1, "{}", statuses[1]);

    // logs: what db printed, bounded; a grep that matches nothing; a
    // byte bound that cuts, and says so.
    let logs = calls(&report, "logs");
    let db = logs[0]["structured"]["lines"].as_array().unwrap();
    assert!(
        !db.is_empty() && db.len() <= 3 && db.iter().all(|l| l["service"] == "db"),
        "{}",
        logs[0]
    );
    assert_eq!(logs[1]["structured"]["lines"], Value::Array(vec![]));
    let cut = &logs[2]["structured"];
    let bytes: usize = cut["lines"]
        .as_array()
        .unwrap()
        .iter()
        .map(|l| l["text"].as_str().unwrap().len())
        .sum();
    assert!(bytes <= 200, "{cut}");
    assert_eq!(cut["cut"], true, "{cut}");
    assert!(cut["note"].as_str().unwrap().contains("200 bytes"), "{cut}");
    // A bad regex is a clear error.
    assert_eq!(logs[3]["is_error"], true);
    assert!(
        logs[3]["text"]
            .as_str()
            .unwrap()
            .contains("regular expression")
    );

    // why: its status, what bringup said about it, its output.
    let whys = calls(&report, "why");
    let why = &whys[0]["structured"];
    assert_eq!(why["service"]["name"], "api", "{why}");
    let history = why["history"].as_array().unwrap();
    assert!(
        history
            .iter()
            .any(|l| l["text"].as_str().unwrap().starts_with("api: ")),
        "{why}"
    );
    // After a stop, why says it was stopped and how its process ended.
    let stopped = &whys[1]["structured"];
    assert_eq!(stopped["service"]["state"], "stopped", "{stopped}");
    assert!(stopped["last_exit"].is_string(), "{stopped}");

    // restart returns once api is ready again, with a new process.
    let restart = &calls(&report, "restart")[0]["structured"];
    assert_eq!(restart["ok"], true, "{restart}");
    let after = &statuses[2]["structured"];
    assert_eq!(service(after, "api")["state"], "ready", "{after}");
    assert_ne!(
        service(after, "api")["pid"],
        api_pid,
        "a new process: {after}"
    );
    assert_eq!(calls(&report, "stop")[0]["structured"]["ok"], true);
    assert_eq!(calls(&report, "start")[0]["structured"]["ok"], true);

    // wait_ready: everything is ready again.
    let wait = &calls(&report, "wait_ready")[0]["structured"];
    assert_eq!(wait["ok"], true, "{wait}");

    // A service that does not exist: a clear error naming what exists.
    for call in [&whys[2], &calls(&report, "restart")[1]] {
        assert_eq!(call["is_error"], true, "{call}");
        let text = call["text"].as_str().unwrap();
        assert!(
            text.contains("no service `nosuch`") && text.contains("db, api"),
            "{text}"
        );
    }

    // ports_who: db's port is held by db's process.
    let who = &calls(&report, "ports_who")[0]["structured"];
    assert_eq!(who["service"], "db", "{who}");
    assert_eq!(who["free"], false, "{who}");
    assert_eq!(
        who["holders"][0]["pid"],
        service(first, "db")["pid"],
        "{who}"
    );
    // And the server answered after the errors.
    assert_eq!(statuses[3]["is_error"], false, "{}", statuses[3]);

    let (code, out, err) = stack.ctl(&["down"]);
    assert!(code.success(), "{out}{err}");
    stack.assert_no_survivors();
}

#[test]
fn with_no_stack_the_tools_say_so_and_up_starts_one_that_down_stops() {
    // `check` only validates: the rig's directory and config, no stack.
    let mut stack = Stack::start(&config(), &["check"]);
    assert!(stack.wait_exit().success(), "{}", stack.stderr());
    // Another config beside it, which `up` must never be steered to.
    let touched = stack.dir.path().join("EVIL");
    std::fs::write(
        stack.dir.path().join("evil.toml"),
        format!(
            "[services.evil]\ncommand = \"touch '{}'; sleep 600\"\n",
            touched.display()
        ),
    )
    .unwrap();
    let report = client(&stack, "nostack");
    let statuses = calls(&report, "status");

    // No stack: an error that says so and how to start one.
    assert_eq!(statuses[0]["is_error"], true, "{}", statuses[0]);
    let text = statuses[0]["text"].as_str().unwrap();
    assert!(text.contains("no stack") && text.contains("`up`"), "{text}");

    // Names that look like options are names: no such service.
    let injected = &calls(&report, "up")[0];
    assert_ne!(injected["structured"]["ok"], true, "{injected}");
    assert!(
        injected.to_string().contains("no service named `-c`"),
        "refused as a service name: {injected}"
    );
    assert!(!touched.exists(), "up was steered to another config");

    // up starts it in the background and returns once it is ready.
    let up = &calls(&report, "up")[1];
    assert_eq!(up["is_error"], false, "{up}");
    assert_eq!(up["structured"]["ok"], true, "{up}");
    assert_eq!(up["structured"]["already_running"], false, "{up}");
    let running = &statuses[1]["structured"];
    assert_eq!(service(running, "api")["state"], "ready", "{running}");

    // down stops it all; then there is no stack again.
    let down = &calls(&report, "down")[0]["structured"];
    assert_eq!(down["stopped"], true, "{down}");
    assert_eq!(statuses[2]["is_error"], true, "{}", statuses[2]);
    stack.assert_no_survivors();
}

#[test]
fn garbage_on_stdin_never_stops_the_server_from_answering() {
    use std::io::Write as _;
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("bringup.toml"), config()).unwrap();
    let mut server = Command::new("timeout")
        .args(["60", BIN, "-c", "bringup.toml", "mcp"])
        .current_dir(dir.path())
        .env("XDG_STATE_HOME", dir.path().join("state"))
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("start bringup mcp");
    let mut stdin = server.stdin.take().unwrap();
    let initialize = r#"{"jsonrpc":"2.0","id":7,"method":"initialize","params":{"protocolVersion":"2025-06-18","capabilities":{},"clientInfo":{"name":"garbage-test","version":"0"}}}"#;
    let mut input: Vec<u8> = Vec::new();
    input.extend_from_slice(b"this is not json\n");
    input.extend_from_slice(b"\xff\xfe\xfd invalid utf-8\n");
    input.extend_from_slice(b"{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\n");
    input.extend_from_slice(b"[1,2,3]\n");
    input.extend_from_slice(&vec![b'x'; 4 << 20]);
    input.push(b'\n');
    input.extend_from_slice(b"{\"jsonrpc\":\"2.0\",\"id\":2,\"method\":\"tools/call\",\"params\":{\"name\":\"status\",\"arguments\":{\"services\":7}}}\n");
    input.extend_from_slice(initialize.as_bytes());
    input.push(b'\n');
    // Written on a thread: the server may answer (and fill its stdout)
    // before it has read everything.
    let writer = std::thread::spawn(move || {
        let _ = stdin.write_all(&input);
        // Closing stdin ends the session.
    });
    let output = server.wait_with_output().expect("bringup mcp ends");
    writer.join().unwrap();
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(!stderr.contains("panicked"), "{stderr}");
    assert_ne!(
        output.status.code(),
        Some(124),
        "hung until timeout: {stderr}"
    );
    let answered = stdout
        .lines()
        .filter_map(|line| serde_json::from_str::<Value>(line).ok())
        .any(|reply| reply["id"] == 7 && reply["result"]["serverInfo"].is_object());
    assert!(
        answered,
        "initialize after the garbage was answered:\n{stdout}\n{stderr}"
    );
}
