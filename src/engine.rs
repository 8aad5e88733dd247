//! The engine: turns panel reports into statistics, alert transitions and recorded events.
//!
//! It owns the in-memory view (each panel's order book, each alert's state, rate histories)
//! and is driven from outside: the runtime feeds it [`PanelReport`]s, config reloads and
//! operator actions and passes `now`, so tests drive it with a fake clock and scripted
//! reports. Every change that must survive a crash (events, their deliveries, alert, panel
//! and mute states) goes to the store in one transaction *before* the in-memory state moves
//! on: if the store refuses, the engine stays where it was and the next report tries again,
//! so nothing is lost or sent twice.
//!
//! Panel-side trouble never becomes a service alert: while a panel cannot be read its services
//! show NO DATA and its alerts neither fire nor resolve; after [`DOWN_AFTER`] failed polls in a
//! row one `panel.down` event goes out, and one `panel.up` when it answers again.
//!
//! Quiet times (mutes, maintenance windows; see `quiet`) decide whether an event is delivered,
//! never whether it happens: every transition is recorded in the event history.

use std::collections::{BTreeMap, HashMap, VecDeque};
use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::config::{format_duration, Config, GroupBy, RuleConfig};
use crate::domain::{Order, ServiceId};
use crate::event::{AlertData, Event, EventBody, PanelData, ServiceRef, StuckData};
use crate::quiet::{self, Mute, MuteTarget};
use crate::rules::{self, AlertState, Transition};
use crate::snapshot::{
    AlertStatus, DeliveryView, EventLine, MuteView, PanelHealth, PanelView, ServiceView, Snapshot,
};
use crate::stats::{self, OrderBook, ServiceStats};
use crate::store::{Batch, Store, StoreError};

mod sources;

pub use sources::Balance;

/// Failed polls in a row before a panel is declared down.
pub const DOWN_AFTER: u32 = 2;

/// Rate samples kept per service for sparklines.
const HISTORY_LEN: usize = 120;

/// What one poll of a panel gave.
#[derive(Clone, Debug)]
pub struct PanelReport {
    pub panel: String,
    /// When the poll finished.
    pub at: DateTime<Utc>,
    pub outcome: Result<PanelRead, String>,
}

/// A successful poll: the orders of the panel's lookback.
#[derive(Clone, Debug, Default)]
pub struct PanelRead {
    pub orders: Vec<Order>,
    /// Odd things the decoder absorbed (unknown statuses, skipped orders).
    pub warnings: Vec<String>,
    pub elapsed: Duration,
    /// The panel's balance, when this poll read it (user API v2).
    pub balance: Option<Balance>,
    /// The services catalogue, when this poll read it (user API v2, hourly by default).
    pub catalogue: Option<Vec<crate::panel::decode_v2::ServiceInfo>>,
    /// (usable, total) calls this poll made, for the API health gauge; `(0, 0)` counts as one
    /// usable call (the admin source does not count its pages).
    pub calls: (u32, u32),
}

fn yes() -> bool {
    true
}

/// A panel's persisted standing: present only while it is down.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
struct DownState {
    since: DateTime<Utc>,
    reason: String,
    /// Whether `panel.down` was delivered (not, when it went down in a quiet time).
    #[serde(default = "yes")]
    announced: bool,
}

/// A service's stuck-orders alert, persisted while open.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
struct StuckState {
    since: DateTime<Utc>,
    #[serde(default = "yes")]
    announced: bool,
}

#[derive(Default)]
struct PanelRuntime {
    book: OrderBook,
    /// Whether the book holds a successful poll's answer.
    polled: bool,
    failures: u32,
    last_error: Option<(DateTime<Utc>, String)>,
    down: Option<DownState>,
    last_poll: Option<DateTime<Utc>>,
    poll_ms: Option<u64>,
    /// Balance, API health, order statuses and catalogue (see `sources`).
    source: sources::SourceRuntime,
}

/// What one alert is about within its panel: a service, or a provider across services.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
enum Subject {
    Service(ServiceId),
    Provider(String),
}

impl Subject {
    fn key_part(&self) -> String {
        match self {
            Subject::Service(id) => id.to_string(),
            Subject::Provider(p) => format!("provider:{p}"),
        }
    }

    fn parse(part: &str) -> Option<Subject> {
        match part.strip_prefix("provider:") {
            Some(p) => Some(Subject::Provider(p.to_string())),
            None => part.parse().ok().map(|id| Subject::Service(ServiceId(id))),
        }
    }
}

/// One (rule, panel, subject) the engine tracks.
#[derive(Clone, Debug)]
struct Tracked {
    rule: String,
    panel: String,
    subject: Subject,
    stats: ServiceStats,
    history: VecDeque<f64>,
}

pub struct Engine {
    config: Arc<Config>,
    store: Arc<Store>,
    panels: BTreeMap<String, PanelRuntime>,
    alerts: HashMap<String, AlertState>,
    stuck: HashMap<String, StuckState>,
    tracked: BTreeMap<String, Tracked>,
    mutes: Vec<(MuteTarget, Mute)>,
    lines: VecDeque<EventLine>,
    notice: Option<(DateTime<Utc>, String)>,
    /// Open balance and health alerts and the last catalogues, persisted.
    source_states: sources::SourceStates,
}

fn alert_key(rule: &str, panel: &str, subject: &Subject) -> String {
    format!("alert/{rule}/{panel}/{}", subject.key_part())
}

fn stuck_key(rule: &str, panel: &str, service: ServiceId) -> String {
    format!("stuck/{rule}/{panel}/{service}")
}

fn panel_key(panel: &str) -> String {
    format!("panel/{panel}")
}

fn mute_key(target: &MuteTarget) -> String {
    format!("mute/{target}")
}

/// Splits `alert/{rule}/{panel}/{subject}` (or `stuck/...`); rule and panel names hold no `/`
/// (the config refuses them), a provider's name may.
fn parse_key(key: &str) -> Option<(&str, &str, Subject)> {
    let (_, rest) = key.split_once('/')?;
    let (rule, rest) = rest.split_once('/')?;
    let (panel, subject) = rest.split_once('/')?;
    Some((rule, panel, Subject::parse(subject)?))
}

/// An event on its way to the store, with why it is not delivered, if it is not.
struct Pending {
    event: Event,
    held: Option<String>,
}

/// Everything one report changes, applied only after the store has committed it.
#[derive(Default)]
struct Changes {
    events: Vec<Pending>,
    states: Vec<(String, Option<String>)>,
    alerts: Vec<(String, AlertState)>,
    stuck: Vec<(String, Option<StuckState>)>,
    tracked: Vec<(String, Tracked)>,
    source: sources::SourceChanges,
}

impl Changes {
    fn event(&mut self, event: Event, held: Option<String>) {
        self.events.push(Pending { event, held });
    }

    fn state<T: Serialize>(&mut self, key: String, value: Option<&T>) {
        let json = value.map(|v| serde_json::to_string(v).expect("states serialise"));
        self.states.push((key, json));
    }
}

