//! A synthetic snapshot source for measuring the screen: `n` services on two panels, published
//! once a second like the engine's tick (the clock moves, nothing else does), or, busy, with
//! every service's figures changing once every 10 s (a tenth of them each second).
//!
//! It exists for `benches/tui_bandwidth.rs` (through the hidden `panelwatch tui
//! --bench-fixture`); the program never shows it otherwise.

use std::time::Duration;

use chrono::{DateTime, Utc};
use tokio::sync::watch;

use crate::domain::{OrderCounts, ServiceId};
use crate::snapshot::{
    AlertStatus, DeliveryView, DestinationView, EventLine, PanelHealth, PanelView, ServiceView,
    Snapshot,
};

/// How many rates each service's history keeps, as the engine bounds it.
const HISTORY: usize = 60;

/// The first snapshot: `n` services, all healthy but a few.
pub fn snapshot(n: usize, at: DateTime<Utc>) -> Snapshot {
    let panels = ["main", "reseller"]
        .into_iter()
        .map(|name| PanelView {
            name: name.into(),
            health: PanelHealth::Up,
            last_poll: Some(at),
            poll_ms: Some(300),
            orders: 1000,
        })
        .collect();
    let services = (0..n)
        .map(|i| {
            let rate = 0.7 + 0.3 * ((i * 37 % 100) as f64 / 100.0);
            let firing = rate < 0.8;
            ServiceView {
                panel: if i % 2 == 0 { "main" } else { "reseller" }.into(),
                service: ServiceId(i as u64 + 1),
                name: format!("Service {i} · Followers [Refill 30d]"),
                provider: Some(format!("provider-{}", i % 4)),
                rule: "success-rate".into(),
                success_rate: Some(rate),
                alert_below: 0.8,
                resolve_above: 0.85,
                min_orders: 10,
                counts: OrderCounts {
                    completed: 80,
                    partial: 5,
                    canceled: 10,
                    running: 7,
                    stuck: 0,
                },
                status: if firing {
                    AlertStatus::Firing
                } else {
                    AlertStatus::Ok
                },
                // As the engine does: only a firing or pending state has a start.
                since: firing.then_some(at),
                history: vec![rate; HISTORY],
                window: "6h".into(),
                quiet: None,
                providers: Vec::new(),
                problem_orders: Vec::new(),
                periods: Vec::new(),
            }
        })
        .collect();
    Snapshot {
        at,
        panels,
        services,
        events: vec![EventLine {
            at,
            kind: "panel.up".into(),
            summary: "PANEL UP main".into(),
        }],
        deliveries: DeliveryView {
            destinations: vec![DestinationView {
                name: "ops-slack".into(),
                kind: "slack".into(),
                disabled: None,
                last_outcome: Some("200 OK in 40 ms".into()),
                last_at: Some(at),
                queued: 0,
            }],
            ..DeliveryView::default()
        },
        destinations: vec!["ops-slack".into()],
        ..Snapshot::default()
    }
}

/// Publishes a fresh snapshot every second until the receiver is dropped.
pub fn spawn(n: usize, busy: bool) -> watch::Receiver<Snapshot> {
    let (tx, rx) = watch::channel(snapshot(n, Utc::now()));
    tokio::spawn(async move {
        let mut tick = tokio::time::interval(Duration::from_secs(1));
        let mut second: usize = 0;
        loop {
            tick.tick().await;
            second += 1;
            let mut next = tx.borrow().clone();
            next.at = Utc::now();
            if busy {
                for (i, s) in next.services.iter_mut().enumerate() {
                    if i % 10 != second % 10 {
                        continue;
                    }
                    let step = ((second / 10 + i) % 7) as f64 / 100.0;
                    let rate = 0.75 + step * 3.0;
                    s.success_rate = Some(rate);
                    s.history.remove(0);
                    s.history.push(rate);
                    s.counts.completed += 1;
                    s.counts.running = (s.counts.running + 1) % 10;
                    let firing = rate < s.alert_below;
                    if firing && s.status != AlertStatus::Firing {
                        s.since = Some(next.at);
                    }
                    if !firing {
                        s.since = None;
                    }
                    s.status = if firing {
                        AlertStatus::Firing
                    } else {
                        AlertStatus::Ok
                    };
                }
            }
            if tx.send(next).is_err() {
                return;
            }
        }
    });
    rx
}
