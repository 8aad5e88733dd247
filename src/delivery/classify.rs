//! Classification: what a destination's answer means for a delivery.
//!
//! Each kind of destination says "delivered", "try later" and "never" in its own way (see the
//! table in the webhook reference): Slack answers 200 with `ok`, Teams answers 200 even when
//! it failed and puts the real status in the body, Discord and Telegram announce their delays
//! in JSON. [`classify`] turns one HTTP answer into a [`Verdict`]; it does no I/O and keeps no
//! state. Timeouts and connection errors never reach it: the dispatcher retries those.

use std::time::Duration;

use chrono::{DateTime, Utc};
use reqwest::header::{HeaderMap, RETRY_AFTER};
use serde_json::Value;

use crate::config::DestinationKind;

/// The shortest and longest delay a receiver can ask for; longer asks are cut to the maximum.
pub const MIN_ANNOUNCED_DELAY: Duration = Duration::from_secs(1);
pub const MAX_ANNOUNCED_DELAY: Duration = Duration::from_secs(3600);

/// What one answer means.
#[derive(Clone, Debug, PartialEq)]
pub enum Verdict {
    /// Done.
    Delivered,
    /// Overloaded or broken for now: try again on the schedule, and not before `after` (a
    /// delay the receiver announced, already clamped).
    Retry { after: Option<Duration> },
    /// Refused in a way that may be fixed on the receiver's side (a 3xx, an unexpected 4xx, a
    /// 200 without `ok`): keep retrying on the schedule, but show the operator.
    Refused { reason: String },
    /// This message will never be accepted: it becomes a dead letter now.
    Permanent { reason: String },
    /// The endpoint is dead: disable the destination and tell the operator.
    Gone { reason: String },
    /// Telegram: the group became a supergroup; resend to this chat id.
    MigrateChat { chat_id: String },
}

impl Verdict {
    pub fn is_delivered(&self) -> bool {
        matches!(self, Verdict::Delivered)
    }
}

/// Classifies one HTTP answer from a destination of `kind`.
pub fn classify(
    kind: DestinationKind,
    status: u16,
    headers: &HeaderMap,
    body: &[u8],
    now: DateTime<Utc>,
) -> Verdict {
    match kind {
        DestinationKind::Slack => slack(status, headers, body, now),
        DestinationKind::Discord => discord(status, headers, body, now),
        DestinationKind::Telegram => telegram(status, headers, body, now),
        DestinationKind::Teams => teams(status, headers, body, now),
        DestinationKind::Custom => generic(status, headers, now),
    }
}

/// The rules every kind shares; the per-kind functions handle their exceptions first.
fn generic(status: u16, headers: &HeaderMap, now: DateTime<Utc>) -> Verdict {
    match status {
        200..=299 => Verdict::Delivered,
        300..=399 => Verdict::Refused {
            reason: format!("redirect {status} not followed"),
        },
        410 => Verdict::Gone {
            reason: "HTTP 410 Gone".into(),
        },
        429 | 502 | 503 | 504 => Verdict::Retry {
            after: retry_after(headers, now),
        },
        408 => Verdict::Retry { after: None },
        400..=499 => Verdict::Refused {
            reason: format!("refused with HTTP {status}"),
        },
        _ => Verdict::Retry { after: None },
    }
}

fn slack(status: u16, headers: &HeaderMap, body: &[u8], now: DateTime<Utc>) -> Verdict {
    match status {
        200 if trimmed(body) == b"ok" => Verdict::Delivered,
        200..=299 => Verdict::Refused {
            reason: format!("slack answered {status} without ok"),
        },
        400 | 403 | 404 => Verdict::Permanent {
            reason: format!("slack refused the message with HTTP {status}"),
        },
        _ => generic(status, headers, now),
    }
}

