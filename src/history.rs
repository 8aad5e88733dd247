//! History: raw orders and success figures rolled up per service and provider, per minute,
//! hour and day, kept for a bounded time in the state store's SQLite file.
//!
//! After each successful poll, [`Recording::write`] upserts the poll's orders and recomputes
//! the minute buckets its lookback covers (orders change status over time, so every minute of
//! the lookback is rebuilt, in one transaction), then the hour and day buckets over them.
//! Once an hour [`prune`] drops what is older than `[history]`'s limits, and delivered events
//! older than `keep_events`. [`periods`] reads the 1h/24h/7d/30d figures the TUI's detail view
//! and `panelwatch report` show.
//!
//! Why the file stays bounded whatever the order volume: a roll-up table holds at most one row
//! per (service, provider, bucket), so minutes are at most services x 2,880 rows (48 h), hours
//! services x 840 (35 d), days services x 400; only `history_orders` grows with volume, for
//! `keep_raw`. This module keeps no figures of the alert rules: those are `stats`' business.

use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use chrono::{DateTime, Utc};
use rusqlite::{params, Connection};
use serde::Serialize;

use crate::domain::{Order, OrderStatus};
use crate::engine::PanelReport;
use crate::snapshot::{PeriodFigures, Snapshot};
use crate::store::{Store, StoreError};

/// `[history]`: how long each kind of history is kept.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct HistoryConfig {
    /// Raw orders as last read.
    pub keep_raw: Duration,
    pub keep_minutes: Duration,
    pub keep_hours: Duration,
    pub keep_days: Duration,
    /// Events whose deliveries are all delivered (dead letters and open ones stay).
    pub keep_events: Duration,
}

const DAY: u64 = 86_400;

impl Default for HistoryConfig {
    fn default() -> Self {
        HistoryConfig {
            keep_raw: Duration::from_secs(7 * DAY),
            keep_minutes: Duration::from_secs(2 * DAY),
            keep_hours: Duration::from_secs(35 * DAY),
            keep_days: Duration::from_secs(400 * DAY),
            keep_events: Duration::from_secs(90 * DAY),
        }
    }
}

/// How often [`prune`] runs from the runtime.
pub const PRUNE_EVERY: Duration = Duration::from_secs(3600);

const SCHEMA: &str = "
CREATE TABLE IF NOT EXISTS history_orders (
    panel TEXT NOT NULL, id INTEGER NOT NULL, service INTEGER NOT NULL,
    provider TEXT NOT NULL, status TEXT NOT NULL, quantity INTEGER, remains INTEGER,
    created INTEGER NOT NULL,
    PRIMARY KEY (panel, id)
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS history_orders_created ON history_orders(created);
CREATE TABLE IF NOT EXISTS history_names (
    panel TEXT NOT NULL, service INTEGER NOT NULL, name TEXT NOT NULL,
    PRIMARY KEY (panel, service)
) WITHOUT ROWID;
";

/// The three roll-up tables, each bucket `at` in unix seconds, its width in seconds.
const TABLES: [(&str, i64); 3] = [
    ("history_minute", 60),
    ("history_hour", 3600),
    ("history_day", 86_400),
];

fn rollup_schema(table: &str) -> String {
    format!(
        "CREATE TABLE IF NOT EXISTS {table} (
            panel TEXT NOT NULL, at INTEGER NOT NULL, service INTEGER NOT NULL,
            provider TEXT NOT NULL, completed INTEGER NOT NULL, partial INTEGER NOT NULL,
            canceled INTEGER NOT NULL, delivered REAL NOT NULL,
            PRIMARY KEY (panel, at, service, provider)
        ) WITHOUT ROWID;"
    )
}

/// Creates the history tables if needed.
pub fn ensure_schema(conn: &Connection) -> rusqlite::Result<()> {
    conn.execute_batch(SCHEMA)?;
    for (table, _) in TABLES {
        conn.execute_batch(&rollup_schema(table))?;
    }
    Ok(())
}

fn floor(at: i64, width: i64) -> i64 {
    at.div_euclid(width) * width
}

/// One successful poll's orders, taken before the engine consumes the report.
pub struct Recording {
    panel: String,
    at: DateTime<Utc>,
    since: DateTime<Utc>,
    orders: Vec<Order>,
}

