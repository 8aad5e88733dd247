//! Decoding admin API v2 answers into orders, absorbing the drift real panels show.
//!
//! Pure functions over (HTTP status, content type, body): no I/O, no clock, no key. They
//! classify every answer either as a page of orders or as a [`DecodeError`] of one
//! [`PanelErrorKind`]; the HTTP client adds what only it knows (the panel name, the
//! `Retry-After` header, the key to redact).
//!
//! What is absorbed rather than refused (see `shared/reference/smm-panel-api.md`): numbers as
//! JSON strings or numbers, placeholders where numbers belong (read as unknown), status
//! spellings, `charge` as an object or a bare value, `created_timestamp` or `created`, `list` as
//! an array or as an object keyed by id, empty lists as `{}` or `[]`, JSON sent as
//! `text/plain`. One malformed order is skipped with a warning; it never fails its page.
//! `start_count` is read by nobody here: [`Order`] has no use for it, so its `0`, `""` and
//! placeholders cannot fail a page.

use std::str::FromStr;

use chrono::{DateTime, NaiveDateTime, Utc};
use rust_decimal::Decimal;
use serde_json::{Map, Value};

use crate::domain::{Money, Order, OrderId, OrderStatus, ServiceId};
use crate::panel::{excerpt, PanelErrorKind};

mod typed;

/// How much of a body a [`DecodeError`] keeps for its excerpt, in characters. Longer than the
/// excerpt itself so the key can be redacted before the excerpt is cut.
const KEPT_CHARS: usize = 4096;

/// One page of `GET /orders`, decoded.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct OrdersPage {
    pub orders: Vec<Order>,
    /// How many entries `data.list` held, skipped ones included: a page is short when this is
    /// below the limit asked for.
    pub entries: usize,
    /// `data.count`: the orders matching the filters over all pages, when the panel says.
    pub count: Option<u64>,
    /// Whether `pagination.next_page_href` points somewhere; `None` when it is absent.
    pub has_next: Option<bool>,
    /// Orders skipped and statuses not understood, one line each.
    pub warnings: Vec<String>,
}

/// An answer that carries no orders, classified. `what` says which part of the answer the
/// excerpt comes from; the excerpt is not redacted yet: use [`DecodeError::detail`] with the
/// key, or [`crate::panel::PanelError::from_decode`].
#[derive(Clone, Debug, PartialEq, thiserror::Error)]
#[error("{kind} (HTTP {status}, {})", self.detail(""))]
pub struct DecodeError {
    pub kind: PanelErrorKind,
    pub status: u16,
    /// What the excerpt is: `HTML body`, `body`, `error_message`, `empty body`, ...
    pub what: String,
    /// The raw text behind the excerpt, single-lined and cut at [`KEPT_CHARS`].
    pub raw: String,
}

impl DecodeError {
    pub(crate) fn new(
        kind: PanelErrorKind,
        status: u16,
        what: impl Into<String>,
        raw: &str,
    ) -> Self {
        DecodeError {
            kind,
            status,
            what: what.into(),
            raw: raw.chars().take(KEPT_CHARS).collect(),
        }
    }

    /// `what: "excerpt"`, with `secret` redacted and the excerpt cut short.
    pub fn detail(&self, secret: &str) -> String {
        if self.raw.trim().is_empty() {
            self.what.clone()
        } else {
            format!("{}: {:?}", self.what, excerpt(&self.raw, secret))
        }
    }
}

