//! The state store: one SQLite file under `state_dir` holding events, alert states and the
//! delivery outbox.
//!
//! Writes that belong together go in one transaction: an event, its deliveries (one per
//! destination that wants it) and the alert state that produced it are committed at once
//! ([`Store::commit`]), so a crash can never leave an event without its deliveries, nor an
//! alert that fired without the state that says so. The dispatcher works only from the rows
//! here: what is committed is delivered, even across `kill -9`.
//!
//! The file runs in WAL mode with `synchronous = NORMAL`: a committed transaction survives the
//! process being killed at any moment; only a power cut can take the last few.
//! This module knows rows, not policy: retry schedules and classification live in `delivery`.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::{Mutex, MutexGuard};

use chrono::{DateTime, Utc};
use rusqlite::{params, Connection, OptionalExtension};

use crate::domain::{Money, Order, OrderId, OrderStatus, ServiceId};
use crate::event::Event;

/// A store failure, naming the file and what was being done.
#[derive(Debug, thiserror::Error)]
// The cause is part of the message and deliberately not a `source()`: printed as a chain
// (`{:#}`) it would otherwise appear twice.
#[error("state store {}: cannot {action}: {cause}", path.display())]
pub struct StoreError {
    pub path: PathBuf,
    pub action: &'static str,
    pub cause: rusqlite::Error,
}

/// Where a delivery stands.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum DeliveryState {
    /// Waiting for its first attempt.
    Pending,
    /// Failed at least once; waits for `next_at`.
    Retrying,
    Delivered,
    /// Gave up: the schedule ran out or the failure was permanent. A dead letter.
    Dead,
}

impl DeliveryState {
    pub fn as_str(self) -> &'static str {
        match self {
            DeliveryState::Pending => "pending",
            DeliveryState::Retrying => "retrying",
            DeliveryState::Delivered => "delivered",
            DeliveryState::Dead => "dead",
        }
    }

    fn parse(text: &str) -> DeliveryState {
        match text {
            "pending" => DeliveryState::Pending,
            "retrying" => DeliveryState::Retrying,
            "delivered" => DeliveryState::Delivered,
            _ => DeliveryState::Dead,
        }
    }
}

/// One delivery row with its event's stored bytes.
#[derive(Clone, Debug, PartialEq)]
pub struct Delivery {
    pub id: i64,
    pub event_id: String,
    pub event_type: String,
    pub destination: String,
    pub state: DeliveryState,
    /// Attempts made so far.
    pub attempts: u32,
    pub next_at: DateTime<Utc>,
    pub created_at: DateTime<Utc>,
    /// The last attempt's outcome in a few words, and the HTTP status if there was one.
    pub last_outcome: Option<String>,
    pub last_status: Option<u16>,
    /// The event exactly as recorded: what a custom destination receives and signs.
    pub body: String,
}

/// What one attempt did to a delivery.
#[derive(Clone, Debug, PartialEq)]
pub enum AttemptResult {
    Delivered,
    /// Try again at this time.
    Retry(DateTime<Utc>),
    Dead,
}

/// One finished attempt, to be written back.
#[derive(Clone, Debug, PartialEq)]
pub struct AttemptRecord {
    pub delivery: i64,
    pub result: AttemptResult,
    pub status: Option<u16>,
    /// A few words, never a secret: `HTTP 500: "upstream down"`, `timeout after 15s`.
    pub outcome: String,
    pub at: DateTime<Utc>,
}

/// A destination's standing, kept across restarts.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct DestinationState {
    pub disabled: Option<String>,
    pub last_success: Option<DateTime<Utc>>,
    /// Since when attempts have failed without a success in between.
    pub failing_since: Option<DateTime<Utc>>,
    pub last_outcome: Option<String>,
    pub last_at: Option<DateTime<Utc>>,
    /// Telegram: the chat id to use instead of the configured one after a migration.
    pub chat_override: Option<String>,
}

/// Writes that must land together.
#[derive(Default)]
pub struct Batch<'a> {
    /// Each event with the destinations that get a delivery of it.
    pub events: Vec<(&'a Event, Vec<String>)>,
    /// Key/value state rows to upsert (alert states, panel states); `None` deletes.
    pub states: Vec<(String, Option<String>)>,
}

/// Counts by delivery state, overall and per destination.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct OutboxCounts {
    pub by_state: HashMap<DeliveryState, u64>,
    /// Undelivered (pending + retrying) per destination.
    pub queued: HashMap<String, u64>,
}

pub struct Store {
    path: PathBuf,
    conn: Mutex<Connection>,
}

