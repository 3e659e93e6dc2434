//! Kernel drops are counted and acted on (issue 16, point 4): the agent is paused while a
//! storm of opens overflows its smallest ring buffer; the drops then show in the shutdown
//! summary, in `--stats-file` as a `kernel` stage beside the pipeline's, and as Falco's
//! `Falco internal: syscall event drop` alert (`syscall_event_drops.actions: [log, alert]`).

mod common;

use common::{skip, Agent};
use std::time::Duration;

#[test]
fn kernel_drops_are_counted_beside_the_pipelines_and_alerted_as_falco_does() {
    if skip("kernel_drops_are_counted_beside_the_pipelines_and_alerted_as_falco_does") {
        return;
    }
    let rules = "- rule: hostname opened\n  desc: d\n  condition: evt.type in (open, openat) and fd.name = /etc/hostname and proc.name = nothing-here\n  output: o %fd.name\n  priority: INFO\n";
    let agent = Agent::start(
        "kernel-drops",
        rules,
        &[
            "-o",
            "engine.modern_ebpf.buf_size_preset=1",
            "-o",
            "syscall_event_drops.actions[]=log",
            "-o",
            "syscall_event_drops.actions[]=alert",
            "-o",
            "syscall_event_drops.threshold=0",
            "-o",
            "syscall_event_drops.rate=1",
        ],
    );
    let pid = agent.child.id() as i32;
    // Paused, the agent drains nothing: 1 MiB of ring holds a few thousand opens.
    // SAFETY: signalling our own child.
    unsafe { libc::kill(pid, libc::SIGSTOP) };
    for _ in 0..60_000 {
        let _ = std::fs::File::open("/etc/hostname");
    }
    // SAFETY: as above.
    unsafe { libc::kill(pid, libc::SIGCONT) };
    // The drop monitor looks once a second.
    std::thread::sleep(Duration::from_millis(2500));
    let (alerts, stats) = agent.stop_with_stats_log();
    let (alerts, log) = alerts;
    let kernel = stats
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["stage"] == "kernel")
        .unwrap_or_else(|| panic!("no kernel stage: {stats}"));
    let n = |k: &str| kernel[k].as_u64().unwrap();
    assert!(n("dropped") > 10_000, "{kernel}");
    assert_eq!(n("in"), n("out") + n("dropped"), "{kernel}");
    let buffer_full = kernel["dropped_by_reason"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r[0] == "buffer_full")
        .unwrap()[1]
        .as_u64()
        .unwrap();
    assert_eq!(buffer_full, n("dropped"), "{kernel}");
    // The summary says it, apart from the pipeline's drops.
    assert!(
        log.contains(&format!(
            "Kernel: {} events sent, dropped before reaching the agent: {} (buffer_full: {})",
            n("in"),
            n("dropped"),
            n("dropped")
        )),
        "{log}"
    );
    assert!(
        log.contains("system calls dropped in last second"),
        "the log action: {log}"
    );
    // Falco's internal alert: source internal, priority Debug, fields as strings, no tags.
    let drop_alert = alerts
        .iter()
        .find(|a| a["rule"] == "Falco internal: syscall event drop")
        .unwrap_or_else(|| panic!("no drop alert in {alerts:?}"));
    assert_eq!(drop_alert["source"], "internal");
    assert_eq!(drop_alert["priority"], "Debug");
    assert!(drop_alert.get("tags").is_none(), "{drop_alert}");
    let fields = &drop_alert["output_fields"];
    let dropped: u64 = fields["n_drops"].as_str().unwrap().parse().unwrap();
    assert!(dropped > 0 && dropped <= n("dropped"), "{drop_alert}");
    assert_eq!(fields["n_drops_buffer_total"], fields["n_drops"]);
    assert!(fields["n_evts"].as_str().is_some(), "{drop_alert}");
    assert!(
        drop_alert["output"]
            .as_str()
            .unwrap()
            .contains(&format!("Debug Falco internal: syscall event drop. {dropped} system calls dropped in last second. (")),
        "{drop_alert}"
    );
}
