//! HTTP probes (`kind = "http"`): ask a URL, judge the answer, say why it failed.
//!
//! A [`Prober`] holds one panel's probe targets and a pooled HTTP client, and runs every target
//! once per round, concurrently. Each probe ends in a [`ProbeResult`]: a pass, or a failure with
//! a one-line reason (wrong status, too slow, a JSON assertion, no answer). Whether failures are
//! an alert is not decided here: the runtime turns results into orders and the engine applies
//! the rules, as for any panel.
//!
//! A probe's URL, headers and body may hold secrets (`${VAR}`); reasons and logs name the probe,
//! never its URL.

use std::collections::VecDeque;
use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};
use futures_util::future::join_all;
use reqwest::header::{HeaderName, HeaderValue};
use serde_json::Value;

use crate::config::{JsonCheck, PanelConfig, ProbeConfig};
use crate::domain::{Order, OrderId, OrderStatus, ServiceId};
use crate::panel::admin::describe;
use crate::panel::{excerpt, PanelError, PanelErrorKind};

/// Bodies are read up to this size; a JSON assertion on a larger body fails.
const MAX_BODY_BYTES: usize = 1024 * 1024;

/// Probe results kept per panel at most, whatever the window and interval.
const MAX_HISTORY: usize = 200_000;

/// Redirects followed at most, for probes that follow them.
const MAX_REDIRECTS: usize = 5;

/// The outcome of one probe.
#[derive(Clone, Debug, PartialEq)]
pub struct ProbeResult {
    /// The probe's service id.
    pub id: u64,
    pub name: String,
    /// When the probe started.
    pub at: DateTime<Utc>,
    pub elapsed: Duration,
    /// Why it failed; `None` when it passed.
    pub failure: Option<String>,
}

/// One panel's probes and the clients that run them.
pub struct Prober {
    panel: String,
    probes: Vec<ProbeConfig>,
    /// Never follows redirects.
    plain: reqwest::Client,
    /// Follows up to [`MAX_REDIRECTS`]; built only when a probe asks for it.
    following: Option<reqwest::Client>,
}

impl std::fmt::Debug for Prober {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let names: Vec<&str> = self.probes.iter().map(|p| p.name.as_str()).collect();
        f.debug_struct("Prober")
            .field("panel", &self.panel)
            .field("probes", &names)
            .finish_non_exhaustive()
    }
}

impl Prober {
    /// A prober for `panel`'s probes; fails only when the TLS backend cannot start.
    pub fn new(panel: &PanelConfig) -> Result<Prober, PanelError> {
        let build = |policy| {
            reqwest::Client::builder()
                .timeout(panel.timeout)
                .connect_timeout(panel.timeout)
                .redirect(policy)
                .user_agent(concat!("panelwatch/", env!("CARGO_PKG_VERSION")))
                .use_rustls_tls()
                .build()
                .map_err(|e| PanelError {
                    detail: describe(&e, ""),
                    ..PanelError::new(&panel.name, PanelErrorKind::Network)
                })
        };
        let plain = build(reqwest::redirect::Policy::none())?;
        let following = if panel.probes.iter().any(|p| p.follow_redirects) {
            Some(build(reqwest::redirect::Policy::limited(MAX_REDIRECTS))?)
        } else {
            None
        };
        Ok(Prober {
            panel: panel.name.clone(),
            probes: panel.probes.clone(),
            plain,
            following,
        })
    }

    /// Runs every probe once, all at the same time; results in the configured order.
    pub async fn round(&self) -> Vec<ProbeResult> {
        join_all(self.probes.iter().map(|p| self.probe(p))).await
    }