impl Recording {
    /// The orders of a successful report, read over `lookback`; `None` for a failed poll.
    pub fn of(report: &PanelReport, lookback: Duration) -> Option<Recording> {
        let read = report.outcome.as_ref().ok()?;
        let lookback = chrono::Duration::from_std(lookback).unwrap_or(chrono::Duration::MAX);
        Some(Recording {
            panel: report.panel.clone(),
            at: report.at,
            since: report.at.checked_sub_signed(lookback).unwrap_or(report.at),
            orders: read.orders.clone(),
        })
    }

    /// A recording of orders read for `[since, at]`: what a backfill or a test writes.
    pub fn new(panel: &str, since: DateTime<Utc>, at: DateTime<Utc>, orders: Vec<Order>) -> Self {
        Recording {
            panel: panel.to_string(),
            at,
            since,
            orders,
        }
    }

    /// Upserts the raw orders and rebuilds the roll-ups the poll covers, in one transaction.
    pub fn write(&self, store: &Store) -> Result<(), StoreError> {
        store.with_conn("record history", |conn| self.write_in(conn))
    }

    fn write_in(&self, conn: &mut Connection) -> rusqlite::Result<()> {
        ensure_schema(conn)?;
        // The first minute may be cut by the lookback: only whole minutes are rebuilt.
        let from = floor(self.since.timestamp() + 59, 60);
        let mut minutes: HashMap<(i64, u64, &str), Bucket> = HashMap::new();
        let mut names: BTreeMap<u64, (DateTime<Utc>, &str)> = BTreeMap::new();
        for order in &self.orders {
            let name = names
                .entry(order.service.0)
                .or_insert((order.created, &order.service_name));
            if order.created >= name.0 && !order.service_name.is_empty() {
                *name = (order.created, &order.service_name);
            }
            let at = order.created.timestamp();
            if at < from {
                continue;
            }
            let provider = order.provider.as_deref().unwrap_or("");
            minutes
                .entry((floor(at, 60), order.service.0, provider))
                .or_default()
                .add(order);
        }

        let tx = conn.transaction()?;
        {
            let mut upsert = tx.prepare_cached(
                "INSERT INTO history_orders
                    (panel, id, service, provider, status, quantity, remains, created)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)
                 ON CONFLICT(panel, id) DO UPDATE SET status = ?5, remains = ?7
                 WHERE status <> ?5 OR remains IS NOT ?7",
            )?;
            for o in &self.orders {
                upsert.execute(params![
                    self.panel,
                    o.id.0 as i64,
                    o.service.0 as i64,
                    o.provider.as_deref().unwrap_or(""),
                    o.status.label(),
                    o.quantity.map(|q| q as i64),
                    o.remains.map(|r| r as i64),
                    o.created.timestamp()
                ])?;
            }
            let mut name_row = tx.prepare_cached(
                "INSERT INTO history_names (panel, service, name) VALUES (?1, ?2, ?3)
                 ON CONFLICT(panel, service) DO UPDATE SET name = ?3 WHERE name <> ?3",
            )?;
            for (service, (_, name)) in &names {
                if !name.is_empty() {
                    name_row.execute(params![self.panel, *service as i64, name])?;
                }
            }

            tx.execute(
                "DELETE FROM history_minute WHERE panel = ?1 AND at >= ?2",
                params![self.panel, from],
            )?;
            let mut insert = tx.prepare_cached(
                "INSERT INTO history_minute
                    (panel, at, service, provider, completed, partial, canceled, delivered)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
            )?;
            for ((at, service, provider), b) in &minutes {
                if b.is_empty() {
                    continue;
                }
                insert.execute(params![
                    self.panel,
                    at,
                    *service as i64,
                    provider,
                    b.completed,
                    b.partial,
                    b.canceled,
                    b.delivered
                ])?;
            }
        }
        // Each coarser bucket the poll touched is summed again from the finer table.
        let mut from = from;
        for pair in TABLES.windows(2) {
            let ((finer, _), (coarser, width)) = (pair[0], pair[1]);
            from = floor(from, width);
            tx.execute(
                &format!("DELETE FROM {coarser} WHERE panel = ?1 AND at >= ?2"),
                params![self.panel, from],
            )?;
            tx.execute(
                &format!(
                    "INSERT INTO {coarser}
                        (panel, at, service, provider, completed, partial, canceled, delivered)
                     SELECT panel, (at / {width}) * {width}, service, provider, SUM(completed),
                            SUM(partial), SUM(canceled), SUM(delivered)
                     FROM {finer} WHERE panel = ?1 AND at >= ?2
                     GROUP BY 2, service, provider"
                ),
                params![self.panel, from],
            )?;
        }
        tx.commit()
    }
}

