//! The attack: a hostile value in bringup's environment, used through
//! `${env.VAR}` in a shell command, an `exec` readiness check, an argument
//! array, an env value and a default. Nothing in it may run, and every
//! service must see the value exactly; shell variables the config itself
//! writes (`$HOME`) still expand. Real bringup, real `sh`, real files.

// A test fails by panicking; `expect` says why.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod support;

use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::Instant;

use nix::sys::signal::{Signal, kill};
use nix::unistd::Pid;
use support::{BIN, DEADLINE, POLL, kill_marked, poll, processes_with_marker, unique_marker};

/// Each part would create a file if it ran as shell code.
const HOSTILE: &str = "$(touch pwned-subst) `touch pwned-tick` ; touch pwned-semi \
                       ' ; touch pwned-single ; ' \" ; touch pwned-double ; \"\n\
                       touch pwned-line && touch pwned-and | touch pwned-pipe $HOME \\";
const HOME: &str = "/nonexistent/home of the test";

const CONFIG: &str = r#"
[services.shell]
command = "printf '%s' ${env.HOSTILE} > bare.out; printf '%s' \"${env.HOSTILE}\" > double.out; printf '%s' 'x${env.HOSTILE}' > single.out; printf '%s' \"$HOME\" > home.out; exec sleep 60"
readiness = { exec = "printf '%s' ${env.HOSTILE} > check.out && test -s check.out", period = "50ms" }

[services.argv]
command = ["sh", "-c", "printf '%s' \"$1\" > argv.out; printf '%s' \"$FROM_ENV\" > env.out; exec sleep 60", "sh", "${env.HOSTILE}"]
env = { FROM_ENV = "${env.HOSTILE}" }

[services.fallback]
command = "printf '%s' ${env.BRINGUP_TEST_UNSET:-$(touch pwned-default) it's} > default.out; exec sleep 60"
"#;

/// bringup running on a config, with its output in files; killed with
/// everything it started when dropped.
struct Run {
    dir: tempfile::TempDir,
    marker: String,
    child: Child,
}

impl Run {
    fn start(config: &str) -> Self {
        let dir = tempfile::tempdir().expect("temp dir");
        std::fs::write(dir.path().join("bringup.toml"), config).expect("write config");
        let marker = unique_marker();
        let file = |name: &str| std::fs::File::create(dir.path().join(name)).expect("log file");
        let child = Command::new(BIN)
            .args(["up", "--no-tui", "-c", "bringup.toml"])
            .current_dir(dir.path())
            .env("BRINGUP_TEST_MARKER", &marker)
            .env("HOSTILE", HOSTILE)
            .env("HOME", HOME)
            .env_remove("BRINGUP_TEST_UNSET")
            .env("NO_COLOR", "1")
            .env("XDG_STATE_HOME", dir.path().join("state"))
            .stdin(Stdio::null())
            .stdout(file("stdout.log"))
            .stderr(file("stderr.log"))
            .spawn()
            .expect("spawn bringup");
        Self { dir, marker, child }
    }

    fn path(&self) -> &Path {
        self.dir.path()
    }

    fn read(&self, name: &str) -> Option<String> {
        std::fs::read_to_string(self.path().join(name)).ok()
    }

    fn output(&self) -> String {
        format!(
            "--- stdout ---\n{}\n--- stderr ---\n{}",
            self.read("stdout.log").unwrap_or_default(),
            self.read("stderr.log").unwrap_or_default()
        )
    }
}

impl Drop for Run {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        kill_marked(&self.marker);
    }
}

