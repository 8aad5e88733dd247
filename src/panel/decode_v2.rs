//! Decoding user API v2 answers (`balance`, `status`, `services`), absorbing the drift real
//! panels show.
//!
//! Like [`super::decode`], these are pure functions over (HTTP status, content type, body):
//! no I/O, no clock, no key. One function per answer shape; all of them share the same first
//! step ([`json_answer`]), which classifies everything that is not a usable JSON document
//! (redirects, 429s, HTML proxy and challenge pages, empty and non-JSON bodies, `{"error": ..}`
//! bodies on any status, rate limits announced in a 200 body) into a [`DecodeError`].
//!
//! What is absorbed rather than refused (see `shared/reference/smm-panel-api.md`): numbers as
//! JSON strings or numbers, placeholders where numbers belong (read as unknown), `start_count`
//! of `0` or `""` (unknown, not zero), status spellings (an unknown one becomes
//! [`OrderStatus::Unknown`] with a warning), per-item errors of any shape inside a batch
//! (data, never a failed call), objects where arrays were expected and the reverse, and JSON
//! sent as `text/plain`.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use crate::domain::{Money, OrderId, OrderStatus, ServiceId};
use crate::panel::decode::{
    as_u64, classify, decimal, is_challenge, looks_like_html, text_of, DecodeError,
};
use crate::panel::PanelErrorKind;

/// The most order ids one multi-status call may carry (the template's limit).
pub const STATUS_CHUNK: usize = 100;

/// A `balance` answer.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Balance {
    pub amount: Money,
    /// `USD`, when the panel says.
    pub currency: Option<String>,
}

/// One order's state as `status` reports it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct StatusItem {
    pub order: OrderId,
    pub status: OrderStatus,
    /// Undelivered count; `None` when unknown.
    pub remains: Option<u64>,
    /// The count when the order started; `None` when the panel does not know it yet (`0`, `""`).
    pub start_count: Option<u64>,
    pub charge: Option<Money>,
}

/// A multi-status answer: the orders it reported, the per-item errors, and what was odd.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct StatusBatch {
    pub items: Vec<StatusItem>,
    /// Orders the panel answered with an error of their own (`Incorrect order ID`, ...), with
    /// the error text.
    pub errors: Vec<(OrderId, String)>,
    /// Unknown statuses, entries skipped, ids missing from the answer.
    pub warnings: Vec<String>,
}

/// One service of the `services` catalogue, as far as watching it goes.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ServiceInfo {
    pub id: ServiceId,
    pub name: String,
    /// Price per 1000 units; `None` when the panel sent nothing usable.
    pub rate: Option<Money>,
    pub min: Option<u64>,
    pub max: Option<u64>,
}

/// A `services` answer: each service once, by id.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Catalogue {
    pub services: BTreeMap<ServiceId, ServiceInfo>,
    pub warnings: Vec<String>,
}

