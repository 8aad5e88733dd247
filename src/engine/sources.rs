//! The engine's view of panels as sources: balance, API health, the services catalogue and
//! each order's last status.
//!
//! Driven by the same reports as the success-rate rules, and held to the same discipline:
//! every transition is decided first ([`Engine::source_step`]), committed with the report's
//! other changes, and only then applied in memory ([`Engine::apply_source`]). What must
//! survive a restart (an open `balance.low` or `panel.degraded`, the last catalogue) is a
//! state row, so a restart neither re-fires nor forgets.
//!
//! Order statuses are kept in memory only: after a restart the first poll is the new baseline,
//! and a change that happened while panelwatch was stopped is not reported as `order.updated`
//! (the statistics still count the order's final status).

use std::collections::{HashMap, HashSet, VecDeque};

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use super::{Changes, Engine, PanelReport};
use crate::config::format_duration;
use crate::domain::{Money, OrderId, OrderStatus, ServiceId};
use crate::event::{
    BalanceData, Event, EventBody, HealthData, OrderUpdateData, ServiceChangeData, ServiceRef,
    ServiceTerms,
};
use crate::panel::decode_v2::ServiceInfo;
use crate::snapshot::SourceView;
use crate::store::StoreError;

/// Fewer calls than this in the window say too little to call a panel degraded.
const MIN_CALLS: u32 = 3;

/// A balance as read: the amount and its currency, when the panel says.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Balance {
    pub amount: Money,
    pub currency: Option<String>,
}

/// An open `balance.low` or `panel.degraded`, persisted while open.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub(super) struct OpenState {
    since: DateTime<Utc>,
    announced: bool,
}

/// Persisted source states, keyed by panel name.
#[derive(Default)]
pub(super) struct SourceStates {
    balance_low: HashMap<String, OpenState>,
    degraded: HashMap<String, OpenState>,
    catalogues: HashMap<String, Vec<ServiceInfo>>,
}

/// In-memory figures of one panel.
#[derive(Default)]
pub(super) struct SourceRuntime {
    balance: Option<Balance>,
    /// (when, usable, total) per poll, over the health window.
    calls: VecDeque<(DateTime<Utc>, u32, u32)>,
    /// Each order's last status; `None` until the first successful poll (the baseline).
    statuses: Option<HashMap<OrderId, OrderStatus>>,
    /// Warnings already shown in the history, so a drifting panel does not flood it.
    warned: HashSet<String>,
}

/// What one report changes in the source figures, applied after the commit.
#[derive(Default)]
pub(super) struct SourceChanges {
    balance_low: Option<Option<OpenState>>,
    degraded: Option<Option<OpenState>>,
    catalogue: Option<Vec<ServiceInfo>>,
    balance: Option<Balance>,
    calls: VecDeque<(DateTime<Utc>, u32, u32)>,
    statuses: Option<HashMap<OrderId, OrderStatus>>,
    warnings: Vec<String>,
}

fn balance_key(panel: &str) -> String {
    format!("balance/{panel}")
}

fn health_key(panel: &str) -> String {
    format!("health/{panel}")
}

fn catalogue_key(panel: &str) -> String {
    format!("catalogue/{panel}")
}

fn terms(info: &ServiceInfo) -> ServiceTerms {
    ServiceTerms {
        rate: info.rate,
        min: info.min,
        max: info.max,
    }
}

fn by_panel<T>(rows: HashMap<String, T>, prefix: &str) -> HashMap<String, T> {
    rows.into_iter()
        .filter_map(|(k, v)| Some((k.strip_prefix(prefix)?.to_string(), v)))
        .collect()
}

impl Engine {
    pub(super) fn load_source_states(&self) -> Result<SourceStates, StoreError> {
        Ok(SourceStates {
            balance_low: by_panel(self.load("balance/")?, "balance/"),
            degraded: by_panel(self.load("health/")?, "health/"),
            catalogues: by_panel(self.load("catalogue/")?, "catalogue/"),
        })
    }

