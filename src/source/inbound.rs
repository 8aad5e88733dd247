//! Panels' own webhooks: verifying them and reading what they say. Pure functions, no I/O.
//!
//! Verification follows the panel's config: Standard Webhooks (`inbound_secret = "whsec_..."`:
//! `webhook-id`, `webhook-timestamp` within the tolerance, `webhook-signature`), or a plain
//! HMAC-SHA256 of the body in a named header (`inbound_hmac_header`, hex, optionally
//! `sha256=`-prefixed). The event id that de-duplicates redeliveries is `webhook-id`, else the
//! body's `id`, else a hash of the body (a byte-identical redelivery is the same event).
//!
//! The payload is read as loosely as the polled answers: `{"type", "data": {...}}` or a flat
//! object; `order`/`order_id`/`id` for the order; `service`/`service_id`; the status as any
//! spelling, or implied by the type (`order.completed`, `order.failed`, ...); numbers as
//! strings or numbers.

use std::time::Duration;

use hmac::{Hmac, Mac};
use serde_json::Value;
use sha2::{Digest, Sha256};

use crate::config::InboundAuth;
use crate::delivery::sign::SigningKey;
use crate::domain::{Money, OrderId, OrderStatus, ServiceId};
use crate::panel::decode::{as_u64, decimal, text_of};

/// Why an inbound webhook was refused; each kind is counted on screen.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum Refusal {
    #[error("missing or bad signature")]
    Signature,
    #[error("missing or wrong bearer token")]
    Token,
    #[error("timestamp outside the tolerance")]
    Stale,
    #[error("body over the size limit")]
    TooLarge,
    #[error("{0}")]
    Unusable(String),
}

/// Checks an inbound webhook's signature; returns its event id.
///
/// `header` looks a request header up by its lowercase name; `now` is unix seconds.
pub fn verify(
    auth: &InboundAuth,
    header: &dyn Fn(&str) -> Option<String>,
    body: &[u8],
    now: i64,
    tolerance: Duration,
) -> Result<String, Refusal> {
    match auth {
        InboundAuth::Standard(secret) => {
            let key = SigningKey::parse(secret.expose()).map_err(|_| Refusal::Signature)?;
            let id = header("webhook-id").ok_or(Refusal::Signature)?;
            let stamp = header("webhook-timestamp").ok_or(Refusal::Signature)?;
            let signature = header("webhook-signature").ok_or(Refusal::Signature)?;
            let stamp: i64 = stamp.trim().parse().map_err(|_| Refusal::Stale)?;
            if stamp.abs_diff(now) > tolerance.as_secs() {
                return Err(Refusal::Stale);
            }
            if id.is_empty() || id.len() > 200 || !key.verify(&id, stamp, body, &signature) {
                return Err(Refusal::Signature);
            }
            Ok(id)
        }
        InboundAuth::Hmac {
            header: name,
            secret,
        } => {
            let given = header(name).ok_or(Refusal::Signature)?;
            let given = given.trim();
            let hex_text = given.strip_prefix("sha256=").unwrap_or(given);
            let given = hex_decode(hex_text).ok_or(Refusal::Signature)?;
            let mut mac = Hmac::<Sha256>::new_from_slice(secret.expose().as_bytes())
                .expect("HMAC takes any key length");
            mac.update(body);
            mac.verify_slice(&given).map_err(|_| Refusal::Signature)?;
            let json: Option<Value> = serde_json::from_slice(body).ok();
            if let Some(stamp) = json.as_ref().and_then(timestamp_of) {
                if stamp.abs_diff(now) > tolerance.as_secs() {
                    return Err(Refusal::Stale);
                }
            }
            let id = json
                .as_ref()
                .and_then(|j| j.get("id").or_else(|| j.get("event_id")))
                .and_then(text_of)
                .filter(|id| !id.is_empty() && id.len() <= 200);
            Ok(id.unwrap_or_else(|| format!("sha256:{}", hex(&Sha256::digest(body)))))
        }
    }
}

