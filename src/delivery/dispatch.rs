//! The dispatcher: works the outbox, one worker per destination, until shutdown.
//!
//! ```text
//!  engine ── Store::commit(events + deliveries) ──► outbox (SQLite)
//!     │                                                │ due_deliveries (oldest per subject)
//!     └── DispatcherHandle::wake() ──► worker "ops" ◄──┤
//!                                      worker "backend" ◄┘ ... one per destination
//!                                        │ attempt::send (render, sign, POST once)
//!                                        │ classify ► decide (schedule, dead letter)
//!                                        └► record_attempts (one transaction per batch)
//! ```
//!
//! Rows are the only queue: a delivery stays open until its attempt is recorded, so a crash
//! or a shutdown mid-attempt sends it again later (at least once, never lost), and receivers
//! deduplicate by `webhook-id`. Each destination has its own worker, so a slow or dead one
//! never holds up the others. `custom` destinations get a whole batch at once (the store hands
//! out one delivery per subject, so order within a subject holds); chat destinations get one
//! message at a time, paced to their rate limits. This module does not decide which events
//! exist; [`destinations_for`] says who should receive one, and the engine commits them.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, Utc};
use tokio::sync::watch;
use tokio::task::{JoinHandle, JoinSet};
use tokio::time::Instant;

use crate::config::{format_duration, Config, DestinationConfig, DestinationKind};
use crate::delivery::attempt::{self, Attempt};
use crate::delivery::classify::Verdict;
use crate::delivery::schedule;
use crate::event::{DestinationData, Event, EventBody, TestData};
use crate::snapshot::{DeliveryCount, DeliveryView, DestinationView};
use crate::store::{
    AttemptRecord, AttemptResult, Batch, Delivery, DeliveryState, Store, StoreError,
};

/// Deliveries fetched at once for a `custom` destination, and sent concurrently.
pub const BATCH: usize = 128;
/// Deliveries fetched at once for a chat destination (sent one at a time).
const CHAT_BATCH: usize = 16;
/// How often a disabled destination looks whether it was re-enabled (from another process).
const DISABLED_RECHECK: Duration = Duration::from_secs(2);
/// A pause after a store error, before trying again.
const STORE_BACKOFF: Duration = Duration::from_secs(1);
/// The longest an idle worker sleeps without a wake: other processes (`panelwatch deliveries
/// retry`, `test-alert`) change the outbox without being able to wake this one.
const IDLE_RECHECK: Duration = Duration::from_secs(2);
/// How long a test delivery is kept from the dispatcher while `send_test` attempts it.
const TEST_LEASE_MARGIN: Duration = Duration::from_secs(30);

/// The outcome of a delivery that is waiting for a destination no longer configured.
pub const NOT_IN_CONFIG: &str = "destination not in config";
/// How the outcome of every dead letter starts. A delivery that is open again with such an
/// outcome was replayed by the operator (`Store::requeue_dead`) and gets one attempt only.
pub const GAVE_UP: &str = "gave up";

/// A failure the caller of this module sees.
#[derive(Debug, thiserror::Error)]
pub enum DeliveryError {
    #[error("no webhook named {0:?} in the config")]
    UnknownDestination(String),
    #[error("the test delivery to {0:?} was recorded but cannot be read back")]
    TestLost(String),
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// Starts dispatchers; see [`Dispatcher::spawn`].
pub struct Dispatcher;

/// Wakes the dispatcher's workers to look at the outbox now. Cheap to clone and call; a wake
/// while a worker is busy is remembered, never lost.
#[derive(Clone)]
pub struct DeliveryWaker(Arc<watch::Sender<u64>>);

impl DeliveryWaker {
    pub fn wake(&self) {
        self.0.send_modify(|n| *n = n.wrapping_add(1));
    }
}

/// A running dispatcher.
pub struct DispatcherHandle {
    waker: DeliveryWaker,
    task: JoinHandle<()>,
}

impl DispatcherHandle {
    /// Tells the workers that new deliveries were committed.
    pub fn wake(&self) {
        self.waker.wake();
    }

    /// A waker to hand to whoever commits events.
    pub fn waker(&self) -> DeliveryWaker {
        self.waker.clone()
    }