/// Finished orders of one bucket: what a success rate is made of.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
struct Bucket {
    completed: i64,
    partial: i64,
    canceled: i64,
    delivered: f64,
}

impl Bucket {
    fn add(&mut self, order: &Order) {
        match order.status {
            OrderStatus::Completed => self.completed += 1,
            OrderStatus::Partial => self.partial += 1,
            OrderStatus::Canceled | OrderStatus::Refunded => self.canceled += 1,
            _ => return,
        }
        self.delivered += order.delivered_fraction().unwrap_or(0.0);
    }

    fn is_empty(&self) -> bool {
        self.finished() == 0
    }

    fn finished(&self) -> i64 {
        self.completed + self.partial + self.canceled
    }

    fn merge(&mut self, other: &Bucket) {
        self.completed += other.completed;
        self.partial += other.partial;
        self.canceled += other.canceled;
        self.delivered += other.delivered;
    }

    fn figures(&self, label: &'static str) -> PeriodFigures {
        let finished = self.finished();
        PeriodFigures {
            label: label.to_string(),
            success_rate: (finished > 0).then(|| self.delivered / finished as f64),
            finished: finished as u64,
        }
    }
}

/// The periods shown, with the table each is read from. 7d and 30d count whole hours and
/// whole days: up to one bucket more than the period.
const PERIODS: [(&str, i64, &str); 4] = [
    ("1h", 3600, "history_minute"),
    ("24h", 86_400, "history_minute"),
    ("7d", 7 * 86_400, "history_hour"),
    ("30d", 30 * 86_400, "history_day"),
];

/// One panel's 1h/24h/7d/30d figures, per service and per provider.
#[derive(Clone, Debug, Default, PartialEq, Serialize)]
pub struct PanelPeriods {
    pub panel: String,
    pub services: Vec<PeriodRow>,
    pub providers: Vec<PeriodRow>,
}

/// A service's or a provider's figures over each period.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct PeriodRow {
    /// The service id; `None` on a provider's row.
    pub service: Option<u64>,
    /// The service's name, or the provider's.
    pub name: String,
    /// The provider of the service's orders (several: the busiest); `""` when unknown.
    pub provider: String,
    pub periods: Vec<PeriodFigures>,
}

/// Reads one panel's figures over the periods ending at `now`.
pub fn periods(store: &Store, panel: &str, now: DateTime<Utc>) -> Result<PanelPeriods, StoreError> {
    store.with_conn("read history", |conn| periods_in(conn, panel, now))
}

