//! Statistics: each service's success rate over a rule's window, and the counts behind it.
//!
//! Pure arithmetic over decoded orders, no I/O and no clock of its own: callers pass `now`.
//! The success rate follows the project's definition (smm-panel-api.md §4): over the orders
//! created in the window that have finished, Completed counts 1, Partial its delivered
//! fraction, Canceled and Refunded 0. Running orders stay out of the denominator, so a burst
//! of new orders cannot drag the rate down; running orders past the rule's stuck limits are
//! counted as stuck. Orders whose status is unknown are counted nowhere.

use std::collections::BTreeMap;
use std::collections::HashMap;

use chrono::{DateTime, Utc};

use crate::config::RuleConfig;
use crate::domain::{Order, OrderCounts, OrderId, OrderStatus, ServiceId};
use crate::snapshot::{OrderLine, ProviderLine};

/// Problem orders kept per service for the detail view.
const PROBLEMS_KEPT: usize = 20;

/// One service's figures under one rule.
#[derive(Clone, Debug, PartialEq)]
pub struct ServiceStats {
    pub name: String,
    /// The provider of the newest order, when the panel names one.
    pub provider: Option<String>,
    pub counts: OrderCounts,
    /// `None` when no order finished in the window.
    pub success_rate: Option<f64>,
    /// The same figures per upstream provider, busiest first.
    pub providers: Vec<ProviderLine>,
    /// Recent failed and stuck orders, newest first, at most [`PROBLEMS_KEPT`].
    pub problems: Vec<OrderLine>,
}

impl ServiceStats {
    /// Figures with no orders behind them.
    pub fn empty(name: String, provider: Option<String>) -> ServiceStats {
        ServiceStats {
            name,
            provider,
            counts: OrderCounts::default(),
            success_rate: None,
            providers: Vec::new(),
            problems: Vec::new(),
        }
    }

    /// The rate, if enough orders finished for the rule to judge it.
    pub fn judged_rate(&self, min_orders: u32) -> Option<f64> {
        if self.counts.finished() >= min_orders.max(1) {
            self.success_rate
        } else {
            None
        }
    }
}

/// The orders a panel answered with for its lookback, the newest answer for each id.
#[derive(Clone, Debug, Default)]
pub struct OrderBook {
    orders: HashMap<OrderId, Order>,
}

impl OrderBook {
    /// Replaces the book with a fresh poll's orders.
    pub fn replace(&mut self, orders: Vec<Order>) {
        self.orders = orders.into_iter().map(|o| (o.id, o)).collect();
    }

    pub fn len(&self) -> usize {
        self.orders.len()
    }

    pub fn is_empty(&self) -> bool {
        self.orders.is_empty()
    }

    pub fn orders(&self) -> impl Iterator<Item = &Order> {
        self.orders.values()
    }

    /// Every service seen in the book, with its latest name.
    pub fn services(&self) -> BTreeMap<ServiceId, String> {
        let mut out: BTreeMap<ServiceId, (DateTime<Utc>, String)> = BTreeMap::new();
        for order in self.orders.values() {
            let entry = out
                .entry(order.service)
                .or_insert((order.created, order.service_name.clone()));
            if order.created >= entry.0 && !order.service_name.is_empty() {
                *entry = (order.created, order.service_name.clone());
            }
        }
        out.into_iter().map(|(id, (_, name))| (id, name)).collect()
    }
}

/// Figures for every service the rule covers, over the rule's window ending at `now`.
pub fn per_service(
    orders: impl IntoIterator<Item = impl std::borrow::Borrow<Order>>,
    rule: &RuleConfig,
    now: DateTime<Utc>,
) -> BTreeMap<ServiceId, ServiceStats> {
    grouped(orders, rule, now, |o| Some(o.service))
}

/// Figures for every upstream provider, over the services the rule covers: what
/// `group_by = "provider"` alerts on. Orders without a provider are left out. The figures'
/// `name` is the provider's name.
pub fn per_provider(
    orders: impl IntoIterator<Item = impl std::borrow::Borrow<Order>>,
    rule: &RuleConfig,
    now: DateTime<Utc>,
) -> BTreeMap<String, ServiceStats> {
    let mut out = grouped(orders, rule, now, |o| o.provider.clone());
    for (provider, figures) in out.iter_mut() {
        figures.name = provider.clone();
        figures.provider = Some(provider.clone());
    }
    out
}

fn grouped<K: Ord>(
    orders: impl IntoIterator<Item = impl std::borrow::Borrow<Order>>,
    rule: &RuleConfig,
    now: DateTime<Utc>,
    key: impl Fn(&Order) -> Option<K>,
) -> BTreeMap<K, ServiceStats> {
    let window = chrono::Duration::from_std(rule.window).unwrap_or(chrono::Duration::MAX);
    let start = now
        .checked_sub_signed(window)
        .unwrap_or(DateTime::UNIX_EPOCH);
    let mut acc: BTreeMap<K, Accumulator> = BTreeMap::new();
    for order in orders {
        let order = order.borrow();
        // Orders "from the future" are counted: a panel's clock may run ahead of ours.
        if order.created < start {
            continue;
        }
        if !rule.covers_service(order.service.0, &order.service_name) {
            continue;
        }
        if let Some(k) = key(order) {
            acc.entry(k).or_default().add(order, rule, now);
        }
    }
    acc.into_iter().map(|(k, a)| (k, a.finish())).collect()
}

