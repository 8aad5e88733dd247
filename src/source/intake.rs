//! The intake endpoint (`[intake] listen`, loopback only): where a reseller's backend reports
//! orders to track, and where panels push their own signed webhooks.
//!
//! - `POST /orders` with `Authorization: Bearer <token>` and `{"panel", "order", "service"}`
//!   (`quantity` optional; numbers as strings or numbers): tracks the order. 201 when new, 200
//!   when it was tracked already.
//! - `POST /inbound/<panel>`: verified as the panel's config says (see [`super::inbound`]),
//!   stored in `inbound_events` *before* the answer, de-duplicated by event id (a redelivery
//!   gets 200 and is never applied twice), then applied by a background task that writes the
//!   order's status to `tracked_orders`, where the next report picks it up.
//!
//! Refusals are 4xx and counted for the screen: 401 for a bad token or signature, 400 for a
//! stale timestamp or an unreadable body, 404 for an unknown panel, 413 for a body over
//! `max_body`. A store failure answers 503 so the sender retries. Tokens and secrets never
//! appear in answers or logs.

use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::body::{Body, Bytes};
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use axum::{Json, Router};
use chrono::Utc;
use serde_json::{json, Value};
use tokio::sync::{watch, Notify};
use tokio::task::JoinHandle;

use crate::config::{Config, PanelKind};
use crate::domain::{OrderId, ServiceId};
use crate::panel::decode::as_u64;
use crate::snapshot::IntakeView;
use crate::source::inbound::{self, InboundEvent, Refusal};
use crate::store::{Store, TrackedUpdate};

/// The running endpoint: its address, its counters, and its tasks.
pub struct Intake {
    pub addr: SocketAddr,
    counters: Arc<Mutex<IntakeView>>,
    server: JoinHandle<()>,
    applier: JoinHandle<()>,
}

impl Intake {
    /// Binds `[intake] listen` and serves until `shutdown` turns true.
    pub async fn start(
        config: watch::Receiver<Arc<Config>>,
        store: Arc<Store>,
        mut shutdown: watch::Receiver<bool>,
    ) -> std::io::Result<Option<Intake>> {
        let Some(intake) = config.borrow().intake.clone() else {
            return Ok(None);
        };
        let listener = tokio::net::TcpListener::bind(intake.listen).await?;
        let addr = listener.local_addr()?;
        let shared = Arc::new(Shared {
            config,
            store,
            counters: Arc::new(Mutex::new(IntakeView::default())),
            wake: Notify::new(),
        });
        let app = Router::new()
            .route("/orders", post(orders))
            .route("/inbound/{panel}", post(inbound))
            .with_state(Arc::clone(&shared));
        let mut stop = shutdown.clone();
        let server = tokio::spawn(async move {
            let stopped = async move {
                let _ = stop.wait_for(|s| *s).await;
            };
            if let Err(e) = axum::serve(listener, app)
                .with_graceful_shutdown(stopped)
                .await
            {
                tracing::error!(error = %e, "the intake endpoint stopped");
            }
        });
        let applier_shared = Arc::clone(&shared);
        let applier = tokio::spawn(async move {
            loop {
                apply_pending(&applier_shared);
                tokio::select! {
                    _ = applier_shared.wake.notified() => {}
                    _ = tokio::time::sleep(Duration::from_secs(1)) => {}
                    _ = shutdown.changed() => {
                        apply_pending(&applier_shared);
                        return;
                    }
                }
            }
        });
        tracing::info!(%addr, "intake endpoint listening");
        Ok(Some(Intake {
            addr,
            counters: Arc::clone(&shared.counters),
            server,
            applier,
        }))
    }

    /// The counters for the screen.
    pub fn view(&self) -> IntakeView {
        self.counters
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .clone()
    }

    /// A handle the engine loop can read the counters through.
    pub fn counters(&self) -> Arc<Mutex<IntakeView>> {
        Arc::clone(&self.counters)
    }

    /// Waits for the server and the applier to finish after shutdown.
    pub async fn join(self) {
        let _ = self.server.await;
        let _ = self.applier.await;
    }
}

