//! Ports with real sockets and real foreign processes: many instances at
//! once, a foreign server on the preferred port, TIME_WAIT, adoption,
//! socket handoff, and `bringup ports`.

// A test fails by panicking; `expect` says why.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod support;

use std::collections::BTreeSet;
use std::process::{Child, Command, Stdio};
use std::time::Instant;

use nix::sys::signal::Signal;
use support::stack::Stack;
use support::{free_port, poll, run};

/// A `python3 -m http.server` on `port`, killed when dropped.
struct Foreign {
    child: Child,
}

impl Foreign {
    fn http_server(port: u16) -> Self {
        Self::spawn(
            Command::new("python3").args([
                "-m",
                "http.server",
                &port.to_string(),
                "--bind",
                "127.0.0.1",
            ]),
            port,
        )
    }

    fn spawn(command: &mut Command, port: u16) -> Self {
        let child = command
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("start python3 -m http.server");
        let foreign = Self { child };
        poll("the foreign server to listen", || {
            std::net::TcpStream::connect(("127.0.0.1", port)).ok()
        });
        foreign
    }

    fn pid(&self) -> u32 {
        self.child.id()
    }

    fn alive(&mut self) -> bool {
        matches!(self.child.try_wait(), Ok(None))
    }
}

impl Drop for Foreign {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A range of `size` ports nothing listens on right now.
fn quiet_range(size: u16) -> (u16, u16) {
    let busy = |port: u16| {
        bringup::ports::free::check(std::net::Ipv4Addr::LOCALHOST.into(), port).is_err()
    };
    let mut start = 26_000 + (std::process::id() % 50) as u16 * 40;
    loop {
        match (start..start + size).find(|&port| busy(port)) {
            Some(port) => start = port + 1,
            None => return (start, start + size - 1),
        }
    }
}

#[test]
fn twenty_instances_started_at_once_never_hand_out_the_same_port() {
    // 20 bringups × 10 services, all `port = "auto"` from one range of 250
    // ports, all started at the same moment; every service binds its port.
    let (low, high) = quiet_range(250);
    let started = Instant::now();
    let stacks: Vec<Stack> = (0..20)
        .map(|instance| {
            let mut config =
                format!("[project]\nname = \"swarm-{instance}\"\nport_range = \"{low}-{high}\"\n");
            for service in 0..10 {
                config.push_str(&format!(
                    "[services.s{service}]\ncommand = \"{}\"\nport = \"auto\"\n",
                    support::fixture(&format!("i{instance}s{service}"), "--port ${port}")
                ));
            }
            Stack::up(&config)
        })
        .collect();
    let mut ports = BTreeSet::new();
    for stack in &stacks {
        stack.wait_for("every required service is ready");
        for line in stack.stdout().lines().filter(|l| l.contains(": port ")) {
            let port: u16 = line
                .split(": port ")
                .nth(1)
                .and_then(|rest| rest.split(' ').next())
                .and_then(|p| p.parse().ok())
                .expect("a port line");
            assert!(
                (low..=high).contains(&port),
                "{port} is outside {low}-{high}"
            );
            assert!(ports.insert(port), "port {port} was handed out twice");
        }
    }
    assert_eq!(ports.len(), 200, "every service got a port of its own");
    // The lock files say the same: 200 ports of these projects, all distinct.
    let locks = bringup::ports::lock::held(&bringup::ports::lock::dir().expect("lock dir"));
    let ours: Vec<u16> = locks
        .iter()
        .filter(|(_, info)| {
            info.as_ref()
                .is_some_and(|i| i.project.starts_with("swarm-"))
        })
        .map(|(port, _)| *port)
        .collect();
    assert_eq!(ours.len(), 200, "{ours:?}");
    assert_eq!(ours.iter().collect::<BTreeSet<_>>().len(), 200);
    eprintln!(
        "20 instances × 10 auto ports, all ready after {:?}",
        started.elapsed()
    );
    for stack in &stacks {
        stack.signal(Signal::SIGTERM);
    }
    for mut stack in stacks {
        stack.wait_exit();
        stack.assert_no_survivors();
    }
}

#[test]
fn a_foreign_server_on_the_preferred_port_is_named_and_a_fallback_is_used() {
    let [preferred, blocked, fallback] = [free_port(), free_port(), free_port()];
    let mut foreign = Foreign::http_server(preferred);
    let other = std::net::TcpListener::bind(("127.0.0.1", blocked)).expect("bind");
    let config = format!(
        r#"
[services.api]
command = "{}"
port = {preferred}
fallback_ports = [{blocked}, {fallback}]
"#,
        support::fixture("api", "--port ${port}"),
    );
    let mut stack = Stack::up(&config);
    stack.wait_for("every required service is ready");
    let line = stack.line("api: port ");
    assert!(
        line.contains(&format!(
            "api: port {fallback} (fallback: {preferred} is held by pid {}",
            foreign.pid()
        )),
        "{line}"
    );
    assert!(line.contains("python3 -m http.server"), "{line}");
    assert!(
        line.contains(&format!("{blocked} is held by pid {}", std::process::id())),
        "{line}"
    );
    // `ports who` agrees, and `bringup ports` shows what this stack got.
    let (status, who, _) = run(&["ports", "who", &preferred.to_string()], stack.dir.path());
    assert_eq!(status.code(), Some(0));
    assert!(
        who.contains(&format!("pid      {}", foreign.pid())) && who.contains("http.server"),
        "{who}"
    );
    let (_, overview, _) = run(&["ports", "-c", "bringup.toml"], stack.dir.path());
    let row = overview
        .lines()
        .find(|l| l.starts_with("api"))
        .expect("api's row");
    assert!(
        row.contains(&fallback.to_string()) && row.contains("ours"),
        "{overview}"
    );
    stack.stop();
    assert!(foreign.alive(), "bringup never touches the foreign server");
    drop(other);
}

#[test]
fn without_fallbacks_the_conflict_fails_the_service_with_what_to_do() {
    let port = free_port();
    let foreign = Foreign::http_server(port);
    let config = format!(
        "[services.api]\ncommand = \"{}\"\nport = {port}\n[services.web]\ncommand = \"{}\"\ndepends_on = [\"api\"]\n",
        support::fixture("api", "--port ${port}"),
        support::fixture("web", ""),
    );
    let mut stack = Stack::up(&config);
    stack.wait_for("cold start over, but not everything is ready");
    let out = stack.stdout();
    let line = stack.line("api: failed");
    assert!(
        line.contains(&format!(
            "could not start: port {port} is held by pid {}",
            foreign.pid()
        )),
        "{line}"
    );
    assert!(
        line.contains("python3") && line.contains(&format!("bringup ports kill {port}")),
        "{line}"
    );
    assert!(line.contains("port = \"auto\""), "{line}");
    assert!(
        out.contains("web: failed · blocked: required dependency api is failed"),
        "{out}"
    );
    stack.stop_expecting(1);
}

#[test]
fn a_port_in_time_wait_counts_as_free() {
    // The server side closes first, so the port itself goes to TIME_WAIT.
    let listener = support::held_port();
    let port = listener.local_addr().expect("addr").port();
    let client = std::net::TcpStream::connect(("127.0.0.1", port)).expect("connect");
    let (served, _) = listener.accept().expect("accept");
    drop(served);
    drop(listener);
    drop(client);
    let time_wait = procfs::net::tcp()
        .expect("/proc/net/tcp")
        .into_iter()
        .any(|e| e.local_address.port() == port && e.state == procfs::net::TcpState::TimeWait);
    assert!(
        time_wait,
        "port {port} must really be in TIME_WAIT for this test"
    );
    let config = format!(
        "[services.api]\ncommand = \"{}\"\nport = {port}\n",
        support::fixture("api", "--port ${port}")
    );
    let mut stack = Stack::up(&config);
    stack.wait_for("every required service is ready");
    assert!(
        stack.stdout().contains(&format!("api: port {port}\n")),
        "{}",
        stack.stdout()
    );
    stack.stop_expecting(0);
}

#[test]
fn a_healthy_holder_is_adopted_and_left_running() {
    let port = free_port();
    let mut foreign = Foreign::http_server(port);
    let config = format!(
        r#"
[services.api]
command = "{}"
port = {port}
on_conflict = "adopt"
readiness = {{ http = "/" }}
[services.web]
command = "{}"
depends_on = ["api"]
readiness = {{ log = "web is up" }}
"#,
        support::fixture("api", "--port ${port}"),
        support::fixture("web", "--ready-line 'web is up'"),
    );
    let mut stack = Stack::up(&config);
    stack.wait_for("every required service is ready");
    let out = stack.stdout();
    assert!(
        out.contains(&format!("api: ready: adopted pid {}", foreign.pid())),
        "{out}"
    );
    assert!(
        out.contains("web: ready in"),
        "dependents of the adopted service start: {out}"
    );
    assert!(
        !out.contains("api: starting"),
        "bringup did not start its own api: {out}"
    );
    stack.stop_expecting(0);
    assert!(
        foreign.alive(),
        "the adopted server is still running after bringup quits"
    );
}

#[test]
fn an_unhealthy_holder_is_a_conflict_not_an_adoption() {
    let port = free_port();
    let mut foreign = Foreign::http_server(port);
    let config = format!(
        "[services.api]\ncommand = \"{}\"\nport = {port}\non_conflict = \"adopt\"\nreadiness = {{ http = \"/health\" }}\n",
        support::fixture("api", "--port ${port}"),
    );
    let mut stack = Stack::up(&config);
    stack.wait_for("cold start over");
    let line = stack.line("api: failed");
    assert!(
        line.contains(&format!("is held by pid {}", foreign.pid())),
        "{line}"
    );
    assert!(
        line.contains("does not pass api's readiness check: HTTP 404"),
        "{line}"
    );
    stack.stop();
    assert!(foreign.alive());
}

#[test]
fn a_handed_over_socket_reaches_the_service_as_fd_3() {
    let port = free_port();
    let config = format!(
        r#"
[services.api]
command = "{}"
port = {port}
listen = true
readiness = {{ http = "/health/ready" }}
"#,
        support::fixture("api", "--ready-after 200ms"),
    );
    let mut stack = Stack::up(&config);
    stack.wait_for("every required service is ready");
    let out = stack.stdout();
    assert!(
        out.contains(&format!(
            "api | api listening on 127.0.0.1:{port} (socket handed over)"
        )),
        "{out}"
    );
    // The service process has the protocol's environment, naming itself.
    let service = stack
        .survivors()
        .into_iter()
        .find(|&pid| {
            std::fs::read_to_string(format!("/proc/{pid}/cmdline"))
                .unwrap_or_default()
                .contains("fixture")
        })
        .expect("the service");
    let environ = std::fs::read(format!("/proc/{service}/environ")).expect("environ");
    let vars: Vec<String> = environ
        .split(|&b| b == 0)
        .map(|v| String::from_utf8_lossy(v).into_owned())
        .collect();
    assert!(vars.contains(&"LISTEN_FDS=1".to_string()), "{vars:?}");
    assert!(vars.contains(&format!("LISTEN_PID={service}")), "{vars:?}");
    assert!(vars.contains(&"LISTEN_FDNAMES=api".to_string()), "{vars:?}");
    // And `bringup check` warns that tcp readiness would prove nothing here.
    std::fs::write(
        stack.dir.path().join("warn.toml"),
        format!("[services.api]\ncommand = \"x\"\nport = {port}\nlisten = true\nreadiness = {{ tcp = true }}\n"),
    )
    .expect("write");
    let (status, _, err) = run(&["check", "-c", "warn.toml"], stack.dir.path());
    assert_eq!(status.code(), Some(0));
    assert!(
        err.contains("warning:") && err.contains("tcp check passes at once"),
        "{err}"
    );
    stack.stop_expecting(0);
}

#[test]
fn ports_kill_frees_a_port_of_the_same_user_after_confirmation() {
    let port = free_port();
    let mut foreign = Foreign::http_server(port);
    let dir = tempfile::tempdir().expect("temp dir");
    // "n" leaves it alone.
    let answer = |text: &str| {
        let mut child = Command::new(support::BIN)
            .args(["ports", "kill", &port.to_string(), "--grace", "3s"])
            .current_dir(dir.path())
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("bringup ports kill");
        if let Some(mut stdin) = child.stdin.take() {
            use std::io::Write;
            let _ = stdin.write_all(text.as_bytes());
        }
        child.wait_with_output().expect("output")
    };
    let refused = answer("n\n");
    assert_eq!(refused.status.code(), Some(1));
    assert!(
        String::from_utf8_lossy(&refused.stderr)
            .contains(&format!("held by pid {}", foreign.pid()))
    );
    assert!(foreign.alive());
    let done = answer("y\n");
    assert_eq!(
        done.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&done.stderr)
    );
    assert!(String::from_utf8_lossy(&done.stdout).contains(&format!("port {port} is free now")));
    poll("the server to exit", || (!foreign.alive()).then_some(()));
    let (status, out, _) = run(&["ports", "check", &port.to_string()], dir.path());
    assert_eq!(status.code(), Some(0), "{out}");
}

