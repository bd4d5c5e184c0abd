//! The five use cases, independent of Lambda: each takes the ports it needs and returns a report.

pub mod dispatch;
pub mod dispatch_plan;
pub mod eta_export;
pub mod lookup;
pub mod order_import;
pub mod pod_sync;
pub mod seen_listing;
pub mod status_export;
pub mod status_sync;
