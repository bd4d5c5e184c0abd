//! The rules of the domain (DESIGN.md §2), as pure functions over domain types: what may be
//! dispatched and when, and what a scan or an ETA means for Qargo.

pub mod calendar;
pub mod cutoff;
pub mod dispatch;
pub mod eta;
pub mod status_effects;
