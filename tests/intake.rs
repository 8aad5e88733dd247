//! The intake endpoint in-process, through `Monitor::start`: refusals of every kind are
//! counted in the snapshot the screen renders, and secrets never appear in the answers.

use std::path::Path;
use std::time::Duration;

use panelwatch::config::Config;
use panelwatch::runtime::{ConfigSource, Monitor};

const TOKEN: &str = "intake-token-0123456789";

fn config(dir: &Path) -> Config {
    let text = format!(
        r#"
[monitor]
state_dir = "{state}"

[intake]
listen = "127.0.0.1:0"
token = "{TOKEN}"
max_body = 1024

[[panels]]
name = "provider"
kind = "v2"
url = "http://127.0.0.1:9/api/v2"
api_key = "k"
interval = "1h"
inbound_hmac_header = "X-Signature"
inbound_secret = "a-shared-secret-of-some-length"
"#,
        state = dir.join("state").display()
    );
    Config::from_toml(&text, dir, &|_| None).unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn refusals_are_counted_for_the_screen() {
    let dir = tempfile::tempdir().unwrap();
    let monitor = Monitor::start(ConfigSource {
        config: config(dir.path()),
        path: None,
    })
    .await
    .unwrap();
    let base = format!("http://{}", monitor.intake_addr().unwrap());
    let http = reqwest::Client::new();
    let send = |path: &str, headers: Vec<(&'static str, String)>, body: String| {
        let mut request = http.post(format!("{base}{path}")).body(body);
        for (k, v) in headers {
            request = request.header(k, v);
        }
        async move {
            let response = request.send().await.unwrap();
            let status = response.status().as_u16();
            (status, response.text().await.unwrap())
        }
    };
    let bearer = || vec![("authorization", format!("Bearer {TOKEN}"))];
    let order = r#"{"panel":"provider","order":1,"service":2}"#.to_string();

    assert_eq!(send("/orders", bearer(), order.clone()).await.0, 201);
    assert_eq!(send("/orders", bearer(), order.clone()).await.0, 200);
    let (status, text) = send("/orders", vec![], order.clone()).await;
    assert_eq!(status, 401);
    assert!(!text.contains(TOKEN));
    let unknown = r#"{"panel":"nope","order":1,"service":2}"#.to_string();
    assert_eq!(send("/orders", bearer(), unknown).await.0, 404);
    assert_eq!(send("/orders", bearer(), "x".repeat(5000)).await.0, 413);
    let sig = vec![("x-signature", "00".repeat(32))];
    assert_eq!(send("/inbound/provider", sig, "{}".into()).await.0, 401);
    assert_eq!(send("/inbound/other", vec![], "{}".into()).await.0, 404);

    let mut snapshots = monitor.snapshots();
    let wanted = |s: &panelwatch::snapshot::Snapshot| {
        s.intake.as_ref().is_some_and(|i| {
            i.orders_tracked == 1
                && i.refused_auth == 2
                && i.refused_size == 1
                && i.refused_other == 2
        })
    };
    tokio::time::timeout(Duration::from_secs(30), snapshots.wait_for(wanted))
        .await
        .expect("the counters reach the snapshot")
        .unwrap();
    let history = |s: &panelwatch::snapshot::Snapshot| {
        s.events
            .iter()
            .any(|e| e.kind == "intake.refused" && e.summary.contains("2 bad signature"))
    };
    tokio::time::timeout(Duration::from_secs(30), snapshots.wait_for(history))
        .await
        .expect("refusals show in the history")
        .unwrap();
    let store = monitor.store().clone();
    let since = chrono::Utc::now() - chrono::Duration::hours(1);
    assert_eq!(store.tracked_orders("provider", since).unwrap().len(), 1);
    monitor.stop().await;
}
