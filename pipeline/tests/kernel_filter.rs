//! The rule-driven kernel filter never keeps back an event a rule could match.
//!
//! A property over generated events: synthetic enriched streams, each open also tried with
//! the rules' own names (and near misses: other case, a longer name, a non-normal spelling,
//! a relative one, one holding `../`), for reading and for writing, by each task name the
//! filter lists, and as a failed call. Wherever any enabled rule matches an event
//! (`rule_matching: all`), the filter the kernel runs for those rules
//! ([`KernelInterest::sends_exit`], the kernel program's decision) must send it. Run on the seed's
//! rules (where opens are filtered by name) and on each upstream ruleset alone and together.
//! The live side (same alerts with the filter on and off over a real workload) is in
//! `kernel_filter_live.rs`.

mod common;

use peregrine::run::kernel_interest;
use peregrine_event::flags::open;
use peregrine_event::synth::{Generator, SynthConfig};
use peregrine_event::{Event, EventType, FdKind, ParamValue};
use peregrine_probes::interest::{Exit, KernelInterest, PATH_FILTER};
use peregrine_rules::{load_files, CompileOptions, RuleMatching, Ruleset};
use std::sync::Arc;

fn ruleset(files: &[&str]) -> Option<Ruleset> {
    let dir = common::testdata("kernel_filter")?;
    let paths: Vec<_> = files.iter().map(|f| dir.join(f)).collect();
    Some(
        load_files(&paths, &CompileOptions::default())
            .ruleset
            .expect("rules load"),
    )
}

/// Where an open's name parameter is, per type.
fn name_index(t: EventType) -> usize {
    if t == EventType::OPENAT || t == EventType::OPENAT2 {
        2
    } else {
        1
    }
}

/// The same open with another name (raw as the process passed it, and as fd.name).
fn renamed(ev: &Event, raw: &str, name: &str) -> Event {
    let mut e = ev.clone();
    e.params[name_index(e.etype)] = ParamValue::Str(raw.into());
    if let Some(fd) = &e.fd {
        let mut fd = (**fd).clone();
        fd.name = name.to_string();
        fd.nameraw = raw.to_string();
        e.fd = Some(Arc::new(fd));
    }
    e
}

/// Where an open's flags are (creat has none).
fn flags_index(t: EventType) -> Option<usize> {
    match t {
        EventType::OPEN => Some(2),
        EventType::OPENAT | EventType::OPENAT2 => Some(3),
        _ => None,
    }
}

/// The same open for reading only, or for writing.
fn with_mode(ev: &Event, write: bool) -> Option<Event> {
    let i = flags_index(ev.etype)?;
    let mut e = ev.clone();
    let flags = e.param(i).as_u64().unwrap_or(0) & !open::O_ACCMODE;
    e.params[i] = ParamValue::Uint(flags | if write { open::O_RDWR } else { 0 });
    Some(e)
}

/// The same event from a process of another name.
fn by_task(ev: &Event, comm: &str) -> Event {
    let mut e = ev.clone();
    if let Some(p) = &e.process {
        let mut p = (**p).clone();
        p.name = comm.into();
        e.process = Some(Arc::new(p));
    }
    e
}

/// The same call, failed: no fd, as the enricher leaves a failed open.
fn failed(ev: &Event) -> Event {
    let mut e = ev.clone();
    e.params[0] = ParamValue::Int(-13);
    if e.etype.is_open() {
        e.fd = None;
    }
    e
}

/// The names worth trying on opens: the filter's own, and near misses of each.
fn names(interest: &KernelInterest) -> Vec<(String, String)> {
    let mut out = vec![
        ("/etc/hostname".to_string(), "/etc/hostname".to_string()),
        ("shadow".to_string(), "/etc/shadow".to_string()),
    ];
    let p = &interest.paths;
    for dotdot in [
        "/tmp/a../b",
        "/etc/x../shadow",
        "/etc/a../b../shadow",
        "/var/..a/../b",
    ] {
        out.push((dotdot.to_string(), dotdot.to_string()));
    }
    for n in p.exact.keys().chain(p.prefixes.keys()) {
        out.push((n.clone(), n.clone()));
        out.push((format!("{n}x"), format!("{n}x")));
        out.push((format!("{n}/sub"), format!("{n}/sub")));
        out.push((n.to_uppercase(), n.to_uppercase()));
        // Spelled otherwise, the same fd.name.
        out.push((n.replacen('/', "//", 1), n.clone()));
        if let Some((dir, file)) = n.rsplit_once('/') {
            out.push((format!("{dir}/./{file}"), n.clone()));
            out.push((
                format!("{dir}/../{}/{file}", dir.rsplit('/').next().unwrap_or("")),
                n.clone(),
            ));
        }
    }
    out
}

