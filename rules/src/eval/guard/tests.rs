//! The prefilter's plans and answers on small rule sets.

use super::*;
use crate::compile::check::{compile_expr, SlotTable};
use crate::eval::test_events::open_event;

fn index(cond: &str, t: &str) -> (TypeIndex, SlotTable, MemoWidths) {
    let ast = crate::parser::parse_condition(cond).expect("parses");
    let mut slots = SlotTable::default();
    let node = compile_expr(&ast, &mut slots).expect("compiles");
    let t = EventType::from_name(t).expect("event type");
    let mut widths = MemoWidths::default();
    let idx = TypeIndex::new(t, &slots.defs, [(0, &node)].into_iter(), &mut widths);
    (idx, slots, widths)
}

fn lookups(idx: &TypeIndex) -> Vec<&SlotIndex> {
    idx.groups[0]
        .steps
        .iter()
        .filter_map(|s| match &s.kind {
            StepKind::Lookup(x) | StepKind::PathLookup(x, _) | StepKind::ProcLookup(x, _) => {
                Some(x)
            }
            _ => None,
        })
        .collect()
}

#[test]
fn open_flag_checks_read_the_flags_once() {
    for (cond, want) in [
        ("evt.is_open_write = true", true),
        ("evt.is_open_write = false", false),
        ("evt.is_open_write != true", false),
        ("not evt.is_open_write = true", false),
    ] {
        let (idx, _, _) = index(&format!("evt.type = openat and {cond}"), "openat");
        let kinds: Vec<_> = idx.groups[0].steps.iter().map(|s| &s.kind).collect();
        match kinds.as_slice() {
            [StepKind::Open { flag, want: w, .. }] => {
                assert_eq!((*flag, *w), (OpenFlag::Write, want), "{cond}")
            }
            // A negated condition is no guard.
            [] if cond.starts_with("not") => {}
            other => panic!("{cond}: {other:?}"),
        }
    }
}

#[test]
fn contains_on_a_joined_field_is_a_guard_without_spaces_only() {
    let (idx, slots, _) = index(
        "evt.type = execve and proc.cmdline contains stratum+tcp",
        "execve",
    );
    let l = lookups(&idx);
    assert_eq!(l.len(), 1);
    assert!(l[0].pieces);
    assert_eq!(slots.defs[l[0].slot].field.name(), "proc.cmdline");
    assert_eq!(l[0].contains.as_ref().map(|c| c.1.len()), Some(1));
    // A needle with a space can span two pieces: no guard.
    let (idx, _, _) = index(
        "evt.type = execve and proc.cmdline contains 'sh -c'",
        "execve",
    );
    assert!(lookups(&idx).is_empty());
    let (idx, _, _) = index("evt.type = execve and not proc.args contains x", "execve");
    assert!(lookups(&idx).is_empty());
}

#[test]
fn specialised_or_of_types_yields_a_guard() {
    let (idx, _, _) = index(
        "(evt.type = openat and fd.name startswith /etc) or (evt.type = execve and proc.name = sh)",
        "openat",
    );
    assert_eq!(
        idx.groups[0].steps.len(),
        1,
        "only the openat branch remains"
    );
    assert_eq!(lookups(&idx)[0].prefixes.len(), 1);
    let (idx, _, _) = index("evt.type = openat and fd.name glob '*x'", "openat");
    assert!(
        idx.groups[0].steps.is_empty(),
        "a glob without a literal prefix is no guard"
    );
}

fn passes(
    idx: &TypeIndex,
    slots: &SlotTable,
    widths: &MemoWidths,
    ev: &peregrine_event::Event,
) -> bool {
    let mut scratch = crate::eval::Scratch::new(slots.defs.len(), 0);
    passes_with(idx, slots, widths, ev, &mut scratch)
}

/// [`passes`] with a scratch kept across events (and its memos).
fn passes_with(
    idx: &TypeIndex,
    slots: &SlotTable,
    widths: &MemoWidths,
    ev: &peregrine_event::Event,
    scratch: &mut crate::eval::Scratch,
) -> bool {
    scratch.next_event(slots.defs.len(), 0);
    scratch.use_layout(1, widths);
    let mut cx = Ctx {
        ev,
        defs: &slots.defs,
        scratch,
    };
    let mut found = false;
    idx.candidates(&mut cx, |pos, _| {
        found |= pos == 0;
        true
    });
    found
}

