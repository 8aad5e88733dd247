//! Attaching screens to a running monitor over a local Unix socket.
//!
//! `panelwatch run --headless` serves `<state_dir>/panelwatch.sock` ([`serve`]); each
//! `panelwatch tui` ([`connect`]) receives the snapshots the engine publishes and sends the
//! operator's commands back, so monitoring goes on when an SSH session drops and several
//! admins can watch at once. The wire is newline-delimited JSON: [`Snapshot`]s from the
//! monitor (sent only when they changed, at most [`MAX_PER_SECOND`] a second), [`UiCommand`]s
//! from the screen. The socket is the owner's alone (mode 0600) in a folder others cannot
//! write to; what crosses it is what the screen shows, never a key or a webhook URL.
//!
//! This module does not draw anything and does not run the engine.

use std::io;
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::time::Duration;

use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
use tokio::net::{UnixListener, UnixStream};
use tokio::sync::{mpsc, watch};
use tokio::task::JoinHandle;

use crate::snapshot::Snapshot;
use crate::tui::UiCommand;

/// The socket's file name inside the state folder.
pub const SOCKET_NAME: &str = "panelwatch.sock";

/// The most snapshots a client is sent per second.
pub const MAX_PER_SECOND: u32 = 4;

/// The longest line a client may send (a command is far shorter).
const MAX_COMMAND_BYTES: usize = 16 * 1024;

/// Why attaching (or serving) failed; each message says which socket.
#[derive(Debug, thiserror::Error)]
pub enum AttachError {
    #[error(
        "no panelwatch is running with state_dir {dir}: start `panelwatch run --headless` first"
    )]
    NotRunning { dir: PathBuf },
    #[error("a panelwatch is already serving {path}")]
    AlreadyServing { path: PathBuf },
    #[error("refusing to use {dir}: the folder is writable by other users")]
    WorldWritable { dir: PathBuf },
    #[error("the monitor at {path} sent something unreadable: {reason}")]
    Protocol { path: PathBuf, reason: String },
    #[error("socket {path}: {source}")]
    Io {
        path: PathBuf,
        #[source]
        source: io::Error,
    },
}

/// Where the socket of a monitor with this state folder is.
pub fn socket_path(state_dir: &Path) -> PathBuf {
    state_dir.join(SOCKET_NAME)
}

/// A running socket server; dropping it stops serving and removes the socket.
pub struct Server {
    path: PathBuf,
    task: JoinHandle<()>,
}

impl Server {
    pub fn path(&self) -> &Path {
        &self.path
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        self.task.abort();
        let _ = std::fs::remove_file(&self.path);
    }
}

/// Serves snapshots and takes commands on `<state_dir>/panelwatch.sock`, replacing a stale
/// socket left by a monitor that died.
///
/// # Errors
///
/// Fails when the folder is writable by others, another monitor serves the socket, or the
/// socket cannot be created.
pub async fn serve(
    state_dir: &Path,
    snapshots: watch::Receiver<Snapshot>,
    commands: mpsc::UnboundedSender<UiCommand>,
) -> Result<Server, AttachError> {
    let path = socket_path(state_dir);
    let io_err = |source| AttachError::Io {
        path: path.clone(),
        source,
    };
    std::fs::create_dir_all(state_dir).map_err(io_err)?;
    let mode = std::fs::metadata(state_dir).map_err(io_err)?.mode();
    if mode & 0o002 != 0 {
        return Err(AttachError::WorldWritable {
            dir: state_dir.to_path_buf(),
        });
    }
    if path.exists() {
        if UnixStream::connect(&path).await.is_ok() {
            return Err(AttachError::AlreadyServing { path });
        }
        tracing::info!(socket = %path.display(), "removing a stale socket");
        std::fs::remove_file(&path).map_err(io_err)?;
    }
    let listener = UnixListener::bind(&path).map_err(io_err)?;
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o600)).map_err(io_err)?;
    tracing::info!(socket = %path.display(), "serving attached screens");

    let task = tokio::spawn(async move {
        // Owned here, so that stopping the server also detaches every screen.
        let mut clients = tokio::task::JoinSet::new();
        loop {
            while clients.try_join_next().is_some() {}
            match listener.accept().await {
                Ok((stream, _)) => {
                    clients.spawn(serve_client(stream, snapshots.clone(), commands.clone()));
                }
                Err(e) => {
                    tracing::warn!(error = %e, "cannot accept a screen");
                    tokio::time::sleep(Duration::from_millis(200)).await;
                }
            }
        }
    });
    Ok(Server { path, task })
}