    /// Runs one probe.
    pub async fn probe(&self, probe: &ProbeConfig) -> ProbeResult {
        let at = Utc::now();
        let started = Instant::now();
        let outcome = self.ask(probe).await;
        let elapsed = started.elapsed();
        let failure = match outcome {
            Ok((status, body)) => judge(probe, status, elapsed, body.as_deref()).err(),
            Err(reason) => Some(reason),
        };
        tracing::debug!(
            panel = self.panel.as_str(),
            probe = probe.name.as_str(),
            elapsed_ms = elapsed.as_millis() as u64,
            failure = failure.as_deref().unwrap_or(""),
            "probed"
        );
        ProbeResult {
            id: probe.id,
            name: probe.name.clone(),
            at,
            elapsed,
            failure,
        }
    }

    /// Sends the request and reads the body: the status and, when it fit, the body.
    async fn ask(&self, probe: &ProbeConfig) -> Result<(u16, Option<Vec<u8>>), String> {
        let client = match (&self.following, probe.follow_redirects) {
            (Some(following), true) => following,
            _ => &self.plain,
        };
        let method = reqwest::Method::from_bytes(probe.method.as_bytes())
            .map_err(|_| format!("unknown method {:?}", probe.method))?;
        let mut request = client.request(method, probe.url.expose());
        for (name, value) in &probe.headers {
            let (Ok(name), Ok(value)) = (
                HeaderName::from_bytes(name.as_bytes()),
                HeaderValue::from_str(value.expose()),
            ) else {
                return Err(format!("the header {name:?} cannot be sent"));
            };
            request = request.header(name, value);
        }
        if let Some(body) = &probe.body {
            request = request.body(body.expose().to_string());
        }

        let secret = probe.url.expose();
        let mut response = request.send().await.map_err(|e| describe(&e, secret))?;
        let status = response.status().as_u16();
        // Read the body even when nothing checks it, so the connection can be used again.
        let mut body = Vec::new();
        let mut fits = true;
        while let Some(chunk) = response.chunk().await.map_err(|e| describe(&e, secret))? {
            if body.len() + chunk.len() > MAX_BODY_BYTES {
                fits = false;
                break;
            }
            if !probe.json.is_empty() {
                body.extend_from_slice(&chunk);
            }
        }
        Ok((status, fits.then_some(body)))
    }
}

/// The probe results of a panel's lookback, oldest first, as the orders the engine reads.
///
/// Bounded twice: results older than the lookback are dropped on every push, and at most
/// `capacity` are kept whatever the clock does.
#[derive(Debug)]
pub struct ProbeHistory {
    results: VecDeque<(OrderId, ProbeResult)>,
    next_id: u64,
    capacity: usize,
}

impl ProbeHistory {
    /// Room for `probes` targets probed every `interval` over `lookback`, plus a little.
    pub fn new(probes: usize, interval: Duration, lookback: Duration) -> ProbeHistory {
        let rounds = lookback.as_millis() / interval.as_millis().max(1) + 2;
        let capacity = (rounds as usize)
            .saturating_mul(probes.max(1))
            .min(MAX_HISTORY);
        ProbeHistory {
            results: VecDeque::new(),
            next_id: 1,
            capacity,
        }
    }

    /// Adds a round's results and forgets those that started before `since`.
    pub fn push(&mut self, results: Vec<ProbeResult>, since: DateTime<Utc>) {
        for result in results {
            self.results.push_back((OrderId(self.next_id), result));
            self.next_id += 1;
        }
        while self
            .results
            .front()
            .is_some_and(|(_, r)| r.at < since || self.results.len() > self.capacity)
        {
            self.results.pop_front();
        }
    }

    pub fn len(&self) -> usize {
        self.results.len()
    }

    pub fn is_empty(&self) -> bool {
        self.results.is_empty()
    }

    /// Every kept result as a finished order: Completed when it passed, Canceled when not.
    pub fn orders(&self) -> Vec<Order> {
        self.results
            .iter()
            .map(|(id, r)| Order {
                id: *id,
                service: ServiceId(r.id),
                service_name: r.name.clone(),
                status: if r.failure.is_none() {
                    OrderStatus::Completed
                } else {
                    OrderStatus::Canceled
                },
                quantity: None,
                remains: None,
                provider: None,
                charge: None,
                created: r.at,
            })
            .collect()
    }
}

