//! Falco's `program_output`: alert lines written to the standard input of `sh -c <program>`.
//! With `keep_alive` one process takes every alert and is started again if it dies (counted
//! as a restart of the destination); without, each alert gets its own process, as Falco
//! does, and the destination waits for it to end.
//!
//! Nothing here can block the destination's thread: the pipe is non-blocking and the
//! process is waited on by polling, so the worker's timeout and drain deadline always
//! apply, and a process left behind by a cut-short delivery is killed. An alert counts as
//! delivered only once the program took it: without `keep_alive` when the program exited
//! with status 0, with it once the program read it from the pipe.

use super::line::LineFormat;
use super::pipe::{self, Poll, Running};
use crate::record::Record;
use crate::worker::{Deliver, DeliveryError};
use std::os::unix::process::CommandExt;
use std::process::{Command, Stdio};
use std::sync::Arc;

pub struct Program {
    command: String,
    format: LineFormat,
    keep_alive: bool,
    child: Option<Running>,
    /// A write to `child` was cut short: its input may end mid-line, so it is replaced.
    torn: bool,
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
            torn: false,
            buf: Vec::new(),
            started: 0,
        }
    }

    fn spawn(&mut self) -> Result<Running, DeliveryError> {
        self.started += 1;
        let child = Command::new("sh")
            .arg("-c")
            .arg(&self.command)
            .stdin(Stdio::piped())
            // Its own process group, so that what `sh` starts is killed with it.
            .process_group(0)
            .spawn()
            .map_err(|e| self.error(format!("cannot start it: {e}")))?;
        let running = Running(child);
        if let Some(stdin) = running.0.stdin.as_ref() {
            pipe::set_nonblocking(stdin).map_err(|e| self.error(e))?;
        }
        Ok(running)
    }

    fn error(&self, what: impl std::fmt::Display) -> DeliveryError {
        DeliveryError::retry(format!("program `{}`: {what}", self.command))
    }

    /// One process per alert: written, stdin closed, delivered if it exits with status 0.
    async fn one_shot(&mut self, batch: &[Arc<Record>]) -> Result<usize, DeliveryError> {
        self.buf.clear();
        self.format.render(&batch[0].alert, &mut self.buf);
        let mut running = self.spawn()?;
        let child = &mut running.0;
        if let Some(mut stdin) = child.stdin.take() {
            // A program may exit without reading its input: its status decides.
            if let Err(e) = pipe::write_all(&mut stdin, child, &self.buf).await {
                tracing::debug!("program `{}`: writing: {e}", self.command);
            }
        }
        let status = pipe::wait(child).await.map_err(|e| self.error(e))?;
        if status.success() {
            Ok(1)
        } else {
            Err(self.error(format!("exited with {status}")))
        }
    }

    async fn kept_alive(&mut self, batch: &[Arc<Record>]) -> Result<usize, DeliveryError> {
        if self.torn {
            self.child = None;
            self.torn = false;
        }
        if let Some(c) = self.child.as_mut() {
            if let Ok(Some(status)) = c.0.try_wait() {
                // Started again at the next attempt, after the worker's backoff.
                self.child = None;
                return Err(self.error(format!("exited ({status}); it will be restarted")));
            }
        }
        if self.child.is_none() {
            if self.started > 0 {
                tracing::info!("restarting program `{}`", self.command);
            }
            self.child = Some(self.spawn()?);
        }
        self.format.render_batch(batch, &mut self.buf);
        self.torn = true;
        let result = self.write_and_wait_read().await;
        self.torn = false;
        if let Err(e) = result {
            self.child = None;
            return Err(self.error(format!("{e}; it will be restarted")));
        }
        Ok(batch.len())
    }

    /// Writes the batch, then waits until the program has read all of it.
    async fn write_and_wait_read(&mut self) -> std::io::Result<()> {
        let Some(Running(child)) = self.child.as_mut() else {
            return Err(std::io::Error::other("not running"));
        };
        let mut stdin = child
            .stdin
            .take()
            .ok_or_else(|| std::io::Error::other("no stdin"))?;
        let result = async {
            pipe::write_all(&mut stdin, child, &self.buf).await?;
            let mut poll = Poll::new();
            while pipe::unread(&stdin)? > 0 {
                if let Some(status) = child.try_wait()? {
                    return Err(std::io::Error::other(format!(
                        "exited ({status}) before reading its input"
                    )));
                }
                poll.sleep().await;
            }
            Ok(())
        }
        .await;
        child.stdin = Some(stdin);
        result
    }
}

impl Deliver for Program {
    fn per_request(&self) -> Option<usize> {
        (!self.keep_alive).then_some(1)
    }

    async fn deliver(&mut self, batch: &[Arc<Record>]) -> Result<usize, DeliveryError> {
        if self.keep_alive {
            self.kept_alive(batch).await
        } else {
            self.one_shot(batch).await
        }
    }

    fn restarts(&self) -> u64 {
        if self.keep_alive {
            self.started.saturating_sub(1)
        } else {
            0
        }
    }

    async fn finish(&mut self) {
        if let Some(mut running) = self.child.take() {
            // Closing stdin lets the program finish its work and exit; the worker cuts
            // this short at the drain deadline, and dropping `running` kills it.
            drop(running.0.stdin.take());
            let _ = pipe::wait(&mut running.0).await;
        }
    }
}
