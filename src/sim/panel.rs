//! A simulated SMM panel speaking the admin API v2, on loopback, for the demo and the tests.
//!
//! [`SimPanel::start`] binds `127.0.0.1:0` and serves `GET /adminapi/v2/orders` (filters
//! `created_from`, `created_to`, `service_ids`, `order_status`, `limit`, `offset`, newest
//! first) and `GET /adminapi/v2/orders/{id}`, checking `X-Api-Key`. Tests script the orders
//! ([`SimPanel::set_orders`], [`SimPanel::update`]) and the failures ([`SimPanel::set_fault`]);
//! the demo starts a live order flow ([`SimPanel::start_flow`], see [`super::flow`]).
//!
//! With [`SimOptions::drift`] on, every answer is rendered with the drift real panels show:
//! numbers as strings or numbers, status spellings, `charge` shapes, `start_count` as `0` or
//! `""`, `list` as an object keyed by id. The variation is seeded: the same seed, order and
//! query render the same way every time. It is not a faithful model of any one panel's bugs,
//! and it never listens anywhere but loopback.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use axum::extract::{Path, Query, State};
use axum::http::{header, HeaderMap, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::Router;
use chrono::{DateTime, SubsecRound, Utc};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use rust_decimal::Decimal;
use serde_json::{json, Map, Value};
use tokio::sync::watch;
use tokio::task::JoinHandle;

use crate::domain::{Money, Order, OrderId, OrderStatus, ServiceId};
use crate::sim::flow::{self, FlowOptions};

/// The largest page the simulated panel serves, as real panels cap `limit`.
pub const MAX_LIMIT: usize = 1000;

/// How the simulated panel behaves from the start.
#[derive(Clone, Debug)]
pub struct SimOptions {
    /// Seeds the drift, the generated key and the order flow.
    pub seed: u64,
    /// Render answers with seeded drift (see the module doc).
    pub drift: bool,
    /// The admin key to accept; generated from the seed when `None`.
    pub api_key: Option<String>,
}

impl Default for SimOptions {
    fn default() -> Self {
        SimOptions {
            seed: 7,
            drift: false,
            api_key: None,
        }
    }
}

/// One order as the simulated panel stores it; `status` is raw text, so tests can use any
/// spelling a real panel would.
#[derive(Clone, Debug, PartialEq)]
pub struct SimOrder {
    pub id: u64,
    pub service_id: u64,
    pub service_name: String,
    pub status: String,
    pub quantity: u64,
    pub remains: u64,
    pub provider: Option<String>,
    pub charge: Money,
    /// Whole seconds: the API has no finer time.
    pub created: DateTime<Utc>,
}

impl SimOrder {
    /// A completed order of 1000 units with a made-up name, provider and charge.
    pub fn new(id: u64, service_id: u64, created: DateTime<Utc>) -> SimOrder {
        SimOrder {
            id,
            service_id,
            service_name: format!("Service {service_id}"),
            status: "completed".into(),
            quantity: 1000,
            remains: 0,
            provider: Some("provider-a".into()),
            charge: Money(Decimal::new(127_500, 5)),
            created: created.trunc_subsecs(0),
        }
    }

    /// The order a correct decoder reads from this one's rendering, drifted or not.
    pub fn to_order(&self) -> Order {
        Order {
            id: OrderId(self.id),
            service: ServiceId(self.service_id),
            service_name: self.service_name.clone(),
            status: OrderStatus::parse(&self.status),
            quantity: Some(self.quantity),
            remains: Some(self.remains),
            provider: self.provider.clone().filter(|p| !p.is_empty()),
            charge: Some(self.charge),
            created: self.created.trunc_subsecs(0),
        }
    }
}

/// One service of the user API's catalogue.
#[derive(Clone, Debug, PartialEq)]
pub struct SimService {
    pub id: u64,
    pub name: String,
    pub rate: Money,
    pub min: u64,
    pub max: u64,
}

/// A failure the simulated panel answers every request with, until cleared with `None`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Fault {
    None,
    /// HTTP 502 with a reverse proxy's HTML page.
    Html502,
    /// HTTP 403 with a CDN's "Just a moment..." challenge page.
    Challenge403,
    /// HTTP 200 with an empty body.
    EmptyBody,
    /// HTTP 200 with a non-zero `error_code`.
    ErrorCode200,
    /// Answers normally, after this delay.
    Slow(Duration),
    /// HTTP 302 to another local server, which counts the requests it gets.
    Redirect,
    /// HTTP 429 with `Retry-After`.
    RateLimit429 {
        retry_after_secs: u64,
    },
    /// HTTP 200 with `{"error": "Too many requests..."}`.
    RateLimitBody,
    /// Answers as if the key were wrong.
    BadKey,
}

