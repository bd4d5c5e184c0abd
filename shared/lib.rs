//! `bridge`: the library behind nexus-bridge, which connects the Qargo TMS to the PALL-EX and
//! Fortec pallet networks on Nexus. All logic lives here; the Lambda functions in `functions/` only
//! parse their trigger, build ports from [`config`], call a job and map its outcome.

#![warn(missing_docs)]

pub mod api;
pub mod aws;
pub mod capabilities;
pub mod clock;
pub mod config;
pub mod domain;
pub mod error;
pub mod http;
pub mod jobs;
pub mod lambda;
pub mod nexus;
#[cfg(feature = "ops")]
pub mod ops;
pub mod pacing;
pub mod qargo;
pub mod routing;
pub mod rules;
pub mod store;
pub mod telemetry;
pub mod visibility;
pub mod wiring;

#[cfg(test)]
mod hostile_input_tests;
