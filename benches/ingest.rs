//! Ingestion: decoding admin API order pages and aggregating them into per-service figures,
//! against a plain `serde_json::Value` parse of the same bytes.
//!
//! Starts the simulated panel with drift on (numbers as text, status spellings, `charge`
//! shapes, lists keyed by id), loads it with 100,000 orders of 1,000 services over six hours,
//! and fetches every page once over loopback to keep their bytes. Then, for several rounds,
//! times (a) `decode::admin_orders_page` on every page followed by `stats::per_service` over
//! all the orders, and (b) `serde_json::from_slice::<Value>` on every page and nothing else.
//! Prints the medians as orders per second and their ratio.
//! Run with `cargo bench --bench ingest`.

mod common;

use std::time::{Duration, Instant};

use chrono::Utc;
use serde_json::Value;

use panelwatch::domain::Order;
use panelwatch::panel::decode;
use panelwatch::sim::{SimOptions, SimPanel};
use panelwatch::stats;

const SERVICES: u64 = 1_000;
const ORDERS: u64 = 100_000;
const PAGE: usize = 1_000;
const ROUNDS: usize = 9;

async fn pages() -> Vec<Vec<u8>> {
    let panel = SimPanel::start(SimOptions {
        seed: 11,
        drift: true,
        api_key: None,
    })
    .await
    .unwrap();
    let now = Utc::now();
    panel.set_orders(common::sim_orders(
        SERVICES,
        ORDERS,
        Duration::from_secs(6 * 3600),
        now,
    ));
    let client = reqwest::Client::new();
    let mut out = Vec::new();
    for offset in (0..ORDERS as usize).step_by(PAGE) {
        let body = client
            .get(format!("{}/orders", panel.url()))
            .query(&[("limit", PAGE), ("offset", offset)])
            .header("X-Api-Key", panel.api_key())
            .send()
            .await
            .unwrap()
            .bytes()
            .await
            .unwrap();
        out.push(body.to_vec());
    }
    panel.shutdown().await;
    out
}

fn main() {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .unwrap();
    let pages = runtime.block_on(pages());
    let bytes: usize = pages.iter().map(Vec::len).sum();
    let config = common::config(
        r#"
[[panels]]
name = "main"
kind = "admin"
url = "http://127.0.0.1:9/adminapi/v2"
api_key = "k"

[[rules]]
name = "success-rate"
window = "6h"
alert_below = 0.8
"#,
        std::path::Path::new("."),
    );
    let rule = &config.rules[0];

    let mut decode_times = Vec::new();
    let mut value_times = Vec::new();
    let mut services = 0;
    for _ in 0..ROUNDS {
        let started = Instant::now();
        let now = Utc::now();
        let mut orders: Vec<Order> = Vec::with_capacity(ORDERS as usize);
        for page in &pages {
            let page = decode::admin_orders_page(200, Some("application/json"), page).unwrap();
            orders.extend(page.orders);
        }
        let figures = stats::per_service(&orders, rule, now);
        decode_times.push(started.elapsed().as_secs_f64());
        assert_eq!(orders.len() as u64, ORDERS);
        services = figures.len();

        let started = Instant::now();
        let mut entries = 0;
        for page in &pages {
            let value: Value = serde_json::from_slice(page).unwrap();
            entries += value["data"]["count"].is_null() as usize;
        }
        value_times.push(started.elapsed().as_secs_f64());
        std::hint::black_box(entries);
    }

    let decode = ORDERS as f64 / common::median(&mut decode_times);
    let value = ORDERS as f64 / common::median(&mut value_times);
    println!("machine:                          {}", common::machine());
    println!(
        "pages:                            {} of {PAGE} orders, {:.1} MB, drifted",
        pages.len(),
        bytes as f64 / 1e6
    );
    println!("services aggregated:              {services}");
    println!("decode + aggregate, orders/s:     {decode:.0} (median of {ROUNDS})");
    println!("serde_json::Value parse, orders/s: {value:.0} (median of {ROUNDS})");
    println!("ratio decode+aggregate / Value:   {:.2}", decode / value);
    println!(
        "targets: >= 300000 orders/s {} ; faster than Value {}",
        common::verdict(decode >= 300_000.0),
        common::verdict(decode > value)
    );
}
