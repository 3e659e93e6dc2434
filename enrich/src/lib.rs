//! Enrichment: the process, thread, fd and user tables that give every kernel event its
//! context (`event.process`, `event.fd`), kept current from the events themselves and
//! bootstrapped from `/proc`.
//!
//! [`HostEnricher`] is the entry point: the pipeline's enrichment stage (one thread, batches
//! in timestamp order) calls [`HostEnricher::enrich`] on each batch.
//!
//! What the events do to the tables:
//! - `clone`/`clone3`/`fork`/`vfork` (reported for the child): a new thread joins its
//!   process; a new process gets a copy of its parent's snapshot with its own ids, a parent
//!   link, and the parent's fd table (shared copy-on-write).
//! - successful `execve`/`execveat`: a new snapshot (name, exe, args, exepath, cwd, env,
//!   ids, capabilities, container id from the cgroups, users); close-on-exec fds go;
//!   children's parent links are refreshed. Failed execs change nothing.
//! - `procexit`: per thread; when the last known thread of a process has gone it stays for
//!   `exited_linger` (event time) for late events, its children go to the reaper.
//! - `setuid`/`setresuid`/`setgid`/`setresgid`, `chdir`/`fchdir`, `setsid`: a new snapshot.
//! - fd events (`open*`, `creat`, `socket`, `connect`, `accept*`, `bind`, `listen`,
//!   `dup*`, `close`, `send*`/`recv*`): the fd table, with absolute `fd.name`s.
//! - any event of a process the tables do not know: looked up in `/proc` (once;
//!   failures are remembered), else a minimal entry from the ids, counted.

mod config;
pub mod container;
mod enricher;
mod error;
mod fdevents;
mod fdtable;
mod hold;
pub mod ifaddrs;
pub mod own;
pub mod path;
mod process;
pub mod procfs;
pub mod runtime;
pub mod stats;
pub mod testing;
pub mod users;

pub use config::{ContainerConfig, EnrichConfig};
pub use enricher::HostEnricher;
pub use error::{Error, Result};
pub use hold::HoldStats;
pub use stats::{EnrichStats, SharedStats};
