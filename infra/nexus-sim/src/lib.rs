//! # nexus-sim — a simulator of the Nexus REST API (PALL-EX / Fortec)
//!
//! The real Nexus specification is private; this crate implements the model of
//! `research/nexus-api.md` §3 over HTTP so the bridge can be developed and tested against it. Names
//! the research marks as *seen* (paths such as `Account/login`, `Consignments`, the lookups; the
//! fields `bearerToken`, `refreshToken`, `consignmentID`, `consignmentNumber`, `status{id,name}`,
//! `estimatedDelDate`, `routeDetails`, …; the create payload of §1.6) are kept exactly. Where §3
//! designs something it is implemented as designed. Where the simulator had to invent more, the
//! module that does it says so in its docs; the list is gathered in the crate README
//! ("Inventions beyond §3").
//!
//! Start one in-process, on a free port:
//!
//! ```no_run
//! # async fn demo() -> Result<(), nexus_sim::SimError> {
//! use nexus_sim::{NexusSim, SimOptions, Stage};
//! let sim = NexusSim::start(SimOptions::default()).await?;
//! let base = sim.base_url(); // http://127.0.0.1:PORT/v1/
//! sim.handle().advance(std::time::Duration::from_secs(6 * 3600)); // the lifecycle driver runs
//! sim.handle().step(10001, Stage::Delivered)?;
//! sim.shutdown().await;
//! # Ok(()) }
//! ```
//!
//! Modules:
//! - [`Profile`] — `Full` (default: today's model) or `Seen` (only what public code shows of Nexus);
//! - [`handle`] — the clock, lifecycle driver, faults and request counts ([`SimHandle`]);
//! - `api` — the `/v1/` routes and the `/_sim/` admin routes ([`ADMIN_ENDPOINTS`]);
//! - `booking` — create-request binding and validation (§3.4);
//! - `lifecycle` — the scans of §3.5 along the lifecycle of §3.8, cancel, ETA;
//! - `auth` — login, refresh, expiring bearer tokens;
//! - `faults` — outage, latency, rate limit, mangled bodies, request counts;
//! - `reference`, `postcode`, `calendar`, `clock` — lookup tables, postcode gazetteer, working days,
//!   UK local time;
//! - `labels`, `evidence`, `pdf` — PDF/ZPL labels, signature PNGs, photo JPEGs, POD PDFs;
//! - `seed` — seed files and the default world.

#![warn(missing_docs)]
// The consignment read model is one large `json!` literal.
#![recursion_limit = "256"]

mod api;
mod auth;
mod booking;
mod calendar;
mod clock;
mod error;
mod evidence;
mod faults;
pub mod handle;
mod labels;
mod lifecycle;
mod pdf;
mod postcode;
mod problem;
mod profile;
mod random;
mod reference;
mod seed;
mod server;
mod world;

pub use api::admin::ADMIN_ENDPOINTS;
pub use error::SimError;
pub use faults::{FaultSettings, FaultSwitch, RequestCount, RequestCounts};
pub use handle::{SimHandle, Stage};
pub use profile::{Profile, SEEN_MAX_LIMIT};
pub use seed::WorldSeed;
pub use server::{NexusSim, RunningSim, SimOptions};

/// The header `PUT /v1/consignments/{id}/eta` reads the Optimize key from (invented name).
pub const OPTIMIZE_KEY_HEADER: &str = "X-Optimize-Key";
