//! Capture files: a versioned header, then length-prefixed MessagePack event records.
//!
//! ```text
//! "PEREGRINE-CAPTURE\n" | u32 LE header length | msgpack CaptureHeader
//! repeated: u32 LE record length | msgpack Event
//! ```
//! Length prefixes let a reader skip a record that does not decode (counted, reported with
//! its byte offset) and tell a truncated file from a clean end.

use peregrine_event::Event;
use serde::{Deserialize, Serialize};
use std::fs::File;
use std::io::{self, BufReader, BufWriter, Read, Write};
use std::path::{Path, PathBuf};

pub const MAGIC: &[u8] = b"PEREGRINE-CAPTURE\n";
pub const FORMAT_VERSION: u32 = 1;
/// No record or header is larger than this; a bigger length means a corrupt file.
pub const MAX_RECORD: u32 = 16 << 20;
/// Deepest MessagePack nesting a record may have. Each recorded ancestor of a process adds
/// one level, and the enricher keeps at most 512 of them, so this leaves room for the rest
/// of the event while keeping a crafted record (a thousand parents deep) from overflowing
/// the decoding thread's stack; such a record is skipped like any that does not decode.
pub const MAX_NESTING: usize = 600;
/// Stack for threads that decode records: recursion down to [`MAX_NESTING`] fits in it
/// with room to spare, in debug builds too. Only the pages touched take memory.
pub const DECODE_STACK: usize = 64 << 20;

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct CaptureHeader {
    pub version: u32,
    /// Where the events were recorded.
    pub hostname: String,
    /// Epoch ns when recording started.
    pub created_ns: u64,
    /// What produced the events (`probes`, `synthetic`, …).
    pub producer: String,
}

#[derive(Debug, thiserror::Error)]
pub enum CaptureError {
    #[error("{path}: {source}")]
    Io { path: PathBuf, source: io::Error },
    #[error("{path}: not a Peregrine capture file (bad magic)")]
    BadMagic { path: PathBuf },
    #[error("{path}: capture format version {found} is not supported (this build reads version {FORMAT_VERSION})")]
    Version { path: PathBuf, found: u32 },
    #[error("{path}: bad header: {reason}")]
    Header { path: PathBuf, reason: String },
    #[error("{path}: byte {offset}: {reason}")]
    Record {
        path: PathBuf,
        offset: u64,
        reason: String,
    },
    #[error("{path}: truncated at byte {offset}: {reason}")]
    Truncated {
        path: PathBuf,
        offset: u64,
        reason: String,
    },
}

impl CaptureError {
    /// A record that cannot be decoded but can be skipped.
    pub fn is_skippable(&self) -> bool {
        matches!(self, CaptureError::Record { .. })
    }
}

/// Writes a capture file.
pub struct CaptureWriter {
    out: BufWriter<File>,
    path: PathBuf,
    buf: Vec<u8>,
    /// Records written.
    pub written: u64,
    /// Bytes written, header included.
    pub bytes: u64,
}

impl CaptureWriter {
    pub fn create(path: &Path, header: &CaptureHeader) -> Result<CaptureWriter, CaptureError> {
        let io_err = |source| CaptureError::Io {
            path: path.to_path_buf(),
            source,
        };
        let file = File::create(path).map_err(io_err)?;
        let mut w = CaptureWriter {
            out: BufWriter::new(file),
            path: path.to_path_buf(),
            buf: Vec::new(),
            written: 0,
            bytes: 0,
        };
        let head = rmp_serde::to_vec_named(header).map_err(|e| CaptureError::Header {
            path: path.to_path_buf(),
            reason: e.to_string(),
        })?;
        w.out.write_all(MAGIC).map_err(io_err)?;
        w.out
            .write_all(&(head.len() as u32).to_le_bytes())
            .map_err(io_err)?;
        w.out.write_all(&head).map_err(io_err)?;
        w.bytes = (MAGIC.len() + 4 + head.len()) as u64;
        Ok(w)
    }

