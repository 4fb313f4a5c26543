//! The dashboard's views as text snapshots (ratatui's TestBackend + insta).
//!
//! The state is real: the engine's own state machine is driven through a
//! cold start of the demo stack (no processes, fixed times and pids), and
//! the log stores are filled with lines, colours and stderr included. Each
//! view and popup is drawn at a few sizes, down to 20×5, and without colour.

// A test fails by panicking; `expect` says why.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod support;

use std::sync::Arc;
use std::time::Duration;

use bringup::api::{Command, EventKind, Exit, Phase, PortHolder};
use bringup::config::{Plan, ServiceId};
use bringup::engine::machine::{Input, Machine, News};
use bringup::keys::{Action, Key, Keymap, Mode};
use bringup::logs::{LogHub, Stream};
use bringup::tui::app::{App, Overlay};
use bringup::tui::theme::Theme;
use bringup::tui::view;
use ratatui::Terminal;
use ratatui::backend::TestBackend;

fn plan() -> Arc<Plan> {
    support::config::demo()
}

/// Drives the real state machine by hand: fixed times, fixed pids.
struct Drive {
    machine: Machine,
    plan: Arc<Plan>,
}

impl Drive {
    fn id(&self, name: &str) -> ServiceId {
        self.plan.find(name).expect("a demo service")
    }

    /// The current process's generation: one per spawn.
    fn generation(&self, name: &str) -> u64 {
        let id = self.id(name);
        self.machine.status(id).spawns.into()
    }

    fn at(&mut self, ms: u64, input: Input) {
        self.machine.handle(Duration::from_millis(ms), input);
    }

    fn spawned(&mut self, ms: u64, name: &str, pid: u32) {
        let (id, generation) = (self.id(name), self.generation(name));
        self.at(
            ms,
            Input::Process {
                id,
                generation,
                news: News::Spawned { pid },
            },
        );
    }

    fn ready(&mut self, ms: u64, name: &str) {
        let (id, generation) = (self.id(name), self.generation(name));
        self.at(
            ms,
            Input::Process {
                id,
                generation,
                news: News::Readiness {
                    ok: true,
                    detail: "HTTP 200".into(),
                },
            },
        );
    }

    fn exited(&mut self, ms: u64, name: &str, code: i32) {
        let (id, generation) = (self.id(name), self.generation(name));
        self.at(
            ms,
            Input::Process {
                id,
                generation,
                news: News::Exited {
                    exit: Exit::Code(code),
                },
            },
        );
    }
}

/// The demo stack 1.5 s into its cold start: some ready, the cache failed,
/// api starting (answering 503), the rest waiting.
fn machine_midway(plan: &Arc<Plan>) -> Machine {
    let mut d = Drive {
        machine: Machine::new(plan.clone(), 7),
        plan: plan.clone(),
    };
    for (name, port) in [
        ("database", 24815),
        ("cache", 24296),
        ("auth", 24040),
        ("api", 24726),
        ("cards", 24937),
        ("frontend", 24650),
        ("grading", 24670),
    ] {
        let id = d.id(name);
        d.at(
            0,
            Input::PortAssigned {
                id,
                port,
                how: None,
            },
        );
    }
    d.at(0, Input::Begin);
    d.spawned(2, "database", 4101);
    d.spawned(2, "cache", 4102);
    d.exited(300, "cache", 1);
    d.ready(407, "database");
    d.spawned(408, "migrate", 4103);
    d.spawned(408, "data", 4104);
    d.ready(612, "data");
    d.spawned(613, "training", 4105);
    d.exited(660, "migrate", 0);
    d.spawned(661, "auth", 4106);
    d.ready(968, "auth");
    d.spawned(970, "api", 4107);
    d.ready(1115, "training");
    let (id, generation) = (d.id("api"), d.generation("api"));
    d.at(
        1200,
        Input::Process {
            id,
            generation,
            news: News::Readiness {
                ok: false,
                detail: "HTTP 503 (expected 200-299)".into(),
            },
        },
    );
    d.machine
}

