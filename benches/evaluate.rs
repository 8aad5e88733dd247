//! Evaluation: one tick of every rule over 10,000 services.
//!
//! Builds the real engine on a fresh store with one panel and two rules (one per service,
//! one per provider) and hands it, tick after tick, the same successful poll: 200,000 orders
//! of 10,000 services in the rules' six-hour window. A tick is `Engine::on_report`: the order
//! book, the statistics of both rules, the alert state machine of every service and
//! provider, and the store commit. The first tick (every service new) is reported apart; the
//! figure is the median of the steady ticks after it, and the statistics alone are timed too
//! to show where a tick goes. Run with `cargo bench --bench evaluate`.

mod common;

use std::sync::Arc;
use std::time::{Duration, Instant};

use chrono::Utc;

use panelwatch::engine::{Engine, PanelRead, PanelReport};
use panelwatch::stats;
use panelwatch::store::Store;

const SERVICES: u64 = 10_000;
const ORDERS: u64 = 200_000;
const TICKS: usize = 21;

fn main() {
    let dir = tempfile::tempdir().unwrap();
    let config = common::config(
        r#"
[monitor]
state_dir = "state"

[[panels]]
name = "main"
kind = "admin"
url = "http://127.0.0.1:9/adminapi/v2"
api_key = "k"

[[rules]]
name = "success-rate"
window = "6h"
min_orders = 5
alert_below = 0.5
alert_stuck_above = 50

[[rules]]
name = "providers"
window = "6h"
alert_below = 0.5
group_by = "provider"
"#,
        dir.path(),
    );
    let store = Arc::new(Store::open(&config.monitor.state_dir).unwrap());
    let mut engine = Engine::new(Arc::clone(&config), store).unwrap();
    let now = Utc::now();
    let orders = common::orders(SERVICES, ORDERS, Duration::from_secs(6 * 3600), now);
    let report = |at| PanelReport {
        panel: "main".into(),
        at,
        outcome: Ok(PanelRead {
            orders: orders.clone(),
            warnings: vec![],
            elapsed: Duration::from_millis(1),
            ..PanelRead::default()
        }),
    };

    let mut first = 0.0;
    let mut ticks = Vec::new();
    for i in 0..TICKS {
        let at = now + chrono::Duration::seconds(i as i64);
        let report = report(at);
        let started = Instant::now();
        let events = engine.on_report(report).unwrap();
        let ms = started.elapsed().as_secs_f64() * 1e3;
        if i == 0 {
            first = ms;
            println!("first tick raised {} events", events.len());
        } else {
            assert!(events.is_empty(), "nothing changes after the first tick");
            ticks.push(ms);
        }
    }
    let snapshot = engine.snapshot(now, Default::default());
    assert!(snapshot.services.len() as u64 >= SERVICES);

    let mut stats_ms = Vec::new();
    for _ in 0..TICKS {
        let started = Instant::now();
        let figures = stats::per_service(&orders, &config.rules[0], now);
        let by_provider = stats::per_provider(&orders, &config.rules[1], now);
        stats_ms.push(started.elapsed().as_secs_f64() * 1e3);
        std::hint::black_box((figures, by_provider));
    }

    // Where a tick goes: the parts of `on_report` that grow with the orders, timed alone.
    let mut clone_ms = Vec::new();
    let mut book_ms = Vec::new();
    for _ in 0..TICKS {
        let started = Instant::now();
        let copy = orders.clone();
        clone_ms.push(started.elapsed().as_secs_f64() * 1e3);
        let started = Instant::now();
        let mut book = stats::OrderBook::default();
        book.replace(copy);
        book_ms.push(started.elapsed().as_secs_f64() * 1e3);
        std::hint::black_box(book);
    }

    let tick = common::median(&mut ticks);
    println!("machine:                     {}", common::machine());
    println!("services / orders in window: {SERVICES} / {ORDERS}, two rules");
    println!("first tick (all new), ms:    {first:.1}");
    println!(
        "tick, ms:                    {tick:.2} (median of {})",
        TICKS - 1
    );
    println!("  of which statistics, ms:   {:.2} (median of {TICKS})", {
        common::median(&mut stats_ms)
    });
    let (clone, book, figures) = (
        common::median(&mut clone_ms),
        common::median(&mut book_ms),
        common::median(&mut stats_ms),
    );
    println!("  of which the order book, ms: {book:.2}");
    println!(
        "  the rest (rules, rows for the screen, commit), ms: {:.2}",
        tick - book - figures
    );
    println!("(a copy of the poll's orders, which a tick no longer makes, ms: {clone:.2})");
    println!("target: tick < 5 ms {}", common::verdict(tick < 5.0));
}