fn periods_in(
    conn: &mut Connection,
    panel: &str,
    now: DateTime<Utc>,
) -> rusqlite::Result<PanelPeriods> {
    ensure_schema(conn)?;
    let now = now.timestamp();
    // (service, provider) -> one bucket per period.
    let mut cells: BTreeMap<(u64, String), [Bucket; 4]> = BTreeMap::new();
    for (i, (_, span, table)) in PERIODS.iter().enumerate() {
        let width = TABLES
            .iter()
            .find(|(t, _)| t == table)
            .map_or(60, |(_, w)| *w);
        let from = floor(now - span, width);
        let mut stmt = conn.prepare_cached(&format!(
            "SELECT service, provider, SUM(completed), SUM(partial), SUM(canceled),
                    SUM(delivered)
             FROM {table} WHERE panel = ?1 AND at >= ?2 GROUP BY service, provider"
        ))?;
        let rows = stmt.query_map(params![panel, from], |r| {
            Ok((
                r.get::<_, i64>(0)? as u64,
                r.get::<_, String>(1)?,
                Bucket {
                    completed: r.get(2)?,
                    partial: r.get(3)?,
                    canceled: r.get(4)?,
                    delivered: r.get(5)?,
                },
            ))
        })?;
        for row in rows {
            let (service, provider, bucket) = row?;
            cells.entry((service, provider)).or_default()[i] = bucket;
        }
    }
    let mut names: HashMap<u64, String> = HashMap::new();
    {
        let mut stmt =
            conn.prepare_cached("SELECT service, name FROM history_names WHERE panel = ?1")?;
        for row in stmt.query_map(params![panel], |r| Ok((r.get::<_, i64>(0)?, r.get(1)?)))? {
            let (service, name) = row?;
            names.insert(service as u64, name);
        }
    }

    let mut services: BTreeMap<u64, ([Bucket; 4], String, i64)> = BTreeMap::new();
    let mut providers: BTreeMap<String, [Bucket; 4]> = BTreeMap::new();
    for ((service, provider), buckets) in &cells {
        let entry = services.entry(*service).or_default();
        let provider_total = providers.entry(provider.clone()).or_default();
        for i in 0..4 {
            entry.0[i].merge(&buckets[i]);
            provider_total[i].merge(&buckets[i]);
        }
        let busy = buckets[3].finished() + buckets[0].finished();
        if entry.1.is_empty() || busy > entry.2 {
            entry.1 = provider.clone();
            entry.2 = busy;
        }
    }
    let row = |buckets: &[Bucket; 4]| -> Vec<PeriodFigures> {
        PERIODS
            .iter()
            .zip(buckets)
            .map(|((label, _, _), b)| b.figures(label))
            .collect()
    };
    Ok(PanelPeriods {
        panel: panel.to_string(),
        services: services
            .iter()
            .map(|(id, (buckets, provider, _))| PeriodRow {
                service: Some(*id),
                name: names.get(id).cloned().unwrap_or_default(),
                provider: provider.clone(),
                periods: row(buckets),
            })
            .collect(),
        providers: providers
            .iter()
            .filter(|(p, _)| !p.is_empty())
            .map(|(p, buckets)| PeriodRow {
                service: None,
                name: p.clone(),
                provider: p.clone(),
                periods: row(buckets),
            })
            .collect(),
    })
}

/// `panelwatch report`: every panel's figures as a table, or as JSON.
pub fn report(
    store: &Store,
    panels: &[&str],
    now: DateTime<Utc>,
    json: bool,
) -> Result<String, StoreError> {
    let all: Vec<PanelPeriods> = panels
        .iter()
        .map(|p| periods(store, p, now))
        .collect::<Result<_, _>>()?;
    if json {
        let mut text = serde_json::to_string_pretty(&all).expect("figures serialise");
        text.push('\n');
        return Ok(text);
    }
    let mut out = format!(
        "{:<10} {:<8} {:<32} {:<16}",
        "panel", "service", "name", "provider"
    );
    for (label, _, _) in PERIODS {
        out.push_str(&format!(" {:>14}", format!("{label} rate/n")));
    }
    out.push('\n');
    for panel in &all {
        for row in panel.services.iter().chain(&panel.providers) {
            let id = row
                .service
                .map_or("provider".to_string(), |s| s.to_string());
            let name: String = row.name.chars().take(32).collect();
            let provider: String = row.provider.chars().take(16).collect();
            out.push_str(&format!(
                "{:<10} {:<8} {name:<32} {provider:<16}",
                panel.panel, id
            ));
            for f in &row.periods {
                let rate = f
                    .success_rate
                    .map_or("-".to_string(), |r| format!("{:.1}%", r * 100.0));
                out.push_str(&format!(" {:>14}", format!("{rate}/{}", f.finished)));
            }
            out.push('\n');
        }
    }
    if all.iter().all(|p| p.services.is_empty()) {
        out.push_str("no history yet: panelwatch records it while it runs\n");
    }
    Ok(out)
}

/// Drops history older than the config's limits, and events older than `keep_events` whose
/// deliveries were all delivered. Returns how many rows went.
pub fn prune(store: &Store, keep: &HistoryConfig, now: DateTime<Utc>) -> Result<usize, StoreError> {
    store.with_conn("prune history", |conn| {
        ensure_schema(conn)?;
        let before = |d: Duration| now.timestamp() - d.as_secs().min(i64::MAX as u64 / 2) as i64;
        let tx = conn.transaction()?;
        let mut gone = tx.execute(
            "DELETE FROM history_orders WHERE created < ?1",
            params![before(keep.keep_raw)],
        )?;
        for ((table, _), keep) in
            TABLES
                .iter()
                .zip([keep.keep_minutes, keep.keep_hours, keep.keep_days])
        {
            gone += tx.execute(
                &format!("DELETE FROM {table} WHERE at < ?1"),
                params![before(keep)],
            )?;
        }
        // Events are stamped in milliseconds.
        let events_before = before(keep.keep_events) * 1000;
        gone += tx.execute(
            "DELETE FROM deliveries WHERE state = 'delivered'
               AND event_seq IN (SELECT seq FROM events WHERE at < ?1)",
            params![events_before],
        )?;
        gone += tx.execute(
            "DELETE FROM events WHERE at < ?1
               AND NOT EXISTS (SELECT 1 FROM deliveries d WHERE d.event_seq = events.seq)",
            params![events_before],
        )?;
        tx.commit()?;
        Ok(gone)
    })
}