impl Engine {
    /// Builds the engine and loads alert, panel and mute states left by an earlier run.
    pub fn new(config: Arc<Config>, store: Arc<Store>) -> Result<Engine, StoreError> {
        let mut engine = Engine {
            config,
            store,
            panels: BTreeMap::new(),
            alerts: HashMap::new(),
            stuck: HashMap::new(),
            tracked: BTreeMap::new(),
            mutes: Vec::new(),
            lines: VecDeque::new(),
            notice: None,
            source_states: sources::SourceStates::default(),
        };
        engine.alerts = engine.load("alert/")?;
        engine.stuck = engine.load("stuck/")?;
        engine.source_states = engine.load_source_states()?;
        let mut downs: HashMap<String, DownState> = engine.load("panel/")?;
        for panel in &engine.config.panels {
            let runtime = PanelRuntime {
                down: downs.remove(&panel_key(&panel.name)),
                ..PanelRuntime::default()
            };
            engine.panels.insert(panel.name.clone(), runtime);
        }
        engine.mutes = engine.read_mutes()?;
        let keep = engine.config.monitor.history;
        let mut lines: Vec<EventLine> = Vec::new();
        for (stored, note) in engine.store.recent_events(keep)? {
            if let Ok(event) = serde_json::from_str::<Event>(&stored) {
                lines.push(line_of(&event, note.as_deref()));
            }
        }
        for (at, kind, summary) in engine.store.recent_journal(keep)? {
            lines.push(EventLine { at, kind, summary });
        }
        lines.sort_by_key(|l| l.at);
        let skip = lines.len().saturating_sub(keep);
        engine.lines = lines.into_iter().skip(skip).collect();
        engine.forget_orphans(Utc::now())?;
        Ok(engine)
    }

    /// Reads the state rows under `prefix`, skipping (and logging) unreadable ones.
    fn load<T: for<'de> Deserialize<'de>>(
        &self,
        prefix: &str,
    ) -> Result<HashMap<String, T>, StoreError> {
        let mut out = HashMap::new();
        for (key, value) in self.store.states(prefix)? {
            match serde_json::from_str::<T>(&value) {
                Ok(state) => {
                    out.insert(key, state);
                }
                Err(e) => tracing::warn!(key, error = %e, "ignoring an unreadable state row"),
            }
        }
        Ok(out)
    }

    fn read_mutes(&self) -> Result<Vec<(MuteTarget, Mute)>, StoreError> {
        let rows: HashMap<String, Mute> = self.load("mute/")?;
        let mut out: Vec<(MuteTarget, Mute)> = rows
            .into_iter()
            .filter_map(|(key, mute)| Some((MuteTarget::parse(&key["mute/".len()..]).ok()?, mute)))
            .collect();
        out.sort_by_key(|(t, _)| t.to_string());
        Ok(out)
    }

    pub fn config(&self) -> &Arc<Config> {
        &self.config
    }

    /// Applies a new config: keeps every alert whose rule and panel still exist, with its
    /// state, and forgets the others without sending anything.
    pub fn reload(&mut self, config: Arc<Config>, now: DateTime<Utc>) -> Result<(), StoreError> {
        self.config = config;
        let names: Vec<String> = self.config.panels.iter().map(|p| p.name.clone()).collect();
        self.panels.retain(|name, _| names.contains(name));
        for name in names {
            self.panels.entry(name).or_default();
        }
        self.forget_orphans(now)?;
        self.set_notice(now, "config reloaded".into());
        Ok(())
    }

    /// Drops alert states and tracked rows whose rule no longer covers their panel.
    fn forget_orphans(&mut self, now: DateTime<Utc>) -> Result<(), StoreError> {
        let config = Arc::clone(&self.config);
        let alive = |key: &str| {
            parse_key(key).is_some_and(|(rule, panel, subject)| {
                config.panel(panel).is_some()
                    && config.rules.iter().any(|r| {
                        r.name == rule
                            && r.covers_panel(panel)
                            && match subject {
                                Subject::Service(_) => r.group_by == GroupBy::Service,
                                Subject::Provider(_) => r.group_by == GroupBy::Provider,
                            }
                    })
            })
        };
        let dead: Vec<String> = self
            .alerts
            .keys()
            .chain(self.stuck.keys())
            .filter(|k| !alive(k))
            .cloned()
            .collect();
        if !dead.is_empty() {
            let batch = Batch {
                events: vec![],
                states: dead.iter().map(|k| (k.clone(), None)).collect(),
            };
            self.store.commit(&batch, now)?;
            for key in &dead {
                tracing::info!(
                    alert = key.as_str(),
                    "forgetting an alert whose rule is gone"
                );
                self.alerts.remove(key);
                self.stuck.remove(key);
            }
        }
        self.tracked.retain(|key, _| alive(key));
        Ok(())
    }

    pub fn set_notice(&mut self, now: DateTime<Utc>, text: String) {
        self.notice = Some((now, text));
    }

    /// Adds a line to the history pane that is not an event (a reload, an operator action),
    /// kept in the store so it survives a restart.
    pub fn note(&mut self, now: DateTime<Utc>, kind: &str, summary: String) {
        if let Err(e) = self.store.journal(now, kind, &summary) {
            tracing::warn!(error = %e, "cannot keep a history line");
        }
        self.push_line(EventLine {
            at: now,
            kind: kind.to_string(),
            summary,
        });
    }

    fn push_line(&mut self, line: EventLine) {
        self.lines.push_back(line);
        while self.lines.len() > self.config.monitor.history {
            self.lines.pop_front();
        }
    }

    /// Mutes a panel, service or provider until `until`. Persisted. Returns a confirmation for
    /// the operator (the caller records the action in the history).
    pub fn mute(
        &mut self,
        target: &str,
        until: DateTime<Utc>,
        now: DateTime<Utc>,
    ) -> Result<String, MuteError> {
        let target = MuteTarget::parse(target).map_err(MuteError::Target)?;
        let mute = Mute { until };
        let json = serde_json::to_string(&mute).expect("serialisable");
        let batch = Batch {
            events: vec![],
            states: vec![(mute_key(&target), Some(json))],
        };
        self.store.commit(&batch, now)?;
        self.mutes.retain(|(t, _)| *t != target);
        self.mutes.push((target.clone(), mute));
        let text = format!(
            "muted {target} until {}",
            until.format("%Y-%m-%d %H:%M UTC")
        );
        self.note(now, "mute", text.clone());
        Ok(text)
    }

    /// Lifts a mute. Returns whether there was one.
    pub fn unmute(&mut self, target: &str, now: DateTime<Utc>) -> Result<bool, MuteError> {
        let target = MuteTarget::parse(target).map_err(MuteError::Target)?;
        let batch = Batch {
            events: vec![],
            states: vec![(mute_key(&target), None)],
        };
        self.store.commit(&batch, now)?;
        let before = self.mutes.len();
        self.mutes.retain(|(t, _)| *t != target);
        Ok(self.mutes.len() != before)
    }

