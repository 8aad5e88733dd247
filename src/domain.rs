//! The words of the domain as types: panels, services, orders, their statuses and money.
//!
//! Everything else in the crate speaks in these types. They carry no I/O and no policy: how a
//! panel spells a status is the decoder's business (`panel::decode`), and what a status means
//! for the success rate is the statistics' business (`stats`).

use std::fmt;

use chrono::{DateTime, Utc};
use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};

/// The configured name of a panel (`[[panels]] name`), unique within a config.
pub type PanelName = String;

/// A panel's numeric service id (`service_id` in the admin API, `service` in the user API).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(transparent)]
pub struct ServiceId(pub u64);

impl fmt::Display for ServiceId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.0)
    }
}

/// A panel's numeric order id.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(transparent)]
pub struct OrderId(pub u64);

impl fmt::Display for OrderId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.0)
    }
}

/// An amount of money, kept decimal: panels send up to 7 decimals and floats would drift.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(transparent)]
pub struct Money(#[serde(with = "rust_decimal::serde::str")] pub Decimal);

impl fmt::Display for Money {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.0.normalize())
    }
}

/// An order's status, normalised from the many spellings panels use.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum OrderStatus {
    Pending,
    Processing,
    InProgress,
    Completed,
    Partial,
    Canceled,
    Refunded,
    /// A spelling no rule knows; kept raw so the operator can see it. Never counted.
    Unknown(String),
}

impl OrderStatus {
    /// Normalises a panel's status text: case, spaces, dashes and underscores are ignored, and
    /// British and American spellings agree. Unknown text becomes [`OrderStatus::Unknown`].
    pub fn parse(raw: &str) -> OrderStatus {
        let folded: String = raw
            .chars()
            .filter(|c| !matches!(c, ' ' | '_' | '-'))
            .flat_map(char::to_lowercase)
            .collect();
        match folded.as_str() {
            "pending" => OrderStatus::Pending,
            "processing" => OrderStatus::Processing,
            "inprogress" | "active" => OrderStatus::InProgress,
            "completed" | "complete" => OrderStatus::Completed,
            "partial" => OrderStatus::Partial,
            "canceled" | "cancelled" => OrderStatus::Canceled,
            "refunded" => OrderStatus::Refunded,
            _ => OrderStatus::Unknown(raw.trim().to_string()),
        }
    }

    /// Whether the order will not change any more (it counts in the success rate).
    pub fn is_finished(&self) -> bool {
        matches!(
            self,
            OrderStatus::Completed
                | OrderStatus::Partial
                | OrderStatus::Canceled
                | OrderStatus::Refunded
        )
    }

    /// Whether the order is still queued or delivering (it may become stuck).
    pub fn is_running(&self) -> bool {
        matches!(
            self,
            OrderStatus::Pending | OrderStatus::Processing | OrderStatus::InProgress
        )
    }

    /// The canonical display name, as the user API spells it.
    pub fn label(&self) -> &str {
        match self {
            OrderStatus::Pending => "Pending",
            OrderStatus::Processing => "Processing",
            OrderStatus::InProgress => "In progress",
            OrderStatus::Completed => "Completed",
            OrderStatus::Partial => "Partial",
            OrderStatus::Canceled => "Canceled",
            OrderStatus::Refunded => "Refunded",
            OrderStatus::Unknown(raw) => raw,
        }
    }
}

impl fmt::Display for OrderStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.label())
    }
}

/// One order as read from a panel, after decoding.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Order {
    pub id: OrderId,
    pub service: ServiceId,
    /// The service's name as the panel shows it; empty when the panel did not say.
    pub service_name: String,
    pub status: OrderStatus,
    /// Ordered quantity; `None` when the panel sent nothing usable.
    pub quantity: Option<u64>,
    /// Undelivered count; `None` when unknown.
    pub remains: Option<u64>,
    /// The upstream provider the panel routed the order to, when the panel says.
    pub provider: Option<String>,
    pub charge: Option<Money>,
    pub created: DateTime<Utc>,
}

impl Order {
    /// The share of the order that was delivered, as the success rate counts it: Completed 1,
    /// Partial `(quantity - remains) / quantity`, Canceled and Refunded 0. `None` for orders
    /// that are not finished or whose status is unknown.
    pub fn delivered_fraction(&self) -> Option<f64> {
        match self.status {
            OrderStatus::Completed => Some(1.0),
            OrderStatus::Canceled | OrderStatus::Refunded => Some(0.0),
            OrderStatus::Partial => Some(match (self.quantity, self.remains) {
                (Some(q), Some(r)) if q > 0 => q.saturating_sub(r) as f64 / q as f64,
                // A partial order whose figures are missing delivered something, but we cannot
                // say how much; half is the least wrong guess and is documented in the README.
                _ => 0.5,
            }),
            _ => None,
        }
    }
}

/// The counts behind a success rate, as events and the screen show them. Refunded orders count
/// as canceled: both delivered nothing.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct OrderCounts {
    pub completed: u32,
    pub partial: u32,
    pub canceled: u32,
    /// Orders still pending, processing or in progress, stuck ones included.
    pub running: u32,
    /// Running orders older than the rule's stuck limit.
    pub stuck: u32,
}

impl OrderCounts {
    /// Finished orders: the denominator of the success rate.
    pub fn finished(&self) -> u32 {
        self.completed + self.partial + self.canceled
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn status_spellings_normalise() {
        let cases = [
            ("In progress", OrderStatus::InProgress),
            ("In Progress", OrderStatus::InProgress),
            ("in_progress", OrderStatus::InProgress),
            ("inprogress", OrderStatus::InProgress),
            ("processing", OrderStatus::Processing),
            ("Cancelled", OrderStatus::Canceled),
            ("canceled", OrderStatus::Canceled),
            ("Refunded", OrderStatus::Refunded),
            ("Active", OrderStatus::InProgress),
            (" COMPLETED ", OrderStatus::Completed),
            ("partial", OrderStatus::Partial),
        ];
        for (raw, want) in cases {
            assert_eq!(OrderStatus::parse(raw), want, "{raw:?}");
        }
        assert_eq!(
            OrderStatus::parse("Weird"),
            OrderStatus::Unknown("Weird".into())
        );
    }

    fn order(status: OrderStatus, quantity: Option<u64>, remains: Option<u64>) -> Order {
        Order {
            id: OrderId(1),
            service: ServiceId(1),
            service_name: String::new(),
            status,
            quantity,
            remains,
            provider: None,
            charge: None,
            created: DateTime::UNIX_EPOCH,
        }
    }

    #[test]
    fn delivered_fraction_follows_the_reference() {
        let partial = order(OrderStatus::Partial, Some(1000), Some(250));
        assert_eq!(partial.delivered_fraction(), Some(0.75));
        let done = order(OrderStatus::Completed, None, None);
        assert_eq!(done.delivered_fraction(), Some(1.0));
        let refunded = order(OrderStatus::Refunded, Some(10), Some(10));
        assert_eq!(refunded.delivered_fraction(), Some(0.0));
        let running = order(OrderStatus::InProgress, Some(10), Some(5));
        assert_eq!(running.delivered_fraction(), None);
        let odd = order(OrderStatus::Unknown("x".into()), Some(10), Some(5));
        assert_eq!(odd.delivered_fraction(), None);
    }
}
