//! The state the screen shows, as one plain value.
//!
//! The engine publishes a fresh [`Snapshot`] after every change (through a
//! `tokio::sync::watch` channel); the terminal UI renders from its own copy and never holds a
//! lock while drawing. Nothing here does I/O. Every type
//! is serialisable so that `attach` can stream snapshots to `panelwatch tui` clients.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::domain::{OrderCounts, ServiceId};

#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Snapshot {
    /// When the snapshot was taken.
    pub at: DateTime<Utc>,
    pub panels: Vec<PanelView>,
    /// One row per (panel, service, rule), sorted by panel, then service id, then rule.
    pub services: Vec<ServiceView>,
    /// Recent events, newest last.
    pub events: Vec<EventLine>,
    pub deliveries: DeliveryView,
    /// A passing message for the status line (config reloaded, action done), with its time.
    pub notice: Option<(DateTime<Utc>, String)>,
    /// The configured `monitor.timezone`, for showing local times; `None` is UTC.
    pub timezone: Option<chrono_tz::Tz>,
    /// Mutes in force.
    pub mutes: Vec<MuteView>,
    /// Destination names, for actions such as sending a test alert.
    pub destinations: Vec<String>,
    /// Per panel: balance, API health, tracked orders (user API v2 panels; admin panels show
    /// their health only).
    pub sources: Vec<SourceView>,
    /// The intake endpoint's counters, when `[intake]` is configured.
    pub intake: Option<IntakeView>,
}

/// What the screen shows of a panel as a source: balance and API health.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct SourceView {
    pub panel: String,
    /// The last balance read, as text (`12.5 USD`).
    pub balance: Option<String>,
    pub balance_low: bool,
    /// Share of calls with a usable answer over the health window; `None` before any call.
    pub health: Option<f64>,
    pub degraded: bool,
    /// (usable, total) calls over the window.
    pub calls: (u32, u32),
}

/// The intake endpoint's counters since start.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct IntakeView {
    pub orders_tracked: u64,
    pub inbound_accepted: u64,
    pub inbound_duplicates: u64,
    /// Refused: bad or missing signature or token.
    pub refused_auth: u64,
    /// Refused: timestamp outside the tolerance.
    pub refused_stale: u64,
    /// Refused: body over the size limit.
    pub refused_size: u64,
    /// Refused: unknown panel, unreadable body.
    pub refused_other: u64,
}

/// A mute in force: alerts about its target are recorded but not delivered until `until`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct MuteView {
    /// `main` (a panel), `main/17` (a service), `main/provider:NAME` (a provider).
    pub target: String,
    pub until: DateTime<Utc>,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum PanelHealth {
    /// Not polled yet.
    Starting,
    Up,
    /// The last poll failed; `reason` never contains a key.
    Down {
        reason: String,
        since: DateTime<Utc>,
    },
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct PanelView {
    pub name: String,
    pub health: PanelHealth,
    /// When the last poll finished, successful or not.
    pub last_poll: Option<DateTime<Utc>>,
    /// How long the last successful poll took.
    pub poll_ms: Option<u64>,
    /// Orders in the panel's lookback after the last successful poll.
    pub orders: usize,
}

/// A rule's verdict on one service, as the screen shows it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum AlertStatus {
    Ok,
    /// Below the threshold, waiting for `for` to pass.
    Pending,
    Firing,
    /// Too few finished orders, or the panel cannot be read.
    NoData,
}

impl AlertStatus {
    pub fn label(self) -> &'static str {
        match self {
            AlertStatus::Ok => "OK",
            AlertStatus::Pending => "PENDING",
            AlertStatus::Firing => "FIRING",
            AlertStatus::NoData => "NO DATA",
        }
    }
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ServiceView {
    pub panel: String,
    pub service: ServiceId,
    pub name: String,
    /// The upstream provider of the service's latest order, when the panel says.
    pub provider: Option<String>,
    pub rule: String,
    /// Success rate over the rule's window; `None` when no order finished in it.
    pub success_rate: Option<f64>,
    pub alert_below: f64,
    pub resolve_above: f64,
    pub min_orders: u32,
    pub counts: OrderCounts,
    pub status: AlertStatus,
    /// Since when the status holds (the alert's start when firing).
    pub since: Option<DateTime<Utc>>,
    /// Success rate after each poll, oldest first, for sparklines; bounded.
    pub history: Vec<f64>,
    /// The rule's window as configured (`6h`).
    pub window: String,
    /// Until when alerts about this service are muted or in a maintenance window, and why.
    pub quiet: Option<String>,
    /// Figures per upstream provider within the window, busiest first.
    pub providers: Vec<ProviderLine>,
    /// Recent failed (canceled, refunded, partial) and stuck orders, newest first; bounded.
    pub problem_orders: Vec<OrderLine>,
    /// Success figures over 1h, 24h, 7d and 30d from the stored history (see `history`);
    /// empty until the first poll is recorded.
    #[serde(default)]
    pub periods: Vec<PeriodFigures>,
}

/// One period's figures from the history: `1h`, `24h`, `7d` or `30d`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct PeriodFigures {
    pub label: String,
    /// `None` when no order finished in the period.
    pub success_rate: Option<f64>,
    /// Orders finished in the period.
    pub finished: u64,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ProviderLine {
    pub provider: String,
    pub counts: OrderCounts,
    pub success_rate: Option<f64>,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct OrderLine {
    pub id: u64,
    pub created: DateTime<Utc>,
    /// The status as the screen shows it (`Canceled`, `Partial`, `Pending (stuck)`).
    pub status: String,
    pub quantity: Option<u64>,
    pub remains: Option<u64>,
    pub provider: Option<String>,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct EventLine {
    pub at: DateTime<Utc>,
    /// Dotted type, such as `alert.fired`.
    pub kind: String,
    pub summary: String,
}

#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct DeliveryView {
    /// Deliveries waiting for their first attempt.
    pub pending: u64,
    /// Deliveries that failed and wait for a retry.
    pub retrying: u64,
    /// Dead letters: deliveries that gave up, waiting for the operator.
    pub dead: u64,
    pub destinations: Vec<DestinationView>,
    /// Every delivery in the outbox by destination and state, delivered ones included, for
    /// the metrics endpoint; sorted.
    #[serde(default)]
    pub by_destination: Vec<DeliveryCount>,
    /// Pending, retrying and dead deliveries, newest first; bounded.
    #[serde(default)]
    pub items: Vec<DeliveryLine>,
}

/// How many deliveries to one destination are in one state (`delivered`, `dead`, ...).
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
pub struct DeliveryCount {
    pub destination: String,
    pub state: String,
    pub count: u64,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct DestinationView {
    pub name: String,
    /// `slack`, `custom`, ...
    pub kind: String,
    /// Why the destination was disabled, if it is.
    pub disabled: Option<String>,
    /// The last attempt's outcome in a few words (`200 OK in 41 ms`, `timeout`).
    pub last_outcome: Option<String>,
    pub last_at: Option<DateTime<Utc>>,
    /// Deliveries not yet done for this destination.
    pub queued: u64,
}

/// One undelivered or dead delivery, for the deliveries view.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct DeliveryLine {
    pub id: i64,
    pub destination: String,
    /// The event's dotted type.
    pub event_type: String,
    /// `pending`, `retrying` or `dead`.
    pub state: String,
    pub attempts: u32,
    /// When the next attempt is due (meaningless for a dead letter).
    pub next_at: DateTime<Utc>,
    /// The last answer in a few words, never a secret.
    pub last_outcome: Option<String>,
}
