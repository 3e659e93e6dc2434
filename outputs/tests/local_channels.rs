//! Falco's local channels as destinations: file (Falco JSON lines), syslog (datagrams in
//! glibc's format on a local socket) and program (lines to `sh -c`; a kept-alive program
//! that dies is started again and delivery goes on).

mod common;

use common::*;
use peregrine_rules::{JsonOptions, Priority};
use serde_json::json;
use std::os::unix::net::UnixDatagram;
use std::time::{Duration, Instant};

fn wait_until(limit: Duration, mut f: impl FnMut() -> bool) -> bool {
    let end = Instant::now() + limit;
    while Instant::now() < end {
        if f() {
            return true;
        }
        std::thread::sleep(Duration::from_millis(10));
    }
    f()
}

fn lines(path: &std::path::Path) -> Vec<String> {
    std::fs::read_to_string(path)
        .unwrap_or_default()
        .lines()
        .map(str::to_string)
        .collect()
}

#[test]
fn file_gets_falco_json_lines() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("alerts.json");
    let cfg = config(&format!(
        "stdout_output: {{enabled: false}}\njson_output: true\nfile_output: {{enabled: true, keep_alive: true, filename: {}}}\n",
        path.display()
    ));
    let o = peregrine_outputs::from_config(&cfg, false).unwrap();
    let alerts: Vec<_> = (0..3)
        .map(|i| {
            alert(
                "r",
                Priority::Error,
                1_700_000_000_000_000_000 + i,
                json!({"n": i}),
            )
        })
        .collect();
    o.offer(alerts.clone());
    let snaps = o.join();
    let expected: Vec<String> = alerts
        .iter()
        .map(|a| a.to_json_line(&JsonOptions::default()))
        .collect();
    assert_eq!(lines(&path), expected);
    assert_eq!(find(&snaps, "file").sent, 3);
}

#[test]
fn syslog_datagrams_carry_priority_tag_and_line() {
    let dir = tempfile::tempdir().unwrap();
    let sock = dir.path().join("log");
    let rx = UnixDatagram::bind(&sock).unwrap();
    rx.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    let cfg = config(&format!(
        "stdout_output: {{enabled: false}}\nsyslog_output: {{enabled: true}}\noutputs:\n  syslog: {{path: {}, minimumpriority: warning}}\n",
        sock.display()
    ));
    let o = peregrine_outputs::from_config(&cfg, false).unwrap();
    let a = alert("r", Priority::Warning, 1_700_000_000_000_000_000, json!({}));
    let c = alert(
        "r",
        Priority::Critical,
        1_700_000_000_000_000_001,
        json!({}),
    );
    let d = alert("r", Priority::Debug, 1_700_000_000_000_000_002, json!({}));
    o.offer(vec![a.clone(), d, c.clone()]);
    let mut buf = [0u8; 4096];
    let mut got = Vec::new();
    for _ in 0..2 {
        let n = rx.recv(&mut buf).unwrap();
        got.push(String::from_utf8(buf[..n].to_vec()).unwrap());
    }
    let snaps = o.join();
    let tag = format!(" peregrine[{}]: ", std::process::id());
    for (m, (pri, alert)) in got.iter().zip([("<12>", &a), ("<10>", &c)]) {
        // <facility user * 8 + severity>Mmm dd hh:mm:ss tag[pid]: line
        assert!(m.starts_with(pri), "{m}");
        assert_eq!(&m[pri.len() + 3..pri.len() + 4], " ", "{m}");
        assert_eq!(&m[pri.len() + 15..pri.len() + 15 + tag.len()], tag, "{m}");
        assert!(m.ends_with(&alert.to_text_line()), "{m}");
    }
    let s = find(&snaps, "syslog");
    assert_eq!((s.received, s.filtered, s.sent), (3, 1, 2));
    assert_adds_up(s);
}

