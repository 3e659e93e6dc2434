//! Processes: copies of the performer (a file or a memfd), users, capabilities, fork + exec.

use crate::evtgen::plan::{ProcessSpec, STAGE_ENV};
use anyhow::{bail, Context, Result};
use std::ffi::{CString, OsStr};
use std::fs;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};

/// What a process is exec'd from.
pub enum Exe {
    /// A copy of the performer on disk (removed by `cleanup`).
    File(PathBuf),
    /// A `memfd_create` copy, exec'd with `execveat(fd, "", AT_EMPTY_PATH)`.
    Memfd(OwnedFd),
}

impl Exe {
    /// Copies the running performer where `spec` asks: `dirname(exe)/name` for an absolute
    /// `exe`, else `workdir/name`; into a memfd named `name` when `fileless`.
    pub fn prepare(spec: &ProcessSpec, workdir: &Path) -> Result<Exe> {
        let name = spec
            .proc_name()
            .context("a process needs a name or an exe")?;
        if spec.fileless {
            return memfd_copy(&name).map(Exe::Memfd);
        }
        let dir = match spec.exe.as_deref().map(Path::new) {
            Some(exe) if exe.is_absolute() => exe.parent().unwrap_or(Path::new("/")).to_path_buf(),
            _ => workdir.to_path_buf(),
        };
        fs::create_dir_all(&dir).with_context(|| format!("creating {}", dir.display()))?;
        let path = dir.join(&name);
        // A copy, never a link: in a container it must really be in the upper layer.
        fs::copy("/proc/self/exe", &path)
            .with_context(|| format!("copying the performer to {}", path.display()))?;
        fs::set_permissions(&path, fs::Permissions::from_mode(0o755))?;
        Ok(Exe::File(path))
    }

    pub fn cleanup(&self) {
        if let Exe::File(p) = self {
            let _ = fs::remove_file(p);
        }
    }
}

fn memfd_copy(name: &str) -> Result<OwnedFd> {
    let cname = CString::new(name)?;
    // SAFETY: a valid C string; flags 0 (the fd must survive until the exec uses it).
    let fd = unsafe { libc::memfd_create(cname.as_ptr(), 0) };
    if fd < 0 {
        return Err(std::io::Error::last_os_error()).context("memfd_create");
    }
    // SAFETY: fd was just returned to us and nothing else owns it.
    let owned = unsafe { OwnedFd::from_raw_fd(fd) };
    let mut out = fs::File::from(owned.try_clone()?);
    let mut src = fs::File::open("/proc/self/exe")?;
    std::io::copy(&mut src, &mut out).context("copying the performer into the memfd")?;
    Ok(owned)
}

/// A user from the passwd file of the root this process sees.
#[derive(Clone, Copy, Debug)]
pub struct User {
    pub uid: u32,
    pub gid: u32,
}

pub fn lookup_user(name: &str) -> Result<User> {
    let passwd = fs::read_to_string("/etc/passwd").context("reading /etc/passwd")?;
    for line in passwd.lines() {
        let f: Vec<&str> = line.split(':').collect();
        if f.len() >= 4 && f[0] == name {
            return Ok(User {
                uid: f[2].parse().context("uid")?,
                gid: f[3].parse().context("gid")?,
            });
        }
    }
    bail!("user {name:?} is not in /etc/passwd")
}

fn cstrings<I, S>(items: I) -> Result<Vec<CString>>
where
    I: IntoIterator<Item = S>,
    S: AsRef<OsStr>,
{
    items
        .into_iter()
        .map(|s| CString::new(s.as_ref().as_bytes()).context("NUL in an argument"))
        .collect()
}

fn pointers(v: &[CString]) -> Vec<*const libc::c_char> {
    v.iter()
        .map(|c| c.as_ptr())
        .chain(std::iter::once(std::ptr::null()))
        .collect()
}

