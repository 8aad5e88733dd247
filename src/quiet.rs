//! Quiet times: mutes set by the operator and maintenance windows from the config.
//!
//! While something is quiet, its alerts still change state and are recorded in the event
//! history, but they are not delivered. What that means at the edges (alerting.md, "Quiet
//! times") is decided in the engine: an alert that was announced before the quiet time is not
//! announced again after it; one that started during it and is still open afterwards is
//! announced then, once; a recovery is always recorded, and delivered when its alert had been
//! announced.
//!
//! A maintenance window opens at a local wall-clock time in its time zone and stays open for
//! its duration in real time, so a `02:00` + `2h` window on the night clocks go forward still
//! lasts two hours. A start time that does not exist that night (skipped by a daylight-saving
//! change) opens the window at the first valid minute after it; one that exists twice opens
//! it at the first.

use chrono::{DateTime, Datelike, Duration as Span, NaiveDate, TimeZone, Utc};
use serde::{Deserialize, Serialize};

use crate::config::MaintenanceConfig;
use crate::domain::ServiceId;

/// What a mute covers. Written `PANEL`, `PANEL/SERVICE_ID` or `PANEL/provider:NAME`.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum MuteTarget {
    Panel(String),
    Service(String, ServiceId),
    Provider(String, String),
}

impl MuteTarget {
    pub fn parse(text: &str) -> Result<MuteTarget, String> {
        let text = text.trim();
        let (panel, rest) = match text.split_once('/') {
            Some((p, r)) => (p, Some(r)),
            None => (text, None),
        };
        if panel.is_empty() {
            return Err(format!("{text:?}: a mute target starts with a panel name"));
        }
        match rest {
            None => Ok(MuteTarget::Panel(panel.into())),
            Some(r) => match r.strip_prefix("provider:") {
                Some(p) if !p.is_empty() => Ok(MuteTarget::Provider(panel.into(), p.into())),
                Some(_) => Err(format!("{text:?}: name the provider after provider:")),
                None => r
                    .parse::<u64>()
                    .map(|id| MuteTarget::Service(panel.into(), ServiceId(id)))
                    .map_err(|_| {
                        format!("{text:?}: write PANEL, PANEL/SERVICE_ID or PANEL/provider:NAME")
                    }),
            },
        }
    }

    /// The panel the target belongs to.
    pub fn panel(&self) -> &str {
        match self {
            MuteTarget::Panel(p) | MuteTarget::Service(p, _) | MuteTarget::Provider(p, _) => p,
        }
    }

    /// Whether the mute covers something about `panel` (and the service or provider, if any).
    pub fn covers(&self, panel: &str, service: Option<ServiceId>, provider: Option<&str>) -> bool {
        match self {
            MuteTarget::Panel(p) => p == panel,
            MuteTarget::Service(p, id) => p == panel && service == Some(*id),
            MuteTarget::Provider(p, name) => p == panel && provider == Some(name.as_str()),
        }
    }
}

impl std::fmt::Display for MuteTarget {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            MuteTarget::Panel(p) => write!(f, "{p}"),
            MuteTarget::Service(p, id) => write!(f, "{p}/{id}"),
            MuteTarget::Provider(p, name) => write!(f, "{p}/provider:{name}"),
        }
    }
}

/// A mute as stored (`mute/<target>` in the state table).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Mute {
    pub until: DateTime<Utc>,
}

/// The subject whose quietness is asked about.
#[derive(Clone, Copy, Debug)]
pub struct Subject<'a> {
    pub panel: &'a str,
    pub service: Option<(ServiceId, &'a str)>,
    pub provider: Option<&'a str>,
}

/// Why `subject` is quiet at `now`, if it is: `muted until 18:00 UTC` or `maintenance
/// "nightly"`.
pub fn why_quiet(
    subject: Subject<'_>,
    mutes: &[(MuteTarget, Mute)],
    windows: &[MaintenanceConfig],
    now: DateTime<Utc>,
) -> Option<String> {
    let service = subject.service.map(|(id, _)| id);
    let muted = mutes
        .iter()
        .filter(|(target, mute)| {
            mute.until > now && target.covers(subject.panel, service, subject.provider)
        })
        .map(|(_, mute)| mute.until)
        .max();
    if let Some(until) = muted {
        return Some(format!(
            "muted until {}",
            until.format("%Y-%m-%d %H:%M UTC")
        ));
    }
    windows
        .iter()
        .find(|w| window_covers(w, subject) && is_open(w, now))
        .map(|w| format!("maintenance {:?}", w.name))
}

fn window_covers(w: &MaintenanceConfig, subject: Subject<'_>) -> bool {
    let panel_ok = w
        .panels
        .as_ref()
        .is_none_or(|names| names.iter().any(|n| n == subject.panel));
    let service_ok = match subject.service {
        Some((id, name)) => w.services.iter().any(|s| s.matches(id.0, name)),
        // Panel-wide and provider-wide subjects: covered when the window covers every service.
        None => w
            .services
            .iter()
            .any(|s| matches!(s, crate::config::ServiceSelector::Glob(g) if g == "*")),
    };
    panel_ok && service_ok
}

