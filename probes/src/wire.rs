//! The kernel's record format (`ebpf-src/events.h`), decoded into [`Event`]s.
//!
//! A record is a 32-byte header, `nparams` u16 lengths, then the parameter bytes. How a
//! parameter's bytes are read follows its kind in the event type's schema, so adding a
//! parameter on the kernel side needs no decoder change. Nothing in a record is trusted:
//! lengths are checked against the record, counts against the schema.

use peregrine_event::{
    Direction, Event, EventType, FdInfo, FdKind, L4Proto, ParamKind, ParamValue, SockAddr,
    SockTuple,
};
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use thiserror::Error;

/// `sizeof(struct pg_event_hdr)` and its field offsets.
pub const HDR_SIZE: usize = 32;
pub const OFF_TS: usize = 0;
pub const OFF_TID: usize = 8;
pub const OFF_PID: usize = 12;
pub const OFF_LEN: usize = 16;
pub const OFF_ETYPE: usize = 20;
pub const OFF_NPARAMS: usize = 22;
pub const OFF_CPU: usize = 24;
/// `PG_ET_COUNT`: event type ids the kernel may send are below this.
pub const ET_COUNT: u16 = 54;
/// `PG_MAX_PARAMS`.
pub const MAX_PARAMS: usize = 32;

/// Socket families and protocols as the kernel writes them (`enum pg_family`, `pg_l4proto`).
pub const AF_UNIX: u8 = 1;
pub const AF_INET: u8 = 2;
pub const AF_INET6: u8 = 10;

/// Why a record was rejected.
#[derive(Debug, Error, PartialEq, Eq)]
pub enum WireError {
    #[error("record of {0} bytes is shorter than the {HDR_SIZE}-byte header")]
    ShortHeader(usize),
    #[error("header says {declared} bytes but the record has {actual}")]
    LengthMismatch { declared: usize, actual: usize },
    #[error("unknown event type id {0}")]
    UnknownType(u16),
    #[error("{etype}: {nparams} parameters, schema has {schema}")]
    TooManyParams {
        etype: &'static str,
        nparams: usize,
        schema: usize,
    },
    #[error("{etype}: parameter lengths run past the record")]
    ParamsOverrun { etype: &'static str },
    #[error("{etype}: parameter {param} ({kind}) has a malformed value of {len} bytes")]
    BadParam {
        etype: &'static str,
        param: &'static str,
        kind: &'static str,
        len: usize,
    },
}

impl WireError {
    /// Every [`WireError::reason`] label, for counters indexed by reason.
    pub const REASONS: [&'static str; 6] = [
        "short_header",
        "length_mismatch",
        "unknown_type",
        "too_many_params",
        "params_overrun",
        "bad_param",
    ];

    /// A short, stable label for metrics and logs.
    pub fn reason(&self) -> &'static str {
        Self::REASONS[self.reason_index()]
    }

    /// The position of [`WireError::reason`] in [`WireError::REASONS`].
    pub fn reason_index(&self) -> usize {
        match self {
            WireError::ShortHeader(_) => 0,
            WireError::LengthMismatch { .. } => 1,
            WireError::UnknownType(_) => 2,
            WireError::TooManyParams { .. } => 3,
            WireError::ParamsOverrun { .. } => 4,
            WireError::BadParam { .. } => 5,
        }
    }

    /// The event type named in the error, when the record got that far.
    pub fn etype(&self) -> Option<&'static str> {
        match self {
            WireError::TooManyParams { etype, .. }
            | WireError::ParamsOverrun { etype }
            | WireError::BadParam { etype, .. } => Some(etype),
            _ => None,
        }
    }
}

fn u16_at(b: &[u8], at: usize) -> u16 {
    u16::from_le_bytes([b[at], b[at + 1]])
}

fn u32_at(b: &[u8], at: usize) -> u32 {
    u32::from_le_bytes(b[at..at + 4].try_into().unwrap_or_default())
}

fn u64_at(b: &[u8], at: usize) -> u64 {
    u64::from_le_bytes(b[at..at + 8].try_into().unwrap_or_default())
}

/// The header of a record, without decoding its parameters.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Header {
    /// Boot-clock nanoseconds.
    pub ts: u64,
    pub tid: u32,
    pub pid: u32,
    pub len: u32,
    pub etype: u16,
    pub nparams: u16,
    pub cpu: u16,
}

