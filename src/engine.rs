//! The engine: turns panel reports into statistics, alert transitions and recorded events.
//!
//! It owns the in-memory view (each panel's order book, each alert's state, rate histories)
//! and is driven from outside: the runtime feeds it [`PanelReport`]s and config reloads and
//! passes `now`, so tests drive it with a fake clock and scripted reports. Every change that
//! must survive a crash (events, their deliveries, alert and panel states) goes to the store in
//! one transaction *before* the in-memory state moves on: if the store refuses, the engine
//! stays where it was and the next report tries again, so nothing is lost or sent twice.
//!
//! Panel-side trouble never becomes a service alert: while a panel cannot be read its services
//! show NO DATA and its alerts neither fire nor resolve; after `DOWN_AFTER` failed polls in a
//! row one `panel.down` event goes out, and one `panel.up` when it answers again.

use std::collections::{BTreeMap, HashMap, VecDeque};
use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::config::{Config, RuleConfig};
use crate::domain::{Order, ServiceId};
use crate::event::{AlertData, Event, EventBody, PanelData, ServiceRef};
use crate::rules::{self, AlertState, Transition};
use crate::snapshot::{
    AlertStatus, DeliveryView, EventLine, PanelHealth, PanelView, ServiceView, Snapshot,
};
use crate::stats::{self, OrderBook, ServiceStats};
use crate::store::{Batch, Store, StoreError};

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
}

/// A panel's persisted standing: present only while it is down.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
struct DownState {
    since: DateTime<Utc>,
    reason: String,
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
}

/// One (rule, panel, service) the engine tracks.
#[derive(Clone, Debug)]
struct Tracked {
    rule: String,
    panel: String,
    service: ServiceId,
    stats: ServiceStats,
    history: VecDeque<f64>,
}

pub struct Engine {
    config: Arc<Config>,
    store: Arc<Store>,
    panels: BTreeMap<String, PanelRuntime>,
    alerts: HashMap<String, AlertState>,
    tracked: BTreeMap<String, Tracked>,
    lines: VecDeque<EventLine>,
    notice: Option<(DateTime<Utc>, String)>,
}

fn alert_key(rule: &str, panel: &str, service: ServiceId) -> String {
    format!("alert/{rule}/{panel}/{service}")
}

fn panel_key(panel: &str) -> String {
    format!("panel/{panel}")
}

/// Splits `alert/{rule}/{panel}/{service}`; rule and panel names may not hold `/`, so the
/// service id is the last part and the rule the first.
fn parse_alert_key(key: &str) -> Option<(&str, &str, ServiceId)> {
    let rest = key.strip_prefix("alert/")?;
    let (head, service) = rest.rsplit_once('/')?;
    let (rule, panel) = head.split_once('/')?;
    Some((rule, panel, ServiceId(service.parse().ok()?)))
}