    /// Decides the source events of one report: balance, health, catalogue, order changes.
    pub(super) fn source_step(&self, report: &PanelReport, changes: &mut Changes) {
        let Some(panel) = self.config.panel(&report.panel) else {
            return;
        };
        let options = panel.source.clone();
        let now = report.at;
        let zone = self.config.monitor.timezone;
        let name = report.panel.as_str();
        let runtime = &self.panels[name];
        let quiet = self.why_quiet(name, None, None, now);
        let mut out = SourceChanges::default();

        // API health over the window.
        let (usable, total) = match &report.outcome {
            Ok(read) if read.calls.1 == 0 => (1, 1),
            Ok(read) => read.calls,
            Err(_) => (0, 1),
        };
        let window = chrono::Duration::from_std(options.health_window).unwrap_or_default();
        let mut calls = runtime.source.calls.clone();
        calls.push_back((now, usable, total));
        while calls.front().is_some_and(|(at, _, _)| *at < now - window) {
            calls.pop_front();
        }
        let (ok, all) = calls
            .iter()
            .fold((0, 0), |(o, a), (_, u, t)| (o + u, a + t));
        if let Some(threshold) = options.degraded_below {
            let health = f64::from(ok) / f64::from(all.max(1));
            let data = || HealthData {
                panel: name.to_string(),
                health: (health * 10_000.0).round() / 10_000.0,
                degraded_below: threshold,
                window: format_duration(options.health_window),
                usable: ok,
                calls: all,
            };
            let open = self.source_states.degraded.get(name);
            match open {
                None if all >= MIN_CALLS && health < threshold => {
                    let state = OpenState {
                        since: now,
                        announced: quiet.is_none(),
                    };
                    let event = Event::new(now, zone, EventBody::PanelDegraded(data()));
                    changes.event(event, quiet.clone());
                    changes.state(health_key(name), Some(&state));
                    out.degraded = Some(Some(state));
                }
                Some(state) if health >= threshold => {
                    let held =
                        (!state.announced).then(|| "its panel.degraded was never sent".into());
                    let event = Event::new(now, zone, EventBody::PanelRecovered(data()));
                    changes.event(event, held);
                    changes.state::<OpenState>(health_key(name), None);
                    out.degraded = Some(None);
                }
                _ => {}
            }
        }
        out.calls = calls;

        let Ok(read) = &report.outcome else {
            changes.source = out;
            return;
        };

        // Balance.
        if let Some(balance) = &read.balance {
            if let Some(threshold) = options.balance_below {
                let data = || BalanceData {
                    panel: name.to_string(),
                    balance: balance.amount,
                    currency: balance.currency.clone(),
                    threshold: Money(threshold),
                };
                let low = balance.amount.0 < threshold;
                match (self.source_states.balance_low.get(name), low) {
                    (None, true) => {
                        let state = OpenState {
                            since: now,
                            announced: quiet.is_none(),
                        };
                        let event = Event::new(now, zone, EventBody::BalanceLow(data()));
                        changes.event(event, quiet.clone());
                        changes.state(balance_key(name), Some(&state));
                        out.balance_low = Some(Some(state));
                    }
                    (Some(state), false) => {
                        let held =
                            (!state.announced).then(|| "its balance.low was never sent".into());
                        let event = Event::new(now, zone, EventBody::BalanceRecovered(data()));
                        changes.event(event, held);
                        changes.state::<OpenState>(balance_key(name), None);
                        out.balance_low = Some(None);
                    }
                    _ => {}
                }
            }
            out.balance = Some(balance.clone());
        }

        // Catalogue. An empty answer from a panel that listed services is a broken answer
        // (`[]`, `{}`), not every service withdrawn at once: it is ignored, and kept from
        // becoming the baseline.
        let previous = self.source_states.catalogues.get(name);
        let empty_after_full = read
            .catalogue
            .as_ref()
            .is_some_and(|c| c.is_empty() && previous.is_some_and(|p| !p.is_empty()));
        if empty_after_full {
            tracing::warn!(panel = name, "ignoring an empty services catalogue");
        }
        if let (Some(catalogue), false) = (&read.catalogue, empty_after_full) {
            if let Some(before) = previous {
                let watched = |id: ServiceId| {
                    options.watch_services.is_empty() || options.watch_services.contains(&id.0)
                };
                for old in before.iter().filter(|s| watched(s.id)) {
                    let now_info = catalogue.iter().find(|s| s.id == old.id);
                    let changed = match now_info {
                        None => true,
                        Some(new) => terms(new) != terms(old),
                    };
                    if changed {
                        let data = ServiceChangeData {
                            panel: name.to_string(),
                            service: ServiceRef {
                                id: old.id,
                                name: old.name.clone(),
                            },
                            before: terms(old),
                            after: now_info.map(terms),
                        };
                        let event = Event::new(now, zone, EventBody::ServiceChanged(data));
                        changes.event(event, quiet.clone());
                    }
                }
            }
            changes.state(catalogue_key(name), Some(catalogue));
            out.catalogue = Some(catalogue.clone());
        }

        // Order status changes, for destinations that subscribe to them.
        let statuses: HashMap<OrderId, OrderStatus> = read
            .orders
            .iter()
            .map(|o| (o.id, o.status.clone()))
            .collect();
        let wanted = self
            .config
            .webhooks
            .iter()
            .any(|d| d.wants("order.updated"));
        if let (Some(before), true) = (&runtime.source.statuses, wanted) {
            let mut orders: Vec<_> = read.orders.iter().collect();
            orders.sort_by_key(|o| o.id);
            for order in orders {
                let Some(old) = before.get(&order.id) else {
                    continue;
                };
                if *old == order.status {
                    continue;
                }
                let data = OrderUpdateData {
                    panel: name.to_string(),
                    order: order.id,
                    service: ServiceRef {
                        id: order.service,
                        name: order.service_name.clone(),
                    },
                    old_status: old.label().to_string(),
                    new_status: order.status.label().to_string(),
                    remains: order.remains,
                };
                changes.event(Event::new(now, zone, EventBody::OrderUpdated(data)), None);
            }
        }
        out.statuses = Some(statuses);

        out.warnings = read
            .warnings
            .iter()
            .filter(|w| !runtime.source.warned.contains(*w))
            .take(5)
            .cloned()
            .collect();
        changes.source = out;
    }

