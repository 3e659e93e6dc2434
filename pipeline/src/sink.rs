//! Alert sinks of the pipeline: stdout and file (the rich destinations live in
//! `peregrine-outputs`). A sink writes whole batches; each runs on its own thread behind
//! its own bounded queue.

use peregrine_rules::{Alert, JsonOptions};
use std::fs::{File, OpenOptions};
use std::io::{self, BufWriter, Write};
use std::path::{Path, PathBuf};

/// How alerts are rendered for line-oriented sinks.
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
}

/// A destination for alerts.
pub trait Sink: Send {
    fn name(&self) -> &str;
    /// Writes a batch; an error means none of the batch is known to be written.
    fn write(&mut self, alerts: &[Alert]) -> io::Result<()>;
    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

/// Standard output, one line per alert.
pub struct StdoutSink {
    format: LineFormat,
    buffered: bool,
    buf: Vec<u8>,
}

impl StdoutSink {
    pub fn new(format: LineFormat, buffered: bool) -> StdoutSink {
        StdoutSink {
            format,
            buffered,
            buf: Vec::new(),
        }
    }
}

impl Sink for StdoutSink {
    fn name(&self) -> &str {
        "stdout"
    }

    fn write(&mut self, alerts: &[Alert]) -> io::Result<()> {
        self.buf.clear();
        for a in alerts {
            self.format.render(a, &mut self.buf);
        }
        let mut out = io::stdout().lock();
        out.write_all(&self.buf)?;
        if !self.buffered {
            out.flush()?;
        }
        Ok(())
    }

    fn flush(&mut self) -> io::Result<()> {
        io::stdout().lock().flush()
    }
}

/// Appends to a file. With `keep_alive: false` (Falco's default) the file is opened for
/// each batch, so rotation by other tools needs no signal.
pub struct FileSink {
    path: PathBuf,
    format: LineFormat,
    keep_alive: bool,
    buffered: bool,
    file: Option<BufWriter<File>>,
    buf: Vec<u8>,
}

impl FileSink {
    pub fn new(
        path: &Path,
        format: LineFormat,
        keep_alive: bool,
        buffered: bool,
    ) -> io::Result<FileSink> {
        // Fail at start, not at the first alert, when the file cannot be written.
        let file = OpenOptions::new().create(true).append(true).open(path)?;
        Ok(FileSink {
            path: path.to_path_buf(),
            format,
            keep_alive,
            buffered,
            file: keep_alive.then(|| BufWriter::new(file)),
            buf: Vec::new(),
        })
    }

    fn open(&self) -> io::Result<BufWriter<File>> {
        Ok(BufWriter::new(
            OpenOptions::new()
                .create(true)
                .append(true)
                .open(&self.path)?,
        ))
    }
}

impl Sink for FileSink {
    fn name(&self) -> &str {
        "file"
    }

    fn write(&mut self, alerts: &[Alert]) -> io::Result<()> {
        self.buf.clear();
        for a in alerts {
            self.format.render(a, &mut self.buf);
        }
        let mut owned;
        let file = match self.file.as_mut() {
            Some(f) => f,
            None => {
                owned = self.open()?;
                &mut owned
            }
        };
        file.write_all(&self.buf)?;
        if !self.buffered || !self.keep_alive {
            file.flush()?;
        }
        Ok(())
    }

    fn flush(&mut self) -> io::Result<()> {
        match self.file.as_mut() {
            Some(f) => f.flush(),
            None => Ok(()),
        }
    }
}
