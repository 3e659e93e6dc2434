//! A small `.scap` writer, for tests and fixtures: hand-made captures with exactly the
//! blocks and events a test needs (and, cut or corrupted, the bad inputs the reader must
//! refuse). It writes the layouts Falco 0.43 (libs 0.23) writes: version-9 process list,
//! version-2 fd and user lists, version-2 event blocks.

use super::blocks;
use super::tables::{fd_type, FdEntry, FdWhat, GroupEntry, ThreadEntry, UserEntry};

/// Builds a capture in memory, block by block.
pub struct ScapBuilder {
    buf: Vec<u8>,
}

impl Default for ScapBuilder {
    fn default() -> Self {
        Self::new()
    }
}

impl ScapBuilder {
    /// A capture with its section header.
    pub fn new() -> ScapBuilder {
        let mut b = ScapBuilder { buf: Vec::new() };
        let mut shb = Vec::new();
        shb.extend(blocks::SHB_MAGIC.to_le_bytes());
        shb.extend(1u16.to_le_bytes());
        shb.extend(2u16.to_le_bytes());
        shb.extend((-1i64).to_le_bytes());
        b.block(blocks::SHB, &shb);
        b
    }

    /// Appends a block of any type (padded to 4 bytes, framed).
    pub fn block(&mut self, btype: u32, body: &[u8]) -> &mut Self {
        self.buf.extend(block_bytes(btype, body));
        self
    }

    pub fn machine_info(&mut self, hostname: &str) -> &mut Self {
        self.block(blocks::MI, &machine_info_body(hostname))
    }

    pub fn proclist(&mut self, threads: &[ThreadEntry]) -> &mut Self {
        self.block(blocks::PL_V9, &proclist_body(threads))
    }

    pub fn fdlist(&mut self, tid: i64, fds: &[FdEntry]) -> &mut Self {
        self.block(blocks::FDL_V2, &fdlist_body(tid, fds))
    }

    pub fn userlist(&mut self, users: &[UserEntry], groups: &[GroupEntry]) -> &mut Self {
        self.block(blocks::UL_V2, &userlist_body(users, groups))
    }

    /// A version-2 event block.
    pub fn event(
        &mut self,
        cpu: u16,
        ts: u64,
        tid: i64,
        code: u16,
        params: &[Vec<u8>],
    ) -> &mut Self {
        let mut body = Vec::new();
        body.extend(cpu.to_le_bytes());
        body.extend(event_bytes(ts, tid, code, params));
        self.block(blocks::EV_V2, &body)
    }

    /// Where the next block will start.
    pub fn len(&self) -> usize {
        self.buf.len()
    }

    pub fn is_empty(&self) -> bool {
        self.buf.is_empty()
    }

    pub fn bytes(&self) -> &[u8] {
        &self.buf
    }

    pub fn into_bytes(self) -> Vec<u8> {
        self.buf
    }
}

/// A framed block.
pub fn block_bytes(btype: u32, body: &[u8]) -> Vec<u8> {
    let pad = (4 - body.len() % 4) % 4;
    let total = (blocks::FRAMING as usize + body.len() + pad) as u32;
    let mut b = Vec::with_capacity(total as usize);
    b.extend(btype.to_le_bytes());
    b.extend(total.to_le_bytes());
    b.extend(body);
    b.extend(std::iter::repeat_n(0u8, pad));
    b.extend(total.to_le_bytes());
    b
}

/// One event: the 26-byte header, u16 lengths, parameters.
pub fn event_bytes(ts: u64, tid: i64, code: u16, params: &[Vec<u8>]) -> Vec<u8> {
    let len = 26 + 2 * params.len() + params.iter().map(Vec::len).sum::<usize>();
    let mut b = Vec::with_capacity(len);
    b.extend(ts.to_le_bytes());
    b.extend(tid.to_le_bytes());
    b.extend((len as u32).to_le_bytes());
    b.extend(code.to_le_bytes());
    b.extend((params.len() as u32).to_le_bytes());
    for p in params {
        b.extend((p.len() as u16).to_le_bytes());
    }
    for p in params {
        b.extend(p);
    }
    b
}

pub fn machine_info_body(hostname: &str) -> Vec<u8> {
    let mut b = Vec::new();
    b.extend(2u32.to_le_bytes());
    b.extend((4u64 << 30).to_le_bytes());
    b.extend(4_194_304u64.to_le_bytes());
    let mut name = [0u8; 128];
    let n = hostname.len().min(127);
    name[..n].copy_from_slice(&hostname.as_bytes()[..n]);
    b.extend(name);
    b.extend(1_700_000_000_000_000_000u64.to_le_bytes());
    b.extend([0u8; 24]);
    b
}