/// The runtime's side of history: writes each poll off the engine's path, prunes hourly, and
/// keeps the latest figures per panel for the snapshot.
#[derive(Clone, Default)]
pub struct History {
    figures: Arc<Mutex<HashMap<String, PanelPeriods>>>,
    last_prune: Arc<Mutex<Option<DateTime<Utc>>>>,
}

impl History {
    /// Records a poll on a blocking thread, then refreshes that panel's figures.
    pub fn spawn_record(
        &self,
        store: &Arc<Store>,
        keep: HistoryConfig,
        recording: Option<Recording>,
    ) {
        let Some(recording) = recording else { return };
        let (store, this) = (Arc::clone(store), self.clone());
        tokio::task::spawn_blocking(move || {
            if let Err(e) = recording.write(&store) {
                tracing::error!(panel = recording.panel.as_str(), error = %e, "cannot record history");
                return;
            }
            let now = recording.at;
            let due = {
                let mut last = this.last_prune.lock().unwrap_or_else(|p| p.into_inner());
                let due = last.is_none_or(|t| {
                    now - t >= chrono::Duration::from_std(PRUNE_EVERY).unwrap_or_default()
                });
                if due {
                    *last = Some(now);
                }
                due
            };
            if due {
                match prune(&store, &keep, now) {
                    Ok(rows) => tracing::debug!(rows, "history pruned"),
                    Err(e) => tracing::error!(error = %e, "cannot prune history"),
                }
            }
            match periods(&store, &recording.panel, now) {
                Ok(figures) => {
                    let mut map = this.figures.lock().unwrap_or_else(|p| p.into_inner());
                    map.insert(recording.panel.clone(), figures);
                }
                Err(e) => tracing::error!(error = %e, "cannot read history figures"),
            }
        });
    }