    /// Waits for the dispatcher to stop after shutdown was signalled: attempts in flight
    /// finish (each bounded by the attempt timeout) and are recorded; nothing else starts.
    pub async fn join(self) {
        if let Err(e) = self.task.await {
            if e.is_panic() {
                std::panic::resume_unwind(e.into_panic());
            }
        }
    }
}

struct Shared {
    store: Arc<Store>,
    client: reqwest::Client,
    waker: DeliveryWaker,
}

impl Dispatcher {
    /// Starts working the outbox of `store` with the destinations of the latest `config`.
    /// Setting `shutdown` to `true` (or dropping its sender) stops it; then await
    /// [`DispatcherHandle::join`]. Must be called within a Tokio runtime.
    pub fn spawn(
        store: Arc<Store>,
        config: watch::Receiver<Arc<Config>>,
        shutdown: watch::Receiver<bool>,
    ) -> DispatcherHandle {
        let (wake, _) = watch::channel(0u64);
        let waker = DeliveryWaker(Arc::new(wake));
        let shared = Arc::new(Shared {
            store,
            client: attempt::client(),
            waker: waker.clone(),
        });
        let task = tokio::spawn(supervise(shared, config, shutdown));
        DispatcherHandle { waker, task }
    }
}

/// Starts a worker for every configured destination (and for new ones after a reload), and
/// notes deliveries waiting for destinations the config no longer has.
async fn supervise(
    shared: Arc<Shared>,
    mut config: watch::Receiver<Arc<Config>>,
    mut shutdown: watch::Receiver<bool>,
) {
    let mut workers: HashMap<String, JoinHandle<()>> = HashMap::new();
    let mut config_open = true;
    loop {
        let current = config.borrow_and_update().clone();
        for dest in &current.webhooks {
            if !workers.contains_key(&dest.name) {
                let task = tokio::spawn(worker(
                    shared.clone(),
                    dest.name.clone(),
                    config.clone(),
                    shutdown.clone(),
                ));
                workers.insert(dest.name.clone(), task);
            }
        }
        if let Err(e) = note_unconfigured(&shared.store, &current).await {
            tracing::warn!(error = %e, "cannot check for deliveries to removed destinations");
        }

        tokio::select! {
            changed = config.changed(), if config_open => config_open = changed.is_ok(),
            _ = stopped(&mut shutdown) => break,
        }
    }

    for (_, task) in workers {
        if let Err(e) = task.await {
            if e.is_panic() {
                std::panic::resume_unwind(e.into_panic());
            }
        }
    }
}

async fn note_unconfigured(store: &Arc<Store>, config: &Arc<Config>) -> Result<(), StoreError> {
    let config = config.clone();
    blocking(store, move |s| {
        for name in s.open_destinations()? {
            if config.destination(&name).is_none() && s.note_waiting(&name, NOT_IN_CONFIG)? > 0 {
                tracing::warn!(destination = %name, "deliveries wait for a destination not in config");
            }
        }
        Ok(())
    })
    .await
}

/// Resolves when shutdown is signalled or its sender is gone.
async fn stopped(shutdown: &mut watch::Receiver<bool>) {
    let _ = shutdown.wait_for(|stop| *stop).await;
}

fn stopping(shutdown: &watch::Receiver<bool>) -> bool {
    *shutdown.borrow() || shutdown.has_changed().is_err()
}

/// Runs a store call off the async threads.
async fn blocking<T: Send + 'static>(
    store: &Arc<Store>,
    call: impl FnOnce(&Store) -> T + Send + 'static,
) -> T {
    let store = store.clone();
    match tokio::task::spawn_blocking(move || call(&store)).await {
        Ok(v) => v,
        Err(e) => std::panic::resume_unwind(e.into_panic()),
    }
}

/// What a worker does after one look at the outbox.
enum Step {
    /// More may be due: look again at once.
    Again,
    /// Nothing due: wait this long (or for a wake; `None` is until a wake).
    Sleep(Option<Duration>),
}

/// One destination's loop: fetch what is due, send it, record it, sleep until the next due
/// time or a wake.
async fn worker(
    shared: Arc<Shared>,
    name: String,
    mut config: watch::Receiver<Arc<Config>>,
    mut shutdown: watch::Receiver<bool>,
) {
    let mut wake = shared.waker.0.subscribe();
    let mut config_open = true;
    let mut pace_until = Instant::now();
    loop {
        if stopping(&shutdown) {
            break;
        }
        let current = config.borrow_and_update().clone();
        let wait = match current.destination(&name) {
            // Removed from the config: its deliveries wait, the worker idles until a reload.
            None => None,
            Some(dest) => match step(&shared, &current, dest, &mut pace_until, &shutdown).await {
                Ok(Step::Again) => continue,
                Ok(Step::Sleep(wait)) => wait,
                Err(e) => {
                    tracing::warn!(destination = %name, error = %e, "outbox unreadable");
                    Some(STORE_BACKOFF)
                }
            },
        };

        tokio::select! {
            _ = wake.changed() => {}
            changed = config.changed(), if config_open => config_open = changed.is_ok(),
            _ = tokio::time::sleep(wait.map_or(IDLE_RECHECK, |w| w.min(IDLE_RECHECK))) => {}
            _ = stopped(&mut shutdown) => break,
        }
    }
    tracing::debug!(destination = %name, "worker stopped");
}