fn logs(plan: &Arc<Plan>) -> Arc<LogHub> {
    let hub = LogHub::new(plan.services.len(), 1000);
    let id = |name: &str| plan.find(name).expect("service").0;
    hub.append(
        id("database"),
        Stream::Stdout,
        vec!["database listening on 127.0.0.1:24815".into()],
    );
    hub.append(
        id("cache"),
        Stream::Stderr,
        vec!["cache: cannot open /var/lib/cache: permission denied".into()],
    );
    hub.append(
        id("migrate"),
        Stream::Stdout,
        vec![
            "applying 12 migrations".into(),
            "migrate exiting with code 0".into(),
        ],
    );
    for i in 1..=30 {
        hub.append(
            id("api"),
            Stream::Stdout,
            vec![format!("api GET /cards/{i} 200 3ms")],
        );
    }
    hub.append(
        id("api"),
        Stream::Stdout,
        vec!["\x1b[33mWARN\x1b[0m slow query on cards (812ms)".into()],
    );
    hub.append(
        id("api"),
        Stream::Stderr,
        vec!["api: ERROR upstream auth timed out".into()],
    );
    hub.append(
        id("api"),
        Stream::Stdout,
        vec![format!(
            "api a long line that goes on and on {}",
            "and on ".repeat(20)
        )],
    );
    hub.append(
        id("auth"),
        Stream::Stdout,
        vec![
            "auth listening on 127.0.0.1:24040".into(),
            "auth tick 1".into(),
        ],
    );
    hub
}

fn app(theme: Theme) -> App {
    let plan = plan();
    let machine = machine_midway(&plan);
    let mut app = App::new(
        Arc::new(bringup::engine::info::stack_info(&plan)),
        machine.snapshot(),
        logs(&plan),
        theme,
        Keymap::default(),
    );
    app.clock = Duration::from_millis(1500);
    app
}

fn dark() -> App {
    app(Theme::load(None).expect("dark theme"))
}

fn select(app: &mut App, name: &str) {
    app.selected = app.info.find(name);
}

fn key(app: &mut App, key: &str) {
    app.on_key(Key::parse(key).expect("a key"));
}

fn draw(app: &mut App, width: u16, height: u16) -> Terminal<TestBackend> {
    app.size = (width, height);
    let mut terminal = Terminal::new(TestBackend::new(width, height)).expect("terminal");
    terminal.draw(|frame| view::draw(frame, app)).expect("draw");
    terminal
}

#[test]
fn main_view_grid_and_logs() {
    let mut app = dark();
    select(&mut app, "api");
    insta::assert_snapshot!(draw(&mut app, 80, 24).backend());
}

#[test]
fn main_view_wide() {
    let mut app = dark();
    select(&mut app, "api");
    insta::assert_snapshot!(draw(&mut app, 120, 40).backend());
}

#[test]
fn logs_zoomed_wrapped_and_searched() {
    let mut app = dark();
    select(&mut app, "api");
    key(&mut app, "enter");
    key(&mut app, "w");
    key(&mut app, "/");
    for c in "error".chars() {
        key(&mut app, &c.to_string());
    }
    key(&mut app, "enter");
    insta::assert_snapshot!(draw(&mut app, 80, 24).backend());
}

#[test]
fn all_logs_merged() {
    let mut app = dark();
    key(&mut app, "a");
    insta::assert_snapshot!(draw(&mut app, 80, 24).backend());
}

#[test]
fn timeline_during_the_cold_start() {
    let mut app = dark();
    key(&mut app, "t");
    insta::assert_snapshot!(draw(&mut app, 80, 24).backend());
}

#[test]
fn ports_view() {
    let mut app = dark();
    key(&mut app, "p");
    let found = app
        .snapshot
        .services
        .iter()
        .filter_map(|s| {
            s.port?;
            Some((
                s.id,
                match s.pid {
                    Some(pid) => PortHolder::Ours { pid },
                    None => PortHolder::Free,
                },
            ))
        })
        .collect();
    app.set_holders(found);
    insta::assert_snapshot!(draw(&mut app, 80, 24).backend());
}

#[test]
fn orchestrator_log_pane() {
    let mut app = dark();
    app.logs
        .append_own(Stream::Stdout, "database: ready in 407ms (HTTP 200)".into());
    app.logs
        .append_own(Stream::Stderr, "cache: failed · exited with code 1".into());
    key(&mut app, "l");
    let terminal = draw(&mut app, 80, 24);
    let text = terminal.backend().to_string();
    assert!(
        text.contains("logs: bringup (what it decided, and why)")
            && text.contains("cache: failed · exited with code 1"),
        "{text}"
    );
    insta::assert_snapshot!(terminal.backend());
}

