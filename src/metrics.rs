//! Prometheus metrics: the figures of the screen's [`Snapshot`], in the text exposition format.
//!
//! [`render`] is a pure function of a snapshot, so what a scrape says is what the terminal UI
//! shows at the same moment. [`serve`] answers `GET /metrics` on the `[metrics] listen` address
//! from the latest snapshot of the watch channel. It is not a general HTTP server: no other
//! paths, no TLS, no authentication (bind it to loopback or a private interface).
//!
//! Every metric is a gauge: the outbox counts are read from the store, which keeps every
//! delivery, so `panelwatch_deliveries{state="delivered"}` only grows while the state lasts.
//! Label values are escaped; no secret is ever in a snapshot, so none can reach a scrape.

use std::fmt::Write as _;

use axum::http::header::CONTENT_TYPE;
use axum::routing::get;
use axum::Router;
use tokio::sync::watch;

use crate::snapshot::{AlertStatus, PanelHealth, ServiceView, Snapshot};

/// The content type of the text exposition format.
pub const CONTENT_TYPE_TEXT: &str = "text/plain; version=0.0.4; charset=utf-8";

/// The whole exposition for one snapshot.
pub fn render(snap: &Snapshot) -> String {
    let mut out = Exposition::default();

    out.family(
        "panelwatch_service_success_ratio",
        "Success rate of a service over its rule's window (0 to 1); absent while no order finished.",
    );
    for s in &snap.services {
        if let Some(rate) = s.success_rate {
            out.sample(&service_labels(s, &[]), rate);
        }
    }
    out.family(
        "panelwatch_service_orders",
        "Orders of a service in its rule's window by status (stuck ones are also running).",
    );
    for s in &snap.services {
        let c = s.counts;
        for (status, n) in [
            ("completed", c.completed),
            ("partial", c.partial),
            ("canceled", c.canceled),
            ("running", c.running),
            ("stuck", c.stuck),
        ] {
            out.sample(&service_labels(s, &[("status", status)]), f64::from(n));
        }
    }
    out.family(
        "panelwatch_service_alert_below",
        "The rule's threshold: below it a breach starts.",
    );
    for s in &snap.services {
        out.sample(&service_labels(s, &[]), s.alert_below);
    }
    out.family(
        "panelwatch_alert_firing",
        "1 while the rule's alert about the service is firing, else 0.",
    );
    for s in &snap.services {
        let firing = s.status == AlertStatus::Firing;
        out.sample(&service_labels(s, &[]), f64::from(u8::from(firing)));
    }
    out.family(
        "panelwatch_alert_state",
        "1 for the state the rule's alert about the service is in (ok, pending, firing, no_data).",
    );
    for s in &snap.services {
        for (state, status) in STATES {
            let on = s.status == status;
            out.sample(
                &service_labels(s, &[("state", state)]),
                f64::from(u8::from(on)),
            );
        }
    }

    out.family(
        "panelwatch_panel_up",
        "1 when the panel's last poll succeeded, 0 when it failed; absent before the first poll.",
    );
    for p in &snap.panels {
        let up = match p.health {
            PanelHealth::Starting => continue,
            PanelHealth::Up => 1.0,
            PanelHealth::Down { .. } => 0.0,
        };
        out.sample(&[("panel", &p.name)], up);
    }
    out.family(
        "panelwatch_panel_poll_duration_seconds",
        "How long the panel's last successful poll took.",
    );
    for p in &snap.panels {
        if let Some(ms) = p.poll_ms {
            out.sample(&[("panel", &p.name)], ms as f64 / 1000.0);
        }
    }
    out.family(
        "panelwatch_panel_last_poll_timestamp_seconds",
        "Unix time the panel's last poll finished, successful or not.",
    );
    for p in &snap.panels {
        if let Some(at) = p.last_poll {
            out.sample(&[("panel", &p.name)], at.timestamp_millis() as f64 / 1000.0);
        }
    }
    out.family(
        "panelwatch_panel_orders",
        "Orders in the panel's lookback after its last successful poll.",
    );
    for p in &snap.panels {
        out.sample(&[("panel", &p.name)], p.orders as f64);
    }

    let d = &snap.deliveries;
    out.family(
        "panelwatch_outbox_deliveries",
        "Deliveries in the outbox not yet delivered, by state.",
    );
    for (state, n) in [
        ("pending", d.pending),
        ("retrying", d.retrying),
        ("dead", d.dead),
    ] {
        out.sample(&[("state", state)], n as f64);
    }
    out.family(
        "panelwatch_dead_letters",
        "Deliveries that gave up and wait for the operator.",
    );
    out.sample::<&str>(&[], d.dead as f64);
    out.family(
        "panelwatch_deliveries",
        "Deliveries recorded in the outbox, by destination and state (delivered, pending, \
         retrying, dead).",
    );
    for c in &d.by_destination {
        let labels = [("destination", c.destination.as_str()), ("state", &c.state)];
        out.sample(&labels, c.count as f64);
    }
    out.family(
        "panelwatch_destination_queued",
        "Deliveries waiting for a first attempt or a retry, by destination.",
    );
    for dest in &d.destinations {
        out.sample(&[("destination", &dest.name)], dest.queued as f64);
    }
    out.family(
        "panelwatch_destination_disabled",
        "1 when the destination was disabled after failing for too long, else 0.",
    );
    for dest in &d.destinations {
        let disabled = dest.disabled.is_some();
        out.sample(
            &[("destination", &dest.name)],
            f64::from(u8::from(disabled)),
        );
    }

    out.family(
        "panelwatch_snapshot_timestamp_seconds",
        "Unix time of the state these figures come from.",
    );
    out.sample::<&str>(&[], snap.at.timestamp_millis() as f64 / 1000.0);
    out.text
}

