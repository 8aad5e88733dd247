//! The real admin API client against the simulated panel, over loopback.
//!
//! These tests check what a unit test of the decoder cannot: paging over HTTP, drift surviving
//! the whole trip, every fault classified, redirects refused, timeouts, and the key staying out
//! of every error. They never sleep to wait: each call is awaited to its end.

use std::time::Duration;

use chrono::{DateTime, TimeDelta, Utc};
use panelwatch::config::{PanelConfig, PanelKind, Secret};
use panelwatch::domain::{Money, Order};
use panelwatch::panel::{AdminClient, PanelError, PanelErrorKind};
use panelwatch::sim::{Fault, SimOptions, SimOrder, SimPanel};
use rust_decimal::Decimal;

fn config(url: &str, key: &str, page_size: u32, timeout: Duration) -> PanelConfig {
    PanelConfig {
        name: "main".into(),
        kind: PanelKind::Admin,
        url: url.into(),
        api_key: Secret::new(key),
        interval: Duration::from_secs(30),
        timeout,
        page_size,
        probes: Vec::new(),
        source: Default::default(),
    }
}

fn client(sim: &SimPanel, page_size: u32) -> AdminClient {
    let config = config(
        &sim.url(),
        sim.api_key(),
        page_size,
        Duration::from_secs(20),
    );
    AdminClient::new(&config).unwrap()
}

fn start() -> DateTime<Utc> {
    DateTime::from_timestamp(1_714_557_600, 0).unwrap()
}

/// `n` orders one second apart with every status, provider shape and charge the tests need.
fn orders(n: u64) -> Vec<SimOrder> {
    let statuses = ["completed", "partial", "canceled", "in_progress", "pending"];
    let providers = [Some("viewmill"), Some("7"), None];
    (0..n)
        .map(|i| {
            let mut order =
                SimOrder::new(1000 + i, 10 + i % 4, start() + TimeDelta::seconds(i as i64));
            order.status = statuses[i as usize % statuses.len()].into();
            order.service_name = format!("Service {}", 10 + i % 4);
            order.remains = if order.status == "partial" { 250 } else { 0 };
            order.provider = providers[i as usize % providers.len()].map(String::from);
            order.charge = Money(Decimal::new(27_819 + i as i64, 5));
            order
        })
        .collect()
}

fn sorted(mut orders: Vec<Order>) -> Vec<Order> {
    orders.sort_by_key(|o| o.id);
    orders
}

fn expected(orders: &[SimOrder]) -> Vec<Order> {
    sorted(orders.iter().map(SimOrder::to_order).collect())
}

#[tokio::test]
async fn paging_returns_every_order_once() {
    let sim = SimPanel::start(SimOptions::default()).await.unwrap();
    let all = orders(1250);
    sim.set_orders(all.clone());

    let fetched = client(&sim, 500).fetch_orders(start()).await.unwrap();

    assert_eq!(fetched.pages, 3);
    assert_eq!(fetched.orders.len(), 1250);
    assert!(fetched.warnings.is_empty(), "{:?}", fetched.warnings);
    assert!(
        fetched.orders[0].created >= fetched.orders[1249].created,
        "newest first"
    );
    assert_eq!(sorted(fetched.orders), expected(&all));
    sim.wait_for_requests(3).await;
    assert_eq!(sim.requests(), 3);
}

#[tokio::test]
async fn created_from_filters_and_an_exact_last_page_stops() {
    let sim = SimPanel::start(SimOptions::default()).await.unwrap();
    let all = orders(400);
    sim.set_orders(all.clone());

    let from = start() + TimeDelta::seconds(200);
    let fetched = client(&sim, 100).fetch_orders(from).await.unwrap();

    assert_eq!(fetched.orders.len(), 200);
    assert_eq!(fetched.pages, 2, "an empty next_page_href ends the paging");
    assert_eq!(sorted(fetched.orders), expected(&all[200..]));
}