fn discord(status: u16, headers: &HeaderMap, body: &[u8], now: DateTime<Utc>) -> Verdict {
    match status {
        429 => {
            let announced = json(body)
                .and_then(|v| v.get("retry_after").and_then(Value::as_f64))
                .and_then(seconds)
                .or_else(|| retry_after(headers, now));
            Verdict::Retry {
                after: announced.map(clamp),
            }
        }
        400 => Verdict::Permanent {
            reason: "discord refused the message with HTTP 400".into(),
        },
        // Discord bans the IP of senders that keep calling dead or forbidden webhooks, so
        // these stop the destination instead of failing one message at a time.
        401 | 403 | 404 => Verdict::Gone {
            reason: format!("discord webhook unusable (HTTP {status})"),
        },
        _ => generic(status, headers, now),
    }
}

fn telegram(status: u16, headers: &HeaderMap, body: &[u8], now: DateTime<Utc>) -> Verdict {
    let answer = json(body);
    let parameter = |name: &str| {
        answer
            .as_ref()
            .and_then(|v| v.get("parameters"))
            .and_then(|p| p.get(name))
            .cloned()
    };
    if let Some(chat) = parameter("migrate_to_chat_id") {
        let chat_id = match chat {
            Value::String(s) => s,
            other => other.to_string(),
        };
        return Verdict::MigrateChat { chat_id };
    }
    let ok = answer
        .as_ref()
        .and_then(|v| v.get("ok"))
        .and_then(Value::as_bool);
    match status {
        200..=299 if ok == Some(false) => Verdict::Refused {
            reason: "telegram answered ok: false".into(),
        },
        200..=299 => Verdict::Delivered,
        429 => {
            let announced = parameter("retry_after")
                .and_then(|v| v.as_f64())
                .and_then(seconds)
                .or_else(|| retry_after(headers, now));
            Verdict::Retry {
                after: announced.map(clamp),
            }
        }
        400 | 401 | 403 | 404 => Verdict::Permanent {
            reason: format!("telegram refused the message with HTTP {status}"),
        },
        _ => generic(status, headers, now),
    }
}

fn teams(status: u16, headers: &HeaderMap, body: &[u8], now: DateTime<Utc>) -> Verdict {
    if status != 200 || trimmed(body) == b"1" {
        return generic(status, headers, now);
    }
    // Teams answers 200 even when delivery failed, with the real status in the text, such as
    // "Microsoft Teams endpoint returned HTTP error 429 with ContextId ...".
    let text = String::from_utf8_lossy(body);
    match reported_status(&text) {
        Some(429) | Some(500..=599) => Verdict::Retry {
            after: retry_after(headers, now),
        },
        Some(code @ 400..=499) => Verdict::Permanent {
            reason: format!("teams reported HTTP {code}"),
        },
        _ => Verdict::Refused {
            reason: "teams answered 200 without 1".into(),
        },
    }
}

/// The first three-digit status from 400 to 599 after the word `error` in a text.
fn reported_status(text: &str) -> Option<u16> {
    let lower = text.to_ascii_lowercase();
    let start = lower.find("error").unwrap_or(0);
    let bytes = &lower.as_bytes()[start..];
    bytes
        .windows(5)
        .find_map(|w| {
            let boundary = !w[0].is_ascii_digit() && !w[4].is_ascii_digit();
            let digits = &w[1..4];
            if boundary && digits.iter().all(u8::is_ascii_digit) {
                let code: u16 = std::str::from_utf8(digits).ok()?.parse().ok()?;
                (400..600).contains(&code).then_some(code)
            } else {
                None
            }
        })
        .or_else(|| {
            // The status may end the text.
            let tail = lower.trim_end();
            let digits = tail.get(tail.len().saturating_sub(3)..)?;
            let code: u16 = digits.parse().ok()?;
            (400..600).contains(&code).then_some(code)
        })
}

/// `Retry-After` as seconds or as an HTTP date, clamped.
pub fn retry_after(headers: &HeaderMap, now: DateTime<Utc>) -> Option<Duration> {
    let text = headers.get(RETRY_AFTER)?.to_str().ok()?.trim();
    let delay = match text.parse::<f64>() {
        Ok(secs) => seconds(secs)?,
        Err(_) => {
            let at = DateTime::parse_from_rfc2822(text).ok()?.with_timezone(&Utc);
            (at - now).to_std().unwrap_or(Duration::ZERO)
        }
    };
    Some(clamp(delay))
}