#[test]
fn hostile_environment_values_are_data_everywhere() {
    let mut run = Run::start(CONFIG);
    let expectations = [
        // Every place a shell parses sees the value as one word, exactly.
        ("bare.out", HOSTILE.to_string()),
        ("double.out", HOSTILE.to_string()),
        ("single.out", format!("x{HOSTILE}")),
        ("check.out", HOSTILE.to_string()),
        // No shell parses these: the value arrives as it is, unquoted.
        ("argv.out", HOSTILE.to_string()),
        ("env.out", HOSTILE.to_string()),
        // A default is data too.
        ("default.out", "$(touch pwned-default) it's".to_string()),
        // A shell variable written in the config is still shell.
        ("home.out", HOME.to_string()),
    ];
    // Whatever happens, look for damage first: that is the attack's result.
    let deadline = Instant::now() + DEADLINE;
    let written = || {
        expectations
            .iter()
            .all(|(file, _)| run.read(file).is_some_and(|text| !text.is_empty()))
    };
    while !written() && Instant::now() < deadline {
        std::thread::sleep(POLL);
    }
    let ran: Vec<String> = std::fs::read_dir(run.path())
        .expect("read dir")
        .filter_map(|e| e.ok()?.file_name().into_string().ok())
        .filter(|name| name.starts_with("pwned"))
        .collect();
    assert!(
        ran.is_empty(),
        "values ran as code: {ran:?}\n{}",
        run.output()
    );
    for (file, expected) in &expectations {
        assert_eq!(
            run.read(file).as_ref(),
            Some(expected),
            "{file}\n{}",
            run.output()
        );
    }
    // The exec check passed on the value.
    poll("the stack to be ready", || {
        run.read("stdout.log")
            .filter(|out| out.contains("cold start done"))
    });

    // Stops cleanly, leaving nothing behind.
    let _ = kill(Pid::from_raw(run.child.id() as i32), Signal::SIGTERM);
    let status = poll("bringup to exit", || run.child.try_wait().ok().flatten());
    assert!(status.code().is_some(), "{status:?}\n{}", run.output());
    poll("every process of the run to be gone", || {
        processes_with_marker(&run.marker).is_empty().then_some(())
    });
}

#[test]
fn a_value_where_it_cannot_be_quoted_is_a_config_error() {
    let dir = tempfile::tempdir().expect("temp dir");
    std::fs::write(
        dir.path().join("bringup.toml"),
        "[services.api]\ncommand = \"server --host $(hostname ${env.HOSTILE})\"\n\
         readiness = { exec = \"test \\\"`cat ${env.HOSTILE}`\\\" = ok\" }\n",
    )
    .expect("write config");
    let output = Command::new(BIN)
        .arg("check")
        .current_dir(dir.path())
        .env("HOSTILE", HOSTILE)
        .env("NO_COLOR", "1")
        .output()
        .expect("run bringup check");
    let err = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(2), "{err}");
    assert!(
        err.contains("bringup.toml:2:11: `services.api.command`: `${env.HOSTILE}` is inside `$(…)`, where bringup cannot quote its value safely for the shell"),
        "{err}"
    );
    assert!(
        err.contains(
            "bringup.toml:3:22: `services.api.readiness.exec`: `${env.HOSTILE}` is inside backticks"
        ),
        "{err}"
    );
    assert!(err.contains("write \"$VALUE\" in the command"), "{err}");
}

#[test]
fn a_value_inside_another_programs_script_is_warned_about() {
    let dir = tempfile::tempdir().expect("temp dir");
    std::fs::write(
        dir.path().join("bringup.toml"),
        "[services.api]\ncommand = \"bash -c 'exec server --name ${env.NAME}'\"\n\n\
         [services.web]\ncommand = [\"sh\", \"-c\", \"exec web ${env.NAME}\"]\n\n\
         [services.ok]\ncommand = \"sh -c 'exec ok \\\"$NAME\\\"'\"\nenv = { NAME = \"${env.NAME}\" }\n",
    )
    .expect("write config");
    let output = Command::new(BIN)
        .arg("check")
        .current_dir(dir.path())
        .env("NAME", "x")
        .env("NO_COLOR", "1")
        .output()
        .expect("run bringup check");
    let err = String::from_utf8_lossy(&output.stderr);
    assert_eq!(
        output.status.code(),
        Some(0),
        "a warning, not an error: {err}"
    );
    assert!(
        err.contains("warning: ") && err.contains("bringup.toml:2:11: `services.api.command`: `${env.NAME}` goes into the script given to `-c`"),
        "{err}"
    );
    assert!(
        err.contains("`services.web.command`: `${env.NAME}` goes into the script given to `-c`"),
        "{err}"
    );
    assert!(
        err.contains("`env = { NAME = \"${env.NAME}\" }`, and write \"$NAME\" in the script"),
        "{err}"
    );
    // The way the warning suggests is not warned about.
    assert!(!err.contains("services.ok"), "{err}");
}
