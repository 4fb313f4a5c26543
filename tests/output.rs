//! What services print: captured line by line, hostile output survived,
//! memory bounded, colour on and off.

// A test fails by panicking; `expect` says why.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod support;

use std::process::{Command, Stdio};

use nix::sys::signal::Signal;
use support::stack::Stack;
use support::{BIN, poll};

#[test]
fn output_is_prefixed_and_hostile_bytes_are_made_safe() {
    let config = r#"
[services.noisy]
command = ["sh", "-c", "printf 'plain\\ncaf\\351 \\377\\n\\033[31mred\\033[0m\\n'; printf 'no newline at the end'; exec sleep 100"]
[services.huge]
command = ["sh", "-c", "head -c 200000 /dev/zero | tr '\\0' x; echo; echo after; exec sleep 100"]
"#;
    let mut stack = Stack::up(config);
    stack.wait_for("huge | after");
    let out = stack.stdout();
    assert!(out.contains("noisy | plain\n"), "{out}");
    assert!(
        out.contains("noisy | caf\u{fffd} \u{fffd}\n"),
        "invalid UTF-8 is replaced: {out}"
    );
    assert!(
        out.contains("noisy | red\n"),
        "colour codes are stripped when colour is off"
    );
    let cut = out
        .lines()
        .find(|l| l.contains("huge | xxx"))
        .expect("the long line");
    assert!(
        cut.ends_with("[… line cut at 64 KiB]"),
        "the 200 kB line is cut with a marker"
    );
    assert_eq!(cut.matches('x').count(), 64 * 1024);
    stack.signal(Signal::SIGTERM);
    stack.wait_exit();
    // The unterminated last line is not lost when the service stops.
    assert!(
        stack.stdout().contains("noisy | no newline at the end"),
        "{}",
        stack.stdout()
    );
    stack.assert_no_survivors();
}

#[test]
fn colour_always_keeps_service_colours_and_colours_names() {
    let config = r#"
[services.painter]
command = ["sh", "-c", "printf '\\033[32mgreen\\033[0m\\n'; exec sleep 100"]
"#;
    let mut stack = Stack::start(config, &["up", "--no-tui", "--color", "always"]);
    stack.wait_for("green");
    let out = stack.stdout();
    assert!(
        out.contains("\x1b[32mgreen\x1b[0m"),
        "the service's own colours pass through: {out:?}"
    );
    assert!(
        out.contains("\x1b[36mpainter\x1b[0m | "),
        "the name has its colour: {out:?}"
    );
    stack.stop();
}

#[test]
fn escape_sequences_other_than_colour_never_reach_the_terminal() {
    // A title change, a clear screen, a full reset, the alternate screen, a
    // bell, a colour left on, sequences cut off mid-way, a tab.
    let config = r#"
[services.hostile]
command = ["sh", "-c", "printf 'title\\033]0;evil\\nclear\\033[2J\\033[Hscreen\\nreset\\033c-done\\nalt\\033[?1049h-done\\nbell\\007-done\\n\\033[31mstill red\\ncut\\033[31\\nosc cut\\033]0;no end\\ntab\\there\\n'; echo 'hostile done'; exec sleep 100"]
"#;
    let mut stack = Stack::start(config, &["up", "--no-tui", "--color", "always"]);
    stack.wait_for("hostile done");
    let out = stack.stdout();
    let sgr = regex::Regex::new(r"\x1b\[[0-9;:]*m").expect("regex");
    for line in out
        .lines()
        .filter(|l| l.contains("hostile") && l.contains(" | "))
    {
        let rest = sgr.replace_all(line, "");
        assert!(
            !rest.chars().any(|c| c.is_control() && c != '\t'),
            "only colour sequences are left: {line:?}"
        );
    }
    let text = sgr.replace_all(&out, "");
    for shown in [
        "hostile | title\n",
        "hostile | clearscreen\n",
        "hostile | reset-done\n",
        "hostile | alt-done\n",
        "hostile | bell-done\n",
        "hostile | still red\n",
        "hostile | cut\n",
        "hostile | osc cut\n",
        "hostile | tab\there\n",
    ] {
        assert!(text.contains(shown), "{shown:?} in {text:?}");
    }
    let red = out
        .lines()
        .find(|l| l.contains("still red"))
        .expect("the red line");
    assert!(
        red.ends_with("still red\x1b[0m"),
        "a colour left on is reset at the end of its line: {red:?}"
    );
    stack.stop();
}

#[test]
fn memory_stays_bounded_however_much_a_service_prints() {
    // 300,000 lines of 80 bytes (24 MB), a 10 MiB line without a newline
    // break, then invalid UTF-8 — with bringup's own stdout going nowhere
    // fast, so its stores fill and wrap.
    let dir = tempfile::tempdir().expect("temp dir");
    std::fs::write(
        dir.path().join("bringup.toml"),
        r#"
[services.flood]
command = "${bringup} fixture --name flood --flood 300000 --ready-line 'flood done'"
readiness = { log = "flood done" }
[services.wide]
command = ["sh", "-c", "head -c 10485760 /dev/zero | tr '\\0' y; printf '\\n\\377\\376\\n'; exec sleep 100"]
"#,
    )
    .expect("config");
    let marker = support::unique_marker();
    let mut child = Command::new(BIN)
        .args(["up", "--no-tui", "-c", "bringup.toml"])
        .current_dir(dir.path())
        .env("BRINGUP_TEST_MARKER", &marker)
        .env("XDG_STATE_HOME", dir.path().join("state"))
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("bringup");
    let pid = child.id();
    let cleanup = Cleanup(marker.clone());
    let peak = || -> Option<u64> {
        let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
        let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
        line.split_whitespace().nth(1)?.parse().ok()
    };
    // Wait until both services are done printing (the fixture's ready line
    // comes after its flood), then read the peak resident size.
    poll("the flood to finish", || {
        let fixture_done = support::processes_with_marker(&marker).len() >= 3;
        let io = std::fs::read_to_string(format!("/proc/{pid}/io")).ok()?;
        let read: u64 = io
            .lines()
            .find(|l| l.starts_with("rchar:"))?
            .split_whitespace()
            .nth(1)?
            .parse()
            .ok()?;
        (fixture_done && read > 24_000_000 + 10_485_760).then_some(())
    });
    let peak_kib = peak().expect("VmHWM");
    let _ = nix::sys::signal::kill(nix::unistd::Pid::from_raw(pid as i32), Signal::SIGTERM);
    let _ = child.wait();
    drop(cleanup);
    // Two stores of at most 4 MiB each, plus the program itself.
    eprintln!("bringup's peak resident size: {peak_kib} KiB");
    assert!(peak_kib < 48 * 1024, "bringup peaked at {peak_kib} KiB");
}

/// Kills every process of the run when dropped.
struct Cleanup(String);

impl Drop for Cleanup {
    fn drop(&mut self) {
        support::kill_marked(&self.0);
    }
}
