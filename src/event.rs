//! Events: what happened, as stored in the outbox and sent to destinations.
//!
//! An [`Event`] is serialised once, when it is recorded; those bytes are what the store keeps,
//! what a `custom` destination receives and what its signature covers. Chat formats (Slack,
//! Discord, ...) are rendered from the decoded event by `delivery::format`.
//!
//! The wire shape is `{"id", "type", "timestamp", "local_time", "data"}`; `type` is a dotted
//! name such as `alert.fired` and decides the shape of `data`.

use std::fmt;

use chrono::{DateTime, SecondsFormat, Utc};
use chrono_tz::Tz;
use rand::Rng;
use serde::{Deserialize, Serialize};

use crate::domain::{Money, OrderCounts, OrderId, ServiceId};

/// An event's stable id: the receiver's idempotency key, equal to the `webhook-id` header on
/// every attempt. Sortable by creation time.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(transparent)]
pub struct EventId(pub String);

impl EventId {
    /// A new id: `evt_`, the creation time in milliseconds and 64 random bits, in hex.
    pub fn generate(at: DateTime<Utc>) -> EventId {
        let millis = at.timestamp_millis().max(0) as u64;
        let noise: u64 = rand::rng().random();
        EventId(format!("evt_{millis:012x}{noise:016x}"))
    }
}

impl fmt::Display for EventId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// One event, ready to be stored and delivered.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Event {
    pub id: EventId,
    /// When it happened, UTC, RFC 3339 on the wire.
    #[serde(with = "rfc3339")]
    pub timestamp: DateTime<Utc>,
    /// The same instant in the configured `monitor.timezone`, with its offset.
    pub local_time: String,
    #[serde(flatten)]
    pub body: EventBody,
}

impl Event {
    /// A new event happening at `at`, with a fresh id and its local time in `zone`.
    pub fn new(at: DateTime<Utc>, zone: Tz, body: EventBody) -> Event {
        Event {
            id: EventId::generate(at),
            timestamp: at,
            local_time: at
                .with_timezone(&zone)
                .to_rfc3339_opts(SecondsFormat::Secs, false),
            body,
        }
    }

