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

use crate::config::{Config, PanelConfig};
use crate::delivery::dispatch::{self, DispatcherHandle};
use crate::engine::{Engine, PanelRead, PanelReport};
use crate::event::Event;
use crate::history;
use crate::panel::admin::AdminClient;
use crate::panel::PanelErrorKind;
use crate::snapshot::Snapshot;
use crate::store::{Store, StoreError};

/// How often the config file is checked for edits.
const WATCH_EVERY: Duration = Duration::from_secs(1);

/// Why the monitor could not start.
#[derive(Debug, thiserror::Error)]
pub enum StartError {
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// A running monitor.
pub struct Monitor {
    snapshots: watch::Receiver<Snapshot>,
    shutdown: watch::Sender<bool>,
    engine_task: JoinHandle<()>,
    dispatcher: DispatcherHandle,
    store: Arc<Store>,
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
        let store = Arc::new(Store::open(&config.monitor.state_dir)?);
        let engine = Engine::new(Arc::clone(&config), Arc::clone(&store))?;

        let (shutdown, shutdown_rx) = watch::channel(false);
        let (config_tx, config_rx) = watch::channel(Arc::clone(&config));
        let dispatcher =
            dispatch::Dispatcher::spawn(Arc::clone(&store), config_rx, shutdown_rx.clone());
        let initial = engine.snapshot(Utc::now(), delivery_view(&store, &config));
        let (snap_tx, snapshots) = watch::channel(initial);
        let (reload_tx, reload_rx) = mpsc::channel(4);
        if let Some(path) = source.path {
            let text = std::fs::read(&path).unwrap_or_default();
            tokio::spawn(watch_config(path, text, reload_tx, shutdown_rx.clone()));
        }
        let engine_task = tokio::spawn(engine_loop(EngineLoop {
            engine,
            store: Arc::clone(&store),
            config_tx,
            reloads: reload_rx,
            snapshots: snap_tx,
            wake: dispatcher.waker(),
            shutdown: shutdown_rx,
            history: history::History::default(),
        }));
        Ok(Monitor {
            snapshots,
            shutdown,
            engine_task,
            dispatcher,
            store,
        })
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
    history: history::History,
}

async fn engine_loop(mut l: EngineLoop) {
    let (report_tx, mut reports) = mpsc::channel::<PanelReport>(64);
    let mut pollers = Pollers::default();
    pollers.sync(l.engine.config(), &report_tx);
    let mut tick = tokio::time::interval(Duration::from_secs(1));
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);

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
                let now = Utc::now();
                match reload {
                    Ok(config) => {
                        let config = Arc::new(config);
                        match l.engine.reload(Arc::clone(&config), now) {
                            Ok(()) => {
                                pollers.sync(&config, &report_tx);
                                let _ = l.config_tx.send(Arc::clone(&config));
                                l.engine.note(now, "config.reloaded", "config reloaded".into());
                                tracing::info!("config reloaded");
                            }
                            Err(e) => tracing::error!(error = %e, "cannot apply the new config"),
                        }
                    }
                    Err(message) => {
                        let text = format!("config edit refused, still running the previous one: {message}");
                        tracing::warn!(error = message.as_str(), "config edit refused");
                        l.engine.note(now, "config.refused", text.clone());
                        l.engine.set_notice(now, text);
                    }
                }
            }
            _ = tick.tick() => {}
            _ = l.shutdown.changed() => break,
        }
        let config = Arc::clone(l.engine.config());
        let view = delivery_view(&l.store, &config);
        let mut snapshot = l.engine.snapshot(Utc::now(), view);
        l.history.fill(&mut snapshot);
        l.snapshots.send_replace(snapshot);
    }
    pollers.stop_all();
}

/// The outbox figures for the screen; a store error shows as an empty view (and a log line).
fn delivery_view(store: &Store, config: &Config) -> crate::snapshot::DeliveryView {
    dispatch::delivery_view(store, config).unwrap_or_else(|e| {
        tracing::error!(error = %e, "cannot read the outbox figures");
        Default::default()
    })
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
            let task = tokio::spawn(poll_panel(panel.clone(), lookback, tx.clone()));
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
