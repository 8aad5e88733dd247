//! The running monitor: pollers, the engine loop, the dispatcher and the config watcher, wired
//! together with channels.
//!
//! ```text
//!  poller per panel ──PanelReport──► engine loop ──commit──► store ──► dispatcher ──► HTTP
//!  config watcher ──Config/refusal──►     │                               ▲
//!                                         ├──wake─────────────────────────┘
//!                                         └──Snapshot (watch)──► TUI / headless log
//! ```
//!
//! [`Monitor::start`] spawns everything on the current tokio runtime and returns the snapshot
//! channel; [`Monitor::stop`] stops polling, lets in-flight deliveries finish (or leaves them
//! safely in the outbox) and returns. The same engine serves the TUI, headless mode and the
//! demo.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use chrono::Utc;
use tokio::sync::{mpsc, watch};
use tokio::task::JoinHandle;

use crate::config::{Config, PanelConfig, PanelKind};
use crate::delivery::dispatch::{self, DispatcherHandle};
use crate::engine::{Engine, PanelRead, PanelReport};
use crate::event::Event;
use crate::history;
use crate::panel::admin::AdminClient;
use crate::panel::probe::{ProbeHistory, Prober};
use crate::panel::PanelErrorKind;
use crate::snapshot::{IntakeView, Snapshot};
use crate::source::intake::Intake;
use crate::store::{DeliveryState, Store, StoreError};
use crate::tui::UiCommand;

/// How often the config file is checked for edits.
const WATCH_EVERY: Duration = Duration::from_secs(1);

/// Why the monitor could not start.
#[derive(Debug, thiserror::Error)]
pub enum StartError {
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("metrics.listen: cannot listen on {addr}: {cause}")]
    Metrics {
        addr: std::net::SocketAddr,
        cause: std::io::Error,
    },
    #[error(
        "another panelwatch is already running with the state folder {} (two would poll \
         twice and send every alert twice); stop it, or attach to it with `panelwatch tui`",
        .0.display()
    )]
    AlreadyRunning(PathBuf),
    #[error("cannot lock the state folder {}: {cause}", .dir.display())]
    Lock { dir: PathBuf, cause: std::io::Error },
    #[error("cannot listen on the [intake] address: {0}")]
    Intake(std::io::Error),
}

/// A running monitor.
pub struct Monitor {
    snapshots: watch::Receiver<Snapshot>,
    shutdown: watch::Sender<bool>,
    engine_task: JoinHandle<()>,
    dispatcher: DispatcherHandle,
    store: Arc<Store>,
    commands: mpsc::UnboundedSender<UiCommand>,
    /// Held for the monitor's life: one monitor per state folder.
    _lock: std::fs::File,
    intake: Option<Intake>,
}

/// Where the running config comes from, for live reloads.
pub struct ConfigSource {
    pub config: Config,
    /// The file to watch; `None` for a config built in memory (the demo).
    pub path: Option<PathBuf>,
}

impl Monitor {
    pub async fn start(source: ConfigSource) -> Result<Monitor, StartError> {
        let config = Arc::new(source.config);
        let lock = lock_state_dir(&config.monitor.state_dir)?;
        let store = Arc::new(Store::open(&config.monitor.state_dir)?);
        let engine = Engine::new(Arc::clone(&config), Arc::clone(&store))?;
        let metrics = bind_metrics(&config).await?;

        let (shutdown, shutdown_rx) = watch::channel(false);
        let (config_tx, config_rx) = watch::channel(Arc::clone(&config));
        let intake = Intake::start(
            config_tx.subscribe(),
            Arc::clone(&store),
            shutdown_rx.clone(),
        )
        .await
        .map_err(StartError::Intake)?;
        let dispatcher =
            dispatch::Dispatcher::spawn(Arc::clone(&store), config_rx, shutdown_rx.clone());
        let initial = engine.snapshot(Utc::now(), delivery_view(&store, &config));
        let (snap_tx, snapshots) = watch::channel(initial);
        if let Some(listener) = metrics {
            let serve = crate::metrics::serve(listener, snapshots.clone(), shutdown_rx.clone());
            tokio::spawn(serve);
        }
        let (reload_tx, reload_rx) = mpsc::channel(4);
        if let Some(path) = source.path.clone() {
            let text = std::fs::read(&path).unwrap_or_default();
            tokio::spawn(watch_config(path, text, reload_tx, shutdown_rx.clone()));
        }
        let (commands, commands_rx) = mpsc::unbounded_channel();
        let (done_tx, done_rx) = mpsc::unbounded_channel();
        let engine_task = tokio::spawn(engine_loop(EngineLoop {
            engine,
            store: Arc::clone(&store),
            config_tx,
            reloads: reload_rx,
            snapshots: snap_tx,
            wake: dispatcher.waker(),
            shutdown: shutdown_rx,
            commands: commands_rx,
            config_path: source.path,
            done_tx,
            done: done_rx,
            intake: intake.as_ref().map(Intake::counters),
            history: history::History::default(),
        }));
        Ok(Monitor {
            snapshots,
            shutdown,
            engine_task,
            dispatcher,
            store,
            commands,
            _lock: lock,
            intake,
        })
    }