#[test]
fn help_small_and_large() {
    let mut app = dark();
    key(&mut app, "?");
    insta::assert_snapshot!("help_80x24", draw(&mut app, 80, 24).backend());
    insta::assert_snapshot!("help_120x40", draw(&mut app, 120, 40).backend());
}

#[test]
fn kill_confirmation() {
    let mut app = dark();
    select(&mut app, "database");
    key(&mut app, "x");
    assert!(matches!(app.overlay, Some(Overlay::ConfirmKill(_))));
    insta::assert_snapshot!(draw(&mut app, 80, 24).backend());
}

#[test]
fn quit_while_starting_asks_first() {
    let mut app = dark();
    key(&mut app, "q");
    assert_eq!(app.overlay, Some(Overlay::ConfirmQuit));
    insta::assert_snapshot!(draw(&mut app, 80, 24).backend());
}

#[test]
fn port_conflict_popup() {
    let mut app = dark();
    // cards waits for its turn (api, which it needs, is still starting).
    let service = app.info.find("cards").expect("cards");
    let holder = bringup::ports::Holder {
        address: "127.0.0.1:8000".into(),
        uid: 1000,
        user: "ada".into(),
        euid: Some(1000),
        socket_uid: 1000,
        pid: Some(4242),
        command: Some("/home/ada/.pyenv/versions/3.12.4/bin/python3.12 -m http.server 8000 --directory /srv/www/static".into()),
        running_for: Some(Duration::from_secs(3 * 3600 + 720)),
        started: None,
    };
    app.on_event(&bringup::api::Event {
        at: Duration::from_millis(1500),
        kind: EventKind::PortConflict {
            service,
            name: "cards".into(),
            port: Some(8000),
            holders: vec![holder],
            message: "port 8000 is held by pid 4242".into(),
            ahead: false,
        },
    });
    insta::assert_snapshot!(draw(&mut app, 80, 24).backend());
    // q on this popup means quit (here, mid cold start, it asks first);
    // any other key but f and a just closes it.
    key(&mut app, "q");
    let screen = format!("{:?}", draw(&mut app, 80, 24).backend());
    assert!(
        screen.contains("Quit and stop everything") && !screen.contains("port conflict"),
        "{screen}"
    );
}

#[test]
fn tiny_terminals_do_not_panic() {
    let mut app = dark();
    insta::assert_snapshot!("tiny_20x5", draw(&mut app, 20, 5).backend());
    insta::assert_snapshot!("narrow_40x12", draw(&mut app, 40, 12).backend());
    // Every view and popup at every small size.
    for keys in [
        &[][..],
        &["t"],
        &["p"],
        &["a"],
        &["l"],
        &["?"],
        &["x"],
        &["q"],
        &["enter"],
    ] {
        for (width, height) in [(1, 1), (5, 2), (20, 5), (33, 7), (80, 3)] {
            let mut app = dark();
            select(&mut app, "api");
            for k in keys {
                key(&mut app, k);
            }
            draw(&mut app, width, height);
        }
    }
}

#[test]
fn no_color_still_tells_states_apart() {
    let mut app = app(Theme::monochrome());
    select(&mut app, "api");
    let terminal = draw(&mut app, 80, 24);
    insta::assert_snapshot!(terminal.backend());
    let buffer = terminal.backend().buffer();
    let colored = buffer
        .content()
        .iter()
        .filter(|cell| {
            cell.fg != ratatui::style::Color::Reset || cell.bg != ratatui::style::Color::Reset
        })
        .count();
    assert_eq!(colored, 0, "monochrome draws no colour at all");
}