/// The shared first step: a JSON document that is not an error, or the classified failure.
///
/// `expected` names keys whose presence marks a real answer even when an `error` key sits
/// beside them (an `{"error": ..}` object without them is the panel refusing the call).
pub fn json_answer(
    status: u16,
    content_type: Option<&str>,
    body: &[u8],
    expected: &[&str],
) -> Result<Value, DecodeError> {
    let text = String::from_utf8_lossy(body);
    let trimmed = text.trim().trim_start_matches('\u{feff}');

    if (300..400).contains(&status) {
        let kind = PanelErrorKind::Http { status };
        return Err(DecodeError::new(kind, status, "redirect not followed", ""));
    }
    if status == 429 {
        let what = if trimmed.is_empty() {
            "empty body"
        } else {
            "body"
        };
        let kind = PanelErrorKind::RateLimited { retry_after: None };
        return Err(DecodeError::new(kind, status, what, trimmed));
    }
    if trimmed.is_empty() {
        let kind = match status {
            401 | 403 => PanelErrorKind::Auth,
            200..=299 => PanelErrorKind::BadBody,
            _ => PanelErrorKind::Http { status },
        };
        return Err(DecodeError::new(kind, status, "empty body", ""));
    }
    if looks_like_html(content_type, trimmed) {
        let kind = if matches!(status, 403 | 429 | 503) && is_challenge(trimmed) {
            PanelErrorKind::Blocked
        } else {
            PanelErrorKind::BadBody
        };
        return Err(DecodeError::new(kind, status, "HTML body", trimmed));
    }
    let json: Value = match serde_json::from_str(trimmed) {
        Ok(json) => json,
        Err(e) => {
            let kind = match status {
                200..=299 => PanelErrorKind::BadBody,
                _ => PanelErrorKind::Http { status },
            };
            let what = format!("not JSON ({e})");
            return Err(DecodeError::new(kind, status, what, trimmed));
        }
    };
    if let Some(obj) = json.as_object() {
        let error = obj
            .get("error")
            .or_else(|| obj.get("errors"))
            .and_then(error_text);
        let real = expected.iter().any(|k| obj.contains_key(*k));
        if let (Some(error), false) = (error, real) {
            let kind = classify(status, &error, PanelErrorKind::Api { code: 0 });
            return Err(DecodeError::new(kind, status, "error", &error));
        }
    }
    if !(200..300).contains(&status) {
        let kind = match status {
            401 | 403 => PanelErrorKind::Auth,
            _ => PanelErrorKind::Http { status },
        };
        return Err(DecodeError::new(kind, status, "body", trimmed));
    }
    Ok(json)
}

/// An error's text from a string, a number, an object (`{"message": ..}`) or a list of them.
fn error_text(value: &Value) -> Option<String> {
    let text = match value {
        Value::String(s) => s.trim().to_string(),
        Value::Number(n) => n.to_string(),
        Value::Bool(true) => "error".to_string(),
        Value::Object(obj) => ["message", "error", "text", "msg"]
            .iter()
            .find_map(|k| obj.get(*k).and_then(error_text))
            .unwrap_or_else(|| Value::Object(obj.clone()).to_string()),
        Value::Array(items) => items
            .iter()
            .filter_map(error_text)
            .collect::<Vec<_>>()
            .join("; "),
        Value::Null | Value::Bool(false) => return None,
    };
    (!text.is_empty()).then_some(text)
}

/// Decodes a `balance` answer: `{"balance": "100.84292", "currency": "USD"}`, the number as a
/// string or a JSON number, possibly wrapped in `data`.
pub fn v2_balance(
    status: u16,
    content_type: Option<&str>,
    body: &[u8],
) -> Result<Balance, DecodeError> {
    let json = json_answer(status, content_type, body, &["balance", "data"])?;
    let text = || String::from_utf8_lossy(body).trim().to_string();
    let obj = match json.get("data") {
        Some(data @ Value::Object(_)) if json.get("balance").is_none() => data,
        _ => &json,
    };
    let raw = obj.get("balance").ok_or_else(|| {
        DecodeError::new(
            PanelErrorKind::BadBody,
            status,
            "body without balance",
            &text(),
        )
    })?;
    let amount = decimal(raw).ok_or_else(|| {
        DecodeError::new(
            PanelErrorKind::BadBody,
            status,
            "balance is not a number",
            &text(),
        )
    })?;
    Ok(Balance {
        amount: Money(amount),
        currency: obj
            .get("currency")
            .and_then(text_of)
            .map(|c| c.trim().to_string())
            .filter(|c| !c.is_empty()),
    })
}