    /// Moves the in-memory source figures on, once the report's changes are committed.
    pub(super) fn apply_source(&mut self, panel: &str, changes: SourceChanges, now: DateTime<Utc>) {
        match changes.balance_low {
            Some(Some(state)) => {
                self.source_states
                    .balance_low
                    .insert(panel.to_string(), state);
            }
            Some(None) => {
                self.source_states.balance_low.remove(panel);
            }
            None => {}
        }
        match changes.degraded {
            Some(Some(state)) => {
                self.source_states.degraded.insert(panel.to_string(), state);
            }
            Some(None) => {
                self.source_states.degraded.remove(panel);
            }
            None => {}
        }
        if let Some(catalogue) = changes.catalogue {
            self.source_states
                .catalogues
                .insert(panel.to_string(), catalogue);
        }
        let mut lines = Vec::new();
        if let Some(runtime) = self.panels.get_mut(panel) {
            let source = &mut runtime.source;
            source.calls = changes.calls;
            if changes.balance.is_some() {
                source.balance = changes.balance;
            }
            if changes.statuses.is_some() {
                source.statuses = changes.statuses;
            }
            for warning in changes.warnings {
                if source.warned.len() < 10_000 && source.warned.insert(warning.clone()) {
                    lines.push(warning);
                }
            }
        }
        for warning in lines {
            self.note(now, "panel.warning", format!("{panel}: {warning}"));
        }
    }

