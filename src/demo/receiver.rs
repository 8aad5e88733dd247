//! The demo's webhook receiver: a local endpoint that checks what panelwatch sends the way a
//! careful receiver would, and reports each delivery as one readable line.
//!
//! It serves `POST /hook` (a `custom` destination: Standard Webhooks headers, signature checked
//! in constant time, timestamp within five minutes, duplicate `webhook-id`s noticed) and
//! `POST /slack` (answers `ok` like Slack's incoming webhooks). It is a teaching aid and test
//! double, not a production receiver.

use std::collections::HashSet;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::routing::post;
use axum::Router;
use tokio::sync::watch;

use crate::delivery::sign::SigningKey;

/// Lines kept for the screen.
const KEEP: usize = 200;

#[derive(Clone)]
struct Shared {
    key: Arc<SigningKey>,
    seen: Arc<Mutex<HashSet<String>>>,
    lines: watch::Sender<Vec<String>>,
}

/// A running receiver.
pub struct Receiver {
    pub addr: SocketAddr,
    lines: watch::Receiver<Vec<String>>,
    task: tokio::task::JoinHandle<()>,
}

impl Receiver {
    /// Starts on `127.0.0.1`, on a free port, verifying with `secret` (`whsec_...`).
    pub async fn start(secret: &str) -> std::io::Result<Receiver> {
        let key = SigningKey::parse(secret)
            .map_err(|e| std::io::Error::new(std::io::ErrorKind::InvalidInput, e))?;
        let (tx, lines) = watch::channel(Vec::new());
        let shared = Shared {
            key: Arc::new(key),
            seen: Arc::default(),
            lines: tx,
        };
        let app = Router::new()
            .route("/hook", post(custom))
            .route("/slack", post(slack))
            .with_state(shared);
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
        let addr = listener.local_addr()?;
        let task = tokio::spawn(async move {
            let _ = axum::serve(listener, app).await;
        });
        Ok(Receiver { addr, lines, task })
    }

    pub fn url(&self, path: &str) -> String {
        format!("http://{}{}", self.addr, path)
    }

    /// What arrived so far, oldest first.
    pub fn lines(&self) -> watch::Receiver<Vec<String>> {
        self.lines.clone()
    }
}

impl Drop for Receiver {
    fn drop(&mut self) {
        self.task.abort();
    }
}

fn push(shared: &Shared, line: String) {
    tracing::info!(target: "panelwatch::demo::receiver", "{line}");
    shared.lines.send_modify(|lines| {
        lines.push(line);
        if lines.len() > KEEP {
            lines.remove(0);
        }
    });
}

fn now_hms() -> String {
    chrono::Local::now().format("%H:%M:%S").to_string()
}

async fn custom(State(shared): State<Shared>, headers: HeaderMap, body: Bytes) -> StatusCode {
    let header = |name: &str| {
        headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .unwrap_or("")
    };
    let id = header("webhook-id").to_string();
    let timestamp: i64 = header("webhook-timestamp").parse().unwrap_or(0);
    let skew = (chrono::Utc::now().timestamp() - timestamp).abs();
    let valid = shared
        .key
        .verify(&id, timestamp, &body, header("webhook-signature"));
    let value: serde_json::Value = serde_json::from_slice(&body).unwrap_or_default();
    let kind = value["type"].as_str().unwrap_or("?");
    let service = value["data"]["service"]["name"].as_str().unwrap_or("");
    let rate = value["data"]["success_rate"]
        .as_f64()
        .map(|r| format!(" {:.1}%", r * 100.0))
        .unwrap_or_default();
    if !valid || skew > 300 {
        push(
            &shared,
            format!(
                "{} /hook REJECTED {kind}: bad signature or stale timestamp",
                now_hms()
            ),
        );
        return StatusCode::UNAUTHORIZED;
    }
    let fresh = shared
        .seen
        .lock()
        .unwrap_or_else(|p| p.into_inner())
        .insert(id.clone());
    // The verdict leads, so a narrow pane still shows it.
    let note = if fresh {
        "signed ✔"
    } else {
        "duplicate id, ignored:"
    };
    push(
        &shared,
        format!("{} /hook {note} {kind} {service}{rate}", now_hms()),
    );
    StatusCode::NO_CONTENT
}

async fn slack(State(shared): State<Shared>, body: Bytes) -> (StatusCode, &'static str) {
    let value: serde_json::Value = serde_json::from_slice(&body).unwrap_or_default();
    let text = value["text"].as_str().unwrap_or("(no text)");
    // Slack's text escapes <, > and &; show it as Slack would.
    let first = text
        .lines()
        .next()
        .unwrap_or("")
        .replace("&lt;", "<")
        .replace("&gt;", ">")
        .replace("&amp;", "&");
    push(&shared, format!("{} /slack {first}", now_hms()));
    (StatusCode::OK, "ok")
}