#[test]
fn ports_kill_refuses_another_users_process() {
    if !nix::unistd::getuid().is_root() {
        // Starting a process as another user needs root; the refusal rule
        // itself is unit-tested in the binary (commands::ports).
        eprintln!("not root: cannot start another user's process to refuse");
        return;
    }
    let port = free_port();
    // The fixture, run as nobody (python under /root would not be readable).
    let mut foreign = Foreign::spawn(
        Command::new("setpriv").args([
            "--reuid=65534",
            "--regid=65534",
            "--clear-groups",
            support::BIN,
            "fixture",
            "--name",
            "theirs",
            "--port",
            &port.to_string(),
        ]),
        port,
    );
    let dir = tempfile::tempdir().expect("temp dir");
    let (status, _, err) = run(&["ports", "kill", &port.to_string(), "--yes"], dir.path());
    assert_eq!(status.code(), Some(1));
    assert!(
        err.contains("it belongs to user nobody; bringup stops only your own processes"),
        "{err}"
    );
    assert!(foreign.alive());
}

#[test]
fn ports_check_and_free_agree_with_the_system() {
    let held = support::held_port();
    let port = held.local_addr().expect("addr").port();
    let dir = tempfile::tempdir().expect("temp dir");
    let (status, out, _) = run(&["ports", "check", &port.to_string()], dir.path());
    assert_eq!(status.code(), Some(1));
    assert!(
        out.contains(&format!("{port}: held by pid {}", std::process::id())),
        "{out}"
    );
    let (status, out, _) = run(
        &["ports", "free", "--from", "27000", "--count", "3", "--json"],
        dir.path(),
    );
    assert_eq!(status.code(), Some(0));
    let free: Vec<u16> = serde_json::from_str(&out).expect("a JSON list");
    assert_eq!(free.len(), 3);
    assert!(free.iter().all(|&p| p >= 27000));
}