/// Counts and the delivered sum: what a rate is made of.
#[derive(Default, Clone, Copy)]
struct Tally {
    counts: OrderCounts,
    delivered: f64,
}

impl Tally {
    fn rate(&self) -> Option<f64> {
        let finished = self.counts.finished();
        (finished > 0).then(|| self.delivered / f64::from(finished))
    }
}

#[derive(Default)]
struct Accumulator {
    name: String,
    newest: Option<DateTime<Utc>>,
    provider: Option<String>,
    counts: OrderCounts,
    delivered: f64,
    providers: BTreeMap<String, Tally>,
    problems: Vec<OrderLine>,
}

impl Accumulator {
    fn add(&mut self, order: &Order, rule: &RuleConfig, now: DateTime<Utc>) {
        let before = self.counts;
        self.count(order, rule, now);
        let added = diff(self.counts, before);
        let delivered = order.delivered_fraction().unwrap_or(0.0);
        let provider = order.provider.clone().unwrap_or_else(|| "(none)".into());
        let tally = self.providers.entry(provider).or_default();
        tally.counts = sum(tally.counts, added);
        tally.delivered += delivered;
        let failed = matches!(
            order.status,
            OrderStatus::Canceled | OrderStatus::Refunded | OrderStatus::Partial
        );
        if failed || added.stuck > 0 {
            let status = if added.stuck > 0 {
                format!("{} (stuck)", order.status)
            } else {
                order.status.to_string()
            };
            self.problems.push(OrderLine {
                id: order.id.0,
                created: order.created,
                status,
                quantity: order.quantity,
                remains: order.remains,
                provider: order.provider.clone(),
            });
        }
    }

    fn count(&mut self, order: &Order, rule: &RuleConfig, now: DateTime<Utc>) {
        if self.newest.is_none_or(|t| order.created >= t) {
            self.newest = Some(order.created);
            if !order.service_name.is_empty() {
                self.name = order.service_name.clone();
            }
            if order.provider.is_some() {
                self.provider = order.provider.clone();
            }
        }
        let age = (now - order.created).to_std().unwrap_or_default();
        match &order.status {
            OrderStatus::Completed => self.counts.completed += 1,
            OrderStatus::Partial => self.counts.partial += 1,
            OrderStatus::Canceled | OrderStatus::Refunded => self.counts.canceled += 1,
            OrderStatus::Pending => {
                self.counts.running += 1;
                if age > rule.stuck_pending {
                    self.counts.stuck += 1;
                }
            }
            OrderStatus::Processing | OrderStatus::InProgress => {
                self.counts.running += 1;
                if age > rule.stuck_running {
                    self.counts.stuck += 1;
                }
            }
            OrderStatus::Unknown(_) => {}
        }
        self.delivered += order.delivered_fraction().unwrap_or(0.0);
    }

    fn finish(mut self) -> ServiceStats {
        let total = Tally {
            counts: self.counts,
            delivered: self.delivered,
        };
        let mut providers: Vec<ProviderLine> = self
            .providers
            .into_iter()
            .map(|(provider, t)| ProviderLine {
                provider,
                counts: t.counts,
                success_rate: t.rate(),
            })
            .collect();
        providers.sort_by_key(|p| std::cmp::Reverse(p.counts.finished() + p.counts.running));
        self.problems
            .sort_by(|a, b| b.created.cmp(&a.created).then(b.id.cmp(&a.id)));
        self.problems.truncate(PROBLEMS_KEPT);
        ServiceStats {
            name: self.name,
            provider: self.provider,
            counts: self.counts,
            success_rate: total.rate(),
            providers,
            problems: self.problems,
        }
    }
}

fn diff(a: OrderCounts, b: OrderCounts) -> OrderCounts {
    OrderCounts {
        completed: a.completed - b.completed,
        partial: a.partial - b.partial,
        canceled: a.canceled - b.canceled,
        running: a.running - b.running,
        stuck: a.stuck - b.stuck,
    }
}

