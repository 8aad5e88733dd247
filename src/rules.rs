//! Alert rules: the state machine that turns success rates into `fired`, `resolved` and
//! `reminder` transitions.
//!
//! One [`AlertState`] per (rule, panel, service). [`step`] is a pure function of the state, the
//! rule, the latest judged rate and `now`, so every behaviour in alerting.md is tested here with
//! a fake clock. The rules:
//!
//! - a rate below `alert_below` starts a breach; it fires once the breach has lasted `for`;
//! - a firing alert resolves once the rate has stayed at or above `resolve_above` for
//!   `resolve_for`; in between the two thresholds nothing changes (hysteresis);
//! - a rate in between ends a breach that has not fired yet: the next alert needs a fresh
//!   breach, never the leftovers of an old one;
//! - no rate (too few finished orders, or the panel unreadable) changes nothing: an alert
//!   neither fires nor resolves on missing data;
//! - an open alert is re-sent as a reminder every `repeat`, counted from the last notice.

use std::time::Duration;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::config::RuleConfig;

/// Where one rule stands for one service. Persisted as JSON in the store.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "phase", rename_all = "snake_case")]
pub enum AlertState {
    Ok,
    /// Below `alert_below` since `since`, not yet for long enough.
    Pending {
        since: DateTime<Utc>,
    },
    /// The alert is open.
    Firing {
        since: DateTime<Utc>,
        /// When the last notice (fired or reminder) went out.
        notified: DateTime<Utc>,
        /// Since when the rate has been at or above `resolve_above`, if it is.
        recovering: Option<DateTime<Utc>>,
        /// Whether `alert.fired` was delivered: false while it fired in a quiet time.
        #[serde(default = "yes")]
        announced: bool,
    },
}

fn yes() -> bool {
    true
}

impl AlertState {
    pub fn is_firing(&self) -> bool {
        matches!(self, AlertState::Firing { .. })
    }
}

/// A change worth telling the destinations about.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Transition {
    Fired,
    Resolved,
    Reminder,
}

/// Advances one alert by one evaluation. `rate` is `None` when there is no judgeable data.
pub fn step(
    state: &AlertState,
    rule: &RuleConfig,
    rate: Option<f64>,
    now: DateTime<Utc>,
) -> (AlertState, Option<Transition>) {
    let lasted =
        |since: DateTime<Utc>, need: Duration| (now - since).to_std().unwrap_or_default() >= need;

    match (state, rate) {
        (AlertState::Ok, Some(r)) if r < rule.alert_below => {
            if rule.for_.is_zero() {
                (firing(now), Some(Transition::Fired))
            } else {
                (AlertState::Pending { since: now }, None)
            }
        }
        (AlertState::Ok, _) => (AlertState::Ok, None),

        (AlertState::Pending { since }, Some(r)) if r < rule.alert_below => {
            if lasted(*since, rule.for_) {
                (firing(now), Some(Transition::Fired))
            } else {
                (state.clone(), None)
            }
        }
        (AlertState::Pending { .. }, Some(_)) => (AlertState::Ok, None),
        (AlertState::Pending { .. }, None) => (state.clone(), None),

        (
            AlertState::Firing {
                since,
                notified,
                recovering,
                announced,
            },
            rate,
        ) => {
            let recovering = match rate {
                Some(r) if r >= rule.resolve_above => Some(recovering.unwrap_or(now)),
                Some(_) => None,
                None => *recovering,
            };
            if let Some(start) = recovering {
                if rate.is_some() && lasted(start, rule.resolve_for) {
                    return (AlertState::Ok, Some(Transition::Resolved));
                }
            }
            let remind = rule.repeat.is_some_and(|every| lasted(*notified, every));
            let notified = if remind { now } else { *notified };
            let next = AlertState::Firing {
                since: *since,
                notified,
                recovering,
                announced: *announced,
            };
            (next, remind.then_some(Transition::Reminder))
        }
    }
}

