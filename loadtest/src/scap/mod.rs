//! `peregrine-loadtest import`: Falco `.scap` captures (libscap's file format, gzip or not)
//! into Peregrine capture files.
//!
//! A replay is not enriched again, so the importer rebuilds the thread, fd and user state
//! the capture carries — its process, fd and user lists, then the state changes of the
//! events — and attaches a snapshot to each converted event, as `peregrine-enrich` does
//! for kernel events ([`state`]). The event types Peregrine models are converted (syscall
//! exit events and `procexit`, flags translated from libs' encoding to Linux's,
//! [`events`]); every other event is counted by name in [`ImportReport::unconverted`], and
//! those that change the tables (pipes, eventfds, users added, …) are still applied.
//!
//! Nothing in the input is trusted: a framing error names the file and the byte offset
//! (of the decompressed data for gzip files) where it is wrong; sizes beyond a cap are
//! refused before anything is allocated for them; an event that does not split into its
//! parameters is skipped and counted, with a warning naming its offset.
//!
//! Modules: [`blocks`] (framing), [`tables`] (machine info, process/fd/user lists),
//! [`events`] (event header, which codes convert and how), [`state`] (the tables and the
//! snapshots), [`writer`] (a small scap writer for tests and fixtures).

pub mod blocks;
pub mod events;
pub mod state;
pub mod tables;
pub mod writer;

pub use blocks::At;

use blocks::{Block, BlockReader, FrameError};
use peregrine::capture::{CaptureError, CaptureHeader, CaptureWriter, FORMAT_VERSION};
use peregrine_event::{Direction, Event};
use serde::Serialize;
use std::collections::{BTreeMap, HashMap};
use std::fs::File;
use std::io::{self, BufRead, BufReader, Read};
use std::path::{Path, PathBuf};