#[tokio::test]
async fn drift_decodes_to_the_same_orders() {
    let all = orders(700);
    let mut fetched = Vec::new();
    for (seed, drift) in [(1, false), (1, true), (2, true), (3, true)] {
        let sim = SimPanel::start(SimOptions {
            seed,
            drift,
            ..SimOptions::default()
        })
        .await
        .unwrap();
        sim.set_orders(all.clone());
        let got = client(&sim, 100).fetch_orders(start()).await.unwrap();
        assert!(got.warnings.is_empty(), "seed {seed}: {:?}", got.warnings);
        fetched.push(sorted(got.orders));
    }
    for (i, got) in fetched.iter().enumerate() {
        assert_eq!(got, &expected(&all), "run {i}");
    }
}

#[tokio::test]
async fn drifted_status_spellings_and_unknown_statuses() {
    let sim = SimPanel::start(SimOptions::default()).await.unwrap();
    let mut all = orders(4);
    all[0].status = "In Progress".into();
    all[1].status = "Cancelled".into();
    all[2].status = "inprogress".into();
    all[3].status = "On hold".into();
    sim.set_orders(all.clone());

    let fetched = client(&sim, 100).fetch_orders(start()).await.unwrap();

    assert_eq!(sorted(fetched.orders), expected(&all));
    assert_eq!(fetched.warnings.len(), 1);
    assert!(
        fetched.warnings[0].contains("On hold"),
        "{:?}",
        fetched.warnings
    );
}

async fn fetch_with(sim: &SimPanel, fault: Fault, timeout: Duration) -> PanelError {
    sim.set_fault(fault.clone());
    let config = config(&sim.url(), sim.api_key(), 100, timeout);
    let client = AdminClient::new(&config).unwrap();
    let result = client.fetch_orders(start()).await;
    sim.set_fault(Fault::None);
    match result {
        Err(err) => err,
        Ok(fetched) => panic!("{fault:?} gave {} orders", fetched.orders.len()),
    }
}

fn assert_no_key(err: &PanelError, key: &str) {
    let shown = format!("{err} {err:?}");
    assert!(!shown.contains(key), "the key leaked: {shown}");
}

#[tokio::test]
async fn every_fault_is_classified() {
    let sim = SimPanel::start(SimOptions::default()).await.unwrap();
    sim.set_orders(orders(10));
    let secs = Duration::from_secs;
    let cases = [
        (Fault::Html502, PanelErrorKind::BadBody, Some(502)),
        (Fault::Challenge403, PanelErrorKind::Blocked, Some(403)),
        (Fault::EmptyBody, PanelErrorKind::BadBody, Some(200)),
        (
            Fault::ErrorCode200,
            PanelErrorKind::Api { code: 2 },
            Some(200),
        ),
        (
            Fault::RateLimit429 {
                retry_after_secs: 7,
            },
            PanelErrorKind::RateLimited {
                retry_after: Some(secs(7)),
            },
            Some(429),
        ),
        (
            Fault::RateLimitBody,
            PanelErrorKind::RateLimited { retry_after: None },
            Some(200),
        ),
        (Fault::BadKey, PanelErrorKind::Auth, Some(200)),
        (
            Fault::Redirect,
            PanelErrorKind::Http { status: 302 },
            Some(302),
        ),
    ];
    for (fault, kind, status) in cases {
        let err = fetch_with(&sim, fault.clone(), secs(20)).await;
        assert_eq!(err.kind, kind, "{fault:?}: {err}");
        assert_eq!(err.status, status, "{fault:?}: {err}");
        assert_eq!(err.panel, "main");
        assert_no_key(&err, sim.api_key());
    }
    assert_eq!(sim.redirect_hits(), 0, "the redirect was followed");
    let redirect = fetch_with(&sim, Fault::Redirect, secs(20)).await;
    assert!(
        redirect
            .to_string()
            .contains("(HTTP 302, redirect to \"http://127.0.0.1:"),
        "{redirect}"
    );
    assert_eq!(sim.redirect_hits(), 0, "the redirect was followed");

    let blocked = fetch_with(&sim, Fault::Challenge403, secs(20)).await;
    assert!(
        blocked.to_string().starts_with(
            "panel \"main\": blocked by a WAF or CDN challenge (HTTP 403, HTML body: \""
        ),
        "{blocked}"
    );

    let fetched = client(&sim, 100).fetch_orders(start()).await.unwrap();
    assert_eq!(
        fetched.orders.len(),
        10,
        "clearing the fault heals the panel"
    );
}

