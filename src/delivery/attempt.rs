//! One attempt: render a delivery, sign it, send it once, and say what happened in a few
//! secret-free words.
//!
//! This is the only place that puts a destination's URL, token or signing secret on the
//! wire. What comes back ([`Attempt`]) carries the status, the [`Verdict`] and an outcome text
//! that is safe to log and store: reqwest's errors are described in our own words (their
//! `Display` includes the URL), and any secret echoed in a response body is masked. Deciding
//! what the attempt means for the delivery row is the dispatcher's business.

use std::time::{Duration, Instant};

use chrono::Utc;
use reqwest::header::{HeaderMap, HeaderName, HeaderValue, CONTENT_TYPE};

use crate::config::{format_duration, DestinationConfig, DestinationKind, SignatureStyle};
use crate::delivery::classify::{classify, Verdict};
use crate::delivery::format::render;
use crate::delivery::sign::{github_signature, signature_header, SigningKey};
use crate::event::Event;
use crate::store::Delivery;

/// How much of an answer's body is read (to classify it and quote it).
const BODY_READ_MAX: usize = 16 * 1024;
/// How much of an answer's body an outcome quotes.
const BODY_QUOTE_MAX: usize = 200;

/// What one attempt did.
#[derive(Clone, Debug)]
pub struct Attempt {
    pub status: Option<u16>,
    pub verdict: Verdict,
    /// A few words, never a secret: `HTTP 200 in 12 ms`, `HTTP 500: "down"`, `timeout after 15s`.
    pub outcome: String,
    pub latency: Duration,
    /// A pause the destination asked for before the next request (Discord's rate limit
    /// headers), beside any `Retry-After` carried by the verdict.
    pub pause: Option<Duration>,
}

/// The HTTP client all attempts share: no redirects, our user agent, connection reuse.
pub fn client() -> reqwest::Client {
    reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .user_agent(concat!("panelwatch/", env!("CARGO_PKG_VERSION")))
        .pool_max_idle_per_host(256)
        .tcp_nodelay(true)
        .build()
        .expect("the HTTP client builds with static settings")
}

/// The signing keys of a destination: the current secret, then the next one in a rotation.
/// Config validation has already refused secrets that do not parse.
pub fn signing_keys(dest: &DestinationConfig) -> Vec<SigningKey> {
    [&dest.secret, &dest.secret_next]
        .into_iter()
        .flatten()
        .filter_map(|s| SigningKey::parse(s.expose()).ok())
        .collect()
}

