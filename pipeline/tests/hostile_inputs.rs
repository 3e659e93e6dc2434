//! The hostile inputs of issue 15, tried on the real binary one after another; each case
//! asserts what must happen and says what did. The table they make is the one in
//! docs/security.md: a change of behaviour fails here until the page is regenerated with
//! `PEREGRINE_UPDATE_DOCS=1 cargo test -p peregrine --test hostile_inputs`.

mod common;

use common::{peregrine, text};
use peregrine::capture::{CaptureHeader, CaptureWriter, FORMAT_VERSION};
use peregrine_event::synth::{Generator, SynthConfig};
use std::io::{Read, Write};
use std::os::unix::fs::{symlink, PermissionsExt};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

const BEGIN: &str = "<!-- hostile-inputs:begin (made by pipeline/tests/hostile_inputs.rs) -->\n";
const END: &str = "<!-- hostile-inputs:end -->\n";

struct Case {
    area: &'static str,
    input: &'static str,
    before: &'static str,
    /// Runs the input in a fresh directory, asserts, and says what happened.
    run: fn(&Path) -> String,
}

fn s(p: &Path) -> &str {
    p.to_str().unwrap()
}

/// `validate` of one rules text; exit code and output.
fn validate(dir: &Path, rules: &str) -> (Option<i32>, String) {
    let path = dir.join("rules.yaml");
    std::fs::write(&path, rules).unwrap();
    let out = peregrine(&["validate", "-r", s(&path)]);
    (out.status.code(), text(&out))
}

fn capture(path: &Path, events: Vec<peregrine_event::Event>) {
    let header = CaptureHeader {
        version: FORMAT_VERSION,
        hostname: "h".into(),
        created_ns: 1,
        producer: "test".into(),
    };
    let mut w = CaptureWriter::create(path, &header).unwrap();
    for ev in &events {
        w.write(ev).unwrap();
    }
    w.finish().unwrap();
}

fn replay(path: &Path) -> (Option<i32>, String) {
    let out = peregrine(&[
        "--source",
        &format!("replay:{}", path.display()),
        "-o",
        "stdout_output.enabled=false",
    ]);
    (out.status.code(), text(&out))
}

fn deep_capture(dir: &Path) -> String {
    let path = dir.join("deep.cap");
    let p = path.clone();
    // Building and dropping the crafted chain recurses: give it room.
    std::thread::Builder::new()
        .stack_size(64 << 20)
        .spawn(move || {
            let mut gen = Generator::new(SynthConfig::default());
            let events = (0..100)
                .map(|i| {
                    if i == 50 {
                        common::nested_event(&mut gen, 900)
                    } else {
                        gen.next_event()
                    }
                })
                .collect();
            capture(&p, events);
        })
        .unwrap()
        .join()
        .unwrap();
    let (code, log) = replay(&path);
    assert_eq!(code, Some(1), "{log}");
    assert!(
        log.contains("1 records did not decode and were skipped (99 events replayed)")
            && log.contains("depth limit exceeded"),
        "{log}"
    );
    "exit 1 once the other 99 events are replayed: the record is skipped (`depth limit exceeded`, nesting bounded at 600) and counted as `malformed`".into()
}

fn truncated_capture(dir: &Path) -> String {
    let path = dir.join("cut.cap");
    capture(
        &path,
        Generator::new(SynthConfig::default()).take(200).collect(),
    );
    let (code, log) = replay(&path);
    assert_eq!(code, Some(0), "a whole capture replays: {log}");
    let bytes = std::fs::read(&path).unwrap();
    std::fs::write(&path, &bytes[..bytes.len() * 2 / 3]).unwrap();
    let (code, log) = replay(&path);
    assert_eq!(code, Some(1), "{log}");
    assert!(
        log.contains("the capture was not replayed to its end")
            && log.contains("truncated at byte")
            && log.contains("events replayed"),
        "{log}"
    );
    "exit 1: `the capture was not replayed to its end: … truncated at byte N … (after K events replayed, …)`".into()
}

