//! Falco's `program_output`: alert lines written to the standard input of `sh -c <program>`.
//! With `keep_alive` one process takes every alert and is started again if it dies (counted
//! as a restart of the destination); without, each alert gets its own process, as Falco
//! does, and the destination waits for it to end.

use super::line::LineFormat;
use crate::record::Record;
use crate::worker::{Deliver, DeliveryError};
use std::io::Write;
use std::process::{Child, Command, Stdio};
use std::sync::Arc;

pub struct Program {
    command: String,
    format: LineFormat,
    keep_alive: bool,
    child: Option<Child>,
    buf: Vec<u8>,
    /// Processes started so far (the first is not a restart).
    pub started: u64,
}

impl Program {
    pub fn new(command: String, format: LineFormat, keep_alive: bool) -> Program {
        Program {
            command,
            format,
            keep_alive,
            child: None,
            buf: Vec::new(),
            started: 0,
        }
    }

    fn spawn(&mut self) -> Result<Child, DeliveryError> {
        self.started += 1;
        Command::new("sh")
            .arg("-c")
            .arg(&self.command)
            .stdin(Stdio::piped())
            .spawn()
            .map_err(|e| DeliveryError::retry(format!("starting `sh -c {}`: {e}", self.command)))
    }

    fn reap(&mut self) {
        if let Some(mut c) = self.child.take() {
            drop(c.stdin.take());
            let _ = c.kill();
            let _ = c.wait();
        }
    }
}

impl Deliver for Program {
    fn per_request(&self) -> Option<usize> {
        (!self.keep_alive).then_some(1)
    }

    async fn deliver(&mut self, batch: &[Arc<Record>]) -> Result<usize, DeliveryError> {
        if !self.keep_alive {
            self.buf.clear();
            self.format.render(&batch[0].alert, &mut self.buf);
            let mut child = self.spawn()?;
            let written = child
                .stdin
                .take()
                .map(|mut s| s.write_all(&self.buf))
                .unwrap_or(Ok(()));
            let status = child.wait();
            return match (written, status) {
                (Ok(()), Ok(_)) => Ok(1),
                (Err(e), _) | (_, Err(e)) => {
                    Err(DeliveryError::retry(format!("`{}`: {e}", self.command)))
                }
            };
        }
        // A process that ended since the last batch is started again.
        if let Some(c) = self.child.as_mut() {
            if let Ok(Some(status)) = c.try_wait() {
                tracing::warn!(
                    "program `{}` exited ({status}); restarting it",
                    self.command
                );
                self.reap();
            }
        }
        if self.child.is_none() {
            if self.started > 0 {
                tracing::info!("restarting program `{}`", self.command);
            }
            self.child = Some(self.spawn()?);
        }
        self.format.render_batch(batch, &mut self.buf);
        let child = self.child.as_mut().expect("started above");
        let result = match child.stdin.as_mut() {
            Some(stdin) => stdin.write_all(&self.buf).and_then(|_| stdin.flush()),
            None => Err(std::io::Error::other("no stdin")),
        };
        if let Err(e) = result {
            self.reap();
            return Err(DeliveryError::retry(format!(
                "writing to `{}` (it will be restarted): {e}",
                self.command
            )));
        }
        Ok(batch.len())
    }

    fn restarts(&self) -> u64 {
        if self.keep_alive {
            self.started.saturating_sub(1)
        } else {
            0
        }
    }

    fn finish(&mut self) {
        if let Some(mut c) = self.child.take() {
            // Closing stdin lets the program finish its work and exit.
            drop(c.stdin.take());
            let _ = c.wait();
        }
    }
}
