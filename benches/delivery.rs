//! Throughput of durable, signed delivery against plain POSTs, over loopback.
//!
//! Records 10,000 events for one `custom` destination into a fresh store, starts a local
//! receiver and the real dispatcher, and times the drain; then times plain unsigned POSTs of
//! the same bodies from one reqwest client to the same receiver, with the same number in
//! flight. Prints both rates and their ratio. Run with `cargo bench --bench delivery`.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::Router;
use chrono::Utc;
use tokio::sync::{watch, Semaphore};

use panelwatch::config::{
    Config, DeliveryConfig, DestinationConfig, DestinationKind, MonitorConfig, Secret,
    SignatureStyle, UiConfig,
};
use panelwatch::delivery::dispatch::BATCH;
use panelwatch::delivery::Dispatcher;
use panelwatch::domain::{OrderCounts, ServiceId};
use panelwatch::event::{AlertData, Event, EventBody, ServiceRef};
use panelwatch::store::{Batch, Store};

const EVENTS: usize = 10_000;
const SECRET: &str = "whsec_C2FVsBQIhrscChlQIMV+b5sSYspob7oD";

fn event(i: usize) -> Event {
    Event::new(
        Utc::now(),
        chrono_tz::UTC,
        EventBody::AlertFired(AlertData {
            panel: "main".into(),
            service: Some(ServiceRef {
                id: ServiceId(i as u64),
                name: format!("Service {i}"),
            }),
            provider: None,
            rule: "success-rate".into(),
            success_rate: 0.62,
            alert_below: 0.8,
            resolve_above: 0.85,
            window: "6h".into(),
            orders: OrderCounts {
                completed: 31,
                partial: 4,
                canceled: 15,
                running: 9,
                stuck: 2,
            },
        }),
    )
}

fn config(url: String) -> Config {
    Config {
        monitor: MonitorConfig {
            state_dir: "/nonexistent".into(),
            timezone: chrono_tz::UTC,
            history: 100,
        },
        ui: UiConfig { max_fps: 4 },
        delivery: DeliveryConfig {
            timeout: Duration::from_secs(15),
            retry_schedule: vec![Duration::from_millis(200); 3],
            disable_after: Duration::from_secs(3600),
        },
        panels: vec![],
        rules: vec![],
        maintenance: vec![],
        metrics: Default::default(),
        intake: None,
        history: Default::default(),
        webhooks: vec![DestinationConfig {
            name: "bench".into(),
            kind: DestinationKind::Custom,
            url: Secret::new(url),
            secret: Some(Secret::new(SECRET)),
            secret_next: None,
            signature: SignatureStyle::StandardWebhooks,
            events: vec![],
            headers: vec![],
            bot_token: None,
            chat_id: None,
        }],
    }
}

async fn receiver(hits: Arc<AtomicUsize>) -> String {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let app = Router::new().fallback(move || {
        let hits = hits.clone();
        async move {
            hits.fetch_add(1, Ordering::Relaxed);
            ""
        }
    });
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    format!("http://{addr}/hook")
}

async fn dispatcher_rate(url: &str, bodies: &[Event], hits: &AtomicUsize) -> f64 {
    let dir = tempfile::tempdir().unwrap();
    let store = Arc::new(Store::open(dir.path()).unwrap());
    for chunk in bodies.chunks(1000) {
        let batch = Batch {
            events: chunk
                .iter()
                .map(|e| (e, vec!["bench".to_string()]))
                .collect(),
            states: vec![],
        };
        store.commit(&batch, Utc::now()).unwrap();
    }
    let before = hits.load(Ordering::Relaxed);
    let (_config_tx, config_rx) = watch::channel(Arc::new(config(url.to_string())));
    let (stop_tx, stop_rx) = watch::channel(false);

    let started = Instant::now();
    let handle = Dispatcher::spawn(store.clone(), config_rx, stop_rx);
    handle.wake();
    let deadline = started + Duration::from_secs(300);
    loop {
        let counts = store.outbox_counts().unwrap();
        if counts.queued.get("bench").copied().unwrap_or(0) == 0 {
            break;
        }
        assert!(Instant::now() < deadline, "the outbox did not drain");
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    let elapsed = started.elapsed();
    stop_tx.send(true).unwrap();
    handle.join().await;

    let counts = store.outbox_counts().unwrap();
    assert!(counts.by_state.is_empty(), "all delivered: {counts:?}");
    assert_eq!(hits.load(Ordering::Relaxed) - before, bodies.len());
    bodies.len() as f64 / elapsed.as_secs_f64()
}

async fn plain_rate(url: &str, bodies: &[Event], hits: &AtomicUsize) -> f64 {
    let client = reqwest::Client::new();
    let bodies: Vec<String> = bodies.iter().map(Event::to_json).collect();
    let before = hits.load(Ordering::Relaxed);
    let gate = Arc::new(Semaphore::new(BATCH));
    let started = Instant::now();
    let mut tasks = Vec::with_capacity(bodies.len());
    for body in bodies.iter().cloned() {
        let permit = gate.clone().acquire_owned().await.unwrap();
        let (client, url) = (client.clone(), url.to_string());
        tasks.push(tokio::spawn(async move {
            let r = client
                .post(url)
                .header("content-type", "application/json")
                .body(body)
                .send()
                .await
                .unwrap();
            assert!(r.status().is_success());
            drop(permit);
        }));
    }
    for t in tasks {
        t.await.unwrap();
    }
    let elapsed = started.elapsed();
    assert_eq!(hits.load(Ordering::Relaxed) - before, bodies.len());
    bodies.len() as f64 / elapsed.as_secs_f64()
}

fn main() {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .unwrap();
    runtime.block_on(async {
        let hits = Arc::new(AtomicUsize::new(0));
        let url = receiver(hits.clone()).await;
        let events: Vec<Event> = (0..EVENTS).map(event).collect();

        let durable = dispatcher_rate(&url, &events, &hits).await;
        let plain = plain_rate(&url, &events, &hits).await;
        println!(
            "events:                       {EVENTS} (one custom destination, {BATCH} in flight)"
        );
        println!("durable signed deliveries/s:  {durable:.0}");
        println!("plain unsigned POSTs/s:       {plain:.0}");
        println!("ratio durable / plain:        {:.2}", durable / plain);
        println!(
            "targets: >= 2000/s {} ; >= 0.5 of plain {}",
            if durable >= 2000.0 { "met" } else { "MISSED" },
            if durable / plain >= 0.5 {
                "met"
            } else {
                "MISSED"
            }
        );
    });
}
