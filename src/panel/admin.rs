//! The admin API v2 client: `GET {url}/orders` page by page, for one panel.
//!
//! It owns the HTTP side only: timeouts, no redirects (the key would follow them), paging,
//! de-duplication across pages, and turning transport failures and rate-limit headers into
//! [`PanelError`]s. What a body means is [`super::decode`]'s business; what the orders mean is
//! the engine's.

use std::collections::HashSet;
use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};
use reqwest::header::{HeaderMap, CONTENT_TYPE, LOCATION, RETRY_AFTER};
use tracing::debug;

use crate::config::{PanelConfig, Secret};
use crate::domain::Order;
use crate::panel::decode::{self, OrdersPage};
use crate::panel::{excerpt, PanelError, PanelErrorKind};

/// A broken panel that always claims a next page must not keep us busy forever.
pub const MAX_PAGES: u32 = 1000;

/// The most one page's answer may weigh: 8 KiB per order asked for (a real order is well under
/// 2 KiB), at least 1 MiB and at most 64 MiB. A bigger answer is refused unread, before it can
/// cost memory or decoding time.
fn max_body_bytes(page_size: u32) -> usize {
    (page_size as usize * 8 * 1024).clamp(1024 * 1024, 64 * 1024 * 1024)
}

/// A body larger than this is refused rather than held in memory.
pub(crate) const MAX_BODY_BYTES: usize = 64 * 1024 * 1024;

/// Reads orders from one panel's admin API.
pub struct AdminClient {
    panel: String,
    base: String,
    key: Secret,
    page_size: u32,
    http: reqwest::Client,
    pacer: crate::panel::pace::Pacer,
}

impl std::fmt::Debug for AdminClient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AdminClient")
            .field("panel", &self.panel)
            .field("base", &self.base)
            .field("key", &self.key)
            .field("page_size", &self.page_size)
            .finish_non_exhaustive()
    }
}

/// Every order a poll found, once each, with what was odd about the answers.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct FetchedOrders {
    /// Newest first, as the panel sorted them; each id once.
    pub orders: Vec<Order>,
    /// Skipped orders, unknown statuses, paging oddities.
    pub warnings: Vec<String>,
    pub pages: u32,
    pub elapsed: Duration,
}

/// The HTTP client both panel APIs use: the panel's timeout on every call, redirects never
/// followed (the key travels with the request), TLS verified, a real User-Agent.
pub(crate) fn http_client(config: &PanelConfig) -> Result<reqwest::Client, PanelError> {
    reqwest::Client::builder()
        .timeout(config.timeout)
        .connect_timeout(config.timeout)
        .redirect(reqwest::redirect::Policy::none())
        .user_agent(concat!("panelwatch/", env!("CARGO_PKG_VERSION")))
        .use_rustls_tls()
        .build()
        .map_err(|e| PanelError {
            detail: describe(&e, config.api_key.expose()),
            ..PanelError::new(&config.name, PanelErrorKind::Network)
        })
}

impl AdminClient {
    /// A client for `config`; fails only when the TLS backend cannot start.
    pub fn new(config: &PanelConfig) -> Result<AdminClient, PanelError> {
        let http = http_client(config)?;
        Ok(AdminClient {
            panel: config.name.clone(),
            base: config.url.trim_end_matches('/').to_string(),
            key: config.api_key.clone(),
            page_size: config.page_size.max(1),
            http,
            pacer: crate::panel::pace::Pacer::new(config.source.max_requests_per_minute),
        })
    }

    /// The configured panel name.
    pub fn panel(&self) -> &str {
        &self.panel
    }

