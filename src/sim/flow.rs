//! The simulated panel's live order flow: orders created and finished on real time, for the
//! demo, with one service that degrades and recovers on a fixed schedule.
//!
//! The flow first pre-fills [`FlowOptions::history`] of finished, mostly healthy orders, so
//! gauges have something to show at once. Then, every tick, each service gets a new order with
//! a probability that adds up to [`FlowOptions::orders_per_sec`] over all services; an order is
//! `pending` for 1-3 s, `in_progress` for 3-8 s more, then `completed`, `partial` or
//! `canceled`. Whether it completes is drawn when it is created, from its service's success
//! chance at that moment (a failure is `partial` one time in four, else `canceled`):
//!
//! ```text
//!  service                      share  0 s ... degrade_at (30 s) ... recover_at (180 s) ...
//!  Instagram Followers [Real]    35 %  0.95            0.25                  0.95
//!  TikTok Views                  25 %  0.98 always
//!  YouTube Likes                 15 %  0.86 always (mediocre, above an 0.8 threshold)
//!  Telegram Members              15 %  0.94 always
//!  Twitter/X Retweets            10 %  0.93 always
//! ```
//!
//! With the defaults (3 orders/s, 80 history orders over 10 min), a rule with window `10m`,
//! `min_orders` 10 and `alert_below` 0.8 sees Instagram Followers fall under 0.8 by about
//! 80 s after the start (a unit test checks four seeds). It resolves once the degraded
//! orders have left the window, about twelve minutes in; a shorter window resolves sooner.
//! Everything is drawn from one seeded `StdRng`, so a seed gives the same orders (wall-clock
//! times aside). The flow is a demo device, not a model of real panel traffic.

use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, SubsecRound, TimeDelta, Utc};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use rust_decimal::Decimal;

use crate::domain::Money;
use crate::sim::panel::{Shared, SimOrder};

/// How the live flow runs.
#[derive(Clone, Debug)]
pub struct FlowOptions {
    pub seed: u64,
    /// New orders per second, all services together.
    pub orders_per_sec: f64,
    /// How far back the pre-filled history reaches.
    pub history: Duration,
    /// How many finished orders the history holds.
    pub history_orders: usize,
    /// When the degrading service starts failing, from the flow's start.
    pub degrade_at: Duration,
    /// When it recovers.
    pub recover_at: Duration,
    /// How often orders are created and moved on.
    pub tick: Duration,
}

impl Default for FlowOptions {
    fn default() -> Self {
        FlowOptions {
            seed: 42,
            orders_per_sec: 3.0,
            history: Duration::from_secs(600),
            history_orders: 80,
            degrade_at: Duration::from_secs(30),
            recover_at: Duration::from_secs(180),
            tick: Duration::from_millis(250),
        }
    }
}

/// One service of the flow.
#[derive(Clone, Copy, Debug)]
pub struct FlowService {
    pub id: u64,
    pub name: &'static str,
    pub provider: &'static str,
    /// Its share of the orders.
    pub share: f64,
    /// The chance an order completes while the service is well.
    pub healthy: f64,
    /// The chance while degraded, for the one service that degrades.
    pub degraded: Option<f64>,
    /// Price per 1000 units, in cents.
    pub cents_per_1000: i64,
}

/// The services of the flow, the degrading one first.
pub const SERVICES: [FlowService; 5] = [
    FlowService {
        id: 1021,
        name: "Instagram Followers [Real]",
        provider: "gramforge",
        share: 0.35,
        healthy: 0.95,
        degraded: Some(0.25),
        cents_per_1000: 180,
    },
    FlowService {
        id: 1877,
        name: "TikTok Views",
        provider: "viewmill",
        share: 0.25,
        healthy: 0.98,
        degraded: None,
        cents_per_1000: 3,
    },
    FlowService {
        id: 2310,
        name: "YouTube Likes",
        provider: "likesmith",
        share: 0.15,
        healthy: 0.86,
        degraded: None,
        cents_per_1000: 95,
    },
    FlowService {
        id: 3150,
        name: "Telegram Members",
        // Some panels name providers by number.
        provider: "7",
        share: 0.15,
        healthy: 0.94,
        degraded: None,
        cents_per_1000: 120,
    },
    FlowService {
        id: 4402,
        name: "Twitter/X Retweets",
        provider: "chirpboost",
        share: 0.10,
        healthy: 0.93,
        degraded: None,
        cents_per_1000: 240,
    },
];

