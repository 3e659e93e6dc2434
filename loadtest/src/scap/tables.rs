//! The table blocks at the start of a capture: machine info, the process (thread) list, the
//! fd lists, the user list and the interface list, decoded into plain records.
//!
//! Layouts (as libscap reads them): strings are `u16 length | bytes` without a NUL; entries
//! of the newer block versions start with their own length (which includes the length
//! field for process, fd and user entries, and does not for interface entries), so fields
//! appended by newer writers are skipped and missing ones keep their defaults.

use super::blocks::{self, Cursor, Fault};
use super::events::{cstr, str_list};

/// What the machine-info block says.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct MachineInfo {
    pub num_cpus: u32,
    pub memory_bytes: u64,
    pub hostname: String,
    /// Boot time, epoch ns (0 when the writer did not record it).
    pub boot_ts: u64,
}

/// `scap_machine_info`: `num_cpus u32 | memory u64 | max_pid u64 | hostname[128] |
/// boot_ts_epoch u64 | …`.
pub fn machine_info(body: &[u8]) -> MachineInfo {
    let u32_at = |at: usize| {
        body.get(at..at + 4)
            .map_or(0, |b| u32::from_le_bytes([b[0], b[1], b[2], b[3]]))
    };
    let u64_at = |at: usize| {
        body.get(at..at + 8).map_or(0, |b| {
            let mut a = [0u8; 8];
            a.copy_from_slice(b);
            u64::from_le_bytes(a)
        })
    };
    MachineInfo {
        num_cpus: u32_at(0),
        memory_bytes: u64_at(4),
        hostname: body.get(20..148).map(cstr).unwrap_or_default(),
        boot_ts: u64_at(148),
    }
}

/// One entry of the process list: a thread (the main thread of its process when
/// `tid == pid`).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ThreadEntry {
    pub tid: i64,
    pub pid: i64,
    pub ptid: i64,
    pub sid: i64,
    pub vpgid: i64,
    pub pgid: i64,
    pub comm: String,
    /// argv[0].
    pub exe: String,
    pub exepath: String,
    /// Arguments after argv[0].
    pub args: Vec<String>,
    pub cwd: String,
    pub fdlimit: u64,
    /// `PPM_CL_*` flags of the thread.
    pub flags: u32,
    pub uid: u32,
    pub gid: u32,
    pub env: Vec<String>,
    pub vtid: i64,
    pub vpid: i64,
    /// `subsys=path` entries.
    pub cgroups: Vec<String>,
    pub root: String,
    pub pidns_init_start_ts: u64,
    pub tty: u32,
    pub loginuid: u32,
    pub exe_writable: bool,
    pub cap_inheritable: u64,
    pub cap_permitted: u64,
    pub cap_effective: u64,
    pub exe_upper_layer: bool,
    pub exe_ino: u64,
    pub exe_ino_ctime: u64,
    pub exe_ino_mtime: u64,
    pub exe_from_memfd: bool,
    pub exe_lower_layer: bool,
}

fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

/// Which fields a process-list block version has.
struct PlVersion {
    sub_len: bool,
    sid: bool,
    vpgid: bool,
    exepath: bool,
    vm: bool,
    env: bool,
    ns: bool,
    root: bool,
}

fn pl_version(btype: u32) -> PlVersion {
    use blocks::*;
    let v = match btype {
        PL_V1 | PL_V1_INT => 1,
        PL_V2 | PL_V2_INT => 2,
        PL_V3 | PL_V3_INT => 3,
        PL_V4 => 4,
        PL_V5 => 5,
        PL_V6 => 6,
        PL_V7 => 7,
        PL_V8 => 8,
        _ => 9,
    };
    PlVersion {
        sub_len: v >= 9,
        sid: v >= 6,
        vpgid: v >= 8,
        exepath: v >= 7,
        vm: v >= 2,
        env: v >= 3,
        ns: v >= 4,
        root: v >= 5,
    }
}

