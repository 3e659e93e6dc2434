//! Peregrine's kernel probes: the CO-RE programs of `ebpf-src/` loaded and attached with
//! aya, per-CPU ring buffers drained and merged in time order, and the wire-format
//! decoder that turns records into [`peregrine_event::Event`]s.

mod error;
pub mod interest;
mod loader;
mod pending;
pub mod progstats;
mod reader;
mod sleep;
pub mod wire;

pub use error::ProbeError;
pub use loader::{
    Counters, KernelProbe, ProbeOptions, Settings, SyscallCounters, SyscallTally, NR_SYSCALLS,
    OBJECT,
};
pub use reader::{boot_to_epoch_ns, Reader, ReaderStats, Ring};