    /// Picks up mutes set or lifted by another process (`panelwatch mute`), noting changes.
    fn refresh_mutes(&mut self, now: DateTime<Utc>) -> Result<(), StoreError> {
        let fresh = self.read_mutes()?;
        if fresh != self.mutes {
            for (target, mute) in &fresh {
                if !self.mutes.iter().any(|(t, m)| t == target && m == mute) {
                    let until = mute.until.format("%Y-%m-%d %H:%M UTC");
                    self.note(now, "mute", format!("muted {target} until {until}"));
                }
            }
            for (target, _) in &self.mutes.clone() {
                if !fresh.iter().any(|(t, _)| t == target) {
                    self.note(now, "unmute", format!("unmuted {target}"));
                }
            }
            self.mutes = fresh;
        }
        Ok(())
    }

    fn why_quiet(
        &self,
        panel: &str,
        service: Option<(ServiceId, &str)>,
        provider: Option<&str>,
        now: DateTime<Utc>,
    ) -> Option<String> {
        let subject = quiet::Subject {
            panel,
            service,
            provider,
        };
        quiet::why_quiet(subject, &self.mutes, &self.config.maintenance, now)
    }

    /// Takes one poll's result, evaluates the rules of that panel, and records what changed.
    /// Returns the events recorded (already committed, with deliveries for those not held by
    /// a quiet time).
    pub fn on_report(&mut self, mut report: PanelReport) -> Result<Vec<Event>, StoreError> {
        let now = report.at;
        if !self.panels.contains_key(&report.panel) {
            return Ok(Vec::new());
        }
        self.refresh_mutes(now)?;
        let mut changes = Changes::default();
        let (failures, down) = self.panel_health(&report, &mut changes);
        // Before the orders move into the book: it compares them with the last statuses.
        self.source_step(&report, &mut changes);

        let book = match &mut report.outcome {
            Ok(read) => {
                let mut book = OrderBook::default();
                // Taken, not copied: a poll of a big panel is many MB (see benches/evaluate.rs).
                book.replace(std::mem::take(&mut read.orders));
                Some(book)
            }
            Err(_) => None,
        };
        let rules: Vec<RuleConfig> = self
            .config
            .rules
            .iter()
            .filter(|r| r.covers_panel(&report.panel))
            .cloned()
            .collect();
        for rule in &rules {
            self.evaluate_rule(rule, &report.panel, book.as_ref(), now, &mut changes);
        }

        let routed: Vec<(Event, Vec<String>, Option<String>)> = changes
            .events
            .drain(..)
            .map(|p| {
                let to = match &p.held {
                    None => route(&self.config, &p.event),
                    Some(_) => Vec::new(),
                };
                (p.event, to, p.held)
            })
            .collect();
        let batch = Batch {
            events: routed.iter().map(|(e, to, _)| (e, to.clone())).collect(),
            states: std::mem::take(&mut changes.states),
        };
        self.store.commit(&batch, now)?;
        let notes: Vec<(String, String)> = routed
            .iter()
            .filter_map(|(e, _, held)| Some((e.id.0.clone(), held.clone()?)))
            .collect();
        if !notes.is_empty() {
            // Only the history's wording depends on this: a failure is logged, not fatal.
            if let Err(e) = self.store.note_events(&notes) {
                tracing::warn!(error = %e, "cannot note why events were held");
            }
        }

        // Committed: now the in-memory view may move on.
        let runtime = self.panels.get_mut(&report.panel).expect("checked above");
        runtime.failures = failures;
        runtime.down = down;
        runtime.last_poll = Some(now);
        match report.outcome {
            Ok(read) => {
                runtime.poll_ms = Some(read.elapsed.as_millis() as u64);
                runtime.polled = true;
                runtime.last_error = None;
                if let Some(book) = book {
                    runtime.book = book;
                }
                for warning in read.warnings.iter().take(5) {
                    tracing::warn!(panel = report.panel.as_str(), warning = warning.as_str());
                }
            }
            Err(reason) => {
                tracing::warn!(
                    panel = report.panel.as_str(),
                    reason = reason.as_str(),
                    "poll failed"
                );
                runtime.last_error = Some((now, reason));
            }
        }
        for (key, state) in changes.alerts {
            if state == AlertState::Ok {
                self.alerts.remove(&key);
            } else {
                self.alerts.insert(key, state);
            }
        }
        for (key, state) in changes.stuck {
            match state {
                Some(state) => self.stuck.insert(key, state),
                None => self.stuck.remove(&key),
            };
        }
        for (key, tracked) in changes.tracked {
            self.tracked.insert(key, tracked);
        }
        self.apply_source(&report.panel, changes.source, now);
        let mut events = Vec::new();
        for (event, _, held) in routed {
            self.push_line(line_of(&event, held.as_deref()));
            events.push(event);
        }
        Ok(events)
    }

    /// Works out the panel's up/down standing after this report; returns the new failure
    /// count and down state, and queues `panel.down` / `panel.up` as needed.
    fn panel_health(
        &self,
        report: &PanelReport,
        changes: &mut Changes,
    ) -> (u32, Option<DownState>) {
        let now = report.at;
        let zone = self.config.monitor.timezone;
        let runtime = &self.panels[&report.panel];
        let quiet = self.why_quiet(&report.panel, None, None, now);
        let mut down = runtime.down.clone();
        let mut failures = runtime.failures;
        let panel_event = |reason: Option<String>, since: Option<DateTime<Utc>>, up: bool| {
            let data = PanelData {
                panel: report.panel.clone(),
                reason,
                since,
            };
            let body = if up {
                EventBody::PanelUp(data)
            } else {
                EventBody::PanelDown(data)
            };
            Event::new(now, zone, body)
        };

        match &report.outcome {
            Ok(_) => {
                failures = 0;
                if let Some(was) = down.take() {
                    let held = (!was.announced).then(|| "its panel.down was never sent".into());
                    changes.event(panel_event(None, Some(was.since), true), held);
                    changes.state::<DownState>(panel_key(&report.panel), None);
                }
            }
            Err(reason) => {
                failures += 1;
                match &mut down {
                    None if failures >= DOWN_AFTER => {
                        let state = DownState {
                            since: now,
                            reason: reason.clone(),
                            announced: quiet.is_none(),
                        };
                        changes.event(panel_event(Some(reason.clone()), None, false), quiet);
                        changes.state(panel_key(&report.panel), Some(&state));
                        down = Some(state);
                    }
                    // Went down in a quiet time and is still down after it: say so now.
                    Some(state) if !state.announced && quiet.is_none() => {
                        state.announced = true;
                        changes.event(panel_event(Some(reason.clone()), None, false), None);
                        changes.state(panel_key(&report.panel), Some(&*state));
                    }
                    _ => {}
                }
            }
        }
        (failures, down)
    }

