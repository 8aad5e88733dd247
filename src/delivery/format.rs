//! Formats: what each kind of destination receives for an event, and where it is sent.
//!
//! A `custom` destination receives the stored event bytes unchanged, because its signature
//! covers exactly those bytes. Chat destinations (Slack, Discord, Telegram, Teams) receive a
//! message rendered from the decoded event: a title, a one-line summary and a few labelled
//! facts, laid out in each platform's own shape and cut to each platform's size limits on
//! character boundaries. This module does no I/O and knows nothing of retries or signing.

use chrono::DateTime;
use serde_json::{json, Value};

use crate::config::{DestinationConfig, DestinationKind, Secret};
use crate::event::{percent, AlertData, Event, EventBody};

/// One request, ready to send: the bytes, their type and the full target URL.
///
/// The URL is a [`Secret`] because chat webhook URLs and Telegram's path carry tokens.
#[derive(Clone, Debug, PartialEq)]
pub struct Rendered {
    pub body: Vec<u8>,
    pub content_type: &'static str,
    pub url: Secret,
}

/// Slack: a section's text, and a section field.
pub const SLACK_TEXT_MAX: usize = 3000;
const SLACK_FIELD_MAX: usize = 2000;
const SLACK_HEADER_MAX: usize = 150;
/// Discord: the message content, and all embeds together.
pub const DISCORD_CONTENT_MAX: usize = 2000;
pub const DISCORD_EMBEDS_MAX: usize = 6000;
const DISCORD_TITLE_MAX: usize = 256;
const DISCORD_FIELD_NAME_MAX: usize = 256;
const DISCORD_FIELD_VALUE_MAX: usize = 1024;
const DISCORD_DESCRIPTION_MAX: usize = 4096;
/// Telegram: one message's text.
pub const TELEGRAM_TEXT_MAX: usize = 4096;
/// Teams: the whole request body, in bytes.
pub const TEAMS_BODY_MAX: usize = 28 * 1024;

/// Renders `event` for `dest`. `stored_json` is the event as recorded (sent as is to custom
/// destinations); `chat_override` replaces Telegram's configured chat id after a migration.
pub fn render(
    dest: &DestinationConfig,
    event: &Event,
    stored_json: &str,
    chat_override: Option<&str>,
) -> Rendered {
    let base = dest.url.expose();
    match dest.kind {
        DestinationKind::Custom => Rendered {
            body: stored_json.as_bytes().to_vec(),
            content_type: "application/json",
            url: dest.url.clone(),
        },
        DestinationKind::Slack => json_to(base.to_string(), slack(&Message::of(event))),
        DestinationKind::Discord => {
            json_to(with_query(base, "wait=true"), discord(&Message::of(event)))
        }
        DestinationKind::Teams => Rendered {
            body: teams(&Message::of(event)),
            content_type: "application/json",
            url: dest.url.clone(),
        },
        DestinationKind::Telegram => {
            let token = dest.bot_token.as_ref().map(Secret::expose).unwrap_or("");
            let chat = chat_override.or(dest.chat_id.as_deref()).unwrap_or("");
            let url = format!("{}/bot{token}/sendMessage", base.trim_end_matches('/'));
            json_to(url, telegram(&Message::of(event), chat))
        }
    }
}

fn json_to(url: String, body: Value) -> Rendered {
    Rendered {
        body: serde_json::to_vec(&body).expect("a JSON value always serialises"),
        content_type: "application/json",
        url: Secret::new(url),
    }
}

/// Appends `pair` to a URL's query, whether or not it already has one.
fn with_query(url: &str, pair: &str) -> String {
    let (rest, fragment) = match url.split_once('#') {
        Some((r, f)) => (r, Some(f)),
        None => (url, None),
    };
    let sep = if !rest.contains('?') {
        "?"
    } else if rest.ends_with('?') || rest.ends_with('&') {
        ""
    } else {
        "&"
    };
    match fragment {
        Some(f) => format!("{rest}{sep}{pair}#{f}"),
        None => format!("{rest}{sep}{pair}"),
    }
}

