//! Entry points for the fuzz targets in `fuzz/` and for the tests that replay their corpus.
//!
//! Each function takes arbitrary bytes, feeds them to one decoder or parser, and checks the
//! promises that hold whatever the input: no panic, a classified error rather than a crash,
//! and no secret in what an operator would see. The fuzz targets are thin wrappers around
//! these, so `cargo test` (tests/fuzz_corpus.rs) replays every kept input on stable Rust.

use std::path::Path;

use crate::domain::OrderId;
use crate::panel::{decode, decode_v2, PanelError};

/// HTTP statuses the decoders are exercised with; the first input byte picks one.
const STATUSES: [u16; 12] = [200, 200, 200, 201, 301, 400, 401, 403, 429, 500, 502, 503];

/// Content types the decoders are exercised with; the second input byte picks one.
const TYPES: [Option<&str>; 4] = [
    None,
    Some("application/json"),
    Some("text/plain; charset=utf-8"),
    Some("text/html"),
];

/// The key the redaction checks look for; it is planted in some inputs by the corpus.
const KEY: &str = "fuzz-secret-key";

fn split(data: &[u8]) -> (u16, Option<&'static str>, &[u8]) {
    match data {
        [s, t, body @ ..] => (
            STATUSES[usize::from(*s) % STATUSES.len()],
            TYPES[usize::from(*t) % TYPES.len()],
            body,
        ),
        _ => (200, None, data),
    }
}

fn redacted(err: decode::DecodeError) {
    let shown = PanelError::from_decode("p", err, KEY).to_string();
    assert!(!shown.contains(KEY), "the key leaked: {shown}");
}

/// The admin API orders page decoder.
pub fn admin_orders(data: &[u8]) {
    let (status, content_type, body) = split(data);
    if let Err(e) = decode::admin_orders_page(status, content_type, body) {
        redacted(e);
    }
}

/// The user API v2 balance decoder.
pub fn v2_balance(data: &[u8]) {
    let (status, content_type, body) = split(data);
    if let Err(e) = decode_v2::v2_balance(status, content_type, body) {
        redacted(e);
    }
}

/// The user API v2 multi-status decoder, asked for a few ids.
pub fn v2_status(data: &[u8]) {
    let (status, content_type, body) = split(data);
    let asked = [OrderId(1), OrderId(2), OrderId(23501)];
    let one = &asked[..1];
    match decode_v2::v2_status_multi(status, content_type, body, &asked) {
        Ok(batch) => {
            let answered = batch.items.len() + batch.errors.len();
            assert!(answered <= body.len(), "more answers than bytes");
        }
        Err(e) => redacted(e),
    }
    let _ = decode_v2::v2_status_multi(status, content_type, body, one);
    let _ = decode_v2::v2_status_single(status, content_type, body, OrderId(1));
}

/// The user API v2 services decoder.
pub fn v2_services(data: &[u8]) {
    let (status, content_type, body) = split(data);
    if let Err(e) = decode_v2::v2_services(status, content_type, body) {
        redacted(e);
    }
}

/// The inbound webhook payload reader, and both verifiers.
pub fn inbound(data: &[u8]) {
    use crate::config::{InboundAuth, Secret};
    let _ = crate::source::inbound::decode(data);
    let text = String::from_utf8_lossy(data);
    let mut lines = text.lines();
    let first = lines.next().unwrap_or("").to_string();
    let header = move |name: &str| match name {
        "webhook-id" => Some("msg_1".to_string()),
        "webhook-timestamp" => Some("1700000000".to_string()),
        _ => Some(first.clone()),
    };
    let tolerance = std::time::Duration::from_secs(300);
    let auths = [
        InboundAuth::Standard(Secret::new("whsec_C2FVsBQIhrscChlQIMV+b5sSYspob7oD")),
        InboundAuth::Hmac {
            header: "x-signature".into(),
            secret: Secret::new("0123456789abcdef"),
        },
    ];
    for auth in &auths {
        let _ = crate::source::inbound::verify(auth, &header, data, 1_700_000_000, tolerance);
    }
}

/// The tracked orders CSV reader.
pub fn csv(data: &[u8]) {
    let text = String::from_utf8_lossy(data);
    if let Err(e) = crate::source::csv::parse(&text) {
        assert!(e.line >= 1 && e.line <= text.lines().count().max(1), "{e}");
    }
}

/// The config parser and validator; a planted secret never shows in its errors.
pub fn config(data: &[u8]) {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let env = |name: &str| (name == "FUZZ_KEY").then(|| KEY.to_string());
    match crate::config::Config::from_toml(text, Path::new("/fuzz"), &env) {
        Ok(config) => {
            let shown = format!("{config:?}");
            assert!(!shown.contains(KEY), "a secret in Debug: {shown}");
            let _ = config.warnings();
        }
        Err(e) => {
            let shown = e.to_string();
            if !text.contains(KEY) {
                assert!(!shown.contains(KEY), "a secret in an error: {shown}");
            }
        }
    }
}

/// One fuzz entry point.
pub type Target = fn(&[u8]);

/// Every target by name, for the replay test.
pub const TARGETS: [(&str, Target); 7] = [
    ("admin_orders", admin_orders),
    ("v2_balance", v2_balance),
    ("v2_status", v2_status),
    ("v2_services", v2_services),
    ("inbound", inbound),
    ("csv", csv),
    ("config", config),
];