/// Decodes a process-list block. `base`: the absolute offset of the body.
pub fn proclist(body: &[u8], btype: u32, base: u64) -> Result<Vec<ThreadEntry>, Fault> {
    let v = pl_version(btype);
    let mut c = Cursor::new(body, base);
    let mut out = Vec::new();
    // What is left after the last entry is padding (under 4 bytes).
    while c.remaining() >= 4 {
        let start = c.pos();
        let sub_len = if v.sub_len {
            let n = c.u32("process entry length")? as usize;
            if n < 4 || n > c.remaining() + 4 {
                return Err(Fault {
                    offset: c.offset() - 4,
                    reason: format!(
                        "process entry length {n} does not fit its block ({} bytes left)",
                        c.remaining() + 4
                    ),
                });
            }
            Some(n)
        } else {
            None
        };
        // The entry's own cursor, so that a short entry cannot read into the next one.
        let mut e = match sub_len {
            Some(n) => {
                let at = c.offset();
                Cursor::new(c.bytes(n - 4, "process entry")?, at)
            }
            None => Cursor::new(&body[c.pos()..], c.offset()),
        };
        let mut t = ThreadEntry {
            sid: -1,
            vpgid: -1,
            pgid: -1,
            vtid: -1,
            vpid: -1,
            loginuid: u32::MAX,
            ..Default::default()
        };
        t.tid = e.i64("tid")?;
        t.pid = e.i64("pid")?;
        t.ptid = e.i64("ptid")?;
        if v.sid {
            t.sid = e.i64("sid")?;
        }
        if v.vpgid {
            t.vpgid = e.i64("vpgid")?;
        }
        t.comm = text(e.str16("comm")?);
        t.exe = text(e.str16("exe")?);
        if v.exepath {
            t.exepath = text(e.str16("exepath")?);
        }
        t.args = str_list(e.str16("args")?);
        t.cwd = text(e.str16("cwd")?);
        t.fdlimit = e.u64("fdlimit")?;
        t.flags = e.u32("flags")?;
        t.uid = e.u32("uid")?;
        t.gid = e.u32("gid")?;
        if v.vm {
            // vmsize, vmrss, vmswap (u32 each), pfmajor, pfminor (u64 each).
            e.skip(4 * 3 + 8 * 2, "memory counters")?;
            if v.env {
                t.env = str_list(e.str16("env")?);
            }
            if v.ns {
                t.vtid = e.i64("vtid")?;
                t.vpid = e.i64("vpid")?;
                t.cgroups = str_list(e.str16("cgroups")?);
                if v.root {
                    t.root = text(e.str16("root")?);
                }
            }
        }
        if let Some(n) = sub_len {
            trailing_fields(&mut e, n - 4, &mut t)?;
            // Fields a newer writer appended are skipped with the rest of the entry.
        } else {
            c.skip(e.pos(), "process entry")?;
        }
        out.push(t);
        debug_assert!(c.pos() > start);
    }
    Ok(out)
}

/// The fields appended to version-9 entries, each present when the entry is long enough.
fn trailing_fields(e: &mut Cursor<'_>, len: usize, t: &mut ThreadEntry) -> Result<(), Fault> {
    let fits = |e: &Cursor<'_>, n: usize| e.pos() + n <= len;
    // libs 0.10 inserted pidns_init_start_ts and tty before loginuid; an entry with at most
    // the 29 bytes of the older trailing fields left predates them.
    if len - e.pos() > 29 {
        if fits(e, 8) {
            t.pidns_init_start_ts = e.u64("pidns_init_start_ts")?;
        }
        if fits(e, 4) {
            t.tty = e.u32("tty")?;
        }
    }
    if fits(e, 4) {
        t.loginuid = e.u32("loginuid")?;
    }
    if fits(e, 1) {
        t.exe_writable = e.u8("exe_writable")? != 0;
    }
    if fits(e, 8) {
        t.cap_inheritable = e.u64("cap_inheritable")?;
    }
    if fits(e, 8) {
        t.cap_permitted = e.u64("cap_permitted")?;
    }
    if fits(e, 8) {
        t.cap_effective = e.u64("cap_effective")?;
    }
    if fits(e, 1) {
        t.exe_upper_layer = e.u8("exe_upper_layer")? != 0;
    }
    if fits(e, 8) {
        t.exe_ino = e.u64("exe_ino")?;
    }
    if fits(e, 8) {
        t.exe_ino_ctime = e.u64("exe_ino_ctime")?;
    }
    if fits(e, 8) {
        t.exe_ino_mtime = e.u64("exe_ino_mtime")?;
    }
    if fits(e, 1) {
        t.exe_from_memfd = e.u8("exe_from_memfd")? != 0;
    }
    if fits(e, 1) {
        t.exe_lower_layer = e.u8("exe_lower_layer")? != 0;
    }
    if fits(e, 8) {
        t.pgid = e.i64("pgid")?;
    }
    Ok(())
}

