//! What the benchmarks share: made-up orders, configs read from TOML, medians, the machine.
//!
//! Configs are parsed from text rather than built as struct literals, so a new config field
//! does not break the benchmarks.

#![allow(dead_code)]

use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, Utc};
use rust_decimal::Decimal;

use panelwatch::config::Config;
use panelwatch::domain::{Money, Order};
use panelwatch::sim::SimOrder;

/// A config from TOML text, with `base` for relative paths and no environment.
pub fn config(text: &str, base: &Path) -> Arc<Config> {
    Arc::new(Config::from_toml(text, base, &|_| None).unwrap_or_else(|e| panic!("{e}")))
}

/// `count` orders spread over `services` services and the `span` before `now`, newest last:
/// mostly completed, some partial, canceled and still running, as a healthy panel looks.
pub fn sim_orders(services: u64, count: u64, span: Duration, now: DateTime<Utc>) -> Vec<SimOrder> {
    let span_s = span.as_secs().max(1);
    (0..count)
        .map(|i| {
            let service = (i * 7919) % services + 1;
            let age = span_s - (i * span_s / count.max(1)) - 1;
            let created = now - chrono::Duration::seconds(age as i64);
            let mut o = SimOrder::new(i + 1, service, created);
            o.service_name = format!("Service {service}");
            o.provider = Some(format!("provider-{}", service % 37));
            o.quantity = 100 + (i * 13) % 5000;
            o.charge = Money(Decimal::new((i as i64 % 9000) + 100, 5));
            let (status, remains) = match (i * 2_654_435_761) % 100 {
                0..=84 => ("completed", 0),
                85..=89 => ("partial", o.quantity / 3),
                90..=93 => ("canceled", o.quantity),
                94..=95 if age < 600 => ("pending", o.quantity),
                _ if age < 3600 => ("in_progress", o.quantity / 2),
                _ => ("completed", 0),
            };
            o.status = status.into();
            o.remains = remains;
            o
        })
        .collect()
}

pub fn orders(services: u64, count: u64, span: Duration, now: DateTime<Utc>) -> Vec<Order> {
    sim_orders(services, count, span, now)
        .iter()
        .map(SimOrder::to_order)
        .collect()
}

/// The median of some samples.
pub fn median(samples: &mut [f64]) -> f64 {
    samples.sort_by(|a, b| a.total_cmp(b));
    samples[samples.len() / 2]
}

/// The `q` quantile (0..=1) of some samples, nearest rank.
pub fn quantile(samples: &mut [f64], q: f64) -> f64 {
    samples.sort_by(|a, b| a.total_cmp(b));
    let rank = ((samples.len() as f64) * q).ceil() as usize;
    samples[rank.clamp(1, samples.len()) - 1]
}

/// The CPU model and core count, from /proc/cpuinfo.
pub fn machine() -> String {
    let info = std::fs::read_to_string("/proc/cpuinfo").unwrap_or_default();
    let model = info
        .lines()
        .find(|l| l.starts_with("model name"))
        .and_then(|l| l.split(':').nth(1))
        .map(str::trim)
        .unwrap_or("unknown CPU")
        .to_string();
    let cores = std::thread::available_parallelism().map_or(0, |n| n.get());
    format!("{model}, {cores} cores")
}

pub fn verdict(met: bool) -> &'static str {
    if met {
        "met"
    } else {
        "MISSED"
    }
}