#[test]
fn contains_suffix_and_glob_prefix_guards() {
    let cond = "evt.type = openat and (fd.name contains /.ssh/ or fd.name contains id_rsa \
                or fd.name endswith .pem or fd.name glob '/proc/*/environ')";
    let (idx, slots, widths) = index(cond, "openat");
    assert_eq!(lookups(&idx).len(), 2, "one lookup and one contains search");
    for (name, want) in [
        ("/home/a/.ssh/known_hosts", true),
        ("/root/id_rsa.pub", true),
        ("/etc/ssl/x.pem", true),
        ("/proc/1/environ", true),
        ("/proc/1/status", true),
        ("/etc/passwd", false),
        ("/tmp/ssh", false),
    ] {
        assert_eq!(
            passes(&idx, &slots, &widths, &open_event(name, 0)),
            want,
            "{name}"
        );
    }
}

fn step_fields(idx: &TypeIndex, slots: &SlotTable) -> Vec<String> {
    idx.groups[0]
        .steps
        .iter()
        .map(|s| match &s.kind {
            StepKind::Lookup(x) | StepKind::PathLookup(x, _) | StepKind::ProcLookup(x, _) => {
                slots.defs[x.slot].field.name().to_string()
            }
            StepKind::Check(c, _) | StepKind::NotCheck(c, _) | StepKind::Open { check: c, .. } => {
                slots.defs[c.slot].field.name().to_string()
            }
            StepKind::Flags(..) => "flags".to_string(),
        })
        .collect()
}

/// `fd.nameraw` lookups are memoised with the path only for events whose raw name is
/// the name: the same name opened through another raw path is looked up as it is.
#[test]
fn raw_names_are_memoised_only_when_they_are_the_name() {
    let cond = "evt.type = openat and fd.nameraw contains ../ and \
                (fd.name startswith /etc or fd.directory = /etc)";
    let (idx, slots, widths) = index(cond, "openat");
    assert!(idx.groups[0].raw_key, "{:?}", step_fields(&idx, &slots));
    let open_raw = |name: &str, raw: &str| {
        let mut ev = open_event(name, 0);
        let mut fd = (**ev.fd.as_ref().expect("fd")).clone();
        fd.nameraw = raw.into();
        ev.fd = Some(Arc::new(fd));
        ev
    };
    let mut scratch = crate::eval::Scratch::new(slots.defs.len(), 0);
    let mut passes =
        |ev: &peregrine_event::Event| passes_with(&idx, &slots, &widths, ev, &mut scratch);
    for _ in 0..3 {
        assert!(!passes(&open_raw("/etc/shadow", "/etc/shadow")));
        assert!(passes(&open_raw("/etc/shadow", "/tmp/../etc/shadow")));
        assert!(!passes(&open_raw("/etc/shadow", "/etc//shadow")));
        assert!(passes(&open_raw("/etc/x/../shadow", "/etc/x/../shadow")));
    }
}