async fn step(
    shared: &Arc<Shared>,
    config: &Arc<Config>,
    dest: &DestinationConfig,
    pace_until: &mut Instant,
    shutdown: &watch::Receiver<bool>,
) -> Result<Step, StoreError> {
    let name = dest.name.clone();
    let state = blocking(&shared.store, move |s| s.destination_state(&name)).await?;
    if state.disabled.is_some() {
        return Ok(Step::Sleep(Some(DISABLED_RECHECK)));
    }

    let name = dest.name.clone();
    let limit = match dest.kind {
        DestinationKind::Custom => BATCH,
        _ => CHAT_BATCH,
    };
    let now = Utc::now();
    let due = blocking(&shared.store, move |s| s.due_deliveries(&name, now, limit)).await?;
    if due.is_empty() {
        let name = dest.name.clone();
        let next = blocking(&shared.store, move |s| s.next_attempt_at(&name)).await?;
        let wait = next.map(|at| (at - Utc::now()).to_std().unwrap_or(Duration::ZERO));
        return Ok(match wait {
            Some(Duration::ZERO) => Step::Again,
            // A millisecond late, so the row is due when looked at (times are in ms).
            wait => Step::Sleep(wait.map(|w| w + Duration::from_millis(1))),
        });
    }

    let chat = state.chat_override;
    if dest.kind == DestinationKind::Custom {
        send_batch(shared, config, dest, due).await?;
    } else {
        send_paced(shared, config, dest, due, chat, pace_until, shutdown).await?;
    }
    Ok(Step::Again)
}

/// Sends a batch to a `custom` destination all at once, then records it in one transaction.
/// Attempts in flight are never cancelled: each ends within the attempt timeout.
async fn send_batch(
    shared: &Arc<Shared>,
    config: &Arc<Config>,
    dest: &DestinationConfig,
    due: Vec<Delivery>,
) -> Result<(), StoreError> {
    let target = Arc::new(dest.clone());
    let keys = Arc::new(attempt::signing_keys(dest));
    let timeout = config.delivery.timeout;
    let mut running = JoinSet::new();
    for delivery in due {
        let (client, target, keys) = (shared.client.clone(), target.clone(), keys.clone());
        running.spawn(async move {
            let done = attempt::send(&client, &target, &keys, &delivery, None, timeout).await;
            (delivery, done)
        });
    }
    let mut results = Vec::with_capacity(running.len());
    while let Some(joined) = running.join_next().await {
        match joined {
            Ok(result) => results.push(result),
            Err(e) if e.is_panic() => std::panic::resume_unwind(e.into_panic()),
            Err(_) => {}
        }
    }
    finish(&shared.store, &shared.waker, config, &dest.name, results).await?;
    Ok(())
}

/// Sends to a chat destination one message at a time, at the pace it allows, recording each.
async fn send_paced(
    shared: &Arc<Shared>,
    config: &Arc<Config>,
    dest: &DestinationConfig,
    due: Vec<Delivery>,
    mut chat: Option<String>,
    pace_until: &mut Instant,
    shutdown: &watch::Receiver<bool>,
) -> Result<(), StoreError> {
    let keys = attempt::signing_keys(dest);
    let mut shutdown = shutdown.clone();
    for delivery in due {
        tokio::select! {
            _ = tokio::time::sleep_until(*pace_until) => {}
            _ = stopped(&mut shutdown) => return Ok(()),
        }
        let timeout = config.delivery.timeout;
        let done = attempt::send(
            &shared.client,
            dest,
            &keys,
            &delivery,
            chat.as_deref(),
            timeout,
        )
        .await;
        let announced = match &done.verdict {
            Verdict::Retry { after } => *after,
            _ => None,
        };
        let pause = [Some(pace(dest.kind)), done.pause, announced]
            .into_iter()
            .flatten()
            .max()
            .unwrap_or_default();
        *pace_until = Instant::now() + pause;

        let settled = finish(
            &shared.store,
            &shared.waker,
            config,
            &dest.name,
            vec![(delivery, done)],
        )
        .await?;
        if settled.disabled {
            return Ok(());
        }
        if let Some(new_chat) = settled.migrated {
            chat = Some(new_chat);
        }
        if stopping(&shutdown) {
            return Ok(());
        }
    }
    Ok(())
}

