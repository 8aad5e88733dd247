//! Start-up on a large store, and the history's size bound.
//!
//! Start-up: fills a store with 1,000,000 events (and a delivery each, delivered), then times
//! what stands between `panelwatch run` and its first screen: `Store::open`, `Engine::new`
//! (alert states and the history pane's recent events) and the first `Engine::snapshot`. It
//! does not time the process exec, the config parse or the terminal set-up, which do not grow
//! with the store. Median of several opens of the same file.
//!
//! Size: records 30 days of history for 1,000 services at 20,000 orders a day (the whole
//! panel's volume) through the real `history::Recording` path, one day per recording, prunes
//! with the default `[history]` limits and reports the file size.
//! Run with `cargo bench --bench startup`.

mod common;

use std::sync::Arc;
use std::time::{Duration, Instant};

use chrono::Utc;

use panelwatch::domain::{OrderCounts, ServiceId};
use panelwatch::engine::Engine;
use panelwatch::event::{AlertData, Event, EventBody, ServiceRef};
use panelwatch::history::{self, HistoryConfig, Recording};
use panelwatch::store::{Batch, Store};

const EVENTS: usize = 1_000_000;
const OPENS: usize = 7;

fn event(i: usize) -> Event {
    Event::new(
        Utc::now(),
        chrono_tz::UTC,
        EventBody::AlertFired(AlertData {
            panel: "main".into(),
            service: Some(ServiceRef {
                id: ServiceId(i as u64 % 1000),
                name: format!("Service {}", i % 1000),
            }),
            provider: None,
            rule: "success-rate".into(),
            success_rate: 0.62,
            alert_below: 0.8,
            resolve_above: 0.85,
            window: "6h".into(),
            orders: OrderCounts::default(),
        }),
    )
}

const CONFIG: &str = r#"
[monitor]
state_dir = "state"

[[panels]]
name = "main"
kind = "admin"
url = "http://127.0.0.1:9/adminapi/v2"
api_key = "k"

[[rules]]
name = "success-rate"
alert_below = 0.8
notify = ["ops"]

[[webhooks]]
name = "ops"
kind = "slack"
url = "http://127.0.0.1:9/hook"
"#;

fn startup() {
    let dir = tempfile::tempdir().unwrap();
    let config = common::config(CONFIG, dir.path());
    let state = &config.monitor.state_dir;
    let filled = Instant::now();
    {
        let store = Store::open(state).unwrap();
        for start in (0..EVENTS).step_by(10_000) {
            let events: Vec<Event> = (start..start + 10_000).map(event).collect();
            let batch = Batch {
                events: events
                    .iter()
                    .map(|e| (e, vec!["ops".to_string()]))
                    .collect(),
                states: vec![],
            };
            store.commit(&batch, Utc::now()).unwrap();
        }
        store
            .with_conn("deliver", |c| {
                c.execute("UPDATE deliveries SET state = 'delivered'", [])
            })
            .unwrap();
    }
    let size = std::fs::metadata(state.join("panelwatch.db"))
        .unwrap()
        .len();
    println!(
        "store filled with {EVENTS} events in {:.0} s ({:.0} MB)",
        filled.elapsed().as_secs_f64(),
        size as f64 / 1e6
    );

    let mut times = Vec::new();
    for _ in 0..OPENS {
        let started = Instant::now();
        let store = Arc::new(Store::open(state).unwrap());
        let engine = Engine::new(Arc::clone(&config), Arc::clone(&store)).unwrap();
        let view = panelwatch::delivery::dispatch::delivery_view(&store, &config).unwrap();
        let snapshot = engine.snapshot(Utc::now(), view);
        times.push(started.elapsed().as_secs_f64() * 1e3);
        assert_eq!(snapshot.events.len(), config.monitor.history);
    }
    let ms = common::median(&mut times);
    println!("open + engine + first snapshot, ms: {ms:.1} (median of {OPENS})");
    println!(
        "target: first screen < 300 ms {}",
        common::verdict(ms < 300.0)
    );
}

fn size_bound() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(dir.path()).unwrap();
    let now = Utc::now();
    let day = Duration::from_secs(86_400);
    let started = Instant::now();
    for d in (0..30).rev() {
        let end = now - chrono::Duration::days(d);
        let orders = common::orders(1_000, 20_000, day, end);
        let since = end - chrono::Duration::days(1);
        Recording::new("main", since, end, orders)
            .write(&store)
            .unwrap();
        history::prune(&store, &HistoryConfig::default(), end).unwrap();
    }
    store
        .with_conn("vacuum", |c| {
            c.execute_batch("PRAGMA wal_checkpoint(TRUNCATE); VACUUM;")
        })
        .unwrap();
    let size = std::fs::metadata(store.path()).unwrap().len();
    println!(
        "history, 30 days x 1,000 services x 20,000 orders/day: {:.1} MB (recorded in {:.0} s)",
        size as f64 / 1e6,
        started.elapsed().as_secs_f64()
    );
    println!(
        "target: store < 300 MB {}",
        common::verdict(size < 300_000_000)
    );
}

fn main() {
    println!("machine: {}", common::machine());
    size_bound();
    startup();
}
