//! Delivery: getting recorded events to destinations, signed, retried, never lost.
//!
//! `format` renders an event for each kind of destination, `sign` signs what is sent,
//! `attempt` sends one delivery once, `classify` reads the answer, `schedule` says when to
//! try again, and `dispatch` runs one worker per destination over the outbox in the store.

pub mod attempt;
pub mod classify;
pub mod dispatch;
pub mod format;
pub mod schedule;
pub mod sign;

pub use classify::Verdict;
pub use dispatch::{
    delivery_view, destinations_for, enable_destination, send_test, DeliveryError, DeliveryWaker,
    Dispatcher, DispatcherHandle, TestOutcome,
};
