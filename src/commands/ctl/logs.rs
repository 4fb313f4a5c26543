//! `bringup logs`: the lines a running stack kept, merged in the order
//! they were read, then (with `-f`) new ones as they come.

use std::io::Write;
use std::path::Path;
use std::process::ExitCode;
use std::time::Duration;

use super::{on_stack, resolve, unreachable};

/// What `bringup logs` shows.
pub struct LogsRequest<'a> {
    pub services: &'a [String],
    /// bringup's own log instead.
    pub own: bool,
    /// Only the last N lines of each.
    pub lines: Option<usize>,
    /// Only lines newer than this.
    pub since: Option<Duration>,
    pub follow: bool,
    pub color: bool,
}

/// `bringup logs [SERVICE…] [-f] [-n N] [--since D] [--bringup]`: the kept
/// lines (several services merged in time order, each line prefixed with
/// its service), then with `-f` new lines as they come, until the stack
/// ends or Ctrl-C.
pub fn logs(explicit: Option<&Path>, color: bool, request: &LogsRequest<'_>) -> ExitCode {
    on_stack(explicit, color, |client, _| async move {
        let hello = match client.hello().await {
            Ok(hello) => hello,
            Err(e) => return unreachable(&e),
        };
        let names: Vec<String> = if request.own {
            vec![bringup::control::wire::OWN_LOG.to_string()]
        } else if request.services.is_empty() {
            hello.info.current().map(|s| s.name.clone()).collect()
        } else {
            match resolve(&hello.info, request.services) {
                Ok(ids) => ids
                    .iter()
                    .map(|id| hello.info.services[id.0].name.clone())
                    .collect(),
                Err(code) => return code,
            }
        };
        let prefixed = names.len() > 1;
        let width = names
            .iter()
            .map(|n| bringup::text::width(n))
            .max()
            .unwrap_or(0);
        let cutoff = request
            .since
            .map(|since| Duration::from_millis(hello.uptime_ms).saturating_sub(since));
        // What is kept, merged in the order it was read.
        let mut kept: Vec<(usize, bringup::logs::Line)> = Vec::new();
        let mut cursors = Vec::new();
        for (i, name) in names.iter().enumerate() {
            let mut from = 0;
            let mut lines = Vec::new();
            loop {
                let page = match client
                    .logs(name, from, bringup::control::wire::MAX_PAGE)
                    .await
                {
                    Ok(page) => page,
                    Err(e) => return unreachable(&e),
                };
                let done = page.lines.is_empty();
                from = page.next;
                lines.extend(page.lines);
                if done {
                    break;
                }
            }
            if let Some(cutoff) = cutoff {
                lines.retain(|l| l.at >= cutoff);
            }
            if let Some(n) = request.lines {
                let skip = lines.len().saturating_sub(n);
                lines.drain(..skip);
            }
            kept.extend(lines.into_iter().map(|l| (i, l)));
            cursors.push(from);
        }
        kept.sort_by_key(|(_, l)| l.seq);
        // One write per batch, not per line: a follower keeps up with a
        // flood only if printing is cheap. (A closed stdout ends quietly.)
        let mut out = Printer {
            out: std::io::BufWriter::new(std::io::stdout().lock()),
            names: &names,
            prefixed,
            width,
            color: request.color,
        };
        for (i, line) in &kept {
            if out.line(*i, &line.text).is_err() {
                return ExitCode::SUCCESS;
            }
        }
        if !request.follow {
            let _ = out.out.flush();
            return ExitCode::SUCCESS;
        }
        let (tx, mut rx) = tokio::sync::mpsc::channel(1024);
        for (i, (name, from)) in names.iter().zip(cursors).enumerate() {
            let mut follow = match client.follow(name, from).await {
                Ok(follow) => follow,
                Err(e) => return unreachable(&e),
            };
            let tx = tx.clone();
            tokio::spawn(async move {
                while let Some(Ok(item)) = follow.next().await {
                    if tx.send((i, item)).await.is_err() {
                        return;
                    }
                }
            });
        }
        drop(tx);
        let interrupted = tokio::signal::ctrl_c();
        tokio::pin!(interrupted);
        loop {
            let first = tokio::select! {
                item = rx.recv() => item,
                _ = &mut interrupted => None,
            };
            // Every stream ended (so did the stack), or Ctrl-C.
            let Some(mut item) = first else {
                break;
            };
            // What has come meanwhile goes out in the same write.
            loop {
                let (i, line) = item;
                if line.missed > 0 {
                    let said = format!(
                        "… {} lines not shown (they came faster than they could be read)",
                        line.missed
                    );
                    if out.line(i, &said).is_err() {
                        return ExitCode::SUCCESS;
                    }
                }
                if out.line(i, &line.line.text).is_err() {
                    return ExitCode::SUCCESS;
                }
                match rx.try_recv() {
                    Ok(next) => item = next,
                    Err(_) => break,
                }
            }
            if out.out.flush().is_err() {
                return ExitCode::SUCCESS;
            }
        }
        ExitCode::SUCCESS
    })
}

/// Writes log lines, prefixed with their service when there are several.
struct Printer<'a, W: Write> {
    out: W,
    names: &'a [String],
    prefixed: bool,
    width: usize,
    color: bool,
}

impl<W: Write> Printer<'_, W> {
    fn line(&mut self, log: usize, text: &str) -> std::io::Result<()> {
        let text = bringup::ansi::terminal_safe(text, self.color);
        if self.prefixed {
            let name = bringup::text::pad_right(&self.names[log], self.width);
            writeln!(self.out, "{name} | {text}")
        } else {
            writeln!(self.out, "{text}")
        }
    }
}