/// What the server tasks and the flow share.
pub(crate) struct Shared {
    pub(crate) seed: u64,
    pub(crate) drift: bool,
    pub(crate) key: String,
    base_url: String,
    redirect_url: String,
    state: Mutex<SimState>,
    pub(crate) requests: watch::Sender<u64>,
}

pub(crate) struct SimState {
    pub(crate) orders: Vec<SimOrder>,
    pub(crate) fault: Fault,
    /// The user API v2 side: the balance and the services catalogue.
    pub(crate) balance: Money,
    pub(crate) services: Vec<SimService>,
    /// Order ids the user API answers with a per-item error (as if they did not exist).
    pub(crate) missing: Vec<u64>,
}

impl Shared {
    pub(crate) fn lock(&self) -> MutexGuard<'_, SimState> {
        // A test that panicked while holding the lock leaves plain data behind; keep serving.
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    pub(crate) fn update<R>(&self, change: impl FnOnce(&mut Vec<SimOrder>) -> R) -> R {
        change(&mut self.lock().orders)
    }
}

/// A running simulated panel; dropping it stops the server and the flow.
pub struct SimPanel {
    shared: Arc<Shared>,
    addr: SocketAddr,
    redirect_hits: Arc<AtomicU64>,
    stop: watch::Sender<bool>,
    server: Option<JoinHandle<()>>,
    redirect_server: JoinHandle<()>,
    flow: Mutex<Option<JoinHandle<()>>>,
}

impl std::fmt::Debug for SimPanel {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SimPanel")
            .field("addr", &self.addr)
            .finish_non_exhaustive()
    }
}

impl SimPanel {
    /// Binds two loopback ports (the panel, and the target its redirects point at) and serves.
    pub async fn start(options: SimOptions) -> std::io::Result<SimPanel> {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
        let addr = listener.local_addr()?;
        let elsewhere = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
        let elsewhere_addr = elsewhere.local_addr()?;

        let key = options.api_key.clone().unwrap_or_else(|| {
            let mut rng = StdRng::seed_from_u64(options.seed);
            format!("sim-admin-{:016x}", rng.random::<u64>())
        });
        let shared = Arc::new(Shared {
            seed: options.seed,
            drift: options.drift,
            key,
            base_url: format!("http://{addr}/adminapi/v2"),
            redirect_url: format!("http://{elsewhere_addr}/adminapi/v2"),
            state: Mutex::new(SimState {
                orders: Vec::new(),
                fault: Fault::None,
                balance: Money(Decimal::new(10_000, 2)),
                services: Vec::new(),
                missing: Vec::new(),
            }),
            requests: watch::channel(0).0,
        });
        let (stop, mut stopped) = watch::channel(false);

        let app = Router::new()
            .route("/adminapi/v2/orders", get(list_orders))
            .route("/adminapi/v2/orders/{id}", get(one_order))
            .route("/api/v2", post(super::user_api::answer))
            .with_state(shared.clone());
        let server = tokio::spawn(async move {
            let shutdown = async move {
                let _ = stopped.wait_for(|s| *s).await;
            };
            let _ = axum::serve(listener, app)
                .with_graceful_shutdown(shutdown)
                .await;
        });

        let redirect_hits = Arc::new(AtomicU64::new(0));
        let hits = redirect_hits.clone();
        let target = Router::new().fallback(move || {
            let hits = hits.clone();
            async move {
                hits.fetch_add(1, Ordering::SeqCst);
                let empty = json!({"data": {"count": 0, "list": []}, "error_code": 0});
                axum::Json(empty)
            }
        });
        let redirect_server = tokio::spawn(async move {
            let _ = axum::serve(elsewhere, target).await;
        });

        Ok(SimPanel {
            shared,
            addr,
            redirect_hits,
            stop,
            server: Some(server),
            redirect_server,
            flow: Mutex::new(None),
        })
    }