/// Starts `spec` from `exe` as a child: argv `[argv0, args...]`, this process's environment
/// plus `env`, the spec's own and `STAGE_ENV=stage`. Returns its pid.
pub fn spawn(
    exe: &Exe,
    spec: &ProcessSpec,
    env: &[(String, String)],
    stage: &str,
) -> Result<libc::pid_t> {
    let argv0 = spec.argv0().context("a process needs a name or an exe")?;
    let argv = cstrings(std::iter::once(argv0).chain(spec.args.iter().cloned()))?;
    // The plan's variables first: an agent reads a bounded prefix of the environment
    // (Falco too), and identity markers must be in it whatever else is inherited.
    let mut vars: Vec<(String, String)> = env.to_vec();
    vars.extend(spec.env.iter().map(|(k, v)| (k.clone(), v.clone())));
    vars.push((STAGE_ENV.to_string(), stage.to_string()));
    let inherited: Vec<(String, String)> = std::env::vars()
        .filter(|(k, _)| !vars.iter().any(|(e, _)| e == k))
        .collect();
    vars.extend(inherited);
    let envp = cstrings(vars.iter().map(|(k, v)| format!("{k}={v}")))?;
    let user = spec.user.as_deref().map(lookup_user).transpose()?;
    let path = match exe {
        Exe::File(p) => Some(CString::new(p.as_os_str().as_bytes())?),
        Exe::Memfd(_) => None,
    };
    let memfd = match exe {
        Exe::Memfd(fd) => fd.as_raw_fd(),
        Exe::File(_) => -1,
    };
    let (argv_p, envp_p) = (pointers(&argv), pointers(&envp));
    let empty = c"";
    // The exec closes this pipe's write end (O_CLOEXEC): EOF without a message means the
    // child is running its new image, so callers never act before the exec happened.
    let mut pipe = [0i32; 2];
    // SAFETY: pipe2 fills the array.
    if unsafe { libc::pipe2(pipe.as_mut_ptr(), libc::O_CLOEXEC) } != 0 {
        return Err(std::io::Error::last_os_error()).context("pipe2");
    }
    // SAFETY: the performer is single-threaded; the child only makes system calls on data
    // prepared above and leaves with exec or _exit.
    let pid = unsafe { libc::fork() };
    if pid < 0 {
        return Err(std::io::Error::last_os_error()).context("fork");
    }
    if pid == 0 {
        // SAFETY: child side, see above.
        unsafe {
            libc::close(pipe[0]);
            if let Some(u) = user {
                if let Err(e) = become_user(u) {
                    child_fail(pipe[1], &format!("switching to uid {}: {e}", u.uid));
                }
            }
            match &path {
                Some(p) => {
                    libc::execve(p.as_ptr(), argv_p.as_ptr(), envp_p.as_ptr());
                }
                None => {
                    libc::syscall(
                        libc::SYS_execveat,
                        memfd,
                        empty.as_ptr(),
                        argv_p.as_ptr(),
                        envp_p.as_ptr(),
                        libc::AT_EMPTY_PATH,
                    );
                }
            }
            child_fail(
                pipe[1],
                &format!("exec: {}", std::io::Error::last_os_error()),
            );
        }
    }
    // SAFETY: closing our copy of the write end, then reading the other end until EOF.
    let msg = unsafe {
        libc::close(pipe[1]);
        let mut f = fs::File::from_raw_fd(pipe[0]);
        let mut msg = String::new();
        let _ = std::io::Read::read_to_string(&mut f, &mut msg);
        msg
    };
    if !msg.is_empty() {
        let _ = wait(pid, "failed child");
        bail!("{} ({}): {msg}", spec.argv0().unwrap_or_default(), stage);
    }
    Ok(pid)
}

fn child_fail(report: i32, msg: &str) -> ! {
    // SAFETY: writing a buffer we own to the parent's pipe, then leaving without unwinding.
    unsafe {
        libc::write(report, msg.as_ptr().cast(), msg.len());
        libc::_exit(127)
    }
}

#[repr(C)]
struct CapHeader {
    version: u32,
    pid: i32,
}

#[repr(C)]
#[derive(Clone, Copy, Default)]
struct CapData {
    effective: u32,
    permitted: u32,
    inheritable: u32,
}

const CAP_V3: u32 = 0x2008_0522;

/// setuid/setgid to `u` keeping every capability this process holds, through the exec too
/// (the ambient set): the event-generator's default `capabilities: all=iep`.
fn become_user(u: User) -> std::io::Result<()> {
    let err = std::io::Error::last_os_error;
    // SAFETY: plain system calls on values we own.
    unsafe {
        if libc::prctl(libc::PR_SET_KEEPCAPS, 1, 0, 0, 0) != 0 {
            return Err(err());
        }
        let mut hdr = CapHeader {
            version: CAP_V3,
            pid: 0,
        };
        let mut data = [CapData::default(); 2];
        if libc::syscall(libc::SYS_capget, &mut hdr, data.as_mut_ptr()) != 0 {
            return Err(err());
        }
        let groups = [u.gid];
        if libc::setgroups(1, groups.as_ptr()) != 0
            || libc::setgid(u.gid) != 0
            || libc::setuid(u.uid) != 0
        {
            return Err(err());
        }
        for d in data.iter_mut() {
            d.effective = d.permitted;
            d.inheritable = d.permitted;
        }
        hdr.version = CAP_V3;
        if libc::syscall(libc::SYS_capset, &mut hdr, data.as_ptr()) != 0 {
            return Err(err());
        }
        for cap in 0..64u32 {
            let word = data[(cap / 32) as usize].permitted;
            if word & (1 << (cap % 32)) != 0 {
                libc::prctl(
                    libc::PR_CAP_AMBIENT,
                    libc::PR_CAP_AMBIENT_RAISE as libc::c_ulong,
                    cap as libc::c_ulong,
                    0 as libc::c_ulong,
                    0 as libc::c_ulong,
                );
            }
        }
    }
    Ok(())
}

/// Waits for `pid`; Ok when it exited with status 0.
pub fn wait(pid: libc::pid_t, what: &str) -> Result<()> {
    let mut status = 0;
    loop {
        // SAFETY: waiting for our own child.
        let r = unsafe { libc::waitpid(pid, &mut status, 0) };
        if r == pid {
            break;
        }
        let e = std::io::Error::last_os_error();
        if e.kind() != std::io::ErrorKind::Interrupted {
            return Err(e).with_context(|| format!("waiting for {what}"));
        }
    }
    if libc::WIFEXITED(status) && libc::WEXITSTATUS(status) == 0 {
        Ok(())
    } else if libc::WIFEXITED(status) {
        bail!("{what} exited with {}", libc::WEXITSTATUS(status))
    } else {
        bail!("{what} ended by signal {}", libc::WTERMSIG(status))
    }
}
