//! Whole-program tests of the user API v2 source: the real binary, headless, against the
//! simulated panel's user API (drift on) and a recording receiver, all on loopback.
//!
//! Covered: a tracked order's life from Pending to Partial (the `order.updated` events, and
//! the success rate the Partial order gives); a balance drop firing `balance.low` once; a
//! challenge page giving a classified panel event and no service alert; the intake endpoint
//! tracking an order; an inbound webhook delivered twice counting once, and one with a bad
//! signature refused.

mod common;

use std::path::{Path, PathBuf};
use std::str::FromStr;
use std::time::Duration;

use chrono::Utc;
use common::{wait_until, Binary, Receiver};
use panelwatch::delivery::sign::SigningKey;
use panelwatch::domain::Money;
use panelwatch::sim::panel::{Fault, SimOptions, SimOrder, SimPanel};
use rust_decimal::Decimal;

const SECRET: &str = "whsec_C2FVsBQIhrscChlQIMV+b5sSYspob7oD";
const INBOUND: &str = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";
const TOKEN: &str = "intake-token-0123456789";
const LIMIT: Duration = Duration::from_secs(60);

fn money(text: &str) -> Money {
    Money(Decimal::from_str(text).unwrap())
}

/// A free loopback port for the intake endpoint.
fn free_port() -> u16 {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    listener.local_addr().unwrap().port()
}

fn write_config(dir: &Path, sim: &SimPanel, receiver: &Receiver, port: u16) -> PathBuf {
    let text = format!(
        r#"
[monitor]
state_dir = "state"

[delivery]
retry_schedule = ["200ms", "500ms", "1s"]

[intake]
listen = "127.0.0.1:{port}"
token = "${{E2E_INTAKE_TOKEN}}"

[[panels]]
name = "provider"
kind = "v2"
url = "{panel}"
api_key = "${{E2E_PANEL_KEY}}"
interval = "200ms"
timeout = "5s"
balance_below = "25.00"
inbound_secret = "{INBOUND}"

[[rules]]
name = "success-rate"
window = "1h"
min_orders = 1
alert_below = 0.80
resolve_above = 0.85
notify = ["ops"]

[[webhooks]]
name = "ops"
kind = "custom"
url = "{ops}"
secret = "{SECRET}"

[[webhooks]]
name = "backend"
kind = "custom"
url = "{backend}"
secret = "{SECRET}"
events = ["order.updated"]
"#,
        panel = sim.v2_url(),
        ops = receiver.url("ops"),
        backend = receiver.url("backend"),
    );
    let path = dir.join("config.toml");
    std::fs::write(&path, text).unwrap();
    path
}

async fn drifting_panel() -> SimPanel {
    SimPanel::start(SimOptions {
        drift: true,
        seed: 11,
        ..SimOptions::default()
    })
    .await
    .unwrap()
}

fn start(config: &Path, sim: &SimPanel) -> Binary {
    Binary::run(
        config,
        &[
            ("E2E_PANEL_KEY", sim.api_key()),
            ("E2E_INTAKE_TOKEN", TOKEN),
        ],
    )
}

/// Waits until the binary has made `n` more calls to the panel.
async fn calls(sim: &SimPanel, n: u64) {
    let target = sim.requests() + n;
    tokio::time::timeout(LIMIT, sim.wait_for_requests(target))
        .await
        .expect("the binary keeps polling");
}

fn pending_order(id: u64) -> SimOrder {
    let mut order = SimOrder::new(id, 17, Utc::now());
    order.status = "pending".into();
    order.remains = order.quantity;
    order
}