/// Whether an answer passes: the status, then the latency, then the JSON assertions.
/// `body` is `None` when it was too large to read.
pub fn judge(
    probe: &ProbeConfig,
    status: u16,
    elapsed: Duration,
    body: Option<&[u8]>,
) -> Result<(), String> {
    match probe.expect_status {
        Some(want) if status != want => {
            return Err(format!("status {status} (expected {want})"));
        }
        None if !(200..300).contains(&status) => {
            return Err(format!("status {status} (expected 2xx)"));
        }
        _ => {}
    }
    if let Some(limit) = probe.max_latency {
        if elapsed > limit {
            return Err(format!(
                "slow: answered in {} ms (max_latency {} ms)",
                elapsed.as_millis(),
                limit.as_millis()
            ));
        }
    }
    if probe.json.is_empty() {
        return Ok(());
    }
    let Some(body) = body else {
        return Err(format!("body larger than {MAX_BODY_BYTES} bytes"));
    };
    let value: Value = serde_json::from_slice(body).map_err(|e| {
        let text = String::from_utf8_lossy(body);
        format!("not JSON ({e}): {:?}", excerpt(&text, ""))
    })?;
    for check in &probe.json {
        check_json(&value, check)?;
    }
    Ok(())
}

fn check_json(value: &Value, check: &JsonCheck) -> Result<(), String> {
    let Some(found) = json_at(value, &check.path) else {
        return Err(format!("JSON has no {:?}", check.path));
    };
    match &check.equals {
        Some(want) if !same(found, want) => {
            let got = excerpt(&found.to_string(), "");
            Err(format!("JSON {:?} is {got}, expected {want}", check.path))
        }
        _ => Ok(()),
    }
}

/// The value at a dotted path: object keys by name, array items by number (`data.0.id`).
pub fn json_at<'v>(value: &'v Value, path: &str) -> Option<&'v Value> {
    path.split('.').try_fold(value, |v, key| match v {
        Value::Object(map) => map.get(key),
        Value::Array(items) => items.get(key.parse::<usize>().ok()?),
        _ => None,
    })
}

