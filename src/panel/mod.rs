//! Panel clients: reading orders from SMM panels, and the one error type their failures share.
//!
//! [`decode`] turns what a panel answered (status, content type, body) into orders or a
//! classified failure, with no I/O; [`admin`] does the HTTP calls against the admin API v2 and
//! pages through the answers. Neither computes success rates nor decides what is an alert: the
//! engine reads the orders and the [`PanelError`]s and decides.
//!
//! A [`PanelError`] is what an operator sees when a panel cannot be read. It never holds the
//! API key: bodies are excerpted with the key redacted, and reqwest errors are described
//! without their URL.

pub mod admin;
pub mod decode;
pub mod decode_v2;
pub mod pace;
pub mod probe;
pub mod v2;

use std::fmt;
use std::time::Duration;

pub use admin::{AdminClient, FetchedOrders};
pub use decode::{DecodeError, OrdersPage};

/// The longest body excerpt an error shows, in characters.
pub const EXCERPT_CHARS: usize = 200;

/// A panel could not be read: which panel, what kind of failure, and what it answered.
#[derive(Clone, Debug, PartialEq, thiserror::Error)]
#[error("panel {panel:?}: {kind}{}", context(*.status, .detail))]
pub struct PanelError {
    /// The configured panel name.
    pub panel: String,
    pub kind: PanelErrorKind,
    /// The HTTP status, when the panel answered at all.
    pub status: Option<u16>,
    /// A short single-line description with an excerpt of what the panel sent, such as
    /// `HTML body: "<html>…"`; the API key is redacted from it.
    pub detail: String,
}

fn context(status: Option<u16>, detail: &str) -> String {
    match (status, detail.is_empty()) {
        (None, true) => String::new(),
        (None, false) => format!(" ({detail})"),
        (Some(s), true) => format!(" (HTTP {s})"),
        (Some(s), false) => format!(" (HTTP {s}, {detail})"),
    }
}

impl PanelError {
    pub fn new(panel: impl Into<String>, kind: PanelErrorKind) -> PanelError {
        PanelError {
            panel: panel.into(),
            kind,
            status: None,
            detail: String::new(),
        }
    }

    /// Turns a decoder's verdict into a panel error, redacting `secret` from the excerpt.
    pub fn from_decode(panel: impl Into<String>, err: DecodeError, secret: &str) -> PanelError {
        PanelError {
            panel: panel.into(),
            detail: err.detail(secret),
            kind: err.kind,
            status: Some(err.status),
        }
    }

    /// Whether waiting and asking again may help (rate limits, timeouts, proxies in trouble).
    pub fn is_transient(&self) -> bool {
        matches!(
            self.kind,
            PanelErrorKind::RateLimited { .. }
                | PanelErrorKind::Timeout
                | PanelErrorKind::Network
                | PanelErrorKind::BadBody
        )
    }
}

/// What went wrong, in the classes an operator acts on differently.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum PanelErrorKind {
    /// The key was refused (401/403 with a JSON error, or an error text about the key).
    Auth,
    /// The panel asks us to slow down; `retry_after` when it said how long.
    RateLimited { retry_after: Option<Duration> },
    /// A WAF or CDN challenge page stands between us and the panel.
    Blocked,
    /// The answer was not a usable JSON document: a proxy page, empty, or the wrong shape.
    BadBody,
    /// No complete answer within the configured timeout.
    Timeout,
    /// The panel could not be reached (DNS, connection, TLS).
    Network,
    /// HTTP 200 with a non-zero `error_code` or an `error` text.
    Api { code: i64 },
    /// Any other HTTP status, redirects included (they are never followed).
    Http { status: u16 },
}

impl fmt::Display for PanelErrorKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            PanelErrorKind::Auth => f.write_str("the API key was refused"),
            PanelErrorKind::RateLimited { retry_after: None } => f.write_str("rate limited"),
            // Polling waits an hour at most, whatever a panel announces; so does the message.
            PanelErrorKind::RateLimited {
                retry_after: Some(d),
            } if *d > std::time::Duration::from_secs(3600) => {
                f.write_str("rate limited, retry after more than an hour (waiting 1h)")
            }
            PanelErrorKind::RateLimited {
                retry_after: Some(d),
            } => write!(
                f,
                "rate limited, retry after {}",
                crate::config::format_duration(*d)
            ),
            PanelErrorKind::Blocked => f.write_str("blocked by a WAF or CDN challenge"),
            PanelErrorKind::BadBody => f.write_str("answered with an unusable body"),
            PanelErrorKind::Timeout => f.write_str("timed out"),
            PanelErrorKind::Network => f.write_str("could not be reached"),
            PanelErrorKind::Api { code } => write!(f, "answered with error code {code}"),
            PanelErrorKind::Http { .. } => f.write_str("answered with an unexpected status"),
        }
    }
}