/// Decodes one answer of `GET {base}/orders`.
pub fn admin_orders_page(
    status: u16,
    content_type: Option<&str>,
    body: &[u8],
) -> Result<OrdersPage, DecodeError> {
    let text = String::from_utf8_lossy(body);
    let trimmed = text.trim();

    if (300..400).contains(&status) {
        return Err(DecodeError::new(
            PanelErrorKind::Http { status },
            status,
            "redirect not followed",
            "",
        ));
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
            401 => PanelErrorKind::Auth,
            _ => PanelErrorKind::BadBody,
        };
        return Err(DecodeError::new(kind, status, "empty body", ""));
    }
    if looks_like_html(content_type, trimmed) {
        let kind = if matches!(status, 403 | 503) && is_challenge(trimmed) {
            PanelErrorKind::Blocked
        } else {
            PanelErrorKind::BadBody
        };
        return Err(DecodeError::new(kind, status, "HTML body", trimmed));
    }

    // Most answers are plain pages: read them without building a `Value` tree.
    if let Some(page) = (200..300)
        .contains(&status)
        .then(|| typed::page(trimmed))
        .flatten()
    {
        return Ok(page);
    }
    let json: Value = match serde_json::from_str(trimmed) {
        Ok(json) => json,
        Err(e) => {
            let what = format!("not JSON ({e})");
            let kind = match status {
                200..=299 => PanelErrorKind::BadBody,
                _ => PanelErrorKind::Http { status },
            };
            return Err(DecodeError::new(kind, status, what, trimmed));
        }
    };
    if let Some(err) = error_in(status, &json) {
        return Err(err);
    }
    if !(200..300).contains(&status) {
        let kind = match status {
            401 | 403 => PanelErrorKind::Auth,
            _ => PanelErrorKind::Http { status },
        };
        return Err(DecodeError::new(kind, status, "body", trimmed));
    }

    page(&json).map_err(|what| DecodeError::new(PanelErrorKind::BadBody, status, what, trimmed))
}

pub(crate) fn looks_like_html(content_type: Option<&str>, body: &str) -> bool {
    let html_type = content_type.is_some_and(|t| t.to_ascii_lowercase().contains("html"));
    html_type || body.starts_with('<')
}

/// Markers of the challenge pages Cloudflare, DDoS-Guard, Sucuri and friends serve.
pub(crate) fn is_challenge(body: &str) -> bool {
    let lower = body.to_ascii_lowercase();
    [
        "cloudflare",
        "just a moment",
        "attention required",
        "captcha",
        "ddos-guard",
        "ddos protection",
        "checking your browser",
        "cf-chl",
        "sucuri",
    ]
    .iter()
    .any(|marker| lower.contains(marker))
}

/// Finds an error the panel reported inside a JSON answer: a non-zero `error_code`, or an
/// `error` text.
fn error_in(status: u16, json: &Value) -> Option<DecodeError> {
    let obj = json.as_object()?;
    let code = obj.get("error_code").and_then(as_i64).unwrap_or(0);
    let message = obj
        .get("error_message")
        .or_else(|| obj.get("message"))
        .and_then(text_of)
        .unwrap_or_default();
    let error_text = obj.get("error").and_then(text_of).unwrap_or_default();

    if code != 0 {
        let kind = classify(status, &message, PanelErrorKind::Api { code });
        return Some(DecodeError::new(kind, status, "error_message", &message));
    }
    if !error_text.is_empty() && !obj.contains_key("data") {
        let kind = classify(status, &error_text, PanelErrorKind::Api { code: 0 });
        return Some(DecodeError::new(kind, status, "error", &error_text));
    }
    if matches!(status, 401 | 403) {
        let raw = if message.is_empty() {
            json.to_string()
        } else {
            message
        };
        return Some(DecodeError::new(PanelErrorKind::Auth, status, "body", &raw));
    }
    None
}

/// Loose matching over an error text: panels word (or key) their errors in many ways.
pub(crate) fn classify(status: u16, text: &str, otherwise: PanelErrorKind) -> PanelErrorKind {
    let lower = text.to_lowercase();
    let has = |words: &[&str]| words.iter().any(|w| lower.contains(w));
    if has(&[
        "too many",
        "rate limit",
        "rate-limit",
        "rate_limit",
        "ratelimit",
        "throttl",
        "slow down",
        "limit exceeded",
        "requests limit",
    ]) {
        PanelErrorKind::RateLimited { retry_after: None }
    } else if matches!(status, 401 | 403) || has(&["key", "auth", "token"]) {
        PanelErrorKind::Auth
    } else {
        otherwise
    }
}