const STATES: [(&str, AlertStatus); 4] = [
    ("ok", AlertStatus::Ok),
    ("pending", AlertStatus::Pending),
    ("firing", AlertStatus::Firing),
    ("no_data", AlertStatus::NoData),
];

fn service_labels<'a>(s: &'a ServiceView, extra: &[(&'a str, &'a str)]) -> Vec<(&'a str, String)> {
    let mut labels = vec![
        ("panel", s.panel.clone()),
        ("service_id", s.service.to_string()),
        ("service", s.name.clone()),
        ("rule", s.rule.clone()),
    ];
    labels.extend(extra.iter().map(|(k, v)| (*k, v.to_string())));
    labels
}

/// The text being written, and the family the samples belong to.
#[derive(Default)]
struct Exposition {
    text: String,
    family: &'static str,
}

impl Exposition {
    fn family(&mut self, name: &'static str, help: &str) {
        self.family = name;
        let help = help.replace('\\', "\\\\").replace('\n', "\\n");
        let _ = writeln!(self.text, "# HELP {name} {help}");
        let _ = writeln!(self.text, "# TYPE {name} gauge");
    }

    fn sample<V: AsRef<str>>(&mut self, labels: &[(&str, V)], value: f64) {
        self.text.push_str(self.family);
        if !labels.is_empty() {
            self.text.push('{');
            for (i, (name, value)) in labels.iter().enumerate() {
                if i > 0 {
                    self.text.push(',');
                }
                let _ = write!(self.text, "{name}=\"{}\"", escape(value.as_ref()));
            }
            self.text.push('}');
        }
        let _ = writeln!(self.text, " {}", number(value));
    }
}

/// A label value as the format wants it: `\`, `"` and newlines escaped.
fn escape(value: &str) -> String {
    let mut out = String::with_capacity(value.len());
    for c in value.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            '"' => out.push_str("\\\""),
            '\n' => out.push_str("\\n"),
            // Names come from panels: no terminal control bytes for whoever curls this.
            c if c.is_control() => out.push('\u{FFFD}'),
            c => out.push(c),
        }
    }
    out
}

fn number(value: f64) -> String {
    if value.is_nan() {
        "NaN".into()
    } else if value.is_infinite() {
        if value > 0.0 { "+Inf" } else { "-Inf" }.into()
    } else {
        value.to_string()
    }
}

/// Serves `GET /metrics` from the latest snapshot until `shutdown` turns true.
pub async fn serve(
    listener: tokio::net::TcpListener,
    snapshots: watch::Receiver<Snapshot>,
    mut shutdown: watch::Receiver<bool>,
) {
    let app = Router::new().route(
        "/metrics",
        get(move || {
            let text = render(&snapshots.borrow());
            async move { ([(CONTENT_TYPE, CONTENT_TYPE_TEXT)], text) }
        }),
    );
    let stop = async move {
        while !*shutdown.borrow_and_update() {
            if shutdown.changed().await.is_err() {
                break;
            }
        }
    };
    if let Err(e) = axum::serve(listener, app)
        .with_graceful_shutdown(stop)
        .await
    {
        tracing::error!(error = %e, "the metrics endpoint stopped");
    }
}