    /// The screen's view of each panel as a source.
    pub(super) fn source_views(&self) -> Vec<SourceView> {
        self.config
            .panels
            .iter()
            .filter_map(|p| {
                let rt = self.panels.get(&p.name)?;
                let (usable, total) = rt
                    .source
                    .calls
                    .iter()
                    .fold((0, 0), |(o, a), (_, u, t)| (o + u, a + t));
                Some(SourceView {
                    panel: p.name.clone(),
                    balance: rt.source.balance.as_ref().map(|b| match &b.currency {
                        Some(c) => format!("{} {c}", b.amount),
                        None => b.amount.to_string(),
                    }),
                    balance_low: self.source_states.balance_low.contains_key(&p.name),
                    health: (total > 0).then(|| f64::from(usable) / f64::from(total)),
                    degraded: self.source_states.degraded.contains_key(&p.name),
                    calls: (usable, total),
                })
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::Config;
    use crate::domain::Order;
    use crate::engine::PanelRead;
    use crate::store::Store;
    use std::path::Path;
    use std::sync::Arc;

    const CONFIG: &str = r#"
[[panels]]
name = "provider"
kind = "v2"
url = "http://127.0.0.1:9/api/v2"
api_key = "k"
interval = "1m"
balance_below = "25.00"
degraded_below = 0.9
health_window = "10m"
watch_services = [1]

[[webhooks]]
name = "all"
kind = "custom"
url = "http://127.0.0.1:9/all"
secret = "whsec_C2FVsBQIhrscChlQIMV+b5sSYspob7oD"

[[webhooks]]
name = "orders"
kind = "custom"
url = "http://127.0.0.1:9/orders"
secret = "whsec_C2FVsBQIhrscChlQIMV+b5sSYspob7oD"
events = ["order.updated"]
"#;

    fn t(m: i64) -> DateTime<Utc> {
        DateTime::from_timestamp(1_800_000_000 + m * 60, 0).unwrap()
    }

    fn engine(dir: &Path) -> Engine {
        let config = Config::from_toml(CONFIG, Path::new("."), &|_| None).unwrap();
        let store = Arc::new(Store::open(dir).unwrap());
        Engine::new(Arc::new(config), store).unwrap()
    }

    fn money(text: &str) -> Money {
        Money(text.parse().unwrap())
    }

    fn read(m: i64, read: PanelRead) -> PanelReport {
        PanelReport {
            panel: "provider".into(),
            at: t(m),
            outcome: Ok(read),
        }
    }

    fn balance(m: i64, amount: &str) -> PanelReport {
        read(
            m,
            PanelRead {
                balance: Some(Balance {
                    amount: money(amount),
                    currency: Some("USD".into()),
                }),
                ..PanelRead::default()
            },
        )
    }

    fn queued(store: &Store, destination: &str) -> usize {
        let pending = [crate::store::DeliveryState::Pending];
        let all = store.deliveries(&pending, 100).unwrap();
        all.iter().filter(|d| d.destination == destination).count()
    }

    fn kinds(events: &[Event]) -> Vec<&'static str> {
        events.iter().map(|e| e.kind()).collect()
    }

    #[test]
    fn a_balance_drop_fires_once_and_survives_a_restart() {
        let dir = tempfile::tempdir().unwrap();
        let mut e = engine(dir.path());
        assert!(e.on_report(balance(0, "100.84")).unwrap().is_empty());
        let fired = e.on_report(balance(1, "24.9999999")).unwrap();
        assert_eq!(kinds(&fired), ["balance.low"]);
        let EventBody::BalanceLow(data) = &fired[0].body else {
            panic!()
        };
        assert_eq!(data.balance.to_string(), "24.9999999");
        assert_eq!(data.threshold.0.to_string(), "25.00");
        assert!(e.on_report(balance(2, "3")).unwrap().is_empty());
        drop(e);

        let mut e = engine(dir.path());
        assert!(
            e.on_report(balance(3, "2")).unwrap().is_empty(),
            "no re-fire"
        );
        let back = e.on_report(balance(4, "25.00")).unwrap();
        assert_eq!(kinds(&back), ["balance.recovered"]);
        let store = Store::open(dir.path()).unwrap();
        assert_eq!(queued(&store, "all"), 2);
        assert_eq!(queued(&store, "orders"), 0);
    }

    #[test]
    fn api_health_degrades_and_recovers() {
        let dir = tempfile::tempdir().unwrap();
        let mut e = engine(dir.path());
        let calls = |m, usable, total| {
            read(
                m,
                PanelRead {
                    calls: (usable, total),
                    ..PanelRead::default()
                },
            )
        };
        assert!(e.on_report(calls(0, 4, 4)).unwrap().is_empty());
        let failed = PanelReport {
            panel: "provider".into(),
            at: t(1),
            outcome: Err("blocked".into()),
        };
        let events = e.on_report(failed).unwrap();
        assert_eq!(kinds(&events), ["panel.degraded"], "4 of 5 calls usable");
        assert!(e.on_report(calls(2, 4, 4)).unwrap().is_empty(), "8 of 9");
        let events = e.on_report(calls(3, 4, 4)).unwrap();
        assert_eq!(kinds(&events), ["panel.recovered"], "12 of 13");
        let view = &e.source_views()[0];
        assert!(!view.degraded);
        assert_eq!(view.calls, (12, 13));
        // The window forgets old calls.
        let events = e.on_report(calls(30, 1, 1)).unwrap();
        assert!(events.is_empty());
        assert_eq!(e.source_views()[0].calls, (1, 1));
    }

    fn order(id: u64, status: OrderStatus, remains: u64) -> Order {
        Order {
            id: OrderId(id),
            service: ServiceId(17),
            service_name: "IG Followers".into(),
            status,
            quantity: Some(1000),
            remains: Some(remains),
            provider: None,
            charge: None,
            created: t(0),
        }
    }

    fn orders(m: i64, list: Vec<Order>) -> PanelReport {
        read(
            m,
            PanelRead {
                orders: list,
                ..PanelRead::default()
            },
        )
    }

    #[test]
    fn status_changes_become_order_updated_for_subscribers_only() {
        let dir = tempfile::tempdir().unwrap();
        let mut e = engine(dir.path());
        let first = e
            .on_report(orders(0, vec![order(1, OrderStatus::Pending, 1000)]))
            .unwrap();
        assert!(first.is_empty(), "the first read is the baseline");
        let same = e
            .on_report(orders(1, vec![order(1, OrderStatus::Pending, 1000)]))
            .unwrap();
        assert!(same.is_empty());
        let moving = e
            .on_report(orders(2, vec![order(1, OrderStatus::InProgress, 600)]))
            .unwrap();
        let done = e
            .on_report(orders(3, vec![order(1, OrderStatus::Partial, 157)]))
            .unwrap();
        assert_eq!(kinds(&moving), ["order.updated"]);
        let EventBody::OrderUpdated(data) = &done[0].body else {
            panic!()
        };
        assert_eq!(
            (
                data.old_status.as_str(),
                data.new_status.as_str(),
                data.remains
            ),
            ("In progress", "Partial", Some(157))
        );
        let store = Store::open(dir.path()).unwrap();
        assert_eq!(queued(&store, "orders"), 2);
        assert_eq!(
            queued(&store, "all"),
            0,
            "no events filter is not a subscription to order.*"
        );
    }

    #[test]
    fn a_watched_service_that_changes_or_disappears() {
        let dir = tempfile::tempdir().unwrap();
        let mut e = engine(dir.path());
        let info = |id: u64, rate: &str, max: u64| ServiceInfo {
            id: ServiceId(id),
            name: format!("S{id}"),
            rate: Some(money(rate)),
            min: Some(10),
            max: Some(max),
        };
        let catalogue = |m, list: Vec<ServiceInfo>| {
            read(
                m,
                PanelRead {
                    catalogue: Some(list),
                    ..PanelRead::default()
                },
            )
        };
        let first = catalogue(0, vec![info(1, "0.9", 1000), info(2, "1", 5)]);
        assert!(e.on_report(first).unwrap().is_empty());
        let unwatched = catalogue(1, vec![info(1, "0.9", 1000), info(2, "2", 5)]);
        assert!(e.on_report(unwatched).unwrap().is_empty());
        drop(e);
        let mut e = engine(dir.path());
        let repriced = e
            .on_report(catalogue(2, vec![info(1, "1.10", 500)]))
            .unwrap();
        assert_eq!(kinds(&repriced), ["service.changed"]);
        assert!(
            repriced[0].summary().contains("rate 0.9 -> 1.1"),
            "{}",
            repriced[0].summary()
        );
        assert!(repriced[0].summary().contains("max 1000 -> 500"));
        // An empty answer is a broken one, not every service withdrawn.
        assert!(e.on_report(catalogue(3, vec![])).unwrap().is_empty());
        let gone = e.on_report(catalogue(4, vec![info(2, "1", 5)])).unwrap();
        assert!(
            gone[0].summary().contains("removed"),
            "{}",
            gone[0].summary()
        );
    }

    #[test]
    fn unknown_statuses_show_once_in_the_history() {
        let dir = tempfile::tempdir().unwrap();
        let mut e = engine(dir.path());
        for m in 0..3 {
            let report = read(
                m,
                PanelRead {
                    warnings: vec!["order 4 has an unknown status \"Awaiting\"".into()],
                    ..PanelRead::default()
                },
            );
            e.on_report(report).unwrap();
        }
        let warnings = e.lines.iter().filter(|l| l.kind == "panel.warning").count();
        assert_eq!(warnings, 1);
    }
}