/// One attached screen: snapshots out, commands in, until either side closes.
async fn serve_client(
    stream: UnixStream,
    mut snapshots: watch::Receiver<Snapshot>,
    commands: mpsc::UnboundedSender<UiCommand>,
) {
    tracing::info!("a screen attached");
    let (read, mut write) = stream.into_split();
    let reader = tokio::spawn(async move {
        let mut lines = BufReader::new(read);
        let mut line = String::new();
        loop {
            line.clear();
            match lines.read_line(&mut line).await {
                Ok(0) | Err(_) => return,
                Ok(_) if line.len() > MAX_COMMAND_BYTES => return,
                Ok(_) => {}
            }
            match serde_json::from_str::<UiCommand>(line.trim_end()) {
                // A screen that quits only detaches.
                Ok(UiCommand::Quit) => return,
                Ok(command) => {
                    tracing::info!(?command, "command from an attached screen");
                    if commands.send(command).is_err() {
                        return;
                    }
                }
                Err(e) => tracing::warn!(error = %e, "ignoring an unreadable command"),
            }
        }
    });

    let gap = Duration::from_secs(1) / MAX_PER_SECOND;
    let mut last: Option<Snapshot> = None;
    loop {
        let snapshot = snapshots.borrow_and_update().clone();
        if last.as_ref() != Some(&snapshot) {
            let mut line = match serde_json::to_string(&snapshot) {
                Ok(line) => line,
                Err(e) => {
                    tracing::error!(error = %e, "cannot encode a snapshot");
                    break;
                }
            };
            line.push('\n');
            if write.write_all(line.as_bytes()).await.is_err() {
                break;
            }
            last = Some(snapshot);
        }
        tokio::select! {
            changed = snapshots.changed() => if changed.is_err() { break },
            _ = closed(&reader) => break,
        }
        tokio::time::sleep(gap).await;
    }
    reader.abort();
    tracing::info!("a screen detached");
}

