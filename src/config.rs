//! `config.toml`: reading, `${VAR}` expansion, validation, and errors that name the key and line.
//!
//! The file is read in two steps. Serde turns the text into the `Raw*` structs (unknown keys and
//! wrong types are refused there, with toml's own line and column), then [`Config::from_toml`]
//! checks what types cannot say (names unique and referenced, thresholds ordered, durations
//! sensible) and builds the [`Config`] the rest of the crate reads. Every error carries the
//! dotted key, such as `rules[0].resolve_above`, and the line it stands on.
//!
//! Secrets (API keys, webhook URLs, signing secrets) are [`Secret`]s: their `Debug` and
//! `Display` print `***`, so no log line or error can leak them by accident.

use std::collections::HashSet;
use std::fmt;
use std::path::{Path, PathBuf};
use std::time::Duration;

use chrono_tz::Tz;
use schemars::JsonSchema;
use serde::Deserialize;

use crate::history::HistoryConfig;

/// A value that must never be shown: API keys, tokens, webhook URLs with tokens in them.
#[derive(Clone, PartialEq, Eq, Default)]
pub struct Secret(String);

impl Secret {
    pub fn new(value: impl Into<String>) -> Secret {
        Secret(value.into())
    }

    /// The real value, for the one place that sends it.
    pub fn expose(&self) -> &str {
        &self.0
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Secret(***)")
    }
}

impl fmt::Display for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("***")
    }
}

/// A configuration problem, with where it is.
#[derive(Debug, thiserror::Error)]
#[error("{}{}: {message}", location(.file, *.line), key_prefix(.key))]
pub struct ConfigError {
    /// The file, when the config came from one.
    pub file: Option<PathBuf>,
    /// 1-based line of the offending key, when it could be found.
    pub line: Option<usize>,
    /// Dotted key path, such as `rules[0].resolve_above`; empty for whole-file problems.
    pub key: String,
    pub message: String,
}

fn location(file: &Option<PathBuf>, line: Option<usize>) -> String {
    let file = file
        .as_ref()
        .map(|p| p.display().to_string())
        .unwrap_or_else(|| "config".to_string());
    match line {
        Some(line) => format!("{file}:{line}"),
        None => file,
    }
}

fn key_prefix(key: &str) -> String {
    if key.is_empty() {
        String::new()
    } else {
        format!(": {key}")
    }
}

/// The whole, validated configuration.
#[derive(Clone, Debug, PartialEq)]
pub struct Config {
    pub monitor: MonitorConfig,
    pub ui: UiConfig,
    pub delivery: DeliveryConfig,
    pub metrics: MetricsConfig,
    pub panels: Vec<PanelConfig>,
    pub rules: Vec<RuleConfig>,
    pub webhooks: Vec<DestinationConfig>,
    pub maintenance: Vec<MaintenanceConfig>,
    /// `[history]`: how long raw orders, roll-ups and delivered events are kept.
    pub history: crate::history::HistoryConfig,
    /// The local intake endpoint (`[intake]`): tracked orders and inbound panel webhooks.
    pub intake: Option<IntakeConfig>,
}

/// `[intake]`: a loopback HTTP endpoint a reseller's backend calls after placing an order
/// (`POST /orders`), and that panels push their own signed webhooks to (`/inbound/<panel>`).
#[derive(Clone, Debug, PartialEq)]
pub struct IntakeConfig {
    pub listen: std::net::SocketAddr,
    /// The bearer token `POST /orders` must carry.
    pub token: Secret,
    /// Larger bodies are refused with 413.
    pub max_body: usize,
    /// Inbound webhooks whose timestamp is further from now than this are refused.
    pub tolerance: Duration,
}

/// A recurring maintenance window: alerts about what it covers are recorded but not sent
/// while it is open (`quiet`).
#[derive(Clone, Debug, PartialEq)]
pub struct MaintenanceConfig {
    pub name: String,
    /// Days of the week the window opens on (in `timezone`); every day when empty.
    pub days: Vec<chrono::Weekday>,
    /// Local wall-clock time it opens at.
    pub start: chrono::NaiveTime,
    /// How long it stays open, in real time.
    pub duration: Duration,
    pub timezone: Tz,
    /// Panels covered; `None` is every panel.
    pub panels: Option<Vec<String>>,
    pub services: Vec<ServiceSelector>,
}

#[derive(Clone, Debug, PartialEq)]
pub struct MonitorConfig {
    /// Where the SQLite state and the log file live; relative paths are taken from the
    /// config file's folder.
    pub state_dir: PathBuf,
    /// The zone events show their local time in.
    pub timezone: Tz,
    /// How many events the history keeps in memory for the screen.
    pub history: usize,
}

#[derive(Clone, Debug, PartialEq)]
pub struct UiConfig {
    /// Redraws per second at most.
    pub max_fps: u32,
}

/// The Prometheus endpoint (`[metrics]`).
#[derive(Clone, Debug, Default, PartialEq)]
pub struct MetricsConfig {
    /// Where `GET /metrics` is served; `None` (the default) serves nothing. Read at start only.
    pub listen: Option<std::net::SocketAddr>,
}

/// How deliveries are attempted and retried.
#[derive(Clone, Debug, PartialEq)]
pub struct DeliveryConfig {
    /// One attempt's limit.
    pub timeout: Duration,
    /// Delays before the 2nd, 3rd, ... attempt; after the last one a delivery is dead.
    pub retry_schedule: Vec<Duration>,
    /// A destination failing without a single success for this long is disabled.
    pub disable_after: Duration,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PanelKind {
    /// The admin API v2: orders by service and time (`GET {url}/orders`).
    Admin,
    /// HTTP probes: each `[[panels.probes]]` target is a service, each probe an order.
    Http,
    /// The user API v2 (`POST {url}` form with `key` and `action`): balance, tracked orders'
    /// statuses, the services catalogue.
    V2,
}

/// How a panel's own webhooks (`/inbound/<panel>`) are verified.
#[derive(Clone, Debug, PartialEq)]
pub enum InboundAuth {
    /// Standard Webhooks: `webhook-id`, `webhook-timestamp`, `webhook-signature`.
    Standard(Secret),
    /// A hex (or `sha256=`-prefixed hex) HMAC-SHA256 of the body in the named header.
    Hmac { header: String, secret: Secret },
}

/// What the user API v2 source (and the pacing of both kinds) needs beyond the basics.
#[derive(Clone, Debug, PartialEq)]
pub struct SourceOptions {
    /// `balance.low` when the balance drops below this (decimal, never a float).
    pub balance_below: Option<rust_decimal::Decimal>,
    /// Requests to this panel per minute at most; `None` is unpaced.
    pub max_requests_per_minute: Option<u32>,
    /// How often the `services` catalogue is read.
    pub services_interval: Duration,
    /// Services whose disappearance or change of rate, min or max raises `service.changed`;
    /// empty is every service in the catalogue.
    pub watch_services: Vec<u64>,
    /// The window the API health gauge covers.
    pub health_window: Duration,
    /// `panel.degraded` when the API health over the window drops below this share.
    pub degraded_below: Option<f64>,
    /// Verification of the panel's own webhooks; `None` refuses them.
    pub inbound: Option<InboundAuth>,
}

impl Default for SourceOptions {
    fn default() -> Self {
        SourceOptions {
            balance_below: None,
            max_requests_per_minute: None,
            services_interval: Duration::from_secs(3600),
            watch_services: Vec::new(),
            health_window: Duration::from_secs(600),
            degraded_below: None,
            inbound: None,
        }
    }
}

#[derive(Clone, Debug, PartialEq)]
pub struct PanelConfig {
    pub name: String,
    pub kind: PanelKind,
    pub url: String,
    pub api_key: Secret,
    /// Time between polls.
    pub interval: Duration,
    /// One HTTP call's limit.
    pub timeout: Duration,
    /// Orders asked for per page.
    pub page_size: u32,
    /// `kind = "http"`: the probe targets, each one a service; empty for other kinds.
    pub probes: Vec<ProbeConfig>,
    /// The user API v2 options and pacing (both API kinds).
    pub source: SourceOptions,
}

/// One HTTP probe target (`[[panels.probes]]`): a "service" whose every probe is one order,
/// Completed when it passed and Canceled when it failed.
#[derive(Clone, Debug, PartialEq)]
pub struct ProbeConfig {
    /// The service id its orders carry: `id`, or the probe's position counted from 1.
    pub id: u64,
    pub name: String,
    /// A secret: URLs may carry tokens. Logs and errors name the probe instead.
    pub url: Secret,
    /// `GET`, `HEAD`, `POST`, ... in capitals.
    pub method: String,
    pub headers: Vec<(String, Secret)>,
    /// A request body (form or JSON text), sent as is.
    pub body: Option<Secret>,
    /// The status that passes; `None` is any 2xx.
    pub expect_status: Option<u16>,
    /// Slower answers fail even when they are right.
    pub max_latency: Option<Duration>,
    /// Redirects are answers (and fail unless expected) unless this is set.
    pub follow_redirects: bool,
    /// Assertions on the JSON body; any of them makes a non-JSON body a failure.
    pub json: Vec<JsonCheck>,
}

/// `{ path = "data.status", equals = "ok" }`: the value at a dotted path (array items by
/// number) exists, and equals `equals` when given.
#[derive(Clone, Debug, PartialEq)]
pub struct JsonCheck {
    pub path: String,
    pub equals: Option<serde_json::Value>,
}

/// Which services a rule covers: ids, or globs over names (`*`, `?`).
#[derive(Clone, Debug, PartialEq)]
pub enum ServiceSelector {
    Id(u64),
    Glob(String),
}

impl ServiceSelector {
    pub fn matches(&self, id: u64, name: &str) -> bool {
        match self {
            ServiceSelector::Id(want) => *want == id,
            ServiceSelector::Glob(pattern) => {
                glob_match(pattern, name) || glob_match(pattern, &id.to_string())
            }
        }
    }
}

#[derive(Clone, Debug, PartialEq)]
pub struct RuleConfig {
    pub name: String,
    /// Panels the rule covers; `None` is every panel.
    pub panels: Option<Vec<String>>,
    pub services: Vec<ServiceSelector>,
    pub window: Duration,
    /// The window as written, for events (`6h`).
    pub window_text: String,
    pub min_orders: u32,
    pub alert_below: f64,
    pub resolve_above: f64,
    /// How long the rate must stay below `alert_below` before the alert fires.
    pub for_: Duration,
    /// How long the rate must stay at or above `resolve_above` before the alert resolves.
    pub resolve_for: Duration,
    /// Re-send an open alert as `alert.reminder` this often.
    pub repeat: Option<Duration>,
    /// A pending order older than this is stuck.
    pub stuck_pending: Duration,
    /// A processing or in-progress order older than this is stuck.
    pub stuck_running: Duration,
    /// Destination names.
    pub notify: Vec<String>,
    /// Fire `orders.stuck` when more than this many orders of a service are stuck.
    pub alert_stuck_above: Option<u32>,
    /// What one alert is about: each service, or each upstream provider across services.
    pub group_by: GroupBy,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum GroupBy {
    Service,
    Provider,
}

impl RuleConfig {
    pub fn covers_panel(&self, panel: &str) -> bool {
        self.panels
            .as_ref()
            .is_none_or(|names| names.iter().any(|n| n == panel))
    }