    pub fn write(&mut self, ev: &Event) -> Result<(), CaptureError> {
        self.buf.clear();
        rmp_serde::encode::write_named(&mut self.buf, ev).map_err(|e| CaptureError::Record {
            path: self.path.clone(),
            offset: 0,
            reason: e.to_string(),
        })?;
        let io_err = |source| CaptureError::Io {
            path: self.path.clone(),
            source,
        };
        self.out
            .write_all(&(self.buf.len() as u32).to_le_bytes())
            .map_err(io_err)?;
        self.out
            .write_all(&self.buf)
            .map_err(|source| CaptureError::Io {
                path: self.path.clone(),
                source,
            })?;
        self.written += 1;
        self.bytes += 4 + self.buf.len() as u64;
        Ok(())
    }

    pub fn finish(mut self) -> Result<u64, CaptureError> {
        self.out.flush().map_err(|source| CaptureError::Io {
            path: self.path.clone(),
            source,
        })?;
        Ok(self.written)
    }
}

/// Reads a capture file record by record.
pub struct CaptureReader<R: Read = BufReader<File>> {
    input: R,
    path: PathBuf,
    pub header: CaptureHeader,
    offset: u64,
    buf: Vec<u8>,
    done: bool,
}

impl CaptureReader {
    pub fn open(path: &Path) -> Result<CaptureReader, CaptureError> {
        let file = File::open(path).map_err(|source| CaptureError::Io {
            path: path.to_path_buf(),
            source,
        })?;
        CaptureReader::new(BufReader::with_capacity(1 << 20, file), path)
    }
}

