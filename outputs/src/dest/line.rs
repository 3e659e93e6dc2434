//! Falco's line channels: stdout and file (one alert per line, Falco text or JSON).

use crate::error::OutputError;
use crate::record::Record;
use crate::worker::{Deliver, DeliveryError};
use peregrine_rules::{Alert, JsonOptions};
use std::fs::{File, OpenOptions};
use std::io::{self, BufWriter, Write};
use std::path::{Path, PathBuf};
use std::sync::Arc;

/// How alerts are rendered for line-oriented channels (falco.yaml `json_output`).
#[derive(Clone, Copy, Debug)]
pub enum LineFormat {
    /// `<time>: <Priority> <output>`.
    Text,
    /// One JSON object per line.
    Json(JsonOptions),
}

impl LineFormat {
    pub fn render(&self, alert: &Alert, out: &mut Vec<u8>) {
        match self {
            LineFormat::Text => out.extend_from_slice(alert.to_text_line().as_bytes()),
            LineFormat::Json(o) => out.extend_from_slice(alert.to_json_line(o).as_bytes()),
        }
        out.push(b'\n');
    }

    pub fn render_batch(&self, batch: &[Arc<Record>], out: &mut Vec<u8>) {
        out.clear();
        for r in batch {
            self.render(&r.alert, out);
        }
    }
}

fn io_error(what: &str, e: io::Error) -> DeliveryError {
    DeliveryError::retry(format!("{what}: {e}"))
}

/// Standard output, one line per alert; a whole batch per write. The writes happen on a
/// thread of their own (to a duplicate of fd 1, outside std's lock): when nobody reads the
/// pipe, that thread blocks, not the destination, whose timeout and drain deadline still
/// apply; a blocked thread is left behind when the agent exits.
pub struct Stdout {
    format: LineFormat,
    buffered: bool,
    buf: Vec<u8>,
    writer: Option<tokio::sync::mpsc::Sender<Job>>,
}

/// Bytes to write (flushed unless buffered) and where to say how it went.
struct Job {
    bytes: Vec<u8>,
    flush: bool,
    done: tokio::sync::oneshot::Sender<io::Result<()>>,
}

fn writer_thread(buffered: bool) -> io::Result<tokio::sync::mpsc::Sender<Job>> {
    use std::os::fd::AsFd;
    let fd = io::stdout().as_fd().try_clone_to_owned()?;
    let mut out = BufWriter::new(File::from(fd));
    let (tx, mut rx) = tokio::sync::mpsc::channel::<Job>(1);
    std::thread::Builder::new()
        .name("stdout-writer".into())
        .spawn(move || {
            while let Some(job) = rx.blocking_recv() {
                let r = out.write_all(&job.bytes).and_then(|_| {
                    if job.flush || !buffered {
                        out.flush()
                    } else {
                        Ok(())
                    }
                });
                let _ = job.done.send(r);
            }
            let _ = out.flush();
        })?;
    Ok(tx)
}

impl Stdout {
    pub fn new(format: LineFormat, buffered: bool) -> Stdout {
        Stdout {
            format,
            buffered,
            buf: Vec::new(),
            writer: None,
        }
    }

    async fn write(&mut self, bytes: Vec<u8>, flush: bool) -> io::Result<()> {
        if self.writer.is_none() {
            self.writer = Some(writer_thread(self.buffered)?);
        }
        let writer = self.writer.as_ref().expect("started above");
        let (done, result) = tokio::sync::oneshot::channel();
        writer
            .send(Job { bytes, flush, done })
            .await
            .map_err(|_| io::Error::other("the writer thread ended"))?;
        result
            .await
            .unwrap_or_else(|_| Err(io::Error::other("the writer thread ended")))
    }
}

impl Deliver for Stdout {
    async fn deliver(&mut self, batch: &[Arc<Record>]) -> Result<usize, DeliveryError> {
        self.format.render_batch(batch, &mut self.buf);
        let bytes = self.buf.clone();
        self.write(bytes, false)
            .await
            .map_err(|e| io_error("writing to stdout", e))?;
        Ok(batch.len())
    }