/// Tests of a socket's server side are memoised per server: connects to the same
/// server from other client ports reuse them, other servers and protocols do not.
/// (The prefilter may let an event through that the rule rejects later; it must let
/// through exactly what it lets through without the memo.)
#[test]
fn server_side_tests_are_memoised_per_server() {
    use peregrine_event::{FdInfo, FdKind, L4Proto, ParamValue, SockTuple, SocketRole};
    use std::net::{IpAddr, Ipv4Addr};
    let cond = "evt.type = connect and fd.sport in (443, 8443) and fd.sip = 10.1.2.3 \
                and fd.l4proto = tcp";
    let (idx, slots, widths) = index(cond, "connect");
    assert!(
        idx.groups[0].sock_table.is_some(),
        "{:?}",
        step_fields(&idx, &slots)
    );
    let t = EventType::from_name("connect").expect("connect");
    let connect = |server: [u8; 4], port: u16, proto: L4Proto, client_port: u16| {
        let mut ev = peregrine_event::Event::new(t, 0, 1, vec![ParamValue::Int(0)]);
        ev.process = Some(Arc::new(peregrine_event::ProcessInfo::default()));
        ev.fd = Some(Arc::new(FdInfo {
            num: 5,
            kind: FdKind::Ipv4,
            role: SocketRole::Client,
            tuple: Some(SockTuple::Inet {
                proto,
                sip: IpAddr::V4(Ipv4Addr::new(10, 0, 0, 9)),
                sport: client_port,
                dip: IpAddr::V4(Ipv4Addr::from(server)),
                dport: port,
            }),
            ..Default::default()
        }));
        ev
    };
    let mut shared = crate::eval::Scratch::new(slots.defs.len(), 0);
    let passes = |ev: &peregrine_event::Event, scratch: &mut crate::eval::Scratch| {
        passes_with(&idx, &slots, &widths, ev, scratch)
    };
    let (tcp, udp) = (L4Proto::Tcp, L4Proto::Udp);
    for client_port in 40000..40010 {
        for (server, port, proto, want) in [
            ([10, 1, 2, 3], 443, tcp, Some(true)),
            ([10, 1, 2, 3], 8443, tcp, Some(true)),
            ([10, 1, 2, 3], 80, tcp, Some(false)),
            ([10, 1, 2, 4], 443, tcp, Some(false)),
            ([10, 1, 2, 3], 443, udp, None),
            ([10, 1, 2, 3], 80, udp, Some(false)),
        ] {
            let ev = connect(server, port, proto, client_port);
            let alone = passes(&ev, &mut crate::eval::Scratch::new(slots.defs.len(), 0));
            let memoised = passes(&ev, &mut shared);
            assert_eq!(
                memoised, alone,
                "{server:?}:{port} {proto:?} from {client_port}"
            );
            if let Some(want) = want {
                assert_eq!(alone, want, "{server:?}:{port} {proto:?}");
            }
        }
    }
}

/// An `accept` from `client` (server side 10.1.2.3:80), or with no fd resolved.
fn accept_event(client: Option<[u8; 4]>) -> peregrine_event::Event {
    use peregrine_event::{FdInfo, FdKind, L4Proto, ParamValue, SockTuple, SocketRole};
    use std::net::{IpAddr, Ipv4Addr};
    let t = EventType::from_name("accept").expect("accept");
    let mut ev = peregrine_event::Event::new(t, 0, 1, vec![ParamValue::Int(5)]);
    ev.process = Some(Arc::new(peregrine_event::ProcessInfo::default()));
    ev.fd = client.map(|c| {
        Arc::new(FdInfo {
            num: 5,
            kind: FdKind::Ipv4,
            tuple: Some(SockTuple::Inet {
                proto: L4Proto::Tcp,
                sip: IpAddr::V4(Ipv4Addr::from(c)),
                sport: 40000,
                dip: IpAddr::V4(Ipv4Addr::new(10, 1, 2, 3)),
                dport: 80,
            }),
            role: SocketRole::Server,
            connected: true,
            ..Default::default()
        })
    });
    ev
}

/// `not` an address allow-list is a guard: the event passes unless the address is
/// listed, and passes when the field is missing (the `not` holds then).
#[test]
fn an_address_allow_list_under_not_is_a_guard() {
    for cond in [
        "evt.type = accept and not fd.cnet in (10.0.0.0/8, 192.168.0.0/16)",
        "evt.type = accept and fd.num >= 0 and not (fd.cip in (127.0.0.1) or \
         fd.cnet in (10.0.0.0/8, 192.168.0.0/16) or proc.name = sshd)",
    ] {
        let (idx, slots, widths) = index(cond, "accept");
        assert!(
            step_fields(&idx, &slots).contains(&"fd.cnet".to_string()),
            "{cond}: {:?}",
            step_fields(&idx, &slots)
        );
        for (client, want) in [
            (Some([10, 0, 3, 4]), false),
            (Some([192, 168, 1, 1]), false),
            (Some([172, 16, 0, 1]), true),
            (None, true),
        ] {
            assert_eq!(
                passes(&idx, &slots, &widths, &accept_event(client)),
                want,
                "{cond} from {client:?}"
            );
        }
    }
    // Other exceptions mostly hold: no step for them.
    let (idx, slots, _) = index("evt.type = accept and not proc.name in (sshd)", "accept");
    assert!(step_fields(&idx, &slots).is_empty());
}