/// Equality where `1` and `1.0` agree, as TOML and JSON write numbers differently.
fn same(got: &Value, want: &Value) -> bool {
    match (got, want) {
        (Value::Number(a), Value::Number(b)) => a.as_f64() == b.as_f64(),
        _ => got == want,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::Secret;
    use serde_json::json;

    fn probe(json: Vec<(&str, Option<Value>)>) -> ProbeConfig {
        ProbeConfig {
            id: 1,
            name: "api".into(),
            url: Secret::new("http://127.0.0.1:9/?key=hunter2"),
            method: "GET".into(),
            headers: vec![],
            body: None,
            expect_status: None,
            max_latency: Some(Duration::from_secs(2)),
            follow_redirects: false,
            json: json
                .into_iter()
                .map(|(path, equals)| JsonCheck {
                    path: path.into(),
                    equals,
                })
                .collect(),
        }
    }

    /// Status, milliseconds, body, verdict.
    type Case<'a> = (u16, u64, &'a [u8], Result<(), &'a str>);

    #[test]
    fn answers_are_judged_status_latency_then_json() {
        let ms = Duration::from_millis;
        let ok = probe(vec![
            ("status", Some(json!("ok"))),
            ("data.0.n", Some(json!(1))),
        ]);
        let body = br#"{"status":"ok","data":[{"n":1.0}]}"#;
        let cases: Vec<Case> = vec![
            (200, 10, body, Ok(())),
            (500, 10, body, Err("status 500 (expected 2xx)")),
            (301, 10, body, Err("status 301 (expected 2xx)")),
            (
                200,
                2500,
                body,
                Err("slow: answered in 2500 ms (max_latency 2000 ms)"),
            ),
            (
                200,
                10,
                br#"{"status":"down"}"#,
                Err("JSON \"status\" is \"down\", expected \"ok\""),
            ),
            (
                200,
                10,
                br#"{"status":"ok"}"#,
                Err("JSON has no \"data.0.n\""),
            ),
        ];
        for (status, elapsed, body, want) in cases {
            let got = judge(&ok, status, ms(elapsed), Some(body));
            assert_eq!(got, want.map_err(String::from), "{status} {elapsed}");
        }
        let err = judge(&ok, 200, ms(1), Some(b"<html>oops</html>")).unwrap_err();
        assert!(err.starts_with("not JSON ("), "{err}");
        assert!(err.ends_with("\"<html>oops</html>\""), "{err}");
        let mut exact = probe(vec![]);
        exact.expect_status = Some(404);
        assert_eq!(judge(&exact, 404, ms(1), None), Ok(()));
        assert!(judge(&exact, 200, ms(1), None).is_err());
    }

    #[test]
    fn a_path_without_equals_only_needs_to_exist() {
        let p = probe(vec![("items.1", None)]);
        assert_eq!(
            judge(&p, 200, Duration::ZERO, Some(b"{\"items\":[0,null]}")),
            Ok(())
        );
        assert!(judge(&p, 200, Duration::ZERO, Some(b"{\"items\":[0]}")).is_err());
    }

    #[test]
    fn history_keeps_the_lookback_as_orders() {
        let t0 = DateTime::from_timestamp(1_800_000_000, 0).unwrap();
        let result = |s: i64, failure: Option<&str>| ProbeResult {
            id: 3,
            name: "home".into(),
            at: t0 + chrono::Duration::seconds(s),
            elapsed: Duration::ZERO,
            failure: failure.map(String::from),
        };
        let mut history = ProbeHistory::new(1, Duration::from_secs(20), Duration::from_secs(60));
        for s in (0..200).step_by(20) {
            let failure = (s == 180).then_some("status 500 (expected 2xx)");
            let since = t0 + chrono::Duration::seconds(s - 60);
            history.push(vec![result(s, failure)], since);
        }
        let orders = history.orders();
        let created: Vec<i64> = orders
            .iter()
            .map(|o| (o.created - t0).num_seconds())
            .collect();
        assert_eq!(created, vec![120, 140, 160, 180]);
        assert_eq!(orders[3].status, OrderStatus::Canceled);
        assert_eq!(orders[2].status, OrderStatus::Completed);
        assert_eq!(orders[0].service, ServiceId(3));
        assert_eq!(orders[3].id, OrderId(10), "ids keep counting");
        // The capacity bounds it even when the clock stands still.
        for _ in 0..100 {
            history.push(vec![result(190, None)], t0);
        }
        assert_eq!(history.len(), 5);
    }

    #[tokio::test]
    async fn an_unreachable_target_fails_without_showing_its_url() {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        drop(listener);
        let mut p = probe(vec![]);
        p.url = Secret::new(format!("http://127.0.0.1:{port}/?key=hunter2"));
        let panel = PanelConfig {
            name: "site".into(),
            kind: crate::config::PanelKind::Http,
            url: String::new(),
            api_key: Secret::default(),
            interval: Duration::from_secs(20),
            timeout: Duration::from_secs(2),
            page_size: 1,
            probes: vec![p],
            source: Default::default(),
        };
        let prober = Prober::new(&panel).unwrap();
        let results = prober.round().await;
        let reason = results[0].failure.clone().expect("a failure");
        assert!(reason.starts_with("connection failed"), "{reason}");
        assert!(
            !reason.contains("hunter2") && !reason.contains("127.0.0.1"),
            "{reason}"
        );
        assert!(!format!("{prober:?}").contains("hunter2"));
    }
}