/// Sends one delivery once, within `timeout`.
pub async fn send(
    client: &reqwest::Client,
    dest: &DestinationConfig,
    keys: &[SigningKey],
    delivery: &Delivery,
    chat_override: Option<&str>,
    timeout: Duration,
) -> Attempt {
    let event: Event = match serde_json::from_str(&delivery.body) {
        Ok(e) => e,
        Err(_) => {
            return Attempt {
                status: None,
                verdict: Verdict::Permanent {
                    reason: "the stored event cannot be read".into(),
                },
                outcome: "the stored event cannot be read".into(),
                latency: Duration::ZERO,
                pause: None,
            }
        }
    };
    let rendered = render(dest, &event, &delivery.body, chat_override);

    let mut headers = HeaderMap::new();
    headers.insert(
        CONTENT_TYPE,
        HeaderValue::from_static(rendered.content_type),
    );
    if dest.kind == DestinationKind::Custom {
        let timestamp = Utc::now().timestamp();
        let id = &delivery.event_id;
        let signature = signature_header(
            &keys.iter().collect::<Vec<_>>(),
            id,
            timestamp,
            &rendered.body,
        );
        insert(&mut headers, "webhook-id", id);
        insert(&mut headers, "webhook-timestamp", &timestamp.to_string());
        if !keys.is_empty() {
            insert(&mut headers, "webhook-signature", &signature);
        }
        if let (SignatureStyle::Github, Some(secret)) = (dest.signature, &dest.secret) {
            let sig = github_signature(secret.expose(), &rendered.body);
            insert(&mut headers, "x-hub-signature-256", &sig);
        }
    }
    for (name, value) in &dest.headers {
        if !insert(&mut headers, name, value.expose()) {
            tracing::warn!(destination = %dest.name, header = %name, "header skipped: not valid");
        }
    }

    let started = Instant::now();
    let request = client
        .post(rendered.url.expose())
        .headers(headers)
        .timeout(timeout)
        .body(rendered.body);
    let result = async {
        let mut response = request.send().await?;
        let status = response.status().as_u16();
        let headers = response.headers().clone();
        let mut body = Vec::new();
        while let Some(chunk) = response.chunk().await? {
            let room = BODY_READ_MAX - body.len();
            body.extend_from_slice(&chunk[..chunk.len().min(room)]);
            if body.len() >= BODY_READ_MAX {
                break;
            }
        }
        Ok::<_, reqwest::Error>((status, headers, body))
    }
    .await;
    let latency = started.elapsed();

    match result {
        Ok((status, headers, body)) => {
            let verdict = classify(dest.kind, status, &headers, &body, Utc::now());
            let outcome = if verdict.is_delivered() {
                format!("HTTP {status} in {} ms", latency.as_millis())
            } else {
                let quote = quote(&body, dest);
                let base = if quote.is_empty() {
                    format!("HTTP {status}")
                } else {
                    format!("HTTP {status}: \"{quote}\"")
                };
                match &verdict {
                    Verdict::Refused { reason }
                    | Verdict::Permanent { reason }
                    | Verdict::Gone { reason } => format!("{base} ({reason})"),
                    _ => base,
                }
            };
            Attempt {
                status: Some(status),
                verdict,
                outcome,
                latency,
                pause: discord_pause(dest.kind, &headers),
            }
        }
        Err(e) => Attempt {
            status: None,
            verdict: Verdict::Retry { after: None },
            outcome: describe(&e, timeout),
            latency,
            pause: None,
        },
    }
}

fn insert(headers: &mut HeaderMap, name: &str, value: &str) -> bool {
    match (
        HeaderName::from_bytes(name.as_bytes()),
        HeaderValue::from_str(value),
    ) {
        (Ok(n), Ok(mut v)) => {
            v.set_sensitive(true);
            headers.insert(n, v);
            true
        }
        _ => false,
    }
}

