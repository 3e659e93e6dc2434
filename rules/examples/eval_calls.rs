//! A fixed amount of evaluation work for instruction counting: generates `N` events
//! (default 20 480, seed 42, 12 containers, as the bench), then evaluates them `ROUNDS`
//! times (default 1) with `RuleMatching::First`. Run it under callgrind with `ROUNDS=0` and
//! `ROUNDS=1` and subtract to get the instructions spent evaluating:
//!
//! `valgrind --tool=callgrind target/release/examples/eval_calls RULES.yaml...`
//!
//! `ONLY=openat,execve` keeps only the events of those types (after generating `N`).
//! `TIME=1` also prints the time per event (for A/B runs of two builds, not a benchmark).
//! `RULE=pattern` keeps only the rules whose names match (`*` as a wildcard).
//! `UNIQUE=1` gives every event a process snapshot, file name and server port of its own:
//! the worst case for the prefilter's memos.
//! `SUMMARY=1` prints the prefilter plan of each event type instead; `CANDS=1` prints how
//! often each rule passes the prefilter, per event type.

use peregrine_event::synth::{Generator, SynthConfig};
use peregrine_rules::engine::RulesSource;
use peregrine_rules::{load_sources, CompileOptions, RuleMatching};

fn main() {
    let files: Vec<String> = std::env::args().skip(1).collect();
    let sources: Vec<RulesSource> = files
        .iter()
        .map(|f| RulesSource::read(f.as_ref()))
        .collect();
    let mut rs = load_sources(&sources, &CompileOptions::default())
        .ruleset
        .expect("rules load");
    rs.set_enabled_by_name("*", true);
    if let Ok(only) = std::env::var("RULE") {
        rs.set_enabled_by_name("*", false);
        rs.set_enabled_by_name(&only, true);
    }
    if std::env::var("SUMMARY").is_ok() {
        print!("{}", rs.index_summary());
        for (i, r) in rs.rules().iter().enumerate() {
            println!("{i} {}", r.name);
        }
        return;
    }
    let env = |k: &str, d: usize| {
        std::env::var(k)
            .ok()
            .and_then(|v| v.parse().ok())
            .unwrap_or(d)
    };
    let events: Vec<_> = Generator::new(SynthConfig {
        seed: 42,
        containers: 12,
        ..Default::default()
    })
    .take(env("N", 20_480))
    .filter(|ev| std::env::var("ONLY").map_or(true, |t| t.split(',').any(|t| t == ev.etype.name())))
    .collect();
    // Worst case for the memos: every event from a new process snapshot, on a path and
    // server not seen before.
    let events: Vec<_> = if std::env::var("UNIQUE").is_ok() {
        use peregrine_event::{FdInfo, SockTuple};
        use std::sync::Arc;
        events
            .into_iter()
            .enumerate()
            .map(|(i, mut ev)| {
                if let Some(p) = &ev.process {
                    ev.process = Some(Arc::new((**p).clone()));
                }
                if let Some(fd) = &ev.fd {
                    let mut fd: FdInfo = (**fd).clone();
                    if !fd.name.is_empty() && fd.tuple.is_none() {
                        fd.name = format!("{}.{i}", fd.name);
                        fd.nameraw = format!("{}.{i}", fd.nameraw);
                    }
                    if let Some(SockTuple::Inet { dport, .. }) = &mut fd.tuple {
                        *dport = 1024 + (i % 60000) as u16;
                    }
                    ev.fd = Some(Arc::new(fd));
                }
                ev
            })
            .collect()
    } else {
        events
    };
    let mut scratch = rs.new_scratch();
    if std::env::var("CANDS").is_ok() {
        let mut counts = std::collections::BTreeMap::new();
        let mut types = std::collections::BTreeMap::new();
        for ev in &events {
            *types.entry(ev.etype.name()).or_insert(0usize) += 1;
            for r in rs.candidates(ev, &mut scratch) {
                *counts.entry((ev.etype.name(), r)).or_insert(0usize) += 1;
            }
        }
        for (t, n) in types {
            println!("{t} {n}");
        }
        for ((t, r), n) in counts {
            println!("{t} {n} {}", rs.rule(r).name);
        }
        return;
    }
    let mut m = Vec::new();
    let start = std::time::Instant::now();
    for _ in 0..env("ROUNDS", 1) {
        for ev in &events {
            rs.evaluate(ev, &mut scratch, RuleMatching::First, &mut m);
        }
    }
    if std::env::var("TIME").is_ok() {
        let n = events.len() * env("ROUNDS", 1);
        println!(
            "{:.1} ns/event",
            start.elapsed().as_nanos() as f64 / n.max(1) as f64
        );
    }
    println!("{} events, {} matches", events.len(), m.len());
    if std::env::var("RUNS").is_ok() {
        print!("{}", rs.index_summary());
    }
}