impl Header {
    pub fn parse(rec: &[u8]) -> Result<Header, WireError> {
        if rec.len() < HDR_SIZE {
            return Err(WireError::ShortHeader(rec.len()));
        }
        Ok(Header {
            ts: u64_at(rec, OFF_TS),
            tid: u32_at(rec, OFF_TID),
            pid: u32_at(rec, OFF_PID),
            len: u32_at(rec, OFF_LEN),
            etype: u16_at(rec, OFF_ETYPE),
            nparams: u16_at(rec, OFF_NPARAMS),
            cpu: u16_at(rec, OFF_CPU),
        })
    }
}

/// Decodes one record. `boot_to_epoch_ns` turns the boot-clock stamp into wall-clock time.
/// A parameter that cannot be decoded becomes [`ParamValue::Absent`] and the event is kept.
pub fn decode(rec: &[u8], boot_to_epoch_ns: u64) -> Result<Event, WireError> {
    decode_reporting(rec, boot_to_epoch_ns, &mut |_| {})
}

/// [`decode`], handing each parameter it could not decode to `undecoded`
/// (a [`WireError::BadParam`]) instead of dropping the record, as Falco keeps such events.
/// Only a record whose framing is broken (header, lengths, type) is an error.
pub fn decode_reporting(
    rec: &[u8],
    boot_to_epoch_ns: u64,
    undecoded: &mut dyn FnMut(WireError),
) -> Result<Event, WireError> {
    let h = Header::parse(rec)?;
    let len = h.len as usize;
    // The ring pads records to 8 bytes; the header's length is the real one.
    if len < HDR_SIZE || len > rec.len() {
        return Err(WireError::LengthMismatch {
            declared: len,
            actual: rec.len(),
        });
    }
    let rec = &rec[..len];
    if h.etype >= ET_COUNT {
        return Err(WireError::UnknownType(h.etype));
    }
    let etype = EventType::from_index(h.etype).ok_or(WireError::UnknownType(h.etype))?;
    let schema = etype.params();
    let n = h.nparams as usize;
    // fchmod may carry its file's path after its parameters (`PG_FD_AS_PATH`).
    let extra = usize::from(etype == EventType::FCHMOD && n == schema.len() + 1);
    if n > schema.len() + extra || n > MAX_PARAMS {
        return Err(WireError::TooManyParams {
            etype: etype.name(),
            nparams: n,
            schema: schema.len(),
        });
    }
    let mut pos = HDR_SIZE + 2 * n;
    if pos > len {
        return Err(WireError::ParamsOverrun {
            etype: etype.name(),
        });
    }
    let mut params = Vec::with_capacity(n);
    // Reported once the whole record is known to be framed right: a record refused for a
    // later parameter was not kept, so none of its values may be reported as kept.
    let mut bad = Vec::new();
    for (i, spec) in schema.iter().take(n).enumerate() {
        let plen = u16_at(rec, HDR_SIZE + 2 * i) as usize;
        let Some(bytes) = rec.get(pos..pos + plen) else {
            return Err(WireError::ParamsOverrun {
                etype: etype.name(),
            });
        };
        pos += plen;
        let value = decode_param(spec.kind, bytes).unwrap_or_else(|| {
            bad.push(WireError::BadParam {
                etype: etype.name(),
                param: spec.name,
                kind: kind_name(spec.kind),
                len: plen,
            });
            ParamValue::Absent
        });
        params.push(value);
    }
    let mut fd_path = None;
    if extra == 1 {
        let plen = u16_at(rec, HDR_SIZE + 2 * schema.len()) as usize;
        let Some(bytes) = rec.get(pos..pos + plen) else {
            return Err(WireError::ParamsOverrun {
                etype: etype.name(),
            });
        };
        let path = text(bytes);
        // Kept past the schema's parameters (as many values as the record has; rules and
        // outputs read only the schema's), and as the fd's name.
        params.push(ParamValue::Str(path.clone()));
        fd_path = Some(path);
    }
    bad.into_iter().for_each(undecoded);
    let mut ev = Event::new(
        etype,
        h.ts.wrapping_add(boot_to_epoch_ns),
        i64::from(h.tid),
        params,
    );
    ev.pid = i64::from(h.pid);
    ev.cpu = h.cpu;
    ev.dir = Direction::Exit;
    if let (Some(name), Some(num)) = (fd_path, ev.fd_num()) {
        // The fd as the kernel saw it, for when the state tables do not hold it.
        ev.fd = Some(std::sync::Arc::new(FdInfo {
            num,
            kind: FdKind::File,
            nameraw: name.clone(),
            name,
            ..FdInfo::default()
        }));
    }
    Ok(ev)
}