#[test]
fn other_services_see_the_port_a_service_really_got() {
    let [preferred, fallback] = [free_port(), free_port()];
    let taken = std::net::TcpListener::bind(("127.0.0.1", preferred)).expect("bind");
    let config = format!(
        r#"
[services.api]
command = "{}"
port = {preferred}
fallback_ports = [{fallback}]
[services.web]
command = "echo api=${{services.api.port}} env=$BRINGUP_PORT_API; exec sleep 100"
depends_on = ["api"]
"#,
        support::fixture("api", "--port ${port}"),
    );
    let mut stack = Stack::up(&config);
    stack.wait_for(&format!("api={fallback} env={fallback}"));
    stack.stop();
    drop(taken);
}

#[test]
fn a_restarted_service_keeps_its_port() {
    let (low, high) = quiet_range(50);
    let config = format!(
        r#"
[project]
port_range = "{low}-{high}"
[services.flaky]
command = "{}"
port = "auto"
backoff = {{ initial = "100ms", max = "1s" }}
"#,
        support::fixture(
            "flaky",
            "--port ${port} --ready-line 'on {port}' --exit-after 400ms --exit-code 1"
        ),
    );
    let mut stack = Stack::up(&config);
    stack.wait_until("two runs of flaky", |out| {
        out.matches("flaky | on ").count() >= 2
    });
    let out = stack.stdout();
    let ports: Vec<&str> = out
        .lines()
        .filter_map(|l| l.split("flaky | on ").nth(1))
        .collect();
    assert!(
        ports.len() >= 2 && ports.iter().all(|p| *p == ports[0]),
        "{ports:?}"
    );
    stack.stop();
}

