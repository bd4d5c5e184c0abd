//! The Qargo API: wire types (`wire`) and the client (`client`).

pub mod client;
pub mod dispatch_booking;
pub mod dispatch_webhook;
pub mod error;
pub mod inbound_order;
pub mod order_update;
pub mod wire;

pub use crate::pacing::Pacer;
pub use client::QargoClient;
pub use error::QargoError;
