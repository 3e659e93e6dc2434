//! Steps: each one raw system call with arguments from the plan.

use crate::evtgen::names;
use crate::evtgen::plan::Step;
use crate::evtgen::resources::{allowed, Bindings, RawAddr};
use anyhow::{bail, Context, Result};
use serde_json::{Map, Value};
use std::ffi::CString;
use std::net::{IpAddr, SocketAddr};

struct Args<'a> {
    map: &'a Map<String, Value>,
    bind: &'a Bindings,
}

impl Args<'_> {
    fn raw(&self, key: &str) -> Option<&Value> {
        self.map.get(key)
    }

    /// A `${ name.field }` reference, resolved.
    fn bound(&self, v: &Value) -> Result<Option<i64>> {
        let Some(s) = v.as_str() else { return Ok(None) };
        let t = s.trim();
        let Some(inner) = t.strip_prefix("${").and_then(|r| r.strip_suffix('}')) else {
            return Ok(None);
        };
        let key = inner.trim();
        match self.bind.get(key) {
            Some(v) => Ok(Some(*v)),
            None => bail!("{s}: no such resource field or step result"),
        }
    }

    fn int(&self, key: &str) -> Result<i64> {
        let v = self
            .raw(key)
            .with_context(|| format!("argument {key} is missing"))?;
        self.int_of(key, v)
    }

    fn int_or(&self, key: &str, default: i64) -> Result<i64> {
        match self.raw(key) {
            Some(v) => self.int_of(key, v),
            None => Ok(default),
        }
    }

    fn int_of(&self, key: &str, v: &Value) -> Result<i64> {
        if let Some(b) = self.bound(v)? {
            return Ok(b);
        }
        names::parse(v).with_context(|| format!("argument {key}"))
    }

    fn path(&self, key: &str) -> Result<CString> {
        match self.raw(key) {
            Some(Value::String(s)) => Ok(CString::new(s.as_str())?),
            Some(other) => bail!("argument {key}: expected a path, got {other}"),
            None => bail!("argument {key} is missing"),
        }
    }

    fn bytes(&self, key: &str) -> Result<Vec<u8>> {
        match self.raw(key) {
            Some(Value::String(s)) => Ok(s.as_bytes().to_vec()),
            Some(Value::Array(a)) => a
                .iter()
                .map(|b| {
                    b.as_u64()
                        .and_then(|b| u8::try_from(b).ok())
                        .context("a byte 0-255")
                })
                .collect(),
            Some(other) => bail!("argument {key}: expected text or bytes, got {other}"),
            None => Ok(Vec::new()),
        }
    }

    fn sockaddr(&self, key: &str, netns: &[IpAddr]) -> Result<RawAddr> {
        let text = match self.raw(key) {
            Some(Value::String(s)) => s.clone(),
            Some(other) => bail!("argument {key}: expected ip:port, got {other}"),
            None => bail!("argument {key} is missing"),
        };
        let addr: SocketAddr = text.parse().with_context(|| format!("argument {key}"))?;
        allowed(addr.ip(), netns)?;
        Ok(RawAddr::new(addr))
    }
}

#[repr(C)]
struct OpenHow {
    flags: u64,
    mode: u64,
    resolve: u64,
}