fn str16(b: &mut Vec<u8>, s: &[u8]) {
    b.extend((s.len() as u16).to_le_bytes());
    b.extend(s);
}

fn nul_list(v: &[String]) -> Vec<u8> {
    let mut out = Vec::new();
    for s in v {
        out.extend(s.as_bytes());
        out.push(0);
    }
    out
}

/// A host thread as the process list would have it, with plausible defaults.
pub fn thread(tid: i64, pid: i64, ptid: i64, comm: &str, args: &[&str]) -> ThreadEntry {
    ThreadEntry {
        tid,
        pid,
        ptid,
        sid: pid,
        vpgid: pid,
        pgid: pid,
        comm: comm.into(),
        exe: comm.into(),
        exepath: format!("/usr/bin/{comm}"),
        args: args.iter().map(|a| a.to_string()).collect(),
        cwd: "/root/".into(),
        fdlimit: 1024,
        flags: 0,
        uid: 0,
        gid: 0,
        env: vec!["HOME=/root".into()],
        vtid: tid,
        vpid: pid,
        cgroups: vec!["cpuset=/".into(), "memory=/user.slice".into()],
        root: "/".into(),
        pidns_init_start_ts: 0,
        tty: 0,
        loginuid: u32::MAX,
        exe_writable: false,
        cap_inheritable: 0,
        cap_permitted: 0x1ff_ffff_ffff,
        cap_effective: 0x1ff_ffff_ffff,
        exe_upper_layer: false,
        exe_ino: 1234,
        exe_ino_ctime: 1,
        exe_ino_mtime: 2,
        exe_from_memfd: false,
        exe_lower_layer: false,
    }
}

/// The body of a version-9 process-list block.
pub fn proclist_body(threads: &[ThreadEntry]) -> Vec<u8> {
    let mut out = Vec::new();
    for t in threads {
        let mut e = Vec::new();
        e.extend(t.tid.to_le_bytes());
        e.extend(t.pid.to_le_bytes());
        e.extend(t.ptid.to_le_bytes());
        e.extend(t.sid.to_le_bytes());
        e.extend(t.vpgid.to_le_bytes());
        str16(&mut e, t.comm.as_bytes());
        str16(&mut e, t.exe.as_bytes());
        str16(&mut e, t.exepath.as_bytes());
        str16(&mut e, &nul_list(&t.args));
        str16(&mut e, t.cwd.as_bytes());
        e.extend(t.fdlimit.to_le_bytes());
        e.extend(t.flags.to_le_bytes());
        e.extend(t.uid.to_le_bytes());
        e.extend(t.gid.to_le_bytes());
        e.extend([0u8; 4 * 3 + 8 * 2]);
        str16(&mut e, &nul_list(&t.env));
        e.extend(t.vtid.to_le_bytes());
        e.extend(t.vpid.to_le_bytes());
        str16(&mut e, &nul_list(&t.cgroups));
        str16(&mut e, t.root.as_bytes());
        e.extend(t.pidns_init_start_ts.to_le_bytes());
        e.extend(t.tty.to_le_bytes());
        e.extend(t.loginuid.to_le_bytes());
        e.push(t.exe_writable as u8);
        e.extend(t.cap_inheritable.to_le_bytes());
        e.extend(t.cap_permitted.to_le_bytes());
        e.extend(t.cap_effective.to_le_bytes());
        e.push(t.exe_upper_layer as u8);
        e.extend(t.exe_ino.to_le_bytes());
        e.extend(t.exe_ino_ctime.to_le_bytes());
        e.extend(t.exe_ino_mtime.to_le_bytes());
        e.push(t.exe_from_memfd as u8);
        e.push(t.exe_lower_layer as u8);
        e.extend(t.pgid.to_le_bytes());
        out.extend((e.len() as u32 + 4).to_le_bytes());
        out.extend(e);
    }
    out
}

/// A regular file, version-2 entry (`ppm_flags`: `PPM_O_*`).
pub fn fd_file(fd: i64, name: &str, ppm_flags: u32) -> FdEntry {
    FdEntry {
        fd,
        ino: 0,
        what: FdWhat::File {
            flags: Some(ppm_flags),
            name: name.into(),
            dev: Some(0xfe00),
        },
    }
}

pub fn fd_ipv4_server(fd: i64, ip: [u8; 4], port: u16) -> FdEntry {
    FdEntry {
        fd,
        ino: 0,
        what: FdWhat::InetServer {
            v6: false,
            ip: ip.to_vec(),
            port,
            l4proto: 2, // SCAP_L4_TCP
        },
    }
}