    pub fn covers_service(&self, id: u64, name: &str) -> bool {
        self.services.iter().any(|s| s.matches(id, name))
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum DestinationKind {
    Slack,
    Discord,
    Telegram,
    Teams,
    Custom,
}

impl DestinationKind {
    pub fn label(self) -> &'static str {
        match self {
            DestinationKind::Slack => "slack",
            DestinationKind::Discord => "discord",
            DestinationKind::Telegram => "telegram",
            DestinationKind::Teams => "teams",
            DestinationKind::Custom => "custom",
        }
    }
}

/// Extra signature headers a custom destination can send beside Standard Webhooks.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SignatureStyle {
    /// `webhook-id`, `webhook-timestamp`, `webhook-signature` only.
    StandardWebhooks,
    /// Also `X-Hub-Signature-256: sha256=<hex>`.
    Github,
}

#[derive(Clone, Debug, PartialEq)]
pub struct DestinationConfig {
    pub name: String,
    pub kind: DestinationKind,
    /// The endpoint; a secret, since chat webhook URLs carry their token. For Telegram, the
    /// API base (default `https://api.telegram.org`).
    pub url: Secret,
    /// Standard Webhooks secret (`whsec_...`), for `custom`.
    pub secret: Option<Secret>,
    /// A second secret during rotation: both signatures are sent.
    pub secret_next: Option<Secret>,
    pub signature: SignatureStyle,
    /// Event type patterns this destination receives (`alert.*`); empty is every type.
    pub events: Vec<String>,
    /// Static headers sent on every attempt (values may be secrets).
    pub headers: Vec<(String, Secret)>,
    /// Telegram: the bot token and chat id.
    pub bot_token: Option<Secret>,
    pub chat_id: Option<String>,
}

impl DestinationConfig {
    /// Whether this destination wants events of this type. `order.*` events (one per status
    /// change, many) go only where a pattern names them: `order.updated` or `order.*`, never
    /// an empty filter or a bare `*`.
    pub fn wants(&self, kind: &str) -> bool {
        if kind.starts_with("order.") {
            return self
                .events
                .iter()
                .any(|p| p.starts_with("order.") && glob_match(p, kind));
        }
        self.events.is_empty() || self.events.iter().any(|p| glob_match(p, kind))
    }
}

impl Config {
    /// Reads and validates a config file.
    pub fn load(path: &Path) -> Result<Config, ConfigError> {
        let text = std::fs::read_to_string(path).map_err(|e| ConfigError {
            file: Some(path.to_path_buf()),
            line: None,
            key: String::new(),
            message: format!("cannot read the config file: {e}"),
        })?;
        let base = path.parent().unwrap_or(Path::new("."));
        Config::from_toml(&text, base, &|name| std::env::var(name).ok()).map_err(|mut e| {
            e.file = Some(path.to_path_buf());
            e
        })
    }

    /// What an attaching screen needs: the state folder (where the monitor's socket is) and
    /// the frame cap. Read leniently, so an admin can attach without the panels' keys and
    /// tokens in their environment: only `monitor.state_dir` and `ui.max_fps` are looked at.
    pub fn screen_settings(path: &Path) -> Result<(PathBuf, u32), ConfigError> {
        let fail = |line, key: &str, message: String| ConfigError {
            file: Some(path.to_path_buf()),
            line,
            key: key.to_string(),
            message,
        };
        let text = std::fs::read_to_string(path)
            .map_err(|e| fail(None, "", format!("cannot read the config file: {e}")))?;
        let table: toml::Table = toml::from_str(&text).map_err(|e| {
            let mut err = toml_error(&text, &e);
            err.file = Some(path.to_path_buf());
            err
        })?;
        let dir = table
            .get("monitor")
            .and_then(|m| m.get("state_dir"))
            .and_then(|v| v.as_str())
            .unwrap_or("panelwatch-state");
        let dir = expand_env(dir, &|name| std::env::var(name).ok()).map_err(|var| {
            let line = text.find("state_dir").map(|at| line_of(&text, at));
            fail(
                line,
                "monitor.state_dir",
                format!("environment variable {var} is not set"),
            )
        })?;
        let base = path.parent().unwrap_or(Path::new("."));
        let dir = if Path::new(&dir).is_absolute() {
            PathBuf::from(dir)
        } else {
            base.join(dir)
        };
        let fps = table
            .get("ui")
            .and_then(|u| u.get("max_fps"))
            .and_then(|v| v.as_integer())
            .and_then(|n| u32::try_from(n).ok())
            .filter(|n| (1..=60).contains(n))
            .unwrap_or(4);
        Ok((dir, fps))
    }

    /// Parses and validates config text. Relative paths resolve against `base`; `${VAR}` is
    /// looked up with `env`.
    pub fn from_toml(
        text: &str,
        base: &Path,
        env: &dyn Fn(&str) -> Option<String>,
    ) -> Result<Config, ConfigError> {
        let raw: RawConfig = toml::from_str(text).map_err(|e| toml_error(text, &e))?;
        let mut check = Checker {
            text,
            env,
            errors: Vec::new(),
        };
        let config = check.build(raw, base);
        match check.errors.into_iter().next() {
            Some(first) => Err(first),
            None => Ok(config),
        }
    }

    /// Problems that do not stop the config from running but that an operator should hear of.
    pub fn warnings(&self) -> Vec<String> {
        let mut out = Vec::new();
        for rule in &self.rules {
            for panel in self.panels.iter().filter(|p| rule.covers_panel(&p.name)) {
                if let Some(repeat) = rule.repeat {
                    if repeat < panel.interval {
                        out.push(format!(
                            "rule {:?}: repeat ({}) is shorter than panel {:?}'s poll interval \
                             ({}); reminders go out once a poll",
                            rule.name,
                            format_duration(repeat),
                            panel.name,
                            format_duration(panel.interval)
                        ));
                    }
                }
                if rule.window < panel.interval {
                    out.push(format!(
                        "rule {:?}: window ({}) is shorter than panel {:?}'s poll interval ({})",
                        rule.name,
                        rule.window_text,
                        panel.name,
                        format_duration(panel.interval)
                    ));
                }
            }
        }
        for hook in &self.webhooks {
            if !self.rules.iter().any(|r| r.notify.contains(&hook.name)) {
                out.push(format!(
                    "webhook {:?} is not named in any rule's notify; it only receives panel \
                     and test events",
                    hook.name
                ));
            }
        }
        out
    }

    pub fn panel(&self, name: &str) -> Option<&PanelConfig> {
        self.panels.iter().find(|p| p.name == name)
    }

    pub fn destination(&self, name: &str) -> Option<&DestinationConfig> {
        self.webhooks.iter().find(|d| d.name == name)
    }