#[tokio::test]
async fn a_slow_panel_times_out() {
    let sim = SimPanel::start(SimOptions::default()).await.unwrap();
    let timeout = Duration::from_millis(300);
    let err = fetch_with(&sim, Fault::Slow(Duration::from_secs(60)), timeout).await;
    assert_eq!(err.kind, PanelErrorKind::Timeout, "{err}");
    assert_no_key(&err, sim.api_key());
    assert!(
        err.to_string().starts_with("panel \"main\": timed out"),
        "{err}"
    );
}

#[tokio::test]
async fn a_wrong_key_is_an_auth_error_with_and_without_drift() {
    for drift in [false, true] {
        let sim = SimPanel::start(SimOptions {
            drift,
            ..SimOptions::default()
        })
        .await
        .unwrap();
        let wrong = "wrong-key-0123456789";
        let config = config(&sim.url(), wrong, 100, Duration::from_secs(20));
        let err = AdminClient::new(&config)
            .unwrap()
            .fetch_orders(start())
            .await
            .unwrap_err();
        assert_eq!(err.kind, PanelErrorKind::Auth, "drift {drift}: {err}");
        assert_no_key(&err, wrong);
        assert_no_key(&err, sim.api_key());
    }
}

#[tokio::test]
async fn an_unreachable_panel_is_a_network_error() {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    drop(listener);
    let key = "unreachable-key-42";
    let config = config(
        &format!("http://{addr}/adminapi/v2"),
        key,
        100,
        Duration::from_secs(20),
    );
    let err = AdminClient::new(&config)
        .unwrap()
        .fetch_orders(start())
        .await
        .unwrap_err();
    assert_eq!(err.kind, PanelErrorKind::Network, "{err}");
    assert_no_key(&err, key);
}