/// A `contains` on a mode's flag names is a guard on the types where it is a flag check.
#[test]
fn flag_name_checks_are_guards() {
    use peregrine_event::ParamValue;
    let cond = "evt.type = fchmodat and (evt.arg.mode contains S_ISUID or \
                evt.arg.mode contains S_ISGID)";
    let (idx, slots, widths) = index(cond, "fchmodat");
    assert_eq!(step_fields(&idx, &slots), ["flags"]);
    let t = EventType::from_name("fchmodat").expect("fchmodat");
    for (mode, want) in [(0o4755, true), (0o2755, true), (0o755, false)] {
        let mut ev = peregrine_event::Event::new(
            t,
            0,
            1,
            vec![
                ParamValue::Int(0),
                ParamValue::Int(-100),
                ParamValue::Str("/tmp/x".into()),
                ParamValue::Uint(mode),
            ],
        );
        ev.process = Some(Arc::new(peregrine_event::ProcessInfo::default()));
        assert_eq!(passes(&idx, &slots, &widths, &ev), want, "mode {mode:o}");
    }
}

#[test]
fn cheap_conjuncts_are_guards_and_steps_run_most_selective_first() {
    let cond = "evt.type = openat and fd.num >= 0 and fd.name in (/etc/shadow, /etc/passwd) \
                and evt.is_open_write = true and not proc.name = sh";
    let (idx, slots, widths) = index(cond, "openat");
    // `fd.num >= 0` mostly holds: beside a selective guard, it is not worth a step.
    assert_eq!(step_fields(&idx, &slots), ["fd.name", "evt.is_open_write"]);
    let (weak, slots_w, _) = index(
        "evt.type = openat and fd.num >= 0 and evt.is_open_write = true",
        "openat",
    );
    assert_eq!(
        step_fields(&weak, &slots_w),
        ["evt.is_open_write", "fd.num"]
    );
    // O_WRONLY is 1.
    assert!(passes(&idx, &slots, &widths, &open_event("/etc/shadow", 1)));
    assert!(!passes(
        &idx,
        &slots,
        &widths,
        &open_event("/etc/shadow", 0)
    ));
    assert!(!passes(&idx, &slots, &widths, &open_event("/etc/hosts", 1)));
}

/// A conjunct whose guard holds exactly when it does is not tested again after the
/// prefilter; a weaker guard (a glob's literal prefix) leaves it in.
#[test]
fn conjuncts_proven_by_the_prefilter_leave_the_condition() {
    let (idx, _, _) = index(
        "evt.type = openat and fd.name in (/etc/shadow, /etc/sudoers) and proc.name = cat",
        "openat",
    );
    let left = format!("{:?}", idx.conds[0]);
    assert!(!left.contains("/etc/shadow"), "{left}");
    let (idx, slots, widths) = index(
        "evt.type = openat and fd.name glob /etc/*.d/*.conf",
        "openat",
    );
    let left = format!("{:?}", idx.conds[0]);
    assert!(left.contains("Glob"), "{left}");
    // `/etc/a/b.conf` passes the guards on the glob's literal prefix and suffix; the glob,
    // still in the condition, decides.
    let ev = open_event("/etc/a/b.conf", 0);
    assert!(passes(&idx, &slots, &widths, &ev));
    let mut scratch = crate::eval::Scratch::new(slots.defs.len(), 0);
    scratch.next_event(slots.defs.len(), 0);
    let mut cx = Ctx {
        ev: &ev,
        defs: &slots.defs,
        scratch: &mut scratch,
    };
    assert!(!idx.conds[0].eval(&mut cx));
}
