//! Alert latency: from the panel answer that crosses a threshold to the first byte of the
//! webhook on a loopback receiver.
//!
//! Runs the real engine and the real dispatcher in one process, as `panelwatch run` does, with
//! one `custom` (signed) destination: a bare TCP receiver on 127.0.0.1 notes the instant the
//! first byte of each request arrives. Each crossing hands the engine a decoded poll whose
//! orders cross the rule's threshold (all canceled, then all completed again), wakes the
//! dispatcher as the runtime does, and waits for the receiver. Both directions count
//! (`alert.fired` and `alert.resolved`). The HTTP fetch of the poll is not included: it is
//! the panel's time, not ours. Run with `cargo bench --bench latency`.

mod common;

use std::sync::Arc;
use std::time::{Duration, Instant};

use chrono::Utc;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::sync::{mpsc, watch};

use panelwatch::delivery::Dispatcher;
use panelwatch::engine::{Engine, PanelRead, PanelReport};
use panelwatch::store::Store;

const CROSSINGS: usize = 200;

/// Accepts connections and reports the instant each request's first byte arrives.
async fn receiver(tx: mpsc::UnboundedSender<Instant>) -> String {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        loop {
            let (mut socket, _) = listener.accept().await.unwrap();
            let tx = tx.clone();
            tokio::spawn(async move {
                let mut buf = Vec::new();
                let mut chunk = [0u8; 8192];
                loop {
                    let n = match socket.read(&mut chunk).await {
                        Ok(0) | Err(_) => return,
                        Ok(n) => n,
                    };
                    if buf.is_empty() {
                        let _ = tx.send(Instant::now());
                    }
                    buf.extend_from_slice(&chunk[..n]);
                    // One whole request: headers, then content-length bytes of body.
                    while let Some(end) = find(&buf, b"\r\n\r\n") {
                        let head = String::from_utf8_lossy(&buf[..end]).to_ascii_lowercase();
                        let length: usize = head
                            .lines()
                            .find_map(|l| l.strip_prefix("content-length:"))
                            .and_then(|v| v.trim().parse().ok())
                            .unwrap_or(0);
                        if buf.len() < end + 4 + length {
                            break;
                        }
                        buf.drain(..end + 4 + length);
                        let answer = b"HTTP/1.1 200 OK\r\ncontent-length: 0\r\n\r\n";
                        if socket.write_all(answer).await.is_err() {
                            return;
                        }
                        if !buf.is_empty() {
                            let _ = tx.send(Instant::now());
                        }
                    }
                }
            });
        }
    });
    format!("http://{addr}/hook")
}

fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    haystack.windows(needle.len()).position(|w| w == needle)
}

fn main() {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    runtime.block_on(async {
        let (tx, mut arrivals) = mpsc::unbounded_channel();
        let url = receiver(tx).await;
        let dir = tempfile::tempdir().unwrap();
        let config = common::config(
            &format!(
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
window = "1h"
min_orders = 5
alert_below = 0.8
resolve_above = 0.85
notify = ["hook"]

[[webhooks]]
name = "hook"
kind = "custom"
url = "{url}"
secret = "whsec_C2FVsBQIhrscChlQIMV+b5sSYspob7oD"
"#
            ),
            dir.path(),
        );
        let store = Arc::new(Store::open(&config.monitor.state_dir).unwrap());
        let mut engine = Engine::new(Arc::clone(&config), Arc::clone(&store)).unwrap();
        let (_config_tx, config_rx) = watch::channel(Arc::clone(&config));
        let (stop_tx, stop_rx) = watch::channel(false);
        let dispatcher = Dispatcher::spawn(Arc::clone(&store), config_rx, stop_rx);

        let mut samples = Vec::new();
        for i in 0..CROSSINGS {
            let now = Utc::now();
            let mut orders = common::orders(1, 20, Duration::from_secs(600), now);
            let status = if i % 2 == 0 { "Canceled" } else { "Completed" };
            for o in &mut orders {
                o.status = panelwatch::domain::OrderStatus::parse(status);
            }
            let report = PanelReport {
                panel: "main".into(),
                at: now,
                outcome: Ok(PanelRead {
                    orders,
                    warnings: vec![],
                    elapsed: Duration::from_millis(1),
                    ..PanelRead::default()
                }),
            };
            // Let the dispatcher settle so each crossing starts from an idle state.
            tokio::time::sleep(Duration::from_millis(20)).await;
            let started = Instant::now();
            let events = engine.on_report(report).unwrap();
            assert_eq!(events.len(), 1, "crossing {i} gives one event");
            dispatcher.wake();
            let arrived = tokio::time::timeout(Duration::from_secs(10), arrivals.recv())
                .await
                .expect("the webhook arrives")
                .unwrap();
            samples.push(arrived.duration_since(started).as_secs_f64() * 1e3);
        }
        stop_tx.send(true).unwrap();
        dispatcher.join().await;

        let p50 = common::quantile(&mut samples, 0.5);
        let p99 = common::quantile(&mut samples, 0.99);
        let max = common::quantile(&mut samples, 1.0);
        println!("machine:   {}", common::machine());
        println!("crossings: {CROSSINGS} (fired and resolved, alternating), custom signed");
        println!("latency ms: p50 {p50:.2}  p99 {p99:.2}  max {max:.2}");
        println!("target: p99 < 10 ms {}", common::verdict(p99 < 10.0));
    });
}