/// The least time between two messages to a chat destination.
fn pace(kind: DestinationKind) -> Duration {
    match kind {
        DestinationKind::Slack | DestinationKind::Telegram | DestinationKind::Discord => {
            Duration::from_secs(1)
        }
        DestinationKind::Teams => Duration::from_millis(250),
        DestinationKind::Custom => Duration::ZERO,
    }
}

/// What a delivery row and its destination need after an attempt.
#[derive(Debug, Default)]
struct Settled {
    /// The destination was disabled by this batch.
    disabled: bool,
    /// Telegram moved the chat to this id.
    migrated: Option<String>,
}

/// Decides, records and logs a batch of attempts, then updates the destination's standing.
async fn finish(
    store: &Arc<Store>,
    waker: &DeliveryWaker,
    config: &Arc<Config>,
    destination: &str,
    results: Vec<(Delivery, Attempt)>,
) -> Result<Settled, StoreError> {
    let now = Utc::now();
    let schedule = &config.delivery.retry_schedule;
    let mut records = Vec::with_capacity(results.len());
    let mut gone = None;
    let mut migrated = None;
    let mut any_delivered = false;
    let mut last_outcome = String::new();
    for (delivery, done) in &results {
        let jitter = schedule::jitter_factor(&mut rand::rng());
        let record = decide(delivery, done, schedule, now, jitter);
        log_attempt(destination, delivery, done, &record);
        match &done.verdict {
            Verdict::Delivered => any_delivered = true,
            Verdict::Gone { reason } => gone = Some(reason.clone()),
            Verdict::MigrateChat { chat_id } => migrated = Some(chat_id.clone()),
            _ => {}
        }
        last_outcome.clone_from(&done.outcome);
        records.push(record);
    }

    let config = config.clone();
    let name = destination.to_string();
    let chat = migrated.clone();
    let disabled = blocking(store, move |s| {
        s.record_attempts(&records)?;
        let report = Report {
            any_delivered,
            last_outcome,
            gone,
            migrated: chat,
        };
        settle(s, &config, &name, report, now)
    })
    .await?;
    if disabled {
        waker.wake();
    }
    Ok(Settled { disabled, migrated })
}

/// What a delivery row becomes after an attempt.
fn decide(
    delivery: &Delivery,
    done: &Attempt,
    schedule: &[Duration],
    now: DateTime<Utc>,
    jitter: f64,
) -> AttemptRecord {
    let attempts = delivery.attempts + 1;
    let replay = is_replay(delivery);
    let retry = |announced: Option<Duration>, outcome: &str| {
        if replay {
            return (
                AttemptResult::Dead,
                format!("{GAVE_UP} after a replay: {outcome}"),
            );
        }
        match schedule::next_delay(schedule, attempts, announced, jitter) {
            Some(delay) => (AttemptResult::Retry(now + delay), outcome.to_string()),
            None => (
                AttemptResult::Dead,
                format!("{GAVE_UP} after {attempts} attempts: {outcome}"),
            ),
        }
    };
    let (result, outcome) = match &done.verdict {
        Verdict::Delivered => (AttemptResult::Delivered, done.outcome.clone()),
        Verdict::Retry { after } => retry(*after, &done.outcome),
        Verdict::Refused { .. } | Verdict::Gone { .. } => retry(None, &done.outcome),
        Verdict::Permanent { .. } => (AttemptResult::Dead, format!("{GAVE_UP}: {}", done.outcome)),
        Verdict::MigrateChat { .. } => (
            AttemptResult::Retry(now),
            "telegram moved the chat; sending to the new id".to_string(),
        ),
    };
    AttemptRecord {
        delivery: delivery.id,
        result,
        status: done.status,
        outcome,
        at: now,
    }
}

/// A dead letter the operator put back in the queue: it is open again, and its outcome still
/// says how it died.
fn is_replay(delivery: &Delivery) -> bool {
    delivery.state == DeliveryState::Retrying
        && delivery
            .last_outcome
            .as_deref()
            .is_some_and(|o| o.starts_with(GAVE_UP))
}

