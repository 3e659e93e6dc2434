//! Careless or hostile command lines and inputs end in a clear error and a non-zero exit,
//! never a panic, and never a run that looks complete when it was not (issue 15, point 6).
//! The cases in docs/security.md's table (a truncated capture, `-M 1e99`, `validate | head`,
//! …) are in `hostile_inputs.rs`; these are the rest.

use peregrine::capture::{CaptureHeader, CaptureWriter, FORMAT_VERSION, MAGIC};
use peregrine_event::synth::{Generator, SynthConfig};
mod common;

use common::text;
use std::path::PathBuf;
use std::process::{Command, Output};

fn dir(name: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!(
        "peregrine-failclosed-{name}-{}",
        std::process::id()
    ));
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).unwrap();
    d
}

fn peregrine(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_peregrine"))
        .args(args)
        .args([
            "-o",
            "webserver.enabled=false",
            "-o",
            "stdout_output.enabled=false",
        ])
        .output()
        .unwrap()
}

/// A capture of `n` synthetic events; its length in bytes.
fn capture(path: &std::path::Path, n: usize) -> u64 {
    let header = CaptureHeader {
        version: FORMAT_VERSION,
        hostname: "h".into(),
        created_ns: 1,
        producer: "test".into(),
    };
    let mut w = CaptureWriter::create(path, &header).unwrap();
    let mut gen = Generator::new(SynthConfig::default());
    for _ in 0..n {
        w.write(&gen.next_event()).unwrap();
    }
    w.finish().unwrap();
    std::fs::metadata(path).unwrap().len()
}

/// Records that do not decode (here: nested 900 parents deep, once an abort of the agent)
/// are skipped, the rest replays, and the run fails saying how many and where.
#[test]
fn a_capture_with_undecodable_records_replays_the_rest_and_fails() {
    let d = dir("nested");
    let path = d.join("nested.cap");
    let header = CaptureHeader {
        version: FORMAT_VERSION,
        hostname: "h".into(),
        created_ns: 1,
        producer: "test".into(),
    };
    // Building and dropping a chain this deep recurses: give it room.
    let p = path.clone();
    std::thread::Builder::new()
        .stack_size(64 << 20)
        .spawn(move || {
            let mut w = CaptureWriter::create(&p, &header).unwrap();
            let mut gen = Generator::new(SynthConfig::default());
            for i in 0..100 {
                let ev = if i == 50 {
                    common::nested_event(&mut gen, 900)
                } else {
                    gen.next_event()
                };
                w.write(&ev).unwrap();
            }
            w.finish().unwrap();
        })
        .unwrap()
        .join()
        .unwrap();
    let stats = d.join("stats.json");
    let out = peregrine(&[
        "--source",
        &format!("replay:{}", path.display()),
        "--stats-file",
        &stats.display().to_string(),
    ]);
    let log = text(&out);
    assert_eq!(out.status.code(), Some(1), "{log}");
    assert!(
        log.contains("the capture was not replayed whole: 1 records did not decode")
            && log.contains("99 events replayed")
            && log.contains("depth limit"),
        "{log}"
    );
    let stats: serde_json::Value = serde_json::from_slice(&std::fs::read(&stats).unwrap()).unwrap();
    let source = &stats.as_array().unwrap()[0];
    assert_eq!(source["stage"], "source");
    assert_eq!(
        source["dropped_by_reason"][3],
        serde_json::json!(["malformed", 1])
    );
    assert_eq!(source["out"], 99);
    std::fs::remove_dir_all(&d).ok();
}

/// A thousand records that do not decode make a warning or two, not a thousand (one WARN
/// per skipped record once flooded the log), and all are counted.
#[test]
fn skipped_records_are_warned_about_at_a_bounded_rate() {
    let d = dir("corrupt");
    let path = d.join("corrupt.cap");
    capture(&path, 1000);
    let mut bytes = std::fs::read(&path).unwrap();
    // Walk the length prefixes and spoil the start of every record body.
    let head = u32::from_le_bytes(bytes[MAGIC.len()..MAGIC.len() + 4].try_into().unwrap());
    let mut at = MAGIC.len() + 4 + head as usize;
    while at + 4 < bytes.len() {
        let len = u32::from_le_bytes(bytes[at..at + 4].try_into().unwrap()) as usize;
        bytes[at + 4] = 0xc1; // never used in msgpack
        at += 4 + len;
    }
    std::fs::write(&path, &bytes).unwrap();
    let out = peregrine(&["--source", &format!("replay:{}", path.display())]);
    let log = text(&out);
    assert_eq!(out.status.code(), Some(1), "{log}");
    assert!(
        log.contains("1000 records did not decode and were skipped (0 events replayed)"),
        "{log}"
    );
    let warnings = log
        .matches("skipping capture records that do not decode")
        .count();
    assert!((1..=2).contains(&warnings), "{warnings} warnings: {log}");
    std::fs::remove_dir_all(&d).ok();
}

/// A `rules_files` entry that does not exist stops the agent, naming it, unless the
/// operator opts into Falco's skipping; a bad value of the option is a config error.
#[test]
fn a_missing_rules_file_is_an_error_unless_skipping_is_asked_for() {
    let d = dir("missing-rules");
    let rules = d.join("rules.yaml");
    std::fs::write(
        &rules,
        "- rule: r\n  desc: d\n  condition: evt.type = open\n  output: o\n  priority: INFO\n",
    )
    .unwrap();
    let missing = d.join("gone.yaml");
    let run = |extra: &[&str]| {
        let mut args = vec![
            "-c".to_string(),
            "/dev/null".to_string(),
            "-o".to_string(),
            format!("rules_files[]={}", missing.display()),
            "-o".to_string(),
            format!("rules_files[]={}", rules.display()),
            "--source".to_string(),
            "synthetic".to_string(),
            "--duration=0.2".to_string(),
        ];
        args.extend(extra.iter().map(|s| s.to_string()));
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        peregrine(&args)
    };
    let out = run(&[]);
    let log = text(&out);
    assert!(!out.status.success(), "{log}");
    assert!(
        log.contains(&format!("rules_files entry {}", missing.display()))
            && log.contains("rules_files_missing: skip"),
        "{log}"
    );
    let out = run(&["-o", "rules_files_missing=skip"]);
    let log = text(&out);
    assert!(out.status.success(), "{log}");
    assert!(log.contains("skipping rules_files entry"), "{log}");
    let out = run(&["-o", "rules_files_missing=maybe"]);
    assert!(!out.status.success());
    assert!(text(&out).contains("rules_files_missing"), "{}", text(&out));
    std::fs::remove_dir_all(&d).ok();
}
