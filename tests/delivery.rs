//! The dispatcher end to end: the real store in a temporary folder, the real dispatcher, and
//! local receivers on 127.0.0.1 answering over real HTTP.
//!
//! Each test scripts its receiver's answers, records events through the outbox, and waits for
//! a condition by polling (every 50 ms, up to 20 s) rather than sleeping and hoping. Retry
//! schedules are short (200 ms) so retries happen within the test.

use std::collections::VecDeque;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex, OnceLock};
use std::time::{Duration, Instant};

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use axum::Router;
use chrono::Utc;
use tokio::sync::watch;

use panelwatch::config::{
    Config, DeliveryConfig, DestinationConfig, DestinationKind, MonitorConfig, Secret,
    SignatureStyle, UiConfig,
};
use panelwatch::delivery::sign::SigningKey;
use panelwatch::delivery::{
    delivery_view, enable_destination, send_test, Dispatcher, DispatcherHandle, Verdict,
};
use panelwatch::domain::{OrderCounts, ServiceId};
use panelwatch::event::{AlertData, Event, EventBody, ServiceRef};
use panelwatch::store::{Batch, Delivery, DeliveryState, Store};

// ---- a scripted receiver ----

#[derive(Clone)]
struct Reply {
    status: u16,
    headers: Vec<(&'static str, String)>,
    body: String,
    /// Hold the answer this long.
    delay: Duration,
}

fn reply(status: u16, body: &str) -> Reply {
    Reply {
        status,
        headers: vec![],
        body: body.into(),
        delay: Duration::ZERO,
    }
}

#[derive(Clone, Debug)]
struct Received {
    at: Instant,
    path: String,
    headers: HeaderMap,
    body: Bytes,
}

impl Received {
    fn json(&self) -> serde_json::Value {
        serde_json::from_slice(&self.body).unwrap()
    }

    fn header(&self, name: &str) -> String {
        self.headers
            .get(name)
            .map(|v| v.to_str().unwrap().to_string())
            .unwrap_or_default()
    }
}

#[derive(Clone)]
struct ReceiverState {
    got: Arc<Mutex<Vec<Received>>>,
    script: Arc<Mutex<VecDeque<Reply>>>,
    default: Reply,
}

struct Receiver {
    addr: SocketAddr,
    state: ReceiverState,
}

impl Receiver {
    fn url(&self, path: &str) -> String {
        format!("http://{}{path}", self.addr)
    }

    fn got(&self) -> Vec<Received> {
        self.state.got.lock().unwrap().clone()
    }