fn check(files: &[&str], events: usize) {
    let Some(rs) = ruleset(files) else {
        return;
    };
    let interest = kernel_interest(&rs, true);
    let names = names(&interest);
    let mut scratch = rs.new_scratch();
    let mut gen = Generator::new(SynthConfig {
        seed: 7,
        suspicious_per_mille: 50,
        ..SynthConfig::default()
    });
    let (mut matched, mut tried) = (0usize, 0usize);
    let mut hits = Vec::new();
    let mut verify = |ev: &Event| {
        tried += 1;
        hits.clear();
        rs.evaluate(ev, &mut scratch, RuleMatching::All, &mut hits);
        if hits.is_empty() {
            return;
        }
        matched += 1;
        let ret = ev.res().unwrap_or(0);
        let raw = ev.etype.is_open().then(|| {
            ev.param(name_index(ev.etype))
                .as_str()
                .unwrap_or_default()
                .to_string()
        });
        let write = flags_index(ev.etype)
            .and_then(|i| ev.param(i).as_u64())
            .is_some_and(|f| matches!(f & open::O_ACCMODE, open::O_WRONLY | open::O_RDWR));
        let comm = ev
            .process
            .as_ref()
            .map(|p| p.name.to_string())
            .unwrap_or_default();
        // A regular file unless the event says otherwise: then only the filter decides.
        let regular = ev.fd.as_ref().is_none_or(|f| f.kind == FdKind::File);
        let exit = Exit {
            syscall: ev.etype.name(),
            ret,
            path: raw.as_deref(),
            write,
            comm: &comm,
            regular,
        };
        assert!(
            interest.sends_exit(&exit),
            "{files:?}: rule {:?} matches {} ({exit:?}) but the kernel would not send it",
            rs.rules()[hits[0]].name,
            ev.etype.name(),
        );
    };
    let comms: Vec<String> = interest.paths.comms.keys().cloned().collect();
    for _ in 0..events {
        let ev = gen.next_event();
        verify(&ev);
        if ev.res().is_some() {
            verify(&failed(&ev));
        }
        if ev.etype.is_open() && ev.fd.is_some() {
            for (raw, name) in &names {
                let e = renamed(&ev, raw, name);
                for e in [Some(e.clone()), with_mode(&e, true), with_mode(&e, false)]
                    .into_iter()
                    .flatten()
                {
                    verify(&e);
                    verify(&failed(&e));
                }
            }
            for comm in &comms {
                let e = by_task(&ev, comm);
                verify(&e);
                if let Some(e) = with_mode(&e, false) {
                    verify(&e);
                }
            }
        }
    }
    eprintln!("{files:?}: {matched} of {tried} events matched a rule; all would be sent");
    assert!(matched > 0, "the property was never exercised");
}

#[test]
fn seed_rules_filter_by_name_and_never_hide_a_match() {
    let Some(rs) = ruleset(&["seed_rules.yaml"]) else {
        return;
    };
    let interest = kernel_interest(&rs, true);
    let filtered = interest
        .flags
        .values()
        .filter(|f| *f & PATH_FILTER != 0)
        .count();
    assert_eq!(filtered, 3, "open, openat, openat2 by name: {interest:?}");
    assert!(
        !interest.sends("close", 0, None),
        "no seed rule reads the fd table"
    );
    assert!(!interest.sends("openat", 3, Some("/etc/hostname")));
    assert!(interest.sends("openat", 3, Some("/etc/shadow")));
    assert!(
        !interest.sends("openat", -2, Some("/etc/shadow")),
        "fd.num>=0"
    );
    assert!(
        interest.sends("openat", 3, Some("/etc//shadow")),
        "not normal"
    );
    assert!(interest.sends("openat", 3, Some("shadow")), "relative");
    check(&["seed_rules.yaml"], 40_000);
}

#[test]
fn upstream_rules_never_hide_a_match() {
    for files in [
        &["upstream/falco_rules.yaml"][..],
        &["upstream/falco-incubating_rules.yaml"],
        &["upstream/falco-sandbox_rules.yaml"],
        &[
            "upstream/falco_rules.yaml",
            "upstream/falco-incubating_rules.yaml",
            "upstream/falco-sandbox_rules.yaml",
        ],
    ] {
        check(files, 20_000);
    }
}