/// Whether the window is open at `now`.
pub fn is_open(w: &MaintenanceConfig, now: DateTime<Utc>) -> bool {
    let today = now.with_timezone(&w.timezone).date_naive();
    let reach = w.duration.as_secs() / 86_400 + 1;
    (0..=reach).any(|back| {
        let Some(day) = today.checked_sub_days(chrono::Days::new(back)) else {
            return false;
        };
        if !w.days.is_empty() && !w.days.contains(&day.weekday()) {
            return false;
        }
        let Some(start) = opening(w, day) else {
            return false;
        };
        let end = start + Span::from_std(w.duration).unwrap_or(Span::zero());
        start <= now && now < end
    })
}

/// When the window opens on `day`, in UTC.
fn opening(w: &MaintenanceConfig, day: NaiveDate) -> Option<DateTime<Utc>> {
    let mut local = day.and_time(w.start);
    // A gap lasts at most a few hours; look minute by minute for the first valid time.
    for _ in 0..=(4 * 60) {
        match w.timezone.from_local_datetime(&local) {
            chrono::LocalResult::Single(t) => return Some(t.with_timezone(&Utc)),
            chrono::LocalResult::Ambiguous(first, _) => return Some(first.with_timezone(&Utc)),
            chrono::LocalResult::None => local += Span::minutes(1),
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::ServiceSelector;
    use chrono::{NaiveTime, Weekday};
    use std::time::Duration;

    fn utc(text: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(text)
            .unwrap()
            .with_timezone(&Utc)
    }

    fn window(
        days: Vec<Weekday>,
        start: &str,
        hours: u64,
        zone: chrono_tz::Tz,
    ) -> MaintenanceConfig {
        MaintenanceConfig {
            name: "nightly".into(),
            days,
            start: NaiveTime::parse_from_str(start, "%H:%M").unwrap(),
            duration: Duration::from_secs(hours * 3600),
            timezone: zone,
            panels: None,
            services: vec![ServiceSelector::Glob("*".into())],
        }
    }

    #[test]
    fn a_window_crossing_midnight_is_open_on_both_sides() {
        let w = window(vec![Weekday::Fri], "23:00", 3, chrono_tz::Europe::Berlin);
        // Friday 2026-12-04 23:00 in Berlin is 22:00 UTC; open until Saturday 02:00 local.
        assert!(!is_open(&w, utc("2026-12-04T21:59:00Z")));
        assert!(is_open(&w, utc("2026-12-04T22:00:00Z")));
        assert!(is_open(&w, utc("2026-12-05T00:30:00Z")));
        assert!(!is_open(&w, utc("2026-12-05T01:00:00Z")));
        // Only on Fridays: Thursday night stays shut.
        assert!(!is_open(&w, utc("2026-12-03T22:30:00Z")));
    }

    #[test]
    fn a_window_on_the_night_clocks_go_forward_lasts_its_real_duration() {
        // Europe/Berlin skips 02:00-03:00 on 2027-03-28. A window at 02:30 opens at 03:00 local
        // (01:00 UTC) and lasts two real hours.
        let w = window(vec![], "02:30", 2, chrono_tz::Europe::Berlin);
        assert!(!is_open(&w, utc("2027-03-28T00:59:00Z")));
        assert!(is_open(&w, utc("2027-03-28T01:00:00Z")));
        assert!(is_open(&w, utc("2027-03-28T02:59:00Z")));
        assert!(!is_open(&w, utc("2027-03-28T03:00:00Z")));
    }

    #[test]
    fn a_window_on_the_night_clocks_go_back_opens_at_the_first_occurrence() {
        // Europe/Berlin repeats 02:00-03:00 on 2026-10-25: 02:30 first occurs at 00:30 UTC.
        let w = window(vec![], "02:30", 1, chrono_tz::Europe::Berlin);
        assert!(is_open(&w, utc("2026-10-25T00:30:00Z")));
        assert!(!is_open(&w, utc("2026-10-25T01:30:00Z")));
        // On an ordinary day in winter 02:30 local is 01:30 UTC.
        assert!(is_open(&w, utc("2026-10-26T01:30:00Z")));
    }

    #[test]
    fn mute_targets_parse_and_cover() {
        let t = MuteTarget::parse("main/17").unwrap();
        assert_eq!(t, MuteTarget::Service("main".into(), ServiceId(17)));
        assert!(t.covers("main", Some(ServiceId(17)), None));
        assert!(!t.covers("main", Some(ServiceId(18)), None));
        let p = MuteTarget::parse("main/provider:fastsmm").unwrap();
        assert!(p.covers("main", Some(ServiceId(1)), Some("fastsmm")));
        assert_eq!(p.to_string(), "main/provider:fastsmm");
        assert!(MuteTarget::parse("main")
            .unwrap()
            .covers("main", None, None));
        assert!(MuteTarget::parse("main/x").is_err());
        assert!(MuteTarget::parse("/17").is_err());
    }

    #[test]
    fn expired_mutes_are_not_quiet() {
        let now = utc("2026-12-04T12:00:00Z");
        let mutes = vec![(
            MuteTarget::parse("main").unwrap(),
            Mute {
                until: utc("2026-12-04T11:59:00Z"),
            },
        )];
        let subject = Subject {
            panel: "main",
            service: Some((ServiceId(1), "x")),
            provider: None,
        };
        assert_eq!(why_quiet(subject, &mutes, &[], now), None);
        let later = vec![(
            mutes[0].0.clone(),
            Mute {
                until: utc("2026-12-04T13:00:00Z"),
            },
        )];
        assert_eq!(
            why_quiet(subject, &later, &[], now).as_deref(),
            Some("muted until 2026-12-04 13:00 UTC")
        );
    }
}