/// Resolves once the reading half has finished (the screen closed or quit).
async fn closed(reader: &JoinHandle<()>) {
    while !reader.is_finished() {
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// A screen's end of the socket.
pub struct Attached {
    /// The monitor's snapshots; when the monitor goes away the last one carries a notice
    /// saying so, and the sender is kept so the screen stays up until the operator quits.
    pub snapshots: watch::Receiver<Snapshot>,
    /// Commands for the monitor.
    pub commands: mpsc::UnboundedSender<UiCommand>,
}

/// Attaches to the monitor running with `state_dir`, waiting for its first snapshot.
///
/// # Errors
///
/// [`AttachError::NotRunning`] when no monitor serves the socket; a protocol error if the
/// first snapshot cannot be read.
pub async fn connect(state_dir: &Path) -> Result<Attached, AttachError> {
    let path = socket_path(state_dir);
    let stream = match UnixStream::connect(&path).await {
        Ok(s) => s,
        Err(e)
            if matches!(
                e.kind(),
                io::ErrorKind::NotFound | io::ErrorKind::ConnectionRefused
            ) =>
        {
            return Err(AttachError::NotRunning {
                dir: state_dir.to_path_buf(),
            })
        }
        Err(source) => return Err(AttachError::Io { path, source }),
    };
    let (read, mut write) = stream.into_split();
    let mut lines = BufReader::new(read).lines();
    let protocol = |reason: String| AttachError::Protocol {
        path: path.clone(),
        reason,
    };
    let first = tokio::time::timeout(Duration::from_secs(10), lines.next_line())
        .await
        .map_err(|_| protocol("no snapshot within 10 s".into()))?
        .map_err(|e| protocol(e.to_string()))?
        .ok_or_else(|| protocol("closed before the first snapshot".into()))?;
    let first: Snapshot = serde_json::from_str(&first).map_err(|e| protocol(e.to_string()))?;

    let (snap_tx, snapshots) = watch::channel(first);
    tokio::spawn(async move {
        let why = loop {
            match lines.next_line().await {
                Ok(Some(line)) => match serde_json::from_str::<Snapshot>(&line) {
                    Ok(snapshot) => {
                        snap_tx.send_replace(snapshot);
                    }
                    Err(e) => break format!("unreadable snapshot: {e}"),
                },
                Ok(None) => break "the monitor closed the connection".to_string(),
                Err(e) => break e.to_string(),
            }
        };
        snap_tx.send_modify(|s| {
            s.notice = Some((chrono::Utc::now(), format!("detached: {why}; q quits")));
        });
        // Keep the last snapshot on screen until the operator quits.
        snap_tx.closed().await;
    });

    let (commands, mut rx) = mpsc::unbounded_channel::<UiCommand>();
    tokio::spawn(async move {
        while let Some(command) = rx.recv().await {
            let Ok(mut line) = serde_json::to_string(&command) else {
                continue;
            };
            line.push('\n');
            if write.write_all(line.as_bytes()).await.is_err() {
                return;
            }
        }
    });
    Ok(Attached {
        snapshots,
        commands,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::tui::fixture;

    async fn next_change(rx: &mut watch::Receiver<Snapshot>) -> Snapshot {
        tokio::time::timeout(Duration::from_secs(10), rx.changed())
            .await
            .expect("a snapshot within 10 s")
            .expect("the client runs");
        rx.borrow_and_update().clone()
    }

    #[tokio::test]
    async fn two_screens_attach_receive_snapshots_and_send_commands() {
        let dir = tempfile::tempdir().unwrap();
        let (snap_tx, snap_rx) = watch::channel(fixture::snapshot());
        let (cmd_tx, mut cmd_rx) = mpsc::unbounded_channel();
        let server = serve(dir.path(), snap_rx, cmd_tx).await.unwrap();

        let mode = std::fs::metadata(server.path()).unwrap().mode();
        assert_eq!(mode & 0o777, 0o600, "{mode:o}");

        let mut one = connect(dir.path()).await.unwrap();
        let mut two = connect(dir.path()).await.unwrap();
        assert_eq!(*one.snapshots.borrow(), fixture::snapshot());
        assert_eq!(*two.snapshots.borrow(), fixture::snapshot());

        let mut changed = fixture::snapshot();
        changed.notice = Some((changed.at, "something happened".into()));
        snap_tx.send_replace(changed.clone());
        assert_eq!(next_change(&mut one.snapshots).await, changed);
        assert_eq!(next_change(&mut two.snapshots).await, changed);

        let mute = UiCommand::Mute {
            target: "main/17".into(),
            duration: Duration::from_secs(600),
        };
        two.commands.send(mute.clone()).unwrap();
        let got = tokio::time::timeout(Duration::from_secs(10), cmd_rx.recv())
            .await
            .unwrap();
        assert_eq!(got, Some(mute));

        drop(server);
        let gone = next_change(&mut one.snapshots).await;
        let notice = gone.notice.unwrap().1;
        assert!(notice.starts_with("detached:"), "{notice}");
        assert!(!socket_path(dir.path()).exists());
    }

    #[tokio::test]
    async fn attaching_without_a_monitor_says_how_to_start_one() {
        let dir = tempfile::tempdir().unwrap();
        let Err(e) = connect(dir.path()).await else {
            panic!("attached to nothing");
        };
        assert!(matches!(e, AttachError::NotRunning { .. }));
        assert!(e
            .to_string()
            .contains("start `panelwatch run --headless` first"));
    }

    #[tokio::test]
    async fn a_stale_socket_is_replaced_and_a_live_one_is_not() {
        let dir = tempfile::tempdir().unwrap();
        let path = socket_path(dir.path());
        drop(std::os::unix::net::UnixListener::bind(&path).unwrap());
        assert!(path.exists());
        let (_snap_tx, snap_rx) = watch::channel(Snapshot::default());
        let (cmd_tx, _cmd_rx) = mpsc::unbounded_channel();
        let _server = serve(dir.path(), snap_rx.clone(), cmd_tx.clone())
            .await
            .unwrap();
        let again = serve(dir.path(), snap_rx, cmd_tx).await;
        assert!(matches!(again, Err(AttachError::AlreadyServing { .. })));
    }

    #[tokio::test]
    async fn a_folder_others_can_write_to_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::set_permissions(dir.path(), std::fs::Permissions::from_mode(0o777)).unwrap();
        let (_snap_tx, snap_rx) = watch::channel(Snapshot::default());
        let (cmd_tx, _cmd_rx) = mpsc::unbounded_channel();
        let result = serve(dir.path(), snap_rx, cmd_tx).await;
        assert!(matches!(result, Err(AttachError::WorldWritable { .. })));
    }
}