impl Engine {
    /// Builds the engine and loads alert and panel states left by an earlier run.
    pub fn new(config: Arc<Config>, store: Arc<Store>) -> Result<Engine, StoreError> {
        let mut engine = Engine {
            config,
            store,
            panels: BTreeMap::new(),
            alerts: HashMap::new(),
            tracked: BTreeMap::new(),
            lines: VecDeque::new(),
            notice: None,
        };
        for (key, value) in engine.store.states("alert/")? {
            match serde_json::from_str::<AlertState>(&value) {
                Ok(state) => {
                    engine.alerts.insert(key, state);
                }
                Err(e) => tracing::warn!(key, error = %e, "ignoring an unreadable alert state"),
            }
        }
        let mut downs = HashMap::new();
        for (key, value) in engine.store.states("panel/")? {
            if let Ok(down) = serde_json::from_str::<DownState>(&value) {
                downs.insert(key["panel/".len()..].to_string(), down);
            }
        }
        for panel in &engine.config.panels {
            let runtime = PanelRuntime {
                down: downs.remove(&panel.name),
                ..PanelRuntime::default()
            };
            engine.panels.insert(panel.name.clone(), runtime);
        }
        for stored in engine.store.recent_events(engine.config.monitor.history)? {
            if let Ok(event) = serde_json::from_str::<Event>(&stored) {
                engine.lines.push_back(line_of(&event));
            }
        }
        engine.forget_orphans(Utc::now())?;
        Ok(engine)
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
            parse_alert_key(key).is_some_and(|(rule, panel, _)| {
                config.panel(panel).is_some()
                    && config
                        .rules
                        .iter()
                        .any(|r| r.name == rule && r.covers_panel(panel))
            })
        };
        let dead: Vec<String> = self.alerts.keys().filter(|k| !alive(k)).cloned().collect();
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
            }
        }
        self.tracked.retain(|key, _| alive(key));
        Ok(())
    }

    pub fn set_notice(&mut self, now: DateTime<Utc>, text: String) {
        self.notice = Some((now, text));
    }

    /// Adds a line to the history pane that is not an event (a reload, an operator action).
    pub fn note(&mut self, now: DateTime<Utc>, kind: &str, summary: String) {
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

    /// Takes one poll's result, evaluates the rules of that panel, and records what changed.
    /// Returns the events recorded (already committed with their deliveries).
    pub fn on_report(&mut self, report: PanelReport) -> Result<Vec<Event>, StoreError> {
        let now = report.at;
        let Some(runtime) = self.panels.get(&report.panel) else {
            return Ok(Vec::new());
        };
        let zone = self.config.monitor.timezone;
        let mut events = Vec::new();
        let mut states: Vec<(String, Option<String>)> = Vec::new();
        let mut down = runtime.down.clone();
        let mut failures = runtime.failures;

        match &report.outcome {
            Ok(_) => {
                failures = 0;
                if let Some(was) = down.take() {
                    events.push(Event::new(
                        now,
                        zone,
                        EventBody::PanelUp(PanelData {
                            panel: report.panel.clone(),
                            reason: None,
                            since: Some(was.since),
                        }),
                    ));
                    states.push((panel_key(&report.panel), None));
                }
            }
            Err(reason) => {
                failures += 1;
                if failures >= DOWN_AFTER && down.is_none() {
                    let state = DownState {
                        since: now,
                        reason: reason.clone(),
                    };
                    events.push(Event::new(
                        now,
                        zone,
                        EventBody::PanelDown(PanelData {
                            panel: report.panel.clone(),
                            reason: Some(reason.clone()),
                            since: None,
                        }),
                    ));
                    let json = serde_json::to_string(&state).expect("serialisable");
                    states.push((panel_key(&report.panel), Some(json)));
                    down = Some(state);
                }
            }
        }

        // Evaluate every rule covering this panel. Without a fresh answer every rate is
        // missing, so nothing fires or resolves; reminders still go out.
        let readable = report.outcome.is_ok();
        let book = match &report.outcome {
            Ok(read) => {
                let mut book = OrderBook::default();
                book.replace(read.orders.clone());
                Some(book)
            }
            Err(_) => None,
        };
        let mut new_alerts: Vec<(String, AlertState)> = Vec::new();
        let mut new_tracked: Vec<(String, Tracked)> = Vec::new();
        let rules: Vec<RuleConfig> = self
            .config
            .rules
            .iter()
            .filter(|r| r.covers_panel(&report.panel))
            .cloned()
            .collect();
        for rule in &rules {
            let figures = match &book {
                Some(book) => stats::per_service(book.orders(), rule, now),
                None => BTreeMap::new(),
            };
            let mut keys: BTreeMap<String, ServiceId> = figures
                .keys()
                .map(|id| (alert_key(&rule.name, &report.panel, *id), *id))
                .collect();
            for key in self.alerts.keys().chain(self.tracked.keys()) {
                if let Some((r, p, id)) = parse_alert_key(key) {
                    if r == rule.name && p == report.panel {
                        keys.insert(key.clone(), id);
                    }
                }
            }
            for (key, service) in keys {
                let previous = self.tracked.get(&key);
                // Without a fresh answer, events (reminders) show the last figures known.
                let figures = match (figures.get(&service), previous) {
                    (Some(f), _) => f.clone(),
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
                let state = self.alerts.get(&key).cloned().unwrap_or(AlertState::Ok);
                let (next, transition) = rules::step(&state, rule, rate, now);
                if let Some(transition) = transition {
                    let data = alert_data(rule, &report.panel, service, &figures);
                    let body = match transition {
                        Transition::Fired => EventBody::AlertFired(data),
                        Transition::Resolved => EventBody::AlertResolved(data),
                        Transition::Reminder => EventBody::AlertReminder(data),
                    };
                    events.push(Event::new(now, zone, body));
                }
                if next != state {
                    let value = match &next {
                        AlertState::Ok => None,
                        other => Some(serde_json::to_string(other).expect("serialisable")),
                    };
                    states.push((key.clone(), value));
                    new_alerts.push((key.clone(), next));
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
                        panel: report.panel.clone(),
                        service,
                        stats: figures,
                        history,
                    };
                    new_tracked.push((key, tracked));
                }
            }
        }

        let routed: Vec<(Event, Vec<String>)> = events
            .into_iter()
            .map(|e| {
                let to = route(&self.config, &e);
                (e, to)
            })
            .collect();
        let batch = Batch {
            events: routed.iter().map(|(e, to)| (e, to.clone())).collect(),
            states,
        };
        self.store.commit(&batch, now)?;

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
        for (key, state) in new_alerts {
            if state == AlertState::Ok {
                self.alerts.remove(&key);
            } else {
                self.alerts.insert(key, state);
            }
        }
        for (key, tracked) in new_tracked {
            self.tracked.insert(key, tracked);
        }
        let events: Vec<Event> = routed.into_iter().map(|(e, _)| e).collect();
        for event in &events {
            self.push_line(line_of(event));
        }
        Ok(events)
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
            .filter_map(|(key, t)| {
                let rule = self.config.rules.iter().find(|r| r.name == t.rule)?;
                let rt = self.panels.get(&t.panel)?;
                let readable = rt.last_error.is_none() && rt.polled;
                let state = self.alerts.get(key);
                let (status, since) = match state {
                    Some(AlertState::Firing { since, .. }) => (AlertStatus::Firing, Some(*since)),
                    Some(AlertState::Pending { since }) => (AlertStatus::Pending, Some(*since)),
                    _ if !readable || t.stats.judged_rate(rule.min_orders).is_none() => {
                        (AlertStatus::NoData, None)
                    }
                    _ => (AlertStatus::Ok, None),
                };
                Some(ServiceView {
                    panel: t.panel.clone(),
                    service: t.service,
                    name: t.stats.name.clone(),
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
                    quiet: None,
                    providers: t.stats.providers.clone(),
                    problem_orders: t.stats.problems.clone(),
                })
            })
            .collect();
        services
            .sort_by(|a, b| (&a.panel, a.service, &a.rule).cmp(&(&b.panel, b.service, &b.rule)));
        Snapshot {
            at: now,
            panels,
            services,
            events: self.lines.iter().cloned().collect(),
            deliveries,
            notice: self.notice.clone(),
            timezone: Some(self.config.monitor.timezone),
            mutes: Vec::new(),
            destinations: self
                .config
                .webhooks
                .iter()
                .map(|d| d.name.clone())
                .collect(),
        }
    }
}

