//! `notify` readiness: the systemd protocol, server side.
//!
//! bringup binds a datagram socket in its private runtime directory and
//! passes its path to the service as `$NOTIFY_SOCKET`. The service (through
//! libsystemd, `sd-notify`, python's `sdnotify`, or a plain `socat`) sends
//! newline-separated `KEY=VALUE` messages; `READY=1` makes it ready and
//! `STATUS=...` is shown while it starts. The socket file is removed when
//! the listener is dropped.
//!
//! Any process of the user can write to that socket, so a message counts
//! only when it comes from the service's own processes, like systemd's
//! `NotifyAccess=all` within a unit: the socket has `SO_PASSCRED` on, the
//! kernel stamps every datagram with the sender's pid (which an
//! unprivileged sender cannot forge), and the sender must be the service's
//! process, in its process group, or its descendant (see
//! [`super::ownership::belongs`]). Other messages are dropped, and the
//! first few are reported (who sent them), so a stray `READY=1` is
//! visible rather than silently ignored. A sender that exits before
//! bringup reads its message cannot be checked and is not believed either:
//! send from a process that stays (`exec systemd-notify` is not one).

use std::io::{self, IoSliceMut};
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
use std::path::{Path, PathBuf};
use std::sync::{Arc, OnceLock};

use nix::sys::socket::{
    ControlMessageOwned, MsgFlags, UnixCredentials, recvmsg, setsockopt, sockopt,
};
use tokio::io::Interest;
use tokio::net::UnixDatagram;
use tokio::sync::mpsc;

use crate::ansi::plain;
use crate::probe::ownership::{self, Service};

/// Ignored senders reported per socket; a flood says no more than a few.
const REPORTED: usize = 5;

/// A bound notify socket.
#[derive(Debug)]
pub struct NotifySocket {
    socket: UnixDatagram,
    path: PathBuf,
}

/// The service a notify socket belongs to: set once its process runs.
pub type ServiceCell = Arc<OnceLock<(Service, Option<u64>)>>;

impl NotifySocket {
    /// Binds `dir/name`, replacing a stale file of that name.
    pub fn bind(dir: &Path, name: &str) -> io::Result<Self> {
        if name.len() > crate::rundir::MAX_SOCKET_NAME {
            return Err(io::Error::other(format!(
                "the socket name {name:?} is over {} bytes",
                crate::rundir::MAX_SOCKET_NAME
            )));
        }
        let path = dir.join(name);
        let _ = std::fs::remove_file(&path);
        let socket = UnixDatagram::bind(&path)?;
        setsockopt(&socket, sockopt::PassCred, &true)?;
        Ok(Self { socket, path })
    }

    /// What goes into `$NOTIFY_SOCKET`.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The service's process, recorded in `cell` once it runs, with its
    /// start time.
    pub fn service_cell() -> ServiceCell {
        Arc::new(OnceLock::new())
    }

    /// Records the service's process: from now on its messages count.
    pub fn serve(cell: &ServiceCell, service: Service) {
        let started = crate::ports::owner::start_time(service.pid);
        let _ = cell.set((service, started));
    }

    /// Forwards `READY=1` (and `STATUS=` before it) from the service's
    /// processes until the task is aborted or the receiver is gone; tells
    /// `ignored` about messages from anyone else.
    pub async fn listen<T>(
        self,
        service: ServiceCell,
        tx: mpsc::Sender<T>,
        report: impl Fn(bool, String) -> T,
        ignored: impl Fn(String),
    ) {
        // Datagrams over 4 KiB are cut; notify messages are a few bytes.
        let mut buffer = vec![0u8; 4096];
        let mut ready = false;
        let mut reported = 0;
        loop {
            let Ok((read, sender)) = self
                .socket
                .async_io(Interest::READABLE, || receive(&self.socket, &mut buffer))
                .await
            else {
                return;
            };
            if let Err(why) = check_sender(sender, service.get()) {
                if reported < REPORTED {
                    reported += 1;
                    let more = if reported == REPORTED {
                        " (further ignored messages are not reported)"
                    } else {
                        ""
                    };
                    let what = first_line(&buffer[..read]);
                    ignored(format!(
                        "ignored {what:?} on its NOTIFY_SOCKET: {why}{more}"
                    ));
                }
                continue;
            }
            let message = String::from_utf8_lossy(&buffer[..read]);
            let mut status = None;
            let mut got_ready = false;
            for line in message.lines() {
                match line.split_once('=') {
                    Some(("READY", "1")) => got_ready = true,
                    Some(("STATUS", text)) => status = Some(plain(text).into_owned()),
                    _ => {}
                }
            }
            let update = if got_ready {
                ready = true;
                Some(report(
                    true,
                    status.map_or_else(|| "READY=1".to_string(), |s| format!("READY=1, {s}")),
                ))
            } else if let (false, Some(status)) = (ready, status) {
                Some(report(false, format!("status: {status}")))
            } else {
                None
            };
            if let Some(update) = update
                && tx.send(update).await.is_err()
            {
                return;
            }
        }
    }
}