/// `scap_fd_type`.
pub mod fd_type {
    pub const UNKNOWN: u8 = 0;
    pub const FILE: u8 = 1;
    pub const DIRECTORY: u8 = 2;
    pub const IPV4_SOCK: u8 = 3;
    pub const IPV6_SOCK: u8 = 4;
    pub const IPV4_SERVSOCK: u8 = 5;
    pub const IPV6_SERVSOCK: u8 = 6;
    pub const FIFO: u8 = 7;
    pub const UNIX_SOCK: u8 = 8;
    pub const EVENT: u8 = 9;
    pub const UNSUPPORTED: u8 = 10;
    pub const SIGNALFD: u8 = 11;
    pub const EVENTPOLL: u8 = 12;
    pub const INOTIFY: u8 = 13;
    pub const TIMERFD: u8 = 14;
    pub const NETLINK: u8 = 15;
    pub const FILE_V2: u8 = 16;
    pub const BPF: u8 = 17;
    pub const USERFAULTFD: u8 = 18;
    pub const IOURING: u8 = 19;
    pub const MEMFD: u8 = 20;
    pub const PIDFD: u8 = 21;
}

/// What an fd-list entry describes.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum FdWhat {
    /// Connected IPv4/IPv6 socket (addresses as 4 or 16 bytes, network order).
    Inet {
        v6: bool,
        sip: Vec<u8>,
        dip: Vec<u8>,
        sport: u16,
        dport: u16,
        l4proto: u8,
    },
    /// Listening socket.
    InetServer {
        v6: bool,
        ip: Vec<u8>,
        port: u16,
        l4proto: u8,
    },
    Unix {
        source: u64,
        dest: u64,
        path: String,
    },
    /// A regular file; `flags` in `PPM_O_*` (version-2 entries only).
    File {
        flags: Option<u32>,
        name: String,
        dev: Option<u32>,
    },
    /// Every other kind: its scap type and name.
    Named { scap_type: u8, name: String },
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FdEntry {
    pub fd: i64,
    pub ino: u64,
    pub what: FdWhat,
}