    /// Where screens send their commands (mute, test alert, replay, reload); each command's
    /// outcome comes back as the snapshot's notice and a line of the event history.
    pub fn commands(&self) -> mpsc::UnboundedSender<UiCommand> {
        self.commands.clone()
    }

    /// Where the intake endpoint listens, when `[intake]` is configured.
    pub fn intake_addr(&self) -> Option<std::net::SocketAddr> {
        self.intake.as_ref().map(|i| i.addr)
    }

    pub fn snapshots(&self) -> watch::Receiver<Snapshot> {
        self.snapshots.clone()
    }

    pub fn store(&self) -> &Arc<Store> {
        &self.store
    }

    /// Stops polling and waits for in-flight deliveries; unfinished ones stay in the outbox.
    pub async fn stop(self) {
        let _ = self.shutdown.send(true);
        let _ = self.engine_task.await;
        self.dispatcher.join().await;
        if let Some(intake) = self.intake {
            intake.join().await;
        }
    }
}

/// Binds `[metrics] listen`, when set; the address is read at start only.
async fn bind_metrics(config: &Config) -> Result<Option<tokio::net::TcpListener>, StartError> {
    let Some(addr) = config.metrics.listen else {
        return Ok(None);
    };
    let listener = tokio::net::TcpListener::bind(addr)
        .await
        .map_err(|cause| StartError::Metrics { addr, cause })?;
    let addr = listener.local_addr().unwrap_or(addr);
    tracing::info!(listen = %addr, "serving metrics at /metrics");
    Ok(Some(listener))
}

/// Takes the state folder's lock, so a second monitor on the same state refuses to start
/// instead of polling and alerting twice. The operating system drops the lock with the
/// process, however it ends. Commands that only read or queue (`deliveries`, `mute`) do not
/// take it.
fn lock_state_dir(dir: &Path) -> Result<std::fs::File, StartError> {
    let fail = |cause| StartError::Lock {
        dir: dir.to_path_buf(),
        cause,
    };
    std::fs::create_dir_all(dir).map_err(fail)?;
    let file = std::fs::OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .open(dir.join("panelwatch.lock"))
        .map_err(fail)?;
    match file.try_lock() {
        Ok(()) => Ok(file),
        Err(std::fs::TryLockError::WouldBlock) => {
            Err(StartError::AlreadyRunning(dir.to_path_buf()))
        }
        Err(std::fs::TryLockError::Error(e)) => Err(fail(e)),
    }
}

/// A config edit picked up by the watcher: the new config, or why it was refused.
type Reload = Result<Config, String>;

struct EngineLoop {
    engine: Engine,
    store: Arc<Store>,
    config_tx: watch::Sender<Arc<Config>>,
    reloads: mpsc::Receiver<Reload>,
    snapshots: watch::Sender<Snapshot>,
    wake: dispatch::DeliveryWaker,
    shutdown: watch::Receiver<bool>,
    commands: mpsc::UnboundedReceiver<UiCommand>,
    /// The config file, for the reload command; `None` for a config built in memory.
    config_path: Option<PathBuf>,
    /// Outcomes of commands that finish later (a test alert), as text for the screen.
    done_tx: mpsc::UnboundedSender<String>,
    done: mpsc::UnboundedReceiver<String>,
    /// The intake endpoint's counters, for the screen.
    intake: Option<Arc<std::sync::Mutex<IntakeView>>>,
    history: history::History,
}