    /// The longest window of the rules covering a panel: how far back its orders are read.
    pub fn lookback(&self, panel: &str) -> Duration {
        self.rules
            .iter()
            .filter(|r| r.covers_panel(panel))
            .map(|r| r.window)
            .max()
            .unwrap_or(Duration::from_secs(3600))
    }
}

/// The JSON Schema of `config.toml`, pretty-printed: what `panelwatch config schema` prints and
/// `assets/config.schema.json` holds. It describes the file's shape (keys, types, unknown keys
/// refused); the checks types cannot say (names referenced, thresholds ordered) stay in
/// [`Config::from_toml`].
pub fn schema_json() -> String {
    let schema = schemars::schema_for!(RawConfig);
    serde_json::to_string_pretty(&schema).expect("a schema serialises")
}

fn toml_error(text: &str, e: &toml::de::Error) -> ConfigError {
    let line = e.span().map(|s| line_of(text, s.start));
    let key = e
        .span()
        .and_then(|span| key_at(text, span.start))
        .unwrap_or_default();
    // Serde speaks Rust; operators read TOML.
    let message = e
        .message()
        .trim_end()
        .replace("expected u32", "expected a whole number")
        .replace("expected u64", "expected a whole number")
        .replace("expected usize", "expected a whole number")
        .replace("expected i64", "expected a whole number")
        .replace("expected f64", "expected a number such as 0.8");
    ConfigError {
        file: None,
        line,
        key,
        message,
    }
}

/// The dotted path of the most specific key whose name or value holds byte `offset`, such
/// as `panels[0].interval`. (Tables' own spans cover only their headers, so every entry is
/// looked at, not just those inside a containing span.)
fn key_at(text: &str, offset: usize) -> Option<String> {
    use toml::de::DeValue;
    type Entry<'a> = (
        String,
        std::ops::Range<usize>,
        &'a toml::Spanned<DeValue<'a>>,
    );

    fn walk<'a>(prefix: &str, value: &'a toml::Spanned<DeValue<'a>>, out: &mut Vec<Entry<'a>>) {
        match value.get_ref() {
            DeValue::Table(t) => {
                for (k, v) in t.iter() {
                    let sep = if prefix.is_empty() { "" } else { "." };
                    let path = format!("{prefix}{sep}{}", k.get_ref());
                    out.push((path.clone(), k.span(), v));
                    walk(&path, v, out);
                }
            }
            DeValue::Array(items) => {
                for (i, v) in items.iter().enumerate() {
                    let path = format!("{prefix}[{i}]");
                    out.push((path.clone(), v.span(), v));
                    walk(&path, v, out);
                }
            }
            _ => {}
        }
    }

    let table = toml::de::DeTable::parse(text).ok()?;
    let root = toml::Spanned::new(table.span(), DeValue::Table(table.get_ref().clone()));
    let mut entries = Vec::new();
    walk("", &root, &mut entries);
    entries
        .into_iter()
        .filter(|(_, key, value)| key.contains(&offset) || value.span().contains(&offset))
        .max_by_key(|(path, _, _)| path.len())
        .map(|(path, _, _)| path)
}

fn line_of(text: &str, offset: usize) -> usize {
    text[..offset.min(text.len())]
        .bytes()
        .filter(|b| *b == b'\n')
        .count()
        + 1
}

// ---- raw shapes, as serde reads them ----

/// panelwatch's config.toml.
#[derive(Deserialize, JsonSchema)]
#[schemars(title = "panelwatch config.toml")]
#[serde(deny_unknown_fields)]
struct RawConfig {
    #[serde(default)]
    monitor: RawMonitor,
    #[serde(default)]
    ui: RawUi,
    #[serde(default)]
    delivery: RawDelivery,
    #[serde(default)]
    metrics: RawMetrics,
    #[serde(default)]
    panels: Vec<RawPanel>,
    #[serde(default)]
    rules: Vec<RawRule>,
    #[serde(default)]
    webhooks: Vec<RawDestination>,
    #[serde(default)]
    maintenance: Vec<RawMaintenance>,
    intake: Option<RawIntake>,
    #[serde(default)]
    history: std::collections::BTreeMap<String, String>,
}

/// The local intake endpoint: tracked orders from a backend, panels' own webhooks.
#[derive(Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
struct RawIntake {
    listen: String,
    token: String,
    max_body: Option<usize>,
    tolerance: Option<String>,
}

/// A recurring maintenance window: alerts about what it covers are recorded, not sent.
#[derive(Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
struct RawMaintenance {
    name: String,
    days: Option<Vec<String>>,
    start: String,
    duration: String,
    timezone: Option<String>,
    panels: Option<Vec<String>>,
    services: Option<Vec<RawSelector>>,
}

#[derive(Deserialize, Default, JsonSchema)]
#[serde(deny_unknown_fields)]
struct RawMonitor {
    state_dir: Option<String>,
    timezone: Option<String>,
    history: Option<usize>,
}

#[derive(Deserialize, Default, JsonSchema)]
#[serde(deny_unknown_fields)]
struct RawUi {
    max_fps: Option<u32>,
}

#[derive(Deserialize, Default, JsonSchema)]
#[serde(deny_unknown_fields)]
struct RawMetrics {
    listen: Option<String>,
}

#[derive(Deserialize, Default, JsonSchema)]
#[serde(deny_unknown_fields)]
struct RawDelivery {
    timeout: Option<String>,
    retry_schedule: Option<Vec<String>>,
    disable_after: Option<String>,
}

#[derive(Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
struct RawPanel {
    name: String,
    kind: String,
    url: Option<String>,
    api_key: Option<String>,
    interval: Option<String>,
    timeout: Option<String>,
    page_size: Option<u32>,
    #[serde(default)]
    probes: Vec<RawProbe>,
    #[schemars(with = "Option<serde_json::Value>")]
    balance_below: Option<toml::Value>,
    max_requests_per_minute: Option<u32>,
    services_interval: Option<String>,
    watch_services: Option<Vec<u64>>,
    health_window: Option<String>,
    degraded_below: Option<f64>,
    inbound_secret: Option<String>,
    inbound_hmac_header: Option<String>,
}

#[derive(Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
struct RawProbe {
    name: String,
    id: Option<u64>,
    url: String,
    method: Option<String>,
    #[serde(default)]
    headers: std::collections::BTreeMap<String, String>,
    body: Option<String>,
    expect_status: Option<u16>,
    max_latency: Option<String>,
    follow_redirects: Option<bool>,
    #[serde(default)]
    json: Vec<RawJsonCheck>,
}

#[derive(Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
struct RawJsonCheck {
    path: String,
    #[schemars(with = "Option<serde_json::Value>")]
    equals: Option<toml::Value>,
}

#[derive(Deserialize, JsonSchema)]
#[serde(untagged)]
enum RawSelector {
    Id(u64),
    Text(String),
}

#[derive(Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
struct RawRule {
    name: String,
    panels: Option<Vec<String>>,
    services: Option<Vec<RawSelector>>,
    window: Option<String>,
    min_orders: Option<u32>,
    alert_below: f64,
    resolve_above: Option<f64>,
    #[serde(rename = "for")]
    for_: Option<String>,
    resolve_for: Option<String>,
    repeat: Option<String>,
    stuck_pending: Option<String>,
    stuck_running: Option<String>,
    #[serde(default)]
    notify: Vec<String>,
    alert_stuck_above: Option<u32>,
    group_by: Option<String>,
}

#[derive(Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
struct RawDestination {
    name: String,
    kind: String,
    url: Option<String>,
    secret: Option<String>,
    secret_next: Option<String>,
    signature: Option<String>,
    events: Option<Vec<String>>,
    #[serde(default)]
    headers: std::collections::BTreeMap<String, String>,
    bot_token: Option<String>,
    #[schemars(with = "Option<serde_json::Value>")]
    chat_id: Option<toml::Value>,
}

// ---- validation ----

struct Checker<'a> {
    text: &'a str,
    env: &'a dyn Fn(&str) -> Option<String>,
    errors: Vec<ConfigError>,
}

/// One step of a key path: a table key or an array index.
#[derive(Clone, Copy)]
enum Seg<'a> {
    Key(&'a str),
    Index(usize),
}