    fn count(&self) -> usize {
        self.state.got.lock().unwrap().len()
    }
}

async fn answer(
    State(state): State<ReceiverState>,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    state.got.lock().unwrap().push(Received {
        at: Instant::now(),
        path: uri.path().to_string(),
        headers,
        body,
    });
    let next = state.script.lock().unwrap().pop_front();
    let r = next.unwrap_or_else(|| state.default.clone());
    if !r.delay.is_zero() {
        tokio::time::sleep(r.delay).await;
    }
    let mut response = (StatusCode::from_u16(r.status).unwrap(), r.body).into_response();
    for (k, v) in r.headers {
        response.headers_mut().insert(k, v.parse().unwrap());
    }
    response
}

async fn serve_on(listener: tokio::net::TcpListener, state: ReceiverState) {
    let app = Router::new().fallback(answer).with_state(state);
    tokio::spawn(async move {
        axum::serve(listener, app).await.unwrap();
    });
}

/// A receiver answering `script` in order, then `default` forever.
async fn receiver(script: Vec<Reply>, default: Reply) -> Receiver {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let state = ReceiverState {
        got: Arc::default(),
        script: Arc::new(Mutex::new(script.into())),
        default,
    };
    serve_on(listener, state.clone()).await;
    Receiver { addr, state }
}

// ---- the system under test ----

const SECRET: &str = "whsec_C2FVsBQIhrscChlQIMV+b5sSYspob7oD";

fn destination(name: &str, kind: DestinationKind, url: String) -> DestinationConfig {
    DestinationConfig {
        name: name.into(),
        kind,
        url: Secret::new(url),
        secret: (kind == DestinationKind::Custom).then(|| Secret::new(SECRET)),
        secret_next: None,
        signature: SignatureStyle::StandardWebhooks,
        events: vec![],
        headers: vec![],
        bot_token: None,
        chat_id: None,
    }
}

fn config(webhooks: Vec<DestinationConfig>, timeout: Duration) -> Config {
    Config {
        monitor: MonitorConfig {
            state_dir: "/nonexistent".into(),
            timezone: chrono_tz::Europe::Berlin,
            history: 100,
        },
        ui: UiConfig { max_fps: 4 },
        delivery: DeliveryConfig {
            timeout,
            retry_schedule: vec![Duration::from_millis(200); 3],
            disable_after: Duration::from_secs(3600),
        },
        panels: vec![],
        rules: vec![],
        webhooks,
        maintenance: vec![],
        metrics: Default::default(),
        intake: None,
        history: Default::default(),
    }
}

struct Running {
    store: Arc<Store>,
    handle: Option<DispatcherHandle>,
    stop: watch::Sender<bool>,
    config: watch::Sender<Arc<Config>>,
    _dir: tempfile::TempDir,
}

impl Running {
    fn start(config: Config) -> Running {
        let dir = tempfile::tempdir().unwrap();
        let store = Arc::new(Store::open(dir.path()).unwrap());
        let (config_tx, config_rx) = watch::channel(Arc::new(config));
        let (stop, stop_rx) = watch::channel(false);
        let handle = Dispatcher::spawn(store.clone(), config_rx, stop_rx);
        Running {
            store,
            handle: Some(handle),
            stop,
            config: config_tx,
            _dir: dir,
        }
    }

    fn record(&self, events: &[&Event], to: &[&str]) {
        let batch = Batch {
            events: events
                .iter()
                .map(|e| (*e, to.iter().map(|s| s.to_string()).collect()))
                .collect(),
            states: vec![],
        };
        self.store.commit(&batch, Utc::now()).unwrap();
        self.handle.as_ref().unwrap().wake();
    }

    fn delivery(&self, event: &Event, destination: &str) -> Delivery {
        self.store
            .delivery_of(&event.id.0, destination)
            .unwrap()
            .unwrap()
    }