async fn engine_loop(mut l: EngineLoop) {
    let (report_tx, mut reports) = mpsc::channel::<PanelReport>(64);
    let mut pollers = Pollers {
        store: Some(Arc::clone(&l.store)),
        ..Pollers::default()
    };
    pollers.sync(l.engine.config(), &report_tx);
    let mut tick = tokio::time::interval(Duration::from_secs(1));
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let mut refusals = Refusals::default();

    loop {
        tokio::select! {
            Some(report) = reports.recv() => {
                let config = l.engine.config();
                let recording = history::Recording::of(&report, config.lookback(&report.panel));
                l.history.spawn_record(&l.store, config.history.clone(), recording);
                match l.engine.on_report(report) {
                    Ok(events) => {
                        if !events.is_empty() {
                            l.wake.wake();
                        }
                        for event in &events {
                            log_event(event);
                        }
                    }
                    Err(e) => {
                        // Nothing moved on: the next poll evaluates again.
                        tracing::error!(error = %e, "cannot record the poll's results");
                        l.engine.set_notice(Utc::now(), format!("state store error: {e}"));
                    }
                }
            }
            Some(reload) = l.reloads.recv() => {
                apply_reload(&mut l, &mut pollers, &report_tx, reload);
            }
            Some(command) = l.commands.recv() => {
                handle_command(&mut l, &mut pollers, &report_tx, command).await;
            }
            Some(text) = l.done.recv() => {
                let now = Utc::now();
                l.engine.note(now, "action", text.clone());
                l.engine.set_notice(now, text);
            }
            _ = tick.tick() => {}
            _ = l.shutdown.changed() => break,
        }
        let config = Arc::clone(l.engine.config());
        let view = delivery_view(&l.store, &config);
        let intake = l
            .intake
            .as_ref()
            .map(|c| c.lock().unwrap_or_else(|p| p.into_inner()).clone());
        if let Some(line) = intake.as_ref().and_then(|i| refusals.note(i)) {
            l.engine.note(Utc::now(), "intake.refused", line);
        }
        let mut snapshot = l.engine.snapshot(Utc::now(), view);
        snapshot.intake = intake;
        l.history.fill(&mut snapshot);
        l.snapshots.send_replace(snapshot);
    }
    pollers.stop_all();
}

/// Applies a config edit (or tells why it was refused).
fn apply_reload(
    l: &mut EngineLoop,
    pollers: &mut Pollers,
    report_tx: &mpsc::Sender<PanelReport>,
    reload: Reload,
) {
    let now = Utc::now();
    match reload {
        Ok(config) => {
            let config = Arc::new(config);
            match l.engine.reload(Arc::clone(&config), now) {
                Ok(()) => {
                    pollers.sync(&config, report_tx);
                    let _ = l.config_tx.send(Arc::clone(&config));
                    l.engine
                        .note(now, "config.reloaded", "config reloaded".into());
                    tracing::info!("config reloaded");
                }
                Err(e) => tracing::error!(error = %e, "cannot apply the new config"),
            }
        }
        Err(message) => {
            let text = format!("config edit refused: {message} (the previous config still runs)");
            tracing::warn!(error = message.as_str(), "config edit refused");
            l.engine.note(now, "config.refused", text.clone());
            l.engine.set_notice(now, text);
        }
    }
}

// ---- Operator commands from the screens (feat-console) ----