fn not_chain(dir: &Path) -> String {
    let mut rules = String::from("- macro: m0\n  condition: evt.type = open\n");
    for i in 1..10_000 {
        rules.push_str(&format!("- macro: m{i}\n  condition: not m{}\n", i - 1));
    }
    rules.push_str("- rule: r\n  desc: d\n  condition: evt.type in (open, openat) and m9999\n  output: o\n  priority: WARNING\n");
    let (code, log) = validate(dir, &rules);
    assert_eq!(code, Some(0), "{log}");
    "loads: a chain of negations collapses to one `not` while macros are inlined (linear memory)"
        .into()
}

fn alternating_chain(dir: &Path) -> String {
    let mut rules = String::from("- macro: m0\n  condition: evt.type = open\n");
    for i in 1..10_000 {
        let op = if i % 2 == 0 { "and" } else { "or" };
        rules.push_str(&format!(
            "- macro: m{i}\n  condition: proc.name = p{i} {op} m{}\n",
            i - 1
        ));
    }
    rules.push_str("- rule: r\n  desc: d\n  condition: m9999\n  output: o\n  priority: WARNING\n");
    let (code, log) = validate(dir, &rules);
    assert_eq!(code, Some(1), "{log}");
    let why = "condition nests deeper than 250 levels once macro 'm249' is inlined";
    assert!(
        log.contains(why) && log.contains("rules.yaml:502:"),
        "{log}"
    );
    format!("refused at `rules.yaml:502` (macro `m250`): `{why}`")
}

fn doubled_macro(dir: &Path) -> String {
    let mut rules = String::from("- macro: e0\n  condition: evt.type = open\n");
    for i in 1..=40 {
        rules.push_str(&format!(
            "- macro: e{i}\n  condition: (e{p} or e{p})\n",
            p = i - 1
        ));
    }
    rules.push_str("- rule: r\n  desc: d\n  condition: e40\n  output: o\n  priority: WARNING\n");
    let (code, log) = validate(dir, &rules);
    assert_eq!(code, Some(1), "{log}");
    let why = "condition grows past 100000 operators and checks once macro 'e16' is inlined";
    assert!(log.contains(why), "{log}");
    format!("refused (macro `e17`): `{why}`")
}

fn wide_or(dir: &Path) -> String {
    let terms: Vec<String> = (0..20_000).map(|i| format!("proc.name = p{i}")).collect();
    let rules = format!(
        "- rule: r\n  desc: d\n  condition: evt.type = execve and ({})\n  output: o\n  priority: WARNING\n",
        terms.join(" or ")
    );
    let (code, log) = validate(dir, &rules);
    assert_eq!(code, Some(0), "{log}");
    "loads, as one set lookup; compile time grows linearly (`cargo bench -p peregrine-rules --bench compile`)".into()
}

fn unset_variable(dir: &Path) -> String {
    let config = dir.join("falco.yaml");
    std::fs::write(
        &config,
        "outputs:\n  slack:\n    webhookurl: ${PEREGRINE_HOSTILE_UNSET}\n",
    )
    .unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_peregrine"))
        .args(["-c", s(&config), "--source", "synthetic", "--duration=0.2"])
        .env_remove("PEREGRINE_HOSTILE_UNSET")
        .output()
        .unwrap();
    let log = text(&out);
    assert!(!out.status.success(), "{log}");
    assert!(
        log.contains("outputs.slack.webhookurl")
            && log.contains("environment variable PEREGRINE_HOSTILE_UNSET is not set"),
        "{log}"
    );
    "refused: `outputs.slack.webhookurl: expected a destination address …, found nothing: environment variable … is not set`; elsewhere a warning".into()
}