impl Checker<'_> {
    fn fail(&mut self, path: &[Seg], message: impl Into<String>) {
        self.errors.push(ConfigError {
            file: None,
            line: self.find_line(path),
            key: render_path(path),
            message: message.into(),
        });
    }

    /// The line a key stands on: the deepest part of the path that exists in the text.
    fn find_line(&self, path: &[Seg]) -> Option<usize> {
        let table = toml::de::DeTable::parse(self.text).ok()?;
        let mut span = table.span();
        let mut current: Option<&toml::Spanned<toml::de::DeValue>> = None;
        for seg in path {
            let next = match (seg, current) {
                (Seg::Key(k), None) => table
                    .get_ref()
                    .iter()
                    .find(|(key, _)| key.get_ref() == k)
                    .map(|(key, value)| (key.span(), value)),
                (Seg::Key(k), Some(v)) => v.get_ref().get(*k).map(|value| (value.span(), value)),
                (Seg::Index(i), Some(v)) => v.get_ref().get(*i).map(|value| (value.span(), value)),
                (Seg::Index(_), None) => None,
            };
            match next {
                Some((s, value)) => {
                    span = s;
                    current = Some(value);
                }
                None => break,
            }
        }
        Some(line_of(self.text, span.start))
    }

    fn duration(&mut self, path: &[Seg], text: Option<&str>, default: Duration) -> Duration {
        match text {
            None => default,
            Some(t) => match parse_duration(t) {
                Ok(d) => d,
                Err(e) => {
                    self.fail(path, e);
                    default
                }
            },
        }
    }

    /// Expands `${VAR}` in a value; a missing variable is an error naming the variable.
    fn expand(&mut self, path: &[Seg], value: &str) -> String {
        match expand_env(value, self.env) {
            Ok(v) => v,
            Err(var) => {
                self.fail(
                    path,
                    format!(
                        "environment variable {var} is not set (the value refers to ${{{var}}})"
                    ),
                );
                String::new()
            }
        }
    }

    fn build(&mut self, raw: RawConfig, base: &Path) -> Config {
        let monitor = self.monitor(raw.monitor, base);
        let ui = UiConfig {
            max_fps: raw.ui.max_fps.unwrap_or(4),
        };
        if ui.max_fps == 0 || ui.max_fps > 60 {
            self.fail(
                &[Seg::Key("ui"), Seg::Key("max_fps")],
                "must be from 1 to 60",
            );
        }
        let delivery = self.delivery(raw.delivery);
        let metrics = self.metrics(raw.metrics);
        let panels: Vec<PanelConfig> = raw
            .panels
            .into_iter()
            .enumerate()
            .map(|(i, p)| self.panel(i, p))
            .collect();
        let webhooks: Vec<DestinationConfig> = raw
            .webhooks
            .into_iter()
            .enumerate()
            .map(|(i, d)| self.destination(i, d))
            .collect();
        let rules: Vec<RuleConfig> = raw
            .rules
            .into_iter()
            .enumerate()
            .map(|(i, r)| self.rule(i, r, &panels, &webhooks))
            .collect();

        let maintenance: Vec<MaintenanceConfig> = raw
            .maintenance
            .into_iter()
            .enumerate()
            .map(|(i, m)| self.maintenance(i, m, monitor.timezone, &panels))
            .collect();

        let intake = raw.intake.map(|i| self.intake(i));

        self.unique("panels", panels.iter().map(|p| p.name.as_str()));
        self.unique("rules", rules.iter().map(|r| r.name.as_str()));
        self.unique("webhooks", webhooks.iter().map(|d| d.name.as_str()));
        if panels.is_empty() {
            self.fail(
                &[Seg::Key("panels")],
                "at least one [[panels]] entry is needed",
            );
        }

        let history = self.history(&raw.history);
        Config {
            monitor,
            ui,
            delivery,
            metrics,
            panels,
            rules,
            webhooks,
            maintenance,
            intake,
            history,
        }
    }

    fn intake(&mut self, raw: RawIntake) -> IntakeConfig {
        let at = |k| [Seg::Key("intake"), Seg::Key(k)];
        let listen_text = self.expand(&at("listen"), &raw.listen);
        let listen = match listen_text.parse::<std::net::SocketAddr>() {
            Ok(addr) if addr.ip().is_loopback() => addr,
            Ok(_) => {
                self.fail(
                    &at("listen"),
                    "must be a loopback address (127.0.0.1:PORT); put a proxy in front for more",
                );
                ([127, 0, 0, 1], 0).into()
            }
            Err(_) => {
                self.fail(
                    &at("listen"),
                    format!("{listen_text:?} is not an address:port such as 127.0.0.1:8787"),
                );
                ([127, 0, 0, 1], 0).into()
            }
        };
        let token = self.expand(&at("token"), &raw.token);
        if token.trim().len() < 16 {
            self.fail(&at("token"), "must be at least 16 characters");
        }
        let max_body = raw.max_body.unwrap_or(64 * 1024);
        if !(256..=16 * 1024 * 1024).contains(&max_body) {
            self.fail(&at("max_body"), "must be from 256 to 16777216 bytes");
        }
        let tolerance = self.duration(&at("tolerance"), raw.tolerance.as_deref(), secs(300));
        IntakeConfig {
            listen,
            token: Secret::new(token),
            max_body,
            tolerance,
        }
    }

    /// The v2 source options of panel `i`.
    fn source(&mut self, i: usize, kind: PanelKind, raw: &RawPanel) -> SourceOptions {
        let at = |k| [Seg::Key("panels"), Seg::Index(i), Seg::Key(k)];
        let mut out = SourceOptions::default();
        let v2_only = [
            ("balance_below", raw.balance_below.is_some()),
            ("services_interval", raw.services_interval.is_some()),
            ("watch_services", raw.watch_services.is_some()),
        ];
        for (key, set) in v2_only {
            if set && kind != PanelKind::V2 {
                self.fail(&at(key), "only a kind = \"v2\" panel has this key");
            }
        }
        if let Some(value) = &raw.balance_below {
            let text = match value {
                toml::Value::String(s) => s.trim().to_string(),
                toml::Value::Integer(n) => n.to_string(),
                _ => String::new(),
            };
            match text.parse::<rust_decimal::Decimal>() {
                Ok(d) if !d.is_sign_negative() => out.balance_below = Some(d),
                _ => self.fail(
                    &at("balance_below"),
                    "must be an amount as a string, such as \"25.00\" (money is never a float)",
                ),
            }
        }
        if let Some(n) = raw.max_requests_per_minute {
            if !(1..=6000).contains(&n) {
                self.fail(&at("max_requests_per_minute"), "must be from 1 to 6000");
            }
            out.max_requests_per_minute = Some(n.clamp(1, 6000));
        }
        out.services_interval = self.duration(
            &at("services_interval"),
            raw.services_interval.as_deref(),
            secs(3600),
        );
        if out.services_interval < Duration::from_millis(100) {
            self.fail(&at("services_interval"), "must be at least 100ms");
        }
        out.watch_services = raw.watch_services.clone().unwrap_or_default();
        out.health_window = self.duration(
            &at("health_window"),
            raw.health_window.as_deref(),
            secs(600),
        );
        if out.health_window.is_zero() {
            self.fail(&at("health_window"), "must be longer than zero");
        }
        if let Some(share) = raw.degraded_below {
            if !(0.0..=1.0).contains(&share) {
                self.fail(
                    &at("degraded_below"),
                    "must be a share from 0.0 to 1.0 (0.9 is 90%)",
                );
            }
            out.degraded_below = Some(share);
        }
        let secret = raw
            .inbound_secret
            .as_deref()
            .map(|s| self.expand(&at("inbound_secret"), s));
        out.inbound = match (secret, raw.inbound_hmac_header.as_deref()) {
            (None, None) => None,
            (None, Some(_)) => {
                self.fail(
                    &at("inbound_hmac_header"),
                    "needs inbound_secret, the HMAC key",
                );
                None
            }
            (Some(secret), None) => {
                if let Err(e) = crate::delivery::sign::SigningKey::parse(&secret) {
                    self.fail(
                        &at("inbound_secret"),
                        format!("{e} (or set inbound_hmac_header for a plain HMAC secret)"),
                    );
                }
                Some(InboundAuth::Standard(Secret::new(secret)))
            }
            (Some(secret), Some(header)) => {
                if secret.len() < 16 {
                    self.fail(&at("inbound_secret"), "must be at least 16 characters");
                }
                if header.parse::<reqwest::header::HeaderName>().is_err() {
                    self.fail(&at("inbound_hmac_header"), "is not a valid header name");
                }
                Some(InboundAuth::Hmac {
                    header: header.to_ascii_lowercase(),
                    secret: Secret::new(secret),
                })
            }
        };
        out
    }

    fn maintenance(
        &mut self,
        i: usize,
        raw: RawMaintenance,
        zone: Tz,
        panels: &[PanelConfig],
    ) -> MaintenanceConfig {
        let at = |k| [Seg::Key("maintenance"), Seg::Index(i), Seg::Key(k)];
        let mut days = Vec::new();
        for (j, day) in raw.days.iter().flatten().enumerate() {
            match day.trim().parse::<chrono::Weekday>() {
                Ok(d) => days.push(d),
                Err(_) => {
                    let path = [
                        Seg::Key("maintenance"),
                        Seg::Index(i),
                        Seg::Key("days"),
                        Seg::Index(j),
                    ];
                    self.fail(
                        &path,
                        format!("{day:?} is not a day of the week (mon, tue, ...)"),
                    );
                }
            }
        }
        let start = match chrono::NaiveTime::parse_from_str(raw.start.trim(), "%H:%M") {
            Ok(t) => t,
            Err(_) => {
                self.fail(
                    &at("start"),
                    format!("{:?} is not a time of day as HH:MM", raw.start),
                );
                chrono::NaiveTime::MIN
            }
        };
        let duration = self.duration(&at("duration"), Some(&raw.duration), secs(3600));
        if duration.is_zero() || duration > secs(7 * 86_400) {
            self.fail(&at("duration"), "must be longer than zero and at most 7d");
        }
        let timezone = match raw.timezone {
            None => zone,
            Some(name) => name.parse::<Tz>().unwrap_or_else(|_| {
                self.fail(
                    &at("timezone"),
                    format!("{name:?} is not an IANA time zone name"),
                );
                zone
            }),
        };
        if let Some(names) = &raw.panels {
            for (j, name) in names.iter().enumerate() {
                if !panels.iter().any(|p| &p.name == name) {
                    let path = [
                        Seg::Key("maintenance"),
                        Seg::Index(i),
                        Seg::Key("panels"),
                        Seg::Index(j),
                    ];
                    self.fail(&path, format!("no panel is named {name:?}"));
                }
            }
        }
        MaintenanceConfig {
            name: raw.name,
            days,
            start,
            duration,
            timezone,
            panels: raw.panels,
            services: selectors(raw.services),
        }
    }

    fn metrics(&mut self, raw: RawMetrics) -> MetricsConfig {
        let Some(text) = raw.listen else {
            return MetricsConfig::default();
        };
        let text = self.expand(&[Seg::Key("metrics"), Seg::Key("listen")], &text);
        match text.parse::<std::net::SocketAddr>() {
            Ok(addr) => MetricsConfig { listen: Some(addr) },
            Err(_) => {
                self.fail(
                    &[Seg::Key("metrics"), Seg::Key("listen")],
                    format!("{text:?} is not an address and port (write \"127.0.0.1:9187\")"),
                );
                MetricsConfig::default()
            }
        }
    }

    fn unique<'n>(&mut self, table: &'static str, names: impl Iterator<Item = &'n str>) {
        let mut seen = HashSet::new();
        for (i, name) in names.enumerate() {
            if !seen.insert(name.to_string()) {
                self.fail(
                    &[Seg::Key(table), Seg::Index(i), Seg::Key("name")],
                    format!("the name {name:?} is used twice"),
                );
            }
        }
    }

    /// `[history]`: durations, each optional; unknown keys are refused.
    fn history(&mut self, raw: &std::collections::BTreeMap<String, String>) -> HistoryConfig {
        let mut out = HistoryConfig::default();
        for (key, text) in raw {
            let slot = match key.as_str() {
                "keep_raw" => &mut out.keep_raw,
                "keep_minutes" => &mut out.keep_minutes,
                "keep_hours" => &mut out.keep_hours,
                "keep_days" => &mut out.keep_days,
                "keep_events" => &mut out.keep_events,
                _ => {
                    self.fail(
                        &[Seg::Key("history"), Seg::Key(key)],
                        "unknown key (keep_raw, keep_minutes, keep_hours, keep_days, keep_events)",
                    );
                    continue;
                }
            };
            *slot = self.duration(&[Seg::Key("history"), Seg::Key(key)], Some(text), *slot);
        }
        out
    }

    fn monitor(&mut self, raw: RawMonitor, base: &Path) -> MonitorConfig {
        let dir = raw.state_dir.unwrap_or_else(|| "panelwatch-state".into());
        let dir = self.expand(&[Seg::Key("monitor"), Seg::Key("state_dir")], &dir);
        let state_dir = if Path::new(&dir).is_absolute() {
            PathBuf::from(dir)
        } else {
            base.join(dir)
        };
        let zone = raw.timezone.unwrap_or_else(|| "UTC".into());
        let timezone = match zone.parse::<Tz>() {
            Ok(tz) => tz,
            Err(_) => {
                self.fail(
                    &[Seg::Key("monitor"), Seg::Key("timezone")],
                    format!("{zone:?} is not an IANA time zone name (try \"Europe/Berlin\")"),
                );
                Tz::UTC
            }
        };
        MonitorConfig {
            state_dir,
            timezone,
            history: raw.history.unwrap_or(500).max(10),
        }
    }

    fn delivery(&mut self, raw: RawDelivery) -> DeliveryConfig {
        let key = |k| [Seg::Key("delivery"), Seg::Key(k)];
        let timeout = self.duration(
            &key("timeout"),
            raw.timeout.as_deref(),
            Duration::from_secs(15),
        );
        let retry_schedule = match raw.retry_schedule {
            None => default_retry_schedule(),
            Some(list) => {
                let mut out = Vec::new();
                for (i, item) in list.iter().enumerate() {
                    let path = [
                        Seg::Key("delivery"),
                        Seg::Key("retry_schedule"),
                        Seg::Index(i),
                    ];
                    out.push(self.duration(&path, Some(item), Duration::from_secs(60)));
                }
                out
            }
        };
        let disable_after = self.duration(
            &key("disable_after"),
            raw.disable_after.as_deref(),
            Duration::from_secs(3 * 86_400),
        );
        if timeout.is_zero() {
            self.fail(&key("timeout"), "must be longer than zero");
        }
        DeliveryConfig {
            timeout,
            retry_schedule,
            disable_after,
        }
    }

    fn panel(&mut self, i: usize, raw: RawPanel) -> PanelConfig {
        let at = |k| [Seg::Key("panels"), Seg::Index(i), Seg::Key(k)];
        let kind = match raw.kind.as_str() {
            "admin" => PanelKind::Admin,
            "v2" => PanelKind::V2,
            "http" => PanelKind::Http,
            other => {
                self.fail(
                    &at("kind"),
                    format!("unknown panel kind {other:?} (known: \"admin\", \"v2\", \"http\")"),
                );
                PanelKind::Admin
            }
        };
        let url = match (&raw.url, kind) {
            (Some(_), PanelKind::Http) => {
                self.fail(&at("url"), NOT_FOR_HTTP);
                String::new()
            }
            (Some(u), _) => self.expand(&at("url"), u),
            (None, PanelKind::Http) => String::new(),
            (None, _) => {
                self.fail(&at("url"), format!("is required for kind {:?}", raw.kind));
                String::new()
            }
        };
        if !url.is_empty() {
            self.check_url(&at("url"), &url);
        }
        let api_key = match (&raw.api_key, kind) {
            (Some(_), PanelKind::Http) => {
                self.fail(&at("api_key"), NOT_FOR_HTTP);
                Secret::default()
            }
            (Some(k), _) => Secret::new(self.expand(&at("api_key"), k)),
            (None, PanelKind::Http) => Secret::default(),
            (None, _) => {
                self.fail(
                    &at("api_key"),
                    format!("is required for kind {:?}", raw.kind),
                );
                Secret::default()
            }
        };
        let source = self.source(i, kind, &raw);
        let interval = self.duration(&at("interval"), raw.interval.as_deref(), secs(30));
        let timeout = self.duration(&at("timeout"), raw.timeout.as_deref(), secs(15));
        if interval < Duration::from_millis(100) {
            self.fail(&at("interval"), "must be at least 100ms");
        }
        if timeout.is_zero() {
            self.fail(&at("timeout"), "must be longer than zero");
        }
        let page_size = raw.page_size.unwrap_or(500);
        if !(1..=10_000).contains(&page_size) {
            self.fail(&at("page_size"), "must be from 1 to 10000");
        }
        self.check_name(&at("name"), &raw.name);
        let probes = self.probes(i, kind, raw.probes);
        PanelConfig {
            name: raw.name,
            kind,
            url: url.trim_end_matches('/').to_string(),
            api_key,
            interval,
            timeout,
            page_size,
            probes,
            source,
        }
    }

    // ---- HTTP probes (`kind = "http"`) ----

    fn probes(&mut self, i: usize, kind: PanelKind, raw: Vec<RawProbe>) -> Vec<ProbeConfig> {
        let at = |k| [Seg::Key("panels"), Seg::Index(i), Seg::Key(k)];
        if kind != PanelKind::Http {
            if !raw.is_empty() {
                self.fail(&at("probes"), "only panels of kind \"http\" have probes");
            }
            return Vec::new();
        }
        if raw.is_empty() {
            self.fail(
                &at("kind"),
                "a panel of kind \"http\" needs at least one [[panels.probes]] entry",
            );
        }
        let probes: Vec<ProbeConfig> = raw
            .into_iter()
            .enumerate()
            .map(|(j, p)| self.probe(i, j, p))
            .collect();
        let mut ids = HashSet::new();
        let mut names = HashSet::new();
        for (j, probe) in probes.iter().enumerate() {
            let path = |k| {
                [
                    Seg::Key("panels"),
                    Seg::Index(i),
                    Seg::Key("probes"),
                    Seg::Index(j),
                    Seg::Key(k),
                ]
            };
            if !names.insert(probe.name.as_str()) {
                let message = format!("the probe name {:?} is used twice", probe.name);
                self.fail(&path("name"), message);
            }
            if !ids.insert(probe.id) {
                let message = format!("the probe id {} is used twice", probe.id);
                self.fail(&path("id"), message);
            }
        }
        probes
    }

    fn probe(&mut self, i: usize, j: usize, raw: RawProbe) -> ProbeConfig {
        let at = |k| {
            [
                Seg::Key("panels"),
                Seg::Index(i),
                Seg::Key("probes"),
                Seg::Index(j),
                Seg::Key(k),
            ]
        };
        if raw.name.trim().is_empty() {
            self.fail(&at("name"), "must not be empty");
        }
        if raw.id == Some(0) {
            self.fail(&at("id"), "must be 1 or more");
        }
        let url = self.expand(&at("url"), &raw.url);
        self.check_url(&at("url"), &url);
        let method = raw.method.unwrap_or_else(|| "GET".into()).to_uppercase();
        const METHODS: [&str; 7] = ["GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"];
        if !METHODS.contains(&method.as_str()) {
            self.fail(
                &at("method"),
                format!("unknown method {method:?} (known: {})", METHODS.join(", ")),
            );
        }
        let mut headers = Vec::new();
        for (name, value) in &raw.headers {
            let path = [
                Seg::Key("panels"),
                Seg::Index(i),
                Seg::Key("probes"),
                Seg::Index(j),
                Seg::Key("headers"),
                Seg::Key(name),
            ];
            if reqwest::header::HeaderName::from_bytes(name.as_bytes()).is_err() {
                self.fail(&path, format!("{name:?} is not a valid header name"));
            }
            let value = self.expand(&path, value);
            if reqwest::header::HeaderValue::from_str(&value).is_err() {
                // The value may be a secret: say what is wrong, never echo it.
                self.fail(&path, "the value holds characters a header cannot carry");
            }
            headers.push((name.clone(), Secret::new(value)));
        }
        let body = raw
            .body
            .as_deref()
            .map(|b| Secret::new(self.expand(&at("body"), b)));
        if let Some(status) = raw.expect_status {
            if !(100..=599).contains(&status) {
                self.fail(
                    &at("expect_status"),
                    "must be an HTTP status from 100 to 599",
                );
            }
        }
        let max_latency = raw
            .max_latency
            .as_deref()
            .map(|t| self.duration(&at("max_latency"), Some(t), secs(1)));
        if max_latency.is_some_and(|d| d.is_zero()) {
            self.fail(&at("max_latency"), "must be longer than zero");
        }
        let mut json = Vec::new();
        for (k, check) in raw.json.into_iter().enumerate() {
            let path = [
                Seg::Key("panels"),
                Seg::Index(i),
                Seg::Key("probes"),
                Seg::Index(j),
                Seg::Key("json"),
                Seg::Index(k),
                Seg::Key("path"),
            ];
            if check.path.trim().is_empty() {
                self.fail(
                    &path,
                    "must name a key, such as \"status\" or \"data.0.id\"",
                );
            }
            let equals = check
                .equals
                .map(|v| serde_json::to_value(v).unwrap_or(serde_json::Value::Null));
            json.push(JsonCheck {
                path: check.path,
                equals,
            });
        }
        ProbeConfig {
            id: raw.id.unwrap_or(j as u64 + 1),
            name: raw.name,
            url: Secret::new(url),
            method,
            headers,
            body,
            expect_status: raw.expect_status,
            max_latency,
            follow_redirects: raw.follow_redirects.unwrap_or(false),
            json,
        }
    }

    /// Names become parts of state keys and mute targets: no slashes, not empty.
    fn check_name(&mut self, path: &[Seg], name: &str) {
        if name.trim().is_empty() {
            self.fail(path, "must not be empty");
        } else if name.contains('/') {
            self.fail(path, format!("{name:?} must not contain '/'"));
        } else if name.trim() != name || name.chars().any(char::is_control) {
            self.fail(
                path,
                format!("{name:?} must not start or end with spaces or hold control characters"),
            );
        }
    }

    fn check_url(&mut self, path: &[Seg], url: &str) {
        match reqwest::Url::parse(url) {
            Ok(u) if matches!(u.scheme(), "http" | "https") => {}
            Ok(u) => self.fail(
                path,
                format!("the scheme {:?} is not http or https", u.scheme()),
            ),
            // The URL may hold a token: say what is wrong, never echo it.
            Err(e) => self.fail(path, format!("not a valid URL ({e})")),
        }
    }

    fn rule(
        &mut self,
        i: usize,
        raw: RawRule,
        panels: &[PanelConfig],
        hooks: &[DestinationConfig],
    ) -> RuleConfig {
        let at = |k| [Seg::Key("rules"), Seg::Index(i), Seg::Key(k)];
        self.check_name(&at("name"), &raw.name);
        let window_text = raw.window.clone().unwrap_or_else(|| "6h".into());
        let window = self.duration(&at("window"), Some(&window_text), secs(6 * 3600));
        if window.is_zero() {
            self.fail(&at("window"), "must be longer than zero");
        }
        let resolve_above = raw.resolve_above.unwrap_or(raw.alert_below);
        if !(0.0..=1.0).contains(&raw.alert_below) {
            self.fail(
                &at("alert_below"),
                "must be a share from 0.0 to 1.0 (0.8 is 80%)",
            );
        }
        if !(0.0..=1.0).contains(&resolve_above) {
            self.fail(&at("resolve_above"), "must be a share from 0.0 to 1.0");
        } else if resolve_above < raw.alert_below {
            self.fail(
                &at("resolve_above"),
                format!(
                    "must be at least alert_below ({}), or the alert could never resolve",
                    raw.alert_below
                ),
            );
        }
        if let Some(names) = &raw.panels {
            for (j, name) in names.iter().enumerate() {
                if !panels.iter().any(|p| &p.name == name) {
                    let path = [
                        Seg::Key("rules"),
                        Seg::Index(i),
                        Seg::Key("panels"),
                        Seg::Index(j),
                    ];
                    self.fail(&path, format!("no panel is named {name:?}"));
                }
            }
        }
        for (j, name) in raw.notify.iter().enumerate() {
            if !hooks.iter().any(|d| &d.name == name) {
                let path = [
                    Seg::Key("rules"),
                    Seg::Index(i),
                    Seg::Key("notify"),
                    Seg::Index(j),
                ];
                self.fail(&path, format!("no webhook is named {name:?}"));
            }
        }
        let services = selectors(raw.services);
        let group_by = match raw.group_by.as_deref() {
            None | Some("service") => GroupBy::Service,
            Some("provider") => GroupBy::Provider,
            Some(other) => {
                self.fail(
                    &at("group_by"),
                    format!("unknown grouping {other:?} (known: \"service\", \"provider\")"),
                );
                GroupBy::Service
            }
        };
        let repeat = raw
            .repeat
            .as_deref()
            .map(|t| self.duration(&at("repeat"), Some(t), secs(3600)));
        if repeat.is_some_and(|r| r.is_zero()) {
            self.fail(
                &at("repeat"),
                "must be longer than zero (leave it out for no reminders)",
            );
        }
        RuleConfig {
            name: raw.name,
            panels: raw.panels,
            services,
            window,
            window_text,
            min_orders: raw.min_orders.unwrap_or(20),
            alert_below: raw.alert_below,
            resolve_above,
            for_: self.duration(&at("for"), raw.for_.as_deref(), Duration::ZERO),
            resolve_for: self.duration(
                &at("resolve_for"),
                raw.resolve_for.as_deref(),
                Duration::ZERO,
            ),
            repeat,
            stuck_pending: self.duration(
                &at("stuck_pending"),
                raw.stuck_pending.as_deref(),
                secs(15 * 60),
            ),
            stuck_running: self.duration(
                &at("stuck_running"),
                raw.stuck_running.as_deref(),
                secs(6 * 3600),
            ),
            notify: raw.notify,
            alert_stuck_above: raw.alert_stuck_above,
            group_by,
        }
    }

    fn destination(&mut self, i: usize, raw: RawDestination) -> DestinationConfig {
        let at = |k| [Seg::Key("webhooks"), Seg::Index(i), Seg::Key(k)];
        self.check_name(&at("name"), &raw.name);
        let kind = match raw.kind.as_str() {
            "slack" => DestinationKind::Slack,
            "discord" => DestinationKind::Discord,
            "telegram" => DestinationKind::Telegram,
            "teams" => DestinationKind::Teams,
            "custom" => DestinationKind::Custom,
            other => {
                self.fail(
                    &at("kind"),
                    format!(
                        "unknown webhook kind {other:?} (known: slack, discord, telegram, \
                         teams, custom)"
                    ),
                );
                DestinationKind::Custom
            }
        };
        let url = match (raw.url.as_deref(), kind) {
            (Some(u), _) => self.expand(&at("url"), u),
            (None, DestinationKind::Telegram) => "https://api.telegram.org".into(),
            (None, _) => {
                self.fail(&at("url"), "is required for this kind of webhook");
                String::new()
            }
        };
        if !url.is_empty() {
            self.check_url(&at("url"), &url);
        }
        let secret = raw.secret.as_deref().map(|s| self.expand(&at("secret"), s));
        let secret_next = raw
            .secret_next
            .as_deref()
            .map(|s| self.expand(&at("secret_next"), s));
        for (key, value) in [("secret", &secret), ("secret_next", &secret_next)] {
            if let Some(value) = value {
                if let Err(e) = crate::delivery::sign::SigningKey::parse(value) {
                    self.fail(&at(key), e.to_string());
                }
            }
        }
        if kind == DestinationKind::Custom && secret.is_none() {
            self.fail(
                &at("secret"),
                "a custom webhook needs a signing secret (whsec_ followed by base64)",
            );
        }
        let signature = match raw.signature.as_deref() {
            None | Some("standard") | Some("standard-webhooks") => SignatureStyle::StandardWebhooks,
            Some("github") => SignatureStyle::Github,
            Some(other) => {
                self.fail(
                    &at("signature"),
                    format!("unknown signature style {other:?} (known: \"standard\", \"github\")"),
                );
                SignatureStyle::StandardWebhooks
            }
        };
        let headers = raw
            .headers
            .iter()
            .map(|(k, v)| {
                let path = [
                    Seg::Key("webhooks"),
                    Seg::Index(i),
                    Seg::Key("headers"),
                    Seg::Key(k),
                ];
                (k.clone(), Secret::new(self.expand(&path, v)))
            })
            .collect();
        let bot_token = raw
            .bot_token
            .as_deref()
            .map(|t| Secret::new(self.expand(&at("bot_token"), t)));
        let chat_id = raw.chat_id.as_ref().map(|v| match v {
            toml::Value::String(s) => s.clone(),
            other => other.to_string(),
        });
        if kind == DestinationKind::Telegram && (bot_token.is_none() || chat_id.is_none()) {
            self.fail(
                &at("kind"),
                "a telegram webhook needs bot_token and chat_id",
            );
        }
        DestinationConfig {
            name: raw.name,
            kind,
            url: Secret::new(url),
            secret: secret.map(Secret::new),
            secret_next: secret_next.map(Secret::new),
            signature,
            events: raw.events.unwrap_or_default(),
            headers,
            bot_token,
            chat_id,
        }
    }
}