const SCHEMA: &str = "
CREATE TABLE IF NOT EXISTS events (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    id TEXT NOT NULL UNIQUE,
    type TEXT NOT NULL,
    at INTEGER NOT NULL,
    body TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS events_at ON events(at);
CREATE TABLE IF NOT EXISTS deliveries (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    event_seq INTEGER NOT NULL REFERENCES events(seq),
    destination TEXT NOT NULL,
    order_key TEXT NOT NULL,
    state TEXT NOT NULL,
    attempts INTEGER NOT NULL DEFAULT 0,
    next_at INTEGER NOT NULL,
    created_at INTEGER NOT NULL,
    updated_at INTEGER NOT NULL,
    last_status INTEGER,
    last_outcome TEXT
);
CREATE INDEX IF NOT EXISTS deliveries_open
    ON deliveries(destination, state, next_at) WHERE state IN ('pending', 'retrying');
CREATE INDEX IF NOT EXISTS deliveries_order
    ON deliveries(destination, order_key, id) WHERE state IN ('pending', 'retrying');
-- Lets `due_deliveries` walk open deliveries in id order and stop at its limit, instead of
-- sorting every open row of the destination on each call (10 ms for 10,000 open rows).
CREATE INDEX IF NOT EXISTS deliveries_open_id
    ON deliveries(destination, id) WHERE state IN ('pending', 'retrying');
CREATE TABLE IF NOT EXISTS journal (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    at INTEGER NOT NULL,
    kind TEXT NOT NULL,
    summary TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS states (
    key TEXT PRIMARY KEY,
    value TEXT NOT NULL,
    updated_at INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS destinations (
    name TEXT PRIMARY KEY,
    disabled TEXT,
    last_success INTEGER,
    failing_since INTEGER,
    last_outcome TEXT,
    last_at INTEGER,
    chat_override TEXT
);
CREATE TABLE IF NOT EXISTS tracked_orders (
    panel TEXT NOT NULL,
    order_id INTEGER NOT NULL,
    service_id INTEGER NOT NULL,
    quantity INTEGER,
    added_at INTEGER NOT NULL,
    finished INTEGER NOT NULL DEFAULT 0,
    status TEXT,
    remains INTEGER,
    charge TEXT,
    updated_at INTEGER NOT NULL,
    PRIMARY KEY (panel, order_id)
);
CREATE INDEX IF NOT EXISTS tracked_open ON tracked_orders(panel, finished);
CREATE TABLE IF NOT EXISTS inbound_events (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    panel TEXT NOT NULL,
    event_id TEXT NOT NULL,
    received_at INTEGER NOT NULL,
    body TEXT NOT NULL,
    processed INTEGER NOT NULL DEFAULT 0,
    UNIQUE (panel, event_id)
);
CREATE INDEX IF NOT EXISTS inbound_open ON inbound_events(processed, seq);
";

/// An order a reseller asked us to follow on a user API v2 panel.
#[derive(Clone, Debug, PartialEq)]
pub struct TrackedOrder {
    pub panel: String,
    pub order: OrderId,
    pub service: ServiceId,
    pub quantity: Option<u64>,
    pub added_at: DateTime<Utc>,
    pub finished: bool,
    /// The last status read; `None` before the first read.
    pub status: Option<OrderStatus>,
    pub remains: Option<u64>,
    pub charge: Option<Money>,
}

impl TrackedOrder {
    /// The order as the statistics read it; `None` until its status has been read once (an
    /// order whose status nobody knows is not counted, and never taken for Pending).
    pub fn to_order(&self) -> Option<Order> {
        Some(Order {
            id: self.order,
            service: self.service,
            service_name: String::new(),
            status: self.status.clone()?,
            quantity: self.quantity,
            remains: self.remains,
            provider: None,
            charge: self.charge,
            created: self.added_at,
        })
    }
}

/// A status read for a tracked order, to be written back.
#[derive(Clone, Debug, PartialEq)]
pub struct TrackedUpdate {
    pub order: OrderId,
    /// Set when the order was not tracked yet (an inbound webhook about a new order).
    pub service: Option<ServiceId>,
    pub status: OrderStatus,
    pub remains: Option<u64>,
    pub charge: Option<Money>,
}

/// An inbound webhook stored before it was acknowledged, waiting to be applied.
#[derive(Clone, Debug, PartialEq)]
pub struct InboundRow {
    pub seq: i64,
    pub panel: String,
    pub event_id: String,
    pub body: String,
}

fn ms(at: DateTime<Utc>) -> i64 {
    at.timestamp_millis()
}

fn from_ms(v: i64) -> DateTime<Utc> {
    DateTime::from_timestamp_millis(v).unwrap_or(DateTime::UNIX_EPOCH)
}

impl Store {
    /// Opens (creating if needed) `panelwatch.db` in `dir`.
    pub fn open(dir: &Path) -> Result<Store, StoreError> {
        let path = dir.join("panelwatch.db");
        let fail = |action, cause| StoreError {
            path: path.clone(),
            action,
            cause,
        };
        if let Err(e) = std::fs::create_dir_all(dir) {
            return Err(fail(
                "create the state directory",
                rusqlite::Error::ToSqlConversionFailure(Box::new(e)),
            ));
        }
        let conn = Connection::open(&path).map_err(|e| fail("open the database", e))?;
        conn.busy_timeout(std::time::Duration::from_secs(5))
            .map_err(|e| fail("set the busy timeout", e))?;
        conn.execute_batch(
            "PRAGMA journal_mode = WAL; PRAGMA synchronous = NORMAL; PRAGMA foreign_keys = ON;",
        )
        .map_err(|e| fail("set the journal mode", e))?;
        conn.execute_batch(SCHEMA)
            .map_err(|e| fail("create the schema", e))?;
        let has_note: bool = conn
            .query_row(
                "SELECT COUNT(*) FROM pragma_table_info('events') WHERE name = 'note'",
                [],
                |r| r.get::<_, i64>(0),
            )
            .map(|n| n > 0)
            .map_err(|e| fail("read the schema", e))?;
        if !has_note {
            conn.execute_batch("ALTER TABLE events ADD COLUMN note TEXT")
                .map_err(|e| fail("add the events' note column", e))?;
        }
        Ok(Store {
            path,
            conn: Mutex::new(conn),
        })
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    fn conn(&self) -> MutexGuard<'_, Connection> {
        // A panic while holding the lock leaves SQLite consistent (transactions roll back on
        // drop), so the poisoned guard is still safe to use.
        self.conn.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Runs `f` on the connection, under the store's lock: for modules that own tables of
    /// their own in the same file (`history`).
    pub fn with_conn<T>(
        &self,
        action: &'static str,
        f: impl FnOnce(&mut Connection) -> rusqlite::Result<T>,
    ) -> Result<T, StoreError> {
        f(&mut self.conn()).map_err(self.err(action))
    }

    fn err(&self, action: &'static str) -> impl Fn(rusqlite::Error) -> StoreError + '_ {
        move |cause| StoreError {
            path: self.path.clone(),
            action,
            cause,
        }
    }

    /// Commits events, their deliveries and state changes in one transaction.
    pub fn commit(&self, batch: &Batch<'_>, now: DateTime<Utc>) -> Result<(), StoreError> {
        let mut conn = self.conn();
        let tx = conn
            .transaction()
            .map_err(self.err("begin a transaction"))?;
        for (event, destinations) in &batch.events {
            tx.execute(
                "INSERT INTO events (id, type, at, body) VALUES (?1, ?2, ?3, ?4)",
                params![
                    event.id.0,
                    event.kind(),
                    ms(event.timestamp),
                    event.to_json()
                ],
            )
            .map_err(self.err("record an event"))?;
            let seq = tx.last_insert_rowid();
            let key = event.order_key();
            for destination in destinations {
                tx.execute(
                    "INSERT INTO deliveries
                        (event_seq, destination, order_key, state, next_at, created_at, updated_at)
                     VALUES (?1, ?2, ?3, 'pending', ?4, ?4, ?4)",
                    params![seq, destination, key, ms(now)],
                )
                .map_err(self.err("queue a delivery"))?;
            }
        }
        for (key, value) in &batch.states {
            match value {
                Some(value) => tx.execute(
                    "INSERT INTO states (key, value, updated_at) VALUES (?1, ?2, ?3)
                     ON CONFLICT(key) DO UPDATE SET value = ?2, updated_at = ?3",
                    params![key, value, ms(now)],
                ),
                None => tx.execute("DELETE FROM states WHERE key = ?1", params![key]),
            }
            .map_err(self.err("save a state"))?;
        }
        tx.commit().map_err(self.err("commit"))
    }

    /// Every state row whose key starts with `prefix`.
    pub fn states(&self, prefix: &str) -> Result<Vec<(String, String)>, StoreError> {
        let conn = self.conn();
        let mut stmt = conn
            .prepare_cached(
                "SELECT key, value FROM states WHERE key >= ?1 AND key < ?2 ORDER BY key",
            )
            .map_err(self.err("read states"))?;
        let upper = format!("{prefix}\u{10FFFF}");
        let rows = stmt
            .query_map(params![prefix, upper], |r| Ok((r.get(0)?, r.get(1)?)))
            .map_err(self.err("read states"))?;
        rows.collect::<Result<_, _>>()
            .map_err(self.err("read states"))
    }

    /// The most recent events, newest last, as stored JSON.
    /// The most recent events, newest last: each as stored JSON with its note (why it was
    /// not sent, when it was held by a quiet time).
    pub fn recent_events(&self, limit: usize) -> Result<Vec<(String, Option<String>)>, StoreError> {
        let conn = self.conn();
        let mut stmt = conn
            .prepare_cached("SELECT body, note FROM events ORDER BY seq DESC LIMIT ?1")
            .map_err(self.err("read events"))?;
        let rows = stmt
            .query_map(params![limit as i64], |r| Ok((r.get(0)?, r.get(1)?)))
            .map_err(self.err("read events"))?;
        let mut out: Vec<(String, Option<String>)> = rows
            .collect::<Result<_, _>>()
            .map_err(self.err("read events"))?;
        out.reverse();
        Ok(out)
    }

    /// Notes why recorded events were not sent (held by a mute or maintenance window).
    pub fn note_events(&self, notes: &[(String, String)]) -> Result<(), StoreError> {
        let mut conn = self.conn();
        let tx = conn
            .transaction()
            .map_err(self.err("begin a transaction"))?;
        for (id, note) in notes {
            tx.execute(
                "UPDATE events SET note = ?2 WHERE id = ?1",
                params![id, note],
            )
            .map_err(self.err("note an event"))?;
        }
        tx.commit().map_err(self.err("commit notes"))
    }

    /// Keeps a history line that is not an event (an operator action, a reload).
    pub fn journal(&self, at: DateTime<Utc>, kind: &str, summary: &str) -> Result<(), StoreError> {
        let conn = self.conn();
        conn.execute(
            "INSERT INTO journal (at, kind, summary) VALUES (?1, ?2, ?3)",
            params![ms(at), kind, summary],
        )
        .map(|_| ())
        .map_err(self.err("keep a history line"))
    }

    /// The most recent history lines that are not events, newest last: (time, kind, summary).
    pub fn recent_journal(
        &self,
        limit: usize,
    ) -> Result<Vec<(DateTime<Utc>, String, String)>, StoreError> {
        let conn = self.conn();
        let mut stmt = conn
            .prepare_cached("SELECT at, kind, summary FROM journal ORDER BY seq DESC LIMIT ?1")
            .map_err(self.err("read the journal"))?;
        let rows = stmt
            .query_map(params![limit as i64], |r| {
                Ok((from_ms(r.get(0)?), r.get(1)?, r.get(2)?))
            })
            .map_err(self.err("read the journal"))?;
        let mut out: Vec<(DateTime<Utc>, String, String)> = rows
            .collect::<Result<_, _>>()
            .map_err(self.err("read the journal"))?;
        out.reverse();
        Ok(out)
    }

    /// Deliveries of one destination that may be attempted now: due, and each the oldest open
    /// delivery of its order key, so events about one subject go out in order while other
    /// subjects are not held up.
    pub fn due_deliveries(
        &self,
        destination: &str,
        now: DateTime<Utc>,
        limit: usize,
    ) -> Result<Vec<Delivery>, StoreError> {
        let conn = self.conn();
        let mut stmt = conn
            .prepare_cached(
                "SELECT d.id, e.id, e.type, d.destination, d.state, d.attempts, d.next_at,
                        d.created_at, d.last_outcome, d.last_status, e.body
                 FROM deliveries d JOIN events e ON e.seq = d.event_seq
                 WHERE d.destination = ?1 AND d.state IN ('pending', 'retrying')
                   AND d.next_at <= ?2
                   AND NOT EXISTS (
                       SELECT 1 FROM deliveries o
                       WHERE o.destination = d.destination AND o.order_key = d.order_key
                         AND o.state IN ('pending', 'retrying') AND o.id < d.id)
                 ORDER BY d.id LIMIT ?3",
            )
            .map_err(self.err("read due deliveries"))?;
        let rows = stmt
            .query_map(params![destination, ms(now), limit as i64], delivery_row)
            .map_err(self.err("read due deliveries"))?;
        rows.collect::<Result<_, _>>()
            .map_err(self.err("read due deliveries"))
    }

    /// When the next open delivery of a destination falls due, if any is open.
    pub fn next_due(&self, destination: &str) -> Result<Option<DateTime<Utc>>, StoreError> {
        let conn = self.conn();
        conn.query_row(
            "SELECT MIN(next_at) FROM deliveries
             WHERE destination = ?1 AND state IN ('pending', 'retrying')",
            params![destination],
            |r| r.get::<_, Option<i64>>(0),
        )
        .map(|v| v.map(from_ms))
        .map_err(self.err("read the next due delivery"))
    }

    /// When the next delivery of a destination that may be attempted falls due: the earliest
    /// `next_at` among open deliveries that are the oldest open one of their order key. A
    /// delivery held back by an earlier one of its subject does not count, so a caller that
    /// sleeps until this time never wakes to find nothing to do.
    pub fn next_attempt_at(&self, destination: &str) -> Result<Option<DateTime<Utc>>, StoreError> {
        let conn = self.conn();
        let mut stmt = conn
            .prepare_cached(
                "SELECT MIN(d.next_at) FROM deliveries d
                 WHERE d.destination = ?1 AND d.state IN ('pending', 'retrying')
                   AND NOT EXISTS (
                       SELECT 1 FROM deliveries o
                       WHERE o.destination = d.destination AND o.order_key = d.order_key
                         AND o.state IN ('pending', 'retrying') AND o.id < d.id)",
            )
            .map_err(self.err("read the next attempt time"))?;
        stmt.query_row(params![destination], |r| r.get::<_, Option<i64>>(0))
            .map(|v| v.map(from_ms))
            .map_err(self.err("read the next attempt time"))
    }

    /// The destinations that have open (pending or retrying) deliveries.
    pub fn open_destinations(&self) -> Result<Vec<String>, StoreError> {
        let conn = self.conn();
        let mut stmt = conn
            .prepare_cached(
                "SELECT DISTINCT destination FROM deliveries
                 WHERE state IN ('pending', 'retrying') ORDER BY destination",
            )
            .map_err(self.err("list destinations with open deliveries"))?;
        let rows = stmt
            .query_map([], |r| r.get::<_, String>(0))
            .map_err(self.err("list destinations with open deliveries"))?;
        rows.collect::<Result<_, _>>()
            .map_err(self.err("list destinations with open deliveries"))
    }

    /// Sets the outcome of a destination's open deliveries that were never attempted, without
    /// counting an attempt: why they are waiting. Returns how many rows changed.
    pub fn note_waiting(&self, destination: &str, outcome: &str) -> Result<usize, StoreError> {
        let conn = self.conn();
        conn.execute(
            "UPDATE deliveries SET last_outcome = ?2
             WHERE destination = ?1 AND state IN ('pending', 'retrying') AND attempts = 0
               AND last_outcome IS NOT ?2",
            params![destination, outcome],
        )
        .map_err(self.err("note why deliveries wait"))
    }

    /// The delivery of one event to one destination.
    pub fn delivery_of(
        &self,
        event_id: &str,
        destination: &str,
    ) -> Result<Option<Delivery>, StoreError> {
        let conn = self.conn();
        let mut stmt = conn
            .prepare_cached(
                "SELECT d.id, e.id, e.type, d.destination, d.state, d.attempts, d.next_at,
                        d.created_at, d.last_outcome, d.last_status, e.body
                 FROM deliveries d JOIN events e ON e.seq = d.event_seq
                 WHERE e.id = ?1 AND d.destination = ?2",
            )
            .map_err(self.err("read a delivery"))?;
        stmt.query_row(params![event_id, destination], delivery_row)
            .optional()
            .map_err(self.err("read a delivery"))
    }

    /// Writes back finished attempts, in one transaction.
    pub fn record_attempts(&self, records: &[AttemptRecord]) -> Result<(), StoreError> {
        let mut conn = self.conn();
        let tx = conn
            .transaction()
            .map_err(self.err("begin a transaction"))?;
        {
            let mut stmt = tx
                .prepare_cached(
                    "UPDATE deliveries SET state = ?2, attempts = attempts + 1, next_at = ?3,
                        updated_at = ?4, last_status = ?5, last_outcome = ?6
                     WHERE id = ?1",
                )
                .map_err(self.err("record an attempt"))?;
            for r in records {
                let (state, next) = match r.result {
                    AttemptResult::Delivered => (DeliveryState::Delivered, r.at),
                    AttemptResult::Retry(at) => (DeliveryState::Retrying, at),
                    AttemptResult::Dead => (DeliveryState::Dead, r.at),
                };
                stmt.execute(params![
                    r.delivery,
                    state.as_str(),
                    ms(next),
                    ms(r.at),
                    r.status,
                    r.outcome
                ])
                .map_err(self.err("record an attempt"))?;
            }
        }
        tx.commit().map_err(self.err("commit attempts"))
    }

    /// Deliveries in the given states, newest first, at most `limit`.
    pub fn deliveries(
        &self,
        states: &[DeliveryState],
        limit: usize,
    ) -> Result<Vec<Delivery>, StoreError> {
        let conn = self.conn();
        let list: Vec<String> = states.iter().map(|s| format!("'{}'", s.as_str())).collect();
        let sql = format!(
            "SELECT d.id, e.id, e.type, d.destination, d.state, d.attempts, d.next_at,
                    d.created_at, d.last_outcome, d.last_status, e.body
             FROM deliveries d JOIN events e ON e.seq = d.event_seq
             WHERE d.state IN ({}) ORDER BY d.id DESC LIMIT ?1",
            list.join(", ")
        );
        let mut stmt = conn.prepare(&sql).map_err(self.err("list deliveries"))?;
        let rows = stmt
            .query_map(params![limit as i64], delivery_row)
            .map_err(self.err("list deliveries"))?;
        rows.collect::<Result<_, _>>()
            .map_err(self.err("list deliveries"))
    }

    /// Puts dead letters back in the queue for one more attempt now: one by id, or all.
    /// Returns how many were requeued.
    pub fn requeue_dead(&self, id: Option<i64>, now: DateTime<Utc>) -> Result<usize, StoreError> {
        let conn = self.conn();
        let n = match id {
            Some(id) => conn.execute(
                "UPDATE deliveries SET state = 'retrying', next_at = ?2, updated_at = ?2
                 WHERE id = ?1 AND state = 'dead'",
                params![id, ms(now)],
            ),
            None => conn.execute(
                "UPDATE deliveries SET state = 'retrying', next_at = ?1, updated_at = ?1
                 WHERE state = 'dead'",
                params![ms(now)],
            ),
        };
        n.map_err(self.err("requeue dead letters"))
    }

    pub fn outbox_counts(&self) -> Result<OutboxCounts, StoreError> {
        let conn = self.conn();
        let mut out = OutboxCounts::default();
        let mut stmt = conn
            .prepare_cached(
                "SELECT destination, state, COUNT(*) FROM deliveries
                 WHERE state != 'delivered' GROUP BY destination, state",
            )
            .map_err(self.err("count deliveries"))?;
        let rows = stmt
            .query_map([], |r| {
                Ok((
                    r.get::<_, String>(0)?,
                    r.get::<_, String>(1)?,
                    r.get::<_, i64>(2)?,
                ))
            })
            .map_err(self.err("count deliveries"))?;
        for row in rows {
            let (destination, state, n) = row.map_err(self.err("count deliveries"))?;
            let state = DeliveryState::parse(&state);
            *out.by_state.entry(state).or_default() += n as u64;
            if matches!(state, DeliveryState::Pending | DeliveryState::Retrying) {
                *out.queued.entry(destination).or_default() += n as u64;
            }
        }
        Ok(out)
    }

    /// Every delivery ever queued, by destination and state, sorted: the metrics' counters.
    pub fn delivery_counts(&self) -> Result<Vec<(String, DeliveryState, u64)>, StoreError> {
        let conn = self.conn();
        let mut stmt = conn
            .prepare_cached(
                "SELECT destination, state, COUNT(*) FROM deliveries
                 GROUP BY destination, state ORDER BY destination, state",
            )
            .map_err(self.err("count deliveries"))?;
        let rows = stmt
            .query_map([], |r| {
                let state: String = r.get(1)?;
                Ok((
                    r.get(0)?,
                    DeliveryState::parse(&state),
                    r.get::<_, i64>(2)? as u64,
                ))
            })
            .map_err(self.err("count deliveries"))?;
        rows.collect::<Result<_, _>>()
            .map_err(self.err("count deliveries"))
    }

    pub fn destination_state(&self, name: &str) -> Result<DestinationState, StoreError> {
        let conn = self.conn();
        conn.query_row(
            "SELECT disabled, last_success, failing_since, last_outcome, last_at, chat_override
             FROM destinations WHERE name = ?1",
            params![name],
            |r| {
                Ok(DestinationState {
                    disabled: r.get(0)?,
                    last_success: r.get::<_, Option<i64>>(1)?.map(from_ms),
                    failing_since: r.get::<_, Option<i64>>(2)?.map(from_ms),
                    last_outcome: r.get(3)?,
                    last_at: r.get::<_, Option<i64>>(4)?.map(from_ms),
                    chat_override: r.get(5)?,
                })
            },
        )
        .optional()
        .map(Option::unwrap_or_default)
        .map_err(self.err("read a destination's state"))
    }

    pub fn save_destination_state(
        &self,
        name: &str,
        state: &DestinationState,
    ) -> Result<(), StoreError> {
        let conn = self.conn();
        conn.execute(
            "INSERT INTO destinations
                (name, disabled, last_success, failing_since, last_outcome, last_at, chat_override)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)
             ON CONFLICT(name) DO UPDATE SET disabled = ?2, last_success = ?3,
                failing_since = ?4, last_outcome = ?5, last_at = ?6, chat_override = ?7",
            params![
                name,
                state.disabled,
                state.last_success.map(ms),
                state.failing_since.map(ms),
                state.last_outcome,
                state.last_at.map(ms),
                state.chat_override
            ],
        )
        .map(|_| ())
        .map_err(self.err("save a destination's state"))
    }
}

impl Store {
    /// Starts following an order; returns whether it was new (tracking twice is harmless).
    pub fn track_order(
        &self,
        panel: &str,
        order: OrderId,
        service: ServiceId,
        quantity: Option<u64>,
        now: DateTime<Utc>,
    ) -> Result<bool, StoreError> {
        let conn = self.conn();
        conn.execute(
            "INSERT INTO tracked_orders (panel, order_id, service_id, quantity, added_at,
                 updated_at)
             VALUES (?1, ?2, ?3, ?4, ?5, ?5)
             ON CONFLICT(panel, order_id) DO NOTHING",
            params![
                panel,
                order.0 as i64,
                service.0 as i64,
                quantity.map(|q| q as i64),
                ms(now)
            ],
        )
        .map(|n| n == 1)
        .map_err(self.err("track an order"))
    }

    /// A panel's tracked orders: every unfinished one, and finished ones added since `since`.
    pub fn tracked_orders(
        &self,
        panel: &str,
        since: DateTime<Utc>,
    ) -> Result<Vec<TrackedOrder>, StoreError> {
        let conn = self.conn();
        let mut stmt = conn
            .prepare_cached(
                "SELECT panel, order_id, service_id, quantity, added_at, finished, status,
                        remains, charge
                 FROM tracked_orders
                 WHERE panel = ?1 AND (finished = 0 OR added_at >= ?2)
                 ORDER BY order_id",
            )
            .map_err(self.err("read tracked orders"))?;
        let rows = stmt
            .query_map(params![panel, ms(since)], |r| {
                Ok(TrackedOrder {
                    panel: r.get(0)?,
                    order: OrderId(r.get::<_, i64>(1)? as u64),
                    service: ServiceId(r.get::<_, i64>(2)? as u64),
                    quantity: r.get::<_, Option<i64>>(3)?.map(|q| q as u64),
                    added_at: from_ms(r.get(4)?),
                    finished: r.get::<_, i64>(5)? != 0,
                    status: r
                        .get::<_, Option<String>>(6)?
                        .map(|s| OrderStatus::parse(&s)),
                    remains: r.get::<_, Option<i64>>(7)?.map(|q| q as u64),
                    charge: r
                        .get::<_, Option<String>>(8)?
                        .and_then(|c| c.parse().ok())
                        .map(Money),
                })
            })
            .map_err(self.err("read tracked orders"))?;
        rows.collect::<Result<_, _>>()
            .map_err(self.err("read tracked orders"))
    }

    /// Writes statuses read for a panel's tracked orders in one transaction; an order reaching
    /// a finished status stops being polled and keeps that status (a poll that was already
    /// under way when a pushed webhook finished the order cannot take it back). An update for an order not tracked yet tracks it
    /// when it names its service, and is dropped otherwise.
    pub fn update_tracked(
        &self,
        panel: &str,
        updates: &[TrackedUpdate],
        now: DateTime<Utc>,
    ) -> Result<(), StoreError> {
        let mut conn = self.conn();
        let tx = conn
            .transaction()
            .map_err(self.err("begin a transaction"))?;
        for u in updates {
            if let Some(service) = u.service {
                tx.execute(
                    "INSERT INTO tracked_orders (panel, order_id, service_id, added_at, updated_at)
                     VALUES (?1, ?2, ?3, ?4, ?4)
                     ON CONFLICT(panel, order_id) DO NOTHING",
                    params![panel, u.order.0 as i64, service.0 as i64, ms(now)],
                )
                .map_err(self.err("track an order"))?;
            }
            tx.execute(
                "UPDATE tracked_orders
                 SET status = ?3, remains = ?4, charge = ?5, finished = ?6, updated_at = ?7
                 WHERE panel = ?1 AND order_id = ?2 AND finished = 0",
                params![
                    panel,
                    u.order.0 as i64,
                    u.status.label(),
                    u.remains.map(|r| r as i64),
                    u.charge.map(|c| c.0.to_string()),
                    u.status.is_finished() as i64,
                    ms(now)
                ],
            )
            .map_err(self.err("update a tracked order"))?;
        }
        tx.commit().map_err(self.err("commit"))
    }

    /// Stores an inbound webhook before it is acknowledged. Returns `false` when this panel
    /// already sent an event with this id (a redelivery: acknowledged, never applied twice).
    pub fn record_inbound(
        &self,
        panel: &str,
        event_id: &str,
        body: &str,
        now: DateTime<Utc>,
    ) -> Result<bool, StoreError> {
        let conn = self.conn();
        conn.execute(
            "INSERT INTO inbound_events (panel, event_id, received_at, body)
             VALUES (?1, ?2, ?3, ?4)
             ON CONFLICT(panel, event_id) DO NOTHING",
            params![panel, event_id, ms(now), body],
        )
        .map(|n| n == 1)
        .map_err(self.err("record an inbound webhook"))
    }

    /// Inbound webhooks not applied yet, oldest first.
    pub fn pending_inbound(&self, limit: usize) -> Result<Vec<InboundRow>, StoreError> {
        let conn = self.conn();
        let mut stmt = conn
            .prepare_cached(
                "SELECT seq, panel, event_id, body FROM inbound_events
                 WHERE processed = 0 ORDER BY seq LIMIT ?1",
            )
            .map_err(self.err("read inbound webhooks"))?;
        let rows = stmt
            .query_map(params![limit as i64], |r| {
                Ok(InboundRow {
                    seq: r.get(0)?,
                    panel: r.get(1)?,
                    event_id: r.get(2)?,
                    body: r.get(3)?,
                })
            })
            .map_err(self.err("read inbound webhooks"))?;
        rows.collect::<Result<_, _>>()
            .map_err(self.err("read inbound webhooks"))
    }

    /// How many inbound webhooks a panel has sent, each id once.
    pub fn inbound_count(&self, panel: &str) -> Result<u64, StoreError> {
        let conn = self.conn();
        conn.query_row(
            "SELECT COUNT(*) FROM inbound_events WHERE panel = ?1",
            params![panel],
            |r| r.get::<_, i64>(0),
        )
        .map(|n| n as u64)
        .map_err(self.err("count inbound webhooks"))
    }

    /// Marks an inbound webhook applied (or unusable): it is never applied again.
    pub fn inbound_done(&self, seq: i64) -> Result<(), StoreError> {
        let conn = self.conn();
        conn.execute(
            "UPDATE inbound_events SET processed = 1 WHERE seq = ?1",
            params![seq],
        )
        .map(|_| ())
        .map_err(self.err("mark an inbound webhook applied"))
    }
}

fn delivery_row(r: &rusqlite::Row<'_>) -> rusqlite::Result<Delivery> {
    Ok(Delivery {
        id: r.get(0)?,
        event_id: r.get(1)?,
        event_type: r.get(2)?,
        destination: r.get(3)?,
        state: DeliveryState::parse(&r.get::<_, String>(4)?),
        attempts: r.get::<_, i64>(5)? as u32,
        next_at: from_ms(r.get(6)?),
        created_at: from_ms(r.get(7)?),
        last_outcome: r.get(8)?,
        last_status: r.get::<_, Option<i64>>(9)?.map(|s| s as u16),
        body: r.get(10)?,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::event::{EventBody, PanelData, TestData};

    fn at(secs: i64) -> DateTime<Utc> {
        DateTime::from_timestamp(1_800_000_000 + secs, 0).unwrap()
    }

    fn panel_event(panel: &str, secs: i64) -> Event {
        Event::new(
            at(secs),
            chrono_tz::UTC,
            EventBody::PanelDown(PanelData {
                panel: panel.into(),
                reason: Some("HTTP 502".into()),
                since: None,
            }),
        )
    }

    #[test]
    fn an_event_and_its_deliveries_commit_together_and_survive_reopening() {
        let dir = tempfile::tempdir().unwrap();
        let event = panel_event("main", 0);
        {
            let store = Store::open(dir.path()).unwrap();
            let batch = Batch {
                events: vec![(&event, vec!["ops".into(), "backend".into()])],
                states: vec![("panel/main".into(), Some("{\"down\":true}".into()))],
            };
            store.commit(&batch, at(0)).unwrap();
        }
        let store = Store::open(dir.path()).unwrap();
        let due = store.due_deliveries("ops", at(0), 10).unwrap();
        assert_eq!(due.len(), 1);
        assert_eq!(due[0].event_id, event.id.0);
        assert_eq!(due[0].body, event.to_json());
        assert_eq!(store.due_deliveries("backend", at(0), 10).unwrap().len(), 1);
        assert_eq!(
            store.states("panel/").unwrap(),
            vec![("panel/main".to_string(), "{\"down\":true}".to_string())]
        );
    }

    #[test]
    fn a_failed_batch_writes_nothing() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(dir.path()).unwrap();
        let event = panel_event("main", 0);
        let batch = Batch {
            events: vec![(&event, vec!["ops".into()]), (&event, vec!["ops".into()])],
            states: vec![],
        };
        assert!(
            store.commit(&batch, at(0)).is_err(),
            "duplicate event id must fail"
        );
        assert!(store.due_deliveries("ops", at(0), 10).unwrap().is_empty());
        assert!(store.recent_events(10).unwrap().is_empty());
    }

    #[test]
    fn one_subject_waits_for_its_earlier_delivery_others_do_not() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(dir.path()).unwrap();
        let first = panel_event("main", 0);
        let second = panel_event("main", 1);
        let other = panel_event("other", 2);
        let batch = Batch {
            events: vec![
                (&first, vec!["ops".into()]),
                (&second, vec!["ops".into()]),
                (&other, vec!["ops".into()]),
            ],
            states: vec![],
        };
        store.commit(&batch, at(0)).unwrap();
        let due = store.due_deliveries("ops", at(0), 10).unwrap();
        let ids: Vec<_> = due.iter().map(|d| d.event_id.clone()).collect();
        assert_eq!(ids, vec![first.id.0.clone(), other.id.0.clone()]);

        // The first one fails and waits; the second stays behind it.
        store
            .record_attempts(&[AttemptRecord {
                delivery: due[0].id,
                result: AttemptResult::Retry(at(60)),
                status: Some(500),
                outcome: "HTTP 500".into(),
                at: at(1),
            }])
            .unwrap();
        let due = store.due_deliveries("ops", at(2), 10).unwrap();
        assert_eq!(due.len(), 1);
        assert_eq!(due[0].event_id, other.id.0);
        assert_eq!(store.next_due("ops").unwrap(), Some(at(0)));

        let due = store.due_deliveries("ops", at(60), 10).unwrap();
        assert_eq!(due[0].event_id, first.id.0);
        assert_eq!(due[0].attempts, 1);
        assert_eq!(due[0].last_status, Some(500));
    }

    #[test]
    fn dead_letters_are_listed_and_requeued() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(dir.path()).unwrap();
        let event = Event::new(
            at(0),
            chrono_tz::UTC,
            EventBody::Test(TestData {
                destination: "ops".into(),
                message: "hello".into(),
            }),
        );
        let batch = Batch {
            events: vec![(&event, vec!["ops".into()])],
            states: vec![],
        };
        store.commit(&batch, at(0)).unwrap();
        let id = store.due_deliveries("ops", at(0), 1).unwrap()[0].id;
        store
            .record_attempts(&[AttemptRecord {
                delivery: id,
                result: AttemptResult::Dead,
                status: Some(404),
                outcome: "HTTP 404: no_service".into(),
                at: at(1),
            }])
            .unwrap();
        assert!(store.due_deliveries("ops", at(100), 10).unwrap().is_empty());
        let dead = store.deliveries(&[DeliveryState::Dead], 10).unwrap();
        assert_eq!(dead.len(), 1);
        assert_eq!(
            dead[0].last_outcome.as_deref(),
            Some("HTTP 404: no_service")
        );
        let counts = store.outbox_counts().unwrap();
        assert_eq!(counts.by_state.get(&DeliveryState::Dead), Some(&1));

        assert_eq!(store.requeue_dead(None, at(200)).unwrap(), 1);
        assert_eq!(store.due_deliveries("ops", at(200), 10).unwrap().len(), 1);
    }

    #[test]
    fn the_next_attempt_ignores_deliveries_held_back_by_their_subject() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(dir.path()).unwrap();
        let first = panel_event("main", 0);
        let second = panel_event("main", 1);
        let batch = Batch {
            events: vec![(&first, vec!["ops".into()]), (&second, vec!["ops".into()])],
            states: vec![],
        };
        store.commit(&batch, at(0)).unwrap();
        let due = store.due_deliveries("ops", at(0), 10).unwrap();
        store
            .record_attempts(&[AttemptRecord {
                delivery: due[0].id,
                result: AttemptResult::Retry(at(60)),
                status: Some(500),
                outcome: "HTTP 500".into(),
                at: at(1),
            }])
            .unwrap();
        assert_eq!(store.next_due("ops").unwrap(), Some(at(0)));
        assert_eq!(store.next_attempt_at("ops").unwrap(), Some(at(60)));
        assert_eq!(store.next_attempt_at("nobody").unwrap(), None);
    }

    #[test]
    fn waiting_deliveries_can_be_noted_and_found() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(dir.path()).unwrap();
        let event = panel_event("main", 0);
        let batch = Batch {
            events: vec![(&event, vec!["gone".into(), "ops".into()])],
            states: vec![],
        };
        store.commit(&batch, at(0)).unwrap();
        assert_eq!(store.open_destinations().unwrap(), vec!["gone", "ops"]);
        assert_eq!(
            store
                .note_waiting("gone", "destination not in config")
                .unwrap(),
            1
        );
        assert_eq!(
            store
                .note_waiting("gone", "destination not in config")
                .unwrap(),
            0
        );
        let d = store.delivery_of(&event.id.0, "gone").unwrap().unwrap();
        assert_eq!(d.last_outcome.as_deref(), Some("destination not in config"));
        assert_eq!(d.attempts, 0);
        assert!(store.delivery_of(&event.id.0, "nobody").unwrap().is_none());
    }

    #[test]
    fn tracked_orders_follow_their_statuses_until_finished() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(dir.path()).unwrap();
        assert!(store
            .track_order("p", OrderId(5), ServiceId(17), Some(1000), at(0))
            .unwrap());
        assert!(!store
            .track_order("p", OrderId(5), ServiceId(17), None, at(1))
            .unwrap());
        let rows = store.tracked_orders("p", at(10)).unwrap();
        assert_eq!(rows.len(), 1, "unfinished orders are always listed");
        assert_eq!(rows[0].to_order(), None, "no status read yet");
        let update = |status: OrderStatus| TrackedUpdate {
            order: OrderId(5),
            service: None,
            status,
            remains: Some(157),
            charge: Some(Money("0.27819".parse().unwrap())),
        };
        store
            .update_tracked("p", &[update(OrderStatus::Partial)], at(20))
            .unwrap();
        assert!(store.tracked_orders("p", at(10)).unwrap().is_empty());
        let rows = store.tracked_orders("p", at(0)).unwrap();
        assert!(rows[0].finished);
        let order = rows[0].to_order().unwrap();
        assert_eq!(
            (order.status, order.remains, order.quantity),
            (OrderStatus::Partial, Some(157), Some(1000))
        );
        let late = update(OrderStatus::InProgress);
        store.update_tracked("p", &[late], at(21)).unwrap();
        let rows = store.tracked_orders("p", at(0)).unwrap();
        assert_eq!(
            rows[0].status,
            Some(OrderStatus::Partial),
            "finished stays finished"
        );
        let unknown = TrackedUpdate {
            order: OrderId(6),
            ..update(OrderStatus::Completed)
        };
        store.update_tracked("p", &[unknown], at(20)).unwrap();
        assert_eq!(store.tracked_orders("p", at(0)).unwrap().len(), 1);
    }

    #[test]
    fn inbound_webhooks_are_stored_once_per_id() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(dir.path()).unwrap();
        assert!(store.record_inbound("p", "msg_1", "{}", at(0)).unwrap());
        assert!(!store.record_inbound("p", "msg_1", "{}", at(1)).unwrap());
        assert!(store.record_inbound("q", "msg_1", "{}", at(1)).unwrap());
        let open = store.pending_inbound(10).unwrap();
        assert_eq!(open.len(), 2);
        store.inbound_done(open[0].seq).unwrap();
        assert_eq!(store.pending_inbound(10).unwrap().len(), 1);
        assert_eq!(store.inbound_count("p").unwrap(), 1);
    }

    #[test]
    fn destination_state_round_trips() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(dir.path()).unwrap();
        assert_eq!(
            store.destination_state("ops").unwrap(),
            DestinationState::default()
        );
        let state = DestinationState {
            disabled: Some("HTTP 410 Gone".into()),
            last_success: Some(at(5)),
            failing_since: None,
            last_outcome: Some("HTTP 410".into()),
            last_at: Some(at(9)),
            chat_override: Some("-100123".into()),
        };
        store.save_destination_state("ops", &state).unwrap();
        assert_eq!(store.destination_state("ops").unwrap(), state);
    }
}