/// What every chat format shows, before it takes a platform's shape.
#[derive(Debug)]
struct Message {
    title: String,
    /// One line, for notifications and fallbacks.
    summary: String,
    facts: Vec<(&'static str, String)>,
    /// A sentence under the facts, when the event needs one.
    note: Option<String>,
    colour: u32,
    /// `alert.fired · evt_...`
    footer: String,
    /// RFC 3339, UTC.
    timestamp: String,
}

const RED: u32 = 0xD93025;
const AMBER: u32 = 0xF29900;
const GREEN: u32 = 0x1E8E3E;
const GREY: u32 = 0x5F6368;
const BLUE: u32 = 0x1A73E8;

impl Message {
    fn of(event: &Event) -> Message {
        let local = local_time(&event.local_time);
        let (title, colour, mut facts, note) = match &event.body {
            EventBody::AlertFired(a) => (
                format!("Firing: {}", a.subject_label()),
                RED,
                alert_facts(a, false),
                None,
            ),
            EventBody::AlertReminder(a) => (
                format!("Still firing: {}", a.subject_label()),
                AMBER,
                alert_facts(a, false),
                None,
            ),
            EventBody::AlertResolved(a) => (
                format!("Resolved: {}", a.subject_label()),
                GREEN,
                alert_facts(a, true),
                None,
            ),
            EventBody::PanelDown(p) => (
                format!("Panel down: {}", p.panel),
                RED,
                vec![
                    ("Panel", p.panel.clone()),
                    (
                        "Reason",
                        p.reason.clone().unwrap_or_else(|| "unreachable".into()),
                    ),
                ],
                None,
            ),
            EventBody::PanelUp(p) => {
                let mut facts = vec![("Panel", p.panel.clone())];
                if let Some(since) = p.since {
                    let out = event.timestamp.signed_duration_since(since);
                    facts.push(("Down for", short_span(out.num_seconds())));
                }
                (format!("Panel up: {}", p.panel), GREEN, facts, None)
            }
            EventBody::OrdersStuck(s) | EventBody::OrdersUnstuck(s) => {
                let stuck = matches!(event.body, EventBody::OrdersStuck(_));
                let title = if stuck {
                    "Orders stuck"
                } else {
                    "Orders moving again"
                };
                (
                    format!(
                        "{title}: {} / {} (#{})",
                        s.panel, s.service.name, s.service.id
                    ),
                    if stuck { AMBER } else { GREEN },
                    vec![
                        ("Panel", s.panel.clone()),
                        ("Service", format!("{} (#{})", s.service.name, s.service.id)),
                        (
                            "Stuck",
                            format!("{} (alerts above {})", s.stuck, s.alert_stuck_above),
                        ),
                        (
                            "Stuck after",
                            format!("pending {}, running {}", s.stuck_pending, s.stuck_running),
                        ),
                        ("Running", s.orders.running.to_string()),
                        ("Rule", s.rule.clone()),
                    ],
                    None,
                )
            }
            EventBody::DestinationDisabled(d) => (
                format!("Destination disabled: {}", d.destination),
                GREY,
                vec![
                    ("Destination", d.destination.clone()),
                    ("Reason", d.reason.clone()),
                ],
                Some(
                    "Its deliveries are kept and go out once an operator re-enables it."
                        .to_string(),
                ),
            ),
            EventBody::Test(t) => (
                "Test from panelwatch".to_string(),
                BLUE,
                vec![("Destination", t.destination.clone())],
                Some(t.message.clone()),
            ),
            EventBody::BalanceLow(b) | EventBody::BalanceRecovered(b) => {
                let low = matches!(event.body, EventBody::BalanceLow(_));
                let unit = b.currency.as_deref().map(|c| format!(" {c}"));
                let unit = unit.unwrap_or_default();
                (
                    if low {
                        format!("Balance low: {}", b.panel)
                    } else {
                        format!("Balance back: {}", b.panel)
                    },
                    if low { RED } else { GREEN },
                    vec![
                        ("Panel", b.panel.clone()),
                        ("Balance", format!("{}{unit}", b.balance)),
                        ("Alerts below", format!("{}{unit}", b.threshold)),
                    ],
                    low.then(|| {
                        "Orders routed to this panel may stay pending until it is topped up."
                            .to_string()
                    }),
                )
            }
            EventBody::PanelDegraded(h) | EventBody::PanelRecovered(h) => {
                let bad = matches!(event.body, EventBody::PanelDegraded(_));
                (
                    if bad {
                        format!("API degraded: {}", h.panel)
                    } else {
                        format!("API healthy again: {}", h.panel)
                    },
                    if bad { AMBER } else { GREEN },
                    vec![
                        ("Panel", h.panel.clone()),
                        (
                            "Usable answers",
                            format!(
                                "{} ({} of {} calls over {})",
                                percent(h.health),
                                h.usable,
                                h.calls,
                                h.window
                            ),
                        ),
                        ("Degraded below", percent(h.degraded_below)),
                    ],
                    None,
                )
            }
            EventBody::ServiceChanged(c) => (
                format!(
                    "Service changed: {} / {} (#{})",
                    c.panel, c.service.name, c.service.id
                ),
                AMBER,
                vec![
                    ("Panel", c.panel.clone()),
                    ("Service", format!("{} (#{})", c.service.name, c.service.id)),
                    ("Change", c.describe()),
                ],
                None,
            ),
            EventBody::OrderUpdated(o) => {
                let mut facts = vec![
                    ("Panel", o.panel.clone()),
                    ("Order", format!("#{}", o.order)),
                    ("Service", format!("{} (#{})", o.service.name, o.service.id)),
                    ("Status", format!("{} -> {}", o.old_status, o.new_status)),
                ];
                if let Some(r) = o.remains {
                    facts.push(("Remains", r.to_string()));
                }
                (
                    format!("Order #{} {}: {}", o.order, o.panel, o.new_status),
                    BLUE,
                    facts,
                    None,
                )
            }
        };
        facts.push(("Local time", local));
        Message {
            title,
            summary: event.summary(),
            facts,
            note,
            colour,
            footer: format!("{} · {}", event.kind(), event.id),
            timestamp: event
                .timestamp
                .to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
        }
    }
}

fn alert_facts(a: &AlertData, resolved: bool) -> Vec<(&'static str, String)> {
    let mut facts = vec![("Panel", a.panel.clone())];
    match (&a.service, &a.provider) {
        (Some(s), _) => facts.push(("Service", format!("{} (#{})", s.name, s.id))),
        (None, Some(p)) => facts.push(("Provider", p.clone())),
        (None, None) => {}
    }
    let rate = if resolved {
        format!(
            "{} (resolves at {})",
            percent(a.success_rate),
            percent(a.resolve_above)
        )
    } else {
        format!(
            "{} (alert below {})",
            percent(a.success_rate),
            percent(a.alert_below)
        )
    };
    let o = &a.orders;
    facts.push(("Success rate", rate));
    facts.push(("Window", a.window.clone()));
    facts.push((
        "Orders",
        format!(
            "{} completed, {} partial, {} canceled; {} running, {} stuck",
            o.completed, o.partial, o.canceled, o.running, o.stuck
        ),
    ));
    facts.push(("Rule", a.rule.clone()));
    facts
}

/// `2026-12-04T17:00:00+01:00` as `2026-12-04 17:00:00 +01:00`; other text unchanged.
fn local_time(text: &str) -> String {
    match DateTime::parse_from_rfc3339(text) {
        Ok(t) => t.format("%Y-%m-%d %H:%M:%S %:z").to_string(),
        Err(_) => text.to_string(),
    }
}

/// `3725` seconds as `1h 2m`.
fn short_span(secs: i64) -> String {
    let secs = secs.max(0);
    match secs {
        s if s < 60 => format!("{s}s"),
        s if s < 3600 => format!("{}m {}s", s / 60, s % 60),
        s if s < 86_400 => format!("{}h {}m", s / 3600, (s % 3600) / 60),
        s => format!("{}d {}h", s / 86_400, (s % 86_400) / 3600),
    }
}

/// At most `max` characters, ending in `…` when cut. Cuts on character boundaries.
pub fn truncate_chars(text: &str, max: usize) -> String {
    if text.chars().count() <= max {
        return text.to_string();
    }
    if max == 0 {
        return String::new();
    }
    let mut out: String = text.chars().take(max - 1).collect();
    out.push('…');
    out
}

/// At most `max` bytes of UTF-8, ending in `…` when cut. Cuts on character boundaries.
pub fn truncate_bytes(text: &str, max: usize) -> String {
    if text.len() <= max {
        return text.to_string();
    }
    let ellipsis = '…'.len_utf8();
    if max < ellipsis {
        return String::new();
    }
    let mut end = max - ellipsis;
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    format!("{}…", &text[..end])
}

// ---- Slack ----

/// Slack's mrkdwn treats `&`, `<` and `>` as markup.
fn slack_escape(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
}

fn slack(m: &Message) -> Value {
    let fields: Vec<Value> = m
        .facts
        .iter()
        .take(10)
        .map(|(label, value)| {
            let text = format!("*{label}*\n{}", slack_escape(value));
            json!({"type": "mrkdwn", "text": truncate_chars(&text, SLACK_FIELD_MAX)})
        })
        .collect();
    let mut blocks = vec![
        json!({
            "type": "header",
            "text": {
                "type": "plain_text",
                "text": truncate_chars(&m.title, SLACK_HEADER_MAX),
                "emoji": true
            }
        }),
        json!({"type": "section", "fields": fields}),
    ];
    if let Some(note) = &m.note {
        blocks.push(json!({
            "type": "section",
            "text": {
                "type": "mrkdwn",
                "text": truncate_chars(&slack_escape(note), SLACK_TEXT_MAX)
            }
        }));
    }
    blocks.push(json!({
        "type": "context",
        "elements": [{"type": "mrkdwn", "text": slack_escape(&m.footer)}]
    }));
    json!({
        "text": truncate_chars(&slack_escape(&m.summary), SLACK_TEXT_MAX),
        "blocks": blocks
    })
}

// ---- Discord ----

fn discord(m: &Message) -> Value {
    let mut fields: Vec<(String, String)> = m
        .facts
        .iter()
        .take(25)
        .map(|(label, value)| {
            (
                truncate_chars(label, DISCORD_FIELD_NAME_MAX),
                truncate_chars(value, DISCORD_FIELD_VALUE_MAX),
            )
        })
        .collect();
    let title = truncate_chars(&m.title, DISCORD_TITLE_MAX);
    let footer = truncate_chars(&m.footer, 200);
    let fixed = |fields: &[(String, String)]| {
        title.chars().count()
            + footer.chars().count()
            + fields
                .iter()
                .map(|(n, v)| n.chars().count() + v.chars().count())
                .sum::<usize>()
    };
    // All embed text counts toward one 6,000 character budget: shrink values, then the
    // description gets what is left.
    if fixed(&fields) > DISCORD_EMBEDS_MAX {
        for (_, value) in &mut fields {
            *value = truncate_chars(value, 200);
        }
    }
    let room = DISCORD_EMBEDS_MAX.saturating_sub(fixed(&fields));
    let description = m
        .note
        .as_deref()
        .map(|n| truncate_chars(n, room.min(DISCORD_DESCRIPTION_MAX)))
        .filter(|n| !n.is_empty());
    let mut embed = json!({
        "title": title,
        "color": m.colour,
        "fields": fields
            .iter()
            .map(|(name, value)| json!({"name": name, "value": value, "inline": true}))
            .collect::<Vec<_>>(),
        "footer": {"text": footer},
        "timestamp": m.timestamp,
    });
    if let Some(d) = description {
        embed["description"] = Value::String(d);
    }
    json!({
        "content": truncate_chars(&m.summary, DISCORD_CONTENT_MAX),
        "embeds": [embed],
        // Names come from panels: never let them ping @everyone or a role.
        "allowed_mentions": {"parse": []}
    })
}

// ---- Telegram ----

fn html_escape(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
}

fn telegram(m: &Message, chat: &str) -> Value {
    let chat_id = match chat.parse::<i64>() {
        Ok(n) => json!(n),
        Err(_) => json!(chat),
    };
    let mut html = format!("<b>{}</b>\n", html_escape(&truncate_chars(&m.title, 512)));
    for (label, value) in &m.facts {
        html.push_str(&format!(
            "<b>{label}:</b> {}\n",
            html_escape(&truncate_chars(value, 512))
        ));
    }
    if let Some(note) = &m.note {
        html.push_str(&format!("\n{}\n", html_escape(&truncate_chars(note, 1024))));
    }
    html.push_str(&format!("<i>{}</i>", html_escape(&m.footer)));
    if html.chars().count() <= TELEGRAM_TEXT_MAX {
        return json!({
            "chat_id": chat_id,
            "text": html,
            "parse_mode": "HTML",
            "disable_web_page_preview": true
        });
    }
    // Too long even after cutting each part: plain text can be cut anywhere safely, where
    // cutting HTML could split a tag or an entity.
    let mut plain = format!("{}\n", m.title);
    for (label, value) in &m.facts {
        plain.push_str(&format!("{label}: {value}\n"));
    }
    if let Some(note) = &m.note {
        plain.push_str(&format!("\n{note}\n"));
    }
    plain.push_str(&m.footer);
    json!({
        "chat_id": chat_id,
        "text": truncate_chars(&plain, TELEGRAM_TEXT_MAX),
        "disable_web_page_preview": true
    })
}

// ---- Teams ----

fn teams(m: &Message) -> Vec<u8> {
    let facts: Vec<Value> = m
        .facts
        .iter()
        .map(|(label, value)| json!({"name": label, "value": truncate_chars(value, 1024)}))
        .collect();
    let mut section = json!({"facts": facts});
    if let Some(note) = &m.note {
        section["text"] = Value::String(truncate_chars(note, 4096));
    }
    let card = json!({
        "@type": "MessageCard",
        "@context": "https://schema.org/extensions",
        "summary": truncate_chars(&m.summary, 1024),
        "themeColor": format!("{:06X}", m.colour),
        "title": truncate_chars(&m.title, 1024),
        "sections": [section],
    });
    let body = serde_json::to_vec(&card).expect("a JSON value always serialises");
    if body.len() <= TEAMS_BODY_MAX {
        return body;
    }
    // The plain form Teams also accepts; leave room for JSON escaping.
    let text = format!("{}\n\n{}", m.title, m.summary);
    let plain = json!({"text": truncate_bytes(&text, TEAMS_BODY_MAX / 2)});
    serde_json::to_vec(&plain).expect("a JSON value always serialises")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::SignatureStyle;
    use crate::domain::{OrderCounts, ServiceId};
    use crate::event::{AlertData, DestinationData, EventId, PanelData, ServiceRef, TestData};
    use chrono::Utc;

    fn at() -> DateTime<Utc> {
        DateTime::parse_from_rfc3339("2026-12-04T16:00:00Z")
            .unwrap()
            .with_timezone(&Utc)
    }

    fn alert(name: &str) -> AlertData {
        AlertData {
            panel: "main".into(),
            service: Some(ServiceRef {
                id: ServiceId(17),
                name: name.into(),
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
        }
    }

    fn event(body: EventBody) -> Event {
        let mut e = Event::new(at(), chrono_tz::Europe::Berlin, body);
        e.id = EventId("evt_0000000000000000000000000001".into());
        e
    }

    fn fired() -> Event {
        event(EventBody::AlertFired(alert("IG Followers <real> & more")))
    }

    fn dest(kind: DestinationKind, url: &str) -> DestinationConfig {
        DestinationConfig {
            name: "ops".into(),
            kind,
            url: Secret::new(url),
            secret: None,
            secret_next: None,
            signature: SignatureStyle::StandardWebhooks,
            events: vec![],
            headers: vec![],
            bot_token: Some(Secret::new("123:ABC")),
            chat_id: Some("-100200".into()),
        }
    }

    fn all_events() -> Vec<Event> {
        vec![
            fired(),
            event(EventBody::AlertResolved(alert("IG Followers"))),
            event(EventBody::AlertReminder(alert("IG Followers"))),
            event(EventBody::PanelDown(PanelData {
                panel: "main".into(),
                reason: Some("HTTP 502".into()),
                since: None,
            })),
            event(EventBody::PanelUp(PanelData {
                panel: "main".into(),
                reason: None,
                since: Some(at() - chrono::Duration::seconds(3725)),
            })),
            event(EventBody::DestinationDisabled(DestinationData {
                destination: "ops".into(),
                reason: "HTTP 410 Gone".into(),
            })),
            event(EventBody::Test(TestData {
                destination: "ops".into(),
                message: "hello".into(),
            })),
            event(EventBody::BalanceLow(balance())),
            event(EventBody::BalanceRecovered(balance())),
            event(EventBody::PanelDegraded(health())),
            event(EventBody::PanelRecovered(health())),
            event(EventBody::ServiceChanged(crate::event::ServiceChangeData {
                panel: "provider".into(),
                service: ServiceRef {
                    id: ServiceId(17),
                    name: "IG Followers".into(),
                },
                before: terms("0.90", 50),
                after: Some(terms("1.10", 100)),
            })),
            event(EventBody::OrderUpdated(crate::event::OrderUpdateData {
                panel: "provider".into(),
                order: crate::domain::OrderId(23501),
                service: ServiceRef {
                    id: ServiceId(17),
                    name: "IG Followers".into(),
                },
                old_status: "In progress".into(),
                new_status: "Partial".into(),
                remains: Some(157),
            })),
        ]
    }

    fn money(text: &str) -> crate::domain::Money {
        crate::domain::Money(text.parse().unwrap())
    }

    fn balance() -> crate::event::BalanceData {
        crate::event::BalanceData {
            panel: "provider".into(),
            balance: money("12.5"),
            currency: Some("USD".into()),
            threshold: money("25.00"),
        }
    }

    fn health() -> crate::event::HealthData {
        crate::event::HealthData {
            panel: "provider".into(),
            health: 0.75,
            degraded_below: 0.9,
            window: "10m".into(),
            usable: 15,
            calls: 20,
        }
    }

    fn terms(rate: &str, min: u64) -> crate::event::ServiceTerms {
        crate::event::ServiceTerms {
            rate: Some(money(rate)),
            min: Some(min),
            max: Some(10_000),
        }
    }

    fn pretty(r: &Rendered) -> String {
        let v: Value = serde_json::from_slice(&r.body).unwrap();
        serde_json::to_string_pretty(&v).unwrap()
    }

    #[test]
    fn custom_gets_the_stored_bytes_exactly() {
        let e = fired();
        let stored = e.to_json();
        let r = render(
            &dest(DestinationKind::Custom, "http://x/h"),
            &e,
            &stored,
            None,
        );
        assert_eq!(r.body, stored.as_bytes());
        assert_eq!(r.url.expose(), "http://x/h");
    }

    #[test]
    fn targets_per_kind() {
        let e = fired();
        let cases = [
            (DestinationKind::Slack, "https://s/h", "https://s/h"),
            (
                DestinationKind::Discord,
                "https://d/h",
                "https://d/h?wait=true",
            ),
            (
                DestinationKind::Discord,
                "https://d/h?thread_id=5",
                "https://d/h?thread_id=5&wait=true",
            ),
            (DestinationKind::Teams, "https://t/h", "https://t/h"),
            (
                DestinationKind::Telegram,
                "https://api.telegram.org/",
                "https://api.telegram.org/bot123:ABC/sendMessage",
            ),
        ];
        for (kind, url, want) in cases {
            let r = render(&dest(kind, url), &e, &e.to_json(), None);
            assert_eq!(r.url.expose(), want, "{kind:?}");
            assert_eq!(r.content_type, "application/json");
            assert!(!format!("{r:?}").contains("ABC"), "the URL never shows");
        }
    }

    #[test]
    fn every_event_type_renders_readably_for_every_kind() {
        let kinds = [
            DestinationKind::Slack,
            DestinationKind::Discord,
            DestinationKind::Telegram,
            DestinationKind::Teams,
        ];
        for e in all_events() {
            for kind in kinds {
                let r = render(&dest(kind, "https://x/h"), &e, &e.to_json(), None);
                let text = String::from_utf8(r.body).unwrap();
                let v: Value = serde_json::from_str(&text).unwrap();
                assert!(v.is_object(), "{kind:?} {}", e.kind());
                let title = Message::of(&e).title;
                let head = title.split(':').next().unwrap();
                assert!(text.contains(head), "{kind:?} {} lacks {head}", e.kind());
                assert!(text.contains("Local time"), "{kind:?} {}", e.kind());
            }
        }
    }

    #[test]
    fn telegram_uses_the_migrated_chat() {
        let e = fired();
        let d = dest(DestinationKind::Telegram, "https://api.telegram.org");
        let r = render(&d, &e, &e.to_json(), Some("-100999"));
        let v: Value = serde_json::from_slice(&r.body).unwrap();
        assert_eq!(v["chat_id"], -100999);
        let r = render(&d, &e, &e.to_json(), Some("@channel"));
        let v: Value = serde_json::from_slice(&r.body).unwrap();
        assert_eq!(v["chat_id"], "@channel");
    }

    #[test]
    fn huge_names_are_cut_within_limits_on_char_boundaries() {
        let name = "é🚀<&>".repeat(5000);
        let e = event(EventBody::AlertFired(alert(&name)));
        for kind in [
            DestinationKind::Slack,
            DestinationKind::Discord,
            DestinationKind::Telegram,
            DestinationKind::Teams,
        ] {
            let r = render(&dest(kind, "https://x/h"), &e, &e.to_json(), None);
            let v: Value = serde_json::from_slice(&r.body).unwrap();
            match kind {
                DestinationKind::Slack => {
                    assert!(v["text"].as_str().unwrap().chars().count() <= SLACK_TEXT_MAX);
                    for block in v["blocks"].as_array().unwrap() {
                        if let Some(t) = block["text"]["text"].as_str() {
                            assert!(t.chars().count() <= SLACK_TEXT_MAX);
                        }
                        for f in block["fields"].as_array().into_iter().flatten() {
                            assert!(f["text"].as_str().unwrap().chars().count() <= 2000);
                        }
                    }
                }
                DestinationKind::Discord => {
                    let content = v["content"].as_str().unwrap();
                    assert!(content.chars().count() <= DISCORD_CONTENT_MAX);
                    let embed = &v["embeds"][0];
                    let mut total = embed["title"].as_str().unwrap().chars().count()
                        + embed["footer"]["text"].as_str().unwrap().chars().count();
                    for f in embed["fields"].as_array().unwrap() {
                        total += f["name"].as_str().unwrap().chars().count();
                        total += f["value"].as_str().unwrap().chars().count();
                    }
                    assert!(total <= DISCORD_EMBEDS_MAX, "{total}");
                }
                DestinationKind::Telegram => {
                    let text = v["text"].as_str().unwrap();
                    assert!(text.chars().count() <= TELEGRAM_TEXT_MAX);
                }
                DestinationKind::Teams => assert!(r.body.len() <= TEAMS_BODY_MAX),
                DestinationKind::Custom => unreachable!(),
            }
        }
    }

    #[test]
    fn truncation_keeps_characters_whole() {
        assert_eq!(truncate_chars("abcdef", 4), "abc…");
        assert_eq!(truncate_chars("abc", 4), "abc");
        assert_eq!(truncate_chars("ééééé", 3), "éé…");
        assert_eq!(truncate_bytes("ééééé", 7), "éé…");
        assert_eq!(truncate_bytes("abc", 3), "abc");
    }

    #[test]
    fn queries_are_appended_correctly() {
        assert_eq!(
            with_query("https://a/b", "wait=true"),
            "https://a/b?wait=true"
        );
        assert_eq!(
            with_query("https://a/b?", "wait=true"),
            "https://a/b?wait=true"
        );
        assert_eq!(
            with_query("https://a/b?x=1#f", "wait=true"),
            "https://a/b?x=1&wait=true#f"
        );
    }

    #[test]
    fn snapshot_slack_alert_fired() {
        let e = fired();
        let r = render(
            &dest(DestinationKind::Slack, "https://x/h"),
            &e,
            &e.to_json(),
            None,
        );
        insta::assert_snapshot!(pretty(&r));
    }

    #[test]
    fn snapshot_discord_alert_fired() {
        let e = fired();
        let r = render(
            &dest(DestinationKind::Discord, "https://x/h"),
            &e,
            &e.to_json(),
            None,
        );
        insta::assert_snapshot!(pretty(&r));
    }

    #[test]
    fn snapshot_telegram_alert_fired() {
        let e = fired();
        let r = render(
            &dest(DestinationKind::Telegram, "https://api.telegram.org"),
            &e,
            &e.to_json(),
            None,
        );
        insta::assert_snapshot!(pretty(&r));
    }

    #[test]
    fn snapshot_teams_alert_fired() {
        let e = fired();
        let r = render(
            &dest(DestinationKind::Teams, "https://x/h"),
            &e,
            &e.to_json(),
            None,
        );
        insta::assert_snapshot!(pretty(&r));
    }

    #[test]
    fn snapshot_custom_alert_fired() {
        let e = fired();
        let r = render(
            &dest(DestinationKind::Custom, "https://x/h"),
            &e,
            &e.to_json(),
            None,
        );
        insta::assert_snapshot!(String::from_utf8(r.body).unwrap());
    }
}
