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
//! - [`cri`]: the CRI API (containerd, CRI-O): `ContainerStatus` over gRPC on a unix socket.
//!
//! A container goes to the API its cgroup names (docker, podman → Docker API; containerd,
//! CRI-O → CRI); one whose runtime the cgroup does not tell is asked of both.

pub mod cri;
pub mod docker;
pub mod events;
pub mod http;
pub mod image;
pub mod meta;

pub use meta::{ApiStats, ContainerMeta, Lookup, MetaStats};

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
    /// A gRPC call could not be made: connecting, or the HTTP/2 connection failed.
    #[error("{method} on {socket}: {source}", socket = socket.display())]
    Transport {
        socket: PathBuf,
        method: &'static str,
        #[source]
        source: tonic::transport::Error,
    },
    /// The runtime answered a gRPC call with an error status.
    #[error("{socket} answered {method} {target} with {code:?}: {message}", socket = socket.display())]
    Grpc {
        socket: PathBuf,
        method: &'static str,
        target: String,
        code: tonic::Code,
        message: String,
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
    /// A short label for counters and logs: `connect`, `io`, `timeout`, `malformed`,
    /// `status`, `json`, `transport`, `grpc`.
    pub fn kind(&self) -> &'static str {
        match self {
            RuntimeError::Connect { .. } => "connect",
            RuntimeError::Io { .. } => "io",
            RuntimeError::Timeout { .. } => "timeout",
            RuntimeError::Malformed { .. } => "malformed",
            RuntimeError::Status { .. } => "status",
            RuntimeError::Json { .. } => "json",
            RuntimeError::Transport { .. } => "transport",
            RuntimeError::Grpc { .. } => "grpc",
        }
    }
}