    /// Evaluates one rule over one panel's fresh orders (or their absence).
    fn evaluate_rule(
        &self,
        rule: &RuleConfig,
        panel: &str,
        book: Option<&OrderBook>,
        now: DateTime<Utc>,
        changes: &mut Changes,
    ) {
        let readable = book.is_some();
        let mut figures: BTreeMap<Subject, ServiceStats> = match (book, rule.group_by) {
            (None, _) => BTreeMap::new(),
            (Some(b), GroupBy::Service) => stats::per_service(b.orders(), rule, now)
                .into_iter()
                .map(|(id, f)| (Subject::Service(id), f))
                .collect(),
            (Some(b), GroupBy::Provider) => stats::per_provider(b.orders(), rule, now)
                .into_iter()
                .map(|(p, f)| (Subject::Provider(p), f))
                .collect(),
        };

        // Every subject with fresh figures, an open alert or a row on screen.
        let mut subjects: BTreeMap<String, Subject> = figures
            .keys()
            .map(|s| (alert_key(&rule.name, panel, s), s.clone()))
            .collect();
        for key in self.alerts.keys().chain(self.tracked.keys()) {
            if let Some((r, p, subject)) = parse_key(key) {
                if r == rule.name && p == panel {
                    subjects.insert(key.clone(), subject);
                }
            }
        }

        for (key, subject) in subjects {
            let previous = self.tracked.get(&key);
            // Without a fresh answer, events (reminders) show the last figures known.
            let figures = match (figures.remove(&subject), previous) {
                (Some(f), _) => f,
                (None, Some(p)) if !readable => p.stats.clone(),
                (None, p) => ServiceStats::empty(
                    p.map(|t| t.stats.name.clone()).unwrap_or_default(),
                    p.and_then(|t| t.stats.provider.clone()),
                ),
            };
            let rate = if readable {
                figures.judged_rate(rule.min_orders)
            } else {
                None
            };
            let quiet = match &subject {
                Subject::Service(id) => self.why_quiet(
                    panel,
                    Some((*id, &figures.name)),
                    figures.provider.as_deref(),
                    now,
                ),
                Subject::Provider(p) => self.why_quiet(panel, None, Some(p), now),
            };
            self.step_alert(
                rule, panel, &key, &subject, &figures, rate, quiet, now, changes,
            );

            if let (Subject::Service(id), Some(limit), true) =
                (&subject, rule.alert_stuck_above, readable)
            {
                let quiet = self.why_quiet(
                    panel,
                    Some((*id, &figures.name)),
                    figures.provider.as_deref(),
                    now,
                );
                self.step_stuck(rule, panel, *id, &figures, limit, quiet, now, changes);
            }

            if readable {
                let mut history = previous.map(|t| t.history.clone()).unwrap_or_default();
                if let Some(r) = figures.success_rate {
                    history.push_back(r);
                    while history.len() > HISTORY_LEN {
                        history.pop_front();
                    }
                }
                let tracked = Tracked {
                    rule: rule.name.clone(),
                    panel: panel.to_string(),
                    subject,
                    stats: figures,
                    history,
                };
                changes.tracked.push((key, tracked));
            }
        }
    }

    /// One alert's step, with quiet times applied to what is delivered.
    #[allow(clippy::too_many_arguments)]
    fn step_alert(
        &self,
        rule: &RuleConfig,
        panel: &str,
        key: &str,
        subject: &Subject,
        figures: &ServiceStats,
        rate: Option<f64>,
        quiet: Option<String>,
        now: DateTime<Utc>,
        changes: &mut Changes,
    ) {
        let zone = self.config.monitor.timezone;
        let state = self.alerts.get(key).cloned().unwrap_or(AlertState::Ok);
        let announced_before = matches!(
            state,
            AlertState::Firing {
                announced: true,
                ..
            }
        );
        let (mut next, transition) = rules::step(&state, rule, rate, now);
        let data = || alert_data(rule, panel, subject, figures);

        match transition {
            Some(Transition::Fired) => {
                if let AlertState::Firing { announced, .. } = &mut next {
                    *announced = quiet.is_none();
                }
                changes.event(Event::new(now, zone, EventBody::AlertFired(data())), quiet);
            }
            Some(Transition::Resolved) => {
                // Good news closes an announced incident even in a quiet time.
                let held = (!announced_before).then(|| "its alert.fired was never sent".into());
                changes.event(
                    Event::new(now, zone, EventBody::AlertResolved(data())),
                    held,
                );
            }
            Some(Transition::Reminder) => {
                if quiet.is_none() && announced_before {
                    let body = EventBody::AlertReminder(data());
                    changes.event(Event::new(now, zone, body), None);
                }
            }
            None => {
                // Fired during a quiet time and still open after it: announce it now, once.
                if let AlertState::Firing {
                    announced: announced @ false,
                    notified,
                    ..
                } = &mut next
                {
                    if quiet.is_none() {
                        *announced = true;
                        *notified = now;
                        changes.event(Event::new(now, zone, EventBody::AlertFired(data())), None);
                    }
                }
            }
        }
        if next != state {
            match &next {
                AlertState::Ok => changes.state::<AlertState>(key.to_string(), None),
                other => changes.state(key.to_string(), Some(other)),
            }
            changes.alerts.push((key.to_string(), next));
        }
    }

    /// The stuck-orders alert of one service: open while more than `limit` orders are stuck.
    #[allow(clippy::too_many_arguments)]
    fn step_stuck(
        &self,
        rule: &RuleConfig,
        panel: &str,
        service: ServiceId,
        figures: &ServiceStats,
        limit: u32,
        quiet: Option<String>,
        now: DateTime<Utc>,
        changes: &mut Changes,
    ) {
        let zone = self.config.monitor.timezone;
        let key = stuck_key(&rule.name, panel, service);
        let open = self.stuck.get(&key);
        let data = || StuckData {
            panel: panel.to_string(),
            service: ServiceRef {
                id: service,
                name: figures.name.clone(),
            },
            rule: rule.name.clone(),
            stuck: figures.counts.stuck,
            alert_stuck_above: limit,
            stuck_pending: format_duration(rule.stuck_pending),
            stuck_running: format_duration(rule.stuck_running),
            orders: figures.counts,
        };
        let too_many = figures.counts.stuck > limit;
        match (open, too_many) {
            (None, true) => {
                let state = StuckState {
                    since: now,
                    announced: quiet.is_none(),
                };
                changes.event(Event::new(now, zone, EventBody::OrdersStuck(data())), quiet);
                changes.state(key.clone(), Some(&state));
                changes.stuck.push((key, Some(state)));
            }
            (Some(state), false) => {
                let held = (!state.announced).then(|| "its orders.stuck was never sent".into());
                changes.event(
                    Event::new(now, zone, EventBody::OrdersUnstuck(data())),
                    held,
                );
                changes.state::<StuckState>(key.clone(), None);
                changes.stuck.push((key, None));
            }
            (Some(state), true) if !state.announced && quiet.is_none() => {
                let state = StuckState {
                    since: state.since,
                    announced: true,
                };
                changes.event(Event::new(now, zone, EventBody::OrdersStuck(data())), None);
                changes.state(key.clone(), Some(&state));
                changes.stuck.push((key, Some(state)));
            }
            _ => {}
        }
    }

