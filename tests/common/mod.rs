//! Shared test parts: a recording webhook receiver on loopback, the real binary as a child
//! process, and waiting for conditions with generous deadlines (never a bare sleep).

#![allow(dead_code)]

pub mod prom;

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::body::Bytes;
use axum::extract::{Path as UrlPath, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use axum::Router;

/// One request the receiver got.
#[derive(Clone, Debug)]
pub struct Received {
    pub path: String,
    pub headers: HeaderMap,
    pub body: Bytes,
    pub at: Instant,
}

impl Received {
    pub fn json(&self) -> serde_json::Value {
        serde_json::from_slice(&self.body).expect("the body is JSON")
    }

    pub fn header(&self, name: &str) -> &str {
        self.headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .unwrap_or("")
    }
}

/// One scripted answer: status, headers, body.
pub type Answer<'a> = (u16, Vec<(&'a str, &'a str)>, &'a str);

/// How the receiver answers one path: a list of (status, body) used in turn, the last repeating.
type Script = Vec<(u16, Vec<(String, String)>, String)>;

#[derive(Clone, Default)]
struct Shared {
    got: Arc<Mutex<Vec<Received>>>,
    scripts: Arc<Mutex<std::collections::HashMap<String, Script>>>,
}

/// A local receiver recording every POST to `/{name}`; answers 200 `ok` unless scripted.
pub struct Receiver {
    pub addr: SocketAddr,
    shared: Shared,
    task: tokio::task::JoinHandle<()>,
}

impl Receiver {
    pub async fn start() -> Receiver {
        let shared = Shared::default();
        let app = Router::new()
            .route("/{name}", post(record))
            .with_state(shared.clone());
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let task = tokio::spawn(async move {
            axum::serve(listener, app).await.unwrap();
        });
        Receiver { addr, shared, task }
    }

    pub fn url(&self, name: &str) -> String {
        format!("http://{}/{}", self.addr, name)
    }

    /// Scripts the answers of `/{name}`: each entry once, the last one for ever.
    pub fn script(&self, name: &str, answers: Vec<Answer<'_>>) {
        let script = answers
            .into_iter()
            .map(|(s, h, b)| {
                let h = h
                    .into_iter()
                    .map(|(k, v)| (k.to_string(), v.to_string()))
                    .collect();
                (s, h, b.to_string())
            })
            .collect();
        self.shared
            .scripts
            .lock()
            .unwrap()
            .insert(name.to_string(), script);
    }

    pub fn all(&self) -> Vec<Received> {
        self.shared.got.lock().unwrap().clone()
    }

    /// What `/{name}` got.
    pub fn at(&self, name: &str) -> Vec<Received> {
        let path = format!("/{name}");
        self.all().into_iter().filter(|r| r.path == path).collect()
    }

    /// What `/{name}` got with this event `type`.
    pub fn of_type(&self, name: &str, kind: &str) -> Vec<Received> {
        self.at(name)
            .into_iter()
            .filter(|r| {
                let v: serde_json::Value = serde_json::from_slice(&r.body).unwrap_or_default();
                v["type"] == kind || v["text"].as_str().is_some_and(|t| t.contains(kind))
            })
            .collect()
    }
}

impl Drop for Receiver {
    fn drop(&mut self) {
        self.task.abort();
    }
}

async fn record(
    State(shared): State<Shared>,
    UrlPath(name): UrlPath<String>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    shared.got.lock().unwrap().push(Received {
        path: format!("/{name}"),
        headers,
        body,
        at: Instant::now(),
    });
    let answer = {
        let mut scripts = shared.scripts.lock().unwrap();
        match scripts.get_mut(&name) {
            Some(script) if script.len() > 1 => Some(script.remove(0)),
            Some(script) => script.first().cloned(),
            None => None,
        }
    };
    match answer {
        Some((status, headers, body)) => {
            let mut response = (StatusCode::from_u16(status).unwrap(), body).into_response();
            for (k, v) in headers {
                response.headers_mut().insert(
                    axum::http::HeaderName::from_bytes(k.as_bytes()).unwrap(),
                    v.parse().unwrap(),
                );
            }
            response
        }
        None => (StatusCode::OK, "ok").into_response(),
    }
}

/// Waits until `check` holds, polling every 50 ms, failing the test after `limit`.
pub async fn wait_until(what: &str, limit: Duration, mut check: impl FnMut() -> bool) {
    let start = Instant::now();
    while !check() {
        assert!(
            start.elapsed() < limit,
            "timed out after {limit:?} waiting for {what}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// The real `panelwatch` binary, killed when dropped.
pub struct Binary {
    pub child: Child,
    pub stderr_path: PathBuf,
}

impl Binary {
    /// Starts `panelwatch run --headless --config <config>`, stderr to a file beside it.
    pub fn run(config: &Path, env: &[(&str, &str)]) -> Binary {
        let stderr_path = config.with_extension(format!("stderr.{}", rand_suffix()));
        let stderr = std::fs::File::create(&stderr_path).unwrap();
        let child = Command::new(env!("CARGO_BIN_EXE_panelwatch"))
            .args(["run", "--headless", "--config"])
            .arg(config)
            .env("PANELWATCH_LOG", "info")
            .envs(env.iter().copied())
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(stderr)
            .spawn()
            .expect("the binary starts");
        Binary { child, stderr_path }
    }

    pub fn log(&self) -> String {
        std::fs::read_to_string(&self.stderr_path).unwrap_or_default()
    }

    /// SIGKILL, no goodbye.
    pub fn kill(mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }

    /// SIGTERM, then waits for a clean exit.
    pub fn terminate(mut self) -> std::process::ExitStatus {
        let pid = self.child.id().to_string();
        let _ = Command::new("kill").args(["-TERM", &pid]).status();
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            if let Some(status) = self.child.try_wait().unwrap() {
                return status;
            }
            assert!(
                Instant::now() < deadline,
                "panelwatch did not stop on SIGTERM"
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }
}

impl Drop for Binary {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn rand_suffix() -> u32 {
    use std::sync::atomic::{AtomicU32, Ordering};
    static N: AtomicU32 = AtomicU32::new(0);
    N.fetch_add(1, Ordering::Relaxed)
}

/// Runs a one-shot `panelwatch` command (`mute`, `deliveries`, `track`, ...) with `--config`
/// and the environment given, and returns what it did.
pub fn cli(config: &Path, env: &[(&str, &str)], args: &[&str]) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_panelwatch"))
        .args(args)
        .arg("--config")
        .arg(config)
        .envs(env.iter().copied())
        .output()
        .expect("the binary runs")
}

/// Verifies a custom delivery with the independent `standardwebhooks` crate.
pub fn verify_standard(secret: &str, received: &Received) -> Result<(), String> {
    let hook = standardwebhooks::Webhook::new(secret).map_err(|e| e.to_string())?;
    hook.verify(&received.body, &received.headers)
        .map_err(|e| e.to_string())
}