/// The strict reader of the text format the whole-program tests use too.
#[cfg(test)]
#[path = "../tests/common/prom.rs"]
mod prom;

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::{OrderCounts, ServiceId};
    use crate::snapshot::{DeliveryCount, DeliveryView, DestinationView, PanelView};
    use chrono::DateTime;

    fn service(id: u64, name: &str, rate: Option<f64>, status: AlertStatus) -> ServiceView {
        ServiceView {
            panel: "main".into(),
            service: ServiceId(id),
            name: name.into(),
            provider: None,
            rule: "success-rate".into(),
            success_rate: rate,
            alert_below: 0.8,
            resolve_above: 0.85,
            min_orders: 20,
            counts: OrderCounts {
                completed: 31,
                partial: 4,
                canceled: 15,
                running: 9,
                stuck: 2,
            },
            status,
            since: None,
            history: vec![],
            window: "6h".into(),
            quiet: None,
            providers: vec![],
            problem_orders: vec![],
            periods: vec![],
        }
    }

    pub(crate) fn snapshot() -> Snapshot {
        let at = DateTime::from_timestamp(1_800_000_000, 500_000_000).unwrap();
        Snapshot {
            at,
            panels: vec![
                PanelView {
                    name: "main".into(),
                    health: PanelHealth::Up,
                    last_poll: Some(at),
                    poll_ms: Some(1250),
                    orders: 420,
                },
                PanelView {
                    name: "backup".into(),
                    health: PanelHealth::Down {
                        reason: "timed out".into(),
                        since: at,
                    },
                    last_poll: Some(at),
                    poll_ms: None,
                    orders: 0,
                },
            ],
            services: vec![
                service(
                    17,
                    "IG \"Followers\" \\ HQ",
                    Some(0.62),
                    AlertStatus::Firing,
                ),
                service(18, "TikTok\nViews", None, AlertStatus::NoData),
            ],
            deliveries: DeliveryView {
                pending: 2,
                retrying: 1,
                dead: 3,
                destinations: vec![DestinationView {
                    name: "ops".into(),
                    kind: "slack".into(),
                    disabled: Some("failing for 3d".into()),
                    last_outcome: None,
                    last_at: None,
                    queued: 3,
                }],
                items: Vec::new(),
                by_destination: vec![
                    DeliveryCount {
                        destination: "ops".into(),
                        state: "delivered".into(),
                        count: 40,
                    },
                    DeliveryCount {
                        destination: "ops".into(),
                        state: "dead".into(),
                        count: 3,
                    },
                ],
            },
            ..Snapshot::default()
        }
    }

    use super::prom::parse;

    #[test]
    fn the_exposition_parses_and_matches_the_snapshot() {
        let snap = snapshot();
        let samples = parse(&render(&snap)).unwrap();
        let get = |key: &str| *samples.get(key).unwrap_or_else(|| panic!("{key} missing"));
        let ig =
            r#"panel="main",rule="success-rate",service="IG \"Followers\" \\ HQ",service_id="17""#;
        assert_eq!(
            get(&format!("panelwatch_service_success_ratio{{{ig}}}")),
            0.62
        );
        assert_eq!(get(&format!("panelwatch_alert_firing{{{ig}}}")), 1.0);
        let canceled = format!("panelwatch_service_orders{{{ig},status=\"canceled\"}}");
        assert_eq!(get(&canceled), 15.0);
        let tiktok = r#"panel="main",rule="success-rate",service="TikTok\nViews",service_id="18""#;
        assert!(!samples.contains_key(&format!("panelwatch_service_success_ratio{{{tiktok}}}")));
        let no_data = format!("panelwatch_alert_state{{{tiktok},state=\"no_data\"}}");
        assert_eq!(get(&no_data), 1.0);
        assert_eq!(get(r#"panelwatch_panel_up{panel="main"}"#), 1.0);
        assert_eq!(get(r#"panelwatch_panel_up{panel="backup"}"#), 0.0);
        let poll = r#"panelwatch_panel_poll_duration_seconds{panel="main"}"#;
        assert_eq!(get(poll), 1.25);
        assert_eq!(get("panelwatch_dead_letters{}"), 3.0);
        assert_eq!(
            get(r#"panelwatch_outbox_deliveries{state="retrying"}"#),
            1.0
        );
        let delivered = r#"panelwatch_deliveries{destination="ops",state="delivered"}"#;
        assert_eq!(get(delivered), 40.0);
        assert_eq!(
            get(r#"panelwatch_destination_queued{destination="ops"}"#),
            3.0
        );
        assert_eq!(
            get(r#"panelwatch_destination_disabled{destination="ops"}"#),
            1.0
        );
        assert_eq!(
            get("panelwatch_snapshot_timestamp_seconds{}"),
            1_800_000_000.5
        );
    }

    #[test]
    fn an_empty_snapshot_is_still_a_valid_exposition() {
        let samples = parse(&render(&Snapshot::default())).unwrap();
        assert_eq!(samples["panelwatch_dead_letters{}"], 0.0);
    }

    #[tokio::test]
    async fn the_endpoint_serves_the_latest_snapshot() {
        let (tx, rx) = watch::channel(Snapshot::default());
        let (stop, stop_rx) = watch::channel(false);
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}/metrics", listener.local_addr().unwrap());
        let server = tokio::spawn(serve(listener, rx, stop_rx));
        tx.send_replace(snapshot());

        let response = reqwest::get(&url).await.unwrap();
        assert_eq!(response.status(), 200);
        let content_type = response.headers()[CONTENT_TYPE.as_str()].to_str().unwrap();
        assert_eq!(content_type, CONTENT_TYPE_TEXT);
        let text = response.text().await.unwrap();
        assert_eq!(text, render(&snapshot()));
        parse(&text).unwrap();
        let other = reqwest::get(url.replace("/metrics", "/")).await.unwrap();
        assert_eq!(other.status(), 404);

        stop.send_replace(true);
        server.await.unwrap();
    }
}