    /// Puts each service's (or provider row's) period figures into the snapshot.
    pub fn fill(&self, snapshot: &mut Snapshot) {
        let map = self.figures.lock().unwrap_or_else(|p| p.into_inner());
        for view in &mut snapshot.services {
            let Some(panel) = map.get(&view.panel) else {
                continue;
            };
            let row = if view.service.0 == 0 {
                let provider = view.provider.as_deref().unwrap_or("");
                panel.providers.iter().find(|r| r.name == provider)
            } else {
                panel
                    .services
                    .binary_search_by_key(&Some(view.service.0), |r| r.service)
                    .ok()
                    .map(|i| &panel.services[i])
            };
            if let Some(row) = row {
                view.periods = row.periods.clone();
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::{OrderId, ServiceId};

    fn t(s: i64) -> DateTime<Utc> {
        DateTime::from_timestamp(1_800_000_000 + s, 0).unwrap()
    }

    pub(crate) fn order(id: u64, service: u64, status: &str, at: DateTime<Utc>) -> Order {
        Order {
            id: OrderId(id),
            service: ServiceId(service),
            service_name: format!("Service {service}"),
            status: OrderStatus::parse(status),
            quantity: Some(100),
            remains: Some(if status == "partial" { 50 } else { 0 }),
            provider: Some(format!("prov-{}", service % 2)),
            charge: None,
            created: at,
        }
    }

    #[test]
    fn polls_roll_up_and_statuses_that_change_are_counted_once() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(dir.path()).unwrap();
        let now = t(10 * 86_400);
        let mut orders = vec![
            order(1, 1, "completed", now - chrono::Duration::minutes(30)),
            order(2, 1, "pending", now - chrono::Duration::minutes(20)),
            order(3, 2, "canceled", now - chrono::Duration::hours(3)),
        ];
        let since = now - chrono::Duration::hours(6);
        Recording::new("main", since, now, orders.clone())
            .write(&store)
            .unwrap();
        orders[1].status = OrderStatus::Partial;
        orders[1].remains = Some(50);
        let later = now + chrono::Duration::seconds(30);
        Recording::new("main", since, later, orders)
            .write(&store)
            .unwrap();

        let p = periods(&store, "main", later).unwrap();
        let one = &p.services[0];
        assert_eq!(one.name, "Service 1");
        assert_eq!(one.periods[0].finished, 2);
        assert_eq!(one.periods[0].success_rate, Some(0.75));
        assert_eq!(one.periods[3].finished, 2, "30d counts each order once");
        let two = &p.services[1];
        assert_eq!(two.periods[0].finished, 0, "3 hours ago is outside 1h");
        assert_eq!(two.periods[1].success_rate, Some(0.0));
        assert_eq!(p.providers.len(), 2);
    }

    #[test]
    fn the_report_as_a_table_and_as_json() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(dir.path()).unwrap();
        let now = t(86_400);
        let orders = vec![
            order(1, 17, "completed", now - chrono::Duration::minutes(5)),
            order(2, 17, "partial", now - chrono::Duration::hours(2)),
        ];
        let since = now - chrono::Duration::hours(6);
        Recording::new("main", since, now, orders)
            .write(&store)
            .unwrap();

        let table = report(&store, &["main"], now, false).unwrap();
        let lines: Vec<&str> = table.lines().collect();
        assert!(lines[0].contains("1h rate/n") && lines[0].contains("30d rate/n"));
        assert!(
            lines[1].starts_with("main       17       Service 17"),
            "{table}"
        );
        assert!(
            lines[1].contains("100.0%/1") && lines[1].contains("75.0%/2"),
            "{table}"
        );
        assert!(
            lines[2].contains("provider") && lines[2].contains("prov-1"),
            "{table}"
        );

        let json: serde_json::Value =
            serde_json::from_str(&report(&store, &["main"], now, true).unwrap()).unwrap();
        let row = &json[0]["services"][0];
        assert_eq!(row["service"], 17);
        assert_eq!(row["periods"][1]["label"], "24h");
        assert_eq!(row["periods"][1]["success_rate"], 0.75);
        assert_eq!(row["periods"][1]["finished"], 2);
        assert_eq!(json[0]["providers"][0]["name"], "prov-1");
    }

    #[test]
    fn history_keys_are_read_and_unknown_ones_refused() {
        let base =
            "[[panels]]\nname = \"m\"\nkind = \"admin\"\nurl = \"http://x\"\napi_key = \"k\"\n";
        let read = |extra: &str| {
            crate::config::Config::from_toml(
                &format!("{base}{extra}"),
                std::path::Path::new("."),
                &|_| None,
            )
        };
        let config = read("[history]\nkeep_raw = \"3d\"\nkeep_events = \"30d\"\n").unwrap();
        assert_eq!(config.history.keep_raw, Duration::from_secs(3 * DAY));
        assert_eq!(config.history.keep_events, Duration::from_secs(30 * DAY));
        assert_eq!(
            config.history.keep_minutes,
            HistoryConfig::default().keep_minutes
        );
        let err = read("[history]\nkeep_forever = \"1d\"\n").unwrap_err();
        assert_eq!(err.key, "history.keep_forever");
        assert_eq!(err.line, Some(7));
    }

    #[test]
    fn pruning_keeps_each_table_for_its_time() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(dir.path()).unwrap();
        let old = t(0);
        let orders = vec![order(1, 1, "completed", old)];
        Recording::new("main", old - chrono::Duration::hours(1), old, orders)
            .write(&store)
            .unwrap();
        let now = old + chrono::Duration::days(3);
        prune(&store, &HistoryConfig::default(), now).unwrap();
        let p = periods(&store, "main", now).unwrap();
        assert_eq!(p.services[0].periods[3].finished, 1, "days are kept");
        let count = |table: &str| {
            store
                .with_conn("count", |c| {
                    c.query_row(&format!("SELECT COUNT(*) FROM {table}"), [], |r| {
                        r.get::<_, i64>(0)
                    })
                })
                .unwrap()
        };
        assert_eq!(count("history_minute"), 0);
        assert_eq!(count("history_hour"), 1);
        assert_eq!(count("history_orders"), 1);
        prune(
            &store,
            &HistoryConfig::default(),
            old + chrono::Duration::days(8),
        )
        .unwrap();
        assert_eq!(count("history_orders"), 0);
    }
}
