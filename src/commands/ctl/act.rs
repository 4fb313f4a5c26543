//! The verbs that change a stack and wait for it to get there
//! (`restart`, `stop`, `start`, `kill`, `skip`), and `wait`, which only
//! waits. How they wait is the library's (`bringup::control::act`, which
//! the MCP tools use too); what is said, and the exit code, is here.

use std::path::Path;
use std::process::ExitCode;
use std::time::Duration;

use bringup::api::describe;
use bringup::api::{Command, Outcome};
use bringup::config::ServiceId;
use bringup::control::act::{self, ActError, ActReport};

use super::{FAILED, on_stack, resolve, unreachable};

pub use bringup::api::goal::Goal;

/// `bringup restart|stop|start|kill|skip SERVICE…`: sends the command for
/// each, then (unless `no_wait`) waits until each got where it was sent.
pub fn act(
    explicit: Option<&Path>,
    color: bool,
    names: &[String],
    make: fn(ServiceId) -> Command,
    goal: Goal,
    timeout: Duration,
    no_wait: bool,
) -> ExitCode {
    on_stack(explicit, color, |client, _| async move {
        let hello = match client.hello().await {
            Ok(hello) => hello,
            Err(e) => return unreachable(&e),
        };
        let ids = match resolve(&hello.info, names) {
            Ok(ids) => ids,
            Err(code) => return code,
        };
        if no_wait {
            let mut code = ExitCode::SUCCESS;
            for &id in &ids {
                match client.command(make(id)).await {
                    Ok(Outcome::Done) => {}
                    Ok(outcome) => {
                        let name = hello.info.name(id);
                        let said = describe::outcome(Some(name), &outcome)
                            .unwrap_or_else(|| format!("{name}: not done"));
                        eprintln!("{}", bringup::ansi::plain(&said));
                        code = ExitCode::from(FAILED);
                    }
                    Err(e) => return unreachable(&e),
                }
            }
            return code;
        }
        said(
            act::act(&client, &hello.info, &ids, make, goal, timeout).await,
            true,
        )
    })
}

/// `bringup wait SERVICE… [--timeout D]`: exit 0 once every named service
/// (every selected one, when none is named) is ready; 1 with the reason
/// when one cannot become ready or the time is up.
pub fn wait(explicit: Option<&Path>, color: bool, names: &[String], timeout: Duration) -> ExitCode {
    on_stack(explicit, color, |client, _| async move {
        let hello = match client.hello().await {
            Ok(hello) => hello,
            Err(e) => return unreachable(&e),
        };
        let ids = match resolve(&hello.info, names) {
            Ok(ids) => ids,
            Err(code) => return code,
        };
        said(act::wait_ready(&client, &ids, timeout).await, false)
    })
}

/// Prints where each service ended (those that got there only when
/// `reached` is set: `wait` is silent when all is well) and the exit code.
fn said(report: Result<ActReport, ActError>, reached: bool) -> ExitCode {
    let report = match report {
        Ok(report) => report,
        Err(ActError::Client(e)) => return unreachable(&e),
        Err(e) => {
            eprintln!("error: {e}");
            return ExitCode::from(FAILED);
        }
    };
    for service in &report.services {
        if service.ok && reached {
            println!("{}: {}", service.service, service.why);
        } else if !service.ok {
            eprintln!("{}: {}", service.service, service.why);
        }
    }
    if report.ok {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(FAILED)
    }
}
