//! Peregrine's outputs: Falcosidekick's job inside the agent.
//!
//! ```text
//! rule shards ─Vec<Alert>─▶ Outputs::offer ─(never waits)─┬▶ Buffer[stdout] ─▶ actor thread ─▶ stdout
//! sidekick input (POST /) ───────────────────────────────┼▶ Buffer[loki]   ─▶ actor thread ─▶ Loki push API
//!                                                         └▶ …              (batch, timeout, retry + backoff)
//! ```
//!
//! Each destination is self-contained: its own bounded buffer (queued and retrying alerts
//! together) with a `drop_oldest`/`drop_newest` policy, its minimum priority and optional
//! dedup window applied on the way in, its own thread running a single-threaded async
//! runtime (the "output actor"), and its own counters (`received = filtered + deduplicated +
//! sent + dropped + pending`), exported as `falco_outputs_total{destination,status}` and
//! `peregrine_output_*{destination}`.

mod buffer;
mod build;
pub mod client;
mod dedup;
pub mod dest;
mod dispatch;
pub mod endpoint;
mod error;
pub mod input;
pub mod record;
mod worker;

pub use buffer::{DestinationSnapshot, DropReason};
pub use build::{from_config, line_format};
pub use dedup::MAX_KEYS as DEDUP_MAX_KEYS;
pub use dispatch::{Outputs, OutputsBuilder};
pub use error::OutputError;
pub use record::Record;
pub use worker::{backoff_delay, Deliver, DeliveryError, Factory};