/// Why a capture could not be imported.
#[derive(Debug, thiserror::Error)]
pub enum ScapError {
    #[error("{path}: {source}")]
    Io { path: PathBuf, source: io::Error },
    #[error("{path}: {at}: not a scap capture: {reason}")]
    NotScap {
        path: PathBuf,
        at: At,
        reason: String,
    },
    #[error("{path}: {at}: truncated: {what}")]
    Truncated { path: PathBuf, at: At, what: String },
    #[error("{path}: {at}: {reason}")]
    Corrupt {
        path: PathBuf,
        at: At,
        reason: String,
    },
    #[error("{path}: {at}: {what} of {size} bytes is larger than the {cap}-byte limit; the file is corrupt")]
    TooLarge {
        path: PathBuf,
        at: At,
        what: String,
        size: u64,
        cap: u64,
    },
    #[error("{path}: {at}: {reason}")]
    Unsupported {
        path: PathBuf,
        at: At,
        reason: String,
    },
    /// Writing the Peregrine capture failed (the error names that file).
    #[error(transparent)]
    Output(#[from] CaptureError),
}

impl ScapError {
    /// The byte offset the error is about, when it is about one.
    pub fn offset(&self) -> Option<u64> {
        match self {
            ScapError::NotScap { at, .. }
            | ScapError::Truncated { at, .. }
            | ScapError::Corrupt { at, .. }
            | ScapError::TooLarge { at, .. }
            | ScapError::Unsupported { at, .. } => Some(at.offset),
            ScapError::Io { .. } | ScapError::Output(_) => None,
        }
    }
}

/// What an import read, wrote and left out.
///
/// `events_read = events_written + Σ unconverted + parent_clones + state_only +
/// malformed_events`.
#[derive(Clone, Debug, Default, PartialEq, Serialize)]
pub struct ImportReport {
    /// Event blocks read.
    pub events_read: u64,
    /// Events written to the Peregrine capture.
    pub events_written: u64,
    /// Events of types Peregrine does not model (enter events of syscalls, metaevents,
    /// syscalls it does not trace), by name (`type <N>` for codes this reader does not
    /// know), most frequent first.
    pub unconverted: Vec<(String, u64)>,
    /// The caller's side of clone/fork/vfork/clone3: used for the tables, not written
    /// (Peregrine reports a clone once, for the child).
    pub parent_clones: u64,
    /// Events the writer flagged "state only": applied to the tables, not written.
    pub state_only: u64,
    /// Events that do not split into their parameters: skipped (see `warnings`).
    pub malformed_events: u64,
    /// Parameters whose bytes do not fit their type: written as absent.
    pub malformed_params: u64,
    /// Threads in the capture's process list.
    pub threads: usize,
    /// Processes (thread groups) in the capture's process list.
    pub processes: usize,
    /// fds in the capture's fd lists.
    pub fds: usize,
    pub users: usize,
    pub groups: usize,
    pub interfaces: usize,
    /// Blocks of types this reader does not know, skipped: (block type, count).
    pub skipped_blocks: Vec<(u32, u64)>,
    /// Events of a thread the tables did not know (given a minimal process entry).
    pub missing_processes: u64,
    /// fd events on an fd the tables did not know.
    pub unknown_fds: u64,
    /// fd-list entries of threads not in the process list (dropped).
    pub orphan_fds: u64,
    /// Threads and fds in the tables at the end.
    pub threads_at_end: usize,
    pub fds_at_end: usize,
    /// From the machine-info block.
    pub hostname: String,
    /// Time of the first and last event read (epoch ns).
    pub first_ts: u64,
    pub last_ts: u64,
    /// Bytes read (of the decompressed data when `compressed`).
    pub bytes: u64,
    pub compressed: bool,
    /// The file ends inside a block and [`ImportOptions::allow_truncated`] was set.
    pub truncated: bool,
    /// The first few problems skipped over, with their offsets.
    pub warnings: Vec<String>,
}

impl std::fmt::Display for ImportReport {
    /// A few lines for the command line.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let secs = self.last_ts.saturating_sub(self.first_ts) as f64 / 1e9;
        writeln!(
            f,
            "{} events read ({:.3} s of host {:?}), {} written",
            self.events_read, secs, self.hostname, self.events_written
        )?;
        writeln!(
            f,
            "tables: {} threads in {} processes, {} fds, {} users, {} groups",
            self.threads, self.processes, self.fds, self.users, self.groups
        )?;
        let unconverted: u64 = self.unconverted.iter().map(|(_, n)| n).sum();
        write!(
            f,
            "not written: {unconverted} of types Peregrine does not model"
        )?;
        for (name, n) in self.unconverted.iter().take(8) {
            write!(f, ", {name} {n}")?;
        }
        if self.unconverted.len() > 8 {
            write!(f, ", …")?;
        }
        writeln!(
            f,
            "; {} parent sides of clones; {} state-only; {} malformed",
            self.parent_clones, self.state_only, self.malformed_events
        )?;
        if self.missing_processes + self.unknown_fds + self.malformed_params > 0 {
            writeln!(
                f,
                "made up: {} processes known by id only, {} unknown fds, {} malformed parameters",
                self.missing_processes, self.unknown_fds, self.malformed_params
            )?;
        }
        if !self.skipped_blocks.is_empty() {
            let list: Vec<String> = self
                .skipped_blocks
                .iter()
                .map(|(t, n)| format!("{t:#x} ×{n}"))
                .collect();
            writeln!(f, "unknown blocks skipped: {}", list.join(", "))?;
        }
        for w in &self.warnings {
            writeln!(f, "warning: {w}")?;
        }
        Ok(())
    }
}

/// How lenient an import is.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct ImportOptions {
    /// A file that ends inside a block (a capture cut short when its writer was killed)
    /// ends the import with a warning instead of an error. Corruption is still an error.
    pub allow_truncated: bool,
}

/// At most this many warnings are kept in a report.
const MAX_WARNINGS: usize = 20;
/// EVF flag: the event is for the tables only (`SCAP_DF_STATE_ONLY`).
const STATE_ONLY: u32 = 1;

/// Converts the `.scap` file `scap` (gzip or not) into the Peregrine capture `out`.
pub fn import(scap: &Path, out: &Path) -> Result<ImportReport, ScapError> {
    import_with(scap, out, &ImportOptions::default())
}

/// [`import`] with options. On an error after events were converted, `out` holds those
/// events (a well-formed capture) and the error says where the input went wrong.
pub fn import_with(
    scap: &Path,
    out: &Path,
    opts: &ImportOptions,
) -> Result<ImportReport, ScapError> {
    let mut writer: Option<CaptureWriter> = None;
    let mut hostname = String::new();
    let mut sink = |ev: Event, host: &str| -> Result<(), ScapError> {
        let w = match &mut writer {
            Some(w) => w,
            None => {
                hostname = host.to_string();
                writer.insert(CaptureWriter::create(out, &header(host, ev.ts))?)
            }
        };
        w.write(&ev)?;
        Ok(())
    };
    let result = open_and_convert(scap, opts, &mut sink);
    let writer = match writer {
        Some(w) => w,
        None => {
            let host = result
                .as_ref()
                .map_or(hostname.as_str(), |r| r.hostname.as_str());
            CaptureWriter::create(out, &header(host, 0))?
        }
    };
    let written = writer.finish()?;
    let report = result?;
    debug_assert_eq!(written, report.events_written);
    Ok(report)
}