    /// The admin API base, `http://127.0.0.1:PORT/adminapi/v2`, as a panel's `url`.
    pub fn url(&self) -> String {
        self.shared.base_url.clone()
    }

    pub fn api_key(&self) -> &str {
        &self.shared.key
    }

    /// The user API v2 endpoint, `http://127.0.0.1:PORT/api/v2`, as a v2 panel's `url`. It
    /// takes the same key as the admin API.
    pub fn v2_url(&self) -> String {
        self.shared.base_url.replace("/adminapi/v2", "/api/v2")
    }

    /// The balance `action=balance` answers.
    pub fn set_balance(&self, balance: Money) {
        self.shared.lock().balance = balance;
    }

    /// The catalogue `action=services` answers.
    pub fn set_services(&self, services: Vec<SimService>) {
        self.shared.lock().services = services;
    }

    /// Order ids `action=status` answers with a per-item error.
    pub fn set_missing(&self, ids: Vec<u64>) {
        self.shared.lock().missing = ids;
    }

    /// How many order-list requests have been answered, faulty answers included.
    pub fn requests(&self) -> u64 {
        *self.shared.requests.borrow()
    }

    /// Waits until at least `count` order-list requests have been answered.
    pub async fn wait_for_requests(&self, count: u64) {
        let mut rx = self.shared.requests.subscribe();
        let _ = rx.wait_for(|n| *n >= count).await;
    }

    /// How many requests the redirect target received (a client following redirects).
    pub fn redirect_hits(&self) -> u64 {
        self.redirect_hits.load(Ordering::SeqCst)
    }

    pub fn set_orders(&self, orders: Vec<SimOrder>) {
        self.shared.update(|all| *all = orders);
    }

    pub fn push_order(&self, order: SimOrder) {
        self.shared.update(|all| all.push(order));
    }

    /// Changes the stored orders in place, under the lock the server reads them with.
    pub fn update<R>(&self, change: impl FnOnce(&mut Vec<SimOrder>) -> R) -> R {
        self.shared.update(change)
    }

    /// A copy of the stored orders.
    pub fn orders(&self) -> Vec<SimOrder> {
        self.shared.update(|all| all.clone())
    }

    pub fn set_fault(&self, fault: Fault) {
        self.shared.lock().fault = fault;
    }

    /// Starts the live order flow (replacing a running one); it pre-fills history first.
    pub fn start_flow(&self, options: FlowOptions) {
        let task = tokio::spawn(flow::run(self.shared.clone(), options));
        let mut slot = self.flow.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(old) = slot.replace(task) {
            old.abort();
        }
    }

    /// Stops the flow and the servers; requests in flight get a few seconds to finish.
    pub async fn shutdown(mut self) {
        self.abort_flow();
        let _ = self.stop.send(true);
        if let Some(server) = self.server.take() {
            let abort = server.abort_handle();
            if tokio::time::timeout(Duration::from_secs(5), server)
                .await
                .is_err()
            {
                abort.abort();
            }
        }
        self.redirect_server.abort();
    }

    fn abort_flow(&self) {
        let slot = self.flow.lock().unwrap_or_else(|e| e.into_inner()).take();
        if let Some(task) = slot {
            task.abort();
        }
    }
}

impl Drop for SimPanel {
    fn drop(&mut self) {
        self.abort_flow();
        let _ = self.stop.send(true);
        if let Some(server) = &self.server {
            server.abort();
        }
        self.redirect_server.abort();
    }
}

