//! Delivery: getting recorded events to destinations, signed, retried, never lost.

pub mod sign;
