//! A realistic snapshot for the screen's tests: three panels (one down, one starting), eight
//! services in every status (one with rows for two rules), a non-ASCII and an emoji service
//! name, events of each kind, and deliveries with dead letters and a disabled destination.
//! Times are fixed so rendered screens are the same on every run. Test-only; nothing here is
//! used by the program.

use chrono::{DateTime, Duration, Utc};

use crate::domain::{OrderCounts, ServiceId};
use crate::snapshot::{
    AlertStatus, DeliveryLine, DeliveryView, DestinationView, EventLine, MuteView, OrderLine,
    PanelHealth, PanelView, ProviderLine, ServiceView, Snapshot,
};

/// The fixture's "now": 2026-12-04 16:04:05 UTC.
pub fn now() -> DateTime<Utc> {
    DateTime::parse_from_rfc3339("2026-12-04T16:04:05Z")
        .unwrap()
        .with_timezone(&Utc)
}

fn ago(seconds: i64) -> DateTime<Utc> {
    now() - Duration::seconds(seconds)
}

fn counts(completed: u32, partial: u32, canceled: u32, running: u32, stuck: u32) -> OrderCounts {
    OrderCounts {
        completed,
        partial,
        canceled,
        running,
        stuck,
    }
}

struct Row {
    panel: &'static str,
    id: u64,
    name: &'static str,
    rate: Option<f64>,
    counts: OrderCounts,
    status: AlertStatus,
    history: &'static [f64],
}

fn service(row: Row) -> ServiceView {
    ServiceView {
        panel: row.panel.into(),
        service: ServiceId(row.id),
        name: row.name.into(),
        provider: None,
        rule: "success-rate".into(),
        success_rate: row.rate,
        alert_below: 0.8,
        resolve_above: 0.85,
        min_orders: 10,
        counts: row.counts,
        status: row.status,
        since: Some(ago(600)),
        history: row.history.to_vec(),
        window: "6h".into(),
        quiet: None,
        providers: Vec::new(),
        problem_orders: Vec::new(),
        periods: ["1h", "24h", "7d", "30d"]
            .iter()
            .zip([row.rate, Some(0.91), Some(0.93), None])
            .map(|(label, success_rate)| crate::snapshot::PeriodFigures {
                label: (*label).into(),
                success_rate,
                finished: if success_rate.is_some() { 120 } else { 0 },
            })
            .collect(),
    }
}