/// Decodes an fd-list block: the thread id, then its fds.
pub fn fdlist(body: &[u8], btype: u32, base: u64) -> Result<(i64, Vec<FdEntry>), Fault> {
    let v2 = btype == blocks::FDL_V2;
    let mut c = Cursor::new(body, base);
    let tid = c.i64("fd list thread id")?;
    let mut out = Vec::new();
    while c.remaining() >= 4 {
        let entry_at = c.offset();
        let sub_len = if v2 {
            let n = c.u32("fd entry length")? as usize;
            if n < 4 || n > c.remaining() + 4 {
                return Err(Fault {
                    offset: entry_at,
                    reason: format!(
                        "fd entry length {n} does not fit its block ({} bytes left)",
                        c.remaining() + 4
                    ),
                });
            }
            Some(n)
        } else {
            None
        };
        let mut e = match sub_len {
            Some(n) => {
                let at = c.offset();
                Cursor::new(c.bytes(n - 4, "fd entry")?, at)
            }
            None => Cursor::new(&body[c.pos()..], c.offset()),
        };
        let fd = e.i64("fd")?;
        let ino = e.u64("inode")?;
        let scap_type = e.u8("fd type")?;
        let what = match scap_type {
            fd_type::IPV4_SOCK | fd_type::IPV6_SOCK => {
                let v6 = scap_type == fd_type::IPV6_SOCK;
                let n = if v6 { 16 } else { 4 };
                FdWhat::Inet {
                    v6,
                    sip: e.bytes(n, "source address")?.to_vec(),
                    dip: e.bytes(n, "destination address")?.to_vec(),
                    sport: e.u16("source port")?,
                    dport: e.u16("destination port")?,
                    l4proto: e.u8("protocol")?,
                }
            }
            fd_type::IPV4_SERVSOCK | fd_type::IPV6_SERVSOCK => {
                let v6 = scap_type == fd_type::IPV6_SERVSOCK;
                FdWhat::InetServer {
                    v6,
                    ip: e.bytes(if v6 { 16 } else { 4 }, "address")?.to_vec(),
                    port: e.u16("port")?,
                    l4proto: e.u8("protocol")?,
                }
            }
            fd_type::UNIX_SOCK => FdWhat::Unix {
                source: e.u64("unix source")?,
                dest: e.u64("unix destination")?,
                path: text(e.str16("unix path")?),
            },
            fd_type::FILE_V2 => {
                let flags = Some(e.u32("open flags")?);
                let name = text(e.str16("file name")?);
                // The device came later: only when the entry is long enough for it.
                let dev = match sub_len {
                    Some(n) if e.pos() + 4 <= n - 4 => Some(e.u32("device")?),
                    _ => None,
                };
                FdWhat::File { flags, name, dev }
            }
            fd_type::FILE => FdWhat::File {
                flags: None,
                name: text(e.str16("file name")?),
                dev: None,
            },
            fd_type::UNKNOWN => FdWhat::Named {
                scap_type,
                name: String::new(),
            },
            t if t <= fd_type::PIDFD => FdWhat::Named {
                scap_type,
                name: text(e.str16("fd name")?),
            },
            // A type from a newer writer: its layout is unknown, its name made up as libscap does.
            t => FdWhat::Named {
                scap_type: fd_type::UNSUPPORTED,
                name: format!("unknown-type:[{t}]"),
            },
        };
        if sub_len.is_none() {
            c.skip(e.pos(), "fd entry")?;
        }
        out.push(FdEntry { fd, ino, what });
    }
    Ok((tid, out))
}

/// A user of the capture's user list (or a `useradded` event).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct UserEntry {
    pub uid: u32,
    pub gid: u32,
    pub name: String,
    pub homedir: String,
    pub shell: String,
    /// Container the user belongs to; empty on the host.
    pub container: String,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct GroupEntry {
    pub gid: u32,
    pub name: String,
    pub container: String,
}

/// Decodes a user-list block.
pub fn userlist(
    body: &[u8],
    btype: u32,
    base: u64,
) -> Result<(Vec<UserEntry>, Vec<GroupEntry>), Fault> {
    let v2 = btype == blocks::UL_V2;
    let mut c = Cursor::new(body, base);
    let (mut users, mut groups) = (Vec::new(), Vec::new());
    while c.remaining() >= 4 {
        let entry_at = c.offset();
        let sub_len = if v2 {
            let n = c.u32("user entry length")? as usize;
            if n < 5 || n > c.remaining() + 4 {
                return Err(Fault {
                    offset: entry_at,
                    reason: format!(
                        "user entry length {n} does not fit its block ({} bytes left)",
                        c.remaining() + 4
                    ),
                });
            }
            Some(n)
        } else {
            None
        };
        let mut e = match sub_len {
            Some(n) => {
                let at = c.offset();
                Cursor::new(c.bytes(n - 4, "user entry")?, at)
            }
            None => Cursor::new(&body[c.pos()..], c.offset()),
        };
        if e.u8("user entry type")? == 0 {
            users.push(UserEntry {
                uid: e.u32("uid")?,
                gid: e.u32("gid")?,
                name: text(e.str16("user name")?),
                homedir: text(e.str16("home directory")?),
                shell: text(e.str16("shell")?),
                container: String::new(),
            });
        } else {
            groups.push(GroupEntry {
                gid: e.u32("gid")?,
                name: text(e.str16("group name")?),
                container: String::new(),
            });
        }
        if sub_len.is_none() {
            c.skip(e.pos(), "user entry")?;
        }
    }
    Ok((users, groups))
}

