//! Sources beyond the admin API: the user API v2 poller, tracked orders and their CSV
//! import, and the intake endpoint (orders from a reseller's backend, panels' own webhooks).
//!
//! ```text
//!  panelwatch track / CSV ──┐
//!  POST /orders (bearer) ───┼──► store.tracked_orders ◄── v2 poller (status, chunks of 100)
//!  POST /inbound/<panel> ───► store.inbound_events ──► applier ──┘        │
//!     (signed, stored before 2xx, de-duplicated by id)                     ▼
//!                                                              PanelReport ──► engine
//! ```
//!
//! Everything that reaches the statistics goes through `tracked_orders`: an inbound webhook
//! about an order updates the same row a poll would, and the next report carries it. Nothing
//! here decides alerts; that stays with the engine.

pub mod csv;
pub mod inbound;
pub mod intake;
pub mod poller;