#[test]
fn keys_turn_into_engine_commands() {
    use bringup::tui::app::AppRequest;
    let mut app = dark();
    let id = |app: &App, name: &str| app.info.find(name).expect("service");
    select(&mut app, "database");
    assert_eq!(
        app.on_key(Key::parse("r").unwrap()),
        [AppRequest::Send(Command::Restart(id(&app, "database")))]
    );
    // Skip: only optional services, and again brings it back.
    assert!(
        app.on_key(Key::parse("s").unwrap()).is_empty(),
        "database is not optional"
    );
    assert!(app.flash_now().unwrap_or("").contains("not optional"));
    select(&mut app, "frontend");
    assert_eq!(
        app.on_key(Key::parse("s").unwrap()),
        [AppRequest::Send(Command::Skip(id(&app, "frontend")))]
    );
    select(&mut app, "api");
    assert_eq!(
        app.on_key(Key::parse("S").unwrap()),
        [AppRequest::Send(Command::Stop(id(&app, "api")))]
    );
    assert_eq!(
        app.on_key(Key::parse("R").unwrap()),
        [AppRequest::Send(Command::RestartAll)]
    );
    // Kill asks first; only "y" kills.
    assert!(app.on_key(Key::parse("x").unwrap()).is_empty());
    assert!(app.on_key(Key::parse("n").unwrap()).is_empty());
    app.on_key(Key::parse("x").unwrap());
    assert_eq!(
        app.on_key(Key::parse("y").unwrap()),
        [AppRequest::Send(Command::Kill(id(&app, "api")))]
    );
    // Quitting mid cold start asks; a second quit while stopping forces.
    app.on_key(Key::parse("q").unwrap());
    assert_eq!(
        app.on_key(Key::parse("y").unwrap()),
        [AppRequest::Quit { force: false }]
    );
    assert_eq!(
        app.on_key(Key::parse("q").unwrap()),
        [AppRequest::Quit { force: true }]
    );
}

#[test]
fn remapped_keys_work_and_show_in_help() {
    let plan = plan();
    let machine = machine_midway(&plan);
    let keys = Keymap::with(&[(Action::Restart, vec![Key::parse("f5").unwrap()])]).unwrap();
    let mut app = App::new(
        Arc::new(bringup::engine::info::stack_info(&plan)),
        machine.snapshot(),
        logs(&plan),
        Theme::load(None).unwrap(),
        keys,
    );
    select(&mut app, "database");
    assert!(matches!(
        app.on_key(Key::parse("f5").unwrap())[..],
        [bringup::tui::app::AppRequest::Send(Command::Restart(_))]
    ));
    assert!(app.on_key(Key::parse("r").unwrap()).is_empty());
    key(&mut app, "?");
    let text = draw(&mut app, 120, 40).backend().to_string();
    assert!(
        text.contains("f5") && text.contains("restart the selected service"),
        "{text}"
    );
}

/// The cell column where `text` starts in the first row that contains
/// `row_with`; cells, not characters, so a wide character counts twice.
fn column_in_row(terminal: &Terminal<TestBackend>, row_with: &str, text: &str) -> Option<u16> {
    let buffer = terminal.backend().buffer();
    let area = buffer.area;
    let cells = |y: u16| -> Vec<String> {
        (0..area.width)
            .map(|x| buffer[(x, y)].symbol().to_string())
            .collect()
    };
    let starts = |row: &[String], text: &str| -> Option<u16> {
        let wanted: Vec<String> = text.chars().map(String::from).collect();
        (0..row.len().saturating_sub(wanted.len()))
            .find(|&x| row[x..x + wanted.len()] == wanted[..])
            .map(|x| x as u16)
    };
    (0..area.height)
        .map(cells)
        .find(|row| starts(row, row_with).is_some())
        .and_then(|row| starts(&row, text))
}

#[test]
fn attached_q_detaches_and_stopping_the_stack_asks_first() {
    use bringup::tui::app::{AppRequest, Overlay};
    let mut app = dark();
    app.mode = Mode::Attached;
    let main = draw(&mut app, 120, 40).backend().to_string();
    assert!(
        main.contains("q detach"),
        "the hint says what q does: {main}"
    );
    // Mid cold start too: detaching never needs asking.
    assert!(app.starting());
    assert_eq!(app.on_key(Key::parse("q").unwrap()), [AppRequest::Detach]);
    assert_eq!(
        app.on_key(Key::parse("ctrl-c").unwrap()),
        [AppRequest::Detach]
    );
    // Q asks; only y stops the stack; Q again while stopping kills it all.
    assert!(app.on_key(Key::parse("Q").unwrap()).is_empty());
    assert_eq!(app.overlay, Some(Overlay::ConfirmStop));
    insta::assert_snapshot!("stop_the_stack_attached", draw(&mut app, 80, 24).backend());
    assert!(app.on_key(Key::parse("n").unwrap()).is_empty());
    assert_eq!(app.overlay, None);
    app.on_key(Key::parse("Q").unwrap());
    assert_eq!(
        app.on_key(Key::parse("y").unwrap()),
        [AppRequest::Quit { force: false }]
    );
    assert!(app.flash_now().unwrap_or("").contains("Q again"));
    assert_eq!(
        app.on_key(Key::parse("Q").unwrap()),
        [AppRequest::Quit { force: true }]
    );
    // Stopping or not, q still only detaches.
    assert_eq!(app.on_key(Key::parse("q").unwrap()), [AppRequest::Detach]);
    // Quit from help detaches too; help and the hints say so.
    key(&mut app, "?");
    let help = draw(&mut app, 120, 40).backend().to_string();
    assert!(help.contains("detach: close this dashboard"), "{help}");
    assert!(help.contains("stop the whole stack"), "{help}");
    assert_eq!(app.on_key(Key::parse("q").unwrap()), [AppRequest::Detach]);
}

