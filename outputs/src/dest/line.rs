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
/// each batch, so rotation by other tools needs no signal.
pub struct FileLines {
    path: PathBuf,
    format: LineFormat,
    keep_alive: bool,
    buffered: bool,
    file: Option<BufWriter<File>>,
    buf: Vec<u8>,
}

fn open(path: &Path) -> io::Result<File> {
    OpenOptions::new().create(true).append(true).open(path)
}

impl FileLines {
    /// Opens the file once to fail at start, not at the first alert, if it cannot be written.
    pub fn new(
        path: &Path,
        format: LineFormat,
        keep_alive: bool,
        buffered: bool,
    ) -> Result<FileLines, OutputError> {
        let file = open(path).map_err(|source| OutputError::Open {
            path: path.to_path_buf(),
            source,
        })?;
        Ok(FileLines {
            path: path.to_path_buf(),
            format,
            keep_alive,
            buffered,
            file: keep_alive.then(|| BufWriter::new(file)),
            buf: Vec::new(),
        })
    }
}

impl Deliver for FileLines {
    async fn deliver(&mut self, batch: &[Arc<Record>]) -> Result<usize, DeliveryError> {
        self.format.render_batch(batch, &mut self.buf);
        let what = || format!("writing {}", self.path.display());
        let result = match self.file.as_mut() {
            Some(f) => {
                f.write_all(&self.buf)
                    .and_then(|_| if self.buffered { Ok(()) } else { f.flush() })
            }
            None => open(&self.path).and_then(|mut f| f.write_all(&self.buf)),
        };
        if let Err(e) = result {
            // Reopen on the next attempt (the file may have been removed or rotated).
            if self.keep_alive {
                self.file = open(&self.path).ok().map(BufWriter::new);
            }
            return Err(io_error(&what(), e));
        }
        Ok(batch.len())
    }

    async fn finish(&mut self) {
        if let Some(f) = self.file.as_mut() {
            let _ = f.flush();
        }
    }
}