fn absurd_duration(_: &Path) -> String {
    for m in ["1e99", "-1", "nan", "inf"] {
        let out = peregrine(&["--source", "synthetic", &format!("--duration={m}")]);
        let log = text(&out);
        assert!(
            !out.status.success() && log.contains("--duration") && !log.contains("panicked"),
            "{m}: {log}"
        );
    }
    "an error naming `--duration`, no panic".into()
}

fn closed_pipe(_: &Path) -> String {
    for args in [&["list-fields"][..], &["validate"][..]] {
        let mut child = Command::new(env!("CARGO_BIN_EXE_peregrine"))
            .args(args)
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        drop(child.stdout.take());
        let out = child.wait_with_output().unwrap();
        assert!(
            !String::from_utf8_lossy(&out.stderr).contains("panicked"),
            "{args:?}"
        );
    }
    "stops quietly, as a Unix filter does".into()
}

fn missing_rules_file(dir: &Path) -> String {
    let gone = dir.join("gone.yaml");
    let entry = format!("rules_files[]={}", gone.display());
    let out = peregrine(&[
        "-c",
        "/dev/null",
        "-o",
        &entry,
        "--source",
        "synthetic",
        "--duration=0.2",
    ]);
    let log = text(&out);
    assert!(
        !out.status.success() && log.contains(&format!("rules_files entry {}", gone.display())),
        "{log}"
    );
    "refused, naming the entry; `rules_files_missing: skip` opts into Falco's skipping".into()
}

fn shadow_symlink(dir: &Path) -> String {
    let rules_dir = dir.join("rules.d");
    std::fs::create_dir(&rules_dir).unwrap();
    symlink("/etc/shadow", rules_dir.join("evil.yaml")).unwrap();
    let chown = |p: &Path| {
        assert!(Command::new("chown")
            .args(["-h", "nobody", s(p)])
            .status()
            .unwrap()
            .success())
    };
    chown(&rules_dir);
    chown(&rules_dir.join("evil.yaml"));
    let shadow_first = std::fs::read_to_string("/etc/shadow").unwrap_or_default();
    let secret = shadow_first.lines().next().unwrap_or("root:").to_string();
    for extra in [&[][..], &["-o", "untrusted_files=warn"][..]] {
        let mut args = vec![
            "-r",
            s(&rules_dir),
            "--source",
            "synthetic",
            "--duration=0.2",
        ];
        args.extend_from_slice(extra);
        let out = peregrine(&args);
        let log = text(&out);
        assert!(!out.status.success(), "{log}");
        assert!(!log.contains(&secret), "shadow content leaked: {log}");
        if extra.is_empty() {
            assert!(log.contains("is owned by uid 65534 (nobody)"), "{log}");
        }
    }
    "refused: the folder is owned by uid 65534 (nobody); with `untrusted_files: warn` it loads and fails, and the error shows positions, never the file's text".into()
}

fn program_never_reads(dir: &Path) -> String {
    let child = Command::new(env!("CARGO_BIN_EXE_peregrine"))
        .args(["--source", "synthetic", "-o", "stdout_output.enabled=false"])
        .args([
            "-o",
            "program_output.enabled=true",
            "-o",
            "program_output.keep_alive=true",
        ])
        .args([
            "-o",
            "program_output.program=sleep 1000",
            "-o",
            "outputs.program.draintimeout=1s",
        ])
        .stderr(Stdio::from(
            std::fs::File::create(dir.join("stderr")).unwrap(),
        ))
        .stdout(Stdio::null())
        .spawn()
        .unwrap();
    std::thread::sleep(Duration::from_secs(2));
    let mut child = child;
    let term = Instant::now();
    // SAFETY: signalling our own child.
    unsafe { libc::kill(child.id() as i32, libc::SIGTERM) };
    let status = child.wait().unwrap();
    let took = term.elapsed();
    let log = std::fs::read_to_string(dir.join("stderr")).unwrap();
    assert!(status.success(), "{log}");
    assert!(took < Duration::from_secs(2), "stop took {took:?}: {log}");
    assert!(
        log.contains("Destination program:") && log.contains("shutdown: "),
        "{log}"
    );
    "SIGTERM ends the agent within `draintimeout` + 1 s; the child is killed and what it held is counted as dropped (`shutdown`)".into()
}