/// Carries out one command from a screen. Each outcome is shown as the notice and recorded
/// as an `action` line of the event history; slow ones (a test alert) finish in a task of
/// their own and report through `done`.
async fn handle_command(
    l: &mut EngineLoop,
    pollers: &mut Pollers,
    report_tx: &mpsc::Sender<PanelReport>,
    command: UiCommand,
) {
    let now = Utc::now();
    let text = match command {
        // A screen closing is not the monitor's business.
        UiCommand::Quit => return,
        UiCommand::Mute { target, duration } => {
            // An absurd duration mutes for as long as a date can say, never panics.
            let until = chrono::Duration::from_std(duration)
                .ok()
                .and_then(|d| now.checked_add_signed(d))
                .unwrap_or(chrono::DateTime::<Utc>::MAX_UTC);
            match l.engine.mute(&target, until, now) {
                Ok(done) => format!("{done} ({})", crate::config::format_duration(duration)),
                Err(e) => format!("cannot mute {target}: {e}"),
            }
        }
        UiCommand::Unmute { target } => match l.engine.unmute(&target, now) {
            Ok(true) => format!("unmuted {target}"),
            Ok(false) => format!("{target} was not muted"),
            Err(e) => format!("cannot unmute {target}: {e}"),
        },
        UiCommand::TestAlert { destination } => {
            let config = Arc::clone(l.engine.config());
            let store = Arc::clone(&l.store);
            let done = l.done_tx.clone();
            let name = destination.clone();
            tokio::spawn(async move {
                let destination = name;
                let text = match dispatch::send_test(&config, &store, &destination).await {
                    Ok(o) => format!("test alert to {destination}: {}", o.outcome),
                    Err(e) => format!("test alert to {destination} failed: {e}"),
                };
                let _ = done.send(text);
            });
            format!("sending a test alert to {destination}…")
        }
        UiCommand::RetryDead { id } => match l.store.requeue_dead(id, now) {
            Ok(n) => {
                l.wake.wake();
                match id {
                    Some(id) if n == 0 => format!("delivery {id} is not a dead letter"),
                    Some(id) => format!("dead letter {id} queued for one more attempt"),
                    None => format!("{n} dead letter(s) queued for one more attempt"),
                }
            }
            Err(e) => format!("cannot replay dead letters: {e}"),
        },
        UiCommand::EnableDestination { name } => {
            match dispatch::enable_destination(&l.store, &name) {
                Ok(true) => {
                    l.wake.wake();
                    format!("destination {name} enabled again")
                }
                Ok(false) => format!("destination {name} was not disabled"),
                Err(e) => format!("cannot enable {name}: {e}"),
            }
        }
        UiCommand::Reload => match l.config_path.clone() {
            Some(path) => {
                let reload = Config::load(&path).map_err(|e| e.to_string());
                let ok = reload.is_ok();
                apply_reload(l, pollers, report_tx, reload);
                if !ok {
                    return;
                }
                format!("config reloaded from {}", path.display())
            }
            None => "this monitor's config is built in memory: nothing to reload".into(),
        },
    };
    tracing::info!(target: "panelwatch::action", "{text}");
    l.engine.note(now, "action", text.clone());
    l.engine.set_notice(now, text);
}

// ---- end of operator commands ----

/// Intake refusals already shown in the history, so each new batch is noted once.
#[derive(Default)]
struct Refusals {
    seen: u64,
}

impl Refusals {
    /// A history line when requests were refused since the last look.
    fn note(&mut self, view: &IntakeView) -> Option<String> {
        let total = view.refused_auth + view.refused_stale + view.refused_size + view.refused_other;
        if total <= self.seen {
            return None;
        }
        self.seen = total;
        Some(format!(
            "intake refused {total} request(s) so far: {} bad signature or token, {} stale, \
             {} too large, {} other",
            view.refused_auth, view.refused_stale, view.refused_size, view.refused_other
        ))
    }
}

/// The outbox figures for the screen; a store error shows as an empty view (and a log line).
fn delivery_view(store: &Store, config: &Config) -> crate::snapshot::DeliveryView {
    let mut view = dispatch::delivery_view(store, config).unwrap_or_else(|e| {
        tracing::error!(error = %e, "cannot read the outbox figures");
        Default::default()
    });
    view.items = delivery_lines(store);
    view
}

/// How many undelivered and dead deliveries the deliveries view lists.
const DELIVERY_LINES: usize = 200;

/// The undelivered and dead deliveries, newest first, for the deliveries view.
fn delivery_lines(store: &Store) -> Vec<crate::snapshot::DeliveryLine> {
    let states = [
        DeliveryState::Pending,
        DeliveryState::Retrying,
        DeliveryState::Dead,
    ];
    let list = store
        .deliveries(&states, DELIVERY_LINES)
        .unwrap_or_else(|e| {
            tracing::error!(error = %e, "cannot list the deliveries");
            Vec::new()
        });
    list.into_iter()
        .map(|d| crate::snapshot::DeliveryLine {
            id: d.id,
            destination: d.destination,
            event_type: d.event_type,
            state: d.state.as_str().to_string(),
            attempts: d.attempts,
            next_at: d.next_at,
            last_outcome: d.last_outcome,
        })
        .collect()
}

/// Writes an event as one structured log line (headless mode shows these on stderr).
fn log_event(event: &Event) {
    tracing::info!(
        target: "panelwatch::event",
        id = event.id.0.as_str(),
        r#type = event.kind(),
        panel = event.panel().unwrap_or(""),
        "{}",
        event.summary()
    );
}

/// One polling task per panel, restarted when its config changes.
#[derive(Default)]
struct Pollers {
    running: HashMap<String, (PanelConfig, Duration, JoinHandle<()>)>,
    /// What user API v2 pollers read tracked orders from.
    store: Option<Arc<Store>>,
}

