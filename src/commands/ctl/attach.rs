//! `bringup attach`: the live dashboard of a stack that runs elsewhere
//! (`up -d`, a foreground `up` in another terminal, or one whose dashboard
//! detached), over a session filled from its control socket.
//!
//! `q` detaches: the dashboard closes, the stack runs on, and one line
//! says how to stop it. Stopping it from here is its own key and asks
//! first. A signal (the terminal closing, SIGTERM, SIGINT) detaches too:
//! the dashboard's future is dropped, which gives the terminal back. The
//! client holds nothing of the stack's, so even a SIGKILL of it leaves the
//! stack as it was.

use std::path::Path;
use std::process::ExitCode;

use bringup::api::Verdict;
use bringup::control::remote;
use bringup::tui::{self, Ending, TuiOptions};
use tokio::signal::unix::{SignalKind, signal};

use super::super::INVALID;
use super::{connect_plan, runtime, unreachable};

/// `bringup attach`; `dashboard` is `None` when stdout is not a terminal.
pub fn attach(explicit: Option<&Path>, color: bool, dashboard: Option<TuiOptions>) -> ExitCode {
    // No stack is the first thing to say: a terminal would not help.
    let (client, _, plan) = match connect_plan(explicit, color) {
        Ok(found) => found,
        Err(code) => return code,
    };
    let Some(options) = dashboard else {
        eprintln!("error: `bringup attach` shows the dashboard, which needs a terminal");
        eprintln!(
            "  help: `bringup status` prints the grid as text; `bringup logs -f` follows the logs"
        );
        return ExitCode::from(INVALID);
    };
    let (theme, keys) = match tui::prepare(plan.ui.theme.as_deref(), &plan.ui.keys, &options) {
        Ok(prepared) => prepared,
        Err(e) => {
            eprintln!("error: {e}");
            return ExitCode::from(INVALID);
        }
    };
    let runtime = match runtime() {
        Ok(runtime) => runtime,
        Err(code) => return code,
    };
    runtime.block_on(async {
        let session = match remote::session(client).await {
            Ok(session) => session,
            Err(e) => return unreachable(&e),
        };
        let ending = tokio::select! {
            ending = tui::attach(&session, theme, keys) => ending,
            () = signalled() => Ok(Ending::Detached),
        };
        match ending {
            Ok(Ending::Detached) => {
                println!(
                    "bringup: detached; {} keeps running (`bringup down` stops it, `bringup attach` comes back)",
                    bringup::ansi::plain(&session.info().project)
                );
                ExitCode::SUCCESS
            }
            Ok(Ending::Ended) => {
                let last = session.snapshot().borrow().clone();
                tui::farewell(&last, &Verdict::of(&last));
                ExitCode::SUCCESS
            }
            Err(e) => {
                eprintln!("error: {e}");
                ExitCode::FAILURE
            }
        }
    })
}

/// Resolves on SIGINT, SIGTERM or SIGHUP (never, if they cannot be
/// listened for: then they end the process as they would by default).
async fn signalled() {
    let (Ok(mut interrupt), Ok(mut terminate), Ok(mut hangup)) = (
        signal(SignalKind::interrupt()),
        signal(SignalKind::terminate()),
        signal(SignalKind::hangup()),
    ) else {
        return std::future::pending().await;
    };
    tokio::select! {
        _ = interrupt.recv() => {}
        _ = terminate.recv() => {}
        _ = hangup.recv() => {}
    }
}