/// The page inside a successful answer; `Err` names what is missing.
fn page(json: &Value) -> Result<OrdersPage, String> {
    let data = json
        .get("data")
        .and_then(Value::as_object)
        .ok_or("body without a data object")?;
    let entries: Vec<(Option<&str>, &Value)> = match data.get("list") {
        Some(Value::Array(items)) => items.iter().map(|v| (None, v)).collect(),
        Some(Value::Object(items)) => items.iter().map(|(k, v)| (Some(k.as_str()), v)).collect(),
        Some(Value::Null) => Vec::new(),
        Some(_) => return Err("body whose data.list is neither a list nor an object".into()),
        None => return Err("body without data.list".into()),
    };

    let mut out = OrdersPage {
        entries: entries.len(),
        count: data.get("count").and_then(as_u64),
        has_next: json
            .get("pagination")
            .and_then(|p| p.get("next_page_href"))
            .map(|href| text_of(href).is_some_and(|h| !h.trim().is_empty())),
        ..OrdersPage::default()
    };
    for (index, (key, value)) in entries.into_iter().enumerate() {
        match order(key, value) {
            Ok((order, warning)) => {
                out.warnings.extend(warning);
                out.orders.push(order);
            }
            Err(why) => {
                let which = key.map_or_else(|| format!("#{index}"), |k| format!("{k:?}"));
                out.warnings.push(format!("order {which} skipped: {why}"));
            }
        }
    }
    Ok(out)
}

/// One order, with a warning when its status is not understood. `key` is the order's key when
/// the list came as an object keyed by id.
fn order(key: Option<&str>, value: &Value) -> Result<(Order, Option<String>), String> {
    let obj = value.as_object().ok_or("not an object")?;
    let id = match obj.get("id").and_then(as_u64) {
        Some(id) => id,
        None => key
            .and_then(|k| k.trim().parse().ok())
            .ok_or("no usable id")?,
    };
    let service = obj
        .get("service_id")
        .or_else(|| obj.get("service"))
        .and_then(as_u64)
        .ok_or_else(|| format!("order {id} has no usable service_id"))?;
    let raw_status = obj
        .get("status")
        .and_then(text_of)
        .ok_or_else(|| format!("order {id} has no status"))?;
    let created = created(obj).ok_or_else(|| format!("order {id} has no usable creation time"))?;

    let status = OrderStatus::parse(&raw_status);
    let warning = match &status {
        OrderStatus::Unknown(raw) => Some(format!("order {id} has an unknown status {raw:?}")),
        _ => None,
    };
    let order = Order {
        id: OrderId(id),
        service: ServiceId(service),
        service_name: obj
            .get("service_name")
            .and_then(text_of)
            .unwrap_or_default(),
        status,
        quantity: obj.get("quantity").and_then(as_u64),
        remains: obj.get("remains").and_then(as_u64),
        provider: obj
            .get("provider")
            .and_then(text_of)
            .filter(|p| !p.trim().is_empty()),
        charge: obj.get("charge").and_then(charge),
        created,
    };
    Ok((order, warning))
}

/// `created_timestamp` (unix seconds) when usable, else `created` as UTC.
fn created(obj: &Map<String, Value>) -> Option<DateTime<Utc>> {
    let from_stamp = obj
        .get("created_timestamp")
        .and_then(as_i64)
        .filter(|s| *s > 0)
        .and_then(|s| DateTime::from_timestamp(s, 0));
    from_stamp.or_else(|| {
        let text = obj.get("created").and_then(text_of)?;
        let text = text.trim();
        NaiveDateTime::parse_from_str(text, "%Y-%m-%d %H:%M:%S")
            .map(|n| n.and_utc())
            .ok()
            .or_else(|| DateTime::parse_from_rfc3339(text).ok().map(|d| d.to_utc()))
    })
}

