//! The user API v2 poller: one task per `kind = "v2"` panel.
//!
//! Each round reads the balance, the services catalogue when it is due (hourly by default),
//! and the statuses of the panel's unfinished tracked orders (multi-status, chunks of 100,
//! de-duplicated); writes the statuses back to `tracked_orders`; and sends the engine one
//! [`PanelReport`] with the panel's tracked orders of the lookback, the balance, the catalogue
//! and how many calls gave a usable answer. A failed balance or status call fails the round
//! (the panel cannot be read); a failed catalogue call is only a warning and an unusable call.
//!
//! Politeness: requests are paced by the client; after a rate limit the next round waits
//! until the announced reset, or doubles its wait (up to an hour) when the panel did not say.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use chrono::Utc;
use tokio::sync::mpsc;
use tokio::time::Instant;

use crate::config::PanelConfig;
use crate::domain::{OrderId, ServiceId};
use crate::engine::{Balance, PanelRead, PanelReport};
use crate::panel::decode_v2::ServiceInfo;
use crate::panel::v2::V2Client;
use crate::panel::{PanelError, PanelErrorKind};
use crate::store::{Store, TrackedUpdate};

/// The longest a rate-limited panel makes us wait.
const MAX_BACKOFF: Duration = Duration::from_secs(3600);

/// What the poller keeps between rounds.
#[derive(Default)]
struct Memory {
    catalogue_at: Option<Instant>,
    names: HashMap<ServiceId, String>,
    /// Rounds in a row that ended rate limited without an announced reset.
    limited: u32,
}

/// Polls `panel` until the receiver goes away (or the task is aborted).
pub async fn run(
    panel: PanelConfig,
    lookback: Duration,
    store: Arc<Store>,
    tx: mpsc::Sender<PanelReport>,
) {
    let client = match V2Client::new(&panel) {
        Ok(c) => c,
        Err(e) => {
            let report = PanelReport {
                panel: panel.name.clone(),
                at: Utc::now(),
                outcome: Err(e.to_string()),
            };
            let _ = tx.send(report).await;
            return;
        }
    };
    let mut memory = Memory::default();
    loop {
        let result = round(&client, &panel, lookback, &store, &mut memory).await;
        let mut wait = panel.interval;
        let outcome = match result {
            Ok(read) => {
                memory.limited = 0;
                Ok(read)
            }
            Err(e) => {
                if let PanelErrorKind::RateLimited { retry_after } = &e.kind {
                    wait = backoff(panel.interval, *retry_after, &mut memory.limited);
                    tracing::info!(
                        panel = panel.name.as_str(),
                        wait_ms = wait.as_millis() as u64,
                        "rate limited; backing off"
                    );
                }
                Err(e.to_string())
            }
        };
        let report = PanelReport {
            panel: panel.name.clone(),
            at: Utc::now(),
            outcome,
        };
        if tx.send(report).await.is_err() {
            return;
        }
        tokio::time::sleep(wait).await;
    }
}

/// How long to wait after a rate limit: until the announced reset (at least the interval),
/// or, when none was announced, the interval doubled once per rate-limited round in a row.
/// Never more than [`MAX_BACKOFF`].
fn backoff(interval: Duration, retry_after: Option<Duration>, limited: &mut u32) -> Duration {
    let wait = match retry_after {
        Some(after) => interval.max(after),
        None => {
            *limited += 1;
            interval.saturating_mul(1 << (*limited).min(12))
        }
    };
    wait.min(MAX_BACKOFF)
}

/// One round of calls; the calls' health travels in the read (or is one failed call).
async fn round(
    client: &V2Client,
    panel: &PanelConfig,
    lookback: Duration,
    store: &Store,
    memory: &mut Memory,
) -> Result<PanelRead, PanelError> {
    let started = Instant::now();
    let name = panel.name.as_str();
    let mut read = PanelRead::default();
    let mut calls = (0u32, 0u32);
    let mut count = |ok: bool| {
        calls.1 += 1;
        if ok {
            calls.0 += 1;
        }
    };

    let balance = client.balance().await;
    count(balance.is_ok());
    let balance = balance?;
    read.balance = Some(Balance {
        amount: balance.amount,
        currency: balance.currency,
    });

    let due = memory
        .catalogue_at
        .is_none_or(|at| at.elapsed() >= panel.source.services_interval);
    if due {
        let catalogue = client.services().await;
        count(catalogue.is_ok());
        match catalogue {
            Ok(catalogue) => {
                memory.catalogue_at = Some(Instant::now());
                memory.names = catalogue
                    .services
                    .values()
                    .map(|s| (s.id, s.name.clone()))
                    .collect();
                read.warnings.extend(catalogue.warnings);
                let list: Vec<ServiceInfo> = catalogue.services.into_values().collect();
                read.catalogue = Some(list);
            }
            Err(e) => read.warnings.push(format!("services not read: {e}")),
        }
    }

    let since = Utc::now() - chrono::Duration::from_std(lookback).unwrap_or_default();
    let open: Vec<OrderId> = match store.tracked_orders(name, since) {
        Ok(rows) => rows
            .iter()
            .filter(|r| !r.finished)
            .map(|r| r.order)
            .collect(),
        Err(e) => {
            tracing::error!(panel = name, error = %e, "cannot read tracked orders");
            Vec::new()
        }
    };
    if !open.is_empty() {
        let batch = client.statuses(&open, &mut count).await?;
        let updates: Vec<TrackedUpdate> = batch
            .items
            .iter()
            .map(|item| TrackedUpdate {
                order: item.order,
                service: None,
                status: item.status.clone(),
                remains: item.remains,
                charge: item.charge,
            })
            .collect();
        if let Err(e) = store.update_tracked(name, &updates, Utc::now()) {
            tracing::error!(panel = name, error = %e, "cannot save tracked orders");
        }
        read.warnings.extend(batch.warnings);
        for (order, error) in batch.errors {
            read.warnings.push(format!("order {order}: {error}"));
        }
    }

    read.orders = match store.tracked_orders(name, since) {
        Ok(rows) => rows
            .iter()
            .filter_map(|r| r.to_order())
            .map(|mut o| {
                o.service_name = memory.names.get(&o.service).cloned().unwrap_or_default();
                o
            })
            .collect(),
        Err(e) => {
            tracing::error!(panel = name, error = %e, "cannot read tracked orders");
            Vec::new()
        }
    };
    read.calls = calls;
    read.elapsed = started.elapsed();
    Ok(read)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rate_limits_back_off_until_the_reset_or_doubling() {
        let secs = Duration::from_secs;
        let mut limited = 0;
        assert_eq!(backoff(secs(30), Some(secs(90)), &mut limited), secs(90));
        assert_eq!(backoff(secs(30), Some(secs(5)), &mut limited), secs(30));
        assert_eq!(limited, 0);
        assert_eq!(backoff(secs(30), None, &mut limited), secs(60));
        assert_eq!(backoff(secs(30), None, &mut limited), secs(120));
        assert_eq!(
            backoff(secs(30), Some(secs(86_400)), &mut limited),
            MAX_BACKOFF
        );
        for _ in 0..20 {
            backoff(secs(30), None, &mut limited);
        }
        assert_eq!(backoff(secs(30), None, &mut limited), MAX_BACKOFF);
    }
}
