//! What can go wrong bringing the probes up, said so an operator can act on it.

use thiserror::Error;

#[derive(Debug, Error)]
pub enum ProbeError {
    #[error(
        "kernel probes need root (CAP_BPF and CAP_PERFMON, or CAP_SYS_ADMIN); running as uid {uid}"
    )]
    NotRoot { uid: u32 },
    #[error("kernel BTF is missing ({path}): the kernel needs CONFIG_DEBUG_INFO_BTF=y")]
    NoBtf { path: String },
    #[error("kernel {release} is too old: the probes need BTF tracepoints, ring buffers and bpf_loop (Linux 5.17 or newer)")]
    KernelTooOld { release: String },
    #[error("reading kernel BTF: {0}")]
    Btf(#[from] aya::BtfError),
    #[error("loading the eBPF object: {0}")]
    Load(#[from] aya::EbpfError),
    #[error("eBPF program {program}: {source}")]
    Program {
        program: &'static str,
        #[source]
        source: aya::programs::ProgramError,
    },
    #[error("eBPF map {map}: {source}")]
    Map {
        map: &'static str,
        #[source]
        source: aya::maps::MapError,
    },
    #[error("eBPF map {0} is missing from the object")]
    MissingMap(&'static str),
    #[error("eBPF program {0} is missing from the object")]
    MissingProgram(&'static str),
    #[error("{what}: {source}")]
    Io {
        what: &'static str,
        #[source]
        source: std::io::Error,
    },
}