impl Pollers {
    fn sync(&mut self, config: &Config, tx: &mpsc::Sender<PanelReport>) {
        self.running.retain(|name, (panel, lookback, task)| {
            let keep = config
                .panel(name)
                .is_some_and(|p| p == panel && config.lookback(name) == *lookback);
            if !keep {
                task.abort();
            }
            keep
        });
        for panel in &config.panels {
            if self.running.contains_key(&panel.name) {
                continue;
            }
            let lookback = config.lookback(&panel.name);
            let task = match (panel.kind, &self.store) {
                (PanelKind::V2, Some(store)) => tokio::spawn(crate::source::poller::run(
                    panel.clone(),
                    lookback,
                    Arc::clone(store),
                    tx.clone(),
                )),
                _ => tokio::spawn(poll_panel(panel.clone(), lookback, tx.clone())),
            };
            self.running
                .insert(panel.name.clone(), (panel.clone(), lookback, task));
        }
    }

    fn stop_all(&mut self) {
        for (_, (_, _, task)) in self.running.drain() {
            task.abort();
        }
    }
}

async fn poll_panel(panel: PanelConfig, lookback: Duration, tx: mpsc::Sender<PanelReport>) {
    if panel.kind == PanelKind::Http {
        return poll_probes(panel, lookback, tx).await;
    }
    let client = match AdminClient::new(&panel) {
        Ok(c) => c,
        Err(e) => {
            let _ = tx
                .send(PanelReport {
                    panel: panel.name.clone(),
                    at: Utc::now(),
                    outcome: Err(e.to_string()),
                })
                .await;
            return;
        }
    };
    loop {
        let since = Utc::now() - chrono::Duration::from_std(lookback).unwrap_or_default();
        let result = client.fetch_orders(since).await;
        let mut wait = panel.interval;
        let outcome = match result {
            Ok(fetched) => Ok(PanelRead {
                orders: fetched.orders,
                warnings: fetched.warnings,
                elapsed: fetched.elapsed,
                ..PanelRead::default()
            }),
            Err(e) => {
                if let PanelErrorKind::RateLimited {
                    retry_after: Some(after),
                } = &e.kind
                {
                    // Be polite: wait at least until the announced reset, within reason.
                    wait = wait.max((*after).min(Duration::from_secs(3600)));
                }
                Err(e.to_string())
            }
        };
        let report = PanelReport {
            panel: panel.name.clone(),
            at: Utc::now(),
            outcome,
        };
        if tx.send(report).await.is_err() {
            return;
        }
        tokio::time::sleep(wait).await;
    }
}

/// A `kind = "http"` panel: probes every target each interval and reports the lookback's
/// results as orders, so the same rules, windows and alerts apply. A failure is a Canceled
/// order, and its reason goes out once as a warning, naming the probe (never its URL).
async fn poll_probes(panel: PanelConfig, lookback: Duration, tx: mpsc::Sender<PanelReport>) {
    let prober = match Prober::new(&panel) {
        Ok(p) => p,
        Err(e) => {
            let report = PanelReport {
                panel: panel.name.clone(),
                at: Utc::now(),
                outcome: Err(e.to_string()),
            };
            let _ = tx.send(report).await;
            return;
        }
    };
    let mut history = ProbeHistory::new(panel.probes.len(), panel.interval, lookback);
    let mut tick = tokio::time::interval(panel.interval);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tick.tick().await;
        let started = std::time::Instant::now();
        let results = prober.round().await;
        let warnings = results
            .iter()
            .filter_map(|r| {
                let reason = r.failure.as_ref()?;
                Some(format!("probe {:?} failed: {reason}", r.name))
            })
            .collect();
        let since = Utc::now() - chrono::Duration::from_std(lookback).unwrap_or_default();
        history.push(results, since);
        let report = PanelReport {
            panel: panel.name.clone(),
            at: Utc::now(),
            outcome: Ok(PanelRead {
                orders: history.orders(),
                warnings,
                elapsed: started.elapsed(),
                ..PanelRead::default()
            }),
        };
        if tx.send(report).await.is_err() {
            return;
        }
    }
}

