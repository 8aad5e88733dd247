//! The simulated panel's user API v2: `POST /api/v2`, form-encoded `key` + `action`.
//!
//! Serves `balance`, `status` (single `order`, or `orders` = a comma list, with a per-item
//! error for ids it does not know or was told to miss) and `services`, from the same orders
//! the admin API serves. Faults ([`super::panel::Fault`]) apply here as on the admin API. With
//! drift on, answers vary the way real panels do: numbers as strings or JSON numbers, status
//! spellings, `start_count` as `0` or `""`, money as floats, multi-status as a list instead of
//! an object, per-item errors of several shapes, JSON sent as `text/plain`. The variation is
//! seeded by the request, so the same request always gets the same rendering.

use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{header, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use serde_json::{json, Map, Value};

use crate::sim::panel::{fault_answer, float_text, spell, Shared, SimOrder};

pub(crate) async fn answer(State(shared): State<Arc<Shared>>, uri: Uri, body: Bytes) -> Response {
    let response = match fault_answer(&shared, &uri).await {
        Some(answer) => answer,
        None => respond(&shared, &body),
    };
    shared.requests.send_modify(|n| *n += 1);
    response
}

fn form(body: &[u8]) -> Vec<(String, String)> {
    let text = String::from_utf8_lossy(body);
    match reqwest::Url::parse(&format!("http://form.invalid/?{text}")) {
        Ok(url) => url.query_pairs().into_owned().collect(),
        Err(_) => Vec::new(),
    }
}

fn respond(shared: &Shared, body: &[u8]) -> Response {
    let fields = form(body);
    let field = |name: &str| {
        fields
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    };
    if field("key") != Some(shared.key.as_str()) {
        return json_answer(shared, 0, json!({"error": "Invalid API key"}));
    }
    let action = field("action").unwrap_or("");
    let mut rng = StdRng::seed_from_u64(seed_of(shared.seed, body));
    match action {
        "balance" => balance(shared, &mut rng),
        "services" => services(shared, &mut rng),
        "status" => match (field("order"), field("orders")) {
            (Some(one), _) => single_status(shared, one, &mut rng),
            (None, Some(list)) => multi_status(shared, list, &mut rng),
            (None, None) => json_answer(shared, 0, json!({"error": "Incorrect request"})),
        },
        _ => json_answer(shared, 0, json!({"error": "Incorrect request"})),
    }
}

/// A stable seed per request body (FNV-1a), so renderings repeat.
fn seed_of(seed: u64, body: &[u8]) -> u64 {
    let mut hash: u64 = 0xcbf2_9ce4_8422_2325 ^ seed;
    for byte in body {
        hash ^= u64::from(*byte);
        hash = hash.wrapping_mul(0x0100_0000_01b3);
    }
    hash
}

/// A JSON answer; drifting panels sometimes label it `text/plain`.
fn json_answer(shared: &Shared, salt: u64, value: Value) -> Response {
    let plain = shared.drift && StdRng::seed_from_u64(shared.seed ^ salt).random_bool(0.3);
    let content_type = if plain {
        "text/plain; charset=utf-8"
    } else {
        "application/json"
    };
    (
        StatusCode::OK,
        [(header::CONTENT_TYPE, content_type)],
        value.to_string(),
    )
        .into_response()
}

/// A number as a JSON number or, when drifting, half the time as a string.
fn number(drift: bool, rng: &mut StdRng, n: u64) -> Value {
    if drift && rng.random_bool(0.5) {
        json!(n.to_string())
    } else {
        json!(n)
    }
}

fn balance(shared: &Shared, rng: &mut StdRng) -> Response {
    let balance = shared.lock().balance;
    let mut out = json!({"balance": balance.0.to_string(), "currency": "USD"});
    if shared.drift {
        match rng.random_range(0..3) {
            0 => out["balance"] = float_text(balance),
            1 => {
                out.as_object_mut().unwrap().remove("currency");
            }
            _ => {}
        }
    }
    json_answer(shared, 1, out)
}

fn services(shared: &Shared, rng: &mut StdRng) -> Response {
    let list = shared.lock().services.clone();
    let drift = shared.drift;
    let rendered: Vec<(u64, Value)> = list
        .iter()
        .map(|s| {
            let rate = if drift && rng.random_bool(0.5) {
                float_text(s.rate)
            } else {
                json!(s.rate.0.to_string())
            };
            let value = json!({
                "service": number(drift, rng, s.id),
                "name": s.name,
                "type": "Default",
                "category": "Simulated",
                "rate": rate,
                "min": number(drift, rng, s.min),
                "max": number(drift, rng, s.max),
                "refill": drift && rng.random_bool(0.5),
                "cancel": false,
            });
            (s.id, value)
        })
        .collect();
    let body = if drift && rng.random_bool(0.3) {
        let keyed: Map<String, Value> = rendered
            .into_iter()
            .map(|(id, v)| (id.to_string(), v))
            .collect();
        Value::Object(keyed)
    } else {
        Value::Array(rendered.into_iter().map(|(_, v)| v).collect())
    };
    json_answer(shared, 2, body)
}

/// One order as `status` renders it.
fn render(drift: bool, rng: &mut StdRng, order: &SimOrder) -> Value {
    let start_count = if drift {
        match rng.random_range(0..3) {
            0 => json!(0),
            1 => json!(""),
            _ => json!(rng.random_range(100..50_000).to_string()),
        }
    } else {
        json!("0")
    };
    let charge = if drift && rng.random_bool(0.5) {
        float_text(order.charge)
    } else {
        json!(order.charge.0.to_string())
    };
    let status = if drift {
        spell(&order.status, rng)
    } else {
        crate::domain::OrderStatus::parse(&order.status)
            .label()
            .to_string()
    };
    json!({
        "charge": charge,
        "start_count": start_count,
        "status": status,
        "remains": number(drift, rng, order.remains),
        "currency": "USD",
    })
}

fn find(shared: &Shared, id: u64) -> Option<SimOrder> {
    let state = shared.lock();
    if state.missing.contains(&id) {
        return None;
    }
    state.orders.iter().find(|o| o.id == id).cloned()
}

fn single_status(shared: &Shared, id: &str, rng: &mut StdRng) -> Response {
    let found = id.trim().parse().ok().and_then(|id| find(shared, id));
    let body = match found {
        Some(order) => render(shared.drift, rng, &order),
        None => json!({"error": "Incorrect order ID"}),
    };
    json_answer(shared, 3, body)
}

/// A per-item error in one of the shapes panels use.
fn item_error(drift: bool, rng: &mut StdRng) -> Value {
    if !drift {
        return json!({"error": "Incorrect order ID"});
    }
    match rng.random_range(0..4) {
        0 => json!({"error": "Incorrect order ID"}),
        1 => json!("Incorrect order ID"),
        2 => json!({"status": "error", "message": "Order not found"}),
        _ => json!({"error": {"code": 404, "message": "error.order_not_found"}}),
    }
}

fn multi_status(shared: &Shared, list: &str, rng: &mut StdRng) -> Response {
    let drift = shared.drift;
    let ids: Vec<&str> = list
        .split(',')
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .take(100)
        .collect();
    let entries: Vec<(String, Value)> = ids
        .iter()
        .map(|raw| {
            let found = raw.parse().ok().and_then(|id| find(shared, id));
            let value = match found {
                Some(order) => render(drift, rng, &order),
                None => item_error(drift, rng),
            };
            (raw.to_string(), value)
        })
        .collect();
    let body = if drift && rng.random_bool(0.3) {
        let items = entries
            .into_iter()
            .map(|(id, mut value)| {
                if !value.is_object() {
                    value = json!({"error": value});
                }
                value["order"] = match id.parse::<u64>() {
                    Ok(n) => number(true, rng, n),
                    Err(_) => json!(id),
                };
                value
            })
            .collect();
        Value::Array(items)
    } else {
        Value::Object(entries.into_iter().collect())
    };
    json_answer(shared, 4, body)
}