/// A single-line excerpt of `text`: whitespace runs folded to one space, `secret` replaced by
/// `***` (before cutting, so no part of it survives), at most [`EXCERPT_CHARS`] characters.
pub fn excerpt(text: &str, secret: &str) -> String {
    let redacted = redact(text, secret);
    let folded = redacted.split_whitespace().collect::<Vec<_>>().join(" ");
    let mut chars = folded.chars();
    let mut out: String = chars.by_ref().take(EXCERPT_CHARS).collect();
    if chars.next().is_some() {
        out.push('…');
    }
    out
}

/// Fragments of a secret this long or longer are masked too.
const FRAGMENT: usize = 6;

/// `text` with `secret` masked as `***`: the whole secret, and also any run of [`FRAGMENT`] or
/// more of its characters, since panels and receivers echo keys shortened ("Invalid key
/// SEKRETKEY_ZZ9...") or split. A secret shorter than the fragment is masked only whole.
pub fn redact(text: &str, secret: &str) -> String {
    if secret.is_empty() {
        return text.to_string();
    }
    let chars: Vec<char> = secret.chars().collect();
    if chars.len() < FRAGMENT {
        return text.replace(secret, "***");
    }
    // Mark every byte of the text covered by some fragment of the secret, then mask each
    // marked run once.
    let mut marked = vec![false; text.len()];
    for window in chars.windows(FRAGMENT) {
        let fragment: String = window.iter().collect();
        for (at, found) in text.match_indices(&fragment) {
            marked[at..at + found.len()]
                .iter_mut()
                .for_each(|m| *m = true);
        }
    }
    let mut out = String::with_capacity(text.len());
    let mut in_run = false;
    for (at, c) in text.char_indices() {
        if marked[at] {
            if !in_run {
                out.push_str("***");
            }
            in_run = true;
        } else {
            out.push(c);
            in_run = false;
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shortened_and_split_echoes_of_a_key_are_masked() {
        let key = "SEKRETKEY_ZZ9PLURALZALPHA";
        assert_eq!(
            redact("Invalid key SEKRETKEY_ZZ9PLURA...", key),
            "Invalid key ***..."
        );
        let split = redact("key SEKRETKEY_-ZZ9PLURALZALPHA refused", key);
        assert!(
            !split.contains("SEKRET") && !split.contains("PLURAL"),
            "{split}"
        );
        assert_eq!(redact("nothing here", key), "nothing here");
        assert_eq!(redact("pin 1234 used", "1234"), "pin *** used");
        assert_eq!(redact("ключ ZZ9PLURAL", key), "ключ ***");
    }

    #[test]
    fn display_names_the_panel_the_kind_and_the_body() {
        let err = PanelError {
            panel: "main".into(),
            kind: PanelErrorKind::Blocked,
            status: Some(403),
            detail: "HTML body: \"<html>\"".into(),
        };
        assert_eq!(
            err.to_string(),
            "panel \"main\": blocked by a WAF or CDN challenge (HTTP 403, HTML body: \"<html>\")"
        );
        let err = PanelError::new("b", PanelErrorKind::Timeout);
        assert_eq!(err.to_string(), "panel \"b\": timed out");
        let kind = PanelErrorKind::RateLimited {
            retry_after: Some(Duration::from_secs(90)),
        };
        assert_eq!(kind.to_string(), "rate limited, retry after 1m30s");
    }

    #[test]
    fn excerpts_are_short_single_line_and_redacted() {
        let text = format!("line one\n\n  key=s3cr3t-key {}", "x".repeat(500));
        let out = excerpt(&text, "s3cr3t-key");
        assert!(out.starts_with("line one key=*** xxx"), "{out}");
        assert!(!out.contains("s3cr3t"));
        assert_eq!(out.chars().count(), EXCERPT_CHARS + 1);
        assert!(out.ends_with('…'));
        assert_eq!(excerpt("short", ""), "short");
    }
}