#[test]
fn a_killed_bringup_releases_its_ports_at_once() {
    let port = free_port();
    let config = format!(
        "[services.api]\ncommand = \"{}\"\nport = {port}\n",
        support::fixture("api", "--port ${port}")
    );
    let mut first = Stack::up(&config);
    first.wait_for("cold start done");
    first.signal(Signal::SIGKILL);
    first.wait_exit();
    // The watchdog stops the service; the kernel has dropped the lock.
    first.assert_no_survivors();
    let mut second = Stack::up(&config);
    second.wait_for("every required service is ready");
    assert!(
        second.stdout().contains(&format!("api: port {port}\n")),
        "{}",
        second.stdout()
    );
    second.signal(Signal::SIGTERM);
    assert_eq!(second.wait_exit().code(), Some(0));
}

/// A port that is free when bringup starts and taken just before the
/// service using it is spawned: bringup notices at spawn, not the service.
/// The gate service becomes ready only once the file `go` exists, so the
/// test takes the port exactly in between.
fn stolen_port_stack(port_lines: &str) -> Stack {
    let config = format!(
        "[services.gate]\ncommand = \"{}\"\nreadiness = {{ exec = \"test -e go\" }}\n\
         [services.api]\ncommand = \"{}\"\n{port_lines}\ndepends_on = [\"gate\"]\n\
         [services.web]\ncommand = \"{}\"\ndepends_on = [\"api\"]\n",
        support::fixture("gate", ""),
        support::fixture("api", "--port ${port}"),
        support::fixture("web", ""),
    );
    let stack = Stack::up(&config);
    stack.wait_for("api: waiting for gate");
    stack
}