/// Decodes a multi-status answer for the orders `asked` for.
///
/// The template answers an object keyed by order id; drifted panels answer a list of objects
/// carrying `order` (or `id`), or, for a single id, the single-status object itself. Each
/// entry is an order or an error of its own, whatever its shape: an `error` key, a bare
/// string, `null` or `false`.
pub fn v2_status_multi(
    status: u16,
    content_type: Option<&str>,
    body: &[u8],
    asked: &[OrderId],
) -> Result<StatusBatch, DecodeError> {
    let expected: Vec<String> = asked.iter().map(|id| id.to_string()).collect();
    let mut keys: Vec<&str> = expected.iter().map(String::as_str).collect();
    keys.extend(["status", "data"]);
    let json = match json_answer(status, content_type, body, &keys) {
        Ok(json) => json,
        // A lone `{"error": "Incorrect order ID"}` answers for the orders, not the call: some
        // panels send it when every id asked for is unknown.
        Err(e)
            if e.kind == (PanelErrorKind::Api { code: 0 })
                && e.raw.to_lowercase().contains("order") =>
        {
            return Ok(StatusBatch {
                errors: asked.iter().map(|id| (*id, e.raw.clone())).collect(),
                ..StatusBatch::default()
            });
        }
        Err(e) => return Err(e),
    };
    let json = match json {
        Value::Object(mut obj) if !obj.contains_key("status") && obj.contains_key("data") => {
            obj.remove("data").unwrap_or(Value::Null)
        }
        other => other,
    };

    let entries: Vec<(Option<String>, Value)> = match json {
        Value::Object(obj) if obj.contains_key("status") && asked.len() == 1 => {
            vec![(Some(asked[0].to_string()), Value::Object(obj))]
        }
        Value::Object(obj) => obj.into_iter().map(|(k, v)| (Some(k), v)).collect(),
        Value::Array(items) => items.into_iter().map(|v| (None, v)).collect(),
        Value::Null => Vec::new(),
        other => {
            let text = other.to_string();
            let what = "body that is neither an object nor a list";
            return Err(DecodeError::new(
                PanelErrorKind::BadBody,
                status,
                what,
                &text,
            ));
        }
    };

    let mut out = StatusBatch::default();
    let mut seen = std::collections::HashSet::new();
    for (index, (key, value)) in entries.into_iter().enumerate() {
        let obj = value.as_object();
        let id = obj
            .and_then(|o| o.get("order").or_else(|| o.get("id")))
            .and_then(as_u64)
            .or_else(|| key.as_deref().and_then(|k| k.trim().parse().ok()));
        let Some(id) = id.map(OrderId) else {
            let which = key.map_or_else(|| format!("#{index}"), |k| format!("{k:?}"));
            out.warnings
                .push(format!("status entry {which} skipped: no usable order id"));
            continue;
        };
        if !seen.insert(id) {
            continue;
        }
        match status_item(id, &value) {
            Ok((item, warning)) => {
                out.warnings.extend(warning);
                out.items.push(item);
            }
            Err(error) => out.errors.push((id, error)),
        }
    }
    let missing: Vec<String> = asked
        .iter()
        .filter(|id| !seen.contains(id))
        .map(|id| id.to_string())
        .collect();
    if !missing.is_empty() {
        out.warnings.push(format!(
            "the panel did not answer for order(s) {}",
            missing.join(", ")
        ));
    }
    Ok(out)
}

/// Decodes a single-status answer for `order`; a per-order error is the `Err` text of the
/// inner result.
pub fn v2_status_single(
    status: u16,
    content_type: Option<&str>,
    body: &[u8],
    order: OrderId,
) -> Result<Result<(StatusItem, Option<String>), String>, DecodeError> {
    match json_answer(status, content_type, body, &["status"]) {
        Ok(json) => Ok(status_item(order, &json)),
        Err(e)
            if e.kind == (PanelErrorKind::Api { code: 0 })
                && e.raw.to_lowercase().contains("order") =>
        {
            Ok(Err(e.raw))
        }
        Err(e) => Err(e),
    }
}

/// One entry of a status answer: an order, with a warning for an unknown status; or its error.
fn status_item(id: OrderId, value: &Value) -> Result<(StatusItem, Option<String>), String> {
    let obj = match value {
        Value::Object(obj) => obj,
        other => return Err(error_text(other).unwrap_or_else(|| "no answer".into())),
    };
    let raw_status = obj.get("status").and_then(text_of);
    let error = obj
        .get("error")
        .or_else(|| obj.get("errors"))
        .and_then(error_text);
    let raw_status = match (raw_status, error) {
        (_, Some(error)) => return Err(error),
        (Some(s), None) if s.trim().eq_ignore_ascii_case("error") => {
            let message = obj.get("message").and_then(error_text);
            return Err(message.unwrap_or_else(|| "error".into()));
        }
        (Some(s), None) => s,
        (None, None) => return Err("entry without a status".into()),
    };
    let status = OrderStatus::parse(&raw_status);
    let warning = match &status {
        OrderStatus::Unknown(raw) => Some(format!("order {id} has an unknown status {raw:?}")),
        _ => None,
    };
    let item = StatusItem {
        order: id,
        status,
        remains: obj.get("remains").and_then(as_u64),
        start_count: obj.get("start_count").and_then(as_u64).filter(|n| *n > 0),
        charge: obj.get("charge").and_then(charge),
    };
    Ok((item, warning))
}