async fn list_orders(
    State(shared): State<Arc<Shared>>,
    headers: HeaderMap,
    uri: Uri,
    Query(query): Query<HashMap<String, String>>,
) -> Response {
    let response = match fault_answer(&shared, &uri).await {
        Some(answer) => answer,
        None if !key_ok(&shared, &headers) => bad_key(&shared),
        None => orders_page(&shared, &query),
    };
    shared.requests.send_modify(|n| *n += 1);
    response
}

async fn one_order(
    State(shared): State<Arc<Shared>>,
    headers: HeaderMap,
    uri: Uri,
    Path(id): Path<String>,
) -> Response {
    if let Some(answer) = fault_answer(&shared, &uri).await {
        return answer;
    }
    if !key_ok(&shared, &headers) {
        return bad_key(&shared);
    }
    let found = id.parse::<u64>().ok().and_then(|id| {
        let state = shared.lock();
        state.orders.iter().find(|o| o.id == id).cloned()
    });
    let Some(order) = found else {
        return api_error(404, "Order not found");
    };
    let mut rendered = render_order(&shared, &order);
    rendered["last_update"] = json!(order.created.format("%Y-%m-%d %H:%M:%S").to_string());
    rendered["provider_details"] = json!({
        "name": order.provider,
        "external_id": format!("ext-{}", order.id),
    });
    envelope(json!(rendered), None)
}

/// The answer a fault dictates, or `None` to answer normally (after a `Slow` delay).
pub(crate) async fn fault_answer(shared: &Shared, uri: &Uri) -> Option<Response> {
    let fault = shared.lock().fault.clone();
    let html = [(header::CONTENT_TYPE, "text/html; charset=UTF-8")];
    let answer = match fault {
        Fault::None => return None,
        Fault::Slow(delay) => {
            tokio::time::sleep(delay).await;
            return None;
        }
        Fault::Html502 => (StatusCode::BAD_GATEWAY, html, PROXY_PAGE).into_response(),
        Fault::Challenge403 => {
            let mut response = (StatusCode::FORBIDDEN, html, CHALLENGE_PAGE).into_response();
            let headers = response.headers_mut();
            headers.insert(header::SERVER, "cloudflare".parse().unwrap());
            headers.insert("cf-mitigated", "challenge".parse().unwrap());
            response
        }
        Fault::EmptyBody => (
            StatusCode::OK,
            [(header::CONTENT_TYPE, "application/json")],
            "",
        )
            .into_response(),
        Fault::ErrorCode200 => api_error(2, "Internal error, the request was not processed"),
        Fault::Redirect => {
            let path = uri
                .path()
                .trim_start_matches("/adminapi/v2")
                .trim_start_matches("/api/v2");
            let query = uri.query().map(|q| format!("?{q}")).unwrap_or_default();
            let location = format!("{}{path}{query}", shared.redirect_url);
            (StatusCode::FOUND, [(header::LOCATION, location)]).into_response()
        }
        Fault::RateLimit429 { retry_after_secs } => (
            StatusCode::TOO_MANY_REQUESTS,
            [(header::RETRY_AFTER, retry_after_secs.to_string())],
            axum::Json(json!({"error": "Too many requests"})),
        )
            .into_response(),
        Fault::RateLimitBody => {
            axum::Json(json!({"error": "Too many requests, please slow down"})).into_response()
        }
        Fault::BadKey => bad_key(shared),
    };
    Some(answer)
}

fn key_ok(shared: &Shared, headers: &HeaderMap) -> bool {
    headers
        .get("x-api-key")
        .and_then(|v| v.to_str().ok())
        .is_some_and(|k| k == shared.key)
}

/// A wrong key: HTTP 200 with a non-zero `error_code`, or 401 when drifting.
fn bad_key(shared: &Shared) -> Response {
    let status = if shared.drift {
        StatusCode::UNAUTHORIZED
    } else {
        StatusCode::OK
    };
    let body = json!({"data": null, "error_code": 401, "error_message": "Invalid API key"});
    (status, axum::Json(body)).into_response()
}

fn api_error(code: i64, message: &str) -> Response {
    axum::Json(json!({"data": null, "error_code": code, "error_message": message})).into_response()
}