fn log_attempt(destination: &str, delivery: &Delivery, done: &Attempt, record: &AttemptRecord) {
    let attempt = delivery.attempts + 1;
    let event = delivery.event_id.as_str();
    let latency_ms = done.latency.as_millis() as u64;
    match (&done.verdict, &record.result) {
        (Verdict::Delivered, _) => tracing::debug!(
            destination,
            event,
            attempt,
            status = done.status,
            latency_ms,
            "delivered"
        ),
        (_, AttemptResult::Dead) => tracing::warn!(
            destination, event, attempt, status = done.status, outcome = %record.outcome,
            "delivery gave up"
        ),
        _ => tracing::info!(
            destination, event, attempt, status = done.status, outcome = %done.outcome,
            "delivery failed; will retry"
        ),
    }
}

/// A batch's effect on its destination.
struct Report {
    any_delivered: bool,
    last_outcome: String,
    gone: Option<String>,
    migrated: Option<String>,
}

/// Updates a destination's standing after a batch; disables it after a 410 (or the like) or
/// after failing without a success for `disable_after`, and then tells the other
/// destinations. Returns whether this batch disabled it.
fn settle(
    store: &Store,
    config: &Config,
    name: &str,
    report: Report,
    now: DateTime<Utc>,
) -> Result<bool, StoreError> {
    let mut state = store.destination_state(name)?;
    if report.any_delivered {
        state.last_success = Some(now);
        state.failing_since = None;
    } else {
        state.failing_since.get_or_insert(now);
    }
    state.last_outcome = Some(report.last_outcome);
    state.last_at = Some(now);
    if let Some(chat) = report.migrated {
        state.chat_override = Some(chat);
    }
    let failing_too_long = state.failing_since.filter(|since| {
        (now - *since).to_std().unwrap_or_default() >= config.delivery.disable_after
    });
    let reason = match (&state.disabled, report.gone, failing_too_long) {
        (Some(_), _, _) => None,
        (None, Some(gone), _) => Some(gone),
        (None, None, Some(since)) => Some(format!(
            "no successful delivery for {} (failing since {})",
            format_duration(config.delivery.disable_after),
            since.to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
        )),
        (None, None, None) => None,
    };
    state.disabled = reason.clone().or(state.disabled);
    store.save_destination_state(name, &state)?;

    let Some(reason) = reason else {
        return Ok(false);
    };
    tracing::warn!(destination = name, reason = %reason, "destination disabled");
    let event = Event::new(
        now,
        config.monitor.timezone,
        EventBody::DestinationDisabled(DestinationData {
            destination: name.to_string(),
            reason,
        }),
    );
    let others = destinations_for(config, &event, &[]);
    store.commit(
        &Batch {
            events: vec![(&event, others)],
            states: vec![],
        },
        now,
    )?;
    Ok(true)
}

/// Who should receive `event`: for alerts (stuck orders included), the rule's `named` destinations that want its
/// type; for panel events, every destination that wants them; a test goes to the destination
/// it names only; `destination.disabled` never goes to the destination it disables. Names not
/// in the config are left out.
pub fn destinations_for(config: &Config, event: &Event, named: &[String]) -> Vec<String> {
    let kind = event.kind();
    let mut out: Vec<String> = match &event.body {
        EventBody::AlertFired(_)
        | EventBody::AlertResolved(_)
        | EventBody::AlertReminder(_)
        | EventBody::OrdersStuck(_)
        | EventBody::OrdersUnstuck(_) => named
            .iter()
            .filter(|n| config.destination(n).is_some_and(|d| d.wants(kind)))
            .cloned()
            .collect(),
        EventBody::PanelDown(_)
        | EventBody::PanelUp(_)
        | EventBody::BalanceLow(_)
        | EventBody::BalanceRecovered(_)
        | EventBody::PanelDegraded(_)
        | EventBody::PanelRecovered(_)
        | EventBody::ServiceChanged(_)
        | EventBody::OrderUpdated(_) => config
            .webhooks
            .iter()
            .filter(|d| d.wants(kind))
            .map(|d| d.name.clone())
            .collect(),
        EventBody::DestinationDisabled(d) => config
            .webhooks
            .iter()
            .filter(|w| w.name != d.destination && w.wants(kind))
            .map(|w| w.name.clone())
            .collect(),
        EventBody::Test(t) => config
            .destination(&t.destination)
            .map(|d| vec![d.name.clone()])
            .unwrap_or_default(),
    };
    let mut seen = std::collections::HashSet::new();
    out.retain(|n| seen.insert(n.clone()));
    out
}

