//! The live terminal UI that admins watch over SSH.
//!
//! [`run`] owns the terminal: it enters raw mode and the alternate screen, draws
//! [`Snapshot`]s as the engine publishes them, reacts to keys, and restores the terminal on
//! every way out (quit, error, panic). What the screen looks like is `render`'s business; what
//! a key does is decided by the table in `keys` and applied to the state in `app`. The engine
//! does not depend on this module; this module only reads snapshots.

pub mod app;
pub mod keys;
pub mod render;
#[doc(hidden)]
pub mod synthetic;

#[cfg(test)]
pub(crate) mod fixture;

use std::io::{self, Stdout};
use std::panic;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Once;
use std::time::Duration;

use crossterm::event::{DisableMouseCapture, Event, EventStream};
use crossterm::terminal::{
    disable_raw_mode, enable_raw_mode, EnterAlternateScreen, LeaveAlternateScreen,
};
use crossterm::{cursor, execute};
use futures_util::StreamExt;
use ratatui::backend::CrosstermBackend;
use ratatui::Terminal;
use tokio::sync::{mpsc, watch};
use tokio::time::Instant;

use crate::snapshot::Snapshot;
use app::AppState;
use render::{Extra, RenderOptions};

/// What the screen asks of the rest of the program. Serialisable: an attached screen sends
/// these to the monitor over its socket.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[non_exhaustive]
pub enum UiCommand {
    /// The user quit the screen; the program should shut down (an attached screen just
    /// detaches).
    Quit,
    /// Mute alerts about `target` for `duration`: `PANEL`, `PANEL/SERVICE_ID` or
    /// `PANEL/provider:NAME`.
    Mute {
        target: String,
        duration: std::time::Duration,
    },
    /// Lift a mute on `target`.
    Unmute { target: String },
    /// Send a `test` event to one destination.
    TestAlert { destination: String },
    /// Put a dead letter (or every one, with `None`) back in the queue.
    RetryDead { id: Option<i64> },
    /// Let a disabled destination receive deliveries again.
    EnableDestination { name: String },
    /// Read the config file again now.
    Reload,
}

/// How to run the screen.
#[derive(Debug)]
pub struct TuiOptions {
    /// Shown at the top left, e.g. `panelwatch — prod`.
    pub title: String,
    /// The most frames drawn per second; 0 is taken as 1.
    pub max_fps: u32,
    /// Whether to use colours; [`color_from_env`] gives the `NO_COLOR` convention.
    pub color: bool,
    /// Gauges, sparklines and the chart in plain ASCII, for terminals without block glyphs.
    pub ascii: bool,
    /// An extra pane with a title and its lines (newest last), such as the demo's webhook
    /// receiver.
    pub extra_pane: Option<(String, watch::Receiver<Vec<String>>)>,
    /// Where commands go, such as [`UiCommand::Quit`] when the user quits.
    pub commands: Option<mpsc::UnboundedSender<UiCommand>>,
}

impl TuiOptions {
    /// Options with a title, 4 frames per second, colours unless `NO_COLOR` says otherwise,
    /// block glyphs, no extra pane and no command channel.
    pub fn new(title: impl Into<String>) -> TuiOptions {
        TuiOptions {
            title: title.into(),
            max_fps: 4,
            color: color_from_env(),
            ascii: false,
            extra_pane: None,
            commands: None,
        }
    }
}

/// Whether colours are wanted: false when `NO_COLOR` is set to anything but the empty string.
pub fn color_from_env() -> bool {
    color_wanted(std::env::var_os("NO_COLOR"))
}

fn color_wanted(no_color: Option<std::ffi::OsString>) -> bool {
    no_color.is_none_or(|v| v.is_empty())
}

