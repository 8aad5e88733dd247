//! HTTP probes end to end: the real binary probing local endpoints (up, slow, wrong status,
//! bad JSON) and alerting a local receiver about the failing ones only; its metrics endpoint
//! says the same.

mod common;

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use axum::http::StatusCode;
use axum::routing::get;
use axum::Router;
use common::{verify_standard, wait_until, Binary, Receiver};

const SECRET: &str = "whsec_C2FVsBQIhrscChlQIMV+b5sSYspob7oD";
const TOKEN: &str = "probe-token-5e3cr3t";
const LIMIT: Duration = Duration::from_secs(60);

/// Four endpoints on loopback, and how often `/up` was asked.
async fn endpoints() -> (String, Arc<AtomicU64>) {
    let hits = Arc::new(AtomicU64::new(0));
    let counter = Arc::clone(&hits);
    let app = Router::new()
        .route(
            "/up",
            get(move || {
                counter.fetch_add(1, Ordering::Relaxed);
                async { ([("content-type", "application/json")], r#"{"status":"ok"}"#) }
            }),
        )
        .route(
            "/slow",
            get(|| async {
                tokio::time::sleep(Duration::from_millis(400)).await;
                r#"{"status":"ok"}"#
            }),
        )
        .route(
            "/wrong",
            get(|| async { (StatusCode::INTERNAL_SERVER_ERROR, "oops") }),
        )
        .route("/badjson", get(|| async { "<html>maintenance</html>" }));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    (format!("http://{addr}"), hits)
}

/// A loopback port nothing listens on (for a moment: good enough for a test).
fn free_port() -> u16 {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    listener.local_addr().unwrap().port()
}

/// Scrapes the binary's metrics endpoint, the address taken from its config.
async fn scrape(config: &std::path::Path) -> std::collections::BTreeMap<String, f64> {
    let text = std::fs::read_to_string(config).unwrap();
    let listen = text
        .split("listen = \"")
        .nth(1)
        .unwrap()
        .split('"')
        .next()
        .unwrap();
    let url = format!("http://{listen}/metrics");
    let body = reqwest::get(&url).await.unwrap().text().await.unwrap();
    common::prom::parse(&body).unwrap_or_else(|e| panic!("{e}\n{body}"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn failing_probes_alert_and_the_healthy_one_does_not() {
    let dir = tempfile::tempdir().unwrap();
    let (base, up_hits) = endpoints().await;
    let receiver = Receiver::start().await;
    let probe = |name: &str, path: &str, extra: &str| {
        format!(
            "[[panels.probes]]\nname = \"{name}\"\nurl = \"{base}{path}?token=${{PROBE_TOKEN}}\"\n\
             max_latency = \"200ms\"\njson = [{{ path = \"status\", equals = \"ok\" }}]\n{extra}\n"
        )
    };
    let text = format!(
        r#"
[monitor]
state_dir = "state"

[metrics]
listen = "127.0.0.1:{port}"

[[panels]]
name = "site"
kind = "http"
interval = "200ms"
timeout = "2s"

{up}{slow}{wrong}{badjson}
[[rules]]
name = "uptime"
window = "1m"
min_orders = 3
alert_below = 0.5
notify = ["backend"]

[[webhooks]]
name = "backend"
kind = "custom"
url = "{hook}"
secret = "{SECRET}"
"#,
        up = probe(
            "up",
            "/up",
            "headers = { Authorization = \"Bearer ${PROBE_TOKEN}\" }"
        ),
        slow = probe("slow", "/slow", ""),
        wrong = probe("wrong", "/wrong", "expect_status = 200"),
        badjson = probe("badjson", "/badjson", ""),
        hook = receiver.url("hook"),
        port = free_port(),
    );
    let config = dir.path().join("config.toml");
    std::fs::write(&config, text).unwrap();
    let bin = Binary::run(&config, &[("PROBE_TOKEN", TOKEN)]);

    let fired_names = || {
        let mut names: Vec<String> = receiver
            .of_type("hook", "alert.fired")
            .iter()
            .map(|r| {
                r.json()["data"]["service"]["name"]
                    .as_str()
                    .unwrap()
                    .to_string()
            })
            .collect();
        names.sort();
        names
    };
    wait_until("three alerts", LIMIT, || fired_names().len() >= 3).await;
    // Several more rounds: the healthy probe never alerts, the others alert once each.
    let seen = up_hits.load(Ordering::Relaxed);
    wait_until("five more rounds", LIMIT, || {
        up_hits.load(Ordering::Relaxed) >= seen + 5
    })
    .await;
    assert_eq!(fired_names(), vec!["badjson", "slow", "wrong"]);
    for fired in receiver.of_type("hook", "alert.fired") {
        verify_standard(SECRET, &fired).unwrap();
        let body = fired.json();
        assert_eq!(body["data"]["panel"], "site");
        assert_eq!(body["data"]["success_rate"], 0.0);
    }
    let ids: Vec<_> = receiver
        .of_type("hook", "alert.fired")
        .iter()
        .map(|r| r.json()["data"]["service"]["id"].as_u64().unwrap())
        .collect();
    assert!(ids.iter().all(|id| (2..=4).contains(id)), "{ids:?}");

    // The outbox records a delivery just after the receiver answered it: scrape until then.
    let delivered = r#"panelwatch_deliveries{destination="backend",state="delivered"}"#;
    let deadline = std::time::Instant::now() + LIMIT;
    let samples = loop {
        let samples = scrape(&config).await;
        if samples.get(delivered) == Some(&3.0) || std::time::Instant::now() > deadline {
            break samples;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    let labels = |name: &str, id: u64| {
        format!(r#"panel="site",rule="uptime",service="{name}",service_id="{id}""#)
    };
    let get = |key: String| *samples.get(&key).unwrap_or_else(|| panic!("{key} missing"));
    let ratio = |name, id| {
        get(format!(
            "panelwatch_service_success_ratio{{{}}}",
            labels(name, id)
        ))
    };
    let firing = |name, id| get(format!("panelwatch_alert_firing{{{}}}", labels(name, id)));
    assert_eq!(ratio("up", 1), 1.0);
    assert_eq!(firing("up", 1), 0.0);
    for (name, id) in [("slow", 2), ("wrong", 3), ("badjson", 4)] {
        assert_eq!(ratio(name, id), 0.0);
        assert_eq!(firing(name, id), 1.0);
    }
    assert_eq!(get(r#"panelwatch_panel_up{panel="site"}"#.into()), 1.0);
    assert_eq!(get(delivered.into()), 3.0);
    assert_eq!(get("panelwatch_dead_letters{}".into()), 0.0);

    let log = bin.log();
    assert!(
        log.contains(r#"probe \"wrong\" failed: status 500 (expected 200)"#),
        "{log}"
    );
    assert!(
        log.contains(r#"probe \"slow\" failed: slow: answered in"#),
        "{log}"
    );
    assert!(
        log.contains(r#"probe \"badjson\" failed: not JSON"#),
        "{log}"
    );
    assert!(!log.contains(r#"probe \"up\" failed"#), "{log}");
    assert!(!log.contains(TOKEN), "the token never shows: {log}");
    assert!(!log.contains("/badjson?"), "URLs are not logged: {log}");
    bin.terminate();
}