fn sum(a: OrderCounts, b: OrderCounts) -> OrderCounts {
    OrderCounts {
        completed: a.completed + b.completed,
        partial: a.partial + b.partial,
        canceled: a.canceled + b.canceled,
        running: a.running + b.running,
        stuck: a.stuck + b.stuck,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::ServiceSelector;
    use std::time::Duration;

    pub(crate) fn rule() -> RuleConfig {
        RuleConfig {
            name: "r".into(),
            panels: None,
            services: vec![ServiceSelector::Glob("*".into())],
            window: Duration::from_secs(3600),
            window_text: "1h".into(),
            min_orders: 3,
            alert_below: 0.8,
            resolve_above: 0.85,
            for_: Duration::ZERO,
            resolve_for: Duration::ZERO,
            repeat: None,
            stuck_pending: Duration::from_secs(900),
            stuck_running: Duration::from_secs(6 * 3600),
            notify: vec![],
            alert_stuck_above: None,
            group_by: crate::config::GroupBy::Service,
        }
    }

    fn now() -> DateTime<Utc> {
        DateTime::from_timestamp(1_800_000_000, 0).unwrap()
    }

    fn order(id: u64, service: u64, status: &str, q: u64, r: u64, age_min: i64) -> Order {
        Order {
            id: OrderId(id),
            service: ServiceId(service),
            service_name: format!("svc {service}"),
            status: OrderStatus::parse(status),
            quantity: Some(q),
            remains: Some(r),
            provider: Some("prov".into()),
            charge: None,
            created: now() - chrono::Duration::minutes(age_min),
        }
    }

    #[test]
    fn the_rate_follows_the_reference_definition() {
        let orders = vec![
            order(1, 17, "Completed", 100, 0, 10),
            order(2, 17, "Partial", 100, 40, 10),
            order(3, 17, "Canceled", 100, 100, 10),
            order(4, 17, "Refunded", 100, 100, 10),
            // Running orders stay out of the denominator...
            order(5, 17, "In progress", 100, 50, 10),
            order(6, 17, "Pending", 100, 100, 5),
            // ...but a pending one older than 15 minutes is stuck.
            order(7, 17, "Pending", 100, 100, 30),
            // Outside the one-hour window: ignored.
            order(8, 17, "Canceled", 100, 100, 61),
            // Unknown statuses count nowhere.
            order(9, 17, "Mystery", 100, 100, 10),
        ];
        let stats = per_service(&orders, &rule(), now());
        let s = &stats[&ServiceId(17)];
        assert_eq!(
            s.counts,
            OrderCounts {
                completed: 1,
                partial: 1,
                canceled: 2,
                running: 3,
                stuck: 1,
            }
        );
        // (1 + 0.6 + 0 + 0) / 4
        assert!((s.success_rate.unwrap() - 0.4).abs() < 1e-9);
        assert_eq!(s.judged_rate(3), s.success_rate);
        assert_eq!(s.judged_rate(5), None);
        // The detail view's figures: one provider, the failed and stuck orders newest first.
        assert_eq!(s.providers.len(), 1);
        assert_eq!(s.providers[0].counts, s.counts);
        let ids: Vec<u64> = s.problems.iter().map(|p| p.id).collect();
        assert_eq!(ids, vec![4, 3, 2, 7]);
        assert_eq!(s.problems[3].status, "Pending (stuck)");
    }

    #[test]
    fn a_burst_of_new_orders_does_not_drag_the_rate_down() {
        let mut orders: Vec<Order> = (0..10)
            .map(|i| order(i, 1, "Completed", 10, 0, 20))
            .collect();
        orders.extend((100..200).map(|i| order(i, 1, "Pending", 10, 10, 1)));
        let stats = per_service(&orders, &rule(), now());
        assert_eq!(stats[&ServiceId(1)].success_rate, Some(1.0));
        assert_eq!(stats[&ServiceId(1)].counts.running, 100);
    }

    #[test]
    fn services_outside_the_selector_are_left_out() {
        let mut r = rule();
        r.services = vec![ServiceSelector::Id(2)];
        let orders = vec![
            order(1, 1, "Completed", 1, 0, 1),
            order(2, 2, "Canceled", 1, 1, 1),
        ];
        let stats = per_service(&orders, &r, now());
        assert_eq!(
            stats.keys().copied().collect::<Vec<_>>(),
            vec![ServiceId(2)]
        );
        assert_eq!(stats[&ServiceId(2)].success_rate, Some(0.0));
    }

    #[test]
    fn providers_are_figured_across_services() {
        let mut orders = vec![
            order(1, 1, "Completed", 1, 0, 1),
            order(2, 2, "Canceled", 1, 1, 1),
            order(3, 3, "Canceled", 1, 1, 1),
        ];
        orders[0].provider = Some("good".into());
        let stats = per_provider(&orders, &rule(), now());
        assert_eq!(stats["good"].success_rate, Some(1.0));
        assert_eq!(stats["prov"].success_rate, Some(0.0));
        assert_eq!(stats["prov"].counts.canceled, 2);
        assert_eq!(stats["prov"].name, "prov");
    }

    #[test]
    fn only_running_orders_give_no_rate() {
        let orders = vec![order(1, 1, "processing", 1, 1, 1)];
        let stats = per_service(&orders, &rule(), now());
        assert_eq!(stats[&ServiceId(1)].success_rate, None);
    }
}
