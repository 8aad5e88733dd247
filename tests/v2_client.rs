//! The user API v2 client against the simulated panel over real HTTP on loopback: every drift
//! kind decoded, every fault classified, the key never shown, multi-status chunked.

use std::str::FromStr;
use std::time::Duration;

use chrono::Utc;
use panelwatch::config::{PanelConfig, PanelKind, Secret};
use panelwatch::domain::{Money, OrderId, OrderStatus, ServiceId};
use panelwatch::panel::v2::V2Client;
use panelwatch::panel::PanelErrorKind;
use panelwatch::sim::panel::{Fault, SimOptions, SimOrder, SimPanel, SimService};
use rust_decimal::Decimal;

fn client(sim: &SimPanel, key: &str, timeout: Duration) -> V2Client {
    let config = PanelConfig {
        name: "provider".into(),
        kind: PanelKind::V2,
        url: sim.v2_url(),
        api_key: Secret::new(key),
        interval: Duration::from_secs(30),
        timeout,
        page_size: 100,
        probes: Vec::new(),
        source: Default::default(),
    };
    V2Client::new(&config).unwrap()
}

fn money(text: &str) -> Money {
    Money(Decimal::from_str(text).unwrap())
}

fn orders() -> Vec<SimOrder> {
    let now = Utc::now();
    let statuses = [
        "pending",
        "processing",
        "in progress",
        "completed",
        "partial",
        "cancelled",
        "refunded",
        "Awaiting",
    ];
    (0..240)
        .map(|i| {
            let mut o = SimOrder::new(5000 + i, 17, now);
            o.status = statuses[i as usize % statuses.len()].into();
            o.remains = i % 7;
            o
        })
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_drift_kind_decodes_to_the_same_answers() {
    for seed in [1, 2, 3, 4, 5, 6] {
        let sim = SimPanel::start(SimOptions {
            seed,
            drift: true,
            ..SimOptions::default()
        })
        .await
        .unwrap();
        sim.set_orders(orders());
        sim.set_missing(vec![5003]);
        sim.set_balance(money("100.8429217"));
        sim.set_services(vec![
            SimService {
                id: 1,
                name: "IG Followers".into(),
                rate: money("0.9000001"),
                min: 50,
                max: 10_000,
            },
            SimService {
                id: 2,
                name: "TT Views".into(),
                rate: money("0.0123"),
                min: 100,
                max: 1_000_000,
            },
        ]);
        let client = client(&sim, sim.api_key(), Duration::from_secs(10));

        let balance = client.balance().await.unwrap();
        assert_eq!(balance.amount, money("100.8429217"), "seed {seed}");

        let catalogue = client.services().await.unwrap();
        assert_eq!(catalogue.services.len(), 2, "seed {seed}");
        let one = &catalogue.services[&ServiceId(1)];
        assert_eq!(one.rate, Some(money("0.9000001")), "seed {seed}");
        assert_eq!((one.min, one.max), (Some(50), Some(10_000)), "seed {seed}");

        // 240 orders, a duplicate and an unknown id: three calls of at most 100 ids.
        let mut ids: Vec<OrderId> = (5000..5240).map(OrderId).collect();
        ids.push(OrderId(5001));
        ids.push(OrderId(1));
        let before = sim.requests();
        let mut calls = Vec::new();
        let batch = client.statuses(&ids, |ok| calls.push(ok)).await.unwrap();
        assert_eq!(calls, [true, true, true], "seed {seed}");
        assert_eq!(sim.requests() - before, 3);
        let mut errors: Vec<u64> = batch.errors.iter().map(|(id, _)| id.0).collect();
        errors.sort();
        assert_eq!(errors, [1, 5003], "seed {seed}: per-item errors are data");
        assert_eq!(batch.items.len(), 239, "seed {seed}");
        for item in &batch.items {
            let sim_order = sim
                .orders()
                .into_iter()
                .find(|o| o.id == item.order.0)
                .unwrap();
            assert_eq!(item.status, OrderStatus::parse(&sim_order.status));
            assert_eq!(item.remains, Some(sim_order.remains), "seed {seed}");
            assert_eq!(item.charge, Some(sim_order.charge), "seed {seed}");
        }
        let unknown = batch
            .warnings
            .iter()
            .filter(|w| w.contains("unknown status"))
            .count();
        assert_eq!(unknown, 30, "seed {seed}: each Awaiting order warns");
        sim.shutdown().await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn faults_are_classified_and_the_key_never_shows() {
    let sim = SimPanel::start(SimOptions {
        drift: true,
        api_key: Some("sk-very-secret-0042".into()),
        ..SimOptions::default()
    })
    .await
    .unwrap();
    let client = client(&sim, "sk-very-secret-0042", Duration::from_millis(800));
    let limited = |after: Option<u64>| PanelErrorKind::RateLimited {
        retry_after: after.map(Duration::from_secs),
    };
    let cases = [
        (Fault::Html502, PanelErrorKind::BadBody),
        (Fault::Challenge403, PanelErrorKind::Blocked),
        (Fault::EmptyBody, PanelErrorKind::BadBody),
        (Fault::Slow(Duration::from_secs(3)), PanelErrorKind::Timeout),
        (Fault::Redirect, PanelErrorKind::Http { status: 302 }),
        (
            Fault::RateLimit429 {
                retry_after_secs: 42,
            },
            limited(Some(42)),
        ),
        (Fault::RateLimitBody, limited(None)),
    ];
    for (fault, want) in cases {
        sim.set_fault(fault.clone());
        let err = client.balance().await.unwrap_err();
        assert_eq!(err.kind, want, "{fault:?}: {err}");
        let shown = format!("{err} {err:?}");
        assert!(!shown.contains("sk-very-secret-0042"), "{shown}");
        if fault == Fault::Challenge403 {
            assert!(shown.contains("Just a moment"), "raw excerpt kept: {shown}");
        }
    }
    assert_eq!(sim.redirect_hits(), 0, "redirects are never followed");

    sim.set_fault(Fault::None);
    let wrong = self::client(&sim, "wrong-key", Duration::from_secs(5));
    let err = wrong.balance().await.unwrap_err();
    assert_eq!(err.kind, PanelErrorKind::Auth, "{err}");
    assert!(!format!("{client:?}").contains("sk-very-secret-0042"));
}