fn firing(now: DateTime<Utc>) -> AlertState {
    AlertState::Firing {
        since: now,
        notified: now,
        recovering: None,
        announced: true,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::ServiceSelector;

    fn rule() -> RuleConfig {
        RuleConfig {
            name: "r".into(),
            panels: None,
            services: vec![ServiceSelector::Glob("*".into())],
            window: Duration::from_secs(3600),
            window_text: "1h".into(),
            min_orders: 1,
            alert_below: 0.8,
            resolve_above: 0.85,
            for_: Duration::from_secs(120),
            resolve_for: Duration::ZERO,
            repeat: None,
            stuck_pending: Duration::from_secs(900),
            stuck_running: Duration::from_secs(6 * 3600),
            notify: vec![],
            alert_stuck_above: None,
            group_by: crate::config::GroupBy::Service,
        }
    }

    /// A fake clock: minute `m` after a fixed instant.
    fn t(m: i64) -> DateTime<Utc> {
        DateTime::from_timestamp(1_800_000_000 + m * 60, 0).unwrap()
    }

    /// Runs a scripted series of (minute, rate) and collects the transitions with their minute.
    fn run(rule: &RuleConfig, script: &[(i64, Option<f64>)]) -> Vec<(i64, Transition)> {
        let mut state = AlertState::Ok;
        let mut out = Vec::new();
        for &(m, rate) in script {
            let (next, tr) = step(&state, rule, rate, t(m));
            if let Some(tr) = tr {
                out.push((m, tr));
            }
            state = next;
        }
        out
    }

    #[test]
    fn fires_only_after_the_breach_lasts_for() {
        let got = run(
            &rule(),
            &[
                (0, Some(0.5)),
                (1, Some(0.5)),
                (2, Some(0.5)),
                (3, Some(0.5)),
            ],
        );
        assert_eq!(got, vec![(2, Transition::Fired)]);
    }

    #[test]
    fn one_state_change_one_notification() {
        let script: Vec<_> = (0..30).map(|m| (m, Some(0.1))).collect();
        assert_eq!(run(&rule(), &script), vec![(2, Transition::Fired)]);
    }

    #[test]
    fn hysteresis_holds_between_the_thresholds() {
        let script = [
            (0, Some(0.5)),
            (2, Some(0.5)),
            (3, Some(0.82)),
            (4, Some(0.79)),
            (5, Some(0.84)),
            (6, Some(0.86)),
        ];
        assert_eq!(
            run(&rule(), &script),
            vec![(2, Transition::Fired), (6, Transition::Resolved)]
        );
    }

    #[test]
    fn a_flapping_service_yields_at_most_one_alert() {
        let mut r = rule();
        r.for_ = Duration::ZERO;
        let script: Vec<_> = (0..40)
            .map(|m| (m, Some(if m % 2 == 0 { 0.79 } else { 0.84 })))
            .collect();
        assert_eq!(run(&r, &script), vec![(0, Transition::Fired)]);
    }

    #[test]
    fn a_breach_interrupted_before_for_does_not_fire() {
        let script = [
            (0, Some(0.5)),
            (1, Some(0.81)),
            (2, Some(0.5)),
            (3, Some(0.5)),
        ];
        assert_eq!(run(&rule(), &script), vec![]);
        let script = [
            (0, Some(0.5)),
            (1, Some(0.81)),
            (2, Some(0.5)),
            (4, Some(0.5)),
        ];
        assert_eq!(run(&rule(), &script), vec![(4, Transition::Fired)]);
    }

    #[test]
    fn after_a_resolve_the_next_alert_needs_a_fresh_breach() {
        let script = [
            (0, Some(0.5)),
            (2, Some(0.5)),
            (3, Some(0.9)),
            (4, Some(0.5)),
            (5, Some(0.5)),
            (6, Some(0.5)),
        ];
        assert_eq!(
            run(&rule(), &script),
            vec![
                (2, Transition::Fired),
                (3, Transition::Resolved),
                (6, Transition::Fired)
            ]
        );
    }

    #[test]
    fn resolve_for_needs_a_lasting_recovery() {
        let mut r = rule();
        r.resolve_for = Duration::from_secs(180);
        let script = [
            (0, Some(0.5)),
            (2, Some(0.5)),
            (3, Some(0.9)),
            (4, Some(0.7)),
            (5, Some(0.9)),
            (7, Some(0.9)),
            (8, Some(0.9)),
        ];
        assert_eq!(
            run(&r, &script),
            vec![(2, Transition::Fired), (8, Transition::Resolved)]
        );
    }

    #[test]
    fn missing_data_neither_fires_nor_resolves() {
        let script = [(0, Some(0.5)), (1, None), (2, None), (3, None)];
        assert_eq!(run(&rule(), &script), vec![]);
        let script = [(0, Some(0.5)), (2, Some(0.5)), (3, None), (10, None)];
        assert_eq!(run(&rule(), &script), vec![(2, Transition::Fired)]);
    }

    #[test]
    fn reminders_follow_repeat_from_the_last_notice() {
        let mut r = rule();
        r.for_ = Duration::ZERO;
        r.repeat = Some(Duration::from_secs(600));
        let script: Vec<_> = (0..=25).map(|m| (m, Some(0.1))).collect();
        assert_eq!(
            run(&r, &script),
            vec![
                (0, Transition::Fired),
                (10, Transition::Reminder),
                (20, Transition::Reminder)
            ]
        );
    }

    #[test]
    fn state_round_trips_through_json() {
        let s = AlertState::Firing {
            since: t(1),
            notified: t(2),
            recovering: Some(t(3)),
            announced: false,
        };
        let json = serde_json::to_string(&s).unwrap();
        assert_eq!(serde_json::from_str::<AlertState>(&json).unwrap(), s);
    }
}
