//! Falco's `syslog_output`: each alert as one datagram to the local syslog socket
//! (`/dev/log`), formatted as glibc's `syslog(3)` does: `<PRI>Mmm dd hh:mm:ss tag[pid]: msg`,
//! facility `user`, severity from the alert's priority.

use super::line::LineFormat;
use crate::record::Record;
use crate::worker::{Deliver, DeliveryError};
use peregrine_rules::Priority;
use std::os::unix::net::UnixDatagram;
use std::path::PathBuf;
use std::sync::Arc;

const FACILITY_USER: u8 = 1;

pub struct Syslog {
    path: PathBuf,
    format: LineFormat,
    tag: String,
    socket: Option<UnixDatagram>,
    buf: Vec<u8>,
}

impl Syslog {
    pub fn new(path: PathBuf, format: LineFormat) -> Syslog {
        Syslog {
            path,
            format,
            tag: format!("peregrine[{}]", std::process::id()),
            socket: None,
            buf: Vec::new(),
        }
    }
}

/// Syslog severity: Falco's priorities are syslog's levels (Emergency 0 … Debug 7).
pub fn severity(p: Priority) -> u8 {
    p as u8
}

/// `Mmm dd hh:mm:ss` in local time, as RFC 3164 and glibc write it.
fn timestamp(epoch_secs: i64) -> String {
    const MONTHS: [&str; 12] = [
        "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
    ];
    // SAFETY: localtime_r writes into the zeroed struct we own; a null return means failure.
    let mut tm: libc::tm = unsafe { std::mem::zeroed() };
    let t: libc::time_t = epoch_secs as libc::time_t;
    let ok = unsafe { !libc::localtime_r(&t, &mut tm).is_null() };
    if !ok {
        return "Jan  1 00:00:00".into();
    }
    format!(
        "{} {:>2} {:02}:{:02}:{:02}",
        MONTHS[tm.tm_mon.clamp(0, 11) as usize],
        tm.tm_mday,
        tm.tm_hour,
        tm.tm_min,
        tm.tm_sec
    )
}

/// One syslog datagram.
pub fn message(tag: &str, p: Priority, now_secs: i64, line: &[u8]) -> Vec<u8> {
    let pri = FACILITY_USER * 8 + severity(p);
    let mut m = format!("<{pri}>{} {tag}: ", timestamp(now_secs)).into_bytes();
    m.extend_from_slice(line.strip_suffix(b"\n").unwrap_or(line));
    m
}

impl Deliver for Syslog {
    async fn deliver(&mut self, batch: &[Arc<Record>]) -> Result<usize, DeliveryError> {
        if self.socket.is_none() {
            let s = UnixDatagram::unbound()
                .and_then(|s| s.connect(&self.path).map(|_| s))
                .map_err(|e| {
                    DeliveryError::retry(format!("connecting to {}: {e}", self.path.display()))
                })?;
            self.socket = Some(s);
        }
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_secs() as i64);
        let socket = self.socket.as_ref().expect("connected above");
        for (i, r) in batch.iter().enumerate() {
            self.buf.clear();
            self.format.render(&r.alert, &mut self.buf);
            let m = message(&self.tag, r.alert.priority, now, &self.buf);
            if let Err(e) = socket.send(&m) {
                self.socket = None;
                if i > 0 {
                    return Ok(i);
                }
                return Err(DeliveryError::retry(format!(
                    "sending to {}: {e}",
                    self.path.display()
                )));
            }
        }
        Ok(batch.len())
    }
}