fn charge(value: &Value) -> Option<Money> {
    match value {
        Value::Object(obj) => obj.get("value").and_then(decimal).map(Money),
        other => decimal(other).map(Money),
    }
}

/// Decodes a `services` answer: a list of services, an object keyed by id, or either wrapped
/// in `data` or `services`. A service without a usable id is skipped with a warning.
pub fn v2_services(
    status: u16,
    content_type: Option<&str>,
    body: &[u8],
) -> Result<Catalogue, DecodeError> {
    let json = json_answer(status, content_type, body, &["data", "services"])?;
    let json = match json {
        Value::Object(mut obj) if obj.contains_key("data") || obj.contains_key("services") => obj
            .remove("data")
            .or_else(|| obj.remove("services"))
            .unwrap_or(Value::Null),
        other => other,
    };
    let entries: Vec<(Option<String>, Value)> = match json {
        Value::Array(items) => items.into_iter().map(|v| (None, v)).collect(),
        Value::Object(obj) => obj.into_iter().map(|(k, v)| (Some(k), v)).collect(),
        Value::Null => Vec::new(),
        other => {
            let text = other.to_string();
            let what = "body that is neither a list nor an object";
            return Err(DecodeError::new(
                PanelErrorKind::BadBody,
                status,
                what,
                &text,
            ));
        }
    };
    let mut out = Catalogue::default();
    for (index, (key, value)) in entries.into_iter().enumerate() {
        let Some(obj) = value.as_object() else {
            out.warnings
                .push(format!("service #{index} skipped: not an object"));
            continue;
        };
        match service(key.as_deref(), obj) {
            Some(info) => {
                out.services.insert(info.id, info);
            }
            None => out
                .warnings
                .push(format!("service #{index} skipped: no usable id")),
        }
    }
    Ok(out)
}