    /// The dotted type name, as in the `type` field.
    pub fn kind(&self) -> &'static str {
        self.body.kind()
    }

    /// The bytes stored and sent to `custom` destinations.
    pub fn to_json(&self) -> String {
        serde_json::to_string(self).expect("an event always serialises")
    }

    /// The key that orders deliveries to one destination: events with the same key are
    /// delivered in the order they were recorded (a "resolved" never overtakes its "fired").
    pub fn order_key(&self) -> String {
        match &self.body {
            EventBody::AlertFired(a)
            | EventBody::AlertResolved(a)
            | EventBody::AlertReminder(a) => {
                format!("alert/{}/{}", a.panel, a.subject_key())
            }
            EventBody::PanelDown(p) | EventBody::PanelUp(p) => format!("panel/{}", p.panel),
            EventBody::OrdersStuck(s) | EventBody::OrdersUnstuck(s) => {
                format!("stuck/{}/service/{}", s.panel, s.service.id)
            }
            EventBody::DestinationDisabled(d) => format!("destination/{}", d.destination),
            EventBody::Test(t) => format!("test/{}", t.destination),
            EventBody::BalanceLow(b) | EventBody::BalanceRecovered(b) => {
                format!("balance/{}", b.panel)
            }
            EventBody::PanelDegraded(h) | EventBody::PanelRecovered(h) => {
                format!("health/{}", h.panel)
            }
            EventBody::ServiceChanged(c) => format!("catalogue/{}/{}", c.panel, c.service.id),
            EventBody::OrderUpdated(o) => format!("order/{}/{}", o.panel, o.order),
        }
    }

    /// The panel the event is about, if any.
    pub fn panel(&self) -> Option<&str> {
        match &self.body {
            EventBody::AlertFired(a)
            | EventBody::AlertResolved(a)
            | EventBody::AlertReminder(a) => Some(&a.panel),
            EventBody::PanelDown(p) | EventBody::PanelUp(p) => Some(&p.panel),
            EventBody::OrdersStuck(s) | EventBody::OrdersUnstuck(s) => Some(&s.panel),
            EventBody::DestinationDisabled(_) | EventBody::Test(_) => None,
            EventBody::BalanceLow(b) | EventBody::BalanceRecovered(b) => Some(&b.panel),
            EventBody::PanelDegraded(h) | EventBody::PanelRecovered(h) => Some(&h.panel),
            EventBody::ServiceChanged(c) => Some(&c.panel),
            EventBody::OrderUpdated(o) => Some(&o.panel),
        }
    }

    /// A one-line human summary, for logs, the event history and chat fallbacks.
    pub fn summary(&self) -> String {
        match &self.body {
            EventBody::AlertFired(a) => format!(
                "FIRING {}: success {} < {} over {} ({})",
                a.subject_label(),
                percent(a.success_rate),
                percent(a.alert_below),
                a.window,
                a.rule
            ),
            EventBody::AlertResolved(a) => format!(
                "RESOLVED {}: success {} >= {} over {} ({})",
                a.subject_label(),
                percent(a.success_rate),
                percent(a.resolve_above),
                a.window,
                a.rule
            ),
            EventBody::AlertReminder(a) => format!(
                "STILL FIRING {}: success {} < {} over {} ({})",
                a.subject_label(),
                percent(a.success_rate),
                percent(a.alert_below),
                a.window,
                a.rule
            ),
            EventBody::PanelDown(p) => format!(
                "PANEL DOWN {}: {}",
                p.panel,
                p.reason.as_deref().unwrap_or("unreachable")
            ),
            EventBody::PanelUp(p) => format!("PANEL UP {}", p.panel),
            EventBody::OrdersStuck(s) => format!(
                "STUCK {} / {} (#{}): {} orders stuck, more than {} ({})",
                s.panel, s.service.name, s.service.id, s.stuck, s.alert_stuck_above, s.rule
            ),
            EventBody::OrdersUnstuck(s) => format!(
                "UNSTUCK {} / {} (#{}): {} orders stuck, at most {} ({})",
                s.panel, s.service.name, s.service.id, s.stuck, s.alert_stuck_above, s.rule
            ),
            EventBody::DestinationDisabled(d) => {
                format!("DESTINATION DISABLED {}: {}", d.destination, d.reason)
            }
            EventBody::Test(t) => format!("TEST to {}", t.destination),
            EventBody::BalanceLow(b) => format!(
                "BALANCE LOW {}: {}{} < {}",
                b.panel,
                b.balance,
                currency(&b.currency),
                b.threshold
            ),
            EventBody::BalanceRecovered(b) => format!(
                "BALANCE OK {}: {}{} >= {}",
                b.panel,
                b.balance,
                currency(&b.currency),
                b.threshold
            ),
            EventBody::PanelDegraded(h) => format!(
                "API DEGRADED {}: {} usable calls < {} over {} ({} of {})",
                h.panel,
                percent(h.health),
                percent(h.degraded_below),
                h.window,
                h.usable,
                h.calls
            ),
            EventBody::PanelRecovered(h) => format!(
                "API HEALTHY {}: {} usable calls >= {} over {}",
                h.panel,
                percent(h.health),
                percent(h.degraded_below),
                h.window
            ),
            EventBody::ServiceChanged(c) => format!(
                "SERVICE CHANGED {} / {} (#{}): {}",
                c.panel,
                c.service.name,
                c.service.id,
                c.describe()
            ),
            EventBody::OrderUpdated(o) => format!(
                "ORDER {} #{} ({} #{}): {} -> {}{}",
                o.panel,
                o.order,
                o.service.name,
                o.service.id,
                o.old_status,
                o.new_status,
                o.remains
                    .map(|r| format!(", {r} remain"))
                    .unwrap_or_default()
            ),
        }
    }
}