#[test]
fn in_the_foreground_q_still_stops_the_stack_and_q_upper_asks_first() {
    use bringup::tui::app::{AppRequest, Overlay};
    let mut app = dark();
    assert_eq!(app.mode, Mode::Foreground);
    app.on_key(Key::parse("Q").unwrap());
    assert_eq!(app.overlay, Some(Overlay::ConfirmStop));
    let popup = draw(&mut app, 80, 24).backend().to_string();
    assert!(
        !popup.contains("detaches"),
        "nothing to detach from: {popup}"
    );
    assert_eq!(
        app.on_key(Key::parse("y").unwrap()),
        [AppRequest::Quit { force: false }]
    );
}

#[test]
fn help_lines_up_keys_that_take_two_columns() {
    // [ui.keys] takes any character; a CJK one is two columns wide.
    let plan = plan();
    let keys = Keymap::with(&[(Action::Restart, vec![Key::parse("中").unwrap()])]).unwrap();
    let mut app = App::new(
        Arc::new(bringup::engine::info::stack_info(&plan)),
        machine_midway(&plan).snapshot(),
        logs(&plan),
        Theme::load(None).unwrap(),
        keys,
    );
    key(&mut app, "?");
    for (width, height, say) in [
        (
            120,
            40,
            Action::describe as fn(Action, Mode) -> &'static str,
        ),
        (80, 24, Action::short),
    ] {
        let terminal = draw(&mut app, width, height);
        let down = column_in_row(&terminal, "↓", say(Action::Down, Mode::Foreground));
        let restart = column_in_row(&terminal, "中", say(Action::Restart, Mode::Foreground));
        assert!(down.is_some(), "{}", terminal.backend());
        assert_eq!(
            restart,
            down,
            "at {width}×{height} what 中 does is out of line:\n{}",
            terminal.backend()
        );
    }
}

#[test]
fn filtering_the_grid_by_typing() {
    let mut app = dark();
    key(&mut app, "/");
    for c in "ca".chars() {
        key(&mut app, &c.to_string());
    }
    let names: Vec<&str> = app.visible().iter().map(|s| s.name.as_str()).collect();
    assert_eq!(names, ["cache", "cards"]);
    insta::assert_snapshot!(draw(&mut app, 80, 24).backend());
    key(&mut app, "esc");
    assert_eq!(app.visible().len(), app.info.services.len());
}

#[test]
fn the_cold_start_summary_ends_the_progress_bar() {
    let plan = plan();
    let mut machine = machine_midway(&plan);
    // Stop everything: the summary of an interrupted cold start appears.
    machine.handle(
        Duration::from_millis(1600),
        Input::Command {
            ticket: bringup::api::Ticket(0),
            command: Command::Shutdown { force: false },
        },
    );
    let mut app = App::new(
        Arc::new(bringup::engine::info::stack_info(&plan)),
        machine.snapshot(),
        logs(&plan),
        Theme::load(None).unwrap(),
        Keymap::default(),
    );
    app.clock = Duration::from_millis(1700);
    let text = draw(&mut app, 80, 24).backend().to_string();
    assert!(text.contains("stopping…"), "{text}");
}