/// How many interfaces a version-2 interface-list block lists (older versions: 0, the
/// interfaces are not used).
pub fn interface_count(body: &[u8], btype: u32, base: u64) -> Result<usize, Fault> {
    if btype != blocks::IL_V2 {
        return Ok(0);
    }
    let mut c = Cursor::new(body, base);
    let mut n = 0;
    while c.remaining() >= 4 {
        let len = c.u32("interface entry length")? as usize;
        c.skip(len, "interface entry")?;
        n += 1;
    }
    Ok(n)
}

#[cfg(test)]
mod tests {
    use super::super::writer;
    use super::*;

    #[test]
    fn process_entries_round_trip_through_the_builder() {
        let t = writer::thread(100, 100, 1, "cat", &["/etc/shadow"]);
        let body = writer::proclist_body(std::slice::from_ref(&t));
        let got = proclist(&body, blocks::PL_V9, 0).unwrap();
        assert_eq!(got, vec![t]);
    }

    #[test]
    fn short_or_lying_entries_are_faults_not_panics() {
        let t = writer::thread(100, 100, 1, "cat", &["/etc/shadow"]);
        let body = writer::proclist_body(&[t.clone(), t]);
        for cut in 0..body.len() {
            let _ = proclist(&body[..cut], blocks::PL_V9, 0);
            let _ = proclist(&body[..cut], blocks::PL_V1, 0);
            let _ = proclist(&body[..cut], blocks::PL_V5, 0);
        }
        let mut bad = body.clone();
        bad[0..4].copy_from_slice(&u32::MAX.to_le_bytes());
        let f = proclist(&bad, blocks::PL_V9, 1000).unwrap_err();
        assert_eq!(f.offset, 1000);
        // An entry length smaller than what its strings need.
        let mut bad = body.clone();
        bad[0..4].copy_from_slice(&30u32.to_le_bytes());
        assert!(proclist(&bad, blocks::PL_V9, 0).is_err());
    }

    #[test]
    fn fd_and_user_entries() {
        let fds = vec![
            writer::fd_file(3, "/etc/hosts", 1 << 12),
            writer::fd_ipv4_server(4, [127, 0, 0, 1], 8080),
            writer::fd_named(5, fd_type::FIFO, "pipe:[77]"),
        ];
        let body = writer::fdlist_body(42, &fds);
        let (tid, got) = fdlist(&body, blocks::FDL_V2, 0).unwrap();
        assert_eq!(tid, 42);
        assert_eq!(got, fds);
        for cut in 0..body.len() {
            let _ = fdlist(&body[..cut], blocks::FDL_V2, 0);
            let _ = fdlist(&body[..cut], blocks::FDL, 0);
        }
        let users = vec![UserEntry {
            uid: 0,
            gid: 0,
            name: "root".into(),
            homedir: "/root".into(),
            shell: "/bin/bash".into(),
            container: String::new(),
        }];
        let groups = vec![GroupEntry {
            gid: 0,
            name: "root".into(),
            container: String::new(),
        }];
        let body = writer::userlist_body(&users, &groups);
        assert_eq!(userlist(&body, blocks::UL_V2, 0).unwrap(), (users, groups));
        for cut in 0..body.len() {
            let _ = userlist(&body[..cut], blocks::UL_V2, 0);
            let _ = userlist(&body[..cut], blocks::UL, 0);
        }
    }

    #[test]
    fn machine_info_fields() {
        let body = writer::machine_info_body("node-1");
        let mi = machine_info(&body);
        assert_eq!(mi.hostname, "node-1");
        assert_eq!(mi.num_cpus, 2);
        assert_eq!(machine_info(&body[..10]).hostname, "");
    }
}