#[test]
fn a_port_stolen_before_spawn_fails_the_service_naming_the_thief() {
    let port = free_port();
    let mut stack = stolen_port_stack(&format!("port = {port}"));
    let thief = Foreign::http_server(port);
    std::fs::write(stack.dir.path().join("go"), "").expect("go");
    stack.wait_for("cold start over, but not everything is ready");
    let out = stack.stdout();
    let line = stack.line("api: failed");
    assert!(
        line.contains(&format!("port {port} is held by pid {}", thief.pid()))
            && line.contains("it was free when bringup started"),
        "{line}"
    );
    assert!(
        out.contains("web: failed · blocked: required dependency api is failed"),
        "{out}"
    );
    assert!(
        !out.contains("api | "),
        "api was never started, so it printed nothing: {out}"
    );
    stack.stop_expecting(1);
}

#[test]
fn a_port_stolen_before_spawn_moves_the_service_to_its_fallback() {
    let (port, fallback) = (free_port(), free_port());
    let mut stack = stolen_port_stack(&format!("port = {port}\nfallback_ports = [{fallback}]"));
    let _thief = Foreign::http_server(port);
    std::fs::write(stack.dir.path().join("go"), "").expect("go");
    stack.wait_for("every required service is ready");
    let out = stack.stdout();
    assert!(
        out.contains(&format!("api listening on 127.0.0.1:{fallback}")),
        "api runs on its fallback port: {out}"
    );
    assert!(
        out.contains(&format!("moved from {port}")),
        "the move is reported: {out}"
    );
    stack.stop_expecting(0);
}

