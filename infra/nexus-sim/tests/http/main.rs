//! The simulator over real HTTP: one test binary, a fresh simulator per test.

mod account;
mod admin;
mod attachments;
mod booking;
mod eta;
mod events;
mod faults;
mod labels;
mod lifecycle;
mod listing;
mod lookups;
mod seen;
mod support;