fn set_status(sim: &SimPanel, id: u64, status: &str, remains: u64) {
    sim.update(|orders| {
        let order = orders.iter_mut().find(|o| o.id == id).unwrap();
        order.status = status.into();
        order.remains = remains;
    });
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_tracked_order_from_pending_to_partial() {
    let dir = tempfile::tempdir().unwrap();
    let sim = drifting_panel().await;
    let receiver = Receiver::start().await;
    sim.push_order(pending_order(9001));
    let config = write_config(dir.path(), &sim, &receiver, free_port());

    let out = std::process::Command::new(env!("CARGO_BIN_EXE_panelwatch"))
        .args(["track", "provider", "9001", "--service", "17"])
        .args(["--quantity", "1000", "--config"])
        .arg(&config)
        .env("E2E_PANEL_KEY", "x")
        .env("E2E_INTAKE_TOKEN", TOKEN)
        .output()
        .unwrap();
    assert!(out.status.success(), "{out:?}");
    let bad_csv = dir.path().join("orders.csv");
    std::fs::write(&bad_csv, "order,service\n9002,17\n9003\n").unwrap();
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_panelwatch"))
        .args(["track", "provider", "--csv"])
        .arg(&bad_csv)
        .arg("--config")
        .arg(&config)
        .env("E2E_PANEL_KEY", "x")
        .env("E2E_INTAKE_TOKEN", TOKEN)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("line 3"), "{err}");

    let bin = start(&config, &sim);
    calls(&sim, 6).await;
    set_status(&sim, 9001, "in progress", 600);
    wait_until("Pending -> In progress", LIMIT, || {
        receiver.of_type("backend", "order.updated").len() == 1
    })
    .await;
    set_status(&sim, 9001, "partial", 250);
    wait_until("In progress -> Partial, then the alert", LIMIT, || {
        receiver.of_type("backend", "order.updated").len() == 2
            && receiver.of_type("ops", "alert.fired").len() == 1
    })
    .await;
    calls(&sim, 6).await;

    let updates: Vec<_> = receiver
        .of_type("backend", "order.updated")
        .iter()
        .map(|r| r.json())
        .collect();
    assert_eq!(updates.len(), 2, "one event per change");
    let steps: Vec<(String, String)> = updates
        .iter()
        .map(|u| {
            (
                u["data"]["old_status"].as_str().unwrap().to_string(),
                u["data"]["new_status"].as_str().unwrap().to_string(),
            )
        })
        .collect();
    assert_eq!(
        steps,
        [
            ("Pending".to_string(), "In progress".to_string()),
            ("In progress".to_string(), "Partial".to_string())
        ]
    );
    assert_eq!(updates[1]["data"]["remains"], 250);
    assert_eq!(updates[1]["data"]["order"], 9001);
    assert!(receiver.of_type("ops", "order.updated").is_empty());
    let fired = receiver.of_type("ops", "alert.fired")[0].json();
    assert_eq!(fired["data"]["success_rate"], 0.75, "Partial 750 of 1000");
    assert_eq!(fired["data"]["orders"]["partial"], 1);
    common::verify_standard(SECRET, &receiver.of_type("backend", "order.updated")[0]).unwrap();
    drop(bin);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_balance_drop_fires_balance_low_once() {
    let dir = tempfile::tempdir().unwrap();
    let sim = drifting_panel().await;
    let receiver = Receiver::start().await;
    sim.set_balance(money("100.8429217"));
    let config = write_config(dir.path(), &sim, &receiver, free_port());
    let bin = start(&config, &sim);
    calls(&sim, 4).await;
    assert!(receiver.all().is_empty(), "a healthy start sends nothing");

    sim.set_balance(money("24.9999999"));
    wait_until("balance.low", LIMIT, || {
        receiver.of_type("ops", "balance.low").len() == 1
    })
    .await;
    calls(&sim, 8).await;
    assert_eq!(receiver.of_type("ops", "balance.low").len(), 1);
    let low = receiver.of_type("ops", "balance.low")[0].json();
    assert_eq!(low["data"]["balance"], "24.9999999");
    assert_eq!(low["data"]["threshold"], "25.00");
    assert!(receiver.of_type("backend", "balance.low").is_empty());

    sim.set_balance(money("80"));
    wait_until("balance.recovered", LIMIT, || {
        receiver.of_type("ops", "balance.recovered").len() == 1
    })
    .await;
    drop(bin);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_challenge_page_is_a_classified_panel_event_and_no_service_alert() {
    let dir = tempfile::tempdir().unwrap();
    let sim = drifting_panel().await;
    let receiver = Receiver::start().await;
    let mut done = pending_order(9010);
    done.status = "completed".into();
    done.remains = 0;
    sim.push_order(done);
    let config = write_config(dir.path(), &sim, &receiver, free_port());
    let bin = start(&config, &sim);
    calls(&sim, 4).await;

    sim.set_fault(Fault::Challenge403);
    wait_until("panel.down", LIMIT, || {
        receiver.of_type("ops", "panel.down").len() == 1
    })
    .await;
    calls(&sim, 5).await;
    let down = receiver.of_type("ops", "panel.down")[0].json();
    let reason = down["data"]["reason"].as_str().unwrap();
    assert!(
        reason.contains("blocked by a WAF or CDN challenge"),
        "{reason}"
    );
    assert!(reason.contains("HTTP 403"), "{reason}");
    assert!(!reason.contains(sim.api_key()));
    assert!(receiver.of_type("ops", "alert.fired").is_empty());
    assert!(
        !bin.log().contains(sim.api_key()),
        "the key never reaches the log"
    );
    drop(bin);
}

fn signed(id: &str, body: &str, secret: &str) -> Vec<(&'static str, String)> {
    let key = SigningKey::parse(secret).unwrap();
    let at = Utc::now().timestamp();
    vec![
        ("webhook-id", id.to_string()),
        ("webhook-timestamp", at.to_string()),
        ("webhook-signature", key.sign(id, at, body.as_bytes())),
    ]
}

async fn post(
    http: &reqwest::Client,
    url: &str,
    headers: &[(&'static str, String)],
    body: &str,
) -> (u16, String) {
    let mut request = http.post(url).body(body.to_string());
    for (name, value) in headers {
        request = request.header(*name, value);
    }
    let response = request.send().await.expect("the intake answers");
    let status = response.status().as_u16();
    (status, response.text().await.unwrap_or_default())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn inbound_webhooks_count_once_and_bad_signatures_are_refused() {
    let dir = tempfile::tempdir().unwrap();
    let sim = drifting_panel().await;
    let receiver = Receiver::start().await;
    sim.push_order(pending_order(9100));
    let port = free_port();
    let config = write_config(dir.path(), &sim, &receiver, port);
    let bin = start(&config, &sim);
    let http = reqwest::Client::new();
    let base = format!("http://127.0.0.1:{port}");

    // The backend reports the order it placed.
    let order = r#"{"panel":"provider","order":"9100","service":17,"quantity":1000}"#;
    let mut answer = (0, String::new());
    for _ in 0..600 {
        let bearer = [("authorization", format!("Bearer {TOKEN}"))];
        match http
            .post(format!("{base}/orders"))
            .header(bearer[0].0, &bearer[0].1)
            .body(order)
            .send()
            .await
        {
            Ok(r) => {
                answer = (r.status().as_u16(), r.text().await.unwrap_or_default());
                break;
            }
            Err(_) => tokio::time::sleep(Duration::from_millis(100)).await,
        }
    }
    assert_eq!(answer.0, 201, "{answer:?}");
    let wrong = [("authorization", "Bearer nope".to_string())];
    let (status, _) = post(&http, &format!("{base}/orders"), &wrong, order).await;
    assert_eq!(status, 401);
    calls(&sim, 8).await;

    // The panel pushes "completed" (the polled API still says pending), twice.
    let url = format!("{base}/inbound/provider");
    let body = r#"{"type":"order.completed","data":{"order":9100,"service":17,"remains":0}}"#;
    let headers = signed("msg_order_9100_done", body, INBOUND);
    let (status, first) = post(&http, &url, &headers, body).await;
    assert_eq!(status, 200, "{first}");
    assert!(first.contains("\"duplicate\":false"), "{first}");
    let (status, again) = post(&http, &url, &headers, body).await;
    assert_eq!(status, 200, "a redelivery is acknowledged: {again}");
    assert!(again.contains("\"duplicate\":true"), "{again}");

    let forged = signed("msg_forged", body, SECRET);
    let (status, _) = post(&http, &url, &forged, body).await;
    assert_eq!(status, 401, "a bad signature is refused");
    let mut stale = signed("msg_stale", body, INBOUND);
    stale[1].1 = (Utc::now().timestamp() - 3600).to_string();
    let (status, _) = post(&http, &url, &stale, body).await;
    assert_eq!(status, 400, "a stale timestamp is refused");
    let big = format!("{{\"pad\":\"{}\"}}", "x".repeat(100_000));
    let (status, _) = post(&http, &url, &signed("msg_big", &big, INBOUND), &big).await;
    assert_eq!(status, 413, "an oversized body is refused");

    wait_until("Pending -> Completed from the push", LIMIT, || {
        receiver.of_type("backend", "order.updated").len() == 1
    })
    .await;
    calls(&sim, 8).await;
    let updates = receiver.of_type("backend", "order.updated");
    assert_eq!(updates.len(), 1, "delivered twice, counted once");
    let update = updates[0].json();
    assert_eq!(update["data"]["new_status"], "Completed");
    assert_eq!(
        sim.orders()[0].status,
        "pending",
        "the panel was never asked"
    );

    let store = panelwatch::store::Store::open(&dir.path().join("state")).unwrap();
    assert_eq!(store.inbound_count("provider").unwrap(), 1);
    let log = bin.log();
    assert!(
        !log.contains(TOKEN) && !log.contains(INBOUND),
        "no secret in the log"
    );
    drop(bin);
}