fn envelope(data: Value, pagination: Option<Value>) -> Response {
    let mut body = json!({"data": data, "error_code": 0, "error_message": ""});
    if let Some(pagination) = pagination {
        body["pagination"] = pagination;
    }
    axum::Json(body).into_response()
}

fn orders_page(shared: &Shared, query: &HashMap<String, String>) -> Response {
    let number = |name: &str| query.get(name).and_then(|v| v.trim().parse::<i64>().ok());
    let created_from = number("created_from");
    let created_to = number("created_to");
    let limit = number("limit").map_or(100, |l| l.clamp(1, MAX_LIMIT as i64) as usize);
    let offset = number("offset").map_or(0, |o| o.max(0) as usize);
    let services: Option<Vec<u64>> = query.get("service_ids").map(|ids| {
        ids.split(',')
            .filter_map(|s| s.trim().parse().ok())
            .collect()
    });
    let wanted_status = query
        .get("order_status")
        .map(|s| OrderStatus::parse(s))
        .filter(|s| !matches!(s, OrderStatus::Unknown(_)));

    let mut matching: Vec<SimOrder> = shared
        .lock()
        .orders
        .iter()
        .filter(|o| created_from.is_none_or(|from| o.created.timestamp() >= from))
        .filter(|o| created_to.is_none_or(|to| o.created.timestamp() <= to))
        .filter(|o| services.as_ref().is_none_or(|s| s.contains(&o.service_id)))
        .filter(|o| {
            wanted_status
                .as_ref()
                .is_none_or(|s| OrderStatus::parse(&o.status) == *s)
        })
        .cloned()
        .collect();
    matching.sort_by(|a, b| b.created.cmp(&a.created).then(b.id.cmp(&a.id)));
    let count = matching.len();
    let page: Vec<&SimOrder> = matching.iter().skip(offset).take(limit).collect();

    let mut shape = StdRng::seed_from_u64(
        shared.seed ^ (offset as u64).wrapping_mul(0x9e37_79b9) ^ created_from.unwrap_or(0) as u64,
    );
    let drift = shared.drift;
    let rendered: Vec<Value> = page.iter().map(|o| render_order(shared, o)).collect();
    let list = if drift && shape.random_bool(0.3) {
        let keyed: Map<String, Value> = page
            .iter()
            .zip(rendered)
            .map(|(o, v)| (o.id.to_string(), v))
            .collect();
        Value::Object(keyed)
    } else {
        Value::Array(rendered)
    };
    let next = offset + page.len();
    let next_href = if next < count {
        let mut pairs: Vec<String> = query
            .iter()
            .filter(|(k, _)| k.as_str() != "offset")
            .map(|(k, v)| format!("{k}={v}"))
            .collect();
        pairs.sort();
        pairs.push(format!("offset={next}"));
        json!(format!("{}/orders?{}", shared.base_url, pairs.join("&")))
    } else if drift && shape.random_bool(0.5) {
        Value::Null
    } else {
        json!("")
    };
    let count = if drift && shape.random_bool(0.5) {
        json!(count.to_string())
    } else {
        json!(count)
    };
    let pagination = json!({"next_page_href": next_href, "offset": offset, "limit": limit});
    envelope(json!({"count": count, "list": list}), Some(pagination))
}