fn header(hostname: &str, created_ns: u64) -> CaptureHeader {
    CaptureHeader {
        version: FORMAT_VERSION,
        hostname: hostname.to_string(),
        created_ns,
        producer: "scap-import".into(),
    }
}

/// Reads a `.scap` file into memory as converted events.
pub fn read(scap: &Path, opts: &ImportOptions) -> Result<(Vec<Event>, ImportReport), ScapError> {
    let mut events = Vec::new();
    let report = open_and_convert(scap, opts, &mut |ev, _| {
        events.push(ev);
        Ok(())
    })?;
    Ok((events, report))
}

/// [`read`] over bytes already in memory (gzip or not); `name` is used in messages.
pub fn read_bytes(
    data: &[u8],
    name: &Path,
    opts: &ImportOptions,
) -> Result<(Vec<Event>, ImportReport), ScapError> {
    let mut events = Vec::new();
    let report = convert_input(BufReader::new(data), name, opts, &mut |ev, _| {
        events.push(ev);
        Ok(())
    })?;
    Ok((events, report))
}

type Sink<'a> = dyn FnMut(Event, &str) -> Result<(), ScapError> + 'a;

fn open_and_convert(
    scap: &Path,
    opts: &ImportOptions,
    sink: &mut Sink<'_>,
) -> Result<ImportReport, ScapError> {
    let file = File::open(scap).map_err(|source| ScapError::Io {
        path: scap.to_path_buf(),
        source,
    })?;
    convert_input(BufReader::with_capacity(1 << 20, file), scap, opts, sink)
}

/// Detects gzip and converts.
fn convert_input<R: BufRead>(
    mut input: R,
    path: &Path,
    opts: &ImportOptions,
    sink: &mut Sink<'_>,
) -> Result<ImportReport, ScapError> {
    let head = input.fill_buf().map_err(|source| ScapError::Io {
        path: path.to_path_buf(),
        source,
    })?;
    let gz = head.starts_with(&[0x1f, 0x8b]);
    if gz {
        let dec = flate2::bufread::MultiGzDecoder::new(input);
        Importer::new(path, true, opts).run(BufReader::with_capacity(1 << 16, dec), sink)
    } else {
        Importer::new(path, false, opts).run(input, sink)
    }
}

