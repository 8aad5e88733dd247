//! panelwatch watches SMM panel services and tells people when they fail.
//!
//! The data flows one way:
//!
//! ```text
//!  config.toml ──► config ──────────────────────────────────────────────┐
//!                                                                       ▼
//!  panel APIs ──► panel (clients, decoders) ──► stats ──► rules ──► engine ──► snapshot ──► tui
//!                                                                       │
//!                                                                       ▼
//!                                     store (events, alert states, outbox in SQLite)
//!                                                                       │
//!                                                                       ▼
//!                             delivery (dispatcher, formats, signing) ──► destinations
//! ```
//!
//! A headless monitor also serves its snapshots on a Unix socket (`attach`), so that
//! `panelwatch tui` screens can come and go.
//!
//! `source` feeds the engine from user API v2 panels (balance, tracked orders, catalogue) and
//! runs the intake endpoint (tracked orders from a backend, panels' own signed webhooks).
//! `sim` holds the simulated panel and webhook receiver that the demo and the tests run
//! against. The engine never imports the terminal code.

#[cfg(unix)]
pub mod attach;
pub mod cli;
pub mod config;
pub mod delivery;
pub mod demo;
pub mod domain;
pub mod engine;
pub mod event;
#[doc(hidden)]
pub mod fuzzing;
pub mod history;
pub mod init;
pub mod metrics;
pub mod panel;
pub mod quiet;
pub mod rules;
pub mod runtime;
pub mod sim;
pub mod snapshot;
pub mod source;
pub mod stats;
pub mod store;
pub mod tui;