    async fn finish(&mut self) {
        if self.writer.is_some() {
            let _ = self.write(Vec::new(), true).await;
        }
    }
}

/// Appends to a file. With `keep_alive: false` (Falco's default) the file is opened for
/// each batch, so rotation by other tools needs no signal. Each batch is one `write` of
/// whole lines; a write cut short (a full disk) keeps the lines that made it, removes the
/// part of a line that did not, and reports only the rest as undelivered. Nothing is held
/// in user space between batches, so Falco's `buffered_outputs` changes nothing here.
pub struct FileLines {
    path: PathBuf,
    format: LineFormat,
    keep_alive: bool,
    file: Option<File>,
    buf: Vec<u8>,
    /// Where each rendered line of `buf` ends.
    ends: Vec<usize>,
}

fn open(path: &Path) -> io::Result<File> {
    OpenOptions::new().create(true).append(true).open(path)
}

/// Appends `buf` (lines ending at `ends`) to `f`. On an error, the bytes past the last
/// whole line written are cut off again; returns the lines written and the error.
fn append_lines(f: &mut File, buf: &[u8], ends: &[usize]) -> (usize, Option<io::Error>) {
    // An append-mode write lands at the end: where it started is the length before it.
    let start = f.metadata().map(|m| m.len());
    let mut written = 0;
    while written < buf.len() {
        match f.write(&buf[written..]) {
            Ok(0) => {
                return cut_back(f, start, written, ends, io::ErrorKind::WriteZero.into());
            }
            Ok(n) => written += n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return cut_back(f, start, written, ends, e),
        }
    }
    (ends.len(), None)
}

fn cut_back(
    f: &mut File,
    start: io::Result<u64>,
    written: usize,
    ends: &[usize],
    e: io::Error,
) -> (usize, Option<io::Error>) {
    let whole = ends.partition_point(|&end| end <= written);
    let keep = whole.checked_sub(1).map_or(0, |i| ends[i]);
    if written > keep {
        let cut = start.and_then(|start| f.set_len(start + keep as u64));
        if let Err(cut) = cut {
            tracing::error!("could not remove a partly written alert line: {cut}");
        }
    }
    (whole, Some(e))
}

impl FileLines {
    /// Opens the file once to fail at start, not at the first alert, if it cannot be written.
    pub fn new(
        path: &Path,
        format: LineFormat,
        keep_alive: bool,
    ) -> Result<FileLines, OutputError> {
        let file = open(path).map_err(|source| OutputError::Open {
            path: path.to_path_buf(),
            source,
        })?;
        Ok(FileLines {
            path: path.to_path_buf(),
            format,
            keep_alive,
            file: keep_alive.then_some(file),
            buf: Vec::new(),
            ends: Vec::new(),
        })
    }
}

impl Deliver for FileLines {
    async fn deliver(&mut self, batch: &[Arc<Record>]) -> Result<usize, DeliveryError> {
        self.buf.clear();
        self.ends.clear();
        for r in batch {
            self.format.render(&r.alert, &mut self.buf);
            self.ends.push(self.buf.len());
        }
        let what = || format!("writing {}", self.path.display());
        let mut opened;
        let file = match self.file.as_mut() {
            Some(f) => f,
            None => {
                opened = open(&self.path).map_err(|e| io_error(&what(), e))?;
                &mut opened
            }
        };
        let (written, error) = append_lines(file, &self.buf, &self.ends);
        match error {
            // The lines that made it are delivered; the worker tries the rest again.
            Some(_) if written > 0 => Ok(written),
            Some(e) => {
                // Reopen on the next attempt (the file may have been removed or rotated).
                if self.keep_alive {
                    self.file = open(&self.path).ok();
                }
                Err(io_error(&what(), e))
            }
            None => Ok(batch.len()),
        }
    }
}
