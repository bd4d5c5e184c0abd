//! The Qargo simulator's tests, in one binary: validation, stop matching, limits, documents,
//! webhook sending and the admin views.

mod admin;
mod auth;
mod documents;
mod limits;
mod outbound;
mod partial_update;
mod status;
mod support;
mod upload;
