//! seam-runtime: executes a compiled [`seam_compiler::Plan`] — webhooks in, the linked records
//! kept in lock-step, every write audited, every failure retried or dead-lettered.
//!
//! The data flow of one change: [`ingest`] verifies, decodes and commits the event to the
//! [`store`] before answering 2xx; the [`engine`] claims it, reads the source record, computes
//! the replica values through the Plan and writes only the difference through the
//! [`connectors`]; then the [`workflow`]s that watch the record run, durably, each step once.
//! The runtime never parses `.seam` text: it is handed a Plan.

pub mod app;
pub mod connectors;
pub mod engine;
pub mod ingest;
pub mod metrics;
pub mod pairs;
pub mod reconcile;
pub mod retention;
pub mod store;
pub mod workflow;

pub use app::{start, Running, RuntimeConfig};