fn selectors(raw: Option<Vec<RawSelector>>) -> Vec<ServiceSelector> {
    match raw {
        None => vec![ServiceSelector::Glob("*".into())],
        Some(list) => list
            .into_iter()
            .map(|s| match s {
                RawSelector::Id(id) => ServiceSelector::Id(id),
                RawSelector::Text(t) => match t.trim().parse::<u64>() {
                    Ok(id) => ServiceSelector::Id(id),
                    Err(_) => ServiceSelector::Glob(t),
                },
            })
            .collect(),
    }
}

fn render_path(path: &[Seg]) -> String {
    let mut out = String::new();
    for seg in path {
        match seg {
            Seg::Key(k) => {
                if !out.is_empty() {
                    out.push('.');
                }
                out.push_str(k);
            }
            Seg::Index(i) => out.push_str(&format!("[{i}]")),
        }
    }
    out
}

const NOT_FOR_HTTP: &str = "is not used by kind \"http\": each [[panels.probes]] has its own url";

fn secs(n: u64) -> Duration {
    Duration::from_secs(n)
}

/// 5 s, 1 min, 5 min, 30 min, 2 h, 6 h, 12 h: about 21 hours of retries in all.
pub fn default_retry_schedule() -> Vec<Duration> {
    [5, 60, 300, 1800, 7200, 21_600, 43_200]
        .into_iter()
        .map(Duration::from_secs)
        .collect()
}