fn junk_requests(dir: &Path) -> String {
    let free = || {
        std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port()
    };
    let (port, web) = (free(), free());
    let child = Command::new(env!("CARGO_BIN_EXE_peregrine"))
        .args([
            "--source",
            "synthetic:10",
            "-o",
            "stdout_output.enabled=false",
        ])
        .args(["-o", &format!("outputs.listenport={port}")])
        .args([
            "-o",
            "webserver.enabled=true",
            "-o",
            &format!("webserver.listen_port={web}"),
        ])
        .args([
            "-o",
            "webserver.prometheus_metrics_enabled=true",
            "-o",
            "metrics.enabled=true",
        ])
        .stderr(Stdio::from(
            std::fs::File::create(dir.join("stderr")).unwrap(),
        ))
        .stdout(Stdio::null())
        .spawn()
        .unwrap();
    let mut child = child;
    let stderr = || std::fs::read_to_string(dir.join("stderr")).unwrap_or_default();
    let start = Instant::now();
    while !stderr().contains("input listening") || !stderr().contains("web server listening") {
        assert!(start.elapsed() < Duration::from_secs(30), "{}", stderr());
        std::thread::sleep(Duration::from_millis(50));
    }
    let mut statuses = Vec::new();
    for i in 0..500 {
        let body = if i % 2 == 0 { "{not json" } else { "[]" };
        let mut c = std::net::TcpStream::connect(("127.0.0.1", port)).unwrap();
        write!(c, "POST / HTTP/1.1\r\nhost: x\r\ncontent-type: application/json\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{body}", body.len()).unwrap();
        let mut answer = String::new();
        c.read_to_string(&mut answer).unwrap();
        statuses.push(answer.split_whitespace().nth(1).unwrap_or("").to_string());
    }
    let rejected = || {
        let mut c = std::net::TcpStream::connect(("127.0.0.1", web)).unwrap();
        write!(
            c,
            "GET /metrics HTTP/1.1\r\nhost: x\r\nconnection: close\r\n\r\n"
        )
        .unwrap();
        let mut page = String::new();
        c.read_to_string(&mut page).unwrap();
        page.lines()
            .filter(|l| l.starts_with("peregrine_input_rejected_total{"))
            .filter_map(|l| l.rsplit(' ').next()?.parse::<f64>().ok())
            .sum::<f64>()
    };
    let start = Instant::now();
    while rejected() < 500.0 && start.elapsed() < Duration::from_secs(10) {
        std::thread::sleep(Duration::from_millis(200));
    }
    let counted = rejected();
    // SAFETY: signalling our own child.
    unsafe { libc::kill(child.id() as i32, libc::SIGTERM) };
    child.wait().unwrap();
    assert!(statuses.iter().all(|s| s == "400"), "{statuses:?}");
    assert_eq!(counted, 500.0, "every junk request counted");
    let lines = stderr().lines().filter(|l| l.contains("rejected")).count();
    assert!(
        lines <= 2,
        "{lines} log lines for 500 junk requests: {}",
        stderr()
    );
    "each answered 400 and counted in `peregrine_input_rejected_total{reason}`; at most one log line per 10 s (500 requests: ≤ 2 lines); the input listens on 127.0.0.1 unless told otherwise".into()
}

