//! The Qargo simulator's tests, in one binary: validation, stop matching, limits, documents,
//! webhook sending and the admin views.

mod admin;
mod auth;
mod documents;
mod limits;
mod order_webhook;
mod outbound;
mod partial_update;
mod spec;
mod status;
mod support;
mod upload;