#[test]
fn a_ready_service_that_lost_its_database_says_so() {
    // Midway, then the database dies under ready auth and data (and is
    // restarted, as its policy says).
    let plan = plan();
    let mut d = Drive {
        machine: machine_midway(&plan),
        plan: plan.clone(),
    };
    d.exited(1400, "database", 1);
    let mut app = App::new(
        Arc::new(bringup::engine::info::stack_info(&plan)),
        d.machine.snapshot(),
        logs(&plan),
        Theme::load(None).expect("dark theme"),
        Keymap::default(),
    );
    app.clock = Duration::from_millis(1500);
    select(&mut app, "auth");
    let terminal = draw(&mut app, 100, 24);
    let screen = format!("{}", terminal.backend());
    let auth = screen
        .lines()
        .find(|l| l.contains("auth "))
        .expect("auth's row");
    assert!(auth.contains("⚠ database restarting"), "{screen}");
    assert!(screen.contains("lost a dependency"), "{screen}");
    insta::assert_snapshot!(terminal.backend());
}

/// A conflict over `port` of the demo's service `name`, found when ports
/// were handed out.
fn conflict(app: &App, name: &str, port: u16) -> bringup::api::Event {
    bringup::api::Event {
        at: Duration::from_millis(5),
        kind: EventKind::PortConflict {
            service: app.info.find(name).expect("a demo service"),
            name: name.into(),
            port: Some(port),
            holders: Vec::new(),
            message: format!("port {port} is held by pid 77"),
            ahead: true,
        },
    }
}

#[test]
fn port_conflicts_found_together_pop_up_one_after_the_other() {
    let mut app = dark();
    // Found when ports were handed out: cards and grading wait for their
    // turn; api runs already (the midway state), so its popup is moot.
    for (name, port) in [("cards", 8001), ("api", 8002), ("grading", 8003)] {
        let event = conflict(&app, name, port);
        app.on_event(&event);
    }
    let shown = |app: &mut App| format!("{:?}", draw(app, 80, 24).backend());
    let first = shown(&mut app);
    assert!(first.contains("8001") && !first.contains("8003"), "{first}");
    key(&mut app, "esc");
    let second = shown(&mut app);
    assert!(second.contains("8003"), "api's is skipped: {second}");
    key(&mut app, "esc");
    assert_eq!(app.overlay, None);
}

#[test]
fn a_long_notice_in_the_status_line_is_cut_visibly() {
    let mut app = dark();
    app.on_event(&bringup::api::Event {
        at: Duration::from_millis(1500),
        kind: EventKind::Notice {
            service: None,
            name: None,
            notice: bringup::api::Notice::SweepFailed {
                error: format!(
                    "permission denied reading pid 4242 `{}`",
                    "python3 -m http.server ".repeat(5)
                ),
            },
        },
    });
    let screen = format!("{}", draw(&mut app, 80, 24).backend());
    let status = screen.lines().last().expect("a status line");
    assert!(
        status.contains("could not look for processes the services left behind (/proc: permission"),
        "the reason comes first and fits: {status}"
    );
    assert!(
        status.trim_end_matches([' ', '"']).ends_with('…'),
        "{status}"
    );
}

#[test]
fn bringups_own_log_scrolls_searches_and_wraps_like_a_service_log() {
    let mut app = dark();
    for i in 1..=40 {
        app.logs.append_own(
            Stream::Stdout,
            format!("worker{i}: ready in {i}ms (HTTP 200)"),
        );
    }
    app.logs.append_own(
        Stream::Stderr,
        format!(
            "cache: failed · exited with code 1; the reason is long and goes on {}",
            "and on ".repeat(12)
        ),
    );
    for i in 41..=45 {
        app.logs
            .append_own(Stream::Stdout, format!("worker{i}: ready in {i}ms"));
    }
    key(&mut app, "l");
    key(&mut app, "tab");
    // Search backwards from the newest line for the failure, wrap it.
    key(&mut app, "/");
    for c in "cache".chars() {
        key(&mut app, &c.to_string());
    }
    key(&mut app, "enter");
    key(&mut app, "w");
    let screen = format!("{}", draw(&mut app, 80, 24).backend());
    assert!(screen.contains("logs: bringup"), "{screen}");
    assert!(
        screen.contains("scrolled"),
        "the search moved the view: {screen}"
    );
    assert!(!screen.contains("worker45"), "{screen}");
    insta::assert_snapshot!(draw(&mut app, 80, 24).backend());
    // Scroll to the top, then follow again.
    key(&mut app, "g");
    let top = format!("{}", draw(&mut app, 80, 24).backend());
    assert!(top.contains("worker1:"), "{top}");
    key(&mut app, "f");
    let end = format!("{}", draw(&mut app, 80, 24).backend());
    assert!(end.contains("worker45"), "{end}");
}