    /// Every order created at or after `created_from`, newest first.
    ///
    /// Pages with `limit` = the configured page size and stops at a short page, at an empty
    /// `next_page_href`, when a full page brings no order not seen before (a panel ignoring
    /// `offset`), or after [`MAX_PAGES`]. An absent `pagination` does not stop the paging: a
    /// panel that leaves it out would otherwise lose every order past the first page.
    pub async fn fetch_orders(
        &self,
        created_from: DateTime<Utc>,
    ) -> Result<FetchedOrders, PanelError> {
        let started = Instant::now();
        let limit = self.page_size as usize;
        let mut seen = HashSet::new();
        let mut out = FetchedOrders::default();
        let mut offset = 0usize;

        loop {
            if out.pages >= MAX_PAGES {
                out.warnings.push(format!(
                    "stopped paging after {MAX_PAGES} pages: the panel kept offering more"
                ));
                break;
            }
            let page = self.fetch_page(created_from, offset).await?;
            out.pages += 1;
            let mut fresh = 0;
            for order in page.orders {
                if seen.insert(order.id) {
                    out.orders.push(order);
                    fresh += 1;
                }
            }
            out.warnings.extend(page.warnings);
            debug!(
                panel = %self.panel,
                page = out.pages,
                orders = page.entries,
                fresh,
                "read a page of orders"
            );
            offset += page.entries;
            let short = page.entries < limit;
            let last = page.has_next == Some(false);
            let counted_out = page.count.is_some_and(|c| offset as u64 >= c);
            if short || last || counted_out {
                break;
            }
            if fresh == 0 {
                out.warnings.push(format!(
                    "stopped paging at offset {offset}: a full page held no new order"
                ));
                break;
            }
        }

        out.elapsed = started.elapsed();
        debug!(
            panel = %self.panel,
            pages = out.pages,
            orders = out.orders.len(),
            elapsed_ms = out.elapsed.as_millis() as u64,
            "fetched orders"
        );
        Ok(out)
    }

    async fn fetch_page(
        &self,
        created_from: DateTime<Utc>,
        offset: usize,
    ) -> Result<OrdersPage, PanelError> {
        self.pacer.wait().await;
        let url = format!("{}/orders", self.base);
        let query = [
            ("created_from", created_from.timestamp().to_string()),
            ("limit", self.page_size.to_string()),
            ("offset", offset.to_string()),
            ("sort", "date-desc".to_string()),
        ];
        let response = self
            .http
            .get(&url)
            .query(&query)
            .header("X-Api-Key", self.key.expose())
            .header("Accept", "application/json")
            .send()
            .await
            .map_err(|e| self.transport_error(&e))?;

        let status = response.status().as_u16();
        let headers = response.headers().clone();
        let cap = max_body_bytes(self.page_size);
        let body = read_body(response, cap)
            .await
            .map_err(|e| self.transport_error(&e))?;
        let Some(body) = body else {
            return Err(PanelError {
                status: Some(status),
                detail: format!("answer larger than {} KiB for one page", cap / 1024),
                ..PanelError::new(&self.panel, PanelErrorKind::BadBody)
            });
        };

        let content_type = headers.get(CONTENT_TYPE).and_then(|v| v.to_str().ok());
        decode::admin_orders_page(status, content_type, &body)
            .map_err(|err| refused(&self.panel, &self.key, err, status, &headers))
    }

    fn transport_error(&self, e: &reqwest::Error) -> PanelError {
        transport_error(&self.panel, &self.key, e)
    }
}

/// A decoder's verdict on an answer as a panel error, with what only the HTTP side knows: the
/// announced rate-limit reset and a redirect's target (key masked). Both panel APIs use it.
pub(crate) fn refused(
    panel: &str,
    key: &Secret,
    err: decode::DecodeError,
    status: u16,
    headers: &reqwest::header::HeaderMap,
) -> PanelError {
    let mut err = PanelError::from_decode(panel, err, key.expose());
    if let PanelErrorKind::RateLimited { retry_after } = &mut err.kind {
        *retry_after = retry_after_from(headers, Utc::now());
    }
    let location = headers.get(LOCATION).and_then(|v| v.to_str().ok());
    if let (true, Some(location)) = ((300..400).contains(&status), location) {
        let location = excerpt(location, key.expose());
        err.detail = format!("redirect to {location:?} not followed");
    }
    debug!(panel, error = %err, "panel answer refused");
    err
}

/// A failed HTTP call (no answer) as a panel error: a timeout, or a network failure.
pub(crate) fn transport_error(panel: &str, key: &Secret, e: &reqwest::Error) -> PanelError {
    let kind = if e.is_timeout() {
        PanelErrorKind::Timeout
    } else {
        PanelErrorKind::Network
    };
    PanelError {
        status: e.status().map(|s| s.as_u16()),
        detail: describe(e, key.expose()),
        ..PanelError::new(panel, kind)
    }
}

