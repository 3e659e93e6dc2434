//! Resources a test's steps work on, their bound fields (`${ name.field }`) and teardown.

use crate::evtgen::chain::{self, Exe};
use crate::evtgen::plan::{ProcessSpec, Resource};
use anyhow::{bail, Context, Result};
use std::collections::HashMap;
use std::ffi::CString;
use std::net::{IpAddr, SocketAddr};
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};

/// Values steps can refer to: `"cs.client.fd"` → 5.
pub type Bindings = HashMap<String, i64>;

/// What the teardown undoes, in reverse order.
enum Undo {
    Close(i32),
    RemoveFile(PathBuf),
    RemoveDir(PathBuf),
    Kill(libc::pid_t, Exe),
}

#[derive(Default)]
pub struct Created {
    undo: Vec<Undo>,
}

impl Created {
    pub fn teardown(self) {
        for u in self.undo.into_iter().rev() {
            match u {
                Undo::Close(fd) => {
                    // SAFETY: closing a descriptor this module opened.
                    unsafe { libc::close(fd) };
                }
                Undo::RemoveFile(p) => {
                    let _ = std::fs::remove_file(p);
                }
                Undo::RemoveDir(p) => {
                    let _ = std::fs::remove_dir(p);
                }
                Undo::Kill(pid, exe) => {
                    // SAFETY: signalling and reaping our own child.
                    unsafe {
                        libc::kill(pid, libc::SIGKILL);
                        libc::waitpid(pid, std::ptr::null_mut(), 0);
                    }
                    exe.cleanup();
                }
            }
        }
    }
}

fn cpath(p: &Path) -> Result<CString> {
    Ok(CString::new(p.as_os_str().as_bytes())?)
}

fn check(r: libc::c_long, what: &str) -> Result<i64> {
    if r < 0 {
        return Err(std::io::Error::last_os_error()).context(what.to_string());
    }
    Ok(r)
}

/// Creates the missing parent directories of `path`, remembering them for the teardown.
fn make_parents(path: &Path, created: &mut Created) -> Result<()> {
    let mut missing = Vec::new();
    let mut cur = path.parent();
    while let Some(dir) = cur {
        if dir.as_os_str().is_empty() || dir.exists() {
            break;
        }
        missing.push(dir.to_path_buf());
        cur = dir.parent();
    }
    for dir in missing.into_iter().rev() {
        std::fs::create_dir(&dir).with_context(|| format!("creating {}", dir.display()))?;
        created.undo.push(Undo::RemoveDir(dir));
    }
    Ok(())
}

pub fn create(
    resources: &[Resource],
    workdir: &Path,
    env: &[(String, String)],
    netns_addrs: &[IpAddr],
) -> (Created, Bindings, Result<()>) {
    let mut created = Created::default();
    let mut bind = Bindings::new();
    for (i, r) in resources.iter().enumerate() {
        let res = create_one(r, i, workdir, env, netns_addrs, &mut created, &mut bind)
            .with_context(|| format!("resource {:?}", r.name()));
        if res.is_err() {
            return (created, bind, res);
        }
    }
    (created, bind, Ok(()))
}

fn create_one(
    r: &Resource,
    index: usize,
    workdir: &Path,
    env: &[(String, String)],
    netns_addrs: &[IpAddr],
    created: &mut Created,
    bind: &mut Bindings,
) -> Result<()> {
    match r {
        Resource::File { name, path } => {
            let existed = path.exists();
            make_parents(path, created)?;
            let mut flags = libc::O_RDWR | libc::O_CLOEXEC;
            if !existed {
                flags |= libc::O_CREAT;
            }
            let c = cpath(path)?;
            // SAFETY: a valid path; the mode only applies on creation.
            let fd = check(
                unsafe { libc::open(c.as_ptr(), flags, 0o644 as libc::c_uint) } as _,
                "open",
            )? as i32;
            if !existed {
                created.undo.push(Undo::RemoveFile(path.clone()));
            }
            created.undo.push(Undo::Close(fd));
            bind.insert(format!("{name}.fd"), fd as i64);
        }
        Resource::Directory { name, path } => {
            if !path.exists() {
                make_parents(path, created)?;
                std::fs::create_dir(path)
                    .with_context(|| format!("creating {}", path.display()))?;
                created.undo.push(Undo::RemoveDir(path.clone()));
            }
            let c = cpath(path)?;
            // SAFETY: a valid path.
            let fd = check(
                unsafe {
                    libc::open(
                        c.as_ptr(),
                        libc::O_RDONLY | libc::O_DIRECTORY | libc::O_CLOEXEC,
                    )
                } as _,
                "open",
            )? as i32;
            created.undo.push(Undo::Close(fd));
            bind.insert(format!("{name}.fd"), fd as i64);
        }
        Resource::ClientServer {
            name,
            l4proto,
            address,
        } => {
            let (client, server) = client_server(l4proto, address, netns_addrs, created)?;
            bind.insert(format!("{name}.client.fd"), client as i64);
            bind.insert(format!("{name}.server.fd"), server as i64);
        }
        Resource::Process {
            name,
            fileless,
            args,
        } => {
            let spec = ProcessSpec {
                name: Some(name.clone()),
                args: args.clone(),
                fileless: *fileless,
                ..ProcessSpec::default()
            };
            let exe = Exe::prepare(&spec, workdir)?;
            let pid = chain::spawn(&exe, &spec, env, &format!("resource:{index}"))?;
            bind.insert(format!("{name}.pid"), pid as i64);
            created.undo.push(Undo::Kill(pid, exe));
        }
    }
    Ok(())
}

