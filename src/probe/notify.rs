//! `notify` readiness: the systemd protocol, server side.
//!
//! bringup binds a datagram socket in its private runtime directory and
//! passes its path to the service as `$NOTIFY_SOCKET`. The service (through
//! libsystemd, `sd-notify`, python's `sdnotify`, or a plain `socat`) sends
//! newline-separated `KEY=VALUE` messages; `READY=1` makes it ready and
//! `STATUS=...` is shown while it starts. The socket file is removed when
//! the listener is dropped.

use std::io;
use std::path::{Path, PathBuf};

use tokio::net::UnixDatagram;
use tokio::sync::mpsc;

/// A bound notify socket.
#[derive(Debug)]
pub struct NotifySocket {
    socket: UnixDatagram,
    path: PathBuf,
}

impl NotifySocket {
    /// Binds `dir/name`, replacing a stale file of that name.
    pub fn bind(dir: &Path, name: &str) -> io::Result<Self> {
        let path = dir.join(name);
        let _ = std::fs::remove_file(&path);
        let socket = UnixDatagram::bind(&path)?;
        Ok(Self { socket, path })
    }

    /// What goes into `$NOTIFY_SOCKET`.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Forwards `READY=1` (and `STATUS=` before it) until the task is
    /// aborted or the receiver is gone.
    pub async fn listen<T>(self, tx: mpsc::Sender<T>, report: impl Fn(bool, String) -> T) {
        // Datagrams over 4 KiB are cut; notify messages are a few bytes.
        let mut buffer = vec![0u8; 4096];
        let mut ready = false;
        loop {
            let Ok(read) = self.socket.recv(&mut buffer).await else {
                return;
            };
            let message = String::from_utf8_lossy(&buffer[..read]);
            let mut status = None;
            let mut got_ready = false;
            for line in message.lines() {
                match line.split_once('=') {
                    Some(("READY", "1")) => got_ready = true,
                    Some(("STATUS", text)) => status = Some(text.to_string()),
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

impl Drop for NotifySocket {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.path);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn ready_and_status_messages_are_reported() {
        let dir = tempfile::tempdir().unwrap();
        let socket = NotifySocket::bind(dir.path(), "n.sock").unwrap();
        let path = socket.path().to_path_buf();
        let (tx, mut rx) = mpsc::channel(8);
        let task = tokio::spawn(socket.listen(tx, |ok, detail| (ok, detail)));
        let client = std::os::unix::net::UnixDatagram::unbound().unwrap();
        client.send_to(b"STATUS=migrating\n", &path).unwrap();
        assert_eq!(
            rx.recv().await,
            Some((false, "status: migrating".to_string()))
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
}
