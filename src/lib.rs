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
//! `sim` holds the simulated panel and webhook receiver that the demo and the tests run
//! against. The engine never imports the terminal code.

pub mod config;
pub mod delivery;
pub mod demo;
pub mod domain;
pub mod engine;
pub mod event;
pub mod history;
pub mod panel;
pub mod quiet;
pub mod rules;
pub mod runtime;
pub mod sim;
pub mod snapshot;
pub mod stats;
pub mod store;
pub mod tui;