fn kind_name(kind: ParamKind) -> &'static str {
    match kind {
        ParamKind::Fd => "fd",
        ParamKind::Errno => "errno",
        ParamKind::Pid => "pid",
        ParamKind::Uid => "uid",
        ParamKind::Gid => "gid",
        ParamKind::FsPath => "path",
        ParamKind::FsRelPath { .. } => "relative path",
        ParamKind::CharBuf => "string",
        ParamKind::ByteBuf => "bytes",
        ParamKind::StrList => "string list",
        ParamKind::Flags(_) => "flags",
        ParamKind::Enum(_) => "enum",
        ParamKind::Mode => "mode",
        ParamKind::Uint => "uint",
        ParamKind::Int => "int",
        ParamKind::SockTuple => "socket tuple",
        ParamKind::SockAddr => "socket address",
        ParamKind::AbsTime => "time",
        ParamKind::Dynamic => "value",
    }
}

fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

/// `None` when the bytes cannot be this kind; an empty parameter is [`ParamValue::Absent`].
fn decode_param(kind: ParamKind, b: &[u8]) -> Option<ParamValue> {
    if b.is_empty() {
        return Some(ParamValue::Absent);
    }
    Some(match kind {
        ParamKind::Fd | ParamKind::Errno | ParamKind::Pid | ParamKind::Int => {
            ParamValue::Int(i64::from_le_bytes(b.try_into().ok()?))
        }
        ParamKind::Uid
        | ParamKind::Gid
        | ParamKind::Flags(_)
        | ParamKind::Enum(_)
        | ParamKind::Mode
        | ParamKind::Uint
        | ParamKind::AbsTime
        | ParamKind::Dynamic => ParamValue::Uint(u64::from_le_bytes(b.try_into().ok()?)),
        ParamKind::FsPath | ParamKind::FsRelPath { .. } | ParamKind::CharBuf => {
            ParamValue::Str(text(b))
        }
        ParamKind::ByteBuf => ParamValue::Bytes(b.to_vec()),
        ParamKind::StrList => ParamValue::StrList(
            b.split(|c| *c == 0)
                .filter(|s| !s.is_empty())
                .map(text)
                .collect(),
        ),
        ParamKind::SockTuple => tuple_param(b)?,
        ParamKind::SockAddr => ParamValue::Addr(sockaddr(b)?),
    })
}

fn ip4(b: &[u8]) -> IpAddr {
    IpAddr::V4(Ipv4Addr::new(b[0], b[1], b[2], b[3]))
}

fn ip6(b: &[u8]) -> IpAddr {
    let a: [u8; 16] = b[..16].try_into().unwrap_or_default();
    IpAddr::V6(Ipv6Addr::from(a))
}

fn l4(p: u8) -> L4Proto {
    match p {
        1 => L4Proto::Tcp,
        2 => L4Proto::Udp,
        3 => L4Proto::Icmp,
        4 => L4Proto::Raw,
        _ => L4Proto::Unknown,
    }
}

/// `None` for a tuple the decoder cannot read; `Some(Absent)` for a socket family that has
/// no tuple (netlink, packet, vsock, ...: the kernel writes the family byte alone, where
/// Falco's modern probe writes an empty parameter), so the event keeps its fd and the fd
/// its family from the socket table.
fn tuple_param(b: &[u8]) -> Option<ParamValue> {
    match (b[0], b.len()) {
        (AF_INET | AF_INET6 | AF_UNIX, _) => tuple(b).map(ParamValue::Tuple),
        (_, 1) => Some(ParamValue::Absent),
        _ => None,
    }
}