struct Shared {
    config: watch::Receiver<Arc<Config>>,
    store: Arc<Store>,
    counters: Arc<Mutex<IntakeView>>,
    wake: Notify,
}

impl Shared {
    fn count(&self, change: impl FnOnce(&mut IntakeView)) {
        change(&mut self.counters.lock().unwrap_or_else(|p| p.into_inner()));
    }

    fn refuse(&self, refusal: &Refusal) -> Response {
        let status = match refusal {
            Refusal::Signature | Refusal::Token => StatusCode::UNAUTHORIZED,
            Refusal::Stale | Refusal::Unusable(_) => StatusCode::BAD_REQUEST,
            Refusal::TooLarge => StatusCode::PAYLOAD_TOO_LARGE,
        };
        self.count(|c| match refusal {
            Refusal::Signature | Refusal::Token => c.refused_auth += 1,
            Refusal::Stale => c.refused_stale += 1,
            Refusal::TooLarge => c.refused_size += 1,
            Refusal::Unusable(_) => c.refused_other += 1,
        });
        (status, Json(json!({"error": refusal.to_string()}))).into_response()
    }
}

/// The body, or a refusal when it is larger than the configured limit.
async fn read_limited(body: Body, headers: &HeaderMap, limit: usize) -> Result<Bytes, Refusal> {
    let declared = headers
        .get(axum::http::header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<usize>().ok());
    if declared.is_some_and(|n| n > limit) {
        return Err(Refusal::TooLarge);
    }
    axum::body::to_bytes(body, limit)
        .await
        .map_err(|_| Refusal::TooLarge)
}

fn header_text(headers: &HeaderMap, name: &str) -> Option<String> {
    headers
        .get(name)
        .and_then(|v| v.to_str().ok())
        .map(str::to_string)
}

fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

async fn orders(State(shared): State<Arc<Shared>>, headers: HeaderMap, body: Body) -> Response {
    let config = Arc::clone(&shared.config.borrow());
    let Some(intake) = config.intake.as_ref() else {
        return StatusCode::NOT_FOUND.into_response();
    };
    let token = header_text(&headers, "authorization").unwrap_or_default();
    let token = token.strip_prefix("Bearer ").unwrap_or("").trim();
    if !constant_time_eq(token.as_bytes(), intake.token.expose().as_bytes()) {
        return shared.refuse(&Refusal::Token);
    }
    let body = match read_limited(body, &headers, intake.max_body).await {
        Ok(body) => body,
        Err(refusal) => return shared.refuse(&refusal),
    };
    let parsed: Option<(String, u64, u64, Option<u64>)> =
        serde_json::from_slice::<Value>(&body).ok().and_then(|v| {
            let panel = v.get("panel")?.as_str()?.to_string();
            let order = as_u64(v.get("order").or_else(|| v.get("order_id"))?)?;
            let service = as_u64(v.get("service").or_else(|| v.get("service_id"))?)?;
            // A quantity, when given, must be a positive whole number: a wrong one is refused,
            // never silently dropped. Ids are positive too.
            let quantity = match v.get("quantity") {
                None | Some(Value::Null) => None,
                Some(q) => Some(as_u64(q).filter(|q| *q > 0)?),
            };
            (order > 0 && service > 0).then_some((panel, order, service, quantity))
        });
    let Some((panel, order, service, quantity)) = parsed else {
        let why = "expected {\"panel\", \"order\", \"service\"} with positive whole numbers \
                   (and \"quantity\" likewise, if given)";
        return shared.refuse(&Refusal::Unusable(why.into()));
    };
    if !config
        .panel(&panel)
        .is_some_and(|p| p.kind == PanelKind::V2)
    {
        shared.count(|c| c.refused_other += 1);
        let error = format!("no kind = \"v2\" panel is named {panel:?}");
        return (StatusCode::NOT_FOUND, Json(json!({"error": error}))).into_response();
    }
    let result = shared.store.track_order(
        &panel,
        OrderId(order),
        ServiceId(service),
        quantity,
        Utc::now(),
    );
    match result {
        Ok(new) => {
            if new {
                shared.count(|c| c.orders_tracked += 1);
            }
            tracing::info!(panel = panel.as_str(), order, service, new, "order tracked");
            let status = if new {
                StatusCode::CREATED
            } else {
                StatusCode::OK
            };
            (status, Json(json!({"tracked": true, "new": new}))).into_response()
        }
        Err(e) => {
            tracing::error!(error = %e, "cannot track an order");
            StatusCode::SERVICE_UNAVAILABLE.into_response()
        }
    }
}