/// Fills `buf` completely; `Ok(false)` on a clean end before the first byte.
fn read_exact_or_eof(r: &mut impl Read, buf: &mut [u8]) -> io::Result<bool> {
    let mut filled = 0;
    while filled < buf.len() {
        match r.read(&mut buf[filled..]) {
            Ok(0) if filled == 0 => return Ok(false),
            Ok(0) => {
                return Err(io::Error::new(
                    io::ErrorKind::UnexpectedEof,
                    format!("{filled} of {} bytes", buf.len()),
                ))
            }
            Ok(n) => filled += n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok(true)
}

/// One event record, refused when nested deeper than [`MAX_NESTING`].
fn decode_event(bytes: &[u8]) -> Result<Event, rmp_serde::decode::Error> {
    let mut de = rmp_serde::Deserializer::from_read_ref(bytes);
    de.set_max_depth(MAX_NESTING);
    Event::deserialize(&mut de)
}

impl<R: Read> CaptureReader<R> {
    pub fn new(mut input: R, path: &Path) -> Result<CaptureReader<R>, CaptureError> {
        let path_buf = path.to_path_buf();
        let mut magic = vec![0u8; MAGIC.len()];
        match read_exact_or_eof(&mut input, &mut magic) {
            Ok(true) if magic == MAGIC => {}
            Ok(_) => return Err(CaptureError::BadMagic { path: path_buf }),
            Err(e) if e.kind() == io::ErrorKind::UnexpectedEof => {
                return Err(CaptureError::BadMagic { path: path_buf })
            }
            Err(source) => {
                return Err(CaptureError::Io {
                    path: path_buf,
                    source,
                })
            }
        }
        let mut len = [0u8; 4];
        let header_err = |reason: String| CaptureError::Header {
            path: path.to_path_buf(),
            reason,
        };
        if !read_exact_or_eof(&mut input, &mut len).map_err(|e| header_err(e.to_string()))? {
            return Err(header_err("missing header".into()));
        }
        let len = u32::from_le_bytes(len);
        if len > MAX_RECORD {
            return Err(header_err(format!("header length {len} is too large")));
        }
        let mut head = vec![0u8; len as usize];
        read_exact_or_eof(&mut input, &mut head).map_err(|e| header_err(e.to_string()))?;
        // Check the version before the rest, so a newer format says so instead of failing to decode.
        #[derive(Deserialize)]
        struct VersionOnly {
            version: u32,
        }
        let v: VersionOnly = rmp_serde::from_slice(&head).map_err(|e| header_err(e.to_string()))?;
        if v.version != FORMAT_VERSION {
            return Err(CaptureError::Version {
                path: path_buf,
                found: v.version,
            });
        }
        let header: CaptureHeader =
            rmp_serde::from_slice(&head).map_err(|e| header_err(e.to_string()))?;
        let offset = (MAGIC.len() + 4 + head.len()) as u64;
        Ok(CaptureReader {
            input,
            path: path_buf,
            header,
            offset,
            buf: Vec::new(),
            done: false,
        })
    }

    /// The next event; `None` at a clean end. A record that does not decode is an error the
    /// caller may skip ([`CaptureError::is_skippable`]); truncation and I/O errors end the read.
    pub fn next_event(&mut self) -> Option<Result<Event, CaptureError>> {
        if self.done {
            return None;
        }
        let start = self.offset;
        let mut len = [0u8; 4];
        match read_exact_or_eof(&mut self.input, &mut len) {
            Ok(false) => {
                self.done = true;
                return None;
            }
            Ok(true) => {}
            Err(e) => return Some(Err(self.fail(start, e))),
        }
        let len = u32::from_le_bytes(len);
        if len > MAX_RECORD {
            self.done = true;
            return Some(Err(CaptureError::Truncated {
                path: self.path.clone(),
                offset: start,
                reason: format!(
                    "record length {len} exceeds {MAX_RECORD}: the file is corrupt, stopping"
                ),
            }));
        }
        self.buf.resize(len as usize, 0);
        if let Err(e) = read_exact_or_eof(&mut self.input, &mut self.buf) {
            return Some(Err(self.fail(start, e)));
        }
        self.offset += 4 + len as u64;
        Some(decode_event(&self.buf).map_err(|e| CaptureError::Record {
            path: self.path.clone(),
            offset: start,
            reason: format!("event record does not decode: {e}"),
        }))
    }

    fn fail(&mut self, offset: u64, e: io::Error) -> CaptureError {
        self.done = true;
        if e.kind() == io::ErrorKind::UnexpectedEof {
            CaptureError::Truncated {
                path: self.path.clone(),
                offset,
                reason: e.to_string(),
            }
        } else {
            CaptureError::Io {
                path: self.path.clone(),
                source: e,
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use peregrine_event::synth::{Generator, SynthConfig};

    fn header() -> CaptureHeader {
        CaptureHeader {
            version: FORMAT_VERSION,
            hostname: "h".into(),
            created_ns: 1,
            producer: "test".into(),
        }
    }

    fn tmp(name: &str) -> PathBuf {
        std::env::temp_dir().join(format!("peregrine-capture-{}-{name}", std::process::id()))
    }

    #[test]
    fn round_trip() {
        let path = tmp("rt");
        let events: Vec<Event> = Generator::new(SynthConfig::default()).take(500).collect();
        let mut w = CaptureWriter::create(&path, &header()).unwrap();
        for ev in &events {
            w.write(ev).unwrap();
        }
        assert_eq!(w.finish().unwrap(), 500);
        let mut r = CaptureReader::open(&path).unwrap();
        assert_eq!(r.header, header());
        let mut n = 0;
        while let Some(ev) = r.next_event() {
            let ev = ev.unwrap();
            assert_eq!(ev.etype, events[n].etype);
            assert_eq!(ev.params, events[n].params);
            assert_eq!(
                ev.process.as_ref().unwrap().name,
                events[n].process.as_ref().unwrap().name
            );
            n += 1;
        }
        assert_eq!(n, 500);
        std::fs::remove_file(path).ok();
    }

    fn bytes_of(events: usize) -> Vec<u8> {
        let path = tmp(&format!("b{events}"));
        let mut w = CaptureWriter::create(&path, &header()).unwrap();
        for ev in Generator::new(SynthConfig::default()).take(events) {
            w.write(&ev).unwrap();
        }
        w.finish().unwrap();
        let b = std::fs::read(&path).unwrap();
        std::fs::remove_file(path).ok();
        b
    }

    fn read_all(bytes: &[u8]) -> (usize, Vec<CaptureError>) {
        let mut r = match CaptureReader::new(bytes, Path::new("mem")) {
            Ok(r) => r,
            Err(e) => return (0, vec![e]),
        };
        let (mut ok, mut errs) = (0, Vec::new());
        while let Some(ev) = r.next_event() {
            match ev {
                Ok(_) => ok += 1,
                Err(e) => errs.push(e),
            }
        }
        (ok, errs)
    }

    #[test]
    fn bad_input_is_reported_with_offsets() {
        let (_, e) = read_all(b"hello world, not a capture");
        assert!(matches!(e[0], CaptureError::BadMagic { .. }), "{e:?}");
        let (_, e) = read_all(b"");
        assert!(matches!(e[0], CaptureError::BadMagic { .. }));

        let good = bytes_of(10);
        // Truncated in the middle of the last record.
        let (ok, e) = read_all(&good[..good.len() - 5]);
        assert_eq!(ok, 9);
        assert!(matches!(e[0], CaptureError::Truncated { .. }), "{e:?}");
        assert!(e[0].to_string().contains("truncated at byte"));

        // A corrupted record body is skipped, the rest reads on.
        let mut bad = good.clone();
        let first_record = MAGIC.len()
            + 4
            + u32::from_le_bytes(bad[MAGIC.len()..MAGIC.len() + 4].try_into().unwrap()) as usize;
        for b in &mut bad[first_record + 4..first_record + 12] {
            *b = 0xc1; // never used in msgpack
        }
        let (ok, e) = read_all(&bad);
        assert_eq!(ok, 9);
        assert_eq!(e.len(), 1);
        assert!(e[0].is_skippable());
        assert!(
            e[0].to_string().contains(&format!("byte {first_record}")),
            "{}",
            e[0]
        );

        // An absurd length stops the read instead of allocating gigabytes.
        let mut huge = good.clone();
        huge[first_record..first_record + 4].copy_from_slice(&u32::MAX.to_le_bytes());
        let (ok, e) = read_all(&huge);
        assert_eq!(ok, 0);
        assert!(matches!(e[0], CaptureError::Truncated { .. }));

        // A newer format version is named.
        let mut newer = Vec::from(MAGIC);
        let head = rmp_serde::to_vec_named(&CaptureHeader {
            version: 99,
            ..header()
        })
        .unwrap();
        newer.extend((head.len() as u32).to_le_bytes());
        newer.extend(head);
        let (_, e) = read_all(&newer);
        assert!(e[0].to_string().contains("version 99"), "{}", e[0]);
    }

    /// An event whose process has `depth` ancestors.
    fn nested(depth: usize) -> Event {
        let ev = Generator::new(SynthConfig::default())
            .find(|e| e.process.is_some())
            .unwrap();
        peregrine_event::synth::with_ancestors(ev, depth)
    }

    /// On a stack the size the source thread gets, as the agent decodes.
    fn on_decode_stack<T: Send + 'static>(f: impl FnOnce() -> T + Send + 'static) -> T {
        std::thread::Builder::new()
            .stack_size(DECODE_STACK)
            .spawn(f)
            .unwrap()
            .join()
            .unwrap()
    }

    #[test]
    fn records_nested_past_the_bound_are_skipped_not_a_stack_overflow() {
        let (ok, errs) = on_decode_stack(|| {
            let path = tmp("deep");
            let mut w = CaptureWriter::create(&path, &header()).unwrap();
            // As deep as the enricher ever makes, then far past the bound.
            for depth in [512, 900, 3_000, 3] {
                w.write(&nested(depth)).unwrap();
            }
            w.finish().unwrap();
            let mut r = CaptureReader::open(&path).unwrap();
            let (mut ok, mut errs) = (Vec::new(), Vec::new());
            while let Some(ev) = r.next_event() {
                match ev {
                    Ok(ev) => ok.push(ev.process.unwrap().ancestors().count()),
                    Err(e) => errs.push(e.to_string()),
                }
            }
            std::fs::remove_file(&path).ok();
            (ok, errs)
        });
        assert_eq!(ok, vec![512, 3]);
        assert_eq!(errs.len(), 2, "{errs:?}");
        assert!(errs.iter().all(|e| e.contains("depth limit")), "{errs:?}");
    }
}