#[test]
fn an_idle_dashboard_redraws_its_clocks_only_when_their_text_changes() {
    let mut app = dark();
    // While the cold start runs: tenths (its elapsed time, the timeline).
    let now = Duration::from_millis(1_534);
    assert_eq!(app.next_clock_change(now), Duration::from_millis(1_600));

    // After it, clocks show seconds in their first minute…
    app.snapshot.phase = Phase::Done;
    let began = app.snapshot.began_at;
    let young = began + Duration::from_millis(10_250);
    let next = app.next_clock_change(young);
    assert!(
        next > young && next <= young + Duration::from_secs(1),
        "{next:?} after {young:?}"
    );

    // … then minutes: a stack that has run for a while asks for a frame a
    // minute, at the minute its youngest clock turns.
    let youngest = app
        .snapshot
        .services
        .iter()
        .filter(|s| s.pid.is_some())
        .filter_map(|s| s.spawned_at)
        .chain([began])
        .max()
        .expect("a clock");
    let later = youngest + Duration::from_secs(5 * 60 + 7);
    let next = app.next_clock_change(later);
    assert!(
        next >= later + Duration::from_secs(50) && next <= later + Duration::from_secs(60),
        "{next:?} after {later:?}"
    );

    // A passing message's end is a change too.
    app.clock = later;
    key(&mut app, "d"); // "cannot detach": a flash for a few seconds
    let next = app.next_clock_change(later);
    assert!(next <= later + Duration::from_secs(5), "{next:?}");
}

#[test]
fn clocks_are_drawn_from_what_the_last_frame_showed_and_after_the_cold_start_a_little_late() {
    use bringup::tui::app::CLOCK_SLACK;
    let mut app = dark();
    // The cold start's tenths: on time, counted from the last frame.
    app.clock = Duration::from_millis(1_534);
    assert_eq!(app.clock_frame_due(), Duration::from_millis(1_600));

    // After it: the next second the last frame did not show, at most a
    // fifth of a second late (so a line printed then shares its frame).
    app.snapshot.phase = Phase::Done;
    let began = app.snapshot.began_at;
    app.clock = began + Duration::from_millis(10_250);
    let change = app.next_clock_change(app.clock);
    assert_eq!(app.clock_frame_due(), change + CLOCK_SLACK);
    // (That a flood of lines no one sees cannot keep the loop from
    // drawing a clock that is due is the event loop's to keep:
    // `tests/tmux.rs`, hostile output, watches the clock move meanwhile.)
}

#[test]
fn detaching_is_refused_once_the_stack_is_stopping() {
    use bringup::tui::app::{AppRequest, Quitting};
    let mut app = dark();
    app.detachable = true;
    assert_eq!(
        app.on_key(Key::parse("d").expect("a key")),
        [AppRequest::Detach]
    );
    // Stopping (asked here, by a signal or by another client): there is
    // no stack to leave running.
    app.quitting = Quitting::Stopping;
    assert!(app.on_key(Key::parse("d").expect("a key")).is_empty());
    app.clock = Duration::from_millis(1500);
    let text = draw(&mut app, 100, 30).backend().to_string();
    assert!(text.contains("stack is stopping"), "{text}");
}

#[test]
fn a_popup_about_a_service_removed_from_the_config_goes_with_it() {
    let mut app = dark();
    for (name, port) in [("cards", 8001), ("grading", 8003)] {
        let event = conflict(&app, name, port);
        app.on_event(&event);
    }
    // An edit removes cards: its popup goes, grading's comes up.
    let mut info = (*app.info).clone();
    let cards = info.find("cards").expect("cards");
    info.services[cards.0].removed = true;
    app.on_event(&bringup::api::Event {
        at: Duration::from_millis(6),
        kind: EventKind::StackChanged {
            info: Box::new(info),
        },
    });
    let screen = format!("{:?}", draw(&mut app, 80, 24).backend());
    assert!(
        screen.contains("8003") && !screen.contains("8001"),
        "{screen}"
    );
    assert_eq!(app.info.find("cards"), None);
}