pub fn fd_named(fd: i64, scap_type: u8, name: &str) -> FdEntry {
    FdEntry {
        fd,
        ino: 0,
        what: FdWhat::Named {
            scap_type,
            name: name.into(),
        },
    }
}

/// The body of a version-2 fd-list block.
pub fn fdlist_body(tid: i64, fds: &[FdEntry]) -> Vec<u8> {
    let mut out = Vec::new();
    out.extend(tid.to_le_bytes());
    for f in fds {
        let mut e = Vec::new();
        e.extend(f.fd.to_le_bytes());
        e.extend(f.ino.to_le_bytes());
        match &f.what {
            FdWhat::Inet {
                v6,
                sip,
                dip,
                sport,
                dport,
                l4proto,
            } => {
                e.push(if *v6 {
                    fd_type::IPV6_SOCK
                } else {
                    fd_type::IPV4_SOCK
                });
                e.extend(sip);
                e.extend(dip);
                e.extend(sport.to_le_bytes());
                e.extend(dport.to_le_bytes());
                e.push(*l4proto);
            }
            FdWhat::InetServer {
                v6,
                ip,
                port,
                l4proto,
            } => {
                e.push(if *v6 {
                    fd_type::IPV6_SERVSOCK
                } else {
                    fd_type::IPV4_SERVSOCK
                });
                e.extend(ip);
                e.extend(port.to_le_bytes());
                e.push(*l4proto);
            }
            FdWhat::Unix { source, dest, path } => {
                e.push(fd_type::UNIX_SOCK);
                e.extend(source.to_le_bytes());
                e.extend(dest.to_le_bytes());
                str16(&mut e, path.as_bytes());
            }
            FdWhat::File { flags, name, dev } => {
                e.push(fd_type::FILE_V2);
                e.extend(flags.unwrap_or(0).to_le_bytes());
                str16(&mut e, name.as_bytes());
                if let Some(dev) = dev {
                    e.extend(dev.to_le_bytes());
                }
            }
            FdWhat::Named { scap_type, name } => {
                e.push(*scap_type);
                if *scap_type != fd_type::UNKNOWN {
                    str16(&mut e, name.as_bytes());
                }
            }
        }
        out.extend((e.len() as u32 + 4).to_le_bytes());
        out.extend(e);
    }
    out
}

/// The body of a version-2 user-list block.
pub fn userlist_body(users: &[UserEntry], groups: &[GroupEntry]) -> Vec<u8> {
    let mut out = Vec::new();
    for u in users {
        let mut e = vec![0u8];
        e.extend(u.uid.to_le_bytes());
        e.extend(u.gid.to_le_bytes());
        str16(&mut e, u.name.as_bytes());
        str16(&mut e, u.homedir.as_bytes());
        str16(&mut e, u.shell.as_bytes());
        out.extend((e.len() as u32 + 4).to_le_bytes());
        out.extend(e);
    }
    for g in groups {
        let mut e = vec![1u8];
        e.extend(g.gid.to_le_bytes());
        str16(&mut e, g.name.as_bytes());
        out.extend((e.len() as u32 + 4).to_le_bytes());
        out.extend(e);
    }
    out
}

/// Parameter encodings, as the drivers write them.
pub mod p {
    /// PT_FD, PT_ERRNO, PT_PID, PT_INT64.
    pub fn i64(v: i64) -> Vec<u8> {
        v.to_le_bytes().to_vec()
    }

    pub fn u64(v: u64) -> Vec<u8> {
        v.to_le_bytes().to_vec()
    }

    /// PT_UINT32, PT_FLAGS32, PT_UID, PT_GID, PT_MODE.
    pub fn u32(v: u32) -> Vec<u8> {
        v.to_le_bytes().to_vec()
    }

    pub fn u8(v: u8) -> Vec<u8> {
        vec![v]
    }

    /// PT_CHARBUF / PT_FSPATH: NUL-terminated.
    pub fn str(s: &str) -> Vec<u8> {
        let mut b = s.as_bytes().to_vec();
        b.push(0);
        b
    }

    /// NUL-separated list (args, env, cgroups).
    pub fn list(v: &[&str]) -> Vec<u8> {
        let mut b = Vec::new();
        for s in v {
            b.extend(s.as_bytes());
            b.push(0);
        }
        b
    }

    /// An absent parameter.
    pub fn none() -> Vec<u8> {
        Vec::new()
    }