/// Parses `500ms`, `30s`, `2m`, `6h`, `7d`, and sums such as `1h30m`.
pub fn parse_duration(text: &str) -> Result<Duration, String> {
    let trimmed = text.trim();
    if trimmed.is_empty() {
        return Err("an empty duration (write e.g. \"30s\", \"5m\", \"6h\")".into());
    }
    let mut total = Duration::ZERO;
    let mut rest = trimmed;
    while !rest.is_empty() {
        let digits = rest
            .find(|c: char| !c.is_ascii_digit())
            .unwrap_or(rest.len());
        if digits == 0 {
            return Err(format!(
                "{text:?} is not a duration (write e.g. \"30s\", \"5m\", \"6h\")"
            ));
        }
        let number: u64 = rest[..digits]
            .parse()
            .map_err(|_| format!("{text:?} has a number that is too large"))?;
        rest = &rest[digits..];
        let unit_len = rest
            .find(|c: char| c.is_ascii_digit())
            .unwrap_or(rest.len());
        let unit = rest[..unit_len].trim();
        rest = rest[unit_len..].trim_start();
        let millis = match unit {
            "ms" => 1,
            "s" => 1_000,
            "m" | "min" => 60_000,
            "h" => 3_600_000,
            "d" => 86_400_000,
            "" => return Err(format!("{text:?} needs a unit (ms, s, m, h or d)")),
            other => {
                return Err(format!(
                    "{text:?} has an unknown unit {other:?} (ms, s, m, h or d)"
                ))
            }
        };
        let part = number
            .checked_mul(millis)
            .ok_or_else(|| format!("{text:?} is too long"))?;
        total += Duration::from_millis(part);
    }
    Ok(total)
}