/// Runs the screen until the user quits (`q`, Ctrl-C) or the snapshot sender is dropped.
///
/// A frame is drawn when the snapshot changes, a key arrives or the terminal is resized, at
/// most `max_fps` times per second; the terminal is restored before returning, on error too,
/// and by a panic hook if something panics meanwhile. [`UiCommand::Quit`] is sent on
/// `options.commands` when the user quits.
///
/// # Errors
///
/// Fails when the terminal cannot be put into raw mode or written to, or when reading keys
/// fails; the terminal is restored first. Also fails if a panic elsewhere made the panic
/// hook restore the terminal while the screen was running.
pub async fn run(mut snapshots: watch::Receiver<Snapshot>, options: TuiOptions) -> io::Result<()> {
    let render_options = RenderOptions {
        title: options.title,
        color: options.color,
        ascii: options.ascii,
    };
    let (extra_title, mut extra_rx) = match options.extra_pane {
        Some((title, rx)) => (Some(title), Some(rx)),
        None => (None, None),
    };
    let mut extra_lines = extra_rx
        .as_mut()
        .map(|rx| rx.borrow_and_update().clone())
        .unwrap_or_default();
    let mut snapshot = snapshots.borrow_and_update().clone();
    let mut app = AppState::new(extra_title.is_some());
    app.on_snapshot(&snapshot);
    let mut pacer = FramePacer::new(options.max_fps);

    let _guard = TerminalGuard::enter()?;
    let mut terminal = Terminal::new(CrosstermBackend::new(io::stdout()))?;
    let mut keys = EventStream::new();

    loop {
        if !ACTIVE.load(Ordering::SeqCst) {
            // The panic hook gave the terminal back; drawing now would scribble over the
            // shell and the panic message.
            return Err(io::Error::other("the terminal was restored after a panic"));
        }
        if let Some(at) = pacer.due(Instant::now()) {
            if at <= Instant::now() {
                let extra = extra_title.as_deref().map(|title| Extra {
                    title,
                    lines: &extra_lines,
                });
                let mut areas = None;
                terminal.draw(|frame| {
                    render::draw(frame, &snapshot, &app, &render_options, extra);
                    areas = Some(render::layout(
                        frame.area(),
                        &snapshot,
                        &render_options.title,
                        extra.is_some(),
                    ));
                })?;
                if let Some(areas) = areas {
                    let (events_rows, extra_rows) = areas.log_rows();
                    app.set_log_rows(events_rows, extra_rows, extra_lines.len());
                }
                pacer.drawn(Instant::now());
                continue;
            }
        }
        let wake = pacer.due(Instant::now());

        tokio::select! {
            input = keys.next() => match input {
                Some(Ok(Event::Key(key))) => {
                    if let Some(command) = app.handle_key(key, &snapshot) {
                        let quit = command == UiCommand::Quit;
                        if let Some(tx) = &options.commands {
                            // Nobody listening is fine: the screen still closes on quit.
                            let _ = tx.send(command);
                        }
                        if quit {
                            break;
                        }
                    }
                    pacer.dirty();
                }
                Some(Ok(Event::Resize(..))) => {
                    terminal.autoresize()?;
                    pacer.dirty();
                }
                Some(Ok(_)) => {}
                Some(Err(error)) => return Err(error),
                None => break,
            },
            changed = snapshots.changed() => match changed {
                Ok(()) => {
                    // Clone at once: the borrow must not be held while drawing.
                    snapshot = snapshots.borrow_and_update().clone();
                    app.on_snapshot(&snapshot);
                    pacer.dirty();
                }
                Err(_) => break,
            },
            changed = async { extra_rx.as_mut().expect("guarded").changed().await },
                if extra_rx.is_some() => match changed
            {
                Ok(()) => {
                    extra_lines = extra_rx
                        .as_mut()
                        .map(|rx| rx.borrow_and_update().clone())
                        .unwrap_or_default();
                    pacer.dirty();
                }
                // The extra pane's source went away: keep its last lines.
                Err(_) => extra_rx = None,
            },
            _ = tokio::time::sleep_until(wake.unwrap_or_else(Instant::now)), if wake.is_some() => {}
        }
    }
    Ok(())
}

/// Decides when the next frame may be drawn: only when something changed, and never sooner
/// than one frame interval after the last one.
#[derive(Debug)]
struct FramePacer {
    interval: Duration,
    last: Option<Instant>,
    dirty: bool,
}

impl FramePacer {
    fn new(max_fps: u32) -> FramePacer {
        FramePacer {
            interval: Duration::from_secs(1) / max_fps.max(1),
            last: None,
            dirty: true,
        }
    }

    fn dirty(&mut self) {
        self.dirty = true;
    }

    fn drawn(&mut self, at: Instant) {
        self.last = Some(at);
        self.dirty = false;
    }

    /// When the next frame should be drawn, or `None` when nothing changed.
    fn due(&self, now: Instant) -> Option<Instant> {
        if !self.dirty {
            return None;
        }
        Some(match self.last {
            Some(last) => (last + self.interval).max(now),
            None => now,
        })
    }
}

/// Whether the terminal is in raw mode on the alternate screen, for the panic hook.
static ACTIVE: AtomicBool = AtomicBool::new(false);

/// Puts the terminal back: cooked mode, main screen, cursor shown. Safe to call twice.
fn restore() {
    if ACTIVE.swap(false, Ordering::SeqCst) {
        // Errors are ignored: this runs on the way out, and there is nowhere left to report.
        let _ = disable_raw_mode();
        let _ = execute!(io::stdout(), LeaveAlternateScreen, cursor::Show);
    }
}

/// Holds the terminal in raw mode on the alternate screen and restores it when dropped.
struct TerminalGuard;

impl TerminalGuard {
    fn enter() -> io::Result<TerminalGuard> {
        install_panic_hook();
        ACTIVE.store(true, Ordering::SeqCst);
        // From here on a failure restores whatever was set.
        let guard = TerminalGuard;
        enable_raw_mode()?;
        let mut out: Stdout = io::stdout();
        execute!(out, EnterAlternateScreen, DisableMouseCapture, cursor::Hide)?;
        Ok(guard)
    }
}

impl Drop for TerminalGuard {
    fn drop(&mut self) {
        restore();
    }
}

/// Once per process: a panic restores the terminal first, so the previous hook's message is
/// readable, then runs that hook.
fn install_panic_hook() {
    static ONCE: Once = Once::new();
    ONCE.call_once(|| {
        let previous = panic::take_hook();
        panic::set_hook(Box::new(move |info| {
            restore();
            previous(info);
        }));
    });
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn frames_are_drawn_only_when_dirty_and_at_most_max_fps() {
        let start = Instant::now();
        let mut pacer = FramePacer::new(10);
        assert_eq!(
            pacer.due(start),
            Some(start),
            "the first frame is due at once"
        );
        pacer.drawn(start);
        assert_eq!(pacer.due(start), None, "nothing changed");

        pacer.dirty();
        let soon = start + Duration::from_millis(30);
        assert_eq!(pacer.due(soon), Some(start + Duration::from_millis(100)));
        let late = start + Duration::from_millis(250);
        assert_eq!(pacer.due(late), Some(late));
    }

    #[test]
    fn no_color_set_and_non_empty_turns_colours_off() {
        assert!(color_wanted(None));
        assert!(color_wanted(Some("".into())));
        assert!(!color_wanted(Some("1".into())));
    }

    #[test]
    fn zero_fps_is_taken_as_one() {
        let pacer = FramePacer::new(0);
        assert_eq!(pacer.interval, Duration::from_secs(1));
    }

    #[test]
    fn restore_without_enter_does_nothing() {
        restore();
        assert!(!ACTIVE.load(Ordering::SeqCst));
    }
}