/// Lets a disabled destination receive deliveries again; its queued deliveries resume (at
/// once in this process after a wake, within a few seconds otherwise). Returns whether it was
/// disabled.
pub fn enable_destination(store: &Store, name: &str) -> Result<bool, StoreError> {
    let mut state = store.destination_state(name)?;
    let was = state.disabled.take().is_some();
    state.failing_since = None;
    store.save_destination_state(name, &state)?;
    if was {
        tracing::info!(destination = name, "destination re-enabled");
    }
    Ok(was)
}

/// What `panelwatch test-alert` reports.
#[derive(Clone, Debug)]
pub struct TestOutcome {
    pub event_id: String,
    /// The HTTP status, when there was an answer.
    pub status: Option<u16>,
    pub latency: Duration,
    pub verdict: Verdict,
    /// The outcome as stored: a few words, no secrets.
    pub outcome: String,
}

/// Records a `test` event for one destination through the outbox and makes its first attempt
/// at once, returning what happened; a failed test stays in the outbox and is retried like any
/// delivery. Takes at most the attempt timeout.
///
/// The delivery is committed with its first due time pushed back by the attempt timeout plus
/// a margin (so its `created_at` is that much late): a dispatcher running at the same time,
/// in this process or another, leaves it alone while this call attempts it, and takes it over
/// only if this process dies before recording the attempt.
pub async fn send_test(
    config: &Config,
    store: &Arc<Store>,
    destination: &str,
) -> Result<TestOutcome, DeliveryError> {
    let dest = config
        .destination(destination)
        .ok_or_else(|| DeliveryError::UnknownDestination(destination.to_string()))?
        .clone();
    let now = Utc::now();
    let event = Event::new(
        now,
        config.monitor.timezone,
        EventBody::Test(TestData {
            destination: dest.name.clone(),
            message: "A test alert from panelwatch: deliveries to this destination work.".into(),
        }),
    );
    let lease = config.delivery.timeout + TEST_LEASE_MARGIN;
    let leased_until = now + lease;
    let (id, name) = (event.id.0.clone(), dest.name.clone());
    let delivery = blocking(store, move |s| {
        s.commit(
            &Batch {
                events: vec![(&event, vec![name.clone()])],
                states: vec![],
            },
            leased_until,
        )?;
        let state = s.destination_state(&name)?;
        Ok::<_, StoreError>((s.delivery_of(&id, &name)?, state.chat_override))
    })
    .await?;
    let (Some(delivery), chat) = delivery else {
        return Err(DeliveryError::TestLost(dest.name.clone()));
    };

    let client = attempt::client();
    let keys = attempt::signing_keys(&dest);
    let done = attempt::send(
        &client,
        &dest,
        &keys,
        &delivery,
        chat.as_deref(),
        config.delivery.timeout,
    )
    .await;
    let outcome = TestOutcome {
        event_id: delivery.event_id.clone(),
        status: done.status,
        latency: done.latency,
        verdict: done.verdict.clone(),
        outcome: done.outcome.clone(),
    };
    let (tx, _) = watch::channel(0);
    let waker = DeliveryWaker(Arc::new(tx));
    finish(
        store,
        &waker,
        &Arc::new(config.clone()),
        &dest.name,
        vec![(delivery, done)],
    )
    .await?;
    Ok(outcome)
}

