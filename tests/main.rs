//! One test binary for the workspace's cross-cutting tests (one link instead of many).

mod architecture;
mod demo;
mod dispatch;
mod eta_export;
mod fault_suite;
mod hostile_corpus;
mod nexus_check;
mod nexus_client;
mod nexus_dialects;
mod ops;
mod order_import;
mod pod_sync;
mod qargo_client;
mod secrets;
mod spec_bodies;
mod status_export;
mod status_sync;
mod storage;
mod tenant_check;
mod wiring;