/// A transport failure in our own words: reqwest's own text would include the URL.
fn describe(e: &reqwest::Error, timeout: Duration) -> String {
    if e.is_timeout() {
        return format!("timeout after {}", format_duration(timeout));
    }
    let io_kind = {
        let mut source: Option<&(dyn std::error::Error + 'static)> = Some(e);
        let mut kind = None;
        while let Some(s) = source {
            if let Some(io) = s.downcast_ref::<std::io::Error>() {
                kind = Some(io.kind());
                break;
            }
            source = s.source();
        }
        kind
    };
    match io_kind {
        Some(std::io::ErrorKind::ConnectionRefused) => "connection refused".into(),
        Some(std::io::ErrorKind::ConnectionReset) => "connection reset".into(),
        Some(std::io::ErrorKind::TimedOut) => format!("timeout after {}", format_duration(timeout)),
        _ if e.is_connect() => "cannot connect".into(),
        _ if e.is_body() || e.is_decode() => "the answer broke off".into(),
        _ if e.is_request() => "the request failed".into(),
        _ => "the request failed".into(),
    }
}

/// The start of an answer's body, on one line, with any secret of the destination masked.
fn quote(body: &[u8], dest: &DestinationConfig) -> String {
    let text = String::from_utf8_lossy(body);
    let mut text: String = text
        .chars()
        .map(|c| if c.is_control() { ' ' } else { c })
        .collect();
    for secret in secrets(dest) {
        if secret == dest.url.expose() {
            // The whole URL, exactly; its token parts are in the list on their own and are
            // masked even in fragments (a URL's fragments would be "https:" and friends).
            text = text.replace(secret, "***");
        } else if secret.len() >= 4 {
            text = crate::panel::redact(&text, secret);
        }
    }
    let text = text.trim();
    let mut out: String = text.chars().take(BODY_QUOTE_MAX).collect();
    if text.chars().count() > BODY_QUOTE_MAX {
        out.push('…');
    }
    out.replace('"', "'")
}

/// Every secret string a destination holds, longest first (so a URL is masked before the
/// token inside it).
fn secrets(dest: &DestinationConfig) -> Vec<&str> {
    let mut out: Vec<&str> = [
        Some(&dest.url),
        dest.secret.as_ref(),
        dest.secret_next.as_ref(),
    ]
    .into_iter()
    .flatten()
    .chain(dest.bot_token.as_ref())
    .chain(dest.headers.iter().map(|(_, v)| v))
    .map(|s| s.expose())
    .collect();
    out.extend(url_tokens(dest.url.expose()));
    out.sort_by_key(|s| std::cmp::Reverse(s.len()));
    out
}

/// The parts of a URL that may be tokens: long path segments, query values, a password.
fn url_tokens(url: &str) -> Vec<&str> {
    let Some((_, rest)) = url.split_once("://") else {
        return vec![];
    };
    let (authority, path) = rest.split_at(rest.find('/').unwrap_or(rest.len()));
    let password = authority
        .rsplit_once('@')
        .and_then(|(user, _)| user.split_once(':'))
        .map(|(_, p)| p);
    path.split(['/', '?', '&', '=', '#'])
        .chain(password)
        .filter(|part| part.len() >= 6)
        .collect()
}

/// Discord announces its per-webhook bucket: when none is left, wait for the reset.
fn discord_pause(kind: DestinationKind, headers: &HeaderMap) -> Option<Duration> {
    if kind != DestinationKind::Discord {
        return None;
    }
    let text = |name: &str| headers.get(name).and_then(|v| v.to_str().ok());
    if text("x-ratelimit-remaining")?.trim() != "0" {
        return None;
    }
    let secs: f64 = text("x-ratelimit-reset-after")?.trim().parse().ok()?;
    (secs.is_finite() && secs > 0.0).then(|| Duration::from_secs_f64(secs.min(3600.0)))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::Secret;

    fn dest() -> DestinationConfig {
        DestinationConfig {
            name: "ops".into(),
            kind: DestinationKind::Telegram,
            url: Secret::new("https://api.telegram.test"),
            secret: None,
            secret_next: None,
            signature: SignatureStyle::StandardWebhooks,
            events: vec![],
            headers: vec![("Authorization".into(), Secret::new("Bearer sesame"))],
            bot_token: Some(Secret::new("123:TOKEN")),
            chat_id: Some("1".into()),
        }
    }

    #[test]
    fn quotes_are_short_single_line_and_masked() {
        let body = b"bad\ntoken 123:TOKEN and Bearer sesame \"x\"";
        let q = quote(body, &dest());
        assert_eq!(q, "bad token *** and *** 'x'");
        let long = "x".repeat(500);
        assert_eq!(quote(long.as_bytes(), &dest()).chars().count(), 201);
    }

    #[test]
    fn url_tokens_are_masked_even_when_echoed_alone() {
        let mut d = dest();
        d.url = Secret::new(
            "https://u:pa55word@hooks.test/services/T000/B000/XXXXsecretXXXX?t=qwerty1",
        );
        let q = quote(b"no such hook XXXXsecretXXXX (qwerty1, pa55word)", &d);
        assert_eq!(q, "no such hook *** (***, ***)");
    }

    #[test]
    fn discord_buckets_pause_when_empty() {
        let mut h = HeaderMap::new();
        h.insert("x-ratelimit-remaining", "0".parse().unwrap());
        h.insert("x-ratelimit-reset-after", "1.25".parse().unwrap());
        assert_eq!(
            discord_pause(DestinationKind::Discord, &h),
            Some(Duration::from_millis(1250))
        );
        assert_eq!(discord_pause(DestinationKind::Slack, &h), None);
        h.insert("x-ratelimit-remaining", "3".parse().unwrap());
        assert_eq!(discord_pause(DestinationKind::Discord, &h), None);
    }
}