    /// The screen's view of everything, with the delivery figures passed in by the caller.
    pub fn snapshot(&self, now: DateTime<Utc>, deliveries: DeliveryView) -> Snapshot {
        let panels = self
            .config
            .panels
            .iter()
            .map(|p| {
                let rt = self.panels.get(&p.name);
                let health = match rt {
                    Some(rt) if rt.last_error.is_some() || rt.down.is_some() => {
                        let (since, reason) = match (&rt.down, &rt.last_error) {
                            (Some(d), Some((_, r))) => (d.since, r.clone()),
                            (Some(d), None) => (d.since, d.reason.clone()),
                            (None, Some((at, r))) => (*at, r.clone()),
                            (None, None) => unreachable!("guarded"),
                        };
                        PanelHealth::Down { reason, since }
                    }
                    Some(rt) if rt.polled => PanelHealth::Up,
                    _ => PanelHealth::Starting,
                };
                PanelView {
                    name: p.name.clone(),
                    health,
                    last_poll: rt.and_then(|r| r.last_poll),
                    poll_ms: rt.and_then(|r| r.poll_ms),
                    orders: rt.map(|r| r.book.len()).unwrap_or(0),
                }
            })
            .collect();
        let mut services: Vec<ServiceView> = self
            .tracked
            .iter()
            .filter_map(|(key, t)| self.service_view(key, t, now))
            .collect();
        services.sort_by(|a, b| {
            (&a.panel, a.service, &a.name, &a.rule).cmp(&(&b.panel, b.service, &b.name, &b.rule))
        });
        let mutes = self
            .mutes
            .iter()
            .filter(|(_, m)| m.until > now)
            .map(|(t, m)| MuteView {
                target: t.to_string(),
                until: m.until,
            })
            .collect();
        Snapshot {
            at: now,
            panels,
            services,
            events: self.lines.iter().cloned().collect(),
            deliveries,
            notice: self.notice.clone(),
            timezone: Some(self.config.monitor.timezone),
            mutes,
            destinations: self
                .config
                .webhooks
                .iter()
                .map(|d| d.name.clone())
                .collect(),
            sources: self.source_views(),
            intake: None,
        }
    }

    fn service_view(&self, key: &str, t: &Tracked, now: DateTime<Utc>) -> Option<ServiceView> {
        let rule = self.config.rules.iter().find(|r| r.name == t.rule)?;
        let rt = self.panels.get(&t.panel)?;
        let readable = rt.last_error.is_none() && rt.polled;
        let (status, since) = match self.alerts.get(key) {
            Some(AlertState::Firing { since, .. }) => (AlertStatus::Firing, Some(*since)),
            Some(AlertState::Pending { since }) => (AlertStatus::Pending, Some(*since)),
            _ if !readable || t.stats.judged_rate(rule.min_orders).is_none() => {
                (AlertStatus::NoData, None)
            }
            _ => (AlertStatus::Ok, None),
        };
        let (service, quiet) = match &t.subject {
            Subject::Service(id) => (
                *id,
                self.why_quiet(
                    &t.panel,
                    Some((*id, &t.stats.name)),
                    t.stats.provider.as_deref(),
                    now,
                ),
            ),
            // Provider-wide rows have no service of their own; `provider` names them.
            Subject::Provider(p) => (ServiceId(0), self.why_quiet(&t.panel, None, Some(p), now)),
        };
        let name = match &t.subject {
            Subject::Service(_) => t.stats.name.clone(),
            Subject::Provider(p) => format!("provider {p} (all services)"),
        };
        Some(ServiceView {
            panel: t.panel.clone(),
            service,
            name,
            provider: t.stats.provider.clone(),
            rule: t.rule.clone(),
            success_rate: if readable { t.stats.success_rate } else { None },
            alert_below: rule.alert_below,
            resolve_above: rule.resolve_above,
            min_orders: rule.min_orders,
            counts: t.stats.counts,
            status,
            since,
            history: t.history.iter().copied().collect(),
            window: rule.window_text.clone(),
            quiet,
            providers: t.stats.providers.clone(),
            problem_orders: t.stats.problems.clone(),
            // Filled by the runtime from `history`, which the engine does not read.
            periods: Vec::new(),
        })
    }
}