/// The chance an order of `service` created `elapsed` after the start completes.
pub fn success_chance(service: &FlowService, elapsed: Duration, options: &FlowOptions) -> f64 {
    match service.degraded {
        Some(degraded) if elapsed >= options.degrade_at && elapsed < options.recover_at => degraded,
        _ => service.healthy,
    }
}

/// Runs the flow against the panel's orders until the task is aborted.
pub(crate) async fn run(shared: Arc<Shared>, options: FlowOptions) {
    let last_id = shared.update(|orders| orders.iter().map(|o| o.id).max().unwrap_or(0));
    let mut flow = Flow::new(options.clone(), last_id.max(100_000) + 1);
    shared.update(|orders| flow.prefill(Utc::now(), orders));

    let started = tokio::time::Instant::now();
    let mut ticker = tokio::time::interval(options.tick);
    ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        ticker.tick().await;
        let elapsed = started.elapsed();
        shared.update(|orders| flow.tick(elapsed, Utc::now(), orders));
    }
}

/// An order on its way: when it starts delivering, when it finishes, and how.
struct Plan {
    id: u64,
    start_at: Duration,
    finish_at: Duration,
    started: bool,
    outcome: Outcome,
}

struct Outcome {
    status: &'static str,
    remains: u64,
    charge: Money,
}

/// The flow's state, free of clocks and tasks so tests can drive it.
pub(crate) struct Flow {
    options: FlowOptions,
    rng: StdRng,
    next_id: u64,
    plans: Vec<Plan>,
}

impl Flow {
    pub(crate) fn new(options: FlowOptions, first_id: u64) -> Flow {
        Flow {
            rng: StdRng::seed_from_u64(options.seed),
            options,
            next_id: first_id,
            plans: Vec::new(),
        }
    }

    /// Adds finished orders spread over the history, at each service's healthy chance.
    pub(crate) fn prefill(&mut self, now: DateTime<Utc>, orders: &mut Vec<SimOrder>) {
        let span = self.options.history.as_secs().max(60);
        let mut history = Vec::with_capacity(self.options.history_orders);
        for _ in 0..self.options.history_orders {
            let service = self.pick_service();
            // Orders from the last 20 s would still be running; history starts before that.
            let age = self.rng.random_range(20..span);
            let created = now - TimeDelta::seconds(age as i64);
            let (mut order, outcome) = self.new_order(&service, service.healthy, created);
            order.status = outcome.status.into();
            order.remains = outcome.remains;
            order.charge = outcome.charge;
            history.push(order);
        }
        history.sort_by_key(|o| o.created);
        for (order, id) in history.iter_mut().zip(self.next_id..) {
            order.id = id;
        }
        self.next_id += history.len() as u64;
        orders.extend(history);
    }

    /// Creates this tick's orders and moves running ones on.
    pub(crate) fn tick(
        &mut self,
        elapsed: Duration,
        now: DateTime<Utc>,
        orders: &mut Vec<SimOrder>,
    ) {
        let tick = self.options.tick.as_secs_f64();
        for service in SERVICES {
            let chance = self.options.orders_per_sec * service.share * tick;
            if !self.rng.random_bool(chance.clamp(0.0, 1.0)) {
                continue;
            }
            let success = success_chance(&service, elapsed, &self.options);
            let (order, outcome) = self.new_order(&service, success, now);
            let start_at = elapsed + Duration::from_millis(self.rng.random_range(1000..3000));
            let finish_at = start_at + Duration::from_millis(self.rng.random_range(3000..8000));
            self.plans.push(Plan {
                id: order.id,
                start_at,
                finish_at,
                started: false,
                outcome,
            });
            orders.push(order);
        }

        self.plans.retain_mut(|plan| {
            let Some(order) = orders.iter_mut().rev().find(|o| o.id == plan.id) else {
                // A test replaced the orders; forget the plan.
                return false;
            };
            if elapsed >= plan.finish_at {
                order.status = plan.outcome.status.into();
                order.remains = plan.outcome.remains;
                order.charge = plan.outcome.charge;
                return false;
            }
            if elapsed >= plan.start_at && !plan.started {
                order.status = "in_progress".into();
                plan.started = true;
            }
            true
        });
    }

    fn pick_service(&mut self) -> FlowService {
        let mut roll: f64 = self.rng.random_range(0.0..1.0);
        for service in SERVICES {
            if roll < service.share {
                return service;
            }
            roll -= service.share;
        }
        SERVICES[0]
    }