/// Clamps an announced delay to [`MIN_ANNOUNCED_DELAY`], [`MAX_ANNOUNCED_DELAY`].
pub fn clamp(delay: Duration) -> Duration {
    delay.clamp(MIN_ANNOUNCED_DELAY, MAX_ANNOUNCED_DELAY)
}

fn seconds(secs: f64) -> Option<Duration> {
    (secs.is_finite() && secs >= 0.0)
        .then(|| Duration::from_secs_f64(secs.min(MAX_ANNOUNCED_DELAY.as_secs_f64())))
}

fn json(body: &[u8]) -> Option<Value> {
    serde_json::from_slice(body).ok()
}

fn trimmed(body: &[u8]) -> &[u8] {
    body.trim_ascii()
}

#[cfg(test)]
mod tests {
    use super::*;
    use DestinationKind::*;

    fn now() -> DateTime<Utc> {
        DateTime::from_timestamp(1_800_000_000, 0).unwrap()
    }

    fn headers(pairs: &[(&'static str, &str)]) -> HeaderMap {
        let mut h = HeaderMap::new();
        for (k, v) in pairs {
            h.insert(*k, v.parse().unwrap());
        }
        h
    }

    fn retry(secs: Option<u64>) -> Verdict {
        Verdict::Retry {
            after: secs.map(Duration::from_secs),
        }
    }

    fn is_permanent(v: &Verdict) -> bool {
        matches!(v, Verdict::Permanent { .. })
    }

    fn is_refused(v: &Verdict) -> bool {
        matches!(v, Verdict::Refused { .. })
    }

    fn is_gone(v: &Verdict) -> bool {
        matches!(v, Verdict::Gone { .. })
    }

    #[test]
    fn the_reference_table_row_by_row() {
        let none = HeaderMap::new();
        let ra2 = headers(&[("retry-after", "2")]);
        type Check = fn(&Verdict) -> bool;
        let delivered: Check = |v| *v == Verdict::Delivered;
        let retry_none: Check = |v| *v == retry(None);
        let retry_2s: Check = |v| *v == retry(Some(2));
        let retry_1500ms: Check = |v| {
            *v == Verdict::Retry {
                after: Some(Duration::from_millis(1500)),
            }
        };
        let migrate: Check = |v| {
            *v == Verdict::MigrateChat {
                chat_id: "-1001234".into(),
            }
        };
        let cases: Vec<(DestinationKind, u16, &HeaderMap, &str, Check)> = vec![
            // Slack
            (Slack, 200, &none, "ok", delivered),
            (Slack, 200, &none, "invalid_token", is_refused),
            (Slack, 429, &ra2, "rate_limited", retry_2s),
            (Slack, 500, &none, "", retry_none),
            (Slack, 400, &none, "invalid_payload", is_permanent),
            (Slack, 403, &none, "action_prohibited", is_permanent),
            (Slack, 404, &none, "channel_not_found", is_permanent),
            (Slack, 404, &none, "no_service", is_permanent),
            (Slack, 410, &none, "channel_is_archived", is_gone),
            // Discord
            (Discord, 200, &none, "{}", delivered),
            (Discord, 204, &none, "", delivered),
            (Discord, 429, &none, r#"{"retry_after": 1.5}"#, retry_1500ms),
            (Discord, 429, &ra2, "", retry_2s),
            (Discord, 502, &none, "", retry_none),
            (Discord, 500, &none, "", retry_none),
            (Discord, 400, &none, "{}", is_permanent),
            (Discord, 401, &none, "{}", is_gone),
            (Discord, 403, &none, "{}", is_gone),
            (Discord, 404, &none, "{}", is_gone),
            // Telegram
            (
                Telegram,
                200,
                &none,
                r#"{"ok":true,"result":{}}"#,
                delivered,
            ),
            (
                Telegram,
                429,
                &none,
                r#"{"ok":false,"error_code":429,"parameters":{"retry_after":2}}"#,
                retry_2s,
            ),
            (Telegram, 500, &none, "", retry_none),
            (
                Telegram,
                400,
                &none,
                r#"{"ok":false,"description":"Bad Request: chat not found"}"#,
                is_permanent,
            ),
            (
                Telegram,
                403,
                &none,
                r#"{"ok":false,"description":"Forbidden: bot was blocked by the user"}"#,
                is_permanent,
            ),
            (
                Telegram,
                400,
                &none,
                r#"{"ok":false,"parameters":{"migrate_to_chat_id":-1001234}}"#,
                migrate,
            ),
            // Teams
            (Teams, 200, &none, "1", delivered),
            (
                Teams,
                200,
                &none,
                "Microsoft Teams endpoint returned HTTP error 429 with ContextId tcid=0",
                retry_none,
            ),
            (
                Teams,
                200,
                &none,
                "Webhook message delivery failed with error: Microsoft Teams endpoint \
                 returned HTTP error 500 with ContextId x",
                retry_none,
            ),
            (
                Teams,
                200,
                &none,
                "Webhook message delivery failed with error: Microsoft Teams endpoint \
                 returned HTTP error 413 with ContextId x",
                is_permanent,
            ),
            (Teams, 200, &none, "something else", is_refused),
            (Teams, 202, &none, "", delivered),
            (Teams, 429, &ra2, "", retry_2s),
            // Custom and the shared rules
            (Custom, 200, &none, "", delivered),
            (Custom, 204, &none, "", delivered),
            (Custom, 301, &none, "", is_refused),
            (Custom, 302, &none, "", is_refused),
            (Custom, 410, &none, "", is_gone),
            (Custom, 429, &ra2, "", retry_2s),
            (Custom, 503, &none, "", retry_none),
            (Custom, 504, &ra2, "", retry_2s),
            (Custom, 500, &none, "", retry_none),
            (Custom, 400, &none, "", is_refused),
            (Custom, 404, &none, "", is_refused),
        ];
        for (kind, status, headers, body, check) in cases {
            let verdict = classify(kind, status, headers, body.as_bytes(), now());
            assert!(
                check(&verdict),
                "{kind:?} {status} {body:?} gave {verdict:?}"
            );
        }
    }

    #[test]
    fn retry_after_reads_seconds_and_dates_and_is_clamped() {
        let at = |v: &str| retry_after(&headers(&[("retry-after", v)]), now());
        assert_eq!(at("120"), Some(Duration::from_secs(120)));
        assert_eq!(at("0"), Some(MIN_ANNOUNCED_DELAY));
        assert_eq!(at("999999"), Some(MAX_ANNOUNCED_DELAY));
        let date = (now() + chrono::Duration::seconds(30))
            .format("%a, %d %b %Y %H:%M:%S GMT")
            .to_string();
        assert_eq!(at(&date), Some(Duration::from_secs(30)));
        let past = (now() - chrono::Duration::seconds(30))
            .format("%a, %d %b %Y %H:%M:%S GMT")
            .to_string();
        assert_eq!(at(&past), Some(MIN_ANNOUNCED_DELAY));
        assert_eq!(at("soon"), None);
        assert_eq!(retry_after(&HeaderMap::new(), now()), None);
    }

    #[test]
    fn announced_json_delays_are_clamped() {
        let v = classify(
            Discord,
            429,
            &HeaderMap::new(),
            br#"{"retry_after": 86400.0}"#,
            now(),
        );
        assert_eq!(
            v,
            Verdict::Retry {
                after: Some(MAX_ANNOUNCED_DELAY)
            }
        );
        let v = classify(
            Telegram,
            429,
            &HeaderMap::new(),
            br#"{"ok":false,"parameters":{"retry_after":0}}"#,
            now(),
        );
        assert_eq!(
            v,
            Verdict::Retry {
                after: Some(MIN_ANNOUNCED_DELAY)
            }
        );
    }

    #[test]
    fn teams_status_is_found_in_its_text() {
        assert_eq!(
            reported_status("HTTP error 429 with ContextId 12345"),
            Some(429)
        );
        assert_eq!(reported_status("failed: error 502"), Some(502));
        assert_eq!(reported_status("all fine"), None);
    }
}