fn read_full(r: &mut impl Read, buf: &mut [u8]) -> io::Result<usize> {
    let mut filled = 0;
    while filled < buf.len() {
        match r.read(&mut buf[filled..]) {
            Ok(0) => break,
            Ok(n) => filled += n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok(filled)
}

struct Importer<'p> {
    path: &'p Path,
    gz: bool,
    opts: ImportOptions,
    state: state::State,
    report: ImportReport,
    unconverted: HashMap<u16, u64>,
    skipped: BTreeMap<u32, u64>,
}

impl<'p> Importer<'p> {
    fn new(path: &'p Path, gz: bool, opts: &ImportOptions) -> Importer<'p> {
        Importer {
            path,
            gz,
            opts: *opts,
            state: state::State::new(),
            report: ImportReport {
                compressed: gz,
                ..Default::default()
            },
            unconverted: HashMap::new(),
            skipped: BTreeMap::new(),
        }
    }

    fn at(&self, offset: u64) -> At {
        At {
            offset,
            decompressed: self.gz,
        }
    }

    fn path(&self) -> PathBuf {
        self.path.to_path_buf()
    }

    fn io_error(&self, offset: u64, e: io::Error) -> ScapError {
        match e.kind() {
            io::ErrorKind::UnexpectedEof => ScapError::Truncated {
                path: self.path(),
                at: self.at(offset),
                what: format!("the data stops early ({e})"),
            },
            io::ErrorKind::InvalidData | io::ErrorKind::InvalidInput if self.gz => {
                ScapError::Corrupt {
                    path: self.path(),
                    at: self.at(offset),
                    reason: format!("the gzip data is corrupt: {e}"),
                }
            }
            _ => ScapError::Io {
                path: self.path(),
                source: e,
            },
        }
    }

    fn frame_error(&self, e: FrameError) -> ScapError {
        match e {
            FrameError::Truncated { offset, what } => ScapError::Truncated {
                path: self.path(),
                at: self.at(offset),
                what,
            },
            FrameError::Corrupt { offset, reason } => ScapError::Corrupt {
                path: self.path(),
                at: self.at(offset),
                reason,
            },
            FrameError::TooLarge {
                offset,
                btype,
                size,
                cap,
            } => ScapError::TooLarge {
                path: self.path(),
                at: self.at(offset),
                what: format!("block of type {btype:#x}"),
                size: size as u64,
                cap: cap as u64,
            },
            FrameError::Io { offset, source } => self.io_error(offset, source),
        }
    }

    fn fault(&self, f: blocks::Fault) -> ScapError {
        ScapError::Corrupt {
            path: self.path(),
            at: self.at(f.offset),
            reason: f.reason,
        }
    }

    fn not_scap(&self, offset: u64, reason: String) -> ScapError {
        ScapError::NotScap {
            path: self.path(),
            at: self.at(offset),
            reason,
        }
    }

    fn warn(&mut self, offset: u64, what: impl std::fmt::Display) {
        if self.report.warnings.len() < MAX_WARNINGS {
            let w = format!("{}: {what}", self.at(offset));
            self.report.warnings.push(w);
        }
    }

    fn run<R: Read>(
        mut self,
        mut input: R,
        sink: &mut Sink<'_>,
    ) -> Result<ImportReport, ScapError> {
        // The section header first: block type, length, byte-order magic.
        let mut head = [0u8; 12];
        let n = read_full(&mut input, &mut head).map_err(|e| self.io_error(0, e))?;
        if n < head.len() {
            return Err(self.not_scap(
                0,
                if n == 0 {
                    "the file is empty".into()
                } else {
                    format!("{n} bytes are too few for a section header")
                },
            ));
        }
        let word = |i: usize| u32::from_le_bytes([head[i], head[i + 1], head[i + 2], head[i + 3]]);
        if word(0) != blocks::SHB {
            return Err(self.not_scap(
                0,
                format!(
                    "it starts with {:#010x}, not a section header block ({:#010x})",
                    word(0),
                    blocks::SHB
                ),
            ));
        }
        match word(8) {
            blocks::SHB_MAGIC => {}
            blocks::SHB_MAGIC_SWAPPED => {
                return Err(ScapError::Unsupported {
                    path: self.path(),
                    at: self.at(8),
                    reason: "big-endian capture (byte-swapped section header)".into(),
                })
            }
            m => {
                return Err(self.not_scap(
                    8,
                    format!(
                        "byte-order magic {m:#010x} is not {:#010x}",
                        blocks::SHB_MAGIC
                    ),
                ))
            }
        }
        let input = io::Cursor::new(head).chain(input);
        let mut reader = BlockReader::new(input);
        let mut block = Block::default();
        loop {
            match reader.next_into(&mut block) {
                Ok(true) => {}
                Ok(false) => break,
                Err(FrameError::Truncated { offset, what }) if self.opts.allow_truncated => {
                    self.warn(offset, format!("truncated: {what}; the import stops here"));
                    self.report.truncated = true;
                    break;
                }
                Err(e) => {
                    self.finish(reader.offset());
                    return Err(self.frame_error(e));
                }
            }
            self.block(&block, sink)?;
        }
        self.finish(reader.offset());
        Ok(self.report)
    }

    fn finish(&mut self, offset: u64) {
        self.report.bytes = offset;
        let s = self.state.stats;
        self.report.missing_processes = s.missing_processes;
        self.report.unknown_fds = s.unknown_fds;
        self.report.orphan_fds = s.orphan_fds;
        self.report.threads_at_end = self.state.threads();
        self.report.fds_at_end = self.state.fds();
        let mut by_name: BTreeMap<String, u64> = BTreeMap::new();
        for (code, n) in &self.unconverted {
            *by_name.entry(events::code_name(*code)).or_default() += n;
        }
        let mut v: Vec<(String, u64)> = by_name.into_iter().collect();
        v.sort_by(|a, b| b.1.cmp(&a.1).then_with(|| a.0.cmp(&b.0)));
        self.report.unconverted = v;
        self.report.skipped_blocks = self.skipped.iter().map(|(t, n)| (*t, *n)).collect();
    }

    fn block(&mut self, b: &Block, sink: &mut Sink<'_>) -> Result<(), ScapError> {
        use blocks::*;
        let base = b.at(0);
        match b.btype {
            SHB => {
                let major = b
                    .body
                    .get(4..6)
                    .map_or(0, |v| u16::from_le_bytes([v[0], v[1]]));
                let minor = b
                    .body
                    .get(6..8)
                    .map_or(0, |v| u16::from_le_bytes([v[0], v[1]]));
                let magic = b
                    .body
                    .get(0..4)
                    .map_or(0, |v| u32::from_le_bytes([v[0], v[1], v[2], v[3]]));
                if magic != SHB_MAGIC {
                    return Err(self.not_scap(
                        base,
                        format!("section byte-order magic {magic:#010x} is not {SHB_MAGIC:#010x}"),
                    ));
                }
                if major > MAJOR_VERSION {
                    return Err(ScapError::Unsupported {
                        path: self.path(),
                        at: self.at(base + 4),
                        reason: format!(
                            "scap format version {major}.{minor} is newer than this reader \
                             ({MAJOR_VERSION}.x)"
                        ),
                    });
                }
            }
            MI | MI_INT => {
                let mi = tables::machine_info(&b.body);
                self.report.hostname = mi.hostname;
            }
            t if is_proclist(t) => {
                let entries = tables::proclist(&b.body, t, base).map_err(|f| self.fault(f))?;
                self.report.threads += entries.len();
                self.report.processes += entries.iter().filter(|e| e.tid == e.pid).count();
                self.state.load_threads(&entries);
            }
            FDL | FDL_INT | FDL_V2 => {
                let (tid, fds) =
                    tables::fdlist(&b.body, b.btype, base).map_err(|f| self.fault(f))?;
                self.report.fds += fds.len();
                self.state.load_fds(tid, &fds);
            }
            UL | UL_INT | UL_V2 => {
                let (users, groups) =
                    tables::userlist(&b.body, b.btype, base).map_err(|f| self.fault(f))?;
                self.report.users += users.len();
                self.report.groups += groups.len();
                users.iter().for_each(|u| self.state.add_user(u));
                groups.iter().for_each(|g| self.state.add_group(g));
            }
            IL | IL_INT | IL_V2 => {
                self.report.interfaces +=
                    tables::interface_count(&b.body, b.btype, base).map_err(|f| self.fault(f))?;
            }
            t => match event_block(t) {
                Some(kind) => self.event(b, kind, sink)?,
                None => *self.skipped.entry(t).or_default() += 1,
            },
        }
        Ok(())
    }

    fn event(
        &mut self,
        b: &Block,
        kind: blocks::EventBlock,
        sink: &mut Sink<'_>,
    ) -> Result<(), ScapError> {
        self.report.events_read += 1;
        let prefix = if kind.flags { 6 } else { 2 };
        let Some(bytes) = b.body.get(prefix..) else {
            self.report.malformed_events += 1;
            self.warn(b.offset, "event block too short for its CPU id and flags");
            return Ok(());
        };
        let cpu = u16::from_le_bytes([b.body[0], b.body[1]]);
        let flags = if kind.flags {
            u32::from_le_bytes([b.body[2], b.body[3], b.body[4], b.body[5]])
        } else {
            0
        };
        let ev_at = b.at(prefix);
        let hdr = match events::parse_header(bytes, kind.v1) {
            Ok(h) => h,
            Err(f) => {
                self.report.malformed_events += 1;
                self.warn(ev_at, f);
                return Ok(());
            }
        };
        if self.report.first_ts == 0 {
            self.report.first_ts = hdr.ts;
        }
        self.report.last_ts = self.report.last_ts.max(hdr.ts);
        let Some(conv) = events::conversion(hdr.code) else {
            *self.unconverted.entry(hdr.code).or_default() += 1;
            if state::State::wants(hdr.code) {
                match events::split(bytes, kind.v1) {
                    Ok(raw) => {
                        self.state.apply_unmodelled(&raw);
                    }
                    Err(f) => {
                        self.warn(ev_at, format!("{} event: {f}", events::code_name(hdr.code)))
                    }
                }
            }
            return Ok(());
        };
        let raw = match events::split(bytes, kind.v1) {
            Ok(raw) => raw,
            Err(f) => {
                self.report.malformed_events += 1;
                self.warn(ev_at, format!("{} event: {f}", conv.etype));
                return Ok(());
            }
        };
        if conv.etype.is_clone() && raw.int(events::clone_idx::RES) != Some(0) {
            self.report.parent_clones += 1;
            self.state.clone_parent(&raw);
            return Ok(());
        }
        let params = events::convert_params(conv, &raw, &mut self.report.malformed_params);
        let mut ev = Event::new(conv.etype, hdr.ts, hdr.tid, params);
        ev.cpu = cpu;
        ev.dir = Direction::Exit;
        self.state.apply(&mut ev);
        if flags & STATE_ONLY != 0 {
            self.report.state_only += 1;
            return Ok(());
        }
        self.report.events_written += 1;
        ev.num = self.report.events_written;
        sink(ev, &self.report.hostname)
    }
}

#[cfg(test)]
mod tests {
    use super::writer::{self, code, p, ScapBuilder};
    use super::*;
    use peregrine_event::{EventType, FdKind, ParamValue};
    use std::io::Write;

    /// A small capture: a shell (with a worker thread and an fd), a user list, then a
    /// fork, an exec of `cat /etc/shadow`, its open, a pipe, a connect and some events
    /// Peregrine does not model.
    fn sample() -> ScapBuilder {
        let mut b = ScapBuilder::new();
        b.machine_info("testhost");
        b.userlist(
            &[tables::UserEntry {
                uid: 0,
                gid: 0,
                name: "root".into(),
                homedir: "/root".into(),
                shell: "/bin/bash".into(),
                container: String::new(),
            }],
            &[],
        );
        b.proclist(&[
            writer::thread(1, 1, 0, "systemd", &[]),
            writer::thread(100, 100, 1, "bash", &[]),
            writer::thread(101, 100, 1, "bash", &[]),
        ]);
        b.fdlist(
            100,
            &[writer::fd_file(10, "/root/.bash_history", 2 | 1 << 3)],
        );
        b.block(0x7777, b"unknown block");
        let ts = 1_700_000_000_000_000_000;
        // fork: the parent's side, then the child's.
        b.event(0, ts, 100, code::CLONE_20_X, &{
            let mut v = writer::clone_child_params(100, 1, "bash", 0);
            v[0] = p::i64(200);
            v
        });
        b.event(
            1,
            ts + 1,
            200,
            code::CLONE_20_X,
            &writer::clone_child_params(200, 100, "bash", 0),
        );
        b.event(
            1,
            ts + 2,
            200,
            code::EXECVE_19_X,
            &writer::execve_params(200, 100, "/usr/bin/cat", &["cat", "/etc/shadow"]),
        );
        b.event(1, ts + 3, 200, code::OPENAT_2_E, &[]);
        b.event(
            1,
            ts + 4,
            200,
            code::OPENAT_2_X,
            &writer::openat_params(3, -100, "/etc/shadow", 1),
        );
        b.event(
            0,
            ts + 5,
            101,
            code::PIPE_X,
            &[p::i64(0), p::i64(4), p::i64(5), p::u64(77)],
        );
        b.event(
            0,
            ts + 6,
            101,
            code::DUP2_X,
            &[p::i64(1), p::i64(4), p::i64(1)],
        );
        b.event(
            0,
            ts + 7,
            100,
            code::SOCKET_X,
            &[p::i64(6), p::u32(2), p::u32(1), p::u32(0)],
        );
        b.event(
            0,
            ts + 8,
            100,
            code::CONNECT_X,
            &[
                p::i64(0),
                p::tuple4([127, 0, 0, 1], 40000, [127, 0, 0, 1], 8080),
                p::i64(6),
                p::sockaddr4([127, 0, 0, 1], 8080),
            ],
        );
        b.event(0, ts + 9, 100, 999, &[]);
        b.event(
            1,
            ts + 10,
            200,
            code::PROCEXIT_1_E,
            &[p::i64(0), p::i64(0), p::u8(0), p::u8(0), p::i64(1)],
        );
        b
    }

    fn read_mem(
        data: &[u8],
        opts: &ImportOptions,
    ) -> Result<(Vec<Event>, ImportReport), ScapError> {
        read_bytes(data, Path::new("mem.scap"), opts)
    }

    #[test]
    fn converts_a_hand_made_capture() {
        let (events, r) = read_mem(sample().bytes(), &ImportOptions::default()).unwrap();
        let types: Vec<&str> = events.iter().map(|e| e.etype.name()).collect();
        assert_eq!(
            types,
            ["clone", "execve", "openat", "dup2", "socket", "connect", "procexit"]
        );
        assert_eq!(r.events_read, 11);
        assert_eq!(r.events_written, 7);
        assert_eq!(r.parent_clones, 1);
        assert_eq!(
            r.events_read,
            r.events_written
                + r.unconverted.iter().map(|(_, n)| n).sum::<u64>()
                + r.parent_clones
                + r.state_only
                + r.malformed_events
        );
        let unconverted: HashMap<String, u64> = r.unconverted.iter().cloned().collect();
        assert_eq!(unconverted["openat >"], 1);
        assert_eq!(unconverted["pipe"], 1);
        assert_eq!(unconverted["type 999"], 1);
        assert_eq!(r.skipped_blocks, vec![(0x7777, 1)]);
        assert_eq!((r.threads, r.processes, r.fds, r.users), (3, 2, 1, 1));
        assert_eq!(r.hostname, "testhost");
        assert!(!r.compressed);

        let open = &events[2];
        assert_eq!(open.param(2).as_str(), Some("/etc/shadow"));
        let fd = open.fd.as_ref().unwrap();
        assert_eq!((fd.name.as_str(), fd.kind), ("/etc/shadow", FdKind::File));
        let proc = open.process.as_ref().unwrap();
        assert_eq!(proc.name.as_ref(), "cat");
        assert_eq!(proc.cmdline(), "cat /etc/shadow");
        assert_eq!((proc.pid, open.pid), (200, 200));
        assert_eq!(proc.user.as_ref().unwrap().name.as_ref(), "root");
        assert_eq!(proc.parent.as_ref().unwrap().pid, 100);
        assert_eq!(
            proc.parent
                .as_ref()
                .unwrap()
                .parent
                .as_ref()
                .unwrap()
                .name
                .as_ref(),
            "systemd"
        );
        // The child inherited the shell's fd (no O_CLOEXEC): still there after exec.
        let dup = &events[3];
        assert_eq!(dup.process.as_ref().unwrap().tid, 101, "the worker thread");
        assert_eq!(dup.fd.as_ref().unwrap().kind, FdKind::Pipe);
        let connect = &events[5];
        let cfd = connect.fd.as_ref().unwrap();
        assert_eq!(cfd.name, "127.0.0.1:40000->127.0.0.1:8080");
        assert!(matches!(
            connect.param(1),
            ParamValue::Tuple(peregrine_event::SockTuple::Inet {
                proto: peregrine_event::L4Proto::Tcp,
                ..
            })
        ));
        assert_eq!(events[6].etype, EventType::PROCEXIT);
        let nums: Vec<u64> = events.iter().map(|e| e.num).collect();
        assert_eq!(nums, (1..=7).collect::<Vec<_>>());
    }

    #[test]
    fn gzip_captures_read_the_same() {
        let plain = sample().into_bytes();
        let mut enc = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
        enc.write_all(&plain).unwrap();
        let gz = enc.finish().unwrap();
        let (a, ra) = read_mem(&plain, &ImportOptions::default()).unwrap();
        let (b, rb) = read_mem(&gz, &ImportOptions::default()).unwrap();
        assert_eq!(a.len(), b.len());
        assert!(rb.compressed);
        assert_eq!(ra.events_written, rb.events_written);
        // Cut compressed data: an error (or, leniently, a truncated import), never a panic.
        for cut in (0..gz.len()).step_by(7) {
            let _ = read_mem(&gz[..cut], &ImportOptions::default());
            if let Ok((_, r)) = read_mem(
                &gz[..cut],
                &ImportOptions {
                    allow_truncated: true,
                },
            ) {
                assert!(r.truncated || cut == gz.len(), "cut {cut}");
            }
        }
    }

    #[test]
    fn every_truncation_is_an_error_with_an_offset_never_a_panic() {
        let data = sample().into_bytes();
        // Block boundaries: a cut there is a clean (shorter) file.
        let mut boundaries = vec![0usize];
        let mut pos = 0;
        while pos + 8 <= data.len() {
            pos += u32::from_le_bytes(data[pos + 4..pos + 8].try_into().unwrap()) as usize;
            boundaries.push(pos);
        }
        for cut in 0..data.len() {
            match read_mem(&data[..cut], &ImportOptions::default()) {
                Ok(_) => assert!(boundaries.contains(&cut) && cut > 0, "cut {cut} accepted"),
                Err(e @ (ScapError::Truncated { .. } | ScapError::NotScap { .. })) => {
                    let off = e.offset().unwrap();
                    assert!(off <= cut as u64, "cut {cut}: {e}");
                    assert!(e.to_string().starts_with("mem.scap: byte "), "{e}");
                }
                Err(e) => panic!("cut {cut}: {e}"),
            }
            // Lenient: the events before the cut.
            if let Ok((_, r)) = read_mem(
                &data[..cut],
                &ImportOptions {
                    allow_truncated: true,
                },
            ) {
                assert!(r.events_written <= 7);
            }
        }
    }

    #[test]
    fn corruption_is_reported_where_it_is() {
        let b = sample();
        let data = b.bytes().to_vec();
        // Wrong magic, wrong first block, empty file.
        let mut bad = data.clone();
        bad[8] ^= 0xff;
        let e = read_mem(&bad, &ImportOptions::default()).unwrap_err();
        assert!(matches!(e, ScapError::NotScap { .. }), "{e}");
        assert_eq!(e.offset(), Some(8));
        let e = read_mem(b"GIF89a....................", &ImportOptions::default()).unwrap_err();
        assert!(e.to_string().contains("not a scap capture"), "{e}");
        let e = read_mem(b"", &ImportOptions::default()).unwrap_err();
        assert!(e.to_string().contains("empty"), "{e}");
        // Big-endian captures say so.
        let mut be = data.clone();
        be[8..12].copy_from_slice(&blocks::SHB_MAGIC_SWAPPED.to_le_bytes());
        let e = read_mem(&be, &ImportOptions::default()).unwrap_err();
        assert!(matches!(e, ScapError::Unsupported { .. }), "{e}");
        // A newer major version.
        let mut newer = data.clone();
        newer[12..14].copy_from_slice(&9u16.to_le_bytes());
        let e = read_mem(&newer, &ImportOptions::default()).unwrap_err();
        assert!(e.to_string().contains("version 9.2"), "{e}");
        // Each block length corrupted: an error at that block, or (a length that still
        // frames) a skipped block.
        let mut pos = 0;
        while pos + 8 <= data.len() {
            let len = u32::from_le_bytes(data[pos + 4..pos + 8].try_into().unwrap()) as usize;
            for evil in [0u32, 3, 13, len as u32 + 4, u32::MAX, 1 << 30] {
                let mut bad = data.clone();
                bad[pos + 4..pos + 8].copy_from_slice(&evil.to_le_bytes());
                match read_mem(&bad, &ImportOptions::default()) {
                    Err(e) => {
                        let off = e.offset().unwrap_or(0);
                        assert!(off >= pos as u64 || pos == 0, "block at {pos}, {evil}: {e}");
                    }
                    Ok(_) => panic!("block at {pos} with length {evil} accepted"),
                }
            }
            pos += len;
        }
        // Every single byte flipped: whatever happens, no panic.
        for i in 0..data.len() {
            let mut bad = data.clone();
            bad[i] ^= 0x5a;
            let _ = read_mem(&bad, &ImportOptions::default());
        }
    }

    #[test]
    fn a_malformed_event_is_skipped_and_named() {
        let mut b = sample();
        let at = b.len();
        // An openat whose first parameter claims more bytes than the event has.
        let mut ev = writer::event_bytes(
            5,
            100,
            code::OPENAT_2_X,
            &writer::openat_params(3, -100, "/x", 1),
        );
        ev[26] = 0xff;
        ev[27] = 0x7f;
        let mut body = 0u16.to_le_bytes().to_vec();
        body.extend(ev);
        b.block(blocks::EV_V2, &body);
        let (_, r) = read_mem(b.bytes(), &ImportOptions::default()).unwrap();
        assert_eq!(r.malformed_events, 1);
        let want = format!("byte {}", at + 8 + 2);
        assert!(r.warnings[0].starts_with(&want), "{:?}", r.warnings);
        assert!(r.warnings[0].contains("openat"), "{:?}", r.warnings);
    }

    #[test]
    fn import_writes_a_readable_capture() {
        let dir = std::env::temp_dir().join(format!("pg-scap-unit-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let src = dir.join("in.scap");
        let out = dir.join("out.cap");
        std::fs::write(&src, sample().bytes()).unwrap();
        let r = import(&src, &out).unwrap();
        let mut reader = peregrine::capture::CaptureReader::open(&out).unwrap();
        assert_eq!(reader.header.hostname, "testhost");
        assert_eq!(reader.header.producer, "scap-import");
        let mut n = 0;
        while let Some(ev) = reader.next_event() {
            let ev = ev.unwrap();
            assert!(ev.process.is_some(), "{ev:?}");
            n += 1;
        }
        assert_eq!(n, r.events_written);
        // A truncated input still leaves a well-formed (shorter) capture, and says where.
        let data = sample().into_bytes();
        std::fs::write(&src, &data[..data.len() - 3]).unwrap();
        let e = import(&src, &out).unwrap_err();
        assert!(matches!(e, ScapError::Truncated { .. }), "{e}");
        assert!(e.to_string().contains("in.scap: byte "), "{e}");
        let mut reader = peregrine::capture::CaptureReader::open(&out).unwrap();
        let mut m = 0;
        while let Some(ev) = reader.next_event() {
            ev.unwrap();
            m += 1;
        }
        assert_eq!(m, r.events_written - 1);
        // A missing input is an I/O error naming it.
        let e = import(&dir.join("nope.scap"), &out).unwrap_err();
        assert!(e.to_string().contains("nope.scap"), "{e}");
        std::fs::remove_dir_all(&dir).ok();
    }
}
