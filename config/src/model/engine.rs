//! `engine`: where events come from.

use crate::decode::{boolean, integer, invalid, missing, optional_path, Cx, Ignored, KeyPath};
use crate::error::ConfigError;
use crate::tree::Value;
use std::path::PathBuf;

/// `engine.kind`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum EngineKind {
    /// CO-RE eBPF probes (default; Falco's code default is `kmod`, which Peregrine lacks).
    #[default]
    ModernEbpf,
    /// Events read from a capture file (`engine.replay.capture_file`).
    Replay,
    /// No event source: rules, outputs and the web server only.
    Nodriver,
    /// Peregrine's own: a seeded generated event stream, for running without the kernel.
    Synthetic,
}

impl EngineKind {
    pub fn as_str(self) -> &'static str {
        match self {
            EngineKind::ModernEbpf => "modern_ebpf",
            EngineKind::Replay => "replay",
            EngineKind::Nodriver => "nodriver",
            EngineKind::Synthetic => "synthetic",
        }
    }
}

/// `engine.modern_ebpf`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ModernEbpf {
    /// CPUs sharing one ring buffer; 0 = one buffer for all CPUs (default 2).
    pub cpus_for_each_buffer: u32,
    /// Ring buffer size index 1..=10 → 1, 2, 4 … 512 MiB (default 4 = 8 MiB).
    pub buf_size_preset: u8,
    /// Drop exit events of failed syscalls in the kernel (default false).
    pub drop_failed_exit: bool,
}

impl Default for ModernEbpf {
    fn default() -> Self {
        ModernEbpf {
            cpus_for_each_buffer: 2,
            buf_size_preset: 4,
            drop_failed_exit: false,
        }
    }
}

impl ModernEbpf {
    /// Bytes per ring buffer for [`Self::buf_size_preset`].
    pub fn buffer_bytes(&self) -> usize {
        1usize << (19 + u32::from(self.buf_size_preset.clamp(1, 10)))
    }
}

/// `engine.replay`.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Replay {
    /// Required when `engine.kind` is `replay`.
    pub capture_file: Option<PathBuf>,
}

/// `engine.synthetic` (Peregrine only).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Synthetic {
    /// Events per second; 0 = as fast as the pipeline takes them (default 1000).
    pub rate: u64,
    /// Seed of the generator, so runs repeat (default 0).
    pub seed: u64,
    /// Stop after this many events; 0 = never (default 0).
    pub events: u64,
}

impl Default for Synthetic {
    fn default() -> Self {
        Synthetic {
            rate: 1000,
            seed: 0,
            events: 0,
        }
    }
}

#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Engine {
    pub kind: EngineKind,
    pub modern_ebpf: ModernEbpf,
    pub replay: Replay,
    pub synthetic: Synthetic,
}

const ENGINE_KEYS: &[&str] = &["kind", "modern_ebpf", "replay", "synthetic"];
const ENGINE_IGNORED: &[Ignored] = &[
    ("kmod", "Peregrine has no kernel module"),
    ("ebpf", "Peregrine has no legacy eBPF probe"),
    ("gvisor", "Peregrine does not read gVisor events"),
];
const KINDS: &str = "modern_ebpf, replay, nodriver or synthetic";

impl Engine {
    pub(crate) fn decode(v: &Value, path: &KeyPath, cx: &mut Cx) -> Result<Self, ConfigError> {
        let mut out = Self::default();
        for (e, p) in cx.section(v, path, ENGINE_KEYS, ENGINE_IGNORED)? {
            match e.key.as_str() {
                "kind" => out.kind = kind(&e.value, &p)?,
                "modern_ebpf" => out.modern_ebpf = decode_modern_ebpf(&e.value, &p, cx)?,
                "replay" => out.replay = decode_replay(&e.value, &p, cx)?,
                "synthetic" => out.synthetic = decode_synthetic(&e.value, &p, cx)?,
                _ => {}
            }
        }
        if out.kind == EngineKind::Replay && out.replay.capture_file.is_none() {
            return Err(missing(
                &path.key("replay").key("capture_file"),
                "a capture file when engine.kind is replay",
                v,
            ));
        }
        Ok(out)
    }
}

fn kind(v: &Value, p: &KeyPath) -> Result<EngineKind, ConfigError> {
    let name = v.as_scalar().map(str::trim).unwrap_or_default();
    Ok(match name {
        "modern_ebpf" => EngineKind::ModernEbpf,
        "replay" => EngineKind::Replay,
        "nodriver" => EngineKind::Nodriver,
        "synthetic" => EngineKind::Synthetic,
        "kmod" => {
            return Err(invalid(
                p,
                format!("{KINDS} (Peregrine has no kernel module: use modern_ebpf)"),
                v,
            ))
        }
        "ebpf" => {
            return Err(invalid(
                p,
                format!("{KINDS} (Peregrine has no legacy eBPF probe: use modern_ebpf)"),
                v,
            ))
        }
        _ => return Err(invalid(p, KINDS, v)),
    })
}

fn decode_modern_ebpf(v: &Value, path: &KeyPath, cx: &mut Cx) -> Result<ModernEbpf, ConfigError> {
    let mut out = ModernEbpf::default();
    let known = [
        "cpus_for_each_buffer",
        "buf_size_preset",
        "drop_failed_exit",
    ];
    let ignored: &[Ignored] = &[("disable_iterators", "initial state always comes from /proc")];
    for (e, p) in cx.section(v, path, &known, ignored)? {
        match e.key.as_str() {
            "cpus_for_each_buffer" => {
                out.cpus_for_each_buffer = integer(&e.value, &p, 0, 4096)? as u32
            }
            "buf_size_preset" => out.buf_size_preset = integer(&e.value, &p, 1, 10)? as u8,
            "drop_failed_exit" => out.drop_failed_exit = boolean(&e.value, &p)?,
            _ => {}
        }
    }
    Ok(out)
}

fn decode_replay(v: &Value, path: &KeyPath, cx: &mut Cx) -> Result<Replay, ConfigError> {
    let mut out = Replay::default();
    for (e, p) in cx.section(v, path, &["capture_file"], &[])? {
        if e.key == "capture_file" {
            out.capture_file = optional_path(&e.value, &p)?;
        }
    }
    Ok(out)
}

fn decode_synthetic(v: &Value, path: &KeyPath, cx: &mut Cx) -> Result<Synthetic, ConfigError> {
    let mut out = Synthetic::default();
    for (e, p) in cx.section(v, path, &["rate", "seed", "events"], &[])? {
        let n = integer(&e.value, &p, 0, u64::MAX)?;
        match e.key.as_str() {
            "rate" => out.rate = n,
            "seed" => out.seed = n,
            "events" => out.events = n,
            _ => {}
        }
    }
    Ok(out)
}