/// One datagram into `buffer`: its length and the sender's credentials.
fn receive(
    socket: &UnixDatagram,
    buffer: &mut [u8],
) -> io::Result<(usize, Option<UnixCredentials>)> {
    let mut iov = [IoSliceMut::new(buffer)];
    // Room for the credentials; a sender passing file descriptors gets at
    // most a few installed (closed below) and its credentials cut off.
    let mut space = nix::cmsg_space!(UnixCredentials, [std::os::fd::RawFd; 4]);
    let message = recvmsg::<()>(
        socket.as_raw_fd(),
        &mut iov,
        Some(&mut space),
        MsgFlags::MSG_DONTWAIT | MsgFlags::MSG_CMSG_CLOEXEC,
    )?;
    let mut credentials = None;
    for control in message.cmsgs()? {
        match control {
            ControlMessageOwned::ScmCredentials(found) => credentials = Some(found),
            ControlMessageOwned::ScmRights(fds) => {
                for fd in fds {
                    // SAFETY: the kernel just installed this descriptor in
                    // our table for us; nothing else owns it.
                    drop(unsafe { OwnedFd::from_raw_fd(fd) });
                }
            }
            _ => {}
        }
    }
    Ok((message.bytes, credentials))
}

/// `Ok` when the message comes from the service; else why it does not.
fn check_sender(
    sender: Option<UnixCredentials>,
    service: Option<&(Service, Option<u64>)>,
) -> Result<(), String> {
    let Some(sender) = sender else {
        return Err("the sender's credentials did not come with it".into());
    };
    let Ok(pid) = u32::try_from(sender.pid()) else {
        return Err("the sender's pid is not known".into());
    };
    let who = describe(pid, sender.uid());
    let Some((service, started)) = service else {
        return Err(format!("from {who}, before the service started"));
    };
    let Some(process) = procfs::process::Process::new(sender.pid()).ok() else {
        return Err(format!(
            "{who} ended before it could be checked; send from a process of the service that stays running"
        ));
    };
    if ownership::belongs(&process, service, *started) {
        Ok(())
    } else {
        Err(format!("{who} is not one of the service's processes"))
    }
}

/// "pid 1234 (`socat - UNIX-SENDTO:…`, user ada)".
fn describe(pid: u32, uid: u32) -> String {
    let command = procfs::process::Process::new(pid as i32)
        .ok()
        .and_then(|p| p.cmdline().ok())
        .map(|argv| argv.join(" "))
        .filter(|line| !line.is_empty());
    let user = crate::ports::owner::user_name(uid);
    match command {
        Some(command) => {
            let command: String = command.chars().take(80).collect();
            format!("pid {pid} (`{}`, user {})", plain(&command), plain(&user))
        }
        None => format!("pid {pid} (user {})", plain(&user)),
    }
}

/// The first line of a message, short and printable.
fn first_line(message: &[u8]) -> String {
    let text = String::from_utf8_lossy(message);
    let line: String = text.lines().next().unwrap_or("").chars().take(40).collect();
    plain(&line).into_owned()
}

impl Drop for NotifySocket {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.path);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn this_process() -> Service {
        Service {
            pid: std::process::id(),
            run: "run".into(),
            name: "api".into(),
        }
    }

    #[tokio::test]
    async fn ready_and_status_messages_of_the_service_are_reported() {
        let dir = tempfile::tempdir().unwrap();
        let socket = NotifySocket::bind(dir.path(), "n.sock").unwrap();
        let path = socket.path().to_path_buf();
        let (tx, mut rx) = mpsc::channel(8);
        // The "service" is this test process, which sends itself.
        let cell = NotifySocket::service_cell();
        NotifySocket::serve(&cell, this_process());
        let task = tokio::spawn(socket.listen(cell, tx, |ok, detail| (ok, detail), |_| {}));
        let client = std::os::unix::net::UnixDatagram::unbound().unwrap();
        client
            .send_to(b"STATUS=migrating \x1b]0;title\x07\n", &path)
            .unwrap();
        assert_eq!(
            rx.recv().await,
            Some((false, "status: migrating ".to_string()))
        );
        client.send_to(b"READY=1\nSTATUS=serving", &path).unwrap();
        assert_eq!(
            rx.recv().await,
            Some((true, "READY=1, serving".to_string()))
        );
        task.abort();
        let _ = task.await;
        assert!(
            !path.exists(),
            "the socket file is removed with the listener"
        );
    }

    #[tokio::test]
    async fn messages_from_outside_the_service_are_ignored_and_said() {
        let dir = tempfile::tempdir().unwrap();
        let socket = NotifySocket::bind(dir.path(), "n.sock").unwrap();
        let path = socket.path().to_path_buf();
        let (tx, mut rx) = mpsc::channel::<(bool, String)>(8);
        let (said_tx, mut said) = mpsc::unbounded_channel();
        // The service is a `sleep`; this test process is not one of its.
        let mut sleeper = std::process::Command::new("sleep")
            .arg("30")
            .spawn()
            .unwrap();
        let cell = NotifySocket::service_cell();
        NotifySocket::serve(
            &cell,
            Service {
                pid: sleeper.id(),
                ..this_process()
            },
        );
        let task = tokio::spawn(socket.listen(
            cell,
            tx,
            |ok, detail| (ok, detail),
            move |message| {
                let _ = said_tx.send(message);
            },
        ));
        let client = std::os::unix::net::UnixDatagram::unbound().unwrap();
        client.send_to(b"READY=1", &path).unwrap();
        let message = said.recv().await.unwrap();
        assert!(
            message.contains(&format!("pid {}", std::process::id()))
                && message.contains("not one of the service's processes")
                && message.starts_with("ignored \"READY=1\""),
            "{message}"
        );
        assert!(rx.try_recv().is_err(), "not ready");
        task.abort();
        let _ = sleeper.kill();
        let _ = sleeper.wait();
    }
}