pub fn snapshot() -> Snapshot {
    let panels = vec![
        PanelView {
            name: "main".into(),
            health: PanelHealth::Up,
            last_poll: Some(ago(12)),
            poll_ms: Some(340),
            orders: 1240,
        },
        PanelView {
            name: "reseller".into(),
            health: PanelHealth::Down {
                reason: "HTTP 502 Bad Gateway with an HTML body from the upstream proxy".into(),
                since: ago(300),
            },
            last_poll: Some(ago(95)),
            poll_ms: Some(1210),
            orders: 310,
        },
        PanelView {
            name: "new-panel".into(),
            health: PanelHealth::Starting,
            last_poll: None,
            poll_ms: None,
            orders: 0,
        },
    ];
    let rows = [
        Row {
            panel: "main",
            id: 17,
            name: "IG Followers [Real, Refill 30d]",
            rate: Some(0.623),
            counts: counts(31, 4, 15, 9, 2),
            status: AlertStatus::Firing,
            history: &[0.95, 0.93, 0.9, 0.86, 0.8, 0.74, 0.7, 0.66, 0.62, 0.623],
        },
        Row {
            panel: "main",
            id: 18,
            name: "IG Likes",
            rate: Some(0.97),
            counts: counts(120, 2, 2, 14, 0),
            status: AlertStatus::Ok,
            history: &[0.96, 0.97, 0.98, 0.97, 0.97],
        },
        Row {
            panel: "main",
            id: 21,
            name: "TikTok Views 🚀 Instant",
            rate: Some(0.78),
            counts: counts(39, 3, 8, 5, 0),
            status: AlertStatus::Pending,
            history: &[0.9, 0.88, 0.84, 0.8, 0.78],
        },
        Row {
            panel: "main",
            id: 22,
            name: "YouTube Watch Time",
            rate: Some(0.82),
            counts: counts(41, 1, 8, 3, 1),
            status: AlertStatus::Ok,
            history: &[0.7, 0.75, 0.79, 0.82],
        },
        Row {
            panel: "main",
            id: 40,
            name: "Telegram Members",
            rate: None,
            counts: counts(0, 0, 0, 4, 0),
            status: AlertStatus::NoData,
            history: &[],
        },
        Row {
            panel: "reseller",
            id: 3,
            name: "Подписчики ВКонтакте",
            rate: Some(0.91),
            counts: counts(58, 3, 4, 6, 0),
            status: AlertStatus::NoData,
            history: &[0.9, 0.91, 0.92, 0.91],
        },
        Row {
            panel: "reseller",
            id: 7,
            name: "Twitter/X Retweets",
            rate: Some(0.12),
            counts: counts(2, 1, 22, 1, 0),
            status: AlertStatus::Firing,
            history: &[0.5, 0.3, 0.2, 0.15, 0.12],
        },
        Row {
            panel: "reseller",
            id: 9,
            name: "Spotify Plays",
            rate: Some(1.0),
            counts: counts(75, 0, 0, 2, 0),
            status: AlertStatus::Ok,
            history: &[1.0, 1.0, 0.99, 1.0],
        },
    ];
    let mut services: Vec<ServiceView> = rows.into_iter().map(service).collect();
    // The firing service has the detail view's figures: providers and problem orders.
    let detail = &mut services[0];
    detail.provider = Some("smmking".into());
    detail.quiet = Some("muted until 17:04 UTC".into());
    detail.providers = vec![
        ProviderLine {
            provider: "smmking".into(),
            counts: counts(20, 3, 14, 6, 2),
            success_rate: Some(0.54),
        },
        ProviderLine {
            provider: "followiz".into(),
            counts: counts(11, 1, 1, 3, 0),
            success_rate: Some(0.846),
        },
    ];
    detail.problem_orders = vec![
        order(90412, 120, "Canceled", Some(1000), Some(1000), "smmking"),
        order(90398, 400, "Partial", Some(500), Some(180), "smmking"),
        order(90377, 1500, "Pending (stuck)", Some(2000), None, "followiz"),
        order(90350, 2100, "Refunded", Some(300), Some(300), "smmking"),
    ];
    services[2].provider = Some("followiz".into());
    services[3].provider = Some("smmking".into());
    // A second rule on the first service, as a row of its own.
    let mut stuck = services[0].clone();
    stuck.rule = "stuck-orders".into();
    stuck.status = AlertStatus::Pending;
    stuck.alert_below = 0.5;
    stuck.resolve_above = 0.6;
    services.insert(1, stuck);
    let events = [
        (3600, "alert.fired", "FIRING reseller / Twitter/X Retweets (#7): success 30.0% < 80.0% over 6h (success-rate)"),
        (3000, "test", "TEST to ops-slack"),
        (1800, "alert.resolved", "RESOLVED main / IG Likes (#18): success 96.0% >= 85.0% over 6h (success-rate)"),
        (1500, "alert.reminder", "STILL FIRING reseller / Twitter/X Retweets (#7): success 15.0% < 80.0% over 6h (success-rate)"),
        (900, "destination.disabled", "DESTINATION DISABLED billing-hook: 410 Gone"),
        (600, "alert.fired", "FIRING main / IG Followers [Real, Refill 30d] (#17): success 66.0% < 80.0% over 6h (success-rate)"),
        (300, "panel.down", "PANEL DOWN reseller: HTTP 502 Bad Gateway with an HTML body"),
        (240, "panel.up", "PANEL UP main"),
    ];
    Snapshot {
        at: now(),
        panels,
        services,
        events: events
            .into_iter()
            .map(|(back, kind, summary)| EventLine {
                at: ago(back),
                kind: kind.into(),
                summary: summary.into(),
            })
            .collect(),
        deliveries: DeliveryView {
            pending: 2,
            retrying: 1,
            dead: 3,
            by_destination: Vec::new(),
            destinations: vec![
                DestinationView {
                    name: "ops-slack".into(),
                    kind: "slack".into(),
                    disabled: None,
                    last_outcome: Some("200 OK in 41 ms".into()),
                    last_at: Some(ago(240)),
                    queued: 0,
                },
                DestinationView {
                    name: "pager-relay".into(),
                    kind: "custom".into(),
                    disabled: None,
                    last_outcome: Some("timeout after 10 s".into()),
                    last_at: Some(ago(30)),
                    queued: 3,
                },
                DestinationView {
                    name: "billing-hook".into(),
                    kind: "custom".into(),
                    disabled: Some("410 Gone: the receiver asked us to stop".into()),
                    last_outcome: Some("410 Gone".into()),
                    last_at: Some(ago(900)),
                    queued: 0,
                },
            ],
            items: vec![
                delivery(
                    41,
                    "pager-relay",
                    "alert.fired",
                    "retrying",
                    3,
                    40,
                    "timeout after 10 s",
                ),
                delivery(40, "pager-relay", "panel.down", "pending", 0, 0, ""),
                delivery(37, "billing-hook", "alert.fired", "dead", 1, 0, "410 Gone"),
                delivery(
                    35,
                    "billing-hook",
                    "alert.resolved",
                    "dead",
                    8,
                    0,
                    "HTTP 500: \"upstream exploded\"",
                ),
            ],
        },
        notice: Some((ago(5), "config reloaded: 3 panels, 4 rules".into())),
        timezone: None,
        mutes: vec![MuteView {
            target: "main/17".into(),
            until: now() + Duration::seconds(3600),
        }],
        destinations: vec!["ops-slack".into(), "billing-hook".into()],
        sources: vec![crate::snapshot::SourceView {
            panel: "main".into(),
            balance: Some("18.42 USD".into()),
            balance_low: true,
            health: Some(0.97),
            degraded: false,
            calls: (97, 100),
        }],
        intake: None,
    }
}

fn order(
    id: u64,
    back: i64,
    status: &str,
    quantity: Option<u64>,
    remains: Option<u64>,
    provider: &str,
) -> OrderLine {
    OrderLine {
        id,
        created: ago(back),
        status: status.into(),
        quantity,
        remains,
        provider: Some(provider.into()),
    }
}

fn delivery(
    id: i64,
    destination: &str,
    event_type: &str,
    state: &str,
    attempts: u32,
    next_in: i64,
    last: &str,
) -> DeliveryLine {
    DeliveryLine {
        id,
        destination: destination.into(),
        event_type: event_type.into(),
        state: state.into(),
        attempts,
        next_at: now() + Duration::seconds(next_in),
        last_outcome: (!last.is_empty()).then(|| last.to_string()),
    }
}

/// What the demo's webhook receiver might have printed, for the extra pane.
pub fn receiver_lines() -> Vec<String> {
    vec![
        "16:03:25 POST /hook alert.fired verified ✔".into(),
        "16:03:26 POST /hook alert.fired duplicate webhook-id, ignored".into(),
        "16:04:01 POST /hook panel.up verified ✔".into(),
    ]
}