#[test]
fn a_kept_alive_program_that_dies_is_restarted() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("out.txt");
    // Appends each line; exits after a line containing "die".
    let program = format!(
        "while read -r l; do echo \"$l\" >> {}; case \"$l\" in *die*) exit 1;; esac; done",
        out.display()
    );
    let cfg = config(&format!(
        "stdout_output: {{enabled: false}}\nprogram_output:\n  enabled: true\n  keep_alive: true\n  program: '{program}'\n"
    ));
    let o = peregrine_outputs::from_config(&cfg, false).unwrap();
    let mut first = alert("r", Priority::Error, 1, json!({}));
    first.output = "first, then die".into();
    o.offer(vec![first]);
    assert!(wait_until(Duration::from_secs(10), || lines(&out).len() == 1));
    std::thread::sleep(Duration::from_millis(300)); // let it exit
    o.offer(vec![alert("r", Priority::Error, 2, json!({}))]);
    assert!(wait_until(Duration::from_secs(10), || lines(&out).len() == 2));
    o.offer(vec![alert("r", Priority::Error, 3, json!({}))]);
    assert!(wait_until(Duration::from_secs(10), || lines(&out).len() == 3));
    let snaps = o.join();
    let s = find(&snaps, "program");
    assert_eq!((s.sent, s.dropped), (3, 0), "{s:?}");
    assert_eq!(s.restarts, 1, "{s:?}");
    assert_adds_up(s);
}

#[test]
fn a_program_per_alert_without_keep_alive() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("out.txt");
    let cfg = config(&format!(
        "stdout_output: {{enabled: false}}\nprogram_output: {{enabled: true, program: 'cat >> {}'}}\n",
        out.display()
    ));
    let o = peregrine_outputs::from_config(&cfg, false).unwrap();
    let alerts: Vec<_> = (0..3)
        .map(|i| alert("r", Priority::Error, i, json!({})))
        .collect();
    o.offer(alerts.clone());
    let snaps = o.join();
    let expected: Vec<String> = alerts.iter().map(|a| a.to_text_line()).collect();
    assert_eq!(lines(&out), expected);
    assert_eq!(find(&snaps, "program").sent, 3);
}

/// A file output on a full disk: the lines that fit are whole and counted as sent, the
/// line cut short is removed again, and the rest is counted as dropped, never both (a
/// partial line once stayed in the file and alerts in it were counted as dropped).
#[test]
fn a_full_disk_leaves_whole_lines_and_counts_match_the_file() {
    if !nix_root() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let mount = |args: &[&str]| {
        std::process::Command::new(args[0])
            .args(&args[1..])
            .status()
            .unwrap()
            .success()
    };
    let at = dir.path().display().to_string();
    assert!(mount(&[
        "mount", "-t", "tmpfs", "-o", "size=12k", "tmpfs", &at
    ]));
    let path = dir.path().join("alerts.json");
    let cfg = config(&format!(
        "stdout_output: {{enabled: false}}\njson_output: true\nfile_output: {{enabled: true, keep_alive: true, filename: {}}}\noutputs: {{draintimeout: 500ms, backoff: 10ms, maxbackoff: 20ms, maxretries: 2}}\n",
        path.display()
    ));
    let o = peregrine_outputs::from_config(&cfg, false).unwrap();
    let alerts: Vec<_> = (0..100)
        .map(|i| {
            alert(
                "r",
                Priority::Error,
                1_700_000_000_000_000_000 + i,
                json!({"n": i, "pad": "x".repeat(200)}),
            )
        })
        .collect();
    for chunk in alerts.chunks(7) {
        o.offer(chunk.to_vec());
    }
    let snaps = o.join();
    let text = std::fs::read_to_string(&path).unwrap();
    assert!(mount(&["umount", &at]));
    let s = find(&snaps, "file");
    assert_adds_up(s);
    assert!(
        text.ends_with('\n'),
        "no partial line: {:?}",
        &text[text.len() - 40..]
    );
    let written: Vec<u64> = text
        .lines()
        .map(|l| {
            serde_json::from_str::<serde_json::Value>(l).unwrap()["output_fields"]["n"]
                .as_u64()
                .unwrap()
        })
        .collect();
    assert!(
        !written.is_empty() && written.len() < 100,
        "{}",
        written.len()
    );
    assert_eq!(
        written,
        (0..written.len() as u64).collect::<Vec<_>>(),
        "in order, once each"
    );
    assert_eq!(
        s.sent,
        written.len() as u64,
        "sent is what is in the file: {s:?}"
    );
    assert_eq!(s.dropped, 100 - s.sent, "{s:?}");
}

/// Root is needed to mount the small file system; without it the test says why.
fn nix_root() -> bool {
    if std::fs::read_to_string("/proc/self/status")
        .unwrap_or_default()
        .lines()
        .any(|l| l.starts_with("Uid:") && l.split_whitespace().nth(1) == Some("0"))
    {
        return true;
    }
    if std::env::var("PEREGRINE_REQUIRE_PRIVILEGED").as_deref() == Ok("1") {
        panic!("needs root to mount a tmpfs, and PEREGRINE_REQUIRE_PRIVILEGED=1");
    }
    eprintln!("skipping: needs root to mount a small tmpfs");
    false
}