#[test]
fn an_adopted_server_that_goes_away_is_noticed_and_replaced() {
    let port = free_port();
    let mut foreign = Foreign::http_server(port);
    let config = format!(
        r#"
[services.api]
command = "{}"
port = {port}
on_conflict = "adopt"
readiness = {{ http = "/", period = "100ms", failure_threshold = 2 }}
restart = "on-failure"
backoff = {{ initial = "100ms", max = "1s" }}
"#,
        support::fixture("api", "--port ${port}"),
    );
    let mut stack = Stack::up(&config);
    stack.wait_for("every required service is ready");
    assert!(stack.stdout().contains("api: ready: adopted"));
    // The adopted server dies: bringup notices, and, as its restart
    // policy allows, starts its own api on the port that is free now.
    let _ = foreign.child.kill();
    let _ = foreign.child.wait();
    stack.wait_for("api: not ready · the adopted process stopped answering");
    stack.wait_for("the adopted process is gone; restart 1 of");
    stack.wait_until("bringup's own api to be ready", |out| {
        out.lines()
            .any(|l| l.contains("api: ready in") && !l.contains("adopted"))
    });
    let out = stack.stdout();
    assert!(
        out.contains("api: starting (pid"),
        "bringup started its own instance: {out}"
    );
    stack.stop_expecting(0);
}

#[test]
fn an_adopted_server_that_goes_away_fails_the_service_without_a_restart_policy() {
    let port = free_port();
    let mut foreign = Foreign::http_server(port);
    let config = format!(
        r#"
[services.api]
command = "{}"
port = {port}
on_conflict = "adopt"
readiness = {{ http = "/" }}
liveness = {{ tcp = true, period = "100ms", failure_threshold = 1 }}
restart = "never"
"#,
        support::fixture("api", "--port ${port}"),
    );
    let mut stack = Stack::up(&config);
    stack.wait_for("every required service is ready");
    let _ = foreign.child.kill();
    let _ = foreign.child.wait();
    stack.wait_for("api: failed · no answer to 1 check in a row");
    assert!(
        stack
            .line("api: failed")
            .contains("the adopted process is gone"),
        "{}",
        stack.stdout()
    );
    stack.stop_expecting(1);
}

#[test]
fn a_conflict_deep_in_the_graph_is_reported_before_anything_starts() {
    let port = free_port();
    let _foreign = Foreign::http_server(port);
    let config = format!(
        r#"
[services.db]
command = "{}"
readiness = {{ log = "db is up" }}
[services.api]
command = "{}"
port = {port}
depends_on = ["db"]
"#,
        support::fixture("db", "--ready-after 1s --ready-line 'db is up'"),
        support::fixture("api", "--port ${port}"),
    );
    let mut stack = Stack::up(&config);
    stack.wait_for("cold start over");
    let out = stack.stdout();
    let position = |text: &str| {
        out.find(text)
            .unwrap_or_else(|| panic!("no {text:?} in:\n{out}"))
    };
    let early = position(&format!(
        "api: will not be able to start when its turn comes: port {port} is held by pid"
    ));
    assert!(
        early < position("db: ready in"),
        "said before db is even ready: {out}"
    );
    // Said once: the failure at its turn carries the explanation itself.
    assert_eq!(out.matches("will not be able to start").count(), 1, "{out}");
    assert!(out.contains("api: failed · could not start: port"), "{out}");
    stack.stop_expecting(1);
}