/// A socket address in the kernel's layout.
pub struct RawAddr {
    storage: libc::sockaddr_storage,
    pub len: libc::socklen_t,
}

impl RawAddr {
    pub fn new(addr: SocketAddr) -> RawAddr {
        // SAFETY: sockaddr_storage is plain data; all zeroes is a valid value.
        let mut storage: libc::sockaddr_storage = unsafe { std::mem::zeroed() };
        let len = match addr {
            SocketAddr::V4(a) => {
                let sin = libc::sockaddr_in {
                    sin_family: libc::AF_INET as libc::sa_family_t,
                    sin_port: a.port().to_be(),
                    sin_addr: libc::in_addr {
                        s_addr: u32::from_ne_bytes(a.ip().octets()),
                    },
                    sin_zero: [0; 8],
                };
                // SAFETY: sockaddr_storage is larger than sockaddr_in and suitably aligned.
                unsafe { std::ptr::write(&mut storage as *mut _ as *mut libc::sockaddr_in, sin) };
                std::mem::size_of::<libc::sockaddr_in>()
            }
            SocketAddr::V6(a) => {
                let sin6 = libc::sockaddr_in6 {
                    sin6_family: libc::AF_INET6 as libc::sa_family_t,
                    sin6_port: a.port().to_be(),
                    sin6_flowinfo: 0,
                    sin6_addr: libc::in6_addr {
                        s6_addr: a.ip().octets(),
                    },
                    sin6_scope_id: a.scope_id(),
                };
                // SAFETY: as above, for sockaddr_in6.
                unsafe { std::ptr::write(&mut storage as *mut _ as *mut libc::sockaddr_in6, sin6) };
                std::mem::size_of::<libc::sockaddr_in6>()
            }
        };
        RawAddr {
            storage,
            len: len as libc::socklen_t,
        }
    }

    pub fn as_ptr(&self) -> *const libc::sockaddr {
        &self.storage as *const _ as *const libc::sockaddr
    }
}

/// Loopback addresses anywhere; others only inside the plan's own network namespace.
pub fn allowed(ip: IpAddr, netns_addrs: &[IpAddr]) -> Result<()> {
    if ip.is_loopback() || netns_addrs.contains(&ip) {
        return Ok(());
    }
    bail!("refusing {ip}: not loopback and not on the plan's own network namespace (netns)")
}

fn client_server(
    l4proto: &str,
    address: &str,
    netns_addrs: &[IpAddr],
    created: &mut Created,
) -> Result<(i32, i32)> {
    let (domain, ty) = match l4proto {
        "tcp4" => (libc::AF_INET, libc::SOCK_STREAM),
        "tcp6" => (libc::AF_INET6, libc::SOCK_STREAM),
        "udp4" => (libc::AF_INET, libc::SOCK_DGRAM),
        "udp6" => (libc::AF_INET6, libc::SOCK_DGRAM),
        other => bail!("unsupported l4Proto {other:?}"),
    };
    let addr: SocketAddr = address
        .parse()
        .with_context(|| format!("address {address:?}"))?;
    if addr.is_ipv4() != (domain == libc::AF_INET) {
        bail!("{l4proto} with address {address}: families differ");
    }
    allowed(addr.ip(), netns_addrs)?;
    let raw = RawAddr::new(addr);
    // SAFETY: system calls on descriptors this function creates and owns.
    unsafe {
        let server = check(
            libc::socket(domain, ty | libc::SOCK_CLOEXEC, 0) as _,
            "server socket",
        )? as i32;
        created.undo.push(Undo::Close(server));
        let one: libc::c_int = 1;
        libc::setsockopt(
            server,
            libc::SOL_SOCKET,
            libc::SO_REUSEADDR,
            (&one as *const libc::c_int).cast(),
            std::mem::size_of::<libc::c_int>() as libc::socklen_t,
        );
        check(libc::bind(server, raw.as_ptr(), raw.len) as _, "bind")?;
        if ty == libc::SOCK_STREAM {
            check(libc::listen(server, 16) as _, "listen")?;
        }
        let client = check(
            libc::socket(domain, ty | libc::SOCK_CLOEXEC, 0) as _,
            "client socket",
        )? as i32;
        created.undo.push(Undo::Close(client));
        check(libc::connect(client, raw.as_ptr(), raw.len) as _, "connect")?;
        if ty == libc::SOCK_STREAM {
            let conn = check(
                libc::accept4(
                    server,
                    std::ptr::null_mut(),
                    std::ptr::null_mut(),
                    libc::SOCK_CLOEXEC,
                ) as _,
                "accept",
            )? as i32;
            created.undo.push(Undo::Close(conn));
        }
        Ok((client, server))
    }
}