fn currency(code: &Option<String>) -> String {
    code.as_deref().map(|c| format!(" {c}")).unwrap_or_default()
}

/// The typed `type` + `data` of an event.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", content = "data")]
pub enum EventBody {
    #[serde(rename = "alert.fired")]
    AlertFired(AlertData),
    #[serde(rename = "alert.resolved")]
    AlertResolved(AlertData),
    #[serde(rename = "alert.reminder")]
    AlertReminder(AlertData),
    #[serde(rename = "panel.down")]
    PanelDown(PanelData),
    #[serde(rename = "panel.up")]
    PanelUp(PanelData),
    #[serde(rename = "orders.stuck")]
    OrdersStuck(StuckData),
    #[serde(rename = "orders.unstuck")]
    OrdersUnstuck(StuckData),
    #[serde(rename = "destination.disabled")]
    DestinationDisabled(DestinationData),
    #[serde(rename = "test")]
    Test(TestData),
    #[serde(rename = "balance.low")]
    BalanceLow(BalanceData),
    #[serde(rename = "balance.recovered")]
    BalanceRecovered(BalanceData),
    #[serde(rename = "panel.degraded")]
    PanelDegraded(HealthData),
    #[serde(rename = "panel.recovered")]
    PanelRecovered(HealthData),
    #[serde(rename = "service.changed")]
    ServiceChanged(ServiceChangeData),
    #[serde(rename = "order.updated")]
    OrderUpdated(OrderUpdateData),
}

impl EventBody {
    /// The dotted type name.
    pub fn kind(&self) -> &'static str {
        match self {
            EventBody::AlertFired(_) => "alert.fired",
            EventBody::AlertResolved(_) => "alert.resolved",
            EventBody::AlertReminder(_) => "alert.reminder",
            EventBody::PanelDown(_) => "panel.down",
            EventBody::PanelUp(_) => "panel.up",
            EventBody::OrdersStuck(_) => "orders.stuck",
            EventBody::OrdersUnstuck(_) => "orders.unstuck",
            EventBody::DestinationDisabled(_) => "destination.disabled",
            EventBody::Test(_) => "test",
            EventBody::BalanceLow(_) => "balance.low",
            EventBody::BalanceRecovered(_) => "balance.recovered",
            EventBody::PanelDegraded(_) => "panel.degraded",
            EventBody::PanelRecovered(_) => "panel.recovered",
            EventBody::ServiceChanged(_) => "service.changed",
            EventBody::OrderUpdated(_) => "order.updated",
        }
    }
}

/// A panel's balance crossed its `balance_below` threshold (`balance.low`), or came back
/// (`balance.recovered`). Money travels as decimal strings.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct BalanceData {
    pub panel: String,
    pub balance: Money,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub currency: Option<String>,
    pub threshold: Money,
}

/// A panel's API health over its window: the share of calls that gave a usable answer in
/// time (`panel.degraded` below the threshold, `panel.recovered` back at or above it).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct HealthData {
    pub panel: String,
    pub health: f64,
    pub degraded_below: f64,
    /// The window as written, e.g. `10m`.
    pub window: String,
    pub usable: u32,
    pub calls: u32,
}

/// What a catalogue says of a service: its price per 1000 and its quantity limits.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ServiceTerms {
    pub rate: Option<Money>,
    pub min: Option<u64>,
    pub max: Option<u64>,
}

/// A watched service disappeared from the catalogue (`after` absent) or changed its terms.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ServiceChangeData {
    pub panel: String,
    pub service: ServiceRef,
    pub before: ServiceTerms,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub after: Option<ServiceTerms>,
}