/// The short form of a duration: `90s` as `1m30s`.
pub fn format_duration(d: Duration) -> String {
    let mut ms = d.as_millis() as u64;
    if ms == 0 {
        return "0s".into();
    }
    let mut out = String::new();
    for (unit, size) in [
        ("d", 86_400_000),
        ("h", 3_600_000),
        ("m", 60_000),
        ("s", 1_000),
        ("ms", 1),
    ] {
        if ms >= size {
            out.push_str(&format!("{}{unit}", ms / size));
            ms %= size;
        }
    }
    out
}

/// Replaces each `${NAME}` with the variable's value; returns the first missing name.
fn expand_env(value: &str, env: &dyn Fn(&str) -> Option<String>) -> Result<String, String> {
    let mut out = String::with_capacity(value.len());
    let mut rest = value;
    while let Some(start) = rest.find("${") {
        out.push_str(&rest[..start]);
        let after = &rest[start + 2..];
        let Some(end) = after.find('}') else {
            out.push_str(&rest[start..]);
            return Ok(out);
        };
        let name = &after[..end];
        match env(name) {
            Some(v) => out.push_str(&v),
            None => return Err(name.to_string()),
        }
        rest = &after[end + 1..];
    }
    out.push_str(rest);
    Ok(out)
}

/// Shell-style matching with `*` (any run) and `?` (one character), case-insensitive.
pub fn glob_match(pattern: &str, text: &str) -> bool {
    let p: Vec<char> = pattern.to_lowercase().chars().collect();
    let t: Vec<char> = text.to_lowercase().chars().collect();
    let (mut pi, mut ti) = (0, 0);
    let mut star: Option<(usize, usize)> = None;
    while ti < t.len() {
        if pi < p.len() && (p[pi] == '?' || p[pi] == t[ti]) {
            pi += 1;
            ti += 1;
        } else if pi < p.len() && p[pi] == '*' {
            star = Some((pi, ti));
            pi += 1;
        } else if let Some((sp, st)) = star {
            pi = sp + 1;
            ti = st + 1;
            star = Some((sp, st + 1));
        } else {
            return false;
        }
    }
    p[pi..].iter().all(|c| *c == '*')
}

#[cfg(test)]
mod tests {
    use super::*;

    const SECRET: &str = "whsec_C2FVsBQIhrscChlQIMV+b5sSYspob7oD";

    fn env(name: &str) -> Option<String> {
        match name {
            "PANEL_ADMIN_KEY" => Some("admin-key-123".into()),
            "SLACK_WEBHOOK_URL" => Some("https://hooks.slack.test/services/T/B/X".into()),
            "PANELWATCH_SECRET" => Some(SECRET.into()),
            _ => None,
        }
    }

    fn parse(text: &str) -> Result<Config, ConfigError> {
        Config::from_toml(text, Path::new("/etc/pw"), &env)
    }

    const EXAMPLE: &str = r#"
[monitor]
state_dir = "state"
timezone = "Europe/Berlin"

[[panels]]
name = "main"
kind = "admin"
url = "https://panel.example/adminapi/v2/"
api_key = "${PANEL_ADMIN_KEY}"
interval = "30s"
timeout = "15s"

[[rules]]
name = "success-rate"
panels = ["main"]
services = ["*", 17]
window = "6h"
min_orders = 20
alert_below = 0.80
resolve_above = 0.85
for = "2m"
notify = ["ops", "backend"]

[[webhooks]]
name = "ops"
kind = "slack"
url = "${SLACK_WEBHOOK_URL}"

[[webhooks]]
name = "backend"
kind = "custom"
url = "https://reseller.example/hooks/panelwatch"
secret = "${PANELWATCH_SECRET}"
"#;

    #[test]
    fn the_issue_example_parses() {
        let config = parse(EXAMPLE).unwrap();
        assert_eq!(config.monitor.state_dir, Path::new("/etc/pw/state"));
        assert_eq!(config.monitor.timezone, chrono_tz::Europe::Berlin);
        let panel = &config.panels[0];
        assert_eq!(panel.api_key.expose(), "admin-key-123");
        assert_eq!(panel.url, "https://panel.example/adminapi/v2");
        let rule = &config.rules[0];
        assert_eq!(rule.window, secs(6 * 3600));
        assert_eq!(rule.for_, secs(120));
        assert_eq!(rule.services[1], ServiceSelector::Id(17));
        assert!(rule.covers_service(99, "anything"));
        assert_eq!(config.webhooks[1].kind, DestinationKind::Custom);
        assert_eq!(config.lookback("main"), secs(6 * 3600));
    }

    #[test]
    fn errors_name_the_key_and_line() {
        let broken = EXAMPLE.replace("resolve_above = 0.85", "resolve_above = 0.5");
        let err = parse(&broken).unwrap_err();
        assert_eq!(err.key, "rules[0].resolve_above");
        assert_eq!(err.line, Some(21));
        assert!(err
            .to_string()
            .starts_with("config:21: rules[0].resolve_above: must be at least"));
    }