fn timestamp_of(json: &Value) -> Option<i64> {
    let value = json.get("timestamp").or_else(|| json.get("created"))?;
    if let Some(n) = crate::panel::decode::as_i64(value) {
        return Some(n);
    }
    let text = value.as_str()?;
    chrono::DateTime::parse_from_rfc3339(text.trim())
        .ok()
        .map(|d| d.timestamp())
}

fn hex_decode(text: &str) -> Option<Vec<u8>> {
    if !text.len().is_multiple_of(2) || !text.is_ascii() {
        return None;
    }
    (0..text.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&text[i..i + 2], 16).ok())
        .collect()
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// What an inbound webhook says.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum InboundEvent {
    /// An order's status, as a poll would have read it.
    Order {
        order: OrderId,
        service: Option<ServiceId>,
        status: OrderStatus,
        remains: Option<u64>,
        charge: Option<Money>,
    },
    /// The panel says its balance is low (the polled balance drives `balance.low`).
    Balance { balance: Option<Money> },
    /// A type we do not act on; stored and acknowledged all the same.
    Other { kind: String },
}

/// Reads an inbound webhook's body.
pub fn decode(body: &[u8]) -> Result<InboundEvent, String> {
    let json: Value = serde_json::from_slice(body).map_err(|e| format!("not JSON ({e})"))?;
    let top = json.as_object().ok_or("not a JSON object")?;
    let kind = top
        .get("type")
        .or_else(|| top.get("event"))
        .or_else(|| top.get("action"))
        .and_then(text_of)
        .unwrap_or_default()
        .trim()
        .to_ascii_lowercase();
    let data = match top.get("data") {
        Some(Value::Object(d)) => d,
        _ => top,
    };
    let field = |names: &[&str]| names.iter().find_map(|n| data.get(*n));

    if kind.contains("balance") {
        let balance = field(&["balance", "amount"]).and_then(decimal).map(Money);
        return Ok(InboundEvent::Balance { balance });
    }
    let order = field(&["order", "order_id", "orderId"])
        .or_else(|| (!kind.is_empty() || data.contains_key("status")).then(|| data.get("id"))?)
        .and_then(as_u64);
    let Some(order) = order else {
        if kind.is_empty() {
            return Err("neither a type nor an order".into());
        }
        return Ok(InboundEvent::Other { kind });
    };
    let status = match field(&["status", "new_status"]).and_then(text_of) {
        Some(text) => OrderStatus::parse(&text),
        None => match kind.rsplit(['.', '_']).next().unwrap_or("") {
            "completed" | "complete" => OrderStatus::Completed,
            "partial" => OrderStatus::Partial,
            "failed" | "canceled" | "cancelled" => OrderStatus::Canceled,
            "refunded" => OrderStatus::Refunded,
            _ => return Err(format!("order {order} without a status")),
        },
    };
    Ok(InboundEvent::Order {
        order: OrderId(order),
        service: field(&["service", "service_id"])
            .and_then(as_u64)
            .map(ServiceId),
        status,
        remains: field(&["remains"]).and_then(as_u64),
        charge: field(&["charge"]).and_then(decimal).map(Money),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::Secret;

    const SECRET: &str = "whsec_C2FVsBQIhrscChlQIMV+b5sSYspob7oD";

    fn headers(pairs: Vec<(&'static str, String)>) -> impl Fn(&str) -> Option<String> {
        move |name| {
            pairs
                .iter()
                .find(|(k, _)| *k == name)
                .map(|(_, v)| v.clone())
        }
    }

    #[test]
    fn standard_webhooks_golden_vector_and_refusals() {
        let auth = InboundAuth::Standard(Secret::new(SECRET));
        let body = br#"{"email":"test@example.com","username":"test_user"}"#;
        let good = "v1,tZ1I4/hDygAJgO5TYxiSd6Sd0kDW6hPenDe+bTa3Kkw=";
        let at = 1_649_367_553;
        let tolerance = Duration::from_secs(300);
        let with = |sig: &str, stamp: i64| {
            headers(vec![
                ("webhook-id", "msg_27UH4WbU6Z5A5EzD8u03UvzRbpk".into()),
                ("webhook-timestamp", stamp.to_string()),
                ("webhook-signature", sig.to_string()),
            ])
        };
        let id = verify(&auth, &with(good, at), body, at + 10, tolerance).unwrap();
        assert_eq!(id, "msg_27UH4WbU6Z5A5EzD8u03UvzRbpk");
        let bad = "v1,AAAA4/hDygAJgO5TYxiSd6Sd0kDW6hPenDe+bTa3Kkw=";
        assert_eq!(
            verify(&auth, &with(bad, at), body, at, tolerance),
            Err(Refusal::Signature)
        );
        assert_eq!(
            verify(&auth, &with(good, at), body, at + 301, tolerance),
            Err(Refusal::Stale)
        );
        assert_eq!(
            verify(&auth, &headers(vec![]), body, at, tolerance),
            Err(Refusal::Signature)
        );
    }

    #[test]
    fn plain_hmac_in_a_named_header() {
        let secret = "a-shared-secret-of-some-length";
        let auth = InboundAuth::Hmac {
            header: "x-signature".into(),
            secret: Secret::new(secret),
        };
        let body = br#"{"id":"e1","type":"order.completed","data":{"order":5,"service":17}}"#;
        let mut mac = Hmac::<Sha256>::new_from_slice(secret.as_bytes()).unwrap();
        mac.update(body);
        let sig = hex(&mac.finalize().into_bytes());
        let tolerance = Duration::from_secs(300);
        for value in [sig.clone(), format!("sha256={sig}")] {
            let h = headers(vec![("x-signature", value)]);
            assert_eq!(verify(&auth, &h, body, 0, tolerance).unwrap(), "e1");
        }
        let h = headers(vec![("x-signature", "00".repeat(32))]);
        assert_eq!(
            verify(&auth, &h, body, 0, tolerance),
            Err(Refusal::Signature)
        );
    }

    #[test]
    fn payloads_in_their_shapes() {
        let cases: Vec<(&str, InboundEvent)> = vec![
            (
                r#"{"type":"order.completed","data":{"order":"5","service":17}}"#,
                InboundEvent::Order {
                    order: OrderId(5),
                    service: Some(ServiceId(17)),
                    status: OrderStatus::Completed,
                    remains: None,
                    charge: None,
                },
            ),
            (
                r#"{"event":"order_failed","order_id":6}"#,
                InboundEvent::Order {
                    order: OrderId(6),
                    service: None,
                    status: OrderStatus::Canceled,
                    remains: None,
                    charge: None,
                },
            ),
            (
                r#"{"type":"order.updated","data":{"id":7,"status":"Partial","remains":"157","charge":0.5}}"#,
                InboundEvent::Order {
                    order: OrderId(7),
                    service: None,
                    status: OrderStatus::Partial,
                    remains: Some(157),
                    charge: Some(Money("0.5".parse().unwrap())),
                },
            ),
            (
                r#"{"type":"balance.low","data":{"balance":"3.20"}}"#,
                InboundEvent::Balance {
                    balance: Some(Money("3.20".parse().unwrap())),
                },
            ),
            (
                r#"{"type":"ping"}"#,
                InboundEvent::Other {
                    kind: "ping".into(),
                },
            ),
        ];
        for (body, want) in cases {
            assert_eq!(decode(body.as_bytes()).unwrap(), want, "{body}");
        }
        for bad in [
            "",
            "[]",
            "{}",
            r#"{"type":"order.updated","data":{"order":1}}"#,
        ] {
            assert!(decode(bad.as_bytes()).is_err(), "{bad}");
        }
    }
}