    async fn shutdown(mut self) {
        self.stop.send(true).unwrap();
        let handle = self.handle.take().unwrap();
        tokio::time::timeout(Duration::from_secs(20), handle.join())
            .await
            .expect("the dispatcher stops");
    }
}

/// Polls `check` every 50 ms for up to 20 s.
async fn wait_for<T>(what: &str, mut check: impl FnMut() -> Option<T>) -> T {
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        if let Some(v) = check() {
            return v;
        }
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

async fn delivered(run: &Running, event: &Event, destination: &str) -> Delivery {
    wait_for("the delivery to be recorded as delivered", || {
        let d = run.delivery(event, destination);
        (d.state == DeliveryState::Delivered).then_some(d)
    })
    .await
}

fn alert(kind: &str, service: u64) -> Event {
    let data = AlertData {
        panel: "main".into(),
        service: Some(ServiceRef {
            id: ServiceId(service),
            name: format!("Service {service}"),
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
    };
    let body = match kind {
        "fired" => EventBody::AlertFired(data),
        "resolved" => EventBody::AlertResolved(data),
        _ => EventBody::AlertReminder(data),
    };
    Event::new(Utc::now(), chrono_tz::Europe::Berlin, body)
}

fn secs(n: u64) -> Duration {
    Duration::from_secs(n)
}

// ---- log capture, for the secrets test ----

#[derive(Clone, Default)]
struct LogBuffer(Arc<Mutex<Vec<u8>>>);

impl std::io::Write for LogBuffer {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// Every log line of every test in this binary, at trace level.
fn logs() -> &'static LogBuffer {
    static LOGS: OnceLock<LogBuffer> = OnceLock::new();
    LOGS.get_or_init(|| {
        let buffer = LogBuffer::default();
        let writer = buffer.clone();
        let subscriber = tracing_subscriber::fmt()
            .with_max_level(tracing::Level::TRACE)
            .with_ansi(false)
            .with_writer(move || writer.clone())
            .finish();
        tracing::subscriber::set_global_default(subscriber).unwrap();
        buffer
    })
}

// ---- the tests ----

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_429_with_retry_after_is_honoured_then_delivered_once() {
    let mut busy = reply(429, "slow down");
    busy.headers.push(("retry-after", "2".into()));
    let rx = receiver(vec![busy], reply(200, "")).await;
    let run = Running::start(config(
        vec![destination(
            "hook",
            DestinationKind::Custom,
            rx.url("/hook"),
        )],
        secs(5),
    ));
    let event = alert("fired", 17);
    run.record(&[&event], &["hook"]);

    let d = delivered(&run, &event, "hook").await;
    let got = rx.got();
    assert_eq!(got.len(), 2, "one refusal, one delivery");
    assert!(
        got[1].at - got[0].at >= secs(2),
        "{:?}",
        got[1].at - got[0].at
    );
    assert_eq!(d.attempts, 2);
    run.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_receiver_refusing_connections_for_a_while_still_gets_the_event() {
    let closed = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = closed.local_addr().unwrap();
    drop(closed);
    let mut cfg = config(
        vec![destination(
            "hook",
            DestinationKind::Custom,
            format!("http://{addr}/hook"),
        )],
        secs(5),
    );
    cfg.delivery.retry_schedule = vec![Duration::from_millis(300); 40];
    let run = Running::start(cfg);
    let event = alert("fired", 17);
    run.record(&[&event], &["hook"]);

    let refused = wait_for("three refused attempts", || {
        let d = run.delivery(&event, "hook");
        (d.attempts >= 3).then_some(d)
    })
    .await;
    assert_eq!(refused.last_outcome.as_deref(), Some("connection refused"));
    assert_eq!(refused.state, DeliveryState::Retrying);

    // The receiver comes back on the same port.
    let listener = tokio::net::TcpListener::bind(addr).await.unwrap();
    let state = ReceiverState {
        got: Arc::default(),
        script: Arc::default(),
        default: reply(200, ""),
    };
    serve_on(listener, state.clone()).await;
    let rx = Receiver { addr, state };
    delivered(&run, &event, "hook").await;
    assert_eq!(rx.count(), 1);
    assert_eq!(rx.got()[0].json()["id"], event.id.0.as_str());
    run.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_500_is_not_delivered_but_retried() {
    let rx = receiver(vec![reply(500, "upstream down")], reply(204, "")).await;
    let run = Running::start(config(
        vec![destination(
            "hook",
            DestinationKind::Custom,
            rx.url("/hook"),
        )],
        secs(5),
    ));
    let event = alert("fired", 17);
    run.record(&[&event], &["hook"]);

    let d = delivered(&run, &event, "hook").await;
    assert_eq!(d.attempts, 2);
    assert_eq!(rx.count(), 2);
    run.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_slack_200_without_ok_is_a_failure() {
    let rx = receiver(vec![reply(200, "invalid_token")], reply(200, "ok")).await;
    let run = Running::start(config(
        vec![destination(
            "slack",
            DestinationKind::Slack,
            rx.url("/services/T/B/X"),
        )],
        secs(5),
    ));
    let event = alert("fired", 17);
    run.record(&[&event], &["slack"]);

    let d = delivered(&run, &event, "slack").await;
    assert_eq!(d.attempts, 2, "the first 200 did not count");
    let got = rx.got();
    assert_eq!(got.len(), 2);
    assert!(got[0].json()["blocks"].is_array());
    run.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_teams_200_reporting_failure_is_a_failure() {
    let failed = reply(
        200,
        "Webhook message delivery failed with error: Microsoft Teams endpoint returned \
         HTTP error 503 with ContextId tcid=0",
    );
    let rx = receiver(vec![failed], reply(200, "1")).await;
    let run = Running::start(config(
        vec![destination(
            "teams",
            DestinationKind::Teams,
            rx.url("/webhookb2/x"),
        )],
        secs(5),
    ));
    let event = alert("fired", 17);
    run.record(&[&event], &["teams"]);

    let d = delivered(&run, &event, "teams").await;
    assert_eq!(d.attempts, 2);
    assert_eq!(rx.count(), 2);
    assert_eq!(rx.got()[0].json()["@type"], "MessageCard");
    run.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_redirect_is_a_failure_and_never_followed() {
    let target = receiver(vec![], reply(200, "")).await;
    let mut moved = reply(302, "");
    moved.headers.push(("location", target.url("/elsewhere")));
    let rx = receiver(vec![], moved).await;
    let run = Running::start(config(
        vec![destination(
            "hook",
            DestinationKind::Custom,
            rx.url("/hook"),
        )],
        secs(5),
    ));
    let event = alert("fired", 17);
    run.record(&[&event], &["hook"]);

    let dead = wait_for("the redirected delivery to give up", || {
        let d = run.delivery(&event, "hook");
        (d.state == DeliveryState::Dead).then_some(d)
    })
    .await;
    assert_eq!(dead.attempts, 4, "tried on the whole schedule");
    assert!(dead.last_outcome.unwrap().contains("HTTP 302"));
    assert_eq!(rx.count(), 4);
    assert_eq!(target.count(), 0, "the redirect target received nothing");
    run.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failed_resolved_is_retried() {
    let rx = receiver(vec![reply(503, "")], reply(200, "")).await;
    let run = Running::start(config(
        vec![destination(
            "hook",
            DestinationKind::Custom,
            rx.url("/hook"),
        )],
        secs(5),
    ));
    let resolved = alert("resolved", 17);
    run.record(&[&resolved], &["hook"]);

    delivered(&run, &resolved, "hook").await;
    let got = rx.got();
    assert_eq!(got.len(), 2);
    assert!(got.iter().all(|r| r.json()["type"] == "alert.resolved"));
    run.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn fired_goes_out_before_resolved_even_when_fired_failed_first() {
    let rx = receiver(vec![reply(500, "")], reply(200, "")).await;
    let run = Running::start(config(
        vec![destination(
            "hook",
            DestinationKind::Custom,
            rx.url("/hook"),
        )],
        secs(5),
    ));
    let fired = alert("fired", 17);
    let resolved = alert("resolved", 17);
    run.record(&[&fired, &resolved], &["hook"]);

    delivered(&run, &resolved, "hook").await;
    let about_17: Vec<(String, String)> = rx
        .got()
        .iter()
        .map(|r| r.json())
        .filter(|v| v["data"]["service"]["id"] == 17)
        .map(|v| {
            (
                v["type"].as_str().unwrap().to_string(),
                v["id"].as_str().unwrap().to_string(),
            )
        })
        .collect();
    let kinds: Vec<&str> = about_17.iter().map(|(k, _)| k.as_str()).collect();
    assert_eq!(kinds, ["alert.fired", "alert.fired", "alert.resolved"]);
    run.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_dead_destination_does_not_delay_another() {
    // "stuck" accepts connections and never answers; every attempt to it hangs until the
    // attempt timeout.
    let stuck = receiver(
        vec![],
        Reply {
            delay: secs(60),
            ..reply(200, "")
        },
    )
    .await;
    let live = receiver(vec![], reply(200, "")).await;
    let run = Running::start(config(
        vec![
            destination("stuck", DestinationKind::Custom, stuck.url("/hook")),
            destination("live", DestinationKind::Custom, live.url("/hook")),
        ],
        secs(10),
    ));
    let first = alert("fired", 1);
    run.record(&[&first], &["stuck"]);
    wait_for("the stuck destination to be attempted", || {
        (stuck.count() >= 1).then_some(())
    })
    .await;

    let started = Instant::now();
    let event = alert("fired", 2);
    run.record(&[&event], &["stuck", "live"]);
    delivered(&run, &event, "live").await;
    assert!(
        started.elapsed() < secs(10),
        "live was served while stuck's attempt was still hanging"
    );
    assert_eq!(
        run.delivery(&first, "stuck").attempts,
        0,
        "stuck is still in flight"
    );
    run.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn signatures_verify_including_during_rotation() {
    let next = SigningKey::generate();
    let rx = receiver(vec![], reply(200, "")).await;
    let mut rotating = destination("rotating", DestinationKind::Custom, rx.url("/rotating"));
    rotating.secret_next = Some(Secret::new(next.clone()));
    let plain = destination("plain", DestinationKind::Custom, rx.url("/plain"));
    let run = Running::start(config(vec![rotating, plain], secs(5)));
    let event = alert("fired", 17);
    run.record(&[&event], &["rotating", "plain"]);

    delivered(&run, &event, "rotating").await;
    delivered(&run, &event, "plain").await;
    let got = rx.got();
    assert_eq!(got.len(), 2);
    for r in &got {
        assert_eq!(
            r.body,
            event.to_json().as_bytes(),
            "the stored bytes, unchanged"
        );
        assert_eq!(r.header("content-type"), "application/json");
        standardwebhooks::Webhook::new(SECRET)
            .unwrap()
            .verify(&r.body, &r.headers)
            .expect("the current secret verifies");
    }
    let rotated = got.iter().find(|r| r.path == "/rotating").unwrap();
    assert_eq!(rotated.header("webhook-signature").split(' ').count(), 2);
    standardwebhooks::Webhook::new(&next)
        .unwrap()
        .verify(&rotated.body, &rotated.headers)
        .expect("the next secret verifies");
    let plain = got.iter().find(|r| r.path == "/plain").unwrap();
    assert!(standardwebhooks::Webhook::new(&next)
        .unwrap()
        .verify(&plain.body, &plain.headers)
        .is_err());
    run.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn github_signatures_and_static_headers_are_sent() {
    let rx = receiver(vec![], reply(200, "")).await;
    let mut hook = destination("hook", DestinationKind::Custom, rx.url("/hook"));
    hook.signature = SignatureStyle::Github;
    hook.headers = vec![("X-Api-Key".into(), Secret::new("key-123"))];
    let run = Running::start(config(vec![hook], secs(5)));
    let event = alert("fired", 17);
    run.record(&[&event], &["hook"]);

    delivered(&run, &event, "hook").await;
    let got = &rx.got()[0];
    let expected = panelwatch::delivery::sign::github_signature(SECRET, &got.body);
    assert_eq!(got.header("x-hub-signature-256"), expected);
    assert_eq!(got.header("x-api-key"), "key-123");
    assert!(got.header("user-agent").starts_with("panelwatch/"));
    run.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_webhook_id_is_the_event_id_on_every_retry() {
    let rx = receiver(vec![reply(500, ""), reply(502, "")], reply(200, "")).await;
    let run = Running::start(config(
        vec![destination(
            "hook",
            DestinationKind::Custom,
            rx.url("/hook"),
        )],
        secs(5),
    ));
    let event = alert("fired", 17);
    run.record(&[&event], &["hook"]);

    delivered(&run, &event, "hook").await;
    let got = rx.got();
    assert_eq!(got.len(), 3);
    for r in &got {
        assert_eq!(r.header("webhook-id"), event.id.0);
        let ts: i64 = r
            .header("webhook-timestamp")
            .parse()
            .expect("integer seconds");
        assert!((ts - Utc::now().timestamp()).abs() < 60);
        standardwebhooks::Webhook::new(SECRET)
            .unwrap()
            .verify(&r.body, &r.headers)
            .expect("every retry is signed afresh");
    }
    run.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn no_secret_appears_in_outcomes_or_logs() {
    let logs = logs();
    let url_token = "T0K3N-in-the-url-path";
    let header_secret = "header-value-s3cret";
    let bot_token = "123456:bot-t0ken-secret";
    // The receivers echo their secrets back, as a careless receiver might.
    let echo = format!("bad request from /{url_token} with {header_secret}");
    let rx = receiver(vec![], reply(500, &echo)).await;
    let tg_echo = format!(r#"{{"ok":false,"description":"token {bot_token} is odd"}}"#);
    let tg_rx = receiver(vec![], reply(500, &tg_echo)).await;
    let mut custom = destination(
        "custom",
        DestinationKind::Custom,
        rx.url(&format!("/{url_token}")),
    );
    custom.headers = vec![("Authorization".into(), Secret::new(header_secret))];
    let mut telegram = destination("telegram", DestinationKind::Telegram, tg_rx.url(""));
    telegram.bot_token = Some(Secret::new(bot_token));
    telegram.chat_id = Some("-100200".into());
    let closed = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let refused_url = format!("http://{}/{url_token}", closed.local_addr().unwrap());
    drop(closed);
    let refused = destination("refused", DestinationKind::Custom, refused_url);
    let run = Running::start(config(vec![custom, telegram, refused], secs(5)));
    let event = alert("fired", 17);
    run.record(&[&event], &["custom", "telegram", "refused"]);

    for name in ["custom", "telegram", "refused"] {
        wait_for("every destination to give up", || {
            (run.delivery(&event, name).state == DeliveryState::Dead).then_some(())
        })
        .await;
    }
    let telegram_paths: Vec<String> = tg_rx.got().iter().map(|r| r.path.clone()).collect();
    assert!(telegram_paths.contains(&format!("/bot{bot_token}/sendMessage")));

    let mut stored = String::new();
    for d in run.store.deliveries(&[DeliveryState::Dead], 100).unwrap() {
        stored.push_str(&format!("{:?}\n", d.last_outcome));
    }
    for name in ["custom", "telegram", "refused"] {
        stored.push_str(&format!(
            "{:?}\n",
            run.store.destination_state(name).unwrap()
        ));
    }
    let cfg = config(vec![], secs(5));
    stored.push_str(&format!("{:?}", delivery_view(&run.store, &cfg).unwrap()));
    let log_text = String::from_utf8(logs.0.lock().unwrap().clone()).unwrap();
    assert!(stored.contains("HTTP 500"), "{stored}");
    assert!(stored.contains("connection refused"), "{stored}");
    assert!(log_text.contains("delivery gave up"), "logs are captured");
    for secret in [
        url_token,
        header_secret,
        bot_token,
        "bot-t0ken",
        SECRET,
        "C2FVsBQ",
    ] {
        assert!(!stored.contains(secret), "{secret} stored: {stored}");
        assert!(!log_text.contains(secret), "{secret} logged");
    }
    run.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_410_disables_the_destination_and_tells_the_others() {
    let gone = receiver(vec![], reply(410, "")).await;
    let ops = receiver(vec![], reply(200, "")).await;
    let run = Running::start(config(
        vec![
            destination("gone", DestinationKind::Custom, gone.url("/hook")),
            destination("ops", DestinationKind::Custom, ops.url("/hook")),
        ],
        secs(5),
    ));
    let event = alert("fired", 17);
    run.record(&[&event], &["gone"]);

    let notice = wait_for("ops to hear of it", || {
        ops.got()
            .into_iter()
            .find(|r| r.json()["type"] == "destination.disabled")
    })
    .await;
    assert_eq!(notice.json()["data"]["destination"], "gone");
    let state = run.store.destination_state("gone").unwrap();
    assert_eq!(state.disabled.as_deref(), Some("HTTP 410 Gone"));
    assert_ne!(
        run.delivery(&event, "gone").state,
        DeliveryState::Dead,
        "kept queued"
    );

    // Re-enabled, and the receiver is back: the queued delivery goes out.
    gone.state.script.lock().unwrap().push_back(reply(200, ""));
    enable_destination(&run.store, "gone").unwrap();
    run.handle.as_ref().unwrap().wake();
    delivered(&run, &event, "gone").await;
    run.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_replayed_dead_letter_gets_one_attempt() {
    let rx = receiver(vec![reply(400, "bad")], reply(500, "")).await;
    let mut slack = destination("slack", DestinationKind::Slack, rx.url("/s"));
    slack.kind = DestinationKind::Slack;
    let run = Running::start(config(vec![slack], secs(5)));
    let event = alert("fired", 17);
    run.record(&[&event], &["slack"]);

    let dead = wait_for("a permanent failure", || {
        let d = run.delivery(&event, "slack");
        (d.state == DeliveryState::Dead).then_some(d)
    })
    .await;
    assert_eq!(dead.attempts, 1);
    assert_eq!(
        run.store.requeue_dead(Some(dead.id), Utc::now()).unwrap(),
        1
    );
    run.handle.as_ref().unwrap().wake();
    let again = wait_for("the replay to fail", || {
        let d = run.delivery(&event, "slack");
        (d.attempts == 2 && d.state == DeliveryState::Dead).then_some(d)
    })
    .await;
    assert!(again.last_outcome.unwrap().contains("replay"));
    assert_eq!(rx.count(), 2);
    run.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn telegram_migrations_move_to_the_new_chat() {
    let migrated = reply(
        400,
        r#"{"ok":false,"error_code":400,"parameters":{"migrate_to_chat_id":-100999}}"#,
    );
    let rx = receiver(vec![migrated], reply(200, r#"{"ok":true,"result":{}}"#)).await;
    let mut tg = destination("tg", DestinationKind::Telegram, rx.url(""));
    tg.bot_token = Some(Secret::new("1:abc"));
    tg.chat_id = Some("-100200".into());
    let run = Running::start(config(vec![tg], secs(5)));
    let event = alert("fired", 17);
    run.record(&[&event], &["tg"]);

    delivered(&run, &event, "tg").await;
    let got = rx.got();
    assert_eq!(got[0].json()["chat_id"], -100200);
    assert_eq!(got[1].json()["chat_id"], -100999);
    let state = run.store.destination_state("tg").unwrap();
    assert_eq!(state.chat_override.as_deref(), Some("-100999"));
    run.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn deliveries_to_a_removed_destination_wait_with_a_reason() {
    let run = Running::start(config(vec![], secs(5)));
    let event = alert("fired", 17);
    // Committed before the dispatcher looked, as if the destination was just removed.
    run.record(&[&event], &["removed"]);
    run.config.send(Arc::new(config(vec![], secs(5)))).unwrap();
    let d = wait_for("the reason to be noted", || {
        let d = run.delivery(&event, "removed");
        d.last_outcome.is_some().then_some(d)
    })
    .await;
    assert_eq!(d.last_outcome.as_deref(), Some("destination not in config"));
    assert_eq!(d.state, DeliveryState::Pending);
    let view = delivery_view(&run.store, &config(vec![], secs(5))).unwrap();
    assert_eq!(view.pending, 1);
    assert_eq!(view.destinations[0].name, "removed");
    run.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_test_alert_reports_its_first_attempt() {
    let rx = receiver(vec![], reply(200, "ok")).await;
    let cfg = config(
        vec![destination("slack", DestinationKind::Slack, rx.url("/s"))],
        secs(5),
    );
    let dir = tempfile::tempdir().unwrap();
    let store = Arc::new(Store::open(dir.path()).unwrap());
    let outcome = send_test(&cfg, &store, "slack").await.unwrap();
    assert_eq!(outcome.status, Some(200));
    assert_eq!(outcome.verdict, Verdict::Delivered);
    assert_eq!(rx.count(), 1);
    let d = store
        .delivery_of(&outcome.event_id, "slack")
        .unwrap()
        .unwrap();
    assert_eq!(d.state, DeliveryState::Delivered);
    assert_eq!(d.event_type, "test");
    assert!(send_test(&cfg, &store, "nope").await.is_err());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn shutdown_waits_for_attempts_in_flight() {
    let slow = receiver(
        vec![],
        Reply {
            delay: Duration::from_millis(800),
            ..reply(200, "")
        },
    )
    .await;
    let run = Running::start(config(
        vec![destination(
            "hook",
            DestinationKind::Custom,
            slow.url("/hook"),
        )],
        secs(5),
    ));
    let event = alert("fired", 17);
    run.record(&[&event], &["hook"]);
    wait_for("the attempt to start", || (slow.count() == 1).then_some(())).await;

    let store = run.store.clone();
    run.shutdown().await;
    let d = store.delivery_of(&event.id.0, "hook").unwrap().unwrap();
    assert_eq!(
        d.state,
        DeliveryState::Delivered,
        "finished and recorded before stopping"
    );
}