/// Checks the config file for edits and hands each changed version, parsed, to the engine.
async fn watch_config(
    path: PathBuf,
    mut last: Vec<u8>,
    tx: mpsc::Sender<Reload>,
    mut shutdown: watch::Receiver<bool>,
) {
    let mut tick = tokio::time::interval(WATCH_EVERY);
    loop {
        tokio::select! {
            _ = tick.tick() => {}
            _ = shutdown.changed() => return,
        }
        let Ok(text) = tokio::fs::read(&path).await else {
            continue;
        };
        if text == last {
            continue;
        }
        last = text;
        let reload = Config::load(&path).map_err(|e| e.to_string());
        if tx.send(reload).await.is_err() {
            return;
        }
    }
}

/// The default log file while the TUI owns the terminal.
pub fn log_path(state_dir: &Path) -> PathBuf {
    state_dir.join("panelwatch.log")
}

/// Resolves on SIGINT or SIGTERM.
pub async fn wait_for_signal() {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{signal, SignalKind};
        match signal(SignalKind::terminate()) {
            Ok(mut term) => {
                tokio::select! {
                    _ = tokio::signal::ctrl_c() => {}
                    _ = term.recv() => {}
                }
            }
            Err(_) => {
                let _ = tokio::signal::ctrl_c().await;
            }
        }
    }
    #[cfg(not(unix))]
    {
        let _ = tokio::signal::ctrl_c().await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Waits, with a generous deadline, for a snapshot whose notice contains `text`.
    async fn notice(rx: &mut watch::Receiver<Snapshot>, text: &str) -> Snapshot {
        let wait = async {
            loop {
                {
                    let snap = rx.borrow_and_update();
                    if snap.notice.as_ref().is_some_and(|(_, n)| n.contains(text)) {
                        return snap.clone();
                    }
                }
                rx.changed().await.expect("the monitor runs");
            }
        };
        tokio::time::timeout(Duration::from_secs(20), wait)
            .await
            .unwrap_or_else(|_| panic!("no notice with {text:?}"))
    }

    #[tokio::test]
    async fn a_second_monitor_on_the_same_state_refuses_to_start() {
        let dir = tempfile::tempdir().unwrap();
        let config = || {
            crate::demo::config(
                "http://127.0.0.1:9",
                "key",
                "http://127.0.0.1:9",
                &crate::demo::secret(),
                dir.path(),
            )
        };
        let first = Monitor::start(ConfigSource {
            config: config(),
            path: None,
        })
        .await
        .unwrap();
        let second = Monitor::start(ConfigSource {
            config: config(),
            path: None,
        })
        .await;
        assert!(matches!(second, Err(StartError::AlreadyRunning(_))));
        first.stop().await;
        let again = Monitor::start(ConfigSource {
            config: config(),
            path: None,
        })
        .await;
        assert!(again.is_ok(), "the lock goes with the monitor");
    }

    #[tokio::test]
    async fn commands_are_carried_out_and_recorded_in_the_history() {
        let dir = tempfile::tempdir().unwrap();
        let config = crate::demo::config(
            "http://127.0.0.1:9",
            "key",
            "http://127.0.0.1:9",
            &crate::demo::secret(),
            dir.path(),
        );
        let monitor = Monitor::start(ConfigSource { config, path: None })
            .await
            .unwrap();
        let mut rx = monitor.snapshots();
        let tx = monitor.commands();

        tx.send(UiCommand::Mute {
            target: "demo-panel/17".into(),
            duration: Duration::from_secs(3600),
        })
        .unwrap();
        let snap = notice(&mut rx, "muted demo-panel/17 until").await;
        assert!(snap
            .events
            .iter()
            .any(|e| e.kind == "action" && e.summary.starts_with("muted demo-panel/17")));
        let rows = monitor.store().states("mute/").unwrap();
        assert_eq!(rows.len(), 1);
        assert_eq!(rows[0].0, "mute/demo-panel/17");

        tx.send(UiCommand::Unmute {
            target: "demo-panel/17".into(),
        })
        .unwrap();
        notice(&mut rx, "unmuted demo-panel/17").await;
        assert!(monitor.store().states("mute/").unwrap().is_empty());

        tx.send(UiCommand::RetryDead { id: None }).unwrap();
        notice(&mut rx, "0 dead letter(s) queued").await;
        tx.send(UiCommand::Reload).unwrap();
        notice(&mut rx, "nothing to reload").await;
        tx.send(UiCommand::EnableDestination {
            name: "demo-slack".into(),
        })
        .unwrap();
        notice(&mut rx, "demo-slack was not disabled").await;
        tx.send(UiCommand::TestAlert {
            destination: "nowhere".into(),
        })
        .unwrap();
        notice(&mut rx, "test alert to nowhere failed").await;

        monitor.stop().await;
    }
}