    /// A new pending order and the way it will end.
    fn new_order(
        &mut self,
        service: &FlowService,
        success: f64,
        created: DateTime<Utc>,
    ) -> (SimOrder, Outcome) {
        let id = self.next_id;
        self.next_id += 1;
        let quantity = [100, 250, 500, 1000, 2500, 5000][self.rng.random_range(0..6)];
        let price = |units: u64| {
            let cents = Decimal::new(service.cents_per_1000, 2);
            Money((cents * Decimal::from(units) / Decimal::from(1000)).round_dp(5))
        };

        let outcome = if self.rng.random_bool(success) {
            Outcome {
                status: "completed",
                remains: 0,
                charge: price(quantity),
            }
        } else if self.rng.random_bool(0.25) {
            let remains = quantity * self.rng.random_range(40..=90) / 100;
            Outcome {
                status: "partial",
                remains,
                charge: price(quantity - remains),
            }
        } else {
            Outcome {
                status: "canceled",
                remains: quantity,
                charge: Money(Decimal::ZERO),
            }
        };
        let order = SimOrder {
            id,
            service_id: service.id,
            service_name: service.name.into(),
            status: "pending".into(),
            quantity,
            remains: quantity,
            provider: Some(service.provider.into()),
            charge: price(quantity),
            created: created.trunc_subsecs(0),
        };
        (order, outcome)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The success rate of `service` over orders created in the 10 minutes before `now`, as
    /// the statistics count it, with the number of finished orders.
    fn window_rate(orders: &[SimOrder], service: u64, now: DateTime<Utc>) -> (f64, usize) {
        let from = now - TimeDelta::minutes(10);
        let fractions: Vec<f64> = orders
            .iter()
            .filter(|o| o.service_id == service && o.created >= from && o.created <= now)
            .filter_map(|o| o.to_order().delivered_fraction())
            .collect();
        let n = fractions.len();
        (fractions.iter().sum::<f64>() / n.max(1) as f64, n)
    }

    /// Drives the flow on a fake clock and samples every service's rate at the given seconds.
    fn run_until(seed: u64, samples: &[u64]) -> Vec<Vec<(f64, usize)>> {
        let options = FlowOptions {
            seed,
            ..FlowOptions::default()
        };
        let start = DateTime::from_timestamp(1_714_557_600, 0).unwrap();
        let mut flow = Flow::new(options.clone(), 100_001);
        let mut orders = Vec::new();
        flow.prefill(start, &mut orders);

        let mut out = Vec::new();
        let mut elapsed = Duration::ZERO;
        for &at in samples {
            while elapsed < Duration::from_secs(at) {
                elapsed += options.tick;
                let now = start + TimeDelta::from_std(elapsed).unwrap();
                flow.tick(elapsed, now, &mut orders);
            }
            let now = start + TimeDelta::from_std(elapsed).unwrap();
            out.push(
                SERVICES
                    .iter()
                    .map(|s| window_rate(&orders, s.id, now))
                    .collect(),
            );
        }
        out
    }

    #[test]
    fn the_degrading_service_fires_within_80_s_and_resolves_later() {
        for seed in [42, 1, 2, 3] {
            let rates = run_until(seed, &[25, 80, 900]);
            let (before, _) = rates[0][0];
            let (during, finished) = rates[1][0];
            let (after, _) = rates[2][0];
            assert!(before >= 0.85, "seed {seed}: {before} before degrading");
            assert!(during < 0.8, "seed {seed}: {during} at 80 s");
            assert!(finished >= 10, "seed {seed}: {finished} finished");
            assert!(after >= 0.85, "seed {seed}: {after} at 15 min");
        }
    }

    #[test]
    fn the_other_services_stay_above_the_threshold() {
        let samples: Vec<u64> = (1..=20).map(|i| i * 45).collect();
        for (i, at) in run_until(42, &samples).iter().enumerate() {
            for (service, (rate, finished)) in SERVICES.iter().zip(at).skip(1) {
                if *finished >= 10 {
                    assert!(*rate >= 0.8, "{} at sample {i}: {rate}", service.name);
                }
            }
        }
    }

    #[test]
    fn the_flow_is_reproducible_and_dense() {
        let first = run_until(9, &[120]);
        let second = run_until(9, &[120]);
        assert_eq!(first, second);
        let finished: usize = first[0].iter().map(|(_, n)| n).sum();
        assert!(finished > 300, "{finished}");
    }
}