/// The destinations of an event: an alert's rule names them; the rest go to every destination
/// that wants them.
fn route(config: &Config, event: &Event) -> Vec<String> {
    let named: &[String] = match &event.body {
        EventBody::AlertFired(a) | EventBody::AlertResolved(a) | EventBody::AlertReminder(a) => {
            config
                .rules
                .iter()
                .find(|r| r.name == a.rule)
                .map(|r| r.notify.as_slice())
                .unwrap_or(&[])
        }
        _ => &[],
    };
    crate::delivery::dispatch::destinations_for(config, event, named)
}

fn alert_data(rule: &RuleConfig, panel: &str, service: ServiceId, s: &ServiceStats) -> AlertData {
    AlertData {
        panel: panel.to_string(),
        service: Some(ServiceRef {
            id: service,
            name: s.name.clone(),
        }),
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

fn line_of(event: &Event) -> EventLine {
    EventLine {
        at: event.timestamp,
        kind: event.kind().to_string(),
        summary: event.summary(),
    }
}

// Minimal mutes for the console's actions (feat-console). The main developer's mutes replace
// this block on merge; it only records the mute as a state row so that it survives restarts.
impl Engine {
    /// Mutes `target` (`PANEL`, `PANEL/SERVICE_ID` or `PANEL/provider:NAME`) until `until`.
    pub fn mute(
        &mut self,
        target: &str,
        until: DateTime<Utc>,
        now: DateTime<Utc>,
    ) -> Result<(), StoreError> {
        let value = serde_json::json!({ "until": until.to_rfc3339() }).to_string();
        let batch = Batch {
            events: vec![],
            states: vec![(format!("mute/{target}"), Some(value))],
        };
        self.store.commit(&batch, now)
    }

    /// Lifts a mute set by [`Engine::mute`]; lifting a mute that does not exist is fine.
    pub fn unmute(&mut self, target: &str, now: DateTime<Utc>) -> Result<(), StoreError> {
        let batch = Batch {
            events: vec![],
            states: vec![(format!("mute/{target}"), None)],
        };
        self.store.commit(&batch, now)
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
                ServiceId(1),
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
}