/// The whole body, or `None` when it grows past `cap` bytes.
pub(crate) async fn read_body(
    mut response: reqwest::Response,
    cap: usize,
) -> Result<Option<Vec<u8>>, reqwest::Error> {
    if response.content_length().is_some_and(|n| n as usize > cap) {
        return Ok(None);
    }
    let mut body = Vec::new();
    while let Some(chunk) = response.chunk().await? {
        if body.len() + chunk.len() > cap {
            return Ok(None);
        }
        body.extend_from_slice(&chunk);
    }
    Ok(Some(body))
}

/// A reqwest error and its causes on one line, without the URL and with the key redacted.
pub(crate) fn describe(e: &reqwest::Error, secret: &str) -> String {
    let mut parts = Vec::new();
    let mut source: Option<&dyn std::error::Error> = std::error::Error::source(e);
    while let Some(cause) = source {
        parts.push(cause.to_string());
        source = cause.source();
    }
    let head = if e.is_timeout() {
        "no complete answer in time"
    } else if e.is_connect() {
        "connection failed"
    } else if e.is_body() || e.is_decode() {
        "reading the body failed"
    } else if e.is_builder() {
        "the request could not be built"
    } else {
        "the request failed"
    };
    parts.dedup();
    let text = if parts.is_empty() {
        head.to_string()
    } else {
        format!("{head}: {}", parts.join(": "))
    };
    excerpt(&text, secret)
}

/// How long a rate-limited panel wants us to wait: `Retry-After` (seconds or an HTTP date),
/// else `X-RateLimit-Reset` (unix seconds, or seconds from now when small).
pub fn retry_after_from(headers: &HeaderMap, now: DateTime<Utc>) -> Option<Duration> {
    let header = |name: &str| {
        headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .map(str::trim)
    };
    if let Some(value) = header(RETRY_AFTER.as_str()) {
        if let Ok(secs) = value.parse::<u64>() {
            return Some(Duration::from_secs(secs));
        }
        if let Ok(at) = DateTime::parse_from_rfc2822(value) {
            return Some((at.to_utc() - now).to_std().unwrap_or(Duration::ZERO));
        }
    }
    let reset: i64 = header("x-ratelimit-reset")?.parse().ok()?;
    if reset < 0 {
        return None;
    }
    // Unix time is past a billion seconds; smaller values are a delay, as some panels send.
    if reset < 1_000_000_000 {
        return Some(Duration::from_secs(reset as u64));
    }
    let at = DateTime::from_timestamp(reset, 0)?;
    Some((at - now).to_std().unwrap_or(Duration::ZERO))
}

#[cfg(test)]
mod tests {
    use super::*;
    use reqwest::header::HeaderValue;

    fn headers(pairs: &[(&'static str, &str)]) -> HeaderMap {
        let mut map = HeaderMap::new();
        for (name, value) in pairs {
            map.insert(*name, HeaderValue::from_str(value).unwrap());
        }
        map
    }

    type Headers = Vec<(&'static str, &'static str)>;

    #[test]
    fn retry_after_in_its_forms() {
        let now = DateTime::from_timestamp(1_714_557_600, 0).unwrap();
        let secs = Duration::from_secs;
        let cases: Vec<(Headers, Option<Duration>)> = vec![
            (vec![("retry-after", "30")], Some(secs(30))),
            (
                vec![("retry-after", "Wed, 01 May 2024 10:01:00 GMT")],
                Some(secs(60)),
            ),
            (vec![("x-ratelimit-reset", "1714557645")], Some(secs(45))),
            (vec![("x-ratelimit-reset", "20")], Some(secs(20))),
            (vec![("x-ratelimit-reset", "1714550000")], Some(secs(0))),
            (vec![("retry-after", "soon")], None),
            (vec![], None),
        ];
        for (pairs, want) in cases {
            assert_eq!(retry_after_from(&headers(&pairs), now), want, "{pairs:?}");
        }
    }

    #[test]
    fn debug_never_shows_the_key() {
        let config = PanelConfig {
            name: "main".into(),
            kind: crate::config::PanelKind::Admin,
            url: "http://127.0.0.1:9/adminapi/v2/".into(),
            api_key: Secret::new("very-secret-key"),
            interval: Duration::from_secs(30),
            timeout: Duration::from_secs(5),
            page_size: 100,
            probes: Vec::new(),
            source: Default::default(),
        };
        let client = AdminClient::new(&config).unwrap();
        let debug = format!("{client:?}");
        assert!(!debug.contains("very-secret-key"), "{debug}");
        assert!(
            debug.contains("http://127.0.0.1:9/adminapi/v2\""),
            "{debug}"
        );
    }
}