    /// PT_SOCKTUPLE for IPv4: family, source, destination (ports in host order).
    pub fn tuple4(sip: [u8; 4], sport: u16, dip: [u8; 4], dport: u16) -> Vec<u8> {
        let mut b = vec![2u8];
        b.extend(sip);
        b.extend(sport.to_le_bytes());
        b.extend(dip);
        b.extend(dport.to_le_bytes());
        b
    }

    /// PT_SOCKADDR for IPv4.
    pub fn sockaddr4(ip: [u8; 4], port: u16) -> Vec<u8> {
        let mut b = vec![2u8];
        b.extend(ip);
        b.extend(port.to_le_bytes());
        b
    }
}

/// Event codes the builder's users need.
pub mod code {
    pub const OPEN_X: u16 = 3;
    pub const CLOSE_X: u16 = 5;
    pub const SOCKET_X: u16 = 19;
    pub const CONNECT_X: u16 = 23;
    pub const PIPE_X: u16 = 61;
    pub const PROCEXIT_1_E: u16 = 186;
    pub const CLONE_20_X: u16 = 223;
    pub const EXECVE_19_X: u16 = 293;
    pub const OPENAT_2_E: u16 = 306;
    pub const OPENAT_2_X: u16 = 307;
    pub const USER_ADDED_E: u16 = 354;
    pub const DUP2_X: u16 = 363;
}

/// Parameters of an `openat` exit event (`ppm_flags`: `PPM_O_*`).
pub fn openat_params(fd: i64, dirfd: i64, name: &str, ppm_flags: u32) -> Vec<Vec<u8>> {
    vec![
        p::i64(fd),
        p::i64(dirfd),
        p::str(name),
        p::u32(ppm_flags),
        p::u32(0),
        p::u32(0xfe00),
        p::u64(99),
    ]
}

/// Parameters of a successful `execve` exit event of the main thread `pid`.
pub fn execve_params(pid: i64, ptid: i64, exepath: &str, argv: &[&str]) -> Vec<Vec<u8>> {
    let comm = exepath.rsplit('/').next().unwrap_or(exepath);
    vec![
        p::i64(0),                                        // res
        p::str(argv.first().copied().unwrap_or(exepath)), // exe
        p::list(&argv[1.min(argv.len())..]),              // args
        p::i64(pid),                                      // tid
        p::i64(pid),                                      // pid
        p::i64(ptid),                                     // ptid
        p::none(),                                        // cwd
        p::u64(1024),                                     // fdlimit
        p::u64(0),                                        // pgft_maj
        p::u64(0),                                        // pgft_min
        p::u32(0),                                        // vm_size
        p::u32(0),                                        // vm_rss
        p::u32(0),                                        // vm_swap
        p::str(comm),                                     // comm
        p::list(&["cpuset=/", "memory=/user.slice"]),     // cgroups
        p::list(&["HOME=/root"]),                         // env
        p::u32(0),                                        // tty
        p::i64(pid),                                      // vpgid
        p::u32(u32::MAX),                                 // loginuid
        p::u32(0),                                        // flags
        p::u64(0),                                        // cap_inheritable
        p::u64(0x1ff_ffff_ffff),                          // cap_permitted
        p::u64(0x1ff_ffff_ffff),                          // cap_effective
        p::u64(4321),                                     // exe_ino
        p::u64(1),                                        // exe_ino_ctime
        p::u64(2),                                        // exe_ino_mtime
        p::u32(0),                                        // uid
        p::str(exepath),                                  // trusted_exepath
        p::i64(pid),                                      // pgid
        p::u32(0),                                        // gid
        p::str(exepath),                                  // filename
    ]
}

/// Parameters of the child's side of a `clone` (fork: no CLONE_THREAD).
pub fn clone_child_params(child: i64, parent: i64, comm: &str, ppm_flags: u32) -> Vec<Vec<u8>> {
    vec![
        p::i64(0),         // res
        p::str(comm),      // exe
        p::none(),         // args
        p::i64(child),     // tid
        p::i64(child),     // pid
        p::i64(parent),    // ptid
        p::none(),         // cwd
        p::i64(1024),      // fdlimit
        p::u64(0),         // pgft_maj
        p::u64(0),         // pgft_min
        p::u32(0),         // vm_size
        p::u32(0),         // vm_rss
        p::u32(0),         // vm_swap
        p::str(comm),      // comm
        p::none(),         // cgroups
        p::u32(ppm_flags), // flags
        p::u32(0),         // uid
        p::u32(0),         // gid
        p::i64(child),     // vtid
        p::i64(child),     // vpid
        p::u64(0),         // pidns_init_start_ts
    ]
}
