//! Peregrine's pipeline: sources → enrichment → sharded rule evaluation → outputs, with
//! bounded queues, overflow policies and counters on every edge; the supervisor (actix)
//! around it for metrics, reload and shutdown; and the `peregrine` command line.

pub mod capture;
pub mod detection;
pub mod file_trust;
pub mod health;
pub mod hostinfo;
pub mod kernel_drops;
pub mod pipeline;
pub mod queue;
pub mod rules_handle;
pub mod source;
pub mod stage;
pub mod stats;

pub use pipeline::{Pipeline, PipelineSettings, QueueSettings};
pub mod cli;
pub mod http;
pub mod privileges;
pub mod rules_load;
pub mod run;
pub mod supervisor;
pub mod telemetry;
