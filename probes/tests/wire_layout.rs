//! The wire format is defined once, in ebpf-src/events.h. These tests hold the Rust side to
//! it: struct layouts against the BTF of the committed object, enum values against the header.

use object::{Object, ObjectSection};
use peregrine_event::EventType;
use peregrine_probes::{wire, Counters, Settings, OBJECT};
use std::collections::HashMap;
use std::mem::{offset_of, size_of};

/// name -> (size, [(member, byte offset)]) for every struct in a BTF blob.
fn btf_structs(btf: &[u8]) -> HashMap<String, (u32, Vec<(String, u32)>)> {
    let u16_at = |o: usize| u16::from_le_bytes([btf[o], btf[o + 1]]);
    let u32_at = |o: usize| u32::from_le_bytes(btf[o..o + 4].try_into().unwrap());
    assert_eq!(u16_at(0), 0xeb9f, "BTF magic");
    let hdr_len = u32_at(4) as usize;
    let (type_off, type_len) = (u32_at(8) as usize, u32_at(12) as usize);
    let str_off = u32_at(16) as usize;
    let strings = &btf[hdr_len + str_off..];
    let name = |off: u32| {
        let s = &strings[off as usize..];
        String::from_utf8_lossy(&s[..s.iter().position(|c| *c == 0).unwrap()]).into_owned()
    };
    let mut out = HashMap::new();
    let mut pos = hdr_len + type_off;
    let end = pos + type_len;
    while pos < end {
        let (name_off, info, size) = (u32_at(pos), u32_at(pos + 4), u32_at(pos + 8));
        let kind = (info >> 24) & 0x1f;
        let vlen = (info & 0xffff) as usize;
        let kflag = info >> 31 == 1;
        pos += 12;
        match kind {
            4 | 5 => {
                let mut members = Vec::new();
                for i in 0..vlen {
                    let m = pos + 12 * i;
                    let off = u32_at(m + 8);
                    let bits = if kflag { off & 0xff_ffff } else { off };
                    members.push((name(u32_at(m)), bits / 8));
                }
                if kind == 4 && name_off != 0 {
                    out.insert(name(name_off), (size, members));
                }
                pos += 12 * vlen;
            }
            1 | 14 | 17 => pos += 4,
            3 => pos += 12,
            6 | 13 => pos += 8 * vlen,
            15 | 19 => pos += 12 * vlen,
            _ => {}
        }
    }
    out
}

fn object_btf() -> Vec<u8> {
    let file = object::File::parse(OBJECT).expect("the committed object is an ELF file");
    file.section_by_name(".BTF")
        .expect(".BTF section")
        .data()
        .unwrap()
        .to_vec()
}

#[test]
fn header_matches_the_object() {
    let structs = btf_structs(&object_btf());
    let (size, members) = &structs["pg_event_hdr"];
    assert_eq!(*size as usize, wire::HDR_SIZE);
    let at = |m: &str| {
        members
            .iter()
            .find(|(n, _)| n == m)
            .map(|(_, o)| *o as usize)
            .unwrap()
    };
    assert_eq!(at("ts"), wire::OFF_TS);
    assert_eq!(at("tid"), wire::OFF_TID);
    assert_eq!(at("pid"), wire::OFF_PID);
    assert_eq!(at("len"), wire::OFF_LEN);
    assert_eq!(at("etype"), wire::OFF_ETYPE);
    assert_eq!(at("nparams"), wire::OFF_NPARAMS);
    assert_eq!(at("cpu"), wire::OFF_CPU);
}

#[test]
fn shared_structs_match_the_object() {
    let structs = btf_structs(&object_btf());
    let check = |c: &str, rust_size: usize, rust: &[(&str, usize)]| {
        let (size, members) = &structs[c];
        assert_eq!(*size as usize, rust_size, "sizeof(struct {c})");
        let got: Vec<(String, u32)> = members.clone();
        let want: Vec<(String, u32)> = rust
            .iter()
            .map(|(n, o)| (n.to_string(), *o as u32))
            .collect();
        assert_eq!(got, want, "struct {c}");
    };
    check(
        "pg_counters",
        size_of::<Counters>(),
        &[
            ("n_evts", offset_of!(Counters, n_evts)),
            ("n_drops_buffer", offset_of!(Counters, n_drops_buffer)),
            ("n_drops_max_size", offset_of!(Counters, n_drops_max_size)),
            ("n_drops_no_ring", offset_of!(Counters, n_drops_no_ring)),
            ("n_drops_scratch", offset_of!(Counters, n_drops_scratch)),
            (
                "n_drops_buffer_type",
                offset_of!(Counters, n_drops_buffer_type),
            ),
        ],
    );
    check(
        "pg_settings",
        size_of::<Settings>(),
        &[
            ("own_tgid", offset_of!(Settings, own_tgid)),
            ("drop_failed", offset_of!(Settings, drop_failed)),
            ("snaplen", offset_of!(Settings, snaplen)),
            ("wakeup_bytes", offset_of!(Settings, wakeup_bytes)),
        ],
    );
}

#[test]
fn event_type_ids_match_the_header() {
    let header = include_str!("../../ebpf-src/events.h");
    let mut seen = 0;
    for line in header.lines() {
        let line = line.trim().trim_end_matches(',');
        let Some(rest) = line.strip_prefix("PG_ET_") else {
            continue;
        };
        let (name, id) = rest.split_once(" = ").unwrap();
        let id: usize = id.parse().unwrap();
        if name == "COUNT" {
            assert_eq!(id, wire::ET_COUNT as usize);
            continue;
        }
        let et = EventType::from_name(&name.to_lowercase()).unwrap_or_else(|| panic!("{name}"));
        assert_eq!(et.index(), id, "PG_ET_{name}");
        seen += 1;
    }
    assert_eq!(seen, wire::ET_COUNT as usize);
    for (name, value) in [
        ("PG_AF_UNIX", wire::AF_UNIX),
        ("PG_AF_INET", wire::AF_INET),
        ("PG_AF_INET6", wire::AF_INET6),
    ] {
        assert!(header.contains(&format!("{name} = {value},")), "{name}");
    }
}
