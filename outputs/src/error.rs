//! Errors of setting destinations up. Delivery failures are not errors of this kind: they
//! are retried, counted and logged by each destination (see [`crate::DeliveryError`]).

use std::path::PathBuf;

#[derive(Debug, thiserror::Error)]
pub enum OutputError {
    #[error("two destinations are called {0}")]
    Duplicate(String),
    #[error("cannot start the thread of destination {name}: {source}")]
    Thread {
        name: String,
        source: std::io::Error,
    },
    #[error("destination {destination}: cannot read {what} {}: {source}", path.display())]
    ReadFile {
        destination: String,
        what: &'static str,
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("destination {destination}: {what} {}: {reason}", path.display())]
    BadFile {
        destination: String,
        what: &'static str,
        path: PathBuf,
        reason: String,
    },
    #[error("destination {destination}: {reason}")]
    Invalid { destination: String, reason: String },
    #[error("cannot open {}: {source}", path.display())]
    Open {
        path: PathBuf,
        source: std::io::Error,
    },
}
