//! Per-panel request pacing: at most `max_requests_per_minute` requests, evenly spaced.
//!
//! A [`Pacer`] hands out send times one after another; callers wait for theirs before they
//! send. It knows nothing of rate-limit answers: backing off until an announced reset is the
//! poller's business.

use std::time::Duration;

use tokio::sync::Mutex;
use tokio::time::Instant;

/// Spaces requests at least `60 s / per_minute` apart; `None` lets them through at once.
#[derive(Debug)]
pub struct Pacer {
    gap: Option<Duration>,
    next: Mutex<Option<Instant>>,
}

impl Pacer {
    pub fn new(per_minute: Option<u32>) -> Pacer {
        Pacer {
            gap: per_minute.map(|n| Duration::from_secs(60) / n.max(1)),
            next: Mutex::new(None),
        }
    }

    /// Waits until the next request may go.
    pub async fn wait(&self) {
        let Some(gap) = self.gap else {
            return;
        };
        let at = {
            let mut next = self.next.lock().await;
            let now = Instant::now();
            let at = next.map_or(now, |n| n.max(now));
            *next = Some(at + gap);
            at
        };
        tokio::time::sleep_until(at).await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn requests_are_spaced_evenly() {
        let pacer = Pacer::new(Some(3000));
        let start = Instant::now();
        for _ in 0..5 {
            pacer.wait().await;
        }
        assert!(start.elapsed() >= Duration::from_millis(80));
        assert!(Pacer::new(None).gap.is_none());
    }
}