impl ServiceChangeData {
    /// `removed from the catalogue`, or `rate 0.9 -> 1.1, max 1000 -> 500`.
    pub fn describe(&self) -> String {
        let Some(after) = &self.after else {
            return "removed from the catalogue".to_string();
        };
        let show = |v: Option<String>| v.unwrap_or_else(|| "?".into());
        let mut parts = Vec::new();
        if self.before.rate != after.rate {
            parts.push(format!(
                "rate {} -> {}",
                show(self.before.rate.map(|m| m.to_string())),
                show(after.rate.map(|m| m.to_string()))
            ));
        }
        for (name, old, new) in [
            ("min", self.before.min, after.min),
            ("max", self.before.max, after.max),
        ] {
            if old != new {
                parts.push(format!(
                    "{name} {} -> {}",
                    show(old.map(|v| v.to_string())),
                    show(new.map(|v| v.to_string()))
                ));
            }
        }
        parts.join(", ")
    }
}

/// An order's status changed between two reads (`order.updated`); sent only to destinations
/// that subscribe to it by name.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct OrderUpdateData {
    pub panel: String,
    pub order: OrderId,
    pub service: ServiceRef,
    pub old_status: String,
    pub new_status: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub remains: Option<u64>,
}

/// A service as events name it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ServiceRef {
    pub id: ServiceId,
    pub name: String,
}

/// What an alert event says: which service, which rule, and the figures behind it.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct AlertData {
    pub panel: String,
    /// The service the alert is about; absent for a provider-wide alert.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub service: Option<ServiceRef>,
    /// The upstream provider, for alerts grouped by provider.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub provider: Option<String>,
    pub rule: String,
    pub success_rate: f64,
    pub alert_below: f64,
    pub resolve_above: f64,
    /// The rule's window as configured, e.g. `6h`.
    pub window: String,
    pub orders: OrderCounts,
}

impl AlertData {
    /// Identifies the alert's subject within its panel: `service/17` or `provider/x`.
    pub fn subject_key(&self) -> String {
        match (&self.service, &self.provider) {
            (Some(s), _) => format!("service/{}", s.id),
            (None, Some(p)) => format!("provider/{p}"),
            (None, None) => "panel".to_string(),
        }
    }

    /// How people read the subject: `main / IG Followers (#17)`.
    pub fn subject_label(&self) -> String {
        match (&self.service, &self.provider) {
            (Some(s), _) => format!("{} / {} (#{})", self.panel, s.name, s.id),
            (None, Some(p)) => format!("{} / provider {p}", self.panel),
            (None, None) => self.panel.clone(),
        }
    }
}

/// Too many of a service's orders are stuck (`orders.stuck`), or no longer (`orders.unstuck`).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct StuckData {
    pub panel: String,
    pub service: ServiceRef,
    pub rule: String,
    /// Orders stuck now.
    pub stuck: u32,
    pub alert_stuck_above: u32,
    /// Pending longer than this is stuck, e.g. `15m`.
    pub stuck_pending: String,
    /// Processing or in progress longer than this is stuck, e.g. `6h`.
    pub stuck_running: String,
    pub orders: OrderCounts,
}

/// A panel's reachability changed.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct PanelData {
    pub panel: String,
    /// Why the panel could not be read (for `panel.down`): never contains a key.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    /// When the panel went down (for `panel.up`: how long it was out).
    #[serde(default, skip_serializing_if = "Option::is_none", with = "opt_rfc3339")]
    pub since: Option<DateTime<Utc>>,
}

/// A destination stopped receiving deliveries until the operator re-enables it.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct DestinationData {
    pub destination: String,
    pub reason: String,
}

/// A test event sent on the operator's request.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct TestData {
    pub destination: String,
    pub message: String,
}

/// `0.623` as `62.3%`.
pub fn percent(rate: f64) -> String {
    format!("{:.1}%", rate * 100.0)
}