fn tuple(b: &[u8]) -> Option<SockTuple> {
    match b[0] {
        AF_INET if b.len() == 14 => Some(SockTuple::Inet {
            proto: l4(b[1]),
            sip: ip4(&b[2..6]),
            sport: u16_at(b, 6),
            dip: ip4(&b[8..12]),
            dport: u16_at(b, 12),
        }),
        AF_INET6 if b.len() == 38 => {
            let (sip, dip) = (ip6(&b[2..18]), ip6(&b[20..36]));
            Some(SockTuple::Inet {
                proto: l4(b[1]),
                sip: unmap(sip),
                sport: u16_at(b, 18),
                dip: unmap(dip),
                dport: u16_at(b, 36),
            })
        }
        AF_UNIX if b.len() >= 17 => Some(SockTuple::Unix {
            source: u64_at(b, 1),
            dest: u64_at(b, 9),
            path: text(&b[17..]),
        }),
        _ => None,
    }
}

/// IPv4-mapped IPv6 addresses (`::ffff:a.b.c.d`) shown as IPv4, as Falco does.
fn unmap(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V6(v6) => v6.to_ipv4_mapped().map(IpAddr::V4).unwrap_or(ip),
        v4 => v4,
    }
}

fn sockaddr(b: &[u8]) -> Option<SockAddr> {
    match b[0] {
        AF_INET if b.len() == 7 => Some(SockAddr::Inet {
            ip: ip4(&b[1..5]),
            port: u16_at(b, 5),
        }),
        AF_INET6 if b.len() == 19 => Some(SockAddr::Inet {
            ip: unmap(ip6(&b[1..17])),
            port: u16_at(b, 17),
        }),
        AF_UNIX => Some(SockAddr::Unix {
            path: text(&b[1..]),
        }),
        family if b.len() == 1 => Some(SockAddr::Other {
            family: u16::from(family),
        }),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Builds a record the way the kernel's writer does.
    pub(crate) fn record(etype: u16, tid: u32, pid: u32, params: &[&[u8]]) -> Vec<u8> {
        let mut r = vec![0u8; HDR_SIZE];
        r[OFF_TS..OFF_TS + 8].copy_from_slice(&1_000u64.to_le_bytes());
        r[OFF_TID..OFF_TID + 4].copy_from_slice(&tid.to_le_bytes());
        r[OFF_PID..OFF_PID + 4].copy_from_slice(&pid.to_le_bytes());
        r[OFF_ETYPE..OFF_ETYPE + 2].copy_from_slice(&etype.to_le_bytes());
        r[OFF_NPARAMS..OFF_NPARAMS + 2].copy_from_slice(&(params.len() as u16).to_le_bytes());
        for p in params {
            r.extend_from_slice(&(p.len() as u16).to_le_bytes());
        }
        for p in params {
            r.extend_from_slice(p);
        }
        let len = r.len() as u32;
        r[OFF_LEN..OFF_LEN + 4].copy_from_slice(&len.to_le_bytes());
        r
    }

    fn i(v: i64) -> [u8; 8] {
        v.to_le_bytes()
    }

    #[test]
    fn decodes_an_openat() {
        let rec = record(
            3,
            10,
            9,
            &[
                &i(3),
                &i(-100),
                b"/etc/shadow",
                &i(0),
                &i(0),
                &i(64768),
                &i(42),
            ],
        );
        let ev = decode(&rec, 5).unwrap();
        assert_eq!(ev.etype, EventType::OPENAT);
        assert_eq!((ev.tid, ev.pid, ev.ts), (10, 9, 1_005));
        assert_eq!(ev.param(0), &ParamValue::Int(3));
        assert_eq!(ev.param(1), &ParamValue::Int(-100));
        assert_eq!(ev.param(2), &ParamValue::Str("/etc/shadow".into()));
        assert_eq!(ev.param(6), &ParamValue::Uint(42));
    }

    #[test]
    fn decodes_tuples_and_addresses() {
        let mut t = vec![AF_INET, 1, 127, 0, 0, 1];
        t.extend_from_slice(&40000u16.to_le_bytes());
        t.extend_from_slice(&[10, 0, 0, 2]);
        t.extend_from_slice(&80u16.to_le_bytes());
        let mut a = vec![AF_INET, 10, 0, 0, 2];
        a.extend_from_slice(&80u16.to_le_bytes());
        let rec = record(6, 1, 1, &[&i(0), &t, &i(4), &a]);
        let ev = decode(&rec, 0).unwrap();
        let ParamValue::Tuple(tuple) = ev.param(1) else {
            panic!("{:?}", ev.param(1))
        };
        assert_eq!(tuple.to_string(), "127.0.0.1:40000->10.0.0.2:80");
        assert_eq!(
            ev.param(3),
            &ParamValue::Addr(SockAddr::Inet {
                ip: "10.0.0.2".parse().unwrap(),
                port: 80
            })
        );
    }

    #[test]
    fn absent_params_and_string_lists() {
        let rec = record(0, 1, 1, &[&i(0), b"sh", b"-c\0true\0", &[]]);
        let ev = decode(&rec, 0).unwrap();
        assert_eq!(
            ev.param(2),
            &ParamValue::StrList(["-c".into(), "true".into()].into())
        );
        assert_eq!(ev.param(3), &ParamValue::Absent);
    }

    /// Found by tests/fuzz.rs: a bad first parameter was reported as "kept, value unknown"
    /// (and counted) for a record then refused whole for an overrun in a later one.
    #[test]
    fn a_refused_record_reports_no_kept_parameter() {
        let mut rec = record(43, 1, 1, &[&[1], &i(3)]);
        rec[HDR_SIZE + 2] = 9;
        let mut bad = Vec::new();
        let res = decode_reporting(&rec, 0, &mut |e| bad.push(e));
        assert!(
            matches!(res, Err(WireError::ParamsOverrun { .. })),
            "{res:?}"
        );
        assert_eq!(bad, vec![], "nothing reported for a refused record");
    }

    #[test]
    fn rejects_malformed_records_without_panicking() {
        let good = record(43, 1, 1, &[&i(0), &i(3)]);
        assert_eq!(
            decode(&good[..10], 0).err(),
            Some(WireError::ShortHeader(10))
        );
        let mut long = good.clone();
        long[OFF_LEN] = 200;
        assert!(matches!(
            decode(&long, 0),
            Err(WireError::LengthMismatch { .. })
        ));
        let mut unknown = good.clone();
        unknown[OFF_ETYPE] = 99;
        assert_eq!(decode(&unknown, 0).err(), Some(WireError::UnknownType(99)));
        let mut overrun = good.clone();
        overrun[HDR_SIZE] = 60;
        assert!(matches!(
            decode(&overrun, 0),
            Err(WireError::ParamsOverrun { .. })
        ));
        let bad_int = record(43, 1, 1, &[&[1, 2, 3], &i(3)]);
        let mut bad = Vec::new();
        let ev = decode_reporting(&bad_int, 0, &mut |e| bad.push(e)).unwrap();
        assert_eq!(ev.param(0), &ParamValue::Absent, "kept, value unknown");
        assert_eq!(ev.param(1), &ParamValue::Int(3));
        assert!(matches!(
            bad.as_slice(),
            [WireError::BadParam {
                param: "res",
                len: 3,
                ..
            }]
        ));
        assert_eq!(bad[0].reason(), "bad_param");
        let too_many = record(43, 1, 1, &[&i(0), &i(3), &i(4)]);
        assert!(matches!(
            decode(&too_many, 0),
            Err(WireError::TooManyParams { .. })
        ));
        // Every truncation of a valid record is an error, never a panic.
        for cut in 0..good.len() {
            let mut r = good[..cut].to_vec();
            if r.len() >= HDR_SIZE {
                r[OFF_LEN..OFF_LEN + 4].copy_from_slice(&(cut as u32).to_le_bytes());
            }
            assert!(decode(&r, 0).is_err(), "cut at {cut}");
        }
    }

    /// A connect record as `pg_net` writes it: res, tuple, fd, sockaddr.
    fn connect(tuple: &[u8], addr: &[u8]) -> (Event, Vec<WireError>) {
        let rec = record(6, 1, 1, &[&i(0), tuple, &i(4), addr]);
        let mut bad = Vec::new();
        let ev = decode_reporting(&rec, 0, &mut |e| bad.push(e)).unwrap();
        assert_eq!(ev.etype, EventType::CONNECT);
        assert_eq!(ev.param(2), &ParamValue::Int(4), "fd kept");
        (ev, bad)
    }

    /// Netlink (16), packet (17) and vsock (40) sockets: the kernel writes the family byte
    /// alone for both the tuple and the address (`pg_push_tuple`/`pg_push_sockaddr`).
    #[test]
    fn families_without_a_tuple_keep_the_event() {
        for family in [16u8, 17, 40] {
            let (ev, bad) = connect(&[family], &[family]);
            assert!(bad.is_empty(), "{family}: {bad:?}");
            assert_eq!(ev.param(1), &ParamValue::Absent, "{family}");
            assert_eq!(
                ev.param(3),
                &ParamValue::Addr(SockAddr::Other {
                    family: u16::from(family)
                })
            );
        }
    }

    #[test]
    fn unix_tuple_and_address() {
        let mut t = vec![AF_UNIX];
        t.extend_from_slice(&0xffff_8880_0000_1000u64.to_le_bytes());
        t.extend_from_slice(&0xffff_8880_0000_2000u64.to_le_bytes());
        t.extend_from_slice(b"/run/x.sock");
        let mut a = vec![AF_UNIX];
        a.extend_from_slice(b"/run/x.sock");
        let (ev, bad) = connect(&t, &a);
        assert!(bad.is_empty());
        let ParamValue::Tuple(tuple) = ev.param(1) else {
            panic!("{:?}", ev.param(1))
        };
        assert_eq!(
            tuple.to_string(),
            "ffff888000001000->ffff888000002000 /run/x.sock"
        );
        assert_eq!(
            ev.param(3),
            &ParamValue::Addr(SockAddr::Unix {
                path: "/run/x.sock".into()
            })
        );
    }

    #[test]
    fn inet6_tuple_and_address() {
        let lo: [u8; 16] = Ipv6Addr::LOCALHOST.octets();
        let mut t = vec![AF_INET6, 1];
        t.extend_from_slice(&lo);
        t.extend_from_slice(&40000u16.to_le_bytes());
        t.extend_from_slice(&lo);
        t.extend_from_slice(&8080u16.to_le_bytes());
        let mut a = vec![AF_INET6];
        a.extend_from_slice(&lo);
        a.extend_from_slice(&8080u16.to_le_bytes());
        let (ev, bad) = connect(&t, &a);
        assert!(bad.is_empty());
        let ParamValue::Tuple(tuple) = ev.param(1) else {
            panic!("{:?}", ev.param(1))
        };
        assert_eq!(tuple.to_string(), "::1:40000->::1:8080");
        assert_eq!(
            ev.param(3),
            &ParamValue::Addr(SockAddr::Inet {
                ip: IpAddr::V6(Ipv6Addr::LOCALHOST),
                port: 8080
            })
        );
    }

    /// A tuple or address of a known family with the wrong size is not readable: the value
    /// is unknown, reported, and the event kept.
    #[test]
    fn unreadable_tuples_and_addresses_are_unknown_not_dropped() {
        let (ev, bad) = connect(&[AF_INET, 1, 127, 0], &[AF_INET6, 0, 0]);
        assert_eq!(ev.param(1), &ParamValue::Absent);
        assert_eq!(ev.param(3), &ParamValue::Absent);
        let params: Vec<_> = bad
            .iter()
            .map(|e| match e {
                WireError::BadParam { param, kind, .. } => (*param, *kind),
                other => panic!("{other:?}"),
            })
            .collect();
        assert_eq!(params.len(), 2, "{bad:?}");
        assert_eq!(params[0].1, "socket tuple");
        assert_eq!(params[1].1, "socket address");
        // Another family with more than its family byte is equally unreadable.
        let (ev, bad) = connect(&[40, 1, 2], &[40, 1, 2]);
        assert_eq!(ev.param(1), &ParamValue::Absent);
        assert_eq!(bad.len(), 2);
    }

    #[test]
    fn reasons_are_distinct_and_indexed() {
        let errs = [
            WireError::ShortHeader(1),
            WireError::LengthMismatch {
                declared: 1,
                actual: 2,
            },
            WireError::UnknownType(99),
            WireError::TooManyParams {
                etype: "x",
                nparams: 3,
                schema: 2,
            },
            WireError::ParamsOverrun { etype: "x" },
            WireError::BadParam {
                etype: "x",
                param: "p",
                kind: "k",
                len: 1,
            },
        ];
        for (n, e) in errs.iter().enumerate() {
            assert_eq!(e.reason_index(), n);
            assert_eq!(e.reason(), WireError::REASONS[n]);
        }
    }
}
