//! The user API v2 client: form-encoded `POST {url}` with `key` and `action`, for one panel.
//!
//! It owns the HTTP side only: pacing (`max_requests_per_minute`), timeouts, no redirects (the
//! key travels in the body and would follow them), multi-status in chunks of at most
//! [`STATUS_CHUNK`] de-duplicated ids, and turning transport failures and rate-limit headers
//! into [`PanelError`]s. What a body means is [`super::decode_v2`]'s business; what the
//! answers mean (balance alerts, order changes, statistics) is the engine's.

use std::time::Instant;

use reqwest::header::CONTENT_TYPE;
use tracing::debug;

use crate::config::{PanelConfig, Secret};
use crate::domain::OrderId;
use crate::panel::admin::{self, http_client, read_body, MAX_BODY_BYTES};
use crate::panel::decode::DecodeError;
use crate::panel::decode_v2::{self, Balance, Catalogue, StatusBatch, STATUS_CHUNK};
use crate::panel::pace::Pacer;
use crate::panel::{PanelError, PanelErrorKind};

/// Reads one panel through its user API v2.
pub struct V2Client {
    panel: String,
    url: String,
    key: Secret,
    http: reqwest::Client,
    pacer: Pacer,
}

impl std::fmt::Debug for V2Client {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("V2Client")
            .field("panel", &self.panel)
            .field("url", &self.url)
            .field("key", &self.key)
            .finish_non_exhaustive()
    }
}

/// One answer as it came: status, content type, body, and the headers that matter.
struct Answer {
    status: u16,
    content_type: Option<String>,
    body: Vec<u8>,
    headers: reqwest::header::HeaderMap,
}

impl V2Client {
    /// A client for `config`; fails only when the TLS backend cannot start.
    pub fn new(config: &PanelConfig) -> Result<V2Client, PanelError> {
        let http = http_client(config)?;
        Ok(V2Client {
            panel: config.name.clone(),
            url: config.url.trim_end_matches('/').to_string(),
            key: config.api_key.clone(),
            http,
            pacer: Pacer::new(config.source.max_requests_per_minute),
        })
    }

    pub fn panel(&self) -> &str {
        &self.panel
    }

    /// `action=balance`.
    pub async fn balance(&self) -> Result<Balance, PanelError> {
        let answer = self.call("balance", &[]).await?;
        decode_v2::v2_balance(answer.status, answer.content_type.as_deref(), &answer.body)
            .map_err(|e| self.refused(e, &answer))
    }

    /// `action=services`.
    pub async fn services(&self) -> Result<Catalogue, PanelError> {
        let answer = self.call("services", &[]).await?;
        decode_v2::v2_services(answer.status, answer.content_type.as_deref(), &answer.body)
            .map_err(|e| self.refused(e, &answer))
    }

    /// `action=status` with `orders` = the ids, de-duplicated, in chunks of at most
    /// [`STATUS_CHUNK`]. Each chunk is one call; `on_call` hears whether each call gave a
    /// usable answer (for the health gauge). The first failed call ends the batch.
    pub async fn statuses(
        &self,
        ids: &[OrderId],
        mut on_call: impl FnMut(bool),
    ) -> Result<StatusBatch, PanelError> {
        let mut unique: Vec<OrderId> = Vec::with_capacity(ids.len());
        let mut seen = std::collections::HashSet::new();
        for id in ids {
            if seen.insert(*id) {
                unique.push(*id);
            }
        }
        let mut out = StatusBatch::default();
        for chunk in unique.chunks(STATUS_CHUNK) {
            let list = chunk
                .iter()
                .map(|id| id.to_string())
                .collect::<Vec<_>>()
                .join(",");
            let result = match self.call("status", &[("orders", list)]).await {
                Ok(answer) => decode_v2::v2_status_multi(
                    answer.status,
                    answer.content_type.as_deref(),
                    &answer.body,
                    chunk,
                )
                .map_err(|e| self.refused(e, &answer)),
                Err(e) => Err(e),
            };
            on_call(result.is_ok());
            let batch = result?;
            out.items.extend(batch.items);
            out.errors.extend(batch.errors);
            out.warnings.extend(batch.warnings);
        }
        Ok(out)
    }

    /// One paced form POST; transport failures become panel errors.
    async fn call(&self, action: &str, extra: &[(&str, String)]) -> Result<Answer, PanelError> {
        self.pacer.wait().await;
        let started = Instant::now();
        let mut form: Vec<(&str, &str)> = vec![("key", self.key.expose()), ("action", action)];
        form.extend(extra.iter().map(|(k, v)| (*k, v.as_str())));
        let response = self
            .http
            .post(&self.url)
            .form(&form)
            .header("Accept", "application/json")
            .send()
            .await
            .map_err(|e| self.transport_error(&e))?;
        let status = response.status().as_u16();
        let headers = response.headers().clone();
        let body = read_body(response, MAX_BODY_BYTES)
            .await
            .map_err(|e| self.transport_error(&e))?;
        let Some(body) = body else {
            return Err(PanelError {
                status: Some(status),
                detail: format!("body larger than {MAX_BODY_BYTES} bytes"),
                ..PanelError::new(&self.panel, PanelErrorKind::BadBody)
            });
        };
        debug!(
            panel = %self.panel,
            action,
            status,
            elapsed_ms = started.elapsed().as_millis() as u64,
            "user API call"
        );
        Ok(Answer {
            status,
            content_type: headers
                .get(CONTENT_TYPE)
                .and_then(|v| v.to_str().ok())
                .map(str::to_string),
            body,
            headers,
        })
    }

    /// A decoder's verdict as a panel error, with what only the HTTP side knows.
    fn refused(&self, err: DecodeError, answer: &Answer) -> PanelError {
        admin::refused(&self.panel, &self.key, err, answer.status, &answer.headers)
    }

    fn transport_error(&self, e: &reqwest::Error) -> PanelError {
        admin::transport_error(&self.panel, &self.key, e)
    }
}
