//! Simulated counterparts of the outside world, for the demo and the tests.
//!
//! [`panel`] serves the admin API v2 (and, through [`user_api`], the user API v2) on loopback with scripted or flowing orders, seeded drift
//! and injectable faults; [`flow`] is its live order flow with a service that degrades and
//! recovers. Nothing here is used when panelwatch watches real panels, and nothing here ever
//! listens on anything but `127.0.0.1`.

pub mod flow;
pub mod panel;
pub mod user_api;

pub use flow::{FlowOptions, FlowService};
pub use panel::{Fault, SimOptions, SimOrder, SimPanel, SimService};