/// One order as the admin API renders it; drifted per order when drift is on.
fn render_order(shared: &Shared, order: &SimOrder) -> Value {
    let created = order.created.format("%Y-%m-%d %H:%M:%S").to_string();
    let mut out = json!({
        "id": order.id,
        "external_id": format!("ext-{}", order.id),
        "user": format!("user{}", order.id % 97),
        "service_id": order.service_id,
        "service_name": order.service_name,
        "service_type": "Default",
        "status": order.status,
        "quantity": order.quantity,
        "remains": order.remains,
        "start_count": 0,
        "charge": {
            "value": order.charge.to_string(),
            "currency_code": "USD",
            "formatted": format!("${}", order.charge),
        },
        "provider": order.provider,
        "link": format!("https://social.example/p/{}", order.id),
        "created": created,
        "created_timestamp": order.created.timestamp(),
    });
    if !shared.drift {
        return out;
    }

    let mut rng = StdRng::seed_from_u64(shared.seed ^ order.id.wrapping_mul(0x9e37_79b9_7f4a_7c15));
    for field in [
        "id",
        "service_id",
        "quantity",
        "remains",
        "created_timestamp",
    ] {
        if rng.random_bool(0.5) {
            out[field] = json!(out[field].to_string());
        }
    }
    out["status"] = json!(spell(&order.status, &mut rng));
    out["start_count"] = match rng.random_range(0..4) {
        0 => json!(0),
        1 => json!(""),
        2 => json!("N/A"),
        _ => json!(rng.random_range(100..50_000).to_string()),
    };
    match rng.random_range(0..4) {
        0 => out["charge"] = json!({"value": float_text(order.charge), "currency_code": "USD"}),
        1 => out["charge"] = json!(order.charge.to_string()),
        2 => out["charge"] = float_text(order.charge),
        _ => {}
    }
    if let Some(numeric) = order
        .provider
        .as_deref()
        .and_then(|p| p.parse::<u64>().ok())
    {
        if rng.random_bool(0.5) {
            out["provider"] = json!(numeric);
        }
    }
    if order.provider.is_none() && rng.random_bool(0.5) {
        out.as_object_mut().unwrap().remove("provider");
    }
    if rng.random_bool(0.25) {
        out.as_object_mut().unwrap().remove("created_timestamp");
    }
    out
}

/// Money as a JSON float, as some panels send it: the decimal's text read as a number.
pub(crate) fn float_text(money: Money) -> Value {
    serde_json::from_str(&money.to_string()).unwrap_or_else(|_| json!(money.to_string()))
}

/// Another spelling of the same status, as panels vary them; unknown text stays as it is.
pub(crate) fn spell(raw: &str, rng: &mut StdRng) -> String {
    let options: &[&str] = match OrderStatus::parse(raw) {
        OrderStatus::Pending => &["pending", "Pending", "PENDING"],
        OrderStatus::Processing => &["processing", "Processing"],
        OrderStatus::InProgress => &["in_progress", "inprogress", "In progress", "In Progress"],
        OrderStatus::Completed => &["completed", "Completed", "COMPLETED"],
        OrderStatus::Partial => &["partial", "Partial"],
        OrderStatus::Canceled => &["canceled", "cancelled", "Canceled", "Cancelled"],
        OrderStatus::Refunded => &["refunded", "Refunded"],
        OrderStatus::Unknown(_) => return raw.to_string(),
    };
    options[rng.random_range(0..options.len())].to_string()
}

const PROXY_PAGE: &str = "<html>\r\n<head><title>502 Bad Gateway</title></head>\r\n<body>\r\n\
<center><h1>502 Bad Gateway</h1></center>\r\n<hr><center>nginx</center>\r\n</body>\r\n</html>\r\n";

const CHALLENGE_PAGE: &str = "<!DOCTYPE html><html lang=\"en-US\"><head>\
<title>Just a moment...</title><meta name=\"robots\" content=\"noindex,nofollow\"></head>\
<body><div class=\"main-wrapper\"><h1>panel.example</h1>\
<p id=\"challenge-body-text\">Checking your browser before accessing panel.example.</p>\
<noscript>Enable JavaScript and cookies to continue</noscript></div>\
<script src=\"/cdn-cgi/challenge-platform/h/g/orchestrate/chl_page/v1\"></script>\
</body></html>";

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn spelling_keeps_the_status() {
        let mut rng = StdRng::seed_from_u64(1);
        for raw in [
            "pending",
            "in progress",
            "completed",
            "partial",
            "cancelled",
        ] {
            for _ in 0..20 {
                let spelled = spell(raw, &mut rng);
                assert_eq!(
                    OrderStatus::parse(&spelled),
                    OrderStatus::parse(raw),
                    "{spelled}"
                );
            }
        }
        assert_eq!(spell("Weird", &mut rng), "Weird");
    }

    #[test]
    fn floats_are_the_decimal_text() {
        let money = Money(Decimal::new(27_819, 5));
        assert_eq!(float_text(money), json!(0.27819));
    }
}
