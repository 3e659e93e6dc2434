//! Fuzzing the kernel record decoder (`wire`): records of every event type, built the way
//! the kernel's writer lays them out, then mutated (lengths, counts, types, tuples and
//! addresses of every socket family), must decode or be refused, never panic.
//! `PEREGRINE_FUZZ_SECS` sets the time spent (default 3 s; README "Fuzzing").

use peregrine_event::fuzzing::{fuzz, mutated_bytes, Outcome};
use peregrine_event::{EventType, ParamKind};
use peregrine_probes::wire::{
    self, AF_INET, AF_INET6, AF_UNIX, ET_COUNT, HDR_SIZE, OFF_CPU, OFF_ETYPE, OFF_LEN, OFF_NPARAMS,
    OFF_PID, OFF_TID, OFF_TS,
};

/// A record as `ebpf-src` writes it: header, `nparams` u16 lengths, parameter bytes.
fn record(etype: u16, params: &[Vec<u8>]) -> Vec<u8> {
    let mut r = vec![0u8; HDR_SIZE];
    r[OFF_TS..OFF_TS + 8].copy_from_slice(&123_456_789u64.to_le_bytes());
    r[OFF_TID..OFF_TID + 4].copy_from_slice(&4242u32.to_le_bytes());
    r[OFF_PID..OFF_PID + 4].copy_from_slice(&4240u32.to_le_bytes());
    r[OFF_ETYPE..OFF_ETYPE + 2].copy_from_slice(&etype.to_le_bytes());
    r[OFF_NPARAMS..OFF_NPARAMS + 2].copy_from_slice(&(params.len() as u16).to_le_bytes());
    r[OFF_CPU..OFF_CPU + 2].copy_from_slice(&1u16.to_le_bytes());
    for p in params {
        r.extend_from_slice(&(p.len() as u16).to_le_bytes());
    }
    for p in params {
        r.extend_from_slice(p);
    }
    let len = r.len() as u32;
    r[OFF_LEN..OFF_LEN + 4].copy_from_slice(&len.to_le_bytes());
    // The ring pads records to 8 bytes.
    r.resize(r.len().div_ceil(8) * 8, 0);
    r
}

fn inet_tuple() -> Vec<u8> {
    let mut t = vec![AF_INET, 1, 10, 0, 0, 1];
    t.extend(40_000u16.to_le_bytes());
    t.extend([10, 0, 0, 2]);
    t.extend(443u16.to_le_bytes());
    t
}

fn inet6_tuple() -> Vec<u8> {
    let mut t = vec![AF_INET6, 2];
    t.extend([0u8; 10].iter().chain(&[0xff, 0xff, 127, 0, 0, 1]));
    t.extend(5353u16.to_le_bytes());
    t.extend(std::net::Ipv6Addr::LOCALHOST.octets());
    t.extend(53u16.to_le_bytes());
    t
}

fn unix_tuple() -> Vec<u8> {
    let mut t = vec![AF_UNIX];
    t.extend(0xffff_8880_0000_1000u64.to_le_bytes());
    t.extend(0xffff_8880_0000_2000u64.to_le_bytes());
    t.extend(b"/run/podman/podman.sock");
    t
}

/// Valid bytes for one parameter kind; `variant` picks among socket families.
fn param(kind: ParamKind, variant: usize) -> Vec<u8> {
    match kind {
        ParamKind::Fd | ParamKind::Errno | ParamKind::Pid | ParamKind::Int => {
            (3i64 - variant as i64 * 5).to_le_bytes().to_vec()
        }
        ParamKind::Uid
        | ParamKind::Gid
        | ParamKind::Flags(_)
        | ParamKind::Enum(_)
        | ParamKind::Mode
        | ParamKind::Uint
        | ParamKind::AbsTime
        | ParamKind::Dynamic => (0o644u64 + variant as u64).to_le_bytes().to_vec(),
        ParamKind::FsPath | ParamKind::FsRelPath { .. } => b"/etc/shadow".to_vec(),
        ParamKind::CharBuf => b"bash".to_vec(),
        ParamKind::ByteBuf => b"GET / HTTP/1.1\r\n\x00\xff".to_vec(),
        ParamKind::StrList => b"sh\0-c\0id\0".to_vec(),
        ParamKind::SockTuple => match variant % 5 {
            0 => inet_tuple(),
            1 => inet6_tuple(),
            2 => unix_tuple(),
            // netlink and vsock: the family byte alone.
            3 => vec![16],
            _ => vec![40],
        },
        ParamKind::SockAddr => match variant % 5 {
            0 => {
                let mut a = vec![AF_INET, 10, 0, 0, 2];
                a.extend(443u16.to_le_bytes());
                a
            }
            1 => {
                let mut a = vec![AF_INET6];
                a.extend(std::net::Ipv6Addr::LOCALHOST.octets());
                a.extend(53u16.to_le_bytes());
                a
            }
            2 => b"\x01/tmp/.X11-unix/X0".to_vec(),
            3 => vec![17],
            _ => vec![],
        },
    }
}