/// A panel that echoes the key it was sent into its error pages, as some do.
async fn echoing_panel(html: bool) -> String {
    use axum::http::HeaderMap;
    use axum::response::IntoResponse;

    let app = axum::Router::new().route(
        "/adminapi/v2/orders",
        axum::routing::get(move |headers: HeaderMap| async move {
            let key = headers["x-api-key"].to_str().unwrap().to_string();
            if html {
                let page = format!("<html><body>Bad Gateway for key {key}</body></html>");
                (axum::http::StatusCode::BAD_GATEWAY, page).into_response()
            } else {
                let message = format!("API key {key} is not valid");
                let body = serde_json::json!({"error_code": 100, "error_message": message});
                axum::Json(body).into_response()
            }
        }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    format!("http://{addr}/adminapi/v2")
}

#[tokio::test]
async fn a_key_echoed_in_a_body_is_redacted() {
    let key = "echoed-key-5f3a9c";
    for (html, kind) in [
        (true, PanelErrorKind::BadBody),
        (false, PanelErrorKind::Auth),
    ] {
        let url = echoing_panel(html).await;
        let config = config(&url, key, 100, Duration::from_secs(20));
        let err = AdminClient::new(&config)
            .unwrap()
            .fetch_orders(start())
            .await
            .unwrap_err();
        assert_eq!(err.kind, kind, "{err}");
        assert_no_key(&err, key);
        assert!(err.detail.contains("***"), "{err}");
    }
}

#[tokio::test]
async fn one_order_by_id() {
    let sim = SimPanel::start(SimOptions::default()).await.unwrap();
    sim.set_orders(orders(3));
    let http = reqwest::Client::new();
    let url = format!("{}/orders/1001", sim.url());

    let body: serde_json::Value = http
        .get(&url)
        .header("X-Api-Key", sim.api_key())
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(body["error_code"], 0);
    assert_eq!(body["data"]["id"], 1001);
    assert!(body["data"]["last_update"].is_string());

    let missing: serde_json::Value = http
        .get(format!("{}/orders/99", sim.url()))
        .header("X-Api-Key", sim.api_key())
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_ne!(missing["error_code"], 0);
    sim.shutdown().await;
}

/// A panel whose answer to the n-th list request (0-based) `answer` computes from n, offset
/// and limit.
async fn scripted_panel(
    answer: impl Fn(usize, usize, usize) -> serde_json::Value + Clone + Send + Sync + 'static,
) -> String {
    use std::collections::HashMap;
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::sync::Arc;

    let served = Arc::new(AtomicUsize::new(0));
    let app = axum::Router::new().route(
        "/adminapi/v2/orders",
        axum::routing::get(
            move |axum::extract::Query(q): axum::extract::Query<HashMap<String, String>>| {
                let n = served.fetch_add(1, Ordering::SeqCst);
                let offset = q["offset"].parse().unwrap();
                let limit = q["limit"].parse().unwrap();
                let body = answer(n, offset, limit);
                async move { axum::Json(body) }
            },
        ),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    format!("http://{addr}/adminapi/v2")
}

fn rendered_page(ids: &[u64], next: &str) -> serde_json::Value {
    let list: Vec<serde_json::Value> = ids
        .iter()
        .map(|id| {
            serde_json::json!({
                "id": id, "service_id": 1, "status": "completed",
                "created_timestamp": 1_714_557_600 + id,
            })
        })
        .collect();
    serde_json::json!({
        "data": {"list": list},
        "pagination": {"next_page_href": next},
        "error_code": 0,
    })
}

#[tokio::test]
async fn an_order_arriving_between_pages_is_read_once() {
    // 25 orders, newest first; a 26th arrives after the first page and shifts the offsets.
    let url = scripted_panel(|n, offset, limit| {
        let newest = if n == 0 { 25 } else { 26 };
        let ids: Vec<u64> = (1..=newest).rev().skip(offset).take(limit).collect();
        let next = if offset + limit < newest as usize {
            "more"
        } else {
            ""
        };
        rendered_page(&ids, next)
    })
    .await;
    let config = config(&url, "k", 10, Duration::from_secs(20));
    let fetched = AdminClient::new(&config)
        .unwrap()
        .fetch_orders(start())
        .await
        .unwrap();

    let ids: Vec<u64> = fetched.orders.iter().map(|o| o.id.0).collect();
    assert_eq!(ids, (1..=25).rev().collect::<Vec<u64>>());
    assert_eq!(fetched.pages, 3);
}

#[tokio::test]
async fn a_panel_ignoring_offset_does_not_loop() {
    let url = scripted_panel(|_, _, limit| {
        let ids: Vec<u64> = (1..=limit as u64).collect();
        rendered_page(&ids, "always-more")
    })
    .await;
    let config = config(&url, "k", 10, Duration::from_secs(20));
    let fetched = AdminClient::new(&config)
        .unwrap()
        .fetch_orders(start())
        .await
        .unwrap();

    assert_eq!(fetched.orders.len(), 10);
    assert_eq!(fetched.pages, 2);
    assert!(
        fetched.warnings[0].contains("no new order"),
        "{:?}",
        fetched.warnings
    );
}

/// A panel answering one page with far more than a page's worth of bytes.
async fn bloated_panel(bytes: usize) -> String {
    let app = axum::Router::new().route(
        "/adminapi/v2/orders",
        axum::routing::get(move || async move {
            let mut body = String::with_capacity(bytes + 64);
            body.push_str(r#"{"data":{"list":["#);
            while body.len() < bytes {
                body.push_str("1,");
            }
            body.push_str(r#"1]},"error_code":0}"#);
            body
        }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    format!("http://{addr}/adminapi/v2")
}

#[tokio::test]
async fn an_oversized_answer_is_refused_unread() {
    let url = bloated_panel(3 * 1024 * 1024).await;
    let client = AdminClient::new(&config(&url, "k", 100, Duration::from_secs(20))).unwrap();
    let err = client.fetch_orders(start()).await.unwrap_err();
    assert_eq!(err.kind, PanelErrorKind::BadBody, "{err}");
    assert!(err.to_string().contains("larger than"), "{err}");
}