fn service(key: Option<&str>, obj: &Map<String, Value>) -> Option<ServiceInfo> {
    let id = obj
        .get("service")
        .or_else(|| obj.get("id"))
        .and_then(as_u64)
        .or_else(|| key.and_then(|k| k.trim().parse().ok()))?;
    Some(ServiceInfo {
        id: ServiceId(id),
        name: obj.get("name").and_then(text_of).unwrap_or_default(),
        rate: obj.get("rate").and_then(decimal).map(Money),
        min: obj.get("min").and_then(as_u64),
        max: obj.get("max").and_then(as_u64),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use rust_decimal::Decimal;
    use serde_json::json;
    use std::str::FromStr;

    fn money(text: &str) -> Money {
        Money(Decimal::from_str(text).unwrap())
    }

    #[test]
    fn balances_in_every_shape() {
        let cases = [
            (
                json!({"balance": "100.84292", "currency": "USD"}),
                "100.84292",
            ),
            (
                json!({"balance": 100.84292, "currency": "USD"}),
                "100.84292",
            ),
            (json!({"balance": "0.1234567"}), "0.1234567"),
            (json!({"data": {"balance": 5}}), "5"),
            (json!({"balance": " 7.5 ", "currency": ""}), "7.5"),
        ];
        for (body, want) in cases {
            let got = v2_balance(200, Some("text/plain"), body.to_string().as_bytes())
                .unwrap_or_else(|e| panic!("{body}: {e}"));
            assert_eq!(got.amount, money(want), "{body}");
        }
        let usd = v2_balance(200, None, br#"{"balance":"1","currency":"USD"}"#).unwrap();
        assert_eq!(usd.currency.as_deref(), Some("USD"));
        let err = v2_balance(200, None, br#"{"balance":"N/A"}"#).unwrap_err();
        assert_eq!(err.kind, PanelErrorKind::BadBody);
        let err = v2_balance(200, None, br#"{"currency":"USD"}"#).unwrap_err();
        assert_eq!(err.kind, PanelErrorKind::BadBody);
    }

    fn ids(list: &[u64]) -> Vec<OrderId> {
        list.iter().copied().map(OrderId).collect()
    }

    #[test]
    fn multi_status_keyed_by_id_with_per_item_errors() {
        let body = json!({
            "1": {"charge": "0.27819", "start_count": "3572", "status": "Partial",
                  "remains": "157", "currency": "USD"},
            "2": {"charge": 0.5, "start_count": 0, "status": "in_progress", "remains": 10},
            "10": {"error": "Incorrect order ID"},
            "11": "Incorrect order ID",
            "12": null,
            "13": {"status": "error", "message": "Order not found"},
            "14": {"error": {"code": 3, "message": "deleted"}},
        });
        let batch = v2_status_multi(
            200,
            None,
            body.to_string().as_bytes(),
            &ids(&[1, 2, 10, 11, 12, 13, 14]),
        )
        .unwrap();
        assert_eq!(batch.items.len(), 2);
        let one = batch.items.iter().find(|i| i.order == OrderId(1)).unwrap();
        assert_eq!(one.status, OrderStatus::Partial);
        assert_eq!(one.remains, Some(157));
        assert_eq!(one.start_count, Some(3572));
        assert_eq!(one.charge, Some(money("0.27819")));
        let two = batch.items.iter().find(|i| i.order == OrderId(2)).unwrap();
        assert_eq!(two.status, OrderStatus::InProgress);
        assert_eq!(two.start_count, None, "0 means not known yet");
        let mut errors = batch.errors.clone();
        errors.sort();
        assert_eq!(errors.len(), 5, "{errors:?}");
        assert!(errors.contains(&(OrderId(10), "Incorrect order ID".into())));
        assert!(errors.contains(&(OrderId(13), "Order not found".into())));
        assert!(errors.contains(&(OrderId(14), "deleted".into())));
    }

    #[test]
    fn multi_status_as_a_list_or_a_single_object() {
        let body = json!([
            {"order": "5", "status": "Completed", "remains": "0"},
            {"id": 6, "status": "Cancelled", "remains": "100"},
            {"order": 7, "error": "Incorrect order ID"},
            {"status": "Completed"},
        ]);
        let batch =
            v2_status_multi(200, None, body.to_string().as_bytes(), &ids(&[5, 6, 7])).unwrap();
        assert_eq!(batch.items.len(), 2);
        assert_eq!(batch.items[1].status, OrderStatus::Canceled);
        assert_eq!(
            batch.errors,
            vec![(OrderId(7), "Incorrect order ID".into())]
        );
        assert!(batch.warnings[0].contains("#3"), "{:?}", batch.warnings);

        let single = json!({"charge": "1", "status": "Pending", "remains": "", "start_count": ""});
        let batch = v2_status_multi(200, None, single.to_string().as_bytes(), &ids(&[9])).unwrap();
        assert_eq!(batch.items[0].order, OrderId(9));
        assert_eq!(batch.items[0].remains, None);

        for empty in ["{}", "[]", "null"] {
            let batch = v2_status_multi(200, None, empty.as_bytes(), &ids(&[3])).unwrap();
            assert!(batch.items.is_empty());
            assert!(batch.warnings[0].contains("did not answer"), "{empty}");
        }
    }

    #[test]
    fn a_lone_order_error_is_per_item_data() {
        let body = br#"{"error":"Incorrect order ID"}"#;
        let batch = v2_status_multi(200, None, body, &ids(&[8, 9])).unwrap();
        assert_eq!(
            batch.errors,
            vec![
                (OrderId(8), "Incorrect order ID".into()),
                (OrderId(9), "Incorrect order ID".into())
            ]
        );
        let limited = v2_status_multi(200, None, br#"{"error":"Too many requests"}"#, &ids(&[8]));
        assert!(matches!(
            limited.unwrap_err().kind,
            PanelErrorKind::RateLimited { .. }
        ));
    }

    #[test]
    fn unknown_statuses_warn() {
        let body = json!({"4": {"status": "Awaiting moderation"}});
        let batch = v2_status_multi(200, None, body.to_string().as_bytes(), &ids(&[4])).unwrap();
        assert_eq!(
            batch.items[0].status,
            OrderStatus::Unknown("Awaiting moderation".into())
        );
        assert!(batch.warnings[0].contains("unknown status"));
    }

    #[test]
    fn single_status_and_its_error() {
        let ok = v2_status_single(
            200,
            None,
            br#"{"status":"Refunded","remains":"5"}"#,
            OrderId(1),
        )
        .unwrap()
        .unwrap();
        assert_eq!(ok.0.status, OrderStatus::Refunded);
        let err = v2_status_single(200, None, br#"{"error":"Incorrect order ID"}"#, OrderId(1));
        assert_eq!(err.unwrap(), Err("Incorrect order ID".to_string()));
        let err = v2_status_single(200, None, br#"{"error":"Invalid API key"}"#, OrderId(1));
        assert_eq!(err.unwrap_err().kind, PanelErrorKind::Auth);
    }

    #[test]
    fn services_in_every_shape() {
        let list = json!([
            {"service": 1, "name": "IG Followers", "type": "Default", "category": "IG",
             "rate": "0.90", "min": "50", "max": 10000, "refill": true, "cancel": false},
            {"service": "2", "name": "TT Views", "rate": 0.0123456, "min": 100, "max": "1000000"},
            {"name": "no id"},
            "junk",
        ]);
        let cat = v2_services(200, None, list.to_string().as_bytes()).unwrap();
        assert_eq!(cat.services.len(), 2);
        let one = &cat.services[&ServiceId(1)];
        assert_eq!(
            (one.rate, one.min, one.max),
            (Some(money("0.90")), Some(50), Some(10000))
        );
        assert_eq!(cat.services[&ServiceId(2)].rate, Some(money("0.0123456")));
        assert_eq!(cat.warnings.len(), 2);

        let keyed = json!({"data": {"7": {"name": "x", "rate": "1", "min": 1, "max": 2}}});
        let cat = v2_services(200, None, keyed.to_string().as_bytes()).unwrap();
        assert!(cat.services.contains_key(&ServiceId(7)));
        let cat = v2_services(200, None, b"{}").unwrap();
        assert!(cat.services.is_empty());
    }

    #[test]
    fn failures_are_classified() {
        use PanelErrorKind::*;
        let limited = RateLimited { retry_after: None };
        let challenge = "<!DOCTYPE html><title>Just a moment...</title>Cloudflare";
        let cases: Vec<(&str, u16, Option<&str>, &str, PanelErrorKind)> = vec![
            ("bad key", 200, None, r#"{"error":"Invalid API key"}"#, Auth),
            ("403 json", 403, None, r#"{"error":"Forbidden"}"#, Auth),
            (
                "rate body",
                200,
                None,
                r#"{"error":"Too many requests"}"#,
                limited.clone(),
            ),
            ("429", 429, None, "", limited.clone()),
            ("challenge", 403, Some("text/html"), challenge, Blocked),
            (
                "502 html",
                502,
                Some("text/html"),
                "<html>502 Bad Gateway</html>",
                BadBody,
            ),
            ("empty", 200, None, "", BadBody),
            ("not json", 200, Some("text/plain"), "OK", BadBody),
            ("302", 302, None, "", Http { status: 302 }),
            ("500 text", 500, None, "oops", Http { status: 500 }),
            (
                "error list",
                200,
                None,
                r#"{"errors":["bad action"]}"#,
                Api { code: 0 },
            ),
            ("neither", 200, None, "\"text\"", BadBody),
        ];
        for (name, status, ct, body, want) in cases {
            let err = v2_status_multi(status, ct, body.as_bytes(), &ids(&[1])).expect_err(name);
            assert_eq!(err.kind, want, "{name}: {err}");
            let err = v2_services(status, ct, body.as_bytes()).expect_err(name);
            assert_eq!(err.kind, want, "services, {name}: {err}");
            if name != "neither" {
                let err = v2_balance(status, ct, body.as_bytes()).expect_err(name);
                assert_eq!(err.kind, want, "balance, {name}: {err}");
            }
        }
    }
}