/// Every event type with its full schema (three socket-family variants each), and with
/// fewer parameters than the schema, as older kernels' records have.
fn samples() -> Vec<Vec<u8>> {
    let mut out = Vec::new();
    for et in EventType::all().filter(|e| e.index() < ET_COUNT as usize) {
        let schema = et.params();
        for variant in 0..5 {
            let params: Vec<Vec<u8>> = schema.iter().map(|s| param(s.kind, variant)).collect();
            out.push(record(et.index() as u16, &params));
        }
        if schema.len() > 1 {
            let params: Vec<Vec<u8>> = schema[..schema.len() / 2]
                .iter()
                .map(|s| param(s.kind, 0))
                .collect();
            out.push(record(et.index() as u16, &params));
        }
    }
    out
}

/// Values that move a length, a count or a family to its edges.
fn tokens() -> Vec<Vec<u8>> {
    let mut t: Vec<Vec<u8>> = vec![
        vec![AF_INET],
        vec![AF_INET6],
        vec![AF_UNIX],
        vec![16],
        vec![17],
        vec![40],
        vec![0, 0],
        vec![1, 0],
        vec![0xff, 0xff],
        vec![8, 0],
        vec![14, 0],
        vec![38, 0],
        (ET_COUNT).to_le_bytes().to_vec(),
        (ET_COUNT - 1).to_le_bytes().to_vec(),
        32u16.to_le_bytes().to_vec(),
        33u16.to_le_bytes().to_vec(),
        (HDR_SIZE as u32).to_le_bytes().to_vec(),
        u32::MAX.to_le_bytes().to_vec(),
        vec![0; 8],
        b"\0\0".to_vec(),
    ];
    t.extend(
        samples()
            .into_iter()
            .take(3)
            .map(|s| s[HDR_SIZE..].to_vec()),
    );
    t
}

#[test]
fn wire_decode() {
    let samples = samples();
    // Sanity: the unmutated samples decode, so mutations start from records that pass.
    for s in &samples {
        wire::decode(s, 0).unwrap_or_else(|e| panic!("sample {s:?} does not decode: {e}"));
    }
    fuzz(
        "wire_decode",
        mutated_bytes(samples, tokens(), 512),
        |rec| match wire::decode(&rec, 1_700_000_000_000_000_000) {
            Ok(ev) => {
                // What the next stage reads off every event.
                let _ = format!("{ev:?} {}", ev.etype.name());
                Outcome::Accepted
            }
            Err(e) => {
                let _ = (e.reason(), e.reason_index(), e.etype(), e.to_string());
                Outcome::Rejected
            }
        },
    );
}

#[test]
fn wire_decode_reporting() {
    fuzz(
        "wire_decode_reporting",
        mutated_bytes(samples(), tokens(), 512),
        |rec| {
            let mut undecoded = Vec::new();
            let res = wire::decode_reporting(&rec, 0, &mut |e| undecoded.push(e));
            // Parameters reported as undecodable are only reported for a kept event.
            for e in &undecoded {
                assert!(res.is_ok(), "reported {e} for a refused record");
                assert_eq!(e.reason(), "bad_param", "{e}");
            }
            match res {
                Ok(ev) => {
                    let h = wire::Header::parse(&rec).expect("a decoded record has a header");
                    assert_eq!(ev.params.len(), usize::from(h.nparams));
                    Outcome::Accepted
                }
                Err(_) => Outcome::Rejected,
            }
        },
    );
}
