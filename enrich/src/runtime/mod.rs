//! Container metadata from the container runtime.
//!
//! - [`docker`]: the Docker Engine API's inspect over a unix socket (docker, and podman's
//!   `podman system service`), with [`http`] a minimal HTTP/1.1 client and [`image`] the
//!   image-reference and time parsing.
//! - [`events`]: the runtime's event stream: containers inspected when they are created,
//!   before their first process runs.
//! - [`meta`]: [`ContainerMeta`], owned by the enrichment thread: an `lru` cache of what is
//!   known per container, lookups handed to worker threads that publish their answers into a
//!   shared `dashmap`, failures cached negatively and retried after an interval.
//!
//! The CRI API (containerd, CRI-O: gRPC) is not implemented: containers of those runtimes
//! get their id (from the cgroup) and type, and no other metadata; each such lookup is
//! counted as `unsupported`.

pub mod docker;
pub mod events;
pub mod http;
pub mod image;
pub mod meta;

pub use meta::{ContainerMeta, Lookup, MetaStats};

use std::path::PathBuf;
use std::time::Duration;

/// What went wrong talking to a runtime, and where.
#[derive(Debug, thiserror::Error)]
pub enum RuntimeError {
    /// The socket could not be connected to (absent, refused, permission).
    #[error("connecting to {socket}: {source}", socket = socket.display())]
    Connect {
        socket: PathBuf,
        #[source]
        source: std::io::Error,
    },
    /// Reading or writing the socket failed.
    #[error("{what} on {socket} ({path}): {source}", socket = socket.display())]
    Io {
        socket: PathBuf,
        path: String,
        what: &'static str,
        #[source]
        source: std::io::Error,
    },
    /// The runtime did not answer in time.
    #[error("{socket} did not answer {path} within {timeout:?}", socket = socket.display())]
    Timeout {
        socket: PathBuf,
        path: String,
        timeout: Duration,
    },
    /// The answer was not HTTP as expected.
    #[error("malformed answer from {socket} to {path}: {what}", socket = socket.display())]
    Malformed {
        socket: PathBuf,
        path: String,
        what: &'static str,
    },
    /// An HTTP status other than 200 or 404.
    #[error("{socket} answered {path} with status {status}", socket = socket.display())]
    Status {
        socket: PathBuf,
        path: String,
        status: u16,
    },
    /// The body was not the JSON expected.
    #[error("unexpected JSON from {socket} for {path}: {source}", socket = socket.display())]
    Json {
        socket: PathBuf,
        path: String,
        #[source]
        source: serde_json::Error,
    },
}

impl RuntimeError {
    /// A short label for counters: `connect`, `io`, `timeout`, `malformed`, `status`, `json`.
    pub fn kind(&self) -> &'static str {
        match self {
            RuntimeError::Connect { .. } => "connect",
            RuntimeError::Io { .. } => "io",
            RuntimeError::Timeout { .. } => "timeout",
            RuntimeError::Malformed { .. } => "malformed",
            RuntimeError::Status { .. } => "status",
            RuntimeError::Json { .. } => "json",
        }
    }
}