/// Why a mute could not be set or lifted.
#[derive(Debug, thiserror::Error)]
pub enum MuteError {
    #[error("{0}")]
    Target(String),
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// The destinations of an event: an alert's rule names them; the rest go to every destination
/// that wants them.
fn route(config: &Config, event: &Event) -> Vec<String> {
    let rule = match &event.body {
        EventBody::AlertFired(a) | EventBody::AlertResolved(a) | EventBody::AlertReminder(a) => {
            Some(&a.rule)
        }
        EventBody::OrdersStuck(s) | EventBody::OrdersUnstuck(s) => Some(&s.rule),
        _ => None,
    };
    let named: &[String] = rule
        .and_then(|name| config.rules.iter().find(|r| &r.name == name))
        .map(|r| r.notify.as_slice())
        .unwrap_or(&[]);
    crate::delivery::dispatch::destinations_for(config, event, named)
}

fn alert_data(rule: &RuleConfig, panel: &str, subject: &Subject, s: &ServiceStats) -> AlertData {
    let service = match subject {
        Subject::Service(id) => Some(ServiceRef {
            id: *id,
            name: s.name.clone(),
        }),
        Subject::Provider(_) => None,
    };
    AlertData {
        panel: panel.to_string(),
        service,
        provider: s.provider.clone(),
        rule: rule.name.clone(),
        success_rate: s
            .success_rate
            .map(|r| (r * 10_000.0).round() / 10_000.0)
            .unwrap_or(0.0),
        alert_below: rule.alert_below,
        resolve_above: rule.resolve_above,
        window: rule.window_text.clone(),
        orders: s.counts,
    }
}

fn line_of(event: &Event, held: Option<&str>) -> EventLine {
    // The mark leads, so a narrow screen cannot cut it off.
    let summary = match held {
        Some(why) => format!("[not sent: {why}] {}", event.summary()),
        None => event.summary(),
    };
    EventLine {
        at: event.timestamp,
        kind: event.kind().to_string(),
        summary,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::{OrderId, OrderStatus};
    use std::path::Path;

    const CONFIG: &str = r#"
[[panels]]
name = "main"
kind = "admin"
url = "http://127.0.0.1:9/adminapi/v2"
api_key = "k"
interval = "1m"

[[rules]]
name = "success-rate"
window = "1h"
min_orders = 10
alert_below = 0.80
resolve_above = 0.85
for = "2m"
notify = ["ops", "backend"]

[[webhooks]]
name = "ops"
kind = "slack"
url = "http://127.0.0.1:9/slack"

[[webhooks]]
name = "backend"
kind = "custom"
url = "http://127.0.0.1:9/hook"
secret = "whsec_C2FVsBQIhrscChlQIMV+b5sSYspob7oD"
"#;

    fn config(text: &str) -> Arc<Config> {
        Arc::new(Config::from_toml(text, Path::new("."), &|_| None).unwrap())
    }

    /// Minute `m` of a fake clock.
    fn t(m: i64) -> DateTime<Utc> {
        DateTime::from_timestamp(1_800_000_000 + m * 60, 0).unwrap()
    }

    /// 20 finished orders of service 17 created just before `at`, `good` of them completed.
    fn orders(at: DateTime<Utc>, good: u64) -> Vec<Order> {
        (0..20)
            .map(|i| Order {
                id: OrderId(i),
                service: ServiceId(17),
                service_name: "IG Followers".into(),
                status: if i < good {
                    OrderStatus::Completed
                } else {
                    OrderStatus::Canceled
                },
                quantity: Some(100),
                remains: Some(0),
                provider: Some("prov-a".into()),
                charge: None,
                created: at - chrono::Duration::minutes(5),
            })
            .collect()
    }

    fn ok(m: i64, good: u64) -> PanelReport {
        PanelReport {
            panel: "main".into(),
            at: t(m),
            outcome: Ok(PanelRead {
                orders: orders(t(m), good),
                ..PanelRead::default()
            }),
        }
    }

    fn failed(m: i64) -> PanelReport {
        PanelReport {
            panel: "main".into(),
            at: t(m),
            outcome: Err("HTTP 502 with an HTML body".into()),
        }
    }

    fn kinds(events: &[Event]) -> Vec<&'static str> {
        events.iter().map(|e| e.kind()).collect()
    }

    fn open(dir: &Path) -> Engine {
        let store = Arc::new(Store::open(dir).unwrap());
        Engine::new(config(CONFIG), store).unwrap()
    }

    #[test]
    fn a_degrading_service_fires_once_and_resolves_once() {
        let dir = tempfile::tempdir().unwrap();
        let mut engine = open(dir.path());
        let mut all = Vec::new();
        for (m, good) in [
            (0, 20),
            (1, 10),
            (2, 10),
            (3, 10),
            (4, 10),
            (5, 19),
            (6, 20),
        ] {
            let events = engine.on_report(ok(m, good)).unwrap();
            all.extend(events.into_iter().map(|e| (m, e)));
        }
        let got: Vec<_> = all.iter().map(|(m, e)| (*m, e.kind())).collect();
        assert_eq!(got, vec![(3, "alert.fired"), (5, "alert.resolved")]);
        let EventBody::AlertFired(data) = &all[0].1.body else {
            panic!("not fired")
        };
        assert_eq!(data.success_rate, 0.5);
        assert_eq!(data.orders.canceled, 10);
        assert_eq!(data.service.as_ref().unwrap().name, "IG Followers");
        // Both destinations got a delivery of each event.
        let store = Store::open(dir.path()).unwrap();
        assert_eq!(store.due_deliveries("ops", t(10), 10).unwrap().len(), 1);
        assert_eq!(store.due_deliveries("backend", t(10), 10).unwrap().len(), 1);
    }

    #[test]
    fn panel_trouble_is_one_panel_event_and_no_service_alert() {
        let dir = tempfile::tempdir().unwrap();
        let mut engine = open(dir.path());
        engine.on_report(ok(0, 20)).unwrap();
        assert!(
            engine.on_report(failed(1)).unwrap().is_empty(),
            "one blip is not down"
        );
        assert_eq!(
            kinds(&engine.on_report(failed(2)).unwrap()),
            vec!["panel.down"]
        );
        for m in 3..10 {
            assert!(engine.on_report(failed(m)).unwrap().is_empty());
        }
        let snap = engine.snapshot(t(10), DeliveryView::default());
        assert!(matches!(snap.panels[0].health, PanelHealth::Down { .. }));
        assert_eq!(snap.services[0].status, AlertStatus::NoData);
        assert_eq!(snap.services[0].success_rate, None);
        assert_eq!(
            kinds(&engine.on_report(ok(10, 20)).unwrap()),
            vec!["panel.up"]
        );
    }

    #[test]
    fn a_restart_mid_incident_sends_nothing_new() {
        let dir = tempfile::tempdir().unwrap();
        {
            let mut engine = open(dir.path());
            for m in 0..4 {
                engine.on_report(ok(m, 5)).unwrap();
            }
            assert!(engine.alerts.values().any(AlertState::is_firing));
        }
        let mut engine = open(dir.path());
        for m in 4..10 {
            assert!(engine.on_report(ok(m, 5)).unwrap().is_empty(), "minute {m}");
        }
        assert_eq!(
            engine.snapshot(t(10), DeliveryView::default()).services[0].status,
            AlertStatus::Firing
        );
    }

    #[test]
    fn a_recovery_while_down_resolves_exactly_once_after_start() {
        let dir = tempfile::tempdir().unwrap();
        {
            let mut engine = open(dir.path());
            for m in 0..4 {
                engine.on_report(ok(m, 5)).unwrap();
            }
        }
        let mut engine = open(dir.path());
        assert_eq!(
            kinds(&engine.on_report(ok(30, 20)).unwrap()),
            vec!["alert.resolved"]
        );
        assert!(engine.on_report(ok(31, 20)).unwrap().is_empty());
        drop(engine);
        let mut engine = open(dir.path());
        assert!(engine.on_report(ok(32, 20)).unwrap().is_empty());
    }

    #[test]
    fn a_healthy_start_sends_nothing() {
        let dir = tempfile::tempdir().unwrap();
        let mut engine = open(dir.path());
        for m in 0..5 {
            assert!(engine.on_report(ok(m, 20)).unwrap().is_empty());
        }
    }

    #[test]
    fn a_panel_down_across_a_restart_is_not_announced_twice() {
        let dir = tempfile::tempdir().unwrap();
        {
            let mut engine = open(dir.path());
            engine.on_report(failed(0)).unwrap();
            assert_eq!(
                kinds(&engine.on_report(failed(1)).unwrap()),
                vec!["panel.down"]
            );
        }
        let mut engine = open(dir.path());
        assert!(engine.on_report(failed(2)).unwrap().is_empty());
        assert!(engine.on_report(failed(3)).unwrap().is_empty());
        assert_eq!(
            kinds(&engine.on_report(ok(4, 20)).unwrap()),
            vec!["panel.up"]
        );
    }

    #[test]
    fn reloading_an_unrelated_key_keeps_the_open_alert() {
        let dir = tempfile::tempdir().unwrap();
        let mut engine = open(dir.path());
        for m in 0..4 {
            engine.on_report(ok(m, 5)).unwrap();
        }
        let edited = CONFIG.replace("interval = \"1m\"", "interval = \"2m\"");
        engine.reload(config(&edited), t(4)).unwrap();
        for m in 4..8 {
            assert!(engine.on_report(ok(m, 5)).unwrap().is_empty());
        }
        // A renamed rule is a different rule: the old alert is forgotten without a word.
        let renamed = CONFIG.replace("name = \"success-rate\"", "name = \"renamed\"");
        engine.reload(config(&renamed), t(8)).unwrap();
        assert!(engine.alerts.is_empty());
    }

    #[test]
    fn routing_follows_notify_and_event_filters() {
        let text = CONFIG.replace(
            "kind = \"slack\"",
            "kind = \"slack\"\nevents = [\"panel.*\"]",
        );
        let config = config(&text);
        let fired = Event::new(
            t(0),
            chrono_tz::UTC,
            EventBody::AlertFired(alert_data(
                &config.rules[0],
                "main",
                &Subject::Service(ServiceId(1)),
                &ServiceStats::empty("x".into(), None),
            )),
        );
        assert_eq!(route(&config, &fired), vec!["backend".to_string()]);
        let down = Event::new(
            t(0),
            chrono_tz::UTC,
            EventBody::PanelDown(PanelData {
                panel: "main".into(),
                reason: None,
                since: None,
            }),
        );
        assert_eq!(
            route(&config, &down),
            vec!["ops".to_string(), "backend".to_string()]
        );
    }

    fn deliveries(dir: &Path) -> Vec<String> {
        let store = Store::open(dir).unwrap();
        let states = [
            crate::store::DeliveryState::Pending,
            crate::store::DeliveryState::Retrying,
        ];
        let mut list = store.deliveries(&states, 1000).unwrap();
        list.sort_by_key(|d| d.id);
        list.into_iter()
            .filter(|d| d.destination == "backend")
            .map(|d| d.event_type)
            .collect()
    }

    fn lines(engine: &Engine) -> Vec<String> {
        engine.lines.iter().map(|l| l.summary.clone()).collect()
    }

    #[test]
    fn an_alert_firing_in_a_mute_is_recorded_and_announced_once_after_it() {
        let dir = tempfile::tempdir().unwrap();
        let mut engine = open(dir.path());
        engine.on_report(ok(0, 20)).unwrap();
        engine.mute("main/17", t(10), t(0)).unwrap();
        for m in 1..10 {
            engine.on_report(ok(m, 5)).unwrap();
        }
        assert!(
            deliveries(dir.path()).is_empty(),
            "nothing delivered while muted"
        );
        assert!(lines(&engine)
            .iter()
            .any(|l| l.contains("FIRING") && l.contains("not sent")));
        // The mute expires with the service still failing: one alert, re-armed, no duplicate.
        for m in 10..15 {
            engine.on_report(ok(m, 5)).unwrap();
        }
        assert_eq!(deliveries(dir.path()), vec!["alert.fired"]);
    }

    #[test]
    fn an_alert_announced_before_a_mute_is_not_sent_again_after_it() {
        let dir = tempfile::tempdir().unwrap();
        let mut engine = open(dir.path());
        for m in 0..4 {
            engine.on_report(ok(m, 5)).unwrap();
        }
        engine.mute("main", t(6), t(4)).unwrap();
        for m in 4..12 {
            engine.on_report(ok(m, 5)).unwrap();
        }
        assert_eq!(deliveries(dir.path()), vec!["alert.fired"]);
        // A recovery during a mute still closes the announced incident.
        engine.mute("main", t(20), t(12)).unwrap();
        engine.on_report(ok(13, 20)).unwrap();
        assert_eq!(
            deliveries(dir.path()),
            vec!["alert.fired", "alert.resolved"]
        );
    }

    #[test]
    fn a_recovery_of_a_muted_alert_is_recorded_but_not_sent() {
        let dir = tempfile::tempdir().unwrap();
        let mut engine = open(dir.path());
        engine.mute("main/17", t(30), t(0)).unwrap();
        for m in 0..4 {
            engine.on_report(ok(m, 5)).unwrap();
        }
        let events = engine.on_report(ok(4, 20)).unwrap();
        assert_eq!(
            kinds(&events),
            vec!["alert.resolved"],
            "the recovery is recorded"
        );
        assert!(deliveries(dir.path()).is_empty());
        // And nothing is announced after the mute: the incident is over.
        for m in 31..35 {
            engine.on_report(ok(m, 20)).unwrap();
        }
        assert!(deliveries(dir.path()).is_empty());
    }

    #[test]
    fn mutes_survive_a_restart_and_can_be_lifted() {
        let dir = tempfile::tempdir().unwrap();
        {
            let mut engine = open(dir.path());
            engine.mute("main/17", t(60), t(0)).unwrap();
        }
        let mut engine = open(dir.path());
        assert_eq!(
            engine.snapshot(t(0), DeliveryView::default()).mutes.len(),
            1
        );
        for m in 0..4 {
            engine.on_report(ok(m, 5)).unwrap();
        }
        assert!(deliveries(dir.path()).is_empty());
        assert!(engine.unmute("main/17", t(4)).unwrap());
        engine.on_report(ok(5, 5)).unwrap();
        assert_eq!(deliveries(dir.path()), vec!["alert.fired"]);
        assert!(engine.mute("main/nonsense", t(9), t(5)).is_err());
    }

    const NIGHTLY: &str = r#"
[[maintenance]]
name = "nightly"
start = "00:20"
duration = "10m"
timezone = "UTC"
"#;

    /// Minute `m` of a fake clock that starts at midnight UTC, for maintenance windows.
    fn midnight(m: i64) -> DateTime<Utc> {
        DateTime::from_timestamp(1_799_971_200 + m * 60, 0).unwrap()
    }

    fn ok_at(m: i64, good: u64) -> PanelReport {
        let mut report = ok(0, good);
        report.at = midnight(m);
        if let Ok(read) = &mut report.outcome {
            read.orders = orders(midnight(m), good);
        }
        report
    }

    #[test]
    fn no_burst_when_a_maintenance_window_ends_for_alerts_already_firing() {
        let dir = tempfile::tempdir().unwrap();
        let store = Arc::new(Store::open(dir.path()).unwrap());
        let mut engine = Engine::new(config(&format!("{CONFIG}{NIGHTLY}")), store).unwrap();
        for m in 10..14 {
            engine.on_report(ok_at(m, 5)).unwrap();
        }
        assert_eq!(deliveries(dir.path()), vec!["alert.fired"]);
        for m in 14..40 {
            engine.on_report(ok_at(m, 5)).unwrap();
        }
        assert_eq!(
            deliveries(dir.path()),
            vec!["alert.fired"],
            "no second fired after it"
        );
    }

    #[test]
    fn a_breach_inside_a_maintenance_window_is_announced_when_it_ends() {
        let dir = tempfile::tempdir().unwrap();
        let store = Arc::new(Store::open(dir.path()).unwrap());
        let mut engine = Engine::new(config(&format!("{CONFIG}{NIGHTLY}")), store).unwrap();
        engine.on_report(ok_at(19, 20)).unwrap();
        for m in 20..30 {
            engine.on_report(ok_at(m, 5)).unwrap();
        }
        assert!(deliveries(dir.path()).is_empty(), "held during the window");
        assert_eq!(
            engine
                .snapshot(midnight(25), DeliveryView::default())
                .services[0]
                .quiet
                .as_deref(),
            Some("maintenance \"nightly\"")
        );
        engine.on_report(ok_at(30, 5)).unwrap();
        engine.on_report(ok_at(31, 5)).unwrap();
        assert_eq!(deliveries(dir.path()), vec!["alert.fired"]);
    }

    #[test]
    fn a_recovery_inside_a_maintenance_window_is_recorded_and_resolved() {
        let dir = tempfile::tempdir().unwrap();
        let store = Arc::new(Store::open(dir.path()).unwrap());
        let mut engine = Engine::new(config(&format!("{CONFIG}{NIGHTLY}")), store).unwrap();
        for m in 10..14 {
            engine.on_report(ok_at(m, 5)).unwrap();
        }
        let events = engine.on_report(ok_at(22, 20)).unwrap();
        assert_eq!(kinds(&events), vec!["alert.resolved"]);
        assert_eq!(
            deliveries(dir.path()),
            vec!["alert.fired", "alert.resolved"]
        );
        for m in 30..35 {
            assert!(engine.on_report(ok_at(m, 20)).unwrap().is_empty());
        }
    }

    #[test]
    fn a_panel_down_in_a_quiet_time_is_announced_if_still_down_after() {
        let dir = tempfile::tempdir().unwrap();
        let mut engine = open(dir.path());
        engine.mute("main", t(5), t(0)).unwrap();
        for m in 0..5 {
            engine.on_report(failed(m)).unwrap();
        }
        assert!(deliveries(dir.path()).is_empty());
        engine.on_report(failed(5)).unwrap();
        engine.on_report(failed(6)).unwrap();
        assert_eq!(deliveries(dir.path()), vec!["panel.down"]);
        engine.on_report(ok(7, 20)).unwrap();
        assert_eq!(deliveries(dir.path()), vec!["panel.down", "panel.up"]);
    }

    #[test]
    fn reminders_are_not_sent_in_a_quiet_time() {
        let text = CONFIG.replace("for = \"2m\"", "for = \"0s\"\nrepeat = \"5m\"");
        let dir = tempfile::tempdir().unwrap();
        let store = Arc::new(Store::open(dir.path()).unwrap());
        let mut engine = Engine::new(config(&text), store).unwrap();
        for m in 0..=10 {
            engine.on_report(ok(m, 5)).unwrap();
        }
        assert_eq!(
            deliveries(dir.path()),
            vec!["alert.fired", "alert.reminder", "alert.reminder"]
        );
        engine.mute("main", t(30), t(10)).unwrap();
        for m in 11..=25 {
            engine.on_report(ok(m, 5)).unwrap();
        }
        assert_eq!(deliveries(dir.path()).len(), 3);
    }

    #[test]
    fn too_many_stuck_orders_fire_orders_stuck_and_resolve() {
        let text = CONFIG.replace("for = \"2m\"", "for = \"2m\"\nalert_stuck_above = 2");
        let dir = tempfile::tempdir().unwrap();
        let store = Arc::new(Store::open(dir.path()).unwrap());
        let mut engine = Engine::new(config(&text), store).unwrap();
        let with_stuck = |m: i64, stuck: u64| {
            let mut report = ok(m, 20);
            if let Ok(read) = &mut report.outcome {
                for i in 0..stuck {
                    let mut o = read.orders[0].clone();
                    o.id = OrderId(500 + i);
                    o.status = OrderStatus::Pending;
                    o.created = t(m) - chrono::Duration::minutes(30);
                    read.orders.push(o);
                }
            }
            report
        };
        assert!(engine.on_report(with_stuck(0, 2)).unwrap().is_empty());
        let events = engine.on_report(with_stuck(1, 3)).unwrap();
        assert_eq!(kinds(&events), vec!["orders.stuck"]);
        let EventBody::OrdersStuck(data) = &events[0].body else {
            panic!()
        };
        assert_eq!((data.stuck, data.alert_stuck_above), (3, 2));
        assert!(engine.on_report(with_stuck(2, 5)).unwrap().is_empty());
        assert_eq!(
            kinds(&engine.on_report(with_stuck(3, 0)).unwrap()),
            vec!["orders.unstuck"]
        );
        assert_eq!(
            deliveries(dir.path()),
            vec!["orders.stuck", "orders.unstuck"]
        );
    }

    #[test]
    fn a_provider_failing_across_services_is_one_alert() {
        let text = CONFIG.replace("for = \"2m\"", "for = \"0s\"\ngroup_by = \"provider\"");
        let dir = tempfile::tempdir().unwrap();
        let store = Arc::new(Store::open(dir.path()).unwrap());
        let mut engine = Engine::new(config(&text), store).unwrap();
        let spread = |m: i64, good: u64| {
            let mut report = ok(m, good);
            if let Ok(read) = &mut report.outcome {
                for (i, o) in read.orders.iter_mut().enumerate() {
                    o.service = ServiceId(100 + (i as u64 % 12));
                }
            }
            report
        };
        let events = engine.on_report(spread(0, 5)).unwrap();
        assert_eq!(kinds(&events), vec!["alert.fired"]);
        let EventBody::AlertFired(data) = &events[0].body else {
            panic!()
        };
        assert_eq!(data.provider.as_deref(), Some("prov-a"));
        assert!(data.service.is_none());
        assert_eq!(data.orders.finished(), 20);
        let snap = engine.snapshot(t(0), DeliveryView::default());
        assert_eq!(snap.services.len(), 1);
        assert_eq!(snap.services[0].name, "provider prov-a (all services)");
        assert_eq!(
            kinds(&engine.on_report(spread(1, 20)).unwrap()),
            vec!["alert.resolved"]
        );
    }

    #[test]
    fn every_event_carries_utc_and_local_time() {
        let text = format!("[monitor]\ntimezone = \"Asia/Kolkata\"\n{CONFIG}");
        let dir = tempfile::tempdir().unwrap();
        let store = Arc::new(Store::open(dir.path()).unwrap());
        let mut engine = Engine::new(config(&text), store).unwrap();
        engine.on_report(failed(0)).unwrap();
        let events = engine.on_report(failed(1)).unwrap();
        let json: serde_json::Value = serde_json::from_str(&events[0].to_json()).unwrap();
        assert_eq!(json["timestamp"], "2027-01-15T08:01:00.000Z");
        assert_eq!(json["local_time"], "2027-01-15T13:31:00+05:30");
    }

    #[test]
    fn held_marks_and_operator_notes_survive_a_restart() {
        let dir = tempfile::tempdir().unwrap();
        {
            let mut engine = open(dir.path());
            engine.mute("main/17", t(30), t(0)).unwrap();
            engine.note(t(0), "action", "muted main/17 until later".into());
            for m in 0..4 {
                engine.on_report(ok(m, 5)).unwrap();
            }
        }
        let engine = open(dir.path());
        let lines = lines(&engine);
        assert!(
            lines.iter().any(|l| l == "muted main/17 until later"),
            "{lines:?}"
        );
        assert!(
            lines
                .iter()
                .any(|l| l.starts_with("[not sent: muted until") && l.contains("FIRING")),
            "{lines:?}"
        );
    }
}