/// The outbox as the screen shows it: counts, and one line per destination (configured ones
/// first, then any that still has deliveries but is no longer configured).
pub fn delivery_view(store: &Store, config: &Config) -> Result<DeliveryView, StoreError> {
    let counts = store.outbox_counts()?;
    let count = |s| counts.by_state.get(&s).copied().unwrap_or(0);
    let mut destinations = Vec::new();
    for dest in &config.webhooks {
        let state = store.destination_state(&dest.name)?;
        destinations.push(DestinationView {
            name: dest.name.clone(),
            kind: dest.kind.label().to_string(),
            disabled: state.disabled,
            last_outcome: state.last_outcome,
            last_at: state.last_at,
            queued: counts.queued.get(&dest.name).copied().unwrap_or(0),
        });
    }
    let mut orphans: Vec<_> = counts
        .queued
        .iter()
        .filter(|(name, _)| config.destination(name).is_none())
        .collect();
    orphans.sort();
    for (name, queued) in orphans {
        destinations.push(DestinationView {
            name: name.clone(),
            kind: "unknown".into(),
            disabled: None,
            last_outcome: Some(NOT_IN_CONFIG.into()),
            last_at: None,
            queued: *queued,
        });
    }
    let by_destination = store
        .delivery_counts()?
        .into_iter()
        .map(|(destination, state, count)| DeliveryCount {
            destination,
            state: state.as_str().to_string(),
            count,
        })
        .collect();
    Ok(DeliveryView {
        pending: count(DeliveryState::Pending),
        retrying: count(DeliveryState::Retrying),
        dead: count(DeliveryState::Dead),
        destinations,
        by_destination,
        items: Vec::new(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::{DeliveryConfig, MonitorConfig, Secret, SignatureStyle, UiConfig};
    use crate::event::PanelData;

    fn dest(name: &str, events: &[&str]) -> DestinationConfig {
        DestinationConfig {
            name: name.into(),
            kind: DestinationKind::Custom,
            url: Secret::new("http://127.0.0.1:9/h"),
            secret: None,
            secret_next: None,
            signature: SignatureStyle::StandardWebhooks,
            events: events.iter().map(|e| e.to_string()).collect(),
            headers: vec![],
            bot_token: None,
            chat_id: None,
        }
    }

    fn config() -> Config {
        Config {
            monitor: MonitorConfig {
                state_dir: "/tmp".into(),
                timezone: chrono_tz::UTC,
                history: 10,
            },
            ui: UiConfig { max_fps: 4 },
            delivery: DeliveryConfig {
                timeout: Duration::from_secs(5),
                retry_schedule: vec![Duration::from_secs(10), Duration::from_secs(20)],
                disable_after: Duration::from_secs(3600),
            },
            metrics: Default::default(),
            panels: vec![],
            rules: vec![],
            maintenance: vec![],
            intake: None,
            history: Default::default(),
            webhooks: vec![
                dest("ops", &[]),
                dest("alerts-only", &["alert.*"]),
                dest("panels-only", &["panel.*", "destination.*"]),
            ],
        }
    }

    fn event(body: EventBody) -> Event {
        Event::new(Utc::now(), chrono_tz::UTC, body)
    }

    fn delivery(attempts: u32, state: DeliveryState, outcome: Option<&str>) -> Delivery {
        Delivery {
            id: 1,
            event_id: "evt_1".into(),
            event_type: "test".into(),
            destination: "ops".into(),
            state,
            attempts,
            next_at: Utc::now(),
            created_at: Utc::now(),
            last_outcome: outcome.map(String::from),
            last_status: None,
            body: "{}".into(),
        }
    }

    fn attempt(verdict: Verdict) -> Attempt {
        Attempt {
            status: Some(500),
            verdict,
            outcome: "HTTP 500".into(),
            latency: Duration::from_millis(3),
            pause: None,
        }
    }

    #[test]
    fn who_receives_what() {
        let c = config();
        let down = event(EventBody::PanelDown(PanelData {
            panel: "main".into(),
            reason: None,
            since: None,
        }));
        assert_eq!(destinations_for(&c, &down, &[]), vec!["ops", "panels-only"]);
        let disabled = event(EventBody::DestinationDisabled(DestinationData {
            destination: "ops".into(),
            reason: "HTTP 410 Gone".into(),
        }));
        assert_eq!(destinations_for(&c, &disabled, &[]), vec!["panels-only"]);
        let test = event(EventBody::Test(TestData {
            destination: "alerts-only".into(),
            message: "hi".into(),
        }));
        assert_eq!(destinations_for(&c, &test, &[]), vec!["alerts-only"]);
        let named: Vec<String> = ["ops", "panels-only", "alerts-only", "nope", "ops"]
            .iter()
            .map(|s| s.to_string())
            .collect();
        let fired = event(EventBody::AlertResolved(crate::event::AlertData {
            panel: "main".into(),
            service: None,
            provider: Some("p".into()),
            rule: "r".into(),
            success_rate: 0.9,
            alert_below: 0.8,
            resolve_above: 0.85,
            window: "1h".into(),
            orders: Default::default(),
        }));
        assert_eq!(
            destinations_for(&c, &fired, &named),
            vec!["ops", "alerts-only"]
        );
    }

    #[test]
    fn decisions_follow_the_schedule_and_the_verdict() {
        let now = Utc::now();
        let schedule = [Duration::from_secs(10), Duration::from_secs(20)];
        let retry = attempt(Verdict::Retry { after: None });

        let r = decide(
            &delivery(0, DeliveryState::Pending, None),
            &retry,
            &schedule,
            now,
            1.0,
        );
        assert_eq!(
            r.result,
            AttemptResult::Retry(now + Duration::from_secs(10))
        );
        let r = decide(
            &delivery(1, DeliveryState::Retrying, Some("HTTP 500")),
            &retry,
            &schedule,
            now,
            1.0,
        );
        assert_eq!(
            r.result,
            AttemptResult::Retry(now + Duration::from_secs(20))
        );
        let r = decide(
            &delivery(2, DeliveryState::Retrying, Some("HTTP 500")),
            &retry,
            &schedule,
            now,
            1.0,
        );
        assert_eq!(r.result, AttemptResult::Dead);
        assert!(
            r.outcome.starts_with("gave up after 3 attempts"),
            "{}",
            r.outcome
        );

        let announced = attempt(Verdict::Retry {
            after: Some(Duration::from_secs(60)),
        });
        let r = decide(
            &delivery(0, DeliveryState::Pending, None),
            &announced,
            &schedule,
            now,
            1.0,
        );
        assert_eq!(
            r.result,
            AttemptResult::Retry(now + Duration::from_secs(60))
        );

        let permanent = attempt(Verdict::Permanent { reason: "x".into() });
        let r = decide(
            &delivery(0, DeliveryState::Pending, None),
            &permanent,
            &schedule,
            now,
            1.0,
        );
        assert_eq!(r.result, AttemptResult::Dead);

        let ok = attempt(Verdict::Delivered);
        let r = decide(
            &delivery(0, DeliveryState::Pending, None),
            &ok,
            &schedule,
            now,
            1.0,
        );
        assert_eq!(r.result, AttemptResult::Delivered);
    }

    #[test]
    fn a_replayed_dead_letter_gets_one_attempt() {
        let now = Utc::now();
        let schedule = [Duration::from_secs(10), Duration::from_secs(20)];
        let replayed = delivery(1, DeliveryState::Retrying, Some("gave up: HTTP 404"));
        let r = decide(
            &replayed,
            &attempt(Verdict::Retry { after: None }),
            &schedule,
            now,
            1.0,
        );
        assert_eq!(r.result, AttemptResult::Dead);
        let r = decide(&replayed, &attempt(Verdict::Delivered), &schedule, now, 1.0);
        assert_eq!(r.result, AttemptResult::Delivered);
    }

    #[test]
    fn failing_too_long_disables_and_tells_the_others() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(dir.path()).unwrap();
        let c = config();
        let t0 = Utc::now();
        let report = |gone: Option<&str>| Report {
            any_delivered: false,
            last_outcome: "HTTP 500".into(),
            gone: gone.map(String::from),
            migrated: None,
        };
        assert!(!settle(&store, &c, "ops", report(None), t0).unwrap());
        assert!(!settle(
            &store,
            &c,
            "ops",
            report(None),
            t0 + chrono::Duration::minutes(30)
        )
        .unwrap());
        assert!(settle(
            &store,
            &c,
            "ops",
            report(None),
            t0 + chrono::Duration::hours(2)
        )
        .unwrap());
        let state = store.destination_state("ops").unwrap();
        assert!(state
            .disabled
            .unwrap()
            .starts_with("no successful delivery for 1h"));
        let due = store
            .due_deliveries("panels-only", Utc::now() + chrono::Duration::hours(3), 10)
            .unwrap();
        assert_eq!(due.len(), 1);
        assert_eq!(due[0].event_type, "destination.disabled");
        assert!(store
            .due_deliveries("ops", Utc::now() + chrono::Duration::hours(3), 10)
            .unwrap()
            .is_empty());

        assert!(enable_destination(&store, "ops").unwrap());
        assert_eq!(store.destination_state("ops").unwrap().disabled, None);

        assert!(settle(&store, &c, "alerts-only", report(Some("HTTP 410 Gone")), t0).unwrap());
        let view = delivery_view(&store, &c).unwrap();
        let line = view
            .destinations
            .iter()
            .find(|d| d.name == "alerts-only")
            .unwrap();
        assert_eq!(line.disabled.as_deref(), Some("HTTP 410 Gone"));
    }
}