mod rfc3339 {
    use chrono::{DateTime, SecondsFormat, Utc};
    use serde::{Deserialize, Deserializer, Serializer};

    pub fn serialize<S: Serializer>(at: &DateTime<Utc>, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&at.to_rfc3339_opts(SecondsFormat::Millis, true))
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<DateTime<Utc>, D::Error> {
        let text = String::deserialize(d)?;
        DateTime::parse_from_rfc3339(&text)
            .map(|t| t.with_timezone(&Utc))
            .map_err(serde::de::Error::custom)
    }
}

mod opt_rfc3339 {
    use chrono::{DateTime, Utc};
    use serde::{Deserialize, Deserializer, Serializer};

    pub fn serialize<S: Serializer>(at: &Option<DateTime<Utc>>, s: S) -> Result<S::Ok, S::Error> {
        match at {
            Some(at) => super::rfc3339::serialize(at, s),
            None => s.serialize_none(),
        }
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Option<DateTime<Utc>>, D::Error> {
        let text = Option::<String>::deserialize(d)?;
        text.map(|t| {
            DateTime::parse_from_rfc3339(&t)
                .map(|t| t.with_timezone(&Utc))
                .map_err(serde::de::Error::custom)
        })
        .transpose()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fired() -> Event {
        let at = DateTime::parse_from_rfc3339("2026-12-04T16:00:00Z")
            .unwrap()
            .with_timezone(&Utc);
        Event::new(
            at,
            chrono_tz::Europe::Berlin,
            EventBody::AlertFired(AlertData {
                panel: "main".into(),
                service: Some(ServiceRef {
                    id: ServiceId(17),
                    name: "IG Followers".into(),
                }),
                provider: None,
                rule: "success-rate".into(),
                success_rate: 0.62,
                alert_below: 0.8,
                resolve_above: 0.85,
                window: "6h".into(),
                orders: OrderCounts {
                    completed: 31,
                    partial: 4,
                    canceled: 15,
                    running: 9,
                    stuck: 2,
                },
            }),
        )
    }

    #[test]
    fn wire_shape_matches_the_contract() {
        let event = fired();
        let value: serde_json::Value = serde_json::from_str(&event.to_json()).unwrap();
        assert_eq!(value["type"], "alert.fired");
        assert_eq!(value["id"], event.id.0.as_str());
        assert_eq!(value["timestamp"], "2026-12-04T16:00:00.000Z");
        assert_eq!(value["local_time"], "2026-12-04T17:00:00+01:00");
        assert_eq!(value["data"]["service"]["id"], 17);
        assert_eq!(value["data"]["service"]["name"], "IG Followers");
        assert_eq!(value["data"]["orders"]["stuck"], 2);
        assert_eq!(value["data"]["window"], "6h");
        assert!(value["data"].get("provider").is_none());
    }

    #[test]
    fn events_round_trip() {
        let event = fired();
        let back: Event = serde_json::from_str(&event.to_json()).unwrap();
        assert_eq!(back, event);
        let down = Event::new(
            event.timestamp,
            chrono_tz::UTC,
            EventBody::PanelDown(PanelData {
                panel: "main".into(),
                reason: Some("HTTP 502 with an HTML body".into()),
                since: None,
            }),
        );
        assert_eq!(
            serde_json::from_str::<Event>(&down.to_json()).unwrap(),
            down
        );
    }

    #[test]
    fn ids_are_unique_and_sort_by_time() {
        let early = EventId::generate(DateTime::UNIX_EPOCH + chrono::Duration::seconds(5));
        let late = EventId::generate(DateTime::UNIX_EPOCH + chrono::Duration::seconds(6));
        assert!(early < late);
        assert_ne!(EventId::generate(Utc::now()), EventId::generate(Utc::now()));
    }

    #[test]
    fn order_keys_group_one_service() {
        let event = fired();
        assert_eq!(event.order_key(), "alert/main/service/17");
    }
}