async fn inbound(
    State(shared): State<Arc<Shared>>,
    Path(panel): Path<String>,
    headers: HeaderMap,
    body: Body,
) -> Response {
    let config = Arc::clone(&shared.config.borrow());
    let Some(intake) = config.intake.as_ref() else {
        return StatusCode::NOT_FOUND.into_response();
    };
    let Some(auth) = config.panel(&panel).and_then(|p| p.source.inbound.clone()) else {
        shared.count(|c| c.refused_other += 1);
        let error = "no panel of this name takes inbound webhooks";
        return (StatusCode::NOT_FOUND, Json(json!({"error": error}))).into_response();
    };
    let body = match read_limited(body, &headers, intake.max_body).await {
        Ok(body) => body,
        Err(refusal) => return shared.refuse(&refusal),
    };
    let lookup = |name: &str| header_text(&headers, name);
    let now = Utc::now().timestamp();
    let id = match inbound::verify(&auth, &lookup, &body, now, intake.tolerance) {
        Ok(id) => id,
        Err(refusal) => {
            tracing::warn!(panel = panel.as_str(), refusal = %refusal, "inbound webhook refused");
            return shared.refuse(&refusal);
        }
    };
    let Ok(text) = std::str::from_utf8(&body) else {
        return shared.refuse(&Refusal::Unusable("the body is not UTF-8".into()));
    };
    if let Err(why) = inbound::decode(body.as_ref()) {
        return shared.refuse(&Refusal::Unusable(why));
    }
    match shared.store.record_inbound(&panel, &id, text, Utc::now()) {
        Ok(fresh) => {
            shared.count(|c| {
                if fresh {
                    c.inbound_accepted += 1;
                } else {
                    c.inbound_duplicates += 1;
                }
            });
            if fresh {
                shared.wake.notify_one();
            }
            let answer = json!({"ok": true, "duplicate": !fresh});
            (StatusCode::OK, Json(answer)).into_response()
        }
        Err(e) => {
            tracing::error!(error = %e, "cannot store an inbound webhook");
            StatusCode::SERVICE_UNAVAILABLE.into_response()
        }
    }
}

/// Applies stored inbound webhooks to the tracked orders, each once.
fn apply_pending(shared: &Shared) {
    let rows = match shared.store.pending_inbound(200) {
        Ok(rows) => rows,
        Err(e) => {
            tracing::error!(error = %e, "cannot read inbound webhooks");
            return;
        }
    };
    for row in rows {
        match inbound::decode(row.body.as_bytes()) {
            Ok(InboundEvent::Order {
                order,
                service,
                status,
                remains,
                charge,
            }) => {
                let update = TrackedUpdate {
                    order,
                    service,
                    status,
                    remains,
                    charge,
                };
                if let Err(e) = shared
                    .store
                    .update_tracked(&row.panel, &[update], Utc::now())
                {
                    tracing::error!(error = %e, "cannot apply an inbound webhook");
                    return;
                }
            }
            Ok(other) => tracing::info!(
                panel = row.panel.as_str(),
                event = row.event_id.as_str(),
                what = ?other,
                "inbound webhook recorded"
            ),
            Err(why) => tracing::warn!(
                panel = row.panel.as_str(),
                event = row.event_id.as_str(),
                why = why.as_str(),
                "inbound webhook not usable"
            ),
        }
        if let Err(e) = shared.store.inbound_done(row.seq) {
            tracing::error!(error = %e, "cannot mark an inbound webhook applied");
            return;
        }
    }
}