    #[test]
    fn a_screen_attaches_without_the_panels_secrets() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("config.toml");
        let text = EXAMPLE.replace("${PANEL_ADMIN_KEY}", "${SURELY_NOT_SET_ANYWHERE}");
        std::fs::write(&path, format!("[ui]\nmax_fps = 2\n{text}")).unwrap();
        assert!(
            Config::load(&path).is_err(),
            "the full config needs the key"
        );
        let (state, fps) = Config::screen_settings(&path).unwrap();
        assert_eq!(state, dir.path().join("state"));
        assert_eq!(fps, 2);
    }

    #[test]
    fn type_errors_name_the_key_in_toml_words() {
        let broken = EXAMPLE.replace("min_orders = 20", "min_orders = \"ten\"");
        let err = parse(&broken).unwrap_err();
        assert_eq!(err.key, "rules[0].min_orders");
        assert_eq!(err.line, Some(19));
        assert!(err.message.contains("expected a whole number"), "{err}");
        let broken = EXAMPLE.replace("interval = \"30s\"", "interval = 30");
        assert_eq!(parse(&broken).unwrap_err().key, "panels[0].interval");
    }

    #[test]
    fn unknown_keys_are_refused_with_their_line() {
        let broken = EXAMPLE.replace("min_orders = 20", "min_order = 20");
        let err = parse(&broken).unwrap_err();
        assert_eq!(err.line, Some(19));
        assert!(err.message.contains("min_order"), "{err}");
    }

    #[test]
    fn missing_variables_are_named_and_values_never_shown() {
        let broken = EXAMPLE.replace("${PANEL_ADMIN_KEY}", "${NOPE}");
        let err = parse(&broken).unwrap_err();
        assert_eq!(err.key, "panels[0].api_key");
        assert!(err.message.contains("NOPE"));
        let config = parse(EXAMPLE).unwrap();
        let debug = format!("{config:?}");
        assert!(!debug.contains("admin-key-123"));
        assert!(!debug.contains("hooks.slack.test"));
        assert!(!debug.contains("C2FVsBQ"));
    }

    #[test]
    fn references_must_exist() {
        let broken = EXAMPLE.replace(
            "notify = [\"ops\", \"backend\"]",
            "notify = [\"ops\", \"nope\"]",
        );
        let err = parse(&broken).unwrap_err();
        assert_eq!(err.key, "rules[0].notify[1]");
        assert!(err.message.contains("nope"));
    }

    #[test]
    fn bad_secrets_and_zones_are_refused() {
        let broken = EXAMPLE.replace("Europe/Berlin", "Mars/Base");
        assert_eq!(parse(&broken).unwrap_err().key, "monitor.timezone");
        let broken = EXAMPLE.replace("secret = \"${PANELWATCH_SECRET}\"", "secret = \"hunter2\"");
        let err = parse(&broken).unwrap_err();
        assert_eq!(err.key, "webhooks[1].secret");
        assert!(!err.to_string().contains("hunter2"));
    }

    #[test]
    fn durations_parse() {
        assert_eq!(parse_duration("30s"), Ok(secs(30)));
        assert_eq!(parse_duration("1h30m"), Ok(secs(5400)));
        assert_eq!(parse_duration("500ms"), Ok(Duration::from_millis(500)));
        assert_eq!(parse_duration("2d"), Ok(secs(172_800)));
        assert!(parse_duration("30").is_err());
        assert!(parse_duration("5 weeks").is_err());
        assert!(parse_duration("").is_err());
        assert_eq!(format_duration(secs(5400)), "1h30m");
    }

    #[test]
    fn globs_match_names() {
        assert!(glob_match("*", "IG Followers"));
        assert!(glob_match("ig *", "IG Followers"));
        assert!(glob_match("*follow*", "IG Followers"));
        assert!(glob_match("?G*", "IG Followers"));
        assert!(!glob_match("tiktok*", "IG Followers"));
        assert!(glob_match("alert.*", "alert.fired"));
        assert!(!glob_match("alert.*", "panel.down"));
    }

    const PROBES: &str = r#"
[[panels]]
name = "storefront"
kind = "http"
interval = "20s"

[[panels.probes]]
name = "home"
url = "https://panel.example/"
max_latency = "2s"

[[panels.probes]]
name = "api"
id = 7
url = "https://panel.example/api/v2?key=${PANEL_ADMIN_KEY}"
method = "post"
expect_status = 200
headers = { Authorization = "Bearer ${PANEL_ADMIN_KEY}" }
body = "action=services"
json = [{ path = "status", equals = "ok" }, { path = "data.0.id" }]

[[rules]]
name = "uptime"
window = "5m"
min_orders = 3
alert_below = 0.5
"#;

    #[test]
    fn http_panels_have_probes() {
        let config = parse(PROBES).unwrap();
        let panel = &config.panels[0];
        assert_eq!(panel.kind, PanelKind::Http);
        let [home, api] = &panel.probes[..] else {
            panic!("two probes")
        };
        assert_eq!((home.id, home.method.as_str()), (1, "GET"));
        assert_eq!(home.max_latency, Some(secs(2)));
        assert_eq!(home.expect_status, None);
        assert_eq!((api.id, api.method.as_str()), (7, "POST"));
        assert!(api.url.expose().ends_with("key=admin-key-123"));
        assert_eq!(api.json[0].equals, Some(serde_json::json!("ok")));
        assert_eq!(api.json[1].equals, None);
        let debug = format!("{config:?}");
        assert!(!debug.contains("admin-key-123") && !debug.contains("panel.example"));
    }

    #[test]
    fn probe_mistakes_name_the_key_and_line() {
        let cases = [
            (
                "method = \"post\"",
                "method = \"BREW\"",
                "panels[0].probes[1].method",
                16,
            ),
            ("id = 7", "id = 1", "panels[0].probes[1].id", 14),
            (
                "max_latency = \"2s\"",
                "max_latency = \"2\"",
                "panels[0].probes[0].max_latency",
                10,
            ),
            (
                "interval = \"20s\"",
                "url = \"http://x\"",
                "panels[0].url",
                5,
            ),
            (
                "{ path = \"data.0.id\" }",
                "{ path = \"\" }",
                "panels[0].probes[1].json[1].path",
                20,
            ),
        ];
        for (from, to, key, line) in cases {
            let err = parse(&PROBES.replace(from, to)).unwrap_err();
            assert_eq!((err.key.as_str(), err.line), (key, Some(line)), "{err}");
        }
        let err = parse(&PROBES.replace("key=${PANEL_ADMIN_KEY}", "key=${NOPE}")).unwrap_err();
        assert!(err.message.contains("NOPE"), "{err}");
        let err = parse(&EXAMPLE.replace("page_size", "x").replace(
            "timeout = \"15s\"\n",
            "timeout = \"15s\"\n[[panels.probes]]\nname = \"x\"\nurl = \"http://a/\"\n",
        ))
        .unwrap_err();
        assert_eq!(err.key, "panels[0].probes", "{err}");
    }

    #[test]
    fn metrics_listen_is_an_address() {
        assert_eq!(parse(EXAMPLE).unwrap().metrics.listen, None);
        let with = format!("[metrics]\nlisten = \"127.0.0.1:9187\"\n{EXAMPLE}");
        let listen = parse(&with).unwrap().metrics.listen.unwrap();
        assert_eq!(listen.to_string(), "127.0.0.1:9187");
        let err = parse(&with.replace(":9187", "")).unwrap_err();
        assert_eq!((err.key.as_str(), err.line), ("metrics.listen", Some(2)));
    }

    #[test]
    fn v2_panels_and_the_intake() {
        let text = r#"
[intake]
listen = "127.0.0.1:8787"
token = "0123456789abcdef0123"

[[panels]]
name = "provider"
kind = "v2"
url = "https://provider.example/api/v2"
api_key = "k"
balance_below = "25.00"
max_requests_per_minute = 60
services_interval = "2h"
watch_services = [1, 2]
degraded_below = 0.9
inbound_secret = "whsec_C2FVsBQIhrscChlQIMV+b5sSYspob7oD"
"#;
        let config = parse(text).unwrap();
        let panel = &config.panels[0];
        assert_eq!(panel.kind, PanelKind::V2);
        let source = &panel.source;
        assert_eq!(source.balance_below.unwrap().to_string(), "25.00");
        assert_eq!(source.services_interval, secs(7200));
        assert_eq!(source.watch_services, [1, 2]);
        assert!(matches!(source.inbound, Some(InboundAuth::Standard(_))));
        let intake = config.intake.as_ref().unwrap();
        assert_eq!(intake.listen.port(), 8787);
        assert!(!format!("{config:?}").contains("0123456789abcdef0123"));

        let cases = [
            ("balance_below = 25.5", "panels[0].balance_below", 11),
            ("degraded_below = 9.0", "panels[0].degraded_below", 11),
            (
                "inbound_hmac_header = \"X-Sig\"",
                "panels[0].inbound_hmac_header",
                11,
            ),
            (
                "max_requests_per_minute = 0",
                "panels[0].max_requests_per_minute",
                11,
            ),
        ];
        for (line, key, at) in cases {
            let text = format!(
                "[intake]\nlisten = \"127.0.0.1:1\"\ntoken = \"0123456789abcdef\"\n\n\
                 [[panels]]\nname = \"p\"\nkind = \"v2\"\nurl = \"http://127.0.0.1:1\"\n\
                 api_key = \"k\"\ninterval = \"1m\"\n{line}\n"
            );
            let err = parse(&text).unwrap_err();
            assert_eq!(err.key, key, "{line}: {err}");
            assert_eq!(err.line, Some(at), "{line}: {err}");
        }
        let public = text.replace("127.0.0.1:8787", "0.0.0.0:8787");
        let err = parse(&public).unwrap_err();
        assert_eq!((err.key.as_str(), err.line), ("intake.listen", Some(3)));
        let admin = EXAMPLE.replace(
            "timeout = \"15s\"",
            "timeout = \"15s\"\nbalance_below = \"5\"",
        );
        let err = parse(&admin).unwrap_err();
        assert_eq!(err.key, "panels[0].balance_below");
    }

    #[test]
    fn reminders_shorter_than_a_poll_warn() {
        let config =
            parse(&EXAMPLE.replace("for = \"2m\"", "for = \"2m\"\nrepeat = \"10s\"")).unwrap();
        assert!(config.warnings().iter().any(|w| w.contains("repeat")));
    }
}