/// Runs one step; returns the system call's result (failures are errors).
pub fn run(step: &Step, bind: &Bindings, netns: &[IpAddr]) -> Result<i64> {
    let a = Args {
        map: &step.args,
        bind,
    };
    let cwd = libc::AT_FDCWD as i64;
    // SAFETY: every call gets valid C strings and buffers owned by this frame; descriptor
    // arguments are whatever the plan names, as in the suite (a wrong one fails with EBADF).
    let r: libc::c_long = unsafe {
        match step.syscall.as_str() {
            "open" => libc::syscall(
                libc::SYS_open,
                a.path("pathname")?.as_ptr(),
                a.int_or("flags", 0)?,
                a.int_or("mode", 0)?,
            ),
            "openat" => libc::syscall(
                libc::SYS_openat,
                a.int_or("dirfd", cwd)?,
                a.path("pathname")?.as_ptr(),
                a.int_or("flags", 0)?,
                a.int_or("mode", 0)?,
            ),
            "openat2" => {
                let how_args = match a.raw("how") {
                    Some(Value::Object(m)) => m.clone(),
                    None => Map::new(),
                    Some(other) => bail!("argument how: expected a mapping, got {other}"),
                };
                let h = Args {
                    map: &how_args,
                    bind,
                };
                let how = OpenHow {
                    flags: h.int_or("flags", 0)? as u64,
                    mode: h.int_or("mode", 0)? as u64,
                    resolve: h.int_or("resolve", 0)? as u64,
                };
                libc::syscall(
                    libc::SYS_openat2,
                    a.int_or("dirfd", cwd)?,
                    a.path("pathname")?.as_ptr(),
                    &how as *const OpenHow,
                    std::mem::size_of::<OpenHow>(),
                )
            }
            "creat" => libc::syscall(
                libc::SYS_creat,
                a.path("pathname")?.as_ptr(),
                a.int_or("mode", 0)?,
            ),
            "link" => libc::syscall(
                libc::SYS_link,
                a.path("oldPath")?.as_ptr(),
                a.path("newPath")?.as_ptr(),
            ),
            "linkat" => libc::syscall(
                libc::SYS_linkat,
                a.int_or("oldDirfd", cwd)?,
                a.path("oldPath")?.as_ptr(),
                a.int_or("newDirfd", cwd)?,
                a.path("newPath")?.as_ptr(),
                a.int_or("flags", 0)?,
            ),
            "symlink" => libc::syscall(
                libc::SYS_symlink,
                a.path("target")?.as_ptr(),
                a.path("linkPath")?.as_ptr(),
            ),
            "symlinkat" => libc::syscall(
                libc::SYS_symlinkat,
                a.path("target")?.as_ptr(),
                a.int_or("newDirfd", cwd)?,
                a.path("linkPath")?.as_ptr(),
            ),
            "unlink" => libc::syscall(libc::SYS_unlink, a.path("pathname")?.as_ptr()),
            "unlinkat" => libc::syscall(
                libc::SYS_unlinkat,
                a.int_or("dirfd", cwd)?,
                a.path("pathname")?.as_ptr(),
                a.int_or("flags", 0)?,
            ),
            "dup" => libc::syscall(libc::SYS_dup, a.int("oldFd")?),
            "dup2" => libc::syscall(libc::SYS_dup2, a.int("oldFd")?, a.int("newFd")?),
            "dup3" => libc::syscall(
                libc::SYS_dup3,
                a.int("oldFd")?,
                a.int("newFd")?,
                a.int_or("flags", 0)?,
            ),
            "socket" => libc::syscall(
                libc::SYS_socket,
                a.int("domain")?,
                a.int("type")?,
                a.int_or("protocol", 0)?,
            ),
            "bind" => {
                let addr = a.sockaddr("address", netns)?;
                libc::syscall(libc::SYS_bind, a.int("fd")?, addr.as_ptr(), addr.len)
            }
            "listen" => libc::syscall(libc::SYS_listen, a.int("fd")?, a.int_or("backlog", 16)?),
            "connect" => {
                let addr = a.sockaddr("address", netns)?;
                libc::syscall(libc::SYS_connect, a.int("fd")?, addr.as_ptr(), addr.len)
            }
            "sendto" => {
                let buf = a.bytes("buffer")?;
                let fd = a.int("fd")?;
                let flags = a.int_or("flags", 0)?;
                if a.raw("destAddr").is_some() {
                    let addr = a.sockaddr("destAddr", netns)?;
                    libc::syscall(
                        libc::SYS_sendto,
                        fd,
                        buf.as_ptr(),
                        buf.len(),
                        flags,
                        addr.as_ptr(),
                        addr.len,
                    )
                } else {
                    libc::syscall(
                        libc::SYS_sendto,
                        fd,
                        buf.as_ptr(),
                        buf.len(),
                        flags,
                        std::ptr::null::<libc::sockaddr>(),
                        0,
                    )
                }
            }
            "read" => {
                let mut buf = vec![0u8; a.int_or("len", 64)?.clamp(0, 1 << 20) as usize];
                libc::syscall(libc::SYS_read, a.int("fd")?, buf.as_mut_ptr(), buf.len())
            }
            "write" => {
                let buf = a.bytes("buffer")?;
                libc::syscall(libc::SYS_write, a.int("fd")?, buf.as_ptr(), buf.len())
            }
            "close" => libc::syscall(libc::SYS_close, a.int("fd")?),
            "kill" => libc::syscall(libc::SYS_kill, a.int("pid")?, a.int_or("sig", 0)?),
            other => bail!("unsupported syscall {other:?}"),
        }
    };
    if r < 0 {
        return Err(std::io::Error::last_os_error()).context(format!("{} failed", step.syscall));
    }
    Ok(r)
}