/// `charge` as `{value, currency_code, formatted}` or as a bare string or number.
fn charge(value: &Value) -> Option<Money> {
    match value {
        Value::Object(obj) => obj.get("value").and_then(decimal).map(Money),
        other => decimal(other).map(Money),
    }
}

/// A decimal from a JSON string or number, read from its text so floats never round.
pub(crate) fn decimal(value: &Value) -> Option<Decimal> {
    let text = match value {
        Value::String(s) => s.trim().to_string(),
        Value::Number(n) => n.to_string(),
        _ => return None,
    };
    Decimal::from_str(&text)
        .or_else(|_| Decimal::from_scientific(&text))
        .ok()
}

/// A whole non-negative number from a JSON number or string; placeholders are `None`.
pub(crate) fn as_u64(value: &Value) -> Option<u64> {
    let d = decimal(value)?;
    if d.is_sign_negative() || !d.fract().is_zero() {
        return None;
    }
    u64::try_from(d).ok()
}

pub(crate) fn as_i64(value: &Value) -> Option<i64> {
    let d = decimal(value)?;
    if !d.fract().is_zero() {
        return None;
    }
    i64::try_from(d).ok()
}

/// Text from a string, or a number's text (providers and names are sometimes numbers).
pub(crate) fn text_of(value: &Value) -> Option<String> {
    match value {
        Value::String(s) => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn ok_body(list: Value) -> Vec<u8> {
        json!({
            "data": {"count": 1, "list": list},
            "pagination": {"next_page_href": "", "offset": 0, "limit": 100},
            "error_code": 0,
            "error_message": ""
        })
        .to_string()
        .into_bytes()
    }

    fn base_order() -> Value {
        json!({
            "id": 23501, "service_id": 17, "service_name": "TikTok Views",
            "status": "completed", "quantity": 1000, "remains": 0, "start_count": 3572,
            "charge": {"value": "0.27819", "currency_code": "USD", "formatted": "$0.27819"},
            "provider": "bulkfollows.example", "created": "2024-05-01 10:00:00",
            "created_timestamp": 1714557600
        })
    }

    fn expected() -> Order {
        Order {
            id: OrderId(23501),
            service: ServiceId(17),
            service_name: "TikTok Views".into(),
            status: OrderStatus::Completed,
            quantity: Some(1000),
            remains: Some(0),
            provider: Some("bulkfollows.example".into()),
            charge: Some(Money(Decimal::from_str("0.27819").unwrap())),
            created: DateTime::from_timestamp(1_714_557_600, 0).unwrap(),
        }
    }

    fn with(changes: &[(&str, Value)]) -> Value {
        let mut order = base_order();
        for (key, value) in changes {
            if value.is_null() {
                order.as_object_mut().unwrap().remove(*key);
            } else {
                order[*key] = value.clone();
            }
        }
        order
    }

    fn decode_one(order: Value) -> Order {
        let page = admin_orders_page(200, Some("application/json"), &ok_body(json!([order])))
            .unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(page.orders.len(), 1, "{:?}", page.warnings);
        page.orders.into_iter().next().unwrap()
    }

    #[test]
    fn drifted_fields_decode_to_the_same_order() {
        let null = Value::Null;
        let cases: Vec<(&str, Value)> = vec![
            ("as given", base_order()),
            (
                "numbers as strings",
                with(&[
                    ("id", json!("23501")),
                    ("service_id", json!("17")),
                    ("quantity", json!("1000")),
                    ("remains", json!("0")),
                    ("created_timestamp", json!("1714557600")),
                ]),
            ),
            ("start_count zero", with(&[("start_count", json!(0))])),
            ("start_count empty", with(&[("start_count", json!(""))])),
            (
                "start_count placeholder",
                with(&[("start_count", json!("N/A"))]),
            ),
            ("charge value as number", {
                with(&[("charge", json!({"value": 0.27819, "currency_code": "USD"}))])
            }),
            ("charge as string", with(&[("charge", json!("0.27819"))])),
            ("charge as number", with(&[("charge", json!(0.27819))])),
            ("status in caps", with(&[("status", json!("COMPLETED"))])),
            ("only created", with(&[("created_timestamp", null.clone())])),
            ("zero timestamp", with(&[("created_timestamp", json!(0))])),
            ("service key", {
                let mut o = with(&[("service_id", null.clone())]);
                o["service"] = json!(17);
                o
            }),
        ];
        for (name, order) in cases {
            assert_eq!(decode_one(order), expected(), "{name}");
        }
    }

    #[test]
    fn status_spellings_normalise() {
        let cases = [
            ("in_progress", OrderStatus::InProgress),
            ("inprogress", OrderStatus::InProgress),
            ("In Progress", OrderStatus::InProgress),
            ("canceled", OrderStatus::Canceled),
            ("cancelled", OrderStatus::Canceled),
            ("Partial", OrderStatus::Partial),
            ("processing", OrderStatus::Processing),
            ("pending", OrderStatus::Pending),
        ];
        for (raw, want) in cases {
            let order = decode_one(with(&[("status", json!(raw))]));
            assert_eq!(order.status, want, "{raw}");
        }
    }

    #[test]
    fn unknown_status_is_kept_with_a_warning() {
        let body = ok_body(json!([with(&[("status", json!("Awaiting"))])]));
        let page = admin_orders_page(200, None, &body).unwrap();
        assert_eq!(
            page.orders[0].status,
            OrderStatus::Unknown("Awaiting".into())
        );
        assert_eq!(page.warnings.len(), 1);
        assert!(page.warnings[0].contains("Awaiting"), "{:?}", page.warnings);
    }

    #[test]
    fn placeholders_and_missing_fields_are_unknown_not_errors() {
        let order = decode_one(with(&[
            ("quantity", json!("")),
            ("remains", json!("-")),
            ("charge", json!("n/a")),
            ("provider", Value::Null),
            ("service_name", Value::Null),
        ]));
        assert_eq!(order.quantity, None);
        assert_eq!(order.remains, None);
        assert_eq!(order.charge, None);
        assert_eq!(order.provider, None);
        assert_eq!(order.service_name, "");

        let numeric_provider = decode_one(with(&[("provider", json!(12))]));
        assert_eq!(numeric_provider.provider.as_deref(), Some("12"));
    }

    #[test]
    fn money_keeps_every_decimal() {
        let order = decode_one(with(&[("charge", json!({"value": "0.1234567"}))]));
        assert_eq!(order.charge.unwrap().to_string(), "0.1234567");
        let order = decode_one(with(&[("charge", json!(0.1))]));
        assert_eq!(order.charge.unwrap().0, Decimal::from_str("0.1").unwrap());
        let order = decode_one(with(&[("charge", json!(1e-5))]));
        assert_eq!(
            order.charge.unwrap().0,
            Decimal::from_str("0.00001").unwrap()
        );
    }

    #[test]
    fn list_as_object_keyed_by_id() {
        let mut second = base_order();
        second["id"] = json!(23502);
        let mut keyed_only = base_order();
        keyed_only.as_object_mut().unwrap().remove("id");
        let list = json!({"23501": base_order(), "23502": second, "23503": keyed_only});
        let page = admin_orders_page(200, None, &ok_body(list)).unwrap();
        let mut ids: Vec<u64> = page.orders.iter().map(|o| o.id.0).collect();
        ids.sort();
        assert_eq!(ids, [23501, 23502, 23503]);
        assert_eq!(page.entries, 3);
    }

    #[test]
    fn empty_lists_in_every_shape() {
        for list in [json!([]), json!({}), Value::Null] {
            let page = admin_orders_page(200, None, &ok_body(list.clone())).unwrap();
            assert!(page.orders.is_empty(), "{list}");
            assert_eq!(page.entries, 0);
            assert_eq!(page.has_next, Some(false));
        }
    }

    #[test]
    fn one_malformed_order_is_skipped_with_a_warning() {
        let list = json!([
            with(&[("id", Value::Null)]),
            with(&[("id", json!(2)), ("service_id", json!("abc"))]),
            with(&[("id", json!(3)), ("status", Value::Null)]),
            with(&[
                ("id", json!(4)),
                ("created", Value::Null),
                ("created_timestamp", Value::Null)
            ]),
            json!("not an order"),
            with(&[("id", json!(5))]),
        ]);
        let page = admin_orders_page(200, None, &ok_body(list)).unwrap();
        assert_eq!(page.orders.len(), 1);
        assert_eq!(page.orders[0].id, OrderId(5));
        assert_eq!(page.entries, 6);
        assert_eq!(page.warnings.len(), 5, "{:?}", page.warnings);
    }

    #[test]
    fn pagination_and_count() {
        let body = json!({
            "data": {"count": "1250", "list": []},
            "pagination": {"next_page_href": "https://p.example/adminapi/v2/orders?offset=500"},
            "error_code": "0"
        });
        let page = admin_orders_page(200, None, body.to_string().as_bytes()).unwrap();
        assert_eq!(page.count, Some(1250));
        assert_eq!(page.has_next, Some(true));
        let body = json!({"data": {"list": []}});
        let page = admin_orders_page(200, None, body.to_string().as_bytes()).unwrap();
        assert_eq!((page.count, page.has_next), (None, None));
        let body = json!({"data": {"list": []}, "pagination": {"next_page_href": null}});
        let page = admin_orders_page(200, None, body.to_string().as_bytes()).unwrap();
        assert_eq!(page.has_next, Some(false));
    }

    #[test]
    fn json_as_text_plain_is_fine() {
        let body = ok_body(json!([base_order()]));
        let page = admin_orders_page(200, Some("text/plain; charset=utf-8"), &body).unwrap();
        assert_eq!(page.orders, vec![expected()]);
    }

    #[test]
    fn failures_are_classified() {
        use PanelErrorKind::*;
        let limited = RateLimited { retry_after: None };
        let challenge = "<!DOCTYPE html><html><head><title>Just a moment...</title></head>\
                         <body>Checking your browser. Cloudflare Ray ID: 1</body></html>";
        let cases: Vec<(&str, u16, Option<&str>, String, PanelErrorKind)> = vec![
            (
                "error_code on 200",
                200,
                None,
                json!({"data": [], "error_code": 5, "error_message": "Internal error"}).to_string(),
                Api { code: 5 },
            ),
            (
                "error_code as string",
                200,
                None,
                json!({"error_code": "12", "error_message": "x"}).to_string(),
                Api { code: 12 },
            ),
            (
                "bad key via error_code",
                200,
                None,
                json!({"error_code": 100, "error_message": "Invalid API key"}).to_string(),
                Auth,
            ),
            (
                "401 json",
                401,
                None,
                json!({"error_code": 401, "error_message": "Unauthorized"}).to_string(),
                Auth,
            ),
            (
                "403 json",
                403,
                Some("application/json"),
                json!({"error": "forbidden"}).to_string(),
                Auth,
            ),
            ("401 empty", 401, None, String::new(), Auth),
            (
                "403 challenge",
                403,
                Some("text/html"),
                challenge.into(),
                Blocked,
            ),
            (
                "503 ddos-guard",
                503,
                None,
                "<html><title>DDoS-Guard</title></html>".into(),
                Blocked,
            ),
            (
                "attention required",
                403,
                Some("text/html; charset=UTF-8"),
                "<html><title>Attention Required! | Cloudflare</title></html>".into(),
                Blocked,
            ),
            (
                "502 proxy page",
                502,
                Some("text/html"),
                "<html><head><title>502 Bad Gateway</title></head>\
                 <body><center>nginx</center></body></html>"
                    .into(),
                BadBody,
            ),
            (
                "cloudflare 502 is not a challenge",
                502,
                Some("text/html"),
                "<html><title>502 Bad gateway | cloudflare</title></html>".into(),
                BadBody,
            ),
            (
                "403 html without markers",
                403,
                Some("text/html"),
                "<html>Forbidden</html>".into(),
                BadBody,
            ),
            (
                "html on 200",
                200,
                None,
                "<html>maintenance</html>".into(),
                BadBody,
            ),
            (
                "empty 200",
                200,
                Some("application/json"),
                String::new(),
                BadBody,
            ),
            ("whitespace 200", 200, None, " \n ".into(), BadBody),
            ("not json", 200, Some("text/plain"), "OK".into(), BadBody),
            (
                "wrong shape",
                200,
                None,
                json!({"orders": []}).to_string(),
                BadBody,
            ),
            (
                "list is a string",
                200,
                None,
                json!({"data": {"list": "none"}}).to_string(),
                BadBody,
            ),
            ("top-level array", 200, None, "[]".into(), BadBody),
            (
                "429",
                429,
                None,
                json!({"error": "slow"}).to_string(),
                limited.clone(),
            ),
            ("429 empty", 429, None, String::new(), limited.clone()),
            (
                "rate limit in a 200 body",
                200,
                None,
                json!({"error": "Too many requests"}).to_string(),
                limited.clone(),
            ),
            (
                "rate limit as a message key",
                200,
                None,
                json!({"error": "error.rate_limit_exceeded"}).to_string(),
                limited.clone(),
            ),
            (
                "rate limit via error_code",
                200,
                None,
                json!({"error_code": 429, "error_message": "Rate limit exceeded"}).to_string(),
                limited,
            ),
            (
                "error text about the key",
                200,
                None,
                json!({"error": "Invalid API key"}).to_string(),
                Auth,
            ),
            (
                "error text about a token",
                200,
                None,
                json!({"error": "error.token_invalid"}).to_string(),
                Auth,
            ),
            (
                "other error text",
                200,
                None,
                json!({"error": "Incorrect request"}).to_string(),
                Api { code: 0 },
            ),
            (
                "500 json",
                500,
                None,
                json!({"message": "oops"}).to_string(),
                Http { status: 500 },
            ),
            (
                "500 text",
                500,
                None,
                "Internal Server Error".into(),
                Http { status: 500 },
            ),
            ("302", 302, None, String::new(), Http { status: 302 }),
        ];
        for (name, status, content_type, body, want) in cases {
            let got = admin_orders_page(status, content_type, body.as_bytes());
            match got {
                Err(e) => {
                    assert_eq!(e.kind, want, "{name}: {e}");
                    assert_eq!(e.status, status, "{name}");
                }
                Ok(page) => panic!("{name}: decoded {page:?}"),
            }
        }
    }

    #[test]
    fn details_excerpt_the_body_and_redact_the_key() {
        let body = format!(
            "<html>{} key k-123 rejected</html>",
            "Just a moment ".repeat(3)
        );
        let err = admin_orders_page(403, Some("text/html"), body.as_bytes()).unwrap_err();
        let detail = err.detail("k-123");
        assert!(
            detail.starts_with("HTML body: \"<html>Just a moment"),
            "{detail}"
        );
        assert!(!detail.contains("k-123"));

        let long = "<html>".to_string() + &"a".repeat(5000) + "k-123";
        let err = admin_orders_page(502, None, long.as_bytes()).unwrap_err();
        let detail = err.detail("k-123");
        assert!(detail.len() < 260, "{}", detail.len());

        let body = json!({"error_code": 7, "error_message": "bad\nthing"}).to_string();
        let err = admin_orders_page(200, None, body.as_bytes()).unwrap_err();
        assert_eq!(err.detail(""), "error_message: \"bad thing\"");
        let err = admin_orders_page(200, None, b"").unwrap_err();
        assert_eq!(err.detail(""), "empty body");
    }
}