fn cases() -> Vec<Case> {
    vec![
        Case {
            area: "capture",
            input: "a record whose process nests 900 parents deep",
            before: "stack overflow, agent aborted (SIGABRT)",
            run: deep_capture,
        },
        Case {
            area: "capture",
            input: "a capture cut at two thirds",
            before: "exit 0",
            run: truncated_capture,
        },
        Case {
            area: "rules",
            input: "10,000 macros, each `not` the previous (378 KB)",
            before: "memory grew past 6 GB, abort (also in `validate`)",
            run: not_chain,
        },
        Case {
            area: "rules",
            input: "10,000 macros alternating `and`/`or` on the previous",
            before: "memory grew quadratically, abort",
            run: alternating_chain,
        },
        Case {
            area: "rules",
            input: "a macro doubled 40 times (`e_i: (e_{i-1} or e_{i-1})`)",
            before: "out of memory",
            run: doubled_macro,
        },
        Case {
            area: "rules",
            input: "a 20,000-term `or`",
            before: "18 s to compile",
            run: wide_or,
        },
        Case {
            area: "config",
            input: "`${UNDEFINED}` as a destination address",
            before: "the destination silently off",
            run: unset_variable,
        },
        Case {
            area: "command line",
            input: "`-M 1e99`, `-1`, `nan`, `inf`",
            before: "panic",
            run: absurd_duration,
        },
        Case {
            area: "command line",
            input: "`validate … \\| head`, `list-fields \\| head`",
            before: "panic",
            run: closed_pipe,
        },
        Case {
            area: "config",
            input: "a `rules_files` entry that does not exist",
            before: "a WARN; ran with fewer rules",
            run: missing_rules_file,
        },
        Case {
            area: "files",
            input: "a rules folder owned by `nobody`, a rules file linked to /etc/shadow",
            before: "the root agent printed the first line of /etc/shadow",
            run: shadow_symlink,
        },
        Case {
            area: "outputs",
            input: "`program_output` running `sleep 1000` (never reads)",
            before: "SIGTERM never completed (10+ min)",
            run: program_never_reads,
        },
        Case {
            area: "input",
            input: "500 junk POSTs to the sidekick input",
            before: "listening on 0.0.0.0, junk not counted by reason",
            run: junk_requests,
        },
    ]
}

fn table(rows: &[(&Case, String)]) -> String {
    let mut out =
        String::from("| Area | Hostile input | Before (issue 15) | Now |\n|---|---|---|---|\n");
    for (c, now) in rows {
        out.push_str(&format!(
            "| {} | {} | {} | {} |\n",
            c.area, c.input, c.before, now
        ));
    }
    out
}

#[test]
fn hostile_inputs_end_as_the_security_page_says() {
    if common::skip("hostile_inputs_end_as_the_security_page_says") {
        return;
    }
    let base = std::env::temp_dir().join(format!("peregrine-hostile-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&base);
    std::fs::create_dir_all(&base).unwrap();
    std::fs::set_permissions(&base, std::fs::Permissions::from_mode(0o755)).unwrap();
    let cases = cases();
    let mut rows = Vec::new();
    for (i, c) in cases.iter().enumerate() {
        let dir = base.join(i.to_string());
        std::fs::create_dir(&dir).unwrap();
        rows.push((c, (c.run)(&dir)));
    }
    std::fs::remove_dir_all(&base).ok();
    let section = format!("{BEGIN}{}{END}", table(&rows));
    let page_path = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../docs/security.md");
    let page = std::fs::read_to_string(&page_path).unwrap_or_default();
    let (Some(b), Some(e)) = (page.find(BEGIN), page.find(END)) else {
        panic!("docs/security.md has no hostile-inputs section");
    };
    let current = &page[b..e + END.len()];
    if current != section {
        if std::env::var("PEREGRINE_UPDATE_DOCS").as_deref() == Ok("1") {
            let updated = format!("{}{section}{}", &page[..b], &page[e + END.len()..]);
            std::fs::write(&page_path, updated).unwrap();
            return;
        }
        panic!("docs/security.md's table is stale: PEREGRINE_UPDATE_DOCS=1 cargo test -p peregrine --test hostile_inputs\n{section}");
    }
}
